//! Secrets kept out of what Presage writes: outcome events, dead letters, logs, `explain`.
//!
//! Written by hand rather than through a URL parser on purpose: a redacted URL must keep the
//! text exactly as the operator wrote it (a parser normalises it), and a URL that does not parse
//! must still lose its credentials.

/// The text that replaces a secret.
pub const REDACTED: &str = "***";

/// Words that make a query parameter or a setting a secret when its name contains one: `key`
/// covers `key`, `api_key`, `apikey`, `subscription-key`; `token` covers `access_token`; `appid`
/// is OpenWeatherMap's API key (`?appid=`), which holds none of the other words.
const SECRET_WORDS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "auth",
    "signature",
    "credential",
    "appid",
];

/// `url` with its user information (`user:pass@`) and the values of query parameters whose
/// names look secret (`token`, `api_key`, `password`, …) replaced by `***`. Anything else is
/// kept as written.
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = split_keep(url, '#');
    let (before_query, query) = split_keep(before_fragment, '?');
    let mut out = redact_userinfo(before_query);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `text` (an error message, a reason, a log line) with every URL in it passed through
/// [`redact_url`]. A URL runs from its scheme to the next whitespace or quote; error messages of
/// HTTP clients quote the URL they failed on, credentials included.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let start = rest[..found]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[found..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .map_or(rest.len(), |i| found + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Whether a setting or parameter name (e.g. `sasl.password`, `ssl.key.pem`, `api_key`) names a
/// secret.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word)) || name.contains("jaas")
}

/// A `key=value` setting as it may be shown: the value replaced when the key names a secret.
pub fn redact_setting(key: &str, value: &str) -> String {
    if is_secret_name(key) {
        format!("{key}={REDACTED}")
    } else {
        format!("{key}={value}")
    }
}

fn split_keep(text: &str, at: char) -> (&str, Option<&str>) {
    match text.split_once(at) {
        Some((head, tail)) => (head, Some(tail)),
        None => (text, None),
    }
}

/// Replaces `user:pass@` in `scheme://user:pass@host/path`. The authority ends at the first `/`
/// after the scheme; its last `@` ends the user information (a password may contain `@`).
fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    match authority.rfind('@') {
        Some(at) => format!(
            "{}{REDACTED}{}",
            &url[..authority_start],
            &url[authority_start + at..]
        ),
        None => url.to_string(),
    }
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_replaced_and_the_rest_kept_as_written() {
        assert_eq!(
            redact_url("https://admin:s3cr3t@api.example.com:8443/v1/scale"),
            "https://***@api.example.com:8443/v1/scale"
        );
        assert_eq!(
            redact_url("http://token@host/x"),
            "http://***@host/x",
            "a user name alone can be the secret"
        );
    }

    #[test]
    fn a_password_holding_an_at_sign_is_redacted_whole() {
        assert_eq!(
            redact_url("http://u:p@ss@host:1/path"),
            "http://***@host:1/path"
        );
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_user_information() {
        let url = "http://host/users/@me?x=1";
        assert_eq!(redact_url(url), url);
    }

    #[test]
    fn secret_query_parameters_lose_their_values_and_others_keep_them() {
        assert_eq!(
            redact_url("https://h/p?app=web&api_key=abc&Token=t&n=2#frag"),
            "https://h/p?app=web&api_key=***&Token=***&n=2#frag"
        );
    }

    #[test]
    fn the_api_key_parameters_of_common_weather_and_data_apis_lose_their_values() {
        assert_eq!(
            redact_url("https://api.openweathermap.org/data/2.5/weather?q=Newark&appid=0123abcd&units=metric"),
            "https://api.openweathermap.org/data/2.5/weather?q=Newark&appid=***&units=metric"
        );
        assert_eq!(
            redact_url("https://h/v1?key=k1&access_token=t1&apiKey=k2&AppID=k3&city=Oslo"),
            "https://h/v1?key=***&access_token=***&apiKey=***&AppID=***&city=Oslo"
        );
    }

    #[test]
    fn text_that_is_not_a_url_is_returned_unchanged() {
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn every_url_in_a_message_is_redacted_and_the_words_around_it_kept() {
        assert_eq!(
            redact_text("GET \"http://u:p@h:1/m\" failed; retried https://t@x/y?token=9 twice"),
            "GET \"http://***@h:1/m\" failed; retried https://***@x/y?token=*** twice"
        );
        assert_eq!(redact_text("no urls here"), "no urls here");
        assert_eq!(redact_text("://odd"), "://odd");
    }

    #[test]
    fn kafka_secret_settings_are_recognised_by_name() {
        for key in [
            "sasl.password",
            "ssl.key.password",
            "ssl.key.pem",
            "sasl.jaas.config",
            "sasl.oauthbearer.client.secret",
        ] {
            assert_eq!(redact_setting(key, "v"), format!("{key}=***"), "{key}");
        }
        assert_eq!(
            redact_setting("security.protocol", "SASL_SSL"),
            "security.protocol=SASL_SSL"
        );
    }
}

//! The requests of one http hook: its headers and credentials on every request, each URL (and
//! the secret sent to it) checked against the operator's grant right before it is called,
//! redirects never followed (a granted URL must not lead the credentials elsewhere), answers
//! bounded, and every reason free of credentials.

use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine;
use presage_template::http_hook::{HttpAuth, HttpHook, SecretRef};
use presage_template::ConfigurationHook;
use serde_json::Value;

use super::super::grant::Granted;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer that is read: a configuration larger than this is refused.
const MAX_BODY: u64 = 8 << 20;
/// How much of a refusing answer's body a reason quotes.
const QUOTED: usize = 300;

/// Why a request did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// Nothing was sent or nothing changed, and a later try may pass: no connection, a 5xx.
    Transient(String),
    /// A later try would get the same answer: a 4xx, an unreadable answer, not granted.
    Permanent(String),
    /// The request may or may not have reached the application (the connection broke after
    /// it was made): its state is unknown.
    Unknown(String),
}

impl Failure {
    pub(super) fn reason(&self) -> &str {
        match self {
            Failure::Transient(r) | Failure::Permanent(r) | Failure::Unknown(r) => r,
        }
    }
}

pub(super) struct Client<'g> {
    agent: ureq::Agent,
    grant: &'g Granted,
    headers: Vec<(String, String)>,
    secret: Option<&'g SecretRef>,
    /// The `Authorization` header, read from the secret when the client was made.
    authorization: Option<String>,
    /// The secret's value, to be cut out of any answer a reason quotes.
    secret_value: Option<String>,
}

impl<'g> Client<'g> {
    /// The client of `hook`: its secret, if any, is checked against the grant for every URL the
    /// hook reaches, then read (an environment variable or a file).
    pub(super) fn new(
        hook: &'g ConfigurationHook,
        settings: &'g HttpHook,
        grant: &'g Granted,
    ) -> Result<Self, Failure> {
        // Validation refuses these; checked again here, where the request is made.
        if let Some(header) = settings
            .headers
            .keys()
            .find(|h| presage_template::http_hook::is_routing_header(h))
        {
            return Err(Failure::Permanent(format!(
                "header {header:?} decides where or how the request travels: not sent"
            )));
        }
        // The process's one TLS-capable builder (https through the system OpenSSL).
        let agent = presage_runner::https::agent_builder()
            .redirects(0)
            .timeout(REQUEST_TIMEOUT)
            .build();
        let mut client = Client {
            agent,
            grant,
            headers: settings
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            secret: None,
            authorization: None,
            secret_value: None,
        };
        let Some((_, secret)) = settings.secret() else {
            return Ok(client);
        };
        for (_, url) in hook.http_urls() {
            grant.secret(secret, url).map_err(Failure::Permanent)?;
        }
        let value = read_secret(secret).map_err(Failure::Permanent)?;
        client.authorization = Some(match settings.auth.as_ref() {
            Some(HttpAuth::Basic(basic)) => {
                let pair = format!("{}:{value}", basic.username);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
            _ => format!("Bearer {value}"),
        });
        client.secret = Some(secret);
        client.secret_value = Some(value);
        Ok(client)
    }

    /// `GET url`, its answer read as a JSON document.
    pub(super) fn get_json(&self, url: &str) -> Result<Value, Failure> {
        let shown = presage_events::redact_url(url);
        let response = self.call("GET", url, None)?;
        let mut text = String::new();
        response
            .into_reader()
            .take(MAX_BODY + 1)
            .read_to_string(&mut text)
            .map_err(|e| Failure::Transient(format!("GET {shown}: reading the answer: {e}")))?;
        if text.len() as u64 > MAX_BODY {
            return Err(Failure::Permanent(format!(
                "GET {shown}: the configuration is larger than {MAX_BODY} bytes"
            )));
        }
        serde_json::from_str(&text).map_err(|e| {
            Failure::Permanent(format!(
                "GET {shown}: the answer is not a JSON configuration: {e}"
            ))
        })
    }

    /// `method url` with `body` as JSON; Ok on any 2xx.
    pub(super) fn send(&self, method: &str, url: &str, body: &Value) -> Result<(), Failure> {
        self.call(method, url, Some(body)).map(|_| ())
    }

    /// Sends (`POST`) or reads (`GET`, no body) `url` until it answers `expect` or `within`
    /// passes. A 5xx or no connection is asked again; any other answer is final.
    pub(super) fn until_status(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
        expect: u16,
        within: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            let answer = self
                .request(method, url, body)
                .map_err(|f| f.reason().to_string())?;
            let (last, asked_again) = match answer {
                Ok(response) if response.status() == expect => return Ok(()),
                Err(ureq::Error::Status(code, _)) if code == expect => return Ok(()),
                Ok(response) => {
                    let code = response.status();
                    (self.refusal(method, url, code, Some(response)), code >= 500)
                }
                Err(ureq::Error::Status(code, response)) => {
                    (self.refusal(method, url, code, Some(response)), code >= 500)
                }
                Err(err) => (
                    self.failure_of(method, url, &err).reason().to_string(),
                    true,
                ),
            };
            if !asked_again || Instant::now() >= deadline {
                return Err(format!("expected HTTP {expect}: {last}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<ureq::Response, Failure> {
        match self.request(method, url, body)? {
            Ok(response) if (200..300).contains(&response.status()) => Ok(response),
            Ok(response) => {
                // A redirect (never followed) or an informational answer: not what was asked.
                let code = response.status();
                Err(Failure::Permanent(self.refusal(
                    method,
                    url,
                    code,
                    Some(response),
                )))
            }
            Err(ureq::Error::Status(code, response)) => {
                let reason = self.refusal(method, url, code, Some(response));
                Err(if code >= 500 {
                    Failure::Transient(reason)
                } else {
                    Failure::Permanent(reason)
                })
            }
            Err(err) => Err(self.failure_of(method, url, &err)),
        }
    }

    /// One request, once the URL (and the secret sent to it) is granted: Err when it is not
    /// (nothing sent), else the client's answer.
    fn request(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Result<ureq::Response, ureq::Error>, Failure> {
        let shown = presage_events::redact_url(url);
        self.granted(url)
            .map_err(|why| Failure::Permanent(format!("{method} {shown}: {why}")))?;
        let mut request = self.agent.request(method, url);
        for (name, value) in &self.headers {
            request = request.set(name, value);
        }
        if let Some(authorization) = &self.authorization {
            request = request.set("Authorization", authorization);
        }
        Ok(match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        })
    }

    fn granted(&self, url: &str) -> Result<(), String> {
        self.grant.url(url)?;
        match self.secret {
            Some(secret) => self.grant.secret(secret, url),
            None => Ok(()),
        }
    }

    /// A request that got no answer: not connected (nothing was sent: transient) or broken
    /// after connecting (a read is asked again; a change's effect is unknown).
    fn failure_of(&self, method: &str, url: &str, err: &ureq::Error) -> Failure {
        let shown = presage_events::redact_url(url);
        let ureq::Error::Transport(t) = err else {
            return Failure::Transient(format!("{method} {shown}: no answer"));
        };
        let message = presage_events::redact_text(&super::transport_text(t));
        let reason = format!("{method} {shown}: {}", self.scrub(&message));
        match t.kind() {
            ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed => Failure::Transient(reason),
            _ if method == "GET" => Failure::Transient(reason),
            _ => Failure::Unknown(reason),
        }
    }

    /// The reason of an answer other than the one wanted: its status and the start of its body,
    /// without credentials.
    fn refusal(
        &self,
        method: &str,
        url: &str,
        code: u16,
        answer: Option<ureq::Response>,
    ) -> String {
        let shown = presage_events::redact_url(url);
        let mut body = String::new();
        if let Some(answer) = answer {
            let _ = answer
                .into_reader()
                .take(QUOTED as u64 * 4)
                .read_to_string(&mut body);
        }
        let body: String = body.trim().chars().take(QUOTED).collect();
        let body = presage_events::redact_text(&self.scrub(&body));
        if body.is_empty() {
            format!("{method} {shown}: HTTP {code}")
        } else {
            format!("{method} {shown}: HTTP {code}: {body}")
        }
    }

    /// `text` with the secret's value cut out (an answer may echo what it was sent).
    fn scrub(&self, text: &str) -> String {
        scrub_credentials(
            text,
            self.secret_value.as_deref(),
            self.authorization.as_deref(),
        )
    }
}

/// `text` without the secret and without the credential the Authorization header carried (a
/// server echoing `Authorization: Basic <base64(user:secret)>` would otherwise put the secret,
/// encoded, into an outcome).
fn scrub_credentials(text: &str, secret: Option<&str>, authorization: Option<&str>) -> String {
    let credential = authorization
        .and_then(|a| a.split_once(' '))
        .map(|(_, c)| c);
    [secret, credential]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |text, s| text.replace(s, "[redacted]"))
}

/// The secret's value: the variable's, or the file's without its trailing line break.
fn read_secret(secret: &SecretRef) -> Result<String, String> {
    let value = match secret {
        SecretRef::Env(name) => {
            std::env::var(name).map_err(|_| format!("secret {secret} is not set (or not UTF-8)"))?
        }
        SecretRef::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("reading secret {secret}: {}", e.kind()))?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
    };
    if value.is_empty() || value.contains(['\n', '\r', '\0']) {
        return Err(format!(
            "secret {secret} is empty or holds a line break: it cannot be sent as a header"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::scrub_credentials;

    #[test]
    fn an_echoed_basic_credential_is_scrubbed_as_well_as_the_secret() {
        let auth = "Basic cHJlc2FnZTpodW50ZXIy"; // base64("presage:hunter2")
        let echoed = "401: bad Authorization: Basic cHJlc2FnZTpodW50ZXIy (password hunter2)";
        let out = scrub_credentials(echoed, Some("hunter2"), Some(auth));
        assert_eq!(
            out,
            "401: bad Authorization: Basic [redacted] (password [redacted])"
        );
    }
}

//! The fields of `http` hooks (see [`crate::http_hook`]): the URLs it reaches, the method, the
//! headers, where its credentials are read, its test and its check. The `http:` block and a test
//! command on another kind, and a file hook's fields on an http hook, are reported rather than
//! silently ignored.

use crate::authority::Origin;
use crate::finding::Finding;
use crate::http_hook::{HttpAuth, SecretRef, HTTP_METHODS};
use crate::model::{ConfigurationHook, HookKind};
use crate::path::YamlPath;

use super::positive;
use super::recipes::is_identifier;

/// Headers that carry credentials: a template names its secrets in `auth`, never writes them.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

pub(super) fn check(h: &ConfigurationHook, p: &YamlPath, out: &mut Vec<Finding>) {
    let name = &h.name;
    if h.kind != HookKind::Http {
        if h.http.is_some() {
            out.push(Finding::at_key(
                p.key("http"),
                format!(
                    "http does not apply to hook {name:?}: it is an http hook's request settings"
                ),
            ));
        }
        return;
    }
    for (field, set) in [
        ("path", h.path.is_some()),
        ("format", h.format.is_some()),
        ("reload", h.reload.is_some()),
    ] {
        if set {
            out.push(Finding::at_key(
                p.key(field),
                format!(
                    "{field} does not apply to an http hook ({name:?}): it reads and sends the \
                     configuration at url"
                ),
            ));
        }
    }
    if h.test.as_ref().is_some_and(|t| t.command.is_some()) {
        out.push(Finding::at(
            p.key("test").key("command"),
            format!(
                "http hook {name:?} tests with test.http only: the candidate configuration is \
                 sent to that validation endpoint"
            ),
        ));
    }
    if let Some(expect) = h.test.as_ref().and_then(|t| t.expect) {
        status(expect, p.key("test").key("expect"), out);
    }
    for (field, url) in h.http_urls() {
        if let Err(why) = Origin::parse(url) {
            let at = field.split('.').fold(p.clone(), |at, key| at.key(key));
            out.push(Finding::at(at, format!("{field} of hook {name:?}: {why}")));
        }
    }
    let Some(settings) = &h.http else { return };
    let hp = p.key("http");
    if let Some(method) = &settings.method {
        if !HTTP_METHODS.contains(&method.as_str()) {
            out.push(Finding::at(
                hp.key("method"),
                format!(
                    "method {method:?} of hook {name:?} cannot send a configuration: expected {}",
                    HTTP_METHODS.join(", ")
                ),
            ));
        }
    }
    for (header, value) in &settings.headers {
        let at = hp.key("headers").key(header);
        if header.is_empty() || !header.bytes().all(is_token_byte) {
            out.push(Finding::at_key(
                at.clone(),
                format!(
                    "{header:?} of hook {name:?} is not a header name: expected letters, digits \
                     and -"
                ),
            ));
        } else if crate::http_hook::is_routing_header(header) {
            out.push(Finding::at_key(
                at.clone(),
                format!(
                    "header {header:?} of hook {name:?} decides where or how the request \
                     travels, which the operator's grant decides: a template cannot set it"
                ),
            ));
        } else if CREDENTIAL_HEADERS.contains(&header.to_ascii_lowercase().as_str()) {
            out.push(Finding::at_key(
                at.clone(),
                format!(
                    "header {header:?} of hook {name:?} carries credentials, which a template \
                     never holds: expected auth: {{ bearer: {{ env: NAME }} }} or {{ file: /path }}"
                ),
            ));
        }
        if let Some(offset) = value.find(['\n', '\r', '\0']) {
            out.push(Finding::in_scalar(
                at,
                value[..offset].chars().count(),
                format!("header {header:?} holds a line break or NUL: expected one line"),
            ));
        }
    }
    if let Some(HttpAuth::Basic(basic)) = &settings.auth {
        if basic.username.is_empty() || basic.username.contains([':', '\n', '\r', '\0']) {
            out.push(Finding::at(
                hp.key("auth").key("basic").key("username"),
                format!("username of hook {name:?} must be non-empty, one line, without `:`"),
            ));
        }
    }
    if let Some((field, secret)) = settings.secret() {
        let at = field.split('.').fold(p.clone(), |at, key| at.key(key));
        match secret {
            SecretRef::Env(var) if !is_identifier(var) => out.push(Finding::at(
                at.key("env"),
                format!(
                    "{var:?} is not an environment variable name: expected letters, digits and \
                     _, not starting with a digit"
                ),
            )),
            SecretRef::File(path)
                if !path.starts_with('/') || path.split('/').any(|seg| seg == "..") =>
            {
                out.push(Finding::at(
                    at.key("file"),
                    format!("secret file {path:?} must be an absolute path without `..`"),
                ))
            }
            _ => {}
        }
    }
    if let Some(check) = &settings.check {
        let cp = hp.key("check");
        if let Some(expect) = check.expect {
            status(expect, cp.key("expect"), out);
        }
        let what = format!("http.check.within of hook {name:?}");
        positive(check.within, cp.key("within"), &what, "10s", out);
    }
}

fn status(code: u16, at: YamlPath, out: &mut Vec<Finding>) {
    if !(100..=599).contains(&code) {
        out.push(Finding::at(
            at,
            format!("{code} is not an HTTP status: expected 100 to 599"),
        ));
    }
}

/// RFC 9110's `tchar`: what a header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    /// The errors of a template whose only hook is `hook` (a block at indentation 6), each as
    /// `file:line:column: message`.
    fn errors(hook: &str) -> Vec<String> {
        let yaml = format!(
            "app: shop\nbootstrap: {{ resources: {{ replicas: 3 }} }}\ndynamic_metadata:\n  \
             configuration_hooks:\n    - name: scale\n{hook}"
        );
        match crate::parse(&yaml, "t.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_settings_of_the_example_hook_are_accepted() {
        let found = errors(
            "      kind: http\n      url: \"http://127.0.0.1:7000/config\"\n      \
             test: { http: \"http://127.0.0.1:7000/validate\", expect: 200, within: 5s }\n      \
             http:\n        method: PATCH\n        read: \"http://127.0.0.1:7000/config/live\"\n        \
             headers: { X-Team: checkout }\n        auth: { basic: { username: presage, password: { file: /run/secrets/pw } } }\n        \
             check: { url: \"http://127.0.0.1:7000/health\", expect: 204, within: 10s }\n",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_state_dir_is_taken_on_an_http_hook_but_not_blank_nor_on_a_file_hook() {
        let found = errors(
            "      kind: http\n      url: \"http://127.0.0.1:7000/config\"\n      \
             state_dir: /var/lib/presage/\n",
        );
        assert!(found.is_empty(), "{found:?}");
        let found = errors(
            "      kind: http\n      url: \"http://127.0.0.1:7000/config\"\n      \
             state_dir: \" \"\n",
        );
        assert!(
            found.iter().any(|e| e.starts_with("t.yaml:8:18: ")
                && e.contains("state_dir of hook \"scale\" is empty")),
            "{found:?}"
        );
        let found =
            errors("      kind: file\n      path: /etc/x.yaml\n      state_dir: /var/lib/p/\n");
        assert!(
            found.iter().any(|e| e.starts_with("t.yaml:8:7: ")
                && e.contains("state_dir does not apply to a file hook")),
            "{found:?}"
        );
    }

    #[test]
    fn each_bad_field_is_named_at_its_line_and_column() {
        let found = errors(
            "      kind: http\n      url: \"http://127.0.0.1:7000/config\"\n      \
             path: /etc/x.yaml\n      \
             test: { command: [true], http: \"ftp://h/v\", expect: 900 }\n      \
             http:\n        method: DELETE\n        \
             headers: { Authorization: \"Bearer abc\", \"X Bad\": \"a\\nb\" }\n        \
             auth: { bearer: { env: \"1NOT-A-NAME\" } }\n        \
             check: { url: \"http://127.0.0.1:7000/health\", within: 0s }\n",
        );
        let expect = [
            ("t.yaml:8:7: ", "path does not apply to an http hook"),
            ("t.yaml:9:24: ", "tests with test.http only"),
            ("t.yaml:9:59: ", "900 is not an HTTP status"),
            ("t.yaml:9:38: ", "test.http of hook \"scale\": scheme `ftp`"),
            ("t.yaml:11:17: ", "method \"DELETE\""),
            ("t.yaml:12:20: ", "carries credentials"),
            (
                "t.yaml:12:49: ",
                "\"X Bad\" of hook \"scale\" is not a header name",
            ),
            ("t.yaml:12:58: ", "holds a line break"),
            (
                "t.yaml:13:32: ",
                "\"1NOT-A-NAME\" is not an environment variable name",
            ),
            (
                "t.yaml:14:63: ",
                "http.check.within of hook \"scale\" is 0s",
            ),
        ];
        for (at, says) in expect {
            assert!(
                found.iter().any(|e| e.starts_with(at) && e.contains(says)),
                "no {at}… {says}: {found:#?}"
            );
        }
    }

    #[test]
    fn headers_that_route_or_frame_the_request_are_refused() {
        let found = errors(
            "      kind: http\n      url: \"http://127.0.0.1:7000/config\"\n      \
             http:\n        headers: { Host: billing.internal, transfer-encoding: chunked, X-Team: a }\n",
        );
        for (at, header) in [
            ("t.yaml:9:20: ", "\"Host\""),
            ("t.yaml:9:44: ", "\"transfer-encoding\""),
        ] {
            assert!(
                found.iter().any(|e| e.starts_with(at)
                    && e.contains(header)
                    && e.contains("decides where")),
                "no {at}… {header}: {found:#?}"
            );
        }
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    #[test]
    fn an_auth_with_neither_or_both_forms_and_http_settings_on_another_kind_are_refused() {
        let found = errors(
            "      kind: http\n      url: \"http://127.0.0.1:7000/config\"\n      \
             http: { auth: { bearer: { env: A, file: /b } } }\n",
        );
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("t.yaml:8:21: ") && e.contains("exactly one of env")),
            "{found:?}"
        );
        let found =
            errors("      kind: file\n      path: /etc/x.yaml\n      http: { method: PUT }\n");
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("t.yaml:8:7: ") && e.contains("http does not apply")),
            "{found:?}"
        );
    }
}

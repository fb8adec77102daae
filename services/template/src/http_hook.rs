//! An `http` hook's request settings (`http:` on the hook): how the application's configuration
//! is read and sent, with what headers and credentials, and how the change is checked after.
//!
//! ```yaml
//! - name: scale
//!   kind: http
//!   url: "http://127.0.0.1:7000/config"            # GET reads it, `method` sends it
//!   keys: { replicas: resources.replicas }
//!   test: { http: "http://127.0.0.1:7000/config/validate", expect: 200, within: 5s }
//!   http:
//!     method: PUT                                   # PUT (default) or POST: the whole document; PATCH: the change only
//!     read: "http://127.0.0.1:7000/config"          # where the current configuration is read; default `url`
//!     headers: { X-Presage-App: checkout-api }
//!     auth: { bearer: { env: CHECKOUT_CONFIG_TOKEN } }   # or { file: /run/secrets/token }, or basic
//!     check: { url: "http://127.0.0.1:7000/health", expect: 200, within: 10s }   # default: read back and compare
//! ```
//!
//! Credentials are never written in a template: `auth` names an environment variable or a file,
//! and the operator's allow-list grants each one together with the URLs it may be sent to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::model::{ConfigurationHook, HookKind};

/// What the `http:` block of an `http` hook says; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHook {
    /// How the change is sent: `PUT` (the default) or `POST` send the whole candidate
    /// configuration, `PATCH` sends only the change (a JSON merge patch, RFC 7396).
    #[serde(default)]
    pub method: Option<String>,
    /// Where the current configuration is read with `GET`; the hook's `url` when absent.
    #[serde(default)]
    pub read: Option<String>,
    /// Headers sent with every request of the hook (no credentials: those are `auth`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub auth: Option<HttpAuth>,
    /// The check after the change; absent, the configuration is read back and compared.
    #[serde(default)]
    pub check: Option<HttpCheck>,
}

/// The credentials sent with every request of the hook, as an `Authorization` header.
/// Written `{ bearer: SECRET }` or `{ basic: { username, password: SECRET } }` (read through
/// [`AuthForm`]: the YAML reader takes enums as tags, and templates write mappings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AuthForm", into = "AuthForm")]
pub enum HttpAuth {
    /// `Authorization: Bearer <secret>`.
    Bearer(SecretRef),
    /// `Authorization: Basic base64(username:password)`.
    Basic(BasicAuth),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// Not a secret (it is written in the template).
    pub username: String,
    pub password: SecretRef,
}

/// Where a secret is read when it is used, never in the template itself: `{ env: NAME }` or
/// `{ file: /path }` (read through [`SecretForm`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SecretForm", into = "SecretForm")]
pub enum SecretRef {
    /// An environment variable of the applier.
    Env(String),
    /// A file (its trailing line break is not part of the secret); an absolute path.
    File(String),
}

/// `auth` as written: exactly one of its fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicAuth>,
}

impl TryFrom<AuthForm> for HttpAuth {
    type Error = String;
    fn try_from(form: AuthForm) -> Result<Self, String> {
        match (form.bearer, form.basic) {
            (Some(secret), None) => Ok(HttpAuth::Bearer(secret)),
            (None, Some(basic)) => Ok(HttpAuth::Basic(basic)),
            _ => Err(
                "expected exactly one of bearer: { env: NAME } or basic: { username, password }"
                    .into(),
            ),
        }
    }
}

impl From<HttpAuth> for AuthForm {
    fn from(auth: HttpAuth) -> Self {
        match auth {
            HttpAuth::Bearer(secret) => AuthForm {
                bearer: Some(secret),
                basic: None,
            },
            HttpAuth::Basic(basic) => AuthForm {
                bearer: None,
                basic: Some(basic),
            },
        }
    }
}

/// A secret as written: exactly one of `env` and `file`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl TryFrom<SecretForm> for SecretRef {
    type Error = String;
    fn try_from(form: SecretForm) -> Result<Self, String> {
        match (form.env, form.file) {
            (Some(name), None) => Ok(SecretRef::Env(name)),
            (None, Some(path)) => Ok(SecretRef::File(path)),
            _ => Err("expected exactly one of env: NAME or file: /path".into()),
        }
    }
}

impl From<SecretRef> for SecretForm {
    fn from(secret: SecretRef) -> Self {
        match secret {
            SecretRef::Env(name) => SecretForm {
                env: Some(name),
                file: None,
            },
            SecretRef::File(path) => SecretForm {
                env: None,
                file: Some(path),
            },
        }
    }
}

impl SecretRef {
    /// The variable's name or the file's path.
    pub fn name(&self) -> String {
        match self {
            SecretRef::Env(name) | SecretRef::File(name) => name.clone(),
        }
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env `{name}`"),
            SecretRef::File(path) => write!(f, "file `{path}`"),
        }
    }
}

/// A check after the change: `GET url` must answer `expect` (default 200) within `within`
/// (default 10s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default)]
    pub expect: Option<u16>,
    #[serde(default)]
    pub within: Option<Duration>,
}

/// The methods that may send a change.
pub const HTTP_METHODS: [&str; 3] = ["PUT", "POST", "PATCH"];

/// Headers that decide where a request goes or how it is framed: `Host` would move a request
/// (and its credentials) to another virtual host behind the granted address, the others would
/// let a template smuggle a second request. The operator's grant decides these; a template never
/// sets them (refused at validation, and again by the applier before any request).
pub const ROUTING_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-for",
    "x-forwarded-proto",
];

/// Whether a template may not set header `name` (any case): see [`ROUTING_HEADERS`].
pub fn is_routing_header(name: &str) -> bool {
    ROUTING_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

impl HttpHook {
    /// The method that sends the change, `PUT` when the hook names none.
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("PUT")
    }

    /// The secret the hook's `auth` reads, with the field naming it.
    pub fn secret(&self) -> Option<(&'static str, &SecretRef)> {
        match self.auth.as_ref()? {
            HttpAuth::Bearer(secret) => Some(("http.auth.bearer", secret)),
            HttpAuth::Basic(basic) => Some(("http.auth.basic.password", &basic.password)),
        }
    }
}

impl ConfigurationHook {
    /// An `http` hook's settings, the defaults when it has no `http:` block.
    pub fn http_settings(&self) -> HttpHook {
        self.http.clone().unwrap_or_default()
    }

    /// Every URL an `http` hook reaches, with the field naming it: the send (`url`), the read,
    /// the test and the check. Its headers and credentials go to each of them. Empty for other
    /// kinds.
    pub fn http_urls(&self) -> Vec<(&'static str, &str)> {
        if self.kind != HookKind::Http {
            return Vec::new();
        }
        let settings = self.http.as_ref();
        [
            ("url", self.url.as_deref()),
            ("http.read", settings.and_then(|s| s.read.as_deref())),
            (
                "test.http",
                self.test.as_ref().and_then(|t| t.http.as_deref()),
            ),
            (
                "http.check.url",
                settings
                    .and_then(|s| s.check.as_ref())
                    .map(|c| c.url.as_str()),
            ),
        ]
        .into_iter()
        .filter_map(|(field, url)| url.map(|url| (field, url)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::authority::{Allow, Grant};

    fn template(hook: &str) -> crate::Template {
        let yaml = format!(
            "app: shop\nbootstrap: {{ resources: {{ replicas: 3 }} }}\ndynamic_metadata:\n  \
             configuration_hooks: [{hook}]\n"
        );
        crate::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    const HOOK: &str = "{ name: scale, kind: http, url: \"http://127.0.0.1:7000/config\", \
        test: { http: \"http://127.0.0.1:7000/validate\" }, \
        http: { read: \"http://127.0.0.1:7000/live\", check: { url: \"http://127.0.0.1:7000/health\" }, \
        auth: { bearer: { env: TOKEN } } } }";

    #[test]
    fn every_url_of_an_http_hook_and_its_secret_for_each_of_them_need_a_grant() {
        let t = template(HOOK);
        let found = Allow::none().check(&t, Path::new("/"));
        let at: Vec<(Grant, &str)> = found.iter().map(|v| (v.rule, v.at.as_str())).collect();
        let hook = "dynamic_metadata.configuration_hooks[0]";
        assert_eq!(
            at,
            [
                (Grant::Urls, format!("{hook}.url").as_str()),
                (Grant::Urls, format!("{hook}.http.read").as_str()),
                (Grant::Urls, format!("{hook}.http.check.url").as_str()),
                (Grant::Urls, format!("{hook}.test.http").as_str()),
                (Grant::Secrets, format!("{hook}.http.auth.bearer").as_str()),
                (Grant::Secrets, format!("{hook}.http.auth.bearer").as_str()),
                (Grant::Secrets, format!("{hook}.http.auth.bearer").as_str()),
                (Grant::Secrets, format!("{hook}.http.auth.bearer").as_str()),
            ]
        );
        let covering = Allow::covering([&t], Path::new("/"));
        assert!(covering.check(&t, Path::new("/")).is_empty());
        let reread = Allow::parse(&covering.to_yaml(), "allow.yaml").unwrap();
        assert_eq!(reread, covering, "{}", covering.to_yaml());
    }

    #[test]
    fn a_secret_is_granted_by_its_name_and_only_to_the_urls_it_names() {
        let allow = Allow::parse(
            "urls: [\"http://127.0.0.1:7000/\"]\nsecrets:\n  \
             - { env: TOKEN, to: [\"http://127.0.0.1:7000/\"] }\n  \
             - { file: /run/secrets/./pw, to: [\"http://127.0.0.1:7000/config\"] }\n",
            "allow.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let token = super::SecretRef::Env("TOKEN".into());
        assert!(allow
            .permits_secret(&token, "http://127.0.0.1:7000/config")
            .is_ok());
        assert!(allow
            .permits_secret(&token, "http://127.0.0.1:7001/config")
            .is_err());
        let other = super::SecretRef::Env("HOME".into());
        assert!(allow
            .permits_secret(&other, "http://127.0.0.1:7000/config")
            .is_err());
        let pw = super::SecretRef::File("/run/secrets/pw".into());
        assert!(allow
            .permits_secret(&pw, "http://127.0.0.1:7000/config/x")
            .is_ok());
        assert!(allow
            .permits_secret(&pw, "http://127.0.0.1:7000/health")
            .is_err());
        assert!(allow
            .permits_secret(
                &super::SecretRef::File("/run/secrets/pw2".into()),
                "http://127.0.0.1:7000/config"
            )
            .is_err());
    }

    #[test]
    fn a_bad_secret_entry_is_reported_at_its_line() {
        let err = Allow::parse(
            "secrets:\n  - { env: TOKEN }\n  - { env: A, file: /b, to: [\"http://h/\"] }\n  - { file: rel, to: [\"http://h/\"] }\n",
            "allow.yaml",
        )
        .unwrap_err();
        let lines: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("allow.yaml:2:5: ") && lines[0].contains("no `to`"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("allow.yaml:3:5: ") && lines[1].contains("exactly one"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("allow.yaml:4:5: ") && lines[2].contains("relative"),
            "{lines:?}"
        );
    }
}

//! What an operator grants: the commands a hook may run, the paths it may write (or read a pid
//! from), and the URLs hooks, probes and scrapes may reach. Whoever can publish a template must
//! not thereby gain the applier's or the collector's authority, so the grant comes from the
//! operator's own settings (`--allow FILE` / `PRESAGE_ALLOW`), never from the templates topic,
//! and nothing is granted without it.
//!
//! ```yaml
//! commands: [/usr/sbin/nginx, kill]   # a command's argv[0] must equal one of these exactly
//! paths: [/etc/myapp/]                # ending in `/`: any file below; otherwise that one file
//! urls: [http://127.0.0.1:9100/]      # scheme, host and port equal, and the path below the entry's
//! secrets:                            # what an http hook's `auth` may read, and where it may send it
//!   - { env: CHECKOUT_TOKEN, to: [http://127.0.0.1:7000/] }
//!   - { file: /run/secrets/checkout, to: [http://127.0.0.1:7000/config] }
//! kubernetes: [shop/Deployment/api, billing/*]  # workloads a kubernetes hook may change
//! ```
//!
//! A secret is granted by its exact name or file, together with the URLs it may be sent to, so
//! a template can neither read the applier's other variables or files nor send a granted secret
//! to another granted URL.
//!
//! Matching is lexical: paths are normalised (`.` and repeated `/` removed) and a `..` is refused
//! outright, in the allow-list and in a template, because it could climb out of a granted
//! directory. Symbolic links inside a granted directory are the operator's to keep honest.
//! A template's relative path is resolved against the service's working directory (where it
//! would be written), which the caller passes in.
//!
//! Pure: parsing, checking and matching only; the services enforce the answer.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::errors::{TemplateError, TemplateErrors};
use crate::http_hook::SecretRef;
use crate::kubernetes::{Workload, WorkloadGrant};
use crate::model::{ConfigurationHook, HookKind, Source, Template};

/// The environment variable the services read the allow-list file's path from.
pub const ALLOW_ENV: &str = "PRESAGE_ALLOW";

/// The three kinds of authority, named as in the allow-list file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grant {
    Commands,
    Paths,
    Urls,
    Secrets,
    Kubernetes,
}

impl Grant {
    pub fn as_str(&self) -> &'static str {
        match self {
            Grant::Commands => "commands",
            Grant::Paths => "paths",
            Grant::Urls => "urls",
            Grant::Secrets => "secrets",
            Grant::Kubernetes => "kubernetes",
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a template asks for that the allow-list does not grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The allow-list rule it broke.
    pub rule: Grant,
    /// What was asked, credential-free: a command, a path, or a URL's scheme, host, port and path.
    pub asked: String,
    /// Where the template asks it, as errors name nodes, e.g.
    /// `dynamic_metadata.configuration_hooks[0].reload.command`.
    pub at: String,
    /// Why it is refused (not granted, or not a form that can be granted).
    pub why: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (allow-list rule `{}`)",
            self.at, self.why, self.rule
        )
    }
}

/// A URL as far as a grant is concerned: user information, query and fragment left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}{}",
            self.scheme, self.host, self.port, self.path
        )
    }
}

impl Origin {
    /// Parses `scheme://[user[:pass]@]host[:port][/path][?query][#fragment]` for http and https.
    /// A path with a `..` or `.` segment (also percent-encoded) is refused: it could climb out of
    /// a granted prefix once the client normalises it.
    ///
    /// So is a URL with a backslash, a control character, whitespace or a non-ASCII character:
    /// the WHATWG parser HTTP clients use (the `url` crate under ureq) ends the host at `\`,
    /// reads `\` as `/` in paths and drops tabs and line breaks, so `http://evil\@granted/`
    /// would be checked as `granted` and sent to `evil`. Only text both read alike is granted.
    pub fn parse(url: &str) -> Result<Origin, String> {
        if let Some(c) = url
            .chars()
            .find(|c| *c == '\\' || !c.is_ascii() || c.is_ascii_control() || c.is_whitespace())
        {
            return Err(format!(
                "a URL with {c:?} cannot be granted: write it percent-encoded"
            ));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "not an absolute URL (expected scheme://host/...)".to_string())?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => {
                return Err(format!(
                    "scheme `{other}` cannot be granted (http or https)"
                ))
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let (host, port) = split_host_port(host_port)?;
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("port `{p}` is not a number from 0 to 65535"))?,
            None => default_port,
        };
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
        let path = if path_end == 0 {
            "/"
        } else {
            &tail[..path_end]
        };
        let climbs = path.split('/').any(|seg| {
            let seg = seg.to_ascii_lowercase().replace("%2e", ".");
            seg == "." || seg == ".."
        });
        if climbs {
            return Err("a URL path with `.` or `..` segments cannot be granted".into());
        }
        Ok(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// Whether `self` (a grant) covers `asked`: same scheme, host and port, and the asked path
    /// is the grant's path or lies below it (`/api` covers `/api` and `/api/x`, not `/apix`).
    pub fn covers(&self, asked: &Origin) -> bool {
        self.scheme == asked.scheme
            && self.host == asked.host
            && self.port == asked.port
            && path_below(&self.path, &asked.path)
    }
}

fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = host_port.strip_prefix('[') {
        // An IPv6 literal: [::1]:8080
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in the host".to_string())?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected `{after}` after the host")),
        };
    }
    Ok(match host_port.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

fn path_below(grant: &str, asked: &str) -> bool {
    if grant.ends_with('/') {
        return asked.starts_with(grant);
    }
    asked == grant
        || asked
            .strip_prefix(grant)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A granted path: a directory (everything below) or one file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PathGrant {
    path: PathBuf,
    directory: bool,
}

/// The operator's allow-list. [`Allow::none`] grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow {
    commands: Vec<String>,
    paths: Vec<PathGrant>,
    urls: Vec<Origin>,
    secrets: Vec<SecretGrant>,
    /// Workloads a `kubernetes` hook may change.
    kubernetes: Vec<WorkloadGrant>,
}

/// A granted secret and the URLs it may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SecretGrant {
    secret: SecretRef,
    to: Vec<Origin>,
}

/// A `secrets` entry as written: one of `env` or `file`, and `to`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default)]
    to: Vec<String>,
}

/// The file as written.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    #[serde(default)]
    commands: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    kubernetes: Vec<String>,
}

impl Allow {
    /// Nothing granted: what a service runs with when the operator gave no allow-list.
    pub fn none() -> Allow {
        Allow::default()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
            && self.paths.is_empty()
            && self.urls.is_empty()
            && self.secrets.is_empty()
            && self.kubernetes.is_empty()
    }

    /// Parses an allow-list; every bad entry is reported with `file:line:column`.
    pub fn parse(text: &str, file: &str) -> Result<Allow, TemplateErrors> {
        let at = |line: usize, column: usize, message: String| TemplateError {
            file: file.to_string(),
            line,
            column,
            message,
        };
        let raw: AllowFile = if text.trim().is_empty() {
            AllowFile::default()
        } else {
            yaml_serde::from_str(text).map_err(|e| {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                TemplateErrors::new(vec![at(line, column, format!("invalid allow-list: {e}"))])
            })?
        };
        let mut errors = Vec::new();
        let mut refuse = |key: &str, i: usize, message: String| {
            let (line, column) = crate::position_of(text, &format!("{key}[{i}]")).unwrap_or((0, 0));
            errors.push(at(line, column, message));
        };
        let mut allow = Allow::none();
        for (i, command) in raw.commands.into_iter().enumerate() {
            if command.trim().is_empty() {
                refuse("commands", i, "an empty command cannot be granted".into());
            } else {
                allow.commands.push(command);
            }
        }
        for (i, path) in raw.paths.into_iter().enumerate() {
            if !path.starts_with('/') {
                refuse(
                    "paths",
                    i,
                    format!("`{path}` is relative: granted paths must be absolute"),
                );
                continue;
            }
            match normalise(Path::new(&path)) {
                Ok(normal) => allow.paths.push(PathGrant {
                    path: normal,
                    directory: path.ends_with('/'),
                }),
                Err(why) => refuse("paths", i, format!("`{path}`: {why}")),
            }
        }
        for (i, url) in raw.urls.into_iter().enumerate() {
            match Origin::parse(&url) {
                Ok(origin) => allow.urls.push(origin),
                Err(why) => refuse("urls", i, format!("URL entry: {why}")),
            }
        }
        for (i, entry) in raw.secrets.into_iter().enumerate() {
            match secret_grant(entry) {
                Ok(grant) => allow.secrets.push(grant),
                Err(why) => refuse("secrets", i, format!("secret entry: {why}")),
            }
        }
        for (i, workload) in raw.kubernetes.into_iter().enumerate() {
            match WorkloadGrant::parse(&workload) {
                Ok(grant) => allow.kubernetes.push(grant),
                Err(why) => refuse("kubernetes", i, format!("workload entry: {why}")),
            }
        }
        if errors.is_empty() {
            Ok(allow)
        } else {
            Err(TemplateErrors::new(errors))
        }
    }

    /// Reads and parses an allow-list file.
    pub fn load(path: &Path) -> Result<Allow, TemplateErrors> {
        let (text, file) = crate::read_text(path, "the allow-list")?;
        Allow::parse(&text, &file)
    }

    /// The allow-list as a file [`Allow::parse`] reads back to the same grant.
    pub fn to_yaml(&self) -> String {
        let file = AllowFile {
            commands: self.commands.clone(),
            paths: self
                .paths
                .iter()
                .map(|g| {
                    let mut text = g.path.display().to_string();
                    if g.directory && !text.ends_with('/') {
                        text.push('/');
                    }
                    text
                })
                .collect(),
            urls: self.urls.iter().map(ToString::to_string).collect(),
            kubernetes: self.kubernetes.iter().map(ToString::to_string).collect(),
            secrets: self
                .secrets
                .iter()
                .map(|g| SecretEntry {
                    env: matches!(&g.secret, SecretRef::Env(_)).then(|| g.secret.name()),
                    file: matches!(&g.secret, SecretRef::File(_)).then(|| g.secret.name()),
                    to: g.to.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        };
        yaml_serde::to_string(&file).unwrap_or_default()
    }

    /// Whether `argv0` may be run: it equals a granted command exactly.
    pub fn permits_command(&self, argv0: &str) -> Result<(), String> {
        if self.commands.iter().any(|c| c == argv0) {
            Ok(())
        } else {
            Err(format!("command `{argv0}` is not granted"))
        }
    }

    /// Whether `path` may be written or read (resolved against `cwd` when relative). Ok gives
    /// the normalised absolute path, which is the one to use.
    pub fn permits_path(&self, path: &Path, cwd: &Path) -> Result<PathBuf, String> {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        };
        let normal =
            normalise(&absolute).map_err(|why| format!("path `{}`: {why}", path.display()))?;
        let granted = self.paths.iter().any(|g| {
            if g.directory {
                normal.starts_with(&g.path) && normal != g.path
            } else {
                normal == g.path
            }
        });
        if granted {
            Ok(normal)
        } else {
            Err(format!("path `{}` is not granted", normal.display()))
        }
    }

    /// Whether `url` may be reached. The error names the URL without its credentials.
    pub fn permits_url(&self, url: &str) -> Result<(), String> {
        let asked = Origin::parse(url).map_err(|why| format!("URL refused: {why}"))?;
        if self.urls.iter().any(|g| g.covers(&asked)) {
            Ok(())
        } else {
            Err(format!("URL `{asked}` is not granted"))
        }
    }

    /// Whether `secret` may be read and sent to `url`: granted by its exact name or file, with
    /// a `to` entry covering the URL. The error names neither the secret's value nor the URL's
    /// credentials.
    pub fn permits_secret(&self, secret: &SecretRef, url: &str) -> Result<(), String> {
        let asked = Origin::parse(url).map_err(|why| format!("URL refused: {why}"))?;
        let secret = match secret {
            SecretRef::File(path) => {
                let normal =
                    normalise(Path::new(path)).map_err(|why| format!("{secret}: {why}"))?;
                SecretRef::File(normal.display().to_string())
            }
            env => env.clone(),
        };
        let granted = self
            .secrets
            .iter()
            .filter(|g| g.secret == secret)
            .any(|g| g.to.iter().any(|to| to.covers(&asked)));
        if granted {
            Ok(())
        } else {
            Err(format!(
                "secret {secret} is not granted to be sent to `{asked}`"
            ))
        }
    }

    /// Every violation of `template`'s hooks and sources, in the template's order.
    pub fn check(&self, template: &Template, cwd: &Path) -> Vec<Violation> {
        let dm = &template.dynamic_metadata;
        let mut out = Vec::new();
        for (i, source) in dm.sources.iter().enumerate() {
            out.extend(self.check_source(source, i));
        }
        for (i, hook) in dm.configuration_hooks.iter().enumerate() {
            out.extend(self.check_hook(&template.app, hook, i, cwd));
        }
        out
    }

    /// What the collector's source at index `i` needs: its URL, if it has one.
    pub fn check_source(&self, source: &Source, i: usize) -> Vec<Violation> {
        let at = format!("dynamic_metadata.sources[{i}].url");
        let url = source
            .url
            .as_deref()
            .and_then(|url| self.url_violation(url, at));
        // A cgroup source's directory or pid file: validation holds them absolute.
        let cgroup = source
            .cgroup
            .iter()
            .flat_map(|c| c.paths())
            .filter_map(|(path, field)| {
                let at = format!("dynamic_metadata.sources[{i}].cgroup.{field}");
                self.path_violation(path, at, Path::new("/"))
            });
        // An ics source's calendar file: validation holds it absolute too.
        let file = source.path.as_deref().and_then(|path| {
            let at = format!("dynamic_metadata.sources[{i}].path");
            self.path_violation(path, at, Path::new("/"))
        });
        url.into_iter().chain(cgroup).chain(file).collect()
    }

    /// What the applier's hook at index `i` needs: the file it writes (and the files beside
    /// it), the pid file it reads, the commands it runs and the URLs it reaches. `app` names a
    /// command hook's state files (see [`ConfigurationHook::state_base`]).
    pub fn check_hook(
        &self,
        app: &str,
        hook: &ConfigurationHook,
        i: usize,
        cwd: &Path,
    ) -> Vec<Violation> {
        let base = format!("dynamic_metadata.configuration_hooks[{i}]");
        let mut out: Vec<Violation> = hook_needs(app, hook)
            .into_iter()
            .filter_map(|(rule, asked, field)| {
                let at = format!("{base}.{field}");
                match rule {
                    Grant::Commands => self.command_violation(&asked, at),
                    Grant::Paths => self.path_violation(&asked, at, cwd),
                    Grant::Urls | Grant::Secrets => self.url_violation(&asked, at),
                    Grant::Kubernetes => hook
                        .kubernetes
                        .as_ref()
                        .and_then(|k| self.workload_violation(&k.workload, at)),
                }
            })
            .collect();
        out.extend(self.secret_violations(hook, &base));
        out
    }

    /// An http hook's secret, once for each of the hook's URLs it is not granted to.
    fn secret_violations(&self, hook: &ConfigurationHook, base: &str) -> Vec<Violation> {
        let settings = hook.http_settings();
        let Some((field, secret)) = settings.secret() else {
            return Vec::new();
        };
        hook.http_urls()
            .into_iter()
            .filter_map(|(_, url)| {
                let why = self.permits_secret(secret, url).err()?;
                Some(Violation {
                    rule: Grant::Secrets,
                    asked: secret.to_string(),
                    at: format!("{base}.{field}"),
                    why,
                })
            })
            .collect()
    }

    /// Whether `workload` may be changed by a `kubernetes` hook.
    pub fn permits_workload(&self, workload: &Workload) -> Result<(), String> {
        if self.kubernetes.iter().any(|g| g.covers(workload)) {
            Ok(())
        } else {
            Err(format!("workload `{workload}` is not granted"))
        }
    }

    fn workload_violation(&self, workload: &Workload, at: String) -> Option<Violation> {
        let why = self.permits_workload(workload).err()?;
        Some(Violation {
            rule: Grant::Kubernetes,
            asked: workload.key(),
            at,
            why,
        })
    }

    fn command_violation(&self, program: &str, at: String) -> Option<Violation> {
        let why = self.permits_command(program).err()?;
        Some(Violation {
            rule: Grant::Commands,
            asked: program.to_string(),
            at,
            why,
        })
    }

    fn path_violation(&self, path: &str, at: String, cwd: &Path) -> Option<Violation> {
        let why = self.permits_path(Path::new(path), cwd).err()?;
        Some(Violation {
            rule: Grant::Paths,
            asked: path.to_string(),
            at,
            why,
        })
    }

    fn url_violation(&self, url: &str, at: String) -> Option<Violation> {
        let why = self.permits_url(url).err()?;
        let asked =
            Origin::parse(url).map_or_else(|_| "an unparsable URL".into(), |o| o.to_string());
        Some(Violation {
            rule: Grant::Urls,
            asked,
            at,
            why,
        })
    }

    /// The least allow-list under which `templates` break no rule: each command, each file
    /// (and pid file) exactly, each URL's origin and path. What `presage up` grants the demo.
    pub fn covering<'t>(templates: impl IntoIterator<Item = &'t Template>, cwd: &Path) -> Allow {
        let mut allow = Allow::none();
        let grant_path = |allow: &mut Allow, path: &str| {
            let absolute = cwd.join(path);
            if let Ok(path) = normalise(&absolute) {
                let grant = PathGrant {
                    path,
                    directory: false,
                };
                if !allow.paths.contains(&grant) {
                    allow.paths.push(grant);
                }
            }
        };
        let grant_url = |allow: &mut Allow, url: &str| {
            if let Ok(origin) = Origin::parse(url) {
                if !allow.urls.contains(&origin) {
                    allow.urls.push(origin);
                }
            }
        };
        let grant_command = |allow: &mut Allow, program: String| {
            if !program.is_empty() && !allow.commands.contains(&program) {
                allow.commands.push(program);
            }
        };
        for template in templates {
            let dm = &template.dynamic_metadata;
            for url in dm.sources.iter().filter_map(|s| s.url.as_deref()) {
                grant_url(&mut allow, url);
            }
            for path in dm.sources.iter().filter_map(|s| s.path.as_deref()) {
                grant_path(&mut allow, path);
            }
            for cgroup in dm.sources.iter().filter_map(|s| s.cgroup.as_ref()) {
                for (path, _) in cgroup.paths() {
                    grant_path(&mut allow, path);
                }
            }
            for hook in &dm.configuration_hooks {
                for (rule, asked, _) in hook_needs(&template.app, hook) {
                    match rule {
                        Grant::Commands => grant_command(&mut allow, asked),
                        Grant::Paths => grant_path(&mut allow, &asked),
                        Grant::Urls | Grant::Secrets => grant_url(&mut allow, &asked),
                        Grant::Kubernetes => {
                            let k = hook.kubernetes.as_ref().map(|k| &k.workload);
                            let grant = k.map(WorkloadGrant::exactly);
                            if let Some(grant) = grant.filter(|g| !allow.kubernetes.contains(g)) {
                                allow.kubernetes.push(grant);
                            }
                        }
                    }
                }
                if let Some((_, secret)) = hook.http_settings().secret() {
                    let to = hook.http_urls().into_iter();
                    let to = to.filter_map(|(_, url)| Origin::parse(url).ok()).collect();
                    allow.secrets.push(SecretGrant {
                        secret: secret.clone(),
                        to,
                    });
                }
            }
        }
        allow
    }
}

/// What a hook asks the operator for, in the order its violations are reported: each command's
/// program, path and URL, with the hook field asking for it. `check_hook` checks these and
/// `covering` grants them, so what a hook needs is written once. A command whose argv is empty
/// asks for the program `""`.
fn hook_needs(app: &str, hook: &ConfigurationHook) -> Vec<(Grant, String, String)> {
    let program = |argv: &[String]| argv.first().cloned().unwrap_or_default();
    let mut needs = Vec::new();
    match hook.kind {
        HookKind::File | HookKind::Env => {
            if let Some(path) = &hook.path {
                needs.push((Grant::Paths, path.clone(), "path".to_string()));
            }
        }
        HookKind::Command => {
            for (field, argv) in hook.commands() {
                needs.push((Grant::Commands, program(argv), field.to_string()));
            }
        }
        HookKind::Kubernetes => {
            if let Some(k) = &hook.kubernetes {
                let workload = k.workload.key();
                needs.push((Grant::Kubernetes, workload, "kubernetes.workload".into()));
            }
        }
        HookKind::Http => {
            // The test's URL is the test section's, below, as for every hook.
            for (field, url) in hook
                .http_urls()
                .into_iter()
                .filter(|(f, _)| *f != "test.http")
            {
                needs.push((Grant::Urls, url.to_string(), field.to_string()));
            }
        }
    }
    // A command hook's journal and lock, or an http or kubernetes hook's (its crash state).
    if let Some(state) = hook.state_base(app) {
        let state = state.to_string_lossy().into_owned();
        needs.push((Grant::Paths, state, "state_dir".to_string()));
    }
    if let Some(reload) = &hook.reload {
        if let Some(pid_file) = &reload.pid_file {
            needs.push((Grant::Paths, pid_file.clone(), "reload.pid_file".into()));
        }
        if let Some(argv) = &reload.command {
            needs.push((Grant::Commands, program(argv), "reload.command".into()));
        }
    }
    if let Some(test) = &hook.test {
        if let Some(argv) = &test.command {
            needs.push((Grant::Commands, program(argv), "test.command".into()));
        }
        if let Some(url) = &test.http {
            needs.push((Grant::Urls, url.clone(), "test.http".into()));
        }
    }
    needs
}

/// A `secrets` entry as granted: exactly one of an identifier `env` or an absolute `file`, and
/// at least one URL it may be sent to.
fn secret_grant(entry: SecretEntry) -> Result<SecretGrant, String> {
    let secret = match (entry.env, entry.file) {
        (Some(env), None) if !env.is_empty() && !env.contains(['=', '\0']) => SecretRef::Env(env),
        (None, Some(file)) if file.starts_with('/') => {
            let normal = normalise(Path::new(&file))?;
            SecretRef::File(normal.display().to_string())
        }
        (Some(_), None) => return Err("`env` must name an environment variable".into()),
        (None, Some(file)) => {
            return Err(format!("`{file}` is relative: expected an absolute file"))
        }
        _ => return Err("expected exactly one of `env` or `file`".into()),
    };
    if entry.to.is_empty() {
        return Err(format!("{secret} has no `to`: the URLs it may be sent to"));
    }
    let to = entry
        .to
        .iter()
        .map(|url| Origin::parse(url).map_err(|why| format!("`to` entry: {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SecretGrant { secret, to })
}

/// `path` without `.` segments and repeated separators; a `..` is refused rather than resolved,
/// since resolving it lexically is wrong through a symbolic link and it can climb out of a grant.
fn normalise(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => return Err("`..` cannot be granted or used".into()),
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(text: &str) -> Allow {
        Allow::parse(text, "allow.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn template(hooks: &str, sources: &str) -> Template {
        let yaml = format!(
            "app: shop\nbootstrap: {{ resources: {{ replicas: 3 }} }}\ndynamic_metadata:\n  sources: [{sources}]\n  configuration_hooks: [{hooks}]\n"
        );
        crate::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    /// What the grant check reads as a granted host or path, the HTTP client (WHATWG URL parsing)
    /// would send elsewhere: refused, never granted.
    #[test]
    fn urls_a_client_reads_differently_from_the_check_are_refused() {
        let granted = allow("urls: [\"http://127.0.0.1:7000/\", \"http://h/api/\"]");
        for url in [
            "http://attacker.example\\@127.0.0.1:7000/config",
            "http://h/api/..\\admin",
            "http://h/api/.\t./admin",
            "http://127.0.0.1:7000/con\nfig",
            "http://127.0.0.1:7000/ config",
            "http://127.0.0.1:7000/caf\u{e9}",
        ] {
            let why = Origin::parse(url).expect_err(url);
            assert!(why.contains("cannot be granted"), "{url}: {why}");
            assert!(granted.url_violation(url, "x".into()).is_some(), "{url}");
        }
        assert!(granted
            .url_violation("http://127.0.0.1:7000/config", "x".into())
            .is_none());
    }

    #[test]
    fn nothing_is_granted_without_an_allow_list() {
        let t = template(
            "{ name: cfg, kind: file, path: /etc/app/config.yaml, test: { command: [sh, -c, x] } }",
            "{ id: api, kind: prometheus, url: \"http://127.0.0.1:9000/metrics\" }",
        );
        let found = Allow::none().check(&t, Path::new("/"));
        let rules: Vec<Grant> = found.iter().map(|v| v.rule).collect();
        assert_eq!(rules, [Grant::Urls, Grant::Paths, Grant::Commands]);
        assert_eq!(found[1].at, "dynamic_metadata.configuration_hooks[0].path");
        assert_eq!(
            found[2].at,
            "dynamic_metadata.configuration_hooks[0].test.command"
        );
    }

    #[test]
    fn a_granted_directory_covers_files_below_it_and_nothing_beside_it() {
        let a = allow("paths: [/etc/app/, /run/app.pid]");
        let cwd = Path::new("/");
        assert!(a
            .permits_path(Path::new("/etc/app/config.yaml"), cwd)
            .is_ok());
        assert!(a
            .permits_path(Path::new("/etc/app/sub/./c.yaml"), cwd)
            .is_ok());
        assert!(
            a.permits_path(Path::new("/etc/app"), cwd).is_err(),
            "the directory itself is not a file below it"
        );
        assert!(a.permits_path(Path::new("/etc/apple/c.yaml"), cwd).is_err());
        assert!(a
            .permits_path(Path::new("/etc/app/../passwd"), cwd)
            .is_err());
        assert!(a.permits_path(Path::new("/run/app.pid"), cwd).is_ok());
        assert!(a.permits_path(Path::new("/run/app.pid2"), cwd).is_err());
        assert!(
            a.permits_path(Path::new("config.yaml"), Path::new("/etc/app"))
                .is_ok(),
            "relative to the working directory"
        );
    }

    #[test]
    fn a_command_is_granted_only_by_its_exact_name() {
        let a = allow("commands: [/usr/sbin/nginx, kill]");
        assert!(a.permits_command("/usr/sbin/nginx").is_ok());
        assert!(a.permits_command("nginx").is_err());
        assert!(a.permits_command("/usr/sbin/nginx2").is_err());
        assert!(a.permits_command("kill").is_ok());
    }

    #[test]
    fn a_url_needs_the_same_scheme_host_and_port_and_a_path_below_the_entry() {
        let a = allow("urls: [\"http://127.0.0.1:9100/\", \"https://api.example.com/scale\"]");
        assert!(a.permits_url("http://127.0.0.1:9100/metrics").is_ok());
        assert!(a
            .permits_url("http://user:pw@127.0.0.1:9100/metrics?x=1")
            .is_ok());
        assert!(a.permits_url("http://127.0.0.1:9101/metrics").is_err());
        assert!(a.permits_url("https://127.0.0.1:9100/metrics").is_err());
        assert!(a.permits_url("http://localhost:9100/metrics").is_err());
        assert!(a.permits_url("https://api.example.com/scale").is_ok());
        assert!(a.permits_url("https://api.example.com:443/scale/x").is_ok());
        assert!(a.permits_url("https://api.example.com/scaled").is_err());
        assert!(a
            .permits_url("https://api.example.com/scale/../admin")
            .is_err());
        assert!(a
            .permits_url("https://api.example.com/scale/%2E%2E/admin")
            .is_err());
        assert!(a.permits_url("file:///etc/passwd").is_err());
    }

    #[test]
    fn a_refused_url_is_named_without_its_credentials() {
        let t = template(
            "{ name: scale, kind: http, url: \"https://admin:hunter2@api.example.com/scale?token=abc\" }",
            "",
        );
        let found = Allow::none().check(&t, Path::new("/"));
        let text = found[0].to_string();
        assert!(!text.contains("hunter2") && !text.contains("abc"), "{text}");
        assert!(text.contains("https://api.example.com:443/scale"), "{text}");
        assert!(text.contains("`urls`"), "{text}");
    }

    #[test]
    fn bad_entries_are_reported_with_their_line_and_column() {
        let err = Allow::parse(
            "commands: [ok]\npaths:\n  - relative/dir/\n  - /etc/../x\nurls: [\"ftp://h/\"]\n",
            "allow.yaml",
        )
        .unwrap_err();
        let lines: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("allow.yaml:3:5: "), "{lines:?}");
        assert!(lines[1].starts_with("allow.yaml:4:5: "), "{lines:?}");
        assert!(lines[2].starts_with("allow.yaml:5:8: "), "{lines:?}");
        let unknown = Allow::parse("hosts: [x]\n", "allow.yaml").unwrap_err();
        assert!(
            unknown.to_string().starts_with("allow.yaml:1:1: "),
            "{unknown}"
        );
    }

    #[test]
    fn the_covering_list_grants_exactly_what_the_templates_ask_and_reads_back() {
        let t = template(
            "{ name: cfg, kind: file, path: var/app/config.yaml, reload: { signal: HUP, pid_file: /run/app.pid }, test: { command: [grep, -q, x, \"{shadow}\"], http: \"http://127.0.0.1:7000/health\" } }",
            "{ id: api, kind: prometheus, url: \"http://u:p@127.0.0.1:9000/metrics?token=x\" }",
        );
        let cwd = Path::new("/srv/presage");
        let covering = Allow::covering([&t], cwd);
        assert!(
            covering.check(&t, cwd).is_empty(),
            "{:?}",
            covering.check(&t, cwd)
        );
        assert_eq!(allow(&covering.to_yaml()), covering);
        assert!(
            !covering.to_yaml().contains("token"),
            "{}",
            covering.to_yaml()
        );
        assert!(covering
            .permits_path(Path::new("/srv/presage/var/app/other.yaml"), cwd)
            .is_err());
        assert!(covering.permits_url("http://127.0.0.1:9000/other").is_err());
        assert!(covering.permits_command("sh").is_err());
    }

    #[test]
    fn command_and_env_hooks_need_every_command_their_state_dir_and_their_env_file() {
        let t = template(
            "{ name: scale, kind: command, state_dir: /var/lib/presage/, apply: [kubectl, \"--replicas={replicas}\"], check: [curl, -f, x], rollback: [kubectl, \"--replicas={replicas}\"], read: [cat, /run/v] }, { name: env, kind: env, path: /etc/shop/app.env, vars: { REPLICAS: \"{replicas}\" }, reload: { command: [systemctl, restart, shop] } }",
            "",
        );
        let found = Allow::none().check(&t, Path::new("/"));
        let at: Vec<&str> = found.iter().map(|v| v.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "dynamic_metadata.configuration_hooks[0].apply",
                "dynamic_metadata.configuration_hooks[0].check",
                "dynamic_metadata.configuration_hooks[0].rollback",
                "dynamic_metadata.configuration_hooks[0].read",
                "dynamic_metadata.configuration_hooks[0].state_dir",
                "dynamic_metadata.configuration_hooks[1].path",
                "dynamic_metadata.configuration_hooks[1].reload.command",
            ]
        );
        assert!(
            found[4].why.contains("/var/lib/presage/shop.scale"),
            "{}",
            found[4]
        );
        let granted = allow(
            "commands: [kubectl, curl, cat, systemctl]\npaths: [/var/lib/presage/, /etc/shop/app.env]\n",
        );
        assert!(granted.check(&t, Path::new("/")).is_empty());
        let covering = Allow::covering([&t], Path::new("/"));
        assert!(covering.check(&t, Path::new("/")).is_empty());
        assert!(covering.permits_command("sh").is_err());
    }
}

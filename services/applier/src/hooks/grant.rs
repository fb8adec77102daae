//! The operator's grant, checked where the applier acts: before a hook's flow starts (the whole
//! hook, so a change is `rejected` with nothing run, written or reached) and again at each point
//! of use (the command about to be spawned, the file about to be written, the URL about to be
//! called), so no code path can act without it.

use std::path::{Path, PathBuf};

use presage_template::authority::Allow;
use presage_template::http_hook::SecretRef;
use presage_template::{ConfigurationHook, Template};

/// An allow-list and the directory a template's relative paths are resolved against (the
/// applier's working directory, where such a path would be written).
#[derive(Debug, Clone, Default)]
pub struct Granted {
    allow: Allow,
    cwd: PathBuf,
    /// The operator's kubeconfig for `kubernetes` hooks (`--kubeconfig`); None: kube-rs infers
    /// it (`KUBECONFIG`, `~/.kube/config`, in-cluster).
    kubeconfig: Option<PathBuf>,
}

impl Granted {
    pub fn new(allow: Allow, cwd: PathBuf) -> Self {
        Self {
            allow,
            cwd,
            kubeconfig: None,
        }
    }

    /// Nothing granted: every hook that needs authority is rejected.
    pub fn nothing() -> Self {
        Self::new(Allow::none(), PathBuf::from("/"))
    }

    /// Exactly what `template`'s hooks ask for, resolved against the working directory: for
    /// tests of everything but the grant, and the demo's allow-list.
    pub fn covering(template: &Template) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Self::new(Allow::covering([template], &cwd), cwd)
    }

    /// With the operator's kubeconfig for `kubernetes` hooks.
    pub fn with_kubeconfig(mut self, kubeconfig: Option<PathBuf>) -> Self {
        self.kubeconfig = kubeconfig;
        self
    }

    pub fn kubeconfig(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    /// The workload about to be read or changed.
    pub fn workload(&self, workload: &presage_template::Workload) -> Result<(), String> {
        self.allow
            .permits_workload(workload)
            .map_err(|e| format!("{e} (allow-list rule `kubernetes`)"))
    }

    pub fn allow(&self) -> &Allow {
        &self.allow
    }

    /// Why `hook` may not run, one line per thing it asks that is not granted; None if granted.
    pub fn refusal(&self, template: &Template, hook: &ConfigurationHook) -> Option<String> {
        let index = template
            .dynamic_metadata
            .configuration_hooks
            .iter()
            .position(|h| h.name == hook.name)
            .unwrap_or(0);
        let violations = self.allow.check_hook(&template.app, hook, index, &self.cwd);
        if violations.is_empty() {
            return None;
        }
        let each: Vec<String> = violations.iter().map(ToString::to_string).collect();
        Some(format!(
            "not granted by the operator's allow-list, nothing was run, written or reached: {}",
            each.join("; ")
        ))
    }

    /// The command about to be spawned.
    pub fn command(&self, argv0: &str) -> Result<(), String> {
        self.allow
            .permits_command(argv0)
            .map_err(|e| format!("{e} (allow-list rule `commands`)"))
    }

    /// The file about to be written or read; the normalised absolute path to use.
    pub fn path(&self, path: &Path) -> Result<PathBuf, String> {
        self.allow
            .permits_path(path, &self.cwd)
            .map_err(|e| format!("{e} (allow-list rule `paths`)"))
    }

    /// The URL about to be called.
    pub fn url(&self, url: &str) -> Result<(), String> {
        self.allow
            .permits_url(url)
            .map_err(|e| format!("{e} (allow-list rule `urls`)"))
    }

    /// The secret about to be read and sent to `url`.
    pub fn secret(&self, secret: &SecretRef, url: &str) -> Result<(), String> {
        self.allow
            .permits_secret(secret, url)
            .map_err(|e| format!("{e} (allow-list rule `secrets`)"))
    }
}

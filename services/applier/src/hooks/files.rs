//! The files beside a live configuration, and writing them so a crash leaves each whole.
//!
//! For `config.yaml`: `config.yaml.prev` (the version live before the last swap),
//! `.config.yaml.presage-lock` (the cross-process lock), `.config.yaml.presage-journal` (see
//! [`crate::journal`]), and temporary files named with the process id and a counter
//! (`.config.yaml.presage-shadow.<pid>.<n>`, ...), so two appliers never write the same one.
//!
//! Every file written here holds some version of the configuration (the journal holds two), so
//! each is created with the live file's mode and, where the process may, its owner: a 0600
//! configuration stays 0600 after a swap, and its secrets do not leak through `.prev`.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::grant::Granted;
use crate::journal::Journal;

static COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
pub struct Beside {
    pub dir: PathBuf,
    pub live: PathBuf,
    pub prev: PathBuf,
    pub lock: PathBuf,
    pub journal: PathBuf,
    /// `.config.yaml.presage-`: every temporary file of this configuration starts so.
    temp_prefix: String,
}

impl Beside {
    /// The files of `live`, if the operator granted it (the files beside it follow from it);
    /// the only way to get a `Beside`, so nothing is written under a path not granted.
    pub fn granted(live: &Path, grant: &Granted) -> Result<Self, String> {
        grant.path(live).map(|live| Self::new(&live))
    }

    fn new(live: &Path) -> Self {
        let dir = live
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let name = live
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            prev: dir.join(format!("{name}.prev")),
            lock: dir.join(format!(".{name}.presage-lock")),
            journal: dir.join(format!(".{name}.presage-journal")),
            temp_prefix: format!(".{name}.presage-"),
            live: live.to_path_buf(),
            dir,
        }
    }

    /// A temporary file name no other applier process (nor another call in this one) uses.
    pub fn temp(&self, kind: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!(
            "{}{kind}.{}.{n}",
            self.temp_prefix,
            std::process::id()
        ))
    }

    /// Removes temporary files a crashed flow left. Only under the lock: then no flow on this
    /// configuration is running anywhere, so every temporary file of it is stale.
    pub fn remove_stale(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let temporary = name.starts_with(&self.temp_prefix)
                && !matches!(
                    &name[self.temp_prefix.len()..],
                    "lock" | "journal" // the lock and the journal themselves
                );
            if temporary {
                tracing::info!(file = %entry.path().display(), "removing a crashed apply's temporary file");
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Reads the live file's text; `None` if there is none.
    pub fn read_live(&self) -> io::Result<Option<String>> {
        match fs::read_to_string(&self.live) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The journal, or an empty one if there is none yet.
    pub fn load_journal(&self) -> Result<Journal, String> {
        match fs::read(&self.journal) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("journal {} is unreadable: {e}", self.journal.display())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Journal::default()),
            Err(err) => Err(format!("reading journal {}: {err}", self.journal.display())),
        }
    }

    pub fn store_journal(&self, journal: &Journal) -> Result<(), String> {
        let bytes = serde_json::to_vec(journal).map_err(|e| e.to_string())?;
        self.replace(&self.journal, &bytes)
            .map_err(|e| format!("writing journal {}: {e}", self.journal.display()))
    }

    /// Writes `bytes` to a fresh temporary file, syncs it, renames it over `target` and syncs
    /// the directory: `target` is, at every instant, either its old content or `bytes`.
    pub fn replace(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let temp = self.temp("tmp");
        let written = self
            .write_synced(&temp, bytes)
            .and_then(|_| fs::rename(&temp, target));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Writes `bytes` to the new file `path` with the live file's mode and owner, and syncs it.
    pub fn write_synced(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let like = fs::metadata(&self.live).ok();
        let mut file = create_like(path, like.as_ref())?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

/// Creates (or truncates) `path` with `like`'s permission bits, and its owner when the process
/// may give it (as root, or a group it belongs to); without `like`, as the umask says.
fn create_like(path: &Path, like: Option<&Metadata>) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if let Some(like) = like {
        // At creation already, so the file is never more open than the live one; the umask
        // may narrow it further, which set_permissions undoes below.
        options.mode(like.permissions().mode() & 0o777);
    }
    let file = options.open(path)?;
    if let Some(like) = like {
        if let Err(err) = std::os::unix::fs::fchown(&file, Some(like.uid()), Some(like.gid())) {
            tracing::debug!(file = %path.display(), error = %err, "could not give the file the live file's owner");
        }
        file.set_permissions(fs::Permissions::from_mode(
            like.permissions().mode() & 0o7777,
        ))?;
    }
    Ok(file)
}

/// A rename is durable only once the directory entry is on disk.
pub fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

//! The file hook's shadow flow: copy the live configuration, merge the change (a directive's
//! target or a fragment's body, both as a patch) into the copy, check the rules, write the copy
//! beside the live file and run the hook's test on it, keep the previous version, swap atomically
//! (fsync, rename, fsync the directory), reload, check, and roll back if the reload or the check
//! fails. A rejected or failed change never touches the live file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::{ConfigurationHook, Template};
use serde_json::Value;

use super::http::wait_for_status;
use super::process::{run_command, signal_pid_file};
use crate::outcome::{outcome, Details, Input, Status};
use crate::plan::{check_rules, directive_patch, format_of, parse_config, plan_patch, render};

const DEFAULT_TEST_LIMIT: Duration = Duration::from_secs(10);

pub fn apply_file_hook(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    now_ms: i64,
) -> ApplyOutcome {
    apply_patch_to_file(
        template,
        hook,
        directive.into(),
        &directive_patch(hook, directive),
        now_ms,
    )
}

/// The shadow flow for any change, given as a patch; `input` is the event the outcome answers.
pub(crate) fn apply_patch_to_file(
    template: &Template,
    hook: &ConfigurationHook,
    input: Input<'_>,
    patch: &Value,
    now_ms: i64,
) -> ApplyOutcome {
    let Some(path) = hook.path.as_deref().map(PathBuf::from) else {
        return finish(
            input,
            hook,
            Status::Failed,
            Some("file hook has no path".into()),
            None,
            None,
            now_ms,
        );
    };
    let config_path = Some(path.display().to_string());
    match shadow_and_swap(template, hook, patch, &path) {
        Ok(backup) => finish(
            input,
            hook,
            Status::Applied,
            None,
            config_path,
            backup,
            now_ms,
        ),
        Err((status, reason, backup)) => finish(
            input,
            hook,
            status,
            Some(reason),
            config_path,
            backup,
            now_ms,
        ),
    }
}

type Failure = (Status, String, Option<String>);

fn shadow_and_swap(
    template: &Template,
    hook: &ConfigurationHook,
    patch: &Value,
    path: &Path,
) -> Result<Option<String>, Failure> {
    let failed = |reason: String| (Status::Failed, reason, None);
    let format = format_of(hook, path);
    let current = match fs::read_to_string(path) {
        Ok(text) => Some(
            parse_config(&text, format)
                .map_err(|e| failed(format!("live configuration {}: {e}", path.display())))?,
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(failed(format!("reading {}: {err}", path.display()))),
    };
    let candidate = plan_patch(current.as_ref(), template, patch);
    let violations = check_rules(&candidate, template);
    if !violations.is_empty() {
        return Err((Status::Rejected, violations.join("; "), None));
    }
    let text = render(&candidate, format).map_err(|e| failed(e.to_string()))?;

    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| failed(format!("creating {}: {e}", dir.display())))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let shadow = dir.join(format!(".{file_name}.presage-shadow"));
    write_synced(&shadow, text.as_bytes())
        .map_err(|e| failed(format!("writing shadow {}: {e}", shadow.display())))?;

    let test = hook.test.as_ref();
    let limit = test
        .and_then(|t| t.within)
        .map(|d| Duration::from_millis(d.as_millis()))
        .unwrap_or(DEFAULT_TEST_LIMIT);
    if let Some(argv) = test.and_then(|t| t.command.as_ref()) {
        if let Err(reason) = run_command(argv, Some(&shadow.display().to_string()), limit) {
            let _ = fs::remove_file(&shadow);
            return Err(failed(format!(
                "test failed on the shadow configuration: {reason}"
            )));
        }
    }

    // Keep the previous version, so a failed reload can be rolled back and people can diff.
    let backup = dir.join(format!("{file_name}.prev"));
    let had_previous = current.is_some();
    if had_previous {
        fs::copy(path, &backup)
            .and_then(|_| File::open(&backup)?.sync_all())
            .map_err(|e| {
                failed(format!(
                    "keeping previous version {}: {e}",
                    backup.display()
                ))
            })?;
    }
    fs::rename(&shadow, path)
        .map_err(|e| failed(format!("swapping {} into place: {e}", path.display())))?;
    sync_dir(dir);
    let backup_text = had_previous.then(|| backup.display().to_string());

    if let Err(reason) = reload_and_check(hook, limit) {
        let restored = if had_previous {
            // The restore is a swap too: copy the previous version beside the live file, then
            // rename it over, so the application never sees a half-written file.
            fs::read(&backup)
                .and_then(|bytes| write_synced(&shadow, &bytes))
                .and_then(|_| fs::rename(&shadow, path))
                .map_err(|e| e.to_string())
        } else {
            fs::remove_file(path).map_err(|e| e.to_string())
        };
        sync_dir(dir);
        let _ = reload(hook, limit);
        let reason = match restored {
            Ok(()) => format!("{reason}; previous configuration restored"),
            Err(e) => format!("{reason}; RESTORE FAILED: {e}"),
        };
        return Err((Status::RolledBack, reason, backup_text));
    }
    Ok(backup_text)
}

fn reload(hook: &ConfigurationHook, limit: Duration) -> Result<(), String> {
    let Some(reload) = &hook.reload else {
        return Ok(());
    };
    if let Some(argv) = &reload.command {
        run_command(argv, None, limit).map_err(|e| format!("reload failed: {e}"))?;
    }
    if let (Some(signal), Some(pid_file)) = (&reload.signal, &reload.pid_file) {
        signal_pid_file(signal, pid_file).map_err(|e| format!("reload failed: {e}"))?;
    }
    Ok(())
}

fn reload_and_check(hook: &ConfigurationHook, limit: Duration) -> Result<(), String> {
    reload(hook, limit)?;
    if let Some(test) = &hook.test {
        if let Some(url) = &test.http {
            wait_for_status(url, test.expect.unwrap_or(200), limit)
                .map_err(|e| format!("check after swap failed: {e}"))?;
        }
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A rename is durable only once the directory entry is on disk.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

fn finish(
    input: Input<'_>,
    hook: &ConfigurationHook,
    status: Status,
    reason: Option<String>,
    config_path: Option<String>,
    backup_path: Option<String>,
    now_ms: i64,
) -> ApplyOutcome {
    outcome(
        input,
        &hook.name,
        status,
        Details {
            reason,
            config_path,
            backup_path,
        },
        now_ms,
    )
}

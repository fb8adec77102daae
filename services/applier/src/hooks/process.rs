//! Running a hook's test or reload command with a time limit.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `argv` (with `{shadow}` replaced by `shadow`), and returns Err with the exit status and
/// the tail of stderr when it fails or outlives `limit`.
pub fn run_command(argv: &[String], shadow: Option<&str>, limit: Duration) -> Result<(), String> {
    let substituted: Vec<String> = argv
        .iter()
        .map(|arg| match shadow {
            Some(path) => arg.replace("{shadow}", path),
            None => arg.clone(),
        })
        .collect();
    let (program, args) = substituted.split_first().ok_or("empty command")?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(path) = shadow {
        command.env("PRESAGE_SHADOW_PATH", path);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not finish within {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let tail: String = stderr
        .trim()
        .chars()
        .rev()
        .take(400)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(format!(
        "`{}` exited with {status}: {tail}",
        substituted.join(" ")
    ))
}

/// Sends a named signal (e.g. `HUP`) to the pid written in `pid_file`.
pub fn signal_pid_file(signal: &str, pid_file: &str) -> Result<(), String> {
    let pid = std::fs::read_to_string(pid_file)
        .map_err(|e| format!("reading pid file {pid_file}: {e}"))?;
    let pid = pid.trim();
    if pid.parse::<u32>().is_err() {
        return Err(format!(
            "pid file {pid_file} holds {pid:?}, not a process id"
        ));
    }
    let signal = signal.trim_start_matches("SIG");
    let argv = ["kill".to_string(), format!("-{signal}"), pid.to_string()];
    run_command(&argv, None, Duration::from_secs(5))
}

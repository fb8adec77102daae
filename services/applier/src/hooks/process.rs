//! Running a hook's test or reload command with a time limit, and signalling a pid file's
//! process: only what the operator granted.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::grant::Granted;

/// How much of a failed command's stderr its outcome keeps (the end of it, where the error is).
const STDERR_TAIL_CHARS: usize = 400;
/// How much of each output stream is kept in memory while a command runs; the rest is read and
/// dropped, so a chatty command neither blocks on a full pipe nor fills the applier's memory.
const KEPT_OUTPUT_BYTES: usize = 64 * 1024;

/// Runs `argv` (with `{shadow}` replaced by `shadow`), and returns Err with the exit status and
/// the tail of stderr when it fails or outlives `limit`. The command must be granted. Its
/// stdout and stderr are read while it runs, so no amount of output stalls it on a full pipe.
pub fn run_command(
    argv: &[String],
    shadow: Option<&str>,
    limit: Duration,
    grant: &Granted,
) -> Result<(), String> {
    let substituted: Vec<String> = argv
        .iter()
        .map(|arg| match shadow {
            Some(path) => arg.replace("{shadow}", path),
            None => arg.clone(),
        })
        .collect();
    let (program, args) = substituted.split_first().ok_or("empty command")?;
    // Checked on the template's argv[0], not the substituted one: `{shadow}` cannot name a
    // program the operator did not grant.
    grant.command(argv.first().map(String::as_str).unwrap_or_default())?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = shadow {
        command.env("PRESAGE_SHADOW_PATH", path);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_within(&mut child, program, limit);
    // The command has exited (or was killed): its pipes close, and the readers end, unless a
    // process it started still holds them; then what they read so far is not waited for.
    let _ = stdout;
    let stderr = stderr.map(finish_reading).unwrap_or_default().text();
    let status = status?;
    if status.success() {
        return Ok(());
    }
    Err(format!(
        "`{}` exited with {status}: {}",
        substituted.join(" "),
        tail(&stderr, STDERR_TAIL_CHARS)
    ))
}

/// Runs `argv` as given (already substituted; `argv[0]` exactly as the template wrote it, which
/// the grant is checked on). Err names the command, its exit status or time limit, and the
/// tails of its stderr and stdout: what a failing command's outcome says.
pub fn run_capturing(argv: &[String], limit: Duration, grant: &Granted) -> Result<(), String> {
    run_captured(argv, limit, grant).map(|_| ())
}

/// Runs `argv` as [`run_capturing`] does and returns its whole stdout: what a `read` command
/// printed. Output the applier did not keep whole (more than [`KEPT_OUTPUT_BYTES`], a stream a
/// process it started still held open, bytes that are not UTF-8) is an error, never taken for
/// the values a part of it would say.
pub fn run_reading(argv: &[String], limit: Duration, grant: &Granted) -> Result<String, String> {
    let stdout = run_captured(argv, limit, grant)?;
    let shown = argv.join(" ");
    if !stdout.whole {
        return Err(format!(
            "`{shown}` printed more than {KEPT_OUTPUT_BYTES} bytes, or left its output open \
             after it exited: its output is not taken in part"
        ));
    }
    String::from_utf8(stdout.bytes)
        .map_err(|e| format!("`{shown}` printed text that is not UTF-8: {e}"))
}

fn run_captured(argv: &[String], limit: Duration, grant: &Granted) -> Result<Kept, String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    grant.command(program)?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_within(&mut child, program, limit);
    let stdout = stdout.map(finish_reading).unwrap_or_default();
    let stderr = stderr.map(finish_reading).unwrap_or_default();
    let shown = argv.join(" ");
    let streams = format!(
        "stderr: {:?}; stdout: {:?}",
        tail(&stderr.text(), STDERR_TAIL_CHARS),
        tail(&stdout.text(), STDERR_TAIL_CHARS)
    );
    match status {
        Ok(status) if status.success() => Ok(stdout),
        Ok(status) => Err(format!("`{shown}` exited with {status}; {streams}")),
        Err(why) => Err(format!("`{shown}`: {why}; {streams}")),
    }
}

/// The last `chars` characters of `text`, trimmed.
fn tail(text: &str, chars: usize) -> String {
    let trimmed = text.trim();
    let skip = trimmed.chars().count().saturating_sub(chars);
    trimmed.chars().skip(skip).collect()
}

fn wait_within(
    child: &mut Child,
    program: &str,
    limit: Duration,
) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not finish within {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    }
}

/// What a reader kept of an output stream: all of it (`whole`), or only its end (the stream was
/// longer than [`KEPT_OUTPUT_BYTES`] allows), or nothing (it was not read to its end in time).
#[derive(Debug, Default)]
struct Kept {
    bytes: Vec<u8>,
    whole: bool,
}

impl Kept {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Reads `pipe` to its end on a thread, keeping the last [`KEPT_OUTPUT_BYTES`] of it.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Kept>> {
    let mut pipe = pipe?;
    Some(std::thread::spawn(move || {
        let mut kept = Kept {
            bytes: Vec::new(),
            whole: true,
        };
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Err(_) => {
                    kept.whole = false;
                    break;
                }
                Ok(n) => {
                    kept.bytes.extend_from_slice(&buf[..n]);
                    if kept.bytes.len() > 2 * KEPT_OUTPUT_BYTES {
                        kept.bytes.drain(..kept.bytes.len() - KEPT_OUTPUT_BYTES);
                        kept.whole = false;
                    }
                }
            }
        }
        kept
    }))
}

/// What a reader kept, if it ends within a moment (a grandchild may hold the pipe open).
fn finish_reading(reader: JoinHandle<Kept>) -> Kept {
    let deadline = Instant::now() + Duration::from_millis(500);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if !reader.is_finished() {
        return Kept::default();
    }
    reader.join().unwrap_or_default()
}

/// Sends a named signal (e.g. `HUP`) to the process whose id `pid_file` holds. The pid file
/// must be granted, and hold one positive process id: `kill(0)` would signal the applier's own
/// process group, and a negative id a whole group (`-1`: every process it may signal).
pub fn signal_pid_file(signal: &str, pid_file: &str, grant: &Granted) -> Result<(), String> {
    let path = grant.path(Path::new(pid_file))?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading pid file {pid_file}: {e}"))?;
    let pid = parse_pid(&text).map_err(|why| format!("pid file {pid_file}: {why}"))?;
    let number = signal_number(signal)?;
    // SAFETY: kill(2) with a positive pid signals that one process; it touches no memory.
    let sent = unsafe { libc::kill(pid, number) };
    if sent == 0 {
        Ok(())
    } else {
        let err = std::io::Error::last_os_error();
        Err(format!("sending SIG{} to {pid}: {err}", bare(signal)))
    }
}

/// The process id `pid_file` holds, if it is granted and holds one.
pub fn read_pid_file(pid_file: &str, grant: &Granted) -> Result<libc::pid_t, String> {
    let path = grant.path(Path::new(pid_file))?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading pid file {pid_file}: {e}"))?;
    parse_pid(&text).map_err(|why| format!("pid file {pid_file} {why}"))
}

/// One process id, as a pid file holds it: a positive decimal number, whitespace around it.
pub fn parse_pid(text: &str) -> Result<libc::pid_t, String> {
    let trimmed = text.trim();
    match trimmed.parse::<libc::pid_t>() {
        Ok(pid) if pid > 0 => Ok(pid),
        Ok(pid) => Err(format!(
            "holds {pid}, which would signal a process group, not one process: refused"
        )),
        Err(_) => Err(format!("holds {trimmed:?}, not a process id")),
    }
}

fn bare(signal: &str) -> &str {
    signal.trim().trim_start_matches("SIG")
}

/// The number of a signal named as in a template (`HUP` or `SIGHUP`); only signals a reload
/// can mean are accepted.
pub fn signal_number(signal: &str) -> Result<libc::c_int, String> {
    Ok(match bare(signal).to_ascii_uppercase().as_str() {
        "HUP" => libc::SIGHUP,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "INT" => libc::SIGINT,
        "TERM" => libc::SIGTERM,
        "QUIT" => libc::SIGQUIT,
        "WINCH" => libc::SIGWINCH,
        other => return Err(format!("unknown signal `{other}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_positive_process_id_is_a_pid() {
        assert_eq!(parse_pid("4242\n"), Ok(4242));
        for bad in ["0", "-1", "-4242", "", "12abc", "0x10", "99999999999"] {
            assert!(parse_pid(bad).is_err(), "{bad:?} was taken for a pid");
        }
        assert!(parse_pid("0").unwrap_err().contains("process group"));
    }

    #[test]
    fn signals_are_named_with_or_without_sig() {
        assert_eq!(signal_number("HUP"), Ok(libc::SIGHUP));
        assert_eq!(signal_number("SIGUSR1"), Ok(libc::SIGUSR1));
        assert!(signal_number("KILLALL").is_err());
    }
}

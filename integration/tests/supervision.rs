//! `presage up` as a supervisor: a child that dies is started again, a terminal's Ctrl-C stops
//! the services before the broker, and nothing outlives `presage up`, not even a SIGKILLed one.
//! Real processes on the local broker; children are killed with SIGKILL, as a crash or the OOM
//! killer would. The stack logs JSON (`PRESAGE_LOG_FORMAT=json`), so the tests read the
//! supervisor's structured fields instead of matching text.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use common::Workload;
use presage_integration::services::binary;
use presage_runner::broker::free_port;
use serde_json::Value;

/// Every wait is generous and polls: a slow machine makes a test slower, never red.
const PATIENCE: Duration = Duration::from_secs(180);

#[test]
fn a_service_killed_with_sigkill_is_started_again_under_a_new_pid() {
    let stack = Stack::up();
    stack.wait_for("presage up to start every service", |log| {
        log.up() && log.pid_of("planner").is_some()
    });
    let first = stack.log().pid_of("planner").unwrap();
    assert_eq!(stack.child_command(first), "presage-planner");

    kill(first as i32, libc::SIGKILL);

    let log = stack.wait_for("the planner to be restarted", |log| {
        log.pid_of("planner").is_some_and(|pid| pid != first)
    });
    let second = log.pid_of("planner").unwrap();
    assert_eq!(
        stack.child_command(second),
        "presage-planner",
        "the restarted planner is a running child of presage up"
    );
    let exit = log
        .event("exited; restarting after backoff", "planner")
        .unwrap_or_else(|| panic!("no restart logged:\n{}", stack.text()));
    assert_eq!(exit["pid"], first, "{exit}");
    assert_eq!(exit["status"], "signal SIGKILL", "{exit}");
    assert_eq!(exit["attempt"], 1, "{exit}");
    assert_eq!(
        exit["delay"], "1s",
        "the first restart waits one second: {exit}"
    );
    let restarted = log.event("restarted", "planner").unwrap();
    assert_eq!(restarted["pid"], second, "{restarted}");
    assert_eq!(restarted["restarts"], 1, "{restarted}");
    assert_eq!(
        log.events_with("exited; restarting after backoff").len(),
        1,
        "only the killed service went down:\n{}",
        stack.text()
    );
    let status = stack.stop(libc::SIGTERM);
    assert!(status.success(), "{status}:\n{}", stack.text());
}

#[test]
fn the_local_broker_killed_with_sigkill_is_started_again_on_its_port() {
    let stack = Stack::up();
    stack.wait_for("presage up to start every service", |log| log.up());
    let first = stack.log().pid_of("broker").unwrap();
    assert_eq!(stack.child_command(first), "nisshi");

    kill(first as i32, libc::SIGKILL);

    let log = stack.wait_for("the broker to be restarted", |log| {
        log.pid_of("broker").is_some_and(|pid| pid != first)
    });
    let exit = log
        .event("exited; restarting after backoff", "broker")
        .unwrap();
    assert_eq!(exit["status"], "signal SIGKILL", "{exit}");
    let second = log.pid_of("broker").unwrap();
    assert_eq!(stack.child_command(second), "nisshi");
    stack.wait_for("the restarted broker to listen", |_| {
        std::net::TcpStream::connect(("127.0.0.1", stack.port)).is_ok()
    });
    let status = stack.stop(libc::SIGTERM);
    assert!(status.success(), "{status}:\n{}", stack.text());
}

#[test]
fn ctrl_c_in_a_terminal_stops_every_service_before_the_broker() {
    let stack = Stack::up();
    // Every consuming loop running (recipe-processor, forecaster, two in the planner, two in
    // the applier), so each has offsets to commit on the way out.
    stack.wait_for("all six consuming loops to start", |log| {
        log.up() && log.events_with("stage starting").len() >= 6
    });
    // Whole lines only: what was logged before the signal is not looked at.
    let before = stack.text().rfind('\n').map_or(0, |at| at + 1);

    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group.
    kill(-(stack.pid() as i32), libc::SIGINT);

    let status = stack.wait_for_exit();
    assert!(
        status.success(),
        "presage up exited with {status}:\n{}",
        stack.text()
    );
    let text = stack.text();
    let after = &text[before..];
    assert!(
        !after.contains("AllBrokersDown"),
        "a client lost the broker while stopping:\n{after}"
    );
    let log = Log::parse(after);
    let broker_stop = log
        .position("services stopped; stopping the local broker", None)
        .unwrap_or_else(|| panic!("no broker stop logged:\n{after}"));
    // Every consuming loop that started (the recipe-processor, forecaster, planner and applier
    // run one or more each) committed on the way out, while the broker still answered.
    let started = Log::parse(&text).stages("stage starting");
    assert!(started.len() >= 6, "{started:?}");
    assert_eq!(
        log.stages("shutting down: committing offsets"),
        started,
        "every consuming loop committed:\n{after}"
    );
    let commits = log.positions("shutting down: committing offsets");
    assert!(
        commits.iter().all(|&at| at < broker_stop),
        "a service committed after the broker was told to stop:\n{after}"
    );
    for service in SERVICES {
        let stopped = log
            .position("stopped", Some(service))
            .unwrap_or_else(|| panic!("{service} did not stop:\n{after}"));
        assert!(
            stopped < broker_stop,
            "{service} stopped after the broker:\n{after}"
        );
        let event = &log.events[stopped]["fields"];
        assert_eq!(event["status"], "exit code 0", "{service}: {event}");
    }
    let broker_stopped = log.position("stopped", Some("broker")).unwrap();
    assert!(broker_stopped > broker_stop, "{after}");
    assert!(
        log.events_with("did not stop in time; killing").is_empty(),
        "every child stopped within the grace period:\n{after}"
    );
    assert!(
        log.events_with("exited; restarting after backoff")
            .is_empty(),
        "nothing was restarted while stopping:\n{after}"
    );
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", stack.port)).is_ok(),
        "the broker's port is free"
    );
}

#[test]
fn every_child_dies_with_presage_up_even_when_it_is_killed_with_sigkill() {
    let stack = Stack::up();
    stack.wait_for("presage up to start every service", |log| log.up());
    let log = stack.log();
    let children: Vec<(String, u32)> = SERVICES
        .into_iter()
        .chain(["broker"])
        .map(|name| (name.to_string(), log.pid_of(name).unwrap()))
        .collect();

    // No shutdown code runs: only the kernel's parent-death signal can stop the children.
    kill(stack.pid() as i32, libc::SIGKILL);

    let deadline = Instant::now() + PATIENCE;
    for (name, pid) in &children {
        while alive(*pid) {
            assert!(
                Instant::now() < deadline,
                "{name} (pid {pid}) outlived presage up:\n{}",
                stack.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Nothing listens on the broker's port any more. A killed process's leader reads as a
    // zombie while its other threads are still being torn down and its sockets still open, so
    // the port is polled rather than probed once.
    while std::net::TcpStream::connect(("127.0.0.1", stack.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "something still listens on the broker's port {} after every child died",
            stack.port
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The services `presage up` runs (`presage_cli::SERVICES`).
const SERVICES: [&str; 5] = presage_integration::services::ALL;

fn kill(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) with a valid signal on a pid (or group) this test started.
    let result = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        result,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Alive: present in /proc and not a zombie awaiting its reaper.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_field(&stat, 0) != Some("Z"),
        Err(_) => false,
    }
}

/// A field of /proc/PID/stat after the command, whose parentheses may hold spaces: 0 is the
/// state, 1 the parent pid.
fn stat_field(stat: &str, index: usize) -> Option<&str> {
    stat.rsplit_once(')')?.1.split_whitespace().nth(index)
}

/// `presage up` with the local broker on a free port, in a process group of its own (as a
/// shell starts a foreground job), logging JSON to a file. Stopped with SIGTERM when dropped.
struct Stack {
    child: std::cell::RefCell<Child>,
    log_path: PathBuf,
    port: u16,
    _workload: Workload,
    _dir: tempfile::TempDir,
}

impl Stack {
    fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let workload = Workload::start();
        let template = workload.write_template(dir.path(), &dir.path().join("app/config.yaml"));
        let port = free_port().unwrap();
        let log_path = dir.path().join("up.log");
        let log = File::create(&log_path).unwrap();
        binary("presage-planner"); // fails with a hint when the services are not built
        let child = Command::new(binary("presage"))
            .arg("up")
            .arg("--templates")
            .arg(&template)
            .arg("--data-dir")
            .arg(dir.path().join("var"))
            .args(["--port", &port.to_string()])
            // Stacks run in parallel: no fixed port for the dashboard or the services' metrics.
            .args(["--dashboard-listen", "off", "--metrics-port-base", "0"])
            .current_dir(dir.path())
            .env("PRESAGE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            // The supervision is of the local broker: an external one is not ours to kill.
            .env_remove("PRESAGE_BROKERS")
            .process_group(0)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self {
            child: std::cell::RefCell::new(child),
            log_path,
            port,
            _workload: workload,
            _dir: dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.borrow().id()
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn log(&self) -> Log {
        Log::parse(&self.text())
    }

    /// Polls until `condition` holds of the log; fails if `presage up` exits first.
    fn wait_for(&self, what: &str, condition: impl Fn(&Log) -> bool) -> Log {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            if condition(&log) {
                return log;
            }
            if let Some(status) = self.child.borrow_mut().try_wait().unwrap() {
                panic!(
                    "presage up exited ({status}) waiting for {what}:\n{}",
                    self.text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "waited {PATIENCE:?} for {what}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_for_exit(&self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.borrow_mut().try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "presage up did not stop within {PATIENCE:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&self, signal: libc::c_int) -> ExitStatus {
        kill(self.pid() as i32, signal);
        self.wait_for_exit()
    }

    /// The executable's name of `pid`, asserting it is a child of `presage up`.
    fn child_command(&self, pid: u32) -> String {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_else(|err| panic!("pid {pid} is not running ({err}):\n{}", self.text()));
        assert_eq!(
            stat_field(&stat, 1),
            Some(self.pid().to_string().as_str()),
            "pid {pid} is not a child of presage up: {stat}"
        );
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        file_name(&exe)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let child = self.child.get_mut();
        if let Ok(None) = child.try_wait() {
            // SAFETY: kill(2) on our own child's pid with a valid signal.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let _ = child.wait();
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The JSON events of the log, in order (lines that are not JSON, the CLI's own output, and a
/// line still being written, are skipped).
struct Log {
    events: Vec<Value>,
    up: bool,
}

impl Log {
    fn parse(text: &str) -> Self {
        Self {
            events: text
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect(),
            up: text.contains("presage is up: 5 services"),
        }
    }

    fn up(&self) -> bool {
        self.up
    }

    fn matches(event: &Value, message: &str, service: Option<&str>) -> bool {
        event["fields"]["message"] == message
            && service.is_none_or(|service| event["fields"]["service"] == service)
    }

    fn events_with(&self, message: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| Self::matches(e, message, None))
            .collect()
    }

    /// The `stage` field of every event with `message`.
    fn stages(&self, message: &str) -> BTreeSet<String> {
        self.events_with(message)
            .iter()
            .filter_map(|e| e["fields"]["stage"].as_str().map(str::to_string))
            .collect()
    }

    fn positions(&self, message: &str) -> Vec<usize> {
        (0..self.events.len())
            .filter(|&i| Self::matches(&self.events[i], message, None))
            .collect()
    }

    fn position(&self, message: &str, service: Option<&str>) -> Option<usize> {
        self.events
            .iter()
            .position(|e| Self::matches(e, message, service))
    }

    /// The fields of the last event with `message` from `service`'s supervisor.
    fn event(&self, message: &str, service: &str) -> Option<&Value> {
        self.events
            .iter()
            .rev()
            .find(|e| Self::matches(e, message, Some(service)))
            .map(|e| &e["fields"])
    }

    /// The pid of `service`'s latest start (first start or restart).
    fn pid_of(&self, service: &str) -> Option<u32> {
        self.events
            .iter()
            .rev()
            .find(|e| {
                Self::matches(e, "started", Some(service))
                    || Self::matches(e, "restarted", Some(service))
            })
            .and_then(|e| e["fields"]["pid"].as_u64())
            .map(|pid| pid as u32)
    }
}

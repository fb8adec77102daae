//! The five service binaries, run as child processes with their logs in a directory the test
//! prints on failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use presage_runner::KafkaArgs;
use presage_runner::KafkaChild;
use presage_template::authority::{Allow, ALLOW_ENV};

/// `target/<profile>/`: the test binary runs from `target/<profile>/deps/`.
pub fn binary_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

pub fn binary(name: &str) -> PathBuf {
    let path = binary_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the services first (`cargo build --workspace --bins`; `cargo xtask test` does it)",
        path.display()
    );
    path
}

/// Writes `file`, an allow-list granting exactly what the `templates` ask (relative hook paths
/// resolved against `cwd`, where the services run), and returns its path: what an operator
/// would grant the applier and the collector for these templates, and nothing more.
pub fn allow_templates(templates: &[PathBuf], cwd: &Path, file: &Path) -> PathBuf {
    let loaded: Vec<presage_template::Template> = templates
        .iter()
        .map(|path| presage_template::load(path).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    std::fs::write(file, Allow::covering(&loaded, cwd).to_yaml()).expect("write allow-list");
    file.to_path_buf()
}

/// The five services, in pipeline order.
pub const ALL: [&str; 5] = [
    "collector",
    "recipe-processor",
    "forecaster",
    "planner",
    "applier",
];

pub struct Services {
    children: Vec<(String, Child)>,
    pub log_dir: PathBuf,
    /// The allow-list services started from now on run with (`PRESAGE_ALLOW`).
    allow: Option<PathBuf>,
    /// Environment set for one service whenever it starts, by service name.
    env: Vec<(String, String, String)>,
}

impl Services {
    pub fn new(log_dir: &Path) -> Self {
        std::fs::create_dir_all(log_dir).expect("log dir");
        Self {
            children: Vec::new(),
            log_dir: log_dir.to_path_buf(),
            allow: None,
            env: Vec::new(),
        }
    }

    /// Services started from now on run with this allow-list; without one they are granted
    /// nothing (the applier rejects every hook needing authority, the collector reads no URL).
    pub fn grant(&mut self, allow: &Path) {
        self.allow = Some(allow.to_path_buf());
    }

    /// `service` runs with `key=value` in its environment whenever it starts from now on.
    pub fn set_env(&mut self, service: &str, key: &str, value: &str) {
        self.env
            .push((service.to_string(), key.to_string(), value.to_string()));
    }

    /// Starts a service the way an operator does, `presage run <service>`, against `kafka`,
    /// from `cwd`. `presage run` execs the service binary, so signals reach it directly.
    pub fn start(&mut self, service: &str, kafka: &KafkaArgs, cwd: &Path) {
        // Appended, so a restarted service's log follows its previous run's.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("{service}.log")))
            .expect("log file");
        binary(&format!("presage-{service}"));
        let mut command = Command::new(binary("presage"));
        if let Some(allow) = &self.allow {
            command.env(ALLOW_ENV, allow);
        }
        for (_, key, value) in self.env.iter().filter(|(name, ..)| name == service) {
            command.env(key, value);
        }
        let child = command
            .args(["run", service])
            .kafka(kafka)
            .current_dir(cwd)
            .env("RUST_LOG", "info,presage=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawning service");
        self.children.push((service.to_string(), child));
    }

    /// Stops one service the way an operator would: SIGTERM, then a kill after 10 s.
    pub fn stop(&mut self, service: &str) {
        if let Some(index) = self.children.iter().position(|(name, _)| name == service) {
            let (_, mut child) = self.children.remove(index);
            terminate(&mut child);
        }
    }

    /// Kills one service with SIGKILL: no shutdown hook runs, nothing is committed on the way
    /// out. What a crash or an OOM kill does.
    pub fn kill(&mut self, service: &str) {
        if let Some(index) = self.children.iter().position(|(name, _)| name == service) {
            let (_, mut child) = self.children.remove(index);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The tail of every service log, for failure messages.
    /// The whole log of one service (its runs appended), for assertions on what it said; the
    /// tails of [`Services::logs`] are for failure messages.
    pub fn log_of(&self, service: &str) -> String {
        std::fs::read_to_string(self.log_dir.join(format!("{service}.log"))).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.log_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = body.lines().rev().take(15).collect();
            text.push_str(&format!("--- {}\n", entry.path().display()));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }
}

/// Stops a child the way an operator would: SIGTERM, then a kill after 10 s.
pub fn terminate(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid with a valid signal.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Services {
    /// How `service` ended, if it has (`None` while it runs, or if it was never started).
    pub fn exit_status(&mut self, service: &str) -> Option<std::process::ExitStatus> {
        self.children
            .iter_mut()
            .find(|(name, _)| name == service)
            .and_then(|(_, child)| child.try_wait().ok().flatten())
    }

    /// The process id of `service`, if it was started.
    pub fn pid(&self, service: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|(name, _)| name == service)
            .map(|(_, child)| child.id())
    }
}

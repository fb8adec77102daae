//! `presage up`, the one command a user runs: it starts the local broker, creates the topics,
//! publishes the templates and supervises the five services until it is told to stop.

mod common;

use std::fs::File;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{expected_target, replicas_in, Workload, SEASON};
use presage_integration::services::binary;
use presage_runner::broker::free_port;

#[test]
fn presage_up_runs_the_whole_stack_until_interrupted_then_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let workload = Workload::start();
    let config_path = dir.path().join("app/config.yaml");
    let template = workload.write_template(dir.path(), &config_path);
    let port = free_port().unwrap();
    let log_path = dir.path().join("up.log");
    let log = File::create(&log_path).unwrap();

    let mut command = Command::new(binary("presage"));
    command
        .arg("up")
        .arg("--templates")
        .arg(&template)
        .arg("--data-dir")
        .arg(dir.path().join("var"))
        .args(["--port", &port.to_string()])
        // Stacks run in parallel: no fixed port for the dashboard or the services' metrics.
        .args(["--dashboard-listen", "off", "--metrics-port-base", "0"])
        .current_dir(dir.path())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    if let Ok(brokers) = std::env::var("PRESAGE_TEST_BROKERS") {
        command.args([
            "--brokers",
            &brokers,
            "--topic-prefix",
            &format!("up{port}."),
        ]);
    }
    let mut up = Stack(command.spawn().unwrap());
    let logs = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // The recipe's metadata fragments may write the file first (bootstrap replicas, computed
    // worker_threads): wait for a directive's target.
    let possible: Vec<i64> = (0..SEASON as i64)
        .map(|k| expected_target(&workload.demand, k * 1000))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut replicas = None;
    while Instant::now() < deadline && !replicas.is_some_and(|r| possible.contains(&r)) {
        std::thread::sleep(Duration::from_millis(250));
        replicas = replicas_in(&config_path);
        assert!(
            up.0.try_wait().unwrap().is_none(),
            "presage up exited early:\n{}",
            logs()
        );
    }
    assert!(
        replicas.is_some_and(|r| possible.contains(&r)),
        "no directive's target ({possible:?}) in the configuration within 90 s (last seen \
         {replicas:?}):\n{}",
        logs()
    );

    // SAFETY: kill(2) on our own child's pid with a valid signal.
    unsafe {
        libc::kill(up.0.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = up.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "presage up did not stop within 30 s:\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "presage up exited with {status}:\n{}",
        logs()
    );
    let text = logs();
    assert!(text.contains("presage is up: 5 services"), "{text}");
    let loops = text.matches("stage starting").count();
    assert!(
        loops >= 6,
        "the recipe-processor, forecaster, planner and applier's loops ran:\n{text}"
    );
    assert_eq!(
        text.matches("shutting down: committing offsets").count(),
        loops,
        "every consuming loop committed on the way out:\n{text}"
    );
    if std::env::var("PRESAGE_TEST_BROKERS").is_err() {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "the local broker stopped with the stack"
        );
    }
}

/// `presage up` as a child that a failed assertion does not leave running: on drop it gets
/// SIGTERM (and stops its broker and services) and is waited for.
struct Stack(std::process::Child);

impl Drop for Stack {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) on our own child's pid with a valid signal.
            unsafe {
                libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
            }
            let _ = self.0.wait();
        }
    }
}

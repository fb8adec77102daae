//! Kafka settings often hold secrets (`sasl.password`). A supervisor hands them to the services
//! it starts through the environment, never on the command line, where `ps` shows them to every
//! user of the host.

use std::time::{Duration, Instant};

use presage_integration::broker::TestBroker;
use presage_integration::services::{binary, Services};

/// The command line of a running process, as `ps` shows it to anyone on the host.
fn command_line(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

fn executable(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

#[test]
fn a_secret_setting_reaches_the_service_but_never_its_command_line() {
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("presage-marker-{}", std::process::id());
    let mut kafka = broker.kafka.clone();
    kafka.kafka_settings.push(format!("sasl.password={marker}"));

    let mut services = Services::new(&dir.path().join("logs"));
    services.start("forecaster", &kafka, dir.path());
    let pid = services.pid("forecaster").expect("forecaster started");

    // `presage run` execs the service: wait until the pid is the service itself.
    let service = binary("presage-forecaster");
    let deadline = Instant::now() + Duration::from_secs(30);
    while executable(pid).as_deref() != Some(service.as_path()) {
        assert!(
            Instant::now() < deadline,
            "presage run never became the forecaster:\n{}",
            services.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let line = command_line(pid);
    assert!(line.contains("--brokers"), "{line}");
    assert!(
        !line.contains(&marker),
        "the secret is on the command line: {line}"
    );

    // It runs with the setting: its loop starts (the settings were checked before it) and it
    // is still alive.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !services.log_of("forecaster").contains("stage starting") {
        assert!(
            Instant::now() < deadline,
            "the forecaster never started its loop\n{}",
            services.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        services.exit_status("forecaster"),
        None,
        "{}",
        services.logs()
    );
}

#[test]
fn settings_handed_down_by_the_environment_are_applied_by_the_service() {
    // A setting librdkafka does not know makes the service refuse to start, naming it: proof
    // that what `-X` gave the supervisor reached the child, without being on its command line.
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().unwrap();
    let mut kafka = broker.kafka.clone();
    kafka
        .kafka_settings
        .push("presage.no.such.setting=1".to_string());

    let mut services = Services::new(&dir.path().join("logs"));
    services.start("forecaster", &kafka, dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = services.exit_status("forecaster") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the forecaster accepted an unknown setting:\n{}",
            services.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    let log = services.log_of("forecaster");
    assert!(log.contains("presage.no.such.setting"), "{log}");
}

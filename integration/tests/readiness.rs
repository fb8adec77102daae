//! `/readyz` says what an orchestrator needs to know before it sends a service work or counts
//! it in a rollout: a service started before its broker is alive but not ready, becomes ready
//! once it has read the templates and joined its group, and is not ready while its broker is
//! away, and ready again when it is back. `/healthz` answers all along.

use std::path::Path;
use std::time::{Duration, Instant};

use presage_integration::services::Services;
use presage_integration::topics::set_up_with_template;
use presage_runner::broker::{find_nisshi, free_port, LocalBroker};
use presage_runner::KafkaArgs;

const TEMPLATE: &str = r#"
app: grid-ew
dynamic_metadata:
  sources:
    - { id: grid, kind: prometheus, url: "http://127.0.0.1:1/metrics" }
  metric_recipes:
    - { name: hourly_mw, from: grid.demand_mw, aggregate: sum, window: { tumble: 1h } }
"#;

const PATIENCE: Duration = Duration::from_secs(90);

#[test]
fn readiness_follows_the_templates_the_group_and_the_broker() {
    let nisshi = find_nisshi().expect("the local broker (cargo xtask install-broker)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("broker");
    let port = free_port().unwrap();
    let kafka = KafkaArgs::for_brokers(format!("127.0.0.1:{port}"));
    let metrics = format!("127.0.0.1:{}", free_port().unwrap());
    let mut services = Services::new(&dir.path().join("logs"));
    services.set_env("planner", "PRESAGE_METRICS_LISTEN", &metrics);
    services.start("planner", &kafka, dir.path());
    let logs = || services.logs();

    // No broker yet: alive, not ready, and saying what it waits for.
    wait_for("the planner to answer /healthz", &logs, || {
        get(&metrics, "/healthz").is_some_and(|(status, _)| status == 200)
    });
    let (status, body) = get(&metrics, "/readyz").expect("/readyz answers");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("waiting for the templates topic"), "{body}");

    let mut broker = LocalBroker::start(&nisshi, &data, port).unwrap();
    set_up(&kafka, dir.path());
    wait_for("the planner to be ready", &logs, || ready(&metrics));
    let (_, body) = get(&metrics, "/readyz").unwrap();
    assert_eq!(
        body, "planner: ready\nplanner-observed: ready\nplanner-outcomes: ready\n",
        "each of the planner's three loops is ready"
    );

    // The broker goes away: not ready, and the metric says why.
    broker.stop();
    wait_for("the planner to see the broker away", &logs, || {
        get(&metrics, "/readyz")
            .is_some_and(|(status, body)| status == 503 && body.contains("waiting for the broker"))
    });
    assert!(scrape(&metrics).contains("presage_ready{service=\"planner\"} 0"));
    assert!(scrape(&metrics).contains("presage_broker_reachable{stage=\"planner\"} 0"));
    assert_eq!(
        get(&metrics, "/healthz").map(|(status, _)| status),
        Some(200)
    );

    // And back: ready again, without a restart.
    let _broker = LocalBroker::start(&nisshi, &data, port).unwrap();
    wait_for("the planner to be ready again", &logs, || ready(&metrics));
    assert!(scrape(&metrics).contains("presage_ready{service=\"planner\"} 1"));
    assert_eq!(services.exit_status("planner"), None, "{}", services.logs());
}

fn set_up(kafka: &KafkaArgs, dir: &Path) {
    set_up_with_template(kafka, dir, "grid.yaml", TEMPLATE);
}

fn ready(addr: &str) -> bool {
    get(addr, "/readyz").is_some_and(|(status, _)| status == 200)
}

fn scrape(addr: &str) -> String {
    get(addr, "/metrics").expect("/metrics answers").1
}

/// Status and body, or `None` while nothing answers.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    match ureq::get(&format!("http://{addr}{path}")).call() {
        Ok(response) => Some((response.status(), response.into_string().ok()?)),
        Err(ureq::Error::Status(status, response)) => Some((status, response.into_string().ok()?)),
        Err(_) => None,
    }
}

fn wait_for(what: &str, logs: &dyn Fn() -> String, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "no sign of {what} within {PATIENCE:?}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A loop that has outputs in hand when the broker goes away blocks in its send, not at the
/// poll where it would notice: the publisher itself says it is waiting, and says so again when
/// the broker took everything.
#[test]
fn a_send_waiting_for_the_broker_reports_it_and_reports_the_end_of_the_wait() {
    use presage_runner::publisher::Publisher;
    use presage_runner::{Outgoing, Shutdown};
    use std::sync::{Arc, Mutex};

    let nisshi = find_nisshi().expect("the local broker (cargo xtask install-broker)");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("broker");
    let port = free_port().unwrap();
    let mut kafka = KafkaArgs::for_brokers(format!("127.0.0.1:{port}"));
    kafka.kafka_settings.push("message.timeout.ms=2000".into());
    let reports: Arc<Mutex<Vec<bool>>> = Arc::default();
    let publisher = Publisher::new(&kafka).unwrap();
    let seen = reports.clone();
    publisher.report_waits(Box::new(move |waiting| seen.lock().unwrap().push(waiting)));

    // No broker yet: the send waits, and says so.
    let record = Outgoing {
        topic: kafka.topics().dlq(),
        key: "k".into(),
        event_id: "e".into(),
        payload: b"x".to_vec(),
        timestamp_ms: None,
    };
    let shutdown = Shutdown::default();
    let sending = std::thread::spawn(move || publisher.send_reliably(&[record], &shutdown));
    wait_for("the send to report waiting", &String::new, || {
        reports.lock().unwrap().first() == Some(&true)
    });

    // The broker arrives: the send completes and reports the wait over.
    let _broker = LocalBroker::start(&nisshi, &data, port).unwrap();
    set_up(&kafka, dir.path());
    let refused = sending
        .join()
        .unwrap()
        .expect("delivered once the broker is there");
    assert!(refused.is_empty());
    assert_eq!(*reports.lock().unwrap(), vec![true, false]);
}

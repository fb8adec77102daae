//! Operators, not templates, grant authority: the real applier and collector binaries, a real
//! broker, real files, processes and HTTP servers. A template asking for more than the
//! operator's allow-list grants gets a `rejected` outcome (applier) or a dead letter naming the
//! rule (collector), and the command did not run, the file was not written, the URL was not
//! reached.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use presage_events::{event_id, ApplyOutcome, DeadLetter, RawSample, ScalingDirective};
use presage_integration::broker::TestBroker;
use presage_integration::services::Services;
use presage_integration::topics::{produce, TopicReader};
use presage_runner::templates::publish_templates;
use presage_runner::KafkaChild;

/// A local HTTP server answering `body` to every request, counting them.
fn counting_server(body: String) -> (String, Arc<AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", server.server_addr().to_ip().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = request.respond(tiny_http::Response::from_string(body.clone()));
        }
    });
    (origin, hits)
}

fn directive(app: &str, target: i64, tag: &str) -> ScalingDirective {
    ScalingDirective {
        event_id: event_id(&["authority-directive", tag]),
        app: app.into(),
        template_version: "test".into(),
        resource: "replicas".into(),
        target,
        policy: "test".into(),
        reason: "sent by the test".into(),
        ..Default::default()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_applier_rejects_hooks_asking_for_more_than_its_allow_list_and_runs_writes_and_reaches_nothing(
) {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path();
    let granted_dir = dir.join("granted");
    std::fs::create_dir_all(&granted_dir).unwrap();
    let config = granted_dir.join("config.yaml");
    let outside = dir.join("outside").join("config.yaml");
    let marker = dir.join("the-command-ran");
    let (scale_url, scale_hits) = counting_server(String::new());
    // Hook `runs`: a granted file, but a test command (`sh`) not granted.
    // Hook `writes`: a file outside the granted directory.
    // Hook `posts`: a URL not granted.
    let template = write(
        dir,
        "shop.yaml",
        &format!(
            "app: shop\nbootstrap: {{ resources: {{ replicas: 3 }} }}\ndynamic_metadata:\n  configuration_hooks:\n    \
             - {{ name: runs, kind: file, path: {config:?}, test: {{ command: [sh, -c, \"touch {marker}\"] }} }}\n    \
             - {{ name: writes, kind: file, path: {outside:?} }}\n    \
             - {{ name: posts, kind: http, url: \"{scale_url}/scale\" }}\n",
            marker = marker.display()
        ),
    );
    publish_templates(&kafka, &[template]).expect("publish template");
    let allow = write(
        dir,
        "allow.yaml",
        &format!("paths: [\"{}/\"]\n", granted_dir.display()),
    );
    let applied = TopicReader::open(&kafka, &topics.applied());
    let mut services = Services::new(&dir.join("logs"));
    services.grant(&allow);
    services.start("applier", &kafka, dir);

    let asked = directive("shop", 7, "asks-too-much");
    produce(&kafka, &topics.directives(), &asked);
    let mut outcomes: Vec<ApplyOutcome> = Vec::new();
    assert!(
        applied.wait_until(&mut outcomes, Duration::from_secs(90), |seen| seen.len()
            >= 3),
        "not every hook's outcome arrived: {outcomes:?}\n{}",
        services.logs()
    );
    let by_hook = |hook: &str| {
        outcomes
            .iter()
            .find(|o| o.hook == hook)
            .unwrap_or_else(|| panic!("no outcome of {hook}: {outcomes:?}"))
    };
    for (hook, rule, at) in [
        ("runs", "commands", "configuration_hooks[0].test.command"),
        ("writes", "paths", "configuration_hooks[1].path"),
        ("posts", "urls", "configuration_hooks[2].url"),
    ] {
        let outcome = by_hook(hook);
        assert_eq!(outcome.status, "rejected", "{outcome:?}");
        let reason = outcome.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains(&format!("rule `{rule}`")) && reason.contains(at),
            "{hook}: {reason}"
        );
    }
    // The evidence: nothing ran, nothing was written, nothing was reached.
    assert!(!marker.exists(), "the test command ran");
    assert!(
        !config.exists(),
        "the granted file was written though its hook was refused"
    );
    assert!(
        !outside.parent().unwrap().exists(),
        "something was written outside the grant"
    );
    assert_eq!(scale_hits.load(Ordering::SeqCst), 0, "the URL was reached");
    assert!(
        services.log_of("applier").contains("hook refused"),
        "the refusal is logged\n{}",
        services.logs()
    );
}

#[test]
fn the_collector_dead_letters_a_source_not_granted_once_and_keeps_reading_the_others() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path();
    let (granted, granted_hits) = counting_server("queue_depth 17\n".into());
    let (denied, denied_hits) = counting_server("queue_depth 99\n".into());
    let big_page: String = (0..20)
        .map(|i| format!("requests{{path=\"/p{i}\"}} {i}\n"))
        .collect();
    let (big, _) = counting_server(big_page);
    let template = write(
        dir,
        "shop.yaml",
        &format!(
            "app: shop\ndynamic_metadata:\n  sources:\n    \
             - {{ id: granted, kind: prometheus, url: \"{granted}/metrics\", every: 250ms, timeout: 1s }}\n    \
             - {{ id: denied, kind: prometheus, url: \"http://user:hunter2@{}/metrics\", every: 250ms, timeout: 1s }}\n    \
             - {{ id: big, kind: prometheus, url: \"{big}/metrics\", every: 250ms, timeout: 1s }}\n",
            denied.trim_start_matches("http://")
        ),
    );
    publish_templates(&kafka, &[template]).expect("publish template");
    let allow = write(
        dir,
        "allow.yaml",
        &format!("urls: [\"{granted}/metrics\", \"{big}/\"]\n"),
    );
    let raw = TopicReader::open(&kafka, &topics.raw());
    let dlq = TopicReader::open(&kafka, &topics.dlq());
    // A small scrape bound, so the `big` page (20 series) is over it.
    let mut collector =
        std::process::Command::new(presage_integration::services::binary("presage-collector"));
    let log_path = dir.join("collector.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut collector = collector
        .env("PRESAGE_ALLOW", &allow)
        .env("RUST_LOG", "info")
        .kafka(&kafka)
        .args(["--max-scrape-series", "10"])
        .arg("--spool-dir")
        .arg(dir.join("spool"))
        .current_dir(dir)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawning the collector");
    let logs = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let mut samples: Vec<RawSample> = Vec::new();
    let enough = raw.wait_until(&mut samples, Duration::from_secs(90), |seen| {
        seen.len() >= 8
    });
    let mut letters: Vec<DeadLetter> = Vec::new();
    // A few more scrape periods, for a second `not_granted` letter to show up if it would.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        letters.extend(dlq.poll::<DeadLetter>(Duration::from_millis(200)));
    }
    let _ = collector.kill();
    let _ = collector.wait();
    assert!(enough, "too few samples: {samples:?}\n{}", logs());
    assert!(
        samples.iter().all(|s| s.source == "granted"),
        "only the granted source is read: {samples:?}"
    );
    assert!(granted_hits.load(Ordering::SeqCst) >= 8);
    assert_eq!(
        denied_hits.load(Ordering::SeqCst),
        0,
        "the denied URL was reached"
    );

    let not_granted: Vec<&DeadLetter> =
        letters.iter().filter(|l| l.kind == "not_granted").collect();
    assert_eq!(
        not_granted.len(),
        1,
        "one per template version: {letters:?}"
    );
    let letter = not_granted[0];
    assert_eq!(letter.app, "shop");
    assert_eq!(letter.source_topic, topics.templates());
    assert!(
        letter.reason.contains("`denied`") && letter.reason.contains("rule `urls`"),
        "{}",
        letter.reason
    );
    assert!(!format!("{letters:?}").contains("hunter2"), "{letters:?}");

    let too_large: Vec<&DeadLetter> = letters
        .iter()
        .filter(|l| l.kind == "scrape_too_large")
        .collect();
    assert!(
        !too_large.is_empty(),
        "the big page was read: {letters:?}\n{}",
        logs()
    );
    assert!(
        too_large[0].reason.contains("20 series") && too_large[0].reason.contains("(10)"),
        "{}",
        too_large[0].reason
    );
    assert!(!logs().contains("hunter2"), "{}", logs());
}

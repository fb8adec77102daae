//! `presage explain` and `presage tail directives` against a real broker: a chain produced by
//! hand (template version → derived windows → forecast → directive) is read back link by link,
//! and a running tail prints one line per directive as it is published.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use presage_events::{
    event_id, DerivedMetric, Forecast, ForecastPoint, ModelScore, ResourceTarget, ScalingDirective,
};
use presage_integration::broker::TestBroker;
use presage_integration::services::{binary, terminate};
use presage_integration::topics::produce;
use presage_runner::templates::publish_templates;
use presage_runner::KafkaChild;

/// 2026-11-28T00:51:30Z.
const T0: i64 = 1_795_827_090_000;

/// A small template of our own (the examples in `templates/` change with the planner).
fn write_template(dir: &Path) -> PathBuf {
    let path = dir.join("explain-demo.yaml");
    std::fs::write(
        &path,
        "app: explain-demo\n\
         bootstrap:\n  resources: { replicas: 2, memory_mb: 1024 }\n\
         dynamic_metadata:\n  \
           sources:\n    - { id: grid, kind: prometheus, url: \"http://127.0.0.1:9/metrics\", every: 1s, timeout: 1s }\n  \
           metric_recipes:\n    - { name: demand_mw, from: grid.grid_demand_mw, aggregate: avg, window: { tumble: 1s } }\n  \
           prediction_algorithms:\n    - { target: demand_mw, horizon: 2s, models: [seasonal_naive, ets], seasonality: [4s], interval: 0.9 }\n  \
           scaling_policies:\n    \
             - { resource: replicas, metric: demand_mw, per_unit: 2000, use: upper, lead_time: 1s, min: 1, max: 40 }\n    \
             - { resource: memory_mb, metric: demand_mw, per_unit: 10, use: mean, lead_time: 1s, min: 512, max: 2048 }\n",
    )
    .expect("write template");
    path
}

fn derived(version: &str, start_ms: i64, value: f64, first: i64) -> DerivedMetric {
    DerivedMetric {
        event_id: event_id(&[
            "derived",
            "explain-demo",
            "demand_mw",
            &start_ms.to_string(),
        ]),
        app: "explain-demo".into(),
        template_version: version.into(),
        recipe: "demand_mw".into(),
        window_start_ms: start_ms,
        window_end_ms: start_ms + 1000,
        value,
        sample_count: 5,
        raw_partition: 1,
        raw_first_offset: first,
        raw_last_offset: first + 4,
        lineage: vec![format!("raw/1@{first}..{}", first + 4)],
        ..Default::default()
    }
}

fn forecast(version: &str, lineage: Vec<String>) -> Forecast {
    let point = |at_ms, point, lower, upper| ForecastPoint {
        at_ms,
        point,
        lower,
        upper,
    };
    Forecast {
        event_id: event_id(&["forecast", "explain-demo", &T0.to_string()]),
        app: "explain-demo".into(),
        template_version: version.into(),
        metric: "demand_mw".into(),
        model: "ets".into(),
        issued_at_ms: T0,
        step_ms: 1000,
        interval_level: 0.9,
        points: vec![
            point(T0 + 1000, 26_000.0, 24_900.0, 27_100.0),
            point(T0 + 2000, 26_400.0, 25_000.0, 27_800.0),
        ],
        lineage,
        fitted_at_ms: T0 - 1000,
        score: Some(0.37),
        candidates: vec![
            ModelScore {
                model: "ets".into(),
                mase: Some(0.37),
                note: String::new(),
            },
            ModelScore {
                model: "seasonal_naive".into(),
                mase: Some(0.81),
                note: String::new(),
            },
        ],
        cold_start: false,
        interval_method: "conformal".into(),
        periods_ms: vec![4000],
        history_points: 60,
        filled_points: 0,
        ..Default::default()
    }
}

fn target(resource: &str, target: i64, previous: i64, reason: &str) -> ResourceTarget {
    ResourceTarget {
        resource: resource.into(),
        target,
        previous_target: Some(previous),
        forecast_value: 27_100.0,
        policy: format!(
            "scaling_policies[{}] target_tracking {resource}<-demand_mw",
            usize::from(resource == "memory_mb")
        ),
        reason: reason.into(),
        at_max: resource == "memory_mb",
    }
}

fn directive(
    tag: &str,
    app: &str,
    mode: &str,
    version: &str,
    forecast: &Forecast,
) -> ScalingDirective {
    let targets = vec![
        target(
            "replicas",
            14,
            12,
            "upper forecast 27100.0 at +1s / 2000 per unit = 14 units",
        ),
        target(
            "memory_mb",
            2048,
            2048,
            "mean forecast 26000.0 at +1s / 10 per unit = 2600 units; held at max 2048 (demand needs 2600)",
        ),
    ];
    ScalingDirective {
        event_id: event_id(&["directive", tag, mode]),
        app: app.into(),
        template_version: version.into(),
        resource: "replicas".into(),
        target: 14,
        previous_target: Some(12),
        forecast_value: 27_100.0,
        effective_at_ms: T0 + 1000,
        issued_at_ms: T0,
        policy: targets[0].policy.clone(),
        reason: "replicas = 14: upper forecast 27100.0 at +1s / 2000 per unit = 14 units | memory_mb = 2048: … (model ets, MASE 0.37)".into(),
        lineage: std::iter::once(forecast.event_id.clone())
            .chain(forecast.lineage.iter().cloned())
            .collect(),
        mode: mode.into(),
        targets,
        forecast_id: forecast.event_id.clone(),
        model: forecast.model.clone(),
        model_score: forecast.score,
        cold_start: false,
        fallback: false,
        plan: Vec::new(),
    }
}

fn presage(args: &[&str], broker: &TestBroker) -> std::process::Output {
    Command::new(binary("presage"))
        .args(args)
        .kafka(&broker.kafka)
        .output()
        .expect("running presage")
}

#[test]
fn explain_follows_a_directive_back_to_its_forecast_windows_raw_offsets_and_template() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let dir = tempfile::tempdir().expect("temp dir");
    let published = publish_templates(&kafka, &[write_template(dir.path())]).expect("publish");
    let version = published[0].template_version.clone();

    let first = derived(&version, T0 - 2000, 24_000.0, 40);
    let second = derived(&version, T0 - 1000, 25_500.5, 45);
    let fc = forecast(
        &version,
        vec![first.event_id.clone(), second.event_id.clone()],
    );
    let decided = directive("explain", "explain-demo", "live", &version, &fc);
    // Another directive, so the prefix has something to tell apart.
    let other = directive("other", "explain-demo", "shadow", &version, &fc);
    produce(&kafka, &topics.derived(), &first);
    produce(&kafka, &topics.derived(), &second);
    produce(&kafka, &topics.forecasts(), &fc);
    produce(&kafka, &topics.directives(), &other);
    produce(&kafka, &topics.directives(), &decided);

    let started = Instant::now();
    let output = presage(&["explain", &decided.event_id[..8]], &broker);
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(took < Duration::from_secs(30), "explain took {took:?}");
    println!(
        "presage explain {} ({took:?}):\n{stdout}",
        &decided.event_id[..8]
    );

    // Each link, in the order of the chain.
    let links = [
        format!("directive {}", decided.event_id),
        "  targets     replicas=14 (was 12), memory_mb=2048 AT MAX".to_string(),
        "  effective   2026-11-28T00:51:31Z (+1s after issue)".to_string(),
        "policy rule(s)".to_string(),
        "  replicas: scaling_policies[0] target_tracking replicas<-demand_mw".to_string(),
        "    as written: { resource: replicas, metric: demand_mw, per_unit: 2000, use: upper, lead_time: 1s, min: 1, max: 40 }".to_string(),
        "  memory_mb: scaling_policies[1] target_tracking memory_mb<-demand_mw".to_string(),
        format!("forecast {}", fc.event_id),
        "  model       ets (MASE 0.37)".to_string(),
        "  candidates  ets 0.37, seasonal_naive 0.81".to_string(),
        "  interval    90% (conformal)".to_string(),
        "  => 2026-11-28T00:51:31Z  point 26000  lower 24900  upper 27100  (effective_at)".to_string(),
        "derived windows".to_string(),
        format!(
            "  1. {}  recipe demand_mw  window 2026-11-28T00:51:28Z .. 2026-11-28T00:51:29Z  value 24000  samples 5",
            first.event_id
        ),
        format!(
            "  2. {}  recipe demand_mw  window 2026-11-28T00:51:29Z .. 2026-11-28T00:51:30Z  value 25500.5  samples 5",
            second.event_id
        ),
        "raw samples".to_string(),
        "partition 1 offsets 40..44 (inclusive, 5 offsets".to_string(),
        "partition 1 offsets 45..49 (inclusive, 5 offsets".to_string(),
        format!("template version {version}"),
        "  app         explain-demo".to_string(),
    ];
    let mut rest = stdout.as_ref();
    for link in &links {
        let at = rest
            .find(link.as_str())
            .unwrap_or_else(|| panic!("missing, or out of order: {link:?}\n{stdout}"));
        rest = &rest[at + link.len()..];
    }
    assert!(!stdout.contains("not found"), "{stdout}");

    // An unknown id fails and says what was searched.
    let unknown = presage(&["explain", "0123456789abcdef"], &broker);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no directive with id 0123456789abcdef… in {} (2 records read)",
            topics.directives()
        )),
        "{stderr}"
    );
    // Too short a prefix is refused before anything is read.
    let short = presage(&["explain", "3f2a"], &broker);
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(!short.status.success(), "{stderr}");
    assert!(stderr.contains("at least 6 characters"), "{stderr}");
}

/// Lines from a child's stdout, read on a thread so the test can wait with a bound.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn wait_for_lines(lines: &mpsc::Receiver<String>, count: usize, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while seen.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    seen
}

#[test]
fn tail_prints_one_line_per_directive_as_it_is_published_and_stops_on_sigterm() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let logs = tempfile::tempdir().expect("temp dir");
    let log = |name: &str| std::fs::read_to_string(logs.path().join(name)).unwrap_or_default();
    let spawn = |args: &[&str], log: &str| {
        Command::new(binary("presage"))
            .args(["tail", "directives"])
            .args(args)
            .kafka(&kafka)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(logs.path().join(log)).expect("log"))
            .spawn()
            .expect("spawning presage tail")
    };

    let fc = forecast("v1", vec![]);
    let live = directive("tail-live", "explain-demo", "live", "v1", &fc);
    // An older directive: no targets, only the top-level resource.
    let shadow = ScalingDirective {
        event_id: event_id(&["directive", "tail-shadow"]),
        app: "shop".into(),
        template_version: "v1".into(),
        resource: "replicas".into(),
        target: 7,
        previous_target: Some(5),
        issued_at_ms: T0 + 1000,
        policy: "replicas<-rps".into(),
        reason: "mean forecast 650.0 at +60s / 100 per unit = 7 units".into(),
        mode: "shadow".into(),
        ..Default::default()
    };

    // One directive before the tails start, one after.
    produce(&kafka, &topics.directives(), &live);
    let mut all = spawn(&["--from-beginning"], "all.log");
    let mut shadow_only = spawn(
        &["--from-beginning", "--mode", "shadow", "--app", "shop"],
        "shadow.log",
    );
    let mut from_now = spawn(&[], "now.log");
    let all_lines = lines_of(&mut all);
    let shadow_lines = lines_of(&mut shadow_only);
    let now_lines = lines_of(&mut from_now);
    // The tail announces itself once it is assigned at the end it read.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log("now.log").contains("tailing") {
        assert!(
            Instant::now() < deadline,
            "tail never started:\n{}",
            log("now.log")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    produce(&kafka, &topics.directives(), &shadow);

    let mut seen = wait_for_lines(&all_lines, 2, Duration::from_secs(30));
    let took = started.elapsed();
    let filtered = wait_for_lines(&shadow_lines, 1, Duration::from_secs(30));
    let mut newer = wait_for_lines(&now_lines, 1, Duration::from_secs(30));
    // Anything more would come within a moment of the rest.
    seen.extend(wait_for_lines(&all_lines, 1, Duration::from_secs(1)));
    let filtered_more = wait_for_lines(&shadow_lines, 1, Duration::from_millis(200));
    newer.extend(wait_for_lines(&now_lines, 1, Duration::from_millis(200)));
    println!("tail printed within {took:?}:\n{}", seen.join("\n"));

    assert_eq!(seen.len(), 2, "{seen:?}\n{}", log("all.log"));
    let line_of = |id: &str| {
        seen.iter()
            .find(|l| l.ends_with(&format!("[{}]", &id[..8])))
            .unwrap_or_else(|| panic!("no line for {id}: {seen:?}"))
            .clone()
    };
    assert_eq!(
        line_of(&live.event_id),
        format!(
            "2026-11-28T00:51:30Z explain-demo live replicas=14 (was 12) memory_mb=2048 AT MAX \
             · ets MASE 0.37 · upper forecast 27100.0 at +1s / 2000 per unit = 14 units [{}]",
            &live.event_id[..8]
        )
    );
    assert_eq!(
        line_of(&shadow.event_id),
        format!(
            "2026-11-28T00:51:31Z shop shadow replicas=7 (was 5) · no model \
             · mean forecast 650.0 at +60s / 100 per unit = 7 units [{}]",
            &shadow.event_id[..8]
        )
    );
    assert_eq!(
        filtered,
        vec![line_of(&shadow.event_id)],
        "{}",
        log("shadow.log")
    );
    assert!(filtered_more.is_empty(), "{filtered_more:?}");
    // Without --from-beginning, only what was published after the tail started.
    assert_eq!(newer, vec![line_of(&shadow.event_id)], "{}", log("now.log"));

    // Ctrl-C (or SIGTERM) ends the tail cleanly.
    for (child, name) in [
        (&mut all, "all.log"),
        (&mut shadow_only, "shadow.log"),
        (&mut from_now, "now.log"),
    ] {
        terminate(child);
        let status = child.wait().expect("exit status");
        assert!(status.success(), "{status:?}\n{}", log(name));
    }
}

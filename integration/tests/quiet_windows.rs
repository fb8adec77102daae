//! Quiet windows end to end: a business-hours service stops sending samples, and with
//! `absent: zero` (or `unknown`) its derived windows and their forecasts keep coming on the
//! clock, read back with the test's own consumers from `presage.metrics.derived` and
//! `presage.forecasts`. The real `presage-recipe-processor` (event time advanced by the wall
//! clock after a 1 s idle timeout, with no window open) and the real `presage-forecaster` run on
//! a real broker. Then the recipe-processor is killed with SIGKILL in the middle of the quiet
//! stretch and started again, and the next sample comes: no window of the grid is missing, a
//! window emitted on both sides of the crash has the same id and value, and the quiet windows
//! go on on the clock after that sample.
//!
//! A restart in a quiet stretch does not wait for that sample: the runner restores a partition
//! read to its end with no record at once (`presage_runner::restore`), so the restarted
//! recipe-processor's idle clock takes up its quiet windows where its checkpoint left them, with
//! no sample sent (second test). A forecaster killed in an unknown stretch rebuilds its history
//! and goes on forecasting at the quiet windows' ends exactly as a core fed every window without
//! interruption (third test).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use presage_events::{event_id, DerivedMetric, Forecast, RawSample};
use presage_integration::broker::TestBroker;
use presage_integration::services::Services;
use presage_integration::topics::TopicReader;
use presage_runner::publisher::Publisher;
use presage_runner::templates::publish_templates;
use presage_runner::Outgoing;

const STEP: i64 = 1_000;
/// Quiet windows read per app before the crash, and again after it.
const QUIET: usize = 8;

fn template(app: &str, absent: &str) -> String {
    format!(
        r#"
app: {app}
dynamic_metadata:
  sources:
    - {{ id: api, kind: prometheus, url: "http://127.0.0.1:1/metrics" }}
  windowing: {{ allowed_lateness: 0s, idle_timeout: 1s }}
  metric_recipes:
    - {{ name: rps, from: api.requests, aggregate: sum, window: {{ tumble: 1s }}, absent: {absent} }}
  prediction_algorithms:
    - {{ target: rps, horizon: 5s, models: [naive], refit: 1m, history: 1m }}
"#
    )
}

fn sample(app: &str, ts: i64, value: f64) -> RawSample {
    RawSample {
        event_id: event_id(&["raw", app, &ts.to_string()]),
        app: app.into(),
        template_version: String::new(),
        source: "api".into(),
        metric: "requests".into(),
        labels: BTreeMap::new(),
        value,
        event_time_ms: ts,
        lineage: "quiet_windows test".into(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// The quiet windows of `app` after `after_ms`, by start; a window read twice (a replay) must
/// carry the same id and value.
fn quiet_of(derived: &[DerivedMetric], app: &str, after_ms: i64) -> BTreeMap<i64, DerivedMetric> {
    let mut found: BTreeMap<i64, DerivedMetric> = BTreeMap::new();
    for d in derived
        .iter()
        .filter(|d| d.app == app && d.sample_count == 0 && d.window_start_ms >= after_ms)
    {
        if let Some(before) = found.get(&d.window_start_ms) {
            assert_eq!(before.event_id, d.event_id, "{d:?}");
            assert_eq!(
                before.value.to_bits(),
                d.value.to_bits(),
                "emitted again with another value: {d:?}"
            );
        }
        found.insert(d.window_start_ms, d.clone());
    }
    found
}

#[test]
fn quiet_windows_and_their_forecasts_keep_coming_on_the_clock_and_survive_sigkill() {
    let broker = TestBroker::start();
    let kafka = broker.kafka.clone();
    let topics = kafka.topics();
    let workdir = tempfile::tempdir().expect("workdir");
    let apps = [("quiet-zero", "zero"), ("quiet-unknown", "unknown")];
    let paths: Vec<_> = apps
        .iter()
        .map(|(app, absent)| {
            let path = workdir.path().join(format!("{app}.yaml"));
            std::fs::write(&path, template(app, absent)).expect("write template");
            path
        })
        .collect();
    publish_templates(&kafka, &paths).expect("publish templates");
    let derived_topic = TopicReader::open(&kafka, &topics.derived());
    let forecasts_topic = TopicReader::open(&kafka, &topics.forecasts());

    let mut services = Services::new(&workdir.path().join("logs"));
    services.start("recipe-processor", &kafka, workdir.path());
    services.start("forecaster", &kafka, workdir.path());

    // Twenty seconds of traffic ending now, one sample a second per app; then nothing.
    let end = now_ms() - now_ms().rem_euclid(STEP);
    let raw_topic = topics.raw();
    let raw_topic = &raw_topic;
    let records: Vec<Outgoing> = apps
        .iter()
        .flat_map(|(app, _)| {
            (1..=20).map(move |i| {
                let ts = end - (20 - i) * STEP;
                Outgoing::event(raw_topic.clone(), &sample(app, ts, 10.0 + i as f64)).unwrap()
            })
        })
        .collect();
    Publisher::new(&kafka)
        .expect("producer")
        .send_all(&records)
        .expect("produce raw samples");
    // the last sample is in the window starting at `end`: every later window is quiet
    let first_quiet = end + STEP;

    let mut derived: Vec<DerivedMetric> = Vec::new();
    let enough = |seen: &[DerivedMetric], n: usize| {
        apps.iter()
            .all(|(app, _)| quiet_of(seen, app, first_quiet).len() >= n)
    };
    let quiet = derived_topic.wait_until(&mut derived, Duration::from_secs(240), |seen| {
        enough(seen, QUIET)
    });
    assert!(
        quiet,
        "no {QUIET} quiet windows per app after 240 s ({} derived read)\n{}",
        derived.len(),
        services.logs()
    );
    for (app, absent) in apps {
        for w in quiet_of(&derived, app, first_quiet).values() {
            match absent {
                "zero" => assert_eq!(w.value, 0.0, "{w:?}"),
                _ => assert!(w.value.is_nan(), "{w:?}"),
            }
            assert_eq!(w.window_end_ms - w.window_start_ms, STEP);
        }
    }

    // Forecasts are issued at the ends of quiet windows, for both meanings of quiet.
    let mut forecasts: Vec<Forecast> = Vec::new();
    let on_the_clock = |seen: &[Forecast], derived: &[DerivedMetric]| {
        apps.iter().all(|(app, _)| {
            let ends: Vec<i64> = quiet_of(derived, app, first_quiet)
                .values()
                .map(|w| w.window_end_ms)
                .collect();
            seen.iter()
                .filter(|f| f.app == *app && ends.contains(&f.issued_at_ms))
                .count()
                >= 3
        })
    };
    let forecast = forecasts_topic.wait_until(&mut forecasts, Duration::from_secs(240), |seen| {
        on_the_clock(seen, &derived)
    });
    assert!(
        forecast,
        "no forecasts at quiet windows' ends after 240 s ({} read)\n{}",
        forecasts.len(),
        services.logs()
    );
    for f in forecasts.iter().filter(|f| f.issued_at_ms > first_quiet) {
        assert_eq!(f.points.len(), 5, "the 5 s horizon: {f:?}");
        assert_eq!(f.points[0].at_ms, f.issued_at_ms, "{f:?}");
        assert!(f.points.iter().all(|p| p.point.is_finite()), "{f:?}");
    }

    // SIGKILL in the middle of the quiet stretch, a new process, and then the next "morning"
    // sample, at once: its window holds it, and the quiet windows before and after it are on
    // the grid.
    services.kill("recipe-processor");
    services.start("recipe-processor", &kafka, workdir.path());
    let morning = now_ms();
    let morning_start = morning - morning.rem_euclid(STEP);
    let records: Vec<Outgoing> = apps
        .iter()
        .map(|(app, _)| Outgoing::event(raw_topic.clone(), &sample(app, morning, 7.0)).unwrap())
        .collect();
    Publisher::new(&kafka)
        .expect("producer")
        .send_all(&records)
        .expect("produce the morning samples");
    let resumed = derived_topic.wait_until(&mut derived, Duration::from_secs(240), |seen| {
        apps.iter().all(|(app, _)| {
            quiet_of(seen, app, first_quiet)
                .keys()
                .filter(|start| **start > morning_start)
                .count()
                >= QUIET
        })
    });
    assert!(
        resumed,
        "quiet windows did not come again after SIGKILL and the morning sample within 240 s\n{}",
        services.logs()
    );
    // No window of the grid is missing between the first quiet one and the newest read (the
    // morning's holds its sample), and none came twice with another id or value (quiet_of
    // checks that).
    for (app, _) in apps {
        let quiet = quiet_of(&derived, app, first_quiet);
        let newest = *quiet.keys().next_back().unwrap();
        let expected: Vec<i64> = (0..)
            .map(|i| first_quiet + i * STEP)
            .take_while(|s| *s <= newest)
            .filter(|s| *s != morning_start)
            .collect();
        assert_eq!(
            quiet.keys().copied().collect::<Vec<_>>(),
            expected,
            "{app}: quiet windows lost across the crash"
        );
        let with_sample = derived
            .iter()
            .find(|d| d.app == app && d.window_start_ms == morning_start)
            .unwrap_or_else(|| panic!("{app}: the morning's window"));
        assert_eq!((with_sample.value, with_sample.sample_count), (7.0, 1));
    }
}

/// A broker, both apps' templates published, the given services running, and twenty seconds of
/// traffic ending now (one sample a second per app), then nothing: every window from
/// `first_quiet` on is quiet.
struct QuietStretch {
    _broker: TestBroker,
    kafka: presage_runner::KafkaArgs,
    workdir: tempfile::TempDir,
    services: Services,
    templates: Vec<presage_runner::LoadedTemplate>,
    first_quiet: i64,
}

const APPS: [(&str, &str); 2] = [("quiet-zero", "zero"), ("quiet-unknown", "unknown")];

impl QuietStretch {
    fn start(services_to_run: &[&str]) -> Self {
        let broker = TestBroker::start();
        let kafka = broker.kafka.clone();
        let workdir = tempfile::tempdir().expect("workdir");
        let paths: Vec<_> = APPS
            .iter()
            .map(|(app, absent)| {
                let path = workdir.path().join(format!("{app}.yaml"));
                std::fs::write(&path, template(app, absent)).expect("write template");
                path
            })
            .collect();
        let published = publish_templates(&kafka, &paths).expect("publish templates");
        // The versions and templates exactly as the services load them.
        let templates = published
            .iter()
            .map(|t| presage_runner::templates::load_published(t).expect("template loads"))
            .collect();
        let mut services = Services::new(&workdir.path().join("logs"));
        for service in services_to_run {
            services.start(service, &kafka, workdir.path());
        }
        let end = now_ms() - now_ms().rem_euclid(STEP);
        let raw_topic = kafka.topics().raw();
        let records: Vec<Outgoing> = APPS
            .iter()
            .flat_map(|(app, _)| {
                let raw_topic = raw_topic.clone();
                (1..=20).map(move |i| {
                    let ts = end - (20 - i) * STEP;
                    Outgoing::event(raw_topic.clone(), &sample(app, ts, 10.0 + i as f64)).unwrap()
                })
            })
            .collect();
        Publisher::new(&kafka)
            .expect("producer")
            .send_all(&records)
            .expect("produce raw samples");
        Self {
            _broker: broker,
            kafka,
            workdir,
            services,
            templates,
            // the last sample is in the window starting at `end`
            first_quiet: end + STEP,
        }
    }

    fn restart_with_sigkill(&mut self, service: &str) -> i64 {
        self.services.kill(service);
        let killed_at = now_ms();
        self.services
            .start(service, &self.kafka, self.workdir.path());
        killed_at
    }
}

/// The id the recipe-processor gives `app`'s 1 s `rps` window starting at `start`, in any run:
/// what an uninterrupted run publishes for it.
fn quiet_id(app: &str, start: i64) -> String {
    event_id(&[
        "derived",
        app,
        "rps",
        &start.to_string(),
        &STEP.to_string(),
        &presage_events::ids::labels_key(&BTreeMap::<String, String>::new()),
    ])
}

#[test]
fn a_recipe_processor_killed_in_a_quiet_stretch_resumes_its_quiet_windows_with_no_sample() {
    let mut stretch = QuietStretch::start(&["recipe-processor"]);
    let derived_topic = TopicReader::open(&stretch.kafka, &stretch.kafka.topics().derived());
    let first_quiet = stretch.first_quiet;
    let mut derived: Vec<DerivedMetric> = Vec::new();
    let quiet = derived_topic.wait_until(&mut derived, Duration::from_secs(240), |seen| {
        APPS.iter()
            .all(|(app, _)| quiet_of(seen, app, first_quiet).len() >= QUIET)
    });
    assert!(
        quiet,
        "no {QUIET} quiet windows per app before the crash after 240 s\n{}",
        stretch.services.logs()
    );

    // SIGKILL in the middle of the quiet stretch and a new process; no sample from here on.
    // A window starting after the kill ends after it too: only the new process can emit it
    // (event time never runs ahead of the wall clock).
    let killed_at = stretch.restart_with_sigkill("recipe-processor");
    let resumed = derived_topic.wait_until(&mut derived, Duration::from_secs(240), |seen| {
        APPS.iter().all(|(app, _)| {
            quiet_of(seen, app, first_quiet)
                .keys()
                .filter(|start| **start >= killed_at)
                .count()
                >= QUIET
        })
    });
    assert!(
        resumed,
        "the restarted recipe-processor emitted no {QUIET} quiet windows per app within 240 s \
         with no sample sent: was its checkpoint restored only at a partition's next record?\n{}",
        stretch.services.logs()
    );

    for (app, absent) in APPS {
        // Every window of the grid from the first quiet one to the newest read, before, across
        // and after the crash, none missing; each with the id and value an uninterrupted run
        // gives it (quiet_of: a window read twice has the same id and value).
        let quiet = quiet_of(&derived, app, first_quiet);
        let newest = *quiet.keys().next_back().expect("read above");
        let grid: Vec<i64> = (0..)
            .map(|i| first_quiet + i * STEP)
            .take_while(|start| *start <= newest)
            .collect();
        assert_eq!(
            quiet.keys().copied().collect::<Vec<_>>(),
            grid,
            "{app}: quiet windows missing across the crash"
        );
        for (start, window) in &quiet {
            assert_eq!(window.event_id, quiet_id(app, *start), "{window:?}");
            assert_eq!(window.window_end_ms, start + STEP, "{window:?}");
            match absent {
                "zero" => assert_eq!(window.value.to_bits(), 0.0f64.to_bits(), "{window:?}"),
                _ => assert!(window.value.is_nan(), "{window:?}"),
            }
        }
        // No sample was sent after the stretch began: no window after it holds one.
        let with_samples: Vec<&DerivedMetric> = derived
            .iter()
            .filter(|d| d.app == app && d.window_start_ms >= first_quiet && d.sample_count > 0)
            .collect();
        assert!(with_samples.is_empty(), "{app}: {with_samples:?}");
        let after_restart = quiet.range(killed_at..).count();
        eprintln!(
            "{app}: {} quiet windows, {after_restart} of them started after the SIGKILL",
            quiet.len()
        );
    }
}

/// Forecasts by (app, window end), from one core fed `derived` in the order read, each window
/// once (the runner drops an id it has seen): what an uninterrupted forecaster publishes.
fn uninterrupted_forecasts(
    templates: &[presage_runner::LoadedTemplate],
    derived: &[DerivedMetric],
) -> BTreeMap<(String, i64), Forecast> {
    let mut core = presage_forecaster::Forecaster::new();
    for loaded in templates {
        core.set_template(&loaded.version, loaded.template.clone());
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut forecasts = BTreeMap::new();
    for d in derived {
        if !seen.insert(d.event_id.clone()) {
            continue;
        }
        for forecast in core.on_derived(d).expect("known app") {
            forecasts.insert((forecast.app.clone(), forecast.issued_at_ms), forecast);
        }
    }
    forecasts
}

#[test]
fn a_forecaster_killed_in_an_unknown_stretch_forecasts_at_quiet_windows_ends_as_if_never_stopped() {
    let mut stretch = QuietStretch::start(&["recipe-processor", "forecaster"]);
    let kafka = stretch.kafka.clone();
    let derived_topic = TopicReader::open(&kafka, &kafka.topics().derived());
    let forecasts_topic = TopicReader::open(&kafka, &kafka.topics().forecasts());
    let first_quiet = stretch.first_quiet;
    let mut forecasts: Vec<Forecast> = Vec::new();
    // Forecasts at the ends of quiet windows, then the kill, in the middle of the stretch.
    let at_quiet_ends = |seen: &[Forecast], after_ms: i64| {
        APPS.iter().all(|(app, _)| {
            seen.iter()
                .filter(|f| f.app == *app && f.issued_at_ms > after_ms)
                .count()
                >= QUIET
        })
    };
    let before = forecasts_topic.wait_until(&mut forecasts, Duration::from_secs(240), |seen| {
        at_quiet_ends(seen, first_quiet)
    });
    assert!(
        before,
        "no {QUIET} forecasts per app in the quiet stretch before the crash after 240 s\n{}",
        stretch.services.logs()
    );
    let killed_at = stretch.restart_with_sigkill("forecaster");
    let after = forecasts_topic.wait_until(&mut forecasts, Duration::from_secs(240), |seen| {
        at_quiet_ends(seen, killed_at)
    });
    assert!(
        after,
        "the restarted forecaster issued no {QUIET} forecasts per app at quiet windows' ends \
         within 240 s\n{}",
        stretch.services.logs()
    );
    // Every derived window up to the newest forecast read: the forecaster has read them all.
    let newest = forecasts
        .iter()
        .map(|f| f.issued_at_ms)
        .max()
        .expect("read");
    let mut derived: Vec<DerivedMetric> = Vec::new();
    let all_read = derived_topic.wait_until(&mut derived, Duration::from_secs(60), |seen| {
        APPS.iter().all(|(app, _)| {
            seen.iter()
                .any(|d| d.app == *app && d.window_end_ms >= newest)
        })
    });
    assert!(all_read, "derived windows up to {newest} not read back");

    let want = uninterrupted_forecasts(&stretch.templates, &derived);
    // A forecaster restarted without its history (only the windows after the kill) forecasts
    // otherwise at the first quiet window's end after the kill: the comparison below tells a
    // rebuilt history from none.
    let after_kill: Vec<DerivedMetric> = derived
        .iter()
        .filter(|d| d.window_end_ms > killed_at)
        .cloned()
        .collect();
    let without_history = uninterrupted_forecasts(&stretch.templates, &after_kill);
    for (app, _) in APPS {
        let first_after = derived
            .iter()
            .filter(|d| d.app == app && d.window_end_ms > killed_at)
            .map(|d| d.window_end_ms)
            .min()
            .expect("windows after the kill");
        let key = (app.to_string(), first_after);
        assert_ne!(
            want.get(&key).map(|f| format!("{f:?}")),
            without_history.get(&key).map(|f| format!("{f:?}")),
            "{app}: a restart without history must forecast differently, or this test proves \
             nothing"
        );
    }
    // The same forecast (id and every field) as the uninterrupted core, for every forecast
    // published, before and after the crash: one read twice (its window read again after the
    // SIGKILL) is the same event.
    for got in &forecasts {
        let expected = want.get(&(got.app.clone(), got.issued_at_ms));
        assert_eq!(
            expected.map(|f| format!("{f:?}")),
            Some(format!("{got:?}")),
            "{} at {}: the published forecast (right) is not the uninterrupted core's (left)\n{}",
            got.app,
            got.issued_at_ms,
            stretch.services.logs()
        );
    }
    // None missing: every forecast the uninterrupted core issues at a quiet window's end from
    // the first quiet window to the app's newest forecast read was published (the forecaster
    // reads an app's windows in order, so it had read all of those).
    for (app, _) in APPS {
        let published: std::collections::BTreeSet<i64> = forecasts
            .iter()
            .filter(|f| f.app == app)
            .map(|f| f.issued_at_ms)
            .collect();
        let newest = *published.last().expect("read above");
        let quiet_ends: Vec<i64> = quiet_of(&derived, app, first_quiet)
            .values()
            .map(|w| w.window_end_ms)
            .filter(|end| *end <= newest)
            .collect();
        let expected: Vec<i64> = quiet_ends
            .iter()
            .copied()
            .filter(|end| want.contains_key(&(app.to_string(), *end)))
            .collect();
        let missing: Vec<i64> = expected
            .iter()
            .copied()
            .filter(|end| !published.contains(end))
            .collect();
        assert!(
            missing.is_empty(),
            "{app}: no forecast published at these quiet windows' ends, where the \
             uninterrupted core issues one: {missing:?}\n{}",
            stretch.services.logs()
        );
        let after_restart = expected.iter().filter(|end| **end > killed_at).count();
        assert!(
            after_restart >= QUIET,
            "{app}: {after_restart} forecasts after the SIGKILL"
        );
        eprintln!(
            "{app}: {} quiet windows, {} forecast at their ends ({after_restart} after the SIGKILL)",
            quiet_ends.len(),
            expected.len()
        );
    }
}

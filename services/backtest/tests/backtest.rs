//! Backtests of small real traces, end to end through the cores: the baselines' behaviour worked
//! by hand, the oracle unbeaten, gaps, several apps, and independence from the thread count.

use presage_backtest::report::{Contender, ContenderKind, Report, SeriesReport};
use presage_backtest::trace::sample;
use presage_backtest::{assign, read_csv, run, Options, TemplateSet, Trace, ORACLE, REACTIVE};
use presage_events::RawSample;
use presage_template::calendar::parse_timestamp;

const MINUTE: i64 = 60_000;

fn template_set(name: &str, yaml: &str, apps: &[String]) -> TemplateSet {
    let template = presage_template::parse(yaml, name).expect("template parses");
    TemplateSet {
        name: name.to_string(),
        version: presage_template::version_of(yaml),
        templates: assign(&template, apps),
    }
}

fn backtest(sets: &[TemplateSet], trace: &Trace, warmup_ms: i64, threads: usize) -> Report {
    let options = Options { warmup_ms, threads };
    run(sets, trace, "test", options, &mut |_| {}).expect("backtest runs")
}

fn contender<'a>(series: &'a SeriesReport, name: &str) -> &'a Contender {
    series
        .contenders
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no contender {name}"))
}

/// One sample a minute from `t0`, in units of 2,000 (the templates' `per_unit`).
fn per_minute(app: &str, t0: i64, units: &[f64]) -> Vec<RawSample> {
    units
        .iter()
        .enumerate()
        .map(|(i, u)| sample(app, "trace", "rps", u * 2000.0, t0 + i as i64 * MINUTE, "t"))
        .collect()
}

/// A template for a one-sample-per-window trace of `metric`, windows of `window`.
fn simple_template(app: &str, metric: &str, window: &str, extra_policy: &str) -> String {
    format!(
        r#"
app: {app}
bootstrap: {{ resources: {{ replicas: 1 }} }}
dynamic_metadata:
  sources: [ {{ id: trace, kind: prometheus, url: "http://127.0.0.1:1/metrics", every: {window} }} ]
  windowing: {{ allowed_lateness: 0s, idle_timeout: 1h }}
  metric_recipes:
    - {{ name: load, from: trace.{metric}, aggregate: avg, window: {{ tumble: {window} }} }}
  prediction_algorithms:
    - {{ target: load, horizon: 3h, models: [seasonal_naive], seasonality: [1d], refit: 1d, history: 7d }}
  scaling_policies:
    - {{ resource: replicas, metric: load, per_unit: 2000, use: mean, lead_time: 30m, min: 1, max: 30{extra_policy} }}
"#
    )
}

/// `days` days of taylor demand from its first Monday.
fn taylor_days(days: usize) -> Trace {
    let file = std::fs::File::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/taylor-demand.csv"
    ))
    .expect("../shared/data/taylor-demand.csv");
    let mut trace = read_csv(file, "taylor-demand.csv").expect("trace reads");
    trace.samples.truncate(days * 48);
    trace
}

#[test]
fn the_reactive_baseline_scales_up_at_once_and_down_after_five_minutes() {
    // One-minute windows: 1, 5, 5, 2, 2, 2, 2, 2, 2, 2 (× 2000), each decided at its end: it
    // goes to 5 units at t = 2m (serving at once: no provisioning delay), holds 5 while the 5
    // recommended at t = 3m is within the last 5 minutes (up to t = 8m, inclusive, as the
    // planner's stabilization counts), and drops to 2 at t = 9m.
    let t0 = parse_timestamp("2026-01-05T00:00:00Z").unwrap();
    // An eleventh sample closes the tenth window; its own window stays open.
    let values = [1.0, 5.0, 5.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0];
    let trace = Trace::from_samples(per_minute("svc", t0, &values));
    let set = template_set(
        "svc.yaml",
        &simple_template("svc", "rps", "1m", ""),
        &trace.apps,
    );
    let report = backtest(&[set], &trace, 0, 1);
    let series = &report.series[0];
    assert_eq!(
        series.demand.len(),
        10,
        "every window, the last closed at the end"
    );
    let reactive = contender(series, REACTIVE);
    let units: Vec<(i64, i64)> = reactive
        .capacity
        .iter()
        .map(|s| ((s.at_ms - t0) / MINUTE, s.units))
        .collect();
    assert_eq!(units, [(0, 1), (2, 5), (9, 2)], "{:?}", reactive.capacity);
    let oracle = contender(series, ORACLE);
    let units: Vec<(i64, i64)> = oracle
        .capacity
        .iter()
        .map(|s| ((s.at_ms - t0) / MINUTE, s.units))
        .collect();
    assert_eq!(units, [(0, 1), (1, 5), (3, 2)]);
    // The oracle: 1 + 5 + 5 + 2·7 = 25 unit-minutes, never short.
    assert!((oracle.score.unit_hours - 25.0 / 60.0).abs() < 1e-9);
    assert_eq!(oracle.score.under_provisioned_pct, 0.0);
    // The reactive one is short for minute 1 (1 unit for 5): 10% of the time, 80% deep.
    assert!((reactive.score.under_provisioned_pct - 10.0).abs() < 1e-9);
    assert!((reactive.score.under_depth_max_pct - 80.0).abs() < 1e-9);
    // 1 + 1 + 5·7 + 2 = 39 unit-minutes; capacity changes twice.
    assert!((reactive.score.unit_hours - 39.0 / 60.0).abs() < 1e-9);
    assert_eq!(reactive.score.actions, 2);
}

#[test]
fn a_provisioning_delay_holds_back_the_reactive_scale_up() {
    let t0 = parse_timestamp("2026-01-05T00:00:00Z").unwrap();
    let trace = Trace::from_samples(per_minute("svc", t0, &[1.0, 5.0, 5.0, 5.0, 5.0, 5.0]));
    let yaml = simple_template("svc", "rps", "1m", ", provisioning_delay: 2m");
    let report = backtest(
        &[template_set("svc.yaml", &yaml, &trace.apps)],
        &trace,
        0,
        1,
    );
    let reactive = contender(&report.series[0], REACTIVE);
    // Decided at the end of minute 1 (t = 2m), serving 2 minutes later.
    let units: Vec<(i64, i64)> = reactive
        .capacity
        .iter()
        .map(|s| ((s.at_ms - t0) / MINUTE, s.units))
        .collect();
    assert_eq!(units, [(0, 1), (4, 5)]);
}

#[test]
fn the_oracle_is_never_beaten_on_under_provisioning() {
    // Two weeks of taylor, scored after the first; three policies of different eagerness.
    let trace = taylor_days(14);
    let sets = [
        ("mean.yaml", "use: mean, lead_time: 30m"),
        (
            "upper.yaml",
            "use: upper, lead_time: 30m, stabilization: { down: 1h }",
        ),
        (
            "lagging.yaml",
            "use: mean, lead_time: 0s, provisioning_delay: 1h",
        ),
    ]
    .map(|(name, policy)| {
        let yaml = simple_template("grid-ew", "demand_mw", "30m", "")
            .replace("use: mean, lead_time: 30m", policy);
        template_set(name, &yaml, &trace.apps)
    });
    let report = backtest(&sets, &trace, 7 * 24 * 60 * MINUTE, 1);
    let series = &report.series[0];
    assert_eq!(
        series.contenders.len(),
        5,
        "three policies and two baselines"
    );
    let oracle = contender(series, ORACLE).score;
    assert_eq!(oracle.under_provisioned_pct, 0.0);
    for c in &series.contenders {
        // Nobody as well provisioned pays less.
        if c.score.under_provisioned_pct == 0.0 {
            assert!(c.score.unit_hours >= oracle.unit_hours - 1e-9, "{}", c.name);
        }
        if c.kind != ContenderKind::Oracle {
            assert!(
                c.score.unit_hours > oracle.unit_hours || c.score.under_provisioned_pct > 0.0,
                "{} beat the oracle: {:?} vs {oracle:?}",
                c.name,
                c.score
            );
        }
    }
    // Provisioning for the forecast's upper bound ahead of time beats reacting on this trace:
    // less time short. (Provisioning for the mean is short about half the time by design.)
    let upper = contender(series, "upper.yaml").score;
    let reactive = contender(series, REACTIVE).score;
    assert!(
        upper.under_provisioned_pct < reactive.under_provisioned_pct,
        "{upper:?} vs {reactive:?}"
    );
}

#[test]
fn a_gap_in_the_trace_is_cost_only_and_the_replay_carries_on() {
    let mut trace = taylor_days(12);
    // Day 9 is missing.
    let gap = 8 * 48..9 * 48;
    let gap_start = trace.samples[gap.start].event_time_ms;
    trace.samples.drain(gap);
    let set = template_set(
        "grid.yaml",
        &simple_template("grid-ew", "demand_mw", "30m", ""),
        &trace.apps,
    );
    let report = backtest(&[set], &trace, 0, 1);
    let series = &report.series[0];
    let policy = &series.contenders[0];
    assert!(
        (policy.score.gap_hours - 24.0).abs() < 1e-9,
        "{:?}",
        policy.score
    );
    // Eleven days of half-hours, but the last window is still open at the last sample.
    assert_eq!(series.demand.len(), 11 * 48 - 1);
    assert!((policy.score.covered_hours - (11.0 * 24.0 - 0.5)).abs() < 1e-9);
    assert!(series
        .demand
        .iter()
        .all(|d| d.end_ms <= gap_start || d.start_ms >= gap_start + 24 * 60 * MINUTE));
    let after = report
        .directives
        .iter()
        .filter(|d| d.issued_at_ms > gap_start + 24 * 60 * MINUTE)
        .count();
    assert!(after > 0, "directives after the gap");
}

#[test]
fn several_apps_are_scored_apart_and_the_thread_count_changes_nothing() {
    let file = std::fs::File::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/nyc-departures-15m.csv"
    ))
    .expect("../shared/data/nyc-departures-15m.csv");
    let mut trace = read_csv(file, "nyc-departures-15m.csv").expect("trace reads");
    let cut = parse_timestamp("2013-01-11T00:00:00Z").unwrap();
    trace.samples.retain(|s| s.event_time_ms < cut);
    assert_eq!(trace.apps.len(), 3);
    let yaml = simple_template("airport", "departures", "15m", "")
        .replace("per_unit: 2000", "per_unit: 2");
    let sets = [template_set("airport.yaml", &yaml, &trace.apps)];
    let one = backtest(&sets, &trace, 0, 1);
    let three = backtest(&sets, &trace, 0, 3);
    let apps: Vec<&str> = one.series.iter().map(|s| s.app.as_str()).collect();
    assert_eq!(apps, ["airport-ewr", "airport-jfk", "airport-lga"]);
    assert_eq!(one.series, three.series);
    assert_eq!(one.directives, three.directives);
    // Each app alone gives what it gave among the others.
    let mut lga = trace.clone();
    lga.samples.retain(|s| s.app == "airport-lga");
    let alone = backtest(
        &[template_set(
            "airport.yaml",
            &yaml,
            &["airport-lga".to_string()],
        )],
        &Trace::from_samples(lga.samples),
        0,
        1,
    );
    assert_eq!(alone.series[0], one.series[2]);
    // Different demand, different directives.
    assert_ne!(one.series[0].demand, one.series[1].demand);
    assert!(one.directives.iter().any(|d| d.app == "airport-jfk"));
}

#[test]
fn the_oracle_is_not_beaten_with_hopping_windows_either() {
    // Two-minute windows every minute: each instant is scored by the first window over it, and
    // the oracle's need follows the same split.
    let t0 = parse_timestamp("2026-01-05T00:00:00Z").unwrap();
    let units = [3.0, 3.0, 3.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    let trace = Trace::from_samples(per_minute("svc", t0, &units));
    let yaml = simple_template("svc", "rps", "1m", "").replace(
        "window: { tumble: 1m }",
        "window: { hop: { size: 2m, slide: 1m } }",
    );
    let report = backtest(
        &[template_set("svc.yaml", &yaml, &trace.apps)],
        &trace,
        0,
        1,
    );
    let series = &report.series[0];
    assert!(series.demand.len() >= 6, "{:?}", series.demand);
    let oracle = contender(series, ORACLE).score;
    assert_eq!(oracle.under_provisioned_pct, 0.0, "{oracle:?}");
    let reactive = contender(series, REACTIVE).score;
    assert!(reactive.under_provisioned_pct > 0.0, "{reactive:?}");
}

#[test]
fn apps_ending_at_different_times_give_the_same_result_on_any_number_of_threads() {
    // `a` runs for ten minutes, `b` stops after four: `b`'s last window closes when event time
    // passes it, whether or not `a` shares `b`'s thread.
    let t0 = parse_timestamp("2026-01-05T00:00:00Z").unwrap();
    let a: Vec<f64> = (0..=10).map(|i| 1.5 + 0.25 * i as f64).collect();
    let b: Vec<f64> = (0..=4).map(|i| 4.5 - 0.5 * i as f64).collect();
    let mut samples = per_minute("a", t0, &a);
    samples.extend(per_minute("b", t0, &b));
    let trace = Trace::from_samples(samples);
    let yaml = simple_template("svc", "rps", "1m", "");
    let sets = [template_set("svc.yaml", &yaml, &trace.apps)];
    let one = backtest(&sets, &trace, 0, 1);
    let two = backtest(&sets, &trace, 0, 2);
    assert_eq!(one.series, two.series);
    assert_eq!(one.directives, two.directives);
    let b = one.series.iter().find(|s| s.app == "b").unwrap();
    assert_eq!(
        b.demand.len(),
        5,
        "b's five windows all closed: {:?}",
        b.demand
    );
}

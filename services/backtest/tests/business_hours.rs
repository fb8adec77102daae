//! The business-hours trace (templates/backtest/business-hours-jfk-2013.csv, cut from the shared
//! departures by bench/traces/business_hours.py) is what it claims to be, and its template
//! (templates/backtest/business-hours.yaml) replays over it end to end.
//!
//! The trace's timestamps are New York's local clock labelled Z and the template keeps UTC, so
//! clock times here are read straight off the epoch milliseconds.

use std::collections::{BTreeMap, BTreeSet};

use presage_backtest::report::{Contender, ContenderKind, Report, SeriesReport};
use presage_backtest::{assign, read_csv, run, Options, TemplateSet, Trace};

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;
const OPENING_MIN: i64 = 7 * 60;
const CLOSING_MIN: i64 = 21 * 60;

const TRACE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../templates/backtest/business-hours-jfk-2013.csv"
);
const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../templates/backtest/business-hours.yaml"
);
const DEPARTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/nyc-departures-15m.csv"
);

fn read_trace(path: &str) -> Trace {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    read_csv(file, path).expect("trace reads")
}

/// Days since 1970-01-01 (a Thursday).
fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY)
}

/// Monday is 0, Sunday 6.
fn weekday_of_day(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

fn is_weekday(day: i64) -> bool {
    weekday_of_day(day) < 5
}

fn minute_of_day(ms: i64) -> i64 {
    ms.rem_euclid(DAY) / MINUTE
}

fn template_set(yaml: &str, apps: &[String]) -> TemplateSet {
    let template = presage_template::parse(yaml, TEMPLATE).unwrap_or_else(|e| panic!("{e}"));
    TemplateSet {
        name: "business-hours.yaml".to_string(),
        version: presage_template::version_of(yaml),
        templates: assign(&template, apps),
    }
}

/// The first `weeks` weeks of the trace, replayed with four weeks of warm-up (the template's
/// history) on the template as written.
fn replay(yaml: &str, weeks: i64) -> Report {
    let mut trace = read_trace(TRACE);
    let start = day_of(trace.from_ms().expect("samples")) * DAY;
    trace
        .samples
        .retain(|s| s.event_time_ms < start + weeks * 7 * DAY);
    let sets = [template_set(yaml, &trace.apps)];
    let options = Options {
        warmup_ms: 28 * DAY,
        threads: 1,
    };
    run(&sets, &trace, TRACE, options, &mut |_| {}).expect("backtest runs")
}

fn the_policy(series: &SeriesReport) -> &Contender {
    series
        .contenders
        .iter()
        .find(|c| c.kind == ContenderKind::Policy)
        .expect("the template's policy is scored")
}

#[test]
fn the_trace_has_rows_only_on_weekdays_between_seven_and_nine_in_the_evening() {
    let trace = read_trace(TRACE);
    assert_eq!(trace.apps, ["business-hours"]);
    assert!(!trace.samples.is_empty());
    for s in &trace.samples {
        let day = day_of(s.event_time_ms);
        assert!(
            is_weekday(day),
            "a row on a weekend: {} (weekday {})",
            s.event_time_ms,
            weekday_of_day(day)
        );
        let minute = minute_of_day(s.event_time_ms);
        assert!(
            (OPENING_MIN..CLOSING_MIN).contains(&minute),
            "a row outside 07:00-21:00: {} ({minute} min into the day)",
            s.event_time_ms
        );
    }
    // Every weekday from the first to the last opens at 07:00, and the weekends are there to
    // be missing: the trace spans several of them.
    let first = day_of(trace.from_ms().unwrap());
    let last = day_of(trace.to_ms().unwrap());
    let weekdays: BTreeSet<i64> = (first..=last).filter(|d| is_weekday(*d)).collect();
    let openings: BTreeSet<i64> = trace
        .samples
        .iter()
        .filter(|s| minute_of_day(s.event_time_ms) == OPENING_MIN)
        .map(|s| day_of(s.event_time_ms))
        .collect();
    assert_eq!(
        openings, weekdays,
        "every weekday's opening, and only those"
    );
    assert!(last - first >= 4 * 7, "at least four weekends");
    // Every business quarter hour of those days, once.
    assert_eq!(trace.samples.len(), weekdays.len() * 56);
}

#[test]
fn the_trace_is_jfks_departures_as_flown() {
    let trace = read_trace(TRACE);
    let shared = read_trace(DEPARTURES);
    let jfk: BTreeMap<i64, f64> = shared
        .samples
        .iter()
        .filter(|s| s.app == "airport-jfk" && s.metric == "departures")
        .map(|s| (s.event_time_ms, s.value))
        .collect();
    for s in &trace.samples {
        assert_eq!(s.metric, "departures");
        assert_eq!(
            jfk.get(&s.event_time_ms),
            Some(&s.value),
            "at {}",
            s.event_time_ms
        );
    }
    // Some of what was cut away was real demand: JFK flies before 07:00 and after 21:00.
    let kept: BTreeSet<i64> = trace.samples.iter().map(|s| s.event_time_ms).collect();
    let (from, to) = (trace.from_ms().unwrap(), trace.to_ms().unwrap());
    let cut_demand: f64 = jfk
        .range(from..=to)
        .filter(|(t, _)| !kept.contains(t))
        .map(|(_, v)| v)
        .sum();
    assert!(cut_demand > 0.0);
}

#[test]
fn the_template_replays_over_the_trace_and_issues_directives() {
    let yaml = std::fs::read_to_string(TEMPLATE).expect("template");
    let report = replay(&yaml, 6);
    assert_eq!(report.series.len(), 1);
    let series = &report.series[0];
    assert_eq!(
        (series.app.as_str(), series.resource.as_str()),
        ("business-hours", "replicas")
    );
    assert!(report.forecasts > 0, "the forecaster forecast");
    assert!(
        report
            .directives
            .iter()
            .any(|d| d.issued_at_ms >= report.scored_from_ms),
        "directives in the scored weeks"
    );
    let policy = the_policy(series);
    assert!(policy.capacity.len() > 1, "capacity changed");
    assert!(policy.score.covered_hours > 0.0);
    // Nothing is recorded at night, so no window of demand covers a night or a weekend.
    for step in &series.demand {
        assert!(is_weekday(day_of(step.start_ms)), "{step:?}");
        assert!(
            (OPENING_MIN..CLOSING_MIN).contains(&minute_of_day(step.start_ms)),
            "{step:?}"
        );
    }
}

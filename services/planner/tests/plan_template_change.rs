//! A plan belongs to the template version it was made under. A directive carries the plans of
//! the app's other policies on (it supersedes every step not yet due), but only those made under
//! the app's current version: after a new version (a policy removed, or its plan or limits
//! edited) the app's next decision is published, superseding the old plan (so the applier
//! stops carrying it out) and carrying none of it, live and in a planner restarted from its
//! directives alike. The same version set again changes nothing.

use std::sync::Arc;

use presage_events::{Forecast, ForecastPoint, ScalingDirective};
use presage_planner::Planner;
use presage_template::{calendar, Template};

const STEP: i64 = 1_800_000;
const REPLICAS: &str = "{ resource: replicas, metric: mw, per_unit: 1000, use: mean, lead_time: 30m, min: 1, max: 60, plan: { ahead: 12h } }";
const MEMORY: &str =
    "{ resource: memory_mb, metric: load, per_unit: 100, use: mean, min: 1, max: 100 }";

/// Real demand (England and Wales, half-hourly, `../shared/data/taylor-demand.csv`): a morning
/// ramp, so the replicas plan has steps.
fn demand(start: &str, count: usize) -> Vec<(i64, f64)> {
    let path = format!(
        "{}/../../../shared/data/taylor-demand.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let from = calendar::parse_timestamp(start).unwrap();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            let at = calendar::parse_timestamp(cols[0])?;
            (at >= from).then(|| (at, cols[3].parse().unwrap()))
        })
        .take(count)
        .collect()
}

/// The app with two metrics (`mw` planned for replicas, `load` for memory) and `policies`.
fn template(policies: &[&str]) -> Arc<Template> {
    let mut yaml = String::from(
        "app: grid\ndynamic_metadata:\n  sources: [{ id: g, kind: prometheus, url: \"http://x/metrics\" }]\n  metric_recipes:\n    - { name: mw, from: g.mw, window: { tumble: 30m } }\n    - { name: load, from: g.load, window: { tumble: 30m } }\n  prediction_algorithms:\n    - { target: mw, horizon: 24h, models: [naive] }\n    - { target: load, horizon: 24h, models: [naive] }\n  scaling_policies:\n",
    );
    for p in policies {
        yaml.push_str(&format!("    - {p}\n"));
    }
    Arc::new(presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}")))
}

/// A forecast of `metric` issued at `at_ms`: `values` at each later half hour (the first is the
/// window now starting), ±5%.
fn forecast(id: &str, metric: &str, at_ms: i64, values: &[f64]) -> Forecast {
    Forecast {
        event_id: id.into(),
        app: "grid".into(),
        template_version: "v1".into(),
        metric: metric.into(),
        model: "naive".into(),
        issued_at_ms: at_ms,
        step_ms: STEP,
        interval_level: 0.9,
        points: values
            .iter()
            .enumerate()
            .map(|(i, v)| ForecastPoint {
                at_ms: at_ms + i as i64 * STEP,
                point: *v,
                lower: v * 0.95,
                upper: v * 1.05,
            })
            .collect(),
        score: Some(0.5),
        ..Default::default()
    }
}

fn steps_setting(d: &ScalingDirective, resource: &str) -> Vec<(i64, i64)> {
    d.plan
        .iter()
        .flat_map(|s| {
            s.targets
                .iter()
                .filter(|t| t.resource == resource)
                .map(move |t| (s.due_at_ms, t.target))
        })
        .collect()
}

/// Before the change: the replicas plan at 04:00 (the morning ramp ahead), then a memory
/// directive at 05:00 that carries it on. Returns both.
fn before_the_change(planner: &mut Planner) -> Vec<ScalingDirective> {
    let trace = demand("2000-06-05T04:00:00Z", 48);
    let start = trace[0].0;
    let mw: Vec<f64> = trace.iter().map(|(_, v)| *v).collect();
    let first = only(planner.on_forecast(&forecast("mw-0400", "mw", start, &mw)));
    let planned = steps_setting(&first, "replicas");
    assert!(planned.len() >= 3, "{:?}", first.plan);
    let second = only(planner.on_forecast(&forecast(
        "load-0500",
        "load",
        start + 2 * STEP,
        &[1000.0; 48],
    )));
    let carried = steps_setting(&second, "replicas");
    let still_due: Vec<(i64, i64)> = planned
        .into_iter()
        .filter(|(due, _)| *due > start + 2 * STEP)
        .collect();
    assert!(!still_due.is_empty());
    assert_eq!(
        carried, still_due,
        "the memory directive carries the plan on"
    );
    vec![first, second]
}

/// The one directive a decision published.
#[track_caller]
fn only(decided: Result<Vec<ScalingDirective>, presage_planner::PlanError>) -> ScalingDirective {
    let mut decided = decided.unwrap();
    assert_eq!(decided.len(), 1, "{decided:?}");
    decided.remove(0)
}

/// The memory directive at 06:00 (memory doubles, so one is published).
fn memory_at_six(planner: &mut Planner) -> ScalingDirective {
    let at = calendar::parse_timestamp("2000-06-05T06:00:00Z").unwrap();
    only(planner.on_forecast(&forecast("load-0600", "load", at, &[2000.0; 48])))
}

#[test]
fn a_new_template_version_stops_the_old_plans_being_carried_on() {
    let removed = template(&[MEMORY]);
    let shortened = template(&[&REPLICAS.replace("ahead: 12h", "ahead: 1h"), MEMORY]);
    let limited = template(&[&REPLICAS.replace("max: 60", "max: 30"), MEMORY]);
    for (what, v2) in [
        ("replicas policy removed", removed),
        ("replicas plan shortened", shortened),
        ("replicas max lowered", limited),
    ] {
        let mut live = Planner::new();
        live.set_template("v1", template(&[REPLICAS, MEMORY]));
        let published = before_the_change(&mut live);
        live.set_template("v2", v2.clone());
        let d = memory_at_six(&mut live);
        assert_eq!(
            (d.target, d.template_version.as_str()),
            (20, "v2"),
            "{what}"
        );
        assert_eq!(steps_setting(&d, "replicas"), vec![], "{what}: carried on");
        // and not later either: the next memory directive carries nothing of it
        let at = calendar::parse_timestamp("2000-06-05T07:00:00Z").unwrap();
        let later = only(live.on_forecast(&forecast("load-0700", "load", at, &[500.0; 48])));
        assert!(later.plan.is_empty(), "{what}: {:?}", later.plan);

        // A planner restarted under v2 from the v1 directives decides the same.
        let mut restarted = Planner::new();
        restarted.set_template("v2", v2);
        for p in &published {
            restarted.remember_directive(p);
        }
        assert_eq!(memory_at_six(&mut restarted), d, "{what}: restarted");
    }
}

#[test]
fn the_same_version_set_again_keeps_carrying_the_plan() {
    let mut live = Planner::new();
    live.set_template("v1", template(&[REPLICAS, MEMORY]));
    let published = before_the_change(&mut live);
    live.set_template("v1", template(&[REPLICAS, MEMORY]));
    let d = memory_at_six(&mut live);
    let at = d.issued_at_ms;
    let still_due: Vec<(i64, i64)> = steps_setting(&published[1], "replicas")
        .into_iter()
        .filter(|(due, _)| *due > at)
        .collect();
    assert!(!still_due.is_empty());
    assert_eq!(steps_setting(&d, "replicas"), still_due);
}

/// With nothing else changed, the app's next decision after a new version is still published:
/// its directive is what stops the applier carrying out a plan of the old version.
#[test]
fn the_next_decision_after_a_new_version_is_published_to_supersede_the_old_plan() {
    let six = calendar::parse_timestamp("2000-06-05T06:00:00Z").unwrap();
    let unchanged_memory = || forecast("load-0600", "load", six, &[1000.0; 48]);
    // the same version again: memory unchanged, nothing to publish
    let mut same = Planner::new();
    same.set_template("v1", template(&[REPLICAS, MEMORY]));
    before_the_change(&mut same);
    same.set_template("v1", template(&[REPLICAS, MEMORY]));
    assert_eq!(same.on_forecast(&unchanged_memory()).unwrap(), vec![]);

    let mut live = Planner::new();
    live.set_template("v1", template(&[REPLICAS, MEMORY]));
    let published = before_the_change(&mut live);
    live.set_template("v2", template(&[MEMORY]));
    let d = only(live.on_forecast(&unchanged_memory()));
    assert_eq!((d.target, d.previous_target), (10, Some(10)));
    assert!(d.plan.is_empty(), "{:?}", d.plan);
    // once superseded, the next unchanged decision publishes nothing
    let seven = six + 2 * STEP;
    let again = live
        .on_forecast(&forecast("load-0700", "load", seven, &[1000.0; 48]))
        .unwrap();
    assert_eq!(again, vec![]);

    // restarted under v2 from the v1 directives: the same directive
    let mut restarted = Planner::new();
    restarted.set_template("v2", template(&[MEMORY]));
    for p in &published {
        restarted.remember_directive(p);
    }
    assert_eq!(only(restarted.on_forecast(&unchanged_memory())), d);
}

//! What a plan is for: the forecaster goes down. On the business-hours trace (JFK departures,
//! weekdays 07:00–21:00, `absent: zero` so forecasts run through the night) the planner inputs
//! of one replay are fed again to a fresh planner with every forecast issued during a daily
//! outage dropped, and capacity is worked out from the directives and their plans at their due
//! time plus the provisioning delay, as the backtest scores every policy.
//!
//! - Down 05:00–10:00, through the morning ramp: without a plan the night's directive (1
//!   replica) is in force at the opening; with `plan: { ahead: 12h }` the 04:45 forecast's steps
//!   raise capacity before 07:00.
//! - Down 21:00–07:30, all night: without a plan the busy evening's capacity idles all night;
//!   with one, capacity follows the forecast down for the night and back up for the opening.

mod common;

use std::sync::Arc;

use common::{units_at, DAY, MINUTE, TEMPLATE, TRACE};
use presage_backtest::capacity::{simulate, Action};
use presage_backtest::{assign, read_csv, Pipeline, PlannerInput, TemplateSet, Trace};
use presage_events::ScalingDirective;
use presage_planner::Planner;
use presage_template::Template;

const OPENING: i64 = 7 * 60 * MINUTE;
const HOUR: i64 = 60 * MINUTE;
/// The forecaster's daily outage, from and until (trace clock).
type Outage = (i64, i64);
const MORNING: Outage = (5 * HOUR, 10 * HOUR);
const NIGHT: Outage = (21 * HOUR, 7 * HOUR + 30 * MINUTE);

/// business-hours.yaml with a 12-hour horizon, with or without a 12-hour plan.
fn template(plan: bool) -> (String, Arc<Template>) {
    let text = std::fs::read_to_string(TEMPLATE).expect("template");
    let policy_end = "stabilization: { down: 30m } }";
    assert!(text.contains("horizon: 2h,") && text.contains(policy_end));
    let mut text = text.replace("horizon: 2h,", "horizon: 12h,");
    if plan {
        text = text.replace(
            policy_end,
            "stabilization: { down: 30m }, plan: { ahead: 12h } }",
        );
    }
    let parsed = presage_template::parse(&text, TEMPLATE).unwrap_or_else(|e| panic!("{e}"));
    (presage_template::version_of(&text), Arc::new(parsed))
}

/// Six weeks of the trace through the pipeline (the plan template; its forecasts do not depend
/// on the plan): what its planner was fed, in order.
fn planner_inputs() -> Vec<PlannerInput> {
    let file = std::fs::File::open(TRACE).expect("trace");
    let mut trace: Trace = read_csv(file, TRACE).expect("trace reads");
    let start = trace.from_ms().expect("samples").div_euclid(DAY) * DAY;
    trace.samples.retain(|s| s.event_time_ms < start + 42 * DAY);
    let (version, t) = template(true);
    let set = TemplateSet {
        name: "business-hours".into(),
        version,
        templates: assign(&t, &trace.apps),
    };
    let mut pipeline = Pipeline::new(&set).expect("pipeline").recording();
    for (offset, sample) in trace.samples.iter().enumerate() {
        pipeline.push(sample, offset as i64);
    }
    let replayed = pipeline.finish(trace.to_ms().expect("samples"));
    replayed.planner_inputs.into_values().flatten().collect()
}

fn down((from, until): Outage, at_ms: i64) -> bool {
    let clock = at_ms.rem_euclid(DAY);
    if from < until {
        (from..until).contains(&clock)
    } else {
        clock >= from || clock < until
    }
}

/// The directives of a fresh planner on `template`, fed `inputs` without the forecasts issued
/// while the forecaster was down.
fn directives(
    template: Arc<Template>,
    version: &str,
    inputs: &[PlannerInput],
    outage: Outage,
) -> Vec<ScalingDirective> {
    let mut planner = Planner::new();
    planner.set_template(version, template);
    let mut out = Vec::new();
    for input in inputs {
        let decided = match input {
            PlannerInput::Observed(w) => planner.on_observed(w),
            PlannerInput::Forecast(f) if down(outage, f.issued_at_ms) => continue,
            PlannerInput::Forecast(f) => planner.on_forecast(f),
        };
        out.extend(decided.expect("decided"));
    }
    out
}

/// What the directives gave, over the weekdays after the history's four weeks: the quarter
/// hours from 07:00 to 10:00 scored, those short of capacity (in service at the window's start,
/// two departures a replica), and the unit-hours in service over the nights (21:00–07:00)
/// before them.
fn scored(directives: &[ScalingDirective], inputs: &[PlannerInput]) -> (usize, usize, f64) {
    let actions: Vec<Action> = presage_events::plan::schedule(directives, "replicas")
        .into_iter()
        .map(|c| Action {
            at_ms: c.at_ms,
            target: c.target,
        })
        .collect();
    let first = inputs
        .iter()
        .find_map(|i| match i {
            PlannerInput::Observed(w) => Some(w.window_start_ms),
            _ => None,
        })
        .expect("windows");
    // bootstrap 4 replicas, 10 minutes to start one
    let capacity = simulate(4, first, &actions, 10 * MINUTE);
    let (mut scored, mut short, mut night) = (0, 0, 0.0);
    for input in inputs {
        let PlannerInput::Observed(w) = input else {
            continue;
        };
        let start = w.window_start_ms;
        let weekday = (start.div_euclid(DAY) + 3).rem_euclid(7) < 5;
        let clock = start.rem_euclid(DAY);
        if !weekday || start < first + 28 * DAY || !(OPENING..10 * HOUR).contains(&clock) {
            continue;
        }
        scored += 1;
        short += usize::from((units_at(&capacity, start) as f64) * 2.0 < w.value);
        if clock == OPENING {
            // the night before, quarter hour by quarter hour
            night += (0..40)
                .map(|q| units_at(&capacity, start - 10 * HOUR + q * 15 * MINUTE))
                .sum::<i64>() as f64
                / 4.0;
        }
    }
    (scored, short, night)
}

/// Directives with and without a plan under `outage`: (with, without).
fn both(inputs: &[PlannerInput], outage: Outage) -> (Vec<ScalingDirective>, Vec<ScalingDirective>) {
    let (version, planned) = template(true);
    let (_, single) = template(false);
    let with_plan = directives(planned, &version, inputs, outage);
    let without = directives(single, &version, inputs, outage);
    assert!(with_plan.iter().any(|d| !d.plan.is_empty()));
    assert!(without.iter().all(|d| d.plan.is_empty()));
    // nothing is decided while the forecaster is down: a plan's steps are all that moves
    assert!(with_plan.iter().all(|d| !down(outage, d.issued_at_ms)));
    (with_plan, without)
}

#[test]
fn with_the_forecaster_down_through_the_morning_the_plan_still_provisions_the_ramp() {
    let inputs = planner_inputs();
    let (with_plan, without) = both(&inputs, MORNING);
    let (windows, short_with, _) = scored(&with_plan, &inputs);
    let (_, short_without, _) = scored(&without, &inputs);
    eprintln!(
        "down 05-10: {windows} quarter hours 07:00-10:00, short with a plan {short_with}, \
         without {short_without}"
    );
    assert!(windows >= 100, "two scored weeks of mornings: {windows}");
    // without: the night's directive meets the whole ramp (measured: 49 of 120 short, 13 with
    // the plan, over six weeks of the trace)
    assert!(short_without * 4 > windows, "{short_without} of {windows}");
    assert!(short_with * 8 < windows, "{short_with} of {windows}");
    assert!(
        short_with * 3 < short_without,
        "{short_with} vs {short_without}"
    );
}

#[test]
fn with_the_forecaster_down_all_night_the_plan_scales_down_and_back_up() {
    let inputs = planner_inputs();
    let (with_plan, without) = both(&inputs, NIGHT);
    let (windows, short_with, night_with) = scored(&with_plan, &inputs);
    let (_, short_without, night_without) = scored(&without, &inputs);
    eprintln!(
        "down 21-07:30: {windows} quarter hours 07:00-10:00, short with a plan {short_with} \
         ({night_with} night unit-hours), without {short_without} ({night_without})"
    );
    assert!(
        short_with <= short_without,
        "{short_with} vs {short_without}"
    );
    assert!(
        night_with < night_without * 0.8,
        "{night_with} vs {night_without}"
    );
}

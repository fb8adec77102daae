//! The frontier at an SLO on real traces: each contender's cheapest setting whose
//! under-provisioned time is at most the SLO, found by replaying the planner over the recorded
//! forecasts (forecast policies), by headroom (the reactive baseline) and on a grid of both (the
//! two combined).

use std::sync::Arc;

use presage_backtest::baseline::reactive_with_headroom;
use presage_backtest::capacity::{simulate, units_at};
use presage_backtest::combined::higher_of;
use presage_backtest::frontier::replan;
use presage_backtest::html::render_html;
use presage_backtest::report::{FrontierCurve, FrontierKind, Report, SeriesReport};
use presage_backtest::{
    assign, read_csv, run_at_slo, Options, Pipeline, TemplateSet, Trace, REACTIVE,
};
use presage_planner::LIVE;
use presage_template::ForecastBound;

const DAY: i64 = 86_400_000;

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The first `days` days of a trace in ../shared/data.
fn trace(file: &str, days: i64) -> Trace {
    let reader = std::fs::File::open(repo(&format!("../shared/data/{file}"))).expect(file);
    let mut trace = read_csv(reader, file).expect("trace reads");
    let end = trace.from_ms().unwrap() + days * DAY;
    trace.samples.retain(|s| s.event_time_ms < end);
    trace
}

fn set(template: &str, trace: &Trace) -> TemplateSet {
    let path = repo(template);
    let yaml = std::fs::read_to_string(&path).unwrap();
    let parsed = presage_template::parse(&yaml, &path).expect("template parses");
    TemplateSet {
        name: template.to_string(),
        version: presage_template::version_of(&yaml),
        templates: assign(&parsed, &trace.apps),
    }
}

/// Three weeks of taylor demand (the first is warm-up) with the shipped template.
fn taylor() -> (TemplateSet, Trace) {
    let trace = trace("taylor-demand.csv", 21);
    (set("templates/backtest/grid-ew.yaml", &trace), trace)
}

fn backtest(set: &TemplateSet, trace: &Trace, slo_pct: f64) -> Report {
    let options = Options {
        warmup_ms: 7 * DAY,
        threads: 2,
    };
    run_at_slo(
        std::slice::from_ref(set),
        trace,
        "test",
        options,
        Some(slo_pct),
        &mut |_| {},
    )
    .expect("backtest runs")
}

fn curve(series: &SeriesReport, kind: FrontierKind) -> &FrontierCurve {
    series
        .frontier
        .as_ref()
        .expect("a frontier with --slo")
        .curves
        .iter()
        .find(|c| c.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} curve"))
}

fn chosen_cost(curve: &FrontierCurve) -> f64 {
    curve.points[curve.chosen.expect("a choice")].unit_hours
}

#[test]
fn the_chosen_quantile_meets_the_slo_and_a_cheaper_one_tried_does_not() {
    let (set, trace) = taylor();
    let report = backtest(&set, &trace, 0.5);
    let series = &report.series[0];
    let forecast = curve(series, FrontierKind::Forecast);
    assert!(forecast.meets, "{forecast:#?}");
    let chosen = &forecast.points[forecast.chosen.unwrap()];
    assert!(chosen.under_provisioned_pct <= 0.5, "{chosen:?}");
    assert!(chosen.quantile.is_some_and(|q| q > 0.5), "{chosen:?}");
    let cheaper_missing = forecast
        .points
        .iter()
        .any(|p| p.unit_hours < chosen.unit_hours && p.under_provisioned_pct > 0.5);
    assert!(cheaper_missing, "{forecast:#?}");
    // Every point that meets the SLO costs at least the chosen one.
    assert!(forecast
        .points
        .iter()
        .filter(|p| p.meets)
        .all(|p| p.unit_hours >= chosen.unit_hours));
    // The report draws it.
    let html = render_html(&report);
    assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"frontier\""));
    assert!(html.contains("<polyline class=\"curve\" data-kind=\"forecast\""));
    assert!(html.contains("class=\"slo\""));
}

#[test]
fn a_tighter_slo_never_costs_less() {
    let (set, trace) = taylor();
    let tight = backtest(&set, &trace, 0.25);
    let loose = backtest(&set, &trace, 3.0);
    for kind in [
        FrontierKind::Forecast,
        FrontierKind::Reactive,
        FrontierKind::Combined,
    ] {
        let (t, l) = (curve(&tight.series[0], kind), curve(&loose.series[0], kind));
        assert!(l.meets, "{kind:?} meets 3%: {l:#?}");
        if t.meets {
            assert!(
                chosen_cost(t) >= chosen_cost(l),
                "{kind:?}: {} at 0.25% < {} at 3%",
                chosen_cost(t),
                chosen_cost(l)
            );
        }
    }
}

#[test]
fn the_reactive_baseline_tuned_to_the_slo_meets_it_where_the_untuned_one_does_not() {
    let (set, trace) = taylor();
    let report = backtest(&set, &trace, 0.5);
    let series = &report.series[0];
    let reactive = curve(series, FrontierKind::Reactive);
    assert!(reactive.meets, "{reactive:#?}");
    let chosen = &reactive.points[reactive.chosen.unwrap()];
    assert!(chosen.under_provisioned_pct <= 0.5, "{chosen:?}");
    assert!(chosen.headroom.is_some_and(|h| h > 0.0), "{chosen:?}");
    // At no headroom the frontier scores the baseline exactly as the scorecard does.
    let untuned = series
        .contenders
        .iter()
        .find(|c| c.name == REACTIVE)
        .unwrap();
    let zero = reactive
        .points
        .iter()
        .find(|p| p.headroom == Some(0.0))
        .unwrap();
    assert_eq!(zero.unit_hours, untuned.score.unit_hours);
    assert_eq!(
        zero.under_provisioned_pct,
        untuned.score.under_provisioned_pct
    );
    assert!(untuned.score.under_provisioned_pct > 0.5, "{untuned:?}");
}

#[test]
fn where_no_setting_meets_the_slo_the_least_under_provisioned_is_reported() {
    // The airports: quarter-hour counts from near zero at night; a reactive baseline deciding
    // at each window's end, with a 10-minute delay and a 12-unit ceiling, is short at every
    // morning's first departures whatever its headroom.
    let trace = trace("nyc-departures-15m.csv", 21);
    let set = set("templates/backtest/airport.yaml", &trace);
    let report = backtest(&set, &trace, 0.5);
    for series in &report.series {
        let reactive = curve(series, FrontierKind::Reactive);
        assert!(!reactive.meets, "{}: {reactive:#?}", series.app);
        let chosen = &reactive.points[reactive.chosen.unwrap()];
        assert!(chosen.under_provisioned_pct > 0.5);
        assert!(reactive
            .points
            .iter()
            .all(|p| p.under_provisioned_pct >= chosen.under_provisioned_pct));
        assert!(reactive.points.iter().all(|p| !p.meets));
        // The widest headroom was tried before giving up.
        assert!(reactive.points.iter().any(|p| p.headroom == Some(10.0)));
    }
    let table = presage_backtest::table::render_table(&report);
    assert!(
        table.contains("not met: no setting tried meets 0.5%"),
        "{table}"
    );
}

#[test]
fn a_policy_stating_an_slo_target_is_scored_at_its_own_setting() {
    let trace = trace("taylor-demand.csv", 21);
    let path = repo("templates/backtest/grid-ew.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(yaml.contains("use: upper,"));
    let yaml = yaml.replace(
        "use: upper,",
        "target: { under_provisioned: 0.5%, window: 7d },",
    );
    let parsed = presage_template::parse(&yaml, "grid-ew-slo.yaml").expect("template parses");
    let set = TemplateSet {
        name: "grid-ew-slo.yaml".to_string(),
        version: presage_template::version_of(&yaml),
        templates: assign(&parsed, &trace.apps),
    };
    let report = backtest(&set, &trace, 0.5);
    let series = &report.series[0];
    let forecast = curve(series, FrontierKind::Forecast);
    assert_eq!(forecast.points.len(), 1, "{forecast:#?}");
    assert_eq!(forecast.points[0].setting, "target 0.5%");
    assert!(
        forecast.note.contains("states an SLO target"),
        "{}",
        forecast.note
    );
    // Its one point is the policy as the scorecard scored it.
    let own = &series.contenders[0];
    assert_eq!(forecast.points[0].unit_hours, own.score.unit_hours);
    assert_eq!(
        forecast.points[0].under_provisioned_pct,
        own.score.under_provisioned_pct
    );
    // The combined contender pairs that same policy with each headroom only.
    let combined = curve(series, FrontierKind::Combined);
    assert!(combined.points.iter().all(|p| p.quantile.is_none()));
    let table = presage_backtest::table::render_table(&report);
    assert!(table.contains("states an SLO target"), "{table}");
}

#[test]
fn the_planner_replayed_at_the_policys_own_setting_gives_its_directives_and_combined_never_falls_below_either_part(
) {
    let (set, trace) = taylor();
    let mut pipeline = Pipeline::new(&set).expect("pipeline").recording();
    for (offset, sample) in trace.samples.iter().enumerate() {
        pipeline.push(sample, offset as i64);
    }
    let replayed = pipeline.finish(trace.to_ms().unwrap());
    let template: &Arc<_> = &set.templates[0];
    let policy = &template.dynamic_metadata.scaling_policies[0];
    let inputs = &replayed.planner_inputs[&template.app];
    assert!(
        inputs.len() > 2 * 14 * 48,
        "observations and forecasts kept"
    );

    // At its own `use`, the replayed planner decides exactly what the replay's did.
    let own = replan(template, &set.version, policy, policy.use_bound, inputs);
    let live: Vec<(i64, i64)> = replayed
        .directives
        .iter()
        .filter(|d| d.mode == LIVE)
        .map(|d| (d.issued_at_ms, d.target))
        .fold(Vec::new(), |mut acc, (at, target)| {
            if acc.last().is_none_or(|(_, t)| *t != target) {
                acc.push((at, target));
            }
            acc
        });
    let replanned: Vec<(i64, i64)> = own.iter().map(|a| (a.at_ms, a.target)).collect();
    assert_eq!(replanned, live);
    assert!(live.len() > 10);

    // Combined capacity is at least each part's at every instant, at several settings.
    let demand = &replayed.demand[&template.app][&policy.metric];
    let delay = policy.provisioning_delay.unwrap().as_millis_i64();
    let start = trace.from_ms().unwrap();
    let initial = 16;
    for q in [0.5, 0.9] {
        let forecast = replan(
            template,
            &set.version,
            policy,
            ForecastBound::Quantile(q),
            inputs,
        );
        for h in [0.0, 0.2] {
            let reactive = reactive_with_headroom(policy, template.zone(), demand, h);
            let combined = higher_of(initial, &forecast, &reactive);
            let capacities = [&forecast, &reactive, &combined]
                .map(|actions| simulate(initial, start, actions, delay));
            let mut instants: Vec<i64> = capacities
                .iter()
                .flat_map(|c| c.iter().map(|s| s.at_ms))
                .collect();
            instants.sort_unstable();
            for at in instants {
                let [f, r, c] = capacities.each_ref().map(|steps| units_at(steps, at));
                assert!(
                    c >= f && c >= r,
                    "p{q} +{h}: at {at} combined {c} < {f} or {r}"
                );
            }
        }
    }
}

//! A forecast of one `group_by` group (it carries labels) is a part of its metric: the metric's
//! policies neither act on it nor count it as the metric's forecast.

mod common;

use common::*;
use presage_events::Forecast;

fn of_group(mut f: Forecast, zone: &str) -> Forecast {
    f.event_id = format!("{}-{zone}", f.event_id);
    f.labels = [("zone".to_string(), zone.to_string())].into();
    f
}

const POLICY: &str =
    "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40 }";

#[test]
fn a_groups_forecast_does_not_drive_the_metrics_policy() {
    // Monday 2000-06-05 09:00: about 33 GW, so 17 replicas at 2000 per unit
    let trace = demand("2000-06-05T09:00:00Z", 6);
    let mut p = planner(&[POLICY]);
    // a group's forecast ten times the demand: were it taken for the whole, the target would be
    // the policy's max of 40
    let mut big = of_group(forecast(&trace, 0, 1), "eu");
    for point in &mut big.points {
        point.point *= 10.0;
        point.lower *= 10.0;
        point.upper *= 10.0;
    }
    assert!(p.on_forecast(&big).unwrap().is_empty());
    // the unlabelled forecast of the same metric decides as it always did
    let whole = p.on_forecast(&forecast(&trace, 0, 1)).unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].target, (trace[0].1 / 2000.0).ceil() as i64);
    assert!(whole[0].target < 40);
    // and a later group forecast moves nothing
    assert!(p
        .on_forecast(&of_group(forecast(&trace, 1, 1), "us"))
        .unwrap()
        .is_empty());
}

#[test]
fn group_forecasts_do_not_keep_the_fallback_away() {
    let trace = demand("2000-06-05T09:00:00Z", 3);
    let mut p = planner(&["{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40, fallback: { stale_after: 40m, headroom: 0.2 } }"]);
    for i in 0..3 {
        assert!(p
            .on_forecast(&of_group(forecast(&trace, i, 1), "eu"))
            .unwrap()
            .is_empty());
    }
    assert!(p.on_observed(&observed(&trace, 0)).unwrap().is_empty());
    assert!(p.on_observed(&observed(&trace, 1)).unwrap().is_empty());
    // no forecast of the whole metric arrived: the observed metric decides
    let fallback = p.on_observed(&observed(&trace, 2)).unwrap();
    assert_eq!(fallback.len(), 1);
    assert!(fallback[0].fallback);
    assert!(
        fallback[0].reason.contains("fell back (no forecast yet)"),
        "{}",
        fallback[0].reason
    );
}

/// The test app with recipe `mw` grouped by zone and these policies.
fn grouped_planner(policies: &[&str]) -> presage_planner::Planner {
    let mut yaml = String::from(
        "app: grid\ndynamic_metadata:\n  sources: [{ id: g, kind: prometheus, url: \"http://x/metrics\" }]\n  metric_recipes: [{ name: mw, from: g.mw, group_by: [zone], window: { tumble: 30m } }]\n  scaling_policies:\n",
    );
    for p in policies {
        yaml.push_str(&format!("    - {p}\n"));
    }
    let template = presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut planner = presage_planner::Planner::new();
    planner.set_template("v1", std::sync::Arc::new(template));
    planner
}

#[test]
fn a_policy_that_names_a_group_acts_on_that_groups_forecasts_only() {
    let trace = demand("2000-06-05T09:00:00Z", 3);
    let mut p = grouped_planner(&[
        "{ resource: eu_replicas, metric: mw, labels: { zone: eu }, per_unit: 2000, use: mean, min: 1, max: 40 }",
        "{ resource: replicas, metric: mw, per_unit: 4000, use: mean, min: 1, max: 40 }",
    ]);
    // another group's forecast moves nothing
    assert!(p
        .on_forecast(&of_group(forecast(&trace, 0, 1), "us"))
        .unwrap()
        .is_empty());
    // eu's forecast drives the eu policy, and only it
    let eu = p
        .on_forecast(&of_group(forecast(&trace, 0, 1), "eu"))
        .unwrap();
    assert_eq!(eu.len(), 1);
    assert_eq!(eu[0].targets.len(), 1, "{:?}", eu[0].targets);
    assert_eq!(eu[0].resource, "eu_replicas");
    assert_eq!(eu[0].target, (trace[0].1 / 2000.0).ceil() as i64);
    // the whole metric's forecast drives the unlabelled policy, and only it
    let whole = p.on_forecast(&forecast(&trace, 0, 1)).unwrap();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].targets.len(), 1, "{:?}", whole[0].targets);
    assert_eq!(whole[0].resource, "replicas");
    assert_eq!(whole[0].target, (trace[0].1 / 4000.0).ceil() as i64);
}

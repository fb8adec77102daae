//! An unknown window (`absent: unknown`: the recipe-processor emits a quiet window as NaN with
//! `sample_count` 0) is no observation: the planner's observed loop decides nothing from it, even
//! when the forecast is stale and the fallback would act on a value, and it does not disturb the
//! decisions on the real windows around it.

mod common;

use common::*;
use presage_events::DerivedMetric;

const WITH_FALLBACK: &str = "{ resource: replicas, metric: mw, per_unit: 2000, use: mean, min: 1, max: 40, fallback: { stale_after: 40m, max_score: 1.5, headroom: 0.2 } }";

fn unknown(trace: &[(i64, f64)], i: usize) -> DerivedMetric {
    DerivedMetric {
        value: f64::NAN,
        sample_count: 0,
        ..observed(trace, i)
    }
}

#[test]
fn a_stale_forecast_does_not_make_the_fallback_act_on_an_unknown_window() {
    let trace = demand("2000-06-05T06:00:00Z", 6);
    let mut p = planner(&[WITH_FALLBACK]);
    assert_eq!(p.on_forecast(&forecast(&trace, 0, 1)).unwrap().len(), 1);
    assert!(p.on_observed(&observed(&trace, 0)).unwrap().is_empty());
    assert!(p.on_observed(&observed(&trace, 1)).unwrap().is_empty());
    // 07:00 and 07:30: the forecast is stale, but the windows are unknown: nothing to act on
    assert!(p.on_observed(&unknown(&trace, 2)).unwrap().is_empty());
    assert!(p.on_observed(&unknown(&trace, 3)).unwrap().is_empty());
    // 08:00 has a value again: the fallback acts on it, and on it alone
    let d = p.on_observed(&observed(&trace, 4)).unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].fallback);
    assert_eq!(d[0].target, (trace[4].1 * 1.2 / 2000.0).ceil() as i64);
    assert_eq!(d[0].lineage, vec!["d4".to_string()]);
}

#[test]
fn an_unknown_window_is_not_remembered_as_an_observation() {
    let trace = demand("2000-06-05T06:00:00Z", 4);
    let mut p = planner(&[WITH_FALLBACK]);
    // history rebuilt on start: an unknown window is skipped like any value that is not a number
    p.remember_observed(&unknown(&trace, 0));
    // a planner that just started waits stale_after (40m) of observations for a forecast; the
    // unknown windows do not decide when the wait is over
    for i in 0..3 {
        assert!(
            p.on_observed(&unknown(&trace, i)).unwrap().is_empty(),
            "{i}"
        );
    }
    let d = p.on_observed(&observed(&trace, 3)).unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].target, (trace[3].1 * 1.2 / 2000.0).ceil() as i64);
}

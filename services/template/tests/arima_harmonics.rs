//! `harmonics:` of a prediction algorithm: the weekly Fourier pairs its `arima` fits with, set
//! by the template or, unset, chosen by whether `arima` is the only model.

mod common;

use common::doc;
use presage_template::{parse, SOLE_ARIMA_HARMONICS};

fn arima_harmonics(algorithm: &str) -> usize {
    let text = doc(&[
        "app: a",
        "dynamic_metadata:",
        "  sources: [ { id: h, kind: host } ]",
        "  metric_recipes:",
        "    - { name: rps, from: h.cpu_utilization, window: { tumble: 15m } }",
        "  prediction_algorithms:",
        &format!("    - {{ target: rps, horizon: 1d, seasonality: [1d, 7d]{algorithm} }}"),
    ]);
    let t = parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{algorithm}: {e:?}"));
    t.dynamic_metadata.prediction_algorithms[0].arima_harmonics()
}

#[test]
fn a_sole_arima_gets_the_weekly_pairs_unless_told() {
    assert_eq!(SOLE_ARIMA_HARMONICS, 8);
    assert_eq!(arima_harmonics(", models: [arima]"), 8);
    assert_eq!(arima_harmonics(", models: [arima], harmonics: 0"), 0);
    assert_eq!(arima_harmonics(", models: [arima], harmonics: 3"), 3);
}

#[test]
fn an_arima_among_other_candidates_gets_none_unless_told() {
    assert_eq!(arima_harmonics(", models: [mstl, holt_winters, arima]"), 0);
    assert_eq!(
        arima_harmonics(", models: [mstl, holt_winters, arima], harmonics: 4"),
        4
    );
    assert_eq!(
        arima_harmonics(""),
        0,
        "the default model is seasonal naive"
    );
}

//! The forecast schema grew `labels` and `constraints`: a record written by an earlier
//! forecaster (with `schemas/earlier/forecast.1.avsc`) still decodes, taking their defaults,
//! and a record of today carries them through.

mod common;

use apache_avro::{to_avro_datum, Schema};
use presage_events::{decode, encode, registry::rabin_fingerprint, Event, Forecast};
use serde::Serialize;

fn earlier_schema() -> Schema {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/earlier/forecast.1.avsc"
    );
    Schema::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What an earlier forecaster wrote: every field of the earlier schema, none of the new ones.
#[derive(Serialize)]
struct EarlierForecast {
    event_id: String,
    app: String,
    template_version: String,
    metric: String,
    model: String,
    issued_at_ms: i64,
    step_ms: i64,
    interval_level: f64,
    points: Vec<presage_events::ForecastPoint>,
    lineage: Vec<String>,
    fitted_at_ms: i64,
    score: Option<f64>,
    candidates: Vec<presage_events::ModelScore>,
    cold_start: bool,
    interval_method: String,
    periods_ms: Vec<i64>,
    history_points: i64,
    filled_points: i64,
}

fn earlier_payload(f: &Forecast) -> Vec<u8> {
    let schema = earlier_schema();
    let old = EarlierForecast {
        event_id: f.event_id.clone(),
        app: f.app.clone(),
        template_version: f.template_version.clone(),
        metric: f.metric.clone(),
        model: f.model.clone(),
        issued_at_ms: f.issued_at_ms,
        step_ms: f.step_ms,
        interval_level: f.interval_level,
        points: f.points.clone(),
        lineage: f.lineage.clone(),
        fitted_at_ms: f.fitted_at_ms,
        score: f.score,
        candidates: f.candidates.clone(),
        cold_start: f.cold_start,
        interval_method: f.interval_method.clone(),
        periods_ms: f.periods_ms.clone(),
        history_points: f.history_points,
        filled_points: f.filled_points,
    };
    let datum = to_avro_datum(&schema, apache_avro::to_value(&old).unwrap()).unwrap();
    let mut bytes = vec![0xC3, 0x01];
    bytes.extend_from_slice(&rabin_fingerprint(&schema));
    bytes.extend_from_slice(&datum);
    bytes
}

#[test]
fn a_record_written_before_labels_and_constraints_decodes_without_them() {
    let today = common::forecast();
    assert!(!today.labels.is_empty() && !today.constraints.is_empty());
    let bytes = earlier_payload(&today);
    assert_ne!(
        bytes[2..10],
        rabin_fingerprint(Forecast::schema()),
        "the earlier schema must differ from today's"
    );
    let back: Forecast = decode(&bytes).expect("an earlier forecast decodes");
    let expected = Forecast {
        labels: Default::default(),
        constraints: Vec::new(),
        ..today
    };
    assert_eq!(back, expected);
}

#[test]
fn a_forecast_of_today_keeps_its_labels_and_constraints() {
    let today = common::forecast();
    let back: Forecast = decode(&encode(&today).unwrap()).unwrap();
    assert_eq!(back.labels.get("zone").map(String::as_str), Some("eu"));
    assert_eq!(back.constraints, vec!["non_negative", "integer"]);
    assert_eq!(back, today);
}

#[test]
fn a_truncated_earlier_record_is_refused_not_read_past_its_end() {
    let mut bytes = earlier_payload(&common::forecast());
    bytes.truncate(bytes.len() - 7);
    let err = decode::<Forecast>(&bytes).unwrap_err();
    assert!(
        err.to_string().contains("bad presage.Forecast datum"),
        "{err}"
    );
}

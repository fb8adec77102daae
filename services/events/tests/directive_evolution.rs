//! The directive schema grew `plan`: a record written by an earlier planner (with
//! `schemas/earlier/scaling_directive.1.avsc`) still decodes with an empty plan, and a directive
//! of today carries its plan through.

mod common;

use apache_avro::{to_avro_datum, Schema};
use presage_events::{
    decode, encode, registry::rabin_fingerprint, Event, ResourceTarget, ScalingDirective,
};
use serde::Serialize;

fn earlier_schema() -> Schema {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/earlier/scaling_directive.1.avsc"
    );
    Schema::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What an earlier planner wrote: every field of the earlier schema, no plan.
#[derive(Serialize)]
struct EarlierDirective {
    event_id: String,
    app: String,
    template_version: String,
    resource: String,
    target: i64,
    previous_target: Option<i64>,
    forecast_value: f64,
    effective_at_ms: i64,
    issued_at_ms: i64,
    policy: String,
    reason: String,
    lineage: Vec<String>,
    mode: String,
    targets: Vec<ResourceTarget>,
    forecast_id: String,
    model: String,
    model_score: Option<f64>,
    cold_start: bool,
    fallback: bool,
}

fn earlier_payload(d: &ScalingDirective) -> Vec<u8> {
    let schema = earlier_schema();
    let old = EarlierDirective {
        event_id: d.event_id.clone(),
        app: d.app.clone(),
        template_version: d.template_version.clone(),
        resource: d.resource.clone(),
        target: d.target,
        previous_target: d.previous_target,
        forecast_value: d.forecast_value,
        effective_at_ms: d.effective_at_ms,
        issued_at_ms: d.issued_at_ms,
        policy: d.policy.clone(),
        reason: d.reason.clone(),
        lineage: d.lineage.clone(),
        mode: d.mode.clone(),
        targets: d.targets.clone(),
        forecast_id: d.forecast_id.clone(),
        model: d.model.clone(),
        model_score: d.model_score,
        cold_start: d.cold_start,
        fallback: d.fallback,
    };
    let datum = to_avro_datum(&schema, apache_avro::to_value(&old).unwrap()).unwrap();
    let mut bytes = vec![0xC3, 0x01];
    bytes.extend_from_slice(&rabin_fingerprint(&schema));
    bytes.extend_from_slice(&datum);
    bytes
}

#[test]
fn a_directive_written_before_plans_decodes_with_an_empty_plan() {
    let today = common::scaling_directive();
    assert!(!today.plan.is_empty());
    let bytes = earlier_payload(&today);
    assert_ne!(
        bytes[2..10],
        rabin_fingerprint(ScalingDirective::schema()),
        "the earlier schema must differ from today's"
    );
    let back: ScalingDirective = decode(&bytes).expect("an earlier directive decodes");
    let expected = ScalingDirective {
        plan: Vec::new(),
        ..today
    };
    assert_eq!(back, expected);
}

#[test]
fn a_directive_of_today_keeps_its_plan() {
    let today = common::scaling_directive();
    let back: ScalingDirective = decode(&encode(&today).unwrap()).unwrap();
    assert_eq!(back.plan.len(), 2);
    assert_eq!(back.plan[1].targets[1].resource, "memory_mb");
    assert_eq!(back, today);
}

//! Realistic events, one builder per type, shared by the integration tests.
//!
//! Every builder fills optionals with `Some` and collections with several entries; the
//! `*_sparse` variants use `None` and empty collections, the other edge the encoding must keep.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;

use presage_events::{
    event_id, ApplyOutcome, DeadLetter, DerivedMetric, Forecast, ForecastPoint, MetadataFragment,
    ModelScore, PlannedStep, PlannedTarget, RawSample, ResourceTarget, ScalingDirective,
    TemplateVersion,
};

pub const APP: &str = "checkout-api";
pub const TEMPLATE: &str = "9f2c41d07ab3e5c8";
const T0: i64 = 1_717_000_000_000;

pub fn raw_sample() -> RawSample {
    let labels = BTreeMap::from([
        ("method".to_string(), "GET".to_string()),
        ("route".to_string(), "/cart".to_string()),
        ("status".to_string(), "200".to_string()),
    ]);
    RawSample {
        event_id: event_id(&[
            APP,
            "api",
            "http_requests_total",
            "method=GET",
            &T0.to_string(),
        ]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        source: "api".into(),
        metric: "http_requests_total".into(),
        labels,
        value: 18_342.0,
        event_time_ms: T0,
        lineage: format!("scrape:api@{T0}"),
    }
}

pub fn raw_sample_sparse() -> RawSample {
    RawSample {
        labels: BTreeMap::new(),
        value: -0.5,
        ..raw_sample()
    }
}

pub fn derived_metric() -> DerivedMetric {
    DerivedMetric {
        event_id: event_id(&[APP, "rps", "1717000000000", "1717000060000"]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        recipe: "rps".into(),
        window_start_ms: T0,
        window_end_ms: T0 + 60_000,
        value: 305.7,
        sample_count: 4,
        labels: [("method".to_string(), "GET".to_string())].into(),
        signals: [("hour".to_string(), 14.0)].into(),
        raw_partition: 3,
        raw_first_offset: 1200,
        raw_last_offset: 1260,
        lineage: vec!["presage.metrics.raw/3@1200..1260".into()],
    }
}

pub fn derived_metric_sparse() -> DerivedMetric {
    DerivedMetric {
        sample_count: 0,
        labels: Default::default(),
        signals: Default::default(),
        lineage: Vec::new(),
        ..derived_metric()
    }
}

pub fn metadata_fragment() -> MetadataFragment {
    MetadataFragment {
        event_id: event_id(&[APP, "rps", "1717000060000", "json"]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        recipe: "rps".into(),
        format: "json".into(),
        body: r#"{"rps":305.7,"window_end_ms":1717000060000}"#.into(),
        window_end_ms: T0 + 60_000,
        lineage: vec![derived_metric().event_id],
    }
}

pub fn forecast() -> Forecast {
    let points = (1..=3)
        .map(|i| ForecastPoint {
            at_ms: T0 + 60_000 * (i + 1),
            point: 300.0 + 10.0 * i as f64,
            lower: 280.0 + 8.0 * i as f64,
            upper: 320.0 + 12.0 * i as f64,
        })
        .collect();
    Forecast {
        event_id: event_id(&[APP, "rps", "mstl", "1717000060000"]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        metric: "rps".into(),
        model: "mstl".into(),
        issued_at_ms: T0 + 60_000,
        step_ms: 60_000,
        interval_level: 0.9,
        points,
        lineage: vec![derived_metric().event_id],
        fitted_at_ms: T0,
        score: Some(0.82),
        candidates: vec![
            ModelScore {
                model: "mstl".into(),
                mase: Some(0.82),
                note: String::new(),
            },
            ModelScore {
                model: "linear".into(),
                mase: None,
                note: "needs 48 points, has 20".into(),
            },
        ],
        cold_start: false,
        interval_method: "conformal".into(),
        periods_ms: vec![86_400_000],
        history_points: 2880,
        filled_points: 3,
        labels: [("zone".to_string(), "eu".to_string())].into(),
        constraints: vec!["non_negative".into(), "integer".into()],
    }
}

pub fn scaling_directive() -> ScalingDirective {
    ScalingDirective {
        event_id: event_id(&[APP, "replicas", &forecast().event_id]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        resource: "replicas".into(),
        target: 7,
        previous_target: Some(5),
        forecast_value: 1_356.0,
        effective_at_ms: T0 + 120_000,
        issued_at_ms: T0 + 60_000,
        policy: "replicas<-rps".into(),
        reason: "upper 1356 rps / 200 per unit = 6.78 -> 7, within max_step_up 4".into(),
        lineage: vec![forecast().event_id, derived_metric().event_id],
        mode: "live".into(),
        targets: vec![
            ResourceTarget {
                resource: "replicas".into(),
                target: 7,
                previous_target: Some(5),
                forecast_value: 1_356.0,
                policy: "replicas<-rps".into(),
                reason: "upper 1356 rps / 200 per unit = 6.78 -> 7".into(),
                at_max: false,
            },
            ResourceTarget {
                resource: "memory_mb".into(),
                target: 4096,
                previous_target: None,
                forecast_value: 1_356.0,
                policy: "memory_mb<-rps".into(),
                reason: "held at max 4096".into(),
                at_max: true,
            },
        ],
        forecast_id: forecast().event_id,
        model: "mstl".into(),
        model_score: Some(0.82),
        cold_start: false,
        fallback: false,
        plan: vec![
            PlannedStep {
                due_at_ms: T0 + 900_000,
                effective_at_ms: T0 + 960_000,
                targets: vec![PlannedTarget {
                    resource: "replicas".into(),
                    target: 9,
                    forecast_value: 1_712.5,
                }],
            },
            PlannedStep {
                due_at_ms: T0 + 1_800_000,
                effective_at_ms: T0 + 1_860_000,
                targets: vec![
                    PlannedTarget {
                        resource: "replicas".into(),
                        target: 4,
                        forecast_value: 702.0,
                    },
                    PlannedTarget {
                        resource: "memory_mb".into(),
                        target: 2048,
                        forecast_value: 702.0,
                    },
                ],
            },
        ],
    }
}

pub fn scaling_directive_sparse() -> ScalingDirective {
    ScalingDirective {
        previous_target: None,
        plan: Vec::new(),
        ..scaling_directive()
    }
}

pub fn apply_outcome() -> ApplyOutcome {
    let directive = scaling_directive().event_id;
    ApplyOutcome {
        event_id: event_id(&[&directive, "config"]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        directive_id: directive.clone(),
        hook: "config".into(),
        status: "rolled_back".into(),
        reason: Some("health check returned 503 within 10s".into()),
        config_path: Some("/etc/checkout/config.yaml".into()),
        backup_path: Some("/etc/checkout/config.yaml.bak".into()),
        applied_at_ms: T0 + 121_500,
        lineage: vec![directive],
        attempts: 3,
        decided_at_ms: T0 + 120_000,
        resources: vec!["replicas".into(), "memory_mb".into()],
    }
}

pub fn apply_outcome_sparse() -> ApplyOutcome {
    ApplyOutcome {
        status: "applied".into(),
        reason: None,
        config_path: None,
        backup_path: None,
        ..apply_outcome()
    }
}

pub fn template_version() -> TemplateVersion {
    TemplateVersion {
        event_id: event_id(&[APP, TEMPLATE]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        source_path: "templates/checkout-api.yaml".into(),
        body: "app: checkout-api\nbootstrap:\n  resources: { replicas: 3 }\n".into(),
        published_at_ms: T0,
        lineage: "file:templates/checkout-api.yaml".into(),
    }
}

pub fn dead_letter() -> DeadLetter {
    DeadLetter {
        event_id: event_id(&["planner", "presage.forecasts", "2", "4711"]),
        app: APP.into(),
        template_version: TEMPLATE.into(),
        stage: "planner".into(),
        source_topic: "presage.forecasts".into(),
        source_partition: 2,
        source_offset: 4711,
        key: Some(APP.into()),
        // Includes bytes that are not UTF-8, which a string field would not survive.
        payload: vec![0xC3, 0x01, 0xFF, 0x00, 0x80, 0x7F, 0xFE],
        kind: "undecodable".into(),
        reason: "not an Avro single-object payload".into(),
        failed_at_ms: T0 + 3_000,
        lineage: "presage.forecasts/2@4711".into(),
    }
}

pub fn dead_letter_sparse() -> DeadLetter {
    DeadLetter {
        app: String::new(),
        template_version: String::new(),
        key: None,
        payload: Vec::new(),
        ..dead_letter()
    }
}

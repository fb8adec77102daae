//! The Rust structs and the `.avsc` files in `schemas/` must say the same thing.

mod common;

use std::{collections::BTreeSet, fs, path::PathBuf};

use apache_avro::{schema::RecordSchema, Schema};
use presage_events::{all_schemas, encode, CodecError, Event, RawSample};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn record_fields(schema: &Schema) -> BTreeSet<String> {
    match schema {
        Schema::Record(RecordSchema { fields, .. }) => {
            fields.iter().map(|f| f.name.clone()).collect()
        }
        other => panic!("not a record: {other:?}"),
    }
}

fn json_keys(value: &Json) -> BTreeSet<String> {
    value
        .as_object()
        .expect("a struct serializes to an object")
        .keys()
        .cloned()
        .collect()
}

/// Compares the struct's serde field names with its schema's; returns the name for coverage.
fn same_fields<E: Event>(event: E) -> &'static str {
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(
        json_keys(&json),
        record_fields(E::schema()),
        "{}: struct fields differ from the .avsc",
        E::NAME
    );
    E::NAME
}

#[test]
fn every_struct_has_exactly_its_schema_fields() {
    let covered: BTreeSet<&str> = [
        same_fields(common::raw_sample()),
        same_fields(common::derived_metric()),
        same_fields(common::metadata_fragment()),
        same_fields(common::forecast()),
        same_fields(common::scaling_directive()),
        same_fields(common::apply_outcome()),
        same_fields(common::template_version()),
        same_fields(common::dead_letter()),
    ]
    .into();
    let all: BTreeSet<&str> = all_schemas().iter().map(|(name, _, _)| *name).collect();
    assert_eq!(covered, all, "a schema without a drift check");
}

#[test]
fn nested_forecast_point_has_exactly_its_schema_fields() {
    let forecast = common::forecast();
    let point_json = serde_json::to_value(&forecast.points[0]).unwrap();
    let Schema::Record(record) = <presage_events::Forecast as Event>::schema() else {
        panic!("Forecast is not a record");
    };
    let points = &record.fields[record.lookup["points"]].schema;
    let Schema::Array(array) = points else {
        panic!("points is not an array: {points:?}");
    };
    assert_eq!(json_keys(&point_json), record_fields(&array.items));
}

#[test]
fn every_schema_file_belongs_to_an_event() {
    let on_disk: BTreeSet<String> = fs::read_dir(schemas_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".avsc"))
        .collect();
    let registered: BTreeSet<String> = all_schemas()
        .iter()
        .map(|(_, file, _)| file.to_string())
        .collect();
    assert_eq!(on_disk, registered, "orphan or missing .avsc files");
}

#[test]
fn registry_files_match_the_embedded_schemas() {
    // The registry names each type's file separately from the include_str! that embeds it;
    // this catches the two pointing at different files.
    for (name, file, embedded) in all_schemas() {
        let text = fs::read_to_string(schemas_dir().join(file)).unwrap();
        let on_disk = Schema::parse_str(&text).unwrap();
        assert_eq!(
            &on_disk, embedded,
            "{name}: {file} differs from the embedded schema"
        );
        let Schema::Record(record) = embedded else {
            panic!("{name} is not a record");
        };
        assert_eq!(record.name.fullname(None), name);
    }
}

/// Walks the `.avsc` JSON and checks the conventions the brief sets for every record.
fn check_conventions(file: &str, record: &Json) {
    assert_eq!(record["namespace"], "presage", "{file}: namespace");
    assert!(record["doc"].is_string(), "{file}: record doc");
    for field in record["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        let doc = field["doc"].as_str().unwrap_or("");
        assert!(!doc.trim().is_empty(), "{file}: field {name} has no doc");
        let ty = &field["type"];
        if let Some(branches) = ty.as_array() {
            assert_eq!(
                branches[0], "null",
                "{file}: {name} optional must be null first"
            );
            assert_eq!(branches.len(), 2, "{file}: {name} optional is [null, T]");
            assert_eq!(
                field.get("default"),
                Some(&Json::Null),
                "{file}: {name} default"
            );
        }
        if name.ends_with("_ms") {
            let long = ty == "long"
                || ty["type"] == "long"
                || (ty["type"] == "array" && ty["items"] == "long");
            assert!(long, "{file}: {name} must be a long");
        }
        if ty["type"] == "array" && ty["items"]["type"] == "record" {
            check_conventions(file, &ty["items"]);
        }
    }
}

#[test]
fn schemas_follow_the_conventions() {
    for (_, file, _) in all_schemas() {
        let text = fs::read_to_string(schemas_dir().join(file)).unwrap();
        let json: Json = serde_json::from_str(&text).unwrap();
        check_conventions(file, &json);
    }
}

// Structs that drifted from RawSample's schema, bound to that schema as the real type is.
macro_rules! drifted {
    ($ty:ident { $($field:ident : $fty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Serialize, Deserialize)]
        struct $ty {
            event_id: String,
            app: String,
            $($field: $fty),*
        }
        impl Event for $ty {
            const NAME: &'static str = RawSample::NAME;
            fn schema() -> &'static Schema {
                RawSample::schema()
            }
            fn event_id(&self) -> &str {
                &self.event_id
            }
            fn app(&self) -> &str {
                &self.app
            }
        }
    };
}

drifted!(ExtraField {
    template_version: String,
    source: String,
    metric: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
    event_time_ms: i64,
    lineage: String,
    unit: String,
});
drifted!(MissingField {
    template_version: String,
    source: String,
    metric: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
    event_time_ms: i64,
});
drifted!(WrongType {
    template_version: String,
    source: String,
    metric: String,
    labels: std::collections::BTreeMap<String, String>,
    value: String,
    event_time_ms: i64,
    lineage: String,
});

fn assert_refused<E: Event>(event: E, what: &str, names: &str) {
    match encode(&event) {
        Err(CodecError::Encode { schema, reason }) => {
            assert_eq!(schema, "presage.RawSample");
            assert!(reason.contains(names), "{what}: {reason}");
        }
        other => panic!("{what}: expected an Encode error, got {other:?}"),
    }
}

#[test]
fn encode_refuses_a_struct_that_drifted_from_its_schema() {
    let s = common::raw_sample();
    let base = || {
        (
            s.event_id.clone(),
            s.app.clone(),
            s.template_version.clone(),
        )
    };
    let (event_id, app, template_version) = base();
    assert_refused(
        ExtraField {
            event_id,
            app,
            template_version,
            source: s.source.clone(),
            metric: s.metric.clone(),
            labels: s.labels.clone(),
            value: s.value,
            event_time_ms: s.event_time_ms,
            lineage: s.lineage.clone(),
            unit: "requests".into(),
        },
        "extra field",
        "field 'unit' is not in the schema",
    );
    let (event_id, app, template_version) = base();
    assert_refused(
        MissingField {
            event_id,
            app,
            template_version,
            source: s.source.clone(),
            metric: s.metric.clone(),
            labels: s.labels.clone(),
            value: s.value,
            event_time_ms: s.event_time_ms,
        },
        "missing field",
        "schema field 'lineage' is missing",
    );
    let (event_id, app, template_version) = base();
    assert_refused(
        WrongType {
            event_id,
            app,
            template_version,
            source: s.source.clone(),
            metric: s.metric.clone(),
            labels: s.labels.clone(),
            value: "18342".into(),
            event_time_ms: s.event_time_ms,
            lineage: s.lineage.clone(),
        },
        "wrong type",
        "field 'value' does not fit \"double\"",
    );
}

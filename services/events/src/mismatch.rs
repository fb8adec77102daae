//! Says which fields of a value do not fit a record schema.
//!
//! apache-avro's datum writer reports a mismatch as "Value does not match schema" (or dumps
//! the whole value and schema); when a struct drifted from its `.avsc`, the useful answer is
//! which field.

use apache_avro::{types::Value, Schema};

/// The fields of `value` that are missing from, extra to, or of another type than `schema`'s;
/// `None` when it cannot say (the value is not a record of that schema).
pub(crate) fn explain(value: &Value, schema: &Schema) -> Option<String> {
    let (Value::Record(values), Schema::Record(record)) = (value, schema) else {
        return None;
    };
    let mut problems = Vec::new();
    for (name, field_value) in values {
        match record.lookup.get(name).map(|&i| &record.fields[i]) {
            None => problems.push(format!("field '{name}' is not in the schema")),
            Some(field) if !field_value.validate(&field.schema) => problems.push(format!(
                "field '{name}' does not fit {}",
                field.schema.canonical_form()
            )),
            Some(_) => {}
        }
    }
    for field in &record.fields {
        if !values.iter().any(|(name, _)| *name == field.name) {
            problems.push(format!("schema field '{}' is missing", field.name));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

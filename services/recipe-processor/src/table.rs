//! The tables a recipe's query reads, and the columnar builders samples are appended into.
//!
//! `samples`: one row per raw sample in a closing window.
//!
//! | column | type | |
//! | --- | --- | --- |
//! | `app` | Utf8 | the application id |
//! | `window_start`, `window_end` | Int64 | the window, epoch ms, `[start, end)` |
//! | `ts` | Int64 | the sample's event time, epoch ms |
//! | `series` | Utf8 | the sample's labels, canonical and unambiguous ([`presage_events::ids::labels_key`]): `4:code=3:500,6:method=3:GET` |
//! | `value` | Float64 | |
//! | `is_denominator` | Boolean | `ratio` only: the row matched `over`, not `from` |
//! | one per label column | Utf8, nullable | `group_by` labels, labels the filter reads, `le` |
//!
//! `signals`: one row per (app, window_start) with each joined signal's value under its alias
//! (Float64, null when the signal has no value yet).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int64Array, Int64Builder, StringArray,
    StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use presage_events::ids::write_labels_key;

pub const SAMPLES: &str = "samples";
pub const SIGNALS: &str = "signals";

/// A SQL identifier, double-quoted so any label name is a column name.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn samples_schema(label_columns: &[String]) -> SchemaRef {
    let mut fields = vec![
        Field::new("app", DataType::Utf8, false),
        Field::new("window_start", DataType::Int64, false),
        Field::new("window_end", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("series", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("is_denominator", DataType::Boolean, false),
    ];
    fields.extend(
        label_columns
            .iter()
            .map(|l| Field::new(l.as_str(), DataType::Utf8, true)),
    );
    Arc::new(Schema::new(fields))
}

pub fn signals_schema(aliases: &[String]) -> SchemaRef {
    let mut fields = vec![
        Field::new("app", DataType::Utf8, false),
        Field::new("window_start", DataType::Int64, false),
    ];
    fields.extend(
        aliases
            .iter()
            .map(|a| Field::new(a.as_str(), DataType::Float64, true)),
    );
    Arc::new(Schema::new(fields))
}

/// The rows of one pane (windows of one recipe that start and close together), appended
/// sample by sample into Arrow builders: no allocation per sample beyond the builders'
/// amortised growth.
pub struct SampleBuilder {
    schema: SchemaRef,
    window_start: i64,
    window_end: i64,
    app: StringBuilder,
    ts: Int64Builder,
    series: StringBuilder,
    value: Float64Builder,
    is_denominator: BooleanBuilder,
    labels: Vec<(String, StringBuilder)>,
    /// Reused buffer for the canonical series key.
    key: String,
}

impl SampleBuilder {
    /// Builders for about `rows` rows (a hint: the size of the last pane of the same recipe),
    /// so a pane rarely regrows and copies its columns.
    pub fn new(
        schema: SchemaRef,
        label_columns: &[String],
        start: i64,
        end: i64,
        rows: usize,
    ) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        Self {
            schema,
            window_start: start,
            window_end: end,
            app: text(16),
            ts: Int64Builder::with_capacity(rows),
            series: text(24),
            value: Float64Builder::with_capacity(rows),
            is_denominator: BooleanBuilder::with_capacity(rows),
            labels: label_columns.iter().map(|l| (l.clone(), text(8))).collect(),
            key: String::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// An empty builder for the same window and columns.
    pub fn empty_like(&self) -> Self {
        let labels: Vec<String> = self.labels.iter().map(|(l, _)| l.clone()).collect();
        Self::new(
            Arc::clone(&self.schema),
            &labels,
            self.window_start,
            self.window_end,
            0,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn append(
        &mut self,
        app: &str,
        ts: i64,
        labels: &BTreeMap<String, String>,
        value: f64,
        is_denominator: bool,
    ) {
        self.key.clear();
        // Length-prefixed, so `{a="1,b=2"}` and `{a="1",b="2"}` stay two series (a counter's
        // increase is taken per series).
        write_labels_key(&mut self.key, labels);
        self.app.append_value(app);
        self.ts.append_value(ts);
        self.series.append_value(&self.key);
        self.value.append_value(value);
        self.is_denominator.append_value(is_denominator);
        for (label, builder) in &mut self.labels {
            builder.append_option(labels.get(label.as_str()));
        }
    }

    /// The rows so far as a batch; the builder is left empty.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let rows = self.len();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.app.finish()),
            Arc::new(Int64Array::from_value(self.window_start, rows)),
            Arc::new(Int64Array::from_value(self.window_end, rows)),
            Arc::new(self.ts.finish()),
            Arc::new(self.series.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.is_denominator.finish()),
        ];
        columns.extend(
            self.labels
                .iter_mut()
                .map(|(_, b)| Arc::new(b.finish()) as ArrayRef),
        );
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
    }
}

/// The `signals` table for a set of windows: `rows` are (app, window_start, value per alias).
pub fn signals_batch(
    schema: SchemaRef,
    rows: &[(String, i64, Vec<Option<f64>>)],
) -> Result<RecordBatch, ArrowError> {
    let aliases = schema.fields().len().saturating_sub(2);
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.0.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
    ];
    for i in 0..aliases {
        let mut builder = Float64Builder::with_capacity(rows.len());
        for row in rows {
            builder.append_option(row.2.get(i).copied().flatten());
        }
        columns.push(Arc::new(builder.finish()));
    }
    RecordBatch::try_new(schema, columns)
}

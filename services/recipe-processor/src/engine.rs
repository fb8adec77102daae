//! Runs a compiled recipe's SQL over one window's samples with DataFusion.
//!
//! DataFusion is async and wants a Tokio runtime; the core stays synchronous by owning a
//! single-threaded runtime that only this engine uses.

use std::sync::Arc;

use datafusion::arrow::array::{Array, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::compile::WINDOW_TABLE;

#[derive(Debug, Clone, PartialEq)]
pub struct WindowSample {
    pub ts_ms: i64,
    pub series: String,
    pub value: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("building the window batch: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("running recipe SQL: {0}")]
    Sql(#[from] datafusion::error::DataFusionError),
    #[error("starting the query runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("recipe SQL returned {0}, expected one row with `value` and `n`")]
    Shape(String),
}

pub struct SqlEngine {
    context: SessionContext,
    runtime: tokio::runtime::Runtime,
}

impl SqlEngine {
    pub fn new() -> Result<Self, EngineError> {
        // One partition: a window is small, and more would only add scheduling.
        let config = SessionConfig::new().with_target_partitions(1);
        Ok(Self {
            context: SessionContext::new_with_config(config),
            runtime: tokio::runtime::Builder::new_current_thread().build()?,
        })
    }

    /// The query's `value` (None if SQL NULL, e.g. no sample) and `n`.
    pub fn run(
        &self,
        sql: &str,
        samples: &[WindowSample],
    ) -> Result<(Option<f64>, i64), EngineError> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ts", DataType::Int64, false),
            Field::new("series", DataType::Utf8, false),
            Field::new("value", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(
                    samples.iter().map(|s| s.ts_ms),
                )),
                Arc::new(StringArray::from_iter_values(
                    samples.iter().map(|s| s.series.as_str()),
                )),
                Arc::new(Float64Array::from_iter_values(
                    samples.iter().map(|s| s.value),
                )),
            ],
        )?;
        self.context.deregister_table(WINDOW_TABLE)?;
        self.context.register_batch(WINDOW_TABLE, batch)?;
        let batches = self
            .runtime
            .block_on(async { self.context.sql(sql).await?.collect().await })?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let batch = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .filter(|_| rows == 1)
            .ok_or_else(|| EngineError::Shape(format!("{rows} rows")))?;
        let value = batch
            .column_by_name("value")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
            .ok_or_else(|| EngineError::Shape("no DOUBLE column `value`".into()))?;
        let count = batch
            .column_by_name("n")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .ok_or_else(|| EngineError::Shape("no BIGINT column `n`".into()))?;
        let value = (!value.is_null(0)).then(|| value.value(0));
        let count = if count.is_null(0) { 0 } else { count.value(0) };
        Ok((value, count))
    }
}

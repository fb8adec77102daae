//! Runs a recipe's query with DataFusion, planned once and executed many times.
//!
//! `prepare` parses, analyses, optimises and physically plans the SQL once per recipe and
//! template version. The plan's leaves are [`SwapTable`] scans that read whatever batches
//! were put in their slot just before the run, so each close only swaps the data and resets
//! the plan's per-run state (`reset_plan_states`): no SQL is parsed or optimised per window.
//!
//! DataFusion is async and wants a Tokio runtime; the core stays synchronous by owning a
//! single-threaded runtime that only the engine uses.
//!
//! A recipe's SQL comes from whoever publishes templates, so the session holds no authority
//! beyond the query: validation refuses anything but one SELECT over the recipe's tables, and
//! the engine refuses it again on its own ([`refuse_beyond_query`]): no DDL, DML (so no
//! `COPY … TO`), `SET` or other statements, no table functions, no files or URLs as tables (a
//! plain `SessionContext` does not enable them), and a plan that scans anything but the two
//! swap tables is not run.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::DataFusionError;
use datafusion::datasource::{source_as_provider, TableType};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::memory::{LazyBatchGenerator, LazyMemoryExec};
use datafusion::physical_plan::{collect, displayable, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use parking_lot::{Mutex, RwLock};

use crate::table::{SAMPLES, SIGNALS};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("building the window batch: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("{0}")]
    Sql(#[from] DataFusionError),
    #[error("starting the query runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("the query returns {0}")]
    Shape(String),
}

/// One output row of a recipe's query.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub app: String,
    pub window_start: i64,
    /// None when SQL NULL (e.g. a ratio over a zero denominator): nothing is emitted.
    pub value: Option<f64>,
    pub n: i64,
    pub labels: BTreeMap<String, String>,
    pub signals: BTreeMap<String, f64>,
}

/// A query planned once over the `samples` and `signals` tables.
pub struct PreparedQuery {
    samples: Slot,
    signals: Slot,
    plan: Arc<dyn ExecutionPlan>,
    /// The session's task context, taken once: making one per run copies the session state
    /// (configuration and function registries), which cost more than a small window's query.
    task: Arc<TaskContext>,
    optimized: String,
    group_by: Vec<String>,
    aliases: Vec<String>,
}

impl fmt::Debug for PreparedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedQuery")
            .field("optimized", &self.optimized)
            .finish()
    }
}

/// The query runtime every prepared query runs on.
pub struct Runtime(tokio::runtime::Runtime);

impl Runtime {
    pub fn new() -> Result<Self, EngineError> {
        Ok(Self(tokio::runtime::Builder::new_current_thread().build()?))
    }
}

impl PreparedQuery {
    /// Plans `sql`; fails with DataFusion's message when the query does not plan, and when it
    /// does not return `app`, `window_start`, a numeric `value` and the `group_by` columns.
    pub fn prepare(
        runtime: &Runtime,
        sql: &str,
        samples_schema: SchemaRef,
        signals_schema: SchemaRef,
        group_by: &[String],
    ) -> Result<Self, EngineError> {
        let aliases: Vec<String> = signals_schema
            .fields()
            .iter()
            .skip(2)
            .map(|f| f.name().clone())
            .collect();
        let context = session()?;
        let samples = Slot::default();
        let signals = Slot::default();
        context.register_table(SAMPLES, Arc::new(SwapTable::new(samples_schema, &samples)))?;
        context.register_table(SIGNALS, Arc::new(SwapTable::new(signals_schema, &signals)))?;
        let (plan, optimized) = runtime.0.block_on(async {
            let frame = context.sql_with_options(sql, query_only()).await?;
            refuse_beyond_query(frame.logical_plan())?;
            let optimized = frame.clone().into_optimized_plan()?;
            let text = optimized.display_indent().to_string();
            let plan = frame.create_physical_plan().await?;
            Ok::<_, DataFusionError>((plan, text))
        })?;
        let schema = plan.schema();
        check_output(&schema, group_by)?;
        Ok(Self {
            task: context.task_ctx(),
            samples,
            signals,
            plan,
            optimized,
            group_by: group_by.to_vec(),
            aliases: aliases
                .into_iter()
                .filter(|a| schema.column_with_name(a).is_some())
                .collect(),
        })
    }

    /// The optimised logical plan and the physical plan, for `presage compile`.
    pub fn explain(&self) -> (String, String) {
        (
            self.optimized.clone(),
            displayable(self.plan.as_ref()).indent(true).to_string(),
        )
    }

    /// Runs the plan over these batches.
    pub fn run(
        &self,
        runtime: &Runtime,
        samples: Vec<RecordBatch>,
        signals: Vec<RecordBatch>,
    ) -> Result<Vec<ResultRow>, EngineError> {
        *self.samples.0.lock() = samples;
        *self.signals.0.lock() = signals;
        let plan = reset_plan_states(Arc::clone(&self.plan))?;
        let batches = runtime.0.block_on(collect(plan, Arc::clone(&self.task)));
        self.samples.0.lock().clear();
        self.signals.0.lock().clear();
        let mut rows = Vec::new();
        for batch in batches? {
            self.read_rows(&batch, &mut rows)?;
        }
        Ok(rows)
    }

    fn read_rows(&self, batch: &RecordBatch, rows: &mut Vec<ResultRow>) -> Result<(), EngineError> {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| EngineError::Shape(format!("no column `{name}`")))
        };
        let app = cast(column("app")?, &DataType::Utf8)?;
        let app = app.as_string::<i32>();
        let start = cast(column("window_start")?, &DataType::Int64)?;
        let start = start.as_primitive::<Int64Type>();
        let value = cast(column("value")?, &DataType::Float64)?;
        let value = value.as_primitive::<Float64Type>();
        let n = match batch.column_by_name("n") {
            Some(n) => Some(cast(n, &DataType::Int64)?),
            None => None,
        };
        let groups = self
            .group_by
            .iter()
            .map(|g| Ok((g.clone(), cast(column(g)?, &DataType::Utf8)?)))
            .collect::<Result<Vec<_>, EngineError>>()?;
        let signals = self
            .aliases
            .iter()
            .map(|a| Ok((a.clone(), cast(column(a)?, &DataType::Float64)?)))
            .collect::<Result<Vec<_>, EngineError>>()?;
        for i in 0..batch.num_rows() {
            if app.is_null(i) || start.is_null(i) {
                return Err(EngineError::Shape(
                    "a row without app or window_start".into(),
                ));
            }
            let value = (!value.is_null(i))
                .then(|| value.value(i))
                .filter(|v| v.is_finite());
            let n = n
                .as_ref()
                .map(|n| n.as_primitive::<Int64Type>())
                .map_or(0, |n| if n.is_null(i) { 0 } else { n.value(i) });
            rows.push(ResultRow {
                app: app.value(i).to_string(),
                window_start: start.value(i),
                value,
                n,
                labels: groups
                    .iter()
                    .filter(|(_, c)| !c.is_null(i))
                    .map(|(g, c)| (g.clone(), c.as_string::<i32>().value(i).to_string()))
                    .collect(),
                signals: signals
                    .iter()
                    .filter(|(_, c)| !c.is_null(i))
                    .map(|(a, c)| (a.clone(), c.as_primitive::<Float64Type>().value(i)))
                    .collect(),
            });
        }
        Ok(())
    }
}

/// A session with nothing to read but the tables registered into it: no table functions, and no
/// file system behind it (the swap tables are in memory, so no plan of a recipe needs one).
fn session() -> Result<SessionContext, DataFusionError> {
    // One partition: windows are small, and more would only add scheduling.
    let config = SessionConfig::new().with_target_partitions(1);
    let context = SessionContext::new_with_config(config);
    forget_table_functions(&context);
    let local = ObjectStoreUrl::local_filesystem();
    context
        .runtime_env()
        .deregister_object_store(local.as_ref())?;
    Ok(context)
}

/// Statements that change the session, its tables or files are refused before they run:
/// DataFusion executes DDL (`CREATE EXTERNAL TABLE`) while planning, and `COPY … TO` writes
/// when collected.
fn query_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// `generate_series`, `range` and any other table function a default session carries: a recipe
/// reads its own rows, and a table function could produce billions.
fn forget_table_functions(context: &SessionContext) {
    let names: Vec<String> = context.state().table_functions().keys().cloned().collect();
    for name in names {
        context.deregister_udtf(&name);
    }
}

/// Every scan in the plan, subqueries included, reads one of the two swap tables.
fn refuse_beyond_query(plan: &LogicalPlan) -> Result<(), DataFusionError> {
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let ours = source_as_provider(&scan.source).is_ok_and(|p| p.is::<SwapTable>());
            if !ours {
                return Err(DataFusionError::Plan(format!(
                    "the query reads {}: expected only the recipe's tables ({SAMPLES}, {SIGNALS})",
                    scan.table_name
                )));
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

fn check_output(schema: &SchemaRef, group_by: &[String]) -> Result<(), EngineError> {
    let numeric = |t: &DataType| t.is_numeric();
    let mut missing = Vec::new();
    match schema.field_with_name("app") {
        Ok(f)
            if matches!(
                f.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) => {}
        _ => missing.push("`app` (text)".to_string()),
    }
    match schema.field_with_name("window_start") {
        Ok(f) if f.data_type().is_integer() => {}
        _ => missing.push("`window_start` (integer)".to_string()),
    }
    match schema.field_with_name("value") {
        Ok(f) if numeric(f.data_type()) => {}
        _ => missing.push("`value` (a number)".to_string()),
    }
    for g in group_by {
        if schema.field_with_name(g).is_err() {
            missing.push(format!("`{g}` (a group_by label)"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        let found: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect();
        Err(EngineError::Shape(format!(
            "columns [{}]: expected {} as well (one row per app and window)",
            found.join(", "),
            missing.join(", ")
        )))
    }
}

/// Where a run's batches wait for the plan's scan.
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Vec<RecordBatch>>>);

/// A table whose rows are whatever is in its slot when the plan runs.
#[derive(Debug)]
struct SwapTable {
    schema: SchemaRef,
    slot: Slot,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slot({} batches)", self.0.lock().len())
    }
}

impl SwapTable {
    fn new(schema: SchemaRef, slot: &Slot) -> Self {
        Self {
            schema,
            slot: slot.clone(),
        }
    }
}

#[async_trait::async_trait]
impl TableProvider for SwapTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let reader: Arc<RwLock<dyn LazyBatchGenerator>> = Arc::new(RwLock::new(SlotReader {
            slot: self.slot.clone(),
            next: 0,
        }));
        let exec = LazyMemoryExec::try_new(Arc::clone(&self.schema), vec![reader])?
            .with_projection(projection.cloned());
        Ok(Arc::new(exec))
    }
}

/// Yields the slot's batches, from the first, each time the plan runs.
#[derive(Debug)]
struct SlotReader {
    slot: Slot,
    next: usize,
}

impl fmt::Display for SlotReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("swap slot")
    }
}

impl LazyBatchGenerator for SlotReader {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn generate_next_batch(&mut self) -> Result<Option<RecordBatch>, DataFusionError> {
        let batch = self.slot.0.lock().get(self.next).cloned();
        self.next += 1;
        Ok(batch)
    }

    fn reset_state(&self) -> Arc<RwLock<dyn LazyBatchGenerator>> {
        Arc::new(RwLock::new(SlotReader {
            slot: self.slot.clone(),
            next: 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::datasource::MemTable;

    #[test]
    fn the_session_has_no_table_functions_and_no_file_system() {
        let defaults = SessionContext::new();
        let local = ObjectStoreUrl::local_filesystem();
        // What is taken away is there by default.
        assert!(defaults.runtime_env().object_store(&local).is_ok());
        assert!(!defaults.state().table_functions().is_empty());
        let ours = session().expect("session");
        assert!(ours.runtime_env().object_store(&local).is_err());
        assert!(ours.state().table_functions().is_empty());
    }

    #[test]
    fn a_plan_scanning_any_table_but_the_swap_tables_is_refused() {
        let runtime = Runtime::new().expect("runtime");
        let context = SessionContext::new();
        let schema = crate::table::samples_schema(&[]);
        let other = MemTable::try_new(Arc::clone(&schema), vec![vec![]]).expect("table");
        context
            .register_table("other", Arc::new(other))
            .expect("register");
        let slot = Slot::default();
        let ours = SwapTable::new(schema, &slot);
        context
            .register_table(SAMPLES, Arc::new(ours))
            .expect("register");
        let plan = |sql: &str| {
            runtime.0.block_on(async {
                let frame = context.sql(sql).await.expect("plans");
                frame.logical_plan().clone()
            })
        };
        let refused = refuse_beyond_query(&plan(
            "SELECT * FROM samples WHERE app IN (SELECT app FROM other)",
        ))
        .expect_err("a subquery reads another table");
        assert!(
            refused.to_string().contains("the query reads other"),
            "{refused}"
        );
        refuse_beyond_query(&plan("SELECT * FROM samples")).expect("the swap table");
    }
}

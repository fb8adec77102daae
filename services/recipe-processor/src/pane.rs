//! Panes: the windows of one recipe that start and close together, shared by the apps that
//! have rows in them, so a close runs the recipe's query once for all of them. A pane runs when
//! every app in it has passed its close; an app that passed it long before the others
//! ([`PANE_GRACE_MS`]) is split off and runs on its own.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::processor::RecipeRun;
use crate::table::SampleBuilder;

/// Hash maps on the per-sample path: keys are our own.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// (close at, query, recipe name, window start, window size): panes close in this order.
pub(crate) type PaneKey = (i64, usize, Arc<str>, i64, i64);

pub(crate) type ClosingPane = (PaneKey, Pane);

pub(crate) struct Pane {
    pub(crate) rows: SampleBuilder,
    /// Rows taken out of `rows` when the apps ready before the others were split off: they
    /// belong to the apps still waiting, and run with the rest at the close.
    pub(crate) held: Vec<RecordBatch>,
    pub(crate) apps: HashMap<Arc<str>, PaneApp>,
    /// Apps in `apps` whose watermark has not passed the pane's close: it runs at 0.
    pub(crate) waiting: usize,
}

impl Pane {
    /// Takes the apps whose watermark has passed the close out of the pane, with their rows,
    /// as a pane of their own ready to run; the others stay, waiting. None if no app is ready.
    pub(crate) fn split_ready(&mut self) -> Result<Option<Pane>, ArrowError> {
        let ready: Vec<Arc<str>> = self
            .apps
            .iter()
            .filter(|(_, a)| a.ready)
            .map(|(name, _)| Arc::clone(name))
            .collect();
        if ready.is_empty() {
            return Ok(None);
        }
        let mut parts = std::mem::take(&mut self.held);
        if !self.rows.is_empty() {
            parts.push(self.rows.finish()?);
        }
        let mut taken = Vec::with_capacity(parts.len());
        for batch in parts {
            let apps = batch.column(0).as_string::<i32>();
            let mask: BooleanArray = apps
                .iter()
                .map(|app| Some(app.is_some_and(|app| ready.iter().any(|r| **r == *app))))
                .collect();
            taken.push(filter_record_batch(&batch, &mask)?);
            self.held.push(filter_record_batch(&batch, &not(&mask)?)?);
        }
        let apps = ready
            .iter()
            .filter_map(|name| self.apps.remove_entry(name))
            .collect();
        Ok(Some(Pane {
            rows: self.rows.empty_like(),
            held: taken,
            apps,
            waiting: 0,
        }))
    }
}

/// How far (event time) past a shared pane's close an app that has passed it waits for the
/// pane's other apps before its windows run without them. Apps in step (scrapes at different
/// phases of the same minute) close in one query; an app behind by more (a slow clock, a
/// backlog) delays the others by at most this much.
pub const PANE_GRACE_MS: i64 = 60_000;

pub(crate) struct PaneApp {
    pub(crate) run: Arc<RecipeRun>,
    pub(crate) first_offset: i64,
    pub(crate) last_offset: i64,
    /// The app's watermark has passed the pane's close: it adds no more rows.
    pub(crate) ready: bool,
    /// The joined signals' values, read when the app's watermark passed the pane's close (the
    /// pane may wait for other apps, and this app's signal history moves on meanwhile).
    pub(crate) signals: Option<Vec<Option<f64>>>,
}

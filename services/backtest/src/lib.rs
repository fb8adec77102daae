//! Backtesting: recorded raw samples replayed through the very cores the live services run
//! (recipe-processor, forecaster, planner), in process, on a virtual clock driven by event
//! times; the directives become capacity over time (with the provisioning delay) and every
//! policy is scored against a reactive baseline and a perfect-foresight oracle.

pub mod backtest;
pub mod baseline;
pub mod capacity;
pub mod combined;
pub mod frontier;
pub mod html;
pub mod replay;
pub mod report;
pub mod score;
pub mod table;
pub mod thresholds;
pub mod trace;

pub use backtest::{assign, run, run_at_slo, Options, Progress, ORACLE, REACTIVE};
pub use replay::{Pipeline, PlannerInput, ReplayError, Replayed, TemplateSet};
pub use report::Report;
pub use trace::{read_csv, Trace, TraceError};

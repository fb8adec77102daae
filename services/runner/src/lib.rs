//! The thin Kafka shell shared by every Presage service.
//!
//! Cores know nothing of Kafka: a service's binary wraps its core in a [`Stage`] and hands it to
//! [`run_stage`], which consumes, decodes, de-duplicates, calls the core, produces the outputs,
//! and only then stores the input offset. A record that cannot be decoded or processed goes to
//! the dead-letter topic with the reason, and the loop goes on.

pub mod admin;
pub mod broker;
pub mod checkpoints;
pub mod dedupe;
pub mod dlq;
pub mod history;
pub mod https;
pub mod logging;
mod loop_metrics;
pub mod pair;
pub mod patience;
pub mod publisher;
pub mod range;
pub mod rebalance;
mod restore;
pub mod run_loop;
pub mod settings;
pub mod shutdown;
pub mod stage;
pub mod telemetry;
pub mod templates;
pub mod topology;

pub use dlq::{DeadKind, Origin};
pub use history::{
    read_history, read_partition_history, read_partition_recent, HistoryRead, PartitionRange,
};
pub use pair::{run_three_stages, run_two_stages};
pub use run_loop::run_stage;
pub use settings::{KafkaArgs, KafkaChild};
pub use shutdown::Shutdown;
pub use stage::{Checkpoint, Outgoing, Stage, StageError};
pub use telemetry::{telemetry, MetricsArgs};
pub use templates::{LoadedTemplate, TemplateBook};
pub use topology::{Topics, Topology};

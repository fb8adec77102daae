//! The applier's core: what a directive or a metadata fragment changes in a configuration, and
//! whether the result obeys the template's rules. Writing files, running tests and reloading processes are I/O: they live
//! in the binary's hooks, which call these functions for every decision.

pub mod applied;
pub mod argv;
pub mod document;
pub mod envfile;
pub mod fragment;
pub mod journal;
pub mod outcome;
pub mod plan;
pub mod retry;
pub mod schedule;
pub mod yaml_edit;

pub use fragment::{fragment_patch, parse_body, FragmentError};
pub use outcome::{
    from_node, node_outcome_id, on_node, outcome, outcome_id, Details, Input, Status,
};
pub use plan::{
    check_rules, directive_patch, format_of, live_document, live_text, parse_config, plan_change,
    plan_patch, render, render_over, PlanError,
};

/// The I/O edge: hooks that write files, run tests and reload processes. Kept in the library so
/// they can be tested against real files, processes and HTTP servers; every decision they act on
/// comes from the pure modules above.
pub mod hooks;

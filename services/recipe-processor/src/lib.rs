//! The recipe-processor's pure core: raw samples in; derived metrics and metadata fragments out.
//! Each recipe is compiled once into DataFusion SQL and planned once per template version; the
//! samples of windows that close together are appended into Arrow builders and the plan runs
//! over them in one go. Windows close on event time (a watermark), never on the wall clock
//! alone, so a replay closes the same windows with the same values.

pub mod admission;
pub mod compile;
pub mod engine;
pub mod explain;
pub mod fragments;
mod pane;
pub mod processor;
pub mod table;
pub mod windows;

pub use admission::{Limits, Refusal};
pub use compile::{compile, CompileError, CompiledRecipe};
pub use explain::{explain_template, plan_template, RecipePlan};
pub use processor::{Position, RecipeError, RecipeOutput, RecipeProcessor};

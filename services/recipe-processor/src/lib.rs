//! The recipe-processor's pure core: raw samples in; derived metrics and metadata fragments out.
//! Each recipe is compiled once into DataFusion SQL; each closed window's samples become an
//! Arrow batch the query runs over. Windows close on event time (a watermark), never on the
//! wall clock, so a replay closes the same windows with the same values.

pub mod compile;
pub mod engine;
pub mod processor;
pub mod windows;

pub use compile::{compile, CompiledRecipe};
pub use processor::{RecipeError, RecipeOutput, RecipeProcessor};

//! Fuzzing on stable Rust, with no fuzzing dependency: a seeded generator (`rng`), mutations of
//! valid inputs (`mutate`), every parser of outside input as a target (`targets`), and a
//! harness (`harness`) that runs each case on a worker thread under a time limit and, with the
//! counting allocator of `alloc` installed, an allocation bound.
//!
//! `cargo xtask fuzz --cases N [--target NAME] [--seed S]` runs the targets through the
//! `presage-fuzz` binary; the crate's tests run 2,000 cases of each with a fixed seed.

pub mod alloc;
pub mod harness;
pub mod mutate;
pub mod rng;
pub mod targets;

pub use harness::{run, Failure, Limits, Report};
pub use targets::{all, by_name, Target};

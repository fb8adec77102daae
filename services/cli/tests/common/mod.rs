//! The `presage` binary run as a user runs it, shared by the CLI's test files.

// Each test file uses the helpers it needs; the others are not dead code.
#![allow(dead_code)]

use std::process::{Command, Output};

pub fn presage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presage"))
        .args(args)
        .output()
        .expect("run presage")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The shipped templates.
pub fn templates_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates").to_string()
}

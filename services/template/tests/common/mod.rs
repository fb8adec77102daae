//! What the template's position tests share: snippets written one line per array element (so
//! an element's index + 1 is its line number), parsed as `t.yaml`, and checks of where an error
//! is reported and what it says.

#![allow(dead_code)] // each test file uses its own part

use presage_template::{parse, TemplateError};

/// The lines as a template's text, one per element.
pub fn doc(lines: &[&str]) -> String {
    lines.join("\n") + "\n"
}

/// Every error of a template that must be refused.
pub fn errors(lines: &[&str]) -> Vec<TemplateError> {
    match parse(&doc(lines), "t.yaml") {
        Ok(t) => panic!("accepted a bad template: {t:#?}"),
        Err(e) => e.errors,
    }
}

/// The one error of a template that must be refused for exactly one mistake.
pub fn one(lines: &[&str]) -> TemplateError {
    let mut all = errors(lines);
    assert_eq!(all.len(), 1, "expected exactly one error, got {all:#?}");
    all.remove(0)
}

/// The error is at `line`:`column` and its message contains each of `parts`.
#[track_caller]
pub fn check(e: &TemplateError, line: usize, column: usize, parts: &[&str]) {
    assert_eq!((e.line, e.column), (line, column), "position of: {e}");
    for part in parts {
        assert!(e.message.contains(part), "{e}\n  should contain: {part}");
    }
}

/// Where each error is.
#[track_caller]
pub fn positions(all: &[TemplateError]) -> Vec<(usize, usize)> {
    all.iter().map(|e| (e.line, e.column)).collect()
}

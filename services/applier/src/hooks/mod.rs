//! Hooks apply a directive to the running application.

mod file;
mod http;
mod process;

pub use file::apply_file_hook;
pub use http::apply_http_hook;

use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::{ConfigurationHook, HookKind, Template};

/// Applies `directive` through `hook` and says what became of it. Never panics on bad input:
/// every failure is an outcome with a reason.
pub fn apply(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    now_ms: i64,
) -> ApplyOutcome {
    match hook.kind {
        HookKind::File => apply_file_hook(template, hook, directive, now_ms),
        HookKind::Http => apply_http_hook(template, hook, directive, now_ms),
    }
}

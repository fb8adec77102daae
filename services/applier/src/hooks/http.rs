//! The HTTP hook: POSTs the directive to the application's endpoint, after checking the rules
//! against the state the directive would produce.

use std::time::{Duration, Instant};

use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::{ConfigurationHook, Template};

use crate::outcome::{outcome, Details, Status};
use crate::plan::{check_rules, plan_change};

pub fn apply_http_hook(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    now_ms: i64,
) -> ApplyOutcome {
    let done = |status, reason: Option<String>| {
        outcome(
            directive,
            &hook.name,
            status,
            Details {
                reason,
                config_path: hook.url.clone(),
                backup_path: None,
            },
            now_ms,
        )
    };
    let Some(url) = hook.url.as_deref() else {
        return done(Status::Failed, Some("http hook has no url".into()));
    };
    let candidate = plan_change(None, template, hook, directive);
    let violations = check_rules(&candidate, template);
    if !violations.is_empty() {
        return done(Status::Rejected, Some(violations.join("; ")));
    }
    let body = serde_json::json!({
        "app": directive.app,
        "resource": directive.resource,
        "target": directive.target,
        "directive_id": directive.event_id,
        "effective_at_ms": directive.effective_at_ms,
    });
    match ureq::post(url)
        .timeout(Duration::from_secs(10))
        .send_json(body)
    {
        Ok(_) => done(Status::Applied, None),
        Err(ureq::Error::Status(code, _)) => {
            done(Status::Failed, Some(format!("POST {url}: HTTP {code}")))
        }
        Err(err) => done(Status::Failed, Some(format!("POST {url}: {err}"))),
    }
}

/// Polls `url` until it answers `expect` or `limit` passes.
pub fn wait_for_status(url: &str, expect: u16, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut last: String;
    loop {
        match ureq::get(url).timeout(Duration::from_secs(2)).call() {
            Ok(response) if response.status() == expect => return Ok(()),
            Ok(response) => last = format!("HTTP {}", response.status()),
            Err(ureq::Error::Status(code, _)) if code == expect => return Ok(()),
            Err(ureq::Error::Status(code, _)) => last = format!("HTTP {code}"),
            Err(err) => last = err.to_string(),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "GET {url}: expected HTTP {expect}, last got {last}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

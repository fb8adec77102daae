//! The HTTP hook: POSTs the directive to the application's endpoint, after checking the rules
//! against the state the directive would produce.

use std::time::{Duration, Instant};

use presage_events::{ApplyOutcome, MetadataFragment, ScalingDirective};
use presage_template::{ConfigurationHook, Template};

use super::grant::Granted;
use crate::outcome::Status;
use crate::plan::{check_rules, plan_change};
use crate::retry::{wait_before, Try};

pub fn apply_http_hook(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    post_directive(template, hook, directive, None, grant, now_ms)
}

/// POSTs the directive (tried again, with backoff, after a 5xx or a connection error), unless
/// `superseded` gives the reason it must not be.
pub(crate) fn post_directive(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    superseded: Option<String>,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    // An HTTP hook keeps no backup: every try's backup_path is None.
    let done = |t: Try, attempts: u32| super::finish(directive, hook, t, attempts, now_ms);
    if let Some(reason) = superseded {
        return done(Try::permanent(Status::Superseded, reason), 1);
    }
    let Some(url) = hook.url.as_deref() else {
        return done(
            Try::permanent(Status::Failed, "http hook has no url".into()),
            1,
        );
    };
    if let Err(reason) = grant.url(url) {
        return done(Try::permanent(Status::Rejected, reason), 1);
    }
    let candidate = plan_change(None, template, hook, directive);
    let violations = check_rules(&candidate, template);
    if !violations.is_empty() {
        return done(Try::permanent(Status::Rejected, violations.join("; ")), 1);
    }
    let policy = hook.retry();
    let mut attempt = 1;
    loop {
        let t = post_once(url, directive);
        match wait_before(&policy, &t, attempt + 1) {
            Some(wait) => {
                tracing::warn!(directive = %directive.event_id, hook = %hook.name, attempt, reason = ?t.reason, wait_ms = wait.as_millis() as u64, "POST failed; trying again");
                std::thread::sleep(wait);
                attempt += 1;
            }
            None => return done(t, attempt),
        }
    }
}

/// One POST. A 5xx or no answer may pass later; any other refusal (a 4xx) would be repeated.
/// Reasons name the URL without its credentials.
fn post_once(url: &str, directive: &ScalingDirective) -> Try {
    let shown = presage_events::redact_url(url);
    // Every target of the decision; `resource`/`target` repeat the first for simple receivers.
    let targets: serde_json::Map<String, serde_json::Value> = if directive.targets.is_empty() {
        [(directive.resource.clone(), directive.target.into())]
            .into_iter()
            .collect()
    } else {
        directive
            .targets
            .iter()
            .map(|t| (t.resource.clone(), t.target.into()))
            .collect()
    };
    let body = serde_json::json!({
        "app": directive.app,
        "resource": directive.resource,
        "target": directive.target,
        "targets": targets,
        "directive_id": directive.event_id,
        "effective_at_ms": directive.effective_at_ms,
    });
    match ureq::post(url)
        .timeout(Duration::from_secs(10))
        .send_json(body)
    {
        Ok(_) => Try::applied(None),
        Err(ureq::Error::Status(code, _)) if code >= 500 => {
            Try::transient(Status::Failed, format!("POST {shown}: HTTP {code}"), None)
        }
        Err(ureq::Error::Status(code, _)) => {
            Try::permanent(Status::Failed, format!("POST {shown}: HTTP {code}"))
        }
        Err(err) => Try::transient(
            Status::Failed,
            format!("POST {shown}: {}", transport_error(&err)),
            None,
        ),
    }
}

/// A metadata fragment at an HTTP hook: not sent, recorded as `failed` with the reason.
///
/// Why not POST it the way directives are POSTed: an `http` hook's URL is, by the template's
/// contract, where directives are POSTed, and what it receives is a resource and a target
/// (`{"app", "resource", "target", "directive_id", "effective_at_ms"}`), the body of a scale
/// call. A fragment has neither; it is a patch to a configuration document, which is what a
/// `file` hook holds. Sending it would either be refused by a strict endpoint or, worse,
/// answered 200 by a lenient one that ignored it, and recorded as `applied` though nothing
/// changed. Saying plainly that it was not sent is the honest outcome; an application that
/// wants fragments over HTTP needs a hook kind whose contract is a configuration patch.
/// The outcome is `failed` (the hook did not take the change), not `rejected` (which means the
/// change itself is bad); the live state is untouched either way.
pub fn fragment_at_http_hook(
    hook: &ConfigurationHook,
    fragment: &MetadataFragment,
    now_ms: i64,
) -> ApplyOutcome {
    let reason = format!(
        "http hook `{}` takes scaling directives (a resource and a target); a metadata \
         fragment is a configuration patch and has no meaning there, so it was not sent",
        hook.name
    );
    super::finish(
        fragment,
        hook,
        Try::permanent(Status::Failed, reason),
        1,
        now_ms,
    )
}

/// What went wrong reaching a server, without the URL (ureq's own message carries it whole,
/// credentials included).
fn transport_error(err: &ureq::Error) -> String {
    // Its message may still quote a URL (a redirect's target, say).
    presage_events::redact_text(&match err {
        ureq::Error::Status(code, _) => format!("HTTP {code}"),
        ureq::Error::Transport(t) => match t.message() {
            Some(message) => format!("{}: {message}", t.kind()),
            None => t.kind().to_string(),
        },
    })
}

/// Polls `url` (which must be granted) until it answers `expect` or `limit` passes.
pub fn wait_for_status(
    url: &str,
    expect: u16,
    limit: Duration,
    grant: &Granted,
) -> Result<(), String> {
    grant.url(url)?;
    let shown = presage_events::redact_url(url);
    let deadline = Instant::now() + limit;
    let mut last: String;
    loop {
        match ureq::get(url).timeout(Duration::from_secs(2)).call() {
            Ok(response) if response.status() == expect => return Ok(()),
            Ok(response) => last = format!("HTTP {}", response.status()),
            Err(ureq::Error::Status(code, _)) if code == expect => return Ok(()),
            Err(ureq::Error::Status(code, _)) => last = format!("HTTP {code}"),
            Err(err) => last = transport_error(&err),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "GET {shown}: expected HTTP {expect}, last got {last}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

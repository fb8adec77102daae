//! The http hook: the application's configuration, read and written over HTTP, with the same
//! shadow discipline as the file and command hooks.
//!
//! One try: `GET` the current configuration (`http.read`, else `url`); merge the change (a
//! directive's targets at the hook's `keys`, or a metadata fragment) into a copy; check the
//! template's rules on that copy (the application's real configuration, not the bootstrap);
//! send the candidate to `test.http` (`POST`) until it answers `expect` within `within`; send
//! the change to `url` with `http.method` (`PUT` by default; `POST` the whole candidate too;
//! `PATCH` only the change, as a JSON merge patch), the hook's headers and credentials; check
//! (`http.check.url` answers `expect` within `within`, else the configuration read back holds
//! the change); on a failing check, or a send whose effect is unknown, send the previous state
//! back. Tries are repeated as the hook's `retry` says: a 5xx or no connection may pass later,
//! a 4xx, a rule or a grant never. One outcome.
//!
//! Authority: every URL the hook reaches and the secret it sends are checked against the
//! operator's grant before the first request (the whole hook, [`super::refused`]) and again
//! right before each request ([`client::Client`]).
//!
//! Crash semantics. Without a `state_dir` the application's configuration is the only state:
//! after SIGKILL mid-change the input, whose outcome was not published, is applied again from a
//! fresh read: killed before the send, nothing changed; after the send, the replay finds the
//! change in force, sends nothing and checks it; during a rollback (or with a check that would
//! fail), the replay finds the change in force and no longer knows the state before it, so the
//! change stays (`failed`, or `applied` if the check now passes). With a `state_dir` the hook
//! journals, before the send, the configuration it read and the change (under the hook's lock,
//! with the command hook's journal, see [`crate::journal`]), and `rolling_back` before the
//! previous configuration is sent back; a restart (or the replayed input) converges an intent
//! found there as [`crash`] says: checked again and rolled back if the check fails, a rollback
//! sent again. Both are proven with SIGKILL by `integration/tests/http_hook_crash.rs`.

mod change;
mod client;
mod crash;

use std::time::{Duration, Instant};

use presage_events::{ApplyOutcome, ScalingDirective};
use presage_template::{ConfigurationHook, Template};
use serde_json::Value;

use super::files::Beside;
use super::flow::{self, Recorder};
use super::grant::Granted;
use crate::outcome::{Input, Status};
use crate::plan::{check_rules, directive_patch, plan_patch};
use crate::retry::{wait_before, Try};
use client::{Client, Failure};

/// How long a test or check waits for its answer when the hook gives no `within`.
const DEFAULT_WITHIN: Duration = Duration::from_secs(10);

/// A directive through an http hook (see [`apply_change`]).
pub fn apply_http_hook(
    template: &Template,
    hook: &ConfigurationHook,
    directive: &ScalingDirective,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    let patch = directive_patch(hook, directive);
    apply_change(
        template,
        hook,
        directive.into(),
        &patch,
        None,
        grant,
        now_ms,
    )
}

/// Any change, given as a patch, through an http hook, tried again as the hook's `retry` says,
/// unless `superseded` gives the reason it must not be.
pub(crate) fn apply_change(
    template: &Template,
    hook: &ConfigurationHook,
    input: Input,
    patch: &Value,
    superseded: Option<String>,
    grant: &Granted,
    now_ms: i64,
) -> ApplyOutcome {
    let done = |t: Try, attempts: u32| super::finish(input.clone(), hook, t, attempts, now_ms);
    if let Some(base) = hook.state_base(&input.app) {
        let beside = match Beside::granted(&base, grant) {
            Ok(beside) => beside,
            Err(reason) => return done(Try::permanent(Status::Rejected, reason), 1),
        };
        return flow::run(
            &beside,
            hook,
            input.clone(),
            superseded,
            now_ms,
            |journal, intent| crash::converge(hook, &beside, journal, intent, grant),
            |input, attempt, journal| {
                let recorder = Recorder::journaled(&beside, journal, input, &hook.name, attempt);
                try_once(template, hook, patch, grant, recorder)
            },
        );
    }
    if let Some(reason) = superseded {
        return done(Try::permanent(Status::Superseded, reason), 1);
    }
    let policy = hook.retry();
    let mut attempt = 1;
    loop {
        let t = try_once(
            template,
            hook,
            patch,
            grant,
            Recorder::none(&input, &hook.name),
        );
        match wait_before(&policy, &t, attempt + 1) {
            Some(wait) => {
                tracing::warn!(input = %input.event_id, hook = %hook.name, attempt, status = t.status.as_str(), reason = ?t.reason, wait_ms = wait.as_millis() as u64, "http hook try failed; trying again");
                std::thread::sleep(wait);
                attempt += 1;
            }
            None => return done(t, attempt),
        }
    }
}

/// Converges, at start, an http hook's change a crash interrupted (a hook with a `state_dir`).
pub(crate) fn recover(template: &Template, hook: &ConfigurationHook, grant: &Granted, now_ms: i64) {
    let Some(base) = hook.state_base(&template.app) else {
        return;
    };
    match Beside::granted(&base, grant) {
        Ok(beside) => flow::recover_at(&beside, hook, now_ms, |journal, intent| {
            crash::converge(hook, &beside, journal, intent, grant)
        }),
        Err(reason) => {
            tracing::error!(hook = %hook.name, %reason, "could not recover the http hook")
        }
    }
}

/// One try of the flow the module describes; `recorder` journals the change (a hook with a
/// `state_dir`) before it is sent and the rollback before it is.
fn try_once(
    template: &Template,
    hook: &ConfigurationHook,
    patch: &Value,
    grant: &Granted,
    mut recorder: Recorder,
) -> Try {
    let Some(url) = hook.url.as_deref() else {
        return Try::permanent(Status::Failed, "http hook has no url".into());
    };
    let settings = hook.http_settings();
    let client = match Client::new(hook, &settings, grant) {
        Ok(client) => client,
        Err(failure) => return failed_before_change(failure),
    };
    let read_url = settings.read.as_deref().unwrap_or(url);
    let current = match client.get_json(read_url) {
        Ok(current) => current,
        Err(failure) => return failed_before_change(failure),
    };
    let candidate = plan_patch(Some(&current), template, patch);
    let violations = check_rules(&candidate, template);
    if !violations.is_empty() {
        return Try::permanent(Status::Rejected, violations.join("; "));
    }
    let already = candidate == current;
    if !already {
        if let Some(test) = &hook.test {
            if let Some(test_url) = test.http.as_deref() {
                let expect = test.expect.unwrap_or(200);
                let within = test.within.map_or(DEFAULT_WITHIN, |d| d.as_std());
                if let Err(why) =
                    client.until_status("POST", test_url, Some(&candidate), expect, within)
                {
                    let reason = format!("test failed, nothing sent: {why}");
                    return Try::transient(Status::Failed, reason, None);
                }
            }
        }
        let method = settings.method();
        let body = if method == "PATCH" { patch } else { &candidate };
        let sent = crash::Sent {
            document: candidate.clone(),
            change: patch.clone(),
            method: method.to_string(),
        };
        let sent = serde_json::to_string(&sent).unwrap_or_default();
        if let Err(why) = recorder.begin(url, current.to_string(), sent) {
            return Try::transient(Status::Failed, format!("{why}; nothing sent"), None);
        }
        match client.send(method, url, body) {
            Ok(()) => {}
            Err(Failure::Unknown(why)) => {
                let reason = format!("sending the change: {why}");
                recorder.rolling_back(&reason);
                return roll_back(&client, method, url, patch, &current, reason);
            }
            Err(failure) => return failed_before_change(failure),
        }
    }
    if let Err(why) = check(&client, &settings, read_url, patch) {
        if already {
            // Found in force (sent by an earlier try this process no longer knows of, or by
            // someone else): the state before it is not known here, so nothing is put back.
            let reason = format!(
                "the change was already in force and its check failed: {why}; the previous \
                 configuration is not known, so it was not rolled back"
            );
            return Try::permanent(Status::Failed, reason);
        }
        let reason = format!("check after the change failed: {why}");
        let method = settings.method();
        recorder.rolling_back(&reason);
        return roll_back(&client, method, url, patch, &current, reason);
    }
    Try::applied(None)
}

/// A failure before anything was sent: the live configuration is untouched.
fn failed_before_change(failure: Failure) -> Try {
    match failure {
        Failure::Permanent(reason) => Try::permanent(Status::Failed, reason),
        Failure::Transient(reason) | Failure::Unknown(reason) => {
            Try::transient(Status::Failed, reason, None)
        }
    }
}

/// The check after the change: the hook's check URL answers as expected within its time, or
/// else the configuration read back holds every value the change set.
fn check(
    client: &Client,
    settings: &presage_template::http_hook::HttpHook,
    read_url: &str,
    patch: &Value,
) -> Result<(), String> {
    if let Some(check) = &settings.check {
        let expect = check.expect.unwrap_or(200);
        let within = check.within.map_or(DEFAULT_WITHIN, |d| d.as_std());
        return client.until_status("GET", &check.url, None, expect, within);
    }
    let read_back = client
        .get_json(read_url)
        .map_err(|f| format!("reading the configuration back: {}", f.reason()))?;
    if change::holds(&read_back, patch) {
        Ok(())
    } else {
        let shown = presage_events::redact_url(read_url);
        Err(format!(
            "the configuration read back from {shown} does not hold the change"
        ))
    }
}

/// Sends the previous state back the way the change was sent: the whole previous document, or
/// for `PATCH` the merge patch that undoes the change.
fn roll_back(
    client: &Client,
    method: &str,
    url: &str,
    patch: &Value,
    previous: &Value,
    reason: String,
) -> Try {
    let body = if method == "PATCH" {
        change::undo_patch(patch, previous)
    } else {
        previous.clone()
    };
    match client.send(method, url, &body) {
        Ok(()) => Try::transient(
            Status::RolledBack,
            format!("{reason}; previous configuration restored"),
            None,
        ),
        Err(failure) => Try::transient(
            Status::Failed,
            format!("{reason}; ROLLBACK FAILED: {}", failure.reason()),
            None,
        ),
    }
}

/// What went wrong reaching a server, without the URL (ureq's own message carries it whole,
/// credentials included).
fn transport_error(err: &ureq::Error) -> String {
    // Its message may still quote a URL (a redirect's target, say).
    presage_events::redact_text(&match err {
        ureq::Error::Status(code, _) => format!("HTTP {code}"),
        ureq::Error::Transport(t) => transport_text(t),
    })
}

/// A request that got no answer, in words: its kind, ureq's message and the causes below it (a
/// refused TLS handshake says "certificate verify failed … self-signed certificate" only there).
/// Not yet redacted.
pub(super) fn transport_text(t: &ureq::Transport) -> String {
    let mut text = match t.message() {
        Some(message) => format!("{}: {message}", t.kind()),
        None => t.kind().to_string(),
    };
    let mut cause = std::error::Error::source(t);
    while let Some(err) = cause {
        let said = err.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = err.source();
    }
    text
}

/// Polls `url` (which must be granted) until it answers `expect` or `limit` passes: a file
/// hook's `test.http` after its swap.
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
    // https through the system OpenSSL; a redirect is not followed, so the probe stays on the
    // granted URL.
    let agent = presage_runner::https::agent_builder()
        .redirects(0)
        .timeout(Duration::from_secs(2))
        .build();
    loop {
        match agent.get(url).call() {
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

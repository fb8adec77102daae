//! Carrying out directives' plans on the wall clock: which plan of an app is pending, which of
//! its steps are due, what a due step sets, and which offset of the directives topic must not
//! be committed while a plan is pending. Pure; the binary's directive loop calls it from its
//! input and idle callbacks and applies the due steps through the same hooks as a directive.
//!
//! What a plan means is [`presage_events::plan`]'s, shared with the backtest: a directive sets
//! its issued targets when issued; each step sets [`ScalingDirective::targets_at`] its due time
//! from then on; the next directive of the app supersedes every step not yet due. Here:
//!
//! - One plan per app is pending: the newest live directive's (by issue time; a directive
//!   issued before the pending one arrives late and supersedes nothing).
//! - A step is carried out when due, as a directive of its own ([`step_directive`]) whose id
//!   comes from the plan's directive id and the step's due time ([`step_id`]), so a replay
//!   or a restart finds the outcome already published (or journaled) and never records it again
//!   with other content. Its decision time is the plan's (`issued_at_ms`): a step does not make
//!   a directive issued after the plan but before the step look old.
//! - Directives state targets, not changes: when several steps are due at once (the directive
//!   arrived late, or the applier was down), only the latest is carried out; the earlier ones
//!   are skipped (logged, no outcome).
//! - A step due at or before the next directive's issue time takes effect, even if it was not
//!   handed out yet when that directive arrived (the applier was down, or both came in one
//!   batch): it is carried out just before the directive ([`PendingPlans::due_before`]), so a
//!   resource the directive does not name keeps the step's target, as the shared schedule says.
//! - A step is handed out by the wall clock ([`PendingPlans::due`]) only once its partition has
//!   caught up ([`PendingPlans::caught_up`]: every directive on it when it was assigned was
//!   read). A restarted applier reads its held directives again, and the wall clock runs between
//!   batches: without this, a re-read plan's step could fall due and be applied before a later
//!   directive already on the topic, issued before that due time and so superseding the step,
//!   was read (a wrong setting in between, an extra outcome, and a resource the later directive
//!   does not name left at the step's target).
//! - Steps never carried out (superseded before they were due, or skipped) have no outcome on
//!   `presage.applied`; the binary logs them with structured fields.
//! - A pending plan holds its directive's offset uncommitted ([`PendingPlans::hold`]): after a
//!   crash the directive is read again, and with it every later directive of the partition,
//!   already applied; the hold's metadata says since when, so the restarted applier reads
//!   `presage.applied` back at least that far ([`read_back_span`]) and recognises them all.

use std::collections::{HashMap, HashSet};

use presage_events::{event_id, ResourceTarget, ScalingDirective};

/// How much earlier than a directive's `issued_at_ms` the outcomes of the records after it may
/// be stamped: the planner's and the applier's clocks differ (a directive stamped further ahead
/// is refused, see [`presage_events::time::too_far_ahead`]); generous on purpose.
pub const CLOCK_SLACK_MS: i64 = 3_600_000;

/// What a partition's checkpoint holds while a plan is pending: the offset of the earliest
/// pending plan's directive, and the earliest issue time of the plans held (every record after
/// that offset was applied after it, give or take [`CLOCK_SLACK_MS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub offset: i64,
    pub since_ms: i64,
}

impl Hold {
    /// The checkpoint metadata for this hold.
    pub fn metadata(&self) -> String {
        format!("plan-hold offset={} since={}", self.offset, self.since_ms)
    }

    /// The hold a checkpoint's metadata records; `None` for any other text (no hold, or a
    /// stage version that wrote none).
    pub fn parse(metadata: &str) -> Option<Hold> {
        let rest = metadata.strip_prefix("plan-hold ")?;
        let mut offset = None;
        let mut since_ms = None;
        for field in rest.split(' ') {
            match field.split_once('=')? {
                ("offset", v) => offset = v.parse().ok(),
                ("since", v) => since_ms = v.parse().ok(),
                _ => return None,
            }
        }
        Some(Hold {
            offset: offset?,
            since_ms: since_ms?,
        })
    }
}

/// How far back to read `presage.applied` when a partition is restored at `resume_offset` with
/// checkpoint `metadata`, at `now_ms`: `default_ms`, or, if the resume offset is a plan's hold,
/// back to the hold's start (less [`CLOCK_SLACK_MS`]) when that is further, so every directive
/// read again is known applied. A hold recorded at an earlier offset than the one resumed from
/// was released since (the runner keeps the last metadata written): the default.
pub fn read_back_span(metadata: &str, resume_offset: i64, now_ms: i64, default_ms: i64) -> i64 {
    match Hold::parse(metadata) {
        Some(hold) if hold.offset >= resume_offset => {
            default_ms.max(now_ms.saturating_sub(hold.since_ms) + CLOCK_SLACK_MS)
        }
        _ => default_ms,
    }
}

/// The id of the step of directive `directive_id` due at `due_at_ms`, as an input of the
/// hooks: its outcomes' ids are [`crate::outcome_id`] of it.
pub fn step_id(directive_id: &str, due_at_ms: i64) -> String {
    event_id(&["plan-step", directive_id, &due_at_ms.to_string()])
}

/// The step of `directive`'s plan due at `due_at_ms` as a directive of its own: every target in
/// force then ([`ScalingDirective::targets_at`]), decided when the plan was (`issued_at_ms`),
/// with the plan's directive first in its lineage. Deterministic: the same directive and due
/// time give the same step.
pub fn step_directive(directive: &ScalingDirective, due_at_ms: i64) -> ScalingDirective {
    let steps: Vec<_> = directive
        .valid_steps()
        .filter(|step| step.due_at_ms == due_at_ms)
        .collect();
    let forecast_of = |resource: &str| {
        steps
            .iter()
            .flat_map(|step| &step.targets)
            .rfind(|planned| planned.resource == resource)
            .map(|planned| planned.forecast_value)
    };
    let targets: Vec<ResourceTarget> = directive
        .targets_at(due_at_ms)
        .into_iter()
        .map(|(resource, target)| {
            let issued = directive.targets.iter().find(|t| t.resource == resource);
            let forecast_value = forecast_of(&resource)
                .or(issued.map(|t| t.forecast_value))
                .unwrap_or(directive.forecast_value);
            ResourceTarget {
                reason: format!(
                    "plan step due at {due_at_ms} of directive {}",
                    directive.event_id
                ),
                policy: issued.map_or_else(|| directive.policy.clone(), |t| t.policy.clone()),
                resource,
                target,
                previous_target: None,
                forecast_value,
                at_max: false,
            }
        })
        .collect();
    let first = targets.first().cloned().unwrap_or_default();
    let mut lineage = vec![directive.event_id.clone()];
    lineage.extend(directive.lineage.iter().cloned());
    ScalingDirective {
        event_id: step_id(&directive.event_id, due_at_ms),
        app: directive.app.clone(),
        template_version: directive.template_version.clone(),
        resource: first.resource.clone(),
        target: first.target,
        previous_target: None,
        forecast_value: first.forecast_value,
        effective_at_ms: steps
            .iter()
            .map(|step| step.effective_at_ms)
            .max()
            .unwrap_or(due_at_ms),
        issued_at_ms: directive.issued_at_ms,
        policy: directive.policy.clone(),
        reason: first.reason.clone(),
        lineage,
        mode: directive.mode.clone(),
        targets,
        forecast_id: directive.forecast_id.clone(),
        model: directive.model.clone(),
        model_score: directive.model_score,
        cold_start: directive.cold_start,
        fallback: directive.fallback,
        plan: Vec::new(),
    }
}

/// The due times of `directive`'s steps that are carried out at all: those
/// [`ScalingDirective::valid_steps`] counts (after its issue, and at most
/// [`presage_events::plan::MAX_AHEAD_MS`] after it, so a malformed plan cannot hold the
/// directive's offset for years); ascending, without repeats.
pub fn carried_dues(directive: &ScalingDirective) -> Vec<i64> {
    let mut dues: Vec<i64> = directive.valid_steps().map(|step| step.due_at_ms).collect();
    dues.sort_unstable();
    dues.dedup();
    dues
}

/// Hands out `pending`'s latest step due at or before `at_ms`, the earlier due ones skipped.
fn take_due(pending: &mut Pending, at_ms: i64) -> Option<DueStep> {
    let reached = pending.dues.partition_point(|d| *d <= at_ms);
    let passed: Vec<i64> = pending.dues.drain(..reached).collect();
    let (&latest, skipped) = passed.split_last()?;
    Some(DueStep {
        step: step_directive(&pending.directive, latest),
        plan_of: pending.directive.event_id.clone(),
        due_at_ms: latest,
        skipped: skipped.to_vec(),
    })
}

/// One app's pending plan.
#[derive(Debug, Clone)]
struct Pending {
    directive: ScalingDirective,
    partition: i32,
    offset: i64,
    /// Due times still to be carried out, ascending. Empty once the last step was handed out:
    /// its outcome may not be on the topic yet, so the directive's offset stays held until
    /// [`PendingPlans::confirm`] (the runner calls the stage again only once the outputs of
    /// its previous call were acknowledged).
    dues: Vec<i64>,
}

/// A step due now, to be applied: the step as a directive ([`step_directive`]), the plan's
/// directive id, its due time, and the earlier due times it makes moot.
#[derive(Debug, Clone, PartialEq)]
pub struct DueStep {
    pub step: ScalingDirective,
    pub plan_of: String,
    pub due_at_ms: i64,
    pub skipped: Vec<i64>,
}

/// What a directive's arrival did to its app's plans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrival {
    /// The directive's own plan has steps to carry out and is pending now.
    pub pending: bool,
    /// The plan it superseded, with the due times of the steps that will never be carried out.
    pub replaced: Option<Replaced>,
    /// The directive was issued before the app's pending plan (that plan's directive id): it
    /// supersedes nothing and its own plan is not carried out.
    pub late_behind: Option<String>,
}

/// A plan superseded before some of its steps fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub directive_id: String,
    pub issued_at_ms: i64,
    pub never_due: Vec<i64>,
}

/// Every app's pending plan in the partitions this loop reads.
#[derive(Debug, Default)]
pub struct PendingPlans {
    by_app: HashMap<String, Pending>,
    /// The partitions read to their end since they were assigned: their plans' steps may be
    /// handed out by the wall clock.
    caught_up: HashSet<i32>,
}

impl PendingPlans {
    /// The runner called again: every step handed out before was delivered. Plans with no
    /// step left are done, and their directives' offsets no longer held.
    pub fn confirm(&mut self) {
        self.by_app.retain(|_, pending| !pending.dues.is_empty());
    }

    /// A live directive of an app this applier serves arrived (in partition order) from
    /// `partition` at `offset`, and was not superseded by a newer applied one.
    pub fn arrive(&mut self, directive: &ScalingDirective, partition: i32, offset: i64) -> Arrival {
        if let Some(pending) = self.by_app.get(&directive.app) {
            if directive.issued_at_ms < pending.directive.issued_at_ms {
                return Arrival {
                    late_behind: Some(pending.directive.event_id.clone()),
                    ..Arrival::default()
                };
            }
        }
        let replaced = self
            .by_app
            .remove(&directive.app)
            .map(|previous| Replaced {
                directive_id: previous.directive.event_id.clone(),
                issued_at_ms: previous.directive.issued_at_ms,
                never_due: previous.dues.clone(),
            })
            .filter(|replaced| !replaced.never_due.is_empty());
        let dues = carried_dues(directive);
        let pending = !dues.is_empty();
        if pending {
            self.by_app.insert(
                directive.app.clone(),
                Pending {
                    directive: directive.clone(),
                    partition,
                    offset,
                    dues,
                },
            );
        }
        Arrival {
            pending,
            replaced,
            late_behind: None,
        }
    }

    /// Before `directive` (live, of an app served here) is applied: the step of its app's
    /// pending plan to carry out first, the latest due at or before the directive's issue
    /// time and not yet handed out (earlier ones are skipped). The shared schedule has that
    /// step take effect (a step due at the very issue instant too, the directive then
    /// overriding the resources it names), so it must be applied even when it was overdue when
    /// the directive arrived (the applier was down, or both came in one batch): a resource the
    /// directive does not name keeps the step's target. `None` when nothing is overdue, or the
    /// directive was issued before the pending plan (it supersedes nothing).
    pub fn due_before(&mut self, directive: &ScalingDirective) -> Option<DueStep> {
        let pending = self.by_app.get_mut(&directive.app)?;
        if directive.issued_at_ms < pending.directive.issued_at_ms {
            return None;
        }
        take_due(pending, directive.issued_at_ms)
    }

    /// Every directive that was on `partition` when it was assigned has been read: the steps of
    /// its plans may be handed out by the wall clock from now on ([`PendingPlans::due`]).
    pub fn caught_up(&mut self, partition: i32) {
        self.caught_up.insert(partition);
    }

    /// The step of each pending plan to carry out at `now_ms`: the latest due at or before it
    /// (earlier due ones are skipped: targets, not changes), marked handed out. Only plans of
    /// partitions that have caught up: until then a later directive already on the partition,
    /// not read yet, may supersede the step (it is then handed out before that directive, by
    /// [`PendingPlans::due_before`], or never, as the shared schedule says).
    pub fn due(&mut self, now_ms: i64) -> Vec<DueStep> {
        let mut due: Vec<DueStep> = Vec::new();
        for pending in self.by_app.values_mut() {
            // A directive handed over without a position (partition -1) is never read again.
            if pending.partition < 0 || self.caught_up.contains(&pending.partition) {
                due.extend(take_due(pending, now_ms));
            }
        }
        // Stable order (by due time, then app) so outcomes of one tick are produced alike.
        due.sort_by(|a, b| (a.due_at_ms, &a.step.app).cmp(&(b.due_at_ms, &b.step.app)));
        due
    }

    /// Drops `app`'s pending plan (its steps were found superseded); the due times it had left.
    pub fn drop_app(&mut self, app: &str) -> Vec<i64> {
        self.by_app
            .remove(app)
            .map(|pending| pending.dues)
            .unwrap_or_default()
    }

    /// The lowest offset of `partition` whose directive's plan is still pending (or whose last
    /// step's outcome is in flight), committed no further so that after a crash the directive is
    /// read again and its plan carried on; with the earliest issue time of the plans held.
    pub fn hold(&self, partition: i32) -> Option<Hold> {
        let held = || {
            self.by_app
                .values()
                .filter(move |pending| pending.partition == partition)
        };
        Some(Hold {
            offset: held().map(|pending| pending.offset).min()?,
            since_ms: held().map(|pending| pending.directive.issued_at_ms).min()?,
        })
    }

    /// The first instant a pending step of `app` falls due.
    pub fn next_due(&self, app: &str) -> Option<i64> {
        self.by_app
            .get(app)
            .and_then(|pending| pending.dues.first().copied())
    }

    /// The partition was revoked: its plans are its next owner's (read again from the held
    /// offsets); if it comes back, it catches up again first. The apps whose plans were dropped.
    pub fn forget_partition(&mut self, partition: i32) -> Vec<String> {
        self.caught_up.remove(&partition);
        let apps: Vec<String> = self
            .by_app
            .iter()
            .filter(|(_, pending)| pending.partition == partition)
            .map(|(app, _)| app.clone())
            .collect();
        for app in &apps {
            self.by_app.remove(app);
        }
        apps
    }
}

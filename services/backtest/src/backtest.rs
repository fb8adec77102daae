//! A backtest: every template set replays the same samples; each live policy of the first set
//! becomes a series scored with the policies of every set on its app and resource, the reactive
//! baseline and the oracle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use presage_events::ScalingDirective;
use presage_planner::{LIVE, SHADOW};
use presage_template::{ScalingPolicy, Template};

use crate::baseline::{oracle, reactive};
use crate::capacity::{simulate, Action};
use crate::frontier::{frontier, FrontierInput, Scoring};
use crate::replay::{Keyed, Pipeline, ReplayError, Replayed, TemplateSet};
use crate::report::{
    BusySeconds, Contender, ContenderKind, DemandStep, DirectiveRecord, Frontier, Report,
    SeriesReport, TargetRecord,
};
use crate::score::score;
use crate::trace::Trace;

pub const REACTIVE: &str = "reactive (HPA)";
pub const ORACLE: &str = "oracle";

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The first part of the trace only feeds history (forecasters start cold, as after a
    /// fresh install); scores cover what follows.
    pub warmup_ms: i64,
    /// Apps are independent (their windows, series and policies share nothing), so they are
    /// replayed on this many threads, each app on one; the result does not depend on it.
    pub threads: usize,
}

/// Where a replay is: the set being replayed (0-based), samples done of that set, and of all.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub set: usize,
    pub done: u64,
    pub total: u64,
}

/// The template for each app it covers: its own app if the trace has it, else every app of the
/// trace (a template written for one service, tried on others), renamed.
pub fn assign(template: &Template, trace_apps: &[String]) -> Vec<Arc<Template>> {
    if trace_apps.contains(&template.app) || trace_apps.is_empty() {
        return vec![Arc::new(template.clone())];
    }
    trace_apps
        .iter()
        .map(|app| {
            Arc::new(Template {
                app: app.clone(),
                ..template.clone()
            })
        })
        .collect()
}

/// Replays the trace through every set and scores the first set's live policies.
pub fn run(
    sets: &[TemplateSet],
    trace: &Trace,
    source: &str,
    options: Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, ReplayError> {
    run_at_slo(sets, trace, source, options, None, progress)
}

/// [`run`], and with `slo_pct` (under-provisioned time, in %) each series' frontier: the
/// cheapest setting of each contender that meets it (see [`crate::frontier`]).
pub fn run_at_slo(
    sets: &[TemplateSet],
    trace: &Trace,
    source: &str,
    options: Options,
    slo_pct: Option<f64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, ReplayError> {
    let mut replaying = std::time::Duration::ZERO;
    let total = trace.samples.len() as u64 * sets.len() as u64;
    let app_of = app_indices(trace);
    let threads = options.threads.max(1);
    let mut replays = Vec::with_capacity(sets.len());
    for (index, set) in sets.iter().enumerate() {
        let base = index as u64 * trace.samples.len() as u64;
        let done = AtomicU64::new(0);
        let started = Instant::now();
        let replay = std::thread::scope(|scope| {
            let workers: Vec<_> = groups(set, &trace.apps, threads)
                .into_iter()
                .enumerate()
                .map(|(i, group)| {
                    // Every thread walks the whole trace: the first one's walk is the progress.
                    let (app_of, done) = (&app_of, (i == 0).then_some(&done));
                    // Only the first set's policies have frontiers.
                    let recording = slo_pct.is_some() && index == 0;
                    scope.spawn(move || {
                        let replayed = replay_group(group, trace, app_of, done, recording);
                        (replayed, Instant::now())
                    })
                })
                .collect();
            while !workers.iter().all(|w| w.is_finished()) {
                progress(Progress {
                    set: index,
                    done: base + done.load(Ordering::Relaxed),
                    total,
                });
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let mut merged = Replayed::default();
            let mut finished = started;
            for worker in workers {
                let (replay, at) = worker.join().expect("a replay thread panicked");
                merged.merge(replay?);
                finished = finished.max(at);
            }
            // The replay's time, not the progress polling's.
            replaying += finished - started;
            Ok::<_, ReplayError>(merged)
        })?;
        replays.push(replay);
        progress(Progress {
            set: index,
            done: base + trace.samples.len() as u64,
            total,
        });
    }
    let elapsed = replaying;

    let from_ms = trace.from_ms().unwrap_or(0);
    let to_ms = trace.to_ms().unwrap_or(0);
    let scored_from_ms = from_ms.saturating_add(options.warmup_ms.max(0));
    // Every live policy of the first set is a series; they are scored on the replay threads too.
    let wanted: Vec<(&Arc<Template>, &ScalingPolicy)> = sets
        .first()
        .map_or(&[][..], |s| &s.templates[..])
        .iter()
        .flat_map(|t| {
            t.dynamic_metadata
                .scaling_policies
                .iter()
                .filter(|p| !p.shadow)
                .map(move |p| (t, p))
        })
        .collect();
    let chunk = wanted.len().div_ceil(threads).max(1);
    let series: Vec<SeriesReport> = std::thread::scope(|scope| {
        let workers: Vec<_> = wanted
            .chunks(chunk)
            .map(|part| {
                let replays = &replays;
                scope.spawn(move || {
                    part.iter()
                        .map(|(template, policy)| {
                            score_series(
                                template,
                                policy,
                                sets,
                                replays,
                                (from_ms, scored_from_ms),
                                slo_pct,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a scoring thread panicked"))
            .collect()
    });
    let directives = sets
        .iter()
        .zip(&replays)
        .flat_map(|(set, replay)| replay.directives.iter().map(|d| record(&set.name, d)))
        .collect();
    let samples = replays.iter().map(|r| r.samples).sum::<u64>();
    let busy = |f: fn(&Replayed) -> std::time::Duration| {
        replays.iter().map(|r| f(r).as_secs_f64()).sum::<f64>()
    };
    let busy_seconds = BusySeconds {
        recipes: busy(|r| r.busy.recipes),
        forecaster: busy(|r| r.busy.forecaster),
        planner: busy(|r| r.busy.planner),
    };
    let scored_to_ms = series
        .iter()
        .filter_map(|s| s.demand.last().map(|d| d.end_ms))
        .max()
        .unwrap_or(scored_from_ms);
    Ok(Report {
        scored_to_ms,
        derived: replays.iter().map(|r| r.derived).sum(),
        forecasts: replays.iter().map(|r| r.forecasts).sum(),
        dead_letters: replays.iter().map(|r| r.dead_letters).sum(),
        source: source.to_string(),
        samples: trace.samples.len() as u64,
        apps: trace.apps.clone(),
        from_ms,
        to_ms,
        scored_from_ms,
        elapsed_ms: elapsed.as_millis() as u64,
        samples_per_second: samples as f64 / elapsed.as_secs_f64().max(1e-9),
        busy_seconds,
        series,
        directives,
    })
}

/// Each sample's app as its index in the trace's app list (an app missing from the list gets
/// an index no template group holds, so its samples are skipped).
fn app_indices(trace: &Trace) -> Vec<u32> {
    let index: HashMap<&str, u32> = trace
        .apps
        .iter()
        .enumerate()
        .map(|(i, app)| (app.as_str(), i as u32))
        .collect();
    let unlisted = trace.apps.len() as u32;
    trace
        .samples
        .iter()
        .map(|s| index.get(s.app.as_str()).copied().unwrap_or(unlisted))
        .collect()
}

/// A set's templates split over `threads` groups, each holding the trace app indices it replays.
fn groups(
    set: &TemplateSet,
    trace_apps: &[String],
    threads: usize,
) -> Vec<(TemplateSet, Vec<bool>)> {
    let mut groups: Vec<(TemplateSet, Vec<bool>)> = (0..threads.min(set.templates.len()).max(1))
        .map(|_| {
            (
                TemplateSet {
                    templates: Vec::new(),
                    ..set.clone()
                },
                vec![false; trace_apps.len()],
            )
        })
        .collect();
    let count = groups.len();
    for (i, template) in set.templates.iter().enumerate() {
        let (group, apps) = &mut groups[i % count];
        group.templates.push(Arc::clone(template));
        if let Some(at) = trace_apps.iter().position(|a| *a == template.app) {
            apps[at] = true;
        }
    }
    groups
}

/// One thread's replay: the samples of its apps, in trace order.
fn replay_group(
    (set, apps): (TemplateSet, Vec<bool>),
    trace: &Trace,
    app_of: &[u32],
    done: Option<&AtomicU64>,
    recording: bool,
) -> Result<Replayed, ReplayError> {
    const EVERY: usize = 4096;
    let mut pipeline = Pipeline::new(&set)?;
    if recording {
        pipeline = pipeline.recording();
    }
    for (offset, (sample, app)) in trace.samples.iter().zip(app_of).enumerate() {
        if apps.get(*app as usize).copied().unwrap_or(false) {
            pipeline.push(sample, offset as i64);
        }
        if offset % EVERY == EVERY - 1 {
            if let Some(done) = done {
                done.fetch_add(EVERY as u64, Ordering::Relaxed);
            }
        }
    }
    Ok(pipeline.finish(trace.to_ms().unwrap_or(i64::MIN)))
}

fn score_series(
    template: &Template,
    policy: &ScalingPolicy,
    sets: &[TemplateSet],
    replays: &[Replayed],
    (from_ms, scored_from_ms): (i64, i64),
    slo_pct: Option<f64>,
) -> SeriesReport {
    let app = template.app.as_str();
    let demand: Vec<DemandStep> = listed(&replays[0].demand, app, &policy.metric);
    let scored_to_ms = demand.last().map_or(scored_from_ms, |d| d.end_ms);
    let initial = initial_units(template, policy);
    let delay_ms = delay_of(policy);
    let contender = |name: String,
                     kind,
                     gated: bool,
                     actions: Vec<Action>,
                     (per_unit, delay_ms, initial): (f64, i64, i64)| {
        let changes = changes_within(initial, &actions, scored_from_ms);
        let capacity = simulate(initial, from_ms, &actions, delay_ms);
        Contender {
            name,
            kind,
            gated,
            per_unit,
            score: score(
                &demand,
                &capacity,
                per_unit,
                scored_from_ms,
                scored_to_ms,
                changes,
            ),
            capacity,
        }
    };
    let mut contenders = Vec::new();
    for (index, (set, replay)) in sets.iter().zip(replays).enumerate() {
        let Some(own) = set.templates.iter().find(|t| t.app == app) else {
            continue;
        };
        for candidate in &own.dynamic_metadata.scaling_policies {
            if candidate.resource != policy.resource {
                continue;
            }
            let mode = if candidate.shadow { SHADOW } else { LIVE };
            let name = if candidate.shadow {
                format!("{} (shadow)", set.name)
            } else {
                set.name.clone()
            };
            let actions = targets_of(&replay.directives, app, mode, &candidate.resource);
            // Only the template under test is held to the limits: compared ones are references.
            let gated = index == 0 && !candidate.shadow;
            // Each policy's units serve its own `per_unit` of the demand.
            let sizing = (
                candidate.per_unit,
                delay_of(candidate),
                initial_units(own, candidate),
            );
            contenders.push(contender(
                name,
                ContenderKind::Policy,
                gated,
                actions,
                sizing,
            ));
        }
    }
    contenders.push(contender(
        REACTIVE.to_string(),
        ContenderKind::Reactive,
        false,
        reactive(policy, template.zone(), &demand),
        (policy.per_unit, delay_ms, initial),
    ));
    contenders.push(contender(
        ORACLE.to_string(),
        ContenderKind::Oracle,
        false,
        oracle(policy, template.zone(), &demand),
        (policy.per_unit, 0, initial),
    ));
    let frontier = slo_pct.map(|slo_pct| {
        let own = targets_of(&replays[0].directives, app, LIVE, &policy.resource);
        let inputs = replays[0]
            .planner_inputs
            .get(app)
            .map_or(&[][..], |i| &i[..]);
        let oracle = contenders
            .iter()
            .find(|c| c.kind == ContenderKind::Oracle)
            .map(|c| c.score)
            .expect("the oracle was just scored");
        let input = FrontierInput {
            template,
            version: &sets[0].version,
            policy,
            zone: template.zone(),
            inputs,
            own: &own,
            name: &sets[0].name,
            scoring: Scoring {
                demand: &demand,
                from_ms,
                scored_from_ms,
                scored_to_ms,
                per_unit: policy.per_unit,
                delay_ms,
                initial,
            },
            oracle,
        };
        Frontier {
            slo_pct,
            curves: frontier(&input, slo_pct),
        }
    });
    SeriesReport {
        frontier,
        app: app.to_string(),
        resource: policy.resource.clone(),
        metric: policy.metric.clone(),
        per_unit: policy.per_unit,
        band: listed(&replays[0].band, app, &policy.metric),
        demand,
        contenders,
    }
}

/// What a replay kept for an app's recipe or metric (nothing if it kept none).
fn listed<T: Clone>(keyed: &Keyed<T>, app: &str, name: &str) -> Vec<T> {
    keyed
        .get(app)
        .and_then(|lists| lists.get(name))
        .cloned()
        .unwrap_or_default()
}

/// Decisions from `from_ms` on that changed the target (from `initial`, before the first).
fn changes_within(initial: i64, actions: &[Action], from_ms: i64) -> u64 {
    let mut current = initial;
    let mut changes = 0;
    for action in actions {
        if action.target != current && action.at_ms >= from_ms {
            changes += 1;
        }
        current = action.target;
    }
    changes
}

/// The targets one policy was given, each when it changed: every directive's issued target at
/// its issue time and its plan's steps at their due times until the next directive supersedes
/// them (`presage_events::plan::schedule`, as the applier applies them).
pub(crate) fn targets_of(
    directives: &[ScalingDirective],
    app: &str,
    mode: &str,
    resource: &str,
) -> Vec<Action> {
    let of_policy = directives.iter().filter(|d| d.app == app && d.mode == mode);
    presage_events::plan::schedule(of_policy, resource)
        .into_iter()
        .map(|change| Action {
            at_ms: change.at_ms,
            target: change.target,
        })
        .collect()
}

/// What the app runs with before the first directive: its bootstrap resources, within bounds.
fn initial_units(template: &Template, policy: &ScalingPolicy) -> i64 {
    let bootstrap = template
        .bootstrap
        .resources
        .get(&policy.resource)
        .copied()
        .unwrap_or(policy.min);
    bootstrap.clamp(policy.min, policy.max).ceil() as i64
}

fn delay_of(policy: &ScalingPolicy) -> i64 {
    policy.provisioning_delay.map_or(0, |d| d.as_millis_i64())
}

fn record(template: &str, directive: &ScalingDirective) -> DirectiveRecord {
    let targets = if directive.targets.is_empty() {
        vec![TargetRecord {
            resource: directive.resource.clone(),
            target: directive.target,
        }]
    } else {
        directive
            .targets
            .iter()
            .map(|t| TargetRecord {
                resource: t.resource.clone(),
                target: t.target,
            })
            .collect()
    };
    DirectiveRecord {
        template: template.to_string(),
        event_id: directive.event_id.clone(),
        app: directive.app.clone(),
        mode: directive.mode.clone(),
        issued_at_ms: directive.issued_at_ms,
        fallback: directive.fallback,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::simulate;
    use crate::report::CapacityStep;
    use presage_events::{PlannedStep, PlannedTarget, ResourceTarget};

    const MIN: i64 = 60_000;

    fn directive(issued_min: i64, replicas: i64, plan: &[(i64, i64)]) -> ScalingDirective {
        ScalingDirective {
            app: "shop".into(),
            mode: LIVE.into(),
            resource: "replicas".into(),
            target: replicas,
            issued_at_ms: issued_min * MIN,
            targets: vec![ResourceTarget {
                resource: "replicas".into(),
                target: replicas,
                ..Default::default()
            }],
            plan: plan
                .iter()
                .map(|(due, target)| PlannedStep {
                    due_at_ms: due * MIN,
                    effective_at_ms: (due + 15) * MIN,
                    targets: vec![PlannedTarget {
                        resource: "replicas".into(),
                        target: *target,
                        forecast_value: 0.0,
                    }],
                })
                .collect(),
            ..Default::default()
        }
    }

    fn step(at_min: i64, units: i64) -> CapacityStep {
        CapacityStep {
            at_ms: at_min * MIN,
            units,
        }
    }

    #[test]
    fn a_plan_step_raises_capacity_at_its_due_time_plus_the_provisioning_delay() {
        // issued at 21:00 with 2 replicas; the plan raises to 8 at 06:35 (ramp at 07:00) and to
        // 12 at 06:50; no forecast comes overnight
        let evening = 21 * 60;
        let d = directive(evening, 2, &[(24 * 60 + 395, 8), (24 * 60 + 410, 12)]);
        let actions = targets_of(std::slice::from_ref(&d), "shop", LIVE, "replicas");
        let capacity = simulate(2, evening * MIN, &actions, 10 * MIN);
        // units start 10 minutes after each step falls due: all 12 serve from 07:00
        assert_eq!(
            capacity,
            vec![
                step(evening, 2),
                step(24 * 60 + 405, 8),
                step(24 * 60 + 420, 12)
            ]
        );
        // without the plan, the evening's 2 replicas meet the ramp
        let single = ScalingDirective {
            plan: Vec::new(),
            ..d
        };
        let actions = targets_of(&[single], "shop", LIVE, "replicas");
        assert_eq!(
            simulate(2, evening * MIN, &actions, 10 * MIN),
            vec![step(evening, 2)]
        );
    }

    #[test]
    fn a_newer_directive_cancels_the_steps_not_yet_due_in_the_capacity_too() {
        let first = directive(0, 3, &[(30, 6), (90, 12)]);
        let second = directive(60, 5, &[]);
        let actions = targets_of(&[first, second], "shop", LIVE, "replicas");
        assert_eq!(
            actions,
            vec![
                Action {
                    at_ms: 0,
                    target: 3
                },
                Action {
                    at_ms: 30 * MIN,
                    target: 6
                },
                Action {
                    at_ms: 60 * MIN,
                    target: 5
                }
            ]
        );
        // a lower target takes effect at once, a higher one after the delay
        assert_eq!(
            simulate(3, 0, &actions, 10 * MIN),
            vec![step(0, 3), step(40, 6), step(60, 5)]
        );
    }
}

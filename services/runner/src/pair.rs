//! Several stages in one process. A [`Stage`] has one input type, so a service that reads several
//! topics (the applier: directives and fragments; the planner: forecasts, observed metrics and
//! apply outcomes) runs one `run_stage` loop per topic, each on its own thread and in its own
//! consumer group, sharing whatever core the stages hold (behind a mutex).

use std::thread::{Scope, ScopedJoinHandle};

use anyhow::anyhow;

use crate::run_loop::run_stage;
use crate::settings::KafkaArgs;
use crate::shutdown::Shutdown;
use crate::stage::Stage;

/// Runs both stages until shutdown. However one loop ends (shutdown, an error, a panic) it
/// raises `shutdown`, so the other finishes its record, commits and returns too: the process
/// never runs on with one loop dead, and the result is an error if either failed.
pub fn run_two_stages<A, B>(
    kafka: &KafkaArgs,
    first: A,
    second: B,
    shutdown: &Shutdown,
) -> anyhow::Result<()>
where
    A: Stage + Send,
    B: Stage + Send,
{
    std::thread::scope(|scope| {
        joined(vec![
            (first.name(), spawn_loop(scope, kafka, first, shutdown)),
            (second.name(), spawn_loop(scope, kafka, second, shutdown)),
        ])
    })
}

/// [`run_two_stages`] for three.
pub fn run_three_stages<A, B, C>(
    kafka: &KafkaArgs,
    first: A,
    second: B,
    third: C,
    shutdown: &Shutdown,
) -> anyhow::Result<()>
where
    A: Stage + Send,
    B: Stage + Send,
    C: Stage + Send,
{
    std::thread::scope(|scope| {
        joined(vec![
            (first.name(), spawn_loop(scope, kafka, first, shutdown)),
            (second.name(), spawn_loop(scope, kafka, second, shutdown)),
            (third.name(), spawn_loop(scope, kafka, third, shutdown)),
        ])
    })
}

/// Waits for every loop; an error naming each that failed.
fn joined(
    loops: Vec<(&'static str, ScopedJoinHandle<'_, anyhow::Result<()>>)>,
) -> anyhow::Result<()> {
    let failures: Vec<String> = loops
        .into_iter()
        .filter_map(|(name, handle)| match handle.join() {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(format!("{name}: {err:#}")),
            Err(_) => Some(format!("{name}: the loop panicked")),
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("{}", failures.join("\n")))
    }
}

fn spawn_loop<'scope, 'env, S: Stage + Send + 'scope>(
    scope: &'scope Scope<'scope, 'env>,
    kafka: &'env KafkaArgs,
    stage: S,
    shutdown: &'env Shutdown,
) -> ScopedJoinHandle<'scope, anyhow::Result<()>> {
    scope.spawn(move || {
        let _stop_the_other = StopOnDrop(shutdown);
        let name = stage.name();
        let result = run_stage(kafka, stage, shutdown);
        if let Err(err) = &result {
            tracing::error!(stage = name, error = %format!("{err:#}"), "loop failed; stopping the other");
        }
        result
    })
}

/// Raises the shutdown flag when dropped, which also happens while a panic unwinds.
struct StopOnDrop<'a>(&'a Shutdown);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.request();
    }
}

//! Reconciliation from the outside: what the topics and files say after a chaos run, checked
//! against what must be true. Pure: the caller reads the topics and files with its own reader.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use presage_events::{ApplyOutcome, DerivedMetric, Forecast, RawSample, ScalingDirective};
use serde_json::{json, Value};

/// Everything read back after the run.
#[derive(Default)]
pub struct Evidence {
    pub raw: Vec<RawSample>,
    pub derived: Vec<DerivedMetric>,
    pub forecasts: Vec<Forecast>,
    pub directives: Vec<ScalingDirective>,
    pub outcomes: Vec<ApplyOutcome>,
    /// Ids of raw samples the recipe-processor dead-lettered as late.
    pub late_raw_ids: BTreeSet<String>,
    /// Per app: the replicas in its live configuration and in its `.prev`, if the files exist
    /// (`Err` if a file exists but cannot be read as a configuration).
    pub files: BTreeMap<String, AppFiles>,
}

#[derive(Debug, Clone, Default)]
pub struct AppFiles {
    pub live: Option<Result<i64, String>>,
    pub prev: Option<Result<i64, String>>,
}

/// What the application's rules and hooks are, for the file checks.
pub struct Expectations<'a> {
    pub recipe: &'a str,
    pub window_ms: i64,
    pub hook: &'a str,
    pub bootstrap: i64,
    pub min: i64,
    pub max: i64,
}

/// The verdict: counts per check, and the first few examples of each problem.
#[derive(Debug, Default)]
pub struct Verdict {
    pub records: BTreeMap<&'static str, usize>,
    pub problems: BTreeMap<&'static str, Vec<String>>,
    pub notes: BTreeMap<&'static str, usize>,
}

impl Verdict {
    fn problem(&mut self, kind: &'static str, example: String) {
        self.problems.entry(kind).or_default().push(example);
    }

    pub fn count(&self, kind: &str) -> usize {
        self.problems.get(kind).map_or(0, Vec::len)
    }

    pub fn ok(&self) -> bool {
        self.problems.values().all(Vec::is_empty)
    }

    pub fn to_json(&self) -> Value {
        let problems: BTreeMap<&str, Value> = self
            .problems
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    json!({ "count": v.len(), "examples": v.iter().take(5).collect::<Vec<_>>() }),
                )
            })
            .collect();
        json!({ "records": self.records, "problems": problems, "notes": self.notes, "ok": self.ok() })
    }
}

/// The problem kinds, always reported (zero when clean).
pub const CHECKS: &[&str] = &[
    "lost_windows",
    "conflicting_derived_ids",
    "duplicated_windows",
    "conflicting_forecast_ids",
    "windows_without_forecast",
    "conflicting_directive_ids",
    "conflicting_outcome_ids",
    "directives_without_outcome",
    "directives_with_several_outcomes",
    "wrong_files",
];

pub fn reconcile(evidence: &Evidence, expect: &Expectations<'_>) -> Verdict {
    let mut verdict = Verdict::default();
    for kind in CHECKS {
        verdict.problems.insert(kind, Vec::new());
    }
    verdict
        .records
        .insert("presage.metrics.raw", evidence.raw.len());
    verdict
        .records
        .insert("presage.metrics.derived", evidence.derived.len());
    verdict
        .records
        .insert("presage.forecasts", evidence.forecasts.len());
    verdict
        .records
        .insert("presage.directives", evidence.directives.len());
    verdict
        .records
        .insert("presage.applied", evidence.outcomes.len());
    verdict.records.insert("config files", evidence.files.len());

    one_content_per_id(
        &mut verdict,
        "conflicting_derived_ids",
        &evidence.derived,
        |d| &d.event_id,
    );
    one_content_per_id(
        &mut verdict,
        "conflicting_forecast_ids",
        &evidence.forecasts,
        |f| &f.event_id,
    );
    one_content_per_id(
        &mut verdict,
        "conflicting_directive_ids",
        &evidence.directives,
        |d| &d.event_id,
    );
    one_content_per_id(
        &mut verdict,
        "conflicting_outcome_ids",
        &evidence.outcomes,
        |o| &o.event_id,
    );
    windows(&mut verdict, evidence, expect);
    forecasts(&mut verdict, evidence, expect);
    outcomes(&mut verdict, evidence, expect);
    files(&mut verdict, evidence, expect);
    verdict
}

/// An id published more than once must carry the same content every time.
fn one_content_per_id<T: PartialEq + Debug>(
    verdict: &mut Verdict,
    kind: &'static str,
    records: &[T],
    id: impl Fn(&T) -> &String,
) {
    let mut first: HashMap<&String, &T> = HashMap::new();
    let mut repeated = 0;
    for record in records {
        match first.get(id(record)) {
            None => {
                first.insert(id(record), record);
            }
            Some(earlier) if *earlier == record => repeated += 1,
            Some(earlier) => {
                verdict.problem(kind, format!("{}: {earlier:?} then {record:?}", id(record)))
            }
        }
    }
    *verdict.notes.entry("same_id_published_again").or_default() += repeated;
}

/// Every raw sample's window is derived (or the sample was dead-lettered as late), under one id.
fn windows(verdict: &mut Verdict, evidence: &Evidence, expect: &Expectations<'_>) {
    let mut ids_of_window: HashMap<(&str, i64), BTreeSet<&str>> = HashMap::new();
    for d in evidence
        .derived
        .iter()
        .filter(|d| d.recipe == expect.recipe)
    {
        ids_of_window
            .entry((d.app.as_str(), d.window_start_ms))
            .or_default()
            .insert(&d.event_id);
    }
    for ((app, start), ids) in &ids_of_window {
        if ids.len() > 1 {
            verdict.problem(
                "duplicated_windows",
                format!("{app} window {start}: ids {ids:?}"),
            );
        }
    }
    let mut missing: BTreeSet<(&str, i64)> = BTreeSet::new();
    let mut late = 0;
    for sample in &evidence.raw {
        let start = sample.event_time_ms - sample.event_time_ms.rem_euclid(expect.window_ms);
        if ids_of_window.contains_key(&(sample.app.as_str(), start)) {
            continue;
        }
        if evidence.late_raw_ids.contains(&sample.event_id) {
            late += 1;
            continue;
        }
        missing.insert((sample.app.as_str(), start));
    }
    for (app, start) in missing {
        verdict.problem("lost_windows", format!("{app} window starting {start}"));
    }
    verdict.notes.insert("raw_samples_dead_lettered_late", late);
}

/// Every derived window is forecast, but an app's first `COLD_WINDOWS` (a series needs three
/// points before its first forecast).
fn forecasts(verdict: &mut Verdict, evidence: &Evidence, expect: &Expectations<'_>) {
    const COLD_WINDOWS: usize = 2;
    let forecast_inputs: BTreeSet<&str> = evidence
        .forecasts
        .iter()
        .flat_map(|f| f.lineage.iter().map(String::as_str))
        .collect();
    let mut windows: BTreeMap<&str, BTreeMap<i64, &str>> = BTreeMap::new();
    for d in evidence
        .derived
        .iter()
        .filter(|d| d.recipe == expect.recipe)
    {
        windows
            .entry(d.app.as_str())
            .or_default()
            .insert(d.window_start_ms, d.event_id.as_str());
    }
    for (app, by_start) in windows {
        for (start, id) in by_start.into_iter().skip(COLD_WINDOWS) {
            if !forecast_inputs.contains(id) {
                verdict.problem(
                    "windows_without_forecast",
                    format!("{app} window {start} ({id})"),
                );
            }
        }
    }
}

/// Every live directive has exactly one terminal outcome at the hook.
fn outcomes(verdict: &mut Verdict, evidence: &Evidence, expect: &Expectations<'_>) {
    let mut ids_per_directive: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for o in evidence.outcomes.iter().filter(|o| o.hook == expect.hook) {
        ids_per_directive
            .entry(&o.directive_id)
            .or_default()
            .insert(&o.event_id);
    }
    let live: BTreeSet<&str> = evidence
        .directives
        .iter()
        .filter(|d| d.mode.is_empty() || d.mode == "live")
        .map(|d| d.event_id.as_str())
        .collect();
    verdict.notes.insert("live_directives", live.len());
    for directive in live {
        match ids_per_directive.get(directive).map(BTreeSet::len) {
            None => verdict.problem("directives_without_outcome", directive.to_string()),
            Some(1) => {}
            Some(n) => verdict.problem(
                "directives_with_several_outcomes",
                format!("{directive}: {n} outcome ids"),
            ),
        }
    }
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &evidence.outcomes {
        *by_status.entry(&o.status).or_default() += 1;
    }
    for (status, n) in by_status {
        let key: &'static str = match status {
            "applied" => "outcomes_applied",
            "failed" => "outcomes_failed",
            "rolled_back" => "outcomes_rolled_back",
            "rejected" => "outcomes_rejected",
            "superseded" => "outcomes_superseded",
            _ => "outcomes_other",
        };
        *verdict.notes.entry(key).or_default() += n;
    }
    let retried = evidence.outcomes.iter().filter(|o| o.attempts > 1).count();
    verdict.notes.insert("outcomes_after_retries", retried);
}

/// Each app's live file holds the target of its newest applied directive and passes the rules;
/// its `.prev` holds a version that was live.
fn files(verdict: &mut Verdict, evidence: &Evidence, expect: &Expectations<'_>) {
    let directives: HashMap<&str, &ScalingDirective> = evidence
        .directives
        .iter()
        .map(|d| (d.event_id.as_str(), d))
        .collect();
    let mut applied: BTreeMap<&str, Vec<&ScalingDirective>> = BTreeMap::new();
    for o in evidence
        .outcomes
        .iter()
        .filter(|o| o.hook == expect.hook && o.status == "applied")
    {
        if let Some(d) = directives.get(o.directive_id.as_str()) {
            applied.entry(d.app.as_str()).or_default().push(d);
        }
    }
    for (app, files) in &evidence.files {
        let mut done = applied.get(app.as_str()).cloned().unwrap_or_default();
        done.sort_by_key(|d| (d.issued_at_ms, d.event_id.clone()));
        let was_live: BTreeSet<i64> = std::iter::once(expect.bootstrap)
            .chain(done.iter().map(|d| d.target))
            .collect();
        let newest = done.last().map(|d| d.target);
        match (&files.live, newest) {
            (None, None) => {}
            (None, Some(target)) => verdict.problem(
                "wrong_files",
                format!("{app}: no live file, {target} was applied"),
            ),
            (Some(Err(e)), _) => {
                verdict.problem("wrong_files", format!("{app}: live file unreadable: {e}"))
            }
            (Some(Ok(replicas)), newest) => {
                if newest.is_some_and(|t| t != *replicas)
                    || (newest.is_none() && *replicas != expect.bootstrap)
                {
                    verdict.problem(
                        "wrong_files",
                        format!(
                            "{app}: live replicas {replicas}, newest applied target {newest:?}"
                        ),
                    );
                }
                if !(expect.min..=expect.max).contains(replicas) {
                    verdict.problem(
                        "wrong_files",
                        format!("{app}: live replicas {replicas} break the rules"),
                    );
                }
            }
        }
        match &files.prev {
            None => {}
            Some(Err(e)) => verdict.problem("wrong_files", format!("{app}: .prev unreadable: {e}")),
            Some(Ok(replicas)) if !was_live.contains(replicas) => verdict.problem(
                "wrong_files",
                format!("{app}: .prev replicas {replicas} were never live"),
            ),
            Some(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECT: Expectations<'static> = Expectations {
        recipe: "demand",
        window_ms: 2_000,
        hook: "config",
        bootstrap: 4,
        min: 1,
        max: 40,
    };

    fn raw(id: &str, at: i64) -> RawSample {
        RawSample {
            event_id: id.into(),
            app: "a".into(),
            template_version: "v1".into(),
            source: "load".into(),
            metric: "demand".into(),
            labels: BTreeMap::new(),
            value: 1.0,
            event_time_ms: at,
            lineage: String::new(),
        }
    }

    fn window(id: &str, start: i64, value: f64) -> DerivedMetric {
        DerivedMetric {
            event_id: id.into(),
            app: "a".into(),
            recipe: "demand".into(),
            window_start_ms: start,
            window_end_ms: start + 2_000,
            value,
            ..Default::default()
        }
    }

    fn forecast(id: &str, input: &str) -> Forecast {
        Forecast {
            event_id: id.into(),
            app: "a".into(),
            metric: "demand".into(),
            lineage: vec![input.into()],
            ..Default::default()
        }
    }

    fn directive(id: &str, at: i64, target: i64) -> ScalingDirective {
        ScalingDirective {
            event_id: id.into(),
            app: "a".into(),
            mode: "live".into(),
            issued_at_ms: at,
            target,
            ..Default::default()
        }
    }

    /// Built from JSON so fields added to the schema later keep their defaults here.
    fn outcome(directive: &str, status: &str) -> ApplyOutcome {
        serde_json::from_value(json!({
            "event_id": format!("o-{directive}"),
            "app": "a",
            "template_version": "v1",
            "directive_id": directive,
            "hook": "config",
            "status": status,
            "applied_at_ms": 5,
            "lineage": [directive],
        }))
        .unwrap()
    }

    fn clean() -> Evidence {
        let mut files = BTreeMap::new();
        files.insert(
            "a".to_string(),
            AppFiles {
                live: Some(Ok(7)),
                prev: Some(Ok(5)),
            },
        );
        Evidence {
            raw: vec![raw("r1", 100), raw("r2", 1_900), raw("r3", 2_100)],
            derived: vec![
                window("w0", 0, 1.0),
                window("w1", 2_000, 2.0),
                window("w1", 2_000, 2.0),
                window("w2", 4_000, 3.0),
            ],
            forecasts: vec![forecast("f2", "w2")],
            directives: vec![directive("d1", 10, 5), directive("d2", 20, 7)],
            outcomes: vec![outcome("d1", "applied"), outcome("d2", "applied")],
            files,
            ..Default::default()
        }
    }

    #[test]
    fn a_clean_run_passes_and_counts_a_repeated_id_as_a_note_not_a_problem() {
        let verdict = reconcile(&clean(), &EXPECT);
        assert!(verdict.ok(), "{:?}", verdict.problems);
        assert_eq!(verdict.notes["same_id_published_again"], 1);
    }

    #[test]
    fn each_kind_of_damage_is_found() {
        let mut e = clean();
        e.raw.push(raw("r4", 6_500)); // its window was never derived
        e.derived.push(window("w3", 8_000, 1.0)); // derived, never forecast
        e.derived.push(window("w1", 2_000, 9.0)); // same id, another value
        e.derived.push(window("w1b", 2_000, 2.0)); // the same window under another id
        e.directives.push(directive("d3", 30, 9)); // no outcome
        e.outcomes.push(ApplyOutcome {
            event_id: "o-d2-again".into(),
            ..outcome("d2", "applied")
        });
        e.files.insert(
            "a".into(),
            AppFiles {
                live: Some(Ok(5)),
                prev: Some(Ok(33)),
            },
        );
        let verdict = reconcile(&e, &EXPECT);
        assert_eq!(verdict.count("lost_windows"), 1);
        assert_eq!(verdict.count("windows_without_forecast"), 1);
        assert_eq!(verdict.count("conflicting_derived_ids"), 1);
        assert_eq!(verdict.count("duplicated_windows"), 1);
        assert_eq!(verdict.count("directives_without_outcome"), 1);
        assert_eq!(verdict.count("directives_with_several_outcomes"), 1);
        assert_eq!(
            verdict.count("wrong_files"),
            2,
            "{:?}",
            verdict.problems["wrong_files"]
        );
        assert!(!verdict.ok());
    }

    #[test]
    fn a_sample_dead_lettered_as_late_is_accounted_for() {
        let mut e = clean();
        e.raw.push(raw("r4", 6_500));
        e.late_raw_ids.insert("r4".into());
        let verdict = reconcile(&e, &EXPECT);
        assert!(verdict.ok(), "{:?}", verdict.problems);
        assert_eq!(verdict.notes["raw_samples_dead_lettered_late"], 1);
    }
}

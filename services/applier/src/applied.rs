//! What the applier already did, as `presage.applied` records it: which outcome ids are
//! published (an input replayed after its outcome was published is not applied again, and its
//! outcome not published again with a new `applied_at_ms`), and, per resource, when the newest
//! applied directive was decided (a replayed older directive is superseded, never applied over
//! a newer one).
//!
//! Both are rebuilt from the topic for the partitions an applier is assigned, so they follow the
//! apps wherever the group sends them: to another process or another host (http hooks have no
//! file beside which to keep them). Pure: the shell reads the topic and feeds [`Applied::learn`].

use std::collections::{HashMap, HashSet, VecDeque};

use presage_events::ApplyOutcome;

use crate::outcome::Status;

/// How many published outcome ids are remembered. Only inputs after a partition's committed
/// offset are ever replayed (a few seconds of them), and in a running process the runner drops
/// repeated input ids itself; the ids matter when a partition is (re)assigned and its recent
/// outcomes have just been read.
const PUBLISHED: usize = 200_000;

/// Published outcome ids and, per (app, resource), the decision time of the newest applied
/// directive.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    published: HashSet<String>,
    order: VecDeque<String>,
    newest: HashMap<(String, String), i64>,
}

impl Applied {
    /// Takes one outcome in: read back from the topic, or just produced.
    pub fn learn(&mut self, outcome: &ApplyOutcome) {
        if self.published.insert(outcome.event_id.clone()) {
            self.order.push_back(outcome.event_id.clone());
            if self.order.len() > PUBLISHED {
                if let Some(oldest) = self.order.pop_front() {
                    self.published.remove(&oldest);
                }
            }
        }
        if outcome.status != Status::Applied.as_str() {
            return;
        }
        for resource in &outcome.resources {
            let newest = self
                .newest
                .entry((outcome.app.clone(), resource.clone()))
                .or_insert(outcome.decided_at_ms);
            *newest = (*newest).max(outcome.decided_at_ms);
        }
    }

    /// Whether an outcome with this id is already on the topic.
    pub fn is_published(&self, outcome_id: &str) -> bool {
        self.published.contains(outcome_id)
    }

    /// The decision time of an applied directive newer than `decided_at_ms` for any of
    /// `resources` of `app`, if there is one.
    pub fn newer_than(&self, app: &str, resources: &[String], decided_at_ms: i64) -> Option<i64> {
        resources
            .iter()
            .filter_map(|r| self.newest.get(&(app.to_string(), r.clone())).copied())
            .filter(|at| *at > decided_at_ms)
            .max()
    }

    /// Drops what was learnt about `apps` (a revoked partition's): its next owner may apply
    /// more, and if it comes back here it is read again.
    pub fn forget_apps(&mut self, apps: &HashSet<String>) {
        self.newest.retain(|(app, _), _| !apps.contains(app));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: &str, status: &str, resources: &[&str], decided_at_ms: i64) -> ApplyOutcome {
        ApplyOutcome {
            event_id: id.into(),
            app: "shop".into(),
            template_version: "v1".into(),
            directive_id: format!("d-{id}"),
            hook: "cfg".into(),
            status: status.into(),
            reason: None,
            config_path: None,
            backup_path: None,
            applied_at_ms: 0,
            lineage: vec![],
            attempts: 1,
            decided_at_ms,
            resources: resources.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn replicas() -> Vec<String> {
        vec!["replicas".into()]
    }

    #[test]
    fn the_newest_applied_decision_per_resource_supersedes_older_ones() {
        let mut applied = Applied::default();
        applied.learn(&outcome("a", "applied", &["replicas", "memory_mb"], 200));
        applied.learn(&outcome("b", "applied", &["replicas"], 150));
        assert_eq!(applied.newer_than("shop", &replicas(), 100), Some(200));
        assert_eq!(applied.newer_than("shop", &replicas(), 200), None);
        assert_eq!(
            applied.newer_than("shop", &["memory_mb".into()], 199),
            Some(200)
        );
        assert_eq!(applied.newer_than("other", &replicas(), 0), None);
    }

    #[test]
    fn only_applied_outcomes_count_as_newest_but_every_outcome_is_published() {
        let mut applied = Applied::default();
        for status in ["rejected", "failed", "rolled_back", "superseded"] {
            applied.learn(&outcome(status, status, &["replicas"], 500));
            assert!(applied.is_published(status));
        }
        assert_eq!(applied.newer_than("shop", &replicas(), 0), None);
        assert!(!applied.is_published("never"));
    }

    #[test]
    fn forgetting_a_revoked_partition_s_apps_drops_their_newest() {
        let mut applied = Applied::default();
        applied.learn(&outcome("a", "applied", &["replicas"], 200));
        applied.forget_apps(&HashSet::from(["shop".to_string()]));
        assert_eq!(applied.newer_than("shop", &replicas(), 0), None);
    }
}

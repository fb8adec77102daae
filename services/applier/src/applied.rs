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

/// How many published outcome ids are remembered beyond those read back. Inputs after a
/// partition's committed offset are replayed when it is (re)assigned, and a plan's hold keeps
/// that offset back for as long as the plan is pending (hours, up to
/// [`presage_events::plan::MAX_AHEAD_MS`]): the shell reads `presage.applied` back over that
/// whole span and [`Applied::make_room`] keeps every id it read, however many, so a replayed
/// directive is never applied and published again because its outcome's id was evicted. This
/// is the headroom for outcomes produced after the read-back (a running process's runner drops
/// repeated input ids itself).
pub const PUBLISHED: usize = 200_000;

/// Published outcome ids and, per (app, resource), the decision time of the newest applied
/// directive.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    published: HashSet<String>,
    order: VecDeque<String>,
    /// How many ids are kept before the oldest is evicted, once past [`PUBLISHED`]: raised by
    /// [`Applied::make_room`] to hold every id read back.
    room: usize,
    newest: HashMap<(String, String), i64>,
}

impl Applied {
    /// `count` outcomes were read back from the topic and are about to be learnt: keep room
    /// for all of them on top of the ids already known, plus [`PUBLISHED`] more, so none of
    /// them is evicted before the directives read again after them are (a restart's replay
    /// reads back as far as the oldest held plan, which may be far more than [`PUBLISHED`]
    /// outcomes of a busy partition).
    pub fn make_room(&mut self, count: usize) {
        self.room = self.room.max(self.order.len() + count + PUBLISHED);
    }

    /// Takes one outcome in: read back from the topic, or just produced.
    pub fn learn(&mut self, outcome: &ApplyOutcome) {
        if self.published.insert(outcome.event_id.clone()) {
            self.order.push_back(outcome.event_id.clone());
            if self.order.len() > self.room.max(PUBLISHED) {
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
    fn every_id_read_back_is_kept_however_many_and_live_ones_have_headroom_beyond() {
        let read_back = PUBLISHED + 1_000;
        let id = |i: usize| format!("o{i}");
        let mut applied = Applied::default();
        applied.make_room(read_back);
        for i in 0..read_back {
            applied.learn(&outcome(&id(i), "applied", &["replicas"], 1));
        }
        // Then as many live outcomes as the headroom: the read-back ids are all still known.
        for i in read_back..read_back + PUBLISHED {
            applied.learn(&outcome(&id(i), "applied", &["replicas"], 1));
        }
        assert!((0..read_back + PUBLISHED).all(|i| applied.is_published(&id(i))));
        // Past the headroom the oldest go first.
        applied.learn(&outcome("one-more", "applied", &["replicas"], 1));
        assert!(!applied.is_published(&id(0)));
        assert!(applied.is_published(&id(1)));

        // Without making room the cap is PUBLISHED: what a read-back that large would lose.
        let mut capped = Applied::default();
        for i in 0..read_back {
            capped.learn(&outcome(&id(i), "applied", &["replicas"], 1));
        }
        assert!(!capped.is_published(&id(0)));
        assert!(capped.is_published(&id(read_back - 1)));
    }

    #[test]
    fn forgetting_a_revoked_partition_s_apps_drops_their_newest() {
        let mut applied = Applied::default();
        applied.learn(&outcome("a", "applied", &["replicas"], 200));
        applied.forget_apps(&HashSet::from(["shop".to_string()]));
        assert_eq!(applied.newer_than("shop", &replicas(), 0), None);
    }
}

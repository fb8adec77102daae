//! When each source is next due. Pure: the shell passes the clock in.

use std::collections::HashMap;

use presage_template::Source;

/// How often a source without `every` is read.
pub const DEFAULT_EVERY_MS: i64 = 15_000;

#[derive(Debug, Default)]
pub struct Schedule {
    next_due: HashMap<(String, String), i64>,
}

impl Schedule {
    /// The sources of `app` due at `now_ms`; each is then scheduled one interval later,
    /// aligned to its interval so readings fall on a regular grid.
    pub fn due<'a>(&mut self, app: &str, sources: &'a [Source], now_ms: i64) -> Vec<&'a Source> {
        let mut due = Vec::new();
        for source in sources {
            let every = source
                .every
                .map(|d| d.as_millis() as i64)
                .filter(|ms| *ms > 0)
                .unwrap_or(DEFAULT_EVERY_MS);
            let key = (app.to_string(), source.id.clone());
            let next = self.next_due.get(&key).copied().unwrap_or(i64::MIN);
            if now_ms >= next {
                due.push(source);
                self.next_due.insert(key, (now_ms / every + 1) * every);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str, every: &str) -> Source {
        Source {
            id: id.to_string(),
            kind: presage_template::SourceKind::Calendar,
            url: None,
            every: Some(every.parse().unwrap()),
            timeout: None,
            ..Default::default()
        }
    }

    #[test]
    fn a_source_is_due_once_per_interval_on_its_grid() {
        let sources = vec![source("fast", "1s"), source("slow", "10s")];
        let mut schedule = Schedule::default();
        let ids = |v: Vec<&Source>| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(schedule.due("a", &sources, 10_500)),
            vec!["fast", "slow"]
        );
        assert!(schedule.due("a", &sources, 10_900).is_empty());
        assert_eq!(ids(schedule.due("a", &sources, 11_000)), vec!["fast"]);
        assert_eq!(
            ids(schedule.due("a", &sources, 20_000)),
            vec!["fast", "slow"]
        );
    }
}

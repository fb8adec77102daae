//! How often a failing source is logged. A template scraping an address that does not exist
//! fails at every tick of its schedule (every second, for a fast one): each source logs its first
//! failure, then at most one line a minute with how many failures it held back, and one line when
//! it reads again. The failures are still counted (`presage_source_reads_total`).

use std::collections::HashMap;

/// Between two lines about the same failing source.
pub const LOG_EVERY_MS: i64 = 60_000;

/// What to log about a source now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The source failed: log it, with the failures held back since the last line.
    Failed { suppressed: u64 },
    /// The source reads again after `failures` failures.
    Recovered { failures: u64 },
}

#[derive(Debug, Default)]
struct Failing {
    logged_at_ms: i64,
    suppressed: u64,
    failures: u64,
}

/// Failing sources by (app, source id).
#[derive(Debug, Default)]
pub struct FailureLog {
    failing: HashMap<(String, String), Failing>,
}

impl FailureLog {
    /// A failed read at `now_ms`: a line to log, or `None` while the source is held quiet.
    pub fn failed(&mut self, app: &str, source: &str, now_ms: i64) -> Option<Line> {
        let key = (app.to_string(), source.to_string());
        match self.failing.get_mut(&key) {
            None => {
                self.failing.insert(
                    key,
                    Failing {
                        logged_at_ms: now_ms,
                        suppressed: 0,
                        failures: 1,
                    },
                );
                Some(Line::Failed { suppressed: 0 })
            }
            Some(state) => {
                state.failures += 1;
                if now_ms - state.logged_at_ms < LOG_EVERY_MS {
                    state.suppressed += 1;
                    return None;
                }
                state.logged_at_ms = now_ms;
                Some(Line::Failed {
                    suppressed: std::mem::take(&mut state.suppressed),
                })
            }
        }
    }

    /// A good read: a line if the source was failing.
    pub fn read(&mut self, app: &str, source: &str) -> Option<Line> {
        self.failing
            .remove(&(app.to_string(), source.to_string()))
            .map(|state| Line::Recovered {
                failures: state.failures,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_failing_every_second_logs_once_a_minute_with_what_it_held_back() {
        let mut log = FailureLog::default();
        let lines: Vec<(i64, Line)> = (0..150)
            .filter_map(|second| {
                log.failed("app", "page", second * 1000)
                    .map(|line| (second, line))
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (0, Line::Failed { suppressed: 0 }),
                (60, Line::Failed { suppressed: 59 }),
                (120, Line::Failed { suppressed: 59 }),
            ]
        );
        assert_eq!(
            log.read("app", "page"),
            Some(Line::Recovered { failures: 150 })
        );
        assert_eq!(
            log.read("app", "page"),
            None,
            "a healthy source says nothing"
        );
        assert_eq!(
            log.failed("app", "page", 200_000),
            Some(Line::Failed { suppressed: 0 }),
            "a new failure after recovery is logged at once"
        );
    }

    #[test]
    fn sources_are_held_quiet_each_on_its_own() {
        let mut log = FailureLog::default();
        assert!(log.failed("a", "page", 0).is_some());
        assert!(log.failed("a", "page", 1000).is_none());
        assert!(log.failed("b", "page", 1000).is_some());
        assert!(log.failed("a", "probe", 1000).is_some());
    }
}

//! An SLO instead of a quantile (`target: { under_provisioned: 0.5% }`): the planner provisions
//! at the quantile of its forecasts' errors that its own recent record says keeps windows short
//! at most that often. Pure: a record of what was forecast and what was observed, and the choice
//! made from it.
//!
//! **The record.** For each observed window of the policy's metric it pairs the window's value
//! `y` with the forecast point for that window that the policy provisions for (the point at its
//! lead time, of the newest trusted forecast targeting the window), and keeps the standardised
//! error `(y − mean) / σ`, σ being the forecast's upper half-width over the normal quantile of
//! its interval (so a well-calibrated normal forecast gives standard normal scores). Windows
//! whose forecast has no width (σ = 0) or whose value is unknown are left out.
//!
//! **The choice** (split conformal prediction): of the n scores of the last `window` that ended
//! before the decision, the ⌈(n + 1)(1 − α)⌉-th smallest `q`; the policy provisions for
//! `mean + q·σ` of the new forecast. On exchangeable errors a new window is short with
//! probability at most α, whatever the forecast's error distribution. While the record is too
//! short for that rank (n < 199 windows for 0.5%), the policy provisions at the larger of the
//! normal quantile z(1 − α) and the largest score recorded: the textbook quantile, raised when
//! the record has already seen a worse error. Either way a stricter SLO never provisions less.
//!
//! **Order-free.** The record is keyed by window start: a forecast and an observation pair up
//! whichever arrives first, a re-read one overwrites itself, and a decision at `t` reads only
//! windows that ended before `t` and started within `window` of it. So a planner that rebuilt its
//! record from the topics (see `main.rs`) decides as one that never stopped.

use std::collections::BTreeMap;

use presage_events::ForecastPoint;
use presage_template::quantiles::normal_quantile;
use presage_template::slo::{conformal_rank, percent};

/// How far ahead of its decisions a record keeps what it took in (counted back from the newest
/// time it saw), beyond its window: what a restarted planner reads back lies ahead of the
/// decisions it takes again, and is kept for them. Past a week without a decision (a policy
/// always on its fallback), the oldest entries go, so the record stays bounded.
pub const RECORD_SLACK_MS: i64 = 7 * 86_400_000;

/// The forecast point a window was provisioned from.
#[derive(Debug, Clone, PartialEq)]
struct Predicted {
    issued_at_ms: i64,
    forecast_id: String,
    mean: f64,
    sigma: f64,
}

/// An observed window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Observed {
    end_ms: i64,
    value: f64,
}

/// One policy's recent forecasts (at its lead time) and observed windows, by window start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    predicted: BTreeMap<i64, Predicted>,
    observed: BTreeMap<i64, Observed>,
    /// The newest time seen (a forecast's issue, a window's start): what is kept is counted back
    /// from it.
    newest_ms: i64,
}

/// The scale a point's errors are measured in: its upper half-width over z(0.5 + level / 2).
/// The upper side, as capacity is short on it (and a count's lower bound may be cut at zero).
pub fn sigma(point: &ForecastPoint, interval_level: f64) -> f64 {
    let z = normal_quantile(0.5 + interval_level / 2.0);
    let half = if point.upper > point.point {
        point.upper - point.point
    } else {
        (point.upper - point.lower) / 2.0
    };
    if z > 0.0 && half.is_finite() && half > 0.0 {
        half / z
    } else {
        0.0
    }
}

impl Record {
    /// The point a forecast issued at `issued_at_ms` provisions for. A newer forecast of the same
    /// window replaces an older one (one issued at the same time: the larger id, so the order
    /// they are read in does not matter).
    pub fn predict(
        &mut self,
        issued_at_ms: i64,
        forecast_id: &str,
        point: &ForecastPoint,
        sigma: f64,
        keep_ms: i64,
    ) {
        if !point.point.is_finite() || !sigma.is_finite() {
            return;
        }
        let newer = self
            .predicted
            .get(&point.at_ms)
            .is_none_or(|p| (issued_at_ms, forecast_id) > (p.issued_at_ms, p.forecast_id.as_str()));
        if newer {
            self.predicted.insert(
                point.at_ms,
                Predicted {
                    issued_at_ms,
                    forecast_id: forecast_id.to_string(),
                    mean: point.point,
                    sigma,
                },
            );
        }
        self.saw(issued_at_ms, keep_ms);
    }

    /// An observed window. An unknown value (not a number) is no observation.
    pub fn observe(&mut self, start_ms: i64, end_ms: i64, value: f64, keep_ms: i64) {
        if !value.is_finite() {
            return;
        }
        self.observed.insert(start_ms, Observed { end_ms, value });
        self.saw(start_ms, keep_ms);
    }

    /// Drops what is older than `keep_ms` and the slack before the newest time seen.
    fn saw(&mut self, at_ms: i64, keep_ms: i64) {
        self.newest_ms = self.newest_ms.max(at_ms);
        let from = self
            .newest_ms
            .saturating_sub(keep_ms.saturating_add(RECORD_SLACK_MS));
        self.forget_before(from);
    }

    /// Drops the windows that start before `from_ms`: after a decision at `t`, those before
    /// `t` less the policy's window and lead, which no later decision reads.
    pub fn forget_before(&mut self, from_ms: i64) {
        if self
            .predicted
            .first_key_value()
            .is_some_and(|(k, _)| *k < from_ms)
        {
            self.predicted = self.predicted.split_off(&from_ms);
        }
        if self
            .observed
            .first_key_value()
            .is_some_and(|(k, _)| *k < from_ms)
        {
            self.observed = self.observed.split_off(&from_ms);
        }
    }

    /// The standardised errors of the windows that ended by `now` (strictly before it: the
    /// window ending at `now` is the one a forecast issued now was made from, and may reach the
    /// planner after it) and started within `window_ms` of it.
    pub fn scores(&self, now: i64, window_ms: i64) -> Vec<f64> {
        self.observed
            .range(now.saturating_sub(window_ms)..now)
            .filter(|(_, o)| o.end_ms < now)
            .filter_map(|(start, o)| {
                let p = self.predicted.get(start)?;
                (p.sigma > 0.0).then(|| (o.value - p.mean) / p.sigma)
            })
            .collect()
    }

    /// The newest observed value of a window that ended at or before `now`, and its start.
    pub fn newest_observed(&self, now: i64) -> Option<(i64, f64)> {
        self.observed
            .range(..now)
            .rev()
            .find(|(_, o)| o.end_ms <= now)
            .map(|(start, o)| (*start, o.value))
    }

    /// Entries held (forecast points, observed windows), for logs.
    pub fn len(&self) -> (usize, usize) {
        (self.predicted.len(), self.observed.len())
    }

    pub fn is_empty(&self) -> bool {
        self.predicted.is_empty() && self.observed.is_empty()
    }
}

/// The standardised headroom chosen for an SLO, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Provision for `mean + z·σ`.
    pub z: f64,
    /// The SLO it was chosen for.
    pub slo: f64,
    /// Scores in the record.
    pub windows: usize,
    /// Whether `z` is the record's conformal quantile (else the fallback).
    pub calibrated: bool,
    /// Windows of the record above `z`: short had the policy provisioned at it.
    pub short_at_z: usize,
    /// Windows of the record above the normal quantile z(1 − SLO).
    pub short_at_normal: usize,
    /// Windows the record needs for a calibrated choice.
    pub needed: usize,
}

/// The headroom for `slo` from a record's `scores` (see the module documentation).
pub fn choose(scores: &[f64], slo: f64) -> Choice {
    let normal = normal_quantile(1.0 - slo);
    let n = scores.len();
    let rank = conformal_rank(n, slo);
    let needed = presage_template::slo::needed_windows(slo) as usize;
    let (z, calibrated) = if (1..=n).contains(&rank) {
        let mut sorted = scores.to_vec();
        let (_, kth, _) = sorted.select_nth_unstable_by(rank - 1, f64::total_cmp);
        (*kth, true)
    } else {
        let worst = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (normal.max(worst), false)
    };
    Choice {
        z,
        slo,
        windows: n,
        calibrated,
        short_at_z: scores.iter().filter(|s| **s > z).count(),
        short_at_normal: scores.iter().filter(|s| **s > normal).count(),
        needed,
    }
}

/// The normal quantile level a standardised headroom corresponds to: the p with z(p) = `z`
/// (bisection on [`normal_quantile`], which is monotone), for the directive's `pNN`.
pub fn equivalent_level(z: f64) -> f64 {
    let (mut lo, mut hi) = (1e-9_f64, 1.0 - 1e-9);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if normal_quantile(mid) < z {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// A quantile level as `pNN`: to a tenth of a percent, to a hundredth in the far tail (never
/// rounded up to p100).
fn level_name(level: f64) -> String {
    let pct = level * 100.0;
    if pct < 99.95 {
        format!("p{}", (pct * 10.0).round() / 10.0)
    } else if pct < 99.99 {
        format!("p{}", (pct * 100.0).floor() / 100.0)
    } else {
        "p>99.99".to_string()
    }
}

impl Choice {
    /// For the directive's reason, e.g. `p99.3 (mean + 2.46σ) chosen for under_provisioned ≤
    /// 0.5%: the conformal quantile of 2016 recent windows (10 above it; 31 above the normal
    /// p99.5)`.
    pub fn describe(&self) -> String {
        let p = level_name(equivalent_level(self.z));
        let normal = format!("p{}", ((1.0 - self.slo) * 1000.0).round() / 10.0);
        let head = format!(
            "{p} (mean {} {:.2}σ) chosen for under_provisioned ≤ {}",
            if self.z < 0.0 { "-" } else { "+" },
            self.z.abs(),
            percent(self.slo)
        );
        if self.calibrated {
            format!(
                "{head}: the conformal quantile of {} recent windows ({} above it; {} above the \
                 normal {normal})",
                self.windows, self.short_at_z, self.short_at_normal
            )
        } else if self.windows > 0 && self.short_at_normal > 0 {
            format!(
                "{head}: {} recent windows are fewer than the {} calibration needs, so the \
                 normal {normal} raised to the largest recent error",
                self.windows, self.needed
            )
        } else {
            format!(
                "{head}: {} recent windows are fewer than the {} calibration needs, so the \
                 normal {normal}",
                self.windows, self.needed
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at_ms: i64, mean: f64, upper: f64) -> ForecastPoint {
        ForecastPoint {
            at_ms,
            point: mean,
            lower: mean - (upper - mean),
            upper,
        }
    }

    #[test]
    fn a_record_of_known_errors_picks_the_conformal_rank() {
        // scores 1, 2, ..., 400: for 1%, rank ceil(401 × 0.99) = 397 → q = 397; 3 above it
        let scores: Vec<f64> = (1..=400).rev().map(f64::from).collect();
        let c = choose(&scores, 0.01);
        assert!(c.calibrated);
        assert_eq!((c.z, c.windows, c.short_at_z), (397.0, 400, 3));
        // for 5%, rank ceil(401 × 0.95) = 381
        assert_eq!(choose(&scores, 0.05).z, 381.0);
    }

    #[test]
    fn a_record_too_short_falls_back_to_the_normal_quantile_or_its_worst_error() {
        // 0.5% needs 199 windows
        let mild = vec![0.1; 198];
        let c = choose(&mild, 0.005);
        assert!(!c.calibrated);
        assert!((c.z - normal_quantile(0.995)).abs() < 1e-12, "{}", c.z);
        assert!(
            c.describe().contains("fewer than the 199"),
            "{}",
            c.describe()
        );
        // an error beyond the normal quantile already seen raises it
        let mut wild = mild.clone();
        wild[5] = 4.0;
        assert_eq!(choose(&wild, 0.005).z, 4.0);
        // an empty record: the normal quantile
        assert!((choose(&[], 0.02).z - normal_quantile(0.98)).abs() < 1e-12);
        // one more window and the record decides
        let mut enough = mild;
        enough.push(0.3);
        let c = choose(&enough, 0.005);
        assert!(c.calibrated);
        assert_eq!(c.z, 0.3);
    }

    #[test]
    fn levels_are_named_without_rounding_up_to_p100() {
        assert_eq!(level_name(0.993), "p99.3");
        assert_eq!(level_name(0.9996), "p99.96");
        assert_eq!(level_name(0.999_999_9), "p>99.99");
        assert_eq!(
            level_name(equivalent_level(normal_quantile(0.995))),
            "p99.5"
        );
    }

    #[test]
    fn a_stricter_slo_never_provisions_less() {
        // heavy-tailed scores (a Cauchy-like sequence), records from empty to long
        let all: Vec<f64> = (0..3000)
            .map(|i| {
                let u = ((i as f64 * 0.618_033_988_75) % 1.0).clamp(0.001, 0.999);
                (std::f64::consts::PI * (u - 0.5)).tan()
            })
            .collect();
        for n in [0, 10, 19, 50, 150, 199, 500, 3000] {
            let scores = &all[..n];
            let mut last = f64::NEG_INFINITY;
            for slo in [0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.001] {
                let z = choose(scores, slo).z;
                assert!(z >= last, "n {n}: {slo} gives {z} below {last}");
                last = z;
            }
        }
    }

    #[test]
    fn the_record_pairs_windows_with_the_point_that_provisioned_them() {
        let keep = 7 * 86_400_000;
        let mut r = Record::default();
        // forecast issued at 0 for the window at 100 (mean 10, σ 2 from a 90% upper bound)
        let p = point(100, 10.0, 10.0 + 2.0 * normal_quantile(0.95));
        r.predict(0, "f1", &p, sigma(&p, 0.9), keep);
        r.observe(100, 200, 13.0, keep);
        // a window with no forecast, and one whose value is unknown, are no scores
        r.observe(200, 300, 9.0, keep);
        r.predict(0, "f1", &point(300, 1.0, 2.0), 1.0, keep);
        r.observe(300, 400, f64::NAN, keep);
        let s = r.scores(401, keep);
        assert_eq!(s.len(), 1);
        assert!((s[0] - 1.5).abs() < 1e-9, "{s:?}");
        // a decision at the window's end does not read it yet
        assert!(r.scores(200, keep).is_empty());
        // a newer forecast of the window replaces the older, in either order
        let mut a = r.clone();
        a.predict(50, "f2", &point(100, 13.0, 14.0), 1.0, keep);
        let mut b = Record::default();
        b.observe(100, 200, 13.0, keep);
        b.predict(50, "f2", &point(100, 13.0, 14.0), 1.0, keep);
        b.predict(0, "f1", &p, sigma(&p, 0.9), keep);
        assert_eq!(a.scores(201, keep), vec![0.0]);
        assert_eq!(b.scores(201, keep), vec![0.0]);
        assert_eq!(r.newest_observed(300), Some((200, 9.0)));
        assert_eq!(r.newest_observed(299), Some((100, 13.0)));
    }

    #[test]
    fn the_window_drops_old_entries() {
        let day = 86_400_000;
        let keep = 2 * day;
        let mut r = Record::default();
        for i in 0..20 {
            let at = i * day;
            r.predict(at - 1, "f", &point(at, 0.0, 1.0), 1.0, keep);
            r.observe(at, at + 1000, 1.0, keep);
        }
        // a decision reads two days back
        assert_eq!(r.scores(19 * day + 2000, 2 * day).len(), 2);
        // with no decision, the window and the slack are kept: days 10 to 19
        assert_eq!(r.len(), (10, 10));
        // after a decision at day 19, what no later decision reads goes: days 17 to 19 stay
        r.forget_before(19 * day - keep);
        assert_eq!(r.len(), (3, 3));
        assert_eq!(r.scores(19 * day + 2000, 2 * day).len(), 2);
    }
}

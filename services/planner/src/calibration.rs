//! An SLO instead of a quantile (`target: { under_provisioned: 0.5% }`): the planner provisions
//! at the headroom over its forecasts that its own recent record says keeps windows short at
//! most that often. Pure: a record of what was forecast and what was observed, and the choice
//! made from it.
//!
//! **The record.** For each observed window of the policy's metric it pairs the window's value
//! `y` with the forecast point for that window that the policy provisions for (the point at its
//! lead time, of the newest trusted forecast targeting the window): its mean and σ, the
//! forecast's upper half-width over the normal quantile of its interval (so a well-calibrated
//! normal forecast has standard normal errors `(y − mean) / σ`). Windows whose forecast has no
//! width (σ = 0) or whose value is unknown are left out.
//!
//! **What is scored is shortfall, not error.** Capacity comes in whole units,
//! `ceil((mean + z·σ) / per_unit)`, and is short only when those units fall below `y`. So each
//! window is scored by the headroom it *needed*: the z just above which its rounded-up units
//! would have covered it, `((ceil(y / per_unit) − 1)·per_unit − mean) / σ` (see [`needed_z`]).
//! That is always below its error `(y − mean) / σ`: rounding up already covers part of every
//! error, and calibrating the raw errors provisioned for that part twice (on the airports'
//! departures: short 0.07% of windows for an SLO of 0.5%, at 3.5× the oracle's cost). A window
//! the floor `min` alone covers (and one with `y ≤ 0`) needs no headroom at all: −∞.
//!
//! **The choice** (split conformal prediction): of the n needs of the last `window` that ended
//! before the decision, the ⌈(n + 1)(1 − α)⌉-th smallest `q`; the policy provisions for
//! `mean + q·σ` of the new forecast (for the floor, if `q` is −∞: more than 1 − α of the record
//! was covered by the floor alone). On exchangeable windows a new window is short with
//! probability at most α (a window whose need equals `q` exactly is covered only just above it;
//! for forecasts of continuous means and widths that tie has probability zero). While the
//! record is too short for that rank (n < 199 windows for 0.5%), the policy provisions at the
//! larger of the normal quantile z(1 − α) and the largest need recorded: the textbook quantile,
//! raised when the record has already seen a worse one. Either way a stricter SLO never
//! provisions less.
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

/// A recorded window: the forecast point that provisioned it and what was observed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// The forecast's mean for the window.
    pub mean: f64,
    /// Its scale (positive; see [`sigma`]).
    pub sigma: f64,
    /// The window's observed value.
    pub value: f64,
}

impl Outcome {
    /// The forecast's standardised error `(y − mean) / σ`.
    pub fn error(&self) -> f64 {
        (self.value - self.mean) / self.sigma
    }
}

/// The smallest standardised headroom at which a window's rounded-up capacity would have
/// covered it: units `ceil((mean + z·σ) / per_unit)` reach `k = ceil(y / per_unit)` for every
/// z above `((k − 1)·per_unit − mean) / σ` (not at it: there the units are `k − 1`). A window
/// the floor `min` (in units) already covers, `k ≤ min`, which includes every `y ≤ 0`, needs
/// none: −∞. A window beyond `max` is scored by the headroom that asks for its units all the
/// same (the cap holds the capacity; the record should not pretend it was covered).
pub fn needed_z(outcome: &Outcome, per_unit: f64, min_units: f64) -> f64 {
    let units = (outcome.value / per_unit).ceil();
    if units <= min_units.max(0.0) {
        return f64::NEG_INFINITY;
    }
    ((units - 1.0) * per_unit - outcome.mean) / outcome.sigma
}

/// The needs of a record's windows (see [`needed_z`]), for [`choose`].
pub fn needs(outcomes: &[Outcome], per_unit: f64, min_units: f64) -> Vec<f64> {
    outcomes
        .iter()
        .map(|o| needed_z(o, per_unit, min_units))
        .collect()
}

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

    /// The outcomes to score: the windows that ended by `now` (strictly before it: the window
    /// ending at `now` is the one a forecast issued now was made from, and may reach the planner
    /// after it) and started within `window_ms` of it, with the forecast that provisioned them.
    /// In window order.
    pub fn scores(&self, now: i64, window_ms: i64) -> Vec<Outcome> {
        self.observed
            .range(now.saturating_sub(window_ms)..now)
            .filter(|(_, o)| o.end_ms < now)
            .filter_map(|(start, o)| {
                let p = self.predicted.get(start)?;
                (p.sigma > 0.0).then_some(Outcome {
                    mean: p.mean,
                    sigma: p.sigma,
                    value: o.value,
                })
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
    /// Provision for `mean + z·σ` (−∞: for the floor alone).
    pub z: f64,
    /// The SLO it was chosen for.
    pub slo: f64,
    /// Windows in the record.
    pub windows: usize,
    /// Whether `z` is the record's conformal quantile (else the fallback).
    pub calibrated: bool,
    /// Windows of the record that needed more than `z`: short had the policy provisioned at it.
    pub short_at_z: usize,
    /// Windows of the record that needed more than the normal quantile z(1 − SLO).
    pub short_at_normal: usize,
    /// Windows the record needs for a calibrated choice.
    pub needed: usize,
}

/// The headroom for `slo` from a record's `scores`, the headroom each window needed (see
/// [`needs`] and the module documentation).
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
    /// For the directive's reason, e.g. `p93.1 (mean + 1.48σ) chosen for under_provisioned ≤
    /// 0.5%: the conformal quantile of 2016 recent windows' headroom needed once rounded up to
    /// whole units (10 short at it; 3 short at the normal p99.5)`.
    pub fn describe(&self) -> String {
        let normal = format!("p{}", ((1.0 - self.slo) * 1000.0).round() / 10.0);
        let head = if self.z == f64::NEG_INFINITY {
            format!(
                "the floor alone chosen for under_provisioned ≤ {}",
                percent(self.slo)
            )
        } else {
            format!(
                "{} (mean {} {:.2}σ) chosen for under_provisioned ≤ {}",
                level_name(equivalent_level(self.z)),
                if self.z < 0.0 { "-" } else { "+" },
                self.z.abs(),
                percent(self.slo)
            )
        };
        if self.calibrated {
            format!(
                "{head}: the conformal quantile of {} recent windows' headroom needed once \
                 rounded up to whole units ({} short at it; {} short at the normal {normal})",
                self.windows, self.short_at_z, self.short_at_normal
            )
        } else if self.windows > 0 && self.short_at_normal > 0 {
            format!(
                "{head}: {} recent windows are fewer than the {} calibration needs, so the \
                 normal {normal} raised to the largest headroom a recent window needed",
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

    fn outcome(mean: f64, sigma: f64, value: f64) -> Outcome {
        Outcome { mean, sigma, value }
    }

    /// Whether the policy's rounded capacity at `z` covers the window, as the planner and the
    /// backtest count it.
    fn covered(o: &Outcome, z: f64, per_unit: f64, min_units: f64) -> bool {
        let units = ((o.mean + z * o.sigma) / per_unit).ceil().max(min_units);
        units * per_unit >= o.value
    }

    #[test]
    fn a_window_needs_the_headroom_just_above_which_its_rounded_units_cover_it() {
        // mean 1010, σ 10, 100 a unit: 11 units (1100) at z = 0
        let needed = |y: f64| needed_z(&outcome(1010.0, 10.0, y), 100.0, 0.0);
        // anything up to 1100 needs 11 units, reached above z = (1000 − 1010) / 10
        assert_eq!(needed(1050.0), -1.0);
        // exactly on a unit boundary: 11 units cover 1100, no twelfth needed
        assert_eq!(needed(1100.0), -1.0);
        // just past it: 12 units, above z = (1100 − 1010) / 10
        assert_eq!(needed(1100.5), 9.0);
        // a window below the forecast needs less than the mean: 10 units, then 9
        assert_eq!(needed(950.0), -11.0);
        assert_eq!(needed(850.0), -21.0);
        // nothing (or less) observed: no headroom at all
        assert_eq!(needed(0.0), f64::NEG_INFINITY);
        assert_eq!(needed(-3.0), f64::NEG_INFINITY);
        // a floor of 12 units covers 1150 whatever the forecast; 1250 still needs a 13th
        let floored = |y: f64| needed_z(&outcome(1010.0, 10.0, y), 100.0, 12.0);
        assert_eq!(floored(1150.0), f64::NEG_INFINITY);
        assert_eq!(floored(1200.0), f64::NEG_INFINITY);
        assert_eq!(floored(1250.0), 19.0);
    }

    #[test]
    fn the_need_is_where_the_rounded_capacity_starts_to_cover() {
        // by brute force against the definition, on windows all around unit boundaries
        for i in 0..2000 {
            let x = f64::from(i);
            let o = outcome(
                40.0 + (x * 7.3) % 60.0,
                1.0 + (x * 0.37) % 9.0,
                (x * 13.7) % 130.0 - 5.0,
            );
            let (per_unit, min_units) = (10.0, f64::from(i % 3));
            let z = needed_z(&o, per_unit, min_units);
            if z == f64::NEG_INFINITY {
                assert!(covered(&o, -1e9, per_unit, min_units), "{o:?}");
                continue;
            }
            assert!(covered(&o, z + 1e-6, per_unit, min_units), "{o:?} at {z}");
            assert!(!covered(&o, z - 1e-6, per_unit, min_units), "{o:?} at {z}");
            // never more than the raw error asks for
            assert!(z < o.error(), "{o:?}: {z} ≥ {}", o.error());
        }
    }

    #[test]
    fn errors_rounding_already_covers_choose_a_lower_headroom_than_the_raw_errors() {
        // 400 windows forecast at 1010 (σ 10, 100 a unit: 11 units = 1100 at z = 0), observed
        // between 1010 and 1100: errors of up to 9σ, every one covered by rounding at z = 0
        let record: Vec<Outcome> = (0..400)
            .map(|i| outcome(1010.0, 10.0, 1010.0 + f64::from(i % 90) + 0.5))
            .collect();
        let errors: Vec<f64> = record.iter().map(Outcome::error).collect();
        let raw = choose(&errors, 0.005);
        let rounded = choose(&needs(&record, 100.0, 1.0), 0.005);
        assert!(raw.calibrated && rounded.calibrated);
        assert!(raw.z > 8.0, "{}", raw.z);
        assert_eq!(rounded.z, -1.0);
        assert_eq!(rounded.short_at_z, 0);
        // and provisioning at it covers every window, as provisioning at 0 would
        assert!(record
            .iter()
            .all(|o| covered(o, rounded.z + 1e-9, 100.0, 1.0)));
        assert!(
            rounded
                .describe()
                .contains("conformal quantile of 400 recent windows' headroom needed once rounded"),
            "{}",
            rounded.describe()
        );
        // a record the floor alone covers chooses the floor
        let quiet: Vec<Outcome> = (0..400)
            .map(|i| outcome(50.0, 10.0, f64::from(i % 7)))
            .collect();
        let floor = choose(&needs(&quiet, 100.0, 1.0), 0.005);
        assert_eq!(floor.z, f64::NEG_INFINITY);
        assert!(
            floor
                .describe()
                .starts_with("the floor alone chosen for under_provisioned ≤ 0.5%"),
            "{}",
            floor.describe()
        );
        // a stricter SLO still never provisions less, on needs as on errors
        let mut last = f64::NEG_INFINITY;
        for slo in [0.3, 0.1, 0.05, 0.01, 0.005, 0.001] {
            let z = choose(&needs(&record, 100.0, 1.0), slo).z;
            assert!(z >= last, "{slo}: {z} below {last}");
            last = z;
        }
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
        assert!((s[0].error() - 1.5).abs() < 1e-9, "{s:?}");
        // a decision at the window's end does not read it yet
        assert!(r.scores(200, keep).is_empty());
        // a newer forecast of the window replaces the older, in either order
        let mut a = r.clone();
        a.predict(50, "f2", &point(100, 13.0, 14.0), 1.0, keep);
        let mut b = Record::default();
        b.observe(100, 200, 13.0, keep);
        b.predict(50, "f2", &point(100, 13.0, 14.0), 1.0, keep);
        b.predict(0, "f1", &p, sigma(&p, 0.9), keep);
        let errors =
            |r: &Record| -> Vec<f64> { r.scores(201, keep).iter().map(Outcome::error).collect() };
        assert_eq!(errors(&a), vec![0.0]);
        assert_eq!(errors(&b), vec![0.0]);
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

//! Fourier terms for the seasons longer than the one the ARIMA models (dynamic harmonic
//! regression): a seasonal ARIMA has one season m, so a weekly pattern on top of a daily one
//! is otherwise left to the short AR terms, which carry today's deviation on through tomorrow.
//! The terms are regressors whose future is known exactly: they are functions of the grid
//! step's absolute index, so a window that slides keeps the same phase.

use crate::grid::Grid;

/// `sin` or `cos` of `2π·k·t / period` at the absolute step index t.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Harmonic {
    pub period: usize,
    pub k: usize,
    pub sine: bool,
}

impl Harmonic {
    pub fn at(&self, absolute_step: i64) -> f64 {
        let phase = absolute_step.rem_euclid(self.period as i64) as f64 / self.period as f64;
        let angle = std::f64::consts::TAU * self.k as f64 * phase;
        if self.sine {
            angle.sin()
        } else {
            angle.cos()
        }
    }

    /// Its values at points `from..to` of a grid whose first point is `first_step` (points past
    /// the grid's end included).
    pub fn over(&self, first_step: i64, from: usize, to: usize) -> Vec<f64> {
        (from..to).map(|i| self.at(first_step + i as i64)).collect()
    }
}

/// The absolute step index of the grid's first point.
pub fn first_step(grid: &Grid) -> i64 {
    grid.start_ms.div_euclid(grid.step_ms.max(1))
}

/// `k` pairs of terms for every period after the first (the ARIMA's own season) that the
/// history covers at least twice, each frequency once (k = 2 of a fortnight is k = 1 of a week).
/// A pair whose frequency is a multiple of the season's (k = 7 of a week over a day) is kept
/// here: a seasonal difference turns it to zero and the fit then drops it as constant.
pub fn for_periods(periods: &[usize], history: usize, pairs: usize) -> Vec<Harmonic> {
    let Some((&season, longer)) = periods.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut frequencies: Vec<(usize, usize)> = Vec::new();
    for &period in longer.iter().filter(|p| **p > season && 2 * **p <= history) {
        for k in (1..=pairs).filter(|k| 2 * k < period) {
            let common = gcd(k, period);
            let frequency = (k / common, period / common);
            if frequencies.contains(&frequency) {
                continue;
            }
            frequencies.push(frequency);
            for sine in [true, false] {
                out.push(Harmonic { period, k, sine });
            }
        }
    }
    out
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_harmonic_repeats_every_period_and_keeps_its_phase_across_windows() {
        let h = Harmonic {
            period: 336,
            k: 2,
            sine: true,
        };
        assert!((h.at(5) - h.at(5 + 336)).abs() < 1e-12);
        assert!(
            (h.at(84) - 0.0).abs() < 1e-12,
            "a half cycle at a quarter period"
        );
        assert!((h.at(42) - 1.0).abs() < 1e-12);
        let grid = |start_step: i64| Grid {
            start_ms: start_step * 1_800_000,
            step_ms: 1_800_000,
            values: vec![0.0; 10],
            regressors: Vec::new(),
            filled: 0,
        };
        assert_eq!(first_step(&grid(107)), 107);
        // a window starting 7 steps later sees the same values 7 points earlier
        assert_eq!(h.over(107, 0, 5), h.over(100, 7, 12));
    }

    #[test]
    fn terms_come_for_longer_periods_the_history_covers_twice_each_frequency_once() {
        let weekly = for_periods(&[48, 336], 1344, 4);
        let ks: Vec<usize> = weekly.iter().map(|h| h.k).collect();
        assert_eq!(ks, [1, 1, 2, 2, 3, 3, 4, 4]);
        assert!(weekly.iter().all(|h| h.period == 336));
        assert_eq!(weekly.iter().filter(|h| h.sine).count(), 4);
        // a fortnight's even harmonics are the week's: only its odd ones are new
        let both = for_periods(&[48, 336, 672], 1344, 4);
        let fortnightly: Vec<usize> = both
            .iter()
            .filter(|h| h.period == 672 && h.sine)
            .map(|h| h.k)
            .collect();
        assert_eq!(fortnightly, [1, 3]);
        assert!(
            for_periods(&[48, 336], 600, 3).is_empty(),
            "under two weeks"
        );
        assert!(for_periods(&[48], 1344, 3).is_empty());
        assert!(for_periods(&[], 1344, 3).is_empty());
    }
}

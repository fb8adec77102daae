//! How many differences a series needs, decided as auto.arima and statsforecast's `AutoARIMA`
//! decide it: the seasonal difference D (0 or 1) when the seasonal strength exceeds 0.64, then
//! the regular differences d (up to 2) while a KPSS test at 5% rejects level stationarity.

use super::differencing::difference;

/// The KPSS level-stationarity statistic's 5% critical value (Kwiatkowski et al. 1992, table 1).
const KPSS_CRITICAL_5_PERCENT: f64 = 0.463;

/// Seasonal strength above which the series is seasonally differenced (Wang, Smith & Hyndman
/// 2006; the threshold `nsdiffs` uses).
const SEASONAL_STRENGTH_THRESHOLD: f64 = 0.64;

/// Regular differences d ≤ `max`: difference while the KPSS test rejects stationarity.
pub fn regular_differences(x: &[f64], max: usize) -> usize {
    let mut series = x.to_vec();
    let mut d = 0;
    while d < max && !is_constant(&series) && kpss_statistic(&series) > KPSS_CRITICAL_5_PERCENT {
        series = difference(&series, 1);
        d += 1;
    }
    d
}

/// Seasonal differences D (0 or 1) at season `m`.
pub fn seasonal_differences(x: &[f64], m: usize) -> usize {
    if m < 2 || x.len() < 2 * m || is_constant(x) {
        return 0;
    }
    usize::from(seasonal_strength(x, m) > SEASONAL_STRENGTH_THRESHOLD)
}

/// The KPSS statistic for level stationarity: the squared partial sums of the deviations from
/// the mean, over n² times the long-run variance (Bartlett window, the short lag
/// `⌊3√n / 13⌋` the R and statsforecast versions use).
pub fn kpss_statistic(x: &[f64]) -> f64 {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let e: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let mut partial = 0.0;
    let mut eta = 0.0;
    for v in &e {
        partial += v;
        eta += partial * partial;
    }
    let lags = (3.0 * (n as f64).sqrt() / 13.0) as usize;
    let mut long_run = e.iter().map(|v| v * v).sum::<f64>() / n as f64;
    for l in 1..=lags.min(n - 1) {
        let weight = 1.0 - l as f64 / (lags as f64 + 1.0);
        let cov = (l..n).map(|t| e[t] * e[t - l]).sum::<f64>() / n as f64;
        long_run += 2.0 * weight * cov;
    }
    if long_run <= 0.0 {
        return 0.0;
    }
    eta / (n as f64 * n as f64 * long_run)
}

/// Strength of the season in `1 − Var(remainder) / Var(season + remainder)`, floored at 0, from
/// a classical decomposition: a centred moving average of one season for the trend (2×m when m
/// is even), the mean detrended value at each phase for the season. statsforecast decomposes
/// with STL; the moving average is the same idea in O(n) without a loess, and only has to say
/// whether the season dominates the noise.
pub fn seasonal_strength(x: &[f64], m: usize) -> f64 {
    let n = x.len();
    let half = m / 2;
    let mut prefix = vec![0.0; n + 1];
    for (i, v) in x.iter().enumerate() {
        prefix[i + 1] = prefix[i] + v;
    }
    // trend[t] for t in half..n − half
    let trend = |t: usize| -> f64 {
        if !m.is_multiple_of(2) {
            (prefix[t + half + 1] - prefix[t - half]) / m as f64
        } else {
            let inner = prefix[t + half] - prefix[t + 1 - half];
            (inner + 0.5 * (x[t - half] + x[t + half])) / m as f64
        }
    };
    let range = half..n - half;
    let detrended: Vec<(usize, f64)> = range.map(|t| (t, x[t] - trend(t))).collect();
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for (t, v) in &detrended {
        sums[t % m] += v;
        counts[t % m] += 1;
    }
    let phase: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, c)| s / (*c).max(1) as f64)
        .collect();
    let centre = phase.iter().sum::<f64>() / m as f64;
    let remainder: Vec<f64> = detrended
        .iter()
        .map(|(t, v)| v - (phase[t % m] - centre))
        .collect();
    let seasonal_plus_remainder: Vec<f64> = detrended.iter().map(|(_, v)| *v).collect();
    let total = variance(&seasonal_plus_remainder);
    if total <= 0.0 {
        return 0.0;
    }
    (1.0 - variance(&remainder) / total).max(0.0)
}

fn variance(x: &[f64]) -> f64 {
    let mean = x.iter().sum::<f64>() / x.len().max(1) as f64;
    x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len().max(1) as f64
}

pub fn is_constant(x: &[f64]) -> bool {
    x.iter().all(|v| *v == x[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stand-in for noise: a chaotic but bounded sequence with mean ≈ 0.
    fn jitter(len: usize) -> Vec<f64> {
        let mut state = 0.123_f64;
        (0..len)
            .map(|_| {
                state = 3.99 * state * (1.0 - state);
                state - 0.5
            })
            .collect()
    }

    #[test]
    fn a_random_walk_is_differenced_once_and_its_noise_not_at_all() {
        let noise = jitter(400);
        let walk: Vec<f64> = noise
            .iter()
            .scan(0.0, |level, e| {
                *level += e;
                Some(*level)
            })
            .collect();
        assert_eq!(regular_differences(&noise, 2), 0);
        assert_eq!(regular_differences(&walk, 2), 1);
    }

    #[test]
    fn a_strong_season_is_differenced_and_a_faint_one_is_not() {
        let noise = jitter(480);
        let strong: Vec<f64> = (0..480)
            .map(|t| 5.0 * ((t % 24) as f64 / 24.0 * std::f64::consts::TAU).sin() + noise[t])
            .collect();
        let faint: Vec<f64> = (0..480)
            .map(|t| 0.05 * ((t % 24) as f64 / 24.0 * std::f64::consts::TAU).sin() + noise[t])
            .collect();
        assert!(seasonal_strength(&strong, 24) > 0.9);
        assert_eq!(seasonal_differences(&strong, 24), 1);
        assert_eq!(seasonal_differences(&faint, 24), 0);
    }
}

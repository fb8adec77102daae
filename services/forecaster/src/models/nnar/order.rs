//! The number of plain lags, p, as `forecast::nnetar` chooses it: the order of the best linear
//! autoregression by AIC, fitted to the series with its shortest season taken out (nnetar uses
//! STL; the mean profile per phase of the season is enough to keep the daily shape from
//! posing as a long autoregression). Yule–Walker by Levinson–Durbin: one pass for every order.

/// The AR order in 1..=`max` with the lowest AIC on `values` adjusted for `season`.
pub fn ar_order(values: &[f64], season: Option<usize>, max: usize) -> usize {
    let adjusted = seasonally_adjusted(values, season);
    let n = adjusted.len();
    let max = max.min(n.saturating_sub(1)).max(1);
    let mean = adjusted.iter().sum::<f64>() / n as f64;
    let autocovariance: Vec<f64> = (0..=max)
        .map(|lag| {
            (lag..n)
                .map(|i| (adjusted[i] - mean) * (adjusted[i - lag] - mean))
                .sum::<f64>()
                / n as f64
        })
        .collect();
    if autocovariance[0] <= f64::EPSILON * mean.abs().max(1.0) {
        return 1;
    }
    // Levinson–Durbin: innovation variance of each order.
    let mut phi = vec![0.0; max + 1];
    let mut variance = autocovariance[0];
    let (mut best, mut best_aic) = (1, f64::INFINITY);
    for k in 1..=max {
        let reflection = (autocovariance[k]
            - (1..k).map(|j| phi[j] * autocovariance[k - j]).sum::<f64>())
            / variance;
        let previous = phi.clone();
        phi[k] = reflection;
        for j in 1..k {
            phi[j] = previous[j] - reflection * previous[k - j];
        }
        variance *= 1.0 - reflection * reflection;
        if variance <= 0.0 {
            break;
        }
        let aic = n as f64 * variance.ln() + 2.0 * k as f64;
        if aic < best_aic {
            (best, best_aic) = (k, aic);
        }
    }
    best
}

/// `values` less the mean of their phase of `season` (unchanged without one, or with fewer
/// than two seasons).
fn seasonally_adjusted(values: &[f64], season: Option<usize>) -> Vec<f64> {
    let Some(m) = season.filter(|m| *m > 1 && values.len() >= 2 * m) else {
        return values.to_vec();
    };
    let (mut sums, mut counts) = (vec![0.0; m], vec![0usize; m]);
    for (i, v) in values.iter().enumerate() {
        sums[i % m] += v;
        counts[i % m] += 1;
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| v - sums[i % m] / counts[i % m] as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::rng::SplitMix64;
    use super::*;

    fn ar(coefficients: &[f64], n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        let mut x = vec![0.0; n + 100];
        for i in coefficients.len()..x.len() {
            let signal: f64 = coefficients
                .iter()
                .enumerate()
                .map(|(j, c)| c * x[i - 1 - j])
                .sum();
            x[i] = signal + (0..12).map(|_| rng.unit()).sum::<f64>() - 6.0;
        }
        x.split_off(100)
    }

    #[test]
    fn finds_the_order_of_an_autoregression() {
        assert_eq!(ar_order(&ar(&[0.6], 2000, 1), None, 8), 1);
        assert_eq!(ar_order(&ar(&[0.5, 0.0, 0.3], 2000, 2), None, 8), 3);
    }

    #[test]
    fn a_daily_shape_is_not_mistaken_for_a_long_autoregression() {
        // white noise on a square wave of period 24: adjusted, there is nothing to regress on
        let mut rng = SplitMix64::new(3);
        let values: Vec<f64> = (0..24 * 40)
            .map(|i| 10.0 * f64::from(u8::from(i % 24 < 12)) + rng.unit())
            .collect();
        let (adjusted, raw) = (ar_order(&values, Some(24), 8), ar_order(&values, None, 8));
        assert!(adjusted <= 2 && raw >= 4, "adjusted {adjusted}, raw {raw}");
    }
}

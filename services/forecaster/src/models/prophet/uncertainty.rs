//! Prophet's prediction interval (`sample_predictive_trend` and `sample_model` with MAP
//! parameters): the future may hold trend changes like the past's. Each simulated path adds, to
//! the point forecast, changepoints arriving at the history's rate (S per unit of scaled time,
//! S the changepoints the fit could use) with slopes drawn from Laplace(0, mean|δ|), and
//! observation noise Normal(0, σ). The bounds are quantiles of the paths at each step.
//!
//! The random numbers come from a seeded splitmix64 (ten lines, so written here rather than
//! pulled in as a crate): the same history always gives the same bounds.

/// Paths simulated, as Prophet's `uncertainty_samples` default.
pub const SAMPLES: usize = 1000;
const SEED: u64 = 0x5052_4F50_4845_5421;

/// What the simulation needs from the fit, in scaled units.
pub struct TrendUncertainty {
    /// Potential changepoints per unit of scaled time in the history (Prophet's `S` over [0, 1]).
    pub changepoint_rate: f64,
    /// Laplace scale of a future slope change: mean |δ| of the fit (+1e-8, as Prophet).
    pub delta_scale: f64,
    pub sigma: f64,
}

/// Lower and upper bounds at `level` around `point` (scaled), `times` the scaled times of its
/// steps (all beyond 1, the end of the history).
pub fn bounds(
    point: &[f64],
    times: &[f64],
    u: &TrendUncertainty,
    level: f64,
) -> (Vec<f64>, Vec<f64>) {
    let horizon = point.len();
    let end = times.last().copied().unwrap_or(1.0);
    let mut rng = SplitMix64(SEED);
    // paths[h * SAMPLES + s]: step-major, so each step's sample sorts in place
    let mut paths = vec![0.0; horizon * SAMPLES];
    let mut changes: Vec<(f64, f64)> = Vec::new();
    for s in 0..SAMPLES {
        changes.clear();
        // a Poisson process of rate S on (1, end]: exponential gaps, as many as fit
        if u.changepoint_rate > 0.0 && end > 1.0 {
            let mut at = 1.0;
            loop {
                at += rng.exponential() / u.changepoint_rate;
                if at >= end {
                    break;
                }
                changes.push((at, rng.laplace(u.delta_scale)));
            }
        }
        let mut spare = None;
        for (h, (p, t)) in point.iter().zip(times).enumerate() {
            let trend_change: f64 = changes
                .iter()
                .map(|(at, delta)| delta * (t - at).max(0.0))
                .sum();
            let noise = spare.take().unwrap_or_else(|| {
                let (a, b) = rng.normal_pair();
                spare = Some(b);
                a
            });
            paths[h * SAMPLES + s] = p + trend_change + u.sigma * noise;
        }
    }
    let (low_q, high_q) = ((1.0 - level) / 2.0, (1.0 + level) / 2.0);
    let mut lower = Vec::with_capacity(horizon);
    let mut upper = Vec::with_capacity(horizon);
    for step in paths.chunks_exact_mut(SAMPLES) {
        lower.push(percentile(step, low_q));
        upper.push(percentile(step, high_q));
    }
    (lower, upper)
}

/// numpy's default percentile: linear between the two nearest order statistics. Selects them
/// in linear time (reordering `values`) instead of sorting every step's thousand paths.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let below = position.floor() as usize;
    let (_, low, above) = values.select_nth_unstable_by(below, f64::total_cmp);
    let low = *low;
    let fraction = position - below as f64;
    match above.iter().copied().min_by(f64::total_cmp) {
        Some(high) if fraction > 0.0 => low + fraction * (high - low),
        _ => low,
    }
}

/// splitmix64 (Steele, Lea & Flood 2014): a 64-bit state, one add and three mixes per draw.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1): never 0, so its logarithm is finite.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn exponential(&mut self) -> f64 {
        -self.uniform().ln()
    }

    fn laplace(&mut self, scale: f64) -> f64 {
        let magnitude = scale * self.exponential();
        if self.next_u64() & 1 == 0 {
            magnitude
        } else {
            -magnitude
        }
    }

    /// A pair of independent standard normals (Box–Muller).
    fn normal_pair(&mut self) -> (f64, f64) {
        let (u1, u2) = (self.uniform(), self.uniform());
        let radius = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        (radius * cos, radius * sin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_draws_the_distributions_it_names() {
        let mut rng = SplitMix64(1);
        let n = 200_000;
        let normals: Vec<f64> = (0..n / 2)
            .flat_map(|_| {
                let (a, b) = rng.normal_pair();
                [a, b]
            })
            .collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let var = normals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        // Laplace(0, b): E|x| = b
        let b = 0.3;
        let mean_abs = (0..n).map(|_| rng.laplace(b).abs()).sum::<f64>() / n as f64;
        assert!((mean_abs - b).abs() < 0.005, "{mean_abs}");
    }

    #[test]
    fn without_trend_changes_the_bounds_are_the_noise_quantiles() {
        let u = TrendUncertainty {
            changepoint_rate: 0.0,
            delta_scale: 0.0,
            sigma: 0.1,
        };
        let (lower, upper) = bounds(&[1.0; 5], &[1.1, 1.2, 1.3, 1.4, 1.5], &u, 0.9);
        for (l, h) in lower.iter().zip(&upper) {
            // ±1.645σ, within the sampling error of 1000 paths
            assert!((h - 1.0 - 0.1645).abs() < 0.02, "{h}");
            assert!((1.0 - l - 0.1645).abs() < 0.02, "{l}");
        }
    }

    #[test]
    fn trend_changes_widen_the_bounds_with_the_horizon() {
        let u = TrendUncertainty {
            changepoint_rate: 25.0,
            delta_scale: 0.05,
            sigma: 0.01,
        };
        let times: Vec<f64> = (1..=200).map(|h| 1.0 + h as f64 * 0.005).collect();
        let (lower, upper) = bounds(&vec![0.0; 200], &times, &u, 0.8);
        let width = |h: usize| upper[h] - lower[h];
        assert!(
            width(199) > 3.0 * width(9),
            "{} vs {}",
            width(199),
            width(9)
        );
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let mut values = [4.0, 1.0, 5.0, 3.0, 2.0];
        assert_eq!(percentile(&mut values, 0.5), 3.0);
        assert!((percentile(&mut values, 0.1) - 1.4).abs() < 1e-12);
        assert_eq!(percentile(&mut values, 1.0), 5.0);
        assert_eq!(percentile(&mut values, 0.0), 1.0);
    }
}

//! Prophet's posterior (the `prophet.stan` model, linear growth), as the negative log density the
//! MAP estimate minimises. On scaled data, with `Z` the design rows and θ = [k, m, δ, β]:
//!
//! ```text
//! y ~ Normal(Zθ, σ)          k, m ~ Normal(0, 5)        δ_j ~ Laplace(0, 0.05)
//! β ~ Normal(0, 10)          σ ~ HalfNormal(0, 0.5)
//! ```
//!
//! The likelihood only needs `ZᵀZ`, `Zᵀy` and `yᵀy`: formed once, they make every evaluation
//! O(width²) instead of O(n·width), which is what lets the optimiser iterate freely.

use super::design::Column;

/// Prophet's `changepoint_prior_scale`.
pub const CHANGEPOINT_SCALE: f64 = 0.05;
/// The Stan model's `k, m ~ normal(0, 5)`.
pub const TREND_SCALE: f64 = 5.0;
/// Prophet's `seasonality_prior_scale`, `holidays_prior_scale` and a regressor's default.
pub const FEATURE_SCALE: f64 = 10.0;
/// The Stan model's `sigma_obs ~ normal(0, 0.5)` (on its positive half).
pub const SIGMA_SCALE: f64 = 0.5;
/// σ is kept above this (scaled units): an exactly fitted history would otherwise drive the
/// density to infinity as σ → 0.
pub const SIGMA_FLOOR: f64 = 1e-6;

/// The posterior's sufficient statistics and priors.
#[derive(Debug, Clone)]
pub struct Problem {
    pub n: usize,
    pub width: usize,
    /// ZᵀZ, row-major, width × width.
    pub gram: Vec<f64>,
    /// Zᵀy.
    pub zty: Vec<f64>,
    /// yᵀy.
    pub yty: f64,
    /// Gaussian prior precision of each parameter (0 for the Laplace ones).
    pub precision: Vec<f64>,
    /// Laplace prior weight 1/b of each parameter (0 for the Gaussian ones).
    pub l1: Vec<f64>,
}

impl Problem {
    /// Statistics of `rows` (one per point, each `width` long) against scaled `y`.
    pub fn new(rows: &[f64], y: &[f64], columns: &[Column]) -> Problem {
        let width = columns.len();
        let n = y.len();
        let mut gram = vec![0.0; width * width];
        let mut zty = vec![0.0; width];
        for (row, target) in rows.chunks_exact(width).zip(y) {
            for a in 0..width {
                let za = row[a];
                if za == 0.0 {
                    continue;
                }
                zty[a] += za * target;
                let line = &mut gram[a * width..a * width + a + 1];
                for (g, zb) in line.iter_mut().zip(&row[..=a]) {
                    *g += za * zb;
                }
            }
        }
        for a in 0..width {
            for b in 0..a {
                gram[b * width + a] = gram[a * width + b];
            }
        }
        let precision = columns
            .iter()
            .map(|c| match c {
                Column::Trend => 1.0 / (TREND_SCALE * TREND_SCALE),
                Column::Changepoint => 0.0,
                Column::Feature => 1.0 / (FEATURE_SCALE * FEATURE_SCALE),
            })
            .collect();
        let l1 = columns
            .iter()
            .map(|c| match c {
                Column::Changepoint => 1.0 / CHANGEPOINT_SCALE,
                _ => 0.0,
            })
            .collect();
        Problem {
            n,
            width,
            gram,
            zty,
            yty: y.iter().map(|v| v * v).sum(),
            precision,
            l1,
        }
    }

    /// (ZᵀZ)θ.
    pub fn gram_times(&self, theta: &[f64]) -> Vec<f64> {
        self.gram
            .chunks_exact(self.width)
            .map(|row| row.iter().zip(theta).map(|(g, t)| g * t).sum())
            .collect()
    }

    /// ‖y − Zθ‖² from the statistics (never below 0: rounding may take it there).
    pub fn rss(&self, theta: &[f64]) -> f64 {
        let g_theta = self.gram_times(theta);
        let quadratic: f64 = theta.iter().zip(&g_theta).map(|(t, g)| t * g).sum();
        let linear: f64 = theta.iter().zip(&self.zty).map(|(t, b)| t * b).sum();
        (self.yty - 2.0 * linear + quadratic).max(0.0)
    }
}

/// −log posterior (up to a constant) at θ and σ: the function the MAP estimate minimises.
pub fn neg_log_posterior(p: &Problem, theta: &[f64], sigma: f64) -> f64 {
    let likelihood = p.n as f64 * sigma.ln() + p.rss(theta) / (2.0 * sigma * sigma);
    let priors: f64 = theta
        .iter()
        .zip(&p.precision)
        .zip(&p.l1)
        .map(|((t, prec), l1)| 0.5 * prec * t * t + l1 * t.abs())
        .sum();
    let sigma_prior = sigma * sigma / (2.0 * SIGMA_SCALE * SIGMA_SCALE);
    likelihood + priors + sigma_prior
}

/// Gradient in θ of everything but the Laplace terms: (ZᵀZθ − Zᵀy)/σ² + precision·θ.
pub fn smooth_gradient(p: &Problem, theta: &[f64], sigma: f64) -> Vec<f64> {
    let w = 1.0 / (sigma * sigma);
    p.gram_times(theta)
        .iter()
        .zip(&p.zty)
        .zip(theta.iter().zip(&p.precision))
        .map(|((g, b), (t, prec))| w * (g - b) + prec * t)
        .collect()
}

/// The σ minimising the posterior for a given residual sum of squares: the positive root of
/// d/dσ [n·ln σ + rss/(2σ²) + σ²/(2·0.5²)] = 0, i.e. 4σ⁴ + nσ² − rss = 0 (for scale 0.5).
pub fn best_sigma(n: usize, rss: f64) -> f64 {
    let c = 1.0 / (SIGMA_SCALE * SIGMA_SCALE);
    let n = n as f64;
    // c·σ⁴ + n·σ² − rss = 0; the stable form of (−n + √(n² + 4c·rss)) / (2c)
    let sigma2 = 2.0 * rss / (n + (n * n + 4.0 * c * rss).sqrt());
    sigma2.sqrt().max(SIGMA_FLOOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sigma_in_closed_form_is_the_minimum_over_sigma() {
        let (n, rss) = (100, 3.7);
        let s = best_sigma(n, rss);
        let f = |s: f64| n as f64 * s.ln() + rss / (2.0 * s * s) + 2.0 * s * s;
        assert!(f(s) < f(s * 1.001) && f(s) < f(s * 0.999), "σ = {s}");
        // the prior pulls σ below the plain maximum-likelihood √(rss/n)
        assert!(s < (rss / n as f64).sqrt());
    }

    #[test]
    fn the_statistics_give_the_same_rss_as_the_residuals() {
        let columns = [Column::Trend, Column::Trend, Column::Feature];
        let rows: Vec<f64> = (0..10)
            .flat_map(|i| [i as f64 / 9.0, 1.0, (i as f64).sin()])
            .collect();
        let y: Vec<f64> = (0..10).map(|i| (i * i) as f64 / 50.0).collect();
        let p = Problem::new(&rows, &y, &columns);
        let theta = [0.3, -0.2, 0.7];
        let direct: f64 = rows
            .chunks_exact(3)
            .zip(&y)
            .map(|(r, y)| (y - r.iter().zip(&theta).map(|(a, b)| a * b).sum::<f64>()).powi(2))
            .sum();
        assert!((p.rss(&theta) - direct).abs() < 1e-12);
    }
}

//! Forecasts of a fitted model: the ARMA recursion run forward with future innovations at zero,
//! the regression (and constant) added, the differences undone; intervals from the psi-weights
//! of the whole model, `(1 − B)^d (1 − B^m)^D φ(B)Φ(B^m)·y = θ(B)Θ(B^m)·e`, for which the
//! h-step error variance is `σ²·Σ_{j<h} ψⱼ²`. Parameter uncertainty and the regressors' own
//! future are left out, as in auto.arima and statsforecast.

use presage_template::quantiles::normal_quantile;

use super::css::{Filter, Workspace};
use super::differencing::Differencing;
use super::polynomial::{dense, multiply};

/// What a forecast reads from a fit, on the differenced series' own scale.
pub struct State<'a> {
    pub filter: &'a Filter,
    /// The last residual pass: regression errors u and innovations e.
    pub work: &'a Workspace,
    pub differencing: Differencing,
    /// The undifferenced history.
    pub history: &'a [f64],
    /// The problem's scale: one unit of the fitted differenced series in the series' units.
    pub scale: f64,
    /// Innovation variance of the differenced series, in the series' units.
    pub sigma2: f64,
}

/// Point forecasts and bounds at `level`; `future_mean[h]` is the constant plus the regression
/// at step h + 1, on the problem's scale.
pub fn forecast(state: &State, future_mean: &[f64], level: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let horizon = future_mean.len();
    let n = state.work.u.len();
    let pad = state.work.pad;
    let mut u = state.work.u.clone();
    let mut e = state.work.e.clone();
    let mut w = Vec::with_capacity(horizon);
    for mean in future_mean {
        let t = u.len();
        let mut v = 0.0;
        for (lag, a) in &state.filter.ar {
            v -= a * u[t - lag];
        }
        for (lag, b) in &state.filter.ma {
            v += b * e[pad + t - lag];
        }
        u.push(v);
        e.push(0.0);
        w.push(state.scale * (mean + v));
    }
    debug_assert_eq!(u.len(), n + horizon);
    let point = state.differencing.integrate(state.history, &w);

    let psi = psi_weights(state.filter, &state.differencing, horizon);
    let z = normal_quantile(0.5 + level / 2.0);
    let mut cumulative = 0.0;
    let mut lower = Vec::with_capacity(horizon);
    let mut upper = Vec::with_capacity(horizon);
    for (value, weight) in point.iter().zip(&psi) {
        cumulative += weight * weight;
        let width = z * (state.sigma2 * cumulative).sqrt();
        lower.push(value - width);
        upper.push(value + width);
    }
    (point, lower, upper)
}

/// ψ₀ … ψ_{horizon−1} of the whole model: `G(B)·ψ(B) = θ(B)Θ(B^m)` with `G` the product of the
/// differencing and the AR factors.
pub fn psi_weights(filter: &Filter, differencing: &Differencing, horizon: usize) -> Vec<f64> {
    let g = multiply(&dense(&filter.ar), &differencing.polynomial());
    let theta = dense(&filter.ma);
    let mut psi = Vec::with_capacity(horizon);
    for j in 0..horizon {
        let mut v = if j == 0 {
            1.0
        } else {
            theta.get(j).copied().unwrap_or(0.0)
        };
        for i in 1..=j.min(g.len() - 1) {
            v -= g[i] * psi[j - i];
        }
        psi.push(v);
    }
    psi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_differences() -> Differencing {
        Differencing {
            regular: 0,
            seasonal: 0,
            season: 1,
        }
    }

    #[test]
    fn psi_weights_of_an_ar1_decay_geometrically_and_a_random_walk_keeps_them_at_one() {
        let ar1 = Filter {
            ar: vec![(1, -0.5)],
            ma: vec![],
        };
        assert_eq!(
            psi_weights(&ar1, &no_differences(), 4),
            vec![1.0, 0.5, 0.25, 0.125]
        );
        let walk = Differencing {
            regular: 1,
            ..no_differences()
        };
        let white = Filter {
            ar: vec![],
            ma: vec![],
        };
        assert_eq!(psi_weights(&white, &walk, 3), vec![1.0, 1.0, 1.0]);
        // ARIMA(0,1,1) with θ = −0.6: ψⱼ = 1 + θ = 0.4 after the first
        let ima = Filter {
            ar: vec![],
            ma: vec![(1, -0.6)],
        };
        let psi = psi_weights(&ima, &walk, 3);
        assert!((psi[1] - 0.4).abs() < 1e-12 && (psi[2] - 0.4).abs() < 1e-12);
    }
}

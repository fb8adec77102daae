//! Non-seasonal exponential smoothing with additive errors, for MSTL's seasonally adjusted series:
//! ETS(A,N,N), ETS(A,A,N) and ETS(A,Ad,N), smoothing parameters and initial states fitted by
//! likelihood, the form chosen by AICc (as AutoETS does). augurs' AutoETS does the same but keeps
//! its fitted state private, so its fit cannot be filtered forward through later points with
//! fixed parameters; this one can ([`TrendFit::filter`]), which is what lets MSTL be evaluated at
//! several origins from one fit.

use presage_template::quantiles::normal_quantile;

use super::optimise::nelder_mead;

/// The smoothing state: level and trend (zero without one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendState {
    pub level: f64,
    pub trend: f64,
}

/// A fitted non-seasonal ETS model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendFit {
    pub alpha: f64,
    pub beta: f64,
    /// 1 for an undamped trend (and without a trend).
    pub phi: f64,
    pub has_trend: bool,
    pub initial: TrendState,
    /// Standard deviation of the one-step errors over the fitted points.
    pub sigma: f64,
    pub aicc: f64,
}

impl TrendFit {
    /// Runs the recursions over `y` from `state`; returns the sum of squared one-step errors.
    pub fn filter(&self, y: &[f64], state: &mut TrendState) -> f64 {
        run(y, self.alpha, self.beta, self.phi, state)
    }

    /// Point forecasts and bounds at `level` for `horizon` steps from `state`. The variance is
    /// the linear model's: σ²(1 + Σ_{j<h} (α + β(φ + … + φ^j))²).
    pub fn forecast(&self, state: &TrendState, horizon: usize, level: f64) -> [Vec<f64>; 3] {
        let z = normal_quantile(0.5 + level / 2.0);
        let (mut point, mut lower, mut upper) = (
            Vec::with_capacity(horizon),
            Vec::with_capacity(horizon),
            Vec::with_capacity(horizon),
        );
        let (mut damp, mut power) = (0.0, 1.0);
        let mut spread = 0.0;
        for h in 1..=horizon {
            power *= self.phi;
            damp += power;
            if h > 1 {
                // weight of the error h − 1 steps back: α + β·(φ + … + φ^(h−1))
                let c = self.alpha + self.beta * (damp - power);
                spread += c * c;
            }
            let value = state.level + damp * state.trend;
            let width = z * self.sigma * (1.0 + spread).sqrt();
            point.push(value);
            lower.push(value - width);
            upper.push(value + width);
        }
        [point, lower, upper]
    }
}

fn run(y: &[f64], alpha: f64, beta: f64, phi: f64, state: &mut TrendState) -> f64 {
    let mut sse = 0.0;
    for value in y {
        let forecast = state.level + phi * state.trend;
        let error = value - forecast;
        sse += error * error;
        state.level = forecast + alpha * error;
        state.trend = phi * state.trend + beta * error;
    }
    sse
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The three forms' fits, the lowest AICc kept. `None` when `y` has fewer than 10 points.
pub fn fit(y: &[f64]) -> Option<TrendFit> {
    if y.len() < 10 {
        return None;
    }
    [(false, false), (true, false), (true, true)]
        .into_iter()
        .map(|(trend, damped)| fit_form(y, trend, damped))
        .filter(|f| f.aicc.is_finite())
        .min_by(|a, b| a.aicc.total_cmp(&b.aicc))
}

fn fit_form(y: &[f64], has_trend: bool, damped: bool) -> TrendFit {
    let n = y.len();
    // Starting states as statsforecast's initstate: a line through the first ten points.
    let first = &y[..10];
    let mean_t = 4.5;
    let mean_y = first.iter().sum::<f64>() / 10.0;
    let slope = first
        .iter()
        .enumerate()
        .map(|(t, v)| (t as f64 - mean_t) * (v - mean_y))
        .sum::<f64>()
        / 82.5;
    let (level0, trend0) = if has_trend {
        (mean_y - slope * (mean_t + 1.0), slope)
    } else {
        (mean_y, 0.0)
    };
    let scale = (y.iter().map(|v| (v - mean_y).abs()).sum::<f64>() / n as f64).max(1e-9);
    // coordinates: α, [β/α, φ], then the initial level and trend in units of `scale`
    let decode = |x: &[f64]| -> (f64, f64, f64, TrendState) {
        let alpha = 0.0001 + 0.9998 * logistic(x[0]);
        let (beta, phi, rest) = match (has_trend, damped) {
            (false, _) => (0.0, 1.0, &x[1..]),
            (true, false) => (alpha * logistic(x[1]), 1.0, &x[2..]),
            (true, true) => (alpha * logistic(x[1]), 0.8 + 0.18 * logistic(x[2]), &x[3..]),
        };
        let state = TrendState {
            level: level0 + rest[0] * scale,
            trend: if has_trend {
                trend0 + rest[1] * scale / 10.0
            } else {
                0.0
            },
        };
        (alpha, beta, phi, state)
    };
    let objective = |x: &[f64]| {
        let (alpha, beta, phi, mut state) = decode(x);
        run(y, alpha, beta, phi, &mut state)
    };
    let mut start = vec![-1.4];
    if has_trend {
        start.push(-2.2);
    }
    if damped {
        start.push(1.4);
    }
    start.push(0.0);
    if has_trend {
        start.push(0.0);
    }
    let best = nelder_mead(&objective, start, 400, 0.5);
    let sse = objective(&best);
    let (alpha, beta, phi, initial) = decode(&best);
    // parameters + initial states + σ
    let k = 1 + has_trend as usize * 2 + damped as usize + 1 + 1;
    let likelihood = n as f64 * (sse / n as f64).max(1e-300).ln();
    let aicc = if n > k + 1 {
        likelihood + 2.0 * k as f64 + 2.0 * (k * (k + 1)) as f64 / (n - k - 1) as f64
    } else {
        f64::INFINITY
    };
    TrendFit {
        alpha,
        beta,
        phi,
        has_trend,
        initial,
        sigma: (sse / n as f64).sqrt(),
        aicc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_is_continued_by_the_trend_form() {
        let y: Vec<f64> = (0..60).map(|t| 5.0 + 2.0 * t as f64).collect();
        let fit = fit(&y).unwrap();
        let mut state = fit.initial;
        fit.filter(&y, &mut state);
        let [point, _, _] = fit.forecast(&state, 3, 0.9);
        for (h, p) in point.iter().enumerate() {
            let truth = 5.0 + 2.0 * (60 + h) as f64;
            assert!((p - truth).abs() < 0.05, "{point:?}");
        }
    }

    #[test]
    fn a_noisy_flat_series_is_forecast_flat_at_its_level_with_widening_bounds() {
        let y: Vec<f64> = (0..200)
            .map(|t| 10.0 + ((t * 7919) % 11) as f64 / 11.0 - 0.5)
            .collect();
        let fit = fit(&y).unwrap();
        let mut state = fit.initial;
        fit.filter(&y, &mut state);
        let [point, lower, upper] = fit.forecast(&state, 5, 0.9);
        for p in &point {
            assert!((p - 10.0).abs() < 0.3, "{point:?}");
        }
        assert!(upper[4] - lower[4] >= upper[0] - lower[0]);
    }

    #[test]
    fn filtering_in_pieces_is_filtering_at_once() {
        let y: Vec<f64> = (0..80)
            .map(|t| (t as f64 * 0.3).sin() + 0.1 * t as f64)
            .collect();
        let fit = fit(&y).unwrap();
        let (mut whole, mut pieces) = (fit.initial, fit.initial);
        fit.filter(&y, &mut whole);
        fit.filter(&y[..33], &mut pieces);
        fit.filter(&y[33..], &mut pieces);
        assert_eq!(whole, pieces);
    }
}

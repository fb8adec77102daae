//! The differencing of an ARIMA(p,d,q)(P,D,Q)[m] model: `(1 − B)^d (1 − B^m)^D`, applied to the
//! history (and alike to each regressor) and undone on a forecast.

use super::polynomial::multiply;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Differencing {
    /// Regular differences d.
    pub regular: usize,
    /// Seasonal differences D at lag `season`.
    pub seasonal: usize,
    pub season: usize,
}

impl Differencing {
    /// The lags of the single differences, seasonal first.
    fn lags(&self) -> Vec<usize> {
        let mut lags = vec![self.season; self.seasonal];
        lags.extend(std::iter::repeat_n(1, self.regular));
        lags
    }

    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        self.lags()
            .into_iter()
            .fold(x.to_vec(), |series, lag| difference(&series, lag))
    }

    /// The series' future from the differenced series' future `w`: each difference undone in
    /// turn, the newest first, reading back into the history as far as the lag reaches.
    pub fn integrate(&self, history: &[f64], w: &[f64]) -> Vec<f64> {
        let lags = self.lags();
        // levels[k]: the history after the first k differences
        let mut levels = vec![history.to_vec()];
        for lag in &lags {
            let next = difference(levels.last().expect("at least the history"), *lag);
            levels.push(next);
        }
        let mut future = w.to_vec();
        for (k, lag) in lags.iter().enumerate().rev() {
            let mut extended = levels[k].clone();
            let known = extended.len();
            for (j, change) in future.iter().enumerate() {
                let value = change + extended[known + j - lag];
                extended.push(value);
            }
            future = extended.split_off(known);
        }
        future
    }

    /// Dense coefficients of `(1 − B)^d (1 − B^m)^D`, index 0 the leading 1.
    pub fn polynomial(&self) -> Vec<f64> {
        self.lags().into_iter().fold(vec![1.0], |poly, lag| {
            let mut single = vec![0.0; lag + 1];
            single[0] = 1.0;
            single[lag] = -1.0;
            multiply(&poly, &single)
        })
    }
}

/// `x[t] − x[t − lag]`, one point per `t ≥ lag`.
pub fn difference(x: &[f64], lag: usize) -> Vec<f64> {
    (lag..x.len()).map(|t| x[t] - x[t - lag]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrating_the_differences_of_a_continuation_gives_the_continuation_back() {
        let series: Vec<f64> = (0..30)
            .map(|t| (t as f64 * 0.9).sin() * 10.0 + t as f64 * t as f64 * 0.1)
            .collect();
        let (history, future) = series.split_at(24);
        let diff = Differencing {
            regular: 2,
            seasonal: 1,
            season: 4,
        };
        let w = diff.apply(&series);
        // two regular differences and one of a season of 4 take 6 points
        assert_eq!(w.len(), 30 - 6);
        let back = diff.integrate(history, &w[w.len() - 6..]);
        for (a, b) in back.iter().zip(future) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        // (1 − B)²(1 − B⁴) = 1 − 2B + B² − B⁴ + 2B⁵ − B⁶
        assert_eq!(
            diff.polynomial(),
            vec![1.0, -2.0, 1.0, 0.0, -1.0, 2.0, -1.0]
        );
    }
}

//! Conditional sum of squares (CSS) estimation of an ARMA model for the differenced series,
//! with a mean (or drift) and regression coefficients fitted jointly: regression with ARMA
//! errors. The innovations are computed by one pass of the recursion
//! `φ(B)Φ(B^m)·u_t = θ(B)Θ(B^m)·e_t` with `u_t = w_t − μ − Σ βⱼ·xⱼ,t`, conditioned on the
//! first `start` points (innovations before them taken as zero). One pass costs
//! O(n·(p+q+m·(P+Q))) at most, and far less in practice: the products are kept sparse.
//!
//! Every model of one search is conditioned on the same `start` (the largest autoregressive lag
//! the search may reach), so their sums of squares cover the same points and their AICc are
//! comparable.

use super::optimise::{levenberg_marquardt, solve_symmetric, Stopping};
use super::polynomial::{is_stable, product_terms, roots_beyond};

/// How exactly a search compares candidates: an AICc is -2·log-likelihood plus a penalty, and
/// a relative change of 1e-5 in the sum of squares moves it by n·1e-5 / 2 (under 0.02 on a month
/// of quarter-hours), far below the differences that decide between models; the chosen model is
/// then polished with [`FINAL`].
pub const SEARCH: Stopping = Stopping {
    max_iterations: 25,
    relative_tolerance: 1e-5,
};
pub const FINAL: Stopping = Stopping {
    max_iterations: 100,
    relative_tolerance: 1e-9,
};

/// The orders the search moves over; d and D are fixed before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub p: usize,
    pub q: usize,
    /// Seasonal AR order P.
    pub sp: usize,
    /// Seasonal MA order Q.
    pub sq: usize,
    /// A mean (d + D = 0) or a drift (d + D = 1) of the differenced series.
    pub constant: bool,
}

impl Order {
    fn arma_count(&self) -> usize {
        self.p + self.q + self.sp + self.sq
    }

    /// Parameters in the vector: ARMA coefficients, then the constant, then the regressors.
    pub fn parameter_count(&self, regressors: usize) -> usize {
        self.arma_count() + usize::from(self.constant) + regressors
    }
}

/// The parameter vector cut into its parts: `[φ…, θ…, Φ…, Θ…, μ?, β…]`.
pub struct Coefficients<'a> {
    pub ar: &'a [f64],
    pub ma: &'a [f64],
    pub seasonal_ar: &'a [f64],
    pub seasonal_ma: &'a [f64],
    pub constant: f64,
    pub regression: &'a [f64],
}

pub fn split<'a>(order: &Order, params: &'a [f64]) -> Coefficients<'a> {
    let (ar, rest) = params.split_at(order.p);
    let (ma, rest) = rest.split_at(order.q);
    let (seasonal_ar, rest) = rest.split_at(order.sp);
    let (seasonal_ma, rest) = rest.split_at(order.sq);
    let (constant, regression) = if order.constant {
        (rest[0], &rest[1..])
    } else {
        (0.0, rest)
    };
    Coefficients {
        ar,
        ma,
        seasonal_ar,
        seasonal_ma,
        constant,
        regression,
    }
}

/// The ARMA recursion's sparse terms: `φ(B)Φ(B^m) = 1 + Σ a·Bˡ`, `θ(B)Θ(B^m) = 1 + Σ b·Bˡ`.
pub struct Filter {
    pub ar: Vec<(usize, f64)>,
    pub ma: Vec<(usize, f64)>,
}

impl Filter {
    /// `None` when a factor is not stationary (AR) or not invertible (MA).
    pub fn of(c: &Coefficients, m: usize) -> Option<Filter> {
        let negated = |x: &[f64]| x.iter().map(|v| -v).collect::<Vec<f64>>();
        let admissible = is_stable(c.ar)
            && is_stable(c.seasonal_ar)
            && is_stable(&negated(c.ma))
            && is_stable(&negated(c.seasonal_ma));
        admissible.then(|| Filter {
            ar: product_terms(&negated(c.ar), &negated(c.seasonal_ar), m),
            ma: product_terms(c.ma, c.seasonal_ma, m),
        })
    }

    /// Whether a factor has a root within 1.01 of the unit circle: auto.arima's test for a
    /// model on the edge of nonstationarity or noninvertibility, whose CSS fit is unreliable
    /// (a unit MA root cancelling an AR one, or an overdifferenced series). Applied per factor,
    /// the seasonal ones in B^m: on their product, a seasonal MA of −0.4 with m = 96 would
    /// already count as a unit root.
    pub fn near_unit_root(c: &Coefficients) -> bool {
        const RADIUS: f64 = 1.01;
        let negated = |x: &[f64]| x.iter().map(|v| -v).collect::<Vec<f64>>();
        !(roots_beyond(c.ar, RADIUS)
            && roots_beyond(c.seasonal_ar, RADIUS)
            && roots_beyond(&negated(c.ma), RADIUS)
            && roots_beyond(&negated(c.seasonal_ma), RADIUS))
    }

    pub fn max_ma_lag(&self) -> usize {
        self.ma.iter().map(|(lag, _)| *lag).max().unwrap_or(0)
    }
}

/// The differenced series and regressors one search fits, scaled to unit spread so every
/// parameter is of order one for the optimiser.
pub struct Problem {
    pub w: Vec<f64>,
    pub x: Vec<Vec<f64>>,
    pub m: usize,
    /// Innovations are summed from here on.
    pub start: usize,
}

/// A fitted model: its order, parameters (on the problem's scale) and criterion.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub order: Order,
    pub params: Vec<f64>,
    /// Innovation variance on the problem's scale.
    pub sigma2: f64,
    pub aicc: f64,
}

/// Reused buffers of one model's residual passes.
pub struct Workspace {
    pub u: Vec<f64>,
    /// Innovations, with as many leading zeros as the longest MA lag (`pad`), then one per
    /// point of the series (zero before `start`).
    pub e: Vec<f64>,
    pub pad: usize,
}

impl Problem {
    pub fn len(&self) -> usize {
        self.w.len()
    }

    /// Points the sum of squares covers.
    pub fn used(&self) -> usize {
        self.len() - self.start
    }

    /// Whether `params` are stationary and invertible.
    pub fn admissible(&self, order: &Order, params: &[f64]) -> bool {
        Filter::of(&split(order, params), self.m).is_some()
    }

    /// Runs the recursion for `params`, leaving `u` and `e` in `work`; false when the
    /// parameters are not admissible.
    pub fn run(&self, order: &Order, params: &[f64], work: &mut Workspace) -> bool {
        let c = split(order, params);
        let Some(filter) = Filter::of(&c, self.m) else {
            return false;
        };
        let n = self.len();
        work.u.clear();
        work.u.extend_from_slice(&self.w);
        for u in &mut work.u {
            *u -= c.constant;
        }
        for (x, beta) in self.x.iter().zip(c.regression) {
            for (u, v) in work.u.iter_mut().zip(x) {
                *u -= beta * v;
            }
        }
        work.pad = filter.max_ma_lag();
        work.e.clear();
        work.e.resize(work.pad + n, 0.0);
        let (u, e, pad, start) = (&work.u, &mut work.e, work.pad, self.start);
        // The AR side is not recursive: one pass over whole slices per term, which the compiler
        // vectorises. Only the MA side runs point by point.
        let used = &mut e[pad + start..pad + n];
        used.copy_from_slice(&u[start..n]);
        for (lag, a) in &filter.ar {
            for (v, past) in used.iter_mut().zip(&u[start - lag..n - lag]) {
                *v += a * past;
            }
        }
        if !filter.ma.is_empty() {
            for t in pad + start..pad + n {
                let mut v = e[t];
                for (lag, b) in &filter.ma {
                    v -= b * e[t - lag];
                }
                e[t] = v;
            }
        }
        true
    }

    /// Fits `order` from `start` by least squares; `None` when the start is not admissible, the
    /// sums are not finite, or the fit ends next to a unit root.
    pub fn fit(&self, order: Order, start: Vec<f64>, stopping: Stopping) -> Option<Fitted> {
        let used = self.used();
        let mut work = Workspace {
            u: Vec::with_capacity(self.len()),
            e: Vec::new(),
            pad: 0,
        };
        let minimum = levenberg_marquardt(
            |params, out| {
                if !self.run(&order, params, &mut work) {
                    return false;
                }
                let from = work.pad + self.start;
                out.copy_from_slice(&work.e[from..from + used]);
                true
            },
            start,
            used,
            stopping,
        )?;
        if Filter::near_unit_root(&split(&order, &minimum.at)) {
            return None;
        }
        let sigma2 = (minimum.sum_of_squares / used as f64).max(1e-12);
        // the variance is a parameter too
        let k = (order.parameter_count(self.x.len()) + 1) as f64;
        let n = used as f64;
        let log_likelihood = -0.5 * n * ((std::f64::consts::TAU * sigma2).ln() + 1.0);
        let aicc = -2.0 * log_likelihood + 2.0 * k + 2.0 * k * (k + 1.0) / (n - k - 1.0).max(1.0);
        aicc.is_finite().then_some(Fitted {
            order,
            params: minimum.at,
            sigma2,
            aicc,
        })
    }

    /// Starting parameters: zero ARMA coefficients and the constant and regression
    /// coefficients by ordinary least squares on the differenced series.
    pub fn cold_start(&self, order: &Order) -> Vec<f64> {
        let mut params = vec![0.0; order.arma_count()];
        params.extend(self.least_squares(order.constant));
        params
    }

    /// `[μ?, β…]` minimising Σ (w − μ − Σβx)² over the fitted points.
    fn least_squares(&self, constant: bool) -> Vec<f64> {
        let mut columns: Vec<Vec<f64>> = Vec::new();
        if constant {
            columns.push(vec![1.0; self.used()]);
        }
        columns.extend(self.x.iter().map(|x| x[self.start..].to_vec()));
        let k = columns.len();
        if k == 0 {
            return Vec::new();
        }
        let target = &self.w[self.start..];
        let mut normal = vec![0.0; k * k];
        let mut rhs = vec![0.0; k];
        for a in 0..k {
            rhs[a] = columns[a].iter().zip(target).map(|(x, y)| x * y).sum();
            for b in 0..k {
                normal[a * k + b] = columns[a].iter().zip(&columns[b]).map(|(x, y)| x * y).sum();
            }
            // a whisker of ridge keeps collinear regressors solvable
            normal[a * k + a] += 1e-9 * self.used() as f64;
        }
        solve_symmetric(&mut normal, &rhs, k).unwrap_or(vec![0.0; k])
    }
}

/// `from`'s parameters laid out for `to`: shared coefficients carried over, new ones zero, the
/// constant and regression block from least squares when the constant comes or goes. A
/// neighbour in the search starts where its parent ended, which saves most iterations.
pub fn carry_over(problem: &Problem, from: &Fitted, to: &Order) -> Vec<f64> {
    let f = split(&from.order, &from.params);
    let take = |source: &[f64], len: usize| -> Vec<f64> {
        (0..len)
            .map(|i| source.get(i).copied().unwrap_or(0.0))
            .collect()
    };
    let mut params = take(f.ar, to.p);
    params.extend(take(f.ma, to.q));
    params.extend(take(f.seasonal_ar, to.sp));
    params.extend(take(f.seasonal_ma, to.sq));
    if to.constant == from.order.constant {
        if to.constant {
            params.push(f.constant);
        }
        params.extend_from_slice(f.regression);
    } else {
        params.extend(problem.least_squares(to.constant));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innovations_of_a_known_arma_are_its_noise() {
        // u_t = 0.5·u_{t−1} + e_t + 0.3·e_{t−1}, around a mean of 10
        let noise: Vec<f64> = (0..50).map(|t| ((t * 7919) % 13) as f64 - 6.0).collect();
        let mut w = vec![10.0 + noise[0]];
        for t in 1..50 {
            let u = 0.5 * (w[t - 1] - 10.0) + noise[t] + 0.3 * noise[t - 1];
            w.push(10.0 + u);
        }
        let problem = Problem {
            w,
            x: Vec::new(),
            m: 1,
            start: 1,
        };
        let order = Order {
            p: 1,
            q: 1,
            sp: 0,
            sq: 0,
            constant: true,
        };
        let mut work = Workspace {
            u: Vec::new(),
            e: Vec::new(),
            pad: 0,
        };
        assert!(problem.run(&order, &[0.5, 0.3, 10.0], &mut work));
        // conditioned on e_0 = 0: e_1 is off by 0.3·noise[0], and the error decays by −0.3
        let mut error = 0.3 * noise[0];
        let innovations = &work.e[work.pad + 1..];
        for (e, truth) in innovations.iter().zip(&noise[1..]) {
            assert!((e - truth - error).abs() < 1e-9);
            error *= -0.3;
        }
        assert!(!problem.run(&order, &[1.5, 0.3, 10.0], &mut work));
    }
}

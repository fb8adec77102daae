//! The MAP estimate of [`Problem`]'s posterior. Prophet's Stan runs L-BFGS on it; the exact
//! minimum is reached here without smoothing the Laplace terms. For a fixed σ the objective in
//! θ is a ridge-and-lasso quadratic; σ has a closed form given θ; alternating the two never raises
//! the objective and stops where neither moves. The quadratic is minimised exactly by an
//! active-set method: a few sweeps of coordinate descent (soft-thresholding the Laplace terms)
//! find which changepoints are non-zero and their signs, then one Newton step solves the
//! quadratic on that face, accepted when its signs hold and every zero changepoint meets its
//! subgradient condition (otherwise it moves to where the first sign flips, and descent goes on).
//! Coordinate descent alone crawls on the strongly correlated changepoint columns; the face step
//! finishes in one solve. Everything works on the precomputed ZᵀZ, so the cost does not grow
//! with the history's length.

use super::posterior::{best_sigma, neg_log_posterior, smooth_gradient, Problem};

/// Alternations of θ and σ at most; σ settles in a handful.
const MAX_ALTERNATIONS: usize = 200;
/// Rounds (a coordinate sweep, then face steps until one is whole) per θ solve at most; one or
/// two suffice on the bench's series.
const MAX_ROUNDS: usize = 500;
const SWEEPS_PER_ROUND: usize = 1;
/// The alternation stops when σ, or the objective, moves by less than this, relatively.
const TOLERANCE: f64 = 1e-12;
/// Subgradient slack allowed at a zero changepoint, relative to its Laplace weight.
const KKT_TOLERANCE: f64 = 1e-9;

#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub theta: Vec<f64>,
    pub sigma: f64,
    /// Whether the last θ solve met the optimality conditions (false only on a degenerate design).
    pub converged: bool,
}

/// Minimises [`super::posterior::neg_log_posterior`] from `start`.
pub fn maximise(p: &Problem, start: Vec<f64>) -> Estimate {
    let mut theta = start;
    let mut sigma = best_sigma(p.n, p.rss(&theta));
    let mut converged = false;
    let mut objective = neg_log_posterior(p, &theta, sigma);
    for _ in 0..MAX_ALTERNATIONS {
        converged = minimise_theta(p, &mut theta, sigma);
        let next = best_sigma(p.n, p.rss(&theta));
        let moved = (next - sigma).abs() / sigma;
        sigma = next;
        let lowered = neg_log_posterior(p, &theta, sigma);
        let fell = (objective - lowered) / objective.abs().max(1.0);
        objective = lowered;
        if moved < TOLERANCE || fell < TOLERANCE {
            break;
        }
    }
    Estimate {
        theta,
        sigma,
        converged,
    }
}

/// The quadratic for a fixed σ (w = 1/σ²): ½θᵀHθ − cᵀθ + Σ l1_j|θ_j| with
/// H = w·ZᵀZ + diag(precision), c = w·Zᵀy. Returns whether θ meets its optimality conditions.
fn minimise_theta(p: &Problem, theta: &mut [f64], sigma: f64) -> bool {
    let q = p.width;
    let w = 1.0 / (sigma * sigma);
    let h: Vec<f64> = (0..q * q)
        .map(|i| {
            w * p.gram[i]
                + if i % (q + 1) == 0 {
                    p.precision[i / q]
                } else {
                    0.0
                }
        })
        .collect();
    let c: Vec<f64> = p.zty.iter().map(|b| w * b).collect();
    let mut h_theta = times(&h, theta, q);
    for _ in 0..MAX_ROUNDS {
        for _ in 0..SWEEPS_PER_ROUND {
            sweep(&h, &c, &p.l1, theta, &mut h_theta, q);
        }
        // each partial step zeroes one coordinate, so a whole one comes within q steps
        let whole = (0..=q).any(|_| face_step(&h, &c, &p.l1, theta, q));
        if whole && optimal(p, theta, sigma) {
            return true;
        }
        h_theta = times(&h, theta, q);
    }
    optimal(p, theta, sigma)
}

/// One cyclic pass: each coordinate set to its exact minimiser, the others held.
fn sweep(h: &[f64], c: &[f64], l1: &[f64], theta: &mut [f64], h_theta: &mut [f64], q: usize) {
    for j in 0..q {
        let curvature = h[j * q + j];
        if curvature <= 0.0 {
            continue;
        }
        let pull = c[j] - h_theta[j] + curvature * theta[j];
        let step = soft_threshold(pull, l1[j]) / curvature - theta[j];
        if step != 0.0 {
            theta[j] += step;
            for (g, column) in h_theta.iter_mut().zip(&h[j * q..(j + 1) * q]) {
                *g += step * column;
            }
        }
    }
}

/// Newton's step on the current face (the non-zero coordinates with their signs, zeros held):
/// taken whole when the signs hold, else up to the first coordinate reaching zero, which stays
/// there. Returns whether the whole step was taken (θ is then the minimum on its face).
fn face_step(h: &[f64], c: &[f64], l1: &[f64], theta: &mut [f64], q: usize) -> bool {
    let free: Vec<usize> = (0..q)
        .filter(|j| l1[*j] == 0.0 || theta[*j] != 0.0)
        .collect();
    let k = free.len();
    let mut a: Vec<f64> = free
        .iter()
        .flat_map(|i| free.iter().map(move |j| h[i * q + j]))
        .collect();
    let b: Vec<f64> = free
        .iter()
        .map(|j| c[*j] - l1[*j] * theta[*j].signum())
        .collect();
    let Some(target) = cholesky_solve(&mut a, &b, k) else {
        return false;
    };
    // how far towards the target before a Laplace coordinate would cross zero
    let mut reach = 1.0;
    let mut crossing = None;
    for (slot, j) in free.iter().enumerate() {
        if l1[*j] > 0.0 && target[slot] * theta[*j] <= 0.0 {
            let fraction = theta[*j] / (theta[*j] - target[slot]);
            if fraction < reach {
                reach = fraction;
                crossing = Some(*j);
            }
        }
    }
    for (slot, j) in free.iter().enumerate() {
        theta[*j] += reach * (target[slot] - theta[*j]);
    }
    if let Some(j) = crossing {
        theta[j] = 0.0;
        return false;
    }
    true
}

/// 0 ∈ ∂f(θ) for the given σ: a zero Laplace coordinate's gradient within its weight, every
/// other coordinate's gradient balanced (by its Laplace pull, when it has one).
fn optimal(p: &Problem, theta: &[f64], sigma: f64) -> bool {
    let gradient = smooth_gradient(p, theta, sigma);
    let scale = p.zty.iter().fold(0.0_f64, |a, b| a.max(b.abs())) / (sigma * sigma);
    (0..p.width).all(|j| {
        let l1 = p.l1[j];
        if l1 > 0.0 && theta[j] == 0.0 {
            gradient[j].abs() <= l1 * (1.0 + KKT_TOLERANCE)
        } else {
            let balance = gradient[j] + l1 * theta[j].signum();
            balance.abs() <= 1e-9 * (scale + l1 + 1.0)
        }
    })
}

fn times(m: &[f64], x: &[f64], q: usize) -> Vec<f64> {
    m.chunks_exact(q)
        .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect()
}

/// argmin over x of ½x² − v·x + λ|x|: the lasso's shrink towards zero.
fn soft_threshold(v: f64, lambda: f64) -> f64 {
    if v > lambda {
        v - lambda
    } else if v < -lambda {
        v + lambda
    } else {
        0.0
    }
}

/// Solves A x = b for symmetric positive definite A (row-major, k×k, overwritten by its
/// Cholesky factor); `None` when A is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    for j in 0..k {
        let d = a[j * k + j] - (0..j).map(|m| a[j * k + m].powi(2)).sum::<f64>();
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let s = a[i * k + j] - (0..j).map(|m| a[i * k + m] * a[j * k + m]).sum::<f64>();
            a[i * k + j] = s / d;
        }
    }
    let mut x = b.to_vec();
    for i in 0..k {
        x[i] = (x[i] - (0..i).map(|m| a[i * k + m] * x[m]).sum::<f64>()) / a[i * k + i];
    }
    for i in (0..k).rev() {
        x[i] = (x[i] - (i + 1..k).map(|m| a[m * k + i] * x[m]).sum::<f64>()) / a[i * k + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::super::design::Column;
    use super::super::posterior::{neg_log_posterior, smooth_gradient};
    use super::*;

    /// A trend with one kink, a daily-like sine and noise, in Prophet's columns.
    fn problem() -> (Problem, Vec<f64>) {
        let n = 400;
        let cps: Vec<f64> = (1..=25).map(|j| 0.8 * j as f64 / 25.0).collect();
        let mut columns = vec![Column::Trend, Column::Trend];
        columns.extend(cps.iter().map(|_| Column::Changepoint));
        columns.extend([Column::Feature, Column::Feature]);
        let mut rows = Vec::new();
        let mut y = Vec::new();
        let mut state = 7_u64;
        for i in 0..n {
            let t = i as f64 / (n - 1) as f64;
            let phase = std::f64::consts::TAU * i as f64 / 24.0;
            rows.extend([t, 1.0]);
            rows.extend(cps.iter().map(|s| (t - s).max(0.0)));
            rows.extend([phase.sin(), phase.cos()]);
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let noise = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.05;
            y.push(0.3 + 0.2 * t - 0.5 * (t - 0.4).max(0.0) + 0.1 * phase.sin() + noise);
        }
        let p = Problem::new(&rows, &y, &columns);
        let start = vec![0.0; p.width];
        (p, start)
    }

    #[test]
    fn the_estimate_meets_the_subgradient_conditions_of_the_posterior() {
        let (p, start) = problem();
        let e = maximise(&p, start);
        assert!(e.converged, "did not converge");
        let g = smooth_gradient(&p, &e.theta, e.sigma);
        let scale = 1.0 / (e.sigma * e.sigma);
        for (j, ((theta, grad), l1)) in e.theta.iter().zip(&g).zip(&p.l1).enumerate() {
            // 0 ∈ ∂f: a non-zero coordinate balances its Laplace pull exactly; a zero one is
            // held there by it
            let slack = if *theta != 0.0 {
                (grad + l1 * theta.signum()).abs()
            } else {
                (grad.abs() - l1).max(0.0)
            };
            assert!(slack < 1e-6 * scale.max(1.0), "coordinate {j}: {slack}");
        }
        // σ is stationary too
        assert_eq!(e.sigma, best_sigma(p.n, p.rss(&e.theta)));
        // the kink is found, and most changepoints stay exactly at zero (the Laplace prior)
        let zeros = e.theta[2..27].iter().filter(|d| **d == 0.0).count();
        assert!(zeros >= 15, "{:?}", &e.theta[2..27]);
        let slope_after: f64 = e.theta[0] + e.theta[2..27].iter().sum::<f64>();
        assert!((slope_after - (0.2 - 0.5)).abs() < 0.1, "{slope_after}");
    }

    #[test]
    fn no_small_move_lowers_the_objective_at_the_estimate() {
        let (p, start) = problem();
        let e = maximise(&p, start);
        let best = neg_log_posterior(&p, &e.theta, e.sigma);
        for j in 0..p.width {
            for h in [1e-4, -1e-4] {
                let mut moved = e.theta.clone();
                moved[j] += h;
                assert!(
                    neg_log_posterior(&p, &moved, e.sigma) >= best - 1e-9,
                    "coordinate {j}"
                );
            }
        }
        for s in [e.sigma * 1.001, e.sigma * 0.999] {
            assert!(neg_log_posterior(&p, &e.theta, s) >= best);
        }
    }

    #[test]
    fn without_changepoints_or_l1_the_estimate_is_the_ridge_closed_form() {
        // Two columns [1, x] with Gaussian priors: for the σ found, θ solves
        // (ZᵀZ/σ² + diag(precision)) θ = Zᵀy/σ².
        let columns = [Column::Trend, Column::Feature];
        let rows: Vec<f64> = (0..50).flat_map(|i| [1.0, (i % 7) as f64]).collect();
        let y: Vec<f64> = (0..50)
            .map(|i| 0.5 + 0.1 * (i % 7) as f64 + 0.01 * ((i * 13) % 5) as f64)
            .collect();
        let p = Problem::new(&rows, &y, &columns);
        let e = maximise(&p, vec![0.0, 0.0]);
        let w = 1.0 / (e.sigma * e.sigma);
        let a = [
            w * p.gram[0] + p.precision[0],
            w * p.gram[1],
            w * p.gram[3] + p.precision[1],
        ];
        let (b0, b1) = (w * p.zty[0], w * p.zty[1]);
        let det = a[0] * a[2] - a[1] * a[1];
        let exact = [(a[2] * b0 - a[1] * b1) / det, (a[0] * b1 - a[1] * b0) / det];
        assert!(
            (e.theta[0] - exact[0]).abs() < 1e-8,
            "{:?} vs {exact:?}",
            e.theta
        );
        assert!(
            (e.theta[1] - exact[1]).abs() < 1e-8,
            "{:?} vs {exact:?}",
            e.theta
        );
    }

    #[test]
    fn soft_thresholding_shrinks_towards_zero_and_stops_there() {
        assert_eq!(soft_threshold(3.0, 1.0), 2.0);
        assert_eq!(soft_threshold(-3.0, 1.0), -2.0);
        assert_eq!(soft_threshold(0.5, 1.0), 0.0);
    }
}

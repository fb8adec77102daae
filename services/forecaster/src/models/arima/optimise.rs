//! Levenberg–Marquardt for the conditional sum of squares. CSS is a nonlinear least-squares
//! problem, so a Gauss–Newton step from the Jacobian of the residuals converges in a few
//! iterations where a simplex or quasi-Newton search on the sum alone takes hundreds of
//! evaluations; with a handful of parameters the Jacobian by forward differences costs one
//! residual pass per parameter.

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub struct Stopping {
    /// Iterations at most; a fit that has not converged by then keeps its best point so far.
    pub max_iterations: usize,
    /// Stop once an accepted step lowers the sum of squares by less than this fraction.
    pub relative_tolerance: f64,
}

/// The minimum found: the parameters and their sum of squared residuals.
pub struct Minimum {
    pub at: Vec<f64>,
    pub sum_of_squares: f64,
}

/// Minimises the sum of squares of `residuals(x, out)` (which fills `out`, of length `count`,
/// and returns false where `x` is not admissible) from an admissible `start`. `None` when the
/// start is not admissible or its residuals are not finite.
pub fn levenberg_marquardt(
    mut residuals: impl FnMut(&[f64], &mut [f64]) -> bool,
    start: Vec<f64>,
    count: usize,
    stopping: Stopping,
) -> Option<Minimum> {
    let k = start.len();
    let mut x = start;
    let mut r = vec![0.0; count];
    if !residuals(&x, &mut r) {
        return None;
    }
    let mut sse = sum_of_squares(&r);
    if !sse.is_finite() {
        return None;
    }
    let mut jacobian = vec![vec![0.0; count]; k];
    let mut trial_r = vec![0.0; count];
    let mut lambda = 1e-3;
    'iterations: for _ in 0..stopping.max_iterations {
        if k == 0 || sse == 0.0 {
            break;
        }
        for (i, column) in jacobian.iter_mut().enumerate() {
            let h = 1e-6 * (1.0 + x[i].abs());
            let mut shifted = x.clone();
            shifted[i] += h;
            let mut step = h;
            if !residuals(&shifted, column) {
                // at the edge of the admissible region: look back instead
                shifted[i] = x[i] - h;
                step = -h;
                if !residuals(&shifted, column) {
                    break 'iterations;
                }
            }
            for (c, base) in column.iter_mut().zip(&r) {
                *c = (*c - base) / step;
            }
        }
        let mut normal = vec![0.0; k * k];
        let mut gradient = vec![0.0; k];
        for a in 0..k {
            gradient[a] = dot(&jacobian[a], &r);
            for b in 0..=a {
                let v = dot(&jacobian[a], &jacobian[b]);
                normal[a * k + b] = v;
                normal[b * k + a] = v;
            }
        }
        let largest = (0..k).map(|a| normal[a * k + a]).fold(0.0, f64::max);
        loop {
            let mut damped = normal.clone();
            for a in 0..k {
                damped[a * k + a] += lambda * (normal[a * k + a] + 1e-12 * largest + 1e-300);
            }
            let rhs: Vec<f64> = gradient.iter().map(|g| -g).collect();
            let accepted = solve_symmetric(&mut damped, &rhs, k).and_then(|delta| {
                let trial: Vec<f64> = x.iter().zip(&delta).map(|(a, d)| a + d).collect();
                if !residuals(&trial, &mut trial_r) {
                    return None;
                }
                let trial_sse = sum_of_squares(&trial_r);
                (trial_sse < sse).then_some((trial, trial_sse))
            });
            match accepted {
                Some((trial, trial_sse)) => {
                    let gain = (sse - trial_sse) / sse;
                    x = trial;
                    sse = trial_sse;
                    std::mem::swap(&mut r, &mut trial_r);
                    lambda = (lambda / 10.0).max(1e-12);
                    if gain < stopping.relative_tolerance {
                        break 'iterations;
                    }
                    break;
                }
                None => {
                    lambda *= 10.0;
                    if lambda > 1e10 {
                        break 'iterations;
                    }
                }
            }
        }
    }
    Some(Minimum {
        at: x,
        sum_of_squares: sse,
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn sum_of_squares(r: &[f64]) -> f64 {
    dot(r, r)
}

/// Solves `A·x = b` for a symmetric positive definite `A` (row-major, k×k) by Cholesky, in
/// place; `None` when `A` is not positive definite.
pub fn solve_symmetric(a: &mut [f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    for j in 0..k {
        let mut d = a[j * k + j];
        for s in 0..j {
            d -= a[j * k + s] * a[j * k + s];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut v = a[i * k + j];
            for s in 0..j {
                v -= a[i * k + s] * a[j * k + s];
            }
            a[i * k + j] = v / d;
        }
    }
    let mut z = b.to_vec();
    for i in 0..k {
        for s in 0..i {
            z[i] -= a[i * k + s] * z[s];
        }
        z[i] /= a[i * k + i];
    }
    for i in (0..k).rev() {
        for s in i + 1..k {
            z[i] -= a[s * k + i] * z[s];
        }
        z[i] /= a[i * k + i];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIGHT: Stopping = Stopping {
        max_iterations: 100,
        relative_tolerance: 1e-12,
    };

    #[test]
    fn fits_an_exponential_decay() {
        // y = 3·exp(−0.4·t), recovered from (1, −1)
        let ts: Vec<f64> = (0..20).map(f64::from).collect();
        let fit = levenberg_marquardt(
            |x, out| {
                for (o, t) in out.iter_mut().zip(&ts) {
                    *o = x[0] * (-x[1] * t).exp() - 3.0 * (-0.4 * t).exp();
                }
                true
            },
            vec![1.0, 0.1],
            ts.len(),
            TIGHT,
        )
        .unwrap();
        assert!((fit.at[0] - 3.0).abs() < 1e-5 && (fit.at[1] - 0.4).abs() < 1e-5);
    }

    #[test]
    fn stays_inside_the_admissible_region() {
        // minimum of (x − 2)² outside the region x < 1: the fit stops short of 1
        let fit = levenberg_marquardt(
            |x, out| {
                out[0] = x[0] - 2.0;
                x[0] < 1.0
            },
            vec![0.0],
            1,
            TIGHT,
        )
        .unwrap();
        assert!(fit.at[0] < 1.0 && fit.at[0] > 0.9, "{}", fit.at[0]);
    }

    #[test]
    fn solves_a_symmetric_system() {
        let mut a = vec![4.0, 1.0, 1.0, 3.0];
        let x = solve_symmetric(&mut a, &[1.0, 2.0], 2).unwrap();
        assert!((x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12);
    }
}

//! Limited-memory BFGS with a backtracking (Armijo) line search, bounded in iterations. Written
//! here because the one crate that offers it (argmin) brings a framework of traits and a dozen
//! dependencies for what is sixty lines; the networks need nothing more.

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub max_iterations: usize,
    /// Correction pairs kept.
    pub memory: usize,
    /// Stop when an iteration lowers the loss by less than this fraction of it.
    pub relative_tolerance: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_iterations: 100,
            memory: 7,
            relative_tolerance: 1e-6,
        }
    }
}

/// Minimises `f`, which returns the loss at `x` and writes its gradient into the second
/// argument, from `x`; returns the last point reached.
pub fn minimise(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    mut x: Vec<f64>,
    settings: &Settings,
) -> Vec<f64> {
    let n = x.len();
    let mut gradient = vec![0.0; n];
    let mut value = f(&x, &mut gradient);
    let (mut s_history, mut y_history): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (vec![], vec![]);
    let (mut candidate, mut candidate_gradient) = (vec![0.0; n], vec![0.0; n]);
    let mut direction = vec![0.0; n];
    for _ in 0..settings.max_iterations {
        if gradient.iter().all(|g| g.abs() < 1e-10) || !value.is_finite() {
            break;
        }
        two_loop(&gradient, &s_history, &y_history, &mut direction);
        let mut slope = dot(&direction, &gradient);
        if slope >= 0.0 {
            // not a descent direction: forget the curvature and go downhill
            s_history.clear();
            y_history.clear();
            two_loop(&gradient, &s_history, &y_history, &mut direction);
            slope = dot(&direction, &gradient);
        }
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            for i in 0..n {
                candidate[i] = x[i] + step * direction[i];
            }
            let trial = f(&candidate, &mut candidate_gradient);
            if trial.is_finite() && trial <= value + 1e-4 * step * slope {
                accepted = Some(trial);
                break;
            }
            step *= 0.5;
        }
        let Some(trial) = accepted else { break };
        let s: Vec<f64> = (0..n).map(|i| candidate[i] - x[i]).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| candidate_gradient[i] - gradient[i])
            .collect();
        if dot(&s, &y) > 1e-12 {
            if s_history.len() == settings.memory {
                s_history.remove(0);
                y_history.remove(0);
            }
            s_history.push(s);
            y_history.push(y);
        }
        let improvement = value - trial;
        std::mem::swap(&mut x, &mut candidate);
        std::mem::swap(&mut gradient, &mut candidate_gradient);
        value = trial;
        if improvement <= settings.relative_tolerance * value.abs().max(1e-12) {
            break;
        }
    }
    x
}

/// `direction` = −H·gradient, H the L-BFGS inverse Hessian of the pairs (scaled by the newest
/// pair's curvature; the first step is the gradient scaled to unit length at most).
fn two_loop(gradient: &[f64], s: &[Vec<f64>], y: &[Vec<f64>], direction: &mut [f64]) {
    let mut q = gradient.to_vec();
    let mut alpha = vec![0.0; s.len()];
    for k in (0..s.len()).rev() {
        let rho = 1.0 / dot(&y[k], &s[k]);
        alpha[k] = rho * dot(&s[k], &q);
        for (qi, yi) in q.iter_mut().zip(&y[k]) {
            *qi -= alpha[k] * yi;
        }
    }
    let gamma = match (s.last(), y.last()) {
        (Some(s), Some(y)) => dot(s, y) / dot(y, y),
        _ => 1.0 / dot(gradient, gradient).sqrt().max(1.0),
    };
    for qi in q.iter_mut() {
        *qi *= gamma;
    }
    for k in 0..s.len() {
        let rho = 1.0 / dot(&y[k], &s[k]);
        let beta = rho * dot(&y[k], &q);
        for (qi, si) in q.iter_mut().zip(&s[k]) {
            *qi += (alpha[k] - beta) * si;
        }
    }
    for (d, qi) in direction.iter_mut().zip(&q) {
        *d = -qi;
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrocks_valley() {
        let rosenbrock = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let settings = Settings {
            max_iterations: 200,
            relative_tolerance: 0.0,
            ..Settings::default()
        };
        let x = minimise(rosenbrock, vec![-1.2, 1.0], &settings);
        assert!(
            (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
            "{x:?}"
        );
    }

    #[test]
    fn stops_after_the_iterations_it_is_given() {
        let mut calls = 0;
        let bowl = |x: &[f64], g: &mut [f64]| {
            calls += 1;
            g[0] = 2.0 * x[0];
            x[0] * x[0]
        };
        let settings = Settings {
            max_iterations: 3,
            relative_tolerance: 0.0,
            ..Settings::default()
        };
        minimise(bowl, vec![1e6], &settings);
        // one evaluation at the start, at most 30 line-search trials per iteration
        assert!(calls <= 1 + 3 * 30, "{calls} calls");
    }
}

//! The derivative-free minimiser the smoothing models share: their criteria are cheap to
//! evaluate, have two to five parameters, and no gradient worth deriving by hand.

/// A plain Nelder–Mead simplex search from `start`, the first simplex `step` wide along each
/// axis; stops after `iterations` or when the simplex's values agree to 1e-8 (relative).
pub fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    start: Vec<f64>,
    iterations: usize,
    step: f64,
) -> Vec<f64> {
    let d = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    simplex.push((start.clone(), f(&start)));
    for i in 0..d {
        let mut x = start.clone();
        x[i] += step;
        let v = f(&x);
        simplex.push((x, v));
    }
    for _ in 0..iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[d].1 - simplex[0].1).abs() <= 1e-8 * simplex[0].1.abs().max(1e-12) {
            break;
        }
        let centroid: Vec<f64> = (0..d)
            .map(|j| simplex[..d].iter().map(|(x, _)| x[j]).sum::<f64>() / d as f64)
            .collect();
        let towards = |scale: f64| -> Vec<f64> {
            (0..d)
                .map(|j| centroid[j] + scale * (simplex[d].0[j] - centroid[j]))
                .collect()
        };
        let reflected = towards(-1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = towards(-2.0);
            let fe = f(&expanded);
            simplex[d] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (reflected, fr);
        } else {
            let contracted = towards(0.5);
            let fc = f(&contracted);
            if fc < simplex[d].1 {
                simplex[d] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for (x, v) in simplex.iter_mut().skip(1) {
                    for j in 0..d {
                        x[j] = best[j] + 0.5 * (x[j] - best[j]);
                    }
                    *v = f(x);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0).0
}

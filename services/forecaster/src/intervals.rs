//! Interval arithmetic: quantiles of errors, empirical (split-conformal) half-widths from
//! rolling-origin residuals, and how often bounds held.

/// The `level` quantile by nearest rank of the finite values; `None` when there are none.
pub fn quantile(values: &[f64], level: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank =
        ((level.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Fewest residuals a step's conformal quantile is taken over; neighbouring steps are pooled
/// until there are this many.
const MIN_POOL: usize = 20;

/// Half-widths for steps 1..=H from `abs_errors[h]`, the absolute out-of-sample errors at step
/// h+1 over the evaluation folds. The quantile uses the split-conformal rank ⌈(n+1)·level⌉, and
/// the widths never shrink with the horizon.
pub fn conformal_half_widths(abs_errors: &[Vec<f64>], level: f64) -> Vec<f64> {
    let steps = abs_errors.len();
    let mut widths = Vec::with_capacity(steps);
    for h in 0..steps {
        let mut pool: Vec<f64> = abs_errors[h].clone();
        let mut reach = 1;
        while pool.len() < MIN_POOL && (reach <= h || h + reach < steps) {
            if reach <= h {
                pool.extend(&abs_errors[h - reach]);
            }
            if h + reach < steps {
                pool.extend(&abs_errors[h + reach]);
            }
            reach += 1;
        }
        widths.push(conformal_quantile(&mut pool, level));
    }
    for h in 1..widths.len() {
        widths[h] = widths[h].max(widths[h - 1]);
    }
    widths
}

/// The ⌈(n+1)·level⌉-th smallest of n absolute errors (the largest when that rank passes n),
/// computed on integers so the rank does not drift with floating-point rounding.
fn conformal_quantile(errors: &mut [f64], level: f64) -> f64 {
    errors.sort_by(|a, b| a.total_cmp(b));
    let n = errors.len();
    if n == 0 {
        return 0.0;
    }
    let per_mille = (level.clamp(0.0, 1.0) * 1000.0).round() as usize;
    let rank = ((n + 1) * per_mille).div_ceil(1000).clamp(1, n);
    errors[rank - 1]
}

/// The width at path index `i` (step i+1 after the fit) when only `widths` for the first H
/// steps are known: later steps grow with √(steps / H).
pub fn width_at(widths: &[f64], i: usize) -> f64 {
    match widths.get(i) {
        Some(w) => *w,
        None => match widths.last() {
            Some(last) => last * ((i + 1) as f64 / widths.len() as f64).sqrt(),
            None => 0.0,
        },
    }
}

/// The share of `actual` values inside `[lower, upper]`.
pub fn coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> Option<f64> {
    let n = actual.len().min(lower.len()).min(upper.len());
    if n == 0 {
        return None;
    }
    let inside = (0..n)
        .filter(|i| lower[*i] <= actual[*i] && actual[*i] <= upper[*i])
        .count();
    Some(inside as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_uses_nearest_rank() {
        assert_eq!(quantile(&[5.0, 1.0, 3.0, 2.0, 4.0], 0.9), Some(5.0));
        assert_eq!(quantile(&[5.0, 1.0, 3.0, 2.0, 4.0], 0.5), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn conformal_widths_pool_neighbours_and_never_shrink() {
        // step 1 errors 1..=20, step 2 errors all 0.5: step 2 may not be narrower than step 1
        let step1: Vec<f64> = (1..=20).map(f64::from).collect();
        let widths = conformal_half_widths(&[step1, vec![0.5; 20]], 0.9);
        // rank ⌈21·0.9⌉ = 19 of 20 → 19
        assert_eq!(widths, vec![19.0, 19.0]);
    }

    #[test]
    fn a_step_with_few_errors_borrows_from_its_neighbours() {
        let widths = conformal_half_widths(&[vec![1.0; 10], vec![3.0; 10], vec![2.0; 10]], 0.5);
        // step 1 pools steps 1 and 2 (20 values, half 1s half 3s): rank ⌈21·0.5⌉ = 11 → 3
        assert_eq!(widths[0], 3.0);
    }

    #[test]
    fn widths_past_the_evaluated_horizon_grow_with_the_root_of_the_steps() {
        let widths = [1.0, 2.0];
        assert_eq!(width_at(&widths, 1), 2.0);
        assert!((width_at(&widths, 7) - 2.0 * 2.0).abs() < 1e-12);
    }

    #[test]
    fn coverage_counts_values_inside_their_bounds() {
        let c = coverage(&[1.0, 5.0, 3.0, 9.0], &[0.0; 4], &[4.0; 4]);
        assert_eq!(c, Some(0.5));
    }
}

//! Forecast combination: several candidates' forecasts merged point by point.
//!
//! Choosing the single best model by a few folds is noisy: on LaGuardia's departures over 30
//! bench origins, `auto` choosing one model (or the mean of two) scored 0.796 against the peer's
//! MSTL at 0.779, while Presage's own MSTL alone scored 0.781. Combining every candidate that scored close to the best removes most of that noise
//! (the "forecast combination puzzle": fixed weights beat weights estimated from a few folds).
//! The plain mean lets one member that goes astray at an origin drag the forecast (MSTL on Newark
//! at one origin: 0.94 against Holt-Winters' 0.76); the median ignores the others' information.
//! Half of each (for three members: weights 1/6, 2/3, 1/6 on the sorted values) measured best of
//! the rules tried on the bench series at 3 and 30 origins; see the README's forecasting bench.
//! With two members it is their mean.

use crate::evaluate::{score, Evaluation};
use crate::grid::Grid;
use crate::models::Path;

/// Candidates whose fold MASE is within this factor of the best join the combination. 1.2, 1.3
/// and 1.5 all measured better than the peer's best on every bench series over 30 origins; a
/// candidate further behind is left out so that a poor model cannot dilute a good one.
pub const COMBINATION_MARGIN: f64 = 1.3;

/// Half the median, half the mean of `values` (reordered in place). `values` is not empty.
pub fn median_mean(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    let mean = values.iter().sum::<f64>() / n as f64;
    (median + mean) / 2.0
}

/// [`median_mean`] at each step of the members' paths (all of the same length).
pub fn combine_paths(paths: &[&[f64]]) -> Vec<f64> {
    let len = paths.iter().map(|p| p.len()).min().unwrap_or(0);
    let mut at_step = Vec::with_capacity(paths.len());
    (0..len)
        .map(|t| {
            at_step.clear();
            at_step.extend(paths.iter().map(|p| p[t]));
            median_mean(&mut at_step)
        })
        .collect()
}

/// The members' paths combined: points, and bounds when every member has them.
pub fn combine(members: &[&Path]) -> Path {
    let points: Vec<&[f64]> = members.iter().map(|p| p.point.as_slice()).collect();
    let bounds: Option<Vec<&(Vec<f64>, Vec<f64>)>> =
        members.iter().map(|p| p.bounds.as_ref()).collect();
    Path {
        point: combine_paths(&points),
        bounds: bounds.map(|all| {
            let lower: Vec<&[f64]> = all.iter().map(|b| b.0.as_slice()).collect();
            let upper: Vec<&[f64]> = all.iter().map(|b| b.1.as_slice()).collect();
            (combine_paths(&lower), combine_paths(&upper))
        }),
    }
}

/// The evaluation of the members' combined forecast, from their fold forecasts (no refit),
/// scored as any model's: the coverage of the combined bounds included.
pub fn evaluate_combination(
    members: &[&Evaluation],
    grid: &Grid,
    origins: &[usize],
    scale: f64,
) -> Evaluation {
    let horizon = members.first().map_or(0, |m| m.abs_errors.len());
    let paths: Vec<Path> = (0..origins.len())
        .map(|fold| {
            let at_fold: Vec<&Path> = members.iter().map(|m| &m.fold_paths[fold]).collect();
            combine(&at_fold)
        })
        .collect();
    score(&paths, grid, origins, horizon, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_members_combine_to_their_mean() {
        assert_eq!(median_mean(&mut [1.0, 4.0]), 2.5);
    }

    #[test]
    fn three_members_weigh_the_middle_one_two_thirds() {
        // median 2, mean 5: (2 + 5) / 2
        assert_eq!(median_mean(&mut [12.0, 1.0, 2.0]), 3.5);
        let expected = 1.0 / 6.0 + 2.0 * 2.0 / 3.0 + 12.0 / 6.0;
        assert!((median_mean(&mut [2.0, 12.0, 1.0]) - expected).abs() < 1e-12);
    }

    #[test]
    fn a_member_that_goes_astray_moves_the_combination_less_than_the_mean() {
        let astray = median_mean(&mut [10.0, 10.5, 40.0]);
        let mean = (10.0 + 10.5 + 40.0) / 3.0;
        assert!(astray < mean && astray > 10.5, "{astray}");
    }

    #[test]
    fn paths_combine_step_by_step() {
        let a = [1.0, 2.0, 3.0];
        let b = [3.0, 2.0, 5.0];
        assert_eq!(combine_paths(&[&a, &b]), vec![2.0, 2.0, 4.0]);
    }

    #[test]
    fn a_combination_is_scored_on_the_members_fold_forecasts_bounds_included() {
        let grid = Grid {
            start_ms: 0,
            step_ms: 1,
            values: vec![0.0, 0.0, 10.0, 20.0],
            regressors: vec![],
            filled: 0,
        };
        let member = |point: Vec<f64>, bounds: Option<(Vec<f64>, Vec<f64>)>| Evaluation {
            mase: 1.0,
            abs_errors: vec![vec![0.0]; 2],
            own_coverage: None,
            fold_paths: vec![Path { point, bounds }],
        };
        let a = member(vec![8.0, 20.0], Some((vec![7.0, 19.0], vec![9.0, 23.0])));
        let b = member(vec![12.0, 24.0], Some((vec![9.0, 23.0], vec![15.0, 25.0])));
        let e = evaluate_combination(&[&a, &b], &grid, &[2], 2.0);
        assert_eq!(e.fold_paths[0].point, vec![10.0, 22.0]);
        assert_eq!(e.abs_errors, vec![vec![0.0], vec![2.0]]);
        // mean absolute error 1 over a scale of 2
        assert_eq!(e.mase, 0.5);
        // combined bounds [8, 12] and [21, 24]: 10 inside, 20 outside
        assert_eq!(e.own_coverage, Some(0.5));
        // without every member's bounds the combination has none
        let c = member(vec![10.0, 20.0], None);
        let e = evaluate_combination(&[&a, &b, &c], &grid, &[2], 2.0);
        assert_eq!(e.own_coverage, None);
        assert!(e.fold_paths[0].bounds.is_none());
    }
}

//! Rolling-origin evaluation: fit on the history up to an origin, forecast the horizon, compare
//! with what happened, for several origins ending at the newest point. Scores are MASE: the mean
//! absolute error divided by the in-sample error of seasonal naive, so 1.0 means "as good as
//! repeating the last season".

use crate::grid::Grid;
use crate::intervals::coverage;
use crate::models::{Model, ModelError, Path, Training};

/// How one model did over the folds.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub mase: f64,
    /// `abs_errors[h]`: absolute errors at step h+1, one per fold.
    pub abs_errors: Vec<Vec<f64>>,
    /// Share of held-out values inside the model's own bounds, when it gives bounds.
    pub own_coverage: Option<f64>,
    /// Each fold's forecast over the horizon, bounds included (for scoring combinations without
    /// refitting).
    pub fold_paths: Vec<Path>,
}

impl Evaluation {
    /// Mean absolute error at each step.
    pub fn mae_by_step(&self) -> Vec<f64> {
        self.abs_errors
            .iter()
            .map(|e| e.iter().sum::<f64>() / e.len().max(1) as f64)
            .collect()
    }
}

/// Fold origins (lengths of the training prefix), oldest first: the last `folds` non-overlapping
/// horizons of the grid, each leaving at least `min_train` points to fit on.
pub fn origins(len: usize, min_train: usize, horizon: usize, folds: usize) -> Vec<usize> {
    (1..=folds)
        .rev()
        .filter_map(|k| len.checked_sub(k * horizon))
        .filter(|origin| *origin >= min_train)
        .collect()
}

/// The MASE denominator: mean |y[t] − y[t − m]| over `values`, m the shortest season (1 without
/// one). A flat series gets a tiny positive scale so a perfect forecast scores 0, not NaN.
pub fn mase_scale(values: &[f64], season: usize) -> f64 {
    let m = season.max(1);
    if values.len() <= m {
        return f64::EPSILON;
    }
    let total: f64 = (m..values.len())
        .map(|i| (values[i] - values[i - m]).abs())
        .sum();
    (total / (values.len() - m) as f64).max(f64::EPSILON)
}

/// Scores fold forecasts: `paths[k]` forecast from `origins[k]`, at least `horizon` points each.
pub fn score(
    paths: &[Path],
    grid: &Grid,
    origins: &[usize],
    horizon: usize,
    scale: f64,
) -> Evaluation {
    let mut abs_errors = vec![Vec::with_capacity(origins.len()); horizon];
    let (mut actual_all, mut lower_all, mut upper_all) = (Vec::new(), Vec::new(), Vec::new());
    let mut has_bounds = true;
    let mut fold_paths = Vec::with_capacity(origins.len());
    for (origin, path) in origins.iter().zip(paths) {
        let actual = &grid.values[*origin..*origin + horizon];
        for (h, (a, p)) in actual.iter().zip(&path.point).enumerate() {
            abs_errors[h].push((a - p).abs());
        }
        fold_paths.push(Path {
            point: path.point[..horizon].to_vec(),
            bounds: path
                .bounds
                .as_ref()
                .map(|(lower, upper)| (lower[..horizon].to_vec(), upper[..horizon].to_vec())),
        });
        match &path.bounds {
            Some((lower, upper)) => {
                actual_all.extend_from_slice(actual);
                lower_all.extend_from_slice(&lower[..horizon]);
                upper_all.extend_from_slice(&upper[..horizon]);
            }
            None => has_bounds = false,
        }
    }
    let count: usize = abs_errors.iter().map(Vec::len).sum();
    let mae = abs_errors.iter().flatten().sum::<f64>() / count.max(1) as f64;
    let finite = |v: f64| if v.is_finite() { v } else { f64::INFINITY };
    Evaluation {
        mase: finite(mae / scale),
        abs_errors,
        own_coverage: if has_bounds {
            coverage(&actual_all, &lower_all, &upper_all)
        } else {
            None
        },
        fold_paths,
    }
}

/// Fits (or filters) `model` at every origin and scores its forecasts.
pub fn evaluate(
    model: &dyn Model,
    training: &Training,
    origins: &[usize],
    horizon: usize,
    level: f64,
    scale: f64,
) -> Result<Evaluation, ModelError> {
    let backtest = model.backtest(training, origins, horizon, horizon, level)?;
    Ok(score(
        &backtest.folds,
        training.grid,
        origins,
        horizon,
        scale,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_the_last_non_overlapping_horizons() {
        assert_eq!(origins(100, 10, 10, 3), vec![70, 80, 90]);
        // too little history for the oldest folds: they are dropped
        assert_eq!(origins(40, 25, 10, 3), vec![30]);
        assert_eq!(origins(20, 25, 10, 3), Vec::<usize>::new());
    }

    #[test]
    fn the_scale_is_the_in_sample_seasonal_naive_error() {
        // lag-2 differences: |3-1|, |2-2|, |6-3| → mean 5/3
        assert!((mase_scale(&[1.0, 2.0, 3.0, 2.0, 6.0], 2) - 5.0 / 3.0).abs() < 1e-12);
        assert_eq!(mase_scale(&[4.0; 10], 1), f64::EPSILON);
    }
}

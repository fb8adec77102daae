//! History laid on a regular grid for the models. A missing window is filled deliberately and
//! counted, never skipped: skipping would shift every later point by one step and corrupt the
//! seasonal alignment. A gap is filled from one season earlier when that point is known, else by
//! straight-line interpolation between its neighbours.

use crate::history::Observation;

#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Window start of `values[0]`.
    pub start_ms: i64,
    pub step_ms: i64,
    pub values: Vec<f64>,
    /// `regressors[r][i]`: regressor `r` at grid point `i`, carried forward over gaps.
    pub regressors: Vec<Vec<f64>>,
    /// How many grid points were missing and filled.
    pub filled: usize,
}

impl Grid {
    /// Lays `observations` (oldest first, on multiples of `step_ms` from the first) on the grid.
    /// `season_steps` is the shortest seasonal period in steps, used to fill gaps.
    pub fn build(
        observations: &[(i64, &Observation)],
        step_ms: i64,
        regressor_count: usize,
        season_steps: Option<usize>,
    ) -> Option<Grid> {
        // A grid starts and ends at finite observations (interpolation needs both ends).
        let finite = |(_, o): &&(i64, &Observation)| o.value.is_finite();
        let (first, _) = *observations.iter().find(finite)?;
        let (last, _) = *observations.iter().rev().find(finite)?;
        if step_ms <= 0 {
            return None;
        }
        let len = ((last - first) / step_ms) as usize + 1;
        let mut known: Vec<Option<f64>> = vec![None; len];
        let mut regressors = vec![vec![f64::NAN; len]; regressor_count];
        for (at, observation) in observations {
            let offset = at - first;
            if offset < 0 || *at > last || offset % step_ms != 0 || !observation.value.is_finite() {
                continue;
            }
            let i = (offset / step_ms) as usize;
            known[i] = Some(observation.value);
            for (r, value) in observation
                .regressors
                .iter()
                .enumerate()
                .take(regressor_count)
            {
                regressors[r][i] = *value;
            }
        }
        let filled = known.iter().filter(|v| v.is_none()).count();
        let values = fill(&known, season_steps);
        for series in &mut regressors {
            carry_forward(series);
        }
        Some(Grid {
            start_ms: first,
            step_ms,
            values,
            regressors,
            filled,
        })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Window start of grid point `i` (which may lie past the end: a future point).
    pub fn time_of(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * self.step_ms
    }

    /// The first `len` points, as a grid of their own (for rolling-origin folds).
    pub fn prefix(&self, len: usize) -> Grid {
        Grid {
            start_ms: self.start_ms,
            step_ms: self.step_ms,
            values: self.values[..len].to_vec(),
            regressors: self.regressors.iter().map(|r| r[..len].to_vec()).collect(),
            filled: self.filled,
        }
    }
}

fn fill(known: &[Option<f64>], season_steps: Option<usize>) -> Vec<f64> {
    let mut values = Vec::with_capacity(known.len());
    for i in 0..known.len() {
        let value = match known[i] {
            Some(v) => v,
            None => {
                let season_back = season_steps
                    .filter(|m| *m > 0 && i >= *m)
                    .and_then(|m| known[i - m]);
                season_back.unwrap_or_else(|| interpolate(known, &values, i))
            }
        };
        values.push(value);
    }
    values
}

/// Straight line between the previous filled value and the next known one. The first point is
/// always known (the grid starts at an observation), and so is the last.
fn interpolate(known: &[Option<f64>], filled_so_far: &[f64], i: usize) -> f64 {
    let before = filled_so_far[i - 1];
    match (i + 1..known.len()).find_map(|j| known[j].map(|v| (j, v))) {
        Some((j, after)) => before + (after - before) / (j - i + 1) as f64,
        None => before,
    }
}

fn carry_forward(series: &mut [f64]) {
    let mut last = series
        .iter()
        .copied()
        .find(|v| v.is_finite())
        .unwrap_or(0.0);
    for value in series.iter_mut() {
        if value.is_finite() {
            last = *value;
        } else {
            *value = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(value: f64) -> Observation {
        Observation {
            value,
            regressors: vec![value * 10.0],
        }
    }

    fn grid(points: &[(i64, f64)], season: Option<usize>) -> Grid {
        let observations: Vec<Observation> = points.iter().map(|(_, v)| obs(*v)).collect();
        let refs: Vec<(i64, &Observation)> = points
            .iter()
            .zip(&observations)
            .map(|((t, _), o)| (*t, o))
            .collect();
        Grid::build(&refs, 10, 1, season).unwrap()
    }

    #[test]
    fn a_gap_is_filled_by_interpolation_and_counted_not_skipped() {
        let g = grid(&[(0, 1.0), (10, 2.0), (40, 5.0)], None);
        assert_eq!(g.values, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(g.filled, 2);
        assert_eq!(g.time_of(4), 40);
        // regressors carry the last known value forward
        assert_eq!(g.regressors[0], vec![10.0, 20.0, 20.0, 20.0, 50.0]);
    }

    #[test]
    fn values_that_are_not_numbers_are_gaps_and_never_start_the_grid() {
        let g = grid(
            &[
                (0, f64::NAN),
                (10, 2.0),
                (20, f64::INFINITY),
                (30, 4.0),
                (40, f64::NAN),
            ],
            None,
        );
        assert_eq!(
            (g.start_ms, g.values.clone(), g.filled),
            (10, vec![2.0, 3.0, 4.0], 1)
        );
    }

    #[test]
    fn a_gap_takes_the_value_one_season_earlier_when_known() {
        // season of 3 steps: point 4 (t=40) is missing, point 1 (t=10) is 7
        let g = grid(
            &[(0, 1.0), (10, 7.0), (20, 3.0), (30, 1.0), (50, 3.0)],
            Some(3),
        );
        assert_eq!(g.values, vec![1.0, 7.0, 3.0, 1.0, 7.0, 3.0]);
        assert_eq!(g.filled, 1);
    }
}

//! Forecasting models. Each template `models:` entry maps to one implementation of [`Model`];
//! the forecaster uses the first listed model that can forecast from the history it has.

use crate::history::History;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub at_ms: i64,
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
}

pub trait Model {
    fn name(&self) -> &'static str;
    /// Predictions for the next `steps` grid points after the last observation, or `None` if
    /// the history is too short for this model.
    fn forecast(
        &self,
        history: &History,
        step_ms: i64,
        steps: usize,
        level: f64,
    ) -> Option<Vec<Prediction>>;
}

/// Tomorrow looks like today: the forecast for `t` is the value one season before `t`. The
/// interval comes from the model's own past errors: the `level` quantile of
/// |y(t) − y(t − season)| over the history, widened by √k for a point k seasons ahead.
pub struct SeasonalNaive {
    pub season_ms: i64,
}

impl Model for SeasonalNaive {
    fn name(&self) -> &'static str {
        "seasonal_naive"
    }

    fn forecast(
        &self,
        history: &History,
        step_ms: i64,
        steps: usize,
        level: f64,
    ) -> Option<Vec<Prediction>> {
        if self.season_ms <= 0 || step_ms <= 0 {
            return None;
        }
        let errors: Vec<f64> = history
            .iter()
            .filter_map(|(t, y)| {
                history
                    .value_at(t - self.season_ms)
                    .map(|past| (y - past).abs())
            })
            .collect();
        // Without a single past error there is no honest interval: wait for more history.
        let half_width = quantile(errors, level)?;
        let (last_at, _) = history.last()?;
        let mut predictions = Vec::with_capacity(steps);
        for k in 1..=steps as i64 {
            let at_ms = last_at + k * step_ms;
            let seasons_ahead = (k * step_ms + self.season_ms - 1) / self.season_ms;
            let source_at = at_ms - seasons_ahead * self.season_ms;
            let point = history.value_at(source_at)?;
            let width = half_width * (seasons_ahead as f64).sqrt();
            predictions.push(Prediction {
                at_ms,
                point,
                lower: point - width,
                upper: point + width,
            });
        }
        Some(predictions)
    }
}

/// The `level` quantile (nearest rank) of the values; `None` when there are none.
pub fn quantile(mut values: Vec<f64>, level: f64) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank =
        ((level.clamp(0.0, 1.0) * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(values: &[f64], step: i64) -> History {
        let mut h = History::new(1000);
        for (i, v) in values.iter().enumerate() {
            h.record(i as i64 * step, *v, &format!("e{i}"));
        }
        h
    }

    #[test]
    fn repeats_the_last_season_with_a_zero_width_interval_on_a_perfect_cycle() {
        let h = history(&[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0], 10);
        let model = SeasonalNaive { season_ms: 30 };
        let p = model.forecast(&h, 10, 2, 0.9).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].at_ms, p[0].point, p[0].lower, p[0].upper),
            (70, 2.0, 2.0, 2.0)
        );
        assert_eq!((p[1].at_ms, p[1].point), (80, 3.0));
    }

    #[test]
    fn interval_is_the_quantile_of_past_seasonal_errors() {
        // errors: |12-10| = 2, |14-10| = 4 ... season of 1 step
        let h = history(&[10.0, 12.0, 16.0], 1);
        let model = SeasonalNaive { season_ms: 1 };
        let p = model.forecast(&h, 1, 1, 0.9).unwrap();
        assert_eq!(p[0].point, 16.0);
        assert_eq!((p[0].lower, p[0].upper), (12.0, 20.0));
    }

    #[test]
    fn interval_widens_for_points_seasons_ahead() {
        let h = history(&[10.0, 12.0, 16.0], 1);
        let model = SeasonalNaive { season_ms: 1 };
        let p = model.forecast(&h, 1, 4, 0.9).unwrap();
        assert_eq!(p[3].point, 16.0);
        assert!((p[3].upper - (16.0 + 4.0 * 2.0)).abs() < 1e-9, "{:?}", p[3]);
    }

    #[test]
    fn waits_for_one_full_season_plus_one_point() {
        let h = history(&[1.0, 2.0, 3.0], 10);
        assert!(SeasonalNaive { season_ms: 30 }
            .forecast(&h, 10, 1, 0.9)
            .is_none());
    }

    #[test]
    fn quantile_uses_nearest_rank() {
        assert_eq!(quantile(vec![5.0, 1.0, 3.0, 2.0, 4.0], 0.9), Some(5.0));
        assert_eq!(quantile(vec![5.0, 1.0, 3.0, 2.0, 4.0], 0.5), Some(3.0));
        assert_eq!(quantile(vec![], 0.5), None);
    }
}

//! The ensemble: networks of one shape from different seeded starts, each trained on its own
//! draw of the rows (bagging: at most [`Training::rows_per_network`], and never more than
//! 63% of them, as a bootstrap sample would hold). The members differ in data as well as in
//! start, and each row has members that never saw it: its residual is taken from those alone
//! (out of bag), an honest out-of-sample error, where in-sample residuals of a flexible model
//! are too small and make bounds too narrow.
//!
//! A forecast runs the recursion once with the ensemble's mean fed back, as `forecast::nnetar`
//! does; bounds come from simulated futures, where each step of a member's recursion gets a
//! residual drawn at random and the sum is fed back, so the bounds widen as errors compound
//! through the lags.

use super::inputs::Design;
use super::lbfgs::Settings;
use super::network::{Network, Rows, Shape};
use super::rng::SplitMix64;
use crate::intervals::quantile;

/// The share of rows a network trains on at most: a bootstrap sample's distinct rows.
const IN_BAG: f64 = 0.632;

pub struct Training {
    pub networks: usize,
    pub hidden: usize,
    /// Rows each network is trained on, at most.
    pub rows_per_network: usize,
    pub decay: f64,
    pub optimiser: Settings,
    pub seed: u64,
}

pub struct Ensemble {
    networks: Vec<Network>,
    /// Out-of-bag errors (scaled), the simulation's draws.
    pub residuals: Vec<f64>,
}

impl Ensemble {
    /// Trains on `series` (scaled) at every point after the design's longest lag.
    pub fn train(design: &Design, series: &[f64], settings: &Training) -> Ensemble {
        let width = design.width();
        let first = design.longest_lag();
        let targets: Vec<f64> = series[first..].to_vec();
        let mut x = vec![0.0; targets.len() * width];
        for (r, row) in x.chunks_exact_mut(width).enumerate() {
            design.row_into(series, first + r, row);
        }
        let shape = Shape {
            inputs: width,
            hidden: settings.hidden,
        };
        let mut rng = SplitMix64::new(settings.seed);
        let bag = settings
            .rows_per_network
            .min((targets.len() as f64 * IN_BAG).ceil() as usize)
            .max(1);
        let mut out_of_bag_sum = vec![0.0; targets.len()];
        let mut out_of_bag_count = vec![0usize; targets.len()];
        let mut networks = Vec::with_capacity(settings.networks);
        for _ in 0..settings.networks {
            let chosen = draw(targets.len(), bag, &mut rng);
            let sub_x: Vec<f64> = chosen
                .iter()
                .flat_map(|r| &x[r * width..(r + 1) * width])
                .copied()
                .collect();
            let sub_y: Vec<f64> = chosen.iter().map(|r| targets[*r]).collect();
            let rows = Rows {
                x: &sub_x,
                y: &sub_y,
            };
            let network =
                Network::train(shape, &rows, settings.decay, &settings.optimiser, &mut rng);
            let mut in_bag = vec![false; targets.len()];
            for r in &chosen {
                in_bag[*r] = true;
            }
            for (r, row) in x.chunks_exact(width).enumerate() {
                if !in_bag[r] {
                    out_of_bag_sum[r] += network.predict(row);
                    out_of_bag_count[r] += 1;
                }
            }
            networks.push(network);
        }
        let residuals = (0..targets.len())
            .filter(|r| out_of_bag_count[*r] > 0)
            .map(|r| targets[r] - out_of_bag_sum[r] / out_of_bag_count[r] as f64)
            .collect();
        Ensemble {
            networks,
            residuals,
        }
    }

    /// The members' mean.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.networks.iter().map(|n| n.predict(row)).sum::<f64>() / self.networks.len() as f64
    }

    /// `horizon` steps after `history` (scaled), each step's mean fed back as the next lag.
    pub fn forecast(&self, design: &Design, history: &[f64], horizon: usize) -> Vec<f64> {
        run(design, history, horizon, |row, _| self.predict(row))
    }

    /// Lower and upper quantiles at `level` of `paths` simulated futures, per step (scaled).
    /// Path s runs through member s mod count with a drawn residual at every step: the bounds
    /// carry the members' disagreement as well as the noise, at a member's cost per path
    /// rather than the ensemble's.
    pub fn simulate(
        &self,
        design: &Design,
        history: &[f64],
        horizon: usize,
        level: f64,
        paths: usize,
        seed: u64,
    ) -> (Vec<f64>, Vec<f64>) {
        let residuals = &self.residuals;
        if residuals.is_empty() {
            // every row in every bag (a handful of rows): no honest error to draw from
            let point = self.forecast(design, history, horizon);
            return (point.clone(), point);
        }
        let mut rng = SplitMix64::new(seed);
        let mut by_step = vec![Vec::with_capacity(paths); horizon];
        for s in 0..paths {
            let member = &self.networks[s % self.networks.len()];
            let path = run(design, history, horizon, |row, _| {
                member.predict(row) + residuals[rng.below(residuals.len())]
            });
            for (step, value) in by_step.iter_mut().zip(path) {
                step.push(value);
            }
        }
        let tail = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
        by_step
            .iter()
            .map(|values| {
                (
                    quantile(values, tail).unwrap_or(f64::NAN),
                    quantile(values, 1.0 - tail).unwrap_or(f64::NAN),
                )
            })
            .unzip()
    }
}

/// The recursion: each step's value is `next(inputs, step)`, appended to the series the next
/// step's lags read.
fn run(
    design: &Design,
    history: &[f64],
    horizon: usize,
    mut next: impl FnMut(&[f64], usize) -> f64,
) -> Vec<f64> {
    let n = history.len();
    let mut series = Vec::with_capacity(n + horizon);
    series.extend_from_slice(history);
    let mut row = vec![0.0; design.width()];
    for step in 0..horizon {
        design.row_into(&series, n + step, &mut row);
        let value = next(&row, step);
        series.push(value);
    }
    series.split_off(n)
}

/// `limit` distinct row indices of `0..rows`, ascending, drawn without replacement.
fn draw(rows: usize, limit: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    let limit = limit.min(rows);
    for k in 0..limit {
        let pick = k + rng.below(rows - k);
        order.swap(k, pick);
    }
    let mut chosen = order[..limit].to_vec();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_is_distinct_rows_in_order() {
        let chosen = draw(10, 4, &mut SplitMix64::new(3));
        assert_eq!(chosen.len(), 4);
        assert!(chosen.windows(2).all(|w| w[0] < w[1]) && chosen[3] < 10);
        assert_eq!(draw(3, 5, &mut SplitMix64::new(3)), vec![0, 1, 2]);
    }
}

//! One small feed-forward network: the inputs, one hidden layer of tanh units, one linear
//! output (nnetar's shape; tanh is the logistic unit rescaled, and trains faster on centred
//! inputs). Training minimises the mean squared error plus a weight decay on every weight that
//! is not a bias, by full-batch L-BFGS from a seeded random start.

use super::lbfgs::{self, Settings};
use super::rng::SplitMix64;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub inputs: usize,
    pub hidden: usize,
}

impl Shape {
    /// Parameters: per hidden unit its input weights and bias, then the output's weights and
    /// bias.
    pub fn weights(&self) -> usize {
        self.hidden * (self.inputs + 1) + self.hidden + 1
    }

    fn output(&self) -> usize {
        self.hidden * (self.inputs + 1)
    }
}

/// Training rows, row-major: `x[r * width..(r + 1) * width]` predicts `y[r]`.
pub struct Rows<'a> {
    pub x: &'a [f64],
    pub y: &'a [f64],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    shape: Shape,
    weights: Vec<f64>,
}

impl Network {
    /// Trains from a random start drawn from `rng`: inputs and target are standardised, so
    /// weights of ±1/√fan-in keep every unit in its responsive range at the start.
    pub fn train(
        shape: Shape,
        rows: &Rows,
        decay: f64,
        settings: &Settings,
        rng: &mut SplitMix64,
    ) -> Network {
        let input_range = 1.0 / (shape.inputs.max(1) as f64).sqrt();
        let output_range = 1.0 / (shape.hidden as f64).sqrt();
        let start: Vec<f64> = (0..shape.weights())
            .map(|w| {
                let range = if w < shape.output() {
                    input_range
                } else {
                    output_range
                };
                rng.symmetric(range)
            })
            .collect();
        let mut scratch = vec![0.0; shape.hidden];
        let weights = lbfgs::minimise(
            |w, gradient| loss_and_gradient(shape, w, rows, decay, gradient, &mut scratch),
            start,
            settings,
        );
        Network { shape, weights }
    }

    pub fn predict(&self, x: &[f64]) -> f64 {
        predict(self.shape, &self.weights, x)
    }
}

fn predict(shape: Shape, w: &[f64], x: &[f64]) -> f64 {
    let d = shape.inputs;
    let out = shape.output();
    let mut y = w[out + shape.hidden];
    for j in 0..shape.hidden {
        let unit = &w[j * (d + 1)..(j + 1) * (d + 1)];
        y += w[out + j] * (unit[d] + dot(&unit[..d], x)).tanh();
    }
    y
}

/// ½·mean squared error + ½·decay·Σ(non-bias weights²), and its gradient in `gradient`.
fn loss_and_gradient(
    shape: Shape,
    w: &[f64],
    rows: &Rows,
    decay: f64,
    gradient: &mut [f64],
    hidden: &mut [f64],
) -> f64 {
    let (d, k) = (shape.inputs, shape.hidden);
    let out = shape.output();
    gradient.fill(0.0);
    let mut sum_squares = 0.0;
    for (x, target) in rows.x.chunks_exact(d.max(1)).zip(rows.y) {
        let mut y = w[out + k];
        for j in 0..k {
            let unit = &w[j * (d + 1)..(j + 1) * (d + 1)];
            hidden[j] = (unit[d] + dot(&unit[..d], x)).tanh();
            y += w[out + j] * hidden[j];
        }
        let error = y - target;
        sum_squares += error * error;
        gradient[out + k] += error;
        for j in 0..k {
            gradient[out + j] += error * hidden[j];
            let delta = error * w[out + j] * (1.0 - hidden[j] * hidden[j]);
            let unit = &mut gradient[j * (d + 1)..(j + 1) * (d + 1)];
            for (g, xi) in unit[..d].iter_mut().zip(x) {
                *g += delta * xi;
            }
            unit[d] += delta;
        }
    }
    let n = rows.y.len().max(1) as f64;
    for g in gradient.iter_mut() {
        *g /= n;
    }
    let mut penalty = 0.0;
    for (i, (g, wi)) in gradient.iter_mut().zip(w).enumerate() {
        let is_bias = i == out + k || (i < out && i % (d + 1) == d);
        if !is_bias {
            *g += decay * wi;
            penalty += wi * wi;
        }
    }
    0.5 * sum_squares / n + 0.5 * decay * penalty
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(f: impl Fn(f64, f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = SplitMix64::new(11);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let (a, b) = (rng.symmetric(2.0), rng.symmetric(2.0));
            x.extend([a, b]);
            y.push(f(a, b));
        }
        (x, y)
    }

    #[test]
    fn the_gradient_is_the_derivative_of_the_loss() {
        let shape = Shape {
            inputs: 2,
            hidden: 3,
        };
        let (x, y) = rows_of(|a, b| a * b);
        let rows = Rows { x: &x, y: &y };
        let mut rng = SplitMix64::new(5);
        let w: Vec<f64> = (0..shape.weights()).map(|_| rng.symmetric(1.0)).collect();
        let (mut gradient, mut scratch) = (vec![0.0; w.len()], vec![0.0; 3]);
        loss_and_gradient(shape, &w, &rows, 0.1, &mut gradient, &mut scratch);
        for i in 0..w.len() {
            let h = 1e-6;
            let (mut up, mut down) = (w.clone(), w.clone());
            up[i] += h;
            down[i] -= h;
            let mut ignored = vec![0.0; w.len()];
            let numeric = (loss_and_gradient(shape, &up, &rows, 0.1, &mut ignored, &mut scratch)
                - loss_and_gradient(shape, &down, &rows, 0.1, &mut ignored, &mut scratch))
                / (2.0 * h);
            assert!(
                (numeric - gradient[i]).abs() < 1e-6,
                "weight {i}: analytic {} numeric {numeric}",
                gradient[i]
            );
        }
    }

    #[test]
    fn learns_a_product_no_linear_model_can_fit() {
        let shape = Shape {
            inputs: 2,
            hidden: 6,
        };
        let (x, y) = rows_of(|a, b| a * b);
        let rows = Rows { x: &x, y: &y };
        let settings = Settings {
            max_iterations: 500,
            ..Settings::default()
        };
        let net = Network::train(shape, &rows, 1e-5, &settings, &mut SplitMix64::new(1));
        let mse = x
            .chunks(2)
            .zip(&y)
            .map(|(xi, yi)| (net.predict(xi) - yi).powi(2))
            .sum::<f64>()
            / y.len() as f64;
        let variance = y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64;
        assert!(mse < 0.02 * variance, "mse {mse} of variance {variance}");
    }
}

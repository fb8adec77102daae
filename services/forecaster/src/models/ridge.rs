//! Ridge regression on standardised features, solved by Cholesky on the normal equations. The
//! feature counts here are small (tens), so forming XᵀX is cheap and exact enough.

/// A fitted linear map in the features' original units: `y = intercept + Σ coef[j]·x[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeFit {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
}

impl RidgeFit {
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.intercept
            + row
                .iter()
                .zip(&self.coefficients)
                .map(|(x, c)| x * c)
                .sum::<f64>()
    }
}

/// Minimises ‖y − Xβ‖² + λ‖β‖² over standardised columns (the intercept is not penalised).
/// Columns with no variance get a zero coefficient. `rows[i]` is one observation.
pub fn fit(rows: &[Vec<f64>], y: &[f64], lambda: f64) -> Option<RidgeFit> {
    let n = rows.len();
    let p = rows.first()?.len();
    if n == 0 || n != y.len() {
        return None;
    }
    let mean_of = |j: usize| rows.iter().map(|r| r[j]).sum::<f64>() / n as f64;
    let means: Vec<f64> = (0..p).map(mean_of).collect();
    let scales: Vec<f64> = (0..p)
        .map(|j| {
            let var = rows.iter().map(|r| (r[j] - means[j]).powi(2)).sum::<f64>() / n as f64;
            var.sqrt()
        })
        .collect();
    let used: Vec<usize> = (0..p).filter(|j| scales[*j] > 1e-12).collect();
    let y_mean = y.iter().sum::<f64>() / n as f64;

    let k = used.len();
    let mut gram = vec![0.0; k * k];
    let mut rhs = vec![0.0; k];
    let mut z = vec![0.0; k];
    for (row, target) in rows.iter().zip(y) {
        for (a, j) in used.iter().enumerate() {
            z[a] = (row[*j] - means[*j]) / scales[*j];
        }
        let centred = target - y_mean;
        for a in 0..k {
            rhs[a] += z[a] * centred;
            for b in 0..=a {
                gram[a * k + b] += z[a] * z[b];
            }
        }
    }
    for a in 0..k {
        for b in 0..a {
            gram[b * k + a] = gram[a * k + b];
        }
        gram[a * k + a] += lambda.max(1e-9);
    }
    let beta_std = cholesky_solve(&mut gram, &rhs, k)?;

    let mut coefficients = vec![0.0; p];
    let mut intercept = y_mean;
    for (a, j) in used.iter().enumerate() {
        coefficients[*j] = beta_std[a] / scales[*j];
        intercept -= coefficients[*j] * means[*j];
    }
    Some(RidgeFit {
        intercept,
        coefficients,
    })
}

/// Solves A x = b for symmetric positive definite A (row-major, k×k), in place.
fn cholesky_solve(a: &mut [f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    for j in 0..k {
        let mut d = a[j * k + j];
        for m in 0..j {
            d -= a[j * k + m] * a[j * k + m];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for m in 0..j {
                s -= a[i * k + m] * a[j * k + m];
            }
            a[i * k + j] = s / d;
        }
    }
    // L y = b, then Lᵀ x = y
    let mut x = b.to_vec();
    for i in 0..k {
        for m in 0..i {
            x[i] -= a[i * k + m] * x[m];
        }
        x[i] /= a[i * k + i];
    }
    for i in (0..k).rev() {
        for m in i + 1..k {
            x[i] -= a[m * k + i] * x[m];
        }
        x[i] /= a[i * k + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_linear_relation_with_a_tiny_penalty() {
        // y = 5 + 2·a − 3·b
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| vec![i as f64, ((i * 7) % 11) as f64])
            .collect();
        let y: Vec<f64> = rows.iter().map(|r| 5.0 + 2.0 * r[0] - 3.0 * r[1]).collect();
        let fit = fit(&rows, &y, 1e-9).unwrap();
        assert!((fit.coefficients[0] - 2.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.coefficients[1] + 3.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.intercept - 5.0).abs() < 1e-6, "{fit:?}");
    }

    #[test]
    fn a_constant_column_gets_no_weight_and_the_penalty_shrinks_the_rest() {
        let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![i as f64, 1.0]).collect();
        let y: Vec<f64> = rows.iter().map(|r| 3.0 * r[0]).collect();
        let loose = fit(&rows, &y, 1e-9).unwrap();
        let tight = fit(&rows, &y, 100.0).unwrap();
        assert_eq!(loose.coefficients[1], 0.0);
        assert!((loose.coefficients[0] - 3.0).abs() < 1e-9);
        assert!(tight.coefficients[0] < 2.0, "{tight:?}");
    }
}

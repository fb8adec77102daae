//! Lag polynomials: the products of the short and seasonal factors the residual recursion runs
//! on, the full autoregression of the undifferenced series the psi-weights need, and the test
//! each factor must pass (roots outside the unit circle: a stationary AR, an invertible MA).

/// A factor `1 + Σ cᵢ·Bⁱ` times a seasonal factor `1 + Σ Cₖ·B^(k·m)`, as the nonzero terms
/// `(lag, coefficient)` of the product (the leading 1 left out). Kept sparse because with a long
/// season (m = 96) the product has a handful of terms spread over hundreds of lags.
pub fn product_terms(short: &[f64], seasonal: &[f64], m: usize) -> Vec<(usize, f64)> {
    let mut dense = vec![0.0; short.len() + seasonal.len() * m + 1];
    for i in 0..=short.len() {
        let a = if i == 0 { 1.0 } else { short[i - 1] };
        for k in 0..=seasonal.len() {
            let b = if k == 0 { 1.0 } else { seasonal[k - 1] };
            dense[i + k * m] += a * b;
        }
    }
    dense
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, c)| **c != 0.0)
        .map(|(lag, c)| (lag, *c))
        .collect()
}

/// Dense coefficients (index 0 is the leading 1) of the product of two dense polynomials.
pub fn multiply(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// Dense form of `1 + Σ c·Bˡ` from its sparse terms.
pub fn dense(terms: &[(usize, f64)]) -> Vec<f64> {
    let len = terms.iter().map(|(lag, _)| *lag).max().unwrap_or(0) + 1;
    let mut out = vec![0.0; len];
    out[0] = 1.0;
    for (lag, c) in terms {
        out[*lag] += c;
    }
    out
}

/// How close to the unit circle a factor may come. Reflection coefficients of exactly ±1 are a
/// unit root: the residual recursion would never forget its start, and the optimiser stays
/// strictly inside.
const REFLECTION_BOUND: f64 = 0.999;

/// Whether `1 − Σ φᵢ·zⁱ` has every root outside the unit circle: the Schur–Cohn test run as the
/// Levinson–Durbin recursion backwards (every partial autocorrelation inside (−1, 1)). For an MA
/// factor `1 + Σ θᵢ·zⁱ` (invertibility), pass `−θ`.
pub fn is_stable(phi: &[f64]) -> bool {
    let mut a: Vec<f64> = phi.to_vec();
    while let Some(&kappa) = a.last() {
        if !kappa.is_finite() || kappa.abs() >= REFLECTION_BOUND {
            return false;
        }
        let k = a.len();
        let scale = 1.0 - kappa * kappa;
        let lower: Vec<f64> = (0..k - 1)
            .map(|i| (a[i] + kappa * a[k - 2 - i]) / scale)
            .collect();
        a = lower;
    }
    true
}

/// Whether every root of `1 − Σ φᵢ·zⁱ` lies farther than `radius` from the origin: the roots of
/// `1 − Σ φᵢ·rⁱ·zⁱ` are the original roots divided by r.
pub fn roots_beyond(phi: &[f64], radius: f64) -> bool {
    let scaled: Vec<f64> = phi
        .iter()
        .zip(1..)
        .map(|(c, i)| c * radius.powi(i))
        .collect();
    is_stable(&scaled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_factor_times_a_seasonal_one_has_the_cross_terms() {
        // (1 + 0.5B)(1 + 0.4B⁴) = 1 + 0.5B + 0.4B⁴ + 0.2B⁵
        assert_eq!(
            product_terms(&[0.5], &[0.4], 4),
            vec![(1, 0.5), (4, 0.4), (5, 0.2)]
        );
        assert_eq!(multiply(&[1.0, -1.0], &[1.0, -1.0]), vec![1.0, -2.0, 1.0]);
        assert_eq!(dense(&[(2, 0.3)]), vec![1.0, 0.0, 0.3]);
    }

    #[test]
    fn stability_is_roots_outside_the_unit_circle() {
        assert!(is_stable(&[0.7]));
        assert!(!is_stable(&[1.2]));
        // 1 − 1.5z + 0.56z² = (1 − 0.7z)(1 − 0.8z): stable; (1 − 0.7z)(1 − 1.1z) is not
        assert!(is_stable(&[1.5, -0.56]));
        assert!(!is_stable(&[1.8, -0.77]));
        // a unit root
        assert!(!is_stable(&[1.0]));
        assert!(is_stable(&[]));
        // 1 − 0.995z has its root at 1.005
        assert!(is_stable(&[0.995]) && !roots_beyond(&[0.995], 1.01));
        assert!(roots_beyond(&[1.5, -0.56], 1.01));
    }
}

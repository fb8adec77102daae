//! Non-negative and integer (count) series: which constraints hold for a fit, learned from its
//! history where the template says `auto`, and what they do to the fitted path. Models are
//! fitted on the real line; a queue length or a count of departures cannot go below zero, and a
//! count lies between whole numbers, so the bounds are moved there after the fit. The point stays
//! the model's mean (clipped at zero when non-negative): rounding it would bias every error.

use presage_template::Constraints;

/// The constraints in force for one fit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub non_negative: bool,
    pub integer: bool,
}

impl Applied {
    /// The names the forecast event lists (`non_negative`, `integer`), in that order.
    pub fn names(self) -> Vec<String> {
        let mut names = Vec::new();
        if self.non_negative {
            names.push("non_negative".to_string());
        }
        if self.integer {
            names.push("integer".to_string());
        }
        names
    }
}

/// How far from a whole number a value may be and still count as one (a count that went
/// through a float sum).
const WHOLE_TOLERANCE: f64 = 1e-9;

/// The constraints that hold for a fit on `history` (its observed values, not filled gaps):
/// each stated one as the template says, each `auto` one when every finite value has the
/// property. An empty history has no evidence, so `auto` holds nothing.
pub fn resolve(settings: &Constraints, history: &[f64]) -> Applied {
    let values = || history.iter().filter(|v| v.is_finite());
    let seen = values().next().is_some();
    let non_negative = seen && values().all(|v| *v >= 0.0);
    let integer = seen && values().all(|v| (v - v.round()).abs() <= WHOLE_TOLERANCE);
    Applied {
        non_negative: settings.non_negative.holds(non_negative),
        integer: settings.integer.holds(integer),
    }
}

/// Applies the constraints to a fitted path: with `non_negative` no point, lower or upper bound
/// is below zero; with `integer` the lower bound is rounded down and the upper bound up to whole
/// numbers (so the interval still covers what it covered). A value that is not a number stays
/// one: it means "no forecast" downstream, not zero.
pub fn apply(applied: Applied, point: &mut [f64], lower: &mut [f64], upper: &mut [f64]) {
    if applied.integer {
        for v in lower.iter_mut() {
            *v = v.floor();
        }
        for v in upper.iter_mut() {
            *v = v.ceil();
        }
    }
    if applied.non_negative {
        for v in point
            .iter_mut()
            .chain(lower.iter_mut())
            .chain(upper.iter_mut())
        {
            if *v < 0.0 {
                *v = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presage_template::Learned;

    fn settings(non_negative: Learned, integer: Learned) -> Constraints {
        Constraints {
            non_negative,
            integer,
        }
    }

    const BOTH: Applied = Applied {
        non_negative: true,
        integer: true,
    };

    #[test]
    fn a_negative_lower_bound_becomes_zero_and_the_rest_stays() {
        let only = Applied {
            non_negative: true,
            integer: false,
        };
        let (mut point, mut lower, mut upper) = (
            vec![1.5, -0.25, 4.0],
            vec![-2.5, -3.0, 1.25],
            vec![3.5, -0.1, 6.75],
        );
        apply(only, &mut point, &mut lower, &mut upper);
        assert_eq!(point, vec![1.5, 0.0, 4.0]);
        assert_eq!(lower, vec![0.0, 0.0, 1.25]);
        assert_eq!(upper, vec![3.5, 0.0, 6.75]);
    }

    #[test]
    fn counts_get_whole_bounds_around_a_mean_point() {
        let (mut point, mut lower, mut upper) = (vec![2.4, 0.3], vec![1.6, -0.7], vec![3.2, 1.0]);
        apply(BOTH, &mut point, &mut lower, &mut upper);
        // the point is a mean: kept as fitted
        assert_eq!(point, vec![2.4, 0.3]);
        // lower down, upper up; a bound already whole stays; -0.7 floors to -1, then clips to 0
        assert_eq!(lower, vec![1.0, 0.0]);
        assert_eq!(upper, vec![4.0, 1.0]);
    }

    #[test]
    fn integer_without_non_negative_may_go_below_zero() {
        let only = Applied {
            non_negative: false,
            integer: true,
        };
        let (mut point, mut lower, mut upper) = (vec![-0.5], vec![-1.5], vec![0.5]);
        apply(only, &mut point, &mut lower, &mut upper);
        assert_eq!((point[0], lower[0], upper[0]), (-0.5, -2.0, 1.0));
    }

    #[test]
    fn not_a_number_stays_not_a_number() {
        let (mut point, mut lower, mut upper) = (vec![f64::NAN], vec![f64::NAN], vec![f64::NAN]);
        apply(BOTH, &mut point, &mut lower, &mut upper);
        assert!(point[0].is_nan() && lower[0].is_nan() && upper[0].is_nan());
    }

    #[test]
    fn nothing_applied_changes_nothing() {
        let (mut point, mut lower, mut upper) = (vec![-1.5], vec![-2.5], vec![0.5]);
        apply(Applied::default(), &mut point, &mut lower, &mut upper);
        assert_eq!((point[0], lower[0], upper[0]), (-1.5, -2.5, 0.5));
    }

    #[test]
    fn auto_learns_counts_from_the_history() {
        let auto = settings(Learned::Auto, Learned::Auto);
        assert_eq!(resolve(&auto, &[0.0, 3.0, 12.0, 1.0]), BOTH);
        // a missing value (NaN) is no evidence either way
        assert_eq!(resolve(&auto, &[0.0, f64::NAN, 2.0]), BOTH);
    }

    #[test]
    fn auto_learns_neither_from_signed_fractional_history() {
        let auto = settings(Learned::Auto, Learned::Auto);
        assert_eq!(
            resolve(&auto, &[0.5, 1.25, 3.0]),
            Applied {
                non_negative: true,
                integer: false
            }
        );
        assert_eq!(
            resolve(&auto, &[2.0, -1.0, 3.0]),
            Applied {
                non_negative: false,
                integer: true
            }
        );
        assert_eq!(resolve(&auto, &[-0.5, 2.5]), Applied::default());
        assert_eq!(resolve(&auto, &[]), Applied::default());
    }

    #[test]
    fn stated_settings_override_the_history() {
        let stated = settings(Learned::Always, Learned::Never);
        assert_eq!(
            resolve(&stated, &[-3.0, 2.0]),
            Applied {
                non_negative: true,
                integer: false
            }
        );
        let off = settings(Learned::Never, Learned::Always);
        assert_eq!(
            resolve(&off, &[1.5, 2.0]),
            Applied {
                non_negative: false,
                integer: true
            }
        );
    }

    #[test]
    fn names_list_what_applied() {
        assert_eq!(BOTH.names(), vec!["non_negative", "integer"]);
        assert!(Applied::default().names().is_empty());
    }
}

//! When a series refits. Refits fall on a fixed cadence, offset per series by a hash of its key,
//! so thousands of series with a 1h cadence do not all refit on the same window. Everything here
//! is a function of event time and the key: a restarted forecaster computes the same instants.

use presage_events::event_id;

/// The offset of this series' refit instants within the cadence.
pub fn phase_ms(key: &str, refit_ms: i64) -> i64 {
    if refit_ms <= 0 {
        return 0;
    }
    let digest = event_id(&["refit-phase", key]);
    let bits = u64::from_str_radix(&digest[..12], 16).unwrap_or(0);
    (bits % refit_ms as u64) as i64
}

/// The latest scheduled refit instant at or before `t_ms`.
pub fn scheduled_at_or_before(t_ms: i64, refit_ms: i64, phase_ms: i64) -> i64 {
    if refit_ms <= 0 {
        return t_ms;
    }
    phase_ms + (t_ms - phase_ms).div_euclid(refit_ms) * refit_ms
}

/// Whether recent errors have drifted past `ratio` times what the evaluation expected.
/// `errors` are absolute errors of the active fit's path since it was fitted, oldest first, with
/// `leads` their path indices; `expected_mae[i]` is the evaluation's mean absolute error at path
/// index i (extended past its end with √ growth). The newest `window` errors are compared.
pub fn drifted(errors: &[(usize, f64)], expected_mae: &[f64], window: usize, ratio: f64) -> bool {
    if expected_mae.is_empty() || window == 0 || errors.len() < window {
        return false;
    }
    let recent = &errors[errors.len() - window..];
    let observed = recent.iter().map(|(_, e)| e).sum::<f64>() / window as f64;
    let expected = recent
        .iter()
        .map(|(i, _)| crate::intervals::width_at(expected_mae, *i))
        .sum::<f64>()
        / window as f64;
    observed > ratio * expected.max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_repeat_every_cadence_from_the_phase() {
        assert_eq!(scheduled_at_or_before(1_000, 300, 50), 950);
        assert_eq!(scheduled_at_or_before(950, 300, 50), 950);
        assert_eq!(scheduled_at_or_before(949, 300, 50), 650);
        assert_eq!(scheduled_at_or_before(10, 300, 50), -250);
    }

    #[test]
    fn phases_differ_between_series_and_stay_within_the_cadence() {
        let phases: Vec<i64> = (0..50)
            .map(|i| phase_ms(&format!("app-{i}|rps"), 3_600_000))
            .collect();
        assert!(phases.iter().all(|p| (0..3_600_000).contains(p)));
        let mut distinct = phases.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 45, "{distinct:?}");
        assert_eq!(phases[7], phase_ms("app-7|rps", 3_600_000));
    }

    #[test]
    fn drift_compares_the_recent_mean_error_with_the_expected_one() {
        let expected = [1.0, 1.0, 1.0, 1.0];
        let calm = [(0, 1.0), (1, 1.5), (2, 0.5)];
        let wild = [(0, 1.0), (1, 3.0), (2, 4.0)];
        assert!(!drifted(&calm, &expected, 2, 2.0));
        assert!(drifted(&wild, &expected, 2, 2.0));
        assert!(!drifted(&wild, &expected, 4, 2.0), "not enough errors yet");
        assert!(
            !drifted(&wild, &[], 2, 2.0),
            "nothing expected: no yardstick"
        );
    }
}

//! Per-app decision series, under a bound on how many apps get them.
//!
//! A fleet of thousands of apps would make a scrape of thousands of series per metric: the
//! operator turns per-app series off (`--app-metrics off`) or bounds them
//! (`--app-metrics-max`). The first apps seen get series, up to the bound; an update for any
//! other app is refused and counted in `presage_app_series_refused_total`. An app forgotten
//! (its partition moved to another instance) has its series removed and frees its place.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use super::catalog::{labels, Gauges, Labels, Metrics};

/// Which app-labelled family a series belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Observed,
    Forecast,
    ForecastMase,
    Target,
    AtMax,
}

/// The apps admitted to per-app series, and each one's series (to remove them).
pub struct AppSeries {
    enabled: bool,
    max_apps: usize,
    admitted: Mutex<HashMap<String, HashSet<(Family, Labels)>>>,
}

impl AppSeries {
    pub fn new(enabled: bool, max_apps: usize) -> Self {
        Self {
            enabled,
            max_apps,
            admitted: Mutex::default(),
        }
    }

    /// The newest observed value of `metric`.
    pub fn observed(&self, metrics: &Metrics, app: &str, metric: &str, value: f64) {
        let series = labels([("app", app), ("metric", metric)]);
        self.set(metrics, Family::Observed, app, series, value);
    }

    /// The forecast of `metric` at the lead time: its mean and bounds.
    pub fn forecast(&self, metrics: &Metrics, app: &str, metric: &str, point: [f64; 3]) {
        for (bound, value) in ["mean", "lower", "upper"].into_iter().zip(point) {
            let series = labels([("app", app), ("metric", metric), ("bound", bound)]);
            self.set(metrics, Family::Forecast, app, series, value);
        }
    }

    /// The model chosen for `metric` and its MASE; a model replaced by another loses its series.
    pub fn model(&self, metrics: &Metrics, app: &str, metric: &str, model: &str, mase: f64) {
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(known) = self.admit(&mut admitted, metrics, app) else {
            return;
        };
        let stale: Vec<(Family, Labels)> = known
            .iter()
            .filter(|(family, series)| {
                *family == Family::ForecastMase
                    && series.get(1).is_some_and(|(_, m)| m == metric)
                    && series.get(2).is_some_and(|(_, m)| m != model)
            })
            .cloned()
            .collect();
        for entry in stale {
            metrics.app_forecast_mase.remove(&entry.1);
            known.remove(&entry);
        }
        let series = labels([("app", app), ("metric", metric), ("model", model)]);
        metrics.app_forecast_mase.get_or_create(&series).set(mase);
        known.insert((Family::ForecastMase, series));
    }

    /// A resource's newest live target, and whether it is held at the policy's max.
    pub fn target(&self, metrics: &Metrics, app: &str, resource: &str, target: f64, at_max: bool) {
        let series = labels([("app", app), ("resource", resource)]);
        self.set(metrics, Family::Target, app, series.clone(), target);
        self.set(
            metrics,
            Family::AtMax,
            app,
            series,
            f64::from(u8::from(at_max)),
        );
    }

    /// Removes every series of `app`.
    pub fn forget(&self, metrics: &Metrics, app: &str) {
        let removed = self
            .admitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(app);
        for (family, series) in removed.into_iter().flatten() {
            gauges(metrics, family).remove(&series);
        }
    }

    /// Sets one series with the book held, so a concurrent `forget` cannot leave a series
    /// exported but untracked (never removed, not counted against the bound).
    fn set(&self, metrics: &Metrics, family: Family, app: &str, series: Labels, value: f64) {
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(known) = self.admit(&mut admitted, metrics, app) else {
            return;
        };
        gauges(metrics, family).get_or_create(&series).set(value);
        known.insert((family, series));
    }

    /// `app`'s series, if it has (or now gets) per-app series; a refusal is counted.
    fn admit<'b>(
        &self,
        admitted: &'b mut HashMap<String, HashSet<(Family, Labels)>>,
        metrics: &Metrics,
        app: &str,
    ) -> Option<&'b mut HashSet<(Family, Labels)>> {
        if !self.enabled {
            return None;
        }
        if !admitted.contains_key(app) {
            if admitted.len() >= self.max_apps {
                metrics.app_series_refused.get_or_create(&Vec::new()).inc();
                return None;
            }
            admitted.insert(app.to_string(), HashSet::new());
        }
        admitted.get_mut(app)
    }
}

fn gauges(metrics: &Metrics, family: Family) -> &Gauges {
    match family {
        Family::Observed => &metrics.app_observed,
        Family::Forecast => &metrics.app_forecast,
        Family::ForecastMase => &metrics.app_forecast_mase,
        Family::Target => &metrics.app_target,
        Family::AtMax => &metrics.app_at_max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series_lines(metrics: &Metrics, family: &str) -> Vec<String> {
        metrics
            .encode()
            .lines()
            .filter(|line| line.starts_with(&format!("{family}{{")))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn apps_beyond_the_bound_get_no_series_and_are_counted() {
        let metrics = Metrics::new();
        let apps = AppSeries::new(true, 2);
        for app in ["a", "b", "c", "c"] {
            apps.target(&metrics, app, "replicas", 3.0, false);
        }
        let lines = series_lines(&metrics, "presage_app_target");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|line| !line.contains(r#"app="c""#)));
        // Two families (target and at_max) refused, twice.
        assert!(metrics
            .encode()
            .contains("presage_app_series_refused_total 4"));
        // A forgotten app frees its place.
        apps.forget(&metrics, "a");
        apps.target(&metrics, "c", "replicas", 5.0, true);
        let lines = series_lines(&metrics, "presage_app_target");
        assert!(
            lines.contains(&r#"presage_app_target{app="c",resource="replicas"} 5.0"#.to_string()),
            "{lines:?}"
        );
        assert!(lines.iter().all(|line| !line.contains(r#"app="a""#)));
        assert!(metrics
            .encode()
            .contains(r#"presage_app_at_max{app="c",resource="replicas"} 1.0"#));
    }

    #[test]
    fn switched_off_nothing_is_exported_and_nothing_is_counted() {
        let metrics = Metrics::new();
        let apps = AppSeries::new(false, 10);
        apps.observed(&metrics, "a", "rps", 1.0);
        assert!(series_lines(&metrics, "presage_app_observed").is_empty());
        assert!(!metrics
            .encode()
            .contains("presage_app_series_refused_total "));
    }

    #[test]
    fn a_new_model_replaces_the_old_models_score_series() {
        let metrics = Metrics::new();
        let apps = AppSeries::new(true, 10);
        apps.model(&metrics, "a", "rps", "mstl", 0.8);
        apps.model(&metrics, "a", "rps", "ets", 0.7);
        let lines = series_lines(&metrics, "presage_app_forecast_mase");
        assert_eq!(
            lines,
            vec![r#"presage_app_forecast_mase{app="a",metric="rps",model="ets"} 0.7"#.to_string()]
        );
    }

    #[test]
    fn a_forecast_sets_its_mean_and_both_bounds() {
        let metrics = Metrics::new();
        let apps = AppSeries::new(true, 10);
        apps.forecast(&metrics, "a", "rps", [10.0, 8.0, 12.5]);
        let lines = series_lines(&metrics, "presage_app_forecast");
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.contains(
            &r#"presage_app_forecast{app="a",metric="rps",bound="upper"} 12.5"#.to_string()
        ));
    }
}

//! What an operator watches of the planner's decisions, per app: which observed metrics a
//! policy tracks and the forecast point a policy provisions for. Pure: the shell exports them.

use presage_events::{Forecast, ForecastPoint};
use presage_template::Template;

use crate::policy::point_at_lead;

/// Whether a live policy of `template` tracks `metric`: only those are exported as observed
/// values, so per-app series stay one per policy metric, not one per recipe and group.
pub fn tracked(template: &Template, metric: &str) -> bool {
    live_policy_of(template, metric).is_some()
}

/// The point of `forecast` that the first live policy tracking its metric provisions for (at
/// the policy's lead time): what `presage_app_forecast` exports.
pub fn lead_point<'f>(template: &Template, forecast: &'f Forecast) -> Option<&'f ForecastPoint> {
    let policy = live_policy_of(template, &forecast.metric)?;
    point_at_lead(policy, forecast.issued_at_ms, &forecast.points)
}

fn live_policy_of<'t>(
    template: &'t Template,
    metric: &str,
) -> Option<&'t presage_template::ScalingPolicy> {
    template
        .dynamic_metadata
        .scaling_policies
        .iter()
        .find(|policy| policy.metric == metric && !policy.shadow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(policies: &str) -> Template {
        let yaml = format!(
            "app: a\ndynamic_metadata:\n  sources: [{{ id: g, kind: prometheus, url: \"http://x/metrics\" }}]\n  metric_recipes: [{{ name: rps, from: g.rps, window: {{ tumble: 1m }} }}, {{ name: cpu, from: g.cpu, window: {{ tumble: 1m }} }}]\n  scaling_policies:\n{policies}"
        );
        presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn forecast(metric: &str) -> Forecast {
        Forecast {
            metric: metric.into(),
            issued_at_ms: 0,
            points: (1..=10)
                .map(|i| ForecastPoint {
                    at_ms: i * 60_000,
                    point: i as f64,
                    lower: i as f64 - 0.5,
                    upper: i as f64 + 0.5,
                })
                .collect(),
            ..Forecast::default()
        }
    }

    const LIVE_RPS: &str =
        "    - { resource: replicas, metric: rps, per_unit: 10, lead_time: 5m, min: 1, max: 9 }\n";
    const SHADOW_CPU: &str =
        "    - { resource: memory, metric: cpu, per_unit: 10, min: 1, max: 9, shadow: true }\n";

    #[test]
    fn only_metrics_a_live_policy_tracks_are_watched() {
        let template = template(&format!("{LIVE_RPS}{SHADOW_CPU}"));
        assert!(tracked(&template, "rps"));
        assert!(!tracked(&template, "cpu"), "a shadow policy's metric");
        assert!(!tracked(&template, "latency"));
    }

    #[test]
    fn the_watched_forecast_point_is_the_one_at_the_policys_lead_time() {
        let template = template(LIVE_RPS);
        let rps = forecast("rps");
        let point = lead_point(&template, &rps).unwrap();
        assert_eq!(point.at_ms, 5 * 60_000);
        assert_eq!((point.point, point.lower, point.upper), (5.0, 4.5, 5.5));
        assert!(lead_point(&template, &forecast("cpu")).is_none());
    }
}

//! Reports to test with, shared by the tests of every part of the page.

use crate::report::{
    BandPoint, CapacityStep, Contender, ContenderKind, DemandStep, DirectiveRecord, Report, Score,
    SeriesReport, TargetRecord,
};

use super::steps::{capacity_segments, clip, demand_segments, under_provisioned};
use super::{DAY, HOUR, MINUTE};

/// 2024-01-01T00:00:00Z, a Monday.
pub(super) const T0: i64 = 1_704_067_200_000;

pub(super) fn score(unit_hours: f64, under_pct: f64, actions: u64) -> Score {
    Score {
        unit_hours,
        slack_pct: 20.0,
        under_provisioned_pct: under_pct,
        under_depth_mean_pct: under_pct / 2.0,
        under_depth_max_pct: under_pct,
        actions,
        covered_hours: 24.0,
        gap_hours: 0.0,
    }
}

pub(super) fn contender(name: &str, kind: ContenderKind, steps: &[(i64, i64)]) -> Contender {
    Contender {
        gated: kind == ContenderKind::Policy,
        // The fixtures' series serve 50 of the metric per unit.
        per_unit: 50.0,
        name: name.to_string(),
        kind,
        score: score(100.0, 1.0, 3),
        capacity: steps
            .iter()
            .map(|&(at, units)| CapacityStep {
                at_ms: T0 + at,
                units,
            })
            .collect(),
    }
}

/// `count` demand windows of `step_ms` from T0, valued by `value`, and a band 10 % either
/// side of it.
pub(super) fn series(
    app: &str,
    count: usize,
    step_ms: i64,
    value: impl Fn(usize) -> f64,
    contenders: Vec<Contender>,
) -> SeriesReport {
    let demand: Vec<DemandStep> = (0..count)
        .map(|i| DemandStep {
            start_ms: T0 + i as i64 * step_ms,
            end_ms: T0 + (i as i64 + 1) * step_ms,
            value: value(i),
        })
        .collect();
    let band = demand
        .iter()
        .step_by(5)
        .map(|d| BandPoint {
            issued_ms: d.start_ms - 5 * MINUTE,
            at_ms: d.start_ms,
            mean: d.value,
            lower: d.value * 0.9,
            upper: d.value * 1.1,
        })
        .collect();
    SeriesReport {
        app: app.to_string(),
        resource: "replicas".to_string(),
        metric: "rps".to_string(),
        per_unit: 50.0,
        demand,
        band,
        contenders,
        frontier: None,
    }
}

pub(super) fn three_contenders(units: i64) -> Vec<Contender> {
    vec![
        contender("templates/a.yaml", ContenderKind::Policy, &[(0, units)]),
        contender("reactive (HPA)", ContenderKind::Reactive, &[(0, units + 1)]),
        contender("oracle", ContenderKind::Oracle, &[(0, units)]),
    ]
}

pub(super) fn report(series: Vec<SeriesReport>, span_ms: i64) -> Report {
    Report {
        source: "samples.csv".to_string(),
        samples: 1_234_567,
        apps: series.iter().map(|s| s.app.clone()).collect(),
        from_ms: T0,
        to_ms: T0 + span_ms,
        scored_from_ms: T0,
        scored_to_ms: T0 + span_ms,
        derived: 1_000,
        forecasts: 900,
        dead_letters: 0,
        elapsed_ms: 2_500,
        samples_per_second: 493_826.8,
        busy_seconds: Default::default(),
        series,
        directives: Vec::new(),
    }
}

/// Hourly demand of 100 for `days`: many short series of this make a large report cheaply.
pub(super) fn flat_series(app: &str, days: usize) -> SeriesReport {
    series(app, days * 24, HOUR, |_| 100.0, three_contenders(3))
}

/// Three weeks of one-minute windows with a daily and weekly rhythm and a surge on day 15
/// that the forecast sees late; a policy that follows the forecast's upper bound, a lagging
/// reactive baseline and the oracle; plus 14 small series beyond the charted ones.
pub(super) fn sample_report() -> Report {
    let days = 21;
    let count = days * 24 * 60;
    let mut seed = 7u64;
    let mut noise = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let mut all = Vec::new();
    for (k, app) in ["checkout <api>", "search", "grid"].iter().enumerate() {
        let scale = 1.0 + k as f64 * 0.7;
        let demand: Vec<f64> = (0..count)
            .map(|i| {
                let t = i as f64 / (24.0 * 60.0);
                let daily = (std::f64::consts::TAU * (t - 0.3)).sin().max(-0.6);
                let weekend = if (i / (24 * 60)) % 7 >= 5 { 0.6 } else { 1.0 };
                let surge = if (15.0 * 1440.0..15.0 * 1440.0 + 180.0).contains(&(i as f64)) {
                    900.0
                } else {
                    0.0
                };
                (scale * (400.0 + 350.0 * daily * weekend) + surge + 40.0 * noise()).max(0.0)
            })
            .collect();
        let per_unit = 50.0;
        let lagged = |i: usize, lag: usize| demand[i.saturating_sub(lag)];
        let steps: Vec<(i64, f64)> = (0..count).map(|i| (i as i64 * MINUTE, demand[i])).collect();
        let band: Vec<BandPoint> = (0..count)
            .step_by(5)
            .map(|i| {
                let mean = 0.7 * lagged(i, 30) + 0.3 * lagged(i, 24 * 60);
                BandPoint {
                    issued_ms: T0 + i as i64 * MINUTE - 5 * MINUTE,
                    at_ms: T0 + i as i64 * MINUTE,
                    mean,
                    lower: mean * 0.85,
                    upper: mean * 1.15 + 20.0,
                }
            })
            .collect();
        let capacity_from = |units: &dyn Fn(usize) -> i64, every: usize| {
            let mut out: Vec<(i64, i64)> = Vec::new();
            for i in (0..count).step_by(every) {
                let u = units(i);
                if out.last().is_none_or(|&(_, last)| last != u) {
                    out.push((i as i64 * MINUTE, u));
                }
            }
            out
        };
        let policy = capacity_from(&|i| (band[i / 5].upper / per_unit).ceil() as i64, 5);
        let reactive = capacity_from(
            &|i| ((0..5).map(|l| lagged(i, 2 + l)).fold(0.0, f64::max) / per_unit).ceil() as i64,
            1,
        );
        let oracle = capacity_from(&|i| (demand[i] / per_unit).ceil() as i64, 1);
        let mut contenders = vec![
            contender(
                "templates/checkout-api.yaml",
                ContenderKind::Policy,
                &policy,
            ),
            contender(
                "templates/checkout-api.yaml shadow",
                ContenderKind::Policy,
                &policy.iter().map(|&(t, u)| (t, u + 1)).collect::<Vec<_>>(),
            ),
            contender("reactive (HPA)", ContenderKind::Reactive, &reactive),
            contender("oracle", ContenderKind::Oracle, &oracle),
        ];
        let demand_steps: Vec<DemandStep> = steps
            .iter()
            .map(|&(t, v)| DemandStep {
                start_ms: T0 + t,
                end_ms: T0 + t + MINUTE,
                value: v,
            })
            .collect();
        let segments = demand_segments(&demand_steps);
        for c in &mut contenders {
            let under = under_provisioned(
                &segments,
                &c.capacity,
                per_unit,
                T0 + DAY,
                T0 + days as i64 * DAY,
            );
            let under_ms: i64 = under.iter().map(|(a, b)| b - a).sum();
            let caps = capacity_segments(&c.capacity, 1.0, T0 + days as i64 * DAY);
            let unit_ms: f64 = clip(&caps, T0 + DAY, T0 + days as i64 * DAY)
                .iter()
                .map(|s| s.value * (s.end_ms - s.start_ms) as f64)
                .sum();
            c.score = Score {
                unit_hours: unit_ms / HOUR as f64,
                slack_pct: 18.0 + 10.0 * noise(),
                under_provisioned_pct: 100.0 * under_ms as f64 / ((days as i64 - 1) * DAY) as f64,
                under_depth_mean_pct: 12.0 + 5.0 * noise(),
                under_depth_max_pct: 60.0 + 20.0 * noise(),
                actions: c.capacity.len() as u64,
                covered_hours: ((days - 1) * 24) as f64,
                gap_hours: 0.0,
            };
        }
        all.push(SeriesReport {
            app: app.to_string(),
            resource: "replicas".to_string(),
            metric: "http_requests_per_s".to_string(),
            per_unit,
            demand: demand_steps,
            band,
            contenders,
            frontier: None,
        });
    }
    for i in 0..14 {
        all.push(flat_series(&format!("batch-{i:02}"), 21));
    }
    let mut r = report(all, days as i64 * DAY);
    r.scored_from_ms = T0 + DAY;
    r.source = "kafka:presage.samples [2024-01-01T00:00:00Z, 2024-01-22T00:00:00Z)".to_string();
    r.directives = (0..57)
        .map(|i| DirectiveRecord {
            template: "templates/checkout-api.yaml".to_string(),
            event_id: format!("d-{i}"),
            app: "checkout <api>".to_string(),
            mode: if i % 4 == 0 { "shadow" } else { "live" }.to_string(),
            issued_at_ms: T0 + DAY + i * 5 * MINUTE,
            fallback: i == 9,
            targets: vec![
                TargetRecord {
                    resource: "replicas".to_string(),
                    target: 4 + i % 5,
                },
                TargetRecord {
                    resource: "memory".to_string(),
                    target: 2,
                },
            ],
        })
        .collect();
    r
}

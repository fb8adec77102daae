//! Shared by the forecaster's spec suites: real traces from `../shared/data`, laid on grids, and
//! a deterministic noise source for series of known structure.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use presage_events::DerivedMetric;
use presage_forecaster::{Calendar, FitSettings, Grid};
use presage_template::{calendar, ModelKind, Template};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

pub fn shared_data(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(file)
}

/// `(epoch ms, value)` of one app's metric in a trace, in time order.
pub fn trace(file: &str, app: &str, metric: &str) -> Vec<(i64, f64)> {
    let path = shared_data(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut points: Vec<(i64, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split(',');
            let (ts, a, m, v) = (cols.next()?, cols.next()?, cols.next()?, cols.next()?);
            (a == app && m == metric).then(|| {
                let at = calendar::parse_timestamp(ts).expect("trace timestamp");
                (at, v.parse::<f64>().expect("trace value"))
            })
        })
        .collect();
    points.sort_by_key(|(t, _)| *t);
    points
}

/// Sums of a trace over buckets of `bucket_ms` (e.g. departures per hour).
pub fn bucket_sums(points: &[(i64, f64)], bucket_ms: i64) -> Vec<(i64, f64)> {
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for (t, v) in points {
        *sums.entry(t - t.rem_euclid(bucket_ms)).or_default() += v;
    }
    sums.into_iter().collect()
}

/// Deterministic noise with mean 0 and standard deviation `sd` (Irwin–Hall: 12 uniforms).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn uniform(&mut self) -> f64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn next(&mut self, sd: f64) -> f64 {
        let sum: f64 = (0..12).map(|_| self.uniform()).sum();
        (sum - 6.0) * sd
    }
}

pub fn grid(start_ms: i64, step_ms: i64, values: Vec<f64>) -> Grid {
    Grid {
        start_ms,
        step_ms,
        values,
        regressors: Vec::new(),
        filled: 0,
    }
}

pub fn settings<'a>(
    models: &'a [ModelKind],
    periods: &[usize],
    horizon: usize,
    calendar: &'a Calendar,
) -> FitSettings<'a> {
    FitSettings {
        models,
        periods: periods.to_vec(),
        detect_periods: false,
        horizon,
        path_len: horizon,
        level: 0.9,
        folds: 5,
        calendar,
        ridge: 1.0,
        harmonics: 0,
    }
}

pub fn mean_abs(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

/// A template with one recipe `demand` (tumbling windows of `window`) and one prediction
/// algorithm given as a YAML flow mapping without its target, e.g.
/// `horizon: 3h, models: [ets], seasonality: [1d]`.
pub fn template(window: &str, algorithm: &str) -> Arc<Template> {
    template_in(None, window, algorithm)
}

/// [`template`] on `timezone` when given.
pub fn template_in(timezone: Option<&str>, window: &str, algorithm: &str) -> Arc<Template> {
    let zone = timezone.map_or(String::new(), |z| format!("timezone: {z}\n"));
    let yaml = format!(
        "app: shop\n{zone}dynamic_metadata:\n  sources: [{{ id: g, kind: prometheus, url: \"http://x/metrics\" }}]\n  metric_recipes: [{{ name: demand, from: g.demand, aggregate: sum, window: {{ tumble: {window} }} }}]\n  prediction_algorithms:\n    - {{ target: demand, {algorithm} }}\n"
    );
    Arc::new(presage_template::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}")))
}

pub fn derived(at_ms: i64, step_ms: i64, value: f64) -> DerivedMetric {
    DerivedMetric {
        event_id: format!("d{at_ms}"),
        app: "shop".into(),
        template_version: "v1".into(),
        recipe: "demand".into(),
        window_start_ms: at_ms,
        window_end_ms: at_ms + step_ms,
        value,
        sample_count: 1,
        labels: Default::default(),
        signals: Default::default(),
        raw_partition: 0,
        raw_first_offset: 0,
        raw_last_offset: 0,
        lineage: vec![],
    }
}

/// The first week of England and Wales demand (336 half-hours), repeated for four weeks with
/// noise of 1% of its mean: a pure daily and weekly season.
pub fn seasonal_weeks(weeks: usize, seed: u64) -> (Vec<f64>, Vec<f64>, f64) {
    let week: Vec<f64> = trace("taylor-demand.csv", "grid-ew", "demand_mw")[..336]
        .iter()
        .map(|(_, v)| *v)
        .collect();
    let sd = 0.01 * week.iter().sum::<f64>() / week.len() as f64;
    let mut noise = Noise::new(seed);
    let clean: Vec<f64> = week.iter().cycle().take(336 * weeks).copied().collect();
    let noisy = clean.iter().map(|v| v + noise.next(sd)).collect();
    (clean, noisy, sd)
}

/// One of the peer bench's cuts of a series (`benches/versus_statsforecast.rs`): where its
/// training starts, the training values and the horizon after them.
pub struct BenchCut {
    pub start_ms: i64,
    pub train: Vec<f64>,
    pub test: Vec<f64>,
}

/// The bench's cuts, newest first: origins spread a third of the usable length apart (at most
/// three), `train_len` points to train and `horizon` to test each.
pub fn bench_cuts(
    points: &[(i64, f64)],
    train_len: usize,
    horizon: usize,
    origins: usize,
) -> Vec<BenchCut> {
    let usable = points.len() - train_len - horizon;
    (0..origins)
        .map(|k| {
            let start = usable - k * (usable / 3);
            let values = |from: usize, len: usize| -> Vec<f64> {
                points[from..from + len].iter().map(|(_, v)| *v).collect()
            };
            BenchCut {
                start_ms: points[start].0,
                train: values(start, train_len),
                test: values(start + train_len, horizon),
            }
        })
        .collect()
}

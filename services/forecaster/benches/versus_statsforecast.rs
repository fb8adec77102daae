//! Presage's forecasting models side by side with Nixtla's statsforecast, on the same series and
//! horizons cut from `../shared/data`: England and Wales demand (half-hourly) and each New York
//! airport's departures (15 minutes). For each series, several origins: train on the four weeks
//! before, forecast one day. Scores: MASE (scaled by in-sample daily seasonal naive on the
//! training data), coverage of the 90% bounds, and the wall time of fit + predict per series.
//!
//! `cargo bench -p presage-forecaster --bench versus_statsforecast`
//!
//! The peer runs in `$HOME/.cache/presage/venv-statsforecast` (or `PRESAGE_BENCH_VENV`), which
//! `bench/forecast/setup_venv.sh` creates from PyPI. Without it (or with
//! `PRESAGE_BENCH_NO_PEER=1`), Presage's side is printed alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use presage_forecaster::evaluate::mase_scale;
use presage_forecaster::intervals::coverage;
use presage_forecaster::models::{Ets, HoltWinters, Model, Mstl, Training};
use presage_forecaster::{fit, Calendar, FitSettings, Grid};
use presage_template::{calendar, ModelKind};
use serde_json::{json, Value};

const LEVEL: f64 = 0.9;
const TRAIN_WEEKS: usize = 4;
const ORIGINS: usize = 3;
/// Presage timings are the median of this many runs (the peer's are single runs after a warm-up).
const REPEATS: usize = 3;

struct Case {
    series: String,
    origin: usize,
    start_ms: i64,
    step_ms: i64,
    periods: Vec<usize>,
    horizon: usize,
    train: Vec<f64>,
    test: Vec<f64>,
}

#[derive(Default, Clone)]
struct Score {
    mase: Vec<f64>,
    coverage: Vec<f64>,
    seconds: Vec<f64>,
    errors: Vec<String>,
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join("../shared/data");
    let mut cases = Vec::new();
    cases.extend(cut(
        &series(&data.join("taylor-demand.csv"), "grid-ew", "demand_mw"),
        "taylor",
        1_800_000,
        vec![48, 336],
    ));
    for airport in ["airport-ewr", "airport-jfk", "airport-lga"] {
        let points = series(&data.join("nyc-departures-15m.csv"), airport, "departures");
        cases.extend(cut(&points, airport, 900_000, vec![96, 672]));
    }
    println!("{} cases: {} series x {ORIGINS} origins, {TRAIN_WEEKS} weeks of training each, one day ahead", cases.len(), cases.len() / ORIGINS);

    let mut presage: BTreeMap<(String, &str), Score> = BTreeMap::new();
    for case in &cases {
        for (name, run) in [
            ("ets", run_ets as Runner),
            ("holt_winters", run_holt_winters),
            ("mstl", run_mstl),
            ("auto", run_auto),
        ] {
            let score = presage.entry((case.series.clone(), name)).or_default();
            let mut times = Vec::new();
            let mut last = None;
            for _ in 0..REPEATS {
                let started = Instant::now();
                let result = run(case);
                times.push(started.elapsed().as_secs_f64());
                last = Some(result);
            }
            times.sort_by(f64::total_cmp);
            match last.unwrap() {
                Ok((point, lower, upper)) => {
                    record(score, case, &point, &lower, &upper, times[REPEATS / 2])
                }
                Err(e) => score.errors.push(e),
            }
        }
    }

    // PRESAGE_BENCH_NO_PEER=1 prints Presage's side alone (no Python).
    let peer = if std::env::var_os("PRESAGE_BENCH_NO_PEER").is_some() {
        None
    } else {
        run_peer(&root, &cases)
    };
    print_table(&presage, peer.as_ref());
}

/// Point forecasts, lower and upper bounds.
type Forecasted = Result<(Vec<f64>, Vec<f64>, Vec<f64>), String>;
type Runner = fn(&Case) -> Forecasted;

fn grid_of(case: &Case) -> Grid {
    Grid {
        start_ms: case.start_ms,
        step_ms: case.step_ms,
        values: case.train.clone(),
        regressors: Vec::new(),
        filled: 0,
    }
}

fn run_model(model: &dyn Model, case: &Case) -> Forecasted {
    let grid = grid_of(case);
    let calendar = Calendar::default();
    let training = Training {
        grid: &grid,
        periods: &case.periods,
        calendar: &calendar,
        ridge: 1.0,
    };
    let path = model
        .fit_predict(&training, case.horizon, LEVEL)
        .map_err(|e| e.to_string())?;
    let (lower, upper) = path.bounds.ok_or("no bounds")?;
    Ok((path.point, lower, upper))
}

fn run_ets(case: &Case) -> Forecasted {
    run_model(&Ets, case)
}

fn run_holt_winters(case: &Case) -> Forecasted {
    run_model(&HoltWinters, case)
}

fn run_mstl(case: &Case) -> Forecasted {
    run_model(&Mstl, case)
}

/// What the forecaster does at a refit: score MSTL, ETS, Holt-Winters, seasonal naive and linear
/// by rolling-origin evaluation (5 folds of one horizon), keep the best (or the mean of the best
/// two when that scored better), calibrate its bounds.
fn run_auto(case: &Case) -> Forecasted {
    let grid = grid_of(case);
    let calendar = Calendar::default();
    let models = [
        ModelKind::Mstl,
        ModelKind::Ets,
        ModelKind::HoltWinters,
        ModelKind::SeasonalNaive,
        ModelKind::Linear,
    ];
    let settings = FitSettings {
        models: &models,
        periods: case.periods.clone(),
        detect_periods: false,
        horizon: case.horizon,
        path_len: case.horizon,
        level: LEVEL,
        folds: 5,
        calendar: &calendar,
        ridge: 1.0,
    };
    let outcome = fit(&grid, &settings).map_err(|e| e.to_string())?;
    Ok((outcome.point, outcome.lower, outcome.upper))
}

fn record(
    score: &mut Score,
    case: &Case,
    point: &[f64],
    lower: &[f64],
    upper: &[f64],
    seconds: f64,
) {
    let scale = mase_scale(&case.train, case.periods[0]);
    let mae = point
        .iter()
        .zip(&case.test)
        .map(|(p, a)| (p - a).abs())
        .sum::<f64>()
        / case.test.len() as f64;
    score.mase.push(mae / scale);
    score
        .coverage
        .push(coverage(&case.test, lower, upper).unwrap_or(0.0));
    score.seconds.push(seconds);
}

fn series(path: &Path, app: &str, metric: &str) -> Vec<(i64, f64)> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut points: Vec<(i64, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            (cols.len() == 4 && cols[1] == app && cols[2] == metric).then(|| {
                (
                    calendar::parse_timestamp(cols[0]).expect("timestamp"),
                    cols[3].parse().expect("value"),
                )
            })
        })
        .collect();
    points.sort_by_key(|(t, _)| *t);
    points
}

/// `ORIGINS` cases spread over the series: each trains on the `TRAIN_WEEKS` weeks before its
/// origin and is tested on the day after.
fn cut(points: &[(i64, f64)], name: &str, step_ms: i64, periods: Vec<usize>) -> Vec<Case> {
    let horizon = periods[0];
    let train_len = periods[1] * TRAIN_WEEKS;
    let usable = points.len() - train_len - horizon;
    (0..ORIGINS)
        .map(|k| {
            // origins at the end of the series and spread back over it, a week apart at least
            let start = usable - k * (usable / ORIGINS);
            let train: Vec<f64> = points[start..start + train_len]
                .iter()
                .map(|(_, v)| *v)
                .collect();
            let test = points[start + train_len..start + train_len + horizon]
                .iter()
                .map(|(_, v)| *v)
                .collect();
            Case {
                series: name.to_string(),
                origin: start,
                start_ms: points[start].0,
                step_ms,
                periods: periods.clone(),
                horizon,
                train,
                test,
            }
        })
        .collect()
}

/// Runs the statsforecast peer; `None` (with the reason printed) when it cannot run here.
fn run_peer(root: &Path, cases: &[Case]) -> Option<BTreeMap<(String, String), Score>> {
    let setup = root.join("bench/forecast/setup_venv.sh");
    let output = Command::new("bash").arg(&setup).output().ok()?;
    if !output.status.success() {
        eprintln!(
            "statsforecast peer unavailable: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let python = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()?
        .trim()
        .to_string();
    let dir = std::env::temp_dir().join(format!("presage-forecast-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let cases_json = json!({
        "level": LEVEL,
        "cases": cases.iter().map(|c| json!({
            "series": c.series, "origin": c.origin, "step_seconds": c.step_ms / 1000,
            "periods": c.periods, "horizon": c.horizon, "train": c.train, "test": c.test,
        })).collect::<Vec<_>>(),
    });
    let (input, out) = (dir.join("cases.json"), dir.join("peer.json"));
    std::fs::write(&input, cases_json.to_string()).ok()?;
    let status = Command::new(&python)
        .arg(root.join("bench/forecast/statsforecast_peer.py"))
        .arg(&input)
        .arg(&out)
        .status()
        .ok()?;
    if !status.success() {
        eprintln!("statsforecast peer failed: {status}");
        return None;
    }
    let results: Value = serde_json::from_str(&std::fs::read_to_string(&out).ok()?).ok()?;
    println!(
        "peer: statsforecast {} on Python {}, one thread",
        results["version"].as_str().unwrap_or("?"),
        results["python"].as_str().unwrap_or("?")
    );
    let mut scores: BTreeMap<(String, String), Score> = BTreeMap::new();
    for r in results["results"].as_array()? {
        let series = r["series"].as_str()?.to_string();
        let model = r["model"].as_str()?.to_string();
        let score = scores.entry((series.clone(), model)).or_default();
        if let Some(e) = r["error"].as_str() {
            score.errors.push(e.to_string());
            continue;
        }
        let case = cases.iter().find(|c| {
            c.series == series && c.origin as u64 == r["origin"].as_u64().unwrap_or(u64::MAX)
        })?;
        let floats = |key: &str| -> Vec<f64> {
            r[key]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
                .unwrap_or_default()
        };
        record(
            score,
            case,
            &floats("point"),
            &floats("lower"),
            &floats("upper"),
            r["fit_predict_seconds"].as_f64().unwrap_or(f64::NAN),
        );
        if let Some(spec) = r["spec"].as_str() {
            if case.origin
                == cases
                    .iter()
                    .find(|c| c.series == series)
                    .map_or(0, |c| c.origin)
            {
                println!("  {series} {}: {spec}", r["model"].as_str().unwrap_or(""));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Some(scores)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn print_table(
    presage: &BTreeMap<(String, &str), Score>,
    peer: Option<&BTreeMap<(String, String), Score>>,
) {
    println!();
    println!("| series | model | Presage MASE | peer MASE | Presage 90% coverage | peer 90% coverage | Presage ms | peer ms | speed-up |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let series: Vec<String> = {
        let mut s: Vec<String> = presage.keys().map(|(s, _)| s.clone()).collect();
        s.dedup();
        s
    };
    let mut verdicts = Vec::new();
    for name in &series {
        for (ours, theirs) in [
            ("ets", Some("AutoETS")),
            ("holt_winters", None),
            ("mstl", Some("MSTL")),
            ("auto", None),
        ] {
            let p = &presage[&(name.clone(), ours)];
            let q =
                theirs.and_then(|t| peer.and_then(|peer| peer.get(&(name.clone(), t.to_string()))));
            let cell = |s: Option<&Score>, f: &dyn Fn(&Score) -> String| {
                s.filter(|s| !s.mase.is_empty()).map_or("–".to_string(), f)
            };
            let label = match (ours, theirs) {
                (_, Some(t)) => format!("{ours} / {t}"),
                ("auto", None) => "auto (Presage's selection)".to_string(),
                _ => format!("{ours} (Presage only)"),
            };
            println!(
                "| {name} | {label} | {} | {} | {} | {} | {} | {} | {} |",
                cell(Some(p), &|s| format!("{:.3}", mean(&s.mase))),
                cell(q, &|s| format!("{:.3}", mean(&s.mase))),
                cell(Some(p), &|s| format!("{:.0}%", 100.0 * mean(&s.coverage))),
                cell(q, &|s| format!("{:.0}%", 100.0 * mean(&s.coverage))),
                cell(Some(p), &|s| format!("{:.1}", 1000.0 * mean(&s.seconds))),
                cell(q, &|s| format!("{:.1}", 1000.0 * mean(&s.seconds))),
                match q.filter(|q| !q.seconds.is_empty()) {
                    Some(q) => format!("{:.0}x", mean(&q.seconds) / mean(&p.seconds)),
                    None => "–".into(),
                },
            );
            for e in p
                .errors
                .iter()
                .chain(q.map(|q| &q.errors).into_iter().flatten())
            {
                println!("|   | error | {e} | | | | | | |");
            }
        }
        if let Some(peer) = peer {
            let best_peer = ["AutoETS", "MSTL"]
                .iter()
                .filter_map(|m| peer.get(&(name.clone(), m.to_string())))
                .filter(|s| !s.mase.is_empty())
                .map(|s| mean(&s.mase))
                .fold(f64::INFINITY, f64::min);
            let auto = &presage[&(name.clone(), "auto")];
            let slowest_peer = ["AutoETS", "MSTL"]
                .iter()
                .filter_map(|m| peer.get(&(name.clone(), m.to_string())))
                .map(|s| mean(&s.seconds))
                .fold(f64::INFINITY, f64::min);
            verdicts.push(format!(
                "{name}: auto MASE {:.3} vs peer's best {best_peer:.3} ({}); auto {:.1} ms vs peer's fastest model {:.1} ms ({:.0}x)",
                mean(&auto.mase),
                if mean(&auto.mase) <= best_peer { "no worse" } else { "WORSE" },
                1000.0 * mean(&auto.seconds),
                1000.0 * slowest_peer,
                slowest_peer / mean(&auto.seconds),
            ));
        }
    }
    println!();
    for v in verdicts {
        println!("{v}");
    }
}

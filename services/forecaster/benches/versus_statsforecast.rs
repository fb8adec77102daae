//! Presage's forecasting models side by side with their peers in Python — Nixtla's statsforecast
//! (AutoETS, MSTL, AutoARIMA exact and with `approximation=True`) and Meta's Prophet — on the same series and horizons cut from
//! `../shared/data`: England and Wales demand (half-hourly) and each New York airport's departures
//! (15 minutes). For each series, several origins: train on the four weeks before, forecast one
//! day. Scores: MASE (scaled by in-sample daily seasonal naive on the training data), coverage of
//! the 90% bounds, and the wall time of fit + predict per series, one thread on each side.
//!
//! `cargo bench -p presage-forecaster --bench versus_statsforecast`
//!
//! Pairs in the table: ets and holt_winters / AutoETS, mstl / MSTL, arima / AutoARIMA and
//! arima / AutoARIMA-approx (the search by conditional sum of squares, as R's `auto.arima` does by
//! default on long or seasonal series; the exact search takes hours at m = 96), both for `arima`
//! with the harmonics a template with `models: [arima]` gets (eight pairs of weekly Fourier
//! terms as regressors; the model's own psi-weight bounds, as for every family row, where the
//! forecaster may put conformal ones) and for `arima_daily` (`harmonics: 0`: the single-season
//! AutoARIMA, the peer's own model), prophet / Prophet, nnar (no peer: statsforecast has no
//! network, and the Python ones need torch), and auto / the peer's best model on that series. A
//! pair's figures are means over the origins both sides scored. A model that fails or times out
//! on a case shows the error in the table and the run goes on.
//!
//! The peer runs in `$HOME/.cache/presage/venv-statsforecast` (or `PRESAGE_BENCH_VENV`), which
//! `bench/forecast/setup_venv.sh` creates from PyPI. Without it (or with
//! `PRESAGE_BENCH_NO_PEER=1`), Presage's side is printed alone. Other knobs (environment):
//!
//! * `PRESAGE_BENCH_TIMEOUT_SECS` (default 900): the most one fit + predict may take, either side.
//!   A Presage model that overruns it is abandoned (its thread is left to finish) and skipped on
//!   that series' later cases.
//! * `PRESAGE_BENCH_ARIMA_ORIGINS` (default 1): the origins per series the peer's AutoARIMA runs
//!   on; its seasonal search takes minutes per fit at m = 48 and 96. The others are shown as
//!   skipped, and the arima pair is compared on the origins both ran.
//! * `PRESAGE_BENCH_PEER_SAVE=FILE` keeps the peer's output; `PRESAGE_BENCH_PEER_RESULTS=A,B`
//!   reads saved outputs back (merged) instead of running the peer, refused unless each was made
//!   from the same cases. `PRESAGE_BENCH_PEER_CASES=FILE` writes the peer's input and runs no
//!   peer, for running slow peer models apart (`statsforecast_peer.py FILE OUT`).
//! * `PRESAGE_BENCH_MODELS=arima,nnar` runs only these Presage models (`auto` included), and
//!   `PRESAGE_BENCH_PEER_MODELS=AutoARIMA` only these peer models.
//! * `PRESAGE_BENCH_AUTO_MODELS=mstl,ets,arima` replaces `auto`'s candidates (template names).
//! * `PRESAGE_BENCH_FOLDS` (default 5): `auto`'s evaluation folds (one horizon each).
//! * `PRESAGE_BENCH_AUTO_HARMONICS` (default 0, what a template of several models gets): the
//!   template's `harmonics` for `auto`'s arima.
//! * `PRESAGE_BENCH_SHOW_CHOICE=1` prints which model (or combination) `auto` chose on each case.
//! * `PRESAGE_BENCH_ORIGINS` (default 3): origins per series, spread evenly back from the end
//!   of the series. Three keep a full run (the peer's included) to minutes; a difference of a
//!   few tenths of a percent between two models over three days is within what the choice of
//!   days moves, so 30 say whether it holds (the peer without AutoARIMA: about 10 minutes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use presage_forecaster::evaluate::mase_scale;
use presage_forecaster::intervals::coverage;
use presage_forecaster::models::{model_for, Training};
use presage_forecaster::{fit, Calendar, FitSettings, Grid};
use presage_template::{calendar, ModelKind, SOLE_ARIMA_HARMONICS};
use serde_json::{json, Value};

const LEVEL: f64 = 0.9;
const TRAIN_WEEKS: usize = 4;
/// Origins per series unless `PRESAGE_BENCH_ORIGINS` says otherwise.
const ORIGINS: usize = 3;
/// Presage timings are the median of this many runs when a run takes under [`REPEAT_UNDER`]
/// (the peer's are single runs after a warm-up).
const REPEATS: usize = 3;
const REPEAT_UNDER: Duration = Duration::from_secs(2);
/// The goal each Presage model family has against its peer.
const SPEED_GOAL: f64 = 10.0;

#[derive(Clone)]
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

/// What one model did on one case.
#[derive(Clone, Debug)]
enum Outcome {
    Scored {
        mase: f64,
        coverage: f64,
        seconds: f64,
    },
    Failed(String),
    /// Still running after this many seconds.
    TimedOut(f64),
    Skipped(String),
}

/// Per (series, model): the outcome at each origin.
type Outcomes = BTreeMap<(String, String), BTreeMap<usize, Outcome>>;

/// Presage's models in the bench, by the name a template uses (`None`: what `auto` does), and
/// the template's `harmonics` they run with.
const PRESAGE_MODELS: [(&str, Option<ModelKind>, usize); 8] = [
    ("ets", Some(ModelKind::Ets), 0),
    ("holt_winters", Some(ModelKind::HoltWinters), 0),
    ("mstl", Some(ModelKind::Mstl), 0),
    ("arima", Some(ModelKind::Arima), SOLE_ARIMA_HARMONICS),
    ("arima_daily", Some(ModelKind::Arima), 0),
    ("prophet", Some(ModelKind::Prophet), 0),
    ("nnar", Some(ModelKind::Nnar), 0),
    ("auto", None, 0),
];

/// What `auto` chooses from in the bench: the `models:` list a template of seasonal series
/// should give. All three filter forward (one fit each per refit). The earlier list (mstl, ets,
/// holt_winters, seasonal_naive, linear) never chose ets, seasonal_naive or linear here, whose
/// fits on the oldest fold cost 20-40 ms per refit; with arima added to it auto's MASE is the
/// same as with these three, at 90-123 ms per series instead of 45-53.
const AUTO_MODELS: [ModelKind; 3] = [ModelKind::Mstl, ModelKind::HoltWinters, ModelKind::Arima];

/// Each Presage model and the peer model of its family (`auto` is paired with the peer's best).
const PAIRS: [(&str, Option<&str>); 9] = [
    ("ets", Some("AutoETS")),
    ("holt_winters", Some("AutoETS")),
    ("mstl", Some("MSTL")),
    ("arima", Some("AutoARIMA")),
    ("arima", Some("AutoARIMA-approx")),
    ("arima_daily", Some("AutoARIMA")),
    ("arima_daily", Some("AutoARIMA-approx")),
    ("prophet", Some("Prophet")),
    ("nnar", None),
];
const PEER_MODELS: [&str; 5] = [
    "AutoETS",
    "MSTL",
    "AutoARIMA",
    "AutoARIMA-approx",
    "Prophet",
];

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join("../shared/data");
    let timeout = Duration::from_secs(env_number("PRESAGE_BENCH_TIMEOUT_SECS", 900));
    let origins = env_number("PRESAGE_BENCH_ORIGINS", ORIGINS as u64).max(1) as usize;
    let mut cases = Vec::new();
    cases.extend(cut(
        &series(&data.join("taylor-demand.csv"), "grid-ew", "demand_mw"),
        "taylor",
        1_800_000,
        vec![48, 336],
        origins,
    ));
    for airport in ["airport-ewr", "airport-jfk", "airport-lga"] {
        let points = series(&data.join("nyc-departures-15m.csv"), airport, "departures");
        cases.extend(cut(&points, airport, 900_000, vec![96, 672], origins));
    }
    println!(
        "{} cases: {} series x {origins} origins, {TRAIN_WEEKS} weeks of training each, one day ahead",
        cases.len(),
        cases.len() / origins
    );

    let only: Option<Vec<String>> = std::env::var("PRESAGE_BENCH_MODELS")
        .ok()
        .map(|s| s.split(',').map(|m| m.trim().to_string()).collect());
    let mut presage = Outcomes::new();
    for (name, kind, harmonics) in PRESAGE_MODELS {
        if only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|m| m == name))
        {
            continue;
        }
        for case in &cases {
            let earlier = presage
                .entry((case.series.clone(), name.to_string()))
                .or_default();
            let outcome = match earlier.values().find_map(timed_out) {
                Some(after) => Outcome::Skipped(format!(
                    "not run: timed out after {after:.0} s on an earlier origin"
                )),
                None => run_presage(kind, harmonics, case, timeout),
            };
            eprintln!(
                "presage {name} {}@{}: {}",
                case.series,
                case.origin,
                brief(&outcome)
            );
            earlier.insert(case.origin, outcome);
        }
    }

    // PRESAGE_BENCH_NO_PEER=1 prints Presage's side alone (no Python).
    let peer = if std::env::var_os("PRESAGE_BENCH_NO_PEER").is_some() {
        None
    } else {
        match peer_outcomes(&root, &cases, timeout) {
            Ok(peer) => Some(peer),
            Err(e) => {
                eprintln!("peer unavailable: {e}");
                println!("peer unavailable: {e}");
                None
            }
        }
    };
    print_table(&cases, &presage, peer.as_ref());
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a whole number: {e}")),
        Err(_) => default,
    }
}

fn timed_out(outcome: &Outcome) -> Option<f64> {
    match outcome {
        Outcome::TimedOut(after) => Some(*after),
        _ => None,
    }
}

fn brief(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Scored {
            mase,
            coverage,
            seconds,
        } => format!(
            "MASE {mase:.4}, coverage {:.0}%, {:.1} ms",
            100.0 * coverage,
            1000.0 * seconds
        ),
        Outcome::Failed(e) => format!("error: {e}"),
        Outcome::TimedOut(after) => format!("timed out: still running after {after:.0} s"),
        Outcome::Skipped(why) => format!("skipped: {why}"),
    }
}

/// Point forecasts, lower and upper bounds.
type Forecasted = Result<(Vec<f64>, Vec<f64>, Vec<f64>), String>;

/// Runs one Presage model (or `auto`) on one case, timed, in a thread of its own so that a panic
/// is one case's error and a fit that overruns `timeout` is abandoned rather than waited for.
/// Runs under [`REPEAT_UNDER`] are repeated and the median time kept.
fn run_presage(
    kind: Option<ModelKind>,
    harmonics: usize,
    case: &Case,
    timeout: Duration,
) -> Outcome {
    let mut times = Vec::new();
    let mut last = None;
    while times.len() < REPEATS {
        let (send, receive) = mpsc::channel();
        let owned = case.clone();
        let worker = std::thread::spawn(move || {
            let started = Instant::now();
            let result = match kind {
                Some(kind) => run_model(kind, harmonics, &owned),
                None => run_auto(&owned),
            };
            let _ = send.send((result, started.elapsed()));
        });
        match receive.recv_timeout(timeout) {
            Ok((result, elapsed)) => {
                let _ = worker.join();
                times.push(elapsed.as_secs_f64());
                let quick = elapsed < REPEAT_UNDER;
                last = Some(result);
                if !quick {
                    break;
                }
            }
            // the fit goes on in its detached thread: Rust has no way to stop it
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Outcome::TimedOut(timeout.as_secs_f64())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let panic = worker.join().err();
                let message = panic
                    .as_ref()
                    .and_then(|p| {
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    })
                    .unwrap_or_else(|| "no message".into());
                return Outcome::Failed(format!("panicked: {message}"));
            }
        }
    }
    times.sort_by(f64::total_cmp);
    match last.expect("at least one run") {
        Ok((point, lower, upper)) => score(case, &point, &lower, &upper, times[times.len() / 2]),
        Err(e) => Outcome::Failed(e),
    }
}

fn grid_of(case: &Case) -> Grid {
    Grid {
        start_ms: case.start_ms,
        step_ms: case.step_ms,
        values: case.train.clone(),
        regressors: Vec::new(),
        filled: 0,
    }
}

fn run_model(kind: ModelKind, harmonics: usize, case: &Case) -> Forecasted {
    let grid = grid_of(case);
    let calendar = Calendar::default();
    let training = Training {
        grid: &grid,
        periods: &case.periods,
        calendar: &calendar,
        ridge: 1.0,
        harmonics,
    };
    let path = model_for(kind)
        .fit_predict(&training, case.horizon, LEVEL)
        .map_err(|e| e.to_string())?;
    let (lower, upper) = path.bounds.ok_or("no bounds")?;
    Ok((path.point, lower, upper))
}

/// What the forecaster does at a refit: score MSTL, ETS, Holt-Winters, seasonal naive and linear
/// by rolling-origin evaluation (5 folds of one horizon), keep the best (or the mean of the best
/// two when that scored better), calibrate its bounds.
/// `auto`'s candidates: `PRESAGE_BENCH_AUTO_MODELS` (template names, comma-separated), else
/// [`AUTO_MODELS`].
fn auto_models() -> Vec<ModelKind> {
    match std::env::var("PRESAGE_BENCH_AUTO_MODELS") {
        Ok(names) => names
            .split(',')
            .map(|name| {
                serde_json::from_value(json!(name.trim()))
                    .unwrap_or_else(|e| panic!("PRESAGE_BENCH_AUTO_MODELS: {name:?}: {e}"))
            })
            .collect(),
        Err(_) => AUTO_MODELS.to_vec(),
    }
}

fn run_auto(case: &Case) -> Forecasted {
    let grid = grid_of(case);
    let calendar = Calendar::default();
    let models = auto_models();
    let settings = FitSettings {
        models: &models,
        periods: case.periods.clone(),
        detect_periods: false,
        horizon: case.horizon,
        path_len: case.horizon,
        level: LEVEL,
        folds: env_number("PRESAGE_BENCH_FOLDS", 5) as usize,
        calendar: &calendar,
        ridge: 1.0,
        harmonics: env_number("PRESAGE_BENCH_AUTO_HARMONICS", 0) as usize,
    };
    let outcome = fit(&grid, &settings).map_err(|e| e.to_string())?;
    if std::env::var_os("PRESAGE_BENCH_SHOW_CHOICE").is_some() {
        eprintln!(
            "auto {}@{} chose {}",
            case.series,
            case.origin,
            outcome.model.name()
        );
    }
    Ok((outcome.point, outcome.lower, outcome.upper))
}

/// Scores a forecast against the case's test day, both sides alike.
fn score(case: &Case, point: &[f64], lower: &[f64], upper: &[f64], seconds: f64) -> Outcome {
    if point.len() != case.test.len() || lower.len() != point.len() || upper.len() != point.len() {
        return Outcome::Failed(format!(
            "forecast of {} points (bounds {} and {}) for a test day of {}",
            point.len(),
            lower.len(),
            upper.len(),
            case.test.len()
        ));
    }
    let scale = mase_scale(&case.train, case.periods[0]);
    let mae = point
        .iter()
        .zip(&case.test)
        .map(|(p, a)| (p - a).abs())
        .sum::<f64>()
        / case.test.len() as f64;
    Outcome::Scored {
        mase: mae / scale,
        coverage: coverage(&case.test, lower, upper).unwrap_or(0.0),
        seconds,
    }
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

/// `origins` cases spread over the series: each trains on the `TRAIN_WEEKS` weeks before its
/// origin and is tested on the day after. The latest origin comes first.
fn cut(
    points: &[(i64, f64)],
    name: &str,
    step_ms: i64,
    periods: Vec<usize>,
    origins: usize,
) -> Vec<Case> {
    let horizon = periods[0];
    let train_len = periods[1] * TRAIN_WEEKS;
    let usable = points.len() - train_len - horizon;
    (0..origins)
        .map(|k| {
            // origins at the end of the series and spread evenly back over it (three: weeks apart)
            let start = usable - k * (usable / origins);
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

/// The peer's input: the cases, the models, their limits, and a digest of the level and cases
/// so that saved results are only ever read back for the same cases.
fn peer_input(cases: &[Case], timeout: Duration) -> Value {
    let mut input = json!({
        "level": LEVEL,
        "cases": cases.iter().map(|c| json!({
            "series": c.series, "origin": c.origin, "start_seconds": c.start_ms / 1000,
            "step_seconds": c.step_ms / 1000, "periods": c.periods, "horizon": c.horizon,
            "train": c.train, "test": c.test,
        })).collect::<Vec<_>>(),
    });
    let digest = fnv1a(input.to_string().as_bytes());
    input["digest"] = json!(format!("{digest:016x}"));
    let models: Vec<String> = match std::env::var("PRESAGE_BENCH_PEER_MODELS") {
        Ok(list) => list.split(',').map(|m| m.trim().to_string()).collect(),
        Err(_) => PEER_MODELS.iter().map(|m| m.to_string()).collect(),
    };
    input["models"] = json!(models);
    input["timeout_seconds"] = json!(timeout.as_secs());
    input["max_origins"] = json!({"AutoARIMA": env_number("PRESAGE_BENCH_ARIMA_ORIGINS", 1)});
    input
}

/// FNV-1a, 64 bits: enough to tell one cases file from another (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs the peer (or reads its saved output) and scores it like Presage's side.
fn peer_outcomes(root: &Path, cases: &[Case], timeout: Duration) -> Result<Outcomes, String> {
    let input = peer_input(cases, timeout);
    if let Some(file) = std::env::var_os("PRESAGE_BENCH_PEER_CASES") {
        std::fs::write(&file, input.to_string())
            .map_err(|e| format!("writing {}: {e}", Path::new(&file).display()))?;
        return Err(format!(
            "not run: its input is in {} (PRESAGE_BENCH_PEER_CASES)",
            Path::new(&file).display()
        ));
    }
    let results: Value = match std::env::var("PRESAGE_BENCH_PEER_RESULTS") {
        Ok(saved) => read_saved(&saved, &input["digest"])?,
        Err(_) => run_peer(root, &input)?,
    };
    let libraries = results["libraries"]
        .as_object()
        .map(|libs| {
            libs.iter()
                .map(|(name, v)| format!("{name} {}", v.as_str().unwrap_or("absent")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    println!(
        "peer: Python {}, one thread, timeout {} s per fit: {libraries}",
        results["python"].as_str().unwrap_or("?"),
        results["timeout_seconds"]
    );
    let mut outcomes = Outcomes::new();
    let mut specs_shown = std::collections::BTreeSet::new();
    for r in results["results"]
        .as_array()
        .ok_or("peer output has no results")?
    {
        let series = r["series"].as_str().ok_or("a result without series")?;
        let model = r["model"].as_str().ok_or("a result without model")?;
        let origin = r["origin"].as_u64().ok_or("a result without origin")? as usize;
        let case = cases
            .iter()
            .find(|c| c.series == series && c.origin == origin)
            .ok_or_else(|| format!("peer result for unknown case {series}@{origin}"))?;
        let floats = |key: &str| -> Vec<f64> {
            r[key]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
                .unwrap_or_default()
        };
        let outcome = if let Some(e) = r["error"].as_str() {
            match r["timed_out_after"].as_f64() {
                Some(after) => Outcome::TimedOut(after),
                None => Outcome::Failed(e.to_string()),
            }
        } else if let Some(why) = r["skipped"].as_str() {
            Outcome::Skipped(why.to_string())
        } else {
            if let Some(spec) = r["spec"].as_str() {
                if specs_shown.insert((series, model)) {
                    println!("  {series}@{origin} {model}: {spec}");
                }
            }
            score(
                case,
                &floats("point"),
                &floats("lower"),
                &floats("upper"),
                r["fit_predict_seconds"].as_f64().unwrap_or(f64::NAN),
            )
        };
        outcomes
            .entry((series.to_string(), model.to_string()))
            .or_default()
            .insert(origin, outcome);
    }
    Ok(outcomes)
}

/// Reads saved peer outputs (comma-separated files), each made from the cases of `digest`, and
/// merges their results.
fn read_saved(files: &str, digest: &Value) -> Result<Value, String> {
    let mut merged: Option<Value> = None;
    for file in files.split(',') {
        let text = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
        let saved: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        if &saved["digest"] != digest {
            return Err(format!(
                "{file} was made from other cases (digest {digest} here, {} there)",
                saved["digest"]
            ));
        }
        println!("peer: results read from {file}");
        match merged.as_mut() {
            None => merged = Some(saved),
            Some(merged) => {
                let more = saved["results"].as_array().cloned().unwrap_or_default();
                merged["results"]
                    .as_array_mut()
                    .ok_or_else(|| format!("{file}: no results"))?
                    .extend(more);
            }
        }
    }
    merged.ok_or_else(|| "PRESAGE_BENCH_PEER_RESULTS names no file".into())
}

/// Creates the venv if needed and runs `statsforecast_peer.py` on `input`.
fn run_peer(root: &Path, input: &Value) -> Result<Value, String> {
    let setup = root.join("bench/forecast/setup_venv.sh");
    let output = Command::new("bash")
        .arg(&setup)
        .output()
        .map_err(|e| format!("running {}: {e}", setup.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            setup.display(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = stdout
        .lines()
        .last()
        .ok_or("setup_venv.sh printed no interpreter")?
        .trim();
    let dir = std::env::temp_dir().join(format!("presage-forecast-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (cases_file, out) = (dir.join("cases.json"), dir.join("peer.json"));
    std::fs::write(&cases_file, input.to_string())
        .map_err(|e| format!("writing {}: {e}", cases_file.display()))?;
    let started = Instant::now();
    let status = Command::new(python)
        .arg(root.join("bench/forecast/statsforecast_peer.py"))
        .arg(&cases_file)
        .arg(&out)
        .status()
        .map_err(|e| format!("running {python}: {e}"))?;
    if !status.success() {
        return Err(format!("statsforecast_peer.py failed: {status}"));
    }
    println!(
        "peer: ran in {:.0} s (wall, warm-ups included)",
        started.elapsed().as_secs_f64()
    );
    let text =
        std::fs::read_to_string(&out).map_err(|e| format!("reading {}: {e}", out.display()))?;
    if let Some(save) = std::env::var_os("PRESAGE_BENCH_PEER_SAVE") {
        std::fs::write(&save, &text)
            .map_err(|e| format!("saving to {}: {e}", Path::new(&save).display()))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::from_str(&text).map_err(|e| format!("peer output: {e}"))
}

/// Means of one side's scores over `origins`.
struct Summary {
    mase: f64,
    coverage: f64,
    seconds: f64,
}

fn summarize(outcomes: &BTreeMap<usize, Outcome>, origins: &[usize]) -> Option<Summary> {
    let scored: Vec<(f64, f64, f64)> = origins
        .iter()
        .filter_map(|o| match outcomes.get(o) {
            Some(Outcome::Scored {
                mase,
                coverage,
                seconds,
            }) => Some((*mase, *coverage, *seconds)),
            _ => None,
        })
        .collect();
    if scored.is_empty() {
        return None;
    }
    let n = scored.len() as f64;
    Some(Summary {
        mase: scored.iter().map(|s| s.0).sum::<f64>() / n,
        coverage: scored.iter().map(|s| s.1).sum::<f64>() / n,
        seconds: scored.iter().map(|s| s.2).sum::<f64>() / n,
    })
}

fn scored_origins(outcomes: Option<&BTreeMap<usize, Outcome>>) -> Vec<usize> {
    outcomes
        .map(|o| {
            o.iter()
                .filter(|(_, out)| matches!(out, Outcome::Scored { .. }))
                .map(|(origin, _)| *origin)
                .collect()
        })
        .unwrap_or_default()
}

/// A table cell: no pipes or line breaks, and not a page long.
fn cell_text(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| match c {
            '|' => '/',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    if flat.chars().count() > 160 {
        format!("{}…", flat.chars().take(160).collect::<String>())
    } else {
        flat
    }
}

/// The peer model with the lowest mean MASE on a series, among those scored at every origin.
fn peer_best<'a>(
    peer: &'a Outcomes,
    series: &str,
    origins: &[usize],
) -> Option<(&'static str, &'a BTreeMap<usize, Outcome>)> {
    PEER_MODELS
        .iter()
        .filter_map(|m| {
            peer.get(&(series.to_string(), m.to_string()))
                .map(|o| (*m, o))
        })
        .filter(|(_, o)| scored_origins(Some(o)).len() == origins.len())
        .min_by(|a, b| {
            let mean = |o: &BTreeMap<usize, Outcome>| {
                summarize(o, origins).map_or(f64::INFINITY, |s| s.mase)
            };
            mean(a.1).total_cmp(&mean(b.1))
        })
}

fn print_table(cases: &[Case], presage: &Outcomes, peer: Option<&Outcomes>) {
    println!();
    println!("| series | Presage / peer | origins | Presage MASE | peer MASE | MASE vs peer | Presage 90% coverage | peer 90% coverage | Presage ms | peer ms | speed-up |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut series: Vec<&str> = cases.iter().map(|c| c.series.as_str()).collect();
    series.dedup();
    let empty = BTreeMap::new();
    let mut verdicts: Vec<Verdict> = Vec::new();
    for name in series {
        let all: Vec<usize> = cases
            .iter()
            .filter(|c| c.series == name)
            .map(|c| c.origin)
            .collect();
        let best = peer.and_then(|peer| peer_best(peer, name, &all));
        let rows = PAIRS
            .iter()
            .copied()
            .chain(std::iter::once(("auto", best.map(|(m, _)| m))));
        for (ours, theirs) in rows {
            let Some(p) = presage.get(&(name.to_string(), ours.to_string())) else {
                continue;
            };
            let q = match (ours, theirs) {
                ("auto", _) => best.map(|(_, o)| o),
                (_, Some(t)) => peer.and_then(|peer| peer.get(&(name.to_string(), t.to_string()))),
                _ => None,
            };
            // both sides on the origins both scored; Presage alone on all it scored when the
            // peer scored none of those
            let ours_scored = scored_origins(Some(p));
            let theirs_scored = scored_origins(q);
            let common: Vec<usize> = ours_scored
                .iter()
                .copied()
                .filter(|o| theirs_scored.contains(o))
                .collect();
            let origins = if common.is_empty() {
                ours_scored.clone()
            } else {
                common
            };
            let ps = summarize(p, &origins);
            let qs = q.and_then(|q| summarize(q, &origins));
            let label = match (ours, theirs) {
                ("auto", Some(t)) => format!("auto / peer best: {t}"),
                ("auto", None) => "auto / peer best: –".to_string(),
                (_, Some(t)) => format!("{ours} / {t}"),
                _ => format!("{ours} / – (no peer)"),
            };
            let show =
                |s: Option<&Summary>, f: &dyn Fn(&Summary) -> String| s.map_or("–".to_string(), f);
            let speed_up = match (&ps, &qs) {
                (Some(p), Some(q)) => {
                    let x = q.seconds / p.seconds;
                    if x >= 10.0 {
                        format!("{x:.0}x")
                    } else {
                        format!("{x:.2}x")
                    }
                }
                // the peer timed out where Presage scored: the speed-up is at least this
                (Some(_), None) => {
                    let timed: Vec<(usize, f64)> = q
                        .unwrap_or(&empty)
                        .iter()
                        .filter_map(|(o, out)| timed_out(out).map(|after| (*o, after)))
                        .filter(|(o, _)| ours_scored.contains(o))
                        .collect();
                    let at_least = timed
                        .iter()
                        .map(|(_, after)| *after)
                        .fold(f64::INFINITY, f64::min);
                    let origins: Vec<usize> = timed.iter().map(|(o, _)| *o).collect();
                    match summarize(p, &origins) {
                        Some(ours) if !timed.is_empty() => {
                            format!("> {:.0}x (peer timed out)", at_least / ours.seconds)
                        }
                        _ => "–".into(),
                    }
                }
                _ => "–".into(),
            };
            println!(
                "| {name} | {label} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {speed_up} |",
                origins.len(),
                all.len(),
                show(ps.as_ref(), &|s| format!("{:.3}", s.mase)),
                show(qs.as_ref(), &|s| format!("{:.3}", s.mase)),
                match (&ps, &qs) {
                    (Some(p), Some(q)) => format!("{:+.1}%", 100.0 * (p.mase / q.mase - 1.0)),
                    _ => "–".into(),
                },
                show(ps.as_ref(), &|s| format!("{:.0}%", 100.0 * s.coverage)),
                show(qs.as_ref(), &|s| format!("{:.0}%", 100.0 * s.coverage)),
                show(ps.as_ref(), &|s| format!("{:.1}", 1000.0 * s.seconds)),
                show(qs.as_ref(), &|s| format!("{:.1}", 1000.0 * s.seconds)),
            );
            let notes = [
                ("Presage", ours, Some(p)),
                ("peer", theirs.unwrap_or("?"), q),
            ];
            if let (Some(_), Some(t), None, false) = (peer, theirs, q, ours == "auto") {
                println!("|   | peer {t} | not in the peer's results (not run) | | | | | | | | |");
            }
            for (side, model, outcomes) in notes {
                for (origin, outcome) in outcomes.unwrap_or(&empty) {
                    let note = match outcome {
                        Outcome::Scored { .. } => continue,
                        other => brief(other),
                    };
                    println!(
                        "|   | {side} {model} @{origin} | {} | | | | | | | | |",
                        cell_text(&note)
                    );
                }
            }
            if let (Some(p), Some(q), Some(t)) = (&ps, &qs, theirs) {
                let no_worse = p.mase <= q.mase;
                let faster = q.seconds >= SPEED_GOAL * p.seconds;
                let verdict = Verdict {
                    pair: if ours == "auto" {
                        "auto / peer best".into()
                    } else {
                        format!("{ours} / {t}")
                    },
                    no_worse,
                    // auto's goal against the peer is accuracy; its cost goal is its own
                    faster: (ours != "auto").then_some(faster),
                };
                verdicts.push(verdict);
            }
        }
    }
    println!();
    println!("Goals: each family no worse than its peer's MASE and at least {SPEED_GOAL}x faster; auto no worse than the peer's best on every series.");
    let mut pairs: Vec<&str> = verdicts.iter().map(|v| v.pair.as_str()).collect();
    pairs.sort();
    pairs.dedup();
    for pair in pairs {
        let of_pair: Vec<&Verdict> = verdicts.iter().filter(|v| v.pair == pair).collect();
        let no_worse = of_pair.iter().filter(|v| v.no_worse).count();
        let faster = of_pair.iter().filter(|v| v.faster == Some(true)).count();
        let speed = if pair.starts_with("auto") {
            String::new()
        } else {
            format!(", at least {SPEED_GOAL}x faster on {faster}")
        };
        println!(
            "  {pair}: of {} series compared, MASE no worse on {no_worse}{speed}",
            of_pair.len()
        );
    }
}

/// How a pair did against the goals on one series.
struct Verdict {
    pair: String,
    no_worse: bool,
    /// `None` for `auto`, whose goal against the peer is accuracy alone.
    faster: Option<bool>,
}

//! One refit of one series: settle the seasonal periods, score every candidate the data allows by
//! rolling-origin evaluation, forecast with the combination of those close to the best (or the
//! best alone), and choose honest bounds (the model's own if they held in evaluation, else
//! conformal ones from its residuals).

use augurs::seasons::PeriodogramDetector;
use presage_template::ModelKind;

use crate::calendar::Calendar;
use crate::combine::{combine, evaluate_combination, COMBINATION_MARGIN};
use crate::evaluate::{mase_scale, origins, score, Evaluation};
use crate::grid::Grid;
use crate::intervals::{conformal_half_widths, width_at};
use crate::models::{model_for, name_of, Model, Path, Training};

/// Bounds of a cold-start forecast are this many times wider: with less than two seasons the
/// evaluation (if any) has seen too little to trust.
pub const COLD_START_WIDENING: f64 = 1.5;
/// Own bounds are kept when their coverage in evaluation is within this of the level.
pub const CALIBRATION_TOLERANCE: f64 = 0.05;
/// Fewest held-out points before coverage or conformal quantiles mean anything.
pub const MIN_CALIBRATION_POINTS: usize = 20;
/// Peaks of at least this share of the strongest count as seasons.
const DETECTION_THRESHOLD: f64 = 0.5;
/// At most this many periods are taken from detection.
const MAX_DETECTED_PERIODS: usize = 2;
/// Refitting candidates are first scored on this many of the oldest folds.
pub const HALVING_FIRST_FOLDS: usize = 1;
/// A refitting candidate whose error on the first folds is more than this times the best
/// candidate's is not refitted for the others: on the bench series, a model that far behind on
/// the oldest fold never won (see the README's forecasting bench).
pub const HALVING_MARGIN: f64 = 1.2;
/// Without seasons, a series is cold until it has this many points (or two horizons).
const MIN_WARM_POINTS: usize = 24;

/// What the template asks of a refit, in grid steps.
#[derive(Debug, Clone)]
pub struct FitSettings<'a> {
    pub models: &'a [ModelKind],
    /// Declared periods in steps.
    pub periods: Vec<usize>,
    pub detect_periods: bool,
    pub horizon: usize,
    /// Points to forecast (at least `horizon`: the forecaster serves later issues from one path).
    pub path_len: usize,
    pub level: f64,
    pub folds: usize,
    pub calendar: &'a Calendar,
    pub ridge: f64,
    /// Fourier pairs per longer season for `arima` (the template's `harmonics`).
    pub harmonics: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalMethod {
    /// The model's own bounds, which held within tolerance in evaluation.
    Model,
    /// Quantiles of the evaluation's absolute errors.
    Conformal,
    /// The model's own bounds, unchecked: there was too little history to evaluate.
    Uncalibrated,
}

impl IntervalMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            IntervalMethod::Model => "model",
            IntervalMethod::Conformal => "conformal",
            IntervalMethod::Uncalibrated => "uncalibrated",
        }
    }
}

/// What forecasts: one model, or a combination of several (see [`crate::combine`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Model(ModelKind),
    /// Members best first; with two it is their mean.
    Combined(Vec<ModelKind>),
}

impl Choice {
    /// `mstl`, or `combined(mstl,holt_winters,arima)`.
    pub fn name(&self) -> String {
        match self {
            Choice::Model(kind) => name_of(*kind).to_string(),
            Choice::Combined(members) => {
                let names: Vec<&str> = members.iter().map(|k| name_of(*k)).collect();
                format!("combined({})", names.join(","))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub kind: ModelKind,
    pub mase: Option<f64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FitOutcome {
    pub model: Choice,
    pub score: Option<f64>,
    pub candidates: Vec<Candidate>,
    /// The combination that was weighed, scored on the same folds (when two were scored).
    pub combination: Option<(Choice, f64)>,
    pub point: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    pub interval_method: IntervalMethod,
    pub cold_start: bool,
    /// Periods used, in steps.
    pub periods: Vec<usize>,
    /// Mean absolute error the evaluation saw at each step (empty without evaluation): the drift
    /// detector's yardstick.
    pub expected_mae: Vec<f64>,
    /// Coverage of the chosen model's own bounds in evaluation.
    pub own_coverage: Option<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("no model could be fitted to {points} points: {reasons}")]
    NothingFits { points: usize, reasons: String },
}

pub fn fit(grid: &Grid, settings: &FitSettings) -> Result<FitOutcome, FitError> {
    let n = grid.len();
    let periods = settle_periods(grid, settings);
    let longest = periods.iter().max().copied();
    let mut cold_start = match longest {
        Some(longest) => n < 2 * longest,
        None => n < MIN_WARM_POINTS.max(2 * settings.horizon),
    };
    // A window that is mostly filled-in gaps is no better than a short one.
    if 2 * grid.filled > n {
        cold_start = true;
    }
    // Periods the data can support: two full cycles.
    let mut usable: Vec<usize> = periods.iter().copied().filter(|p| 2 * p <= n).collect();

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut feasible: Vec<(ModelKind, Box<dyn Model>, usize)> = Vec::new();
    for kind in settings.models {
        let model = model_for(*kind);
        match model.min_points(&usable) {
            Ok(needs) if needs <= n => feasible.push((*kind, model, needs)),
            Ok(needs) => candidates.push(unscored(*kind, format!("needs {needs} points, has {n}"))),
            Err(e) => candidates.push(unscored(*kind, e.to_string())),
        }
    }
    if feasible.is_empty() {
        // What the data allows when none of the template's models does: a cold start whatever
        // the seasons say.
        cold_start = true;
        if let Some((kind, model, needs, periods)) =
            cold_start_model(settings.models, &periods, &usable, n)
        {
            feasible.push((kind, model, needs));
            usable = periods;
        }
    }
    let training = Training {
        grid,
        periods: &usable,
        calendar: settings.calendar,
        ridge: settings.ridge,
        harmonics: settings.harmonics,
    };
    if feasible.is_empty() {
        return Err(FitError::NothingFits {
            points: n,
            reasons: notes(&candidates),
        });
    }

    let min_train = feasible
        .iter()
        .map(|(_, _, needs)| *needs)
        .max()
        .unwrap_or(0);
    // Short horizons get more folds, so that calibration has enough held-out points.
    let wanted = settings
        .folds
        .max(MIN_CALIBRATION_POINTS.div_ceil(settings.horizon.max(1)));
    let folds = origins(n, min_train.max(2), settings.horizon, wanted);
    let scale = folds
        .first()
        .map(|first| {
            // seasonal naive needs more than one season before the first origin; else lag 1
            let season = usable.first().copied().filter(|m| m < first).unwrap_or(1);
            mase_scale(&grid.values[..*first], season)
        })
        .unwrap_or(f64::EPSILON);
    let (scored, mut lasts) = score_candidates(
        &feasible,
        &training,
        &folds,
        settings,
        scale,
        &mut candidates,
    );
    // Template order is the tie-break (stable sort); unscored models come last.
    let mut ranked = scored;
    ranked.sort_by(|a, b| {
        let key = |e: &Option<Evaluation>| e.as_ref().map_or(f64::INFINITY, |e| e.mase);
        key(&a.1).total_cmp(&key(&b.1))
    });
    if ranked.is_empty() {
        // every candidate failed its evaluation: still try them on the full history
        ranked = (0..feasible.len()).map(|i| (i, None)).collect();
    }
    // Template order; a fallback the template did not list goes last.
    candidates.sort_by_key(|c| {
        settings
            .models
            .iter()
            .position(|k| *k == c.kind)
            .unwrap_or(usize::MAX)
    });

    // The combination: every candidate within the margin of the best, published whenever it
    // has two members; else the best two, published only if they scored better together.
    let scored_ranked: Vec<(usize, &Evaluation)> = ranked
        .iter()
        .filter_map(|(i, e)| e.as_ref().map(|e| (*i, e)))
        .collect();
    let best_single = scored_ranked.first().map_or(f64::INFINITY, |(_, e)| e.mase);
    let mases: Vec<f64> = scored_ranked.iter().map(|(_, e)| e.mase).collect();
    let (count, always) = combination_members(&mases);
    let members = &scored_ranked[..count];
    let combination = (members.len() >= 2).then(|| {
        let evaluations: Vec<&Evaluation> = members.iter().map(|(_, e)| *e).collect();
        let evaluation = evaluate_combination(&evaluations, grid, &folds, scale);
        let choice = Choice::Combined(members.iter().map(|(i, _)| feasible[*i].0).collect());
        let indices: Vec<usize> = members.iter().map(|(i, _)| *i).collect();
        (choice, evaluation, indices)
    });
    let combination_score = combination
        .as_ref()
        .map(|(choice, evaluation, _)| (choice.clone(), evaluation.mase));
    if let Some((choice, evaluation, indices)) = combination {
        if always || evaluation.mase < best_single {
            let mut paths = Vec::with_capacity(indices.len());
            for k in &indices {
                match lasts[*k].take() {
                    Some(path) => paths.push(path),
                    None => match feasible[*k].1.fit_predict(
                        &training,
                        settings.path_len,
                        settings.level,
                    ) {
                        Ok(path) => paths.push(path),
                        Err(_) => break,
                    },
                }
            }
            if paths.len() == indices.len() {
                let path = combine(&paths.iter().collect::<Vec<_>>());
                let mut outcome = finish(
                    choice,
                    path,
                    Some(evaluation),
                    candidates,
                    cold_start,
                    usable,
                    settings,
                );
                outcome.combination = combination_score;
                return Ok(outcome);
            }
            // A member that fitted every fold failed on the whole history: its fold path, if it
            // was taken, is refitted below when it ranks first.
            for (k, path) in indices.iter().zip(paths) {
                lasts[*k] = Some(path);
            }
        }
    }

    let mut failures = Vec::new();
    for (i, evaluation) in ranked {
        let (kind, model, _) = &feasible[i];
        let path = match lasts[i].take() {
            Some(path) => Ok(path),
            None => model.fit_predict(&training, settings.path_len, settings.level),
        };
        match path {
            Ok(path) => {
                let mut outcome = finish(
                    Choice::Model(*kind),
                    path,
                    evaluation,
                    candidates,
                    cold_start,
                    usable,
                    settings,
                );
                outcome.combination = combination_score.clone();
                return Ok(outcome);
            }
            Err(e) => failures.push(format!("{}: {e}", name_of(*kind))),
        }
    }
    // Every candidate failed on this data: naive always can, given three points.
    let naive = model_for(ModelKind::Naive);
    if let Ok(path) = naive.fit_predict(&training, settings.path_len, settings.level) {
        tracing::debug!(reasons = %failures.join("; "), "every candidate failed: naive forecast");
        return Ok(finish(
            Choice::Model(ModelKind::Naive),
            path,
            None,
            candidates,
            true,
            usable,
            settings,
        ));
    }
    Err(FitError::NothingFits {
        points: n,
        reasons: failures.join("; "),
    })
}

/// Candidates scored by [`score_candidates`], with each one's path from the end of the history
/// when its backtest made it (indexed like `feasible`).
type Scored = (Vec<(usize, Option<Evaluation>)>, Vec<Option<Path>>);

/// Rolling-origin evaluation of every feasible candidate, with successive halving: a model that
/// filters forward is scored on every fold at once (its folds cost about one fit); a refitting
/// one is scored on the oldest fold first and refitted at the others only if its error there is
/// within [`HALVING_MARGIN`] of the best candidate's. A dropped candidate stays in the
/// candidates, unscored, with the reason.
fn score_candidates(
    feasible: &[(ModelKind, Box<dyn Model>, usize)],
    training: &Training,
    folds: &[usize],
    settings: &FitSettings,
    scale: f64,
    candidates: &mut Vec<Candidate>,
) -> Scored {
    let mut scored: Vec<(usize, Option<Evaluation>)> = Vec::new();
    let mut lasts: Vec<Option<Path>> = vec![None; feasible.len()];
    let (horizon, level) = (settings.horizon, settings.level);
    if folds.is_empty() {
        for (i, (kind, _, _)) in feasible.iter().enumerate() {
            candidates.push(unscored(*kind, "too little history to evaluate".into()));
            scored.push((i, None));
        }
        return (scored, lasts);
    }
    let rung = HALVING_FIRST_FOLDS.min(folds.len());
    // First rung: every fold for filtering models, the oldest `rung` for refitting ones.
    let mut runs: Vec<(usize, Vec<Path>)> = Vec::new();
    for (i, (kind, model, _)) in feasible.iter().enumerate() {
        let first = if model.filters_forward() {
            folds
        } else {
            &folds[..rung]
        };
        match model.backtest(training, first, horizon, settings.path_len, level) {
            Ok(backtest) => {
                lasts[i] = backtest.last;
                runs.push((i, backtest.folds));
            }
            Err(e) => candidates.push(unscored(*kind, e.to_string())),
        }
    }
    let grid = training.grid;
    let early_error = |paths: &[Path]| -> f64 {
        let (mut total, mut count) = (0.0, 0usize);
        for (origin, path) in folds[..rung].iter().zip(paths) {
            for (h, p) in path.point[..horizon].iter().enumerate() {
                total += (grid.values[origin + h] - p).abs();
                count += 1;
            }
        }
        let mae = total / count.max(1) as f64;
        if mae.is_finite() {
            mae
        } else {
            f64::INFINITY
        }
    };
    let best = runs
        .iter()
        .map(|(_, paths)| early_error(paths))
        .fold(f64::INFINITY, f64::min);
    for (i, mut paths) in runs {
        let (kind, model, _) = &feasible[i];
        if paths.len() < folds.len() {
            let error = early_error(&paths);
            if !in_the_running(error, best) {
                candidates.push(unscored(
                    *kind,
                    format!(
                        "dropped after {rung} of {} folds: error {:.2}x the best",
                        folds.len(),
                        error / best.max(f64::MIN_POSITIVE)
                    ),
                ));
                continue;
            }
            match model.backtest(training, &folds[rung..], horizon, settings.path_len, level) {
                Ok(rest) => paths.extend(rest.folds),
                Err(e) => {
                    candidates.push(unscored(*kind, e.to_string()));
                    continue;
                }
            }
        }
        let evaluation = score(&paths, grid, folds, horizon, scale);
        candidates.push(Candidate {
            kind: *kind,
            mase: Some(evaluation.mase),
            note: String::new(),
        });
        scored.push((i, Some(evaluation)));
    }
    (scored, lasts)
}

/// How many of the ranked candidates (fold MASEs, best first) form the combination, and whether
/// it is published whatever it scores: every candidate within [`COMBINATION_MARGIN`] of the best,
/// always, when there are two or more; else the best two, only if they score better together.
fn combination_members(ranked: &[f64]) -> (usize, bool) {
    let Some(best) = ranked.first() else {
        return (0, false);
    };
    // Errors that are not finite are close to nothing (not even each other).
    if !best.is_finite() {
        return (ranked.len().min(2), false);
    }
    let close = ranked
        .iter()
        .take_while(|m| **m <= COMBINATION_MARGIN * best)
        .count();
    if close >= 2 {
        (close, true)
    } else {
        (ranked.len().min(2), false)
    }
}

/// Whether an early error is close enough to the best one to earn the remaining folds.
fn in_the_running(error: f64, best: f64) -> bool {
    error <= HALVING_MARGIN * best
}

fn finish(
    model: Choice,
    path: Path,
    evaluation: Option<Evaluation>,
    candidates: Vec<Candidate>,
    cold_start: bool,
    periods: Vec<usize>,
    settings: &FitSettings,
) -> FitOutcome {
    let held_out = evaluation
        .as_ref()
        .map_or(0, |e| e.abs_errors.iter().map(Vec::len).sum::<usize>());
    let own_coverage = evaluation.as_ref().and_then(|e| e.own_coverage);
    let calibrated = |c: f64| (c - settings.level).abs() <= CALIBRATION_TOLERANCE;
    let (mut half_widths, method) = match (&evaluation, &path.bounds) {
        (Some(e), Some(bounds)) if held_out >= MIN_CALIBRATION_POINTS => {
            if own_coverage.is_some_and(calibrated) {
                (own_half_widths(&path.point, bounds), IntervalMethod::Model)
            } else {
                conformal(e, &path, settings)
            }
        }
        // no bounds of its own: the fold errors, however few, beat no width at all
        (Some(e), None) if held_out > 0 => conformal(e, &path, settings),
        (_, Some(bounds)) => (
            own_half_widths(&path.point, bounds),
            IntervalMethod::Uncalibrated,
        ),
        (_, None) => (vec![0.0; path.point.len()], IntervalMethod::Uncalibrated),
    };
    if cold_start {
        for w in &mut half_widths {
            *w *= COLD_START_WIDENING;
        }
    }
    let (lower, upper) = match (method, &path.bounds, cold_start) {
        // Own bounds may be asymmetric: keep their shape unless they are widened.
        (IntervalMethod::Model | IntervalMethod::Uncalibrated, Some(bounds), false) => {
            (bounds.0.clone(), bounds.1.clone())
        }
        _ => (
            path.point
                .iter()
                .zip(&half_widths)
                .map(|(p, w)| p - w)
                .collect(),
            path.point
                .iter()
                .zip(&half_widths)
                .map(|(p, w)| p + w)
                .collect(),
        ),
    };
    FitOutcome {
        model,
        score: evaluation.as_ref().map(|e| e.mase),
        candidates,
        combination: None,
        point: path.point,
        lower,
        upper,
        interval_method: method,
        cold_start,
        periods,
        expected_mae: evaluation
            .as_ref()
            .map(Evaluation::mae_by_step)
            .unwrap_or_default(),
        own_coverage,
    }
}

fn conformal(e: &Evaluation, path: &Path, settings: &FitSettings) -> (Vec<f64>, IntervalMethod) {
    let widths = conformal_half_widths(&e.abs_errors, settings.level);
    let per_point = (0..path.point.len())
        .map(|i| width_at(&widths, i))
        .collect();
    (per_point, IntervalMethod::Conformal)
}

fn own_half_widths(point: &[f64], bounds: &(Vec<f64>, Vec<f64>)) -> Vec<f64> {
    point
        .iter()
        .zip(bounds.0.iter().zip(&bounds.1))
        .map(|(p, (l, u))| (p - l).max(u - p).max(0.0))
        .collect()
}

/// A cold start's fallback: the model, the points it needs, and the periods it is trained on.
type ColdStart = (ModelKind, Box<dyn Model>, usize, Vec<usize>);

/// The model a cold start falls back on when none of the template's models is feasible on `n`
/// points, with the periods it is trained on: seasonal naive on two seasons, else ETS (level and
/// trend) from ten points, else naive from three. A template that names only the baselines
/// (naive, seasonal naive) asked for cheap forecasts: its seasonal naive repeats the last season
/// as soon as the history holds one (and the two points its residuals need) rather than waiting
/// for two behind ETS, whose fit on every fold of a cold refit was most of such a fleet's
/// forecasting cost.
fn cold_start_model(
    models: &[ModelKind],
    periods: &[usize],
    usable: &[usize],
    n: usize,
) -> Option<ColdStart> {
    let baselines_only = models
        .iter()
        .all(|k| matches!(k, ModelKind::Naive | ModelKind::SeasonalNaive));
    let seasons = if baselines_only {
        periods.iter().copied().filter(|p| p + 2 <= n).collect()
    } else {
        usable.to_vec()
    };
    let fallbacks = [
        (ModelKind::SeasonalNaive, seasons),
        (ModelKind::Ets, usable.to_vec()),
        (ModelKind::Naive, usable.to_vec()),
    ];
    fallbacks.into_iter().find_map(|(kind, periods)| {
        let model = model_for(kind);
        match model.min_points(&periods) {
            Ok(needs) if needs <= n => Some((kind, model, needs, periods)),
            _ => None,
        }
    })
}

/// Declared periods plus, with `auto`, the strongest periodogram peaks that are not already
/// declared (within one step).
fn settle_periods(grid: &Grid, settings: &FitSettings) -> Vec<usize> {
    let mut periods: Vec<usize> = settings
        .periods
        .iter()
        .copied()
        .filter(|p| *p >= 2)
        .collect();
    if settings.detect_periods && grid.len() >= 12 {
        let detector = PeriodogramDetector::builder()
            .max_period((grid.len() / 3).max(5) as u32)
            .build();
        // The periodogram's periods are rounded reciprocals of DFT frequencies: each peak is
        // refined to the lag with the highest autocorrelation between its neighbours.
        let detected: Vec<usize> = detector
            .periodogram(&grid.values)
            .peaks(DETECTION_THRESHOLD)
            .map(|p| {
                let low = p.prev_period.min(p.next_period).max(2) as usize;
                let high = p.prev_period.max(p.next_period).max(p.period) as usize;
                refine_period(&grid.values, low, high)
            })
            .collect();
        // strongest last
        for period in detected.iter().rev().copied() {
            if periods.len() >= settings.periods.len() + MAX_DETECTED_PERIODS {
                break;
            }
            if period >= 2 && !periods.iter().any(|p| p.abs_diff(period) <= 1) {
                periods.push(period);
            }
        }
    }
    periods.sort_unstable();
    periods.dedup();
    periods
}

/// The lag in `[low, high]` whose autocorrelation is highest.
fn refine_period(y: &[f64], low: usize, high: usize) -> usize {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let variance: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let high = high.min(n / 2);
    if variance <= 0.0 || high < low {
        return low;
    }
    let acf = |lag: usize| -> f64 {
        (lag..n)
            .map(|i| (y[i] - mean) * (y[i - lag] - mean))
            .sum::<f64>()
            / variance
    };
    (low..=high)
        .max_by(|a, b| acf(*a).total_cmp(&acf(*b)))
        .unwrap_or(low)
}

fn unscored(kind: ModelKind, note: String) -> Candidate {
    Candidate {
        kind,
        mase: None,
        note,
    }
}

fn notes(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .map(|c| format!("{}: {}", name_of(c.kind), c.note))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(calendar: &Calendar) -> FitSettings<'_> {
        FitSettings {
            models: &[],
            periods: Vec::new(),
            detect_periods: false,
            horizon: 2,
            path_len: 2,
            level: 0.9,
            folds: 5,
            calendar,
            ridge: 1.0,
            harmonics: 0,
        }
    }

    fn path() -> Path {
        Path {
            point: vec![100.0, 100.0],
            bounds: Some((vec![95.0, 90.0], vec![106.0, 110.0])),
        }
    }

    /// 30 folds whose absolute errors at both steps are 1, 2, …, 30.
    fn evaluation(own_coverage: f64) -> Evaluation {
        let errors: Vec<f64> = (1..=30).map(f64::from).collect();
        Evaluation {
            mase: 0.8,
            abs_errors: vec![errors.clone(), errors],
            own_coverage: Some(own_coverage),
            fold_paths: Vec::new(),
        }
    }

    fn finish_with(evaluation: Option<Evaluation>, cold: bool) -> FitOutcome {
        let calendar = Calendar::default();
        finish(
            Choice::Model(ModelKind::Ets),
            path(),
            evaluation,
            Vec::new(),
            cold,
            Vec::new(),
            &settings(&calendar),
        )
    }

    /// A stand-in model on the series `y[t] = t`: it misses by `offset(origin)` at every step,
    /// and counts the origins it was asked to forecast from.
    struct Misses {
        kind: ModelKind,
        offset: fn(usize) -> f64,
        filters: bool,
        asked: Asked,
    }

    type Asked = std::sync::Arc<std::sync::Mutex<Vec<usize>>>;

    impl Model for Misses {
        fn kind(&self) -> ModelKind {
            self.kind
        }
        fn min_points(&self, _periods: &[usize]) -> Result<usize, crate::models::ModelError> {
            Ok(1)
        }
        fn fit_predict(
            &self,
            t: &Training,
            horizon: usize,
            _level: f64,
        ) -> Result<Path, crate::models::ModelError> {
            let origin = t.grid.len();
            self.asked.lock().unwrap().push(origin);
            let point = (origin..origin + horizon)
                .map(|i| i as f64 + (self.offset)(origin))
                .collect();
            Ok(Path {
                point,
                bounds: None,
            })
        }
        fn filters_forward(&self) -> bool {
            self.filters
        }
    }

    fn misses(
        kind: ModelKind,
        offset: fn(usize) -> f64,
        filters: bool,
        asked: &Asked,
    ) -> (ModelKind, Box<dyn Model>, usize) {
        let model = Misses {
            kind,
            offset,
            filters,
            asked: asked.clone(),
        };
        (kind, Box::new(model), 1)
    }

    #[test]
    fn halving_keeps_a_close_second_that_wins_later_and_drops_a_distant_one() {
        let grid = Grid {
            start_ms: 0,
            step_ms: 1,
            values: (0..60).map(f64::from).collect(),
            regressors: Vec::new(),
            filled: 0,
        };
        let calendar = Calendar::default();
        let training = Training {
            grid: &grid,
            periods: &[],
            calendar: &calendar,
            ridge: 1.0,
            harmonics: 0,
        };
        let folds = [40, 45, 50, 55];
        let asked: Vec<Asked> = (0..4).map(|_| Asked::default()).collect();
        let feasible = vec![
            // steady: 1.0 at every fold
            misses(ModelKind::Ets, |_| 1.0, false, &asked[0]),
            // 1.1 on the oldest fold (within the margin), then 0.5: the eventual winner
            misses(
                ModelKind::Mstl,
                |o| if o == 40 { 1.1 } else { 0.5 },
                false,
                &asked[1],
            ),
            // 3.0 on the oldest fold, perfect afterwards: dropped all the same
            misses(
                ModelKind::Linear,
                |o| if o == 40 { 3.0 } else { 0.0 },
                false,
                &asked[2],
            ),
            // filters forward: scored on every fold in the first rung
            misses(ModelKind::HoltWinters, |_| 2.0, true, &asked[3]),
        ];
        let mut s = settings(&calendar);
        s.horizon = 5;
        s.path_len = 5;
        let mut candidates = Vec::new();
        let (scored, _) = score_candidates(&feasible, &training, &folds, &s, 1.0, &mut candidates);
        let mase = |kind: ModelKind| {
            let c = candidates.iter().find(|c| c.kind == kind).unwrap();
            c.mase.expect("scored")
        };
        assert!((mase(ModelKind::Ets) - 1.0).abs() < 1e-9);
        assert!((mase(ModelKind::Mstl) - (1.1 + 3.0 * 0.5) / 4.0).abs() < 1e-9);
        assert!((mase(ModelKind::HoltWinters) - 2.0).abs() < 1e-9);
        let dropped = candidates
            .iter()
            .find(|c| c.kind == ModelKind::Linear)
            .unwrap();
        assert_eq!(dropped.mase, None);
        assert_eq!(
            dropped.note,
            "dropped after 1 of 4 folds: error 3.00x the best"
        );
        let best = scored
            .iter()
            .filter_map(|(i, e)| e.as_ref().map(|e| (*i, e.mase)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(feasible[best.0].0, ModelKind::Mstl);
        // the dropped model was fitted once; the others at every fold
        let origins = |k: usize| asked[k].lock().unwrap().clone();
        assert_eq!(origins(2), vec![40]);
        assert_eq!(origins(1), vec![40, 45, 50, 55]);
        assert_eq!(origins(3), vec![40, 45, 50, 55]);
    }

    #[test]
    fn candidates_close_to_the_best_are_always_combined() {
        assert_eq!(combination_members(&[0.70, 0.75, 0.90, 0.92]), (3, true));
        assert_eq!(combination_members(&[1.0, 1.3]), (2, true));
    }

    #[test]
    fn a_distant_second_joins_only_if_the_pair_scores_better() {
        assert_eq!(combination_members(&[0.70, 0.92, 0.95]), (2, false));
        assert_eq!(combination_members(&[0.70]), (1, false));
        assert_eq!(combination_members(&[]), (0, false));
    }

    #[test]
    fn candidates_whose_errors_are_not_finite_are_never_combined_regardless() {
        let inf = f64::INFINITY;
        assert_eq!(combination_members(&[inf, inf, inf]), (2, false));
        assert_eq!(combination_members(&[0.7, inf]), (2, false));
    }

    #[test]
    fn the_margin_is_relative_to_the_best_early_error() {
        assert!(in_the_running(1.2, 1.0));
        assert!(!in_the_running(1.21, 1.0));
        assert!(in_the_running(0.0, 0.0));
    }

    #[test]
    fn own_bounds_that_held_in_evaluation_are_kept_as_the_model_gave_them() {
        let outcome = finish_with(Some(evaluation(0.88)), false);
        assert_eq!(outcome.interval_method, IntervalMethod::Model);
        assert_eq!(
            (outcome.lower, outcome.upper),
            (vec![95.0, 90.0], vec![106.0, 110.0])
        );
        assert_eq!(outcome.expected_mae, vec![15.5, 15.5]);
    }

    #[test]
    fn own_bounds_that_missed_are_replaced_by_conformal_ones() {
        let outcome = finish_with(Some(evaluation(0.6)), false);
        assert_eq!(outcome.interval_method, IntervalMethod::Conformal);
        // 60 pooled errors of 1..30 (each twice): rank ⌈61·0.9⌉ = 55 of 60 → 28
        assert_eq!(outcome.lower, vec![72.0, 72.0]);
        assert_eq!(outcome.upper, vec![128.0, 128.0]);
    }

    #[test]
    fn without_evaluation_the_bounds_are_the_models_and_say_so() {
        let outcome = finish_with(None, false);
        assert_eq!(outcome.interval_method, IntervalMethod::Uncalibrated);
        assert_eq!(outcome.score, None);
        assert_eq!(outcome.upper, vec![106.0, 110.0]);
    }

    #[test]
    fn cold_start_bounds_are_widened_by_half() {
        let outcome = finish_with(None, true);
        // half-widths max(5, 6) = 6 and max(10, 10) = 10, times 1.5
        assert_eq!(outcome.lower, vec![91.0, 85.0]);
        assert_eq!(outcome.upper, vec![109.0, 115.0]);
    }
}

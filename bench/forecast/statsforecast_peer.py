#!/usr/bin/env python3
"""Peer side of the forecast benchmark: run Nixtla statsforecast (and Prophet) on the cases.

Usage:
    python statsforecast_peer.py CASES.json OUT.json

Run it with the interpreter printed by ``setup_venv.sh`` (it has the pinned statsforecast).

CASES.json::

    {"level": 0.9,
     "models": ["AutoETS", "MSTL", "AutoARIMA", "AutoARIMA-approx", "Prophet"],  # optional, default: all
     "timeout_seconds": 900,                                   # optional, per fit + predict
     "max_origins": {"AutoARIMA": 1},                          # optional, per series
     "cases": [{"series": "taylor", "origin": 0, "start_seconds": 960163200,
                "step_seconds": 1800, "periods": [48, 336], "horizon": 48,
                "train": [...], "test": [...]}]}

For every case, on ``train`` only, each model is fitted and forecasts ``horizon`` steps
ahead with prediction intervals at ``level``:

* ``AutoETS``   -- ``AutoETS(season_length=periods[0])``;
* ``MSTL``      -- ``MSTL(season_length=periods, trend_forecaster=AutoETS(model="ZZN"))``;
* ``AutoARIMA`` -- ``AutoARIMA(season_length=periods[0])`` (stepwise Hyndman-Khandakar
  search, statsforecast's defaults: exact likelihood throughout);
* ``AutoARIMA-approx`` -- ``AutoARIMA(season_length=periods[0], approximation=True)``: the
  search by conditional sum of squares, the chosen order refitted by exact likelihood, as R's
  ``auto.arima`` does by default for series over 150 points or seasons over 12 (statsforecast
  defaults to ``False``; the exact search did not finish an airport fit in four hours);
* ``Prophet``   -- ``prophet.Prophet`` fitted by MAP (``mcmc_samples=0``), no yearly
  seasonality, one Fourier seasonality per period (the built-in ``daily`` / ``weekly`` ones,
  orders 4 and 3, when a period is one day / one week; otherwise ``add_seasonality`` with
  order 3), ``interval_width=level``, default ``uncertainty_samples`` (1000). The timestamps
  are ``start_seconds + i * step_seconds`` (UTC, tz-naive). Prophet is imported lazily: if it
  is not installed, its results carry the ImportError and the other models still run.

``digest`` (optional, any JSON value) is echoed in the output, so a caller can tell which
cases a saved output was made from.

``test`` is not used here (scoring is done by the caller, identically for every peer).

``max_origins`` limits a model to the first N cases of each series (in the file's order);
the others get a result with ``"skipped"`` (the reason) and no arrays, so a caller never
mistakes a limited run for a full one. ``timeout_seconds`` bounds each fit + predict
(SIGALRM: it interrupts at the next Python bytecode, so a long compiled call overruns it a
little); a fit that exceeds it gets ``"error": "TimeoutError: ..."`` and
``"timed_out_after": timeout_seconds``.

Timing: ``fit_predict_seconds`` is the wall time (``time.perf_counter``) of ``fit`` +
``predict`` of one model on one numpy array, single-threaded. Model objects are built
before the clock starts; extracting the fitted spec and converting arrays to lists happens
after it stops. One untimed warm-up fit+predict of each model on the first case runs
before anything is timed, on a short synthetic series (periods [4, 28], 112 points), so
import-time / first-call costs (lazy imports, compiled-extension initialisation, loading
Prophet's compiled Stan model) are not counted.

If a model fails on a case the result carries ``"error"`` and no arrays; the run goes on.
"""

from __future__ import annotations

import os

# Single thread for every numeric backend; must happen before numpy & co are imported.
for _var in (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import gc  # noqa: E402
import importlib.metadata as metadata  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from statsforecast.models import MSTL, AutoARIMA, AutoETS  # noqa: E402

MODELS = ("AutoETS", "MSTL", "AutoARIMA", "AutoARIMA-approx", "Prophet")
DEFAULT_TIMEOUT_SECONDS = 900.0
DAY, WEEK = 86_400, 7 * 86_400


def log(msg: str) -> None:
    print(f"[statsforecast_peer] {msg}", file=sys.stderr, flush=True)


def level_percent(level: float) -> float | int:
    """statsforecast wants levels in percent (90, not 0.9). Keep ints integral so the
    result keys read ``lo-90`` rather than ``lo-90.0``."""
    pct = level * 100.0 if level <= 1.0 else float(level)
    if not 0.0 < pct < 100.0:
        raise ValueError(f"level must be in (0, 1) (or a percentage in (0, 100)), got {level}")
    pct = round(pct, 6)
    return int(pct) if pct.is_integer() else pct


class ProphetPeer:
    """Prophet behind statsforecast's ``fit(y)`` / ``predict(h, level)`` shape, so the timing
    and scoring code is the same for every peer model. Building it imports nothing: the
    import of ``prophet`` happens in ``fit`` (lazily, so a missing package is one model's
    error, not the peer's)."""

    def __init__(self, periods: list[int], start_seconds: int, step_seconds: int, level: float):
        self.periods = periods
        self.level = level
        self.start = np.datetime64(int(start_seconds), "s")
        self.step = np.timedelta64(int(step_seconds), "s")
        self.step_seconds = int(step_seconds)
        self.model_ = None

    def _stamps(self, first: int, n: int):
        import pandas as pd

        return pd.to_datetime(self.start + (first + np.arange(n)) * self.step)

    def fit(self, y: np.ndarray):
        import pandas as pd
        from prophet import Prophet

        quiet_prophet_logs()  # after the import: cmdstanpy sets its logger's level on import
        self.n = y.size
        self.seasonalities = []
        daily = weekly = False
        extra = []
        for p in self.periods:
            seconds = p * self.step_seconds
            if seconds == DAY:
                daily = True
            elif seconds == WEEK:
                weekly = True
            else:
                extra.append((f"period_{p}", seconds / DAY))
        m = Prophet(
            yearly_seasonality=False,
            weekly_seasonality=weekly,
            daily_seasonality=daily,
            mcmc_samples=0,
            interval_width=self.level,
        )
        for name, days in extra:
            m.add_seasonality(name=name, period=days, fourier_order=3)
        self.seasonalities = (["daily"] if daily else []) + (["weekly"] if weekly else [])
        self.seasonalities += [name for name, _ in extra]
        m.fit(pd.DataFrame({"ds": self._stamps(0, y.size), "y": y}))
        self.model_ = m
        return self

    def predict(self, h: int, level: list):
        import pandas as pd

        fc = self.model_.predict(pd.DataFrame({"ds": self._stamps(self.n, h)}))
        pct = level[0]
        return {
            "mean": fc["yhat"].to_numpy(),
            f"lo-{pct}": fc["yhat_lower"].to_numpy(),
            f"hi-{pct}": fc["yhat_upper"].to_numpy(),
        }


def build(model: str, periods: list[int], case: dict, lvl):
    if model == "AutoETS":
        return AutoETS(season_length=int(periods[0]))
    if model == "MSTL":
        return MSTL(
            season_length=[int(p) for p in periods],
            trend_forecaster=AutoETS(model="ZZN"),
        )
    if model == "AutoARIMA":
        return AutoARIMA(season_length=int(periods[0]))
    if model == "AutoARIMA-approx":
        return AutoARIMA(season_length=int(periods[0]), approximation=True)
    if model == "Prophet":
        if "start_seconds" not in case:
            raise ValueError("Prophet needs the case's start_seconds (its timestamps)")
        return ProphetPeer(periods, case["start_seconds"], case["step_seconds"], lvl / 100.0)
    raise ValueError(f"unknown model {model}")


def fitted_spec(model: str, fitted, periods: list[int]) -> tuple[str, dict]:
    """Human-readable description of what was actually fitted, plus structured extras."""
    if model == "AutoETS":
        m = fitted.model_
        used = int(m.get("m", 0))
        spec = f"AutoETS(season_length={periods[0]}) -> {m.get('method', '?')}"
        if (m.get("components") or "???")[2] == "N":
            spec += " [non-seasonal]"
        if used != periods[0]:
            spec += f" m={used}"
        return spec, {
            "season_length_requested": int(periods[0]),
            "season_length_used": used,
            "components": m.get("components"),
            "aicc": finite_or_none(m.get("aicc")),
        }
    if model in ("AutoARIMA", "AutoARIMA-approx"):
        m = fitted.model_
        # arma = (p, q, P, Q, m, d, D), as in R's arima
        p, q, sp, sq, used, d, sd = (int(v) for v in m["arma"])
        approx = ", approximation=True" if model == "AutoARIMA-approx" else ""
        spec = (
            f"AutoARIMA(season_length={periods[0]}{approx}) -> "
            f"ARIMA({p},{d},{q})({sp},{sd},{sq})[{used}]"
        )
        return spec, {
            "order": [p, d, q],
            "seasonal_order": [sp, sd, sq],
            "season_length_used": used,
            "aicc": finite_or_none(m.get("aicc")),
        }
    if model == "Prophet":
        names = ", ".join(fitted.seasonalities) or "none"
        return (
            f"Prophet(MAP, seasonalities: {names}; no yearly; interval_width="
            f"{fitted.model_.interval_width:g})",
            {"seasonalities": fitted.seasonalities},
        )
    # MSTL: seasonal parts come from statsmodels STL; the trend + remainder goes to the
    # trend forecaster, whose fitted ETS form we report.
    trend = fitted.trend_forecaster.model_
    spec = (
        f"MSTL(season_length={list(periods)}) + trend AutoETS(ZZN) -> {trend.get('method', '?')}"
    )
    return spec, {
        "season_length_used": [int(p) for p in periods],
        "trend_components": trend.get("components"),
    }


def finite_or_none(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def to_list(a) -> list:
    # JSON has no NaN/Infinity: map them to null so strict parsers (serde_json) accept it.
    return [float(v) if math.isfinite(v) else None for v in np.asarray(a, dtype=float)]


def pick(res: dict, prefix: str) -> np.ndarray:
    keys = [k for k in res if k.startswith(prefix)]
    if len(keys) != 1:
        raise KeyError(f"expected one '{prefix}*' key in prediction, got {sorted(res)}")
    return np.asarray(res[keys[0]], dtype=float)


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


def fit_predict(model: str, case: dict, y: np.ndarray, h: int, lvl, timeout: float):
    """Fit + predict, returning (fitted model, prediction dict, seconds). Raises TimeoutError
    when the fit + predict takes longer than ``timeout`` seconds."""
    periods = [int(p) for p in case["periods"]]
    m = build(model, periods, case, lvl)
    gc.collect()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    t0 = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        m.fit(y)
        res = m.predict(h=h, level=[lvl])
        secs = time.perf_counter() - t0
    except _Alarm:
        raise TimeoutError(
            f"fit + predict still running after {time.perf_counter() - t0:.0f}s"
            f" (timeout_seconds {timeout:g})"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return m, res, secs


def quiet_prophet_logs() -> None:
    """cmdstanpy logs two INFO lines per fit: keep the peer's stderr readable."""
    import logging

    for name in ("cmdstanpy", "prophet", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_case(case: dict, model: str, lvl, timeout: float) -> dict:
    out = {"series": case.get("series"), "origin": case.get("origin"), "model": model}
    try:
        periods = [int(p) for p in case["periods"]]
        if not periods:
            raise ValueError("case has no periods")
        h = int(case["horizon"])
        y = np.asarray(case["train"], dtype=np.float64)
        if y.ndim != 1 or y.size == 0:
            raise ValueError("train must be a non-empty list of numbers")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"train has {int((~np.isfinite(y)).sum())} non-finite values")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted, res, secs = fit_predict(model, case, y, h, lvl, timeout)
        point, lower, upper = res["mean"], pick(res, "lo-"), pick(res, "hi-")
        if not (len(point) == len(lower) == len(upper) == h):
            raise ValueError(f"prediction length {len(point)} != horizon {h}")
        spec, extra = fitted_spec(model, fitted, periods)
        out.update(
            {
                "spec": spec,
                "point": to_list(point),
                "lower": to_list(lower),
                "upper": to_list(upper),
                "fit_predict_seconds": secs,
                **extra,
            }
        )
        msgs = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        if model == "MSTL":
            # statsforecast's mstl() keeps every period; R's forecast::mstl drops those
            # >= n/2 because STL cannot estimate them from fewer than two cycles.
            msgs += [
                f"period {p} >= len(train)/2 = {y.size / 2:g}: fewer than 2 cycles for STL"
                for p in periods
                if p >= y.size / 2
            ]
        if msgs:
            out["warnings"] = msgs
    except Exception as exc:  # noqa: BLE001 - report and go on with the next case
        out["error"] = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, TimeoutError):
            out["timed_out_after"] = timeout
        log(f"{out['series']}@{out['origin']} {model} failed: {out['error']}")
        if not isinstance(exc, (TimeoutError, ImportError)):
            log(traceback.format_exc().rstrip())
    return out


def warm_up(model: str, lvl) -> None:
    """One untimed fit + predict on a short synthetic series: import and first-call costs."""
    y = 10.0 + np.sin(np.arange(112) * 2 * np.pi / 4) + 0.1 * np.cos(np.arange(112) * 0.7)
    case = {"periods": [4, 28], "start_seconds": 0, "step_seconds": DAY // 4}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_predict(model, case, y, 4, lvl, DEFAULT_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the timed run will report it
        log(f"warm-up of {model} failed: {type(exc).__name__}: {exc}")


def version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    cases_path, out_path = argv[1], argv[2]
    with open(cases_path, encoding="utf-8") as f:
        doc = json.load(f)
    cases = doc["cases"]
    lvl = level_percent(float(doc.get("level", 0.9)))
    models = doc.get("models") or list(MODELS)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"unknown models {unknown}; known: {list(MODELS)}")
    timeout = float(doc.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS)
    max_origins = {str(k): int(v) for k, v in (doc.get("max_origins") or {}).items()}

    if cases:
        for model in models:
            warm_up(model, lvl)

    results = []
    seen: dict[tuple[str, str], int] = {}
    for case in cases:
        for model in models:
            key = (str(case.get("series")), model)
            seen[key] = seen.get(key, 0) + 1
            if model in max_origins and seen[key] > max_origins[model]:
                results.append(
                    {
                        "series": case.get("series"),
                        "origin": case.get("origin"),
                        "model": model,
                        "skipped": f"max_origins {max_origins[model]} for {model} (its time)",
                    }
                )
                continue
            r = run_case(case, model, lvl, timeout)
            if "error" not in r:
                log(
                    f"{r['series']}@{r['origin']} {model}: {r['fit_predict_seconds']:.3f}s"
                    f" {r['spec']}"
                )
            results.append(r)

    out = {
        "peer": "statsforecast",
        "digest": doc.get("digest"),
        "version": metadata.version("statsforecast"),
        "python": platform.python_version(),
        "level": lvl / 100.0,
        "threads": 1,
        "models": models,
        "timeout_seconds": timeout,
        "max_origins": max_origins,
        "libraries": {
            p: version_of(p)
            for p in (
                "statsforecast",
                "numpy",
                "scipy",
                "statsmodels",
                "pandas",
                "prophet",
                "cmdstanpy",
                "holidays",
            )
        },
        "results": results,
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(out, f, allow_nan=False)
        f.write("\n")
    os.replace(tmp, out_path)
    n_err = sum("error" in r for r in results)
    n_skip = sum("skipped" in r for r in results)
    log(f"wrote {len(results)} results ({n_err} errors, {n_skip} skipped) to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

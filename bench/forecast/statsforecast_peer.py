#!/usr/bin/env python3
"""Peer side of the forecast benchmark: run Nixtla statsforecast on the benchmark cases.

Usage:
    python statsforecast_peer.py CASES.json OUT.json

Run it with the interpreter printed by ``setup_venv.sh`` (it has the pinned statsforecast).

CASES.json::

    {"level": 0.9,
     "cases": [{"series": "taylor", "origin": 0, "step_seconds": 1800, "periods": [48, 336],
                "horizon": 48, "train": [...], "test": [...]}]}

For every case, on ``train`` only, two models are fitted and forecast ``horizon`` steps
ahead with prediction intervals at ``level``:

* ``AutoETS`` -- ``AutoETS(season_length=periods[0])``;
* ``MSTL``    -- ``MSTL(season_length=periods, trend_forecaster=AutoETS(model="ZZN"))``.

``test`` is not used here (scoring is done by the caller, identically for every peer).

Timing: ``fit_predict_seconds`` is the wall time (``time.perf_counter``) of ``fit`` +
``predict`` of one model on one numpy array, single-threaded. Model objects are built
before the clock starts; extracting the fitted spec and converting arrays to lists happens
after it stops. One untimed warm-up fit+predict of each model on the first case runs
before anything is timed, so import-time / first-call costs (lazy imports, JIT or
compiled-extension initialisation) are not counted.

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
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from statsforecast.models import MSTL, AutoETS  # noqa: E402

MODELS = ("AutoETS", "MSTL")


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


def build(model: str, periods: list[int]):
    if model == "AutoETS":
        return AutoETS(season_length=int(periods[0]))
    if model == "MSTL":
        return MSTL(
            season_length=[int(p) for p in periods],
            trend_forecaster=AutoETS(model="ZZN"),
        )
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


def fit_predict(model: str, periods: list[int], y: np.ndarray, h: int, lvl):
    """Fit + predict, returning (fitted model, prediction dict, seconds)."""
    m = build(model, periods)
    gc.collect()
    t0 = time.perf_counter()
    m.fit(y)
    res = m.predict(h=h, level=[lvl])
    secs = time.perf_counter() - t0
    return m, res, secs


def run_case(case: dict, model: str, lvl) -> dict:
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
            fitted, res, secs = fit_predict(model, periods, y, h, lvl)
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
        log(f"{out['series']}@{out['origin']} {model} failed: {out['error']}")
        log(traceback.format_exc().rstrip())
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    cases_path, out_path = argv[1], argv[2]
    with open(cases_path, encoding="utf-8") as f:
        doc = json.load(f)
    cases = doc["cases"]
    lvl = level_percent(float(doc.get("level", 0.9)))

    if cases:
        first = cases[0]
        for model in MODELS:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit_predict(
                        model,
                        [int(p) for p in first["periods"]],
                        np.asarray(first["train"], dtype=np.float64),
                        int(first["horizon"]),
                        lvl,
                    )
            except Exception as exc:  # noqa: BLE001 - the timed run will report it
                log(f"warm-up of {model} failed: {exc}")

    results = []
    for case in cases:
        for model in MODELS:
            r = run_case(case, model, lvl)
            if "error" not in r:
                log(
                    f"{r['series']}@{r['origin']} {model}: {r['fit_predict_seconds']:.3f}s"
                    f" {r['spec']}"
                )
            results.append(r)

    out = {
        "peer": "statsforecast",
        "version": metadata.version("statsforecast"),
        "python": platform.python_version(),
        "level": lvl / 100.0,
        "threads": 1,
        "libraries": {
            p: metadata.version(p) for p in ("numpy", "scipy", "statsmodels", "pandas")
        },
        "results": results,
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(out, f, allow_nan=False)
        f.write("\n")
    os.replace(tmp, out_path)
    n_err = sum("error" in r for r in results)
    log(f"wrote {len(results)} results ({n_err} errors) to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""End-to-end self-check of the statsforecast / Prophet peer on the real traces in shared/data.

    python3 bench/forecast/selfcheck.py [--python VENV_PY] [--data DIR] [--out DIR]
                                        [--models AutoETS,MSTL,Prophet] [--arima-timeout S]

Builds two cases files (stdlib only, so any python3 runs this):

* ``taylor``      -- taylor-demand.csv, half-hourly, periods [48, 336], train 1344 (4 weeks),
                     horizon 48;
* ``airport-ewr`` -- nyc-departures-15m.csv, app airport-ewr, 15-minute, periods [96, 672],
                     train 2688 (4 weeks), horizon 96;

runs ``statsforecast_peer.py`` on each with the venv python (from ``setup_venv.sh`` unless
``--python`` is given), and prints per-model timings, the fitted spec, MAE on ``test``,
interval coverage and whether lower <= point <= upper holds.

``--models`` defaults to AutoETS, MSTL and Prophet: AutoARIMA's seasonal search takes many
minutes on these series. AutoARIMA is still checked, for the output format of its two
other outcomes: a second origin of each case is ``skipped`` (``max_origins`` 1), and the
first gets ``--arima-timeout`` seconds (default 2), so it reports ``TimeoutError`` with
``timed_out_after`` (unless this machine fits it that fast, which is fine too).

Exits non-zero when a model errored, an interval is inverted, or the output breaks the
format the Rust bench reads: the ``digest`` echoed; per result ``series``, ``origin`` and
``model``, then exactly one of ``error``, ``skipped`` or the three arrays of ``horizon``
numbers with ``fit_predict_seconds`` and ``spec``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASES = [
    # name, file, app, step_seconds, periods, train, horizon, origin (index of first train point)
    ("taylor", "taylor-demand.csv", None, 1800, [48, 336], 1344, 48, 0),
    ("airport-ewr", "nyc-departures-15m.csv", "airport-ewr", 900, [96, 672], 2688, 96, 0),
]


def load_series(path: Path, app: str | None, step: int) -> list[float]:
    ts, vals = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if app is not None and row["app"] != app:
                continue
            ts.append(datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")))
            vals.append(float(row["value"]))
    if not vals:
        raise SystemExit(f"{path}: no rows for app {app}")
    for a, b in zip(ts, ts[1:]):
        if (b - a).total_seconds() != step:
            raise SystemExit(f"{path}: gap or disorder between {a} and {b}")
    return vals, int(ts[0].timestamp())


def make_cases(data: Path, name: str, file: str, app, step, periods, n_train, h, origin) -> dict:
    y, t0 = load_series(data / file, app, step)
    # a second origin one day later: only there to be skipped by AutoARIMA's max_origins
    later = origin + periods[0]
    if later + n_train + h > len(y):
        raise SystemExit(f"{name}: series has {len(y)} points, need {later + n_train + h}")
    return {
        "level": 0.9,
        "digest": f"selfcheck-{name}",
        "cases": [
            {
                "series": name,
                "origin": o,
                "start_seconds": t0 + o * step,
                "step_seconds": step,
                "periods": periods,
                "horizon": h,
                "train": y[o : o + n_train],
                "test": y[o + n_train : o + n_train + h],
            }
            for o in (origin, later)
        ],
    }


def format_problems(doc: dict, cases: dict, models: list[str]) -> list[str]:
    """What in the peer's output the Rust bench would not read as meant."""
    problems = []
    if doc.get("digest") != cases["digest"]:
        problems.append(f"digest {doc.get('digest')!r} not echoed ({cases['digest']!r})")
    if sorted(doc.get("models", [])) != sorted(models):
        problems.append(f"models {doc.get('models')} != asked {models}")
    want = {(c["origin"], m) for c in cases["cases"] for m in models}
    got = [(r.get("origin"), r.get("model")) for r in doc.get("results", [])]
    if sorted(got) != sorted(want):
        problems.append(f"results for {sorted(got)}, expected one each for {sorted(want)}")
    horizon = {c["origin"]: c["horizon"] for c in cases["cases"]}
    for r in doc.get("results", []):
        where = f"{r.get('model')}@{r.get('origin')}"
        if r.get("series") != cases["cases"][0]["series"]:
            problems.append(f"{where}: series {r.get('series')!r}")
        kinds = [k for k in ("error", "skipped", "point") if k in r]
        if len(kinds) != 1:
            problems.append(f"{where}: has {kinds or 'none'} of error / skipped / point")
            continue
        if "error" in r and r["error"].startswith("TimeoutError") and not isinstance(
            r.get("timed_out_after"), (int, float)
        ):
            problems.append(f"{where}: a TimeoutError without timed_out_after")
        if "point" in r:
            for key in ("point", "lower", "upper"):
                if len(r.get(key) or []) != horizon.get(r.get("origin")):
                    problems.append(f"{where}: {key} is not {horizon.get(r.get('origin'))} long")
            if not isinstance(r.get("fit_predict_seconds"), (int, float)):
                problems.append(f"{where}: no fit_predict_seconds")
            if not isinstance(r.get("spec"), str):
                problems.append(f"{where}: no spec")
    return problems


def venv_python() -> str:
    out = subprocess.run(
        ["bash", str(HERE / "setup_venv.sh")], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return out.strip().splitlines()[-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", help="venv python with statsforecast (default: setup_venv.sh)")
    ap.add_argument("--data", default=str(HERE.parents[2] / "shared" / "data"))
    ap.add_argument("--out", help="directory for cases/results JSON (default: a temp dir)")
    ap.add_argument("--models", default="AutoETS,MSTL,Prophet", help="models given time to fit")
    ap.add_argument("--arima-timeout", type=float, default=2.0, help="AutoARIMA's seconds")
    args = ap.parse_args()
    full = [m for m in args.models.split(",") if m]

    data = Path(args.data)
    if not data.is_dir():
        data = Path("/work/shared/data")
    py = args.python or venv_python()
    out_dir = Path(args.out or tempfile.mkdtemp(prefix="presage-sf-selfcheck-"))
    out_dir.mkdir(parents=True, exist_ok=True)

    bad = 0
    for spec in CASES:
        name = spec[0]
        cases = make_cases(data, *spec)
        doc, ran = {"results": []}, []
        # the models given time, then AutoARIMA alone with a short timeout (when not among them)
        runs = [(full, None)]
        if "AutoARIMA" not in full:
            runs.append((["AutoARIMA"], args.arima_timeout))
        for models, timeout in runs:
            ask = dict(cases, models=models, max_origins={"AutoARIMA": 1})
            if timeout is not None:
                ask["timeout_seconds"] = timeout
            tag = "-".join(models)
            cases_path = out_dir / f"{name}.{tag}.cases.json"
            res_path = out_dir / f"{name}.{tag}.out.json"
            cases_path.write_text(json.dumps(ask))
            subprocess.run(
                [py, str(HERE / "statsforecast_peer.py"), str(cases_path), str(res_path)],
                check=True,
            )
            part = json.loads(res_path.read_text())
            for problem in format_problems(part, ask, models):
                bad += 1
                print(f"  FORMAT {problem}")
            doc = dict(part, results=doc["results"] + part["results"])
            ran += models
        test = cases["cases"][0]["test"]
        libs = ", ".join(f"{k} {v}" for k, v in doc["libraries"].items())
        print(f"== {name}: python {doc['python']}: {libs}")
        for r in doc["results"]:
            if "skipped" in r:
                print(f"  {r['model']:9s} @{r['origin']} skipped: {r['skipped']}")
                continue
            if r["origin"] != cases["cases"][0]["origin"]:
                continue  # the later origin is there for the skip only
            if "error" in r:
                timed_out = r["error"].startswith("TimeoutError") and r["model"] not in full
                bad += not timed_out
                print(f"  {r['model']:9s} {'timed out (as asked)' if timed_out else 'ERROR'}"
                      f" {r['error']}")
                continue
            p, lo, hi = r["point"], r["lower"], r["upper"]
            ordered = all(
                a is not None and b is not None and c is not None and a <= b <= c
                for a, b, c in zip(lo, p, hi)
            )
            strict = all(a < b < c for a, b, c in zip(lo, p, hi)) if ordered else False
            bad += not ordered
            mae = sum(abs(a - b) for a, b in zip(p, test)) / len(test)
            cover = sum(a <= t <= c for a, t, c in zip(lo, test, hi)) / len(test)
            width = sum(c - a for a, c in zip(lo, hi)) / len(lo)
            print(
                f"  {r['model']:9s} {r['fit_predict_seconds']:7.3f}s  MAE {mae:9.2f}"
                f"  90% coverage {cover:5.1%}  mean width {width:9.2f}"
                f"  lower<point<upper {'yes' if strict else ('<= only' if ordered else 'NO')}"
            )
            print(f"           {r['spec']}")
            for w in r.get("warnings", []):
                print(f"           warning: {w}")
    print(f"results in {out_dir}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

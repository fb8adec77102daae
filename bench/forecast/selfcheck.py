#!/usr/bin/env python3
"""End-to-end self-check of the statsforecast peer on the real traces in shared/data.

    python3 bench/forecast/selfcheck.py [--python VENV_PY] [--data DIR] [--out DIR]

Builds two cases files (stdlib only, so any python3 runs this):

* ``taylor``      -- taylor-demand.csv, half-hourly, periods [48, 336], train 1344 (4 weeks),
                     horizon 48;
* ``airport-ewr`` -- nyc-departures-15m.csv, app airport-ewr, 15-minute, periods [96, 672],
                     train 2688 (4 weeks), horizon 96;

runs ``statsforecast_peer.py`` on each with the venv python (from ``setup_venv.sh`` unless
``--python`` is given), and prints per-model timings, the fitted spec, MAE on ``test``,
interval coverage and whether lower <= point <= upper holds. Exits non-zero when a model
errored or an interval is inverted.
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
    return vals


def make_cases(data: Path, name: str, file: str, app, step, periods, n_train, h, origin) -> dict:
    y = load_series(data / file, app, step)
    if origin + n_train + h > len(y):
        raise SystemExit(f"{name}: series has {len(y)} points, need {origin + n_train + h}")
    return {
        "level": 0.9,
        "cases": [
            {
                "series": name,
                "origin": origin,
                "step_seconds": step,
                "periods": periods,
                "horizon": h,
                "train": y[origin : origin + n_train],
                "test": y[origin + n_train : origin + n_train + h],
            }
        ],
    }


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
    args = ap.parse_args()

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
        cases_path, res_path = out_dir / f"{name}.cases.json", out_dir / f"{name}.out.json"
        cases_path.write_text(json.dumps(cases))
        subprocess.run(
            [py, str(HERE / "statsforecast_peer.py"), str(cases_path), str(res_path)], check=True
        )
        doc = json.loads(res_path.read_text())
        test = cases["cases"][0]["test"]
        print(f"== {name}: statsforecast {doc['version']}, python {doc['python']}")
        for r in doc["results"]:
            if "error" in r:
                bad += 1
                print(f"  {r['model']:8s} ERROR {r['error']}")
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
                f"  {r['model']:8s} {r['fit_predict_seconds']:7.3f}s  MAE {mae:9.2f}"
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

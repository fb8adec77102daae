#!/usr/bin/env bash
# Create (once) the Python virtual environment holding the statsforecast and Prophet
# peers used by the forecast benchmark, and print its python path.
#
#   bench/forecast/setup_venv.sh            # -> last stdout line: /path/to/venv/bin/python
#   PY=$(bench/forecast/setup_venv.sh | tail -n1)
#
# Environment:
#   PRESAGE_BENCH_VENV     venv location (default ~/.cache/presage/venv-statsforecast)
#   PRESAGE_BENCH_PYTHON   interpreter used to create the venv (default python3, needs >= 3.10;
#                          the pins below were checked with CPython 3.11)
#   PRESAGE_BENCH_NO_PROPHET=1   leave Prophet out (its rows then carry the ImportError)
#
# Prophet (pinned 1.5.0) is optional: its wheel ships the compiled Stan model and
# cmdstan, so nothing is downloaded at run time; it adds about 150 MB and 12 s. If its
# install fails, the failure is recorded in the marker (so it is not retried on every
# run; delete the venv to retry) and statsforecast's models still run.
#
# Idempotent: a marker file inside the venv records the pinned set; when it matches,
# the script only prints the path (well under a second). Only PyPI is needed, and only
# binary wheels are accepted (--only-binary), so nothing is compiled on this machine.
# Everything except the final path goes to stderr.
set -euo pipefail

VENV="${PRESAGE_BENCH_VENV:-$HOME/.cache/presage/venv-statsforecast}"
BASE_PY="${PRESAGE_BENCH_PYTHON:-python3}"
MARKER="$VENV/.presage-bench-pins"

# Full pinned closure (pip freeze of a working install, CPython 3.11, x86_64 manylinux).
# statsforecast 2.x no longer depends on numba: its hot loops are a compiled extension (_lib).
PINS="$(cat <<'EOF'
statsforecast==2.1.1
numpy==2.4.6
pandas==2.3.3
scipy==1.17.1
statsmodels==0.15.0
patsy==1.0.3
coreforecast==0.0.20
utilsforecast==0.2.17
narwhals==2.29.0
fugue==0.9.7
triad==1.0.4
adagio==0.2.6
pyarrow==26.0.1
fsspec==2026.9.0
cloudpickle==3.1.3
threadpoolctl==3.8.0
tqdm==4.70.1
formulaic==1.2.2
interface_meta==2.0.1
wrapt==2.5.2
typing_extensions==4.16.0
packaging==26.4
python-dateutil==2.9.0.post0
pytz==2026.6
tzdata==2026.6
six==1.17.0
EOF
)"
# Prophet and what it adds to the closure above (holidays needs python-dateutil < 3,
# hence 2.9.0.post0 above; pandas 2.3.3 accepts it).
PROPHET_PINS="$(cat <<'EOF'
prophet==1.5.0
cmdstanpy==1.3.2
stanio==0.5.1
holidays==0.109
matplotlib==3.11.2
contourpy==1.3.3
cycler==0.12.1
fonttools==4.68.0
kiwisolver==1.5.1
pillow==13.0.0
pyparsing==3.3.3
EOF
)"
if [[ -n "${PRESAGE_BENCH_NO_PROPHET:-}" ]]; then
    WANT="$PINS
# prophet: not wanted (PRESAGE_BENCH_NO_PROPHET)"
else
    WANT="$PINS
$PROPHET_PINS"
fi

log() { printf '[setup_venv] %s\n' "$*" >&2; }

py="$VENV/bin/python"

# Fast path: venv present, interpreter runs, marker matches the pins exactly (or records
# that Prophet's pins failed to install).
if [[ -x "$py" && -f "$MARKER" ]] && "$py" -c 'pass' 2>/dev/null \
    && { [[ "$(cat "$MARKER")" == "$WANT" ]] \
        || [[ "$(cat "$MARKER")" == "$PINS
# prophet: install failed" && -z "${PRESAGE_BENCH_NO_PROPHET:-}" ]]; }; then
    printf '%s\n' "$py"
    exit 0
fi

if ! command -v "$BASE_PY" >/dev/null 2>&1; then
    log "error: $BASE_PY not found (set PRESAGE_BENCH_PYTHON)"
    exit 1
fi
if ! "$BASE_PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    log "error: $BASE_PY is $("$BASE_PY" -V 2>&1); statsforecast 2.1.1 needs Python >= 3.10"
    exit 1
fi

# A venv whose interpreter no longer runs (base python moved/removed) is rebuilt.
if [[ -e "$VENV" ]] && ! { [[ -x "$py" ]] && "$py" -c 'pass' 2>/dev/null; }; then
    if [[ -f "$VENV/pyvenv.cfg" ]]; then
        log "venv at $VENV is broken; recreating"
        rm -rf -- "$VENV"
    else
        log "error: $VENV exists and is not a virtual environment; refusing to touch it"
        exit 1
    fi
fi

start=$(date +%s)
if [[ ! -x "$py" ]]; then
    log "creating venv at $VENV with $("$BASE_PY" -V 2>&1)"
    mkdir -p "$(dirname "$VENV")"
    "$BASE_PY" -m venv "$VENV" >&2
fi

rm -f "$MARKER"
req="$(mktemp)"
trap 'rm -f "$req"' EXIT
printf '%s\n' "$PINS" >"$req"

log "installing pinned packages (statsforecast==2.1.1 and its closure)"
"$py" -m pip install --disable-pip-version-check --no-input --only-binary=:all: \
    -r "$req" >&2

# Smoke test before writing the marker, so a broken install is retried next time.
"$py" - >&2 <<'EOF'
import importlib.metadata as md
import numpy as np
from statsforecast.models import AutoETS, MSTL  # noqa: F401
v = md.version("statsforecast")
assert v == "2.1.1", v
y = 10 + np.sin(np.arange(96) * 2 * np.pi / 12)
out = AutoETS(season_length=12).forecast(y=y, h=3, level=[90])
assert out["mean"].shape == (3,)
print(f"statsforecast {v} ok")
EOF

marker="$PINS
# prophet: not wanted (PRESAGE_BENCH_NO_PROPHET)"
if [[ -z "${PRESAGE_BENCH_NO_PROPHET:-}" ]]; then
    printf '%s\n' "$PROPHET_PINS" >"$req"
    log "installing Prophet (prophet==1.5.0 and what it adds)"
    if "$py" -m pip install --disable-pip-version-check --no-input --only-binary=:all: \
        -r "$req" >&2 \
        && "$py" - >&2 <<'EOF'
import importlib.metadata as md
import logging
import numpy as np
import pandas as pd
from prophet import Prophet
logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
v = md.version("prophet")
assert v == "1.5.0", v
ds = pd.date_range("2024-01-01", periods=96, freq="h")
m = Prophet(daily_seasonality=True, weekly_seasonality=False, yearly_seasonality=False)
m.fit(pd.DataFrame({"ds": ds, "y": 10 + np.sin(np.arange(96) * 2 * np.pi / 24)}))
fc = m.predict(pd.DataFrame({"ds": ds[-3:] + pd.Timedelta(hours=96)}))
assert fc["yhat"].shape == (3,)
print(f"prophet {v} ok")
EOF
    then
        marker="$PINS
$PROPHET_PINS"
    else
        log "Prophet did not install or run (above); statsforecast's models still run"
        marker="$PINS
# prophet: install failed"
    fi
fi
printf '%s' "$marker" >"$MARKER"
log "done in $(( $(date +%s) - start ))s; venv size $(du -sh "$VENV" 2>/dev/null | cut -f1)"
printf '%s\n' "$py"

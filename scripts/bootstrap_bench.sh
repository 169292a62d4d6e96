#!/usr/bin/env bash
# Benchmark-only environment: .venv-bench with MediaPipe Hands 0.10.14 (the multi-stage peer
# that bench/latency.py compares HandOS against). Kept apart from .venv because MediaPipe
# pulls jax and opencv-contrib (~1.2 GB). 0.10.14 is the last release that both ships the
# legacy mp.solutions.hands models in the wheel and runs on numpy 2.x.
#
# Idempotent: a stamp holding the hash of the pins makes a re-run instant.
# Usage: bash scripts/bootstrap_bench.sh      (HANDOS_PYTHON picks the interpreter)
set -eo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv-bench"
python=${HANDOS_PYTHON:-python3}
pins=(mediapipe==0.10.14 numpy==2.4.6 opencv-python-headless==5.0.0.93 psutil==7.2.2)
stamp="$venv/.handos-bench-pins"
want=$(printf '%s\n' "${pins[@]}" | sha256sum | cut -d' ' -f1)

say() { printf '[bootstrap-bench] %s\n' "$*"; }

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  say "up to date ($venv)"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  "$python" -m venv "$venv"
fi
say "installing ${pins[*]} (first run: about a minute, ~1.2 GB)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}"
# Fail here, not in the middle of a benchmark, when the legacy hand models are missing.
"$venv/bin/python" - <<'PY'
import mediapipe as mp
import numpy as np

with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=1) as hands:
    hands.process(np.zeros((48, 64, 3), np.uint8))
print("[bootstrap-bench] mediapipe", mp.__version__, "with numpy", np.__version__, "ok")
PY
echo "$want" > "$stamp"
say "ready"

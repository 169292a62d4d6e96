"""Shared by the ``bench/latency.py`` modules: frame size, stage names, the speed goal, statistics."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 640, 480
STAGES = ("preprocess_ms", "detector_ms", "side_tuning_ms", "decoder_ms", "postprocess_ms")
GOAL_RATIO_H1 = 1.0  # issue 17: HandOS at H = 1 <= 1.0x MediaPipe (static-image mode)
GOAL_MARGINAL_RATIO = 0.5  # ... and its cost per extra hand <= 0.5x MediaPipe's per hand found


def summarize(values) -> dict:
    a = np.asarray(list(values), np.float64)
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "median": float(np.median(a)), "p90": float(np.percentile(a, 90)),
            "p10": float(np.percentile(a, 10)), "mean": float(a.mean()), "min": float(a.min())}


def marginal_cost(medians: dict[int, float]) -> dict:
    """ms per extra hand: least-squares slope of median latency vs H over H >= 1, and the H=0 -> 1 step."""
    hs = sorted(h for h in medians if h >= 1)
    out: dict = {"slope_ms_per_hand": None, "intercept_ms": None, "step_0_to_1_ms": None}
    if len(hs) >= 2:
        slope, icpt = np.polyfit(np.asarray(hs, np.float64), np.asarray([medians[h] for h in hs]), 1)
        out["slope_ms_per_hand"], out["intercept_ms"] = float(slope), float(icpt)
    if 0 in medians and 1 in medians:
        out["step_0_to_1_ms"] = float(medians[1] - medians[0])
    return out


# ----------------------------------------------------------------------------- models

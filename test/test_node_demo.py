"""`python -m handos_ros.demo` end to end: synthetic_camera -> handos_node -> hands_echo, three processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ros_isolation import REPO_ROOT

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_demo_runs_end_to_end_and_saves_the_debug_image(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "handos_ros.demo", "--frames", "4", "--rate", "1", "--easy", "--out", str(out)],
        cwd=str(REPO_ROOT.parent), env=dict(os.environ), capture_output=True, text=True, timeout=400,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] >= 1 and summary["gt_frames"] == 4, summary
    assert summary["matched_hands"] + summary["missed_hands"] >= summary["frames"]  # every frame had a GT hand
    assert (out / "debug_first.png").stat().st_size > 1000
    for text in ("[camera]", "[echo] frame", "[demo] ---- summary ----", "node process alive"):
        assert text in log, text
    import cv2

    img = cv2.imread(str(out / "debug_last.png"))
    assert img is not None and img.shape == (480, 640, 3)

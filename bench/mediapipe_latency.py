"""MediaPipe Hands 0.10.14 latency on a directory of frames (runs in ``.venv-bench``, not ``.venv``).

The peer that ``bench/latency.py`` compares HandOS against: the legacy ``mp.solutions.hands``
two-stage pipeline (palm detector, then the landmark model once per detected palm), in
``static_image_mode=True`` (no tracking: every frame pays the palm detector, as HandOS pays its
detector) with ``max_num_hands`` = the frame's ground-truth hand count (at least 1).

It imports neither torch nor ``handos_model``: only numpy, OpenCV and MediaPipe.

Frames directory layout (written by ``bench/latency.py``): ``index.json`` =
``{"frames": [{"file": "h2_0003.png", "hands": 2, ...}, ...]}`` and the PNG files (RGB content,
read with OpenCV and converted BGR -> RGB, the same pixels HandOS reads).

Two modes:
    python bench/mediapipe_latency.py --frames DIR [--hands 0 1 2] [--warmup 3]
        times every frame, prints one JSON object (per frame + per hand count summary).
    python bench/mediapipe_latency.py --frames DIR --serve
        JSON lines: reads ``{"file": ..., "max_num_hands": ...[, "tracking": true]}`` per line on
        stdin, answers ``{"ms": ..., "cpu_ms": ..., "detected": ...}`` per line (lets latency.py
        interleave MediaPipe and HandOS frame by frame, so both see the same machine load).
        ``"tracking": true`` uses the video-mode graph (``static_image_mode=False``: the palm
        detector runs only when a hand is lost); ``{"cmd": "reset_tracking"}`` starts a new sequence.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def load_index(frames_dir: Path) -> list[dict]:
    with open(frames_dir / "index.json", encoding="utf-8") as f:
        return json.load(f)["frames"]


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class Runner:
    """One ``Hands`` graph per ``max_num_hands`` (graph construction is not timed)."""

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5):
        import mediapipe as mp

        self.mp = mp
        self.model_complexity = model_complexity
        self.min_detection_confidence = min_detection_confidence
        self.graphs: dict[int, object] = {}

    def graph(self, max_num_hands: int, tracking: bool = False):
        """Static-image graph, or (``tracking``) the video-mode graph that runs the palm detector only
        when it has lost a hand and otherwise tracks from the previous frame's landmarks."""
        key = (max_num_hands, tracking)
        if key not in self.graphs:
            self.graphs[key] = self.mp.solutions.hands.Hands(
                static_image_mode=not tracking,
                max_num_hands=max_num_hands,
                model_complexity=self.model_complexity,
                min_detection_confidence=self.min_detection_confidence,
            )
        return self.graphs[key]

    def reset_tracking(self) -> None:
        """Forget the tracked hands (a new frame sequence starts)."""
        for key in [k for k in self.graphs if k[1]]:
            self.graphs.pop(key).close()

    def run(self, image: np.ndarray, max_num_hands: int, tracking: bool = False) -> tuple[float, float, int]:
        """-> (wall ms, process CPU ms, hands detected)."""
        g = self.graph(max_num_hands, tracking)
        c0, t0 = time.process_time(), time.perf_counter()
        res = g.process(image)
        t1, c1 = time.perf_counter(), time.process_time()
        n = len(res.multi_hand_landmarks) if res.multi_hand_landmarks else 0
        return (t1 - t0) * 1000.0, (c1 - c0) * 1000.0, n

    def close(self) -> None:
        for g in self.graphs.values():
            g.close()


def summarize(values: list[float]) -> dict:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size),
        "median": float(np.median(a)),
        "p90": float(np.percentile(a, 90)),
        "mean": float(a.mean()),
        "min": float(a.min()),
    }


def serve(frames_dir: Path, runner: Runner) -> None:
    cache: dict[str, np.ndarray] = {}
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("cmd") == "quit":
            break
        if req.get("cmd") == "reset_tracking":
            runner.reset_tracking()
            out.write(json.dumps({"reset": True}) + "\n")
            out.flush()
            continue
        f = req["file"]
        if f not in cache:
            cache[f] = read_rgb(frames_dir / f)
        ms, cpu, n = runner.run(cache[f], int(req["max_num_hands"]), bool(req.get("tracking", False)))
        out.write(json.dumps({"ms": ms, "cpu_ms": cpu, "detected": n}) + "\n")
        out.flush()


def batch(frames_dir: Path, runner: Runner, hands: list[int] | None, warmup: int) -> dict:
    frames = [f for f in load_index(frames_dir) if hands is None or int(f["hands"]) in hands]
    images = {f["file"]: read_rgb(frames_dir / f["file"]) for f in frames}
    per_frame = []
    for h in sorted({int(f["hands"]) for f in frames}):
        group = [f for f in frames if int(f["hands"]) == h]
        mnh = max(1, h)
        for f in group[:warmup]:
            runner.run(images[f["file"]], mnh)
        for f in group:
            ms, cpu, n = runner.run(images[f["file"]], mnh)
            per_frame.append({"file": f["file"], "hands": h, "max_num_hands": mnh, "ms": ms, "cpu_ms": cpu, "detected": n})
    per_h = {}
    for h in sorted({r["hands"] for r in per_frame}):
        rows = [r for r in per_frame if r["hands"] == h]
        per_h[str(h)] = {
            "wall_ms": summarize([r["ms"] for r in rows]),
            "cpu_ms": summarize([r["cpu_ms"] for r in rows]),
            "detected_mean": float(np.mean([r["detected"] for r in rows])),
        }
    return {"per_h": per_h, "per_frame": per_frame}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=Path, required=True, help="directory with index.json and the PNG frames")
    ap.add_argument("--hands", type=int, nargs="*", help="only frames with these ground-truth hand counts")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs per hand count (batch mode)")
    ap.add_argument("--model-complexity", type=int, default=1, help="0 = lite, 1 = full (default, the shipped full models)")
    ap.add_argument("--serve", action="store_true", help="JSON-lines request/response on stdin/stdout")
    args = ap.parse_args(argv)

    import mediapipe as mp

    runner = Runner(args.model_complexity)
    info = {
        "mediapipe_version": mp.__version__,
        "numpy_version": np.__version__,
        "opencv_version": cv2.__version__,
        "api": "mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=max(1, H)); "
               "tracking requests: static_image_mode=False",
        "model_complexity": args.model_complexity,
    }
    try:
        if args.serve:
            sys.stdout.write(json.dumps({"ready": True, **info}) + "\n")
            sys.stdout.flush()
            serve(args.frames, runner)
        else:
            res = batch(args.frames, runner, args.hands, args.warmup)
            print(json.dumps({**info, **res}))
    finally:
        runner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The latency benchmark's video part: HandOS vs MediaPipe in its tracking (video) mode on a frame sequence.

In a video stream MediaPipe Hands (``static_image_mode=False``) runs its palm detector only
when it has lost a hand; otherwise the landmark model alone tracks each hand from the previous
frame. HandOS has no tracking mode: every frame pays the one-stage model. The sequence is a
``SyntheticCamera`` stream (moving hands, keyframed motion, 30 fps), the same PNG pixels for both.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
from latency_common import HEIGHT, WIDTH, summarize
from latency_runners import MediaPipeServer, run_handos_frame


def make_sequence(frames_dir: Path, n_hands: int, n_frames: int, seed: int) -> list[dict]:
    """``n_frames`` consecutive 640x480 frames of a stream with ``n_hands`` moving hands, saved as PNG."""
    from handos_model.synth.camera_stream import SyntheticCamera

    frames_dir.mkdir(parents=True, exist_ok=True)
    cam = SyntheticCamera(seed, width=WIDTH, height=HEIGHT, num_hands=n_hands, fps=30.0)
    rows = []
    for i in range(n_frames):
        frame = cam.next()
        name = f"seq_h{n_hands}_{i:04d}.png"
        cv2.imwrite(str(frames_dir / name), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        rows.append({"file": name, "hands": n_hands, "K": np.asarray(frame.K, np.float64).tolist()})
    return rows


def measure_sequence(model, frames_dir: Path, hands: list[int], n_frames: int, seed: int,  # noqa: ANN001
                     mp: MediaPipeServer, onnx_model=None) -> dict:  # noqa: ANN001
    """Per H: HandOS (``fixed_count=H``) and MediaPipe tracking mode, frame after frame of one sequence
    (written into ``frames_dir``, the folder the MediaPipe server reads); with ``onnx_model`` (the
    ONNX Runtime predictor) a second pass over the same frames times it alone (its thread pool
    and PyTorch's do not share the cores then).

    Returns ``{"per_h": {H: {"handos_wall_ms", "mediapipe_tracking_ms", "mediapipe_detected_mean",
    "ratio"[, "onnx_wall_ms", "onnx_ratio"]}}}`` (medians over the sequence after a 3-frame warm-up).
    """
    out: dict = {"frames": n_frames, "fps": 30.0, "per_h": {}}
    for h in hands:
        seq = make_sequence(frames_dir, h, n_frames + 3, seed + 1000 * h)
        mp.reset_tracking()
        hs, mps, det = [], [], []
        t0 = time.perf_counter()
        for i, f in enumerate(seq):
            image = cv2.cvtColor(cv2.imread(str(frames_dir / f["file"])), cv2.COLOR_BGR2RGB)
            m = mp.run(f["file"], h, tracking=True)
            r = run_handos_frame(model, image, np.asarray(f["K"], np.float32), h)
            if i >= 3:
                mps.append(m["ms"])
                det.append(m["detected"])
                hs.append(r["wall_ms"])
        print(f"[latency] tracking sequence H={h}: {len(seq)} frames in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        a, b = summarize(hs), summarize(mps)
        row = out["per_h"][str(h)] = {"handos_wall_ms": a, "mediapipe_tracking_ms": b,
                                      "mediapipe_detected_mean": float(np.mean(det)) if det else None,
                                      "ratio": a["median"] / b["median"] if b.get("n") else None}
        if onnx_model is not None:
            ort_ms = []
            for i, f in enumerate(seq):
                image = cv2.cvtColor(cv2.imread(str(frames_dir / f["file"])), cv2.COLOR_BGR2RGB)
                r = run_handos_frame(onnx_model, image, np.asarray(f["K"], np.float32), h)
                if i >= 3:
                    ort_ms.append(r["wall_ms"])
            c = summarize(ort_ms)
            row.update(onnx_wall_ms=c, onnx_ratio=c["median"] / b["median"] if b.get("n") else None)
    return out


def to_markdown(res: dict) -> str:
    rows = ["", "**MediaPipe tracking (video) mode** on a moving-hand sequence "
            f"({res['frames']} frames at {res['fps']:.0f} fps per H; HandOS has no tracking mode):", "",
            "| H | HandOS ms (PyTorch) | HandOS ms (ONNX Runtime) | MediaPipe tracking ms | hands it found | "
            "HandOS / MediaPipe tracking (PyTorch; ONNX Runtime) |",
            "|---|---|---|---|---|---|"]

    def f(x: float | None, fmt: str = ".2f") -> str:
        return "n/a" if x is None else format(x, fmt)

    for h, r in res["per_h"].items():
        found = f(r["mediapipe_detected_mean"])
        ort = r.get("onnx_wall_ms", {}).get("median")
        rows.append(f"| {h} | {r['handos_wall_ms']['median']:.1f} | {f(ort, '.1f')} | "
                    f"{r['mediapipe_tracking_ms']['median']:.1f} | {found} | {f(r['ratio'])}; {f(r.get('onnx_ratio'))} |")
    return "\n".join(rows) + "\n"



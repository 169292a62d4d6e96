"""ONNX Runtime vs PyTorch on the same frames: same hands? how far apart?

Used by ``handos-export --check`` (fp32 and int8), ``bench/onnx_latency.py`` and the tests.
Hands of the two backends are paired by box IoU (``metrics.match_by_iou``, Hungarian), then
every field is compared: 2D joints in % of the hand's box (``metrics.box_size``, the PCK
normaliser), 3D in millimetres, side agreement.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import box_size, match_by_iou
from ..prediction import HandPrediction

# the ROS node's default filtering (handos_ros parameters): what a deployment sees
NODE_THRESHOLDS = {"score_threshold": 0.3, "nms_threshold": 0.9, "max_hands": 4}


def synthetic_frames(n: int, seed: int = 0, width: int = 640, height: int = 480) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` (image (H, W, 3) uint8, K (3, 3)) pairs from ``SyntheticCamera``: every other one an easy
    scene (one big hand), the others cluttered scenes with 1-3 hands; each from its own stream."""
    from ..synth.camera_stream import SyntheticCamera

    frames = []
    for i in range(n):
        cam = SyntheticCamera(seed=seed + i, width=width, height=height, num_hands=1 + (i // 2) % 3, easy=i % 2 == 0)
        sample = cam.frame(3 * i)
        frames.append((np.asarray(sample.image, np.uint8), np.asarray(sample.K, np.float32)))
    return frames


def hand_differences(ref: HandPrediction, got: HandPrediction) -> dict[str, float]:
    """Field-by-field distance of two predictions of the same hand (``ref`` sets the box scale).

    Returns: ``score`` (abs), ``box_px`` (max abs corner), ``joints_2d_pct`` / ``joints_2d_proj_pct``
    (mean and ``_max`` joint distance in % of ``box_size(ref.box)``), ``joints_3d_mm`` / ``vertices_mm``
    (max point distance), ``cam_t_mm``, ``same_side`` (1.0 / 0.0).
    """
    scale = max(box_size(ref.box), 1e-6) / 100.0

    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)

    j2d = dist(ref.joints_2d, got.joints_2d) / scale
    jpr = dist(ref.joints_2d_proj, got.joints_2d_proj) / scale
    return {
        "score": abs(ref.score - got.score),
        "box_px": float(np.abs(ref.box - got.box).max()),
        "joints_2d_pct": float(j2d.mean()),
        "joints_2d_pct_max": float(j2d.max()),
        "joints_2d_proj_pct": float(jpr.mean()),
        "joints_2d_proj_pct_max": float(jpr.max()),
        "joints_3d_mm": float(dist(ref.joints_3d, got.joints_3d).max() * 1e3),
        "vertices_mm": float(dist(ref.vertices, got.vertices).max() * 1e3) if len(ref.vertices) else 0.0,
        "cam_t_mm": float(dist(ref.cam_t, got.cam_t) * 1e3),
        "same_side": float(ref.side == got.side),
    }


def compare_frames(ref_frames: list[list[HandPrediction]], got_frames: list[list[HandPrediction]]) -> dict:
    """Summary over frames: hand counts, unmatched hands, and the mean / max of each difference."""
    rows: list[dict[str, float]] = []
    same_count = unmatched = 0
    for ref, got in zip(ref_frames, got_frames, strict=True):
        same_count += len(ref) == len(got)
        pairs = match_by_iou(np.array([g.box for g in got]), np.array([r.box for r in ref]), 0.5)
        unmatched += len(ref) + len(got) - 2 * len(pairs)
        rows += [hand_differences(ref[r], got[g]) for g, r, _ in pairs]
    summary: dict = {
        "frames": len(ref_frames),
        "hands_ref": sum(len(r) for r in ref_frames),
        "hands_got": sum(len(g) for g in got_frames),
        "frames_same_count": same_count,
        "unmatched_hands": unmatched,
        "matched_hands": len(rows),
    }
    for key in rows[0] if rows else ():
        vals = np.array([r[key] for r in rows])
        summary[key] = {"mean": float(vals.mean()), "max": float(vals.max())}
    return summary


def summary_line(summary: dict) -> str:
    """One line of a :func:`compare_frames` summary: hand counts, 2D in % of the box, 3D in mm, sides."""
    nan = {"mean": float("nan"), "max": float("nan")}
    j, v, t = (summary.get(k, nan) for k in ("joints_2d_pct", "vertices_mm", "cam_t_mm"))
    return (f"{summary['frames']} frames, hands {summary['hands_ref']} -> {summary['hands_got']} "
            f"({summary['unmatched_hands']} unmatched); 2D joints {j['mean']:.4f}% of the box (mean), "
            f"worst hand {j['max']:.4f}%; vertices max {v['max']:.3f} mm, cam_t mean {t['mean']:.3f} mm; "
            f"same side {summary.get('same_side', nan)['mean']:.2f}")


def compare_backends(model, onnx_dir: str | Path, num_frames: int, precision: str = "fp32",  # noqa: ANN001
                     num_threads: int = 2, thresholds: dict | None = None, seed: int = 0) -> dict:
    """PyTorch ``model`` (a HandOS) vs its ONNX export in ``onnx_dir`` on ``num_frames`` synthetic
    640x480 frames at ``thresholds`` (default the node's) -> :func:`compare_frames` summary."""
    from ..predictor import HandPredictor
    from .onnx_runtime import load_onnx_model

    torch_pred = HandPredictor(model.eval())
    onnx_pred = load_onnx_model(onnx_dir, num_threads=num_threads, precision=precision)
    th = dict(NODE_THRESHOLDS if thresholds is None else thresholds)
    ref, got = [], []
    for image, K in synthetic_frames(num_frames, seed=seed):
        ref.append(torch_pred.predict(image, K, **th))
        got.append(onnx_pred.predict(image, K, **th))
    return {"precision": precision, "thresholds": th, **compare_frames(ref, got)}

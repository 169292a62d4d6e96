"""``handos-eval``: run a HandOS model over a dataset and report the paper's metrics.

    handos-eval --weights PATH_OR_default --data DATA [--out DIR] [--max-samples N]

``DATA`` is a dataset YAML (see ``handos_model.data.mixed``) or a folder written by
the synthetic engine. The model sees each full image with its intrinsics
(``model.predict(image, K)``), exactly as deployed: no ground-truth boxes or sides.
Predictions are matched to the ground truth by box IoU and scored with
``handos_model.metrics``; undetected hands are scored with V = 0 (3D metrics) and 0
(PCK/AUC) as in the paper. Results go to ``DIR/metrics.json`` and ``DIR/metrics.md``
(overall and per dataset source).

``evaluate_predictions`` is the pure aggregation (ground truth + predictions in,
metric dict out) and ``evaluate_model`` runs any object with a ``predict(image, K)``
method; ``main`` only adds argument parsing and weight loading.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..data.schema import CorruptSampleError, HandAnnotation, Sample
from ..metrics import (
    F_THRESHOLDS_M,
    IOU_THRESHOLD,
    PCK_THRESHOLDS,
    auc_3d,
    detection_recall,
    f_score,
    match_by_iou,
    mean_point_error_mm,
    pa_mpjpe,
    pck_2d,
    procrustes_align,
    procrustes_transform,
    side_precision,
)
from ..prediction import HandPrediction

log = logging.getLogger("handos.eval")

MATCHING = "Hungarian one-to-one matching on box IoU >= threshold (most matches, then highest total IoU)"


class Predictor(Protocol):
    def predict(self, image: np.ndarray, K: np.ndarray) -> list[HandPrediction]: ...


def _hands(item: Sample | Sequence[HandAnnotation]) -> list[HandAnnotation]:
    return list(item.hands) if isinstance(item, Sample) else list(item)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _absolute(points: np.ndarray, cam_t: np.ndarray | None) -> np.ndarray:
    """Wrist-relative ground truth -> camera frame (Procrustes ignores the offset, but keep frames honest)."""
    p = np.asarray(points, dtype=np.float64)
    return p if cam_t is None else p + np.asarray(cam_t, dtype=np.float64)


def evaluate_predictions(
    samples_gt: Sequence[Sample | Sequence[HandAnnotation]],
    predictions: Sequence[Sequence[HandPrediction]],
    iou_threshold: float = IOU_THRESHOLD,
    pck_thresholds: tuple[float, ...] = PCK_THRESHOLDS,
    num_model_vertices: int | None = None,
) -> dict[str, Any]:
    """Aggregate all metrics over a set of images.

    Args:
        samples_gt: per image, a ``Sample`` or just its list of ``HandAnnotation``.
        predictions: per image, the model's ``HandPrediction`` list (same order).
        iou_threshold: a ground-truth hand is detected when matched with IoU >= this.
        num_model_vertices: the model's mesh vertex count (default: read from the
            predictions). When it differs from a ground-truth mesh (e.g. the open hand
            model against FreiHAND's MANO), that hand gets no PA-MPVPE — missed hands
            included — and its F-score uses the joint alignment (FreiHAND protocol).
    Returns:
        dict with counts (``num_images``, ``num_gt_hands``, ``num_predictions``,
        ``num_detected``, ``num_hands_3d``, ``num_hands_mesh``, ``num_hands_2d``),
        ``detection_recall``, ``side_precision``, ``pa_mpjpe_mm``, ``pa_mpvpe_mm``,
        ``f_score_5mm``, ``f_score_15mm``, ``auc_3d``, ``pck_2d`` and ``pck_proj``
        (dicts threshold -> value; HandOS-2D and HandOS-proj joints). Means run over
        ground-truth hands that have the needed annotation, missed hands included;
        a metric without any such hand is None.
        Not aligned, over DETECTED hands only (what a robot reading the 3D output gets):
        ``mpjpe_mm`` (root-relative MPJPE in camera axes: the hand's orientation counts),
        ``wrist_error_mm`` (median distance of the predicted wrist from the true one, camera
        frame: the TF origin) and ``wrist_depth_rel_error`` (median |z - z_gt| / z_gt).
    """
    if len(samples_gt) != len(predictions):
        raise ValueError(f"{len(samples_gt)} ground-truth images but {len(predictions)} prediction lists")
    num_gt = num_pred = num_detected = 0
    pred_sides: list[int] = []
    gt_sides: list[int] = []
    pj: list[float] = []
    pv: list[float] = []
    aucs: list[float] = []
    fs: dict[float, list[float]] = {t: [] for t in F_THRESHOLDS_M}
    pck2: list[np.ndarray] = []
    pckp: list[np.ndarray] = []
    rr: list[float] = []
    wrist_err: list[float] = []
    depth_err: list[float] = []
    num_mesh_mismatch = 0
    if num_model_vertices is None:
        num_model_vertices = next((len(p.vertices) for ps in predictions for p in ps), None)
    for item, preds in zip(samples_gt, predictions, strict=True):
        gts = _hands(item)
        preds = list(preds)
        num_gt += len(gts)
        num_pred += len(preds)
        matches = match_by_iou([p.box for p in preds], [g.box for g in gts], iou_threshold)
        pred_of = {gi: pi for pi, gi, _ in matches}
        for gi, g in enumerate(gts):
            p = preds[pred_of[gi]] if gi in pred_of else None
            if p is not None:
                num_detected += 1
                pred_sides.append(int(p.side))
                gt_sides.append(int(g.side))
            gt_j = pred_j = None
            if g.joints_3d is not None:
                gt_j = _absolute(g.joints_3d, g.cam_t)
                pred_j = np.zeros_like(gt_j) if p is None else np.asarray(p.joints_3d, np.float64)
                pj.append(pa_mpjpe(pred_j, gt_j))
                aucs.append(auc_3d(pred_j, gt_j) if p is not None else 0.0)
                if p is not None:
                    rr.append(mean_point_error_mm(pred_j - pred_j[0], gt_j - gt_j[0]))
                    if g.cam_t is not None:
                        wrist_err.append(1000.0 * float(np.linalg.norm(pred_j[0] - gt_j[0])))
                        depth_err.append(abs(float(pred_j[0, 2] - gt_j[0, 2])) / max(float(gt_j[0, 2]), 1e-6))
            if g.vertices is not None:
                gt_v = _absolute(g.vertices, g.cam_t)
                if p is None:  # V = 0 with the model's vertex count
                    pred_v = np.zeros((num_model_vertices or len(gt_v), 3))
                else:
                    pred_v = np.asarray(p.vertices, np.float64)
                aligned = None
                if pred_v.shape == gt_v.shape:
                    aligned = procrustes_align(pred_v, gt_v)
                    pv.append(mean_point_error_mm(aligned, gt_v))
                else:
                    # Different mesh topology: FreiHAND moves the vertices with the joint alignment
                    # and reports only the F-score.
                    num_mesh_mismatch += 1
                    if gt_j is not None:
                        R, s, t = procrustes_transform(pred_j, gt_j)
                        aligned = s * pred_v @ R.T + t
                if aligned is not None:
                    for t_m in F_THRESHOLDS_M:
                        fs[t_m].append(f_score(aligned, gt_v, t_m)[0])
            vis = g.visibility
            if g.joints_2d is not None and (vis is None or np.any(np.asarray(vis) > 0)):
                if p is None:
                    pck2.append(np.zeros(len(pck_thresholds)))
                    pckp.append(np.zeros(len(pck_thresholds)))
                else:
                    pck2.append(pck_2d(p.joints_2d, g.joints_2d, g.box, vis, pck_thresholds))
                    pckp.append(pck_2d(p.joints_2d_proj, g.joints_2d, g.box, vis, pck_thresholds))

    def pck_dict(rows: list[np.ndarray]) -> dict[str, float | None]:
        mean = np.mean(rows, axis=0) if rows else [None] * len(pck_thresholds)
        return {f"{a:g}": (None if m is None else float(m)) for a, m in zip(pck_thresholds, mean, strict=True)}

    return {
        "num_images": len(samples_gt),
        "num_gt_hands": num_gt,
        "num_predictions": num_pred,
        "num_detected": num_detected,
        "num_hands_3d": len(pj),
        "num_hands_mesh": len(fs[F_THRESHOLDS_M[0]]),
        "num_hands_mesh_topology_mismatch": num_mesh_mismatch,
        "num_hands_2d": len(pck2),
        "detection_recall": detection_recall(num_detected, num_gt),
        "side_precision": side_precision(pred_sides, gt_sides),
        "pa_mpjpe_mm": _mean(pj),
        "pa_mpvpe_mm": _mean(pv),
        "f_score_5mm": _mean(fs[F_THRESHOLDS_M[0]]),
        "f_score_15mm": _mean(fs[F_THRESHOLDS_M[1]]),
        "auc_3d": _mean(aucs),
        "mpjpe_mm": _mean(rr),
        "wrist_error_mm": float(np.median(wrist_err)) if wrist_err else None,
        "wrist_depth_rel_error": float(np.median(depth_err)) if depth_err else None,
        "pck_2d": pck_dict(pck2),
        "pck_proj": pck_dict(pckp),
        "iou_threshold": iou_threshold,
        "matching": MATCHING,
    }


def run_model(
    model: Predictor, dataset: Sequence[Sample], max_samples: int | None = None
) -> tuple[list[list[HandAnnotation]], list[list[HandPrediction]], list[str], int]:
    """Predict every image of ``dataset`` (first ``max_samples``); corrupt samples are skipped and counted.

    Returns:
        (ground-truth hands per image, predictions per image, source per image, corrupt count).
    """
    n = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    gts: list[list[HandAnnotation]] = []
    preds: list[list[HandPrediction]] = []
    sources: list[str] = []
    corrupt = 0
    t0 = time.perf_counter()
    for i in range(n):
        try:
            sample = dataset[i]
        except CorruptSampleError as e:
            corrupt += 1
            log.warning("skipping sample %d: %s", i, e)
            continue
        preds.append(list(model.predict(sample.image, sample.K)))
        gts.append(list(sample.hands))
        sources.append(sample.source or "unknown")
        if (i + 1) % 100 == 0:
            log.info("%d/%d images, %.1f s", i + 1, n, time.perf_counter() - t0)
    return gts, preds, sources, corrupt


def evaluate_model(
    model: Predictor,
    dataset: Sequence[Sample],
    out_dir: str | Path | None = None,
    max_samples: int | None = None,
    iou_threshold: float = IOU_THRESHOLD,
) -> dict[str, Any]:
    """Run ``model`` over ``dataset``, score it overall and per source, optionally write the report.

    Returns:
        ``{"overall": metrics, "per_source": {source: metrics}, "num_corrupt": int}``;
        with ``out_dir``, the same as ``metrics.json`` plus a ``metrics.md`` table.
    """
    gts, preds, sources, corrupt = run_model(model, dataset, max_samples)
    topology = getattr(model, "topology", None)
    nv = getattr(topology, "num_vertices", None)
    nv = int(nv) if isinstance(nv, int | np.integer) else None
    result: dict[str, Any] = {
        "overall": evaluate_predictions(gts, preds, iou_threshold, num_model_vertices=nv),
        "per_source": {},
        "num_corrupt": corrupt,
    }
    for src in sorted(set(sources)):
        idx = [i for i, s in enumerate(sources) if s == src]
        result["per_source"][src] = evaluate_predictions(
            [gts[i] for i in idx], [preds[i] for i in idx], iou_threshold, num_model_vertices=nv
        )
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (out / "metrics.md").write_text(format_markdown(result), encoding="utf-8")
    return result


ROWS = (
    ("images", "num_images", "{:d}"),
    ("GT hands", "num_gt_hands", "{:d}"),
    ("detection recall (IoU >= 0.5)", "detection_recall", "{:.3f}"),
    ("left/right precision", "side_precision", "{:.3f}"),
    ("PA-MPJPE (mm)", "pa_mpjpe_mm", "{:.2f}"),
    ("PA-MPVPE (mm)", "pa_mpvpe_mm", "{:.2f}"),
    ("F@5mm", "f_score_5mm", "{:.3f}"),
    ("F@15mm", "f_score_15mm", "{:.3f}"),
    ("AUC 3D PCK 0-50 mm", "auc_3d", "{:.3f}"),
    ("MPJPE, root-relative, not aligned (mm; detected)", "mpjpe_mm", "{:.1f}"),
    ("wrist position error, median (mm; detected)", "wrist_error_mm", "{:.1f}"),
    ("wrist depth error / depth, median (detected)", "wrist_depth_rel_error", "{:.3f}"),
)


def _cell(value: Any, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def format_markdown(result: dict[str, Any]) -> str:
    """A markdown table: one row per metric, one column per group (overall + each source)."""
    groups = [("overall", result["overall"])] + sorted(result.get("per_source", {}).items())
    if len(groups) == 2 and groups[1][1] == groups[0][1]:
        groups = groups[1:]  # a single source: the overall column would repeat it
    lines = ["| metric | " + " | ".join(g for g, _ in groups) + " |", "|---" * (len(groups) + 1) + "|"]
    for label, key, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(m[key], fmt) for _, m in groups) + " |")
    for kind, label in (("pck_2d", "PCK 2D"), ("pck_proj", "PCK proj")):
        for a in groups[0][1][kind]:
            lines.append(f"| {label}@{a} | " + " | ".join(_cell(m[kind][a], "{:.3f}") for _, m in groups) + " |")
    notes = [
        "",
        f"Matching: {MATCHING}. Missed hands count with V = 0 in the 3D metrics and 0 in PCK/AUC (paper Sec. 4.2).",
        "PCK thresholds are fractions of max(w, h) of the ground-truth box; the PA-/F-/AUC 3D metrics use "
        "Procrustes alignment with scale (FreiHAND protocol); MPJPE and the wrist errors are not aligned and "
        "cover detected hands only.",
    ]
    if result.get("num_corrupt"):
        notes.append(f"Corrupt samples skipped: {result['num_corrupt']}.")
    return "\n".join(lines + notes) + "\n"


def resolve_weights(weights: str) -> Path:
    """``"default"`` -> the model shipped in ``handos_model/weights/``; otherwise the given path."""
    if weights.lower() != "default":
        return Path(weights)
    from .. import WEIGHTS_DIR

    found = sorted(WEIGHTS_DIR.glob("*.safetensors"))
    preferred = [p for p in found if "default" in p.stem]
    if len(preferred) == 1 or len(found) == 1:
        return (preferred or found)[0]
    if not found:
        raise FileNotFoundError(f"no shipped weights in {WEIGHTS_DIR}; pass --weights PATH")
    raise FileNotFoundError(f"several weights in {WEIGHTS_DIR} ({[p.name for p in found]}); pass --weights PATH")


def build_eval_dataset(data: str | Path) -> Any:
    """A dataset YAML (``handos_model.data.mixed``) or a synthetic-data folder -> dataset."""
    from ..data.mixed import build_dataset, load_dataset_config

    path = Path(data)
    if path.is_dir():
        return build_dataset({"type": "synthetic", "root": str(path)})
    if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
        return load_dataset_config(path)
    raise FileNotFoundError(f"--data must be a dataset YAML file or a synthetic-data folder, got {data}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="handos-eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="default", help="weights .safetensors (or its .json), or 'default'")
    ap.add_argument("--data", required=True, help="dataset YAML (see handos_model.data.mixed) or synthetic folder")
    ap.add_argument("--out", default=None, help="folder for metrics.json and metrics.md")
    ap.add_argument("--max-samples", type=int, default=None, help="evaluate only the first N images")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    ap.add_argument("--iou", type=float, default=IOU_THRESHOLD, help="IoU for a detection to count (default 0.5)")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from ..checkpoint import load_model

    model = load_model(resolve_weights(args.weights), args.device)
    dataset = build_eval_dataset(args.data)
    result = evaluate_model(model, dataset, args.out, args.max_samples, args.iou)
    sys.stdout.write(format_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

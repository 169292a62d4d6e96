"""The evaluation's aggregation: ground truth + predictions of a set of images -> the paper's metrics.

Predictions are matched to the ground truth by box IoU (``metrics.match_by_iou``); undetected
hands are scored with V = 0 (3D metrics) and 0 (PCK/AUC) as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data.schema import HandAnnotation, Sample
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

MATCHING = "Hungarian one-to-one matching on box IoU >= threshold (most matches, then highest total IoU)"


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
    if num_model_vertices is None:
        num_model_vertices = next((len(p.vertices) for ps in predictions for p in ps), None)
    scores = _Scores(pck_thresholds, num_model_vertices)
    for item, preds in zip(samples_gt, predictions, strict=True):
        gts = _hands(item)
        preds = list(preds)
        scores.num_gt += len(gts)
        scores.num_pred += len(preds)
        matches = match_by_iou([p.box for p in preds], [g.box for g in gts], iou_threshold)
        pred_of = {gi: pi for pi, gi, _ in matches}
        for gi, g in enumerate(gts):
            scores.add_hand(g, preds[pred_of[gi]] if gi in pred_of else None)
    return {"num_images": len(samples_gt), **scores.result(), "iou_threshold": iou_threshold, "matching": MATCHING}


class _Scores:
    """Per-hand metric values of a set of images; :meth:`result` averages them."""

    def __init__(self, pck_thresholds: tuple[float, ...], num_model_vertices: int | None) -> None:
        self.pck_thresholds = pck_thresholds
        self.num_model_vertices = num_model_vertices
        self.num_gt = self.num_pred = self.num_detected = self.num_mesh_mismatch = 0
        self.pred_sides: list[int] = []
        self.gt_sides: list[int] = []
        self.pj: list[float] = []
        self.pv: list[float] = []
        self.aucs: list[float] = []
        self.fs: dict[float, list[float]] = {t: [] for t in F_THRESHOLDS_M}
        self.pck2: list[np.ndarray] = []
        self.pckp: list[np.ndarray] = []
        self.rr: list[float] = []
        self.wrist_err: list[float] = []
        self.depth_err: list[float] = []

    def add_hand(self, g: HandAnnotation, p: HandPrediction | None) -> None:
        """One ground-truth hand and its matched prediction (None: missed)."""
        if p is not None:
            self.num_detected += 1
            self.pred_sides.append(int(p.side))
            self.gt_sides.append(int(g.side))
        gt_j, pred_j = self._add_joints_3d(g, p)
        if g.vertices is not None:
            self._add_mesh(g, p, gt_j, pred_j)
        self._add_2d(g, p)

    def _add_joints_3d(self, g: HandAnnotation, p: HandPrediction | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        if g.joints_3d is None:
            return None, None
        gt_j = _absolute(g.joints_3d, g.cam_t)
        pred_j = np.zeros_like(gt_j) if p is None else np.asarray(p.joints_3d, np.float64)
        self.pj.append(pa_mpjpe(pred_j, gt_j))
        self.aucs.append(auc_3d(pred_j, gt_j) if p is not None else 0.0)
        if p is not None:
            self.rr.append(mean_point_error_mm(pred_j - pred_j[0], gt_j - gt_j[0]))
            if g.cam_t is not None:
                self.wrist_err.append(1000.0 * float(np.linalg.norm(pred_j[0] - gt_j[0])))
                self.depth_err.append(abs(float(pred_j[0, 2] - gt_j[0, 2])) / max(float(gt_j[0, 2]), 1e-6))
        return gt_j, pred_j

    def _add_mesh(
        self, g: HandAnnotation, p: HandPrediction | None, gt_j: np.ndarray | None, pred_j: np.ndarray | None
    ) -> None:
        gt_v = _absolute(g.vertices, g.cam_t)
        if p is None:  # V = 0 with the model's vertex count
            pred_v = np.zeros((self.num_model_vertices or len(gt_v), 3))
        else:
            pred_v = np.asarray(p.vertices, np.float64)
        aligned = None
        if pred_v.shape == gt_v.shape:
            aligned = procrustes_align(pred_v, gt_v)
            self.pv.append(mean_point_error_mm(aligned, gt_v))
        else:
            # Different mesh topology: FreiHAND moves the vertices with the joint alignment
            # and reports only the F-score.
            self.num_mesh_mismatch += 1
            if gt_j is not None:
                R, s, t = procrustes_transform(pred_j, gt_j)
                aligned = s * pred_v @ R.T + t
        if aligned is not None:
            for t_m in F_THRESHOLDS_M:
                self.fs[t_m].append(f_score(aligned, gt_v, t_m)[0])

    def _add_2d(self, g: HandAnnotation, p: HandPrediction | None) -> None:
        vis = g.visibility
        if g.joints_2d is None or not (vis is None or np.any(np.asarray(vis) > 0)):
            return
        if p is None:
            self.pck2.append(np.zeros(len(self.pck_thresholds)))
            self.pckp.append(np.zeros(len(self.pck_thresholds)))
        else:
            self.pck2.append(pck_2d(p.joints_2d, g.joints_2d, g.box, vis, self.pck_thresholds))
            self.pckp.append(pck_2d(p.joints_2d_proj, g.joints_2d, g.box, vis, self.pck_thresholds))

    def _pck_dict(self, rows: list[np.ndarray]) -> dict[str, float | None]:
        mean = np.mean(rows, axis=0) if rows else [None] * len(self.pck_thresholds)
        return {f"{a:g}": (None if m is None else float(m)) for a, m in zip(self.pck_thresholds, mean, strict=True)}

    def result(self) -> dict[str, Any]:
        f5, f15 = (self.fs[t] for t in F_THRESHOLDS_M)
        return {
            "num_gt_hands": self.num_gt,
            "num_predictions": self.num_pred,
            "num_detected": self.num_detected,
            "num_hands_3d": len(self.pj),
            "num_hands_mesh": len(f5),
            "num_hands_mesh_topology_mismatch": self.num_mesh_mismatch,
            "num_hands_2d": len(self.pck2),
            "detection_recall": detection_recall(self.num_detected, self.num_gt),
            "side_precision": side_precision(self.pred_sides, self.gt_sides),
            "pa_mpjpe_mm": _mean(self.pj),
            "pa_mpvpe_mm": _mean(self.pv),
            "f_score_5mm": _mean(f5),
            "f_score_15mm": _mean(f15),
            "auc_3d": _mean(self.aucs),
            "mpjpe_mm": _mean(self.rr),
            "wrist_error_mm": float(np.median(self.wrist_err)) if self.wrist_err else None,
            "wrist_depth_rel_error": float(np.median(self.depth_err)) if self.depth_err else None,
            "pck_2d": self._pck_dict(self.pck2),
            "pck_proj": self._pck_dict(self.pckp),
        }

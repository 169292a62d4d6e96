"""Evaluation metrics of HandOS (paper Sec. 4 and supplement Sec. VII), one function each.

Units: 3D inputs are metres, 3D errors are reported in millimetres; 2D inputs are
pixels. The definitions follow the public evaluation code of the benchmarks:

- Procrustes alignment with scale, PA-MPJPE / PA-MPVPE and the F-score follow the
  FreiHAND evaluation (``lmb-freiburg/freihand/eval.py``: ``align_w_scale``,
  ``calculate_fscore``), which HO-3D and DexYCB reuse. Joints and vertices are
  aligned separately; when the predicted mesh has a different vertex count than the
  ground truth, the vertices are moved with the joint alignment and PA-MPVPE is
  undefined (the F-score still is).
- 3D AUC: area under the 3D PCK curve (error <= t) for t in ``linspace(0, 50 mm, 100)``,
  normalised to [0, 1] (FreiHAND ``EvalUtil.get_measures``; DexYCB ``hpe_eval.py``
  uses these 0-50 mm / 100 steps), computed on Procrustes-aligned joints like PA-MPJPE.
- 2D PCK@a: a joint is correct when its pixel error is < a x box size, with box size
  = max(w, h) of the ground-truth box (supplement Sec. VII: "0.05, 0.1, and 0.15 box
  size"); only joints with visibility > 0 count; the PCK of a hand is the fraction of
  its counted joints that are correct.
- Detection: predictions are matched one-to-one to ground-truth hands of the same
  image by box IoU (``match_by_iou``); a ground-truth hand is detected when it is
  matched with IoU >= 0.5. Detection recall = detected / all ground-truth hands;
  left/right precision = detected hands whose predicted side equals the annotated
  side / detected hands with an annotated side.
- Missed hands (paper Sec. 4.2): "we use V = 0 for 3D metrics and set 0 for PCK/AUC":
  an undetected hand is scored with an all-zero predicted mesh/joints through the
  same 3D metrics, and with PCK = 0 and AUC = 0 (``evaluate_predictions`` in
  ``engine/evaluate.py`` applies this rule).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

PCK_THRESHOLDS = (0.05, 0.1, 0.15)
F_THRESHOLDS_M = (0.005, 0.015)
AUC_MIN_MM, AUC_MAX_MM, AUC_STEPS = 0.0, 50.0, 100
IOU_THRESHOLD = 0.5


def procrustes_transform(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Similarity transform (R, s, t) minimising ``|| s * pred @ R.T + t - gt ||`` (FreiHAND protocol).

    Same as FreiHAND's ``align_w_scale``: both point sets are centred and normalised
    by their Frobenius norm (+1e-8), ``R`` is the orthogonal Procrustes solution
    (reflections are not excluded, as in ``scipy.linalg.orthogonal_procrustes``).
    A degenerate prediction (all points equal, e.g. the all-zero "missed" mesh) gets
    scale 0, i.e. it collapses onto the centroid of ``gt``.

    Args:
        pred, gt: (N, 3) corresponding points.
    Returns:
        R (3, 3), s (float), t (3,) so that ``aligned = s * pred @ R.T + t``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"point sets must have equal (N, D) shapes, got {pred.shape} and {gt.shape}")
    mu_p, mu_g = pred.mean(axis=0), gt.mean(axis=0)
    p, g = pred - mu_p, gt - mu_g
    n_p = np.linalg.norm(p) + 1e-8
    n_g = np.linalg.norm(g) + 1e-8
    p, g = p / n_p, g / n_g
    # scipy.linalg.orthogonal_procrustes(g, p) = U V^T with U S V^T = svd(g^T p), scale = sum(S);
    # FreiHAND then moves the prediction with p @ R^T.
    u, sv, vt = np.linalg.svd(g.T @ p)
    R = u @ vt
    s = float(sv.sum()) * n_g / n_p
    t = mu_g - s * mu_p @ R.T
    return R, s, t


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred`` (N, 3) after the similarity transform that best fits it to ``gt`` (N, 3)."""
    R, s, t = procrustes_transform(pred, gt)
    return s * np.asarray(pred, dtype=np.float64) @ R.T + t


def mean_point_error_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean Euclidean distance between corresponding (N, 3) points, metres in -> millimetres out."""
    return float(np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1).mean() * 1000.0)


def pa_mpjpe(pred_joints: np.ndarray, gt_joints: np.ndarray) -> float:
    """PA-MPJPE in mm of one hand: (21, 3) metres each, predicted joints aligned to the ground truth."""
    return mean_point_error_mm(procrustes_align(pred_joints, gt_joints), gt_joints)


def pa_mpvpe(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> float:
    """PA-MPVPE in mm of one hand: (V, 3) metres each (same topology), vertices aligned to vertices."""
    return mean_point_error_mm(procrustes_align(pred_vertices, gt_vertices), gt_vertices)


def f_score(pred_points: np.ndarray, gt_points: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """F-score between two point sets at a distance threshold (metres), FreiHAND's definition.

    precision = fraction of predicted points whose nearest ground-truth point is closer
    than ``threshold``; recall = fraction of ground-truth points whose nearest predicted
    point is closer than ``threshold``; F = 2 P R / (P + R) (0 when both are 0). The
    sets may differ in size. FreiHAND reports it on Procrustes-aligned vertices.

    Args:
        pred_points: (M, 3); gt_points: (N, 3).
    Returns:
        (f, precision, recall).
    """
    pred = np.asarray(pred_points, dtype=np.float64).reshape(-1, 3)
    gt = np.asarray(gt_points, dtype=np.float64).reshape(-1, 3)
    if len(pred) == 0 or len(gt) == 0:
        return 0.0, 0.0, 0.0
    d_pred, _ = cKDTree(gt).query(pred)  # each predicted point -> closest gt point
    d_gt, _ = cKDTree(pred).query(gt)  # each gt point -> closest predicted point
    precision = float(np.mean(d_pred < threshold))
    recall = float(np.mean(d_gt < threshold))
    f = 2.0 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return f, precision, recall


def box_size(box: np.ndarray) -> float:
    """max(w, h) of an ``[x0, y0, x1, y1]`` box, the PCK normaliser."""
    b = np.asarray(box, dtype=np.float64).reshape(4)
    return float(max(b[2] - b[0], b[3] - b[1]))


def pck_2d(
    pred_2d: np.ndarray,
    gt_2d: np.ndarray,
    gt_box: np.ndarray,
    visibility: np.ndarray | None = None,
    thresholds: tuple[float, ...] = PCK_THRESHOLDS,
) -> np.ndarray | None:
    """2D PCK of one hand at each threshold (fraction of box size).

    Args:
        pred_2d, gt_2d: (21, 2) pixels.
        gt_box: (4,) ground-truth ``[x0, y0, x1, y1]``; its max(w, h) scales the thresholds.
        visibility: (21,), joints with 0 are ignored; None = all joints count.
    Returns:
        (T,) fractions of counted joints with error < threshold x box size, or None when
        the hand has no counted joint.
    """
    err = np.linalg.norm(np.asarray(pred_2d, np.float64) - np.asarray(gt_2d, np.float64), axis=-1)
    mask = np.ones(len(err), bool) if visibility is None else np.asarray(visibility).reshape(-1) > 0
    if not mask.any():
        return None
    size = box_size(gt_box)
    return np.array([np.mean(err[mask] < a * size) for a in thresholds], dtype=np.float64)


def pck_curve_3d(
    errors_mm: np.ndarray,
    min_mm: float = AUC_MIN_MM,
    max_mm: float = AUC_MAX_MM,
    steps: int = AUC_STEPS,
) -> tuple[np.ndarray, np.ndarray]:
    """3D PCK curve: fraction of errors <= t for t in ``linspace(min_mm, max_mm, steps)``.

    Returns:
        (thresholds (steps,), pck (steps,)).
    """
    thresholds = np.linspace(min_mm, max_mm, steps)
    e = np.asarray(errors_mm, dtype=np.float64).reshape(-1)
    return thresholds, np.array([np.mean(e <= t) for t in thresholds], dtype=np.float64)


def auc(thresholds: np.ndarray, curve: np.ndarray) -> float:
    """Trapezoidal area under ``curve`` over ``thresholds``, normalised by the threshold range."""
    x = np.asarray(thresholds, dtype=np.float64)
    y = np.asarray(curve, dtype=np.float64)
    area = float(np.sum((y[1:] + y[:-1]) * np.diff(x) / 2.0))
    return area / float(x[-1] - x[0])


def auc_3d(pred_joints: np.ndarray, gt_joints: np.ndarray, align: bool = True) -> float:
    """AUC of the 3D PCK curve (0-50 mm, 100 steps) of one hand's joints ((21, 3) metres each).

    ``align=True`` scores Procrustes-aligned joints (as PA-MPJPE). The AUC of a set of
    hands with equally many joints is the mean of their AUCs (the curve is linear in
    the per-joint indicators), which is how ``evaluate_predictions`` aggregates.
    """
    pred = procrustes_align(pred_joints, gt_joints) if align else np.asarray(pred_joints, np.float64)
    errors = np.linalg.norm(pred - np.asarray(gt_joints, np.float64), axis=-1) * 1000.0
    return auc(*pck_curve_3d(errors))


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``[x0, y0, x1, y1]`` boxes: (N, 4) x (M, 4) -> (N, M)."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_by_iou(
    pred_boxes: np.ndarray, gt_boxes: np.ndarray, iou_threshold: float = IOU_THRESHOLD
) -> list[tuple[int, int, float]]:
    """One-to-one matching of predicted to ground-truth boxes of one image.

    Hungarian matching (``scipy.optimize.linear_sum_assignment``) over the pairs with
    IoU >= ``iou_threshold``: it maximises the number of matched ground-truth hands,
    and among those matchings the total IoU. (Greedy highest-IoU-first matching can
    match fewer hands when one prediction overlaps two hands.)

    Returns:
        list of (pred index, gt index, IoU), sorted by gt index.
    """
    pred = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if len(pred) == 0 or len(gt) == 0:
        return []
    iou = box_iou(pred, gt)
    valid = iou >= iou_threshold
    # Each valid pair gains 1 + IoU (count first, IoU second); invalid pairs gain nothing.
    gain = np.where(valid, 1.0 + iou, 0.0)
    rows, cols = linear_sum_assignment(-gain)
    pairs = [(int(r), int(c), float(iou[r, c])) for r, c in zip(rows, cols, strict=True) if valid[r, c]]
    return sorted(pairs, key=lambda p: p[1])


def average_precision(images: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                      iou_threshold: float = IOU_THRESHOLD) -> float | None:
    """Detection AP over a set of images, all-point interpolated (PASCAL VOC 2010+ / COCO style).

    Args:
        images: per image (pred_boxes (P, 4), pred_scores (P,), gt_boxes (G, 4)), xyxy.
        iou_threshold: a prediction is a true positive when it has IoU >= this with a
            ground-truth box not yet taken by a higher-scored prediction of its image (greedy
            by score, each prediction taking its highest-IoU free box).

    Returns:
        the area under the precision-recall curve (precision made monotone), None without
        ground truth. Threshold-free: it scores the ranking, not one operating point.
    """
    scored: list[tuple[float, bool]] = []
    n_gt = 0
    for pred_boxes, scores, gt_boxes in images:
        pred = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
        gt = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        n_gt += len(gt)
        taken = np.zeros(len(gt), bool)
        iou = box_iou(pred, gt) if len(pred) and len(gt) else np.zeros((len(pred), len(gt)))
        for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
            cand = np.where(taken, -1.0, iou[i]) if len(gt) else np.zeros(0)
            j = int(np.argmax(cand)) if len(gt) else -1
            hit = j >= 0 and cand[j] >= iou_threshold
            if hit:
                taken[j] = True
            scored.append((float(scores[i]), bool(hit)))
    if n_gt == 0:
        return None
    if not scored:
        return 0.0
    scored.sort(key=lambda t: -t[0])
    tp = np.cumsum([h for _, h in scored])
    recall = tp / n_gt
    precision = tp / np.arange(1, len(scored) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone envelope
    r = np.concatenate([[0.0], recall])
    return float(np.sum((r[1:] - r[:-1]) * precision))


def detection_recall(num_detected: int, num_gt: int) -> float | None:
    """Detected ground-truth hands / all ground-truth hands (None when there are none)."""
    return None if num_gt == 0 else num_detected / num_gt


def side_precision(pred_sides: list[int] | np.ndarray, gt_sides: list[int] | np.ndarray) -> float | None:
    """Left/right precision over detected hands: correct side / detected hands with a known side.

    Args:
        pred_sides, gt_sides: sides of the matched pairs (0 left, 1 right; gt -1 = unknown, skipped).
    Returns:
        The fraction, or None when no matched hand has an annotated side.
    """
    p = np.asarray(pred_sides, dtype=np.int64).reshape(-1)
    g = np.asarray(gt_sides, dtype=np.int64).reshape(-1)
    known = g >= 0
    if not known.any():
        return None
    return float(np.mean(p[known] == g[known]))

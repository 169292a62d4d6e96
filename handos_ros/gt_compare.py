"""Compare a HandMeshArray with the synthetic camera's ground truth (same header stamp).

Hands are matched greedily by box IoU (>= ``iou_min``). Per matched hand: the mean 2D joint
error in pixels over the 21 joints (``joints_2d``, the paper's HandOS-2D output; ``proj_err_px``
the same for ``joints_2d_proj``, HandOS-proj), the same relative to the ground-truth box size
(max of width and height, the PCK convention), and whether this frame's side (``side_observed``,
the model's decision, not the track's ``side`` with hysteresis) is right. For scale, ``centre_err_px`` is the error of a predictor that puts
every joint at the ground-truth box centre (a model that only found the hand). In 3D: the
distance of the published wrist (``wrist_pose``, the TF frame's origin) from the true one, and
its depth error relative to the true depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handos_ros.tracking import box_iou


@dataclass
class HandMatch:
    pred_id: int
    side_pred: int
    side_gt: int
    score: float
    err_px: float
    box_size_px: float
    centre_err_px: float = float("nan")
    wrist_err_m: float = float("nan")
    wrist_depth_rel: float = float("nan")
    proj_err_px: float = float("nan")

    @property
    def err_rel(self) -> float:
        """Mean 2D joint error / GT box size."""
        return self.err_px / max(self.box_size_px, 1e-6)

    @property
    def centre_err_rel(self) -> float:
        """Error of the every-joint-at-the-box-centre predictor / GT box size."""
        return self.centre_err_px / max(self.box_size_px, 1e-6)

    @property
    def proj_err_rel(self) -> float:
        """Mean 2D error of ``joints_2d_proj`` / GT box size."""
        return self.proj_err_px / max(self.box_size_px, 1e-6)

    @property
    def side_ok(self) -> bool:
        return self.side_pred == self.side_gt


@dataclass
class FrameComparison:
    matches: list[HandMatch] = field(default_factory=list)
    missed: int = 0  # ground-truth hands without a prediction
    extra: int = 0  # predictions without a ground-truth hand


def _boxes(hands: list) -> np.ndarray:
    return np.array([np.asarray(h.box, np.float64) for h in hands]).reshape(-1, 4)


def _wrist_errors(pred, gt) -> dict[str, float]:
    """geometry_msgs Points -> {wrist_err_m, wrist_depth_rel} (NaN when the truth has no depth)."""
    p = np.array([pred.x, pred.y, pred.z], np.float64)
    g = np.array([gt.x, gt.y, gt.z], np.float64)
    if not g[2] > 0:
        return {}
    return {"wrist_err_m": float(np.linalg.norm(p - g)), "wrist_depth_rel": float(abs(p[2] - g[2]) / g[2])}


def _frame_side(hand: Any) -> int:
    """The model's side for this frame (HandMesh ``side_observed``); the track's ``side`` where it is
    unset (UNKNOWN = 0, e.g. ground truth)."""
    observed = int(getattr(hand, "side_observed", 0))
    return observed if observed else int(hand.side)


def compare(pred_hands: list, gt_hands: list, iou_min: float = 0.1) -> FrameComparison:
    """Match ``pred_hands`` to ``gt_hands`` (lists of HandMesh) and measure the 2D joint error."""
    out = FrameComparison()
    iou = box_iou(_boxes(pred_hands), _boxes(gt_hands))
    used_p: set[int] = set()
    used_g: set[int] = set()
    if iou.size:
        for flat in np.argsort(-iou, axis=None, kind="stable"):
            i, j = divmod(int(flat), iou.shape[1])
            if iou[i, j] < iou_min:
                break
            if i in used_p or j in used_g:
                continue
            used_p.add(i)
            used_g.add(j)
            p, g = pred_hands[i], gt_hands[j]
            jp = np.asarray(p.joints_2d, np.float64).reshape(21, 2)
            jg = np.asarray(g.joints_2d, np.float64).reshape(21, 2)
            jproj = np.asarray(p.joints_2d_proj, np.float64).reshape(21, 2)
            gb = np.asarray(g.box, np.float64)
            out.matches.append(
                HandMatch(
                    pred_id=int(p.id),
                    side_pred=_frame_side(p),
                    side_gt=int(g.side),
                    score=float(p.score),
                    err_px=float(np.linalg.norm(jp - jg, axis=1).mean()),
                    box_size_px=float(max(gb[2] - gb[0], gb[3] - gb[1])),
                    centre_err_px=float(np.linalg.norm(jg - (gb[:2] + gb[2:]) / 2.0, axis=1).mean()),
                    proj_err_px=float(np.linalg.norm(jproj - jg, axis=1).mean()),
                    **_wrist_errors(p.wrist_pose.position, g.wrist_pose.position),
                )
            )
    out.missed = len(gt_hands) - len(used_g)
    out.extra = len(pred_hands) - len(used_p)
    return out

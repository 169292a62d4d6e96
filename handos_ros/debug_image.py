"""The debug image: the input with each hand's box, 2D skeleton and a side/id/score label."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from handos_model.hand.topology import SKELETON_PARENTS
from handos_ros.msg import HandMesh

# RGB colours (the image is RGB).
SIDE_RGB = {HandMesh.LEFT: (50, 140, 255), HandMesh.RIGHT: (255, 140, 25)}
SIDE_NAMES = {HandMesh.LEFT: "left", HandMesh.RIGHT: "right"}


def draw_hands(image_rgb: np.ndarray, hands: Sequence[HandMesh]) -> np.ndarray:
    """A copy of ``image_rgb`` (H, W, 3 uint8) with boxes, 2D skeletons (joints_2d) and labels."""
    canvas = np.ascontiguousarray(image_rgb).copy()
    h, w = canvas.shape[:2]
    thick = max(1, round(max(h, w) / 400))
    for hand in hands:
        color = SIDE_RGB.get(int(hand.side), (200, 200, 200))
        x0, y0, x1, y1 = (float(v) for v in hand.box)
        if not all(np.isfinite([x0, y0, x1, y1])):
            continue
        cv2.rectangle(canvas, (round(x0), round(y0)), (round(x1), round(y1)), color, thick, cv2.LINE_AA)
        joints = np.asarray(hand.joints_2d, dtype=np.float64).reshape(21, 2)
        if np.all(np.isfinite(joints)):
            pts = np.round(joints).astype(np.int64)
            for j, parent in enumerate(SKELETON_PARENTS):
                if parent >= 0:
                    cv2.line(canvas, tuple(pts[j].tolist()), tuple(pts[parent].tolist()), (255, 255, 255), thick, cv2.LINE_AA)
            for p in pts:
                cv2.circle(canvas, tuple(p.tolist()), thick + 1, color, -1, cv2.LINE_AA)
        label = f"{SIDE_NAMES.get(int(hand.side), '?')} #{hand.id} {hand.score:.2f}"
        org = (round(x0), max(12, round(y0) - 4))
        cv2.putText(canvas, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick + 0.1, color, thick, cv2.LINE_AA)
    return canvas

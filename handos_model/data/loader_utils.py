"""Small helpers shared by the real-dataset loaders (image reading, projection, boxes).

All loaders build ``schema.HandAnnotation`` through ``hand_from_camera_joints`` (3D
datasets) or directly (2D-only datasets), so the conventions live in one place:

- ``joints_3d`` / ``vertices`` are wrist-relative (``joints_3d[0] == 0``) and
  ``cam_t`` is the wrist position in the camera optical frame, in metres.
- ``visibility`` is 1 for annotated joints that fall inside the image, else 0.
- Boxes around 2D joints only are padded by ``JOINT_BOX_PAD`` of their width/height
  on each side (joints sit inside the hand silhouette); boxes around projected
  mesh vertices are tight. Boxes are clipped to the image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from .schema import NUM_JOINTS, CorruptSampleError, HandAnnotation, box_from_points

JOINT_BOX_PAD = 0.1


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB.

    PIL is used (not ``cv2.imread``) because it refuses truncated files and does not
    apply EXIF rotation, which would move the annotated pixels.

    Raises:
        CorruptSampleError: missing, unreadable or truncated file.
    """
    try:
        with Image.open(path) as im:
            im.load()
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        raise CorruptSampleError(f"cannot read image {path}: {e}") from e
    if rgb.ndim != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise CorruptSampleError(f"empty image {path}")
    return rgb


def read_json(path: str | Path) -> Any:
    """``json.load`` that raises ``CorruptSampleError`` on a missing or malformed file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CorruptSampleError(f"cannot read annotation {path}: {e}") from e


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection: (N, 3) camera-frame points (z > 0) -> (N, 2) pixels."""
    p = np.asarray(points, dtype=np.float64) @ np.asarray(K, dtype=np.float64).T
    return (p[:, :2] / p[:, 2:3]).astype(np.float32)


def default_intrinsics(height: int, width: int) -> np.ndarray:
    """Stand-in intrinsics for datasets that do not publish K (COCO-WholeBody, OneHand10K, HInt).

    f = max(H, W) pixels (about a 53 degree field of view on the long side), principal
    point at the image centre (W / 2, H / 2). Only 2D targets come from such datasets,
    so K merely keeps the schema uniform; loaders using it set ``intrinsics_known = False``.
    """
    f = float(max(height, width))
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]], dtype=np.float32)


def inside_image(points_2d: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 2) pixels -> (N,) float32, 1 where the point lies in ``[0, W) x [0, H)``."""
    p = np.asarray(points_2d, dtype=np.float32)
    ok = (p[:, 0] >= 0) & (p[:, 0] < width) & (p[:, 1] >= 0) & (p[:, 1] < height) & np.isfinite(p).all(axis=1)
    return ok.astype(np.float32)


def clip_box(box: np.ndarray, height: int, width: int) -> np.ndarray:
    """Clip an ``[x0, y0, x1, y1]`` box to the image."""
    b = np.asarray(box, dtype=np.float32).copy()
    b[[0, 2]] = np.clip(b[[0, 2]], 0.0, float(width))
    b[[1, 3]] = np.clip(b[[1, 3]], 0.0, float(height))
    return b


def joint_box(joints_2d: np.ndarray, visibility: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """Box around the visible 2D joints, padded by ``JOINT_BOX_PAD`` and clipped to the image."""
    return clip_box(box_from_points(joints_2d, visibility, pad=JOINT_BOX_PAD), height, width)


def mask_box(mask: np.ndarray, threshold: int = 127) -> np.ndarray | None:
    """Tight box around the pixels of ``mask`` above ``threshold``, or None if there are none."""
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m.max(axis=2)
    ys, xs = np.nonzero(m > threshold)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def hand_from_camera_joints(
    joints_cam: np.ndarray,
    K: np.ndarray,
    height: int,
    width: int,
    side: int,
    vertices_cam: np.ndarray | None = None,
    joints_2d: np.ndarray | None = None,
) -> HandAnnotation:
    """Build a 3D-annotated hand from absolute camera-frame joints (MANO/FreiHAND order).

    Args:
        joints_cam: (21, 3) metres, camera optical frame, absolute.
        K: (3, 3) intrinsics of the image.
        vertices_cam: (V, 3) metres, same frame, absolute, or None.
        joints_2d: (21, 2) pixels if the dataset ships them; otherwise the projection
            of ``joints_cam`` is used.
    Returns:
        HandAnnotation with wrist-relative ``joints_3d``/``vertices``, ``cam_t`` = wrist,
        the box around the projected vertices (tight) or joints (padded).
    """
    j = np.asarray(joints_cam, dtype=np.float32).reshape(NUM_JOINTS, 3)
    wrist = j[0].copy()
    j2d = project(j, K) if joints_2d is None else np.asarray(joints_2d, dtype=np.float32).reshape(NUM_JOINTS, 2)
    vis = inside_image(j2d, height, width)
    verts_rel = None
    if vertices_cam is not None:
        v = np.asarray(vertices_cam, dtype=np.float32).reshape(-1, 3)
        verts_rel = v - wrist
        box = clip_box(box_from_points(project(v, K)), height, width)
    else:
        box = joint_box(j2d, vis if vis.any() else None, height, width)
    return HandAnnotation(
        box=box,
        joints_2d=j2d,
        visibility=vis,
        joints_3d=j - wrist,
        vertices=verts_rel,
        cam_t=wrist,
        side=int(side),
    )

"""The one sample schema every dataset loader yields (synthetic and real alike).

Coordinates follow the camera optical frame (x right, y down, z forward), units are
pixels for 2D quantities and metres for 3D ones. Joint order is MANO / FreiHAND
(see ``handos_model.hand.topology.JOINT_NAMES``).

A loader fills what its dataset annotates and leaves the rest ``None``; the
training losses that need a missing field are switched off for that hand
(``HandAnnotation.has_3d`` and friends).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_JOINTS = 21
LEFT = 0
RIGHT = 1
SIDE_NAMES = {LEFT: "left", RIGHT: "right"}


@dataclass
class HandAnnotation:
    """Ground truth of one hand in one image.

    Attributes:
        box: (4,) float32, ``[x0, y0, x1, y1]`` in pixels.
        joints_2d: (21, 2) float32 pixels, or None when the dataset has no 2D joints.
        visibility: (21,) float32 in {0, 1}; 0 = not annotated / outside the image.
            Losses ignore joints with visibility 0.
        joints_3d: (21, 3) float32 metres, camera-frame axes, wrist-relative: the
            paper's split of geometry and translation, absolute position =
            joints_3d + cam_t, and joints_3d[0] (the wrist) is (0, 0, 0). Or None.
        vertices: (V, 3) float32 metres in the same frame as ``joints_3d``, or None.
        cam_t: (3,) float32 metres, the camera translation t of the paper = the wrist's
            position in the camera frame, or None.
        side: ``LEFT`` (0), ``RIGHT`` (1), or -1 when unknown.
    """

    box: np.ndarray
    joints_2d: np.ndarray | None = None
    visibility: np.ndarray | None = None
    joints_3d: np.ndarray | None = None
    vertices: np.ndarray | None = None
    cam_t: np.ndarray | None = None
    side: int = -1

    @property
    def has_2d(self) -> bool:
        return self.joints_2d is not None

    @property
    def has_3d(self) -> bool:
        return self.joints_3d is not None

    @property
    def has_mesh(self) -> bool:
        return self.vertices is not None and self.cam_t is not None


@dataclass
class Sample:
    """One image with all its hands.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        K: (3, 3) float32 camera intrinsics of ``image`` (after any resize/crop).
        hands: list of HandAnnotation, possibly empty.
        source: dataset name (``"synthetic"``, ``"freihand"``, ...).
        key: a stable identifier of the sample inside its dataset (file name, index).
    """

    image: np.ndarray
    K: np.ndarray
    hands: list[HandAnnotation] = field(default_factory=list)
    source: str = ""
    key: str = ""

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


class CorruptSampleError(RuntimeError):
    """Raised by a loader when an image or annotation cannot be read.

    Training skips such samples and counts them instead of stopping.
    """


def box_from_points(points: np.ndarray, visibility: np.ndarray | None = None, pad: float = 0.0) -> np.ndarray:
    """Tight ``[x0, y0, x1, y1]`` box around visible 2D points, enlarged by ``pad`` (fraction)."""
    pts = np.asarray(points, dtype=np.float32)
    if visibility is not None:
        pts = pts[np.asarray(visibility) > 0]
    if len(pts) == 0:
        return np.zeros(4, dtype=np.float32)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    return np.array([x0 - pad * w, y0 - pad * h, x1 + pad * w, y1 + pad * h], dtype=np.float32)

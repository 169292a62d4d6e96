"""What ``HandPredictor.predict`` returns: per-hand results in pixels and metres.

This is the boundary between the model and its users (the ROS node, the
evaluation script, the benchmarks). It holds plain numpy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HandPrediction:
    """One detected hand.

    Attributes:
        score: detection score in [0, 1].
        box: (4,) float32 ``[x0, y0, x1, y1]`` in pixels of the input image.
        joints_2d: (21, 2) float32 pixels, from the 2D queries (paper's HandOS-2D).
        joints_2d_proj: (21, 2) float32 pixels, projection of J^3D + t with the
            image's intrinsics (paper's HandOS-proj).
        joints_3d: (21, 3) float32 metres, camera optical frame, absolute
            (already includes ``cam_t``).
        vertices: (V, 3) float32 metres, camera optical frame, absolute.
        cam_t: (3,) float32 metres, the paper's camera translation t.
        side: 0 = left, 1 = right (from mesh normals, paper Sec. 3.5).
        side_confidence: in [0.5, 1], how clearly the normals vote for ``side``.
    """

    score: float
    box: np.ndarray
    joints_2d: np.ndarray
    joints_2d_proj: np.ndarray
    joints_3d: np.ndarray
    vertices: np.ndarray
    cam_t: np.ndarray
    side: int
    side_confidence: float


@dataclass
class PredictTiming:
    """Per-stage wall time of one ``predict`` call, in milliseconds."""

    preprocess_ms: float = 0.0
    detector_ms: float = 0.0
    side_tuning_ms: float = 0.0
    decoder_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.detector_ms + self.side_tuning_ms + self.decoder_ms + self.postprocess_ms


def check_predict_inputs(image: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``predict`` inputs of every backend, checked: (image (H, W, 3) uint8 RGB, K (3, 3) float32).

    Raises:
        ValueError: on another shape or dtype.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got shape {image.shape} dtype {image.dtype}")
    K = np.asarray(K, dtype=np.float32)
    if K.shape != (3, 3):
        raise ValueError(f"K must be 3x3, got {K.shape}")
    return image, K

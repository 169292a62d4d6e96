"""camera_info validation and pairing with images (the CameraSubscriber pattern).

image_transport's CameraSubscriber pairs an image with the camera_info of the same
stamp. Many drivers publish the two at slightly different times, so this node pairs by
``frame_id`` instead: it keeps the latest VALID CameraInfo per frame_id and uses it for
every image carrying that frame_id. An invalid CameraInfo (uncalibrated K[0] == 0, NaN,
non-positive focal length) is refused and never replaces a valid one.

Binning and ROI are applied to K the way image_geometry's PinholeCameraModel does, so an
image produced by a binned/ROI driver gets the intrinsics of its own pixel grid.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

# Rejection reasons (keys of the /diagnostics "rejected" counters).
BAD_CAMERA_INFO = "bad_camera_info"
NO_CAMERA_INFO = "no_camera_info"
CAMERA_INFO_SIZE_MISMATCH = "camera_info_size_mismatch"


class CameraInfoRejected(Exception):
    """A CameraInfo (or an image/CameraInfo pair) the node refuses."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of one image grid.

    Attributes:
        K: (3, 3) float32 camera matrix for images of ``width`` x ``height`` pixels.
        width, height: the image size these intrinsics describe (0 = unknown, any size accepted).
    """

    K: np.ndarray
    width: int
    height: int


def intrinsics_from_camera_info(msg: object) -> Intrinsics:
    """Validate a sensor_msgs/CameraInfo and return the intrinsics of its image grid.

    Raises:
        CameraInfoRejected: K not finite, K[0] == 0 (uncalibrated), non-positive focal
            length, K[8] != 1, or a principal point that is not finite.
    """
    k = np.asarray(msg.k, dtype=np.float64).reshape(-1)
    frame = msg.header.frame_id
    if k.size != 9 or not np.all(np.isfinite(k)):
        raise CameraInfoRejected(BAD_CAMERA_INFO, f"camera_info for frame '{frame}' has a non-finite K {k.tolist()}")
    fx, fy = k[0], k[4]
    if fx == 0.0:
        raise CameraInfoRejected(
            BAD_CAMERA_INFO,
            f"camera_info for frame '{frame}' is uncalibrated (K[0] == 0): calibrate the camera "
            "(camera_calibration) or publish its intrinsics",
        )
    if fx <= 0.0 or fy <= 0.0:
        raise CameraInfoRejected(BAD_CAMERA_INFO, f"camera_info for frame '{frame}' has a non-positive focal length fx={fx}, fy={fy}")
    if not math.isclose(k[8], 1.0, rel_tol=0, abs_tol=1e-6) or k[3] != 0.0 or k[6] != 0.0 or k[7] != 0.0:
        raise CameraInfoRejected(BAD_CAMERA_INFO, f"camera_info for frame '{frame}' has a malformed K (expected [fx s cx; 0 fy cy; 0 0 1]): {k.tolist()}")
    K = k.reshape(3, 3).copy()
    bx = max(int(msg.binning_x), 1)
    by = max(int(msg.binning_y), 1)
    width, height = int(msg.width), int(msg.height)
    roi = msg.roi
    if roi.width > 0 and roi.height > 0:
        K[0, 2] -= roi.x_offset
        K[1, 2] -= roi.y_offset
        width, height = int(roi.width), int(roi.height)
    if bx > 1 or by > 1:
        K[0, :] /= bx
        K[1, :] /= by
        width, height = width // bx, height // by
    return Intrinsics(K=K.astype(np.float32), width=width, height=height)


class CameraInfoCache:
    """Latest valid intrinsics per frame_id (thread-safe: written by the executor, read by the worker)."""

    def __init__(self, max_frames: int = 64) -> None:
        self._lock = threading.Lock()
        self._by_frame: dict[str, Intrinsics] = {}
        self.max_frames = max_frames

    def update(self, msg: object) -> Intrinsics:
        """Validate ``msg``; store it for its frame_id when valid. Raises CameraInfoRejected otherwise."""
        intr = intrinsics_from_camera_info(msg)
        with self._lock:
            self._by_frame.pop(msg.header.frame_id, None)
            self._by_frame[msg.header.frame_id] = intr
            while len(self._by_frame) > self.max_frames:  # forget the least recently updated frame
                self._by_frame.pop(next(iter(self._by_frame)))
        return intr

    def has(self, frame_id: str) -> bool:
        with self._lock:
            return frame_id in self._by_frame

    def frames(self) -> list[str]:
        with self._lock:
            return sorted(self._by_frame)

    def clear(self) -> None:
        with self._lock:
            self._by_frame.clear()

    def lookup(self, frame_id: str, width: int, height: int, topic: str = "camera_info") -> np.ndarray:
        """K (3, 3) float32 for an image of ``frame_id`` and size ``width`` x ``height``.

        Raises:
            CameraInfoRejected: no valid camera_info for this frame_id yet (``no_camera_info``),
                or its size differs from the image's (``camera_info_size_mismatch``).
        """
        with self._lock:
            intr = self._by_frame.get(frame_id)
            known = sorted(self._by_frame)
        if intr is None:
            others = f" (valid camera_info seen only for frame_id {known})" if known else ""
            raise CameraInfoRejected(
                NO_CAMERA_INFO, f"waiting for a valid camera_info on '{topic}' for frame_id '{frame_id}'{others}"
            )
        if intr.width > 0 and intr.height > 0 and (intr.width, intr.height) != (width, height):
            raise CameraInfoRejected(
                CAMERA_INFO_SIZE_MISMATCH,
                f"camera_info for frame_id '{frame_id}' describes {intr.width}x{intr.height} images, "
                f"the image is {width}x{height}: publish the camera_info of this image stream",
            )
        return intr.K

"""21 hand keypoints -> robot hand joint positions with dex-retargeting (ROS-free; optional dependency).

dex-retargeting (PyPI ``dex-retargeting``, MIT; Qin et al., "AnyTeleop", RSS 2023) optimises robot
joint positions so that the robot's fingertip vectors match the human hand's. Its input is the
21 keypoints in MediaPipe / MANO order (the order of HandMesh.joints_3d), root-relative, in its
MANO wrist frame. :func:`mano_frame_keypoints` builds that frame exactly as dex-retargeting's own
teleoperation example does from MediaPipe keypoints: x from the middle-finger MCP to the wrist,
y the normal of the wrist / index MCP / middle MCP plane (by SVD), signed so that z = x cross y
points from the middle towards the index MCP; then ``OPERATOR2MANO_RIGHT`` or ``_LEFT``.

``pip install dex-retargeting==0.5.0 pin nlopt six`` (it forgets to declare the last three);
:func:`available` tells whether it imports. Robot models: the URDFs its bundled configs name
(``allegro_hand/allegro_hand_right.urdf``...) under a folder given as ``urdf_dir``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SIDES = ("right", "left")
TYPES = ("vector", "dexpilot")


def available() -> bool:
    """Whether dex_retargeting (and pinocchio, which it needs) can be imported."""
    try:
        return importlib.util.find_spec("dex_retargeting") is not None and importlib.util.find_spec("pinocchio") is not None
    except (ImportError, ValueError):
        return False


def _operator2mano(side: str) -> np.ndarray:
    from dex_retargeting.constants import OPERATOR2MANO_LEFT, OPERATOR2MANO_RIGHT

    return np.asarray(OPERATOR2MANO_RIGHT if side == "right" else OPERATOR2MANO_LEFT, np.float64)


def wrist_frame(keypoints: np.ndarray) -> np.ndarray | None:
    """dex-retargeting's operator wrist frame (3, 3) (columns x, normal, z) of root-relative (21, 3)
    keypoints, or None if degenerate."""
    points = np.asarray(keypoints, np.float64)[[0, 5, 9], :]
    x = points[0] - points[2]
    centred = points - points.mean(axis=0, keepdims=True)
    if not np.all(np.isfinite(centred)):
        return None
    normal = np.linalg.svd(centred)[2][2]
    x = x - np.dot(x, normal) * normal
    nx = float(np.linalg.norm(x))
    if nx < 1e-9:
        return None
    x = x / nx
    z = np.cross(x, normal)
    if np.dot(z, points[1] - points[2]) < 0:
        normal, z = -normal, -z
    return np.stack([x, normal, z], axis=1)


def mano_frame_keypoints(joints_3d: np.ndarray, side: str) -> np.ndarray | None:
    """(21, 3) keypoints in any frame -> root-relative keypoints in dex-retargeting's MANO frame."""
    kp = np.asarray(joints_3d, np.float64).reshape(21, 3)
    kp = kp - kp[0:1]
    frame = wrist_frame(kp)
    if frame is None:
        return None
    return kp @ frame @ _operator2mano(side)


def default_config_path(robot: str, side: str, kind: str = "vector") -> Path:
    """A bundled teleoperation config of dex-retargeting, e.g. ``teleop/allegro_hand_right.yml``."""
    import dex_retargeting

    name = f"{robot}_hand_{side}" + ("_dexpilot" if kind == "dexpilot" else "") + ".yml"
    return Path(dex_retargeting.__file__).parent / "configs" / "teleop" / name


@dataclass
class Retargeter:
    """A built dex-retargeting SeqRetargeting and how to feed it."""

    retargeting: Any
    side: str

    @property
    def joint_names(self) -> list[str]:
        return list(self.retargeting.joint_names)

    def __call__(self, joints_3d: np.ndarray) -> np.ndarray | None:
        """Robot joint positions (radians / metres, in ``joint_names`` order) for a hand's (21, 3)
        keypoints; None if the keypoints are degenerate."""
        kp = mano_frame_keypoints(joints_3d, self.side)
        if kp is None:
            return None
        opt = self.retargeting.optimizer
        indices = np.asarray(opt.target_link_human_indices)
        if opt.retargeting_type == "POSITION":
            ref = kp[indices, :]
        else:
            ref = kp[indices[1, :], :] - kp[indices[0, :], :]
        return np.asarray(self.retargeting.retarget(ref), np.float64)

    def reset(self) -> None:
        self.retargeting.reset()


def build(urdf_dir: str | Path, side: str = "right", robot: str = "allegro", kind: str = "vector",
          config: str | Path = "") -> Retargeter:
    """Load a dex-retargeting config (``config``, or the bundled one of ``robot`` / ``side`` /
    ``kind``) with its URDF looked up under ``urdf_dir``.

    Raises:
        ValueError: bad side / kind, missing folder or config, or dex-retargeting refusing it.
        ImportError: dex-retargeting is not installed.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    if kind not in TYPES:
        raise ValueError(f"retargeting type must be one of {TYPES}, got {kind!r}")
    root = Path(urdf_dir).expanduser()
    if not str(urdf_dir) or not root.is_dir():
        raise ValueError(f"urdf_dir {str(urdf_dir)!r} is not a folder (it must hold the robot's URDF, e.g. "
                         "allegro_hand/allegro_hand_right.urdf)")
    from dex_retargeting.retargeting_config import RetargetingConfig

    path = Path(config).expanduser() if str(config) else default_config_path(robot, side, kind)
    if not path.is_file():
        raise ValueError(f"retargeting config {str(path)!r} does not exist")
    RetargetingConfig.set_default_urdf_dir(str(root))
    return Retargeter(retargeting=RetargetingConfig.load_from_file(path).build(), side=side)

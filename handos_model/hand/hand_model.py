"""The hand models: an articulated RIGHT hand with linear blend skinning, and its loaders.

Two sources share one class, ``lbs.HandModel``: the open procedural hand shipped with the package
(``load_hand_model("open")``, built by ``build_open_hand.py``) and a user's own
``MANO_RIGHT.pkl`` (``load_hand_model("/path/MANO_RIGHT.pkl")``, see ``mano.py``).

Conventions
-----------
* Joints: 16 articulated joints in the 21-keypoint order without fingertips:
  0 wrist, 1-3 thumb CMC/MCP/IP, 4-6 index MCP/PIP/DIP, 7-9 middle, 10-12 ring,
  13-15 little (``KEYPOINT_OF_JOINT`` maps them to keypoints).
* Pose: ``(B, 16, 3)`` axis-angle vectors, each expressed in its joint's rest frame
  ``joint_frames[j]`` (columns = flexion, abduction, twist axes), so
  ``pose[:, j] = (flex, abd, twist)`` for single-axis motions: positive flexion curls
  a finger towards the palm. Joint 0 is the global orientation (hand frame axes).
  The rotation of joint j in rest-pose coordinates is ``F_j exp(pose_j) F_j^T``.
* Shape: ``(B, S)`` linear blend-shape coefficients (open hand: S = 5, see
  ``build_open_hand``; MANO: S = 10).
* Output: vertices ``(B, V, 3)`` and joints ``(B, 21, 3)`` in metres, in the hand
  frame, wrist-relative (``joints[:, 0] == 0``), RIGHT hand. ``mirror_left`` turns
  them into a left hand (x -> -x); faces stay the right hand's, so a left hand's
  normals point inward (paper Fig. 4, Sec. 3.5).
* Joints21 are regressed from the posed vertices: ``J = joint_regressor @ V``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .lbs import HandModel
from .mano import load_mano_model

# the hand package's public names, importable from here as well as from their own modules
from .pose_sampling import POSE_KINDS  # noqa: F401
from .rotations import random_rotation_aa  # noqa: F401
from .topology import KEYPOINT_OF_JOINT  # noqa: F401


def open_hand_path() -> Path:
    from handos_model import ASSETS_DIR

    return ASSETS_DIR / "open_hand.npz"


def load_open_hand(path: str | Path | None = None) -> HandModel:
    """The procedural open hand from its .npz (default: the packaged asset)."""
    path = Path(path) if path is not None else open_hand_path()
    with np.load(path, allow_pickle=False) as d:
        names = tuple(str(s) for s in d["shape_names"])
        S = len(names)
        return HandModel(
            name=str(d["name"]),
            template=d["template"],
            faces=d["faces"],
            joint_regressor=d["joint_regressor"],
            weights=d["weights"],
            parents=d["parents"],
            joint_frames=d["joint_frames"],
            joint_limits=d["joint_limits"],
            shapedirs=d["shapedirs"],
            shape_names=names,
            shape_range=np.tile(np.array([[-2.0, 2.0]], np.float32), (S, 1)),
        )


_CACHE: dict[str, HandModel] = {}


def load_hand_model(name_or_path: str | Path = "open") -> HandModel:
    """``"open"`` (default): the packaged open hand; a path to ``MANO_RIGHT.pkl``: MANO;
    a path to an ``.npz`` written by ``build_open_hand``: that open hand. Cached per key."""
    key = str(name_or_path)
    if key in _CACHE:
        return _CACHE[key]
    if key == "open":
        model = load_open_hand()
    else:
        p = Path(name_or_path)
        if not p.exists():
            raise FileNotFoundError(f"hand model {key!r}: neither 'open' nor an existing file")
        if p.suffix == ".npz":
            model = load_open_hand(p)
        else:
            model = load_mano_model(p)
    _CACHE[key] = model
    return model

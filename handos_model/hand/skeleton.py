"""The 16-joint skeleton shared by every hand model (open hand, MANO): tree, joint limits, rest frames.

Joint j (0 wrist, 1-3 thumb CMC/MCP/IP, 4-6 index MCP/PIP/DIP, 7-9 middle, 10-12 ring,
13-15 little) is keypoint ``topology.KEYPOINT_OF_JOINT[j]``.
"""

from __future__ import annotations

import numpy as np

from .topology import KEYPOINT_OF_JOINT

JOINT_PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14], dtype=np.int64)

# Joint limits (radians) per joint: rows (flexion, abduction, twist), columns (min, max).
_MCP = [[-0.35, 1.60], [-0.35, 0.35], [-0.15, 0.15]]
_PIP = [[-0.05, 1.85], [-0.06, 0.06], [-0.06, 0.06]]
_DIP = [[-0.10, 1.35], [-0.05, 0.05], [-0.05, 0.05]]
JOINT_LIMITS = np.array(
    [[[-np.pi, np.pi]] * 3]  # wrist = global orientation
    + [[[-0.45, 0.95], [-0.55, 0.75], [-0.45, 0.60]],  # thumb CMC
       [[-0.20, 1.00], [-0.20, 0.20], [-0.20, 0.20]],  # thumb MCP
       [[-0.35, 1.35], [-0.06, 0.06], [-0.10, 0.10]]]  # thumb IP
    + [_MCP, _PIP, _DIP] * 4,
    dtype=np.float64,
)


def normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def joint_frames(joints21: np.ndarray) -> np.ndarray:
    """Rest frames (16, 3, 3) from rest keypoints (21, 3) of a RIGHT hand in the hand frame.

    Columns: flexion axis, abduction axis, twist axis (= bone direction). Works for
    any MANO-like right hand (used for MANO files as well).
    """
    j = np.asarray(joints21, dtype=np.float64)
    frames = np.zeros((16, 3, 3))
    frames[0] = np.eye(3)
    # palm normal, towards the palmar side: for a right hand, (index - wrist) x (little - wrist)
    # points out of the palm.
    n_palm = normalize(np.cross(j[5] - j[0], j[17] - j[0]))
    for jj in range(1, 16):
        k = int(KEYPOINT_OF_JOINT[jj])
        d = normalize(j[k + 1] - j[k])
        if jj <= 3:  # thumb: its pad faces the palm centre
            to_palm = j[9] - j[k]
            to_palm = to_palm - d * np.dot(to_palm, d)
            n = normalize(0.5 * normalize(to_palm) + 0.5 * (n_palm - d * np.dot(n_palm, d)))
        else:
            n = n_palm - d * np.dot(n_palm, d)
        n = normalize(n)
        flex = normalize(np.cross(d, n))
        abd = np.cross(d, flex)  # = n (orthonormal)
        frames[jj] = np.stack([flex, abd, d], axis=1)
    return frames

"""Dimensions and rest skeleton of the open procedural hand (see ``build_open_hand``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import normalize

FINGER_NAMES = ("thumb", "index", "middle", "ring", "little")


@dataclass(frozen=True)
class HandParams:
    """Dimensions of the generated hand (relative factors are 1 for the mean hand)."""

    scale: float = 1.0
    palm_width: float = 1.0
    palm_length: float = 1.0
    finger_length: float = 1.0
    finger_thickness: float = 1.0
    finger_ring: int = 8  # points per finger ring (even, >= 6)
    detail: int = 1  # 0 = fewer rings per phalanx, 1 = default, 2 = more


def rest_skeleton(p: HandParams) -> dict[str, np.ndarray]:
    """Rest joints (21, 3) in keypoint order plus per-finger frames/radii (before global scale)."""
    pw, pl, fl, ft = p.palm_width, p.palm_length, p.finger_length, p.finger_thickness
    joints = np.zeros((21, 3))
    # long fingers: MCP (x, y), spread angle (deg, + towards thumb), bone lengths, radii (w, t)
    fingers = {
        "index": ((0.0295, 0.0840), 6.0, (0.0390, 0.0235, 0.0210), (0.0106, 0.0096)),
        "middle": ((0.0085, 0.0880), 1.0, (0.0440, 0.0275, 0.0215), (0.0108, 0.0098)),
        "ring": ((-0.0125, 0.0835), -4.0, (0.0410, 0.0265, 0.0210), (0.0101, 0.0092)),
        "little": ((-0.0315, 0.0750), -10.0, (0.0320, 0.0195, 0.0195), (0.0090, 0.0083)),
    }
    info: dict[str, np.ndarray] = {}
    for fi, name in enumerate(FINGER_NAMES[1:], start=1):
        (mx, my), ang, lens, rad = fingers[name]
        base = np.array([mx * pw, my * pl, 0.0])
        d = np.array([np.sin(np.radians(ang)), np.cos(np.radians(ang)), 0.0])
        k0 = 1 + 4 * fi
        joints[k0] = base
        for b in range(3):
            joints[k0 + b + 1] = joints[k0 + b] + d * lens[b] * fl
        info[name + "_dir"] = np.stack([d, d, d])
        info[name + "_rad"] = np.array(rad) * ft
    # thumb: CMC inside the palm, bones bending gradually towards the fingers' direction
    cmc = np.array([0.0215 * pw, 0.0250 * pl, 0.0060])
    dirs = normalize(np.array([[0.70, 0.64, 0.32], [0.56, 0.78, 0.30], [0.44, 0.86, 0.26]]))
    lens = np.array([0.0420, 0.0310, 0.0275]) * fl
    joints[1] = cmc
    for b in range(3):
        joints[2 + b] = joints[1 + b] + dirs[b] * lens[b]
    info["thumb_dir"] = dirs
    info["thumb_rad"] = np.array([0.0118, 0.0106]) * ft
    info["joints"] = joints
    return info

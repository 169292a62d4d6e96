"""Random hand articulations by kind of grasp (open palm, fist, pinch, ...) within joint limits."""

from __future__ import annotations

import numpy as np

from .rotations import random_rotation_aa

POSE_KINDS = ("open", "relaxed", "grasp", "fist", "point", "peace", "pinch", "random")
# abduction direction that spreads each long finger away from the middle finger
_SPREAD_SIGN = {1: -1.0, 2: -0.2, 3: 0.6, 4: 1.0}


def sample_articulation(
    rng: np.random.Generator, joint_limits: np.ndarray, kind: str | None = None, global_orient: bool = False
) -> np.ndarray:
    """(16, 3) float64 axis-angle pose of ``kind`` (None: one at random), NOT yet clipped to
    ``joint_limits`` (16, 3, 2); joint 0 is zero unless ``global_orient`` (uniformly random)."""
    if kind is None:
        kind = POSE_KINDS[int(rng.choice(len(POSE_KINDS), p=[0.17, 0.18, 0.21, 0.12, 0.1, 0.06, 0.08, 0.08]))]
    pose = np.zeros((16, 3), np.float64)
    lim = np.asarray(joint_limits, np.float64)
    if kind == "random":
        u = rng.uniform(size=(16, 3))
        pose = lim[:, :, 0] + u * (lim[:, :, 1] - lim[:, :, 0])
        pose[:, 1:] *= 0.6  # full-range abduction/twist everywhere looks broken
        pose[0] = 0.0
    else:
        curl = {
            "open": lambda: rng.uniform(-0.1, 0.15, 4),
            "relaxed": lambda: np.clip(rng.uniform(0.05, 0.4) + rng.normal(0, 0.08, 4) + np.arange(4) * 0.04, 0, 1),
            "grasp": lambda: np.clip(rng.uniform(0.3, 0.75) + rng.normal(0, 0.1, 4) + np.arange(4) * 0.05, 0, 1),
            "fist": lambda: rng.uniform(0.8, 1.0, 4),
            "point": lambda: np.concatenate([rng.uniform(-0.05, 0.15, 1), rng.uniform(0.7, 1.0, 3)]),
            "peace": lambda: np.concatenate([rng.uniform(-0.05, 0.12, 2), rng.uniform(0.75, 1.0, 2)]),
            "pinch": lambda: np.concatenate([rng.uniform(0.35, 0.6, 1), rng.uniform(0.0, 0.8, 3)]),
        }[kind]()
        spread = rng.uniform(0.0, 1.0) if kind in ("open", "peace") else rng.uniform(-0.2, 0.5)
        for f in range(4):
            j = 4 + 3 * f
            c = curl[f]
            # MCP flexes a bit less than PIP; DIP follows PIP (tendon coupling)
            mcp = c * rng.uniform(1.0, 1.5) if c > 0 else c * 2.5
            pip = max(c, 0.0) * rng.uniform(1.3, 1.8)
            pose[j, 0] = mcp
            pose[j + 1, 0] = pip
            pose[j + 2, 0] = pip * rng.uniform(0.5, 0.8) + (-0.08 * rng.uniform() if c < 0.1 else 0.0)
            pose[j, 1] = _SPREAD_SIGN[f + 1] * spread * 0.25 * (1 - 0.7 * max(c, 0)) + rng.normal(0, 0.03)
            pose[j, 2] = rng.normal(0, 0.04)
        # thumb: opposition o, flexion ct
        if kind == "fist":
            o, ct = rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0)
        elif kind == "pinch":
            o, ct = rng.uniform(0.7, 1.0), rng.uniform(0.3, 0.7)
        elif kind in ("point", "peace"):
            o, ct = rng.uniform(0.4, 1.0), rng.uniform(0.3, 0.9)
        elif kind == "open":
            o, ct = rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2)
        else:
            o, ct = rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.7)
        pose[1, 0] = o * 0.8 + rng.normal(0, 0.05)
        pose[1, 1] = o * 0.35 + rng.normal(0, 0.1)
        pose[1, 2] = o * 0.45 + rng.normal(0, 0.05)
        pose[2, 0] = ct * 0.8
        pose[3, 0] = ct * 1.1 + rng.normal(0, 0.05)
        pose[1:, :] += rng.normal(0, 0.02, size=(15, 3))
    if global_orient:
        pose[0] = random_rotation_aa(rng)
    return pose

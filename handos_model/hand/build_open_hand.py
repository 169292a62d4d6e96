"""Deterministic procedural generator of the open articulated RIGHT hand.

``python -m handos_model.hand.build_open_hand [--out PATH] [--finger-ring N] [--detail K]``
writes ``handos_model/assets/open_hand.npz`` (no MANO file, no data, no weights).

Geometry (metres, hand frame of the rest pose):
    x points to the thumb (radial) side, y from the wrist towards the fingers,
    z out of the palm (palmar side = +z, back of the hand = -z). The wrist joint is
    at the origin. A mirrored copy (x -> -x) is a left hand.

Surface: one closed, watertight, outward-oriented triangle mesh made of
    * a palm: rings swept from the wrist (closed by a fan cap) to the knuckles,
      whose last ring is a scalloped loop that splits into the four finger base
      rings (webs between fingers are single quads),
    * four finger tubes and a thumb tube (the thumb leaves the palm through a hole
      on the radial/palmar side), each closed by a rounded tip with an apex vertex.

Skeleton (16 articulated joints, MANO-like, in the 21-keypoint order without tips):
    0 wrist, 1-3 thumb CMC/MCP/IP, 4-6 index MCP/PIP/DIP, 7-9 middle, 10-12 ring,
    13-15 little. Keypoint k of the 21 (topology.JOINT_NAMES) is joint
    ``KEYPOINT_OF_JOINT[j]``; fingertips are apex vertices.

Pose parameterisation (see ``hand_model.HandModel``): per joint an axis-angle
vector (3,) expressed in the joint's rest frame ``joint_frames[j]`` whose columns
are (flexion axis, abduction axis, twist axis). Positive flexion curls a finger
towards the palm, the twist axis runs along the bone. Joint 0 (wrist) carries the
global orientation of the hand (axes = hand frame).

Shape space (``shapedirs`` (V, 3, 5), linear like MANO, beta in about [-2, 2]):
    0 overall scale (+10 % per unit, so [-2, 2] spans 0.8-1.2), 1 palm width (+5 %),
    2 palm length (+5 %), 3 finger length (+6 %), 4 finger thickness (+8 %).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .joint_regressor import fit_joint_regressor
from .open_hand_mesh import build_geometry
from .open_hand_skeleton import HandParams
from .skeleton import JOINT_LIMITS, JOINT_PARENTS, joint_frames

FORMAT_VERSION = 1
MODEL_NAME = "handos_open_hand_v1"
SHAPE_NAMES = ("scale", "palm_width", "palm_length", "finger_length", "finger_thickness")
SHAPE_STEPS = (0.10, 0.05, 0.05, 0.06, 0.08)  # relative change per unit of beta


def build(p: HandParams | None = None) -> dict[str, np.ndarray]:
    """Everything stored in ``open_hand.npz`` (see module docstring)."""
    p = p or HandParams()
    g = build_geometry(p)
    V = len(g["vertices"])
    # shape space: central finite differences of the generator (topology is fixed)
    dirs = np.zeros((V, 3, len(SHAPE_NAMES)))
    fields = ("scale", "palm_width", "palm_length", "finger_length", "finger_thickness")
    for s, (field, step) in enumerate(zip(fields, SHAPE_STEPS, strict=True)):
        hi = build_geometry(replace(p, **{field: getattr(p, field) * (1 + step)}))["vertices"]
        lo = build_geometry(replace(p, **{field: getattr(p, field) * (1 - step)}))["vertices"]
        dirs[:, :, s] = (hi - lo) / 2
    reg = fit_joint_regressor(g["vertices"], g["joints"], g["tips"], g["weights"])
    frames = joint_frames(g["joints"])
    return {
        "name": np.array(MODEL_NAME),
        "format_version": np.array(FORMAT_VERSION),
        "template": g["vertices"].astype(np.float32),
        "faces": g["faces"].astype(np.int32),
        "joint_regressor": reg.astype(np.float32),
        "weights": g["weights"].astype(np.float32),
        "parents": JOINT_PARENTS.astype(np.int32),
        "rest_joints": g["joints"].astype(np.float32),
        "joint_frames": frames.astype(np.float32),
        "joint_limits": JOINT_LIMITS.astype(np.float32),
        "shapedirs": dirs.astype(np.float32),
        "shape_names": np.array(SHAPE_NAMES),
        "tip_vertices": g["tips"].astype(np.int32),
        "params": np.array(json.dumps(p.__dict__)),
    }


def default_asset_path() -> Path:
    from handos_model import ASSETS_DIR

    return ASSETS_DIR / "open_hand.npz"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="output .npz (default: the packaged asset)")
    ap.add_argument("--finger-ring", type=int, default=HandParams.finger_ring, help="points per finger ring (even)")
    ap.add_argument("--detail", type=int, default=HandParams.detail, choices=(0, 1, 2), help="rings per phalanx")
    args = ap.parse_args(argv)
    data = build(HandParams(finger_ring=args.finger_ring, detail=args.detail))
    out = args.out or default_asset_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **data)
    print(f"wrote {out}: V={len(data['template'])} F={len(data['faces'])}")


if __name__ == "__main__":
    main()

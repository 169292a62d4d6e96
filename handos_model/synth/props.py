"""Objects held in a hand: a bottle / tool handle (cylinder) or a phone / book (box) in its grip.

``sample_held_object`` fits an object to a posed hand (grasp-like poses), in the hand frame:
a cylinder along the line of the knuckles, between the palm and the curled fingers, or a flat
box held there. ``held_object_mesh`` gives its closed, outward-oriented triangle mesh; it is
rasterised with the hand (``render.OBJ_HELD0`` + hand slot), so fingers in front of it hide it
and the parts in front of the fingers hide those joints in the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import tube_faces
from .colors import random_color
from .render import ATTR_HELD

# 21-joint (MANO / FreiHAND) indices
_MCP = [5, 9, 13, 17]
_MID = [6, 7, 10, 11, 14, 15, 18, 19]  # PIP and DIP joints of the long fingers


@dataclass
class HeldObject:
    """An object in the hand frame: ``center`` (3,), orthonormal ``axes`` (3, 3) (columns: length,
    width, thickness directions), ``size`` (3,) full extents along them (m); ``kind`` "cylinder"
    (width = thickness = diameter) or "box"; ``color`` RGB in [0, 1]."""

    kind: str
    center: np.ndarray
    axes: np.ndarray
    size: np.ndarray
    color: np.ndarray


def sample_held_object(rng: np.random.Generator, joints_hand: np.ndarray) -> HeldObject:
    """An object in the grip of the posed hand whose 21 joints (hand frame, metres) are given."""
    j = np.asarray(joints_hand, np.float64)
    across = j[17] - j[5]
    across /= max(np.linalg.norm(across), 1e-9)
    mcp, mid = j[_MCP].mean(0), j[_MID].mean(0)
    inward = mid - mcp  # towards the curled fingers
    inward -= across * (inward @ across)
    reach = float(np.linalg.norm(inward))
    inward = inward / max(reach, 1e-9)
    third = np.cross(across, inward)
    kind = "cylinder" if rng.random() < 0.6 else "box"
    center = mcp + inward * reach * rng.uniform(0.45, 0.75)
    length = rng.uniform(0.08, 0.24)
    center = center + across * rng.uniform(-0.3, 0.3) * length
    if kind == "cylinder":
        d = float(np.clip(reach * rng.uniform(0.7, 1.1), 0.02, 0.08))
        size = np.array([length, d, d])
    else:
        size = np.array([length, rng.uniform(0.05, 0.09), rng.uniform(0.008, 0.03)])
    color = random_color(rng, (0.0, 1.0), (0.1, 1.0)) / 255.0
    return HeldObject(kind=kind, center=center, axes=np.stack([across, inward, third], 1), size=size,
                      color=color.astype(np.float32))


def held_object_mesh(obj: HeldObject, n_rings: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (V, 3) in the hand frame, outward faces (F, 3), attributes (F,) (all ``ATTR_HELD``)."""
    n_around = 16 if obj.kind == "cylinder" else 4
    ang = (np.arange(n_around) + 0.5) * 2 * np.pi / n_around
    if obj.kind == "cylinder":
        u, v = np.cos(ang) * obj.size[1] / 2, np.sin(ang) * obj.size[2] / 2
    else:  # a square tube of 4 corners, scaled to the box's width and thickness
        u, v = np.sign(np.cos(ang)) * obj.size[1] / 2, np.sign(np.sin(ang)) * obj.size[2] / 2
    ts = np.linspace(-0.5, 0.5, n_rings) * obj.size[0]
    a, b, c = obj.axes[:, 0], obj.axes[:, 1], obj.axes[:, 2]
    rings = obj.center + ts[:, None, None] * a + u[None, :, None] * b + v[None, :, None] * c
    verts = np.concatenate([rings.reshape(-1, 3), (obj.center + ts[0] * a)[None], (obj.center + ts[-1] * a)[None]])
    faces, _ = tube_faces(n_rings, n_around)
    if np.dot(np.cross(b, c), a) < 0:
        faces = faces[:, ::-1]
    return verts, np.ascontiguousarray(faces), np.full(len(faces), ATTR_HELD, np.float32)

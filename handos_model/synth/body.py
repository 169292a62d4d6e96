"""Meshes and per-face material attributes of the rendered body parts: the hand and its forearm.

Attributes follow ``render``'s convention: skin in [0, ATTR_PALM_MAX] (value / ATTR_PALM_MAX =
palm-ness), ``ATTR_NAIL``, ``ATTR_SLEEVE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hand.hand_model import KEYPOINT_OF_JOINT, HandModel
from .render import ATTR_NAIL, ATTR_PALM_MAX, ATTR_SLEEVE


@dataclass
class Forearm:
    bend: np.ndarray  # (3, 3) wrist bend applied to the forearm direction (hand frame)
    length: float
    sleeve_start: float | None  # metres from the wrist, None = bare arm


def face_attributes(model: HandModel) -> np.ndarray:
    """(F,) material attribute per face of the right hand: palm-ness in [0, 0.4] or nail."""
    v, f = model.template, model.faces
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    frames = model.joint_frames
    # palm normal of the hand frame = abduction axis of the middle MCP (+z for the open hand)
    n_palm = frames[7][:, 1]
    attr = np.clip(n @ n_palm * 1.4, 0, 1) * ATTR_PALM_MAX
    # nails: dorsal faces of the distal phalanges, from 30 % to 86 % of the way to the tip
    rest = model.rest_joints()
    c = tri.mean(1)
    w_face = model.weights[f].mean(1)
    for dip_j in (6, 9, 12, 15):  # long-finger DIP joints (16-joint indices)
        k = int(KEYPOINT_OF_JOINT[dip_j])
        d = rest[k + 1] - rest[k]
        L = np.linalg.norm(d)
        t = (c - rest[k]) @ d / (L * L)
        sel = (w_face[:, dip_j] > 0.9) & (t > 0.3) & (t < 0.86) & (n @ n_palm < -0.45)
        attr[sel] = ATTR_NAIL
    k = int(KEYPOINT_OF_JOINT[3])  # thumb IP -> tip
    d = rest[k + 1] - rest[k]
    t = (c - rest[k]) @ d / (d @ d)
    n_t = frames[3][:, 1]
    sel = (w_face[:, 3] > 0.9) & (t > 0.3) & (t < 0.86) & (n @ n_t < -0.45)
    attr[sel] = ATTR_NAIL
    return attr.astype(np.float32)


_TUBE_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def tube_faces(n_rings: int, n_around: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces of a capped tube (rings then start/end centre vertices) and the ring index of each face."""
    key = (n_rings, n_around)
    if key not in _TUBE_CACHE:
        r, i = np.meshgrid(np.arange(n_rings - 1), np.arange(n_around), indexing="ij")
        a = r * n_around + i
        b = r * n_around + (i + 1) % n_around
        c, d = b + n_around, a + n_around
        side = np.stack([np.stack([a, b, c], -1), np.stack([a, c, d], -1)], 2).reshape(-1, 3)
        side_ring = np.repeat(r.reshape(-1), 2)
        c0, c1 = n_rings * n_around, n_rings * n_around + 1
        i = np.arange(n_around)
        last = (n_rings - 1) * n_around
        cap0 = np.stack([np.full(n_around, c0), (i + 1) % n_around, i], -1)
        cap1 = np.stack([np.full(n_around, c1), last + i, last + (i + 1) % n_around], -1)
        faces = np.concatenate([side, cap0, cap1]).astype(np.int64)
        ring = np.concatenate([side_ring, np.full(n_around, -1), np.full(n_around, n_rings)])
        _TUBE_CACHE[key] = (faces, ring)
    return _TUBE_CACHE[key]


def forearm_mesh(fa: Forearm, scale: float, n_around: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed tapered tube in the (right) hand frame starting inside the wrist.

    Returns vertices (V, 3), outward faces (F, 3), attributes (F,).
    """
    d = fa.bend @ np.array([0.0, -1.0, 0.0])
    e1 = fa.bend @ np.array([1.0, 0.0, 0.0])
    e2 = fa.bend @ np.array([0.0, 0.0, 1.0])
    start = np.array([0.0, 0.004, 0.0]) * scale
    ts = np.array([0.0, 0.03, 0.08, 0.16, 0.26, 0.36, 0.45]) * scale
    if fa.length > max(ts[-1] + 0.05, 0.5):  # an arm that goes on: rings every 25 cm, the last at its end
        ts = np.concatenate([ts, np.arange(ts[-1] + 0.25, fa.length, 0.25), [fa.length]])
    ts = ts[ts <= fa.length + 1e-9]
    if len(ts) < 2:
        ts = np.array([0.0, max(fa.length, 0.02)])
    ang = (np.arange(n_around) + 0.5) * 2 * np.pi / n_around
    u = np.clip(ts / 0.3, 0, 1)
    rw = (0.027 + 0.009 * u) * scale
    rt = (0.018 + 0.011 * u) * scale
    sleeve_ring = np.zeros(len(ts), bool) if fa.sleeve_start is None else ts >= fa.sleeve_start - 1e-9
    rw = np.where(sleeve_ring, rw * 1.25, rw)
    rt = np.where(sleeve_ring, rt * 1.35, rt)
    centers = start + ts[:, None] * d  # (R, 3)
    rings = (centers[:, None, :] + (rw[:, None] * np.cos(ang))[..., None] * e1
             + (rt[:, None] * np.sin(ang))[..., None] * e2)
    verts = np.concatenate([rings.reshape(-1, 3), centers[:1], centers[-1:]])
    faces, ring = tube_faces(len(ts), n_around)
    pal = np.clip(np.sin(ang) * 1.2, 0, 1) * ATTR_PALM_MAX * 0.7  # inner forearm a bit like the palm side
    attr = np.zeros(len(faces), np.float32)
    n_side = 2 * (len(ts) - 1) * n_around
    attr[:n_side] = np.tile(np.repeat(pal, 2), len(ts) - 1)
    if fa.sleeve_start is not None:
        ring_clip = np.clip(ring, 0, len(ts) - 1)
        attr[sleeve_ring[ring_clip] & (ring >= 0)] = ATTR_SLEEVE
    # outward orientation depends on the handedness of (e1, e2, d)
    if np.dot(np.cross(e1, e2), d) < 0:
        faces = faces[:, ::-1]
    return verts, np.ascontiguousarray(faces), attr


_ATTR_CACHE: dict[int, np.ndarray] = {}


def hand_face_attributes(model: HandModel) -> np.ndarray:
    """``face_attributes(model)``, computed once per model and process."""
    key = id(model)
    if key not in _ATTR_CACHE:
        _ATTR_CACHE[key] = face_attributes(model)
    return _ATTR_CACHE[key]

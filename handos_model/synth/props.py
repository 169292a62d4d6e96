"""Objects the hands hold and touch.

Held: ``sample_held_object`` fits an object to a posed hand (grasp-like poses), in the hand
frame: a bottle / tool handle (cylinder) along the line of the knuckles, between the palm and
the curled fingers, or a phone / book (box) held there. ``held_object_mesh`` gives its closed,
outward-oriented triangle mesh; it is rasterised with the hand (``render.OBJ_HELD0`` + hand
slot), so fingers in front of it hide it and the parts in front of the fingers hide those
joints in the ground truth.

Touched: ``sample_surface`` puts a panel, screen or book under a fingertip, behind the hand
(``draw_surface`` paints it into the background, so the hand's ground truth is unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .body import tube_faces
from .colors import random_color
from .render import ATTR_HELD
from .rooms import text_block

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


@dataclass
class Surface:
    """A flat thing a fingertip touches, behind the hand: ``polygon`` (4, 2) pixels, ``color``
    RGB in [0, 255], ``screen``: a dark bezel with a lit, text-covered display."""

    polygon: np.ndarray
    color: np.ndarray
    screen: bool
    text_seed: int


def sample_surface(rng: np.random.Generator, tip: np.ndarray, wrist: np.ndarray, hand_size: float) -> Surface:
    """A panel / screen / book under the fingertip ``tip`` (2D pixels), extending away from the wrist."""
    d = tip - wrist
    d = d / max(float(np.hypot(*d)), 1e-6)
    n = np.array([-d[1], d[0]])
    along, across = hand_size * rng.uniform(0.8, 2.5), hand_size * rng.uniform(1.0, 3.0)
    c = tip + d * along * rng.uniform(0.15, 0.45) + n * across * rng.uniform(-0.3, 0.3)
    polygon = np.stack([c + sa * d * along / 2 + sb * n * across / 2 for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    return Surface(polygon=polygon, color=random_color(rng, (0.0, 0.8), (0.15, 0.95)), screen=bool(rng.random() < 0.4),
                   text_seed=int(rng.integers(2**31)))


def draw_surface(img: np.ndarray, s: Surface) -> None:
    """Paint ``s`` into the uint8 RGB image (in place)."""
    pts = np.round(s.polygon * 16).astype(np.int32)
    col = (20.0, 20.0, 24.0) if s.screen else tuple(float(v) for v in s.color)
    cv2.fillConvexPoly(img, pts, col, cv2.LINE_AA, 4)
    if s.screen:  # the display inside the bezel
        c = s.polygon.mean(0)
        inner = np.round((c + (s.polygon - c) * 0.86) * 16).astype(np.int32)
        cv2.fillConvexPoly(img, inner, tuple(float(v) for v in s.color), cv2.LINE_AA, 4)
    x0, y0 = np.maximum(s.polygon.min(0).astype(int) + 3, 0)
    x1, y1 = np.minimum(s.polygon.max(0).astype(int) - 3, [img.shape[1], img.shape[0]])
    if x1 - x0 > 12 and y1 - y0 > 12 and (s.screen or s.text_seed % 2 == 0):
        # text clipped to the surface's axis-aligned inner box (the surface may be rotated)
        box = img[y0:y1, x0:x1].copy()
        text_block(box, np.random.default_rng(s.text_seed), 2, 2, x1 - x0 - 2, y1 - y0 - 2)
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(m, np.round(s.polygon - [x0, y0]).astype(np.int32), 1)
        keep = m > 0
        img[y0:y1, x0:x1][keep] = box[keep]
    cv2.polylines(img, [pts], True, tuple(float(v) * 0.5 for v in col), 1, cv2.LINE_AA, 4)

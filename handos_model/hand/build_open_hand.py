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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
MODEL_NAME = "handos_open_hand_v1"

# 16 articulated joints -> index in the 21-keypoint (MANO/FreiHAND) order.
KEYPOINT_OF_JOINT = np.array([0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19], dtype=np.int64)
JOINT_PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14], dtype=np.int64)
FINGER_NAMES = ("thumb", "index", "middle", "ring", "little")
SHAPE_NAMES = ("scale", "palm_width", "palm_length", "finger_length", "finger_thickness")
SHAPE_STEPS = (0.10, 0.05, 0.05, 0.06, 0.08)  # relative change per unit of beta

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


# ----------------------------------------------------------------------------- skeleton

def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


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
    dirs = _normalize(np.array([[0.70, 0.64, 0.32], [0.56, 0.78, 0.30], [0.44, 0.86, 0.26]]))
    lens = np.array([0.0420, 0.0310, 0.0275]) * fl
    joints[1] = cmc
    for b in range(3):
        joints[2 + b] = joints[1 + b] + dirs[b] * lens[b]
    info["thumb_dir"] = dirs
    info["thumb_rad"] = np.array([0.0118, 0.0106]) * ft
    info["joints"] = joints
    return info


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
    n_palm = _normalize(np.cross(j[5] - j[0], j[17] - j[0]))
    for jj in range(1, 16):
        k = int(KEYPOINT_OF_JOINT[jj])
        d = _normalize(j[k + 1] - j[k])
        if jj <= 3:  # thumb: its pad faces the palm centre
            to_palm = j[9] - j[k]
            to_palm = to_palm - d * np.dot(to_palm, d)
            n = _normalize(0.5 * _normalize(to_palm) + 0.5 * (n_palm - d * np.dot(n_palm, d)))
        else:
            n = n_palm - d * np.dot(n_palm, d)
        n = _normalize(n)
        flex = _normalize(np.cross(d, n))
        abd = np.cross(d, flex)  # = n (orthonormal)
        frames[jj] = np.stack([flex, abd, d], axis=1)
    return frames


# ----------------------------------------------------------------------------- mesh building

class _MeshBuilder:
    def __init__(self) -> None:
        self.verts: list[np.ndarray] = []
        self.faces: list[tuple[int, int, int]] = []
        # per-vertex skinning description: list of (joint, weight)
        self.skin: list[dict[int, float]] = []

    def add(self, pts: np.ndarray, skin: list[dict[int, float]]) -> np.ndarray:
        start = len(self.verts)
        for q, s in zip(np.atleast_2d(pts), skin, strict=True):
            self.verts.append(np.asarray(q, dtype=np.float64))
            self.skin.append(dict(s))
        return np.arange(start, start + len(np.atleast_2d(pts)))

    def quad(self, a: int, b: int, c: int, d: int) -> None:
        """Quad a-b-c-d (in order around it), split along its shorter diagonal."""
        va, vb, vc, vd = (self.verts[i] for i in (a, b, c, d))
        if np.linalg.norm(va - vc) <= np.linalg.norm(vb - vd):
            self.faces += [(a, b, c), (a, c, d)]
        else:
            self.faces += [(a, b, d), (b, c, d)]

    def bridge(self, r0: np.ndarray, r1: np.ndarray) -> None:
        """Connect two rings with the same point count (same cyclic order)."""
        n = len(r0)
        for i in range(n):
            i2 = (i + 1) % n
            self.quad(int(r0[i]), int(r0[i2]), int(r1[i2]), int(r1[i]))

    def fan(self, ring: np.ndarray, apex: int) -> None:
        n = len(ring)
        for i in range(n):
            self.faces.append((int(ring[i]), int(ring[(i + 1) % n]), apex))


def _smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _finger_angles(n: int) -> np.ndarray:
    """Ring angles: 0 = radial (+x), pi/2 = palmar (+z). Evenly spaced, offset by half a step."""
    return (np.arange(n) + 0.5) * (2 * np.pi / n)


def _tube(
    mb: _MeshBuilder,
    base_ring: np.ndarray,
    phis: np.ndarray,
    chain: np.ndarray,
    chain_joints: list[int],
    parent_joint: int,
    frame_n: np.ndarray,
    radii: np.ndarray,
    stations: list[tuple[int, float, float]],
    blend: float,
) -> int:
    """Sweep rings along a joint chain and close with a rounded tip; returns the apex vertex.

    chain: (4, 3) points [j1, j2, j3, tip]; chain_joints: the 3 joint ids of the bones;
    stations: (bone, t, radius factor) for each ring after the base ring.
    radii: (2,) half width / half thickness at the base of the chain.
    """
    seg_len = np.linalg.norm(np.diff(chain, axis=0), axis=1)
    s_joint = np.concatenate([[0.0], np.cumsum(seg_len)])  # arclength of j1, j2, j3, tip
    total = s_joint[-1]
    prev = base_ring
    for bone, t, rf in stations:
        a, b = chain[bone], chain[bone + 1]
        d = _normalize(b - a)
        c = a + t * (b - a)
        n = frame_n - d * np.dot(frame_n, d)
        n = _normalize(n)
        e1 = _normalize(np.cross(d, n))  # radial side for fingers along +y with n = +z
        # cross(d, n) for d=+y, n=+z is +x
        s = s_joint[bone] + t * seg_len[bone]
        taper = 1.0 - 0.22 * (s / total)
        rw, rt = radii * taper * rf
        pts = c + rw * np.cos(phis)[:, None] * e1 + rt * np.sin(phis)[:, None] * n
        # pad: fingertip pulp slightly on the palmar side
        if bone == 2:
            pts = pts + 0.12 * rt * np.clip(np.sin(phis), 0, None)[:, None] * n
        skin = _chain_skin(s, s_joint, chain_joints, parent_joint, blend)
        ring = mb.add(pts, [skin] * len(pts))
        mb.bridge(prev, ring)
        prev = ring
    tip = chain[3]
    apex = mb.add(tip[None], [{chain_joints[2]: 1.0}])[0]
    mb.fan(prev, int(apex))
    return int(apex)


def _chain_skin(s: float, s_joint: np.ndarray, chain_joints: list[int], parent_joint: int, blend: float) -> dict[int, float]:
    """Weights for a ring at arclength s: smooth transitions of width 2*blend around each joint."""
    # owners along the chain: before j1 -> parent, [j1, j2) -> joint1, [j2, j3) -> joint2, after -> joint3
    owners = [parent_joint] + list(chain_joints)
    w = {owners[0]: 1.0}
    for k in range(3):
        a = float(_smoothstep((s - s_joint[k] + blend) / (2 * blend)))
        if a <= 0:
            break
        prev_owner = owners[k]
        new = {}
        for j, wj in w.items():
            new[j] = new.get(j, 0.0) + wj * (1 - a) if j == prev_owner else wj
        new[owners[k + 1]] = new.get(owners[k + 1], 0.0) + a * w.get(prev_owner, 0.0)
        w = {j: v for j, v in new.items() if v > 1e-6}
    tot = sum(w.values())
    return {j: v / tot for j, v in w.items()}


def build_geometry(p: HandParams) -> dict[str, np.ndarray]:
    """Build the mesh for parameters ``p``; topology depends only on ring counts/detail."""
    sk = rest_skeleton(p)
    J = sk["joints"]
    nf = p.finger_ring
    if nf % 2 or nf < 6:
        raise ValueError("finger_ring must be even and >= 6")
    half = nf // 2
    mb = _MeshBuilder()
    phis = _finger_angles(nf)
    pw, pl = p.palm_width, p.palm_length

    # ---- palm top ring (knuckle level): P columns (palmar, x decreasing), Lu, D columns (x increasing), Lr
    top_p, top_d = [], []
    base_scale = np.array([1.04, 1.30])  # base rings are a bit wider/thicker than the finger
    for name in FINGER_NAMES[1:]:
        k0 = 1 + 4 * FINGER_NAMES.index(name)
        c = J[k0].copy()
        rw, rt = sk[name + "_rad"] * base_scale
        # base width from the knuckle spacing (not the thickness) so that neighbours never cross
        rw = 0.485 * min(np.linalg.norm(J[k0] - J[k1]) for k1 in (5, 9, 13, 17) if k1 != k0)
        d = sk[name + "_dir"][0]
        e1 = _normalize(np.cross(d, [0, 0, 1.0]))
        for i in range(half):
            top_p.append(c + rw * np.cos(phis[i]) * e1 + rt * np.sin(phis[i]) * np.array([0, 0, 1.0]))
        for i in range(half):
            ph = phis[half + i]  # dorsal angles, x increasing along i
            top_d.append(c + rw * np.cos(ph) * e1 + rt * np.sin(ph) * np.array([0, 0, 1.0]))
    top_p = np.array(top_p)  # (4*half, 3) x decreasing
    # dorsal points ordered finger by finger with x increasing inside a finger; build D in the
    # column order of P (column j = same finger, same |angle|)
    top_d = np.array(top_d).reshape(4, half, 3)[:, ::-1].reshape(-1, 3)
    ncol = 4 * half
    idx_c, lit_c = J[5], J[17]
    lr = idx_c + sk["index_rad"][0] * base_scale[0] * np.array([1.0, 0, 0]) + np.array([0.0, -0.002, 0])
    lu = lit_c - sk["little_rad"][0] * base_scale[0] * np.array([1.0, 0, 0]) + np.array([0.0, -0.004, 0])
    # ---- palm rows (0 = wrist .. R-1 = top)
    row_s = np.array([0.0, 0.22, 0.45, 0.66, 0.84, 1.0])
    y_wrist = -0.010 * pl
    half_w = np.array([0.0300, 0.0370, 0.0415, 0.0430, 0.0425]) * pw
    half_t = np.array([0.0175, 0.0180, 0.0172, 0.0162, 0.0150])
    cx = 0.0
    xt_min, xt_max = lu[0], lr[0]
    rows: list[np.ndarray] = []
    n_ring = 2 * ncol + 2  # P(ncol), Lu, D reversed(ncol), Lr
    for r, s in enumerate(row_s):
        if r == len(row_s) - 1:
            pts = np.concatenate([top_p, lu[None], top_d[::-1], lr[None]])
        else:
            a, b = half_w[r], half_t[r]
            # column x from the top ring, mapped linearly into [-a, a]
            def mapx(x: np.ndarray, a: float = a) -> np.ndarray:
                return cx - a + (x - xt_min) / (xt_max - xt_min) * 2 * a

            xp = mapx(top_p[:, 0])
            xd = mapx(top_d[:, 0])

            def zprof(x: np.ndarray, a: float = a, b: float = b, npow: float = 2.6) -> np.ndarray:
                # superellipse profile of the palm cross-section
                u = np.clip(np.abs((x - cx) / a), 0, 1)
                return b * (1 - u**npow) ** (1 / npow)

            y_top_p = top_p[:, 1]
            y_top_d = top_d[:, 1]
            ys_p = y_wrist + s * (y_top_p - y_wrist)
            ys_d = y_wrist + s * (y_top_d - y_wrist)
            zp = zprof(xp)
            zd = -zprof(xd)
            # thenar bulge (palmar, radial, lower palm) and slight palmar hollow
            thenar = 0.0055 * np.exp(-(((xp - 0.026 * pw) / 0.016) ** 2) - ((ys_p - 0.030 * pl) / 0.022) ** 2)
            hypothenar = 0.0030 * np.exp(-(((xp + 0.030 * pw) / 0.012) ** 2) - ((ys_p - 0.035 * pl) / 0.025) ** 2)
            zp = zp + thenar + hypothenar
            if r == len(row_s) - 2:  # blend towards the scalloped top ring
                zp = 0.6 * zp + 0.4 * top_p[:, 2]
                zd = 0.6 * zd + 0.4 * top_d[:, 2]
            P = np.stack([xp, ys_p, zp], 1)
            D = np.stack([xd, ys_d, zd], 1)
            yl_u = y_wrist + s * (lu[1] - y_wrist)
            yl_r = y_wrist + s * (lr[1] - y_wrist)
            pts = np.concatenate([P, [[cx - a, yl_u, 0.0]], D[::-1], [[cx + a, yl_r, 0.0]]])
        rows.append(pts)
    # thumb hole: rows 1..3, columns P1 .. P0 .. Lr .. D0 (3 quads wide, 2 quads high)
    i_p1, i_p0, i_lr, i_d0 = 1, 0, n_ring - 1, n_ring - 2
    hole_rows = (1, 2, 3)
    hole_cols = [i_p1, i_p0, i_lr, i_d0]  # consecutive around the ring (P1 -> P0 -> Lr -> D0 goes backwards)
    removed = {(2, i_p0), (2, i_lr)}
    # ---- skinning of palm vertices
    thumb_hole_c = np.mean([rows[2][i_p0], rows[2][i_lr]], axis=0)
    row_ids: list[np.ndarray] = []
    vid = np.full((len(rows), n_ring), -1)
    for r, pts in enumerate(rows):
        for i, q in enumerate(pts):
            if (r, i) in removed:
                continue
            skin: dict[int, float] = {0: 1.0}
            if r == len(rows) - 1:
                fj = _finger_of_top_index(i, half, ncol)
                skin = {0: 0.5, 3 * fj + 1: 0.5}
            elif r == len(rows) - 2:
                fj = _finger_of_top_index(i, half, ncol)
                skin = {0: 0.88, 3 * fj + 1: 0.12}
            dt = np.linalg.norm(q - thumb_hole_c)
            wt = 0.55 * float(np.exp(-((dt / 0.018) ** 2)))
            if wt > 0.01 and r < len(rows) - 1:
                skin = {j: w * (1 - wt) for j, w in skin.items()}
                skin[1] = skin.get(1, 0.0) + wt
            vid[r, i] = mb.add(q[None], [skin])[0]
        row_ids.append(vid[r])
    # palm quads between rows, except the hole
    for r in range(len(rows) - 1):
        for i in range(n_ring):
            i2 = (i + 1) % n_ring
            # quad columns (i, i2) between rows r, r+1 belongs to the hole?
            if r in hole_rows[:-1] and {i, i2} <= set(hole_cols) and _adjacent_in(hole_cols, i, i2):
                continue
            mb.quad(int(vid[r, i]), int(vid[r, i2]), int(vid[r + 1, i2]), int(vid[r + 1, i]))
    # wrist cap
    wrist_c = mb.add(np.array([[cx, y_wrist - 0.004, 0.0]]), [{0: 1.0}])[0]
    mb.fan(vid[0][::-1], int(wrist_c))
    # webs between adjacent fingers: quad (P_last_i, P_first_i+1, D_first_i+1, D_last_i)
    top = vid[len(rows) - 1]
    p_ids = top[:ncol]
    d_ids = top[ncol + 1: 2 * ncol + 1][::-1]  # back to column order
    for f in range(3):
        a, b = f * half + half - 1, (f + 1) * half
        mb.quad(int(p_ids[a]), int(p_ids[b]), int(d_ids[b]), int(d_ids[a]))
    # ---- fingers
    det = p.detail
    st_prox = {0: [0.45, 1.0], 1: [0.33, 0.66, 1.0], 2: [0.25, 0.5, 0.75, 1.0]}[det]
    st_mid = {0: [1.0], 1: [0.5, 1.0], 2: [0.33, 0.66, 1.0]}[det]
    st_dist = {0: [0.5], 1: [0.4, 0.72], 2: [0.3, 0.55, 0.78]}[det]
    apexes = {}
    for fi, name in enumerate(FINGER_NAMES[1:], start=1):
        cidx = np.arange((fi - 1) * half, fi * half)
        ring_p = p_ids[cidx]
        ring_d = d_ids[cidx][::-1]
        phis_f = phis.copy()
        if name == "index":
            ring = np.concatenate([[top[n_ring - 1]], ring_p, ring_d])
            phis_f = np.concatenate([[0.0], phis])
        elif name == "little":
            ring = np.concatenate([ring_p, [top[ncol]], ring_d])
            phis_f = np.concatenate([phis[:half], [np.pi], phis[half:]])
        else:
            ring = np.concatenate([ring_p, ring_d])
        k0 = 1 + 4 * fi
        chain = J[k0: k0 + 4]
        stations = [(0, t, 1.0) for t in st_prox] + [(1, t, 1.0) for t in st_mid]
        stations += [(2, t, 1.0) for t in st_dist] + [(2, 0.90, 0.66)]
        jids = [3 * fi + 1, 3 * fi + 2, 3 * fi + 3]
        apexes[name] = _tube(mb, ring, phis_f, chain, jids, 0, np.array([0, 0, 1.0]), sk[name + "_rad"],
                             stations, blend=0.0045)
    # ---- thumb: leaves the palm through the hole (10-point ring)
    hole = [vid[1, i_p1], vid[1, i_p0], vid[1, i_lr], vid[1, i_d0], vid[2, i_d0],
            vid[3, i_d0], vid[3, i_lr], vid[3, i_p0], vid[3, i_p1], vid[2, i_p1]]
    hole = np.array(hole)
    hpts = np.array([mb.verts[i] for i in hole])
    hc = hpts.mean(0)
    chain = J[1:5].copy()
    d0 = _normalize(chain[1] - hc)
    frames = joint_frames(J)
    n_t = frames[1][:, 1]  # thumb pad normal
    n0 = _normalize(n_t - d0 * np.dot(n_t, d0))
    e1 = _normalize(np.cross(d0, n0))
    rel = hpts - hc
    ang = np.arctan2(rel @ n0, rel @ e1)
    # ring orientation must match _tube's (angle increasing); reverse if needed
    order_ok = np.sum(np.sin(np.diff(np.concatenate([ang, ang[:1]])))) > 0
    if not order_ok:
        hole, ang = hole[::-1], ang[::-1]
    thumb_stations = [(0, 0.72, 1.12), (0, 1.0, 1.0), (1, 0.5, 1.0), (1, 1.0, 0.98)]
    thumb_stations += [(2, t, 1.0) for t in st_dist] + [(2, 0.90, 0.66)]
    if det == 2:
        thumb_stations.insert(1, (0, 0.86, 1.05))
    apexes["thumb"] = _tube(mb, hole, ang, chain, [1, 2, 3], 0, n_t, sk["thumb_rad"], thumb_stations, blend=0.005)
    verts = np.array(mb.verts) * p.scale
    faces = np.array(mb.faces, dtype=np.int64)
    if _signed_volume(verts, faces) < 0:  # make the winding outward
        faces = faces[:, ::-1].copy()
    V = len(verts)
    weights = np.zeros((V, 16))
    for v, s in enumerate(mb.skin):
        for j, w in s.items():
            weights[v, j] += w
    weights /= weights.sum(1, keepdims=True)
    tips = np.array([apexes[n] for n in FINGER_NAMES], dtype=np.int64)
    return {"vertices": verts, "faces": faces, "weights": weights, "joints": J * p.scale, "tips": tips}


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _finger_of_top_index(i: int, half: int, ncol: int) -> int:
    """Finger (1=index .. 4=little) owning position i of the palm top ring."""
    if i < ncol:
        return 1 + i // half
    if i == ncol:
        return 4
    if i == 2 * ncol + 1:
        return 1
    j = 2 * ncol - i  # D reversed -> column
    return 1 + j // half


def _adjacent_in(seq: list[int], a: int, b: int) -> bool:
    ia, ib = seq.index(a), seq.index(b)
    return abs(ia - ib) == 1


# ----------------------------------------------------------------------------- regressor / weights

def fit_joint_regressor(
    vertices: np.ndarray, joints21: np.ndarray, tips: np.ndarray, weights: np.ndarray, k: int = 32
) -> np.ndarray:
    """(21, V) non-negative rows summing to 1 that reproduce the rest joints.

    Articulated joints: non-negative least squares over the k nearest vertices skinned
    only to that joint and its parent (so a neighbouring finger never moves it), with a
    small ridge that spreads the weights; fingertips: the tip apex vertex.
    """
    from scipy.optimize import nnls

    V = len(vertices)
    R = np.zeros((21, V))
    tip_rows = (4, 8, 12, 16, 20)
    for t, row in zip(tips, tip_rows, strict=True):
        R[row, t] = 1.0
    for kk in range(21):
        if kk in tip_rows:
            continue
        j16 = int(np.nonzero(KEYPOINT_OF_JOINT == kk)[0][0])
        allowed = [j16] + ([int(JOINT_PARENTS[j16])] if JOINT_PARENTS[j16] >= 0 else [])
        cand = np.nonzero((weights[:, allowed].sum(1) > 0.99) & (weights[:, j16] > 0.0))[0]
        d = np.linalg.norm(vertices[cand] - joints21[kk], axis=1)
        nb = cand[np.argsort(d)[:k]]
        A = vertices[nb].T  # (3, k)
        # invariance: the joint must not move when it rotates itself, i.e. the weighted
        # offsets of the vertices that follow the joint cancel: sum a_v w_j(v) (v - J) = 0
        Inv = (vertices[nb] - joints21[kk]).T * weights[nb, j16]
        lam, mu = 3e-3, 10.0
        M = np.concatenate([A, mu * np.ones((1, len(nb))), mu * Inv, lam * np.eye(len(nb))])
        y = np.concatenate([joints21[kk], [mu], np.zeros(3), np.zeros(len(nb))])
        w, _ = nnls(M, y)
        w /= w.sum()
        R[kk, nb] = w
    return R


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

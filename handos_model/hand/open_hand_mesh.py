"""The open hand's surface: palm rows with a thumb hole, finger and thumb tubes, skinning weights."""

from __future__ import annotations

import numpy as np

from .handedness import signed_volume
from .mesh_builder import MeshBuilder, finger_angles, tube
from .open_hand_skeleton import FINGER_NAMES, HandParams, rest_skeleton
from .skeleton import joint_frames, normalize


def build_geometry(p: HandParams) -> dict[str, np.ndarray]:
    """Build the mesh for parameters ``p``; topology depends only on ring counts/detail."""
    sk = rest_skeleton(p)
    J = sk["joints"]
    nf = p.finger_ring
    if nf % 2 or nf < 6:
        raise ValueError("finger_ring must be even and >= 6")
    half = nf // 2
    mb = MeshBuilder()
    phis = finger_angles(nf)
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
        e1 = normalize(np.cross(d, [0, 0, 1.0]))
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
        apexes[name] = tube(mb, ring, phis_f, chain, jids, 0, np.array([0, 0, 1.0]), sk[name + "_rad"],
                             stations, blend=0.0045)
    # ---- thumb: leaves the palm through the hole (10-point ring)
    hole = [vid[1, i_p1], vid[1, i_p0], vid[1, i_lr], vid[1, i_d0], vid[2, i_d0],
            vid[3, i_d0], vid[3, i_lr], vid[3, i_p0], vid[3, i_p1], vid[2, i_p1]]
    hole = np.array(hole)
    hpts = np.array([mb.verts[i] for i in hole])
    hc = hpts.mean(0)
    chain = J[1:5].copy()
    d0 = normalize(chain[1] - hc)
    frames = joint_frames(J)
    n_t = frames[1][:, 1]  # thumb pad normal
    n0 = normalize(n_t - d0 * np.dot(n_t, d0))
    e1 = normalize(np.cross(d0, n0))
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
    apexes["thumb"] = tube(mb, hole, ang, chain, [1, 2, 3], 0, n_t, sk["thumb_rad"], thumb_stations, blend=0.005)
    verts = np.array(mb.verts) * p.scale
    faces = np.array(mb.faces, dtype=np.int64)
    if signed_volume(verts, faces) < 0:  # make the winding outward
        faces = faces[:, ::-1].copy()
    V = len(verts)
    weights = np.zeros((V, 16))
    for v, s in enumerate(mb.skin):
        for j, w in s.items():
            weights[v, j] += w
    weights /= weights.sum(1, keepdims=True)
    tips = np.array([apexes[n] for n in FINGER_NAMES], dtype=np.int64)
    return {"vertices": verts, "faces": faces, "weights": weights, "joints": J * p.scale, "tips": tips}


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

"""Building blocks of the open hand's mesh: a triangle/skin builder, tubes swept along joint chains."""

from __future__ import annotations

import numpy as np

from .skeleton import normalize

# Diagonals of a quad that differ by less than this (relative) are a tie, split a-c. Many quads of
# the hand are symmetric (rings are mirror-symmetric), so their diagonals are equal and only float
# noise (another CPU's sin/cos, a different summation order) would decide: the faces would depend
# on the machine. Symmetric quads differ by < 1e-14, the closest real decision by > 1e-6.
DIAGONAL_TIE_RTOL = 1e-9


class MeshBuilder:
    """Vertices with per-vertex skinning (joint -> weight) and triangles, grown ring by ring."""

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
        """Quad a-b-c-d (in order around it), split along its shorter diagonal, a-c when the two
        are equally long within ``DIAGONAL_TIE_RTOL`` (see there)."""
        va, vb, vc, vd = (self.verts[i] for i in (a, b, c, d))
        if np.linalg.norm(va - vc) <= np.linalg.norm(vb - vd) * (1.0 + DIAGONAL_TIE_RTOL):
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


def smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def finger_angles(n: int) -> np.ndarray:
    """Ring angles: 0 = radial (+x), pi/2 = palmar (+z). Evenly spaced, offset by half a step."""
    return (np.arange(n) + 0.5) * (2 * np.pi / n)


def tube(
    mb: MeshBuilder,
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
        d = normalize(b - a)
        c = a + t * (b - a)
        n = frame_n - d * np.dot(frame_n, d)
        n = normalize(n)
        e1 = normalize(np.cross(d, n))  # radial side for fingers along +y with n = +z
        # cross(d, n) for d=+y, n=+z is +x
        s = s_joint[bone] + t * seg_len[bone]
        taper = 1.0 - 0.22 * (s / total)
        rw, rt = radii * taper * rf
        pts = c + rw * np.cos(phis)[:, None] * e1 + rt * np.sin(phis)[:, None] * n
        # pad: fingertip pulp slightly on the palmar side
        if bone == 2:
            pts = pts + 0.12 * rt * np.clip(np.sin(phis), 0, None)[:, None] * n
        skin = chain_skin(s, s_joint, chain_joints, parent_joint, blend)
        ring = mb.add(pts, [skin] * len(pts))
        mb.bridge(prev, ring)
        prev = ring
    tip = chain[3]
    apex = mb.add(tip[None], [{chain_joints[2]: 1.0}])[0]
    mb.fan(prev, int(apex))
    return int(apex)


def chain_skin(s: float, s_joint: np.ndarray, chain_joints: list[int], parent_joint: int, blend: float) -> dict[int, float]:
    """Weights for a ring at arclength s: smooth transitions of width 2*blend around each joint."""
    # owners along the chain: before j1 -> parent, [j1, j2) -> joint1, [j2, j3) -> joint2, after -> joint3
    owners = [parent_joint] + list(chain_joints)
    w = {owners[0]: 1.0}
    for k in range(3):
        a = float(smoothstep((s - s_joint[k] + blend) / (2 * blend)))
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

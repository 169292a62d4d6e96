"""Coarse vertex tokens and the fixed linear upsampling back to the full mesh.

A departure from the paper's one query per vertex (docs/model.md, "Coarse vertex tokens"):
the decoder carries C << V vertex tokens (C ~ 100-200) and a fixed matrix ``U`` (V, C)
gives all V vertices, ``V = U V_c``, so the losses, the output, ``J^3D = J V`` and the
left/right rule from the normals keep the full mesh.

Both pieces are built from the hand model, as the lifting matrix is built from its
skinning weights:

* the coarse vertices are a farthest-point sample of the rest mesh (deterministic: it
  starts at the vertex nearest the wrist, ties go to the lower index);
* each row of ``U`` is an *affine* combination (weights sum to 1) of the ``k`` coarse
  vertices nearest that vertex on the rest mesh, fitted by least squares so that
  ``U V_c`` reproduces the hand model's own posed meshes (random articulations, shapes and
  global rotations); affine rows make it exact for any rigid motion of a neighbourhood, and
  the ridge term keeps weights near inverse-distance ones where the fit is underdetermined.

:func:`upsampling_error_mm` measures the fit on held-out posed meshes (docs/model.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hand_model import HandModel


@dataclass(frozen=True)
class CoarseMesh:
    """Attributes:
    indices: (C,) int64, the coarse vertices' indices in the full mesh.
    upsampling: (V, C) float32, rows sum to 1; ``full = upsampling @ coarse``.
    """

    indices: np.ndarray
    upsampling: np.ndarray

    @property
    def num_coarse(self) -> int:
        return int(self.indices.shape[0])


def farthest_point_indices(points: np.ndarray, count: int, start: int) -> np.ndarray:
    """(N, 3) points -> (count,) indices of a farthest-point sample starting at ``start``."""
    pts = np.asarray(points, np.float64)
    if not 0 < count <= len(pts):
        raise ValueError(f"coarse vertex count must be in 1..{len(pts)}, got {count}")
    chosen = [int(start)]
    dist = np.linalg.norm(pts - pts[start], axis=1)
    for _ in range(count - 1):
        # round so that the choice does not hinge on the last bits of the arithmetic
        nxt = int(np.argmax(np.round(dist, 9)))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(pts - pts[nxt], axis=1))
    return np.asarray(chosen, np.int64)


def posed_samples(hand: HandModel, count: int, seed: int) -> np.ndarray:
    """(count, V, 3) wrist-relative meshes: random pose kinds, shapes and global rotations."""
    rng = np.random.default_rng(seed)
    pose = hand.sample_pose(rng, global_orient=True, n=count)
    shape = hand.sample_shape(rng, n=count)
    verts, _joints = hand.forward_numpy(pose, shape)
    return np.asarray(verts, np.float64)


def _fit_row(x_nb: np.ndarray, x_v: np.ndarray, prior: np.ndarray, ridge: float) -> np.ndarray:
    """Affine least squares: min ||x_nb^T w - x_v||^2 + ridge ||w - prior||^2 s.t. sum(w) = 1.

    x_nb: (k, M) neighbour coordinates over M = samples * 3; x_v: (M,); prior: (k,) sums to 1.
    """
    k = x_nb.shape[0]
    a = x_nb @ x_nb.T + ridge * np.eye(k)
    b = x_nb @ x_v + ridge * prior
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2.0 * a
    kkt[:k, k] = 1.0
    kkt[k, :k] = 1.0
    rhs = np.concatenate([2.0 * b, [1.0]])
    return np.linalg.solve(kkt, rhs)[:k]


def build_coarse_mesh(
    hand: HandModel,
    num_coarse: int = 128,
    neighbours: int = 8,
    samples: int = 192,
    ridge: float = 1e-4,
    seed: int = 0,
) -> CoarseMesh:
    """Coarse vertex indices and the (V, C) upsampling matrix of ``hand`` (see module doc)."""
    template = np.asarray(hand.template, np.float64)
    v = template.shape[0]
    wrist = np.asarray(hand.joint_regressor, np.float64)[0] @ template
    start = int(np.argmin(np.round(np.linalg.norm(template - wrist, axis=1), 9)))
    idx = farthest_point_indices(template, num_coarse, start)
    k = min(neighbours, num_coarse)
    posed = posed_samples(hand, samples, seed)  # (N, V, 3)
    flat = posed.transpose(1, 0, 2).reshape(v, -1)  # (V, N * 3)
    scale = float(np.abs(flat).mean()) or 1.0
    flat = flat / scale
    upsampling = np.zeros((v, num_coarse), np.float64)
    rest_d = np.linalg.norm(template[:, None, :] - template[idx][None], axis=2)  # (V, C)
    for i in range(v):
        hit = np.nonzero(idx == i)[0]
        if len(hit):
            upsampling[i, hit[0]] = 1.0
            continue
        nb = np.lexsort((np.arange(num_coarse), np.round(rest_d[i], 9)))[:k]
        inv = 1.0 / np.maximum(rest_d[i, nb], 1e-6)
        prior = inv / inv.sum()
        upsampling[i, nb] = _fit_row(flat[idx[nb]], flat[i], prior, ridge * flat.shape[1])
    return CoarseMesh(indices=idx, upsampling=upsampling.astype(np.float32))


def upsampling_error_mm(hand: HandModel, coarse: CoarseMesh, samples: int = 64, seed: int = 12345) -> dict[str, float]:
    """Mean / max vertex error (mm) of ``U V_c`` against held-out posed meshes of ``hand``."""
    posed = posed_samples(hand, samples, seed)
    approx = np.einsum("vc,ncd->nvd", coarse.upsampling.astype(np.float64), posed[:, coarse.indices])
    err = np.linalg.norm(approx - posed, axis=-1) * 1000.0
    return {"mean_mm": float(err.mean()), "p99_mm": float(np.percentile(err, 99)), "max_mm": float(err.max())}

"""The open hand's joint regressor: rest joints as non-negative vertex combinations."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from .skeleton import JOINT_PARENTS
from .topology import FINGERTIPS, KEYPOINT_OF_JOINT

DISTANCE_QUANTUM_M = 1e-9  # vertex-joint distances are compared at this resolution (1 nm)


def fit_joint_regressor(
    vertices: np.ndarray, joints21: np.ndarray, tips: np.ndarray, weights: np.ndarray, k: int = 32
) -> np.ndarray:
    """(21, V) non-negative rows summing to 1 that reproduce the rest joints.

    Articulated joints: non-negative least squares over the k nearest vertices skinned
    only to that joint and its parent (so a neighbouring finger never moves it), with a
    small ridge that spreads the weights; fingertips: the tip apex vertex.
    """
    V = len(vertices)
    R = np.zeros((21, V))
    tip_rows = FINGERTIPS
    for t, row in zip(tips, tip_rows, strict=True):
        R[row, t] = 1.0
    for kk in range(21):
        if kk in tip_rows:
            continue
        j16 = int(np.nonzero(KEYPOINT_OF_JOINT == kk)[0][0])
        allowed = [j16] + ([int(JOINT_PARENTS[j16])] if JOINT_PARENTS[j16] >= 0 else [])
        cand = np.nonzero((weights[:, allowed].sum(1) > 0.99) & (weights[:, j16] > 0.0))[0]
        d = np.linalg.norm(vertices[cand] - joints21[kk], axis=1)
        # nearest first; equal distances (mirror-symmetric vertices) in index order, not by float noise
        nb = cand[np.lexsort((cand, np.round(d / DISTANCE_QUANTUM_M)))[:k]]
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

"""Rotations shared by the hand models and the synthetic scenes: axis-angle <-> matrices, random rotations."""

from __future__ import annotations

import numpy as np
import torch


def rodrigues_np(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices."""
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)
    small = theta < 1e-8
    k = aa / np.where(small, 1.0, theta)
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(kx)
    K = np.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    s = np.sin(theta)[..., None]
    c = np.cos(theta)[..., None]
    eye = np.broadcast_to(np.eye(3), K.shape)
    R = eye + s * K + (1 - c) * (K @ K)
    return np.where(small[..., None], eye, R)


def rodrigues_torch(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3); differentiable, safe at zero."""
    theta2 = (aa * aa).sum(-1, keepdim=True)
    theta = torch.sqrt(theta2 + 1e-12)
    k = aa / theta
    kx, ky, kz = k.unbind(-1)
    zero = torch.zeros_like(kx)
    K = torch.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    s = torch.sin(theta)[..., None]
    c = torch.cos(theta)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(K.shape)
    # for tiny angles sin/theta -> 1, so R ~ I + [aa]x which is what s*K gives up to O(theta^2)
    return eye + s * K + (1 - c) * (K @ K)


def random_rotation_aa(rng: np.random.Generator) -> np.ndarray:
    """Uniformly random rotation as an axis-angle (3,)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    if q[0] < 0:
        q = -q
    angle = 2 * np.arccos(np.clip(q[0], -1, 1))
    s = np.sqrt(max(1 - q[0] ** 2, 1e-12))
    return (q[1:] / s * angle).astype(np.float64)

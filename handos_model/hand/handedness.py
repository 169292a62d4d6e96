"""Left/right from mesh normals (paper Sec. 3.5, Fig. 4).

Vertices are always meshed with the RIGHT hand's outward-oriented faces. On a right
hand the face normals point out of the surface; on a left hand (mirrored vertices)
the same faces are inward-oriented. The orientation of a closed surface is the sign
of its signed volume ``sum_f (v0 - c) . ((v1 - c) x (v2 - c)) / 6``.

We use the volume-weighted vote of the faces: every face contributes the signed
volume of the tetrahedron it spans with the centroid ``c``; a face "votes right" when
its contribution is positive. With ``P`` the total positive and ``N`` the total
negative (absolute) contribution:

    side = RIGHT if P >= N else LEFT,   confidence = max(P, N) / (P + N)  in [0.5, 1].

The sum ``P - N`` is the signed volume, independent of ``c`` for a closed mesh, so the
decision is exact for any posed, even self-touching, GT mesh (fists included, where
some faces legitimately face the centroid); the confidence drops towards 0.5 when a
predicted mesh is noisy or flat. Works on numpy arrays and torch tensors of any batch
shape.
"""

from __future__ import annotations

import numpy as np
import torch

LEFT = 0
RIGHT = 1


def _face_volumes_np(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    v = np.asarray(vertices, dtype=np.float64)
    c = v.mean(axis=-2, keepdims=True)
    v = v - c
    a, b, d = v[..., faces[:, 0], :], v[..., faces[:, 1], :], v[..., faces[:, 2], :]
    return np.einsum("...i,...i->...", a, np.cross(b, d)) / 6.0


def face_signed_volumes(vertices, faces):
    """(..., V, 3), (F, 3) -> (..., F) signed tetrahedron volumes w.r.t. the centroid."""
    if isinstance(vertices, torch.Tensor):
        if isinstance(faces, torch.Tensor):
            f = faces.to(device=vertices.device, dtype=torch.long)
        else:
            f = torch.as_tensor(np.asarray(faces), dtype=torch.long, device=vertices.device)
        v = vertices - vertices.mean(dim=-2, keepdim=True)
        a, b, d = v[..., f[:, 0], :], v[..., f[:, 1], :], v[..., f[:, 2], :]
        return (a * torch.linalg.cross(b, d, dim=-1)).sum(-1) / 6.0
    return _face_volumes_np(vertices, np.asarray(faces))


def signed_volume(vertices, faces):
    """(..., V, 3) -> (...,) signed volume (m^3): > 0 right hand, < 0 left hand."""
    vol = face_signed_volumes(vertices, faces)
    return vol.sum(-1)


def side_from_normals(vertices, faces):
    """Left/right of meshes that use the right hand's faces.

    Args:
        vertices: (..., V, 3) numpy array or torch tensor (any frame, any translation).
        faces: (F, 3) right-hand faces (outward-oriented on a right hand).

    Returns:
        side: (...,) int (numpy int64 / torch long), 0 = left, 1 = right.
        confidence: (...,) float in [0.5, 1], volume-weighted fraction of faces that agree.
    """
    vol = face_signed_volumes(vertices, faces)
    if isinstance(vol, torch.Tensor):
        pos = vol.clamp(min=0).sum(-1)
        neg = (-vol).clamp(min=0).sum(-1)
        side = (pos >= neg).long()
        conf = torch.maximum(pos, neg) / (pos + neg).clamp(min=1e-30)
        conf = torch.where(pos + neg > 0, conf, torch.full_like(conf, 0.5))
        return side, conf
    pos = np.clip(vol, 0, None).sum(-1)
    neg = np.clip(-vol, 0, None).sum(-1)
    side = (pos >= neg).astype(np.int64)
    tot = pos + neg
    conf = np.where(tot > 0, np.maximum(pos, neg) / np.maximum(tot, 1e-30), 0.5)
    return side, conf.astype(np.float32) if conf.ndim else np.float32(conf)

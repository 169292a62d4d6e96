"""Camera geometry: J^3D = J V, J^proj = Pi_K(J^3D + t), and the translation parameterisation.

The translation ``t`` (metres, camera frame, the wrist's position) is predicted in a
depth-normalised form so it is metric for whatever intrinsics the image has:
the camera head outputs ``(du, dv, dz)``; the wrist projects at
``u = (R^t_cx + du * b_w) * S``, ``v = (R^t_cy + dv * b_h) * S`` (network pixels,
``R^t`` the camera query's reference centre, ``b`` the instance box, S the input
size) and its depth is ``z = f * s_hand / (sqrt(b_w b_h) S) * exp(dz)`` (a hand of
physical size ``s_hand`` metres spanning the box; ``dz`` is soft-limited to +-5 by ``5 tanh(dz / 5)``,
so a head pushed far out still gets a gradient back), then
``x = (u - c_x) z / f_x``, ``y = (v - c_y) z / f_y``. With the network-input K
(letterbox-scaled), the same prediction is metric for the real camera.
"""

from __future__ import annotations

import torch
from torch import Tensor


def regress_joints(vertices: Tensor, joint_regressor: Tensor) -> Tensor:
    """``J^3D = J V``: (K, V, 3) and (J, V) -> (K, J, 3)."""
    return torch.einsum("jv,kvc->kjc", joint_regressor, vertices)


def project_points(points: Tensor, K: Tensor, min_depth: float = 1e-3) -> Tensor:
    """Pinhole projection ``Pi_K``: (K, N, 3) camera-frame metres and (K, 3, 3) -> (K, N, 2) pixels."""
    z = points[..., 2:3].clamp(min=min_depth)
    xy = points[..., :2] / z
    f = torch.stack([K[:, 0, 0], K[:, 1, 1]], dim=-1)[:, None, :]
    c = torch.stack([K[:, 0, 2], K[:, 1, 2]], dim=-1)[:, None, :]
    return xy * f + c


DZ_LIMIT = 5.0  # depth within exp(+-5) of the prior


def decode_camera_translation(
    raw: Tensor, ref_center: Tensor, boxes: Tensor, K: Tensor, image_size: float, hand_size_m: float = 0.15
) -> Tensor:
    """Camera head output -> metric translation.

    Args:
        raw: (K, 3) ``(du, dv, dz)``.
        ref_center: (K, 2) normalised centre of the camera query's reference box.
        boxes: (K, 4) instance boxes, normalised ``cxcywh``.
        K: (K, 3, 3) network-input intrinsics.
        image_size: S (network input side, pixels).
        hand_size_m: physical size of a hand spanning its box (prior scale).

    Returns:
        (K, 3) ``t`` in metres.
    """
    bw, bh = boxes[:, 2].clamp(min=1e-4), boxes[:, 3].clamp(min=1e-4)
    u = (ref_center[:, 0] + raw[:, 0] * bw) * image_size
    v = (ref_center[:, 1] + raw[:, 1] * bh) * image_size
    fx, fy, cx, cy = K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]
    size_px = (bw * bh).sqrt() * image_size
    z = 0.5 * (fx + fy) * hand_size_m / size_px * torch.exp(DZ_LIMIT * torch.tanh(raw[:, 2] / DZ_LIMIT))
    return torch.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], dim=-1)

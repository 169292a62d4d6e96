"""Multi-scale deformable attention (Deformable DETR, Zhu et al. 2020) in plain PyTorch.

No compiled extension: sampling uses ``torch.nn.functional.grid_sample`` per level.
The decoder reads the fused feature ``F^GD`` (``B`` images) with queries grouped
per *instance* (``M`` selected hands, each belonging to one image): ``value`` is
projected once per image and gathered per instance with ``batch_index``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def ms_deform_attn_core(
    value: Tensor,
    spatial_shapes: list[tuple[int, int]],
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Bilinear sampling + weighted sum.

    Args:
        value: (N, T, h, dh) values, ``T = sum(H_l * W_l)`` in level order.
        spatial_shapes: L pairs ``(H_l, W_l)``.
        sampling_locations: (N, Lq, h, L, P, 2) in ``[0, 1]`` (x, y), image-normalised.
        attention_weights: (N, Lq, h, L, P), softmax-normalised over ``L * P``.

    Returns:
        (N, Lq, h * dh)
    """
    n, _, h, dh = value.shape
    _, lq, _, num_levels, num_points, _ = sampling_locations.shape
    value_list = value.split([hh * ww for hh, ww in spatial_shapes], dim=1)
    grids = (2.0 * sampling_locations - 1.0).transpose(1, 2).flatten(0, 1)  # (N*h, Lq, L, P, 2)
    weights = attention_weights.transpose(1, 2).reshape(n * h, 1, lq, num_levels, num_points)
    out = None
    for lvl, (hh, ww) in enumerate(spatial_shapes):
        # (N, H*W, h, dh) -> (N*h, dh, H, W)
        v = value_list[lvl].flatten(2).transpose(1, 2).reshape(n * h, dh, hh, ww)
        sampled = F.grid_sample(v, grids[:, :, lvl], mode="bilinear", padding_mode="zeros", align_corners=False)
        # (N*h, dh, Lq, P) weighted over the P points, accumulated over levels
        contrib = (sampled * weights[..., lvl, :]).sum(-1)
        out = contrib if out is None else out + contrib
    out = out.view(n, h * dh, lq)
    return out.transpose(1, 2).contiguous()


def init_value_projection(proj: nn.Linear) -> None:
    """Deformable DETR's initialisation of a value projection: Xavier-uniform weight, zero bias."""
    nn.init.xavier_uniform_(proj.weight)
    nn.init.constant_(proj.bias, 0.0)


def project_values(proj: nn.Linear, features: Tensor, num_heads: int) -> Tensor:
    """(B, T, value_dim) -> (B, T, h, dh): the values of the deformable attention, split into heads."""
    b, t, _ = features.shape
    return proj(features).view(b, t, num_heads, proj.out_features // num_heads)


class MSDeformAttn(nn.Module):
    """Multi-scale deformable cross-attention with box references.

    Sampling points are ``centre + offset / P * size / 2`` of each query's
    reference box (Deformable DETR two-stage form), on every feature level.

    Args:
        d_model: query width ``d``.
        value_dim: width of the value tokens (``F^GD``), projected to ``d``.
        num_levels: L feature levels.
        num_heads: h.
        num_points: P sampling points per head and level.
    """

    def __init__(
        self, d_model: int, value_dim: int, num_levels: int, num_heads: int = 4, num_points: int = 4,
        value_proj: bool = True,
    ):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model {d_model} must be divisible by num_heads {num_heads}")
        self.d_model = d_model
        self.num_levels = num_levels
        self.num_heads = num_heads
        self.num_points = num_points
        self.sampling_offsets = nn.Linear(d_model, num_heads * num_levels * num_points * 2)
        self.attention_weights = nn.Linear(d_model, num_heads * num_levels * num_points)
        # value_proj=False: the values come from another module's ``project_value`` (shared)
        self.value_proj = nn.Linear(value_dim, d_model) if value_proj else None
        self.output_proj = nn.Linear(d_model, d_model)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        nn.init.constant_(self.sampling_offsets.weight, 0.0)
        thetas = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi / self.num_heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True)[0]
        grid = grid.view(self.num_heads, 1, 1, 2).repeat(1, self.num_levels, self.num_points, 1)
        for i in range(self.num_points):
            grid[:, :, i, :] *= i + 1
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.reshape(-1))
        nn.init.constant_(self.attention_weights.weight, 0.0)
        nn.init.constant_(self.attention_weights.bias, 0.0)
        if self.value_proj is not None:
            init_value_projection(self.value_proj)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.constant_(self.output_proj.bias, 0.0)

    def project_value(self, features: Tensor) -> Tensor:
        """(B, T, value_dim) -> (B, T, h, dh); done once per image and layer."""
        return project_values(self.value_proj, features, self.num_heads)

    def forward(
        self,
        query: Tensor,
        reference_boxes: Tensor,
        value: Tensor,
        batch_index: Tensor,
        spatial_shapes: list[tuple[int, int]],
    ) -> Tensor:
        """
        Args:
            query: (M, Lq, d) queries (content + position), grouped per instance.
            reference_boxes: (M, Lq, 4) normalised ``cxcywh``.
            value: (B, T, h, dh) from :meth:`project_value`.
            batch_index: (M,) long, image of each instance.
            spatial_shapes: L pairs ``(H_l, W_l)``.

        Returns:
            (M, Lq, d)
        """
        m, lq, _ = query.shape
        h, lvl, p = self.num_heads, self.num_levels, self.num_points
        offsets = self.sampling_offsets(query).view(m, lq, h, lvl, p, 2)
        weights = self.attention_weights(query).view(m, lq, h, lvl * p).softmax(-1).view(m, lq, h, lvl, p)
        ref = reference_boxes[:, :, None, None, None, :]
        locations = ref[..., :2] + offsets / p * ref[..., 2:] * 0.5
        if m == 0:
            return self.output_proj(query.new_zeros(0, lq, self.d_model))
        if value.shape[0] == 1:
            # All instances come from one image (always the case in ``predict``): stack
            # their queries along the query axis instead of copying the value per instance.
            out = ms_deform_attn_core(
                value, spatial_shapes, locations.reshape(1, m * lq, h, lvl, p, 2), weights.reshape(1, m * lq, h, lvl, p)
            )
            return self.output_proj(out.view(m, lq, self.d_model))
        v = value.index_select(0, batch_index)
        out = ms_deform_attn_core(v, spatial_shapes, locations, weights)
        return self.output_proj(out)

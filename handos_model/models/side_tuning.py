"""Side tuning (paper Sec. 3.2, suppl. VI.1 / Fig. IX).

The detector is frozen and its encoder output ``F^e_6`` is tuned for detection, so
a small learnable network maps the visual backbone's multi-scale maps to
complementary features ``F^s``: one branch per feature level, each of 3 conv
layers (3x3 conv-GN-ReLU, 3x3 conv-GN-ReLU, 1x1 conv). Grounding DINO has 4
levels (the 4th is below the backbone's last map: that branch's first conv has
stride 2); the tiny RT-DETR has 3. ``F^s`` is flattened exactly like ``F^e``
(level by level, row-major), so token ``i`` of both is the same image location.

``F^GD = [F^e_6, F^s]`` (:func:`fuse_features`) is the paper's concatenation,
taken along channels: (B, T, d + c_s). The projection back to ``d`` is the value
projection of the deformable attention (``MSDeformAttn.value_proj``, one per layer as in the
paper, or one shared by all layers: ``HandDecoder(shared_value=True)``), so no extra layer is
needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _group_norm(channels: int) -> nn.GroupNorm:
    groups = 32 if channels % 32 == 0 else (8 if channels % 8 == 0 else 1)
    return nn.GroupNorm(groups, channels)


class SideBranch(nn.Module):
    """3 conv layers mapping one backbone map to one feature level: (B, C_in, H, W) -> (B, C_s, H', W')."""

    def __init__(self, in_channels: int, channels: int, first_stride: int = 1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=first_stride, padding=1, bias=False),
            _group_norm(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            _group_norm(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class SideTuning(nn.Module):
    """Learnable side network producing ``F^s`` in ``F^e``'s token layout.

    Args:
        backbone_channels: C_l of the detector's backbone maps (shallow to deep).
        num_levels: L, number of feature levels of ``F^e``.
        channels: C_s, width of ``F^s``.
    """

    def __init__(self, backbone_channels: list[int], num_levels: int, channels: int = 64):
        super().__init__()
        self.channels = channels
        self.num_levels = num_levels
        n = len(backbone_channels)
        branches = []
        self.sources: list[int] = []
        for lvl in range(num_levels):
            src = min(lvl, n - 1)
            stride = 2 ** (lvl - src)  # levels below the last backbone map downsample
            self.sources.append(src)
            branches.append(SideBranch(backbone_channels[src], channels, first_stride=stride))
        self.branches = nn.ModuleList(branches)

    def forward(self, backbone_maps: list[Tensor], spatial_shapes: list[tuple[int, int]]) -> Tensor:
        """
        Args:
            backbone_maps: list of (B, C_l, H_l, W_l).
            spatial_shapes: L pairs ``(H_l, W_l)`` of ``F^e``'s levels.

        Returns:
            (B, T, C_s) with ``T = sum(H_l * W_l)``.
        """
        tokens = []
        for lvl, (h, w) in enumerate(spatial_shapes):
            y = self.branches[lvl](backbone_maps[self.sources[lvl]])
            if y.shape[-2:] != (h, w):
                y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
            tokens.append(y.flatten(2).transpose(1, 2))
        return torch.cat(tokens, dim=1)


def fuse_features(memory: Tensor, side: Tensor) -> Tensor:
    """``F^GD = [F^e_6, F^s]``: (B, T, d) and (B, T, C_s) -> (B, T, d + C_s)."""
    if memory.shape[:2] != side.shape[:2]:
        raise ValueError(f"F^e {tuple(memory.shape)} and F^s {tuple(side.shape)} must share (B, T)")
    return torch.cat([memory, side], dim=-1)

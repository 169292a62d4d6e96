"""Decoding layers (paper Fig. 3).

(a) :class:`Canonical2DLayer`: self-attention among one hand's joint queries,
    deformable attention over ``F^GD``, FFN.
(b) :class:`InteractiveLayer`: the same with hierarchical attention over
    ``[J^2D, V, t]`` tokens (mask of Fig. 8(c)).

Both have the same parameters (so a 2D-stage model's layers load into the
interactive layers of the full model). Post-norm, DINO order: self-attention,
cross-attention, FFN.
"""

from __future__ import annotations

from torch import Tensor, nn

from .deformable_attention import MSDeformAttn
from .hierarchical_attention import MaskedSelfAttention, hierarchical_attention_mask


class DecoderLayer(nn.Module):
    """Self-attention + deformable cross-attention + FFN on (M, N, d) tokens of M hands.

    Args:
        d_model: d.  value_dim: width of ``F^GD``.  num_levels: L.
        num_heads: attention heads.  num_points: deformable sampling points per head and level.
        ffn_dim: FFN hidden width.
    """

    def __init__(self, d_model: int, value_dim: int, num_levels: int, num_heads: int, num_points: int, ffn_dim: int):
        super().__init__()
        self.self_attn = MaskedSelfAttention(d_model, num_heads)
        self.norm1 = nn.LayerNorm(d_model)
        self.cross_attn = MSDeformAttn(d_model, value_dim, num_levels, num_heads, num_points)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn_dim), nn.ReLU(inplace=True), nn.Linear(ffn_dim, d_model))
        self.norm3 = nn.LayerNorm(d_model)

    def attention_mask(self, num_tokens: int) -> Tensor | None:
        return None

    def forward(
        self,
        queries: Tensor,
        pos: Tensor,
        refs: Tensor,
        features: Tensor,
        batch_index: Tensor,
        spatial_shapes: list[tuple[int, int]],
    ) -> Tensor:
        """
        Args:
            queries: (M, N, d) tokens of M hands.  pos: (M, N, d) positional embeddings.
            refs: (M, N, 4) normalised ``cxcywh`` reference boxes.
            features: (B, T, value_dim) ``F^GD``.  batch_index: (M,) image of each hand.
            spatial_shapes: L pairs ``(H_l, W_l)``.

        Returns:
            (M, N, d)
        """
        mask = self.attention_mask(queries.shape[1])
        queries = self.norm1(queries + self.self_attn(queries, pos, mask))
        value = self.cross_attn.project_value(features)
        queries = self.norm2(queries + self.cross_attn(queries + pos, refs, value, batch_index, spatial_shapes))
        return self.norm3(queries + self.ffn(queries))


class Canonical2DLayer(DecoderLayer):
    """Fig. 3(a): full self-attention among the J joint queries of each hand."""


class InteractiveLayer(DecoderLayer):
    """Fig. 3(b): hierarchical self-attention over ``[J^2D (J), V (V), t (1)]`` of each hand."""

    def __init__(self, *args, num_joints: int, num_vertices: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_tokens = num_joints + num_vertices + 1
        self.register_buffer("mask", hierarchical_attention_mask(num_joints, num_vertices), persistent=False)

    def attention_mask(self, num_tokens: int) -> Tensor | None:
        if num_tokens != self.num_tokens:
            raise ValueError(f"interactive layer expects {self.num_tokens} tokens per hand, got {num_tokens}")
        return self.mask


def build_layer(kind: str, **kwargs) -> DecoderLayer:
    """``kind`` in {"2d", "interactive"}."""
    if kind == "2d":
        kwargs.pop("num_joints", None)
        kwargs.pop("num_vertices", None)
        return Canonical2DLayer(**kwargs)
    if kind == "interactive":
        return InteractiveLayer(**kwargs)
    raise ValueError(f"unknown decoder layer kind {kind!r}")


__all__ = ["Canonical2DLayer", "DecoderLayer", "InteractiveLayer", "build_layer"]

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

import torch
from torch import Tensor, nn

from .deformable_attention import MSDeformAttn
from .hierarchical_attention import MaskedSelfAttention, hierarchical_attention_mask


class DecoderLayer(nn.Module):
    """Self-attention + deformable cross-attention + FFN on (M, N, d) tokens of M hands.

    Args:
        d_model: d.  value_dim: width of ``F^GD``.  num_levels: L.
        num_heads: attention heads.  num_points: deformable sampling points per head and level.
        ffn_dim: FFN hidden width.
        own_value: the layer projects ``F^GD`` to its own values (the paper); False = the decoder
            projects once for all layers and passes the values in (``HandDecoder(shared_value=True)``).
    """

    def __init__(self, d_model: int, value_dim: int, num_levels: int, num_heads: int, num_points: int, ffn_dim: int,
                 own_value: bool = True):
        super().__init__()
        self.self_attn = MaskedSelfAttention(d_model, num_heads)
        self.norm1 = nn.LayerNorm(d_model)
        self.cross_attn = MSDeformAttn(d_model, value_dim, num_levels, num_heads, num_points, value_proj=own_value)
        self.norm2 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn_dim), nn.ReLU(inplace=True), nn.Linear(ffn_dim, d_model))
        self.norm3 = nn.LayerNorm(d_model)

    def attention_mask(self, num_tokens: int) -> Tensor | None:
        return None

    def values(self, features: Tensor, shared: Tensor | None) -> Tensor:
        """The deformable attention's values: (B, T, h, dh) from ``F^GD`` (B, T, value_dim), or ``shared``."""
        if self.cross_attn.value_proj is None:
            if shared is None:
                raise ValueError("this layer has no value projection of its own: pass the decoder's shared values")
            return shared
        return self.cross_attn.project_value(features)

    def forward(
        self,
        queries: Tensor,
        pos: Tensor,
        refs: Tensor,
        features: Tensor,
        batch_index: Tensor,
        spatial_shapes: list[tuple[int, int]],
        shared_value: Tensor | None = None,
    ) -> Tensor:
        """
        Args:
            queries: (M, N, d) tokens of M hands.  pos: (M, N, d) positional embeddings.
            refs: (M, N, 4) normalised ``cxcywh`` reference boxes.
            features: (B, T, value_dim) ``F^GD``.  batch_index: (M,) image of each hand.
            spatial_shapes: L pairs ``(H_l, W_l)``.
            shared_value: (B, T, h, dh) values projected once by the decoder (layers built with
                ``own_value=False``), else None.

        Returns:
            (M, N, d)
        """
        mask = self.attention_mask(queries.shape[1])
        queries = self.norm1(queries + self.self_attn(queries, pos, mask))
        value = self.values(features, shared_value)
        queries = self.norm2(queries + self.cross_attn(queries + pos, refs, value, batch_index, spatial_shapes))
        return self.norm3(queries + self.ffn(queries))


class Canonical2DLayer(DecoderLayer):
    """Fig. 3(a): full self-attention among the J joint queries of each hand."""


class InteractiveLayer(DecoderLayer):
    """Fig. 3(b): hierarchical self-attention over ``[J^2D (J), V (V), t (1)]`` of each hand.

    The mask of Fig. 8(c) is computed as two unmasked attentions
    (:meth:`MaskedSelfAttention.forward_camera_apart`, same result). With ``vertex_points``
    set, the V vertex tokens sample ``F^GD`` with their own, smaller deformable attention
    (``vertex_points`` points per head and level, values shared with the joint/camera tokens'
    attention): neighbouring vertices sample nearly the same places, so 48 samples per vertex
    token (4 heads x 3 levels x 4 points) are mostly duplicates (docs/model.md).
    """

    def __init__(self, *args, num_joints: int, num_vertices: int, vertex_points: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.num_joints = num_joints
        self.num_vertices = num_vertices
        self.num_tokens = num_joints + num_vertices + 1
        self.register_buffer("mask", hierarchical_attention_mask(num_joints, num_vertices), persistent=False)
        self.cross_attn_vertex = None
        if vertex_points is not None:
            ca = self.cross_attn
            self.cross_attn_vertex = MSDeformAttn(
                ca.d_model, 0, ca.num_levels, ca.num_heads, vertex_points, value_proj=False
            )

    def attention_mask(self, num_tokens: int) -> Tensor | None:
        if num_tokens != self.num_tokens:
            raise ValueError(f"interactive layer expects {self.num_tokens} tokens per hand, got {num_tokens}")
        return self.mask

    def forward(
        self,
        queries: Tensor,
        pos: Tensor,
        refs: Tensor,
        features: Tensor,
        batch_index: Tensor,
        spatial_shapes: list[tuple[int, int]],
        shared_value: Tensor | None = None,
    ) -> Tensor:
        """Same contract as :meth:`DecoderLayer.forward`, with ``N = J + V + 1``."""
        self.attention_mask(queries.shape[1])
        queries = self.norm1(queries + self.self_attn.forward_camera_apart(queries, pos))
        value = self.values(features, shared_value)
        q = queries + pos
        if self.cross_attn_vertex is None:
            cross = self.cross_attn(q, refs, value, batch_index, spatial_shapes)
        else:
            nj, nv = self.num_joints, self.num_vertices
            jt = torch.cat([q[:, :nj], q[:, nj + nv :]], dim=1)
            jt_refs = torch.cat([refs[:, :nj], refs[:, nj + nv :]], dim=1)
            out_jt = self.cross_attn(jt, jt_refs, value, batch_index, spatial_shapes)
            out_v = self.cross_attn_vertex(q[:, nj : nj + nv], refs[:, nj : nj + nv], value, batch_index, spatial_shapes)
            cross = torch.cat([out_jt[:, :nj], out_v, out_jt[:, nj:]], dim=1)
        queries = self.norm2(queries + cross)
        return self.norm3(queries + self.ffn(queries))


def build_layer(kind: str, **kwargs) -> DecoderLayer:
    """``kind`` in {"2d", "interactive"}."""
    if kind == "2d":
        kwargs.pop("num_joints", None)
        kwargs.pop("num_vertices", None)
        kwargs.pop("vertex_points", None)
        return Canonical2DLayer(**kwargs)
    if kind == "interactive":
        return InteractiveLayer(**kwargs)
    raise ValueError(f"unknown decoder layer kind {kind!r}")


__all__ = ["Canonical2DLayer", "DecoderLayer", "InteractiveLayer", "build_layer"]

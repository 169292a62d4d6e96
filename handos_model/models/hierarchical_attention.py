"""Hierarchical attention (paper Sec. 3.3, Fig. 3(b) and Fig. 8(c)).

Tokens of one hand are ordered ``[J^2D (J), V (V), t (1)]``. Visibility rules
(row = query token, column = key token, ``True`` = may attend):

==========  ======  ======  ======
query \\ key  2D      V       t
==========  ======  ======  ======
2D          yes     yes     no
V           yes     yes     no
t           yes     yes     yes
==========  ======  ======  ======

2D joints and vertices exchange information both ways; the camera translation
reads both but is never read by them (2D/3D structure stays translation- and
scale-invariant). Different hands never attend to each other: self-attention runs
per hand block (the instance is the batch axis), so its cost is linear in the
number of hands.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def hierarchical_attention_mask(
    num_joints: int, num_vertices: int, with_camera: bool = True, device: torch.device | None = None
) -> Tensor:
    """Boolean attention mask of one hand block, Fig. 8(c).

    Returns:
        (N, N) bool with ``N = num_joints + num_vertices + int(with_camera)``;
        ``mask[q, k]`` is True when token ``q`` may attend to token ``k``.
    """
    n_jv = num_joints + num_vertices
    n = n_jv + int(with_camera)
    mask = torch.zeros(n, n, dtype=torch.bool, device=device)
    mask[:n_jv, :n_jv] = True  # 2D <-> 2D, 2D <-> V, V <-> V
    if with_camera:
        mask[n_jv, :] = True  # t -> 2D, V and itself; nobody -> t
    return mask


def token_types(num_joints: int, num_vertices: int, with_camera: bool = True) -> list[str]:
    """Token type per position (``"2d"``, ``"v"``, ``"t"``), same order as the mask."""
    return ["2d"] * num_joints + ["v"] * num_vertices + (["t"] if with_camera else [])


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention over the tokens of each hand (instance = batch axis).

    ``q = k = x + pos``, ``v = x`` (DETR convention). With ``mask=None`` every token
    of a hand attends to every other (canonical 2D layer); with the hierarchical
    mask it follows Fig. 8(c).
    """

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model {d_model} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qk_proj = nn.Linear(d_model, 2 * d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, pos: Tensor, mask: Tensor | None = None) -> Tensor:
        """
        Args:
            x: (M, N, d) tokens of M hands.
            pos: (M, N, d) positional embeddings.
            mask: (N, N) bool, True = may attend, or None for full attention.

        Returns:
            (M, N, d)
        """
        m, n, d = x.shape
        h = self.num_heads
        q, k = self.qk_proj(x + pos).view(m, n, 2, h, d // h).permute(2, 0, 3, 1, 4)
        v = self.v_proj(x).view(m, n, h, d // h).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(m, n, d))

    def forward_camera_apart(self, x: Tensor, pos: Tensor) -> Tensor:
        """The hierarchical mask of Fig. 8(c), computed without a mask (same result).

        The first ``N - 1`` tokens (2D joints and vertices) attend to each other and never to
        the last one (the camera token), which attends to all ``N``: two unmasked attentions,
        ``N - 1`` queries over ``N - 1`` keys and one query over ``N`` keys, instead of one
        masked ``N x N`` attention (cheaper on CPU: no mask tensor, fused kernels apply).

        Args:
            x: (M, N, d) tokens ``[J^2D, V, t]`` of M hands.  pos: (M, N, d).

        Returns:
            (M, N, d), equal to ``forward(x, pos, hierarchical_attention_mask(...))``.
        """
        m, n, d = x.shape
        h = self.num_heads
        q, k = self.qk_proj(x + pos).view(m, n, 2, h, d // h).permute(2, 0, 3, 1, 4)
        v = self.v_proj(x).view(m, n, h, d // h).transpose(1, 2)
        out_jv = F.scaled_dot_product_attention(q[:, :, :-1], k[:, :, :-1], v[:, :, :-1])
        out_t = F.scaled_dot_product_attention(q[:, :, -1:], k, v)
        out = torch.cat([out_jv, out_t], dim=2)
        return self.out_proj(out.transpose(1, 2).reshape(m, n, d))

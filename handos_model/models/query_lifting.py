"""2D-to-3D query lifting (paper Sec. 3.3, eq. 8).

A learnable lifting matrix ``L`` ((V+1), J) linearly combines the J joint queries
and reference boxes into V vertex queries and one camera-translation query:
``[Q^V, Q^t] = L <> Q^2D`` and ``[R^V, R^t] = L <> R^2D`` (einsum), followed by a
centre refinement ``R_c = FFN([Q^V, Q^t]) * R_s + R_c`` (offsets in reference-box
units, as in query expansion) and a size embedding ``R_s = R_s * e^R_3D``.

Initialisation: the V vertex rows of ``L`` are the hand model's skinning weights
over the 21 keypoints (``HandTopology.skinning_weights_21``), each row normalised
to sum to 1 (the paper uses MANO's); the camera row is uniform ``1/J`` (the
camera query starts as the mean of the joint queries, its box as their mean box).

Addition (documented deviation): a learnable per-token identity embedding
``e^V`` ((V+1), d), added after lifting. Vertices skinned to the same joint get
identical lifted queries at initialisation; ``e^V`` tells them apart so the shared
vertex head can place them differently.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .mlp import MLP


def initial_lifting_matrix(skinning_weights_21: np.ndarray | Tensor) -> Tensor:
    """(V, J) skinning weights -> (V+1, J) float32: rows normalised to sum 1, plus a uniform camera row."""
    w = torch.as_tensor(np.asarray(skinning_weights_21), dtype=torch.float32)
    if w.ndim != 2:
        raise ValueError(f"skinning weights must be (V, J), got {tuple(w.shape)}")
    row_sum = w.sum(1, keepdim=True)
    uniform = torch.full_like(w, 1.0 / w.shape[1])
    w = torch.where(row_sum > 0, w / row_sum.clamp(min=1e-12), uniform)
    cam = torch.full((1, w.shape[1]), 1.0 / w.shape[1])
    return torch.cat([w, cam], dim=0)


class QueryLifting(nn.Module):
    """Joint queries (K, J, d) + boxes (K, J, 4) -> vertex+camera queries (K, V+1, d) + boxes (K, V+1, 4)."""

    def __init__(self, d_model: int, skinning_weights_21: np.ndarray | Tensor, identity_embed_std: float = 0.1):
        super().__init__()
        lifting = initial_lifting_matrix(skinning_weights_21)
        self.num_vertices = lifting.shape[0] - 1
        self.lifting = nn.Parameter(lifting)  # L
        self.identity_embed = nn.Parameter(torch.randn(lifting.shape[0], d_model) * identity_embed_std)  # e^V
        self.center_ffn = MLP(d_model, d_model, 2, num_layers=2, zero_init_last=True)
        self.size_embed = nn.Parameter(torch.ones(lifting.shape[0], 2))  # e^R_3D

    def forward(self, joint_queries: Tensor, joint_refs: Tensor) -> tuple[Tensor, Tensor]:
        """
        Args:
            joint_queries: (K, J, d) ``Q^J2D``.
            joint_refs: (K, J, 4) normalised ``cxcywh``.

        Returns:
            queries (K, V+1, d) ``[Q^V, Q^t]`` and reference boxes (K, V+1, 4) ``[R^V, R^t]``.
        """
        queries = torch.einsum("vj,kjd->kvd", self.lifting, joint_queries) + self.identity_embed[None]
        refs = torch.einsum("vj,kjc->kvc", self.lifting, joint_refs)
        size = refs[..., 2:].clamp(min=1e-3)
        centre = refs[..., :2] + self.center_ffn(queries) * size
        size = size * self.size_embed[None]
        return queries, torch.cat([centre.clamp(0.0, 1.0), size.clamp(1e-3, 1.0)], dim=-1)

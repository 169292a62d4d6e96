"""Instance-to-joint query expansion (paper Sec. 3.3, eqs. 6-7).

``Q^inst = [Q_0, Q_6]``: the paper concatenates the detector's initial and final
queries of each selected instance. Here the concatenation (2d) is mapped back to
``d`` by a linear layer + LayerNorm (``instance_proj``) so every later query has
width ``d``.

Eq. 6: ``Q^2D = Q~^inst + e^Q`` with a learnable ``e^Q`` (J, d).

Eq. 7: reference boxes of the 2D joints (EDPose):
``R_c = FFN(Q^2D) * B~_s + B~_c`` and ``R_s = B~_s * e^R_2D``.
The FFN offset is expressed in units of the instance box size (translation- and
scale-invariant; the paper writes ``FFN(Q) + B~_c``, which is the same up to this
scaling); its last layer starts at zero, so all joints start at the box centre.
``e^R_2D`` (J, 2) starts at ``joint_box_size`` (0.25 of the instance box).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .mlp import MLP


class QueryExpansion(nn.Module):
    """``(Q_0, Q_6, B~)`` of K instances -> joint queries (K, J, d) and joint reference boxes (K, J, 4)."""

    def __init__(self, d_model: int, num_joints: int = 21, joint_box_size: float = 0.25, query_dim: int | None = None):
        super().__init__()
        self.num_joints = num_joints
        query_dim = d_model if query_dim is None else query_dim
        self.instance_proj = nn.Sequential(nn.Linear(2 * query_dim, d_model), nn.LayerNorm(d_model))
        self.joint_embed = nn.Parameter(torch.randn(num_joints, d_model))  # e^Q
        self.center_ffn = MLP(d_model, d_model, 2, num_layers=2, zero_init_last=True)
        self.size_embed = nn.Parameter(torch.full((num_joints, 2), float(joint_box_size)))  # e^R_2D

    def forward(self, queries_init: Tensor, queries_last: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
        """
        Args:
            queries_init: (K, d_q) ``Q_0`` of the selected instances (d_q = detector query width).
            queries_last: (K, d_q) ``Q_6``.
            boxes: (K, 4) ``B~``, normalised ``cxcywh``.

        Returns:
            queries (K, J, d) ``Q^2D`` and reference boxes (K, J, 4) normalised ``cxcywh``.
        """
        inst = self.instance_proj(torch.cat([queries_init, queries_last], dim=-1))
        queries = inst[:, None, :] + self.joint_embed[None]
        box_c, box_s = boxes[:, None, :2], boxes[:, None, 2:]
        centre = box_c + self.center_ffn(queries) * box_s
        size = box_s * self.size_embed[None]
        refs = torch.cat([centre.clamp(0.0, 1.0), size.clamp(1e-3, 1.0)], dim=-1)
        return queries, refs

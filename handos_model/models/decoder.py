"""Interactive 2D-3D decoder (paper Sec. 3.3, Fig. 2 right).

Pipeline for the K selected instances of a batch (flattened over images,
``batch_index`` tells each instance's image):

1. query expansion (eqs. 6-7): ``Q^inst = [Q_0, Q_6]`` -> J joint queries + reference boxes;
2. ``num_2d_layers`` canonical 2D layers;
3. query lifting (eq. 8): joint queries/boxes -> V vertex + 1 camera queries/boxes;
4. ``num_interactive_layers`` interactive layers with hierarchical attention.

After every layer the heads (FFNs) predict, and every layer's outputs are kept for
deep supervision:

* ``J^2D``: DETR-style reference refinement, ``c <- sigmoid(logit(c) + FFN(Q))``;
  the refined joint-box centres are the 2D joints (pixels = c * S) and, detached,
  the next layer's references. Vertex/camera references stay as lifted (they are
  not supervised directly; the lifting FFN learns through the sampling locations).
* ``V`` (interactive layers): ``template + vertex_scale * FFN(Q^V)``, metres, wrist-relative
  in camera axes (the template is the hand model's rest pose moved so its regressed wrist is at
  0 and, in the shipped configs, turned into the typical view, see ``hand.template_view``; the head starts
  at zero, so training starts from that mesh).
* ``t`` (interactive layers): metric camera translation, see ``camera.py``.
* ``J^3D = J V`` and ``J^proj = Pi_K(J^3D + t)`` with each instance's K.

With ``lifting=False`` (the 2D training stage, suppl. VI.2) every layer is a
canonical 2D layer and only ``J^2D`` is predicted.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from ..hand.coarse_mesh import CoarseMesh
from ..hand.template_view import wrist_relative_template
from ..hand.topology import HandTopology
from .box_ops import inverse_sigmoid
from .camera import decode_camera_translation, project_points, regress_joints
from .decoder_layers import DecoderLayer, build_layer
from .deformable_attention import init_value_projection, project_values
from .mlp import MLP
from .query_expansion import QueryExpansion
from .query_lifting import QueryLifting
from .topology_buffers import topology_tensor


def box_sine_embedding(boxes: Tensor, num_feats: int, temperature: float = 10000.0) -> Tensor:
    """DINO's sine embedding of reference boxes: (..., 4) -> (..., 4 * num_feats)."""
    scale = 2.0 * math.pi
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=boxes.device)
    dim_t = temperature ** (2.0 * torch.div(dim_t, 2, rounding_mode="floor") / num_feats)
    pos = boxes[..., None] * scale / dim_t  # (..., 4, F)
    pos = torch.stack([pos[..., 0::2].sin(), pos[..., 1::2].cos()], dim=-1).flatten(-2)
    return pos.flatten(-2)


class HandDecoder(nn.Module):
    """Interactive 2D-3D decoder.

    Args:
        topology: the hand model (V, faces, joint regressor, skinning weights).
        d_model: query width d.  value_dim: width of ``F^GD``.  num_levels: L.
        num_heads, num_points, ffn_dim: layer sizes.
        num_2d_layers: canonical 2D layers before lifting (paper: 2).
        num_interactive_layers: interactive layers after lifting (paper: 4).
        lifting: False = 2D stage (all layers canonical 2D, no 3D outputs).
        joint_box_size: initial ``e^R_2D``.  hand_size_m: depth prior of ``t``.
        vertex_scale: metres per unit of the vertex head's output.
        template_view: orientation of the vertex head's starting mesh (``hand.template_view.TEMPLATE_VIEWS``).
        identity_embed_std: init std of the lifting's per-token identity embedding.
        query_dim: width of the detector's queries (default d_model).
        coarse: coarse vertex tokens (:mod:`handos_model.hand.coarse_mesh`): the decoder carries
            C vertex tokens and ``V = template + U (vertex_scale * FFN(Q^V_c))`` gives all V
            vertices; None = one token per vertex (the paper).
        vertex_points: deformable sampling points per head and level of the vertex tokens
            (None = ``num_points``, one attention for all tokens as in the paper).
        shared_value: one value projection of ``F^GD`` for all layers, computed once per image
            (issue 17: it is the decoder's largest fixed cost at one hand); False = one per layer
            (the paper, Deformable DETR).
    """

    def __init__(
        self,
        topology: HandTopology,
        d_model: int = 128,
        value_dim: int = 192,
        num_levels: int = 3,
        num_heads: int = 4,
        num_points: int = 4,
        ffn_dim: int = 256,
        num_2d_layers: int = 2,
        num_interactive_layers: int = 4,
        lifting: bool = True,
        joint_box_size: float = 0.25,
        hand_size_m: float = 0.15,
        vertex_scale: float = 0.1,
        template_view: str = "rest",
        identity_embed_std: float = 0.1,
        query_dim: int | None = None,
        coarse: CoarseMesh | None = None,
        vertex_points: int | None = None,
        shared_value: bool = False,
    ):
        super().__init__()
        num_joints = int(topology.joint_regressor.shape[0])
        num_vertices = topology.num_vertices
        self.d_model = d_model
        self.num_joints = num_joints
        self.num_vertices = num_vertices
        self.lifting = lifting
        self.num_2d_layers = num_2d_layers if lifting else num_2d_layers + num_interactive_layers
        self.num_interactive_layers = num_interactive_layers if lifting else 0
        self.hand_size_m = hand_size_m
        self.vertex_scale = vertex_scale
        skinning = np.asarray(topology.skinning_weights_21)
        if coarse is not None:
            skinning = skinning[np.asarray(coarse.indices)]
            self.register_buffer("coarse_indices", torch.as_tensor(np.asarray(coarse.indices), dtype=torch.long))
            self.register_buffer("vertex_upsampling", torch.as_tensor(np.asarray(coarse.upsampling), dtype=torch.float32))
        else:
            self.coarse_indices = None
            self.vertex_upsampling = None
        self.num_vertex_tokens = int(skinning.shape[0])

        self.query_expansion = QueryExpansion(d_model, num_joints, joint_box_size, query_dim)
        self.query_lifting = QueryLifting(d_model, skinning, identity_embed_std) if lifting else None
        self.ref_point_head = MLP(2 * d_model, d_model, d_model, num_layers=2)
        common = dict(
            d_model=d_model,
            value_dim=value_dim,
            num_levels=num_levels,
            num_heads=num_heads,
            num_points=num_points,
            ffn_dim=ffn_dim,
            num_joints=num_joints,
            num_vertices=self.num_vertex_tokens,
            vertex_points=vertex_points,
            own_value=not shared_value,
        )
        self.num_heads = num_heads
        self.value_proj = nn.Linear(value_dim, d_model) if shared_value else None
        if self.value_proj is not None:
            init_value_projection(self.value_proj)
        kinds = ["2d"] * self.num_2d_layers + ["interactive"] * self.num_interactive_layers
        self.layers: nn.ModuleList = nn.ModuleList(build_layer(k, **common) for k in kinds)
        n_layers = len(kinds)
        self.joint_2d_heads = nn.ModuleList(
            MLP(d_model, d_model, 2, num_layers=3, zero_init_last=True) for _ in range(n_layers)
        )
        self.vertex_heads = nn.ModuleList(
            MLP(d_model, d_model, 3, num_layers=3, zero_init_last=True) for _ in range(self.num_interactive_layers)
        )
        self.camera_heads = nn.ModuleList(
            MLP(d_model, d_model, 3, num_layers=3, zero_init_last=True) for _ in range(self.num_interactive_layers)
        )
        self.register_buffer("template", torch.from_numpy(wrist_relative_template(topology, template_view)), persistent=False)
        self.register_buffer("joint_regressor", topology_tensor(topology, "joint_regressor"), persistent=False)

    def position_embedding(self, refs: Tensor) -> Tensor:
        """(..., 4) reference boxes -> (..., d) query positional embedding."""
        return self.ref_point_head(box_sine_embedding(refs, self.d_model // 2))

    def empty_outputs(self, device: torch.device | str) -> dict[str, list[Tensor]]:
        """What :meth:`forward` returns for K = 0 instances, without running any layer."""
        nj, nv = self.num_joints, self.num_vertices
        n2d = self.num_2d_layers + self.num_interactive_layers
        n3d = self.num_interactive_layers if self.training else min(1, self.num_interactive_layers)
        z = lambda *shape: torch.zeros(0, *shape, device=device)  # noqa: E731
        return {
            "pred_joints_2d": [z(nj, 2) for _ in range(n2d)],
            "pred_vertices": [z(nv, 3) for _ in range(n3d)],
            "pred_joints_3d": [z(nj, 3) for _ in range(n3d)],
            "pred_cam_t": [z(3) for _ in range(n3d)],
            "pred_joints_proj": [z(nj, 2) for _ in range(n3d)],
        }

    def forward(
        self,
        queries_init: Tensor,
        queries_last: Tensor,
        boxes: Tensor,
        features: Tensor,
        batch_index: Tensor,
        spatial_shapes: list[tuple[int, int]],
        Ks: Tensor,
        image_size: int,
    ) -> dict[str, list[Tensor]]:
        """
        Args:
            queries_init: (K, d) ``Q_0`` and queries_last: (K, d) ``Q_6`` of the K selected instances.
            boxes: (K, 4) their detector boxes ``B~``, normalised ``cxcywh``.
            features: (B, T, value_dim) ``F^GD``.  batch_index: (K,) image of each instance.
            spatial_shapes: L pairs ``(H_l, W_l)``.
            Ks: (K, 3, 3) network-input intrinsics of each instance's image.
            image_size: S.

        Returns:
            dict of per-layer lists (index = layer; 3D lists cover the interactive layers only,
            and in eval mode only the last layer):
            ``pred_joints_2d`` [(K, J, 2) network pixels], ``pred_vertices`` [(K, V, 3) m, wrist-relative],
            ``pred_joints_3d`` [(K, J, 3) m, wrist-relative], ``pred_cam_t`` [(K, 3) m],
            ``pred_joints_proj`` [(K, J, 2) network pixels].
        """
        nj = self.num_joints
        out: dict[str, list[Tensor]] = {
            "pred_joints_2d": [],
            "pred_vertices": [],
            "pred_joints_3d": [],
            "pred_cam_t": [],
            "pred_joints_proj": [],
        }
        queries, refs = self.query_expansion(queries_init, queries_last, boxes)
        shared_value = None  # (B, T, h, dh), once for all layers
        if self.value_proj is not None:
            shared_value = project_values(self.value_proj, features, self.num_heads)
        pos_3d = None
        layer: DecoderLayer
        for i, layer in enumerate(self.layers):
            if i == self.num_2d_layers and self.query_lifting is not None:
                q3, r3 = self.query_lifting(queries, refs)
                queries = torch.cat([queries, q3], dim=1)
                refs = torch.cat([refs, r3], dim=1)
                pos_3d = self.position_embedding(r3)
            pos = self.position_embedding(refs[:, :nj])
            if pos_3d is not None:
                pos = torch.cat([pos, pos_3d], dim=1)
            queries = layer(queries, pos, refs, features, batch_index, spatial_shapes, shared_value)

            # 2D joints: reference refinement (DETR-style, detached for the next layer)
            centre = (inverse_sigmoid(refs[:, :nj, :2]) + self.joint_2d_heads[i](queries[:, :nj])).sigmoid()
            out["pred_joints_2d"].append(centre * image_size)
            joint_refs = torch.cat([centre, refs[:, :nj, 2:]], dim=-1).detach()
            refs = torch.cat([joint_refs, refs[:, nj:]], dim=1)

            # 3D heads: every interactive layer in training (deep supervision); at inference
            # only the last one, the one the output reads.
            if i >= self.num_2d_layers and (self.training or i == len(self.layers) - 1):
                k = i - self.num_2d_layers
                offsets = self.vertex_scale * self.vertex_heads[k](queries[:, nj:-1])
                if self.vertex_upsampling is not None:
                    offsets = torch.einsum("vc,kcd->kvd", self.vertex_upsampling, offsets)
                verts = self.template[None] + offsets
                cam_t = decode_camera_translation(
                    self.camera_heads[k](queries[:, -1]),
                    refs[:, -1, :2],
                    boxes,
                    Ks,
                    float(image_size),
                    self.hand_size_m,
                )
                joints_3d = regress_joints(verts, self.joint_regressor)
                out["pred_vertices"].append(verts)
                out["pred_joints_3d"].append(joints_3d)
                out["pred_cam_t"].append(cam_t)
                out["pred_joints_proj"].append(project_points(joints_3d + cam_t[:, None, :], Ks))
        return out

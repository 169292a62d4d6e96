"""The HandOS criterion (eq. XII): a DETR-like ``SetCriterion`` over the loss terms of ``losses``.

Each term has one method ``loss_<term>`` (``get_loss(name, ...)`` dispatches), every decoder
layer is supervised (deep supervision), and a term whose weight is 0 is not computed at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .losses import (
    DEFAULT_WEIGHTS,
    WHOLEBODY_HAND_SIGMAS,
    face_adjacency,
    loss_edge,
    loss_j2d,
    loss_j3d,
    loss_normal,
    loss_normal_consistency,
    loss_oks_2d,
    loss_oks_proj,
    loss_proj,
    loss_side,
    loss_vertices,
)

TERMS_2D = ("j2d", "oks_2d")
TERMS_3D = ("vertices", "j3d", "normal", "edge", "proj", "oks_proj", "nc", "side")


def gather_matched_targets(
    targets: list[dict[str, Tensor]], batch_index: Tensor, gt_index: Tensor
) -> dict[str, Tensor]:
    """Stack the ground truth of each matched instance: target[b][key][g] for (b, g) pairs -> (K, ...)."""
    keys = ["boxes", "joints_2d", "visibility", "joints_3d", "vertices", "cam_t", "has_2d", "has_3d", "has_mesh"]
    device = batch_index.device
    out: dict[str, Tensor] = {}
    bi, gi = batch_index.tolist(), gt_index.tolist()
    for key in keys:
        if key not in targets[0]:
            continue
        rows = [targets[b][key][g] for b, g in zip(bi, gi, strict=True)]
        if rows:
            out[key] = torch.stack(rows).to(device)
        else:
            out[key] = targets[0][key][:0].to(device)
    out["K"] = (
        torch.stack([targets[b]["K"] for b in bi]).to(device).float() if bi else torch.zeros(0, 3, 3, device=device)
    )
    return out


@dataclass
class LayerBatch:
    """One decoder layer's predictions and the matched ground truth, with the derived masks.

    Attributes:
        out: that layer's tensors (keys without ``pred_``: ``joints_2d`` (K, 21, 2), and for
            interactive layers ``vertices`` (K, V, 3), ``joints_3d``, ``cam_t``, ``joints_proj``).
        tgt: :func:`gather_matched_targets` (K, ...).
        image_size: S.  w2d: (K, 21) ``has_2d * visibility``.  area: (K,) box areas (px^2).
    """

    out: dict[str, Tensor]
    tgt: dict[str, Tensor]
    image_size: float
    w2d: Tensor
    area: Tensor

    @classmethod
    def of(cls, out: dict[str, Tensor], tgt: dict[str, Tensor], image_size: float) -> LayerBatch:
        boxes = tgt["boxes"].float()
        area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
        return cls(out, tgt, image_size, tgt["visibility"].float() * tgt["has_2d"].float()[:, None], area)

    @property
    def w_mesh(self) -> Tensor:
        return self.tgt["has_mesh"].float()


class HandOSCriterion(nn.Module):
    """Weighted sum of all terms (eq. XII) over every decoder layer's output (deep supervision).

    Args:
        faces: (F, 3) hand-model faces.
        weights: lambda per term; keys of :data:`DEFAULT_WEIGHTS` (missing keys use the defaults).
        sigmas: (21,) OKS sigmas (default :data:`WHOLEBODY_HAND_SIGMAS`).

    Masks: 2D/proj/OKS terms use ``has_2d * visibility``; ``j3d`` uses ``has_3d``;
    ``vertices``/``normal``/``edge``/``side`` use ``has_mesh``; ``nc`` (weak, no annotation
    needed) applies to every matched instance. So 2D-only data switches the 3D terms off.
    """

    def __init__(self, faces: np.ndarray | Tensor, weights: dict[str, float] | None = None, sigmas=None):
        super().__init__()
        unknown = set(weights or {}) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown loss weights {sorted(unknown)}; known: {sorted(DEFAULT_WEIGHTS)}")
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        faces_t = torch.as_tensor(np.asarray(faces), dtype=torch.long)
        self.register_buffer("faces", faces_t, persistent=False)
        self.register_buffer("adjacency", face_adjacency(faces_t.numpy()), persistent=False)
        sig = torch.tensor(WHOLEBODY_HAND_SIGMAS if sigmas is None else sigmas, dtype=torch.float32)
        self.register_buffer("sigmas", sig, persistent=False)

    # ------------------------------------------------------------------ one method per term
    def loss_j2d(self, b: LayerBatch) -> Tensor:
        return loss_j2d(b.out["joints_2d"], b.tgt["joints_2d"], b.w2d, b.image_size)

    def loss_oks_2d(self, b: LayerBatch) -> Tensor:
        return loss_oks_2d(b.out["joints_2d"], b.tgt["joints_2d"], b.w2d, b.area, self.sigmas.to(b.area.device))

    def loss_vertices(self, b: LayerBatch) -> Tensor:
        return loss_vertices(b.out["vertices"], b.tgt["vertices"], b.w_mesh)

    def loss_j3d(self, b: LayerBatch) -> Tensor:
        return loss_j3d(b.out["joints_3d"], b.tgt["joints_3d"], b.tgt["has_3d"].float())

    def loss_normal(self, b: LayerBatch) -> Tensor:
        return loss_normal(b.out["vertices"], b.tgt["vertices"], self.faces, b.w_mesh)

    def loss_edge(self, b: LayerBatch) -> Tensor:
        return loss_edge(b.out["vertices"], b.tgt["vertices"], self.faces, b.w_mesh)

    def loss_proj(self, b: LayerBatch) -> Tensor:
        return loss_proj(b.out["joints_proj"], b.tgt["joints_2d"], b.w2d, b.image_size)

    def loss_oks_proj(self, b: LayerBatch) -> Tensor:
        return loss_oks_proj(b.out["joints_proj"], b.tgt["joints_2d"], b.w2d, b.area, self.sigmas.to(b.area.device))

    def loss_nc(self, b: LayerBatch) -> Tensor:
        return loss_normal_consistency(b.out["vertices"], self.faces, self.adjacency, torch.ones_like(b.w_mesh))

    def loss_side(self, b: LayerBatch) -> Tensor:
        return loss_side(b.out["vertices"], b.tgt["vertices"], self.faces, b.w_mesh)

    def get_loss(self, name: str, batch: LayerBatch) -> Tensor:
        """The unweighted term ``name`` (a key of :data:`DEFAULT_WEIGHTS`) of one layer."""
        if name not in DEFAULT_WEIGHTS:
            raise KeyError(f"unknown loss term {name!r}; known: {sorted(DEFAULT_WEIGHTS)}")
        return getattr(self, f"loss_{name}")(batch)

    # ------------------------------------------------------------------ aggregation
    def layer_losses(self, out: dict[str, Tensor], tgt: dict[str, Tensor], image_size: float) -> dict[str, Tensor]:
        """Unweighted terms of one decoder layer, those with a non-zero weight (3D terms: interactive
        layers only). ``out`` holds that layer's tensors (keys without ``pred_``)."""
        batch = LayerBatch.of(out, tgt, image_size)
        names = TERMS_2D + (TERMS_3D if "vertices" in out else ())
        return {name: self.get_loss(name, batch) for name in names if self.weights[name] != 0}

    def forward(self, outputs: dict, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """
        Args:
            outputs: ``HandOS.forward`` output with targets (per-layer lists, ``instance_batch_index``,
                ``instance_gt_index``, ``image_size``).
            targets: the training target dicts.

        Returns:
            dict of scalars: each term of the last layer (unweighted, key = term name),
            ``total`` = sum over layers and terms of lambda * term, and ``num_instances``.
        """
        tgt = gather_matched_targets(targets, outputs["instance_batch_index"], outputs["instance_gt_index"])
        image_size = float(outputs["image_size"])
        n2d = len(outputs["pred_joints_2d"])
        n3d = len(outputs.get("pred_vertices", []))
        total = outputs["pred_joints_2d"][-1].sum() * 0.0
        last: dict[str, Tensor] = {}
        for i in range(n2d):
            layer_out = {"joints_2d": outputs["pred_joints_2d"][i]}
            k = i - (n2d - n3d)
            if k >= 0:
                for key in ("vertices", "joints_3d", "cam_t", "joints_proj"):
                    layer_out[key] = outputs["pred_" + key][k]
            terms = self.layer_losses(layer_out, tgt, image_size)
            for name, value in terms.items():
                total = total + self.weights[name] * value
            last = terms
        result = {name: value.detach() for name, value in last.items()}
        result["total"] = total
        result["num_instances"] = torch.tensor(float(outputs["instance_batch_index"].numel()))
        return result

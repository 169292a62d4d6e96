"""Loss functions (paper Sec. 3.4, eqs. 9-11; weights from suppl. VI.2, eq. XII).

One function per term. Conventions:

* every function takes predictions and targets of K matched instances plus a
  per-instance (K,) or per-joint (K, J) weight (0/1 masks from ``has_2d`` /
  ``visibility`` / ``has_3d`` / ``has_mesh``) and returns a scalar averaged over the
  valid elements (0, still attached to the graph, when none is valid);
* 2D L1 losses are computed on coordinates divided by the network input size S,
  i.e. in units of the image side, so a pixel-valued L1 does not dwarf the
  metre-valued 3D terms (the paper's lambda = 10 for both assumes comparable scales);
* OKS (YOLO-Pose / COCO): ``oks = sum_j exp(-d_j^2 / (2 s^2 (2 sigma_j)^2)) v_j / sum_j v_j``
  with ``s^2`` the ground-truth box area (pixels^2) and per-keypoint ``sigma``
  (default: COCO-WholeBody hand sigmas); the loss is ``1 - oks``;
* 3D losses are in metres, wrist-relative.

One term is not in the paper: :func:`loss_side` (weight 0 by default, so the paper's recipe is
unchanged), used by the CPU-budget recipe, see its docstring.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..hand.handedness import signed_volume

# COCO-WholeBody hand keypoint sigmas (21, MANO/FreiHAND order), as used by mmpose/xtcocotools.
WHOLEBODY_HAND_SIGMAS = (
    0.029,
    0.022,
    0.035,
    0.037,
    0.047,
    0.026,
    0.025,
    0.024,
    0.035,
    0.018,
    0.024,
    0.022,
    0.026,
    0.017,
    0.021,
    0.021,
    0.032,
    0.020,
    0.019,
    0.022,
    0.031,
)

DEFAULT_WEIGHTS: dict[str, float] = {
    "j2d": 10.0,
    "oks_2d": 4.0,
    "vertices": 10.0,
    "j3d": 10.0,
    "normal": 5.0,
    "edge": 10.0,
    "proj": 10.0,
    "oks_proj": 4.0,
    "nc": 0.5,
    "side": 0.0,  # not in the paper: loss_side is off unless a recipe sets it
}


def _masked_mean(values: Tensor, weight: Tensor) -> Tensor:
    """Mean of ``values`` (K, ...) over entries with weight > 0 (weight broadcast from the left)."""
    w = weight.to(values.dtype)
    while w.ndim < values.ndim:
        w = w.unsqueeze(-1)
    w = w.expand_as(values)
    denom = w.sum()
    if denom <= 0:
        return values.sum() * 0.0
    return (values * w).sum() / denom


def loss_j2d(pred: Tensor, target: Tensor, weight: Tensor, image_size: float) -> Tensor:
    """Eq. 9, L1 of 2D joints. pred/target (K, J, 2) pixels; weight (K, J); image_size S -> scalar."""
    return _masked_mean((pred - target).abs() / image_size, weight)


def oks(pred: Tensor, target: Tensor, weight: Tensor, area: Tensor, sigmas: Tensor, eps: float = 1e-9) -> Tensor:
    """Object keypoint similarity per instance: (K, J, 2), (K, J, 2), (K, J), (K,), (J,) -> (K,)."""
    d2 = ((pred - target) ** 2).sum(-1)
    variances = (2.0 * sigmas) ** 2
    e = d2 / (2.0 * variances[None, :] * area[:, None].clamp(min=1.0) + eps)
    w = weight.to(pred.dtype)
    return (torch.exp(-e) * w).sum(-1) / w.sum(-1).clamp(min=eps)


def loss_oks_2d(pred: Tensor, target: Tensor, weight: Tensor, area: Tensor, sigmas: Tensor) -> Tensor:
    """Eq. 9, ``1 - OKS`` averaged over instances with at least one valid joint -> scalar."""
    valid = (weight > 0).any(-1)
    return _masked_mean(1.0 - oks(pred, target, weight, area, sigmas), valid)


def loss_vertices(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Eq. 10, L1 of vertices. (K, V, 3) metres; weight (K,) -> scalar."""
    return _masked_mean((pred - target).abs(), weight)


def loss_j3d(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Eq. 10, L1 of 3D joints. (K, J, 3) metres; weight (K,) -> scalar."""
    return _masked_mean((pred - target).abs(), weight)


def face_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """(K, V, 3), (F, 3) -> (K, F, 3) unit normals (right-handed: (v1 - v0) x (v2 - v0))."""
    v0, v1, v2 = vertices[:, faces[:, 0]], vertices[:, faces[:, 1]], vertices[:, faces[:, 2]]
    return F.normalize(torch.cross(v1 - v0, v2 - v0, dim=-1), dim=-1, eps=1e-12)


def _face_edges(vertices: Tensor, faces: Tensor) -> Tensor:
    """(K, V, 3), (F, 3) -> (K, F, 3, 3): the edges (v1-v0, v2-v1, v0-v2) of each face."""
    v0, v1, v2 = vertices[:, faces[:, 0]], vertices[:, faces[:, 1]], vertices[:, faces[:, 2]]
    return torch.stack([v1 - v0, v2 - v1, v0 - v2], dim=2)


def loss_normal(pred: Tensor, target: Tensor, faces: Tensor, weight: Tensor) -> Tensor:
    """Eq. 10: ``|unit(V_i - V_j) . n*_f|`` over each face's 3 edges, mean over faces/edges -> scalar."""
    n_gt = face_normals(target, faces)  # (K, F, 3)
    edges = F.normalize(_face_edges(pred, faces), dim=-1, eps=1e-12)  # (K, F, 3, 3)
    cos = (edges * n_gt[:, :, None, :]).sum(-1).abs()  # (K, F, 3)
    return _masked_mean(cos, weight)


def loss_edge(pred: Tensor, target: Tensor, faces: Tensor, weight: Tensor) -> Tensor:
    """Eq. 10: ``| |V_i - V_j| - |V*_i - V*_j| |`` over each face's 3 edges, mean -> scalar (metres)."""
    len_pred = _face_edges(pred, faces).norm(dim=-1)
    len_gt = _face_edges(target, faces).norm(dim=-1)
    return _masked_mean((len_pred - len_gt).abs(), weight)


def loss_proj(pred_proj: Tensor, target: Tensor, weight: Tensor, image_size: float) -> Tensor:
    """Eq. 11, L1 between projected 3D joints and 2D annotation (same normalisation as ``loss_j2d``)."""
    return loss_j2d(pred_proj, target, weight, image_size)


def loss_oks_proj(pred_proj: Tensor, target: Tensor, weight: Tensor, area: Tensor, sigmas: Tensor) -> Tensor:
    """Eq. 11, ``1 - OKS`` of the projected joints."""
    return loss_oks_2d(pred_proj, target, weight, area, sigmas)


def loss_side(pred: Tensor, target: Tensor, faces: Tensor, weight: Tensor, margin: float = 0.5) -> Tensor:
    """Mesh-orientation hinge (a project addition, not in the paper). (K, V, 3), (K, V, 3); weight (K,).

    Sec. 3.5 reads left/right from the sign of the predicted mesh's signed volume (the
    orientation of the right hand's faces). The paper trains that sign only through the vertex
    L1 term; between a hand seen from the palm and its mirror seen from the back, which share a
    silhouette, the vertices differ by a depth flip of about the hand's thickness, a weak signal
    on a short schedule. The normal term (eq. 10) hardly sees it either: ``|e . n*|`` ignores the
    sign of n*, and a depth flip of a hand facing the camera leaves its edges nearly
    perpendicular to the true normals (it scores the flip about like a few millimetres of
    vertex noise).
    This term supervises the sign directly, still on the mesh, with no classifier:

        r = vol(V) / vol(V*),   loss = mean(max(0, margin - r))

    zero once the prediction has the ground truth's orientation and at least ``margin`` of its
    volume; ``r < 0`` is a mesh of the wrong side.
    """
    vol_gt = signed_volume(target, faces)
    vol_gt = torch.where(vol_gt >= 0, vol_gt.clamp(min=1e-12), vol_gt.clamp(max=-1e-12))
    ratio = signed_volume(pred, faces) / vol_gt
    return _masked_mean(F.relu(margin - ratio), weight)


def face_adjacency(faces: np.ndarray | Tensor) -> Tensor:
    """Pairs of faces sharing an edge: (F, 3) -> (P, 2) long (each interior edge once)."""
    f = np.asarray(faces, dtype=np.int64)
    edge_faces: dict[tuple[int, int], list[int]] = {}
    for fi, tri in enumerate(f):
        for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            edge_faces.setdefault((min(a, b), max(a, b)), []).append(fi)
    pairs = []
    for fl in edge_faces.values():
        for i in range(len(fl)):
            for j in range(i + 1, len(fl)):
                pairs.append((fl[i], fl[j]))
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def loss_normal_consistency(pred: Tensor, faces: Tensor, adjacency: Tensor, weight: Tensor) -> Tensor:
    """Eq. 11: ``1 - <n_1, n_2>`` over adjacent face pairs of the prediction, mean -> scalar."""
    n = face_normals(pred, faces)
    cos = (n[:, adjacency[:, 0]] * n[:, adjacency[:, 1]]).sum(-1)
    return _masked_mean(1.0 - cos, weight)

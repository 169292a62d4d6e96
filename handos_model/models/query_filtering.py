"""Instance query filtering (paper Sec. 3.3, eq. 5).

Training: the SimOTA assigner (YOLOX [18], dynamic-k from OTA [19]) picks which of
the detector's Q queries are positive for each ground-truth hand.
Inference: score threshold ``T^S`` + NMS at ``T^NMS`` + a cap on the number of hands.
No torchvision: NMS is a short greedy loop over an IoU matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .box_ops import box_cxcywh_to_xyxy, box_iou


def simota_cost(scores: Tensor, boxes: Tensor, gt_boxes: Tensor, eps: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Eq. 5 with ``S* = 1``: ``C_ij = BCE(S_i, 1) - log IoU(B_i, B*_j)``.

    Args:
        scores: (Q,) in ``[0, 1]``.
        boxes: (Q, 4) normalised ``cxcywh``.
        gt_boxes: (N, 4) normalised ``cxcywh``.

    Returns:
        cost (N, Q) and IoU (N, Q).
    """
    ious = box_iou(box_cxcywh_to_xyxy(gt_boxes), box_cxcywh_to_xyxy(boxes))
    bce = -torch.log(scores.clamp(min=eps))  # -S* log S - (1 - S*) log(1 - S), S* = 1
    cost = bce[None, :] - torch.log(ious + eps)
    return cost, ious


@torch.no_grad()
def simota_assign(
    scores: Tensor,
    boxes: Tensor,
    gt_boxes: Tensor,
    topk_iou: int = 10,
    max_matches_per_gt: int | None = None,
) -> tuple[Tensor, Tensor]:
    """SimOTA assignment of one image.

    For each ground truth, ``k = max(1, int(sum of its top-``topk_iou`` IoUs))``
    (dynamic k), and its k lowest-cost queries become positives; a query claimed by
    several ground truths keeps the cheapest. ``max_matches_per_gt`` optionally caps
    k (each positive costs a full hand in the decoder, so the CPU config caps it).
    Every ground truth keeps at least one query when Q >= N.

    Args:
        scores: (Q,), boxes: (Q, 4) normalised ``cxcywh``; gt_boxes: (N, 4) normalised ``cxcywh``.

    Returns:
        query_index (P,) long and gt_index (P,) long, sorted by query index.
    """
    device = scores.device
    num_q, num_gt = scores.shape[0], gt_boxes.shape[0]
    empty = torch.zeros(0, dtype=torch.long, device=device)
    if num_gt == 0 or num_q == 0:
        return empty, empty.clone()
    cost, ious = simota_cost(scores.float(), boxes.float(), gt_boxes.float())
    k_iou = min(topk_iou, num_q)
    dynamic_k = ious.topk(k_iou, dim=1).values.sum(1).int().clamp(min=1)
    if max_matches_per_gt is not None:
        dynamic_k = dynamic_k.clamp(max=max_matches_per_gt)
    matching = torch.zeros_like(cost, dtype=torch.bool)
    for g in range(num_gt):
        idx = cost[g].topk(int(dynamic_k[g]), largest=False).indices
        matching[g, idx] = True
    # a query matched to several gts keeps the cheapest one
    multi = matching.sum(0) > 1
    if multi.any():
        best = cost[:, multi].argmin(0)
        matching[:, multi] = False
        matching[best, multi.nonzero().squeeze(1)] = True
    # a gt that lost all its queries takes its cheapest free query
    for g in range(num_gt):
        if not matching[g].any():
            free = ~matching.any(0)
            if not free.any():
                break
            c = cost[g].masked_fill(~free, float("inf"))
            matching[g, c.argmin()] = True
    gt_idx, q_idx = matching.nonzero(as_tuple=True)
    order = q_idx.argsort()
    return q_idx[order], gt_idx[order]


def nms(boxes_xyxy: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS. boxes (N, 4) xyxy, scores (N,) -> kept indices (K,) by descending score."""
    if boxes_xyxy.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes_xyxy.device)
    order = scores.argsort(descending=True)
    ious = box_iou(boxes_xyxy[order], boxes_xyxy[order]).cpu()
    n = order.shape[0]
    suppressed = torch.zeros(n, dtype=torch.bool)
    keep = []
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]


@torch.no_grad()
def filter_queries(
    scores: Tensor,
    boxes: Tensor,
    score_threshold: float = 0.1,
    nms_threshold: float = 0.9,
    max_hands: int | None = 8,
    fixed_count: int | None = None,
) -> Tensor:
    """Inference-time positive queries of one image.

    Args:
        scores: (Q,), boxes: (Q, 4) normalised ``cxcywh``.
        score_threshold: ``T^S``; nms_threshold: ``T^NMS``; max_hands: cap (None = no cap).
        fixed_count: benchmark mode, return exactly the top ``fixed_count`` queries by score,
            skipping threshold and NMS (forces a number of hands).

    Returns:
        (K,) long query indices, descending score.
    """
    if fixed_count is not None:
        return scores.topk(min(fixed_count, scores.shape[0])).indices
    cand = (scores > score_threshold).nonzero().squeeze(1)
    if cand.numel() == 0:
        return cand
    keep = cand[nms(box_cxcywh_to_xyxy(boxes[cand]), scores[cand], nms_threshold)]
    if max_hands is not None:
        keep = keep[:max_hands]
    return keep

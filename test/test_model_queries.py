"""Query filtering (SimOTA, NMS), expansion (eqs. 6-7) and lifting (eq. 8)."""

from __future__ import annotations

import math

import numpy as np
import torch
from model_fixtures import tiny_cfg, tiny_topology

from handos_model.models.build import build_model
from handos_model.models.query_expansion import QueryExpansion
from handos_model.models.query_filtering import filter_queries, nms, simota_assign, simota_cost
from handos_model.models.query_lifting import QueryLifting, initial_lifting_matrix


def test_lifting_matrix_initialised_from_normalised_skinning_weights() -> None:
    topo = tiny_topology()
    raw = topo.skinning_weights_21 * np.random.default_rng(1).uniform(0.5, 3.0, (topo.num_vertices, 1))
    L = initial_lifting_matrix(raw)
    assert L.shape == (topo.num_vertices + 1, 21)
    expected = raw / raw.sum(1, keepdims=True)
    np.testing.assert_allclose(L[:-1].numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(L[-1].numpy(), np.full(21, 1.0 / 21), rtol=1e-6)
    assert torch.allclose(L.sum(1), torch.ones(topo.num_vertices + 1))


def test_built_model_lifting_equals_topology_weights() -> None:
    topo = tiny_topology()
    model = build_model(tiny_cfg(), topo)
    L = model.decoder.query_lifting.lifting.detach()
    w = topo.skinning_weights_21 / topo.skinning_weights_21.sum(1, keepdims=True)
    np.testing.assert_allclose(L[:-1].numpy(), w, rtol=1e-6, atol=1e-7)
    assert torch.allclose(L[-1], torch.full((21,), 1.0 / 21))


def test_lifting_is_the_einsum_of_eq8() -> None:
    torch.manual_seed(0)
    topo = tiny_topology()
    lift = QueryLifting(8, topo.skinning_weights_21)
    q = torch.randn(2, 21, 8)
    r = torch.rand(2, 21, 4) * 0.5 + 0.25
    q3, r3 = lift(q, r)
    assert q3.shape == (2, topo.num_vertices + 1, 8) and r3.shape == (2, topo.num_vertices + 1, 4)
    L = lift.lifting.detach()
    expected_q = torch.stack([L @ q[k] for k in range(2)]) + lift.identity_embed.detach()
    assert torch.allclose(q3, expected_q, atol=1e-5)
    # at initialisation the centre FFN is zero and e^R_3D is one: boxes are L @ R
    expected_r = torch.stack([L @ r[k] for k in range(2)])
    assert torch.allclose(r3, expected_r, atol=1e-5)


def test_query_expansion_eq6_eq7_at_initialisation() -> None:
    torch.manual_seed(0)
    exp = QueryExpansion(16, 21, joint_box_size=0.25)
    q0, q6 = torch.randn(3, 16), torch.randn(3, 16)
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.4], [0.2, 0.3, 0.1, 0.1], [0.8, 0.7, 0.3, 0.2]])
    q, r = exp(q0, q6, boxes)
    inst = exp.instance_proj(torch.cat([q0, q6], -1))
    assert torch.allclose(q, inst[:, None] + exp.joint_embed[None], atol=1e-6)
    assert torch.allclose(r[..., :2], boxes[:, None, :2].expand(3, 21, 2))  # FFN starts at 0
    assert torch.allclose(r[..., 2:], boxes[:, None, 2:].expand(3, 21, 2) * 0.25)


def _boxes_cxcywh(xyxy: list[list[float]]) -> torch.Tensor:
    b = torch.tensor(xyxy)
    return torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], -1)


def test_simota_cost_is_eq5() -> None:
    scores = torch.tensor([0.8, 0.5])
    boxes = _boxes_cxcywh([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.25]])
    gt = _boxes_cxcywh([[0.0, 0.0, 0.5, 0.5]])
    cost, iou = simota_cost(scores, boxes, gt)
    assert torch.allclose(iou, torch.tensor([[1.0, 0.5]]), atol=1e-6)
    expected = torch.tensor([[-math.log(0.8) - math.log(1.0), -math.log(0.5) - math.log(0.5)]])
    assert torch.allclose(cost, expected, atol=1e-5)


def test_simota_dynamic_k_and_conflicts() -> None:
    # gt A overlapped by queries 0, 1, 2 (IoU 1, 0.8, 0.6 -> dynamic k = int(2.4) = 2 with topk 3)
    gt = _boxes_cxcywh([[0.0, 0.0, 0.4, 0.4], [0.6, 0.6, 1.0, 1.0]])
    boxes = _boxes_cxcywh(
        [
            [0.0, 0.0, 0.4, 0.4],  # IoU 1 with A
            [0.0, 0.0, 0.4, 0.32],  # IoU 0.8 with A
            [0.0, 0.0, 0.4, 0.24],  # IoU 0.6 with A
            [0.6, 0.6, 1.0, 1.0],  # IoU 1 with B
            [0.45, 0.45, 0.55, 0.55],
        ]
    )
    scores = torch.tensor([0.9, 0.9, 0.9, 0.9, 0.9])
    q, g = simota_assign(scores, boxes, gt, topk_iou=3)
    pairs = set(zip(q.tolist(), g.tolist(), strict=True))
    assert pairs == {(0, 0), (1, 0), (3, 1)}
    q, g = simota_assign(scores, boxes, gt, topk_iou=3, max_matches_per_gt=1)
    assert set(zip(q.tolist(), g.tolist(), strict=True)) == {(0, 0), (3, 1)}
    # no ground truth -> nothing
    q, g = simota_assign(scores, boxes, gt[:0])
    assert q.numel() == 0 and g.numel() == 0


def test_simota_every_gt_gets_a_query_even_without_overlap() -> None:
    gt = _boxes_cxcywh([[0.0, 0.0, 0.1, 0.1], [0.9, 0.9, 1.0, 1.0]])
    boxes = _boxes_cxcywh([[0.4, 0.4, 0.5, 0.5], [0.5, 0.5, 0.6, 0.6]])
    q, g = simota_assign(torch.tensor([0.9, 0.1]), boxes, gt)
    assert sorted(g.tolist()) == [0, 1] and len(set(q.tolist())) == 2


def test_nms_and_inference_filtering() -> None:
    boxes_xyxy = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.95], [2.0, 2.0, 3.0, 3.0], [0.0, 0.0, 1.0, 0.5]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    assert nms(boxes_xyxy, scores, 0.9).tolist() == [0, 2, 3]  # IoU(0,1)=0.95 > 0.9, IoU(0,3)=0.5
    assert nms(boxes_xyxy, scores, 0.4).tolist() == [0, 2]
    cxcywh = _boxes_cxcywh(boxes_xyxy.tolist())
    assert filter_queries(scores, cxcywh, 0.65, 0.9, 8).tolist() == [0, 2]
    assert filter_queries(scores, cxcywh, 0.1, 0.9, 2).tolist() == [0, 2]
    assert filter_queries(scores, cxcywh, 0.95, 0.9, 8).tolist() == []
    assert filter_queries(scores, cxcywh, 0.95, 0.9, 8, fixed_count=3).tolist() == [0, 1, 2]

"""Each loss term against a value computed by hand on a small case; the criterion's masking and sum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handos_model.models.criterion import HandOSCriterion
from handos_model.models.losses import (
    DEFAULT_WEIGHTS,
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
    oks,
)

# a right triangle in the z = 0 plane (normal +z) and a tilted copy
TRI = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
TILTED = torch.tensor([[[0.0, 0, 0], [1, 0, 1], [0, 1, 0]]])
FACE = torch.tensor([[0, 1, 2]])


def test_paper_weights() -> None:
    assert DEFAULT_WEIGHTS == {
        "j2d": 10,
        "oks_2d": 4,
        "vertices": 10,
        "j3d": 10,
        "normal": 5,
        "edge": 10,
        "proj": 10,
        "oks_proj": 4,
        "nc": 0.5,
        "side": 0,  # the project's addition is off in the paper's recipe
    }


def test_loss_j2d_and_proj_normalised_by_image_size() -> None:
    pred = torch.tensor([[[0.0, 0.0], [10.0, 0.0]]])
    gt = torch.zeros(1, 2, 2)
    # |10| / 10 over 4 coordinates -> 0.25
    assert loss_j2d(pred, gt, torch.ones(1, 2), 10.0).item() == pytest.approx(0.25)
    assert loss_proj(pred, gt, torch.ones(1, 2), 10.0).item() == pytest.approx(0.25)
    assert loss_j2d(pred, gt, torch.tensor([[1.0, 0.0]]), 10.0).item() == pytest.approx(0.0)  # invisible joint
    assert loss_j2d(pred, gt, torch.zeros(1, 2), 10.0).item() == 0.0


def test_oks_loss_by_hand() -> None:
    pred = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    gt = torch.zeros(1, 2, 2)
    sig = torch.tensor([0.5, 0.5])  # variance (2 sigma)^2 = 1
    area = torch.tensor([100.0])
    # joint 0: exp(-4 / (2 * 1 * 100)) = exp(-0.02); joint 1: exp(0) = 1
    expected_oks = (math.exp(-0.02) + 1.0) / 2
    assert oks(pred, gt, torch.ones(1, 2), area, sig).item() == pytest.approx(expected_oks, rel=1e-6)
    assert loss_oks_2d(pred, gt, torch.ones(1, 2), area, sig).item() == pytest.approx(1 - expected_oks, rel=1e-5)
    assert loss_oks_proj(pred, gt, torch.tensor([[1.0, 0.0]]), area, sig).item() == pytest.approx(
        1 - math.exp(-0.02), rel=1e-5
    )


def test_loss_vertices_and_j3d_by_hand() -> None:
    pred = torch.tensor([[[0.01, 0.0, 0.0], [0.0, -0.02, 0.0]], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]])
    gt = torch.zeros(2, 2, 3)
    w = torch.tensor([1.0, 0.0])  # the second instance has no 3D annotation
    assert loss_vertices(pred, gt, w).item() == pytest.approx(0.03 / 6)
    assert loss_j3d(pred, gt, w).item() == pytest.approx(0.03 / 6)


def test_loss_normal_by_hand() -> None:
    # GT normal +z; predicted edges (1,0,1)/sqrt2, (-1,1,-1)/sqrt3, (0,-1,0): |cos| = 1/sqrt2, 1/sqrt3, 0
    expected = (1 / math.sqrt(2) + 1 / math.sqrt(3) + 0.0) / 3
    assert loss_normal(TILTED, TRI, FACE, torch.ones(1)).item() == pytest.approx(expected, rel=1e-5)
    assert loss_normal(TRI, TRI, FACE, torch.ones(1)).item() == pytest.approx(0.0, abs=1e-7)


def test_loss_edge_by_hand() -> None:
    # predicted edge lengths sqrt2, sqrt3, 1 vs GT 1, sqrt2, 1
    expected = (abs(math.sqrt(2) - 1) + abs(math.sqrt(3) - math.sqrt(2)) + 0.0) / 3
    assert loss_edge(TILTED, TRI, FACE, torch.ones(1)).item() == pytest.approx(expected, rel=1e-5)


def test_loss_normal_consistency_by_hand() -> None:
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    adj = face_adjacency(faces.numpy())
    assert adj.tolist() == [[0, 1]]
    flat = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]])
    folded = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 1]]])  # normals (0,0,1) and (1,-1,0)/sqrt2
    assert loss_normal_consistency(flat, faces, adj, torch.ones(1)).item() == pytest.approx(0.0, abs=1e-7)
    assert loss_normal_consistency(folded, faces, adj, torch.ones(1)).item() == pytest.approx(1.0, abs=1e-6)


def _targets(n: int, nv: int, has_3d: bool) -> list[dict[str, torch.Tensor]]:
    return [
        {
            "boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]] * n),
            "joints_2d": torch.zeros(n, 21, 2),
            "visibility": torch.ones(n, 21),
            "joints_3d": torch.zeros(n, 21, 3),
            "vertices": torch.zeros(n, nv, 3),
            "cam_t": torch.zeros(n, 3),
            "side": torch.ones(n, dtype=torch.long),
            "has_2d": torch.ones(n, dtype=torch.bool),
            "has_3d": torch.full((n,), has_3d),
            "has_mesh": torch.full((n,), has_3d),
            "K": torch.eye(3),
            "image_size": torch.tensor([20, 20]),
        }
    ]


def test_criterion_sums_weighted_terms_over_layers_and_masks_3d() -> None:
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    nv = 4
    crit = HandOSCriterion(faces, sigmas=[0.5] * 21)
    rng = torch.Generator().manual_seed(0)
    verts = [torch.rand(1, nv, 3, generator=rng) * 0.1 for _ in range(2)]
    j2d = [torch.rand(1, 21, 2, generator=rng) * 20 for _ in range(3)]
    outputs = {
        "pred_joints_2d": j2d,
        "pred_vertices": verts,
        "pred_joints_3d": [torch.rand(1, 21, 3, generator=rng) * 0.1 for _ in range(2)],
        "pred_cam_t": [torch.rand(1, 3, generator=rng) for _ in range(2)],
        "pred_joints_proj": [torch.rand(1, 21, 2, generator=rng) * 20 for _ in range(2)],
        "instance_batch_index": torch.tensor([0]),
        "instance_gt_index": torch.tensor([0]),
        "image_size": 20,
    }
    for has_3d in (True, False):
        tg = _targets(1, nv, has_3d)
        res = crit(outputs, tg)
        expected = 0.0
        for i in range(3):
            w2 = torch.ones(1, 21)
            area = torch.tensor([100.0])
            sig = torch.full((21,), 0.5)
            expected += 10 * loss_j2d(j2d[i], tg[0]["joints_2d"], w2, 20.0).item()
            expected += 4 * loss_oks_2d(j2d[i], tg[0]["joints_2d"], w2, area, sig).item()
            if i >= 1:
                k = i - 1
                w3 = torch.full((1,), float(has_3d))
                v = outputs["pred_vertices"][k]
                expected += 10 * loss_vertices(v, tg[0]["vertices"], w3).item()
                expected += 10 * loss_j3d(outputs["pred_joints_3d"][k], tg[0]["joints_3d"], w3).item()
                expected += 5 * loss_normal(v, tg[0]["vertices"], torch.as_tensor(faces), w3).item()
                expected += 10 * loss_edge(v, tg[0]["vertices"], torch.as_tensor(faces), w3).item()
                expected += 10 * loss_proj(outputs["pred_joints_proj"][k], tg[0]["joints_2d"], w2, 20.0).item()
                expected += 4 * loss_oks_proj(outputs["pred_joints_proj"][k], tg[0]["joints_2d"], w2, area, sig).item()
                expected += (
                    0.5
                    * loss_normal_consistency(v, torch.as_tensor(faces), face_adjacency(faces), torch.ones(1)).item()
                )
        assert res["total"].item() == pytest.approx(expected, rel=1e-5)
        if not has_3d:
            for name in ("vertices", "j3d", "normal", "edge"):
                assert res[name].item() == 0.0  # 2D-only data switches the 3D terms off
            assert res["nc"].item() > 0  # the weak term still applies


def test_criterion_rejects_unknown_weight() -> None:
    with pytest.raises(ValueError, match="unknown loss weights"):
        HandOSCriterion(np.array([[0, 1, 2]]), weights={"j2D": 1.0})


def test_oks_sigma_scale_widens_the_kernel() -> None:
    """``loss.oks_sigma_scale`` multiplies every sigma; the shipped tiny config widens the kernel so
    that ``1 - OKS`` still has a gradient a quarter of a hand box away from the target."""
    from handos_model.models.build import build_criterion, load_config
    from handos_model.models.losses import WHOLEBODY_HAND_SIGMAS

    base = {"loss": {"oks_sigmas": "wholebody_hand"}}
    assert torch.allclose(build_criterion(base).sigmas, torch.tensor(WHOLEBODY_HAND_SIGMAS))
    wide = build_criterion({"loss": {"oks_sigmas": "wholebody_hand", "oks_sigma_scale": 4.0}})
    assert torch.allclose(wide.sigmas, 4.0 * torch.tensor(WHOLEBODY_HAND_SIGMAS))
    tiny = load_config("handos_model/configs/handos_tiny.yaml")
    assert torch.allclose(build_criterion(tiny).sigmas, wide.sigmas)
    with pytest.raises(ValueError, match="oks_sigma_scale"):
        build_criterion({"loss": {"oks_sigma_scale": 0.0}})

    # an 80 px hand, every joint predicted 20 px (a quarter of the box) off
    target = torch.zeros(1, 21, 2)
    area = torch.tensor([80.0 * 80.0])
    weight = torch.ones(1, 21)

    def grad_norm(sigmas: torch.Tensor) -> float:
        pred = torch.full((1, 21, 2), 20.0 / math.sqrt(2.0), requires_grad=True)
        loss_oks_2d(pred, target, weight, area, sigmas).backward()
        return float(pred.grad.norm())

    g1, g4 = grad_norm(build_criterion(base).sigmas), grad_norm(wide.sigmas)
    assert g4 > 10.0 * g1  # measured 14x: saturated at scale 1, informative at scale 4


def test_loss_side_supervises_the_mesh_orientation() -> None:
    from handos_model.hand.hand_model import load_open_hand

    model = load_open_hand()
    rng = np.random.default_rng(3)
    v, _ = model.forward(model.sample_pose(rng, n=4, global_orient=True), model.sample_shape(rng, 4))
    right = torch.tensor(v, dtype=torch.float32)
    left = torch.tensor(model.mirror_left(v), dtype=torch.float32)
    depth_flip = right * torch.tensor([1.0, 1.0, -1.0])  # the back-view twin of a palm view: a left hand
    faces = torch.as_tensor(model.faces)
    ones = torch.ones(4)
    assert loss_side(right, right, faces, ones).item() == 0.0
    assert loss_side(left, left, faces, ones).item() == 0.0
    # the wrong side: ratio -1 -> margin + 1
    assert loss_side(right, left, faces, ones).item() == pytest.approx(1.5, rel=1e-4)
    assert loss_side(depth_flip, right, faces, ones).item() == pytest.approx(1.5, rel=1e-4)
    assert loss_side(right, left, faces, torch.zeros(4)).item() == 0.0  # masked
    # a flattened mesh (no volume) is penalised by the margin, and the gradient grows its volume
    flat = (right * torch.tensor([1.0, 1.0, 0.0])).requires_grad_(True)
    loss = loss_side(flat, right, faces, ones)
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    stepped = (flat - 1e-3 * flat.grad / flat.grad.abs().max()).detach()
    assert loss_side(stepped, right, faces, ones).item() < 0.5


def test_criterion_adds_loss_side_only_when_weighted() -> None:
    from handos_model.hand.hand_model import load_open_hand

    model = load_open_hand()
    v, _ = model.forward(model.sample_pose(np.random.default_rng(4), n=1))
    nv = v.shape[1]
    tg = _targets(1, nv, True)
    tg[0]["vertices"] = torch.tensor(model.mirror_left(v), dtype=torch.float32)  # a left hand
    outputs = {
        "pred_joints_2d": [torch.zeros(1, 21, 2)],
        "pred_vertices": [torch.tensor(v, dtype=torch.float32)],  # predicted as a right hand
        "pred_joints_3d": [torch.zeros(1, 21, 3)],
        "pred_cam_t": [torch.zeros(1, 3)],
        "pred_joints_proj": [torch.zeros(1, 21, 2)],
        "instance_batch_index": torch.tensor([0]),
        "instance_gt_index": torch.tensor([0]),
        "image_size": 20,
    }
    plain = HandOSCriterion(model.faces)(outputs, tg)
    assert "side" not in plain
    weighted = HandOSCriterion(model.faces, weights={"side": 2.0})(outputs, tg)
    assert weighted["side"].item() == pytest.approx(1.5, rel=1e-4)
    assert weighted["total"].item() == pytest.approx(plain["total"].item() + 2.0 * 1.5, rel=1e-5)


def test_the_paper_terms_barely_separate_a_hand_from_its_palm_back_twin() -> None:
    """Why loss_side exists: a camera-facing hand and its depth flip (the other side seen from the
    other face) share a silhouette; the normal term scores the flip like a few mm of vertex noise."""
    from handos_model.hand.hand_model import load_open_hand
    from handos_model.synth.placement import R_PALM_VIEW

    model = load_open_hand()
    v, _ = model.forward(model.sample_pose(np.random.default_rng(0), n=50))
    v = torch.tensor(v @ R_PALM_VIEW.T, dtype=torch.float32)
    v = v - v[:, :1]
    faces, ones = torch.as_tensor(model.faces), torch.ones(50)
    flip = v * torch.tensor([1.0, 1.0, -1.0])
    noise = v + 0.003 * torch.randn(v.shape, generator=torch.Generator().manual_seed(0))
    assert loss_normal(flip, v, faces, ones) < 2 * loss_normal(noise, v, faces, ones)
    assert loss_side(flip, v, faces, ones).item() == pytest.approx(1.5, rel=1e-4)
    assert loss_side(noise, v, faces, ones).item() == 0.0

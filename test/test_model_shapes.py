"""Output shapes for 0, 1 and 5 hands (training and inference paths), predict() geometry, 2D stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_fixtures import batch, synthetic_sample, tiny_cfg, tiny_topology

from handos_model.data.transforms import letterbox_params
from handos_model.models.build import build_criterion, build_model
from handos_model.prediction import HandPrediction, PredictTiming
from handos_model.predictor import HandPredictor


@pytest.fixture(scope="module")
def topo():
    return tiny_topology()


@pytest.fixture(scope="module")
def model(topo):
    torch.manual_seed(0)
    return build_model(tiny_cfg(), topo).eval()


@pytest.mark.parametrize("num_hands", [0, 1, 5])
def test_inference_shapes(model, topo, num_hands: int) -> None:
    images, Ks, _ = batch([synthetic_sample(topo, 1)])
    with torch.no_grad():
        out = model(images, Ks, fixed_count=num_hands)
    nv = topo.num_vertices
    n2d = model.decoder.num_2d_layers + model.decoder.num_interactive_layers
    # in eval mode only the last interactive layer runs the 3D heads (the predictions read the last layer)
    assert len(out["pred_joints_2d"]) == n2d and len(out["pred_vertices"]) == min(1, model.decoder.num_interactive_layers)
    for j in out["pred_joints_2d"]:
        assert j.shape == (num_hands, 21, 2)
    for v, j3, t, p in zip(
        out["pred_vertices"], out["pred_joints_3d"], out["pred_cam_t"], out["pred_joints_proj"], strict=True
    ):
        assert v.shape == (num_hands, nv, 3) and j3.shape == (num_hands, 21, 3)
        assert t.shape == (num_hands, 3) and p.shape == (num_hands, 21, 2)
        assert torch.isfinite(v).all() and torch.isfinite(p).all()
    assert out["instance_batch_index"].shape == (num_hands,)
    assert out["instance_boxes"].shape == (num_hands, 4)


@pytest.mark.parametrize("num_hands", [0, 1, 5])
def test_training_shapes_and_backward(topo, num_hands: int) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_cfg(), topo).train()
    crit = build_criterion(tiny_cfg(), topo)
    images, Ks, targets = batch([synthetic_sample(topo, num_hands, seed=3), synthetic_sample(topo, 1, seed=4)])
    out = model(images, Ks, targets)
    k = out["instance_batch_index"].numel()
    assert k >= num_hands + 1  # every ground truth gets at least one query
    assert (out["instance_gt_index"] >= 0).all()
    for b, n in enumerate([num_hands, 1]):
        matched = out["instance_gt_index"][out["instance_batch_index"] == b]
        assert set(matched.tolist()) == set(range(n))
    assert out["pred_vertices"][-1].shape == (k, topo.num_vertices, 3)
    losses = crit(out, targets)
    assert torch.isfinite(losses["total"]) and losses["total"] > 0
    losses["total"].backward()
    assert model.decoder.query_lifting.lifting.grad is not None


def test_training_with_no_hands_at_all_still_backpropagates(topo) -> None:
    model = build_model(tiny_cfg(), topo).train()
    crit = build_criterion(tiny_cfg(), topo)
    images, Ks, targets = batch([synthetic_sample(topo, 0, seed=5)])
    losses = crit(model(images, Ks, targets), targets)
    assert losses["total"].item() == 0.0
    losses["total"].backward()  # no error: the graph exists even with zero instances


def test_predict_returns_hands_in_original_pixels(model, topo) -> None:
    rng = np.random.default_rng(0)
    image = (rng.random((60, 100, 3)) * 255).astype(np.uint8)
    K = np.array([[80.0, 0, 50], [0, 80.0, 30], [0, 0, 1]], np.float32)
    preds, timing = HandPredictor(model).predict_timed(image, K, fixed_count=3)
    assert isinstance(timing, PredictTiming) and timing.total_ms > 0 and timing.decoder_ms > 0
    assert len(preds) == 3 and all(isinstance(p, HandPrediction) for p in preds)
    assert [p.score for p in preds] == sorted((p.score for p in preds), reverse=True)
    lb = letterbox_params(60, 100, model.input_size)
    from handos_model.data.transforms import image_to_tensor, letterbox_image

    canvas, K_net, _ = letterbox_image(image, K, model.input_size)
    with torch.no_grad():
        out = model(image_to_tensor(canvas)[None], torch.from_numpy(K_net)[None], fixed_count=3)
    j2d = out["pred_joints_2d"][-1].numpy() / lb.scale
    t = out["pred_cam_t"][-1].numpy()
    for i, p in enumerate(preds):
        assert p.box.shape == (4,) and p.joints_2d.shape == (21, 2) and p.joints_2d_proj.shape == (21, 2)
        assert p.joints_3d.shape == (21, 3) and p.vertices.shape == (topo.num_vertices, 3) and p.cam_t.shape == (3,)
        np.testing.assert_allclose(p.joints_2d, j2d[i], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(p.cam_t, t[i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(p.vertices, out["pred_vertices"][-1][i].numpy() + t[i], rtol=1e-5, atol=1e-6)
        # the projection of the absolute 3D joints with the ORIGINAL K is joints_2d_proj
        proj = p.joints_3d @ K.T
        np.testing.assert_allclose(p.joints_2d_proj, proj[:, :2] / proj[:, 2:3], rtol=1e-4, atol=1e-2)
        assert p.side in (0, 1) and 0.5 <= p.side_confidence <= 1.0


def test_predict_defaults_use_threshold_and_cap(model) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    K = np.array([[60.0, 0, 32], [0, 60.0, 32], [0, 0, 1]], np.float32)
    predictor = HandPredictor(model)
    assert predictor.predict(image, K, score_threshold=1.0) == []
    assert len(predictor.predict(image, K, score_threshold=0.0, nms_threshold=1.0, max_hands=2)) == 2
    with pytest.raises(ValueError):
        predictor.predict(image.astype(np.float32), K)


def test_no_hand_selected_skips_side_tuning_and_decoder(model, topo) -> None:
    """Inference early exit: with no instance selected the side network and decoder do not run
    (an empty frame costs the detector only), and the outputs keep the decoder's K = 0 shapes."""
    image = np.zeros((64, 64, 3), np.uint8)
    K = np.array([[60.0, 0, 32], [0, 60.0, 32], [0, 0, 1]], np.float32)
    preds, timing = HandPredictor(model).predict_timed(image, K, score_threshold=1.0)
    assert preds == [] and timing.side_tuning_ms == 0.0 and timing.detector_ms > 0.0
    images, Ks, _ = batch([synthetic_sample(topo, 1)])
    with torch.no_grad():
        out = model(images, Ks, fixed_count=0)
        shapes = model.detector(images).spatial_shapes_list
        feats = torch.zeros(1, sum(h * w for h, w in shapes), model.decoder.layers[0].cross_attn.value_proj.in_features)
        d = model.decoder.d_model
        ran = model.decoder(torch.zeros(0, d), torch.zeros(0, d), torch.zeros(0, 4), feats,
                            torch.zeros(0, dtype=torch.long), shapes, torch.zeros(0, 3, 3), 64)
    for key, layers in ran.items():
        assert [t.shape for t in out[key]] == [t.shape for t in layers], key


def test_two_d_stage_model(topo) -> None:
    cfg = tiny_cfg(lifting=False)
    model = build_model(cfg, topo).train()
    crit = build_criterion(cfg, topo)
    assert model.decoder.query_lifting is None and len(model.decoder.vertex_heads) == 0
    images, Ks, targets = batch([synthetic_sample(topo, 2)])
    out = model(images, Ks, targets)
    assert len(out["pred_joints_2d"]) == 3 and out["pred_vertices"] == []
    losses = crit(out, targets)
    assert set(losses) == {"j2d", "oks_2d", "total", "num_instances"}
    losses["total"].backward()
    # the 2D model's layers load into the full model's layers (same names and shapes)
    full = build_model(tiny_cfg(), topo)
    own = full.state_dict()
    shared = {k: v for k, v in model.state_dict().items() if k in own and own[k].shape == v.shape}
    assert all(k in shared for k in model.state_dict() if k.startswith("decoder.layers."))


def test_postprocess_reports_side_from_the_predicted_mesh() -> None:
    """Integration with hand.handedness: a right template and its mirror come out as right / left."""
    from handos_model.hand.hand_model import load_hand_model
    from handos_model.models.postprocess import postprocess

    hand = load_hand_model("open")
    right = torch.from_numpy(hand.template)
    verts = torch.stack([right, right * torch.tensor([-1.0, 1.0, 1.0])])
    joints = torch.einsum("jv,kvc->kjc", torch.from_numpy(hand.joint_regressor), verts)
    t = torch.tensor([[0.0, 0.0, 0.5], [0.1, 0.0, 0.6]])
    outputs = {
        "image_size": 64,
        "instance_batch_index": torch.tensor([0, 0]),
        "instance_scores": torch.tensor([0.9, 0.8]),
        "instance_boxes": torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.3, 0.1, 0.2]]),
        "pred_joints_2d": [torch.rand(2, 21, 2) * 64],
        "pred_vertices": [verts],
        "pred_joints_3d": [joints],
        "pred_cam_t": [t],
        "pred_joints_proj": [torch.rand(2, 21, 2) * 64],
    }
    lb = letterbox_params(128, 96, 64)  # scale 0.5
    preds = postprocess(outputs, [lb], hand.faces)[0]
    assert [p.side for p in preds] == [1, 0]
    assert all(p.side_confidence > 0.8 for p in preds)
    np.testing.assert_allclose(preds[0].box, [51.2, 51.2, 76.8, 76.8], atol=1e-4)  # (0.4..0.6) * 64 / 0.5
    np.testing.assert_allclose(preds[1].vertices, verts[1].numpy() + t[1].numpy(), atol=1e-6)

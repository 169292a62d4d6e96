"""The CPU decoder of issue 17: coarse vertex tokens, the camera token's attention apart, fewer
vertex sampling points, 3D heads of the last layer only at inference."""

from __future__ import annotations

import numpy as np
import torch

from handos_model import CONFIGS_DIR
from handos_model.hand.coarse_mesh import build_coarse_mesh, upsampling_error_mm
from handos_model.hand.hand_model import load_hand_model
from handos_model.models.build import build_model, load_config
from handos_model.models.hierarchical_attention import MaskedSelfAttention, hierarchical_attention_mask


def test_camera_apart_attention_equals_the_masked_attention() -> None:
    torch.manual_seed(0)
    nj, nv, d = 5, 7, 16
    attn = MaskedSelfAttention(d, 4)
    x = torch.randn(3, nj + nv + 1, d)
    pos = torch.randn_like(x)
    masked = attn(x, pos, hierarchical_attention_mask(nj, nv))
    apart = attn.forward_camera_apart(x, pos)
    torch.testing.assert_close(apart, masked, atol=1e-5, rtol=1e-5)
    # the camera token is read by nobody: changing it leaves the 2D and vertex tokens alone
    x2 = x.clone()
    x2[:, -1] += 1.0
    torch.testing.assert_close(attn.forward_camera_apart(x2, pos)[:, :-1], apart[:, :-1])


def test_coarse_mesh_is_deterministic_affine_and_accurate() -> None:
    hand = load_hand_model("open")
    a = build_coarse_mesh(hand, 128)
    b = build_coarse_mesh(hand, 128)
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.upsampling, b.upsampling)
    assert len(set(a.indices.tolist())) == 128
    assert a.upsampling.shape == (hand.num_vertices, 128)
    np.testing.assert_allclose(a.upsampling.sum(1), 1.0, atol=1e-5)
    assert ((a.upsampling != 0).sum(1) <= 8).all()
    # coarse vertices reproduce themselves exactly
    np.testing.assert_array_equal(a.upsampling[a.indices], np.eye(128, dtype=np.float32))
    err = upsampling_error_mm(hand, a)
    assert err["mean_mm"] < 1.0 and err["p99_mm"] < 5.0, err
    # affine rows: exact under a rigid motion of the rest mesh
    rot = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    moved = hand.template @ rot.T + np.array([0.1, -0.2, 0.5])
    rest_err = a.upsampling @ hand.template[a.indices] - hand.template
    moved_err = a.upsampling @ moved[a.indices] - moved
    np.testing.assert_allclose(moved_err, rest_err @ rot.T, atol=1e-5)


def small_lite_cfg(coarse: int | None, vertex_points: int | None) -> dict:
    cfg = load_config(CONFIGS_DIR / "handos_lite.yaml")
    m = cfg["model"]
    m["input_size"] = 64
    m["detector"].update(pretrained_backbone=False, d_model=32, encoder_hidden_dim=16, num_queries=10,
                         decoder_layers=1, num_heads=2, ffn_dim=64, num_points=2, num_denoising=4)
    m["side_tuning"]["channels"] = 16
    m["decoder"].update(num_heads=2, num_points=2, ffn_dim=64, num_2d_layers=1, num_interactive_layers=2,
                        coarse_vertices=coarse, vertex_points=vertex_points)
    return cfg


def run_decoder(model, training: bool) -> dict:  # noqa: ANN001
    torch.manual_seed(1)
    dec = model.decoder
    dec.train(training)
    k, d = 2, dec.d_model
    shapes = [(8, 8), (4, 4), (2, 2)]
    t = sum(h * w for h, w in shapes)
    feats = torch.randn(1, t, model.detector.d_model + model.side_tuning.channels)
    boxes = torch.tensor([[0.4, 0.5, 0.3, 0.4], [0.6, 0.4, 0.2, 0.3]])
    Ks = torch.tensor([[60.0, 0, 32], [0, 60.0, 32], [0, 0, 1]]).expand(k, 3, 3)
    with torch.no_grad():
        return dec(torch.randn(k, d), torch.randn(k, d), boxes, feats, torch.zeros(k, dtype=torch.long), shapes, Ks, 64)


def test_coarse_tokens_give_full_meshes_and_eval_runs_only_the_last_3d_head() -> None:
    torch.manual_seed(0)
    model = build_model(small_lite_cfg(coarse=32, vertex_points=1))
    dec = model.decoder
    assert dec.num_vertex_tokens == 32 and dec.num_vertices == model.topology.num_vertices
    assert dec.layers[-1].num_tokens == 21 + 32 + 1
    assert dec.layers[-1].cross_attn_vertex.num_points == 1
    train_out = run_decoder(model, training=True)
    eval_out = run_decoder(model, training=False)
    assert len(train_out["pred_vertices"]) == 2 and len(eval_out["pred_vertices"]) == 1
    assert eval_out["pred_vertices"][0].shape == (2, model.topology.num_vertices, 3)
    for key in ("pred_vertices", "pred_joints_3d", "pred_cam_t", "pred_joints_proj"):
        torch.testing.assert_close(eval_out[key][-1], train_out[key][-1])
    torch.testing.assert_close(eval_out["pred_joints_2d"][-1], train_out["pred_joints_2d"][-1])
    # at initialisation the head outputs zero offsets: the full template comes out
    torch.testing.assert_close(eval_out["pred_vertices"][0][0], dec.template, atol=1e-6, rtol=0)
    empty = dec.empty_outputs("cpu")
    assert all(len(empty[k]) == len(eval_out[k]) for k in empty)


def test_paper_decoder_unchanged_without_coarse_tokens() -> None:
    model = build_model(small_lite_cfg(coarse=None, vertex_points=None))
    dec = model.decoder
    assert dec.vertex_upsampling is None and dec.num_vertex_tokens == model.topology.num_vertices
    assert dec.layers[-1].cross_attn_vertex is None
    out = run_decoder(model, training=True)
    assert out["pred_vertices"][-1].shape == (2, model.topology.num_vertices, 3)


def test_shared_value_projection_equals_per_layer_projections_with_the_same_weights() -> None:
    per_layer_cfg = small_lite_cfg(coarse=32, vertex_points=1)
    per_layer_cfg["model"]["decoder"]["shared_value"] = False
    per_layer = build_model(per_layer_cfg)
    shared = build_model(small_lite_cfg(coarse=32, vertex_points=1))  # handos_lite.yaml: shared_value
    assert shared.decoder.value_proj is not None
    assert all(layer.cross_attn.value_proj is None for layer in shared.decoder.layers)
    assert all(layer.cross_attn.value_proj is not None for layer in per_layer.decoder.layers)
    # a non-trivial state (the heads, offsets and attention weights start at zero), every
    # layer's value projection a copy of the first one's
    torch.manual_seed(2)
    with torch.no_grad():
        for p in per_layer.decoder.parameters():
            p.normal_(std=0.1)
        first = per_layer.decoder.layers[0].cross_attn.value_proj
        for layer in per_layer.decoder.layers[1:]:
            layer.cross_attn.value_proj.load_state_dict(first.state_dict())
    state = per_layer.state_dict()
    state.update({f"decoder.value_proj.{k}": v for k, v in first.state_dict().items()})
    missing, unexpected = shared.load_state_dict(state, strict=False)
    assert not missing
    assert all(".cross_attn.value_proj." in k for k in unexpected) and len(unexpected) == 2 * len(per_layer.decoder.layers)
    ref, got = run_decoder(per_layer, training=True), run_decoder(shared, training=True)
    assert ref["pred_vertices"][-1].std() > 1e-3  # the outputs depend on the weights
    for key in ("pred_joints_2d", "pred_vertices", "pred_cam_t"):
        for r, g in zip(ref[key], got[key], strict=True):
            torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)
    # and the projection matters: another one in the last layer changes the output
    with torch.no_grad():
        per_layer.decoder.layers[-1].cross_attn.value_proj.weight.normal_()
    changed = run_decoder(per_layer, training=True)
    assert not torch.allclose(changed["pred_joints_2d"][-1], got["pred_joints_2d"][-1], atol=1e-4)

"""ONNX export (``handos-export --onnx``) and the ONNX Runtime backend agree with PyTorch.

Two models, both exported for real with ``export_onnx`` and run with onnxruntime's CPU provider:

* a shrunk ``handos_lite.yaml`` (coarse vertex tokens, 1-point vertex attention) with random
  weights, its zero-initialised heads perturbed so every output depends on the weights;
* the shipped default (``handos_model.DEFAULT_WEIGHTS``), on the committed frames of
  ``test_prediction_pin`` (scores and side votes kept away from the thresholds there).

Stated tolerance (fp32, same machine): detector scores within 1e-4, boxes and 2D joints within
0.02 image px, 3D joints / vertices / translation within 0.05 mm per metre of depth (at least
0.05 mm), same sides, same hand count and order. Measured on the shipped model: 2D ~2e-4 px, 3D
<= 0.007 mm here, 0.054 mm at worst over 154 hands of 48 synthetic frames (bench/onnx_latency.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_coarse_decoder import small_lite_cfg
from test_prediction_pin import NODE_MAX_HANDS, NODE_NMS_THRESHOLD, NODE_SCORE_THRESHOLD, load_default, load_frames

from handos_model import DEFAULT_WEIGHTS
from handos_model.export.cli import main as export_main
from handos_model.export.onnx_export import META_FILE, export_onnx
from handos_model.export.onnx_runtime import load_onnx_model
from handos_model.models.build import build_model
from handos_model.predictor import HandPredictor

NODE = dict(score_threshold=NODE_SCORE_THRESHOLD, nms_threshold=NODE_NMS_THRESHOLD, max_hands=NODE_MAX_HANDS)
TOL_SCORE, TOL_PX, TOL_M = 1e-4, 0.02, 5e-5


def assert_same_hands(ref: list, got: list) -> None:
    assert len(got) == len(ref)
    for r, g in zip(ref, got, strict=True):
        assert abs(r.score - g.score) <= TOL_SCORE
        tol_3d = TOL_M * max(1.0, float(r.cam_t[2]))  # per metre of depth
        for field, tol in (("box", TOL_PX), ("joints_2d", TOL_PX), ("joints_2d_proj", TOL_PX),
                           ("joints_3d", tol_3d), ("vertices", tol_3d), ("cam_t", tol_3d)):
            a, b = getattr(r, field), getattr(g, field)
            assert a.shape == b.shape, field
            np.testing.assert_allclose(b, a, rtol=0, atol=tol, err_msg=field)
        assert r.side == g.side


@pytest.fixture(scope="module")
def small(tmp_path_factory):  # noqa: ANN001, ANN201
    torch.manual_seed(0)
    model = build_model(small_lite_cfg(coarse=32, vertex_points=1)).eval()
    with torch.no_grad():  # the heads start at zero: perturb them so the outputs depend on every layer
        for name, p in model.named_parameters():
            if not name.startswith("detector."):
                p.add_(0.05 * torch.randn_like(p))
    out = tmp_path_factory.mktemp("onnx_small")
    export_onnx(model, out)
    return model, load_onnx_model(out, num_threads=2), out


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):  # noqa: ANN001, ANN201
    model = load_default()
    out = tmp_path_factory.mktemp("onnx_shipped")
    export_onnx(model, out, source=DEFAULT_WEIGHTS.name)
    return model, load_onnx_model(out, num_threads=2)


def _frame(seed: int, h: int = 48, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    img = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    return img, np.array([[60.0, 0, w / 2], [0, 60.0, h / 2], [0, 0, 1]], np.float32)


def test_small_model_dynamic_hand_count(small) -> None:  # noqa: ANN001
    model, onnx, _ = small
    torch_pred = HandPredictor(model)
    img, K = _frame(0)
    for k in (1, 2, 4, 3):  # the graph was traced with K = 2; other K must work too
        ref = torch_pred.predict_timed(img, K, fixed_count=k)[0]
        got, timing = onnx.predict_timed(img, K, fixed_count=k)
        assert len(ref) == k
        assert_same_hands(ref, got)
        assert timing.detector_ms > 0 and timing.decoder_ms > 0
    # the perturbed model really moved the mesh away from the template: the check has teeth
    assert np.ptp(np.stack([h.vertices for h in got]), axis=0).max() > 1e-3


def test_small_model_threshold_nms_cap(small) -> None:  # noqa: ANN001
    model, onnx, _ = small
    torch_pred = HandPredictor(model)
    for seed in (1, 2):
        img, K = _frame(seed)
        for kw in (dict(score_threshold=0.0, nms_threshold=0.5, max_hands=3),
                   dict(score_threshold=0.0, nms_threshold=1.0, max_hands=None)):
            ref = torch_pred.predict(img, K, **kw)
            assert len(ref) > 0
            assert_same_hands(ref, onnx.predict(img, K, **kw))


def test_no_hand_skips_the_decoder(small, monkeypatch) -> None:  # noqa: ANN001
    _, onnx, _ = small

    class NoDecoder:
        def run(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            raise AssertionError("decoder.onnx ran with K = 0")

    monkeypatch.setattr(onnx, "decoder", NoDecoder())
    img, K = _frame(3)
    assert onnx.predict(img, K, score_threshold=1.0) == []
    assert onnx.predict_timed(img, K, fixed_count=0)[0] == []
    with pytest.raises(AssertionError, match="K = 0"):
        onnx.predict(img, K, score_threshold=0.0)


def test_shipped_model_matches_pytorch_on_committed_frames(shipped) -> None:  # noqa: ANN001
    model, onnx = shipped
    torch_pred = HandPredictor(model)
    images, Ks = load_frames()
    total = 0
    for img, K in zip(images, Ks, strict=True):
        ref = torch_pred.predict(img, K, **NODE)
        assert_same_hands(ref, onnx.predict(img, K, **NODE))
        total += len(ref)
    assert total >= 3
    for k in (1, 2, 4):
        assert_same_hands(torch_pred.predict_timed(images[2], Ks[2], fixed_count=k)[0],
                          onnx.predict_timed(images[2], Ks[2], fixed_count=k)[0])
    blank = np.zeros_like(images[0])
    ref = torch_pred.predict(blank, Ks[0], **NODE)
    assert ref == [] and onnx.predict(blank, Ks[0], **NODE) == []


def test_shipped_export_carries_what_the_node_needs(shipped) -> None:  # noqa: ANN001
    model, onnx = shipped
    assert onnx.input_size == model.input_size
    np.testing.assert_array_equal(onnx.topology.faces, model.topology_faces.numpy())
    assert onnx.topology.num_vertices == model.topology.num_vertices
    assert (onnx.score_threshold, onnx.nms_threshold, onnx.max_hands) == (
        model.score_threshold, model.nms_threshold, model.max_hands)
    with pytest.raises(ValueError, match="re-export"):
        onnx.input_size = 256
    onnx.input_size = model.input_size  # the same size is fine


def test_cli_writes_int8_graphs_and_refuses_a_missing_format(small, tmp_path) -> None:  # noqa: ANN001
    """``handos-export --onnx --int8 --config`` on the shrunk model; int8 loads and finds the same hands."""
    cfg_path = tmp_path / "small.json"  # build_model reads YAML; JSON is YAML
    cfg_path.write_text(json.dumps(small_lite_cfg(coarse=32, vertex_points=1)))
    with pytest.raises(SystemExit):
        export_main(["--config", str(cfg_path), "--out", str(tmp_path / "x")])
    assert export_main(["--onnx", "--int8", "--config", str(cfg_path), "--out", str(tmp_path / "e")]) == 0
    info = json.loads((tmp_path / "e" / META_FILE).read_text())
    assert set(info["precisions"]) == {"fp32", "int8"}
    for name in info["precisions"]["int8"].values():
        assert (tmp_path / "e" / name).stat().st_size > 0
    img, K = _frame(4)
    fp32 = load_onnx_model(tmp_path / "e", num_threads=2).predict_timed(img, K, fixed_count=2)[0]
    int8 = load_onnx_model(tmp_path / "e" / META_FILE, num_threads=2, precision="int8").predict_timed(
        img, K, fixed_count=2)[0]
    assert len(int8) == len(fp32) == 2
    assert all(np.isfinite(h.vertices).all() for h in int8)
    with pytest.raises(ValueError, match="no 'int8' graphs"):
        load_onnx_model(small[2], precision="int8")  # exported without --int8
    with pytest.raises(FileNotFoundError, match="no HandOS ONNX export"):
        load_onnx_model(tmp_path)


def test_sessions_share_one_thread_pool(small) -> None:  # noqa: ANN001
    """The first predictor of the process puts both graphs on ONNX Runtime's global thread pool;
    a predictor asking for another thread count shares it (warned), with the same results."""
    from handos_model.export import onnx_runtime

    _, onnx, out = small
    shared = onnx_runtime._POOL["threads"]  # set by the first predictor loaded in this process
    assert shared is not None, "onnxruntime's global thread pool could not be set up"
    with pytest.warns(UserWarning, match="share one thread pool"):
        other = load_onnx_model(out, num_threads=shared + 1)
    for seed in (0, 1):
        img, K = _frame(seed)
        assert_same_hands(onnx.predict_timed(img, K, fixed_count=2)[0], other.predict_timed(img, K, fixed_count=2)[0])

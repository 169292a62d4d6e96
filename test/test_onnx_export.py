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
        onnx.input_size = model.input_size + 64  # another size needs another export
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


POOL_SCRIPT = """
import sys, numpy as np, onnxruntime as ort
from handos_model.export.onnx_runtime import load_onnx_model
from handos_model.export.ort_threads import session_options, shared_pool_size
out = sys.argv[1]
img = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
K = np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]], np.float32)
own = load_onnx_model(out, num_threads=2)
assert shared_pool_size() is None
ort.InferenceSession(out + "/decoder.onnx", ort.SessionOptions(), providers=["CPUExecutionProvider"])  # unaffected
shared = load_onnx_model(out, num_threads=2, shared_pool=True)
assert shared_pool_size() == 2
try:
    ort.InferenceSession(out + "/decoder.onnx", ort.SessionOptions(), providers=["CPUExecutionProvider"])
    raise SystemExit("a per-session pool was accepted after the shared pool")
except RuntimeError:
    pass
ort.InferenceSession(out + "/decoder.onnx", session_options(2), providers=["CPUExecutionProvider"])
a, b = own.predict_timed(img, K, fixed_count=2)[0], shared.predict_timed(img, K, fixed_count=2)[0]
assert len(a) == len(b) == 2
for x, y in zip(a, b):
    assert abs(x.score - y.score) < 1e-5 and np.abs(x.vertices - y.vertices).max() < 1e-5
print("ok")
"""


def test_thread_pools_per_graph_by_default_and_one_shared_pool_on_request(small) -> None:  # noqa: ANN001
    """Default: a pool per graph, other sessions of the process unaffected; ``shared_pool=True``:
    both graphs on ONNX Runtime's global pool (which then refuses per-session pools, so HandOS
    builds every session with ``session_options``), the same results. In a fresh process: the
    global pool cannot be unset."""
    import subprocess
    import sys

    _, _, out = small
    r = subprocess.run([sys.executable, "-c", POOL_SCRIPT, str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr


def test_same_padding_is_folded_into_the_convolutions(small, tmp_path) -> None:  # noqa: ANN001
    """The backbone's TF-SAME Pad nodes become Conv pads (graph_passes.fold_pads_into_convs), and a
    Pad -> Conv graph computes the same after the pass as before it."""
    import onnx
    import onnxruntime as ort
    import torch.nn.functional as F

    from handos_model.export.graph_passes import fold_pads_into_convs
    from handos_model.export.onnx_export import read_meta
    from handos_model.export.ort_threads import session_options

    _, _, out = small
    _, info = read_meta(out)
    graph = onnx.load(str(out / "detector.onnx")).graph
    assert info["folded_pads"]["detector"] > 0 and not any(n.op_type == "Pad" for n in graph.node)

    class PadConv(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)  # its own symmetric pads add up

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.conv(F.pad(x, [0, 1, 2, 1])))

    torch.manual_seed(0)
    x = torch.randn(1, 3, 11, 10)
    path = tmp_path / "padconv.onnx"
    with torch.no_grad():
        torch.onnx.export(PadConv().eval(), (x,), str(path), input_names=["x"], dynamo=False, opset_version=18)
    before = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()})[0]
    assert fold_pads_into_convs(path) == 1
    assert not any(n.op_type == "Pad" for n in onnx.load(str(path)).graph.node)
    after = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-6)
    assert fold_pads_into_convs(path) == 0  # nothing left to fold


def test_box_head_runs_on_the_selected_rows_only(small, tmp_path) -> None:  # noqa: ANN001
    """RT-DETR's query-selection box head runs on the top-k rows after the export
    (graph_passes.gather_rows_first), and a select-then-gather graph computes the same after the
    pass as before it, with its head's matrix products on k rows instead of N."""
    import onnx
    import onnxruntime as ort

    from handos_model.export.onnx_export import read_meta
    from handos_model.export.ort_threads import session_options
    from handos_model.export.rtdetr_passes import gather_rows_first

    _, _, out = small
    _, info = read_meta(out)
    assert info["gathered_rows_first"]["detector"] == 1
    nodes = onnx.load(str(out / "detector.onnx")).graph.node
    assert sum("enc_bbox_head" in n.name and n.op_type == "MatMul" and n.name.endswith("_rows") for n in nodes) == 3

    class Select(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = torch.nn.LayerNorm(8)
            self.score = torch.nn.Linear(8, 1)
            self.head = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
            self.register_buffer("anchors", torch.randn(1, 30, 4))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            m = self.norm(x)
            coords = self.head(m) + self.anchors
            idx = self.score(m)[..., 0].topk(5, dim=1).indices.unsqueeze(-1)
            return coords.gather(1, idx.repeat(1, 1, coords.shape[-1])), m.gather(1, idx.repeat(1, 1, m.shape[-1]))

    torch.manual_seed(0)
    x = torch.randn(1, 30, 8)
    path = tmp_path / "select.onnx"
    with torch.no_grad():
        torch.onnx.export(Select().eval(), (x,), str(path), input_names=["x"], dynamo=False, opset_version=18)

    def run() -> list[np.ndarray]:
        return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"]).run(
            None, {"x": x.numpy()})

    before = run()
    assert gather_rows_first(path) == 1
    model = onnx.load(str(path))
    matmuls = [n.output[0] for n in model.graph.node if n.op_type == "MatMul" and n.name.endswith("_rows")]
    assert len(matmuls) == 2
    model.graph.output.extend(onnx.helper.make_tensor_value_info(m, onnx.TensorProto.FLOAT, None) for m in matmuls)
    probed = ort.InferenceSession(model.SerializeToString(), session_options(),
                                  providers=["CPUExecutionProvider"]).run(matmuls, {"x": x.numpy()})
    assert all(p.shape[1] == 5 for p in probed)  # the head's products on the 5 selected rows
    for a, b in zip(run(), before, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert gather_rows_first(path) == 0  # nothing left to move


def test_repvgg_branches_are_merged(small, tmp_path) -> None:  # noqa: ANN001
    """RT-DETR's RepVGG blocks (3x3 + 1x1 convolutions of one input, added) run as one convolution
    after the export (rtdetr_passes.merge_parallel_convs), with the same outputs."""
    import onnx
    import onnxruntime as ort

    from handos_model.export.onnx_export import read_meta
    from handos_model.export.ort_threads import session_options
    from handos_model.export.rtdetr_passes import merge_parallel_convs

    _, _, out = small
    _, info = read_meta(out)
    assert info["merged_parallel_convs"]["detector"] > 0

    class RepVgg(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wide = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3, padding=1, bias=False), torch.nn.BatchNorm2d(6))
            self.narrow = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 1), torch.nn.BatchNorm2d(6))
            self.other = torch.nn.Conv2d(4, 6, 3, padding=1)  # added to a ReLU, not to a convolution: stays

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.wide(x) + self.narrow(x)) + self.other(x)

    torch.manual_seed(0)
    module = RepVgg()
    with torch.no_grad():
        for bn in (module.wide[1], module.narrow[1]):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.normal_()
            bn.bias.normal_()
    x = torch.randn(1, 4, 9, 7)
    path = tmp_path / "repvgg.onnx"
    with torch.no_grad():
        torch.onnx.export(module.eval(), (x,), str(path), input_names=["x"], dynamo=False, opset_version=18)

    def run() -> np.ndarray:
        return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"]).run(
            None, {"x": x.numpy()})[0]

    before = run()
    assert sum(n.op_type == "Conv" for n in onnx.load(str(path)).graph.node) == 3
    assert merge_parallel_convs(path) == 1
    assert sum(n.op_type == "Conv" for n in onnx.load(str(path)).graph.node) == 2
    np.testing.assert_allclose(run(), before, rtol=0, atol=1e-5)
    assert merge_parallel_convs(path) == 0

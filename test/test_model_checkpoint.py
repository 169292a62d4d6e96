"""HandOS weights: safetensors + JSON round trip, and clear errors on bad files."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from model_fixtures import batch, synthetic_sample, tiny_cfg, tiny_topology

from handos_model.checkpoint import CheckpointError, load_model, save_model
from handos_model.detector_weights import load_detector_weights, save_detector
from handos_model.models.build import build_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    topo = tiny_topology()
    model = build_model(tiny_cfg(), topo).eval()
    with torch.no_grad():  # make the zero-initialised heads non-trivial so the round trip is meaningful
        for p in model.decoder.parameters():
            if not p.any():
                p.normal_(0.0, 0.05)
    path = tmp_path_factory.mktemp("ckpt") / "handos_tiny.safetensors"
    save_model(model, tiny_cfg(), path, extra={"epoch": 3})
    return model, topo, path


def test_round_trip_is_exact(saved) -> None:
    model, topo, path = saved
    assert path.is_file() and path.with_suffix(".json").is_file()
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["format"] == "handos" and info["extra"] == {"epoch": 3}
    assert info["topology"]["num_vertices"] == topo.num_vertices
    loaded = load_model(path)
    assert not loaded.training
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    images, Ks, _ = batch([synthetic_sample(topo, 1)])
    with torch.no_grad():
        oa, ob = model(images, Ks, fixed_count=2), loaded(images, Ks, fixed_count=2)
    assert torch.equal(oa["pred_vertices"][-1], ob["pred_vertices"][-1])
    assert torch.equal(oa["pred_joints_2d"][-1], ob["pred_joints_2d"][-1])
    # the topology comes from the file itself (no hand-model lookup needed)
    assert torch.equal(loaded.topology_faces, model.topology_faces)
    assert load_model(path.with_suffix(".json")).state_dict().keys() == a.keys()


def test_wrong_shape_names_the_file_and_tensor(saved, tmp_path) -> None:
    model, topo, path = saved
    cfg = tiny_cfg()
    cfg["model"]["decoder"]["ffn_dim"] = 96  # weights were saved with 64
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes())
    info = json.loads(path.with_suffix(".json").read_text())
    info["config"] = cfg
    bad.with_suffix(".json").write_text(json.dumps(info))
    with pytest.raises(
        CheckpointError,
        match=r"bad\.safetensors.*shape mismatch: .*decoder\.layers\.0\.ffn\.0\.weight \(64, 64\) in file vs \(96, 64\)",
    ):
        load_model(bad)


def test_wrong_config_layer_count(saved, tmp_path) -> None:
    model, topo, path = saved
    cfg = tiny_cfg(num_interactive_layers=3)
    bad = tmp_path / "more_layers.safetensors"
    bad.write_bytes(path.read_bytes())
    info = json.loads(path.with_suffix(".json").read_text())
    info["config"] = cfg
    bad.with_suffix(".json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=r"missing from the file: decoder\.layers\.3\."):
        load_model(bad)


def test_not_a_handos_config_or_missing_json(saved, tmp_path) -> None:
    _, _, path = saved
    w = tmp_path / "w.safetensors"
    w.write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError, match="w.json is missing"):
        load_model(w)
    w.with_suffix(".json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a HandOS config"):
        load_model(w)
    w.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable config JSON"):
        load_model(w)


def test_refuses_pickle_and_torch_save(saved, tmp_path) -> None:
    model, _, path = saved
    p1 = tmp_path / "pickled.safetensors"
    p1.write_bytes(pickle.dumps({"a": 1}))
    p1.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(p1)
    p2 = tmp_path / "torchsave.safetensors"
    torch.save(model.state_dict(), p2)
    with pytest.raises(CheckpointError, match="pickle / torch.save"):
        load_model(p2)


def test_refuses_truncated_file(saved, tmp_path) -> None:
    _, _, path = saved
    data = path.read_bytes()
    for name, cut in (("half", len(data) // 2), ("header", 20), ("tiny", 4)):
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data[:cut])
        p.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
        with pytest.raises(CheckpointError, match="truncated"):
            load_model(p)


def test_detector_weights_round_trip(saved, tmp_path) -> None:
    model, topo, path = saved
    det_path = save_detector(model.detector, tmp_path / "det.safetensors")
    other = build_model(tiny_cfg(), topo)
    load_detector_weights(other.detector, det_path)
    assert all(torch.equal(v, other.detector.state_dict()[k]) for k, v in model.detector.state_dict().items())
    # also from a full HandOS file (keys under "detector.")
    third = build_model(tiny_cfg(), topo)
    load_detector_weights(third.detector, path)
    assert all(torch.equal(v, third.detector.state_dict()[k]) for k, v in model.detector.state_dict().items())
    # and through the config's detector.weights
    cfg = tiny_cfg()
    cfg["model"]["detector"]["weights"] = str(det_path)
    fourth = build_model(cfg, topo)
    assert all(torch.equal(v, fourth.detector.state_dict()[k]) for k, v in model.detector.state_dict().items())

"""The node's ``backend: auto`` (the default): ONNX Runtime where it can serve the model on the CPU,
PyTorch otherwise, with the reason; the ONNX export is written into place in one rename.

Real loads of the embedded default weights (and a real export into a temporary ROS_HOME); only
the failure cases replace a function (the import of onnxruntime, the export) to make them fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="requirements.txt installs onnxruntime")

from handos_ros import model_runner  # noqa: E402
from handos_ros.model_runner import ModelLoadError, load  # noqa: E402


@pytest.fixture()
def ros_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros_home"))
    return tmp_path / "ros_home"


@pytest.fixture(scope="module")
def have_default() -> None:
    if not model_runner.default_weights_path().is_file():
        pytest.skip("the embedded default weights are not present")


def test_auto_on_the_cpu_runs_onnxruntime_and_predicts_like_torch(ros_home: Path, have_default: None) -> None:
    lm = load("", "", "cpu", backend="auto")
    assert lm.backend == "onnxruntime" and lm.device == "cpu"
    assert lm.backend_choice == "backend auto -> onnxruntime (CPU)"
    export = model_runner.onnx_cache_dir(model_runner.default_weights_path())
    assert export.parent.parent == ros_home and (export / "handos_onnx.json").is_file()
    assert [p.name for p in export.parent.iterdir()] == [export.name], "no temporary folder left behind"
    # the same hands as the torch backend on a synthetic easy frame
    from handos_model.synth.camera_stream import SyntheticCamera

    sample = SyntheticCamera(seed=3, width=320, height=240, num_hands=1, easy=True).frame(0)
    image, K = np.asarray(sample.image, np.uint8), np.asarray(sample.K, np.float32)
    ours = model_runner.predictor(lm).predict(image, K, 0.3, 0.5, 4)
    ref = model_runner.predictor(load("", "", "cpu", backend="torch")).predict(image, K, 0.3, 0.5, 4)
    assert len(ours) == len(ref) >= 1
    assert np.abs(ours[0].joints_2d - ref[0].joints_2d).max() < 0.5


def test_auto_uses_torch_with_input_size_set(ros_home: Path, have_default: None) -> None:
    lm = load("", "", "cpu", input_size=256, backend="auto")
    assert lm.backend == "torch" and lm.input_size == 256
    assert lm.backend_choice.startswith("backend auto -> torch: input_size 256 is set")
    assert not ros_home.exists(), "nothing exported"


def test_auto_uses_torch_for_an_untrained_model(ros_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_runner, "default_weights_path", lambda: tmp_path / "missing.safetensors")
    lm = load("", "", "cpu", backend="auto")
    assert lm.backend == "torch" and lm.untrained
    assert lm.backend_choice == "backend auto -> torch: no trained weights (untrained plumbing model)"


def test_auto_falls_back_to_torch_when_onnxruntime_is_missing(ros_home: Path, have_default: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "handos_model.export.onnx_runtime", None)  # import now fails
    lm = load("", "", "cpu", backend="auto")
    assert lm.backend == "torch" and not lm.untrained
    assert "ONNX Runtime cannot serve it (backend onnxruntime needs onnx and onnxruntime" in lm.backend_choice
    with pytest.raises(ModelLoadError, match="needs onnx and onnxruntime"):
        load("", "", "cpu", backend="onnxruntime")  # the explicit choice fails instead


def test_auto_reports_a_missing_weights_file_like_torch(ros_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(ModelLoadError, match=f"weights file '{missing}' does not exist"):
        load(str(missing), "", "cpu", backend="auto")


def test_a_failed_or_stale_export_leaves_no_half_written_folder(tmp_path: Path) -> None:
    target = tmp_path / "handos_onnx" / "model-0123"
    target.mkdir(parents=True)
    (target / "detector.onnx").write_bytes(b"half")  # an interrupted export of an older version

    def failing(out: Path) -> None:
        (out / "detector.onnx").write_bytes(b"partial")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        model_runner._export_once(target, failing)
    assert list(target.parent.iterdir()) == [], "neither the stale folder nor the temporary one is left"

    def working(out: Path) -> None:
        (out / "handos_onnx.json").write_text("{}")

    model_runner._export_once(target, working)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert (target / "handos_onnx.json").is_file()


def test_auto_runs_a_given_onnx_export_with_onnxruntime_and_reports_its_errors(ros_home: Path, tmp_path: Path,
                                                                             have_default: None) -> None:
    first = load("", "", "cpu", backend="auto")  # exports the default into ROS_HOME
    export = model_runner.onnx_cache_dir(model_runner.default_weights_path())
    lm = load(str(export), "", "cpu", backend="auto")
    assert lm.backend == "onnxruntime" and lm.backend_choice.endswith("weights is an ONNX export")
    assert lm.input_size == first.input_size
    empty = tmp_path / "not_an_export"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="cannot load the ONNX model from"):
        load(str(empty), "", "cpu", backend="auto")

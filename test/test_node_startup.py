"""Start-up of handos_node: clear failures for bad configurations, params file, autostart:=false."""

from __future__ import annotations

import pytest
import yaml
from node_harness import Client, NodeProcess
from ros_isolation import REPO_ROOT

pytestmark = pytest.mark.ros


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(_cuda_available(), reason="this machine has CUDA: device:=cuda is valid here")
def test_cuda_without_gpu_fails_configure_with_a_clear_error(tmp_path):
    proc = NodeProcess(tmp_path / "node.log", params={"device": "cuda"})
    rc = proc.proc.wait(timeout=120)
    proc.stop()
    log = proc.log()
    assert rc == 1, log
    assert "configure failed: device='cuda' but CUDA is not available on this machine" in log
    assert "use device:=auto or device:=cpu" in log


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"score_threshold": 2.0}, "score_threshold"),
        ({"device": "tpu"}, "device must be auto, cpu, cuda or cuda:N"),
        ({"image_reliability": "sometimes"}, "image_reliability must be best_effort or reliable"),
        ({"hand_frame_prefix": "/hand_"}, "no leading '/'"),
    ],
)
def test_invalid_initial_parameters_stop_the_node_with_the_reason(tmp_path, params, expected):
    proc = NodeProcess(tmp_path / "node.log", params=params)
    rc = proc.proc.wait(timeout=120)
    proc.stop()
    assert rc != 0
    assert expected in proc.log(), proc.log()[-2000:]


def test_missing_explicit_weights_file_is_an_error(tmp_path):
    missing = tmp_path / "nope.safetensors"
    proc = NodeProcess(tmp_path / "node.log", params={"weights": str(missing)})
    rc = proc.proc.wait(timeout=120)
    proc.stop()
    assert rc == 1
    assert f"weights file '{missing}' does not exist" in proc.log()


def test_params_file_and_autostart_false_leave_the_node_unconfigured(tmp_path, rclpy_context):
    """config/handos.yaml is a valid ROS params file (/** key) and autostart:=false waits
    for a lifecycle manager; configure + activate through the services then works."""
    import torch

    from handos_model import DEFAULT_CONFIG
    from handos_model.checkpoint import save_model
    from handos_model.models.build import build_model, load_config

    # an explicit weights file (a freshly built model saved in the shipped format) goes through load_model
    cfg = load_config(DEFAULT_CONFIG)
    torch.manual_seed(1)
    weights = save_model(build_model(cfg), cfg, tmp_path / "explicit_model.safetensors")
    params_file = REPO_ROOT / "config" / "handos.yaml"
    proc = NodeProcess(tmp_path / "node.log", extra_ros_args=["--params-file", str(params_file), "-p", "autostart:=false",
                                                              "-p", "max_hands:=2", "-p", f"weights:={weights}"])
    client = Client(rclpy_context)
    try:
        values = client.get_params("nms_threshold", "max_hands", "autostart", "hand_frame_prefix")
        in_file = yaml.safe_load(params_file.read_text(encoding="utf-8"))["/**"]["ros__parameters"]["nms_threshold"]
        assert values[0].double_value == pytest.approx(in_file)
        assert values[1].integer_value == 2  # command line wins over the file
        assert values[2].bool_value is False
        assert values[3].string_value == ""  # the file's default: the prefix comes from the node's name
        assert client.get_state() == "unconfigured"
        client.spin_for(1.0)
        assert not client.infos  # nothing published before configure
        assert client.change_state("configure")
        assert client.spin_until(lambda: bool(client.infos), 30.0)  # mesh_info at configure
        assert client.infos[-1].max_hands == 2
        assert (client.infos[-1].left_frame, client.infos[-1].right_frame) == ("handos_node/left", "handos_node/right")
        assert client.get_state() == "inactive"
        assert client.change_state("activate") and client.get_state() == "active"
        assert client.infos[-1].weights.startswith("explicit_model.safetensors")
        assert "UNTRAINED" not in client.infos[-1].weights
    finally:
        client.shutdown()
        assert proc.stop() == 0


def test_params_file_applies_to_a_renamed_node(tmp_path, rclpy_context):
    """config/handos.yaml's values reach the node under another name (`-r __node:=`, launch's node_name:=)."""
    import yaml
    data = yaml.safe_load((REPO_ROOT / "config" / "handos.yaml").read_text(encoding="utf-8"))
    (key,) = data
    data[key]["ros__parameters"].update({"max_hands": 3, "track_max_age": 9})
    params_file = tmp_path / "renamed.yaml"
    params_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    proc = NodeProcess(tmp_path / "node.log", name="left_camera_hands",
                       extra_ros_args=["--params-file", str(params_file), "-p", "autostart:=false"])
    client = Client(rclpy_context, node_name="left_camera_hands")
    try:
        values = client.get_params("max_hands", "track_max_age")
        assert [v.integer_value for v in values] == [3, 9], proc.log()[-2000:]
    finally:
        client.shutdown()
        assert proc.stop() == 0

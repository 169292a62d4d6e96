"""The real `ros2 launch handos_ros handos.launch.py`, checked with the real `ros2` command line.

One launch serves the module: namespace:=, node_name:= and config:= (a parameters file written
here, keyed ``/**`` like config/handos.yaml but with other values) -> the node's parameters
come from that file (``ros2 param dump``), it is active (``ros2 lifecycle get``), run-time
parameters change and configure-time ones are refused (``ros2 param set``), ``hands/meshes``
comes at the camera's rate (``ros2 topic hz`` on both), and Ctrl-C ends it cleanly. A
launch_testing proof of life runs through ``launch_test``; ``rviz:=true`` without rviz2 fails
before starting anything.

Skipped, with the reason, where `ros2 launch` is not installed (no ../shared/ros2-cli, the
Jazzy lane) or launch_ros lacks composition_interfaces (:func:`launch_harness.launch_unavailable`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml
from launch_harness import LaunchProcess, LineReader, launch_unavailable, ros2_node_call
from node_harness import STARTUP_TIMEOUT
from ros_isolation import REPO_ROOT

pytestmark = [pytest.mark.ros, pytest.mark.skipif(launch_unavailable() is not None, reason=str(launch_unavailable()))]

NAMESPACE = "/handos_ci"
NODE_NAME = "hand_tracker"
NODE = f"{NAMESPACE}/{NODE_NAME}"
# Values that differ from the node's defaults (config/handos.yaml), so reading them back proves
# the file was applied.
FILE_VALUES = {"device": "cpu", "score_threshold": 0.42, "max_hands": 3, "nms_threshold": 0.8, "track_max_age": 7}
CAMERA_HZ = 1.0
PROOF_OF_LIFE = REPO_ROOT / "test" / "launch_tests" / "handos_proof_of_life.py"


def _params_file(tmp_path) -> str:
    data = yaml.safe_load((REPO_ROOT / "config" / "handos.yaml").read_text(encoding="utf-8"))
    (key,) = data
    data[key]["ros__parameters"].update(FILE_VALUES)
    path = tmp_path / "my_handos.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ros2_launch")
    launch = LaunchProcess(tmp / "launch.log", {"namespace": NAMESPACE, "node_name": NODE_NAME,
                                                "config": _params_file(tmp)})
    try:
        assert launch.wait_log("active: subscribed to", STARTUP_TIMEOUT), launch.log()[-3000:]
        yield launch
    finally:
        launch.stop()
    print(f"launch log: {launch.log_path}")


def test_parameters_come_from_the_config_file(launched):
    out = ros2_node_call("param", "dump", NODE)
    assert out.returncode == 0, out.stdout
    dumped = yaml.safe_load(out.stdout)
    (params,) = (v["ros__parameters"] for v in dumped.values())
    for name, value in FILE_VALUES.items():
        assert params[name] == pytest.approx(value) if isinstance(value, float) else params[name] == value, name
    assert f"[{NAMESPACE.strip('/')}.{NODE_NAME}]" in launched.log()  # the node runs under the launch's names


def test_lifecycle_get_says_active(launched):
    out = ros2_node_call("lifecycle", "get", NODE)
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "active [3]", out.stdout


def test_param_set_changes_run_time_parameters_and_refuses_configure_time_ones(launched):
    out = ros2_node_call("param", "set", NODE, "score_threshold", "0.5")
    assert "Set parameter successful" in out.stdout, out.stdout
    try:
        out = ros2_node_call("param", "get", NODE, "score_threshold")
        assert "Double value is: 0.5" in out.stdout, out.stdout
        out = ros2_node_call("param", "set", NODE, "device", "auto")
        assert "Setting parameter failed" in out.stdout and "read at configure" in out.stdout, out.stdout
    finally:
        ros2_node_call("param", "set", NODE, "score_threshold", str(FILE_VALUES["score_threshold"]))


def _rates(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"average rate: ([0-9.]+)", text)]


def test_meshes_come_at_the_camera_rate(launched):
    camera = subprocess.Popen(
        [sys.executable, "-m", "handos_ros.synthetic_camera", "--rate", str(CAMERA_HZ), "--easy", "--cache", "3",
         "--wait-subscribers", "60", "--ros-args", "-r", f"__ns:={NAMESPACE}", "-r", "image:=image_raw"],
        cwd=str(REPO_ROOT.parent), env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    camera_out = LineReader(camera)
    hz = {topic: LineReader(subprocess.Popen(
        ["ros2", "topic", "hz", f"{NAMESPACE}/{topic}", "--window", "6"], cwd=str(REPO_ROOT.parent),
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for topic in ("image_raw", "hands/meshes")}
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and not all(len(_rates("\n".join(r.lines))) >= 6 for r in hz.values()):
            time.sleep(0.5)
    finally:
        texts = {topic: r.stop() for topic, r in hz.items()}
        camera_log = camera_out.stop()
    image_rates, mesh_rates = _rates(texts["image_raw"]), _rates(texts["hands/meshes"])
    assert image_rates and mesh_rates, f"{texts}\n{camera_log}\n{launched.log()[-2000:]}"
    image_hz, mesh_hz = image_rates[-1], mesh_rates[-1]
    assert image_hz == pytest.approx(CAMERA_HZ, rel=0.2), texts["image_raw"]
    assert mesh_hz == pytest.approx(image_hz, rel=0.2), f"meshes {mesh_hz} Hz vs images {image_hz} Hz"


def test_ctrl_c_ends_the_launch_and_the_node_cleanly(launched):
    rc = launched.stop()
    log = launched.log()
    assert rc == 0, log[-3000:]
    assert re.search(r"\[handos_node-\d+\]: process has finished cleanly", log), log[-3000:]
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.skipif(shutil.which("launch_test") is None, reason="launch_testing is not installed")
def test_launch_testing_proof_of_life(tmp_path):
    out = subprocess.run(["launch_test", str(PROOF_OF_LIFE)], cwd=str(REPO_ROOT.parent), env=dict(os.environ),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=STARTUP_TIMEOUT + 120)
    assert out.returncode == 0, out.stdout[-4000:]
    assert re.search(r"Ran \d+ tests? in", out.stdout) and "FAILED" not in out.stdout, out.stdout[-4000:]


def test_rviz_without_rviz2_stops_the_launch_before_starting_anything(tmp_path):
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix("rviz2")
        pytest.skip("rviz2 is installed here")
    except PackageNotFoundError:
        pass
    launch = LaunchProcess(tmp_path / "launch.log", {"rviz": "true", "namespace": "/handos_rviz_check"})
    try:
        rc = launch.proc.wait(timeout=60)
    finally:
        launch.stop()
    log = launch.log()
    assert rc != 0, log
    assert "rviz:=true but the 'rviz2' package is not installed" in log, log
    assert "process started" not in log, log  # the node was never started, so it cannot be left running

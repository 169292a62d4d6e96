"""The package's executables as a user runs them: from the repository root, and stopped by Ctrl-C.

Ctrl-C (SIGINT) in the middle of the work must end each of them with exit status 0 and no
traceback: handos_node while it processes frames, synthetic_camera while it publishes at a
high rate (it used to die with "RCLError: publisher's context is invalid"), hands_echo, and the
demo, which must also stop the three processes it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from node_harness import STARTUP_TIMEOUT, Client, NodeProcess, synthetic_frames
from ros_isolation import REPO_ROOT

pytestmark = pytest.mark.ros


def _start(module: str, *args: str, cwd: Path = REPO_ROOT.parent) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-u", "-m", module, *args], cwd=str(cwd), env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _interrupt(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
        raise AssertionError(f"{proc.args} did not stop on SIGINT:\n{out[-3000:]}") from None
    return proc.returncode, out


def _wait_for_line(proc: subprocess.Popen, text: str, timeout: float) -> list[str]:
    """Read ``proc``'s output until a line contains ``text`` (bounded by ``timeout``)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            lines.append(line)
            if text in line:
                os.set_blocking(proc.stdout.fileno(), True)
                return lines
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"no line with {text!r} from {proc.args}:\n{''.join(lines)[-3000:]}")


def _wait_until_loading_torch(pid: int, timeout: float = 60.0) -> None:
    """Until the process has mapped libtorch, i.e. it is in the middle of its imports."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "libtorch" in Path(f"/proc/{pid}/maps").read_text():
                return
        except OSError:
            return
        time.sleep(0.01)


@pytest.mark.parametrize("module", ["handos_ros.node", "handos_ros.synthetic_camera"])
def test_ctrl_c_while_starting_is_quiet(module):
    """Ctrl-C (a launcher stopping what it just started) while torch is still being imported."""
    proc = _start(module)
    _wait_until_loading_torch(proc.pid)
    rc, out = _interrupt(proc)
    assert rc == 0 and "Traceback" not in out and "KeyboardInterrupt" not in out, out[-3000:]


def test_synthetic_camera_runs_from_the_repository_root():
    """`python -m handos_ros.synthetic_camera` in a source checkout imports the built messages."""
    proc = _start("handos_ros.synthetic_camera", "--frames", "2", "--rate", "20", "--width", "160", "--height", "120",
                  "--wait-subscribers", "0", cwd=REPO_ROOT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-3000:]
    assert "published 2 frames" in out


@pytest.mark.parametrize("attempt", range(2))
def test_ctrl_c_stops_synthetic_camera_cleanly(attempt):
    proc = _start("handos_ros.synthetic_camera", "--rate", "200", "--cache", "2", "--width", "320", "--height", "240",
                  "--wait-subscribers", "0", "--ground-truth")
    _wait_for_line(proc, "publishing 320x240", 120.0)
    time.sleep(0.5 + 0.37 * attempt)  # somewhere in the middle of publishing
    rc, out = _interrupt(proc)
    assert rc == 0 and "Traceback" not in out and "RCLError" not in out, out[-3000:]


def test_ctrl_c_stops_handos_node_cleanly_while_it_processes_frames(tmp_path, rclpy_context):
    proc = NodeProcess(tmp_path / "node.log", params={"device": "cpu"})
    client = Client(rclpy_context)
    try:
        client.wait_ready(proc)
        frames = synthetic_frames(2, seed=5, easy=True)
        _, out = client.process(frames[0])
        assert out is not None, proc.log()[-2000:]
        for i in range(6):  # keep the worker busy, then interrupt it in the middle of a frame
            client.send_frame(frames[i % 2], client.header())
            client.spin_for(0.15)
        rc = proc.stop()
    finally:
        client.shutdown()
        proc.stop()
    log = proc.log()
    assert rc == 0, log[-3000:]
    assert "Traceback" not in log and "frame processing failed" not in log, log[-3000:]


def test_ctrl_c_stops_hands_echo_cleanly_and_it_prints_its_summary():
    proc = _start("handos_ros.hands_echo")
    time.sleep(4.0)  # rclpy initialised and spinning
    rc, out = _interrupt(proc)
    assert rc == 0 and "Traceback" not in out, out[-3000:]
    assert "[hands_echo] summary" in out


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process from /proc, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    st = _state_and_parent(pid)
    return st is not None and st[0] != "Z"


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    pids = (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
    return [k for k in pids if (st := _state_and_parent(k)) is not None and st[1] == pid and st[0] != "Z"]


@pytest.mark.slow
def test_ctrl_c_stops_the_demo_and_its_three_processes(tmp_path):
    proc = _start("handos_ros.demo", "--frames", "200", "--rate", "2", "--easy", "--out", str(tmp_path / "demo"))
    _wait_for_line(proc, "starting the camera", STARTUP_TIMEOUT)
    time.sleep(3.0)
    kids = _children(proc.pid)
    assert len(kids) == 3, kids  # node, echo, camera
    rc, out = _interrupt(proc, timeout=60.0)
    assert rc == 0 and "Traceback" not in out, out[-3000:]
    assert not [k for k in kids if _alive(k)], "the demo left processes running"

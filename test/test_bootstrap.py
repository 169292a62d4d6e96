"""What scripts/bootstrap.sh leaves a user with: the README's commands on PATH, one lane at a time.

- ``handos-synth``, ``handos-train`` and ``handos-eval`` (setup.py's console scripts) are in the
  lane's venv and run;
- sourcing ``scripts/env.sh`` for one lane after the other leaves only the second lane's ROS on
  the paths (scripts/lane.sh scrubs the first).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ros_isolation import REPO_ROOT

pytestmark = pytest.mark.ros


@pytest.mark.parametrize(("command", "expected"), [("handos-synth", "--num"), ("handos-train", "--config"),
                                                   ("handos-eval", "--weights")])
def test_console_scripts_are_on_path_and_run(command, expected):
    path = shutil.which(command)
    assert path is not None, f"{command} not on PATH: scripts/bootstrap.sh installs it (pip install -e . --no-deps)"
    assert Path(path).parent == Path(sys.executable).parent, f"{path} is not the venv's ({sys.executable})"
    out = subprocess.run([path, "--help"], cwd=str(REPO_ROOT.parent), env=dict(os.environ), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120)
    assert out.returncode == 0 and expected in out.stdout, out.stdout[-2000:]


@pytest.mark.skipif(not (REPO_ROOT / ".venv-jazzy" / "ws" / "install" / "setup.bash").is_file()
                    or not (REPO_ROOT / "install" / "setup.bash").is_file(),
                    reason="needs both lanes built (make test and make test-jazzy)")
@pytest.mark.parametrize(("first", "second", "rclpy_major"), [("kilted", "jazzy", "7"), ("jazzy", "kilted", "9")])
def test_env_sh_switches_lanes_without_leaking(first, second, rclpy_major):
    script = (f"HANDOS_ROS_LANE={first} source scripts/env.sh && HANDOS_ROS_LANE={second} source scripts/env.sh && "
              "python -c 'import importlib.metadata as m, handos_ros.msg, rclpy, sys; "
              "print(m.version(\"ros-rclpy\"), sys.prefix, handos_ros.msg.__file__, rclpy.__file__)'")
    env = {k: v for k, v in os.environ.items() if k != "HANDOS_ROS_LANE"}
    out = subprocess.run(["bash", "-c", script], cwd=str(REPO_ROOT), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:]
    version, prefix, msg_file, rclpy_file = out.stdout.split()[-4:]
    venv = REPO_ROOT / (".venv-jazzy" if second == "jazzy" else ".venv")
    assert version.split(".")[0] == rclpy_major, out.stdout
    assert Path(prefix) == venv and rclpy_file.startswith(str(venv)), out.stdout
    assert msg_file.startswith(str(venv / "ws" / "install") if second == "jazzy" else str(REPO_ROOT / "install")), out.stdout

"""What `colcon build` (run by scripts/bootstrap.sh) installed: an ament_cmake package with
messages, the Python packages, the executables, the launch file and the configs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from node_harness import package_prefix
from ros_isolation import REPO_ROOT

pytestmark = pytest.mark.ros
# install/handos_ros in the Kilted lane, .venv-jazzy/ws/install/handos_ros in the Jazzy one.
PREFIX = package_prefix() or REPO_ROOT / "install" / "handos_ros"


def test_package_is_ament_cmake() -> None:
    build_type = ET.parse(REPO_ROOT / "package.xml").getroot().findtext("export/build_type")
    assert build_type == "ament_cmake"
    # Only ament_cmake's ament_package() writes a CMake config and registers the package
    # in the ament index; rosidl generated the message type support libraries.
    assert (PREFIX / "share" / "handos_ros" / "cmake" / "handos_rosConfig.cmake").is_file()
    assert (PREFIX / "share" / "ament_index" / "resource_index" / "packages" / "handos_ros").is_file()
    assert (PREFIX / "lib" / "libhandos_ros__rosidl_typesupport_c.so").is_file()
    for msg in ("HandMesh", "HandMeshArray", "HandMeshInfo"):
        assert (PREFIX / "share" / "handos_ros" / "msg" / f"{msg}.msg").is_file(), msg


def test_launch_config_and_executables_are_installed() -> None:
    share = PREFIX / "share" / "handos_ros"
    assert (share / "launch" / "handos.launch.py").is_file()
    for name in ("handos.yaml", "handos.rviz", "fastdds_localhost.xml"):
        assert (share / "config" / name).is_file(), name
    for exe in ("handos_node", "synthetic_camera", "hands_echo"):
        path = PREFIX / "lib" / "handos_ros" / exe
        assert path.is_file() and path.stat().st_mode & 0o111, exe


def _ament_cmake_pytest_available() -> bool:
    return any((Path(p) / "share" / "ament_cmake_pytest").is_dir() for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p)


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ctest") is None, reason="cmake / ctest not installed")
def test_colcon_test_runs_the_pytest_suite(tmp_path) -> None:
    """With BUILD_TESTING on (what `colcon test` builds), CMakeLists.txt registers the pytest suite:
    configure the package so, then let ctest run the registered test on one selected test."""
    if not _ament_cmake_pytest_available():
        pytest.skip("ament_cmake_pytest is not installed in this ROS")
    cache = PREFIX.parent.parent / "build" / "handos_ros" / "CMakeCache.txt"  # the lane's colcon build
    if not cache.is_file():
        pytest.skip("package not built (run `make test`)")
    defines = dict(re.findall(r"^(Python3_EXECUTABLE|Python3_NumPy_INCLUDE_DIR):\w+=(.*)$", cache.read_text(), re.M))
    configure = subprocess.run(
        ["cmake", "-S", str(REPO_ROOT), "-B", str(tmp_path / "build"), "-DBUILD_TESTING=ON",
         *(f"-D{k}={v}" for k, v in defines.items())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    assert configure.returncode == 0, configure.stdout[-3000:]
    listed = subprocess.run(["ctest", "--test-dir", str(tmp_path / "build"), "-N", "-V"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=60).stdout
    assert "Test #1: handos_ros_pytest" in listed and f'"-m" "pytest" "{REPO_ROOT / "test"}"' in listed, listed
    env = {**os.environ, "PYTEST_ADDOPTS": "-k test_package_is_ament_cmake"}
    ran = subprocess.run(["ctest", "--test-dir", str(tmp_path / "build"), "--output-on-failure"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:]
    xunit = tmp_path / "build" / "test_results" / "handos_ros" / "handos_ros_pytest.xunit.xml"
    assert re.search(r'tests="1"', xunit.read_text()), xunit.read_text()[:2000]

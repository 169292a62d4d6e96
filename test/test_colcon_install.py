"""What `colcon build` (run by scripts/bootstrap.sh) installed: an ament_cmake package with
messages, the Python packages, the executables, the launch file and the configs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

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

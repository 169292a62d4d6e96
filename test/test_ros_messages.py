"""The package's messages over real DDS between separate processes."""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
import time

import pytest
from conftest import PEERS_DIR, spin_until

pytestmark = pytest.mark.ros


def _fixture():
    sys.path.insert(0, str(PEERS_DIR))
    import mesh_fixture

    return mesh_fixture


def _assert_fields_equal(got: dict, expected: dict, skip: tuple[str, ...] = ()) -> None:
    """Exact equality per leaf field; float fields were stored as float32 on both sides."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if key in skip:
            continue
        if isinstance(value, float) or (isinstance(value, list) and value and isinstance(value[0], float)):
            assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-7), key
        else:
            assert got[key] == value, key


def test_hand_mesh_array_round_trips_every_field(rclpy_context, spawn_peer):
    from handos_ros.msg import HandMeshArray

    from handos_ros.qos import RESULT_QOS

    fx = _fixture()
    seed = 7
    expected = fx.flatten(fx.make_array(seed))
    assert len(expected) > 20 and expected["hands.__len__"] == 3

    import rclpy

    node = rclpy.create_node("mesh_receiver", context=rclpy_context)
    received = []
    node.create_subscription(HandMeshArray, "hands/meshes", received.append, RESULT_QOS)
    peer = spawn_peer("mesh_publisher.py", "--seed", str(seed), "--duration", "20")
    try:
        assert spin_until(node, lambda: len(received) >= 2, timeout=20.0), "no HandMeshArray arrived over DDS"
    finally:
        node.destroy_node()
    _assert_fields_equal(fx.flatten(received[-1]), expected)
    assert len(received[-1].hands[0].vertices) == 3 * fx.NUM_VERTICES
    peer.terminate()


def test_mesh_info_reaches_a_late_subscriber(rclpy_context, spawn_peer):
    import rclpy
    from handos_ros.msg import HandMeshInfo

    from handos_ros.qos import INFO_QOS

    fx = _fixture()
    peer = spawn_peer("mesh_publisher.py", "--seed", "3", "--duration", "25", "--no-array")
    line = peer.stdout.readline()
    assert "INFO_PUBLISHED" in line, line
    time.sleep(2.0)  # the subscriber joins well after the single publication
    node = rclpy.create_node("late_info_subscriber", context=rclpy_context)
    got = []
    node.create_subscription(HandMeshInfo, "hands/mesh_info", got.append, INFO_QOS)
    try:
        assert spin_until(node, lambda: len(got) >= 1, timeout=15.0), "transient-local info not delivered"
    finally:
        node.destroy_node()
    _assert_fields_equal(fx.flatten(got[0]), fx.flatten(fx.make_info(3)), skip=("header.stamp.sec", "header.stamp.nanosec"))
    info = got[0]
    assert info.num_vertices == fx.NUM_VERTICES
    assert list(info.faces) == fx.make_info(3).faces.tolist()
    assert list(info.joint_names) == [f"joint_{i}" for i in range(21)]
    assert info.weights == "test-weights-3"


def _sniff_rtps_off_loopback(stop: threading.Event, counts: dict[str, int]) -> None:
    """Count RTPS packets on every non-loopback interface (raw AF_PACKET socket)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    sock.settimeout(0.2)
    try:
        while not stop.is_set():
            try:
                frame, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                continue
            ifname = addr[0]
            if ifname == "lo":
                continue
            counts["frames"] = counts.get("frames", 0) + 1
            if b"RTPS" in frame:
                counts["rtps"] = counts.get("rtps", 0) + 1
                if len(frame) > 34:
                    counts["example"] = struct.unpack("!4B", frame[26:30]) if "example" not in counts else counts["example"]
    finally:
        sock.close()


@pytest.mark.skipif(not hasattr(socket, "AF_PACKET"), reason="raw packet sockets are Linux-only")
def test_no_dds_packet_leaves_loopback(rclpy_context, spawn_peer):
    """While two processes exchange meshes, no RTPS packet appears on any other interface."""
    if os.geteuid() != 0:
        pytest.skip("sniffing interfaces needs root (CI runs as root)")
    import rclpy
    from handos_ros.msg import HandMeshArray

    from handos_ros.qos import RESULT_QOS

    stop = threading.Event()
    counts: dict[str, int] = {}
    sniffer = threading.Thread(target=_sniff_rtps_off_loopback, args=(stop, counts), daemon=True)
    sniffer.start()
    node = rclpy.create_node("loopback_check_receiver", context=rclpy_context)
    received = []
    node.create_subscription(HandMeshArray, "hands/meshes", received.append, RESULT_QOS)
    spawn_peer("mesh_publisher.py", "--seed", "1", "--duration", "8")
    try:
        assert spin_until(node, lambda: len(received) >= 10, timeout=20.0), "exchange did not happen"
    finally:
        node.destroy_node()
        stop.set()
        sniffer.join(timeout=5)
    assert counts.get("rtps", 0) == 0, f"DDS traffic left loopback: {counts}"

"""synthetic_camera over DDS: nothing it publishes is lost to a subscriber that matches late.

Its topics are volatile, so a frame that goes out before a subscriber has matched is gone for
that subscriber. The demo's consumer subscribes to the ground truth while the node loads; under
load its subscription used to match after the camera's first frames (summary ``gt_frames`` 2 of 4).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from ros_isolation import REPO_ROOT

pytestmark = pytest.mark.ros


def test_camera_waits_for_a_late_ground_truth_subscriber(rclpy_context):
    from handos_ros.msg import HandMeshArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image

    from handos_ros.qos import RESULT_QOS
    from handos_ros.synthetic_camera import CAMERA_QOS

    frames = 3
    node = Node("late_ground_truth_consumer", context=rclpy_context)
    got: dict[str, int] = {"image": 0, "camera_info": 0, "gt": 0}

    def counter(key: str):
        def cb(_msg: object) -> None:
            got[key] += 1
        return cb

    node.create_subscription(Image, "image", counter("image"), CAMERA_QOS)
    node.create_subscription(CameraInfo, "camera_info", counter("camera_info"), CAMERA_QOS)
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "handos_ros.synthetic_camera", "--frames", str(frames), "--rate", "10", "--width", "160",
         "--height", "120", "--ground-truth", "--wait-subscribers", "120"],
        cwd=str(REPO_ROOT.parent), env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 120
        while node.count_publishers("image") == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        assert node.count_publishers("image") == 1, "the camera never appeared"
        t_late = time.monotonic() + 3.0  # image and camera_info are matched; the ground truth is 3 s late
        while time.monotonic() < t_late:
            executor.spin_once(timeout_sec=0.1)
        node.create_subscription(HandMeshArray, "synthetic/ground_truth", counter("gt"), RESULT_QOS)
        deadline = time.monotonic() + 60
        while got["gt"] < frames and proc.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        end = time.monotonic() + 2.0  # what is still in flight after the camera exits
        while got["gt"] < frames and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
        executor.shutdown()
        node.destroy_node()
    assert proc.returncode == 0, out[-3000:]
    assert got == {"image": frames, "camera_info": frames, "gt": frames}, (got, out[-2000:])

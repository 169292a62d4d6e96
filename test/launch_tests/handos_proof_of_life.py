"""launch_testing proof of life: handos.launch.py starts handos_node, which answers a frame.

Run with ``launch_test test/launch_tests/handos_proof_of_life.py`` (test/test_ros2_launch.py
does, in the test run's isolated ROS domain): the installed launch file starts the node in
namespace ``/proof_of_life``; once it logs that it is active, this test publishes one rendered
synthetic frame and its camera_info, and waits for the ``hands/meshes`` array with the same
header; after shutdown, every process exited cleanly.
"""

from __future__ import annotations

import os
import time
import unittest

import launch_testing
import launch_testing.actions
import launch_testing.asserts
import pytest
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

NAMESPACE = "/proof_of_life"
STARTUP_TIMEOUT = float(os.environ.get("HANDOS_TEST_STARTUP_TIMEOUT", "150"))


@pytest.mark.launch_test
def generate_test_description() -> LaunchDescription:
    handos = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("handos_ros"), "launch", "handos.launch.py"])),
        launch_arguments={"namespace": NAMESPACE, "device": "cpu"}.items(),
    )
    return LaunchDescription([handos, launch_testing.actions.ReadyToTest()])


class TestProofOfLife(unittest.TestCase):
    def test_node_answers_a_frame_with_meshes(self, proc_output) -> None:
        import rclpy
        from handos_ros.msg import HandMeshArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image
        from std_msgs.msg import Header

        from handos_ros.image_encode import image_msg
        from handos_ros.qos import RESULT_QOS
        from handos_ros.synthetic_camera import camera_info_msg, frame_source

        proc_output.assertWaitFor("active: subscribed to", timeout=STARTUP_TIMEOUT)
        rclpy.init()
        node = rclpy.create_node("proof_of_life_client", namespace=NAMESPACE)
        try:
            reliable = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
            pub_image = node.create_publisher(Image, "image_raw", reliable)
            pub_info = node.create_publisher(CameraInfo, "camera_info", reliable)
            got: list = []
            node.create_subscription(HandMeshArray, "hands/meshes", got.append, RESULT_QOS)
            sample = frame_source(3, 640, 480, 1, True, 2.0)()
            deadline = time.monotonic() + 60.0
            header = None
            sent = 0.0
            while time.monotonic() < deadline and not (header and any(m.header.stamp == header.stamp for m in got)):
                if header is None or time.monotonic() > sent + 5.0:  # (re)send: best effort may lose one
                    header = Header(frame_id="proof_of_life_optical_frame", stamp=node.get_clock().now().to_msg())
                    h, w = sample.image.shape[:2]
                    pub_info.publish(camera_info_msg(header, sample.K, w, h))
                    pub_image.publish(image_msg(sample.image, header, "rgb8"))
                    sent = time.monotonic()
                rclpy.spin_once(node, timeout_sec=0.1)
            answers = [m for m in got if header is not None and m.header.stamp == header.stamp]
            self.assertTrue(answers, "no hands/meshes for the frame")
            self.assertEqual(answers[0].header.frame_id, "proof_of_life_optical_frame")
            self.assertGreaterEqual(len(answers[0].hands), 1, "the shipped model found no hand in an easy frame")
        finally:
            node.destroy_node()
            rclpy.shutdown()


@launch_testing.post_shutdown_test()
class TestCleanExit(unittest.TestCase):
    def test_every_process_exited_cleanly(self, proc_info) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)

"""A camera without a camera: the synthetic data engine's frames as a ROS image stream.

    ros2 run handos_ros synthetic_camera --rate 5 --frames 100 [--encoding bgr8 | --compressed jpeg]
    python -m handos_ros.synthetic_camera --easy --ground-truth --frames 20

Publishes, with one header per frame (stamp = publication time, frame_id = --frame-id):

- ``image`` (sensor_msgs/Image in ``--encoding``) or ``image/compressed`` (``--compressed``),
- ``camera_info`` (the frame's true intrinsics K and P, no distortion),
- with ``--ground-truth``: ``synthetic/ground_truth`` (HandMeshArray: per hand side, box,
  joints_2d, joints_3d, vertices and cam_translation in the camera optical frame; score 1).

Publishers are reliable (depth 2), which subscribers of either reliability accept. Rendering
costs ~0.1-0.3 s per 640x480 frame on one CPU core, so ``--cache K`` renders K frames up front
and cycles through them for higher rates.
"""

# ruff: noqa: E402

from __future__ import annotations

if __name__ == "__main__":  # `python -m`: Ctrl-C while the imports below load exits quietly
    from handos_ros import quiet_start

    quiet_start.install()

import argparse
import array
import sys
import time
from collections.abc import Callable

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from handos_model.data.schema import Sample
from handos_ros import quiet_start, shutdown
from handos_ros.image_encode import ENCODABLE, compressed_msg, image_msg
from handos_ros.msg import HandMesh, HandMeshArray
from handos_ros.qos import RESULT_QOS

CAMERA_QOS = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)


def frame_source(seed: int, width: int, height: int, num_hands: int | None, easy: bool, fps: float) -> Callable[[], Sample]:
    """A ``next()``-style callable yielding the synth engine's SyntheticCamera frames.

    ``fps`` sets how far the scene moves between two frames (the stream's own clock), not the
    publication rate.
    """
    from handos_model.synth.camera_stream import SyntheticCamera

    cam = SyntheticCamera(seed, width=width, height=height, num_hands=num_hands or 1, fps=fps, easy=easy)
    return cam.next


def camera_info_msg(header: Header, K: np.ndarray, width: int, height: int) -> CameraInfo:
    """CameraInfo of an undistorted pinhole camera with intrinsics ``K`` (3, 3)."""
    info = CameraInfo(header=header, width=int(width), height=int(height))
    k = np.asarray(K, dtype=np.float64).reshape(3, 3)
    info.distortion_model = "plumb_bob"
    info.d = [0.0] * 5
    info.k = k.reshape(-1).tolist()
    info.r = np.eye(3).reshape(-1).tolist()
    info.p = np.concatenate([k, np.zeros((3, 1))], axis=1).reshape(-1).tolist()
    return info


def ground_truth_msg(header: Header, sample: Sample) -> HandMeshArray:
    """The sample's hands as a HandMeshArray (absolute 3D = wrist-relative + cam_t)."""
    out = HandMeshArray(header=header)
    for i, hand in enumerate(sample.hands):
        m = HandMesh(id=i, score=1.0, side_confidence=1.0)
        m.side = HandMesh.RIGHT if hand.side == 1 else HandMesh.LEFT
        m.box = np.asarray(hand.box, np.float32).reshape(4)
        if hand.joints_2d is not None:
            m.joints_2d = np.asarray(hand.joints_2d, np.float32).reshape(42)
            m.joints_2d_proj = m.joints_2d
        t = np.zeros(3, np.float32) if hand.cam_t is None else np.asarray(hand.cam_t, np.float32).reshape(3)
        m.cam_translation.x, m.cam_translation.y, m.cam_translation.z = (float(v) for v in t)
        if hand.joints_3d is not None:
            j = np.asarray(hand.joints_3d, np.float32).reshape(21, 3) + t
            m.joints_3d = j.reshape(63)
            m.wrist_pose.position.x, m.wrist_pose.position.y, m.wrist_pose.position.z = (float(v) for v in j[0])
            m.wrist_pose.orientation.w = 1.0
        if hand.vertices is not None:
            v = (np.asarray(hand.vertices, np.float32).reshape(-1, 3) + t).reshape(-1)
            m.vertices = array.array("f", v.tobytes())
        out.hands.append(m)
    return out


class SyntheticCameraNode(Node):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("synthetic_camera")
        self.args = args
        if args.compressed:
            self.pub_image = self.create_publisher(CompressedImage, "image/compressed", CAMERA_QOS)
        else:
            self.pub_image = self.create_publisher(Image, "image", CAMERA_QOS)
        self.pub_info = self.create_publisher(CameraInfo, "camera_info", CAMERA_QOS)
        self.pub_gt = self.create_publisher(HandMeshArray, "synthetic/ground_truth", RESULT_QOS) if args.ground_truth else None
        source = frame_source(args.seed, args.width, args.height, args.num_hands, args.easy, args.scene_fps or args.rate)
        self.cache = [source() for _ in range(args.cache)] if args.cache > 0 else None
        self.source = source
        self.sent = 0

    def unmatched_publishers(self) -> list[str]:
        """Topics this camera publishes that no subscriber has matched yet (volatile topics lose
        what goes out before a subscriber matches, the ground truth included)."""
        pubs = [self.pub_image, self.pub_info] + ([self.pub_gt] if self.pub_gt else [])
        return [p.topic_name for p in pubs if p.get_subscription_count() == 0]

    def next_sample(self) -> Sample:
        if self.cache:
            return self.cache[self.sent % len(self.cache)]
        return self.source()

    def publish_one(self, sample: Sample) -> Header:
        header = Header(frame_id=self.args.frame_id, stamp=self.get_clock().now().to_msg())
        h, w = sample.image.shape[:2]
        self.pub_info.publish(camera_info_msg(header, sample.K, w, h))
        if self.args.compressed:
            self.pub_image.publish(compressed_msg(sample.image, header, self.args.compressed))
        else:
            self.pub_image.publish(image_msg(sample.image, header, self.args.encoding))
        if self.pub_gt is not None:
            self.pub_gt.publish(ground_truth_msg(header, sample))
        self.sent += 1
        return header


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=5.0, help="frames per second (default 5)")
    p.add_argument("--frames", type=int, default=0, help="stop after N frames (0: run until Ctrl-C)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-hands", type=int, default=2, help="hands in view, 1-4 (default 2; 1 with --easy)")
    p.add_argument("--easy", action="store_true", help="one big, well-lit hand on a plain background")
    p.add_argument("--encoding", default="rgb8", choices=ENCODABLE, help="sensor_msgs/Image encoding")
    p.add_argument("--compressed", default="", choices=["", "jpeg", "png"], help="publish image/compressed instead")
    p.add_argument("--frame-id", default="synthetic_camera_optical_frame", help="header.frame_id (optical frame)")
    p.add_argument("--ground-truth", action="store_true", help="also publish synthetic/ground_truth")
    p.add_argument("--scene-fps", type=float, default=0.0,
                   help="the scene's clock: frames per second of motion (default: --rate, i.e. real time)")
    p.add_argument("--cache", type=int, default=0, help="render K frames up front and cycle through them")
    p.add_argument("--wait-subscribers", type=float, default=10.0,
                   help="wait up to this many seconds for a subscriber on each published topic (image, camera_info, "
                        "ground truth) before the first frame")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Publish until ``--frames`` are out or Ctrl-C / SIGTERM (exit status 0 either way)."""
    ros_argv = sys.argv if argv is None else ["synthetic_camera", *argv]
    args = parse_args(rclpy.utilities.remove_ros_args(ros_argv)[1:])
    quiet_start.done()
    rclpy.init(args=ros_argv)
    nodes: list[SyntheticCameraNode] = []

    def publish() -> int:
        nodes.append(SyntheticCameraNode(args))  # renders the --cache frames: Ctrl-C may come here too
        node = nodes[0]
        log = node.get_logger()
        deadline = time.monotonic() + args.wait_subscribers
        while node.unmatched_publishers() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        if unmatched := node.unmatched_publishers():
            log.info(f"no subscriber yet on {', '.join(unmatched)}: publishing anyway")
        log.info(
            f"publishing {args.width}x{args.height} {args.compressed or args.encoding} at {args.rate} Hz on "
            f"{node.pub_image.topic_name} + {node.pub_info.topic_name}"
            + (f" (+ {node.pub_gt.topic_name})" if node.pub_gt else "")
            + (f", {args.frames} frames" if args.frames else "")
        )
        period = 1.0 / args.rate
        next_t = time.monotonic()
        while rclpy.ok() and (args.frames == 0 or node.sent < args.frames):
            sample = node.next_sample()
            now = time.monotonic()
            if now < next_t:
                time.sleep(next_t - now)
            node.publish_one(sample)
            next_t = max(next_t + period, time.monotonic() - period)
            rclpy.spin_once(node, timeout_sec=0.0)
        time.sleep(0.5)  # let the last reliable messages go out
        log.info(f"published {node.sent} frames")
        return 0

    def cleanup() -> None:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()

    return shutdown.run(publish, cleanup, shutdown.default_context())


if __name__ == "__main__":
    sys.exit(main())

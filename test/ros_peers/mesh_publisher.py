"""Peer process: publishes the fixture HandMeshArray (volatile) and HandMeshInfo
(transient local), then keeps the node alive for a bounded time."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handos_ros.msg import HandMeshArray, HandMeshInfo  # noqa: E402
from mesh_fixture import make_array, make_info  # noqa: E402

from handos_ros.qos import INFO_QOS, RESULT_QOS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds to stay alive (bounded)")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--no-array", action="store_true", help="publish only the info message")
    args = parser.parse_args()

    rclpy.init()
    node = rclpy.create_node("mesh_fixture_publisher")
    pub = node.create_publisher(HandMeshArray, "hands/meshes", RESULT_QOS)
    info_pub = node.create_publisher(HandMeshInfo, "hands/mesh_info", INFO_QOS)
    info_pub.publish(make_info(args.seed))
    print("INFO_PUBLISHED", flush=True)
    msg = make_array(args.seed)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    deadline = time.monotonic() + args.duration
    next_pub = time.monotonic()
    sent = 0
    while time.monotonic() < deadline:
        if not args.no_array and time.monotonic() >= next_pub:
            pub.publish(msg)
            sent += 1
            next_pub += 1.0 / args.rate
        executor.spin_once(timeout_sec=0.02)
    print(f"SENT {sent}", flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""handos_retarget: the operator's hand from ``hands/meshes`` -> a robot hand's sensor_msgs/JointState.

    python -m handos_ros.retarget --ros-args -p urdf_dir:=/path/to/robots -p side:=right [-r __ns:=/cam1]

Subscribes to ``hands/meshes`` (handos_ros/HandMeshArray, the handos node's output), takes the
*primary* hand of ``side`` (HandMesh.primary: the operator's hand, the one on TF as
``<prefix>right``) with a valid wrist pose, retargets its 21 3D joints to the robot hand with
dex-retargeting (:mod:`handos_ros.dex_retarget`; default: the Allegro hand, dex-retargeting's
vector teleoperation config) and publishes ``retarget/joint_states`` (sensor_msgs/JointState,
header copied from the image: stamp = capture time). Frames without that hand publish nothing.

dex-retargeting is an optional dependency of the package (``pip install dex-retargeting==0.5.0
pin nlopt six``); without it this node exits at start-up with a message saying so. The handos node
never imports it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from handos_ros import dex_retarget, shutdown
from handos_ros.msg import HandMesh, HandMeshArray
from handos_ros.qos import RESULT_QOS

JOINT_STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
SIDE_OF = {"right": HandMesh.RIGHT, "left": HandMesh.LEFT}

# (name, default, description): every parameter of the node (read at start-up).
PARAMETERS: tuple[tuple[str, Any, str], ...] = (
    ("side", "right", "Which of the operator's hands to retarget: right or left (the primary hand of that side)."),
    ("robot", "allegro", "Robot hand of dex-retargeting's bundled teleoperation configs (allegro, leap, shadow, "
                         "ability, inspire, schunk_svh): configs/teleop/<robot>_hand_<side>.yml. Ignored with config."),
    ("retargeting_type", "vector", "vector (fingertip vectors) or dexpilot (adds the finger-closing prior)."),
    ("config", "", "A dex-retargeting YAML config to use instead of the bundled one ('' = bundled)."),
    ("urdf_dir", "", "Folder holding the robot URDFs the config names (e.g. allegro_hand/allegro_hand_right.urdf, "
                     "as packaged by dex-urdf). Required."),
)


class RetargetNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "handos_retarget", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        values = {}
        for name, default, description in PARAMETERS:
            values[name] = self.declare_parameter(name, default, ParameterDescriptor(description=description)).value
        self.side = str(values["side"])
        if self.side not in SIDE_OF:
            raise ValueError(f"side must be right or left, got {self.side!r}")
        self.retargeter = dex_retarget.build(values["urdf_dir"], self.side, str(values["robot"]),
                                             str(values["retargeting_type"]), str(values["config"]))
        self.published = 0
        self.skipped = 0
        self._pub = self.create_publisher(JointState, "retarget/joint_states", JOINT_STATE_QOS)
        self._sub = self.create_subscription(HandMeshArray, "hands/meshes", self._on_meshes, RESULT_QOS)
        self.get_logger().info(
            f"retargeting the operator's {self.side} hand from {self.resolve_topic_name('hands/meshes')} to "
            f"{len(self.retargeter.joint_names)} joints on {self.resolve_topic_name('retarget/joint_states')}"
        )

    def _on_meshes(self, msg: HandMeshArray) -> None:
        side = SIDE_OF[self.side]
        hand = next((h for h in msg.hands if h.primary and h.side == side and h.wrist_pose_valid), None)
        if hand is None:
            return
        try:
            q = self.retargeter(np.asarray(hand.joints_3d, np.float64).reshape(21, 3))
        except Exception as exc:  # noqa: BLE001 - one bad frame must not end teleoperation
            q = None
            self.get_logger().error(f"retargeting failed: {exc!r}", throttle_duration_sec=5.0)
        if q is None or not np.all(np.isfinite(q)):
            self.skipped += 1
            self.get_logger().warning(f"no finite joint positions for hand #{hand.id}: frame skipped",
                                      throttle_duration_sec=5.0)
            return
        out = JointState(header=msg.header)
        out.name = self.retargeter.joint_names
        out.position = [float(v) for v in q]
        self._pub.publish(out)
        self.published += 1


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 (also after Ctrl-C / SIGTERM); 2 when dex-retargeting or the robot is missing."""
    rclpy.init(args=argv if argv is not None else sys.argv)
    if not dex_retarget.available():
        print("[handos_retarget] dex-retargeting is not installed: pip install dex-retargeting==0.5.0 pin nlopt six",
              file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        node = RetargetNode()
    except (ValueError, ImportError, OSError) as exc:
        print(f"[handos_retarget] cannot start: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2

    def spin() -> int:
        rclpy.spin(node)
        return 0

    def cleanup() -> None:
        node.destroy_node()
        rclpy.try_shutdown()

    return shutdown.run(spin, cleanup, shutdown.default_context())


if __name__ == "__main__":
    sys.exit(main())

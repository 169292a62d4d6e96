"""One TF frame per hand: ``<prefix><id>`` parented to the image's optical frame.

Uses ``tf2_ros.TransformBroadcaster`` when it is importable (a real ROS install). Where
tf2_ros is absent (ROS from PyPI wheels), a plain publisher of tf2_msgs/TFMessage on
``/tf`` does exactly what TransformBroadcaster does (same topic, same QoS: reliable,
volatile, depth 100); the bootstrap builds a wire-compatible tf2_msgs for that case.
"""

from __future__ import annotations

from collections.abc import Sequence

from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from handos_ros.msg import HandMesh

# tf2_ros.TransformBroadcaster's default QoS.
TF_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


def hand_transforms(header: Header, hands: Sequence[HandMesh], prefix: str) -> list[TransformStamped]:
    """TransformStamped per hand: parent = header.frame_id, child = prefix + id, pose = wrist_pose."""
    out = []
    for hand in hands:
        t = TransformStamped()
        t.header = header
        t.child_frame_id = f"{prefix}{hand.id}"
        p = hand.wrist_pose.position
        t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = p.x, p.y, p.z
        t.transform.rotation = hand.wrist_pose.orientation
        out.append(t)
    return out


class HandTfBroadcaster:
    """Sends hand frames on /tf through tf2_ros when available, else a TFMessage publisher."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._broadcaster = None
        self._publisher = None
        try:
            from tf2_ros import TransformBroadcaster  # type: ignore[import-not-found]
        except ImportError:
            from tf2_msgs.msg import TFMessage

            self.backend = "tf2_msgs publisher on /tf (tf2_ros not installed)"
            self._publisher = node.create_publisher(TFMessage, "/tf", TF_QOS)
        else:
            self.backend = "tf2_ros.TransformBroadcaster"
            self._broadcaster = TransformBroadcaster(node, qos=TF_QOS)

    def send(self, transforms: list[TransformStamped]) -> None:
        if not transforms:
            return
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(transforms)
        else:
            from tf2_msgs.msg import TFMessage

            self._publisher.publish(TFMessage(transforms=transforms))

    def destroy(self) -> None:
        publisher = self._publisher
        if self._broadcaster is not None:
            publisher = getattr(self._broadcaster, "pub_tf", None)
        if publisher is not None:
            self._node.destroy_publisher(publisher)
        self._publisher = None
        self._broadcaster = None

"""Sends the hands' TF frames (built by :mod:`handos_ros.per_side`) on ``/tf``.

Uses ``tf2_ros.TransformBroadcaster`` when it is importable (a real ROS install). Where
tf2_ros is absent (ROS from PyPI wheels), a plain publisher of tf2_msgs/TFMessage on
``/tf`` does exactly what TransformBroadcaster does (same topic, same QoS: reliable,
volatile, depth 100); the bootstrap builds a wire-compatible tf2_msgs for that case.
"""

from __future__ import annotations

from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# tf2_ros.TransformBroadcaster's default QoS.
TF_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


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

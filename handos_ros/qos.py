"""QoS profiles of the node's topics (one place, so publishers and tests agree)."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

# Mesh topology / model description: published once, kept for late subscribers
# (vision_msgs VisionInfo pattern).
INFO_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# Per-frame results: reliable so controllers get every processed frame, small depth.
RESULT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


def image_qos(reliability: str, depth: int = 1) -> QoSProfile:
    """Sensor-data QoS for images (REP 2003), reliability chosen by parameter.

    ``reliability`` is ``"best_effort"`` (the sensor-data default) or ``"reliable"``
    (needed for publishers that only offer reliable; a mismatch delivers nothing).
    """
    if reliability not in ("best_effort", "reliable"):
        raise ValueError(f"image reliability must be 'best_effort' or 'reliable', got {reliability!r}")
    profile = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort" else ReliabilityPolicy.RELIABLE,
        durability=qos_profile_sensor_data.durability,
    )
    return profile

"""The operator's left and right hands as TF frames and poses.

- TF: ``<prefix>left`` and ``<prefix>right`` at the wrist of the *primary* hand of each side
  (HandMesh.primary), parented to the image's optical frame, sent only while that hand is seen
  with a valid wrist pose (a consumer sees the frame go stale instead of jumping). With
  ``publish_track_tf`` also ``<prefix>track_<id>`` for every hand.
- ``hands/left/wrist`` and ``hands/right/wrist`` (geometry_msgs/PoseStamped, header of the image):
  the same poses, for consumers that do not use TF.
- The default prefix comes from the node's fully qualified name, so two nodes (two cameras,
  two namespaces) never broadcast the same frame: ``/cam1/handos_node`` -> ``cam1/handos_node/``.
"""

from __future__ import annotations

from collections.abc import Sequence

from geometry_msgs.msg import PoseStamped, TransformStamped
from std_msgs.msg import Header

from handos_ros.msg import HandMesh

SIDE_NAMES = {HandMesh.LEFT: "left", HandMesh.RIGHT: "right"}


def default_frame_prefix(fully_qualified_name: str) -> str:
    """``/ns/name`` -> ``ns/name/`` (a frame id never starts with '/')."""
    return fully_qualified_name.strip("/") + "/"


def frame_prefix(parameter: str, fully_qualified_name: str) -> str:
    """The prefix in force: the parameter, or the default derived from the node's name when empty."""
    return parameter if parameter else default_frame_prefix(fully_qualified_name)


def primaries(hands: Sequence[HandMesh]) -> dict[int, HandMesh]:
    """side -> the primary hand of that side with a valid wrist pose (at most one per side)."""
    out: dict[int, HandMesh] = {}
    for hand in hands:
        if hand.primary and hand.wrist_pose_valid and hand.side in SIDE_NAMES and hand.side not in out:
            out[hand.side] = hand
    return out


def _transform(header: Header, child: str, hand: HandMesh) -> TransformStamped:
    t = TransformStamped()
    t.header = header
    t.child_frame_id = child
    p = hand.wrist_pose.position
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = p.x, p.y, p.z
    t.transform.rotation = hand.wrist_pose.orientation
    return t


def hand_transforms(header: Header, hands: Sequence[HandMesh], prefix: str, per_track: bool = False) -> list[TransformStamped]:
    """``<prefix>left`` / ``<prefix>right`` for the primary hands; ``<prefix>track_<id>`` for every
    hand with a valid pose when ``per_track``."""
    out = [_transform(header, f"{prefix}{SIDE_NAMES[side]}", hand) for side, hand in sorted(primaries(hands).items())]
    if per_track:
        out += [_transform(header, f"{prefix}track_{hand.id}", hand) for hand in hands if hand.wrist_pose_valid]
    return out


def wrist_poses(header: Header, hands: Sequence[HandMesh]) -> dict[int, PoseStamped]:
    """side -> PoseStamped of that side's primary hand (header copied from the image)."""
    return {side: PoseStamped(header=header, pose=hand.wrist_pose) for side, hand in primaries(hands).items()}

"""A fully populated, deterministic HandMeshArray / HandMeshInfo for round-trip tests."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Pose, Quaternion, Vector3
from handos_ros.msg import HandMesh, HandMeshArray, HandMeshInfo
from std_msgs.msg import Header

NUM_VERTICES = 613


def make_array(seed: int, num_hands: int = 3) -> HandMeshArray:
    rng = np.random.default_rng(seed)
    msg = HandMeshArray()
    msg.header = Header(frame_id="camera_color_optical_frame")
    msg.header.stamp.sec = 1_700_000_000 + seed
    msg.header.stamp.nanosec = 123_456_789
    for i in range(num_hands):
        h = HandMesh()
        h.id = 100 + i
        h.score = float(rng.uniform(0.1, 1.0))
        h.side = HandMesh.LEFT if i % 2 == 0 else HandMesh.RIGHT
        h.side_confidence = float(rng.uniform(0.5, 1.0))
        h.box = rng.uniform(0, 640, 4).astype(np.float32)
        h.joints_2d = rng.uniform(0, 640, 42).astype(np.float32)
        h.joints_2d_proj = rng.uniform(0, 640, 42).astype(np.float32)
        h.joints_3d = rng.normal(0, 0.1, 63).astype(np.float32)
        h.vertices = rng.normal(0, 0.1, 3 * NUM_VERTICES).astype(np.float32).tolist()
        h.cam_translation = Vector3(x=float(rng.normal()), y=float(rng.normal()), z=float(rng.uniform(0.2, 2)))
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        h.wrist_pose = Pose()
        h.wrist_pose.position.x, h.wrist_pose.position.y, h.wrist_pose.position.z = (float(v) for v in rng.normal(size=3))
        h.wrist_pose.orientation = Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3]))
        msg.hands.append(h)
    return msg


def make_info(seed: int) -> HandMeshInfo:
    rng = np.random.default_rng(seed)
    info = HandMeshInfo()
    info.hand_model = "handos_open_hand_v1"
    info.weights = f"test-weights-{seed}"
    info.device = "cpu"
    info.num_vertices = NUM_VERTICES
    info.faces = rng.integers(0, NUM_VERTICES, 3 * 1222).astype(np.uint32)
    info.joint_names = [f"joint_{i}" for i in range(21)]
    info.joint_parents = [-1] + [max(0, i - 1) for i in range(1, 21)]
    info.score_threshold = 0.25
    info.nms_threshold = 0.9
    info.max_hands = 8
    return info


def flatten(msg: object) -> dict[str, object]:
    """Every leaf field of a message as plain Python values (for exact comparison)."""
    out: dict[str, object] = {}

    def walk(prefix: str, value: object) -> None:
        if hasattr(value, "get_fields_and_field_types"):
            for name in value.get_fields_and_field_types():
                walk(f"{prefix}.{name}" if prefix else name, getattr(value, name))
        elif isinstance(value, (list, tuple)) and value and hasattr(value[0], "get_fields_and_field_types"):
            out[prefix + ".__len__"] = len(value)
            for i, item in enumerate(value):
                walk(f"{prefix}[{i}]", item)
        elif hasattr(value, "tolist"):
            out[prefix] = value.tolist()
        elif isinstance(value, (list, tuple)):
            out[prefix] = list(value)
        else:
            out[prefix] = value

    walk("", msg)
    return out

"""Model outputs -> ROS messages: HandPrediction -> HandMesh, HandTopology -> HandMeshInfo.

Units and frames follow msg/HandMesh.msg: metres and the camera optical frame for 3D,
pixels of the received image for 2D, quaternions for orientations (REP 103).
"""

from __future__ import annotations

import array
import math

import numpy as np
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3

from handos_model.hand.joint_angles import ABDUCTION_NAMES, FLEXION_NAMES, joint_angles
from handos_model.hand.topology import JOINT_NAMES, SKELETON_PARENTS, HandTopology
from handos_model.prediction import HandPrediction
from handos_ros.msg import HandMesh, HandMeshInfo

WRIST, INDEX_MCP, MIDDLE_MCP, LITTLE_MCP = 0, 5, 9, 17


def wrist_rotation(joints_3d: np.ndarray, side: int) -> np.ndarray | None:
    """Hand frame at the wrist as a (3, 3) rotation matrix (columns = axes), or None if degenerate.

    x = wrist -> middle-finger MCP; z = palm normal pointing out of the palm (for both
    sides); y = z x x. The palm normal is (index MCP - wrist) x (little MCP - wrist) for a
    right hand and the opposite cross product for a left hand (a mirrored hand), so z
    points out of the palm whatever the side.

    Args:
        joints_3d: (21, 3) metres, camera optical frame.
        side: HandMesh.LEFT or HandMesh.RIGHT (anything but RIGHT is taken as a left hand).
    """
    j = np.asarray(joints_3d, dtype=np.float64).reshape(21, 3)
    if not np.all(np.isfinite(j)):
        return None
    x = j[MIDDLE_MCP] - j[WRIST]
    nx = np.linalg.norm(x)
    if nx < 1e-9:
        return None
    x = x / nx
    a = j[INDEX_MCP] - j[WRIST]
    b = j[LITTLE_MCP] - j[WRIST]
    normal = np.cross(a, b) if side == HandMesh.RIGHT else np.cross(b, a)
    z = normal - np.dot(normal, x) * x
    nz = np.linalg.norm(z)
    if nz < 1e-12:
        return None
    z = z / nz
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def quaternion_from_matrix(R: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) unit quaternion of a rotation matrix (Shepperd's method), w >= 0."""
    m = np.asarray(R, dtype=np.float64)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        w, x, y, z = 0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        w, x, y, z = (m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        w, x, y, z = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        w, x, y, z = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s
    q = np.array([x, y, z, w])
    q /= np.linalg.norm(q)
    if q[3] < 0:
        q = -q
    return float(q[0]), float(q[1]), float(q[2]), float(q[3])


def wrist_pose(joints_3d: np.ndarray, side: int) -> tuple[Pose, bool]:
    """geometry_msgs/Pose of the wrist frame and whether it is valid (False: degenerate joints,
    identity orientation)."""
    j = np.asarray(joints_3d, dtype=np.float64).reshape(21, 3)
    pose = Pose()
    pose.position = Point(x=float(j[WRIST, 0]), y=float(j[WRIST, 1]), z=float(j[WRIST, 2]))
    R = wrist_rotation(j, side)
    qx, qy, qz, qw = quaternion_from_matrix(R) if R is not None else (0.0, 0.0, 0.0, 1.0)
    pose.orientation = Quaternion(x=qx, y=qy, z=qz, w=qw)
    return pose, R is not None and bool(np.all(np.isfinite(j[WRIST])))


def side_msg(model_side: int) -> int:
    """The model's side (0 left, 1 right) -> HandMesh.LEFT / RIGHT."""
    return HandMesh.RIGHT if int(model_side) == 1 else HandMesh.LEFT


def _f32(values: np.ndarray, n: int) -> np.ndarray:
    out = np.asarray(values, dtype=np.float32).reshape(-1)
    if out.size != n:
        raise ValueError(f"expected {n} values, got {out.size}")
    return out


def hand_mesh_from_prediction(pred: HandPrediction, track_id: int, track_side: int | None = None,
                              primary: bool = False, track_age: int = 1) -> HandMesh:
    """One HandPrediction -> HandMesh (see msg/HandMesh.msg for frames and layouts).

    ``track_side`` is the track's side in the model's convention (0 left, 1 right; None: this
    frame's observed side); ``primary`` / ``track_age`` come from the tracker. The wrist frame
    and the joint angles are built with the observed side (the handedness of these joints).
    """
    msg = HandMesh()
    msg.id = int(track_id) & 0xFFFFFFFF
    msg.score = float(pred.score)
    msg.side_observed = side_msg(pred.side)
    msg.side = side_msg(pred.side if track_side is None else track_side)
    msg.side_confidence = float(pred.side_confidence)
    msg.primary = bool(primary)
    msg.track_age = int(track_age) & 0xFFFFFFFF
    msg.box = _f32(pred.box, 4)
    msg.joints_2d = _f32(pred.joints_2d, 42)
    msg.joints_2d_proj = _f32(pred.joints_2d_proj, 42)
    msg.joints_3d = _f32(pred.joints_3d, 63)
    verts = np.ascontiguousarray(np.asarray(pred.vertices, dtype=np.float32).reshape(-1))
    msg.vertices = array.array("f", verts.tobytes())
    t = np.asarray(pred.cam_t, dtype=np.float64).reshape(3)
    msg.cam_translation = Vector3(x=float(t[0]), y=float(t[1]), z=float(t[2]))
    msg.wrist_pose, msg.wrist_pose_valid = wrist_pose(pred.joints_3d, msg.side_observed)
    angles = joint_angles(pred.joints_3d, left=msg.side_observed == HandMesh.LEFT)
    msg.flexion = angles.flexion.astype(np.float32)
    msg.abduction = angles.abduction.astype(np.float32)
    return msg


def mesh_info_from_topology(
    topology: HandTopology,
    weights: str,
    device: str,
    score_threshold: float,
    nms_threshold: float,
    max_hands: int,
    frame_prefix: str = "",
) -> HandMeshInfo:
    """HandMeshInfo (header stamp left to the caller) describing ``topology``, the thresholds and
    the operator-hand TF frames ``<frame_prefix>left`` / ``right``."""
    info = HandMeshInfo()
    info.hand_model = str(topology.name)
    info.weights = weights
    info.device = device
    info.num_vertices = int(topology.num_vertices)
    faces = np.ascontiguousarray(np.asarray(topology.faces, dtype=np.uint32).reshape(-1))
    info.faces = array.array("I", faces.tobytes())
    info.joint_names = list(JOINT_NAMES)
    info.joint_parents = array.array("i", SKELETON_PARENTS)
    info.score_threshold = float(score_threshold)
    info.nms_threshold = float(nms_threshold)
    info.max_hands = int(max_hands)
    info.flexion_names = list(FLEXION_NAMES)
    info.abduction_names = list(ABDUCTION_NAMES)
    info.left_frame = f"{frame_prefix}left"
    info.right_frame = f"{frame_prefix}right"
    return info

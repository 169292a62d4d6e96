"""HandPrediction -> HandMesh / HandMeshInfo; the wrist frame on the real open hand model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("handos_ros.msg", reason="colcon-built package not on the path (run `make test`)")

from handos_ros.msg import HandMesh  # noqa: E402

from handos_model.hand.hand_model import load_hand_model  # noqa: E402
from handos_model.hand.topology import JOINT_NAMES, SKELETON_PARENTS  # noqa: E402
from handos_model.prediction import HandPrediction  # noqa: E402
from handos_ros.conversions import (  # noqa: E402
    hand_mesh_from_prediction,
    mesh_info_from_topology,
    quaternion_from_matrix,
    wrist_rotation,
)

THUMB_TIP = 4


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _matrix_from_quaternion(x: float, y: float, z: float, w: float) -> np.ndarray:
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@pytest.fixture(scope="module")
def hand():
    return load_hand_model("open")


def _posed(hand, side: int, rng: np.random.Generator, rotate: np.ndarray | None = None):
    pose = np.zeros((16, 3), np.float32)
    pose[1:] = hand.sample_pose(rng)[1:] * 0.3 if hasattr(hand, "sample_pose") else 0.0
    verts, joints = hand.forward_numpy(pose)
    if side == HandMesh.LEFT:
        verts, joints = hand.mirror_left(verts), hand.mirror_left(joints)
    if rotate is not None:
        verts, joints = verts @ rotate.T, joints @ rotate.T
    return verts, joints


@pytest.mark.parametrize("side", [HandMesh.RIGHT, HandMesh.LEFT])
def test_wrist_frame_axes_follow_the_documented_convention(hand, side: int) -> None:
    """Open hand rest frame: +x thumb side (right hand), +y towards the fingers, +z out of the palm."""
    _, joints = _posed(hand, side, np.random.default_rng(1))
    R = wrist_rotation(joints, side)
    assert R is not None
    assert np.allclose(R.T @ R, np.eye(3), atol=1e-6) and np.linalg.det(R) == pytest.approx(1.0, abs=1e-6)
    x, y, z = R[:, 0], R[:, 1], R[:, 2]
    # x: wrist -> middle MCP
    to_middle = joints[9] - joints[0]
    assert np.dot(x, to_middle / np.linalg.norm(to_middle)) > 0.999
    # z: out of the palm for both sides (the open hand's palmar side is +z in its own frame)
    assert z[2] > 0.9, z
    # y = z x x: little-finger side for a right hand, thumb side for a left hand
    thumb = joints[THUMB_TIP] - joints[0]
    towards_thumb = np.dot(y, thumb) > 0
    assert towards_thumb == (side == HandMesh.LEFT)


@pytest.mark.parametrize("side", [HandMesh.RIGHT, HandMesh.LEFT])
def test_wrist_frame_is_equivariant_and_quaternion_matches(hand, side: int) -> None:
    rng = np.random.default_rng(5)
    _, joints = _posed(hand, side, rng)
    R0 = wrist_rotation(joints, side)
    for _ in range(10):
        Q = _random_rotation(rng)
        R = wrist_rotation(joints @ Q.T, side)
        assert np.allclose(R, Q @ R0, atol=1e-5)
        qx, qy, qz, qw = quaternion_from_matrix(R)
        assert qw >= 0 and np.isclose(qx * qx + qy * qy + qz * qz + qw * qw, 1.0)
        assert np.allclose(_matrix_from_quaternion(qx, qy, qz, qw), R, atol=1e-6)


def test_hand_mesh_fields_and_degenerate_joints(hand) -> None:
    rng = np.random.default_rng(2)
    verts, joints = _posed(hand, HandMesh.LEFT, rng)
    t = np.array([0.05, -0.02, 0.6], np.float32)
    pred = HandPrediction(
        score=0.8, box=np.array([10, 20, 110, 140], np.float32), joints_2d=rng.uniform(0, 600, (21, 2)).astype(np.float32),
        joints_2d_proj=rng.uniform(0, 600, (21, 2)).astype(np.float32), joints_3d=(joints + t).astype(np.float32),
        vertices=(verts + t).astype(np.float32), cam_t=t, side=0, side_confidence=0.9,
    )
    msg = hand_mesh_from_prediction(pred, track_id=7)
    assert msg.id == 7 and msg.side == HandMesh.LEFT and msg.score == pytest.approx(0.8)
    assert msg.side_observed == HandMesh.LEFT and msg.wrist_pose_valid
    assert np.all(np.isfinite(msg.flexion)) and np.all(np.isfinite(msg.abduction))
    # the track's side (hysteresis) may differ from this frame's; the wrist frame follows the joints
    tracked = hand_mesh_from_prediction(pred, track_id=7, track_side=1, primary=True, track_age=4)
    assert (tracked.side, tracked.side_observed, tracked.primary, tracked.track_age) == (HandMesh.RIGHT, HandMesh.LEFT, True, 4)
    assert tracked.wrist_pose.orientation == msg.wrist_pose.orientation
    assert np.allclose(np.asarray(msg.joints_2d).reshape(21, 2), pred.joints_2d)
    assert np.allclose(np.asarray(msg.joints_3d).reshape(21, 3), pred.joints_3d)
    assert len(msg.vertices) == 3 * hand.num_vertices
    assert np.allclose(np.frombuffer(msg.vertices, np.float32).reshape(-1, 3), pred.vertices)
    p = msg.wrist_pose.position
    assert (p.x, p.y, p.z) == pytest.approx(tuple(pred.joints_3d[0].tolist()), abs=1e-6)
    assert (msg.cam_translation.x, msg.cam_translation.z) == pytest.approx((0.05, 0.6), abs=1e-6)
    pred.joints_3d = np.zeros((21, 3), np.float32)
    degenerate = hand_mesh_from_prediction(pred, 1)
    q = degenerate.wrist_pose.orientation
    assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0) and not degenerate.wrist_pose_valid
    assert np.all(np.isnan(degenerate.flexion))
    assert HandMesh().side == HandMesh.UNKNOWN  # an unset message says "unknown", not "left"


def test_mesh_info_from_topology(hand) -> None:
    topo = hand.topology
    info = mesh_info_from_topology(topo, "w.safetensors (cfg)", "cpu", 0.3, 0.9, 4)
    assert info.num_vertices == topo.num_vertices and info.hand_model == topo.name
    assert len(info.faces) == 3 * topo.num_faces and max(info.faces) < topo.num_vertices
    assert list(info.joint_names) == list(JOINT_NAMES) and list(info.joint_parents) == list(SKELETON_PARENTS)
    assert (info.score_threshold, info.nms_threshold, info.max_hands) == (pytest.approx(0.3), pytest.approx(0.9), 4)
    assert len(info.flexion_names) == 15 and info.flexion_names[4] == "index_pip" and len(info.abduction_names) == 5
    info = mesh_info_from_topology(topo, "w", "cpu", 0.3, 0.9, 4, frame_prefix="cam1/handos_node/")
    assert (info.left_frame, info.right_frame) == ("cam1/handos_node/left", "cam1/handos_node/right")


def test_gt_compare_2d_and_wrist_errors() -> None:
    """handos_ros.gt_compare on hand-built messages: 2D error relative to the box, the box-centre
    baseline, side, and the wrist (TF origin) position / depth errors."""
    from handos_ros.gt_compare import compare

    gt, pred, other = HandMesh(side=HandMesh.RIGHT), HandMesh(id=7, side=HandMesh.LEFT, score=0.8), HandMesh(id=8)
    j = np.stack([np.linspace(100, 200, 21), np.linspace(50, 150, 21)], axis=1).astype(np.float32)
    gt.box = [100.0, 50.0, 200.0, 150.0]
    gt.joints_2d = j.reshape(42)
    gt.wrist_pose.position.x, gt.wrist_pose.position.y, gt.wrist_pose.position.z = 0.1, 0.0, 0.5
    pred.box = [102.0, 50.0, 200.0, 150.0]
    pred.joints_2d = (j + [3.0, 4.0]).reshape(42)  # 5 px off everywhere
    pred.joints_2d_proj = (j - [6.0, 8.0]).reshape(42)  # 10 px off
    pred.wrist_pose.position.x, pred.wrist_pose.position.y, pred.wrist_pose.position.z = 0.1, 0.0, 0.6
    other.box = [400.0, 300.0, 420.0, 330.0]
    cmp = compare([other, pred], [gt])
    assert (cmp.missed, cmp.extra, len(cmp.matches)) == (0, 1, 1)
    m = cmp.matches[0]
    assert m.pred_id == 7 and not m.side_ok
    assert m.err_px == pytest.approx(5.0, abs=1e-4) and m.err_rel == pytest.approx(0.05, abs=1e-6)
    assert m.proj_err_px == pytest.approx(10.0, abs=1e-4) and m.proj_err_rel == pytest.approx(0.1, abs=1e-6)
    assert m.centre_err_rel == pytest.approx(np.linalg.norm(j - [150.0, 100.0], axis=1).mean() / 100.0, rel=1e-5)
    assert m.wrist_err_m == pytest.approx(0.1, abs=1e-6) and m.wrist_depth_rel == pytest.approx(0.2, abs=1e-6)
    assert compare([], [gt]).missed == 1

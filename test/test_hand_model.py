"""Open hand model: mesh validity, LBS, joint limits, topology contract, left/right rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from handos_model.hand.build_open_hand import HandParams, build
from handos_model.hand.hand_model import POSE_KINDS, HandModel, load_hand_model
from handos_model.hand.handedness import LEFT, RIGHT, side_from_normals, signed_volume
from handos_model.hand.topology import FINGERTIPS, NUM_KEYPOINTS, HandTopology


@pytest.fixture(scope="module")
def model() -> HandModel:
    return load_hand_model("open")


def test_mesh_watertight_outward(model: HandModel) -> None:
    assert 450 <= model.num_vertices <= 700
    mesh = trimesh.Trimesh(model.template, model.faces, process=False)
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0  # outward
    assert mesh.body_count == 1
    # no degenerate triangles, every vertex used
    assert np.all(mesh.area_faces > 1e-9)
    assert np.unique(model.faces).size == model.num_vertices


def test_asset_is_reproducible_and_small(model: HandModel) -> None:
    data = build(HandParams())
    np.testing.assert_array_equal(data["faces"], model.faces)
    np.testing.assert_allclose(data["template"], model.template, atol=1e-7)
    np.testing.assert_allclose(data["joint_regressor"], model.joint_regressor, atol=1e-6)
    np.testing.assert_allclose(data["weights"], model.weights, atol=1e-7)
    from handos_model.hand.hand_model import open_hand_path

    assert open_hand_path().stat().st_size < 2_000_000


@pytest.mark.parametrize("base", [HandParams(), HandParams(detail=0), HandParams(detail=2, finger_ring=10)])
def test_faces_do_not_hinge_on_float_noise(base: HandParams) -> None:
    """The faces are decided combinatorially, not by the last bits of a float: a dimension moved by
    1e-12 (far below any CPU's float differences that matter, far above their noise on symmetric
    quads) must give the same triangles. Before the tie rule, 4-94 face rows moved here."""
    from dataclasses import replace

    from handos_model.hand.open_hand_mesh import build_geometry

    faces = build_geometry(base)["faces"]
    for field in ("palm_width", "palm_length", "finger_length", "finger_thickness"):
        for eps in (1e-12, -1e-12, 1e-10):
            moved = build_geometry(replace(base, **{field: getattr(base, field) * (1 + eps)}))["faces"]
            np.testing.assert_array_equal(moved, faces, err_msg=f"{field} x (1 + {eps})")


def test_detail_parameter_changes_vertex_count() -> None:
    small = build(HandParams(detail=0))
    large = build(HandParams(detail=2, finger_ring=10))
    assert len(small["template"]) < len(large["template"])
    for d in (small, large):
        mesh = trimesh.Trimesh(d["template"], d["faces"], process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0


def test_adult_size_and_shape_space(model: HandModel) -> None:
    j = model.rest_joints()
    length = np.linalg.norm(j[12] - j[0])
    assert 0.17 < length < 0.19
    for b, lo, hi in ((-2.0, 0.78, 0.82), (2.0, 1.18, 1.22)):
        beta = np.zeros(model.num_shape, np.float32)
        beta[0] = b
        jj = model.rest_joints(beta)
        assert lo < np.linalg.norm(jj[12] - jj[0]) / length < hi
    rng = np.random.default_rng(0)
    for beta in model.sample_shape(rng, 20):
        v = model.template + model.shapedirs @ beta
        assert trimesh.Trimesh(v, model.faces, process=False).volume > 0


def test_regressor_and_weights(model: HandModel) -> None:
    R = model.joint_regressor
    assert R.shape == (21, model.num_vertices)
    np.testing.assert_allclose(R.sum(1), 1.0, atol=1e-5)
    assert R.min() >= 0
    from handos_model.hand.open_hand_skeleton import rest_skeleton

    rest = rest_skeleton(HandParams())["joints"]
    assert np.abs(np.linalg.norm(R @ model.template - rest, axis=1)).max() < 1e-3
    W = model.weights
    assert W.shape == (model.num_vertices, 16)
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-5)
    # smooth: every articulated joint shares vertices with its parent
    for j in range(1, 16):
        p = model.parents[j]
        assert np.any((W[:, j] > 0.2) & (W[:, p] > 0.2)), j


def test_topology_contract(model: HandModel) -> None:
    topo = model.topology
    assert isinstance(topo, HandTopology)
    assert topo.num_vertices == model.num_vertices
    assert topo.joint_regressor.shape == (NUM_KEYPOINTS, topo.num_vertices)
    w = topo.skinning_weights_21
    assert w.shape == (topo.num_vertices, NUM_KEYPOINTS)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-5)
    assert np.all(w[:, list(FINGERTIPS)] == 0)
    assert topo.faces.dtype == np.int64


def test_zero_pose_reproduces_template(model: HandModel) -> None:
    v, j = model.forward(np.zeros((16, 3), np.float32))
    wrist = model.rest_joints()[0]
    np.testing.assert_allclose(v, model.template - wrist, atol=1e-6)
    np.testing.assert_allclose(j, model.rest_joints() - wrist, atol=1e-6)
    assert np.all(j[0] == 0)


def test_numpy_torch_agree_and_grad(model: HandModel) -> None:
    rng = np.random.default_rng(3)
    pose = model.sample_pose(rng, n=4, global_orient=True)
    shape = model.sample_shape(rng, 4)
    v, j = model.forward(pose, shape)
    pt = torch.tensor(pose, dtype=torch.float64, requires_grad=True)
    vt, jt = model.forward(pt, torch.tensor(shape, dtype=torch.float64))
    np.testing.assert_allclose(vt.detach().numpy(), v, atol=1e-5)
    np.testing.assert_allclose(jt.detach().numpy(), j, atol=1e-5)
    jt.sum().backward()
    assert torch.isfinite(pt.grad).all() and pt.grad.abs().sum() > 0


def test_flexion_curls_towards_palm(model: HandModel) -> None:
    pose = np.zeros((16, 3), np.float32)
    pose[7, 0] = 1.2  # middle MCP flexion
    _, j0 = model.forward(np.zeros((16, 3), np.float32))
    _, j1 = model.forward(pose)
    # palmar side is +z in the hand frame: the fingertip moves to +z and closer to the wrist
    assert j1[12, 2] > j0[12, 2] + 0.03
    assert np.linalg.norm(j1[12]) < np.linalg.norm(j0[12])
    np.testing.assert_allclose(j1[9], j0[9], atol=1e-3)  # the MCP itself stays


@pytest.mark.parametrize("kind", POSE_KINDS)
def test_sampled_poses_within_limits(model: HandModel, kind: str) -> None:
    rng = np.random.default_rng(11)
    poses = model.sample_pose(rng, kind=kind, n=50)
    assert poses.shape == (50, 16, 3)
    assert model.within_limits(poses).all()
    assert np.all(poses[:, 0] == 0)
    clipped = model.clip_pose(poses * 3)
    assert model.within_limits(clipped).all()


def test_left_right_rule_on_posed_hands(model: HandModel) -> None:
    rng = np.random.default_rng(5)
    pose = model.sample_pose(rng, n=200, global_orient=True)
    shape = model.sample_shape(rng, 200)
    v, _ = model.forward(pose, shape)
    right_side, right_conf = side_from_normals(v, model.faces)
    left = model.mirror_left(v)
    left_side, left_conf = side_from_normals(left, model.faces)
    assert np.all(right_side == RIGHT) and np.all(left_side == LEFT)
    assert np.all((right_conf >= 0.5) & (right_conf <= 1.0))
    np.testing.assert_allclose(left_conf, right_conf, atol=1e-5)
    # translation-invariant, torch path agrees
    shifted = torch.tensor(left + np.array([0.3, -0.1, 1.5], np.float32))
    ts, tc = side_from_normals(shifted, model.faces)
    assert ts.dtype == torch.long and torch.all(ts == LEFT)
    assert np.all(signed_volume(v, model.faces) > 0)


def test_left_right_rule_confidence_drops_with_noise(model: HandModel) -> None:
    rng = np.random.default_rng(6)
    v, _ = model.forward(model.sample_pose(rng, n=8))
    _, clean = side_from_normals(v, model.faces)
    noisy = v + rng.normal(0, 0.004, v.shape).astype(np.float32)
    side, conf = side_from_normals(noisy, model.faces)
    assert np.all(side == RIGHT)  # still right with 4 mm noise
    assert np.all(conf < clean)
    _, flat_conf = side_from_normals(np.zeros_like(v), model.faces)
    assert np.all(flat_conf == 0.5)

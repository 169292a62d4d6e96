"""Joint angles from 3D keypoints, on the hand model's own posed meshes (no ROS).

The hand model is posed with known per-joint rotations (its pose parameters); the keypoints it
regresses from the posed mesh go through ``joint_angles``; the angles must come back. For a
joint without twist the expected angles are the pose parameters themselves (flexion =
``pose[j, 0]``, abduction = ``pose[j, 1]``); with twist, the swing part of the joint's rotation
(the convention: twist is not observable from keypoints).
"""

from __future__ import annotations

import numpy as np
import pytest

from handos_model.hand.hand_model import POSE_KINDS, load_hand_model
from handos_model.hand.joint_angles import (
    ABDUCTION_NAMES,
    FINGER_JOINTS,
    FLEXION_NAMES,
    REST_KEYPOINTS,
    joint_angles,
    swing,
)
from handos_model.hand.rotations import random_rotation_aa, rodrigues_np

TOL_DEG = 5.0
FLEX_JOINTS = [j for finger in FINGER_JOINTS for j in finger]  # model joint of each flexion value
ABD_JOINTS = [finger[0] for finger in FINGER_JOINTS]


@pytest.fixture(scope="module")
def model():
    return load_hand_model("open")


def _keypoints(model, pose, shape=None, left=False, rng=None):
    """Posed keypoints of the model, optionally mirrored to a left hand and moved rigidly."""
    _, j = model.forward_numpy(pose, shape)
    j = np.asarray(j, np.float64)
    if left:
        j = model.mirror_left(j)
    if rng is not None:
        R = rodrigues_np(random_rotation_aa(rng)[None])[0]
        j = j @ R.T + rng.uniform(-0.3, 0.3, 3) + np.array([0.0, 0.0, 0.6])
    return j


def _swing_truth(pose):
    """Expected (flexion (15,), abduction (5,)): swing of each joint's known rotation."""
    sw = []
    for j in range(16):
        u = rodrigues_np(np.asarray(pose[j], np.float64)[None])[0][:, 2]  # the bone's direction
        sw.append(swing(u))
    sw = np.array(sw)
    return sw[FLEX_JOINTS, 0], sw[ABD_JOINTS, 1]


def _errors_deg(model, pose, **kw):
    a = joint_angles(_keypoints(model, pose, **kw), left=kw.get("left", False))
    flex, abd = _swing_truth(pose)
    return np.degrees(np.abs(a.flexion - flex)), np.degrees(np.abs(a.abduction - abd))


def test_rest_keypoints_are_the_packaged_open_hand(model) -> None:
    rest = model.rest_joints()
    np.testing.assert_allclose(rest - rest[0], REST_KEYPOINTS, atol=1e-4)
    assert len(FLEXION_NAMES) == 15 and len(ABDUCTION_NAMES) == 5


def test_rest_pose_is_zero_for_both_sides(model) -> None:
    for left in (False, True):
        a = joint_angles(_keypoints(model, np.zeros((16, 3)), left=left, rng=np.random.default_rng(3)), left=left)
        assert np.degrees(np.abs(a.flexion)).max() < 1.0
        assert np.degrees(np.abs(a.abduction)).max() < 1.0


@pytest.mark.parametrize("left", [False, True])
def test_single_joint_sweeps_over_the_joint_limits(model, left: bool) -> None:
    """Each flexion / abduction parameter alone, across its whole range: it comes back as itself,
    every other angle stays at zero."""
    rng = np.random.default_rng(7)
    lim = model.joint_limits
    worst = 0.0
    for joint in range(1, 16):
        for comp, joints in ((0, FLEX_JOINTS), (1, ABD_JOINTS)):
            if joint not in joints:
                continue
            for value in np.linspace(lim[joint, comp, 0], lim[joint, comp, 1], 7):
                pose = np.zeros((16, 3))
                pose[joint, comp] = value
                a = joint_angles(_keypoints(model, pose, left=left, rng=rng), left=left)
                want_flex, want_abd = np.zeros(15), np.zeros(5)
                (want_flex if comp == 0 else want_abd)[joints.index(joint)] = value
                err = max(np.degrees(np.abs(a.flexion - want_flex)).max(), np.degrees(np.abs(a.abduction - want_abd)).max())
                worst = max(worst, err)
                assert err < TOL_DEG, f"joint {joint} component {comp} = {value:.2f} rad: off by {err:.1f} deg"
    assert worst > 0.0  # the comparison ran on real, non-identical numbers


@pytest.mark.parametrize("kind", POSE_KINDS)
def test_posed_meshes_of_every_kind_within_5_degrees(model, kind: str) -> None:
    """Random poses of each kind (shape, side, global rotation and position random too)."""
    rng = np.random.default_rng(100 + POSE_KINDS.index(kind))
    flex_err, abd_err = [], []
    for i in range(24):
        pose = model.sample_pose(rng, kind=kind)
        shape = model.sample_shape(rng) if i % 2 else None
        f, a = _errors_deg(model, pose, shape=shape, left=bool(i % 3 == 0), rng=rng)
        flex_err.append(f)
        abd_err.append(a)
    flex_err, abd_err = np.array(flex_err), np.array(abd_err)
    worst_f = FLEXION_NAMES[int(flex_err.max(0).argmax())]
    worst_a = ABDUCTION_NAMES[int(abd_err.max(0).argmax())]
    assert flex_err.max() < TOL_DEG, f"{kind}: flexion of {worst_f} off by {flex_err.max():.1f} deg"
    assert abd_err.max() < TOL_DEG, f"{kind}: abduction of {worst_a} off by {abd_err.max():.1f} deg"


def test_signs_fist_flexes_spread_abducts(model) -> None:
    """The convention's signs on poses anyone can picture."""
    fist = np.zeros((16, 3))
    for base in (4, 7, 10, 13):
        fist[base:base + 3, 0] = (1.2, 1.5, 1.0)
    a = joint_angles(_keypoints(model, fist), left=False)
    assert np.all(a.flexion[3:] > 0.9)  # every long-finger joint curled towards the palm
    spread = np.zeros((16, 3))
    spread[4, 1] = 0.3  # index towards the thumb
    spread[13, 1] = -0.3  # little finger away from it
    a = joint_angles(_keypoints(model, spread), left=False)
    assert a.abduction[1] == pytest.approx(0.3, abs=0.05) and a.abduction[4] == pytest.approx(-0.3, abs=0.05)
    # an index finger moved towards the thumb really moves its tip towards the thumb
    rest_tip = _keypoints(model, np.zeros((16, 3)))[8]
    moved_tip = _keypoints(model, spread)[8]
    thumb = _keypoints(model, np.zeros((16, 3)))[4]
    assert np.linalg.norm(moved_tip - thumb) < np.linalg.norm(rest_tip - thumb)


def test_left_hand_is_the_mirror_of_the_right(model) -> None:
    rng = np.random.default_rng(11)
    pose = model.sample_pose(rng, kind="grasp")
    right = joint_angles(_keypoints(model, pose), left=False)
    left = joint_angles(_keypoints(model, pose, left=True), left=True)
    np.testing.assert_allclose(left.flexion, right.flexion, atol=1e-6)
    np.testing.assert_allclose(left.abduction, right.abduction, atol=1e-6)
    # and treating a left hand as a right one gives other (wrong-signed) angles
    wrong = joint_angles(_keypoints(model, pose, left=True), left=False)
    assert np.abs(wrong.flexion - right.flexion).max() > 0.5


def test_degenerate_keypoints_give_nan() -> None:
    a = joint_angles(np.zeros((21, 3)), left=False)
    assert np.all(np.isnan(a.flexion)) and np.all(np.isnan(a.abduction))
    j = REST_KEYPOINTS.copy()
    j[3] = np.nan
    a = joint_angles(j, left=False)
    assert np.all(np.isnan(a.flexion))

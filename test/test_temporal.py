"""Temporal layer without DDS: the One-Euro filter, HandTracks (tracking + smoothing + primaries) on
hands posed with the real hand model, and the dex-retargeting wrapper (when installed)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from handos_model.hand.hand_model import load_hand_model
from handos_model.prediction import HandPrediction
from handos_ros.hand_tracks import HandTracks, TrackingConfig
from handos_ros.one_euro import OneEuroFilter, OneEuroParams, smoothing_factor
from handos_ros.tracking import LEFT, RIGHT

K = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])


# ---------------------------------------------------------------- One-Euro filter
def test_one_euro_is_a_first_order_lowpass_at_min_cutoff_when_beta_is_zero() -> None:
    f = OneEuroFilter(OneEuroParams(min_cutoff=2.0, beta=0.0, d_cutoff=1.0))
    dt = 1 / 30
    assert f(np.zeros((1, 3)), 0.0).tolist() == [[0.0, 0.0, 0.0]]  # first sample passes through
    y = f(np.ones((1, 3)), dt)
    alpha = 1.0 / (1.0 + 1.0 / (2 * math.pi * 2.0 * dt))
    assert y == pytest.approx(np.full((1, 3), alpha)) and smoothing_factor(2.0, dt) == pytest.approx(alpha)
    for k in range(2, 200):  # a step converges to the input
        y = f(np.ones((1, 3)), k * dt)
    assert y == pytest.approx(np.ones((1, 3)), abs=1e-6)


def test_one_euro_cuts_jitter_of_a_still_point_and_follows_a_fast_one() -> None:
    rng = np.random.default_rng(0)
    dt, n = 1 / 30, 300
    noise = rng.normal(0, 0.002, (n, 1, 3))  # 2 mm of white jitter
    still = OneEuroFilter(OneEuroParams(1.0, 10.0, 1.0))
    out = np.stack([still(noise[k], k * dt) for k in range(n)])
    cut = np.diff(noise[50:], axis=0).std() / np.diff(out[50:], axis=0).std()
    assert cut > 3.0
    # a point moving at 1 m/s: the speed raises the cutoff, the lag stays well under a frame...
    fast = OneEuroFilter(OneEuroParams(1.0, 10.0, 1.0))
    slow = OneEuroFilter(OneEuroParams(1.0, 0.0, 1.0))
    x = [np.array([[k * dt * 1.0, 0.0, 0.0]]) for k in range(n)]
    lag_fast = np.mean([x[k][0, 0] - fast(x[k], k * dt)[0, 0] for k in range(n)][100:]) / (dt * 1.0)
    lag_slow = np.mean([x[k][0, 0] - slow(x[k], k * dt)[0, 0] for k in range(n)][100:]) / (dt * 1.0)
    assert lag_fast < 0.5 < 3.0 < lag_slow  # ... while without beta it lags by frames


def test_one_euro_restarts_on_time_not_advancing_shape_change_and_nan() -> None:
    f = OneEuroFilter(OneEuroParams(1.0, 0.0, 1.0))
    f(np.zeros((2, 2)), 0.0)
    assert f(np.ones((2, 2)), 0.0).tolist() == np.ones((2, 2)).tolist()  # same stamp: restart at the input
    assert f(np.full((3, 2), 5.0), 1.0).tolist() == np.full((3, 2), 5.0).tolist()  # new shape
    bad = np.full((3, 2), np.nan)
    assert np.isnan(f(bad, 2.0)).all() and f(np.zeros((3, 2)), 3.0).tolist() == np.zeros((3, 2)).tolist()
    # per-point cutoff: a moving point does not speed up a still one's filter
    g = OneEuroFilter(OneEuroParams(1.0, 100.0, 1.0))
    g(np.zeros((2, 1)), 0.0)
    y = g(np.array([[1.0], [0.01]]), 0.1)
    assert y[0, 0] > 0.99 and y[1, 0] < 0.0085  # one shared cutoff would pass the small step through (0.0099)


# ---------------------------------------------------------------- HandTracks on posed hands
@pytest.fixture(scope="module")
def hand_model():
    return load_hand_model("open")


def _prediction(model, side: int, centre: np.ndarray, rng: np.random.Generator, jitter: float = 0.0,
                pose: np.ndarray | None = None) -> HandPrediction:
    """A hand of the real hand model at ``centre`` (metres), projected with K, plus jitter (metres)."""
    v, j = model.forward_numpy(np.zeros((16, 3)) if pose is None else pose)
    if side == LEFT:
        v, j = model.mirror_left(v), model.mirror_left(j)
    R = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # palm towards the camera, fingers up
    t = np.asarray(centre, np.float64) + rng.normal(0, jitter, 3)
    j3 = j @ R.T + t + rng.normal(0, jitter, (21, 3))
    v3 = v @ R.T + t
    uv = j3 @ K.T
    j2 = uv[:, :2] / uv[:, 2:]
    box = np.concatenate([j2.min(0) - 10, j2.max(0) + 10])
    return HandPrediction(score=0.8, box=box.astype(np.float32), joints_2d=j2.astype(np.float32),
                          joints_2d_proj=j2.astype(np.float32), joints_3d=j3.astype(np.float32),
                          vertices=v3.astype(np.float32), cam_t=t.astype(np.float32), side=side, side_confidence=0.8)


def test_smoothing_cuts_the_jitter_of_a_still_hand_and_off_passes_through(hand_model) -> None:
    rng = np.random.default_rng(1)
    preds = [_prediction(hand_model, RIGHT, np.array([0.0, 0.0, 0.5]), rng, jitter=0.003) for _ in range(60)]
    on, off = HandTracks(TrackingConfig()), HandTracks(TrackingConfig(smoothing=False))
    smooth = [on.update([p], k / 30, K)[0] for k, p in enumerate(preds)]
    raw = [off.update([p], k / 30, K)[0] for k, p in enumerate(preds)]
    assert len({h.track_id for h in smooth}) == 1 and all(h.primary for h in smooth)
    for a, p in zip(raw, preds, strict=True):
        assert np.array_equal(a.prediction.joints_3d, p.joints_3d)
    d_raw = np.diff(np.stack([p.joints_3d for p in preds])[10:], axis=0).std()
    d_on = np.diff(np.stack([h.prediction.joints_3d for h in smooth])[10:], axis=0).std()
    assert d_raw / d_on > 3.0
    v = smooth[-1].prediction
    # vertices and joints move together: the filtered mesh still contains the filtered joints' hand
    assert np.abs(v.vertices.mean(0) - v.joints_3d.mean(0)).max() < 0.05


def test_filter_restarts_when_a_track_changes_side_and_primaries_per_side(hand_model) -> None:
    rng = np.random.default_rng(2)
    tracks = HandTracks(TrackingConfig(side_frames=2))
    centre_r, centre_l = np.array([-0.15, 0.0, 0.6]), np.array([0.15, 0.0, 0.6])
    for k in range(5):
        hands = tracks.update([_prediction(hand_model, RIGHT, centre_r, rng), _prediction(hand_model, LEFT, centre_l, rng)],
                              k / 10, K)
    ids = {h.side: h.track_id for h in hands}
    assert {h.side for h in hands if h.primary} == {LEFT, RIGHT} and len(set(ids.values())) == 2
    # the right hand is now seen as a left one: one frame is not enough (hysteresis) ...
    flipped = _prediction(hand_model, LEFT, centre_r, rng)
    hands = tracks.update([flipped, _prediction(hand_model, LEFT, centre_l, rng)], 0.5, K)
    assert hands[0].track_id == ids[RIGHT] and hands[0].side == RIGHT
    # ... the second one flips the track: the filter restarts at the new (mirrored) mesh
    hands = tracks.update([flipped, _prediction(hand_model, LEFT, centre_l, rng)], 0.6, K)
    assert hands[0].track_id == ids[RIGHT] and hands[0].side == LEFT
    assert np.array_equal(hands[0].prediction.vertices, flipped.vertices)
    assert [h.primary for h in hands] == [False, True]  # the other left hand stays the operator's left
    assert tracks.primary[RIGHT] is None


# ---------------------------------------------------------------- dex-retargeting wrapper
def test_retargeting_a_fist_flexes_the_robot_fingers(hand_model) -> None:
    from ros_isolation import REPO_ROOT

    from handos_ros import dex_retarget

    robots = REPO_ROOT.parent / "shared" / "robots"
    if not dex_retarget.available():
        pytest.skip("dex-retargeting not installed (pip install -r requirements-retarget.txt)")
    if not (robots / "allegro_hand").is_dir():
        pytest.skip(f"robot URDFs not found: {robots}/allegro_hand")
    fist = np.zeros((16, 3))
    for base in (4, 7, 10, 13):
        fist[base:base + 3, 0] = (1.2, 1.5, 1.0)
    rng = np.random.default_rng(3)
    for side in (RIGHT, LEFT):
        r = dex_retarget.build(robots, "right" if side == RIGHT else "left")
        names = r.joint_names
        bend = [names.index(f"joint_{i}.0") for i in (1, 2, 3, 5, 6, 7, 9, 10, 11)]  # Allegro finger flexion
        out = {}
        for name, pose in (("flat", np.zeros((16, 3))), ("fist", fist)):
            r.reset()
            p = _prediction(hand_model, side, np.array([0.0, 0.0, 0.5]), rng, pose=pose)
            for _ in range(20):  # dex-retargeting's own low-pass filter settles
                q = r(p.joints_3d)
            assert q is not None and np.all(np.isfinite(q)) and len(q) == len(names) == 16
            out[name] = q
        assert np.abs(out["flat"][bend]).max() < 0.3, out["flat"][bend]
        assert out["fist"][bend].mean() > 0.8, out["fist"][bend]
    assert dex_retarget.mano_frame_keypoints(np.zeros((21, 3)), "right") is None
    degenerate = replace(p, joints_3d=np.zeros((21, 3), np.float32))
    assert r(degenerate.joints_3d) is None


def test_filter_defaults_are_the_node_defaults() -> None:
    """bench/smoothing.py measures OneEuroParams(); the node must start with the same constants."""
    pytest.importorskip("rcl_interfaces", reason="ROS messages not on the path (run `make test`)")
    from handos_ros.parameters import SPEC_BY_NAME

    p = OneEuroParams()
    node = (SPEC_BY_NAME[f"smoothing_{k}"].default for k in ("min_cutoff", "beta", "d_cutoff"))
    assert (p.min_cutoff, p.beta, p.d_cutoff) == tuple(node)
    assert TrackingConfig().filter == p and TrackingConfig().side_frames == SPEC_BY_NAME["track_side_frames"].default


def test_one_place_holds_one_operator_hand(hand_model) -> None:
    """A hand the model is unsure of, seen as a left and a right hand in the same place: one primary."""
    rng = np.random.default_rng(4)
    tracks = HandTracks(TrackingConfig())
    centre = np.array([0.0, 0.0, 0.5])
    right = _prediction(hand_model, RIGHT, centre, rng)
    left = replace(_prediction(hand_model, LEFT, centre, rng), score=0.5, box=right.box.copy())  # a duplicate box
    hands = tracks.update([right, left], 0.0, K)
    assert {h.side for h in hands} == {LEFT, RIGHT}
    assert [h.primary for h in hands] == [True, False]
    far = _prediction(hand_model, LEFT, np.array([0.25, 0.0, 0.5]), rng)  # elsewhere: both are operator hands
    hands = tracks.update([right, far], 0.1, K)
    assert all(h.primary for h in hands)

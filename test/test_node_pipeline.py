"""Proof of life and outputs of a running handos_node (own process, real DDS on loopback).

One node process serves the whole module (loading the model costs 10-30 s on 2 cores); the
test process publishes rendered synthetic frames + camera_info and checks every output.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from node_harness import Client, NodeProcess, have_weights, synthetic_frames

pytestmark = pytest.mark.ros

FRAME_ID = "test_camera_optical_frame"
# Accuracy of the shipped model on easy single-hand synthetic frames (HandOS-2D joints), errors
# relative to the ground-truth box size (PCK convention: max(w, h)).
# Proof of life (must hold): the hand is found and the joints beat a predictor that puts every
# joint at the ground-truth box centre by at least this factor, i.e. the pose is read from the
# image, not a box-centred template.
MAX_ERR_VS_BOX_CENTRE = 0.85
# ... and the wrist (the TF frame's origin) is at a sensible depth: median |z - z_gt| / z_gt below
# this (held-out easy set: 14%; the weights before the 3D-head fix were off by a factor of 60).
MAX_WRIST_DEPTH_REL = 0.35
# Issue #6's accuracy target (the shipped default: 6.8% and 11 of 12 sides, README "Default model").
MAX_ERR_BOX_FRACTION = 0.08
MIN_SIDE_ACCURACY = 0.9


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    log = tmp_path_factory.mktemp("pipeline") / "handos_node.log"
    proc = NodeProcess(log, params={"publish_debug_image": True})
    client = Client(ctx)
    try:
        client.wait_ready(proc)
        frames = synthetic_frames(3, seed=11, easy=True)
        yield proc, client, frames
    finally:
        client.shutdown()
        proc.stop()
        rclpy.shutdown(context=ctx)
    print(f"node log: {log}")


def _stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def test_proof_of_life_same_header_and_consistent_meshes(running):
    from handos_ros.msg import HandMesh

    proc, client, frames = running
    header, out = client.process(frames[0], FRAME_ID)
    assert out is not None, f"no HandMeshArray for the frame:\n{proc.log()[-3000:]}"
    assert out.header.frame_id == FRAME_ID and _stamp_ns(out.header) == _stamp_ns(header)
    info = client.infos[-1]
    assert info.num_vertices > 0 and len(info.faces) % 3 == 0 and len(info.joint_names) == 21
    assert info.weights and info.device.startswith(("cpu", "cuda"))
    ids = [h.id for h in out.hands]
    assert len(ids) == len(set(ids)) and len(ids) <= info.max_hands
    h, w = frames[0].image.shape[:2]
    for hand in out.hands:
        assert len(hand.vertices) == 3 * info.num_vertices
        assert 0.0 <= hand.score <= 1.0 and 0.5 <= hand.side_confidence <= 1.0
        assert hand.side in (HandMesh.LEFT, HandMesh.RIGHT) and hand.side_observed in (HandMesh.LEFT, HandMesh.RIGHT)
        assert len(hand.flexion) == 15 and len(hand.abduction) == 5
        box = np.asarray(hand.box)
        assert np.all(np.isfinite(box)) and box[2] >= box[0] and box[3] >= box[1]
        j3 = np.asarray(hand.joints_3d).reshape(21, 3)
        p = hand.wrist_pose.position
        assert (p.x, p.y, p.z) == pytest.approx(tuple(j3[0].tolist()), abs=1e-5)
        q = hand.wrist_pose.orientation
        assert q.x**2 + q.y**2 + q.z**2 + q.w**2 == pytest.approx(1.0, abs=1e-5)
        # HandOS-proj is the projection of joints_3d with the camera_info's K
        uv = j3 @ frames[0].K.T
        proj = uv[:, :2] / uv[:, 2:3]
        assert np.allclose(np.asarray(hand.joints_2d_proj).reshape(21, 2), proj, atol=0.5 + 1e-3 * max(h, w))


def test_tf_operator_hands_at_the_wrist(running):
    """/tf carries handos_node/left and handos_node/right (the default prefix: the node's name) at the
    wrists of the primary hands, parented to the image frame."""
    from handos_ros.msg import HandMesh

    _, client, frames = running
    header, out = client.process(frames[1], FRAME_ID)
    assert out is not None
    primaries = {h.side: h for h in out.hands if h.primary and h.wrist_pose_valid}
    assert primaries, "the easy frame's hand is an operator hand"
    assert len([h for h in out.hands if h.primary]) == len({h.side for h in out.hands if h.primary})  # one per side

    def tf_for_stamp() -> list:
        return [t for m in client.tf for t in m.transforms if t.header.stamp == header.stamp]

    assert client.spin_until(lambda: len(tf_for_stamp()) >= len(primaries), 10.0)
    client.spin_for(0.3)
    transforms = {t.child_frame_id: t for t in tf_for_stamp()}
    names = {HandMesh.LEFT: "handos_node/left", HandMesh.RIGHT: "handos_node/right"}
    assert set(transforms) == {names[side] for side in primaries}  # no per-track frames by default
    for side, hand in primaries.items():
        t = transforms[names[side]]
        assert t.header.frame_id == FRAME_ID
        tr, p = t.transform.translation, hand.wrist_pose.position
        assert (tr.x, tr.y, tr.z) == pytest.approx((p.x, p.y, p.z), abs=1e-6)
        r, q = t.transform.rotation, hand.wrist_pose.orientation
        assert (r.x, r.y, r.z, r.w) == pytest.approx((q.x, q.y, q.z, q.w), abs=1e-6)


def test_markers_well_formed_and_cleared_when_hands_vanish(running):
    from visualization_msgs.msg import Marker

    _, client, frames = running
    header, out = client.process(frames[2], FRAME_ID)
    assert out is not None
    # an easy single-hand frame: the shipped model finds it in every frame of bench/easy_frames.py
    assert out.hands, "the model found no hand in an easy frame: nothing to draw"

    def markers_for(h) -> list:
        return [m for arr in client.markers for m in arr.markers if m.header.stamp == h.stamp]

    assert client.spin_until(lambda: bool(markers_for(header)), 10.0)
    markers = markers_for(header)
    by_ns: dict[str, list] = {}
    for m in markers:
        assert m.header.frame_id == FRAME_ID
        by_ns.setdefault(m.ns, []).append(m)
        if m.action == Marker.ADD:
            assert m.color.a > 0.0
    ids = {h.id for h in out.hands}
    for ns, kind in (("mesh", Marker.TRIANGLE_LIST), ("skeleton", Marker.LINE_LIST), ("joints", Marker.SPHERE_LIST), ("label", Marker.TEXT_VIEW_FACING)):
        added = [m for m in by_ns[ns] if m.action == Marker.ADD]
        assert {m.id for m in added} == ids and all(m.type == kind for m in added)
    for m in by_ns["mesh"]:
        if m.action == Marker.ADD:
            assert len(m.points) > 0 and len(m.points) % 3 == 0
    # hands vanish (score threshold 1.0): the next array deletes every drawn marker
    assert all(r.successful for r in client.set_params(score_threshold=1.0))
    try:
        header2, out2 = client.process(frames[2], FRAME_ID)
        assert out2 is not None and len(out2.hands) == 0
        assert client.spin_until(lambda: bool(markers_for(header2)), 10.0)
        deleted = {(m.ns, m.id) for m in markers_for(header2) if m.action == Marker.DELETE}
        assert deleted == {(ns, i) for ns in ("mesh", "skeleton", "joints", "label") for i in ids}
    finally:
        client.set_params(score_threshold=0.3)


def test_runtime_parameters_change_output_and_invalid_values_are_rejected(running):
    proc, client, frames = running
    # invalid values: rejected with a reason, the node keeps its old value
    for bad in ({"score_threshold": -1.0}, {"nms_threshold": 2.0}, {"max_hands": 0}, {"score_threshold": float("nan")},
                {"device": "cpu"}, {"use_compressed": True}, {"score_threshold": "high"}):
        (result,) = client.set_params(**bad)
        assert not result.successful, bad
        assert result.reason, bad
    assert proc.alive()
    # a valid change takes effect on the next frame, and mesh_info is republished
    n_info = len(client.infos)
    assert all(r.successful for r in client.set_params(score_threshold=1.0))
    try:
        assert client.spin_until(lambda: len(client.infos) > n_info, 10.0), "mesh_info not republished"
        assert client.infos[-1].score_threshold == pytest.approx(1.0)
        for sample in frames[:2]:
            _, out = client.process(sample, FRAME_ID)
            assert out is not None and len(out.hands) == 0
        # enable:=false: frames are ignored while the node stays alive
        assert all(r.successful for r in client.set_params(enable=False))
        header = client.header(FRAME_ID)
        client.send_frame(frames[0], header)
        assert client.result_for(header, timeout=4.0) is None
    finally:
        assert all(r.successful for r in client.set_params(score_threshold=0.3, enable=True))
    _, out = client.process(frames[0], FRAME_ID)
    assert out is not None
    assert client.infos[-1].score_threshold == pytest.approx(0.3)


def test_debug_image_copies_the_header_and_size(running):
    _, client, frames = running
    header, out = client.process(frames[0], FRAME_ID)
    assert out is not None
    assert client.spin_until(lambda: any(m.header.stamp == header.stamp for m in client.debug_images), 10.0)
    img = next(m for m in client.debug_images if m.header.stamp == header.stamp)
    h, w = frames[0].image.shape[:2]
    assert (img.height, img.width, img.encoding, img.header.frame_id) == (h, w, "rgb8", FRAME_ID)
    pixels = np.frombuffer(img.data, np.uint8).reshape(h, w, 3)
    if out.hands:  # something was drawn over the input
        assert np.any(pixels != frames[0].image)


def test_diagnostics_report_rates_latency_and_counters(running):
    _, client, frames = running
    client.process(frames[1], FRAME_ID)
    kv = client.latest_diagnostics(fresh_after=time.monotonic(), timeout=5.0)
    assert kv, "no /diagnostics pipeline status"
    for key in ("input rate (Hz)", "processed rate (Hz)", "latency p50 (ms)", "latency max (ms)", "stamp age p50 (ms)",
                "dropped (stale)", "rejected total", "device", "model", "overhead p50 (ms)"):
        assert key in kv, key
    assert int(kv["processed"]) >= 1 and int(kv["received"]) >= int(kv["processed"])
    assert kv["device"].startswith("cpu") or kv["device"].startswith("cuda")
    if "UNTRAINED" in kv["model"]:
        assert kv["level"] == "2" and "UNTRAINED" in kv["message"]


@pytest.mark.skipif(not have_weights(), reason="the embedded default weights (handos_model.DEFAULT_WEIGHTS) are not present")
def test_empty_array_when_no_hand(running):
    _, client, frames = running
    blank = type(frames[0])(image=np.full_like(frames[0].image, 127), K=frames[0].K)
    header, out = client.process(blank, FRAME_ID)
    assert out is not None and _stamp_ns(out.header) == _stamp_ns(header)
    assert len(out.hands) == 0


# Two easy camera streams, one hand each: a right hand (seed 2024) and a left hand (seed 2026),
# so "side right" cannot be met by a model that always answers one side.
EASY_STREAMS = (2024, 2026)


@pytest.fixture(scope="module")
def easy_results(running) -> tuple[int, int, list]:
    """Run 6 frames of each easy single-hand stream through the node, once for the module's two
    accuracy tests: (hands found, frames, matches)."""
    from handos_ros.gt_compare import compare
    from handos_ros.synthetic_camera import ground_truth_msg

    client = running[1]

    samples = [f for seed in EASY_STREAMS for f in synthetic_frames(6, seed=seed, easy=True)]
    assert {int(f.hands[0].side) for f in samples} == {0, 1}, "the easy streams must hold a left and a right hand"
    matches, found = [], 0
    for sample in samples:
        header, out = client.process(sample, FRAME_ID)
        assert out is not None
        assert _stamp_ns(out.header) == _stamp_ns(header) and out.header.frame_id == FRAME_ID
        cmp = compare(list(out.hands), list(ground_truth_msg(header, sample).hands))
        found += len(cmp.matches)
        matches += cmp.matches
    err = np.mean([m.err_rel for m in matches]) if matches else float("nan")
    proj = np.mean([m.proj_err_rel for m in matches]) if matches else float("nan")
    base = np.mean([m.centre_err_rel for m in matches]) if matches else float("nan")
    side = np.mean([m.side_ok for m in matches]) if matches else float("nan")
    depth = np.median([m.wrist_depth_rel for m in matches]) if matches else float("nan")
    print(f"easy frames: {found}/{len(samples)} hands found, mean 2D error {100 * err:.1f}% of box "
          f"(joints_2d_proj {100 * proj:.1f}%, box-centre predictor {100 * base:.1f}%), side accuracy {side:.2f}, "
          f"median wrist depth error {100 * depth:.0f}%")
    return found, len(samples), matches


@pytest.mark.skipif(not have_weights(), reason="the embedded default weights (handos_model.DEFAULT_WEIGHTS) are not present")
def test_shipped_model_proof_of_life_on_easy_frames(easy_results):
    """Embedded model, easy single-hand frames: >= 90 % of hands found, same stamp/frame_id, the
    2D joints beat the every-joint-at-the-box-centre predictor by the stated factor, and the
    wrist depth is within the stated fraction of the truth."""
    found, n, matches = easy_results
    assert found >= 0.9 * n, f"only {found} of {n} hands found"
    err = np.mean([m.err_rel for m in matches])
    base = np.mean([m.centre_err_rel for m in matches])
    assert err < MAX_ERR_VS_BOX_CENTRE * base, f"2D error {err:.3f} of box vs box-centre predictor {base:.3f}"
    depth = np.median([m.wrist_depth_rel for m in matches])
    assert depth < MAX_WRIST_DEPTH_REL, f"median wrist depth error {depth:.2f} of the true depth"


@pytest.mark.skipif(not have_weights(), reason="the embedded default weights (handos_model.DEFAULT_WEIGHTS) are not present")
def test_shipped_model_meets_the_accuracy_target_on_easy_frames(easy_results):
    """Embedded model, easy single-hand frames (a right-hand and a left-hand stream): mean 2D error
    of ``joints_2d`` < 8 % of the box size, side right on >= 90 % (issue #6's acceptance)."""
    found, n, matches = easy_results
    assert found >= 0.9 * n
    assert np.mean([m.err_rel for m in matches]) < MAX_ERR_BOX_FRACTION
    assert np.mean([m.side_ok for m in matches]) >= MIN_SIDE_ACCURACY

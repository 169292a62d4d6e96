"""The operator's hands over DDS: a running handos_node (own process, real model, loopback DDS).

- two easy hands that cross in front of the camera keep their ids and their sides, and the
  per-side TF frames and wrist poses follow the right hands;
- two nodes in two namespaces publish disjoint TF frames (the default prefix comes from the
  node's name), per-track frames only when asked for;
- the retargeting node (dex-retargeting, optional) fed by the running node publishes finite
  joint positions for every processed frame with the operator's right hand.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from node_harness import FRAME_TIMEOUT, Client, NodeProcess, have_weights, synthetic_frames
from ros_isolation import REPO_ROOT

pytestmark = [pytest.mark.ros,
              pytest.mark.skipif(not have_weights(), reason="the embedded default weights (handos_model.DEFAULT_WEIGHTS) are not present")]

FRAME_ID = "operator_camera_optical_frame"
# An easy stream of two hands crossing twice (SyntheticCamera motion="cross", half period 1.5 s),
# fed as a 5 Hz camera; its seed is one where the shipped model sees both sides (checked below:
# the tracker's side hysteresis follows a hand whose side the model flips for several frames, and
# the test is about the node keeping ids and frames, not about the model's side). The session-14
# model sees 100% of the sides on seeds 1, 2, 5 and 9 of 0-9, 85% on seed 3 (used until then, with
# a precondition of 70%: four consecutive flips of the right hand moved its primary to a duplicate
# box), under 65% on seeds 0, 4 and 7.
CROSS_SEED, FPS, FRAMES = 5, 5.0, 16
MIN_SIDE_SEEN = 0.9
ROBOTS = REPO_ROOT.parent / "shared" / "robots"


@pytest.fixture(scope="module")
def ctx():
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    yield context
    rclpy.shutdown(context=context)


def _start(ctx, tmp_path_factory, namespace: str):
    log = tmp_path_factory.mktemp(namespace.strip("/")) / "handos_node.log"
    proc = NodeProcess(log, extra_ros_args=["-r", f"__ns:={namespace}"])
    client = Client(ctx, namespace=namespace)
    return proc, client


@pytest.fixture(scope="module")
def cam1(ctx, tmp_path_factory):
    from geometry_msgs.msg import PoseStamped

    from handos_ros.qos import RESULT_QOS

    proc, client = _start(ctx, tmp_path_factory, "/cam1")
    client.wrists = {"left": [], "right": []}
    for side, got in client.wrists.items():
        client.node.create_subscription(PoseStamped, f"hands/{side}/wrist", got.append, RESULT_QOS)
    try:
        client.wait_ready(proc)
        yield proc, client
    finally:
        client.shutdown()
        proc.stop()


def _ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def _run_stream(client, frames, fps: float) -> list:
    """Send ``frames`` as a camera at ``fps`` (stamps 1/fps apart), one at a time; the outputs."""
    base = int(time.time() * 1e9)
    outs = []
    for k, sample in enumerate(frames):
        header = client.header(FRAME_ID, stamp_ns=base + int(k * 1e9 / fps))
        out = None
        for _ in range(2):  # best effort: a lost image is sent again with the same stamp
            client.send_frame(sample, header)
            out = client.result_for(header, timeout=FRAME_TIMEOUT)
            if out is not None:
                break
        assert out is not None, f"no HandMeshArray for frame {k}"
        outs.append(out)
    return outs


def _project(K: np.ndarray, p) -> np.ndarray:
    uvw = K @ np.array([p.x, p.y, p.z])
    return uvw[:2] / uvw[2]


def test_crossing_hands_keep_ids_and_sides_and_side_frames_follow_them(cam1):
    from handos_ros.msg import HandMesh

    from handos_model.synth.camera_stream import SyntheticCamera
    from handos_ros.tracking import box_iou

    proc, client = cam1
    cam = SyntheticCamera(CROSS_SEED, width=640, height=480, num_hands=2, fps=FPS, easy=True, motion="cross")
    frames = [cam.next() for _ in range(FRAMES)]
    outs = _run_stream(client, frames, FPS)
    client.spin_for(0.5)
    sides = {HandMesh.LEFT: 0, HandMesh.RIGHT: 1}  # message side -> the ground truth's
    names = {HandMesh.LEFT: "cam1/handos_node/left", HandMesh.RIGHT: "cam1/handos_node/right"}
    assert (client.infos[-1].left_frame, client.infos[-1].right_frame) == tuple(names.values())

    primary_ids: dict[int, list[int]] = {HandMesh.LEFT: [], HandMesh.RIGHT: []}
    seen_ok, seen, followed = 0, 0, 0
    for sample, out in zip(frames, outs, strict=True):
        truth = {h.side: h for h in sample.hands}
        apart = box_iou(truth[0].box[None], truth[1].box[None])[0, 0] == 0.0
        prim = {h.side: h for h in out.hands if h.primary}
        assert len(prim) == len([h for h in out.hands if h.primary]), "one primary hand per side"
        for side, hand in prim.items():
            primary_ids[side].append(hand.id)
        # the model's own per-frame side, on hands that clearly overlap one true hand
        for hand in out.hands:
            for true_side, t in truth.items():
                if apart and box_iou(np.asarray(hand.box)[None], t.box[None])[0, 0] > 0.5:
                    seen += 1
                    seen_ok += sides[hand.side_observed] == true_side
        # TF for this stamp: exactly the valid primaries, at their wrists, under the image frame
        tf = {t.child_frame_id: t for m in client.tf for t in m.transforms if _ns(t.header) == _ns(out.header)}
        assert set(tf) == {names[s] for s, h in prim.items() if h.wrist_pose_valid}, (set(tf), list(prim))
        for side, hand in prim.items():
            if not hand.wrist_pose_valid:
                continue
            t = tf[names[side]]
            assert t.header.frame_id == FRAME_ID
            tr, p = t.transform.translation, hand.wrist_pose.position
            assert (tr.x, tr.y, tr.z) == pytest.approx((p.x, p.y, p.z), abs=1e-6)
            side_name = "left" if side == HandMesh.LEFT else "right"
            poses = [w for w in client.wrists[side_name] if _ns(w.header) == _ns(out.header)]
            assert len(poses) == 1 and poses[0].pose.position == p and poses[0].header.frame_id == FRAME_ID
            if apart:  # the side's frame sits on that side's true hand, not on the other one
                uv = _project(sample.K, tr)
                own = np.linalg.norm(uv - truth[sides[side]].joints_2d[0])
                other = np.linalg.norm(uv - truth[1 - sides[side]].joints_2d[0])
                assert own < other, f"{side_name} frame at {uv.round()}: {own:.0f} px from its hand, {other:.0f} from the other"
                followed += 1
    assert seen and seen_ok / seen >= MIN_SIDE_SEEN, (
        f"precondition: the model sees the true side on {seen_ok}/{seen} hands of this stream "
        f"(needs {MIN_SIDE_SEEN:.0%}); a model change may need another CROSS_SEED")
    for side, ids in primary_ids.items():
        assert len(ids) >= FRAMES * 0.7, f"side {side}: operator hand in only {len(ids)} of {FRAMES} frames"
        assert len(set(ids)) == 1, f"side {side}: the operator's hand changed id: {ids}"
    left_id, right_id = primary_ids[HandMesh.LEFT][0], primary_ids[HandMesh.RIGHT][0]
    assert left_id != right_id
    for out in outs:  # both tracks keep their sides through the crossings
        for hand in out.hands:
            if hand.id == left_id:
                assert hand.side == HandMesh.LEFT
            if hand.id == right_id:
                assert hand.side == HandMesh.RIGHT
    assert followed >= 8, f"only {followed} frames with the hands apart were checked"
    print(f"crossing: ids left {left_id} right {right_id}, side seen {seen_ok}/{seen}, {followed} frame checks")


def test_two_namespaces_publish_disjoint_frames(cam1, ctx, tmp_path_factory):
    _, client1 = cam1
    proc2, client2 = _start(ctx, tmp_path_factory, "/cam2")
    try:
        client2.wait_ready(proc2)
        assert client2.infos[-1].left_frame == "cam2/handos_node/left"
        sample = synthetic_frames(1, seed=2024, easy=True)[0]
        frames: dict[str, set[str]] = {}
        for name, client in (("cam1", client1), ("cam2", client2)):
            header, out = client.process(sample, FRAME_ID)
            assert out is not None and any(h.primary for h in out.hands), f"{name}: no operator hand"
            client.spin_until(lambda c=client, h=header: any(_ns(t.header) == _ns(h) for m in c.tf for t in m.transforms), 10.0)
            client.spin_for(0.3)
            frames[name] = {t.child_frame_id for m in client.tf for t in m.transforms if _ns(t.header) == _ns(header)}
        assert frames["cam1"] and frames["cam2"] and not frames["cam1"] & frames["cam2"], frames
        assert all(f.startswith("cam1/handos_node/") for f in frames["cam1"])
        assert all(f.startswith("cam2/handos_node/") for f in frames["cam2"])
        # per-track frames only when asked for (run-time parameter)
        assert all(r.successful for r in client2.set_params(publish_track_tf=True))
        header, out = client2.process(sample, FRAME_ID)
        assert out is not None
        client2.spin_for(0.5)
        got = {t.child_frame_id for m in client2.tf for t in m.transforms if _ns(t.header) == _ns(header)}
        assert {f"cam2/handos_node/track_{h.id}" for h in out.hands if h.wrist_pose_valid} <= got
    finally:
        client2.shutdown()
        proc2.stop()


def _retarget_skip_reason() -> str | None:
    from handos_ros import dex_retarget

    if not dex_retarget.available():
        return "dex-retargeting not installed (pip install dex-retargeting==0.5.0 pin nlopt six)"
    if not (ROBOTS / "allegro_hand" / "allegro_hand_right.urdf").is_file():
        return f"robot URDFs not found: {ROBOTS}/allegro_hand (the shared/robots folder beside the repository)"
    return None


def test_retargeting_node_fed_by_the_running_node(cam1, tmp_path):
    reason = _retarget_skip_reason()
    if reason:
        pytest.skip(reason)
    from handos_ros.msg import HandMesh
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    _, client = cam1
    states: list = []
    client.node.create_subscription(JointState, "retarget/joint_states", states.append,
                                    QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    log = open(tmp_path / "retarget.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-u", "-m", "handos_ros.retarget", "--ros-args", "-r", "__ns:=/cam1",
                             "-p", f"urdf_dir:={ROBOTS}", "-p", "side:=right"],
                            cwd=str(REPO_ROOT.parent), stdout=log, stderr=subprocess.STDOUT)
    try:
        sub_ready = client.spin_until(lambda: client.node.count_publishers("/cam1/retarget/joint_states") > 0, 60.0)
        assert sub_ready, (tmp_path / "retarget.log").read_text()
        assert client.spin_until(lambda: client.node.count_subscribers("/cam1/hands/meshes") >= 2, 30.0)
        outs = _run_stream(client, synthetic_frames(6, seed=2024, easy=True, scene_fps=5.0), 5.0)
        with_hand = [o for o in outs if any(h.primary and h.side == HandMesh.RIGHT and h.wrist_pose_valid for h in o.hands)]
        assert len(with_hand) >= 4, "the easy right-hand stream should show the operator's right hand"

        def state_for(o):
            return [s for s in states if _ns(s.header) == _ns(o.header)]

        assert client.spin_until(lambda: all(state_for(o) for o in with_hand), 20.0), (
            f"{sum(bool(state_for(o)) for o in with_hand)} of {len(with_hand)} frames retargeted:\n"
            + (tmp_path / "retarget.log").read_text()[-2000:])
        for o in with_hand:
            (js,) = state_for(o)
            assert len(js.name) == len(js.position) == 16 and js.header.frame_id == FRAME_ID
            assert np.all(np.isfinite(js.position))
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()

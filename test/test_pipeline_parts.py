"""The node's building blocks without DDS: tracker, camera_info pairing, markers, mailbox, stats."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip("handos_ros.msg", reason="colcon-built package not on the path (run `make test`)")

from handos_ros.msg import HandMesh  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from handos_model.hand.hand_model import load_hand_model  # noqa: E402
from handos_model.hand.topology import SKELETON_PARENTS  # noqa: E402
from handos_ros import camera_info as ci  # noqa: E402
from handos_ros.log_throttle import ThrottledLogger  # noqa: E402
from handos_ros.mailbox import LatestMailbox  # noqa: E402
from handos_ros.markers import HandMarkers  # noqa: E402
from handos_ros.pipeline_stats import PipelineStats  # noqa: E402
from handos_ros.tracking import HandTracker, Observation, box_iou  # noqa: E402


# ---------------------------------------------------------------- tracking
def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    assert iou[0, 0] == pytest.approx(50 / 150) and iou[0, 1] == 1.0 and iou[0, 2] == 0.0
    assert np.all(iou[1] == 0.0)  # degenerate box: no NaN


def _obs(box, side=1):
    box = np.asarray(box, np.float64)
    cx = (box[0] + box[2]) / 2
    joints = np.stack([np.full(21, cx), np.linspace(box[1], box[3], 21)], axis=1)
    return Observation(box=box, joints_2d=joints, side=side)


def test_tracker_keeps_ids_while_boxes_move_and_retires_them() -> None:
    tr = HandTracker(iou_threshold=0.3, max_age=2)
    a, b = np.array([0, 0, 100, 100.0]), np.array([300, 300, 400, 400.0])
    ids0 = [x.track_id for x in tr.update([_obs(a), _obs(b)], 0.0)]
    assert len(set(ids0)) == 2
    ids1 = [x.track_id for x in tr.update([_obs(b + 5), _obs(a + 5)], 0.1)]  # order swapped, small motion
    assert ids1 == [ids0[1], ids0[0]]
    assert tr.update([], 0.2) == []
    assert tr.update([_obs(a + 10)], 0.3)[0].track_id == ids0[0]  # survived one missed frame
    for k in range(3):
        tr.update([], 0.4 + 0.1 * k)
    new = tr.update([_obs(a)], 1.0)[0]
    assert new.track_id not in ids0 and new.new  # retired after max_age misses: a fresh id, never reused
    assert ids0[1] not in tr.live_ids


def test_tracker_ids_unique_within_a_frame_even_for_duplicates() -> None:
    tr = HandTracker()
    box = np.array([10, 10, 50, 50.0])
    tr.update([_obs(box)], 0.0)
    ids = [x.track_id for x in tr.update([_obs(box), _obs(box + 1), _obs(box + 2)], 0.1)]
    assert len(set(ids)) == 3


# ---------------------------------------------------------------- camera_info
def _info(frame: str = "cam", k=(500.0, 0, 320, 0, 500, 240, 0, 0, 1), w: int = 640, h: int = 480) -> CameraInfo:
    msg = CameraInfo(header=Header(frame_id=frame), width=w, height=h)
    msg.k = [float(v) for v in k]
    return msg


@pytest.mark.parametrize(
    "k",
    [
        (0.0,) * 9,
        (float("nan"), 0, 320, 0, 500, 240, 0, 0, 1),
        (-500.0, 0, 320, 0, 500, 240, 0, 0, 1),
        (500.0, 0, 320, 0, -1, 240, 0, 0, 1),
        (500.0, 0, float("inf"), 0, 500, 240, 0, 0, 1),
        (500.0, 0, 320, 0, 500, 240, 0, 0, 0),
    ],
)
def test_invalid_camera_info_is_refused_and_never_replaces_a_valid_one(k) -> None:
    cache = ci.CameraInfoCache()
    cache.update(_info())
    with pytest.raises(ci.CameraInfoRejected) as info:
        cache.update(_info(k=k))
    assert info.value.reason == ci.BAD_CAMERA_INFO
    assert cache.lookup("cam", 640, 480)[0, 0] == 500.0


def test_pairing_is_per_frame_id_and_checks_size() -> None:
    cache = ci.CameraInfoCache()
    with pytest.raises(ci.CameraInfoRejected) as info:
        cache.lookup("cam", 640, 480, topic="/cam/camera_info")
    assert info.value.reason == ci.NO_CAMERA_INFO and "/cam/camera_info" in str(info.value)
    cache.update(_info("other"))
    with pytest.raises(ci.CameraInfoRejected) as info:
        cache.lookup("cam", 640, 480)
    assert "other" in str(info.value)
    cache.update(_info("cam", k=(600.0, 0, 300, 0, 610, 200, 0, 0, 1)))
    assert cache.lookup("cam", 640, 480)[1, 1] == pytest.approx(610)
    assert cache.lookup("other", 640, 480)[0, 0] == pytest.approx(500)
    with pytest.raises(ci.CameraInfoRejected) as info:
        cache.lookup("cam", 320, 240)
    assert info.value.reason == ci.CAMERA_INFO_SIZE_MISMATCH


def test_cache_is_bounded_and_keeps_recent_frames() -> None:
    cache = ci.CameraInfoCache(max_frames=3)
    for i in range(5):
        cache.update(_info(f"f{i}"))
    assert cache.frames() == ["f2", "f3", "f4"]
    cache.update(_info("f2"))  # refreshed: most recent again
    cache.update(_info("f5"))  # evicts the least recently updated, f3
    assert cache.frames() == ["f2", "f4", "f5"]


def test_binning_and_roi_adjust_k() -> None:
    msg = _info(w=1280, h=960, k=(1000.0, 0, 640, 0, 1000, 480, 0, 0, 1))
    msg.binning_x = msg.binning_y = 2
    intr = ci.intrinsics_from_camera_info(msg)
    assert (intr.width, intr.height) == (640, 480)
    assert intr.K[0, 0] == pytest.approx(500) and intr.K[0, 2] == pytest.approx(320)
    msg = _info(w=1280, h=960, k=(1000.0, 0, 640, 0, 1000, 480, 0, 0, 1))
    msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = 100, 50, 640, 480
    intr = ci.intrinsics_from_camera_info(msg)
    assert (intr.width, intr.height) == (640, 480) and intr.K[0, 2] == pytest.approx(540) and intr.K[1, 2] == pytest.approx(430)


# ---------------------------------------------------------------- markers
def _hand_msg(hand_id: int, side: int, verts: np.ndarray, joints: np.ndarray) -> HandMesh:
    m = HandMesh(id=hand_id, side=side, score=0.9)
    m.vertices = verts.astype(np.float32).reshape(-1).tolist()
    m.joints_3d = joints.astype(np.float32).reshape(-1)
    return m


def test_markers_well_formed_and_vanished_hands_deleted() -> None:
    model = load_hand_model("open")
    topo = model.topology
    verts, joints = model.forward_numpy(np.zeros((16, 3), np.float32))
    verts, joints = verts + [0, 0, 0.5], joints + [0, 0, 0.5]
    mk = HandMarkers(topo.faces, SKELETON_PARENTS)
    header = Header(frame_id="cam_optical")
    arr = mk.build(header, [_hand_msg(3, HandMesh.RIGHT, verts, joints), _hand_msg(4, HandMesh.LEFT, verts, joints)])
    kinds = {(m.ns, m.id): m for m in arr.markers}
    assert set(kinds) == {(ns, i) for ns in ("mesh", "skeleton", "joints", "label") for i in (3, 4)}
    for m in arr.markers:
        assert m.header.frame_id == "cam_optical" and m.action == Marker.ADD
        assert m.color.a > 0 and m.pose.orientation.w == 1.0
    mesh = kinds[("mesh", 3)]
    assert mesh.type == Marker.TRIANGLE_LIST and len(mesh.points) == 3 * topo.num_faces and len(mesh.points) % 3 == 0
    assert kinds[("mesh", 3)].color.r != kinds[("mesh", 4)].color.r  # coloured by side
    assert kinds[("skeleton", 3)].type == Marker.LINE_LIST and len(kinds[("skeleton", 3)].points) == 40
    assert kinds[("joints", 3)].type == Marker.SPHERE_LIST and len(kinds[("joints", 3)].points) == 21
    label = kinds[("label", 4)]
    assert label.type == Marker.TEXT_VIEW_FACING and "left" in label.text and "#4" in label.text
    arr2 = mk.build(header, [_hand_msg(3, HandMesh.RIGHT, verts, joints)])
    deletes = [(m.ns, m.id) for m in arr2.markers if m.action == Marker.DELETE]
    assert sorted(deletes) == sorted((ns, 4) for ns in ("mesh", "skeleton", "joints", "label"))
    arr3 = mk.build(header, [])
    assert {m.id for m in arr3.markers} == {3} and all(m.action == Marker.DELETE for m in arr3.markers)
    assert mk.build(header, []).markers == []


# ---------------------------------------------------------------- mailbox, throttle, stats
def test_mailbox_keeps_only_the_latest() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    assert box.put(1) is False
    assert box.put(2) is True and box.put(3) is True
    assert box.take(0.01) == 3 and box.take(0.01) is None
    got = []
    t = threading.Thread(target=lambda: got.append(box.take(2.0)))
    t.start()
    time.sleep(0.05)
    box.put(9)
    t.join(2.0)
    assert got == [9]


class _Sink:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str):
        return lambda text: self.lines.append((level, text))


def test_throttle_is_per_key_and_counts_repeats() -> None:
    now = [0.0]
    sink = _Sink()
    tl = ThrottledLogger(sink, period_s=5.0, clock=lambda: now[0])
    assert tl.log("a", "error", "A")
    assert not tl.log("a", "error", "A")
    assert tl.log("b", "warning", "B")
    now[0] = 6.0
    assert tl.log("a", "error", "A")
    assert sink.lines[-1] == ("error", "A (+1 similar since the last report)")
    assert [lvl for lvl, _ in sink.lines] == ["error", "warning", "error"]


def test_stats_window_and_counters() -> None:
    now = [100.0]
    st = PipelineStats(window_s=5.0, clock=lambda: now[0])
    for i in range(50):
        now[0] += 0.1
        st.on_input(stamp_age_ms=3.0)
        if i % 5 == 0:
            st.on_processed(latency_ms=40.0 + i, inference_ms=30.0, overhead_ms=2.0, hands=1)
        else:
            st.on_dropped()
    st.on_rejected("bad_encoding")
    snap = st.snapshot()
    assert snap.received == 50 and snap.processed == 10 and snap.dropped == 40
    assert snap.input_hz == pytest.approx(10.0) and snap.processed_hz == pytest.approx(2.0)
    assert snap.latency_ms_max == pytest.approx(85.0) and snap.rejected == {"bad_encoding": 1}
    now[0] += 10.0
    snap = st.snapshot()
    assert snap.input_hz == 0.0 and np.isnan(snap.latency_ms_p50) and snap.received == 50

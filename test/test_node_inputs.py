"""Inputs of a running handos_node: camera_info pairing, encodings, compressed input, lifecycle.

One node process for the module; the tests run in file order (the first one needs a node
that has never seen a camera_info).
"""

from __future__ import annotations

import numpy as np
import pytest
from node_harness import Client, NodeProcess, have_weights, synthetic_frames

pytestmark = pytest.mark.ros

FRAME_ID = "inputs_camera_optical_frame"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    log = tmp_path_factory.mktemp("inputs") / "handos_node.log"
    # smoothing off: the same image in every encoding must give the same hands, which a
    # temporal filter (it moves with each frame it sees) would not
    proc = NodeProcess(log, params={"smoothing": False})
    client = Client(ctx)
    try:
        client.wait_ready(proc)
        yield proc, client, synthetic_frames(2, seed=5, easy=True)
    finally:
        client.shutdown()
        proc.stop()
        rclpy.shutdown(context=ctx)


def _hands(out) -> list[tuple]:
    return [(h.side, round(h.score, 5), np.round(np.asarray(h.joints_2d), 2).tolist()) for h in out.hands]


def test_stream_without_camera_info_gives_no_output_and_a_waiting_log(running):
    proc, client, frames = running
    start = len(proc.log())
    headers = []
    for _ in range(3):
        h = client.header(FRAME_ID)
        headers.append(h)
        client.send_frame(frames[0], h, info=False)
        client.spin_for(0.3)
    client.spin_for(2.0)
    assert not [m for m in client.meshes if m.header.stamp in [h.stamp for h in headers]], "output without camera_info"
    assert proc.wait_log(f"waiting for camera_info on /camera_info for frame_id '{FRAME_ID}'", 10.0, after=start), proc.log()[-2000:]
    kv = client.latest_diagnostics(fresh_after=1.0)
    assert int(kv.get("rejected no_camera_info", "0")) >= 1
    assert "waiting for camera_info" in kv["message"]
    # camera_info for ANOTHER frame_id does not unlock this one
    other = client.header("some_other_optical_frame")
    client.send_info(other, frames[0].K, 640, 480, repeat=3)
    h = client.header(FRAME_ID)
    client.send_frame(frames[0], h, info=False)
    assert client.result_for(h, timeout=3.0) is None
    assert proc.wait_log("valid camera_info seen only for frame_id ['some_other_optical_frame']", 10.0, after=start)
    # the image's own camera_info does
    _, out = client.process(frames[0], FRAME_ID)
    assert out is not None and out.header.frame_id == FRAME_ID


@pytest.mark.parametrize("padding", [0, 13])
def test_every_colour_encoding_gives_the_same_hands(running, padding):
    proc, client, frames = running
    _, ref = client.process(frames[1], FRAME_ID)
    assert ref is not None
    for encoding in ("bgr8", "rgba8", "bgra8", "8UC3"):
        _, out = client.process(frames[1], FRAME_ID, encoding=encoding, row_padding=padding)
        assert out is not None, encoding
        assert _hands(out) == _hands(ref), encoding
    for encoding in ("mono8", "mono16", "yuv422", "yuv422_yuy2", "bayer_rggb8"):  # lossy: processed, not identical
        _, out = client.process(frames[1], FRAME_ID, encoding=encoding, row_padding=padding)
        assert out is not None, encoding
    assert proc.alive()


def test_compressed_input_after_a_lifecycle_reconfigure_matches_raw(running):
    proc, client, frames = running
    _, raw = client.process(frames[0], FRAME_ID)
    assert raw is not None
    # configure-time parameter: refused while active, accepted once unconfigured
    (res,) = client.set_params(use_compressed=True)
    assert not res.successful and "configure" in res.reason
    assert client.change_state("deactivate") and client.get_state() == "inactive"
    h = client.header(FRAME_ID)
    client.send_frame(frames[0], h)
    assert client.result_for(h, timeout=3.0) is None  # inactive: no subscription, no output
    assert client.change_state("cleanup") and client.get_state() == "unconfigured"
    (res,) = client.set_params(use_compressed=True)
    assert res.successful, res.reason
    assert client.change_state("configure") and client.change_state("activate")
    assert client.get_state() == "active"
    assert client.spin_until(lambda: client.pub_compressed.get_subscription_count() > 0, 20.0)
    assert client.spin_until(lambda: client.pub_image.get_subscription_count() == 0, 20.0)
    _, png = client.process(frames[0], FRAME_ID, compressed="png")
    assert png is not None and _hands(png) == _hands(raw)  # lossless: identical result
    _, jpeg = client.process(frames[0], FRAME_ID, compressed="jpeg")
    assert jpeg is not None
    if have_weights():  # a trained model sees the same hand through JPEG artefacts (an untrained one need not)
        from handos_ros.gt_compare import compare

        cmp = compare(list(jpeg.hands), list(raw.hands))
        assert cmp.missed == 0 and cmp.extra == 0
        assert all(m.err_rel < 0.05 and m.side_ok for m in cmp.matches), [(m.err_rel, m.side_ok) for m in cmp.matches]
    assert proc.alive()

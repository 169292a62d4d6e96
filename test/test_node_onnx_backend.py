"""handos_node with ``backend:=onnxruntime`` over real DDS (issue 17).

The embedded default model is exported at configure into ``$ROS_HOME/handos_onnx/`` (the test's
own ROS_HOME), the node runs it with ONNX Runtime, and its hands on the same frames agree with
the PyTorch predictor's (same count, 2D joints within 0.5 px, 3D joints within 0.5 mm; smoothing
off so the node publishes the model's own output).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from node_harness import Client, NodeProcess, have_weights, synthetic_frames

pytest.importorskip("onnxruntime", reason="requirements.txt installs onnxruntime")
pytestmark = [pytest.mark.ros, pytest.mark.skipif(not have_weights(), reason="shipped weights not present")]

FRAME_ID = "test_camera_optical_frame"


def test_onnxruntime_backend_serves_the_same_hands_as_torch(tmp_path: Path) -> None:
    import rclpy
    from rclpy.context import Context

    from handos_model.checkpoint import load_model
    from handos_model.predictor import HandPredictor
    from handos_ros.model_runner import default_weights_path, onnx_cache_dir

    ros_home = Path(os.environ.get("ROS_HOME", str(tmp_path)))
    ctx = Context()
    rclpy.init(context=ctx)
    proc = NodeProcess(tmp_path / "handos_node.log", params={"backend": "onnxruntime", "device": "cpu", "smoothing": False})
    client = Client(ctx)
    try:
        client.wait_ready(proc)
        assert "(onnxruntime)" in proc.log(), proc.log()[-2000:]
        export = onnx_cache_dir(default_weights_path())
        if export.is_relative_to(ros_home):
            assert (export / "handos_onnx.json").is_file()
        torch_predictor = HandPredictor(load_model(default_weights_path()).eval())
        frames = synthetic_frames(3, seed=11, easy=True)
        compared = 0
        for sample in frames:
            _header, out = client.process(sample, FRAME_ID)
            assert out is not None, "no HandMeshArray for a frame"
            ref = torch_predictor.predict(sample.image, np.asarray(sample.K, np.float32), score_threshold=0.3,
                                          nms_threshold=0.5, max_hands=4)
            assert len(out.hands) == len(ref)
            for msg_hand in out.hands:
                j2d = np.asarray(msg_hand.joints_2d, np.float64).reshape(-1, 2)
                best = min(ref, key=lambda r: float(np.abs(r.joints_2d - j2d).mean()))
                assert np.abs(best.joints_2d - j2d).max() < 0.5
                j3d = np.asarray(msg_hand.joints_3d, np.float64).reshape(-1, 3)
                assert np.abs(best.joints_3d - j3d).max() < 5e-4
                compared += 1
        assert compared >= 2, "the easy frames should hold hands"
    finally:
        client.shutdown()
        proc.stop()
        rclpy.shutdown(context=ctx)

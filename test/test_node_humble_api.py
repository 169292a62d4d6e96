"""handos_node on an rclpy without ``add_post_set_parameters_callback`` (Humble's API subset).

The method exists since Iron; on Humble the node must construct and still apply parameter
changes (handos_ros.node_params applies them at the end of the validating callback there).
The test hides the method from rclpy's Node class, builds the real node in this process, and
changes its parameters through its real ``set_parameters`` service over DDS, as ``ros2 param
set`` does.
"""

from __future__ import annotations

import threading

import pytest
from node_harness import Client

pytestmark = pytest.mark.ros


@pytest.fixture()
def node_context():
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        if ctx.ok():
            rclpy.shutdown(context=ctx)


def _spin_in_thread(node, ctx) -> tuple[threading.Thread, threading.Event]:
    from rclpy.executors import SingleThreadedExecutor

    stop = threading.Event()

    def spin() -> None:
        executor = SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        while not stop.is_set() and ctx.ok():  # bounded by the test: stop is set in its finally
            executor.spin_once(timeout_sec=0.05)
        executor.remove_node(node)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return thread, stop


@pytest.mark.parametrize("hide_post_set", [True, False], ids=["humble_api", "iron_and_later_api"])
def test_node_constructs_and_applies_parameter_changes(monkeypatch, rclpy_context, node_context, hide_post_set):
    from rclpy.node import Node

    from handos_ros.node import HandOSNode

    if hide_post_set:
        monkeypatch.delattr(Node, "add_post_set_parameters_callback")
        assert not hasattr(Node, "add_post_set_parameters_callback")
    node = HandOSNode(node_name="handos_api_check", context=node_context)
    thread, stop = _spin_in_thread(node, node_context)
    client = Client(rclpy_context, node_name="handos_api_check")
    try:
        assert node._params.post_set is (not hide_post_set)
        results = client.set_params(score_threshold=0.55, track_max_age=9, enable=False)
        assert all(r.successful for r in results), [r.reason for r in results]
        s = node._settings
        assert (s.score_threshold, s.track_max_age, s.enable) == (0.55, 9, False)
        assert node.get_parameter("score_threshold").value == 0.55  # rclpy stored it as well
        # a rejected change leaves both the parameter and the snapshot alone
        (bad,) = client.set_params(score_threshold=1.5)
        assert not bad.successful and "score_threshold" in bad.reason
        assert node._settings.score_threshold == 0.55 and node.get_parameter("score_threshold").value == 0.55
        # configure-time parameters may change while unconfigured, and are applied too
        assert all(r.successful for r in client.set_params(device="cpu", diagnostics_period=0.5))
        assert (node._settings.device, node._settings.diagnostics_period) == ("cpu", 0.5)
    finally:
        client.shutdown()
        stop.set()
        thread.join(timeout=10)
        node.destroy_node()

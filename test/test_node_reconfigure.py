"""A namespaced handos_node driven through its lifecycle: what configure re-reads, and /diagnostics.

One node process (namespace ``/cam_a``, autostart:=false) serves the module, in order:
- ``diagnostics_period`` set while unconfigured takes effect at configure;
- the status is named after the node's fully qualified name (two namespaced nodes stay apart);
- with ``enable:=false`` an active node without input reports no "no image received" warning;
- after cleanup, a new ``image_reliability`` is what the next configure + activate subscribes with
  (rclpy's read-only QoS override parameter must not freeze the first value).
"""

from __future__ import annotations

import time

import pytest
from node_harness import Client, NodeProcess

pytestmark = pytest.mark.ros

NAMESPACE = "/cam_a"
FQN = f"{NAMESPACE}/handos_node"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    log = tmp_path_factory.mktemp("reconfigure") / "handos_node.log"
    proc = NodeProcess(log, params={"autostart": False, "device": "cpu"}, extra_ros_args=["-r", f"__ns:={NAMESPACE}"])
    client = Client(ctx, namespace=NAMESPACE)
    try:
        assert client.spin_until(lambda: client.get_state() == "unconfigured", 60.0), proc.log()[-2000:]
        yield proc, client
    finally:
        client.shutdown()
        proc.stop()
        rclpy.shutdown(context=ctx)
    print(f"node log: {log}")


def _statuses(client: Client, since: int) -> list:
    return [(arr.header.stamp, s) for arr in client.diagnostics[since:] for s in arr.status if s.name.endswith(": pipeline")]


def test_diagnostics_period_is_applied_at_configure(node):
    proc, client = node
    assert all(r.successful for r in client.set_params(diagnostics_period=0.25))
    assert client.change_state("configure"), proc.log()[-2000:]
    assert "diagnostics every 0.25 s" in proc.log()
    client.spin_for(0.5)
    start = len(client.diagnostics)
    t0 = time.monotonic()
    client.spin_for(3.0)
    n = len(_statuses(client, start))
    rate = n / (time.monotonic() - t0)
    assert 2.5 <= rate <= 5.5, f"{n} statuses in 3 s: expected ~4 Hz (diagnostics_period 0.25)"


def test_status_is_named_after_the_fully_qualified_node_name(node):
    _, client = node
    start = len(client.diagnostics)
    assert client.spin_until(lambda: bool(_statuses(client, start)), 5.0)
    names = {s.name for _, s in _statuses(client, start)}
    assert names == {f"{FQN}: pipeline"}


def test_enable_false_reports_no_missing_input(node):
    from diagnostic_msgs.msg import DiagnosticStatus

    proc, client = node
    assert all(r.successful for r in client.set_params(enable=False))
    assert client.change_state("activate"), proc.log()[-2000:]
    client.spin_for(4.0)  # past the 3 s after which a missing input is a warning
    start = len(client.diagnostics)
    assert client.spin_until(lambda: bool(_statuses(client, start)), 5.0)
    _, status = _statuses(client, start)[-1]
    level = int.from_bytes(status.level, "little") if isinstance(status.level, bytes) else status.level
    assert level == int.from_bytes(DiagnosticStatus.OK, "little"), status.message
    assert status.message == "disabled (enable=false)"
    assert "no image received" not in status.message and "waiting for camera_info" not in status.message
    assert all(r.successful for r in client.set_params(enable=True))
    client.spin_for(4.0)
    start = len(client.diagnostics)
    assert client.spin_until(lambda: bool(_statuses(client, start)), 5.0)
    assert "no image received" in _statuses(client, start)[-1][1].message  # enabled again: the warning is back


def _image_sub_reliability(client: Client, timeout: float = 10.0) -> str:
    topic = f"{NAMESPACE}/image"
    found: list = []

    def sub_seen() -> bool:
        found[:] = client.node.get_subscriptions_info_by_topic(topic)
        return bool(found)

    assert client.spin_until(sub_seen, timeout), f"no subscription on {topic}"
    (info,) = found
    return info.qos_profile.reliability.name.lower()


def test_image_reliability_is_re_read_after_cleanup(node):
    proc, client = node
    assert _image_sub_reliability(client) == "best_effort"
    assert client.change_state("deactivate") and client.change_state("cleanup"), proc.log()[-2000:]
    assert all(r.successful for r in client.set_params(image_reliability="reliable"))
    assert client.change_state("configure") and client.change_state("activate"), proc.log()[-2000:]
    client.spin_for(1.0)
    assert _image_sub_reliability(client) == "reliable", proc.log()[-2000:]
    assert "subscribed to /cam_a/image (reliable" in proc.log()

"""handos_node's /diagnostics reporter: a timer that publishes one pipeline status per period.

The status (content and levels: :mod:`handos_ros.diagnostics`) is named after the node's
fully qualified name, ``/<namespace>/<node name>: pipeline``, so two nodes in different
namespaces stay apart in a diagnostic aggregator. The period is ``diagnostics_period``: the
timer starts with the initial value and :meth:`NodeDiagnostics.set_period` (called at
configure) re-creates it when the parameter changed while the node was unconfigured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from handos_ros.diagnostics import diagnostic_array, pipeline_status
from handos_ros.log_throttle import ThrottledLogger
from handos_ros.pipeline_stats import PipelineStats

DIAGNOSTICS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class NodeState:
    """What the node reports besides the pipeline counters (read once per tick)."""

    state: str  # "unconfigured" | "configured" | "active"
    enabled: bool  # the enable parameter
    device: str = ""
    model: str = ""
    untrained: bool = False
    image_topic: str = ""
    info_topic: str = ""
    camera_frames: list[str] = field(default_factory=list)


class NodeDiagnostics:
    """Publishes ``/diagnostics`` for ``node`` every ``period`` seconds.

    Args:
        node: the publishing node (its fully qualified name names the status).
        period: seconds between two messages.
        stats: the pipeline's counters.
        state: returns the node's current :class:`NodeState`.
        tlog: throttled logger for a failing report.
    """

    def __init__(self, node: Node, period: float, stats: PipelineStats, state: Callable[[], NodeState],
                 tlog: ThrottledLogger) -> None:
        self._node = node
        self._stats = stats
        self._state = state
        self._tlog = tlog
        self._last_error_count = 0
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", DIAGNOSTICS_QOS)
        self.period = float(period)
        self._timer = node.create_timer(self.period, self.publish)

    def set_period(self, period: float) -> None:
        """Use ``period`` seconds from now on (a no-op when it is the current one)."""
        if float(period) == self.period:
            return
        self._node.destroy_timer(self._timer)
        self.period = float(period)
        self._timer = self._node.create_timer(self.period, self.publish)

    def status_name(self) -> str:
        return f"{self._node.get_fully_qualified_name()}: pipeline"

    def publish(self) -> None:
        try:
            snap = self._stats.snapshot()
            st = self._state()
            active = st.state == "active"
            info = {
                "state": st.state + ("" if st.enabled else " (enable=false)"),
                "device": st.device,
                "model": st.model,
                "image topic": st.image_topic,
                "camera_info topic": st.info_topic,
                "camera_info frames": ", ".join(st.camera_frames),
            }
            problems: list[str] = []
            errors: list[str] = []
            if st.untrained:
                errors.append("UNTRAINED model (default weights missing)")
            if snap.worker_errors > self._last_error_count:
                errors.append(f"{snap.worker_errors - self._last_error_count} processing errors since last report")
            self._last_error_count = snap.worker_errors
            if active and st.enabled and not st.camera_frames:
                problems.append(f"waiting for camera_info on {st.info_topic}")
            status = pipeline_status(self.status_name(), st.device or "none", snap, info, active, problems, errors,
                                     enabled=st.enabled)
            self._pub.publish(diagnostic_array(self._node.get_clock().now().to_msg(), [status]))
        except Exception as exc:  # noqa: BLE001
            if self._node.context.ok():
                self._tlog.log("diagnostics", "error", f"diagnostics failed: {exc!r}")

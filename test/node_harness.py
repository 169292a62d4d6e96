"""Drive a real handos_node process over real DDS from a test.

- :class:`NodeProcess`: ``python -m handos_ros.node --ros-args -p ...`` as a subprocess (its own
  process, like ``ros2 run``), stdout+stderr captured in a log file the test can search.
- :class:`Client`: the test's rclpy node: publishes images + camera_info, collects every output
  (hands/meshes, hands/mesh_info, /tf, hands/markers, hands/debug_image, /diagnostics), sets
  parameters and triggers lifecycle transitions through the node's services.

Frames come from the synthetic camera engine (real rendered hands), see :func:`synthetic_frames`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ros_isolation import REPO_ROOT

from handos_model import DEFAULT_WEIGHTS

# Generous: the 2-core CI machine loads the model (and torch) in 10-30 s.
STARTUP_TIMEOUT = float(os.environ.get("HANDOS_TEST_STARTUP_TIMEOUT", "150"))
FRAME_TIMEOUT = float(os.environ.get("HANDOS_TEST_FRAME_TIMEOUT", "30"))
WEIGHTS = DEFAULT_WEIGHTS


def have_weights() -> bool:
    return WEIGHTS.is_file() and WEIGHTS.with_suffix(".json").is_file()


def package_prefix() -> Path | None:
    """Install prefix of the built handos_ros of this lane (install/handos_ros for Kilted), from
    the ament index of the sourced environment; None when it is not built / not sourced."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        return None
    try:
        return Path(get_package_prefix("handos_ros"))
    except PackageNotFoundError:
        return None


class NodeProcess:
    """handos_node in its own process; ``log()`` returns everything it printed so far."""

    def __init__(self, log_path: Path, params: dict[str, Any] | None = None, name: str = "handos_node",
                 extra_ros_args: list[str] | None = None) -> None:
        self.name = name
        self.log_path = log_path
        args = [sys.executable, "-u", "-m", "handos_ros.node", "--ros-args", "-r", f"__node:={name}"]
        for key, value in (params or {}).items():
            v = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["-p", f"{key}:={v}"]
        args += extra_ros_args or []
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, cwd=str(REPO_ROOT.parent), stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_log(self, text: str, timeout: float, after: int = 0) -> bool:
        """True once ``text`` appears in the log (searching from character ``after``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log()[after:]:
                return True
            if not self.alive():
                return text in self.log()[after:]
            time.sleep(0.1)
        return False

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        return int(self.proc.returncode)


def synthetic_frames(n: int, seed: int = 0, easy: bool = True, width: int = 640, height: int = 480,
                     num_hands: int = 1, scene_fps: float = 2.0) -> list:
    """``n`` frames of the synth engine's SyntheticCamera (image RGB uint8, K, hands with ground
    truth); ``scene_fps`` 2 = half a second of motion between frames, so poses vary."""
    from handos_ros.synthetic_camera import frame_source

    source = frame_source(seed, width, height, num_hands, easy, scene_fps)
    return [source() for _ in range(n)]


class Client:
    """The test's side of the graph (one rclpy node in the test process)."""

    def __init__(self, context: Any, node_name: str = "handos_node", namespace: str = "") -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from handos_ros.msg import HandMeshArray, HandMeshInfo
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image
        from tf2_msgs.msg import TFMessage
        from visualization_msgs.msg import MarkerArray

        from handos_ros.qos import INFO_QOS, RESULT_QOS

        self.node = rclpy.create_node("handos_test_client", namespace=namespace or None, context=context)
        self.target = f"{namespace.rstrip('/')}/{node_name}" if namespace else f"/{node_name}"
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        n = self.node
        self.pub_image = n.create_publisher(Image, "image", reliable)
        self.pub_compressed = n.create_publisher(CompressedImage, "image/compressed", reliable)
        self.pub_info = n.create_publisher(CameraInfo, "camera_info", reliable)
        self.meshes: list = []
        self.infos: list = []
        self.tf: list = []
        self.markers: list = []
        self.debug_images: list = []
        self.diagnostics: list = []
        self.mesh_received_at: list[float] = []  # time.time() at arrival, parallel to meshes
        n.create_subscription(HandMeshArray, "hands/meshes", self._on_meshes, RESULT_QOS)
        n.create_subscription(HandMeshInfo, "hands/mesh_info", self.infos.append, INFO_QOS)
        n.create_subscription(TFMessage, "/tf", self.tf.append, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        n.create_subscription(MarkerArray, "hands/markers", self.markers.append, reliable)
        n.create_subscription(Image, "hands/debug_image", self.debug_images.append, reliable)
        n.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, QoSProfile(depth=10))
        self._stamp_ns = int(time.time() * 1e9)
        self._service_clients: dict[str, Any] = {}

    def _on_meshes(self, msg: Any) -> None:
        self.meshes.append(msg)
        self.mesh_received_at.append(time.time())

    # ------------------------------------------------------------------ spinning
    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return predicate()

    def wait_ready(self, proc: NodeProcess | None = None, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait for the node's transient-local mesh_info and for its image subscription to match."""
        def ready() -> bool:
            if proc is not None and not proc.alive():
                raise AssertionError(f"handos_node exited during start-up:\n{proc.log()[-3000:]}")
            return bool(self.infos) and (self.pub_image.get_subscription_count() > 0 or self.pub_compressed.get_subscription_count() > 0)

        assert self.spin_until(ready, timeout), "handos_node did not become ready" + (f":\n{proc.log()[-3000:]}" if proc else "")

    def shutdown(self) -> None:
        self.executor.remove_node(self.node)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()

    # ------------------------------------------------------------------ publishing
    def header(self, frame_id: str = "test_camera_optical_frame", stamp_ns: int | None = None) -> Any:
        from std_msgs.msg import Header

        if stamp_ns is None:
            self._stamp_ns = max(self._stamp_ns + 1_000_000, int(time.time() * 1e9))
            stamp_ns = self._stamp_ns
        h = Header(frame_id=frame_id)
        h.stamp.sec, h.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        return h

    def send_info(self, header: Any, K: np.ndarray, width: int, height: int, repeat: int = 1) -> None:
        from handos_ros.synthetic_camera import camera_info_msg

        for _ in range(repeat):
            self.pub_info.publish(camera_info_msg(header, K, width, height))
            if repeat > 1:
                self.spin_for(0.05)

    def send_frame(self, sample: Any, header: Any, encoding: str = "rgb8", compressed: str = "", info: bool = True,
                   row_padding: int = 0) -> None:
        from handos_ros.image_encode import compressed_msg, image_msg

        h, w = sample.image.shape[:2]
        if info:
            self.send_info(header, sample.K, w, h)
        if compressed:
            self.pub_compressed.publish(compressed_msg(sample.image, header, compressed))
        else:
            self.pub_image.publish(image_msg(sample.image, header, encoding, row_padding))

    def result_for(self, header: Any, timeout: float = FRAME_TIMEOUT) -> Any | None:
        """The HandMeshArray whose stamp equals ``header.stamp`` (None on timeout)."""
        def find() -> Any | None:
            for m in reversed(self.meshes):
                if m.header.stamp == header.stamp:
                    return m
            return None

        self.spin_until(lambda: find() is not None, timeout)
        return find()

    def process(self, sample: Any, frame_id: str = "test_camera_optical_frame", tries: int = 2, **kw: Any) -> tuple[Any, Any]:
        """Send one frame (with its camera_info) and wait for its output; retries with a new stamp
        if the best-effort frame was lost. Returns (header, HandMeshArray or None)."""
        for _ in range(tries):
            header = self.header(frame_id)
            self.send_frame(sample, header, **kw)
            out = self.result_for(header)
            if out is not None:
                return header, out
        return header, None

    # ------------------------------------------------------------------ parameters / lifecycle
    # One service client per service, kept for the Client's life. Jazzy's Fast DDS (2.14) drops a
    # response ("failed to send response (timeout)") while the server has not matched the
    # client's response reader yet: a fresh client per call, on a loaded 2-core machine, lost
    # some. A new client therefore waits a moment after the service appears, and idempotent
    # requests are sent again when their response does not come.
    def _service(self, srv_type: Any, name: str) -> Any:
        cli = self._service_clients.get(name)
        if cli is None:
            cli = self.node.create_client(srv_type, f"{self.target}/{name}")
            assert cli.wait_for_service(timeout_sec=60.0), f"{name} service not available"  # node still starting
            self.spin_for(0.5)
            self._service_clients[name] = cli
        return cli

    def _call(self, srv_type: Any, name: str, request: Any, timeout: float = 20.0, resend_after: float | None = 5.0) -> Any:
        """The response to ``request`` (``resend_after`` None: send once, wait ``timeout``)."""
        cli = self._service(srv_type, name)
        deadline = time.monotonic() + timeout
        while True:
            fut = cli.call_async(request)
            wait = deadline - time.monotonic() if resend_after is None else min(resend_after, deadline - time.monotonic())
            if self.spin_until(fut.done, max(wait, 0.0)):
                return fut.result()
            cli.remove_pending_request(fut)
            assert resend_after is not None and time.monotonic() < deadline, f"{name} timed out"

    def set_params(self, **values: Any) -> list:
        """SetParameters on the node; returns the SetParametersResult list."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        req = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
        return list(self._call(SetParameters, "set_parameters", req).results)

    def get_params(self, *names: str) -> list:
        """GetParameters on the node: the ParameterValue of each name, in order."""
        from rcl_interfaces.srv import GetParameters

        return list(self._call(GetParameters, "get_parameters", GetParameters.Request(names=list(names))).values)

    def change_state(self, transition: str, timeout: float = STARTUP_TIMEOUT) -> bool:
        """Lifecycle transition by label (configure, activate, deactivate, cleanup); sent once."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        ids = {
            "configure": Transition.TRANSITION_CONFIGURE,
            "activate": Transition.TRANSITION_ACTIVATE,
            "deactivate": Transition.TRANSITION_DEACTIVATE,
            "cleanup": Transition.TRANSITION_CLEANUP,
        }
        req = ChangeState.Request(transition=Transition(id=ids[transition]))
        return bool(self._call(ChangeState, "change_state", req, timeout=timeout, resend_after=None).success)

    def get_state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return str(self._call(GetState, "get_state", GetState.Request()).current_state.label)

    # ------------------------------------------------------------------ diagnostics
    def latest_diagnostics(self, fresh_after: float = 0.0, timeout: float = 5.0) -> dict[str, str]:
        """Key/values (plus 'level' and 'message') of the newest pipeline status received after
        ``fresh_after`` (time.monotonic()); waits for one."""
        start = len(self.diagnostics)
        if fresh_after:
            self.spin_until(lambda: len(self.diagnostics) > start, timeout)
        for arr in reversed(self.diagnostics):
            for status in arr.status:
                if status.name.endswith(": pipeline"):
                    kv = {k.key: k.value for k in status.values}
                    kv["level"] = str(int.from_bytes(status.level, "little") if isinstance(status.level, bytes) else status.level)
                    kv["message"] = status.message
                    return kv
        return {}

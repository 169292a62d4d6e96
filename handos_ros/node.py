"""handos_node: camera image + camera_info in, hand meshes, TF, markers and diagnostics out.

A lifecycle node (rclpy.lifecycle, ros2/demos lifecycle_py and yolo_ros pattern):

- configure: validate parameters, pick the device, load the model once (and warm it up),
  create the publishers, publish ``hands/mesh_info`` (transient local), start the worker;
- activate:  move the model to its device, create the ``image`` (or ``image/compressed``)
  and ``camera_info`` subscriptions, enable the publishers;
- deactivate: drop the subscriptions, clear RViz markers, move the model off the GPU and
  release cached GPU memory;
- cleanup / shutdown: stop the worker, destroy publishers, drop the model.

``main()`` configures and activates at start-up unless ``autostart:=false``.

Threads: the executor thread only stores each incoming frame in a one-slot mailbox
(:mod:`handos_ros.mailbox`); one worker thread decodes, infers and publishes the LATEST
frame. Frames overwritten before the worker took them are counted as dropped, so latency
stays bounded at any input rate. The worker never dies: every exception is caught,
counted and logged (throttled per problem).

Python nodes cannot be composed into a component container; run this node as its own
process (the launch file does). Topic names are relative: remap them or push a namespace.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from handos_ros import camera_info as caminfo
from handos_ros import image_decode
from handos_ros.conversions import hand_mesh_from_prediction, mesh_info_from_topology
from handos_ros.debug_image import draw_hands
from handos_ros.diagnostics import diagnostic_array, pipeline_status
from handos_ros.image_encode import image_msg
from handos_ros.log_throttle import ThrottledLogger
from handos_ros.mailbox import LatestMailbox
from handos_ros.markers import HandMarkers
from handos_ros.model_runner import LoadedModel, ModelGuard, ModelLoadError, ModelParked, load, warm_up
from handos_ros.msg import HandMeshArray, HandMeshInfo
from handos_ros.parameters import SPEC_BY_NAME, Settings, declare_all, validate
from handos_ros.pipeline_stats import PipelineStats
from handos_ros.qos import INFO_QOS, RESULT_QOS, image_qos
from handos_ros.tf_broadcast import HandTfBroadcaster, hand_transforms
from handos_ros.tracking import IouTracker

# Extra rejection reasons counted by the node itself.
BAD_FRAME_ID = "bad_frame_id"
WORKER_ERROR = "worker_error"

# Per-frame_id state (last stamp, camera_info) is kept for at most this many frame_ids.
MAX_FRAME_IDS = 64

# camera_info: best effort is compatible with every publisher (reliable or not).
CAMERA_INFO_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
DEBUG_IMAGE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
MARKER_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
DIAGNOSTICS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class _Frame:
    """An image waiting in the mailbox."""

    msg: Any  # sensor_msgs/Image or CompressedImage
    compressed: bool
    arrival: float  # time.monotonic()


class HandOSNode(LifecycleNode):
    """HandOS as a ROS 2 lifecycle node (see the module docstring)."""

    def __init__(self, node_name: str = "handos_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._settings: Settings = declare_all(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.add_post_set_parameters_callback(self._after_set_parameters)
        self._tlog = ThrottledLogger(self.get_logger(), period_s=5.0)
        self._stats = PipelineStats(window_s=5.0)
        self._cameras = caminfo.CameraInfoCache(max_frames=MAX_FRAME_IDS)
        self._mailbox: LatestMailbox[_Frame] = LatestMailbox()
        self._tracker = IouTracker(self._settings.track_iou_threshold, self._settings.track_max_age)
        self._reset_tracker = threading.Event()
        self._last_stamp: dict[str, int] = {}
        self._configured = False
        self._active = False
        self._guard: ModelGuard | None = None
        self._lm: LoadedModel | None = None
        self._markers: HandMarkers | None = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._subs: list[Any] = []
        self._pub_meshes = None
        self._pub_info = None
        self._pub_markers = None
        self._pub_debug = None
        self._tf: HandTfBroadcaster | None = None
        self._image_topic = ""
        self._info_topic = ""
        self._last_error_count = 0
        self._marker_frame = ""
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", DIAGNOSTICS_QOS)
        self._diag_timer = self.create_timer(self._settings.diagnostics_period, self._publish_diagnostics)
        self._untrained_timer = None

    # ------------------------------------------------------------------ parameters
    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Validate; configure-time parameters only change while unconfigured."""
        for p in params:
            spec = SPEC_BY_NAME.get(p.name)
            if spec is None:
                continue
            reason = validate(p.name, p.value)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
            if not spec.dynamic and self._configured:
                return SetParametersResult(
                    successful=False,
                    reason=f"{p.name} is read at configure: change it while unconfigured (lifecycle cleanup first)",
                )
        return SetParametersResult(successful=True)

    def _after_set_parameters(self, params: list[Parameter]) -> None:
        values = {s.name: self.get_parameter(s.name).value for s in SPEC_BY_NAME.values()}
        old = self._settings
        self._settings = Settings.from_values(values)
        new = self._settings
        self._tracker.iou_threshold = new.track_iou_threshold
        self._tracker.max_age = new.track_max_age
        changed = ", ".join(f"{p.name}={p.value!r}" for p in params if p.name in SPEC_BY_NAME)
        if changed:
            self.get_logger().info(f"parameters changed: {changed}")
        if (old.score_threshold, old.nms_threshold, old.max_hands) != (new.score_threshold, new.nms_threshold, new.max_hands):
            self._publish_info()
        if old.enable and not new.enable:
            self._mailbox.clear()

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self._settings
        log = self.get_logger()
        for spec in SPEC_BY_NAME.values():
            reason = validate(spec.name, getattr(s, spec.name))
            if reason is not None:
                log.error(f"configure failed: {reason}")
                return TransitionCallbackReturn.FAILURE
        try:
            lm = load(s.weights, s.model_config, s.device, s.input_size, s.num_threads)
        except ModelLoadError as exc:
            log.error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        if s.device == "auto":
            log.info(f"device auto -> {lm.device}" + (" (CUDA available)" if lm.device.startswith("cuda") else " (no CUDA)"))
        if lm.untrained:
            self._warn_untrained(lm)
            self._untrained_timer = self.create_timer(60.0, lambda: self._warn_untrained(lm, brief=True))
        self._lm = lm
        self._guard = ModelGuard(lm)
        warm_s = warm_up(lm)
        topo = lm.topology
        self._markers = HandMarkers(topo.faces, _joint_parents())
        self._image_topic = self.resolve_topic_name("image/compressed" if s.use_compressed else "image")
        self._info_topic = self.resolve_topic_name("camera_info")
        self._pub_meshes = self.create_lifecycle_publisher(HandMeshArray, "hands/meshes", RESULT_QOS)
        self._pub_markers = self.create_lifecycle_publisher(MarkerArray, "hands/markers", MARKER_QOS)
        self._pub_debug = self.create_lifecycle_publisher(Image, "hands/debug_image", DEBUG_IMAGE_QOS)
        self._pub_info = self.create_publisher(HandMeshInfo, "hands/mesh_info", INFO_QOS)
        self._tf = HandTfBroadcaster(self)
        self._publish_info()
        self._stop.clear()
        self._worker = threading.Thread(target=self._worker_loop, name="handos_worker", daemon=True)
        self._worker.start()
        self._configured = True
        log.info(
            f"configured: model {lm.weights_id} on {lm.device} (load {lm.load_s:.1f} s, warm-up {warm_s:.1f} s), "
            f"input {lm.input_size}px, {topo.num_vertices} vertices; input {self._image_topic} + {self._info_topic}; "
            f"TF via {self._tf.backend}"
        )
        return TransitionCallbackReturn.SUCCESS

    def _warn_untrained(self, lm: LoadedModel, brief: bool = False) -> None:
        if brief:
            self.get_logger().error("running an UNTRAINED model: outputs are meaningless (default weights missing)")
            return
        self.get_logger().error(
            "\n" + "!" * 78 + "\n"
            f"!! The embedded default weights are missing: {lm.weights_id}.\n"
            "!! Running an UNTRAINED HandOS built from the config: detections, meshes and sides are\n"
            "!! RANDOM. Use this only to test plumbing. Pass weights:=<file.safetensors> or install\n"
            "!! handos_model/weights/handos_tiny.safetensors.\n" + "!" * 78
        )

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self._settings
        assert self._guard is not None
        self._guard.unpark()
        qos = image_qos(s.image_reliability)
        overrides = QoSOverridingOptions.with_default_policies()
        if s.use_compressed:
            sub = self.create_subscription(
                CompressedImage, "image/compressed", self._on_compressed, qos, qos_overriding_options=overrides
            )
        else:
            sub = self.create_subscription(Image, "image", self._on_image, qos, qos_overriding_options=overrides)
        self._subs = [sub, self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, CAMERA_INFO_QOS)]
        self._active = True
        effective = sub.qos_profile.reliability.name.lower()  # after qos_overrides.* parameters
        self.get_logger().info(
            f"active: subscribed to {self._image_topic} ({effective}, depth {sub.qos_profile.depth}) and {self._info_topic}; "
            f"publishing {self.resolve_topic_name('hands/meshes')}"
        )
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        self._mailbox.clear()
        if self._guard is not None:
            self._guard.park()  # waits for a running inference, then frees GPU memory
        if self._markers is not None and self._pub_markers is not None and self._marker_frame:
            stamp = self.get_clock().now().to_msg()
            self._pub_markers.publish(self._markers.clear(Header(frame_id=self._marker_frame, stamp=stamp)))
        gpu = self._lm is not None and self._lm.device.startswith("cuda")
        self.get_logger().info("inactive: subscriptions dropped" + (", model moved to CPU, GPU memory released" if gpu else ""))
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self.get_logger().info("cleaned up: model released")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        self._active = False
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"lifecycle error in state {state.label}: tearing down")
        self._active = False
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def _stop_worker(self) -> None:
        """Stop the inference thread (waits for a running inference to finish)."""
        self._stop.set()
        self._mailbox.clear()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=30.0)

    def release(self) -> None:
        """Stop the worker and free the model without touching ROS (usable after rclpy shutdown)."""
        self._active = False
        self._stop_worker()
        if self._guard is not None:
            self._guard.release()
        self._guard = None

    def _teardown(self) -> None:
        self._stop_worker()
        if self._untrained_timer is not None:
            self.destroy_timer(self._untrained_timer)
            self._untrained_timer = None
        for pub in (self._pub_meshes, self._pub_markers, self._pub_debug):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        if self._pub_info is not None:
            self.destroy_publisher(self._pub_info)
        if self._tf is not None:
            self._tf.destroy()
        self._pub_meshes = self._pub_markers = self._pub_debug = self._pub_info = None
        self._tf = None
        if self._guard is not None:
            self._guard.release()
        self._guard = None
        self._lm = None
        self._cameras.clear()
        self._last_stamp.clear()
        self._tracker.reset()
        self._configured = False

    # ------------------------------------------------------------------ callbacks (executor thread)
    def _on_image(self, msg: Image) -> None:
        self._enqueue(msg, compressed=False)

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._enqueue(msg, compressed=True)

    def _enqueue(self, msg: Any, compressed: bool) -> None:
        try:
            if not self._settings.enable or not self._active:
                return
            stamp_ns = Time.from_msg(msg.header.stamp).nanoseconds
            now_ns = self.get_clock().now().nanoseconds
            self._stats.on_input((now_ns - stamp_ns) / 1e6)
            frame_id = msg.header.frame_id
            last = self._last_stamp.get(frame_id)
            if last is not None and stamp_ns < last:
                self._stats.on_stamp_backwards()
                self._reset_tracker.set()
                self._tlog.log(
                    f"backwards:{frame_id}", "warning",
                    f"image stamp went backwards on frame '{frame_id}' by {(last - stamp_ns) / 1e6:.1f} ms "
                    "(bag loop or clock reset?): processing it, track ids restart",
                )
            self._last_stamp.pop(frame_id, None)
            self._last_stamp[frame_id] = stamp_ns
            if len(self._last_stamp) > MAX_FRAME_IDS:  # bounded even if frame_ids churn
                self._last_stamp.pop(next(iter(self._last_stamp)))
            if self._mailbox.put(_Frame(msg=msg, compressed=compressed, arrival=time.monotonic())):
                self._stats.on_dropped()
        except Exception as exc:  # noqa: BLE001 - never let an exception escape a callback
            self._stats.on_worker_error()
            self._tlog.log("enqueue", "error", f"image callback failed: {exc!r}")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._cameras.update(msg)
        except caminfo.CameraInfoRejected as exc:
            self._stats.on_rejected(exc.reason)
            self._tlog.log(f"caminfo:{msg.header.frame_id}", "error", f"refused camera_info on {self._info_topic}: {exc}")
        except Exception as exc:  # noqa: BLE001
            self._stats.on_rejected(caminfo.BAD_CAMERA_INFO)
            self._tlog.log("caminfo", "error", f"refused camera_info on {self._info_topic}: {exc!r}")

    # ------------------------------------------------------------------ worker thread
    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            frame = self._mailbox.take(timeout=0.2)
            if frame is None or self._stop.is_set():
                continue
            try:
                self._process(frame)
            except Exception as exc:  # noqa: BLE001 - the worker must survive anything
                self._stats.on_worker_error()
                self._stats.on_rejected(WORKER_ERROR)
                tb = traceback.format_exc(limit=4)
                self._tlog.log(f"worker:{type(exc).__name__}", "error", f"frame processing failed: {exc!r}\n{tb}")

    def _process(self, frame: _Frame) -> None:
        s = self._settings
        if not s.enable or not self._active:
            return
        t0 = time.perf_counter()
        msg = frame.msg
        header = msg.header
        topic = self._image_topic
        frame_id = header.frame_id
        if not frame_id.strip():
            self._stats.on_rejected(BAD_FRAME_ID)
            self._tlog.log("frame_id", "error", f"refused image on {topic}: empty header.frame_id (outputs need the camera optical frame)")
            return
        if not self._cameras.has(frame_id):  # refuse before paying for the decode
            self._refuse_no_camera_info(frame_id)
            return
        try:
            if frame.compressed:
                rgb = image_decode.decode_compressed(msg, s.max_input_pixels)
            else:
                rgb = image_decode.decode_image(msg, s.max_input_pixels)
        except image_decode.ImageRejected as exc:
            self._stats.on_rejected(exc.reason)
            kind = msg.format if frame.compressed else msg.encoding
            self._tlog.log(
                f"image:{exc.reason}:{header.frame_id}:{kind}", "error",
                f"refused image on {topic} (frame '{header.frame_id}'): {exc}",
            )
            return
        if frame_id.startswith("/"):
            self._tlog.log("frame_id_slash", "warning", f"image frame_id '{frame_id}' starts with '/': using '{frame_id.lstrip('/')}'")
            header = Header(stamp=header.stamp, frame_id=frame_id.lstrip("/"))
        h, w = rgb.shape[:2]
        try:
            K = self._cameras.lookup(msg.header.frame_id, w, h, topic=self._info_topic)
        except caminfo.CameraInfoRejected as exc:
            self._stats.on_rejected(exc.reason)
            self._tlog.log(f"k:{exc.reason}:{frame_id}", "error", f"image on {topic} not processed: {exc}")
            return
        t_decoded = time.perf_counter()
        assert self._guard is not None
        try:
            preds, _timing = self._guard.predict(rgb, K, s.score_threshold, s.nms_threshold, s.max_hands)
        except ModelParked:  # deactivated while this frame was being decoded: drop it quietly
            self._stats.on_dropped()
            return
        t_inferred = time.perf_counter()
        if self._reset_tracker.is_set():
            self._reset_tracker.clear()
            self._tracker.reset()
        ids = self._tracker.update([p.box for p in preds])
        out = HandMeshArray(header=header)
        out.hands = [hand_mesh_from_prediction(p, i) for p, i in zip(preds, ids, strict=True)]
        self._pub_meshes.publish(out)
        if s.publish_tf and self._tf is not None and out.hands:
            self._tf.send(hand_transforms(header, out.hands, s.hand_frame_prefix))
        if s.publish_markers and self._markers is not None and self._pub_markers.get_subscription_count() > 0:
            self._pub_markers.publish(self._markers.build(header, out.hands))
            self._marker_frame = header.frame_id
        if s.publish_debug_image and self._pub_debug.get_subscription_count() > 0:
            self._pub_debug.publish(image_msg(draw_hands(rgb, out.hands), header, "rgb8"))
        t_end = time.perf_counter()
        latency_ms = (self.get_clock().now().nanoseconds - Time.from_msg(header.stamp).nanoseconds) / 1e6
        inference_ms = (t_inferred - t_decoded) * 1e3
        overhead_ms = ((t_decoded - t0) + (t_end - t_inferred)) * 1e3
        self._stats.on_processed(latency_ms, inference_ms, overhead_ms, len(out.hands))
        self.get_logger().debug(
            f"frame {header.stamp.sec}.{header.stamp.nanosec:09d}: {len(out.hands)} hands, "
            f"inference {inference_ms:.1f} ms, overhead {overhead_ms:.1f} ms (decode {(t_decoded - t0) * 1e3:.1f}), "
            f"latency {latency_ms:.1f} ms"
        )

    def _refuse_no_camera_info(self, frame_id: str) -> None:
        self._stats.on_rejected(caminfo.NO_CAMERA_INFO)
        known = self._cameras.frames()
        others = f" (valid camera_info seen only for frame_id {known})" if known else ""
        self._tlog.log(
            f"k:no_camera_info:{frame_id}:{known}", "warning",  # a new situation logs at once
            f"waiting for camera_info on {self._info_topic} for frame_id '{frame_id}'{others}: "
            f"images on {self._image_topic} are not processed until a valid one arrives",
        )

    # ------------------------------------------------------------------ outputs
    def _publish_info(self) -> None:
        if self._pub_info is None or self._lm is None:
            return
        s = self._settings
        info = mesh_info_from_topology(
            self._lm.topology, self._lm.weights_id, self._lm.device, s.score_threshold, s.nms_threshold, s.max_hands
        )
        info.header.stamp = self.get_clock().now().to_msg()
        self._pub_info.publish(info)

    def _publish_diagnostics(self) -> None:
        try:
            snap = self._stats.snapshot()
            lm = self._lm
            info = {
                "state": ("active" if self._active else "configured" if self._configured else "unconfigured")
                + ("" if self._settings.enable else " (enable=false)"),
                "device": lm.device if lm else "",
                "model": lm.weights_id if lm else "",
                "image topic": self._image_topic,
                "camera_info topic": self._info_topic,
                "camera_info frames": ", ".join(self._cameras.frames()),
            }
            problems: list[str] = []
            errors: list[str] = []
            if lm is not None and lm.untrained:
                errors.append("UNTRAINED model (default weights missing)")
            if snap.worker_errors > self._last_error_count:
                errors.append(f"{snap.worker_errors - self._last_error_count} processing errors since last report")
            self._last_error_count = snap.worker_errors
            if self._active and not self._cameras.frames():
                problems.append(f"waiting for camera_info on {self._info_topic}")
            status = pipeline_status(
                f"{self.get_name()}: pipeline", lm.device if lm else "none", snap, info, self._active, problems, errors
            )
            self._pub_diag.publish(diagnostic_array(self.get_clock().now().to_msg(), [status]))
        except Exception as exc:  # noqa: BLE001
            self._tlog.log("diagnostics", "error", f"diagnostics failed: {exc!r}")


def _joint_parents() -> tuple[int, ...]:
    from handos_model.hand.topology import SKELETON_PARENTS

    return SKELETON_PARENTS


def main(argv: list[str] | None = None) -> int:
    """``ros2 run handos_ros handos_node [--ros-args ...]``; configures + activates unless autostart:=false."""
    rclpy.init(args=argv if argv is not None else sys.argv)
    try:
        node = HandOSNode()
    except Exception as exc:  # invalid initial parameters: say which, exit non-zero
        print(f"[handos_node] cannot start: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    rc = 0
    try:
        if node.get_parameter("autostart").value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("configure failed (see the error above); exiting")
                rc = 1
            elif node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("activate failed; exiting")
                rc = 1
        if rc == 0:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C / SIGTERM shut the context down first: lifecycle transitions are no longer
        # possible then, so release the worker and the model directly.
        if node.context.ok():
            node.trigger_shutdown()
        node.release()
        node.destroy_node()
        rclpy.try_shutdown()
    return rc


if __name__ == "__main__":
    sys.exit(main())

"""handos_node: camera image + camera_info in, hand meshes, TF, markers and diagnostics out.

A lifecycle node (rclpy.lifecycle, ros2/demos lifecycle_py and yolo_ros pattern):

- configure: validate parameters, pick the device, load the model once (and warm it up),
  create the publishers, publish ``hands/mesh_info`` (transient local), start the worker,
  apply ``diagnostics_period``;
- activate:  move the model to its device, create the ``image`` (or ``image/compressed``)
  and ``camera_info`` subscriptions, enable the publishers;
- deactivate: drop the subscriptions, clear RViz markers, move the model off the GPU and
  release cached GPU memory;
- cleanup / shutdown: stop the worker, destroy publishers, drop the model.

``main()`` configures and activates at start-up unless ``autostart:=false``; Ctrl-C or SIGTERM
end it with status 0 (:mod:`handos_ros.shutdown`).

The rooms of the node: this file wires the lifecycle; :mod:`handos_ros.frame_pipeline` is the
per-frame work (executor-thread intake, worker-thread inference and publishing);
:mod:`handos_ros.node_params` keeps the Settings snapshot in step with the parameters;
:mod:`handos_ros.node_diagnostics` publishes ``/diagnostics``.

Python nodes cannot be composed into a component container; run this node as its own
process (the launch file does). Topic names are relative: remap them or push a namespace.
"""

# ruff: noqa: E402

from __future__ import annotations

if __name__ == "__main__":  # `python -m`: Ctrl-C while the imports below load exits quietly
    from handos_ros import quiet_start

    quiet_start.install()

import sys
from typing import Any

import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from handos_ros import quiet_start, shutdown
from handos_ros.conversions import mesh_info_from_topology
from handos_ros.frame_pipeline import FramePipeline, Outputs
from handos_ros.log_throttle import ThrottledLogger
from handos_ros.markers import HandMarkers
from handos_ros.model_runner import LoadedModel, ModelGuard, ModelLoadError, default_weights_path, load, warm_up
from handos_ros.msg import HandMeshArray, HandMeshInfo
from handos_ros.node_diagnostics import NodeDiagnostics, NodeState
from handos_ros.node_params import ParameterHandler
from handos_ros.parameters import SPEC_BY_NAME, Settings, declare_all, validate
from handos_ros.per_side import SIDE_NAMES, frame_prefix
from handos_ros.pipeline_stats import PipelineStats
from handos_ros.qos import INFO_QOS, RESULT_QOS, image_qos
from handos_ros.tf_broadcast import HandTfBroadcaster

# camera_info: best effort is compatible with every publisher (reliable or not).
CAMERA_INFO_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
DEBUG_IMAGE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
MARKER_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


class HandOSNode(LifecycleNode):
    """HandOS as a ROS 2 lifecycle node (see the module docstring)."""

    def __init__(self, node_name: str = "handos_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._params = ParameterHandler(self, declare_all(self), lambda: self._configured, self._on_settings_changed)
        self._tlog = ThrottledLogger(self.get_logger(), period_s=5.0)
        self._stats = PipelineStats(window_s=5.0)
        self._pipeline = FramePipeline(self, lambda: self._params.settings, self._stats, self._tlog)
        self._configured = False
        self._active = False
        self._guard: ModelGuard | None = None
        self._lm: LoadedModel | None = None
        self._markers: HandMarkers | None = None
        self._subs: list[Any] = []
        self._pub_meshes = None
        self._pub_info = None
        self._pub_markers = None
        self._pub_debug = None
        self._pub_wrists: dict[int, Any] = {}
        self._frame_prefix = ""
        self._tf: HandTfBroadcaster | None = None
        self._diagnostics = NodeDiagnostics(self, self._settings.diagnostics_period, self._stats, self._node_state,
                                            self._tlog)
        self._untrained_timer = None

    @property
    def _settings(self) -> Settings:
        return self._params.settings

    # ------------------------------------------------------------------ parameters
    def _on_settings_changed(self, old: Settings, new: Settings, changed: list[Parameter]) -> None:
        if changed:  # the pipeline reads tracking / smoothing parameters per frame
            self.get_logger().info("parameters changed: " + ", ".join(f"{p.name}={p.value!r}" for p in changed))
        if (old.score_threshold, old.nms_threshold, old.max_hands) != (new.score_threshold, new.nms_threshold, new.max_hands):
            self._publish_info(new)
        if old.enable and not new.enable:
            self._pipeline.clear_pending()

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
            lm = load(s.weights, s.model_config, s.device, s.input_size, s.num_threads, s.backend)
        except ModelLoadError as exc:
            log.error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        if lm.backend_choice:
            log.info(lm.backend_choice)
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
        image_topic = self.resolve_topic_name("image/compressed" if s.use_compressed else "image")
        info_topic = self.resolve_topic_name("camera_info")
        self._pub_meshes = self.create_lifecycle_publisher(HandMeshArray, "hands/meshes", RESULT_QOS)
        self._pub_markers = self.create_lifecycle_publisher(MarkerArray, "hands/markers", MARKER_QOS)
        self._pub_debug = self.create_lifecycle_publisher(Image, "hands/debug_image", DEBUG_IMAGE_QOS)
        self._pub_info = self.create_publisher(HandMeshInfo, "hands/mesh_info", INFO_QOS)
        self._pub_wrists = {side: self.create_lifecycle_publisher(PoseStamped, f"hands/{name}/wrist", RESULT_QOS)
                            for side, name in SIDE_NAMES.items()}
        self._frame_prefix = frame_prefix(s.hand_frame_prefix, self.get_fully_qualified_name())
        self._tf = HandTfBroadcaster(self)
        self._publish_info(s)
        outputs = Outputs(guard=self._guard, meshes=self._pub_meshes, markers=self._pub_markers, debug=self._pub_debug,
                          tf=self._tf, marker_builder=self._markers, wrists=self._pub_wrists,
                          frame_prefix=self._frame_prefix)
        self._pipeline.start(outputs, image_topic, info_topic)
        self._diagnostics.set_period(s.diagnostics_period)
        self._configured = True
        log.info(
            f"configured: model {lm.weights_id} on {lm.device} (load {lm.load_s:.1f} s, warm-up {warm_s:.1f} s), "
            f"input {lm.input_size}px, {topo.num_vertices} vertices; input {image_topic} + {info_topic}; "
            f"TF {self._frame_prefix}left / right via {self._tf.backend}; diagnostics every {self._diagnostics.period:g} s"
        )
        return TransitionCallbackReturn.SUCCESS

    def _warn_untrained(self, lm: LoadedModel, brief: bool = False) -> None:
        if brief:
            self.get_logger().error("running an UNTRAINED model: outputs are meaningless (default weights missing)")
            return
        self.get_logger().error(
            "\n" + "!" * 78 + "\n"
            f"!! The embedded default weights are missing: {default_weights_path().name}.\n"
            "!! Running an UNTRAINED HandOS built from the config: detections, meshes and sides are\n"
            "!! RANDOM. Use this only to test plumbing. Pass weights:=<file.safetensors> or install\n"
            f"!! {default_weights_path()}.\n" + "!" * 78
        )

    def _image_qos_overrides(self, topic: str) -> QoSOverridingOptions | None:
        """QoS override parameters for the image subscription, only where the user gave one.

        rclpy declares ``qos_overrides.<topic>.subscription.*`` read-only at the first
        subscription and keeps that value for every later one: declared for nothing, it would
        freeze ``image_reliability`` at its first value across cleanup + configure.
        """
        prefix = f"qos_overrides.{self.resolve_topic_name(topic)}.subscription."
        given = getattr(self, "_parameter_overrides", {})
        if any(name.startswith(prefix) for name in given):
            return QoSOverridingOptions.with_default_policies()
        return None

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self._settings
        assert self._guard is not None
        self._guard.unpark()
        qos = image_qos(s.image_reliability)
        p = self._pipeline
        if s.use_compressed:
            sub = self.create_subscription(CompressedImage, "image/compressed", p.on_compressed, qos,
                                           qos_overriding_options=self._image_qos_overrides("image/compressed"))
        else:
            sub = self.create_subscription(Image, "image", p.on_image, qos,
                                           qos_overriding_options=self._image_qos_overrides("image"))
        self._subs = [sub, self.create_subscription(CameraInfo, "camera_info", p.on_camera_info, CAMERA_INFO_QOS)]
        self._active = p.active = True
        effective = sub.qos_profile.reliability.name.lower()  # after qos_overrides.* parameters
        self.get_logger().info(
            f"active: subscribed to {p.image_topic} ({effective}, depth {sub.qos_profile.depth}) and {p.info_topic}; "
            f"publishing {self.resolve_topic_name('hands/meshes')}"
        )
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = self._pipeline.active = False
        self._drop_subscriptions()
        if self._guard is not None:
            self._guard.park()  # waits for a running inference, then frees GPU memory
        frame = self._pipeline.marker_frame
        if self._markers is not None and self._pub_markers is not None and frame:
            stamp = self.get_clock().now().to_msg()
            self._pub_markers.publish(self._markers.clear(Header(frame_id=frame, stamp=stamp)))
        gpu = self._lm is not None and self._lm.device.startswith("cuda")
        self.get_logger().info("inactive: subscriptions dropped" + (", model moved to CPU, GPU memory released" if gpu else ""))
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self.get_logger().info("cleaned up: model released")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = self._pipeline.active = False
        self._drop_subscriptions()
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f"lifecycle error in state {state.label}: tearing down")
        self._active = self._pipeline.active = False
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def _drop_subscriptions(self) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        self._pipeline.clear_pending()

    def release(self) -> None:
        """Stop the worker and free the model without touching ROS (usable after rclpy shutdown)."""
        self._active = self._pipeline.active = False
        self._pipeline.stop()
        if self._guard is not None:
            self._guard.release()
        self._guard = None

    def _teardown(self) -> None:
        self._pipeline.stop()
        if self._untrained_timer is not None:
            self.destroy_timer(self._untrained_timer)
            self._untrained_timer = None
        for pub in (self._pub_meshes, self._pub_markers, self._pub_debug, *self._pub_wrists.values()):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._pub_wrists = {}
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
        self._pipeline.reset()
        self._configured = False

    # ------------------------------------------------------------------ outputs
    def _publish_info(self, s: Settings) -> None:
        if self._pub_info is None or self._lm is None:
            return
        info = mesh_info_from_topology(
            self._lm.topology, self._lm.weights_id, self._lm.device, s.score_threshold, s.nms_threshold, s.max_hands,
            self._frame_prefix,
        )
        info.header.stamp = self.get_clock().now().to_msg()
        self._pub_info.publish(info)

    def _node_state(self) -> NodeState:
        lm, p = self._lm, self._pipeline
        return NodeState(
            state="active" if self._active else "configured" if self._configured else "unconfigured",
            enabled=self._settings.enable,
            device=lm.device if lm else "",
            model=lm.weights_id if lm else "",
            untrained=bool(lm is not None and lm.untrained),
            image_topic=p.image_topic,
            info_topic=p.info_topic,
            camera_frames=p.cameras.frames(),
        )


def _joint_parents() -> tuple[int, ...]:
    from handos_model.hand.topology import SKELETON_PARENTS

    return SKELETON_PARENTS


def main(argv: list[str] | None = None) -> int:
    """``ros2 run handos_ros handos_node [--ros-args ...]``; configures + activates unless autostart:=false.

    Exit status: 0 (also after Ctrl-C / SIGTERM), 1 when configure or activate failed, 2 for
    invalid initial parameters.
    """
    quiet_start.done()
    rclpy.init(args=argv if argv is not None else sys.argv)
    try:
        node = HandOSNode()
    except Exception as exc:  # invalid initial parameters: say which, exit non-zero
        print(f"[handos_node] cannot start: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin() -> int:
        if node.get_parameter("autostart").value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("configure failed (see the error above); exiting")
                return 1
            if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("activate failed; exiting")
                return 1
        executor.spin()
        return 0

    def cleanup() -> None:
        # Ctrl-C / SIGTERM shut the context down first: lifecycle transitions are no longer
        # possible then, so release the worker and the model directly.
        try:
            if node.context.ok():
                node.trigger_shutdown()
        finally:
            node.release()
            node.destroy_node()
            rclpy.try_shutdown()

    return shutdown.run(spin, cleanup, node.context)


if __name__ == "__main__":
    sys.exit(main())

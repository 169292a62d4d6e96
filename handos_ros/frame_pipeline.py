"""handos_node's frame pipeline: intake on the executor thread, processing on one worker thread.

- executor thread (:meth:`FramePipeline.on_image`, :meth:`~FramePipeline.on_compressed`,
  :meth:`~FramePipeline.on_camera_info`): check, count and store; an image goes into a one-slot
  mailbox (:mod:`handos_ros.mailbox`), overwriting (and counting as dropped) a frame the worker
  has not taken yet, so latency stays bounded at any input rate;
- worker thread: the LATEST frame -> decode (H, W, 3) uint8 RGB -> camera_info K (3, 3) ->
  HandOS ``predict`` -> tracks, smoothing, the operator's hands (:mod:`handos_ros.hand_tracks`) ->
  ``hands/meshes``, TF, ``hands/left|right/wrist``, markers, debug image.

The worker never dies: every exception is caught, counted and logged (throttled per problem).
Once the ROS context is shut down (Ctrl-C, SIGTERM) it stops quietly instead: a publish on a
dead context is the end of the process, not a processing error.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Header

from handos_ros import camera_info as caminfo
from handos_ros import image_decode
from handos_ros.conversions import hand_mesh_from_prediction
from handos_ros.debug_image import draw_hands
from handos_ros.hand_tracks import HandTracks, TrackingConfig
from handos_ros.image_encode import image_msg
from handos_ros.log_throttle import ThrottledLogger
from handos_ros.mailbox import LatestMailbox
from handos_ros.markers import HandMarkers
from handos_ros.model_runner import ModelGuard, ModelParked
from handos_ros.msg import HandMeshArray
from handos_ros.one_euro import OneEuroParams
from handos_ros.parameters import Settings
from handos_ros.per_side import hand_transforms, wrist_poses
from handos_ros.pipeline_stats import PipelineStats
from handos_ros.tf_broadcast import HandTfBroadcaster

# Extra rejection reasons counted by the pipeline itself.
BAD_FRAME_ID = "bad_frame_id"
WORKER_ERROR = "worker_error"

# Per-frame_id state (last stamp, camera_info) is kept for at most this many frame_ids.
MAX_FRAME_IDS = 64


@dataclass
class Frame:
    """An image waiting in the mailbox."""

    msg: Any  # sensor_msgs/Image or CompressedImage
    compressed: bool
    arrival: float  # time.monotonic()


@dataclass
class Outputs:
    """What the worker needs from configure: the model and the publishers it writes to."""

    guard: ModelGuard
    meshes: Any  # lifecycle publisher of HandMeshArray
    markers: Any  # lifecycle publisher of MarkerArray
    debug: Any  # lifecycle publisher of sensor_msgs/Image
    tf: HandTfBroadcaster
    marker_builder: HandMarkers
    wrists: dict[int, Any] | None = None  # HandMesh.LEFT / RIGHT -> lifecycle publisher of PoseStamped
    frame_prefix: str = ""  # TF frames <prefix>left / <prefix>right (per_side.frame_prefix)


def tracking_config(s: Settings) -> TrackingConfig:
    """The tracking and smoothing parameters of a Settings snapshot."""
    return TrackingConfig(
        iou_threshold=s.track_iou_threshold, max_age=s.track_max_age, side_frames=s.track_side_frames,
        max_distance=s.track_max_distance, smoothing=s.smoothing,
        filter=OneEuroParams(s.smoothing_min_cutoff, s.smoothing_beta, s.smoothing_d_cutoff),
    )


class FramePipeline:
    """Latest-frame processing for one node (see the module docstring).

    Args:
        node: the node whose clock and logger are used, and whose context ends the worker.
        settings: returns the current parameter snapshot (read once per frame).
        stats: counters and windows reported on /diagnostics.
        tlog: throttled logger (one line per problem and period).
    """

    def __init__(self, node: Node, settings: Callable[[], Settings], stats: PipelineStats, tlog: ThrottledLogger) -> None:
        s = settings()
        self._node = node
        self._settings = settings
        self._stats = stats
        self._tlog = tlog
        self.cameras = caminfo.CameraInfoCache(max_frames=MAX_FRAME_IDS)
        self.tracker = HandTracks(tracking_config(s))
        self.active = False  # set by the node's activate / deactivate
        self.image_topic = ""
        self.info_topic = ""
        self.marker_frame = ""  # frame of the last markers published (to clear them on deactivate)
        self._mailbox: LatestMailbox[Frame] = LatestMailbox()
        self._reset_tracker = threading.Event()
        self._last_stamp: dict[str, int] = {}
        self._out: Outputs | None = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ lifecycle (node's thread)
    def start(self, outputs: Outputs, image_topic: str, info_topic: str) -> None:
        """Configure: remember the outputs and start the worker thread."""
        self._out = outputs
        self.image_topic = image_topic
        self.info_topic = info_topic
        self._stop.clear()
        self._worker = threading.Thread(target=self._worker_loop, name="handos_worker", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker thread (waits for a running inference to finish)."""
        self._stop.set()
        self._mailbox.clear()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=30.0)

    def reset(self) -> None:
        """Cleanup: forget the outputs, the cameras, the stamps and the tracks."""
        self._out = None
        self.cameras.clear()
        self._last_stamp.clear()
        self.tracker.reset()

    def clear_pending(self) -> None:
        """Drop a frame waiting in the mailbox (deactivate, enable:=false)."""
        self._mailbox.clear()

    # ------------------------------------------------------------------ callbacks (executor thread)
    def on_image(self, msg: Any) -> None:
        self._enqueue(msg, compressed=False)

    def on_compressed(self, msg: Any) -> None:
        self._enqueue(msg, compressed=True)

    def _enqueue(self, msg: Any, compressed: bool) -> None:
        try:
            if not self._settings().enable or not self.active:
                return
            stamp_ns = Time.from_msg(msg.header.stamp).nanoseconds
            now_ns = self._node.get_clock().now().nanoseconds
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
            if self._mailbox.put(Frame(msg=msg, compressed=compressed, arrival=time.monotonic())):
                self._stats.on_dropped()
        except Exception as exc:  # noqa: BLE001 - never let an exception escape a callback
            self._stats.on_worker_error()
            self._tlog.log("enqueue", "error", f"image callback failed: {exc!r}")

    def on_camera_info(self, msg: Any) -> None:
        try:
            self.cameras.update(msg)
        except caminfo.CameraInfoRejected as exc:
            self._stats.on_rejected(exc.reason)
            self._tlog.log(f"caminfo:{msg.header.frame_id}", "error", f"refused camera_info on {self.info_topic}: {exc}")
        except Exception as exc:  # noqa: BLE001
            self._stats.on_rejected(caminfo.BAD_CAMERA_INFO)
            self._tlog.log("caminfo", "error", f"refused camera_info on {self.info_topic}: {exc!r}")

    # ------------------------------------------------------------------ worker thread
    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            frame = self._mailbox.take(timeout=0.2)
            if frame is None or self._stop.is_set():
                continue
            try:
                self._process(frame)
            except Exception as exc:  # noqa: BLE001 - the worker must survive anything
                if not self._node.context.ok():
                    return  # Ctrl-C / SIGTERM shut ROS down under this frame: stop, quietly
                self._stats.on_worker_error()
                self._stats.on_rejected(WORKER_ERROR)
                tb = traceback.format_exc(limit=4)
                self._tlog.log(f"worker:{type(exc).__name__}", "error", f"frame processing failed: {exc!r}\n{tb}")

    def _process(self, frame: Frame) -> None:
        s = self._settings()
        out_pubs = self._out
        if not s.enable or not self.active or out_pubs is None:
            return
        t0 = time.perf_counter()
        msg = frame.msg
        header = msg.header
        topic = self.image_topic
        frame_id = header.frame_id
        if not frame_id.strip():
            self._stats.on_rejected(BAD_FRAME_ID)
            self._tlog.log("frame_id", "error", f"refused image on {topic}: empty header.frame_id (outputs need the camera optical frame)")
            return
        if not self.cameras.has(frame_id):  # refuse before paying for the decode
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
            K = self.cameras.lookup(msg.header.frame_id, w, h, topic=self.info_topic)
        except caminfo.CameraInfoRejected as exc:
            self._stats.on_rejected(exc.reason)
            self._tlog.log(f"k:{exc.reason}:{frame_id}", "error", f"image on {topic} not processed: {exc}")
            return
        t_decoded = time.perf_counter()
        try:
            preds, _timing = out_pubs.guard.predict(rgb, K, s.score_threshold, s.nms_threshold, s.max_hands)
        except ModelParked:  # deactivated while this frame was being decoded: drop it quietly
            self._stats.on_dropped()
            return
        t_inferred = time.perf_counter()
        if self._reset_tracker.is_set():
            self._reset_tracker.clear()
            self.tracker.reset()
        self.tracker.configure(tracking_config(s))
        tracked = self.tracker.update(preds, Time.from_msg(header.stamp).nanoseconds / 1e9, K)
        out = HandMeshArray(header=header)
        out.hands = [hand_mesh_from_prediction(h.prediction, h.track_id, h.side, h.primary, h.age) for h in tracked]
        out_pubs.meshes.publish(out)
        if s.publish_tf and out.hands:
            out_pubs.tf.send(hand_transforms(header, out.hands, out_pubs.frame_prefix, s.publish_track_tf))
        for side, pose in wrist_poses(header, out.hands).items():
            if out_pubs.wrists and side in out_pubs.wrists:
                out_pubs.wrists[side].publish(pose)
        if s.publish_markers and out_pubs.markers.get_subscription_count() > 0:
            out_pubs.markers.publish(out_pubs.marker_builder.build(header, out.hands))
            self.marker_frame = header.frame_id
        if s.publish_debug_image and out_pubs.debug.get_subscription_count() > 0:
            out_pubs.debug.publish(image_msg(draw_hands(rgb, out.hands), header, "rgb8"))
        t_end = time.perf_counter()
        latency_ms = (self._node.get_clock().now().nanoseconds - Time.from_msg(header.stamp).nanoseconds) / 1e6
        inference_ms = (t_inferred - t_decoded) * 1e3
        overhead_ms = ((t_decoded - t0) + (t_end - t_inferred)) * 1e3
        self._stats.on_processed(latency_ms, inference_ms, overhead_ms, len(out.hands))
        self._node.get_logger().debug(
            f"frame {header.stamp.sec}.{header.stamp.nanosec:09d}: {len(out.hands)} hands, "
            f"inference {inference_ms:.1f} ms, overhead {overhead_ms:.1f} ms (decode {(t_decoded - t0) * 1e3:.1f}), "
            f"latency {latency_ms:.1f} ms"
        )

    def _refuse_no_camera_info(self, frame_id: str) -> None:
        self._stats.on_rejected(caminfo.NO_CAMERA_INFO)
        known = self.cameras.frames()
        others = f" (valid camera_info seen only for frame_id {known})" if known else ""
        self._tlog.log(
            f"k:no_camera_info:{frame_id}:{known}", "warning",  # a new situation logs at once
            f"waiting for camera_info on {self.info_topic} for frame_id '{frame_id}'{others}: "
            f"images on {self.image_topic} are not processed until a valid one arrives",
        )

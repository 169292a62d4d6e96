"""Every parameter of handos_node: default, description, range, validation, snapshot.

``SPECS`` is the single source of truth: the node declares from it (each with a
ParameterDescriptor description and a range for numbers), the set-parameters callback
validates with :func:`validate`, config/handos.yaml and the README table list the same
names (a test checks they agree).

Two kinds of parameters:
- run-time (``dynamic=True``): take effect on the next frame (thresholds, switches);
- configure-time: read in ``on_configure`` / ``on_activate``; changing them is refused
  unless the node is unconfigured (``ros2 lifecycle set /handos_node cleanup`` first).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from handos_ros.model_runner import BACKENDS

DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
FRAME_PREFIX_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$|^$")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    dynamic: bool
    lo: float | int | None = None
    hi: float | int | None = None
    step: int | None = None
    choices: tuple[str, ...] | None = None

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(name=self.name, description=self.description)
        extra = "run-time" if self.dynamic else "configure-time (change while unconfigured)"
        if self.choices:
            extra += "; one of: " + ", ".join(self.choices)
        d.additional_constraints = extra
        if isinstance(self.default, bool):
            return d
        if isinstance(self.default, float) and self.lo is not None:
            d.floating_point_range = [FloatingPointRange(from_value=float(self.lo), to_value=float(self.hi), step=0.0)]
        elif isinstance(self.default, int) and self.lo is not None:
            d.integer_range = [IntegerRange(from_value=int(self.lo), to_value=int(self.hi), step=int(self.step or 1))]
        return d


SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("model_config", "", "Model config YAML used to build the network when no weights file exists "
              "(plumbing runs with an untrained model). Empty: the embedded default model's config (handos_model.DEFAULT_CONFIG). A weights "
              "file carries its own config (NAME.json next to NAME.safetensors).", False),
    ParamSpec("weights", "", "HandOS weights (.safetensors with its .json beside it). Empty: the embedded default "
              "model (handos_model.DEFAULT_WEIGHTS, docs/model.md); if that file is missing the node runs an "
              "UNTRAINED model and says so loudly (log ERROR, /diagnostics ERROR, mesh_info.weights).", False),
    ParamSpec("backend", "auto", "Inference backend: auto, torch (PyTorch on device) or onnxruntime (ONNX Runtime "
              "on the CPU, docs/deployment.md). With onnxruntime, weights may name a handos-export --onnx folder (or "
              "its handos_onnx.json); a .safetensors file or the embedded default is exported once at configure "
              "into $ROS_HOME/handos_onnx/ (about 10 s, then reused). auto: onnxruntime when the model runs on the "
              "CPU (faster there), torch on CUDA, with input_size set, for an untrained model, or when ONNX Runtime "
              "cannot serve the model; the choice and its reason are logged.", False,
              choices=BACKENDS),
    ParamSpec("device", "auto", "Compute device: auto (CUDA when available, else CPU; the choice is logged), cpu, "
              "cuda or cuda:N. cuda without a usable GPU makes configure fail with a clear error.", False,
              choices=("auto", "cpu", "cuda", "cuda:N")),
    ParamSpec("score_threshold", 0.3, "Detection score threshold T^S in [0, 1]. The paper evaluates recall at 0.1; "
              "0.3 keeps false hands out of a robot's control loop. 1.0 disables output (empty arrays).", True,
              lo=0.0, hi=1.0),
    ParamSpec("nms_threshold", 0.5, "Box-IoU threshold T^NMS of the query NMS in [0, 1]. The paper evaluates at "
              "0.9, which leaves two or more boxes per hand on the CPU models; 0.5 keeps about one (held-out easy "
              "scenes: 2.6 -> 1.05 boxes per hand; cluttered scenes: recall 6 points lower; docs/model.md).", True,
              lo=0.0, hi=1.0),
    ParamSpec("max_hands", 4, "At most this many hands per image (highest scores first).", True, lo=1, hi=64),
    ParamSpec("input_size", 0, "Side S of the square network input in pixels (letterboxed, multiple of 32). "
              "0: the size the model was trained at.", False, lo=0, hi=1280, step=32),
    ParamSpec("num_threads", 0, "PyTorch CPU threads for inference; 0: PyTorch's default.", False, lo=0, hi=256),
    ParamSpec("image_reliability", "best_effort", "Reliability of the image subscription: best_effort (REP 2003 "
              "sensor data; receives from reliable and best-effort publishers alike) or reliable. A "
              "qos_overrides./<ns>/image.subscription.reliability parameter, when given, wins.", False,
              choices=("best_effort", "reliable")),
    ParamSpec("use_compressed", False, "Subscribe to image/compressed (sensor_msgs/CompressedImage, jpeg or png) "
              "instead of image (image_transport 'compressed' where image_transport is absent).", False),
    ParamSpec("max_input_pixels", 3840 * 2160, "Images with more pixels (width x height) are refused with a "
              "'too_large' rejection (default: 4K UHD). 0: no limit.", True, lo=0, hi=1 << 30),
    ParamSpec("hand_frame_prefix", "", "Prefix of the hands' TF child frames: <prefix>left and <prefix>right for "
              "the operator's hands (and <prefix>track_<id> with publish_track_tf), parented to the image's "
              "frame_id. Empty: '<namespace>/<node name>/' without the leading '/' (e.g. 'cam1/handos_node/'), "
              "so two nodes never publish the same frame.", False),
    ParamSpec("publish_tf", True, "Broadcast the operator's hands as TF frames <prefix>left / <prefix>right at the "
              "wrist (orientation as in HandMesh.wrist_pose; only while that hand is seen with a valid pose).", True),
    ParamSpec("publish_track_tf", False, "Also broadcast one TF frame <prefix>track_<id> per tracked hand (every "
              "hand of every frame, duplicates and other people's hands included).", True),
    ParamSpec("publish_markers", True, "Publish hands/markers (visualization_msgs/MarkerArray: mesh, skeleton, "
              "joints, label); only built while someone subscribes.", True),
    ParamSpec("publish_debug_image", False, "Publish hands/debug_image (input with boxes, 2D skeletons, side "
              "labels); only drawn while someone subscribes.", True),
    ParamSpec("enable", True, "Process images. False: incoming frames are ignored (no output, no compute) while "
              "the node stays active.", True),
    ParamSpec("track_iou_threshold", 0.3, "A hand may continue a track when its box overlaps the track's predicted "
              "box (constant velocity) by at least this IoU, or when the centres are within track_max_distance; "
              "among those, one optimal assignment on box, 2D joints and side.", True, lo=0.0, hi=1.0),
    ParamSpec("track_max_distance", 1.0, "A hand may also continue a track when its box centre is within this many "
              "track box sizes of the predicted centre (fast motion, occlusion at a crossing).", True, lo=0.0, hi=10.0),
    ParamSpec("track_max_age", 5, "Processed frames a track survives without a matching hand before its id is "
              "retired (and its filter reset).", True, lo=0, hi=1000),
    ParamSpec("track_side_frames", 3, "Side hysteresis: a track's side changes only after this many consecutive "
              "matched frames observe the other side (1: follow every frame).", True, lo=1, hi=1000),
    ParamSpec("smoothing", True, "One-Euro filter (Casiez et al. 2012) per track on the camera translation, the "
              "joints and vertices relative to it, the 2D joints and the box; reset when a track starts, changes "
              "side or is lost. Wrist pose and joint angles are computed from the filtered joints.", True),
    ParamSpec("smoothing_min_cutoff", 0.5, "One-Euro minimum cutoff frequency (Hz): the smoothing of a hand held "
              "still. Lower: less jitter, more lag at slow motion.", True, lo=0.01, hi=100.0),
    ParamSpec("smoothing_beta", 20.0, "One-Euro speed coefficient (s/m): the cutoff rises by beta Hz per m/s of "
              "speed (2D speeds converted to m/s at the hand's depth). Higher: less lag when moving.", True,
              lo=0.0, hi=10000.0),
    ParamSpec("smoothing_d_cutoff", 1.0, "One-Euro cutoff frequency (Hz) of the speed estimate.", True,
              lo=0.01, hi=100.0),
    ParamSpec("diagnostics_period", 1.0, "Seconds between /diagnostics messages.", False, lo=0.1, hi=60.0),
    ParamSpec("autostart", True, "main(): configure and activate at start-up so `ros2 run handos_ros handos_node` "
              "just works. False: wait for lifecycle transitions (ros2 lifecycle set / a lifecycle manager).",
              False),
)

SPEC_BY_NAME: dict[str, ParamSpec] = {s.name: s for s in SPECS}


def validate(name: str, value: Any) -> str | None:
    """None if ``value`` is acceptable for parameter ``name``, else the reason."""
    spec = SPEC_BY_NAME.get(name)
    if spec is None:
        return None
    d = spec.default
    if isinstance(d, bool):
        return None if isinstance(value, bool) else f"{name} must be a bool, got {value!r}"
    if isinstance(d, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{name} must be a number, got {value!r}"
        if not math.isfinite(float(value)):
            return f"{name} must be finite, got {value!r}"
        if spec.lo is not None and not (spec.lo <= float(value) <= spec.hi):
            return f"{name} must be in [{spec.lo}, {spec.hi}], got {value!r}"
        return None
    if isinstance(d, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be an integer, got {value!r}"
        if spec.lo is not None and not (spec.lo <= value <= spec.hi):
            return f"{name} must be in [{spec.lo}, {spec.hi}], got {value!r}"
        if spec.step and (value - int(spec.lo)) % spec.step:
            return f"{name} must be a multiple of {spec.step}, got {value!r}"
        return None
    if not isinstance(value, str):
        return f"{name} must be a string, got {value!r}"
    if name == "device" and not DEVICE_RE.match(value):
        return f"device must be auto, cpu, cuda or cuda:N, got {value!r}"
    if name == "backend" and value not in BACKENDS:
        return f"backend must be {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}, got {value!r}"
    if name == "image_reliability" and value not in ("best_effort", "reliable"):
        return f"image_reliability must be best_effort or reliable, got {value!r}"
    if name == "hand_frame_prefix" and (value.startswith("/") or not FRAME_PREFIX_RE.match(value)):
        return f"hand_frame_prefix must be a relative frame name prefix (no leading '/'), got {value!r}"
    return None


@dataclass(frozen=True)
class Settings:
    """A consistent snapshot of all parameters (the worker reads one per frame)."""

    model_config: str
    weights: str
    backend: str
    device: str
    score_threshold: float
    nms_threshold: float
    max_hands: int
    input_size: int
    num_threads: int
    image_reliability: str
    use_compressed: bool
    max_input_pixels: int
    hand_frame_prefix: str
    publish_tf: bool
    publish_track_tf: bool
    publish_markers: bool
    publish_debug_image: bool
    enable: bool
    track_iou_threshold: float
    track_max_distance: float
    track_max_age: int
    track_side_frames: int
    smoothing: bool
    smoothing_min_cutoff: float
    smoothing_beta: float
    smoothing_d_cutoff: float
    diagnostics_period: float
    autostart: bool

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Settings:
        kw = {}
        for f in fields(cls):
            v = values[f.name]
            default = SPEC_BY_NAME[f.name].default
            kw[f.name] = float(v) if isinstance(default, float) else v
        return cls(**kw)


def declare_all(node: Any) -> Settings:
    """Declare every parameter on ``node``; return the initial snapshot (overrides applied).

    Raises:
        ValueError: an initial value (command line / parameters file) fails :func:`validate`.
    """
    values = {}
    for spec in SPECS:
        p = node.declare_parameter(spec.name, spec.default, spec.descriptor())
        values[spec.name] = p.value
        reason = validate(spec.name, p.value)
        if reason is not None:
            raise ValueError(f"invalid parameter: {reason}")
    return Settings.from_values(values)

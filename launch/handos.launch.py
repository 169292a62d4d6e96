"""Launch handos_node (and optionally RViz) for one camera.

    ros2 launch handos_ros handos.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info rviz:=true camera_frame:=camera_color_optical_frame

Every tunable is a launch argument. Node parameters come from ``config`` (a
ros__parameters YAML, default: the installed config/handos.yaml, keyed ``/**`` so that it
applies whatever ``namespace`` and ``node_name`` are); a parameter argument left empty ('')
keeps the file's value, a non-empty one overrides it.

``rviz:=true`` needs rviz2: where it is not installed the launch stops before starting
anything, with a message saying so (it does not leave the node running on its own).

Remappings: the node's relative inputs ``image``, ``image/compressed`` and ``camera_info`` are
remapped to ``image``, ``<image>/compressed`` and ``camera_info``; outputs stay under the
node's namespace (``hands/meshes``, ``hands/mesh_info``, ``hands/markers``,
``hands/debug_image``) plus ``/tf`` and ``/diagnostics``.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription

RVIZ_PACKAGE = "rviz2"

# (name, default, description). Parameter arguments default to '' = "value from the config file".
ARGUMENTS: list[tuple[str, str, str]] = [
    ("namespace", "", "Namespace of the node (and of RViz): outputs go to <namespace>/hands/..."),
    ("node_name", "handos_node", "Name of the node"),
    ("image", "image_raw", "Input image topic (sensor_msgs/Image); its '/compressed' sibling is used with use_compressed"),
    ("camera_info", "camera_info", "CameraInfo topic of the same camera"),
    ("config", PathJoinSubstitution([FindPackageShare("handos_ros"), "config", "handos.yaml"]),
     "Parameters file (ros__parameters under '/**', or under the node's name)"),
    ("weights", "", "HandOS weights .safetensors ('' = from config: the embedded default model)"),
    ("model_config", "", "Model config YAML for runs without weights ('' = from config)"),
    ("backend", "", "auto | torch | onnxruntime ('' = from config, default auto)"),
    ("device", "", "auto | cpu | cuda | cuda:N ('' = from config, default auto)"),
    ("input_size", "", "Network input side in px, multiple of 32, 0 = trained size ('' = from config)"),
    ("use_compressed", "", "true: subscribe to <image>/compressed (jpeg/png) ('' = from config, default false)"),
    ("image_reliability", "", "best_effort | reliable image subscription ('' = from config, default best_effort)"),
    ("score_threshold", "", "Detection score threshold in [0, 1] ('' = from config, default 0.3)"),
    ("nms_threshold", "", "NMS box-IoU threshold in [0, 1] ('' = from config, default 0.5)"),
    ("max_hands", "", "Maximum hands per image ('' = from config, default 4)"),
    ("hand_frame_prefix", "", "TF frame prefix of the operator's hands <prefix>left / <prefix>right ('' = from config, default <namespace>/<node name>/)"),
    ("publish_tf", "", "true/false ('' = from config, default true)"),
    ("publish_markers", "", "true/false ('' = from config, default true)"),
    ("publish_debug_image", "", "true/false ('' = from config, default false)"),
    ("num_threads", "", "PyTorch CPU threads, 0 = PyTorch's default ('' = from config, default 0)"),
    ("max_input_pixels", "", "Refuse larger images (width x height), 0 = no limit ('' = from config, default 3840x2160)"),
    ("enable", "", "true/false: process images ('' = from config, default true)"),
    ("publish_track_tf", "", "true/false: a TF frame per tracked hand ('' = from config, default false)"),
    ("track_iou_threshold", "", "Box IoU for a hand to continue a track ('' = from config, default 0.3)"),
    ("track_max_distance", "", "Centre distance in track box sizes to continue a track ('' = from config, default 1.0)"),
    ("track_max_age", "", "Processed frames a lost track survives ('' = from config, default 5)"),
    ("track_side_frames", "", "Frames of the other side before a track's side changes ('' = from config, default 3)"),
    ("smoothing", "", "true/false: One-Euro smoothing per track ('' = from config, default true)"),
    ("smoothing_min_cutoff", "", "One-Euro minimum cutoff in Hz ('' = from config, default 0.5)"),
    ("smoothing_beta", "", "One-Euro speed coefficient in s/m ('' = from config, default 20.0)"),
    ("smoothing_d_cutoff", "", "One-Euro speed cutoff in Hz ('' = from config, default 1.0)"),
    ("diagnostics_period", "", "Seconds between /diagnostics messages ('' = from config, default 1.0)"),
    ("autostart", "", "Configure + activate at start-up ('' = from config, default true)"),
    ("use_sim_time", "false", "Use /clock (bag replay)"),
    ("log_level", "info", "Node log level: debug prints per-frame timings"),
    ("rviz", "false", "Start RViz with config/handos.rviz (markers, TF, debug image)"),
    ("rviz_config", PathJoinSubstitution([FindPackageShare("handos_ros"), "config", "handos.rviz"]), "RViz config file"),
    ("camera_frame", "camera_color_optical_frame", "RViz fixed frame: the camera optical frame of the images"),
]

# Parameter arguments: name -> type of the parameter ('' arguments are not passed).
PARAMETER_ARGUMENTS: dict[str, type] = {
    "weights": str,
    "model_config": str,
    "backend": str,
    "device": str,
    "input_size": int,
    "use_compressed": bool,
    "image_reliability": str,
    "score_threshold": float,
    "nms_threshold": float,
    "max_hands": int,
    "hand_frame_prefix": str,
    "publish_tf": bool,
    "publish_markers": bool,
    "publish_debug_image": bool,
    "num_threads": int,
    "max_input_pixels": int,
    "enable": bool,
    "publish_track_tf": bool,
    "track_iou_threshold": float,
    "track_max_distance": float,
    "track_max_age": int,
    "track_side_frames": int,
    "smoothing": bool,
    "smoothing_min_cutoff": float,
    "smoothing_beta": float,
    "smoothing_d_cutoff": float,
    "diagnostics_period": float,
    "autostart": bool,
}


def _typed(kind: type, text: str) -> object:
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() == "true"
    return kind(text)


def _require_rviz() -> None:
    """Raise a clear error when rviz2 is not installed (checked before any process starts)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix(RVIZ_PACKAGE)
    except PackageNotFoundError:
        raise RuntimeError(
            f"rviz:=true but the '{RVIZ_PACKAGE}' package is not installed here (apt: ros-$ROS_DISTRO-rviz2; it is "
            "not on PyPI): nothing was started. Launch with rviz:=false and run RViz where it is installed."
        ) from None


def _launch_setup(context: LaunchContext) -> list:
    with_rviz = _typed(bool, LaunchConfiguration("rviz").perform(context))
    if with_rviz:
        _require_rviz()
    overrides: dict[str, object] = {}
    for name, kind in PARAMETER_ARGUMENTS.items():
        text = LaunchConfiguration(name).perform(context)
        if text != "":
            overrides[name] = _typed(kind, text)
    overrides["use_sim_time"] = _typed(bool, LaunchConfiguration("use_sim_time").perform(context))
    image = LaunchConfiguration("image").perform(context)
    namespace = LaunchConfiguration("namespace")
    handos = Node(
        package="handos_ros",
        executable="handos_node",
        name=LaunchConfiguration("node_name"),
        namespace=namespace,
        parameters=[LaunchConfiguration("config"), overrides],
        remappings=[
            ("image", image),
            ("image/compressed", image.rstrip("/") + "/compressed"),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
        ros_arguments=["--log-level", LaunchConfiguration("log_level")],
        output="screen",
        emulate_tty=True,
    )
    if not with_rviz:
        return [handos]
    rviz = Node(
        package=RVIZ_PACKAGE,
        executable="rviz2",
        namespace=namespace,
        arguments=["-d", LaunchConfiguration("rviz_config"), "-f", LaunchConfiguration("camera_frame")],
        parameters=[{"use_sim_time": overrides["use_sim_time"]}],
        output="screen",
    )
    return [handos, rviz]


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=default, description=desc) for name, default, desc in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_launch_setup)])

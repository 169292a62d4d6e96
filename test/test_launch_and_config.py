"""The launch file, the parameters file and the RViz config agree with the node's parameters.

The launch file is checked statically everywhere (it compiles, every DeclareLaunchArgument is
used through a LaunchConfiguration, every parameter argument is a real node parameter); where
`ros2 launch` is installed (apt ROS, or ../shared/ros2-cli through scripts/bootstrap.sh),
generate_launch_description() runs too, and test_ros2_launch.py launches it for real.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from launch_harness import launch_unavailable
from ros_isolation import REPO_ROOT

LAUNCH_FILE = REPO_ROOT / "launch" / "handos.launch.py"
CONFIG_FILE = REPO_ROOT / "config" / "handos.yaml"
RVIZ_FILE = REPO_ROOT / "config" / "handos.rviz"


def _tree() -> ast.Module:
    source = LAUNCH_FILE.read_text(encoding="utf-8")
    compile(source, str(LAUNCH_FILE), "exec")
    return ast.parse(source)


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == name:
            return node.value
    raise AssertionError(f"{name} not assigned at module level in {LAUNCH_FILE.name}")


def _declared_names(tree: ast.Module) -> list[str]:
    args = _assigned(tree, "ARGUMENTS")
    assert isinstance(args, ast.List)
    names = []
    for elt in args.elts:
        assert isinstance(elt, ast.Tuple) and isinstance(elt.elts[0], ast.Constant)
        names.append(elt.elts[0].value)
    # and they really are turned into DeclareLaunchArgument actions
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DeclareLaunchArgument"]
    assert calls, "no DeclareLaunchArgument call"
    return names


def _parameter_arguments(tree: ast.Module) -> list[str]:
    d = _assigned(tree, "PARAMETER_ARGUMENTS")
    assert isinstance(d, ast.Dict)
    return [k.value for k in d.keys]


def _launch_configuration_uses(tree: ast.Module) -> set[str]:
    """Names read through LaunchConfiguration("literal"), plus the loop over PARAMETER_ARGUMENTS."""
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "LaunchConfiguration" and node.args:
            if isinstance(node.args[0], ast.Constant):
                used.add(node.args[0].value)
        if isinstance(node, ast.For) and "PARAMETER_ARGUMENTS" in ast.unparse(node.iter):
            inner = [
                n for n in ast.walk(node)
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "LaunchConfiguration"
                and isinstance(n.args[0], ast.Name)
            ]
            if inner:
                used.update(_parameter_arguments(tree))
    return used


def test_launch_file_compiles_and_every_argument_is_used() -> None:
    tree = _tree()
    declared = _declared_names(tree)
    assert len(declared) == len(set(declared)), "duplicate launch argument"
    unused = set(declared) - _launch_configuration_uses(tree)
    assert not unused, f"declared but never read through LaunchConfiguration: {sorted(unused)}"
    for required in ("namespace", "image", "camera_info", "config", "device", "weights", "use_compressed",
                     "image_reliability", "rviz"):
        assert required in declared


def test_parameter_arguments_are_node_parameters() -> None:
    from handos_ros.parameters import SPEC_BY_NAME

    tree = _tree()
    declared = set(_declared_names(tree))
    for name in _parameter_arguments(tree):
        assert name in SPEC_BY_NAME, f"launch passes unknown parameter {name}"
        assert name in declared


def test_every_node_parameter_is_a_launch_argument_of_its_type() -> None:
    """`ros2 launch ... smoothing_beta:=40` works for every parameter, typed as the node declares it."""
    from handos_ros.parameters import SPECS

    arguments = _assigned(_tree(), "PARAMETER_ARGUMENTS")
    kinds = {k.value: v.id for k, v in zip(arguments.keys, arguments.values, strict=True)}
    missing = [s.name for s in SPECS if s.name not in kinds]
    assert not missing, f"node parameters without a launch argument: {missing}"
    for spec in SPECS:
        assert kinds[spec.name] == type(spec.default).__name__, (spec.name, kinds[spec.name], spec.default)


def test_config_file_lists_every_parameter_with_its_default() -> None:
    from handos_ros.parameters import SPECS, validate

    data = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    # "/**": the file applies whatever the node's name and namespace (node_name:=, -r __node:=)
    assert list(data) == ["/**"]
    params = data["/**"]["ros__parameters"]
    assert set(params) == {s.name for s in SPECS}
    for spec in SPECS:
        value = params[spec.name]
        if isinstance(spec.default, float):
            value = float(value)
        assert value == spec.default, f"{spec.name}: config {value!r} != node default {spec.default!r}"
        assert type(value) is type(spec.default), spec.name
        assert validate(spec.name, value) is None
        assert spec.description


def test_rviz_config_shows_markers_tf_and_debug_image() -> None:
    rviz = yaml.safe_load(RVIZ_FILE.read_text(encoding="utf-8"))
    displays = {d["Class"]: d for d in rviz["Visualization Manager"]["Displays"]}
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "hands/markers"
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == "hands/debug_image"
    assert "rviz_default_plugins/TF" in displays


@pytest.mark.skipif(launch_unavailable() is not None, reason=str(launch_unavailable()))
def test_generate_launch_description_runs() -> None:
    spec = importlib.util.spec_from_file_location("handos_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from launch import LaunchDescription

    ld = module.generate_launch_description()
    assert isinstance(ld, LaunchDescription)
    names = {a.name for a in ld.get_launch_arguments()}
    assert names == {name for name, _, _ in module.ARGUMENTS}


@pytest.mark.skipif(launch_unavailable() is not None, reason=str(launch_unavailable()))
def test_launch_tests_skip_where_launch_ros_lacks_composition_interfaces() -> None:
    """Where `launch` is there but composition_interfaces is not, the launch tests skip, not fail
    (an upstream launch_ros imports composition_interfaces as soon as launch_ros.actions is used)."""
    env = dict(os.environ)
    for var in ("PYTHONPATH", "AMENT_PREFIX_PATH"):
        env[var] = os.pathsep.join(p for p in env.get(var, "").split(os.pathsep) if "composition_interfaces" not in p)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test/test_launch_and_config.py",
         "test/test_ros2_launch.py", "-k", "generate_launch_description_runs or parameters_come_from_the_config"],
        cwd=str(REPO_ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert "2 skipped" in out.stdout and "composition_interfaces" in out.stdout, out.stdout[-3000:]


def test_installed_share_has_launch_and_config() -> None:
    """colcon installs launch/ and config/ to share/handos_ros (what FindPackageShare resolves)."""
    from node_harness import package_prefix

    prefix = package_prefix()
    if prefix is None:
        pytest.skip("package not built (run `make test`)")
    share = prefix / "share" / "handos_ros"
    for rel in ("launch/handos.launch.py", "config/handos.yaml", "config/handos.rviz"):
        assert (share / rel).exists(), rel
    assert Path(share / "launch" / "handos.launch.py").read_text() == LAUNCH_FILE.read_text()


def test_node_doc_lists_every_parameter_with_its_default() -> None:
    """docs/ros_node.md's parameter table names every parameter with the node's default."""
    from handos_ros.parameters import SPECS

    doc = (REPO_ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[2] in ("yes", "no"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2])
    assert set(rows) == {s.name for s in SPECS}
    for s in SPECS:
        default = '""' if s.default == "" else (str(s.default).lower() if isinstance(s.default, bool) else str(s.default))
        assert rows[s.name] == (default, "yes" if s.dynamic else "no"), s.name

"""Shared fixtures. ROS isolation is applied at import, before any rclpy.init()."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ros_isolation import REPO_ROOT, isolate_ros_environment  # noqa: E402

ROS_ENV = isolate_ros_environment()


def _have_ros() -> bool:
    try:
        return importlib.util.find_spec("rclpy") is not None and importlib.util.find_spec("handos_ros.msg") is not None
    except ModuleNotFoundError:  # handos_ros itself not importable (not built / not sourced)
        return False


HAVE_ROS = _have_ros()
PEERS_DIR = Path(__file__).resolve().parent / "ros_peers"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """ROS tests need the colcon-built messages; say clearly how to get them."""
    if HAVE_ROS:
        return
    skip = pytest.mark.skip(reason="rclpy / handos_ros.msg not importable: run `make test` (it builds and sources them)")
    for item in items:
        if "ros" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ros_env() -> dict[str, str]:
    """The isolated environment (domain id, profile, ROS_HOME) subprocesses inherit."""
    return dict(ROS_ENV)


@pytest.fixture()
def rclpy_context() -> Iterator[object]:
    """A fresh rclpy Context for one test, shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        if ctx.ok():
            rclpy.shutdown(context=ctx)


@pytest.fixture()
def spawn_peer() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start a helper process (python script in test/ros_peers) and always reap it."""
    procs: list[subprocess.Popen] = []

    def _spawn(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        cmd = [sys.executable, str(PEERS_DIR / script), *args]
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **(env or {})},
            cwd=str(REPO_ROOT.parent),  # not the repo root: import the built package, not the source tree
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield _spawn
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def spin_until(node: object, predicate: Callable[[], bool], timeout: float) -> bool:
    """Spin ``node`` (in its own context) until ``predicate()`` holds or ``timeout`` s pass."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if predicate():
                return True
            executor.spin_once(timeout_sec=0.05)
        return predicate()
    finally:
        executor.remove_node(node)
        executor.shutdown(timeout_sec=1.0)

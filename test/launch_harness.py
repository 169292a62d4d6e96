"""The upstream `ros2 launch` and `ros2` command line, driven from a test.

Where ROS 2 comes from PyPI, `launch`, `launch_ros` and `ros2` exist only where
scripts/bootstrap.sh installed them from ../shared/ros2-cli; :func:`launch_unavailable` says
why a launch test must skip (nothing here fakes them).

- :class:`LaunchProcess`: ``ros2 launch handos_ros handos.launch.py ARG:=VALUE ...`` in its own
  process group, output in a log file; :meth:`LaunchProcess.stop` is Ctrl-C (SIGINT).
- :func:`ros2`: one ``ros2 <verb> ...`` command (``--no-daemon`` verbs never leave a daemon behind).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ros_isolation import REPO_ROOT

# Seconds the ros2 command line spends discovering the graph before it looks for the node: a
# second is plenty on an idle machine; a loaded 2-core one can need more, so each retry waits longer.
SPIN_TIMES = ("2", "5", "10")


def launch_unavailable() -> str | None:
    """None when `ros2 launch` can run here, else the reason the launch tests skip."""
    missing = [m for m in ("launch", "launch_ros", "ros2launch") if importlib.util.find_spec(m) is None]
    if missing or shutil.which("ros2") is None:
        return (f"`ros2 launch` is not installed ({', '.join(missing) or 'ros2 command'} missing): scripts/bootstrap.sh "
                "installs it from ../shared/ros2-cli where that folder exists (Kilted lane), or use an apt ROS install")
    if importlib.util.find_spec("composition_interfaces") is None:
        return ("launch_ros needs the composition_interfaces messages, which this ROS lacks (bootstrap builds them "
                "from ../shared/ros2-cli/src)")
    return None


@contextlib.contextmanager
def sigint_inherited_as_default() -> Iterator[None]:
    """While spawning: SIGINT caught (not ignored) in this process, so the child starts with the
    default disposition whatever this process inherited.

    A process started in the background by a non-interactive shell (``nohup cmd &``, some CI
    runners) inherits SIGINT *ignored*, an ignored signal stays ignored across exec, and Python
    keeps it so; a caught one is reset to the default at exec. Our own executables install their
    handlers themselves (``handos_ros.quiet_start``); this makes the launch under test independent
    of how the test run was started. (A guard: the Ctrl-C launch test's rare CI failures, the
    launch process found sleeping with SIGINT ignored 30 s after it, were not reproduced here.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class LaunchProcess:
    """``ros2 launch handos_ros handos.launch.py`` with ``arguments`` (name -> value)."""

    def __init__(self, log_path: Path, arguments: dict[str, str], launch_file: str = "handos.launch.py") -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = ["ros2", "launch", "handos_ros", launch_file, *(f"{k}:={v}" for k, v in arguments.items())]
        with sigint_inherited_as_default():
            self.proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT.parent), stdout=self._log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_log(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            if not self.alive():
                return text in self.log()
            time.sleep(0.2)
        return False

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C the launch (it forwards SIGINT to its processes); its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._log.write(f"\n[test] no exit {timeout:.0f} s after SIGINT: {_signal_state(self.proc.pid)}\n")
                self._log.flush()
                os.killpg(self.proc.pid, signal.SIGKILL)  # this launch's own process group only
                self.proc.wait(timeout=5)
        self._log.close()
        return int(self.proc.returncode)


def _signal_state(pid: int) -> str:
    """The process's state and signal masks (pending / blocked / ignored / caught), for a report."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError as exc:
        return repr(exc)
    return "; ".join(line for line in lines if line.startswith(("State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")))


def ros2(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run ``ros2 ARGS...``; stdout and stderr together in ``.stdout``."""
    return subprocess.run(["ros2", *args], cwd=str(REPO_ROOT.parent), env=dict(os.environ), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def ros2_node_call(*args: str) -> subprocess.CompletedProcess:
    """A ``ros2 param|lifecycle`` call on a node, retried (longer discovery each time) while the
    command line has not found the node yet."""
    for spin_time in SPIN_TIMES:
        out = ros2(*args, "--no-daemon", "--spin-time", spin_time)
        if "Node not found" not in out.stdout:
            return out
    return out


class LineReader:
    """Collects a process's output lines on a thread (bounded by the process's own life)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._thread.join(timeout=5)
        return "\n".join(self.lines)

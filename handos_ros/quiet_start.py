"""Ctrl-C while an executable is still starting exits quietly (status 0, no traceback).

The package's executables spend seconds importing (torch, the model) before ``main()`` runs,
and a Ctrl-C or SIGTERM then (a launcher stopping a process it has just started, a user changing
their mind) would print a KeyboardInterrupt traceback from deep inside an import. Each
executable calls :func:`install` before its heavy imports (``python -m`` runs: at the top of the
module; ``ros2 run`` scripts: before importing it) and :func:`done` as ``main()`` starts, which
puts Python's default handlers back before ``rclpy.init`` installs rclpy's (it chains to them);
from there :mod:`handos_ros.shutdown` stops the executable cleanly. Standard library only, so
that importing it is instantaneous.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _exit_quietly(signum: int, frame: object) -> None:
    sys.stdout.flush()
    os._exit(0)  # nothing to clean up yet: no ROS context, no thread, no file of ours


def install() -> None:
    """From now until :func:`done`, SIGINT / SIGTERM end the process at once with status 0."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, _exit_quietly)


def done() -> None:
    """Python's default handlers again (KeyboardInterrupt on SIGINT, termination on SIGTERM)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

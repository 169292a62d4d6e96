"""Ctrl-C and SIGTERM end every executable of the package cleanly: exit status 0, no traceback.

On SIGINT / SIGTERM, rclpy's signal handler (installed by ``rclpy.init``) shuts the context down
from its own thread, while Python raises ``KeyboardInterrupt`` in the main thread at its next
bytecode. Whichever comes first, the main loop then sees ``KeyboardInterrupt``,
``ExternalShutdownException`` (from ``spin``), or an ``RCLError`` such as "publisher's context is
invalid" (a publish on the dead context). :func:`run` treats all three as the requested stop,
then ignores further signals while the clean-up runs, so that a KeyboardInterrupt still
pending, or a second Ctrl-C, cannot interrupt it halfway.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from rclpy.executors import ExternalShutdownException
from rclpy.utilities import get_default_context


def is_shutdown(exc: BaseException, context: Any = None) -> bool:
    """True when ``exc`` means "stop requested": Ctrl-C, an external shutdown, or (given the
    process's ROS ``context``) any error raised once that context has been shut down."""
    if isinstance(exc, (KeyboardInterrupt, ExternalShutdownException)):
        return True
    return context is not None and isinstance(exc, Exception) and not context.ok()


def default_context() -> Any:
    """rclpy's global context (the one ``rclpy.init()`` without arguments initialises)."""
    return get_default_context()


SIGNALS = (signal.SIGINT, signal.SIGTERM)


def ignore_signals() -> dict[int, Any]:
    """Ignore SIGINT / SIGTERM from now on (also one already pending); returns the previous
    Python-level handlers. Only the main thread can do this: elsewhere, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    return previous


def restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        if handler is not None:
            signal.signal(sig, handler)


def run(body: Callable[[], int], cleanup: Callable[[], None], context: Any = None) -> int:
    """``body()``'s exit status, 0 when a signal stopped it; ``cleanup()`` always runs after it.

    ``context``: the ROS context the executable initialised (None for a process without ROS).
    Errors that are not a stop request propagate (after the clean-up). A clean-up error on a
    context that is already shut down is swallowed: the process is ending anyway.
    """
    rc = 0
    try:
        rc = body()
    except BaseException as exc:
        if not is_shutdown(exc, context):
            _clean_up(cleanup, context)
            raise
    _clean_up(cleanup, context)
    return rc


def _clean_up(cleanup: Callable[[], None], context: Any) -> None:
    previous = ignore_signals()
    try:
        _quiet(cleanup, context)
    finally:
        restore_signals(previous)


def _quiet(cleanup: Callable[[], None], context: Any) -> None:
    try:
        cleanup()
    except Exception as exc:  # noqa: BLE001
        if not is_shutdown(exc, context):
            raise

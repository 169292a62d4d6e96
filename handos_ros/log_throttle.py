"""Per-key throttled logging: each problem is logged at most once per period, with a count.

rclpy's ``throttle_duration_sec`` throttles per call site, so two different problems
reported from one place would hide each other; this keys on the problem instead.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable


class ThrottledLogger:
    """``log(key, level, text)`` emits at most once per ``period_s`` per key (thread-safe)."""

    def __init__(self, logger: object, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self.period_s = float(period_s)
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, key: str, level: str, text: str) -> bool:
        """Log ``text`` at ``level`` (debug/info/warning/error) unless ``key`` was logged recently.

        Returns True when the line was emitted. Suppressed repeats are counted and
        reported on the next emitted line ("(+N similar in the last 5 s)").
        """
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            n = self._suppressed.pop(key, 0)
        if n:
            text = f"{text} (+{n} similar since the last report)"
        self._emit(level, text)
        return True

    def _emit(self, level: str, text: str) -> None:
        # rclpy pins a severity to each call site ("Logger severity cannot be changed between
        # calls"), so every level has its own line here. Logging must never raise into the node.
        try:
            if level == "error":
                self._logger.error(text)
            elif level == "warning":
                self._logger.warning(text)
            elif level == "info":
                self._logger.info(text)
            else:
                self._logger.debug(text)
        except Exception as exc:  # noqa: BLE001
            print(f"[{level.upper()}] {text} (logger failed: {exc!r})", file=sys.stderr, flush=True)

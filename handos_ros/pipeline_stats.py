"""Counters and sliding-window timings of the node's pipeline (read by /diagnostics).

Thread-safe: the executor thread records arrivals, the worker records processing.
All times are seconds on the monotonic clock unless named ``*_ms``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Snapshot:
    """One consistent read of the statistics (what a diagnostics tick publishes)."""

    window_s: float
    input_hz: float
    processed_hz: float
    latency_ms_p50: float
    latency_ms_max: float
    inference_ms_p50: float
    overhead_ms_p50: float
    overhead_ms_max: float
    stamp_age_ms_p50: float
    received: int
    processed: int
    published_hands: int
    dropped: int
    worker_errors: int
    stamps_backwards: int
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_in_window: int = 0
    seconds_since_input: float = float("inf")


class PipelineStats:
    """Cumulative counters plus a ``window_s`` sliding window of per-frame timings."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = float(window_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._arrivals: deque[float] = deque()
        self._stamp_ages: deque[tuple[float, float]] = deque()
        self._done: deque[tuple[float, float, float, float]] = deque()  # (t, latency, inference, overhead) ms
        self._rejections: deque[float] = deque()
        self.received = 0
        self.processed = 0
        self.published_hands = 0
        self.dropped = 0
        self.worker_errors = 0
        self.stamps_backwards = 0
        self.rejected: Counter[str] = Counter()
        self._last_input = -float("inf")

    def _trim(self, now: float) -> None:
        lo = now - self.window_s
        for q in (self._arrivals, self._rejections):
            while q and q[0] < lo:
                q.popleft()
        for q2 in (self._stamp_ages, self._done):
            while q2 and q2[0][0] < lo:
                q2.popleft()

    def on_input(self, stamp_age_ms: float) -> None:
        now = self._clock()
        with self._lock:
            self.received += 1
            self._last_input = now
            self._arrivals.append(now)
            self._stamp_ages.append((now, stamp_age_ms))
            self._trim(now)

    def on_dropped(self, n: int = 1) -> None:
        with self._lock:
            self.dropped += n

    def on_rejected(self, reason: str) -> None:
        now = self._clock()
        with self._lock:
            self.rejected[reason] += 1
            self._rejections.append(now)

    def on_stamp_backwards(self) -> None:
        with self._lock:
            self.stamps_backwards += 1

    def on_worker_error(self) -> None:
        with self._lock:
            self.worker_errors += 1

    def on_processed(self, latency_ms: float, inference_ms: float, overhead_ms: float, hands: int) -> None:
        now = self._clock()
        with self._lock:
            self.processed += 1
            self.published_hands += hands
            self._done.append((now, latency_ms, inference_ms, overhead_ms))
            self._trim(now)

    def snapshot(self) -> Snapshot:
        now = self._clock()
        with self._lock:
            self._trim(now)
            done = np.array([d[1:] for d in self._done], dtype=np.float64).reshape(-1, 3)
            ages = np.array([a for _, a in self._stamp_ages], dtype=np.float64)
            span = self.window_s

            def p50(x: np.ndarray) -> float:
                return float(np.median(x)) if x.size else float("nan")

            def mx(x: np.ndarray) -> float:
                return float(np.max(x)) if x.size else float("nan")

            return Snapshot(
                window_s=span,
                input_hz=len(self._arrivals) / span,
                processed_hz=len(self._done) / span,
                latency_ms_p50=p50(done[:, 0]),
                latency_ms_max=mx(done[:, 0]),
                inference_ms_p50=p50(done[:, 1]),
                overhead_ms_p50=p50(done[:, 2]),
                overhead_ms_max=mx(done[:, 2]),
                stamp_age_ms_p50=p50(ages),
                received=self.received,
                processed=self.processed,
                published_hands=self.published_hands,
                dropped=self.dropped,
                worker_errors=self.worker_errors,
                stamps_backwards=self.stamps_backwards,
                rejected=dict(self.rejected),
                rejected_in_window=len(self._rejections),
                seconds_since_input=now - self._last_input,
            )

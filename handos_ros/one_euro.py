"""The One-Euro filter on arrays of points (ROS-free, numpy).

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy Input
in Interactive Systems", CHI 2012. A first-order low-pass filter whose cutoff rises with the
signal's speed: slow motion (a hand held still) is smoothed hard, which removes jitter; fast
motion gets a high cutoff, which keeps lag small::

    dx_hat  = lowpass(d_cutoff)(dx / dt)             # filtered speed
    cutoff  = min_cutoff + beta * |dx_hat| / scale
    x_hat   = x_hat + alpha(cutoff, dt) * (x - x_hat),   alpha = 1 / (1 + 1 / (2 pi cutoff dt))

Here a signal is an (N, D) array of N points: each point gets its own cutoff from the norm of
its D-dimensional speed (a 3D joint moves as one point, not three coordinates). ``scale``
converts the signal's units to metres, so that one ``beta`` (s/m) serves 3D points in metres and
2D points in pixels (``scale = depth / focal length``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """``min_cutoff`` and ``d_cutoff`` in Hz; ``beta`` in s/m (cutoff gained per m/s of speed).
    The defaults are the node's (``smoothing_*`` parameters; measured in ``bench/smoothing.py``)."""

    min_cutoff: float = 0.5
    beta: float = 20.0
    d_cutoff: float = 1.0


def smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    """alpha of a first-order low-pass filter with ``cutoff`` (Hz) sampled every ``dt`` seconds."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of an (N, D) point array; the first call (and the first after
    :meth:`reset`) passes its input through and starts the state."""

    def __init__(self, params: OneEuroParams) -> None:
        self.params = params
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    @property
    def started(self) -> bool:
        return self._x is not None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter ``x`` (N, D) observed at time ``t`` (seconds); returns the filtered (N, D) float64.

        A time that does not advance or a change of shape restarts the filter at ``x`` (nothing
        to interpolate from); a non-finite input is passed through and the filter starts afresh
        at the next finite one.
        """
        x = np.asarray(x, np.float64)
        x2 = x.reshape(len(x), -1) if x.ndim > 1 else x.reshape(-1, 1)
        if not np.all(np.isfinite(x2)):  # passed through; the next finite sample starts afresh
            self.reset()
            return x2.reshape(x.shape).copy()
        if self._x is None or self._t is None or self._x.shape != x2.shape or not t > self._t:
            self._x, self._dx, self._t = x2.copy(), np.zeros_like(x2), float(t)
            return x2.reshape(x.shape).copy()
        p = self.params
        dt = float(t) - self._t
        dx = (x2 - self._x) / dt
        assert self._dx is not None
        self._dx = self._dx + smoothing_factor(p.d_cutoff, dt) * (dx - self._dx)
        speed = np.linalg.norm(self._dx, axis=1) * max(float(scale), 0.0)
        alpha = smoothing_factor(p.min_cutoff + p.beta * speed, dt)[:, None]
        self._x = self._x + alpha * (x2 - self._x)
        self._t = float(t)
        return self._x.reshape(x.shape).copy()

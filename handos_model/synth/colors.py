"""Colour sampling shared by the renderer's parts: random colours (HSV ranges) and skin tones."""

from __future__ import annotations

import cv2
import numpy as np

# sRGB skin anchors from very light to very dark (0..1), interpolated by a "melanin" value.
_SKIN_ANCHORS = np.array(
    [
        [247, 218, 200],
        [236, 196, 168],
        [222, 172, 136],
        [196, 142, 104],
        [160, 108, 74],
        [118, 76, 50],
        [82, 52, 36],
        [58, 38, 28],
    ],
    np.float32,
) / 255.0


def random_color(rng: np.random.Generator, sat: tuple[float, float] = (0.0, 1.0), val: tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    """A random RGB colour (3,) float in [0, 255] from HSV ranges."""
    h = rng.uniform(0, 180)
    s = rng.uniform(*sat) * 255
    v = rng.uniform(*val) * 255
    hsv = np.array([[[h, s, v]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def sample_skin(rng: np.random.Generator, melanin: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(dorsal skin RGB (3,), palm RGB (3,)) in [0, 1]; a wide range of tones."""
    t = rng.uniform(0, 1) if melanin is None else melanin
    x = t * (len(_SKIN_ANCHORS) - 1)
    i = min(int(x), len(_SKIN_ANCHORS) - 2)
    f = x - i
    skin = _SKIN_ANCHORS[i] * (1 - f) + _SKIN_ANCHORS[i + 1] * f
    # individual variation: redness / yellowness / brightness
    skin = skin * np.array([1.0 + rng.normal(0, 0.03), 1.0 + rng.normal(0, 0.03), 1.0 + rng.normal(0, 0.05)])
    skin = skin * rng.uniform(0.92, 1.06)
    # palms are lighter and pinker, much more so on dark skin
    palm_target = np.array([0.93, 0.72, 0.64]) * (1.0 - 0.25 * t)
    palm = skin + (palm_target - skin) * (0.12 + 0.45 * t)
    return np.clip(skin, 0, 1).astype(np.float32), np.clip(palm, 0, 1).astype(np.float32)

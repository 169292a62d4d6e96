"""Skin creases of the rendered hands, drawn in screen space from the projected joints.

Knuckle creases: short soft strokes across each finger at its PIP and DIP joints (and the
thumb's MCP and IP), on both sides of the hand. Palm lines (heart, head and life lines) between the
knuckles and the wrist, which ``render.shade`` applies to the palm-side skin only. The map
only darkens the albedo of the hand's own skin pixels, so it never changes the ground truth.
"""

from __future__ import annotations

import cv2
import numpy as np

# 21-joint (MANO / FreiHAND) order: 0 wrist, thumb 1-4, index 5-8, middle 9-12, ring 13-16, little 17-20
_KNUCKLES = ((2, 3), (3, 4), (6, 7), (7, 8), (10, 11), (11, 12), (14, 15), (15, 16), (18, 19), (19, 20))


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


def palm_lines(j: np.ndarray) -> list[np.ndarray]:
    """Heart, head and life lines (each (N, 2) pixels) of one hand's 2D joints ``j`` (21, 2)."""
    w = j[0]
    heart = np.stack([_lerp(_lerp(j[5], j[9], 0.5), w, 0.18), _lerp(j[13], w, 0.2), _lerp(j[17], w, 0.26)])
    head = np.stack([_lerp(_lerp(j[2], j[5], 0.6), w, 0.25), _lerp(j[9], w, 0.42), _lerp(j[17], w, 0.55)])
    life = np.stack([_lerp(_lerp(j[2], j[5], 0.6), w, 0.25), _lerp(_lerp(j[1], j[9], 0.45), w, 0.35),
                     _lerp(_lerp(j[1], j[13], 0.3), w, 0.72)])
    return [heart, head, life]


def crease_map(h: int, w: int, hands: list[tuple[np.ndarray, float]], strength: float = 0.16) -> np.ndarray:
    """(H, W, 2) float32 darkening: channel 0 knuckle creases, channel 1 palm lines.

    ``hands``: per hand, its 2D joints (21, 2) and a finger width in pixels.
    """
    knuckle = np.zeros((h, w), np.uint8)
    palm = np.zeros((h, w), np.uint8)
    for j, finger_px in hands:
        if finger_px < 3.0:  # too small to show creases
            continue
        half = 0.3 * finger_px  # short of the finger's sides
        th = 1 if finger_px < 20 else 2
        for a, b in _KNUCKLES:
            d = j[b] - j[a]
            n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6)
            p0, p1 = j[a] - n * half, j[a] + n * half
            cv2.line(knuckle, (int(p0[0] * 4), int(p0[1] * 4)), (int(p1[0] * 4), int(p1[1] * 4)), 255, th,
                     cv2.LINE_AA, 2)
        for line in palm_lines(j):
            pts = np.round(line * 4).astype(np.int32)
            cv2.polylines(palm, [pts], False, 255, th, cv2.LINE_AA, 2)
    out = np.empty((h, w, 2), np.float32)
    out[..., 0] = knuckle
    out[..., 1] = palm
    out = cv2.GaussianBlur(out, (0, 0), 0.8)  # soft folds, not drawn lines
    out *= np.float32(2.0 * strength / 255.0)  # (the blur roughly halves a 1-px line's peak)
    return np.minimum(out, np.float32(strength))

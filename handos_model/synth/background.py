"""Procedural backgrounds and textures (uint8 RGB), cheap enough for >100 images/s.

``random_background`` picks a room (``rooms.room``: walls, floors, furniture, windows, text)
or a texture field (value noise, gradients, stripes, shapes), sometimes blends two, adds
skin-coloured blobs and defocus; or a busy dead-leaves clutter (``clutter``).

Every generator takes a ``numpy.random.Generator`` and is deterministic given it.
"""

from __future__ import annotations

import cv2
import numpy as np

from .clutter import clutter
from .colors import random_color, sample_skin
from .rooms import room


def value_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 4, base: int = 4, persistence: float = 0.55) -> np.ndarray:
    """Multi-octave value noise (H, W) float32 in [0, 1] (summed at half resolution, then upsampled)."""
    wh, ww = max(2, (h + 1) // 2), max(2, (w + 1) // 2)
    out = np.zeros((wh, ww), np.float32)
    amp, tot = 1.0, 0.0
    for o in range(octaves):
        cells = base * (2**o)
        small = rng.random((max(2, int(cells * h / max(h, w)) + 1), max(2, int(cells * w / max(h, w)) + 1)), dtype=np.float32)
        out += amp * cv2.resize(small, (ww, wh), interpolation=cv2.INTER_CUBIC)
        tot += amp
        amp *= persistence
    lo, hi = float(out.min()), float(out.max())
    out = (out - lo) * (1.0 / max(hi - lo, 1e-6))
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


def _colorize(t: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Map t (H, W) in [0, 1] through a piecewise-linear palette colors (K, 3) -> float32 (H, W, 3)."""
    k = len(colors)
    xs = np.linspace(0.0, 1.0, k)
    grid = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(grid, xs, colors[:, c]) for c in range(3)], 1)
    lut = np.clip(lut + 0.5, 0, 255).astype(np.uint8).reshape(1, 256, 3)
    t8 = np.clip(t * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(cv2.merge([t8, t8, t8]), lut).astype(np.float32)


def _palette(rng: np.random.Generator, k: int) -> np.ndarray:
    return np.stack([random_color(rng) for _ in range(k)])


def noise_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = int(rng.integers(2, 12))
    t = value_noise(rng, h, w, octaves=int(rng.integers(2, 6)), base=base)
    return _colorize(t, _palette(rng, int(rng.integers(2, 5))))


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None, :]


def gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = _grid(h, w)
    if rng.random() < 0.6:
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * xx + np.sin(a) * yy) / max(h, w)
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / max(h, w)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return _colorize(t, _palette(rng, 2 + int(rng.integers(0, 2))))


def stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    f = 2 if max(h, w) > 200 else 1  # computed at reduced resolution, then upsampled
    hh, ww = max(2, h // f), max(2, w // f)
    yy, xx = _grid(hh, ww)
    a = rng.uniform(0, np.pi)
    period = rng.uniform(6, 80) / f
    u = (np.float32(np.cos(a)) * xx + np.float32(np.sin(a)) * yy) * np.float32(1.0 / period)
    if rng.random() < 0.35:  # checkerboard
        v = (np.float32(-np.sin(a)) * xx + np.float32(np.cos(a)) * yy) * np.float32(1.0 / period)
        t = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
    elif rng.random() < 0.5:
        t = (np.floor(u) % 2).astype(np.float32)
    else:
        t = 0.5 + 0.5 * np.sin(np.float32(2 * np.pi) * u)
    t = cv2.resize(t, (w, h), interpolation=cv2.INTER_LINEAR)
    return _colorize(t, _palette(rng, 2))


def shapes(rng: np.random.Generator, h: int, w: int, base: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
    if base is None:
        img = np.empty((h, w, 3), np.uint8)
        img[:] = np.clip(random_color(rng), 0, 255).astype(np.uint8)
    else:
        img = np.clip(base, 0, 255).astype(np.uint8)
    n = int(rng.integers(3, 25)) if n is None else n
    s = max(h, w)
    for _ in range(n):
        col = tuple(float(c) for c in random_color(rng))
        kind = rng.integers(0, 4)
        if kind == 0:
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            cv2.circle(img, c, int(rng.uniform(0.02, 0.25) * s), col, -1, cv2.LINE_AA)
        elif kind == 1:
            p0 = (int(rng.uniform(-0.1, 1) * w), int(rng.uniform(-0.1, 1) * h))
            p1 = (p0[0] + int(rng.uniform(0.05, 0.5) * s), p0[1] + int(rng.uniform(0.05, 0.5) * s))
            cv2.rectangle(img, p0, p1, col, -1)
        elif kind == 2:
            p0 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            p1 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            cv2.line(img, p0, p1, col, int(rng.integers(1, max(2, s // 25))), cv2.LINE_AA)
        else:
            pts = np.stack([rng.uniform(0, w, 5), rng.uniform(0, h, 5)], 1).astype(np.int32)
            cv2.fillPoly(img, [cv2.convexHull(pts)], col, cv2.LINE_AA)
    return img.astype(np.float32)


def skin_blobs(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Skin-coloured distractor blobs (so colour alone does not mean 'hand')."""
    h, w = img.shape[:2]
    out = img.copy()
    for _ in range(int(rng.integers(1, 4))):
        col = tuple(float(c) for c in sample_skin(rng)[0] * 255)
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        ax = (int(rng.uniform(0.03, 0.2) * w), int(rng.uniform(0.03, 0.2) * h))
        cv2.ellipse(out, c, ax, float(rng.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA)
    return out


def light_spots(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """``img`` (uint8 RGB) darkened, with 2-12 point lights: small bright discs with a soft glow
    (stage lights, lamps, reflections; bright blobs that are not hands)."""
    h, w = img.shape[:2]
    out = img.astype(np.float32) * rng.uniform(0.15, 0.6)
    glow = np.zeros((h, w), np.float32)
    core = np.zeros((h, w), np.float32)
    tint = np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.6, 1.0)], np.float32)
    for _ in range(int(rng.integers(2, 13))):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        r = max(1, int(rng.uniform(0.004, 0.025) * max(h, w)))
        cv2.circle(core, c, r, 1.0, -1, cv2.LINE_AA)
        cv2.circle(glow, c, 3 * r, float(rng.uniform(0.3, 1.0)), -1, cv2.LINE_AA)
    glow = cv2.GaussianBlur(glow, (0, 0), max(2.0, 0.01 * max(h, w)))
    out = out + (glow * 140.0 + core * 255.0)[..., None] * tint
    return np.clip(out, 0, 255).astype(np.uint8)


GENERATORS = (noise_texture, gradient, stripes, shapes, room)


def random_background(rng: np.random.Generator, h: int, w: int, plain: bool = False, half_res: bool = True,
                      clutter_prob: float = 0.0) -> np.ndarray:
    """(H, W, 3) uint8 RGB background: one or two procedural generators blended, optional blur;
    with ``clutter_prob`` a busy full-resolution dead-leaves image instead (``clutter.clutter``)."""
    if plain:
        if rng.random() < 0.5:
            img = np.broadcast_to(random_color(rng, (0.0, 0.5), (0.2, 0.9)), (h, w, 3)).astype(np.float32)
        else:
            img = gradient(rng, h, w) * 0.6 + 0.4 * random_color(rng, (0.0, 0.3), (0.3, 0.8))
        return np.clip(img, 0, 255).astype(np.uint8)
    if clutter_prob > 0 and rng.random() < clutter_prob:  # (no draw when off: older streams unchanged)
        out = np.clip(clutter(rng, h, w), 0, 255).astype(np.uint8)
        return cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 2.0)) if rng.random() < 0.25 else out
    if half_res and max(h, w) > 256 and rng.random() < 0.7:  # most: half resolution, upsampled (cheaper, softer)
        small = random_background(rng, (h + 1) // 2, (w + 1) // 2, half_res=False)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    weights = np.array([0.12, 0.08, 0.1, 0.15, 0.55])
    g = GENERATORS[int(rng.choice(len(GENERATORS), p=weights))]
    img = g(rng, h, w)
    if rng.random() < 0.25:
        g2 = GENERATORS[int(rng.choice(len(GENERATORS), p=weights))]
        a = rng.uniform(0.2, 0.6)
        img = (1 - a) * img + a * g2(rng, h, w)
    if rng.random() < 0.15:
        img = skin_blobs(rng, img)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.35:  # depth of field
        s = rng.uniform(0.8, 4.0)
        out = cv2.GaussianBlur(out, (0, 0), s)
    return out

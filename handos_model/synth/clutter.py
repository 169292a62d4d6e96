"""Busy, high-frequency backgrounds and distractors (uint8 RGB): texture is not a hand.

On real photos the detector trained on the first engines fired on busy texture (sequins, printed
shirts, logos, snow on rocks, shoes) and missed big smooth hands: in those renders the hand was
often the most detailed thing in a smooth procedural image. Two generators take that cue away:

* ``clutter``: a dead-leaves image (occluding shapes with a power-law size distribution, the model
  of natural images' scale statistics), each leaf filled with a flat colour or a fine texture
  (speckle, stripes, checks, dots), sharp-edged, at full resolution;
* ``busy_patches``: 1-4 hand-sized patches of such texture (a print, a badge, a sequinned
  object) on any background.

Both are deterministic given the ``numpy.random.Generator``.
"""

from __future__ import annotations

import cv2
import numpy as np

from .colors import random_color

NUM_TEXTURES = 5  # flat, speckle, stripes, checks, dots


def _textures(rng: np.random.Generator, h: int, w: int, used: np.ndarray,
              box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """(NUM_TEXTURES, H, W) float32 in [-1, 1]: the fine textures leaves and patches are filled
    with (flat, speckle, stripes, checks, dots); only those in ``used`` are computed (others 0).

    ``box`` = (y0, y1, x0, x1): only that window, (NUM_TEXTURES, y1 - y0, x1 - x0), equal to the
    full textures' window; the random draws are the full image's, so the generator ends in the same
    state either way.
    """
    y0, y1, x0, x1 = box if box is not None else (0, h, 0, w)
    out = np.zeros((NUM_TEXTURES, y1 - y0, x1 - x0), np.float32)
    need = set(np.unique(used).tolist())
    if need & {2, 3}:
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    if 1 in need:  # speckle (sensor-scale grain, gravel, snow)
        out[1] = rng.random((h, w), dtype=np.float32)[y0:y1, x0:x1] * 2 - 1
    if 2 in need:  # stripes (fabric, blinds, text lines)
        a, p = rng.uniform(0, np.pi), rng.uniform(2.5, 9.0)
        out[2] = np.sign(np.sin((xx * np.cos(a) + yy * np.sin(a)) * (2 * np.pi / p)))
    if 3 in need:  # checks (shirts, tiles, keyboards)
        c = rng.uniform(3.0, 12.0)
        out[3] = np.where((np.floor(xx / c) + np.floor(yy / c)) % 2 == 0, 1.0, -1.0)
    if 4 in need:  # bright dots (sequins, highlights, leaves in the sun)
        seeds = (rng.random((h, w), dtype=np.float32) < 1.0 / rng.uniform(25, 120)).astype(np.uint8)
        r = int(rng.integers(1, 3))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        m0, m1, n0, n1 = max(0, y0 - r), min(h, y1 + r), max(0, x0 - r), min(w, x1 + r)  # the disc's reach
        dots = cv2.dilate(seeds[m0:m1, n0:n1], disc)[y0 - m0:y1 - m0, x0 - n0:x1 - n0]
        out[4] = dots.astype(np.float32) * 2 - 1
    return out


def _paint(labels: np.ndarray, colors: np.ndarray, tex_of: np.ndarray, amp_of: np.ndarray,
           textures: np.ndarray) -> np.ndarray:
    """Fill every pixel of label map (H, W) with its leaf's colour (K, 3) modulated by its texture."""
    t = np.take_along_axis(textures, tex_of[labels][None], axis=0)[0]
    return colors[labels] * (1.0 + amp_of[labels] * t)[..., None]


def clutter(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(H, W, 3) float32: dead leaves of 40-160 textured shapes, sizes ~ r^-3 from 1.5% to 40% of the side."""
    n = int(rng.integers(40, 161))
    s = max(h, w)
    labels = np.zeros((h, w), np.int32)
    rmin, rmax = 0.015 * s, 0.4 * s
    u = rng.random(n)
    radii = (rmin ** -2 + u * (rmax ** -2 - rmin ** -2)) ** -0.5  # density ~ r^-3: scale invariant
    for k, r in enumerate(np.sort(radii)[::-1], start=1):  # big leaves first, small ones on top
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.circle(labels, (cx, cy), max(1, int(r)), k, -1)
        elif kind == 1:
            ax = (max(1, int(r * rng.uniform(0.4, 1.0))), max(1, int(r * rng.uniform(0.2, 1.0))))
            cv2.ellipse(labels, (cx, cy), ax, float(rng.uniform(0, 180)), 0, 360, k, -1)
        else:
            pts = np.stack([cx + rng.uniform(-r, r, 5), cy + rng.uniform(-r, r, 5)], 1).astype(np.int32)
            cv2.fillPoly(labels, [cv2.convexHull(pts)], k)
    colors = np.stack([random_color(rng) for _ in range(n + 1)]).astype(np.float32)
    tex_of = rng.choice(NUM_TEXTURES, n + 1, p=[0.35, 0.2, 0.15, 0.15, 0.15])
    amp_of = rng.uniform(0.1, 0.5, n + 1).astype(np.float32)
    return _paint(labels, colors, tex_of, amp_of, _textures(rng, h, w, tex_of))


def busy_patches(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """``img`` (H, W, 3) uint8 with 1-4 hand-sized patches (4-25% of the side) of fine texture.

    Textures are computed in the patches' bounding window only (the same pixels as over the
    whole image, at a fraction of the cost)."""
    h, w = img.shape[:2]
    s = max(h, w)
    labels = np.zeros((h, w), np.int32)
    k = int(rng.integers(1, 5))
    for i in range(1, k + 1):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        ax = (max(2, int(rng.uniform(0.02, 0.12) * s)), max(2, int(rng.uniform(0.02, 0.12) * s)))
        if rng.random() < 0.5:
            cv2.ellipse(labels, c, ax, float(rng.uniform(0, 180)), 0, 360, i, -1)
        else:
            cv2.rectangle(labels, (c[0] - ax[0], c[1] - ax[1]), (c[0] + ax[0], c[1] + ax[1]), i, -1)
    x0, y0, bw, bh = cv2.boundingRect((labels > 0).astype(np.uint8))  # the patches' window
    box = (y0, y0 + bh, x0, x0 + bw)
    colors = np.stack([np.zeros(3)] + [random_color(rng) for _ in range(k)]).astype(np.float32)
    tex_of = np.concatenate([[0], rng.integers(1, NUM_TEXTURES, k)])
    amp_of = np.concatenate([[0.0], rng.uniform(0.3, 0.8, k)]).astype(np.float32)
    win = labels[box[0]:box[1], box[2]:box[3]]
    painted = _paint(win, colors, tex_of, amp_of, _textures(rng, h, w, tex_of, box))
    out = img.copy()
    region = out[box[0]:box[1], box[2]:box[3]]
    region[:] = np.clip(np.where((win > 0)[..., None], painted, region.astype(np.float32)), 0, 255).astype(np.uint8)
    return out

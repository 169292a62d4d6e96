"""Where the camera and the hands are: image size, intrinsics, hand size, orientation, placement."""

from __future__ import annotations

import numpy as np

from .config import SynthConfig
from .geometry import rot, uniform_rotation

# palm view: hand y (fingers) -> image up (-y cam), palmar (+z hand) -> towards the camera (-z cam)
R_PALM_VIEW = rot([1, 0, 0], np.pi)


def sample_orientation(rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """Hand frame -> camera frame rotation: palm/dorsal views with tilt and roll, or uniform."""
    if not cfg.easy and rng.random() < cfg.uniform_rotation_prob:
        return uniform_rotation(rng)
    base = R_PALM_VIEW
    if rng.random() < 0.5:  # dorsal view
        base = base @ rot([0, 1, 0], np.pi)
    tilt_std, roll_std = (0.25, 0.35) if cfg.easy else (0.55, 0.9)
    a = rng.uniform(0, 2 * np.pi)
    tilt = rot([np.cos(a), np.sin(a), 0.0], float(np.clip(abs(rng.normal(0, tilt_std)), 0, 1.3)))
    if not cfg.easy and rng.random() < 0.35:
        roll = rng.uniform(-np.pi, np.pi)
    else:
        roll = rng.normal(0, roll_std)
    return rot([0, 0, 1], roll) @ tilt @ base

def sample_image_size(rng: np.random.Generator, cfg: SynthConfig) -> tuple[int, int]:
    if cfg.width is not None and cfg.height is not None:
        return int(cfg.width), int(cfg.height)
    ar = float(rng.choice([1.0, 4 / 3, 3 / 4, 16 / 9, 9 / 16, 3 / 2, 2 / 3, 5 / 4]))
    long_min = max(cfg.min_side, int(np.ceil(cfg.min_side * max(ar, 1 / ar))))
    long = int(rng.integers(min(long_min, cfg.max_side), cfg.max_side + 1))
    short = max(cfg.min_side, int(round(long / max(ar, 1 / ar))))
    return (long, short) if ar >= 1 else (short, long)


def sample_intrinsics(rng: np.random.Generator, w: int, h: int, cfg: SynthConfig) -> np.ndarray:
    fx = rng.uniform(*cfg.focal_range) * w
    fy = fx * (1.0 + rng.normal(0, 0.005))
    cx = (w - 1) / 2 + rng.normal(0, 0.015 * w)
    cy = (h - 1) / 2 + rng.normal(0, 0.015 * h)
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], np.float32)


def sample_hand_size(rng: np.random.Generator, cfg: SynthConfig, n: int) -> float:
    hi = cfg.max_height_frac / (1.0 + 0.45 * (n - 1))
    lo = min(cfg.min_height_frac, hi)
    if cfg.easy:
        return float(rng.uniform(lo, hi))
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def place_hand(
    rng: np.random.Generator,
    v_rel: np.ndarray,
    K: np.ndarray,
    w: int,
    h: int,
    frac: float,
    cfg: SynthConfig,
) -> np.ndarray:
    """Wrist translation putting the rotated hand ``v_rel`` (V, 3) at ~``frac`` of the image height."""
    fx = float(K[0, 0])
    lo_c, hi_c = v_rel.min(0), v_rel.max(0)
    center = (lo_c + hi_c) / 2
    ext = max(hi_c[0] - lo_c[0], hi_c[1] - lo_c[1], 0.03)
    z = fx * ext / max(frac * h, 4.0)
    z_lo = max(cfg.depth_range[0], 0.08 - lo_c[2] + center[2])
    z = float(np.clip(z, z_lo, cfg.depth_range[1] + center[2]))
    bw, bh = fx * ext / z, fx * ext / z
    us = (0.45 * bw, w - 0.45 * bw) if 0.9 * bw < w else (w / 2 - 0.1 * w, w / 2 + 0.1 * w)
    vs = (0.45 * bh, h - 0.45 * bh) if 0.9 * bh < h else (h / 2 - 0.1 * h, h / 2 + 0.1 * h)
    u, v = rng.uniform(*us), rng.uniform(*vs)
    ray = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
    t = ray * z - center
    t[2] = float(np.clip(t[2], cfg.depth_range[0], cfg.depth_range[1]))
    return t


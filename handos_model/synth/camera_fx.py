"""Camera effects of a render: colour response, resolution loss, blur, sensor noise, JPEG.

``sample_post_fx`` draws a ``PostFx`` for a scene, ``apply_post_fx`` applies it to the
composited uint8 RGB image (last step of ``compose.render_scene``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .config import SynthConfig


@dataclass
class PostFx:
    """Camera effects; the defaults are a perfect camera (``apply_post_fx`` is then the identity).

    ``wb``: per-channel white-balance gains (RGB); ``exposure``: linear gain before the tone curve
    (clips highlights); ``noise_sigma`` / ``shot_noise``: sensor noise std in uint8 units, constant
    and growing with the square root of the brightness; ``defocus_radius``: disk blur (pixels);
    ``vignette``: darkening of the corners (fraction).
    """

    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    gamma: float = 1.0
    noise_sigma: float = 0.0
    blur_sigma: float = 0.0
    motion_len: int = 0
    motion_angle: float = 0.0
    jpeg_quality: int = 0  # 0 = none
    downscale: float = 1.0
    wb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure: float = 1.0
    shot_noise: float = 0.0
    defocus_radius: int = 0
    vignette: float = 0.0


def sample_post_fx(rng: np.random.Generator, cfg: SynthConfig) -> PostFx:
    """The sim-to-real camera: white balance, exposure, signal-dependent noise, defocus, motion, JPEG;
    a ``cfg.mono_prob`` share of monochrome cameras."""
    if cfg.easy:
        return PostFx()
    warm, tint = rng.normal(0, 0.09), rng.normal(0, 0.03)
    noisy = rng.random() < cfg.noise_prob
    fx = PostFx(
        brightness=float(rng.uniform(0.85, 1.12)),
        contrast=float(rng.uniform(0.8, 1.2)),
        saturation=float(rng.uniform(0.65, 1.25)),
        gamma=float(rng.uniform(0.85, 1.2)),
        noise_sigma=float(rng.uniform(0.5, 4)) if noisy else 0.0,
        shot_noise=float(rng.uniform(1, 7)) if noisy else 0.0,
        blur_sigma=float(rng.uniform(0.3, 1.2)) if rng.random() < cfg.blur_prob else 0.0,
        defocus_radius=int(rng.integers(1, 4)) if rng.random() < 0.1 else 0,
        motion_len=int(rng.integers(3, 11)) if rng.random() < 0.15 else 0,
        motion_angle=float(rng.uniform(0, 180)),
        jpeg_quality=int(rng.integers(35, 95)) if rng.random() < cfg.jpeg_prob else 0,
        downscale=float(rng.uniform(0.35, 0.8)) if rng.random() < 0.12 else 1.0,
        wb=(float(1 + warm + tint / 2), float(1 - tint), float(1 - warm + tint / 2)),
        exposure=float(2.0 ** rng.uniform(-0.8, 0.6)),
        vignette=float(rng.uniform(0.1, 0.45)) if rng.random() < 0.35 else 0.0,
    )
    if cfg.mono_prob > 0 and rng.random() < cfg.mono_prob:  # monochrome camera: no colour at all
        fx.saturation, fx.wb = 0.0, (1.0, 1.0, 1.0)
    return fx


_NOISE_TILE: np.ndarray | None = None


def _noise_tile() -> np.ndarray:
    """A fixed (512, 512, 3) standard-normal tile; images take random crops of it (fast, deterministic)."""
    global _NOISE_TILE
    if _NOISE_TILE is None:
        _NOISE_TILE = np.random.default_rng(12345).standard_normal((512, 512, 3), dtype=np.float32)
    return _NOISE_TILE


def apply_post_fx(img: np.ndarray, p: PostFx, rng: np.random.Generator) -> np.ndarray:
    """Camera effects on a uint8 RGB image (returns uint8)."""
    out = img
    if p.saturation != 1.0:
        gray = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        out = cv2.addWeighted(out, p.saturation, gray, 1.0 - p.saturation, 0.0)
    # brightness / contrast / gamma (and white balance / exposure) as one lookup table
    v = np.arange(256, dtype=np.float64)
    v = np.clip((v - 128.0) * p.contrast + 128.0, 0, 255) * p.brightness
    if p.wb != (1.0, 1.0, 1.0) or p.exposure != 1.0:
        v = v[:, None] * (np.asarray(p.wb, np.float64) * p.exposure)[None, :]
        v = 255.0 * (np.clip(v, 0, 255) / 255.0) ** p.gamma
        out = cv2.LUT(out, np.clip(v + 0.5, 0, 255).astype(np.uint8).reshape(1, 256, 3))
    else:
        v = 255.0 * (np.clip(v, 0, 255) / 255.0) ** p.gamma
        out = cv2.LUT(out, np.clip(v + 0.5, 0, 255).astype(np.uint8))
    h, w = out.shape[:2]
    if p.vignette > 0:
        yy = np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
        xx = np.linspace(-1, 1, 16, dtype=np.float32)[None, :]
        fall = np.clip((1.0 - p.vignette * 0.5 * (xx * xx + yy * yy)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        fall = cv2.resize(cv2.merge([fall, fall, fall]), (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.multiply(out, fall, scale=1.0 / 255.0)
    if p.downscale < 1.0:
        small = cv2.resize(out, (max(8, int(w * p.downscale)), max(8, int(h * p.downscale))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if p.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), p.blur_sigma)
    if p.defocus_radius > 0:
        r = p.defocus_radius
        disk = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
        cv2.circle(disk, (r, r), r, 1.0, -1, cv2.LINE_AA)
        out = cv2.filter2D(out, -1, disk / float(disk.sum()))
    if p.motion_len > 0:
        k = np.zeros((p.motion_len, p.motion_len), np.float32)
        k[p.motion_len // 2] = 1.0
        M = cv2.getRotationMatrix2D(((p.motion_len - 1) / 2, (p.motion_len - 1) / 2), p.motion_angle, 1.0)
        k = cv2.warpAffine(k, M, (p.motion_len, p.motion_len))
        out = cv2.filter2D(out, -1, k / max(float(k.sum()), 1e-6))
    if p.shot_noise > 0:
        tile = _noise_tile()
        outf = out.astype(np.float32)
        # per-pixel std from the brightness through a LUT (in 1/8 uint8 units)
        sig = p.noise_sigma + p.shot_noise * np.sqrt(np.arange(256, dtype=np.float64) / 255.0)
        sig8 = cv2.LUT(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), np.clip(sig * 8.0 + 0.5, 0, 255).astype(np.uint8))
        oy, ox = int(rng.integers(0, 513 - min(h, 512))), int(rng.integers(0, 513 - min(w, 512)))
        noise = tile[oy:oy + min(h, 512), ox:ox + min(w, 512)]
        if h > 512 or w > 512:
            noise = np.tile(noise, (h // 512 + 1, w // 512 + 1, 1))[:h, :w]
        outf += noise * (sig8.astype(np.float32) * np.float32(1.0 / 8.0))[..., None]
        out = cv2.convertScaleAbs(np.maximum(outf, 0))
    elif p.noise_sigma > 0:
        tile = _noise_tile()
        outf = out.astype(np.float32)
        for ty in range(0, h, 512):  # tile the fixed noise with random offsets
            for tx in range(0, w, 512):
                hh, ww = min(512, h - ty), min(512, w - tx)
                oy, ox = int(rng.integers(0, 513 - hh)), int(rng.integers(0, 513 - ww))
                cv2.scaleAdd(tile[oy:oy + hh, ox:ox + ww], p.noise_sigma, outf[ty:ty + hh, tx:tx + ww],
                             dst=outf[ty:ty + hh, tx:tx + ww])
        out = cv2.convertScaleAbs(np.maximum(outf, 0))
    if p.saturation == 0.0:  # a monochrome sensor: its noise has no colour either
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if p.jpeg_quality > 0:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg_quality])
        out = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    return out

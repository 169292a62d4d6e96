"""Skin tones, materials and lights of the synthetic renderer."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class Material:
    """Per-object appearance (all RGB in [0, 1])."""

    skin: np.ndarray
    palm: np.ndarray
    nail: np.ndarray
    sleeve: np.ndarray
    specular: float = 0.08
    shininess: float = 12.0
    texture_scale: float = 0.05  # strength of the screen-space skin mottling


def sample_material(rng: np.random.Generator, melanin: float | None = None) -> Material:
    from .background import random_color

    skin, palm = sample_skin(rng, melanin)
    nail = np.clip(skin * 0.6 + np.array([0.88, 0.70, 0.68]) * 0.4, 0, 1).astype(np.float32)
    sleeve = (random_color(rng, (0.0, 0.9), (0.08, 0.9)) / 255.0).astype(np.float32)
    return Material(
        skin=skin,
        palm=palm,
        nail=nail,
        sleeve=sleeve,
        specular=float(rng.uniform(0.02, 0.16)),
        shininess=float(rng.uniform(6, 30)),
        texture_scale=float(rng.uniform(0.0, 0.08)),
    )


@dataclass
class Lighting:
    """Ambient + up to two directional lights, camera frame (directions point TO the light)."""

    ambient: float
    ambient_color: np.ndarray
    dirs: np.ndarray  # (L, 3) unit
    intensities: np.ndarray  # (L,)
    colors: np.ndarray  # (L, 3)
    wrap: float = 0.3


def sample_lighting(rng: np.random.Generator, easy: bool = False) -> Lighting:
    def tint() -> np.ndarray:
        warm = rng.uniform(-1, 1)
        return np.array([1 + 0.08 * warm, 1.0, 1 - 0.12 * warm], np.float32)

    if easy:
        d = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.4, 0.0), -1.0])
        return Lighting(0.5, np.ones(3, np.float32), (d / np.linalg.norm(d))[None].astype(np.float32),
                        np.array([0.7], np.float32), np.ones((1, 3), np.float32), 0.4)
    n = 1 if rng.random() < 0.6 else 2
    dirs, ints, cols = [], [], []
    for i in range(n):
        d = np.array([rng.uniform(-1, 1), rng.uniform(-1, 0.5), -rng.uniform(0.15, 1.2)])
        if i == 1:
            d[:2] = -d[:2]
        dirs.append(d / np.linalg.norm(d))
        ints.append(rng.uniform(0.45, 1.0) if i == 0 else rng.uniform(0.1, 0.4))
        cols.append(tint())
    return Lighting(
        ambient=float(rng.uniform(0.22, 0.6)),
        ambient_color=tint(),
        dirs=np.array(dirs, np.float32),
        intensities=np.array(ints, np.float32),
        colors=np.array(cols, np.float32),
        wrap=float(rng.uniform(0.1, 0.5)),
    )

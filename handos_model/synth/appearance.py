"""Materials (skin, palm, nail, sleeve) and lights of the synthetic renderer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .colors import random_color, sample_skin


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
    held: np.ndarray = field(default_factory=lambda: np.full(3, 0.5, np.float32))  # colour of a held object


def sample_material(rng: np.random.Generator, melanin: float | None = None) -> Material:
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

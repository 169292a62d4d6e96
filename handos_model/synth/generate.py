"""Sample ``index`` of the synthetic dataset ``seed``: the whole engine for one image.

``render_sample(seed, index, config)`` seeds a generator with ``(seed, index)`` (so the output
of sample ``index`` never depends on worker count or order), samples a scene
(``scene.sample_scene``) and draws it with its ground truth (``compose.render_scene``).
"""

from __future__ import annotations

import numpy as np

from ..data.schema import Sample
from ..hand.hand_model import HandModel, load_hand_model
from .compose import render_scene
from .config import SynthConfig
from .scene import sample_scene


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of a dataset with ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def render_sample(seed: int, index: int, cfg: SynthConfig | None = None, model: HandModel | None = None) -> Sample:
    """Sample ``index`` of the synthetic dataset ``seed`` (deterministic)."""
    cfg = cfg or SynthConfig()
    model = model or load_hand_model(cfg.hand_model)
    rng = sample_rng(seed, index)
    scene = sample_scene(rng, cfg, model)
    return render_scene(scene, rng, model, key=f"{index:06d}")

"""Assemble HandOS and its criterion from a config dict (YAML in ``handos_model/configs``).

Config layout (see ``configs/handos_tiny.yaml``)::

    model:
      hand_model: open            # load_hand_model(name) when no topology is passed
      input_size: 320
      detector: {type: rtdetr_tiny | grounding_dino, weights: ..., ...}
      side_tuning: {channels: 64}
      decoder: {d_model, num_heads, num_points, ffn_dim, num_2d_layers, num_interactive_layers, lifting, ...}
      query_filtering: {score_threshold, nms_threshold, max_hands, simota_topk, max_matches_per_gt}
    loss:
      weights: {j2d: 10, oks_2d: 4, ...}
      oks_sigmas: wholebody_hand | uniform | [21 floats]
      oks_sigma_scale: 1.0        # multiplies the sigmas (OKS kernel width relative to the hand box)

Other top-level sections (e.g. ``train``) are ignored here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .. import PACKAGE_DIR
from ..detector_weights import load_detector_weights
from ..hand.coarse_mesh import build_coarse_mesh
from ..hand.hand_model import load_hand_model
from ..hand.topology import HandTopology
from .criterion import HandOSCriterion
from .decoder import HandDecoder
from .detector import Detector
from .handos import HandOS
from .losses import WHOLEBODY_HAND_SIGMAS
from .side_tuning import SideTuning


def load_config(path: str | Path) -> dict:
    """Read a YAML config into a dict."""
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return cfg


def _as_config(cfg: dict | str | Path) -> dict:
    return load_config(cfg) if isinstance(cfg, (str, Path)) else copy.deepcopy(cfg)


def model_section(cfg: dict) -> dict:
    """The ``model`` section of a full config, or ``cfg`` itself when it is that section."""
    return cfg["model"] if isinstance(cfg.get("model"), dict) else cfg


def resolve_path(path: str | Path) -> Path:
    """A config path as given if it exists, else relative to the ``handos_model`` package."""
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute():
        return p
    alt = PACKAGE_DIR / p
    return alt if alt.exists() else p


def default_topology(cfg: dict) -> HandTopology:
    """The hand model named by ``model.hand_model`` (default "open")."""
    return load_hand_model(model_section(cfg).get("hand_model", "open")).topology


def build_detector(det_cfg: dict[str, Any]) -> Detector:
    """``detector.type``: ``rtdetr_lite0`` (RT-DETR on frozen ImageNet EfficientNet-Lite0, the CPU default),
    ``rtdetr_tiny`` (from-scratch tiny RT-DETR) or ``grounding_dino`` (local snapshot dir)."""
    det_cfg = dict(det_cfg)
    kind = det_cfg.pop("type", "rtdetr_tiny")
    weights = det_cfg.pop("weights", None)
    if kind == "rtdetr_tiny":
        from .detector_tiny import TinyRTDetrDetector, tiny_rtdetr_config

        detector = TinyRTDetrDetector(tiny_rtdetr_config(**det_cfg))
        if weights:
            load_detector_weights(detector, resolve_path(weights))
        return detector
    if kind == "rtdetr_lite0":
        from .detector_lite import LiteRTDetrDetector, lite_rtdetr_config

        pretrained = bool(det_cfg.pop("pretrained_backbone", True))
        style = float(det_cfg.pop("style_perturb_prob", 0.0))
        detector = LiteRTDetrDetector(lite_rtdetr_config(**det_cfg), pretrained_backbone=pretrained,
                                      style_perturb_prob=style)
        if weights:
            load_detector_weights(detector, resolve_path(weights))
        return detector
    if kind == "grounding_dino":
        from .detector_gdino import GroundingDinoDetector

        if not weights:
            raise ValueError(
                "grounding_dino needs detector.weights = a local snapshot directory (save_pretrained layout)"
            )
        return GroundingDinoDetector(resolve_path(weights), prompt=det_cfg.get("prompt", "hand."))
    raise ValueError(f"unknown detector type {kind!r} (rtdetr_tiny | rtdetr_lite0 | grounding_dino)")


def build_model(
    cfg: dict | str | Path, topology: HandTopology | None = None, detector: Detector | None = None
) -> HandOS:
    """Build HandOS from a config (dict or YAML path).

    Args:
        cfg: full config (with a ``model`` section) or the ``model`` section itself.
        topology: hand model; default ``load_hand_model(model.hand_model).topology``.
        detector: an already-built detector (e.g. the stage-0 trained one); default from ``model.detector``.
    """
    cfg = _as_config(cfg)
    m = model_section(cfg)
    if topology is None:
        topology = default_topology(cfg)
    if detector is None:
        detector = build_detector(m.get("detector", {"type": "rtdetr_tiny"}))
    st_cfg = m.get("side_tuning", {})
    side = SideTuning(detector.backbone_channels, detector.num_levels, channels=int(st_cfg.get("channels", 64)))
    dec_cfg = dict(m.get("decoder", {}))
    d_model = int(dec_cfg.pop("d_model", detector.d_model))
    num_coarse = dec_cfg.pop("coarse_vertices", None)
    neighbours = int(dec_cfg.pop("coarse_neighbours", 8))
    if num_coarse:
        hand = load_hand_model(m.get("hand_model", "open"))
        dec_cfg["coarse"] = build_coarse_mesh(hand, int(num_coarse), neighbours)
    decoder = HandDecoder(
        topology,
        d_model=d_model,
        value_dim=detector.d_model + side.channels,
        num_levels=detector.num_levels,
        query_dim=detector.d_model,
        **dec_cfg,
    )
    qf = m.get("query_filtering", {})
    full_cfg = cfg if m is not cfg else {"model": cfg}
    return HandOS(
        detector,
        side,
        decoder,
        topology,
        input_size=int(m.get("input_size", 320)),
        score_threshold=float(qf.get("score_threshold", 0.1)),
        nms_threshold=float(qf.get("nms_threshold", 0.9)),
        max_hands=qf.get("max_hands", 8),
        simota_topk=int(qf.get("simota_topk", 10)),
        max_matches_per_gt=qf.get("max_matches_per_gt"),
        config=full_cfg,
    )


def build_criterion(cfg: dict | str | Path, topology: HandTopology | None = None) -> HandOSCriterion:
    """Build the loss from ``cfg["loss"]`` (weights default to the paper's, suppl. VI.2)."""
    cfg = _as_config(cfg)
    loss_cfg = cfg.get("loss", {}) or {}
    if topology is None:
        topology = default_topology(cfg)
    sig = loss_cfg.get("oks_sigmas", "wholebody_hand")
    if sig == "wholebody_hand":
        sigmas = WHOLEBODY_HAND_SIGMAS
    elif sig == "uniform":
        sigmas = (0.025,) * 21
    else:
        sigmas = tuple(float(s) for s in sig)
    scale = float(loss_cfg.get("oks_sigma_scale", 1.0))
    if not scale > 0.0:
        raise ValueError(f"loss.oks_sigma_scale must be > 0, got {scale}")
    sigmas = tuple(scale * s for s in sigmas)
    return HandOSCriterion(topology.faces, weights=loss_cfg.get("weights"), sigmas=sigmas)

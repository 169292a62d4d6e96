"""HandOS weights on disk: ``NAME.safetensors`` (tensors) + ``NAME.json`` (config) side by side.

Never pickle: the weights are safetensors only; the config is JSON. Loading rebuilds
the model from the JSON config with the hand topology stored in the weights
(``topology_*`` buffers), then checks every tensor name and shape and fails with a
message naming the file and the mismatch. Pickle / ``torch.save`` files and
truncated files are refused with a clear error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .hand.topology import HandTopology
from .models.build import build_model, model_section
from .models.handos import HandOS
from .models.topology_buffers import TOPOLOGY_BUFFERS, topology_from_buffers
from .safetensors_io import (
    CheckpointError,
    atomic_write_bytes,
    describe,
    read_safetensors,
    save_safetensors,
    state_mismatch,
)

FORMAT = "handos"
FORMAT_VERSION = 1


def _json_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save_model(
    model: nn.Module, cfg: dict, path: str | Path, extra: dict[str, Any] | None = None, include_detector: bool = True
) -> Path:
    """Save ``model`` (a HandOS) to ``path`` (``.safetensors``) and its config to ``path.with_suffix('.json')``.

    Args:
        model: the HandOS module.
        cfg: the config it was built from (``build_model``'s input).
        path: weights file; the JSON goes next to it.
        extra: free-form JSON-able info stored in the JSON (``"extra"``), e.g. training metrics.
        include_detector: False skips the detector's tensors (e.g. Grounding DINO, reloaded
            from its local snapshot directory named in the config).

    Returns:
        the weights path.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(path.suffix + ".safetensors") if path.suffix else path.with_suffix(".safetensors")
    state = model.state_dict()
    if not include_detector:
        state = {k: v for k, v in state.items() if not k.startswith("detector.")}
    save_safetensors(state, path, metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
    topo = getattr(model, "topology", None)
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "weights": path.name,
        "detector_included": bool(include_detector),
        "topology": {
            "name": getattr(topo, "name", "unknown"),
            "num_vertices": int(topo.num_vertices) if topo is not None else None,
            "num_faces": int(topo.num_faces) if topo is not None else None,
        },
        "config": cfg,
        "extra": extra or {},
    }
    data = json.dumps(info, indent=2, default=str).encode("utf-8")
    atomic_write_bytes(_json_path(path), data)
    return path


def _topology_from_state(state: dict[str, torch.Tensor], name: str, path: Path) -> HandTopology:
    missing = [k for k in TOPOLOGY_BUFFERS if k not in state]
    if missing:
        raise CheckpointError(f"{path}: not a HandOS weights file (missing {', '.join(missing)})")
    return topology_from_buffers(state, name)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> HandOS:
    """Load a HandOS saved by :func:`save_model` (``path``: the ``.safetensors`` or its ``.json``).

    Raises:
        CheckpointError: missing/invalid JSON, pickle or truncated weights, or tensors whose
            names/shapes do not match the model the JSON config describes.
    """
    path = Path(path)
    if path.suffix == ".json":
        json_path = path
        path = path.with_suffix(".safetensors")
    else:
        json_path = _json_path(path)
    state = read_safetensors(path)
    if not json_path.is_file():
        raise CheckpointError(f"{path}: its config {json_path.name} is missing (save_model writes both)")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{json_path}: unreadable config JSON: {e}") from e
    if not isinstance(info, dict) or info.get("format") != FORMAT or "config" not in info:
        raise CheckpointError(f"{json_path}: not a HandOS config (expected format={FORMAT!r} and a 'config' entry)")
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{json_path}: format_version {info['format_version']} is newer than this code ({FORMAT_VERSION})"
        )
    cfg = info["config"]
    topology = _topology_from_state(state, str(info.get("topology", {}).get("name", "checkpoint")), path)
    detector_included = bool(info.get("detector_included", True))
    if detector_included:
        cfg = json.loads(json.dumps(cfg))
        m = model_section(cfg)
        det = m.get("detector", {})
        if det.get("type", "rtdetr_tiny") in ("rtdetr_tiny", "rtdetr_lite0"):
            det["weights"] = None  # the detector's tensors are in this file
            det["pretrained_backbone"] = False  # ... and so are the backbone's: no .pth is read
    try:
        model = build_model(cfg, topology)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{json_path}: cannot build the model its config describes: {e}") from e
    missing, unexpected, shape = state_mismatch(state, model.state_dict(), () if detector_included else ("detector.",))
    if missing or unexpected or shape:
        parts = []
        if shape:
            parts.append(f"shape mismatch: {describe(shape)}")
        if missing:
            parts.append(f"missing from the file: {describe(missing)}")
        if unexpected:
            parts.append(f"not in the model: {describe(unexpected)}")
        raise CheckpointError(f"{path} does not match the model described by {json_path.name}: " + "; ".join(parts))
    model.load_state_dict(state, strict=detector_included)
    return model.to(device).eval()

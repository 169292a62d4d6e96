"""HandOS weights on disk: ``NAME.safetensors`` (tensors) + ``NAME.json`` (config) side by side.

Never pickle: the weights are safetensors only; the config is JSON. Loading rebuilds
the model from the JSON config with the hand topology stored in the weights
(``topology_*`` buffers), then checks every tensor name and shape and fails with a
message naming the file and the mismatch. Pickle / ``torch.save`` files and
truncated files are refused with a clear error.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

FORMAT = "handos"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A HandOS weights file that cannot be loaded (wrong format, truncated, or not matching its config)."""


def _json_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _atomic_write(path: Path, write) -> None:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_state_dict(state: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write tensors as safetensors (contiguous CPU copies, atomic rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata or {}))
    return path


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file, refusing pickles / torch.save zips and truncated files with a clear message."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    # A safetensors file starts with its JSON header's length (u64, little endian) then "{".
    # Check that structure first: the length's low byte may be anything, 0x80 included.
    looks_safetensors = len(head) == 9 and head[8:9] == b"{"
    is_pickle = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    if not looks_safetensors and (head[:2] == b"PK" or is_pickle):
        raise CheckpointError(
            f"{path}: this is a pickle / torch.save file; HandOS weights are loaded from safetensors only "
            "(never unpickled). Convert it with a trusted tool to safetensors first."
        )
    if len(head) < 9:
        raise CheckpointError(f"{path}: truncated or empty file ({size} bytes), not a safetensors file")
    (header_len,) = struct.unpack("<Q", head[:8])
    if head[8:9] != b"{" or header_len + 8 > size:
        raise CheckpointError(
            f"{path}: not a valid safetensors file (header of {header_len} bytes in a {size}-byte file): "
            "truncated or corrupted"
        )
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"{path}: unreadable safetensors file (truncated or corrupted?): {e}") from e


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
    save_state_dict(state, path, metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
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
    _atomic_write(_json_path(path), lambda tmp: Path(tmp).write_bytes(data))
    return path


def _topology_from_state(state: dict[str, torch.Tensor], name: str, path: Path):  # noqa: ANN202
    from .hand.topology import HandTopology

    keys = ["topology_template", "topology_faces", "topology_joint_regressor", "topology_skinning_weights"]
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointError(f"{path}: not a HandOS weights file (missing {', '.join(missing)})")
    return HandTopology(
        name=name,
        template=state["topology_template"].numpy().astype(np.float32),
        faces=state["topology_faces"].numpy().astype(np.int64),
        joint_regressor=state["topology_joint_regressor"].numpy().astype(np.float32),
        skinning_weights_21=state["topology_skinning_weights"].numpy().astype(np.float32),
    )


def _describe(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def load_model(path: str | Path, device: str | torch.device = "cpu"):  # noqa: ANN201 - returns HandOS
    """Load a HandOS saved by :func:`save_model` (``path``: the ``.safetensors`` or its ``.json``).

    Raises:
        CheckpointError: missing/invalid JSON, pickle or truncated weights, or tensors whose
            names/shapes do not match the model the JSON config describes.
    """
    from .models.build import build_model

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
        m = cfg["model"] if "model" in cfg else cfg
        det = m.get("detector", {})
        if det.get("type", "rtdetr_tiny") == "rtdetr_tiny":
            det["weights"] = None  # the detector's tensors are in this file
    try:
        model = build_model(cfg, topology)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{json_path}: cannot build the model its config describes: {e}") from e
    own = model.state_dict()
    missing = [k for k in own if k not in state and (detector_included or not k.startswith("detector."))]
    unexpected = [k for k in state if k not in own]
    shape = [
        f"{k} {tuple(state[k].shape)} in file vs {tuple(own[k].shape)} in model"
        for k in state
        if k in own and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shape:
        parts = []
        if shape:
            parts.append(f"shape mismatch: {_describe(shape)}")
        if missing:
            parts.append(f"missing from the file: {_describe(missing)}")
        if unexpected:
            parts.append(f"not in the model: {_describe(unexpected)}")
        raise CheckpointError(f"{path} does not match the model described by {json_path.name}: " + "; ".join(parts))
    model.load_state_dict(state, strict=detector_included)
    return model.to(device).eval()


def save_detector(detector: nn.Module, path: str | Path) -> Path:
    """Save a detector's own state dict (stage-0 output) as safetensors."""
    return save_state_dict(detector.state_dict(), path, metadata={"format": "handos-detector"})


def detector_tensors(state: dict[str, torch.Tensor], prefix: str = "detector.") -> dict[str, torch.Tensor]:
    """The detector's own tensors (names without ``prefix``) from either file format: a detector
    file (``save_detector``: no prefix) or a full HandOS file (detector tensors under ``prefix``)."""
    if any(k.startswith(prefix) for k in state):
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def load_detector_weights(detector: nn.Module, path: str | Path) -> None:
    """Load detector tensors from a detector file or a full HandOS file (keys under ``detector.``)."""
    path = Path(path)
    state = detector_tensors(read_safetensors(path))
    own = detector.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in state
        if k in own and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shape:
        raise CheckpointError(
            f"{path}: detector weights do not match the configured detector "
            f"(missing {_describe(missing)}; unexpected {_describe(unexpected)}; shape {_describe(shape)})"
        )
    detector.load_state_dict(state)

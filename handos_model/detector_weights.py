"""A detector's tensors on disk: the stage-0 detector file, or the detector part of a HandOS file."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .safetensors_io import CheckpointError, describe, read_safetensors, save_safetensors, state_mismatch


def save_detector(detector: nn.Module, path: str | Path) -> Path:
    """Save a detector's own state dict (stage-0 output) as safetensors."""
    return save_safetensors(detector.state_dict(), path, metadata={"format": "handos-detector"})


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
    missing, unexpected, shape = state_mismatch(state, detector.state_dict())
    if missing or unexpected or shape:
        raise CheckpointError(
            f"{path}: detector weights do not match the configured detector "
            f"(missing {describe(missing)}; unexpected {describe(unexpected)}; shape {describe(shape)})"
        )
    detector.load_state_dict(state)

"""Stage set-up for ``handos-train``: seeds, what trains, the model and its loss, optimiser, precision."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.build import model_section
from ..models.stages import set_stage_mode, set_stage_trainable
from .data import import_object
from .distributed import DistInfo

DEFAULT_BUILDER = "handos_model.models.build:build_model"
DEFAULT_CRITERION = "handos_model.models.build:build_criterion"


def seed_everything(seed: int) -> None:
    """torch (CPU + CUDA), numpy (global) and python ``random``."""
    seed = int(seed) % (2**63 - 1)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rank_seed(seed: int, rank: int) -> int:
    return int(np.random.SeedSequence([int(seed), 7, int(rank)]).generate_state(1, dtype=np.uint64)[0] % (2**63 - 1))


def loader_seed(seed: int, epoch: int, rank: int, start: int) -> int:
    return int(np.random.SeedSequence([int(seed), 11, int(epoch), int(rank), int(start)]).generate_state(1, dtype=np.uint64)[0] % (2**63 - 1))


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def find_detector(model: nn.Module) -> tuple[str, nn.Module] | None:
    """``(prefix, module)`` of the model's detector (attribute ``detector``), if any."""
    det = getattr(model, "detector", None)
    if not isinstance(det, nn.Module):
        return None
    for name, m in model.named_modules():
        if m is det:
            return name, det
    return None


def detector_is_trainable(model: nn.Module) -> bool:
    """True for the built-in tiny detector (it has a stage-0 ``detection_loss``)."""
    found = find_detector(model)
    return found is not None and callable(getattr(found[1], "detection_loss", None))


def configure_stage(model: nn.Module, stage: int) -> None:
    """Select the trainable parameters of ``stage`` (``models.stages``; the model's own
    ``configure_training_stage(stage)`` when it has one)."""
    if callable(getattr(model, "configure_training_stage", None)):
        model.configure_training_stage(stage)
        return
    found = find_detector(model)
    set_stage_trainable(model, found[1] if found else None, stage)


def set_train_mode(model: nn.Module, stage: int) -> None:
    """Stage 0: only the detector in train mode. Stages 1-2: ``train()``, the frozen detector in eval mode."""
    found = find_detector(model)
    set_stage_mode(model, found[1] if found else None, stage)


class LossModule(nn.Module):
    """What DDP wraps: ``(images, Ks, targets) -> dict of losses with 'total'``."""

    def __init__(self, model: nn.Module, criterion: nn.Module | None, stage: int) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion
        self.stage = stage

    def forward(self, images: torch.Tensor, Ks: torch.Tensor, targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        if self.stage == 0:
            found = find_detector(self.model)
            assert found is not None
            total, terms = found[1].detection_loss(images, targets)
            out = {k: v for k, v in terms.items() if isinstance(v, torch.Tensor) and v.numel() == 1}
            out["total"] = total
            return out
        outputs = self.model(images, Ks, targets)
        assert self.criterion is not None
        return self.criterion(outputs, targets)


def build_model_and_criterion(cfg: dict[str, Any], model_cfg: dict[str, Any], stage: int) -> tuple[nn.Module, nn.Module | None]:
    """``model.builder(model_cfg)`` and, for stages 1-2, ``model.criterion_builder(model_cfg, topology)``."""
    model = import_object(cfg["model"].get("builder") or DEFAULT_BUILDER)(model_cfg)
    criterion = None
    if stage != 0:
        build_crit = import_object(cfg["model"].get("criterion_builder") or DEFAULT_CRITERION)
        topology = getattr(model, "topology", None)
        criterion = build_crit(model_cfg, topology) if topology is not None else build_crit(model_cfg)
    return model, criterion


def image_size_of(cfg: dict[str, Any], model_cfg: dict[str, Any], model: nn.Module) -> int:
    """``data.image_size``, else the model's ``input_size`` (attribute or config)."""
    if cfg["data"].get("image_size"):
        return int(cfg["data"]["image_size"])
    for attr in ("input_size", "image_size"):
        if getattr(model, attr, None):
            return int(getattr(model, attr))
        if model_section(model_cfg).get(attr):
            return int(model_section(model_cfg)[attr])
    raise ValueError("image size unknown: set data.image_size or the model config's input_size")


def amp_dtype(info: DistInfo, amp: str) -> torch.dtype | None:
    """Autocast dtype: CUDA only; bf16 where supported, else fp16 (with a GradScaler)."""
    if info.device.type != "cuda" or str(amp).lower() in ("none", "fp32", "false", "0"):
        return None
    return torch.bfloat16 if str(amp).lower() == "bf16" and torch.cuda.is_bf16_supported() else torch.float16


def autocast_context(dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext() if dtype is None else torch.autocast(device_type="cuda", dtype=dtype)


def build_optimizer(params: list[nn.Parameter], ocfg: dict[str, Any]) -> torch.optim.Optimizer:
    """``optim.name``: ``adam`` (default) or ``adamw``, with ``lr``, ``betas``, ``eps``, ``weight_decay``."""
    name = str(ocfg.get("name", "adam")).lower()
    if name not in ("adam", "adamw"):
        raise ValueError(f"unknown optim.name {ocfg['name']!r}")
    kind = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return kind(
        params, lr=float(ocfg["lr"]), betas=tuple(float(b) for b in ocfg.get("betas", (0.9, 0.999))),
        eps=float(ocfg.get("eps", 1e-8)), weight_decay=float(ocfg.get("weight_decay", 0.0)),
    )

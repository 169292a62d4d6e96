"""Learning-rate schedule of the paper (Sec. 4.1): constant, then cosine decay from epoch 25 of 40."""

from __future__ import annotations

import math

import torch


def cosine_from_epoch_factor(
    epoch: float, total_epochs: float, start_epoch: float, min_ratio: float = 0.0
) -> float:
    """Multiplier of the base lr at (fractional) ``epoch``.

    1 before ``start_epoch``; then ``min_ratio + (1 - min_ratio) * (1 + cos(pi * t)) / 2`` with
    ``t = (epoch - start_epoch) / (total_epochs - start_epoch)`` clamped to [0, 1].
    """
    if epoch < start_epoch:
        return 1.0
    span = max(float(total_epochs) - float(start_epoch), 1e-12)
    t = min(1.0, (float(epoch) - float(start_epoch)) / span)
    return float(min_ratio) + (1.0 - float(min_ratio)) * 0.5 * (1.0 + math.cos(math.pi * t))


def lr_factor_at_step(
    step: int,
    steps_per_epoch: int,
    total_epochs: float,
    start_epoch: float,
    min_ratio: float = 0.0,
    warmup_steps: int = 0,
    per_step: bool = True,
) -> float:
    """Multiplier after ``step`` optimiser steps (``LambdaLR`` convention: step 0 = first update)."""
    epoch = step / max(1, steps_per_epoch)
    if not per_step:
        epoch = math.floor(epoch)
    f = cosine_from_epoch_factor(epoch, total_epochs, start_epoch, min_ratio)
    if warmup_steps > 0 and step < warmup_steps:
        f *= (step + 1) / warmup_steps
    return f


def build_scheduler(
    optimizer: torch.optim.Optimizer, sched_cfg: dict, steps_per_epoch: int, total_epochs: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` stepped once per optimiser step (its state_dict holds only numbers)."""
    name = sched_cfg.get("name", "cosine_from_epoch")
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    if name != "cosine_from_epoch":
        raise ValueError(f"unknown sched.name {name!r}")
    frac = sched_cfg.get("cosine_start_fraction")
    start = float(frac) * float(total_epochs) if frac is not None else float(sched_cfg.get("cosine_start_epoch", 25))
    min_ratio = float(sched_cfg.get("min_lr_ratio", 0.0))
    warmup = int(sched_cfg.get("warmup_steps", 0))
    per_step = bool(sched_cfg.get("per_step", True))

    def factor(step: int) -> float:
        return lr_factor_at_step(step, steps_per_epoch, total_epochs, start, min_ratio, warmup, per_step)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

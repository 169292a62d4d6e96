"""The resumable state of a training stage: counters and history, saved with every checkpoint."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .checkpointing import CheckpointManager, pack_rng_state, restore_rng_state
from .distributed import DistInfo, all_gather_objects, all_gather_tensor, barrier
from .stage_setup import rank_seed, seed_everything

log = logging.getLogger("handos.train")


@dataclass
class RunState:
    """Where a stage stands. ``acc_state``: this rank's epoch accumulator to continue (resume only)."""

    global_step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    skipped_total: int = 0
    nonfinite_steps: int = 0
    elapsed_before: float = 0.0
    acc_state: dict[str, Any] | None = None
    resumed_from: dict[str, int] | None = None
    last_losses: dict[str, float] = field(default_factory=dict)


@dataclass
class Optimisation:
    """The optimiser, its schedule and the fp16 gradient scaler of a stage."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    use_scaler: bool


def start_or_resume(
    mgr: CheckpointManager, resume: bool, model: nn.Module, opt: Optimisation, info: DistInfo, seed: int,
    steps_per_epoch: int, stage: int,
) -> RunState:
    """A fresh :class:`RunState`, or the one of the latest checkpoint (``resume``), with every
    rank's RNG state restored (bit-identical continuation when the process layout is unchanged)."""
    if info.is_main:
        mgr.cleanup_temporaries()
    barrier(info)
    existing = mgr.latest_step()
    if existing is not None and not resume:
        raise FileExistsError(f"{mgr.directory} already holds checkpoints: pass --resume to continue, or use another --out")
    if not (resume and existing is not None):
        seed_everything(rank_seed(seed, info.rank))
        return RunState()
    loaded = mgr.load(existing)
    assert loaded is not None
    model_state, st = loaded
    model.load_state_dict(model_state, strict=True)
    opt.optimizer.load_state_dict(st["optimizer"])
    opt.scheduler.load_state_dict(st["scheduler"])
    if st.get("scaler"):
        opt.scaler.load_state_dict(st["scaler"])
    run = RunState(
        global_step=int(st["global_step"]),
        epoch=int(st["epoch"]),
        step_in_epoch=int(st["step_in_epoch"]),
        history=list(st.get("history", [])),
        skipped_total=int(st.get("skipped_total", 0)),
        nonfinite_steps=int(st.get("nonfinite_steps", 0)),
        elapsed_before=float(st.get("elapsed_s", 0.0)),
        last_losses={k: float(v) for k, v in dict(st.get("last_losses", {})).items()},
    )
    same_layout = int(st["world_size"]) == info.world_size and int(st["steps_per_epoch"]) == steps_per_epoch
    if same_layout:
        restore_rng_state(st["rng"][info.rank])
        run.acc_state = st["epoch_acc"][info.rank]
    else:
        log.warning(
            "resuming with %d processes / %d steps per epoch (checkpoint: %s / %s): training continues but is not "
            "bit-identical to an uninterrupted run", info.world_size, steps_per_epoch, st["world_size"], st["steps_per_epoch"],
        )
        seed_everything(rank_seed(seed + run.global_step, info.rank))
        run.step_in_epoch = min(run.step_in_epoch, steps_per_epoch)
    run.resumed_from = {"step": run.global_step, "epoch": run.epoch, "step_in_epoch": run.step_in_epoch}
    log.info("resumed stage %d from step %d (epoch %d, step %d in epoch)", stage, run.global_step, run.epoch, run.step_in_epoch)
    return run


def save_checkpoint(
    mgr: CheckpointManager, run: RunState, acc_state: dict[str, Any], model: nn.Module, opt: Optimisation,
    info: DistInfo, cfg: dict[str, Any], stage: int, steps_per_epoch: int, per_rank: int, t_start: float,
) -> None:
    """Checkpoint step ``run.global_step`` (collective: every rank calls it; rank 0 writes)."""
    rng_all = torch.stack(all_gather_tensor(info, pack_rng_state()))
    accs = all_gather_objects(info, acc_state)
    if not info.is_main:
        return
    state = {
        "version": 1,
        "stage": stage,
        "global_step": run.global_step,
        "epoch": run.epoch,
        "step_in_epoch": run.step_in_epoch,
        "steps_per_epoch": steps_per_epoch,
        "world_size": info.world_size,
        "per_rank_batch": per_rank,
        "seed": int(cfg["train"]["seed"]),
        "optimizer": opt.optimizer.state_dict(),
        "scheduler": opt.scheduler.state_dict(),
        "scaler": opt.scaler.state_dict() if opt.use_scaler else {},
        "rng": rng_all,
        "epoch_acc": accs,
        "history": run.history,
        "skipped_total": run.skipped_total,
        "nonfinite_steps": run.nonfinite_steps,
        "last_losses": run.last_losses,
        "elapsed_s": run.elapsed_before + (time.time() - t_start),
        "config_json": json.dumps(cfg, default=str),
    }
    mgr.save(run.global_step, model.state_dict(), state, metadata={"stage": str(stage), "step": str(run.global_step)})

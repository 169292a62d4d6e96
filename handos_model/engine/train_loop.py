"""One training stage of ``handos-train``: set-up, the step loop, checkpoints, the summary."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..models.build import model_section
from ..safetensors_io import atomic_write_bytes
from .checkpointing import CheckpointManager
from .config import load_model_config
from .distributed import DistInfo, all_gather_objects, barrier, broadcast_flag, parameters_digest, sync_buffers
from .schedule import build_scheduler
from .stage_data import build_stage_data
from .stage_setup import (
    LossModule,
    amp_dtype,
    autocast_context,
    available_cores,
    build_model_and_criterion,
    build_optimizer,
    configure_stage,
    detector_is_trainable,
    image_size_of,
    seed_everything,
    set_train_mode,
)
from .stage_weights import export_weights, init_from_earlier_stages, save_stage_weights
from .train_log import EpochAccumulator, IntervalLog, TeeLog, fmt_count, fmt_time, log, log_epoch, open_sinks
from .train_state import Optimisation, RunState, save_checkpoint, start_or_resume


def train_stage(
    cfg: dict[str, Any],
    stage: int,
    out_root: str | os.PathLike,
    info: DistInfo,
    resume: bool = False,
    export: bool = False,
) -> dict[str, Any]:
    """Train one stage; returns its summary (also written to ``stage_dir/train_summary.json``)."""
    t_start = time.time()
    out_root = Path(out_root)
    stage_dir = out_root / f"stage{stage}"
    ckpt_dir = stage_dir / "checkpoints"
    tcfg = cfg["train"]
    seed = int(tcfg["seed"])
    if info.is_main:
        stage_dir.mkdir(parents=True, exist_ok=True)
    barrier(info)
    TeeLog.to_file(stage_dir / "train.log", info.is_main)

    # threads, determinism
    n_threads = int(tcfg.get("num_threads") or 0) or max(1, available_cores() // max(1, info.local_world_size))
    torch.set_num_threads(n_threads)
    if tcfg.get("deterministic", True):
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False

    # model (identical initialisation on every rank), initialisation from earlier stages
    model_cfg = load_model_config(cfg)
    seed_everything(seed)
    model, criterion = build_model_and_criterion(cfg, model_cfg, stage)
    if stage == 0 and not detector_is_trainable(model):
        raise ValueError("stage 0 trains the built-in tiny detector; this model's detector is pretrained (use stages 1-2)")
    topology = getattr(model, "topology", None)
    num_vertices = topology.num_vertices if topology is not None else int(model_section(model_cfg).get("num_vertices", 0))
    image_size = image_size_of(cfg, model_cfg, model)
    init_info = init_from_earlier_stages(model, cfg, out_root, stage)
    configure_stage(model, stage)
    model.to(info.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise RuntimeError(f"stage {stage}: no trainable parameters")
    n_trainable = sum(p.numel() for p in trainable)
    n_total = sum(p.numel() for p in model.parameters())

    data = build_stage_data(cfg, info, image_size, num_vertices, seed)
    steps_per_epoch, total_steps, epochs = data.steps_per_epoch, data.total_steps, int(tcfg["epochs"])

    # optimisation, resume
    optimizer = build_optimizer(trainable, cfg["optim"])
    autocast_dtype = amp_dtype(info, str(tcfg.get("amp", "none")))
    use_scaler = autocast_dtype == torch.float16
    opt = Optimisation(
        optimizer, build_scheduler(optimizer, cfg["sched"], steps_per_epoch, epochs),
        torch.amp.GradScaler("cuda", enabled=use_scaler), use_scaler,
    )
    clip = float(tcfg.get("clip_grad_norm") or 0.0)
    mgr = CheckpointManager(ckpt_dir, keep=int(tcfg.get("keep_checkpoints", 3)))
    run = start_or_resume(mgr, resume, model, opt, info, seed, steps_per_epoch, stage)

    ddp_model: nn.Module = LossModule(model, criterion, stage)
    if info.enabled:
        ddp_model = DistributedDataParallel(
            ddp_model,
            device_ids=[info.device.index] if info.device.type == "cuda" else None,
            find_unused_parameters=bool(tcfg.get("ddp_find_unused_parameters", True)),
        )
    writer, step_log = open_sinks(stage_dir, tcfg, run.global_step, run.resumed_from is not None) if info.is_main else (None, None)
    log.info(
        "stage %d: %d process(es) on %s (%s), %d threads each | model %s params (%s trainable) | "
        "%d samples (%d per epoch), global batch %d (%d/process), %d steps/epoch, %d epochs, %d steps | image %d px",
        stage, info.world_size, info.device, info.backend or "single", n_threads, fmt_count(n_total), fmt_count(n_trainable),
        len(data.dataset), data.sampler.epoch_size, int(tcfg["batch_size"]), data.per_rank, steps_per_epoch, epochs,
        total_steps, image_size,
    )

    def checkpoint(acc: EpochAccumulator) -> None:
        save_checkpoint(mgr, run, acc.state(), model, opt, info, cfg, stage, steps_per_epoch, data.per_rank, t_start)

    from tqdm import tqdm

    bar = tqdm(
        total=total_steps, initial=run.global_step, disable=not (info.is_main and tcfg.get("progress", True)),
        desc=f"stage {stage}", unit="step", dynamic_ncols=True, mininterval=1.0, file=sys.stderr,
    )
    ckpt_every = int(tcfg.get("ckpt_every_steps") or 0)
    ckpt_minutes = float(tcfg.get("ckpt_every_minutes") or 0.0)
    log_every = max(1, int(tcfg.get("log_every", 10)))
    last_ckpt_time = time.time()
    interval = IntervalLog()
    if run.step_in_epoch >= steps_per_epoch:
        run.epoch, run.step_in_epoch = run.epoch + 1, 0
    partial_record: dict[str, Any] | None = None
    set_train_mode(model, stage)

    while run.global_step < total_steps and run.epoch < epochs:
        acc = EpochAccumulator(run.acc_state)
        run.acc_state = None
        t_epoch = time.time() - acc.time
        for images, targets, nskip in data.batches(run.epoch, run.step_in_epoch):
            images = images.to(info.device, non_blocking=True)
            targets = [{k: v.to(info.device, non_blocking=True) for k, v in t.items()} for t in targets]
            Ks = torch.stack([t["K"] for t in targets])
            with autocast_context(autocast_dtype):
                losses = ddp_model(images, Ks, targets)
            total = losses["total"]
            optimizer.zero_grad(set_to_none=True)
            opt.scaler.scale(total.float()).backward()
            opt.scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, clip if clip > 0 else float("inf"))
            if torch.isfinite(grad_norm):  # identical on every rank (gradients are all-reduced)
                opt.scaler.step(optimizer)
            else:
                run.nonfinite_steps += 1
                log.warning("step %d: non-finite gradient norm, update skipped", run.global_step)
            opt.scaler.update()
            lr = optimizer.param_groups[0]["lr"]
            opt.scheduler.step()
            run.global_step += 1
            run.step_in_epoch += 1
            values = {k: float(v.detach().float().item()) for k, v in losses.items() if v.numel() == 1}
            run.last_losses = values
            acc.add(values, images.shape[0], nskip)
            run.skipped_total += nskip
            acc.time = time.time() - t_epoch
            interval.add(values, images.shape[0])
            if step_log is not None:
                step_log.write(
                    json.dumps(
                        {"step": run.global_step, "epoch": run.epoch, "lr": lr, "grad_norm": float(grad_norm), "loss": values,
                         "skipped": nskip, "wall": time.time()}
                    ) + "\n"
                )
                step_log.flush()
            bar.update(1)
            if run.global_step % log_every == 0 or run.global_step == total_steps:
                interval.flush(info, writer, bar, run.global_step, lr, float(grad_norm))
            epoch_done = run.step_in_epoch >= steps_per_epoch
            stop = run.global_step >= total_steps
            due = ckpt_every > 0 and run.global_step % ckpt_every == 0
            if ckpt_minutes > 0:
                due = broadcast_flag(info, due or (time.time() - last_ckpt_time) >= 60.0 * ckpt_minutes)
            if due and not epoch_done and not stop:  # epoch ends and stops checkpoint below
                checkpoint(acc)
                last_ckpt_time = time.time()
            if epoch_done or stop:
                break

        # end of epoch (or of a max_steps run inside it)
        ep = EpochAccumulator.combine(all_gather_objects(info, acc.state()))
        epoch_done = run.step_in_epoch >= steps_per_epoch
        record = {
            "epoch": run.epoch + 1,
            "complete": epoch_done,
            "global_step": run.global_step,
            "loss": ep["loss"],
            "lr": optimizer.param_groups[0]["lr"],
            "images_per_s": ep["images"] / max(1e-9, ep["time"]),
            "skipped": ep["skipped"],
            "time_s": ep["time"],
        }
        if epoch_done:
            run.history.append(record)  # only complete epochs are checkpointed history
        else:
            partial_record = record
        skipped_all = sum(all_gather_objects(info, run.skipped_total))
        log_epoch(writer, stage, run.epoch, epochs, epoch_done, run.global_step, total_steps, ep, record, skipped_all)
        if epoch_done:
            run.epoch, run.step_in_epoch = run.epoch + 1, 0
            checkpoint(EpochAccumulator())
            last_ckpt_time = time.time()
        else:
            checkpoint(acc)
            break
    bar.close()

    # final weights, replica check, export, summary
    replicas = None
    sync_buffers(info, model)  # BatchNorm statistics of a train-mode detector (stage 0) are per shard
    if info.enabled and tcfg.get("replica_check", True):
        digests = all_gather_objects(info, parameters_digest(model))
        replicas = len(set(digests)) == 1
        if not replicas:
            log.error("DDP replicas diverged: %s", digests)
    skipped_all = sum(all_gather_objects(info, run.skipped_total))
    summary: dict[str, Any] = {}
    if info.is_main:
        final_path = save_stage_weights(model, stage_dir, stage, run.global_step)
        export_path = None
        if export or stage == 2:
            export_path = export_weights(
                model, model_cfg, out_root, str(cfg["export"]["name"]),
                {"stage": stage, "global_step": run.global_step, "train_config": cfg},
                include_detector=detector_is_trainable(model),
            )
            log.info("exported deployable weights to %s", export_path)
        wall = time.time() - t_start
        summary = {
            "stage": stage,
            "finished": run.global_step >= total_steps,
            "global_step": run.global_step,
            "total_steps": total_steps,
            "epochs": epochs,
            "epochs_completed": run.epoch,
            "steps_per_epoch": steps_per_epoch,
            "global_batch": int(tcfg["batch_size"]),
            "world_size": info.world_size,
            "device": str(info.device),
            "autocast": str(autocast_dtype).replace("torch.", "") if autocast_dtype else None,
            "backend": info.backend,
            "threads_per_process": n_threads,
            "image_size": image_size,
            "params": n_total,
            "trainable_params": n_trainable,
            **_run_summary(run, partial_record, skipped_all, wall),
            "init": init_info,
            "replicas_identical": replicas,
            "checkpoint_dir": str(ckpt_dir),
            "final_weights": str(final_path),
            "export": str(export_path) if export_path else None,
        }
        _write_summaries(out_root, stage_dir, stage, summary)
        log.info(
            "stage %d done: %d steps, final loss %.4f, skipped %d corrupt samples, %s wall; summary %s",
            stage, run.global_step, run.last_losses.get("total", float("nan")), skipped_all,
            fmt_time(run.elapsed_before + wall), stage_dir / "train_summary.json",
        )
    if step_log is not None:
        step_log.close()
    if writer is not None:
        writer.close()
    barrier(info)
    summary["_model"] = model  # for in-process callers (tests); stripped before JSON
    return summary


def _run_summary(run: RunState, partial_record: dict[str, Any] | None, skipped_all: int, wall: float) -> dict[str, Any]:
    """The summary's losses, history, counters and times."""
    history = run.history
    complete_epochs = [h for h in history if h["complete"]]
    return {
        "final_losses": run.last_losses,
        "history": history,
        "partial_epoch": partial_record,
        "skipped_samples": skipped_all,
        "nonfinite_steps": run.nonfinite_steps,
        "wall_time_s": run.elapsed_before + wall,
        "this_run_wall_time_s": wall,
        "mean_images_per_s": (sum(h["images_per_s"] * h["time_s"] for h in history) / max(1e-9, sum(h["time_s"] for h in history))),
        "last_epoch_images_per_s": complete_epochs[-1]["images_per_s"] if complete_epochs else None,
        "resumed_from": run.resumed_from,
    }


def _write_summaries(out_root: Path, stage_dir: Path, stage: int, summary: dict[str, Any]) -> None:
    """``stage_dir/train_summary.json`` and this stage's entry in ``out_root/train_summary.json``."""
    atomic_write_bytes(stage_dir / "train_summary.json", json.dumps(summary, indent=2, default=str).encode())
    root_summary_path = out_root / "train_summary.json"
    root = json.loads(root_summary_path.read_text()) if root_summary_path.exists() else {"stages": {}}
    root["stages"][str(stage)] = summary
    atomic_write_bytes(root_summary_path, json.dumps(root, indent=2, default=str).encode())

"""Training configuration: defaults, YAML loading, ``--set key.path=value`` overrides, stages.

A training YAML is merged onto ``DEFAULTS`` (dicts merge recursively, everything else
replaces). The section ``stage0`` / ``stage1`` / ``stage2`` of the merged config is then
merged onto the root for the stage being trained, and the command-line overrides come
last, so ``--set train.epochs=2`` wins over everything.

The defaults are the paper's recipe (Sec. 4.1): Adam, lr 1e-3, batch 16, 40 epochs,
cosine decay from epoch 25 on.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .. import CONFIGS_DIR, DEFAULT_MODEL

DEFAULTS: dict[str, Any] = {
    "model": {
        # model YAML (relative to the training YAML, then to handos_model/configs/) or an inline dict
        "config": f"{DEFAULT_MODEL}.yaml",
        "overrides": {},  # deep-merged onto the model config
        "builder": None,  # "module:function" (model_cfg) -> model; None = handos_model.models.build:build_model
        "criterion_builder": None,  # (model_cfg, topology) -> criterion; None = models.build:build_criterion
    },
    "data": {
        # train.type: synthetic_on_the_fly | synthetic (root) | mixed (data.build_dataset) | python (factory)
        "train": {"type": "synthetic_on_the_fly", "length": 2000, "seed": 0},  # kwargs of the dataset class
        "samples_per_epoch": 0,  # >0: an epoch is this window of the dataset (new samples every epoch)
        "image_size": None,  # None: from the model config
        "workers": 0,
        "prefetch_factor": 2,
        "max_consecutive_skips": 64,  # corrupt samples in a row before giving up
    },
    "augment": {"enabled": True, "flip_prob": 0.0},
    "optim": {"name": "adam", "lr": 1.0e-3, "weight_decay": 0.0, "betas": [0.9, 0.999], "eps": 1.0e-8},
    "sched": {
        "name": "cosine_from_epoch",
        "cosine_start_epoch": 25,
        "min_lr_ratio": 0.0,
        "warmup_steps": 0,
        "per_step": True,  # smooth cosine over iterations; False: lr changes at epoch boundaries
    },
    "train": {
        "epochs": 40,
        "batch_size": 16,  # GLOBAL batch: split evenly over the processes
        "max_steps": 0,  # >0: stop after this many optimiser steps (smoke tests, benchmarks)
        "seed": 0,
        "clip_grad_norm": 0.1,  # 0 disables clipping (the norm is still logged)
        "amp": "bf16",  # bf16 | fp16 | none; autocast is used on CUDA only
        "device": "auto",  # auto | cpu | cuda
        "num_threads": 0,  # torch intra-op threads per process; 0 = cores / local processes
        "deterministic": True,
        "log_every": 10,
        "ckpt_every_steps": 200,
        "ckpt_every_minutes": 0.0,  # >0: also checkpoint on wall time (rank 0 decides, broadcast)
        "keep_checkpoints": 3,
        "progress": True,
        "step_log": True,  # write step_losses.jsonl (exact per-step losses, rank 0)
        "ddp_find_unused_parameters": True,
        "replica_check": True,  # at the end, verify the DDP replicas hold identical parameters
    },
    "export": {"name": DEFAULT_MODEL},
    "train_detector": None,  # None: stage 0 runs when model.detector.type is rtdetr_tiny
    # per-stage sections, merged onto the root for that stage
    "stage0": {},
    # the 2D model of suppl. VI.2: every decoder layer a 2D layer, no lifting / 3D outputs
    "stage1": {"model": {"overrides": {"model": {"decoder": {"lifting": False}}}}, "detector_from": "auto"},
    # init_exclude: parameter-name prefixes NOT copied from init_from (they stay freshly
    # initialised), e.g. ["decoder.camera_heads"] to restart a head when fine-tuning
    "stage2": {"init_from": "auto", "detector_from": "auto", "init_exclude": []},
}

STAGES = (0, 1, 2)


def deep_merge(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    """Recursive merge; ``over`` wins. Neither input is modified.

    A mapping whose ``type`` differs from the base's replaces it instead of merging (switching
    ``data.train.type`` must not inherit the other dataset's arguments).
    """
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and v.get("type", out[k].get("type")) == out[k].get("type"):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_value(text: str) -> Any:
    """YAML scalar/list parsing plus floats YAML 1.1 leaves as strings (``1e-4``)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(cfg: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings."""
    out = copy.deepcopy(cfg)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override must look like key.path=value, got {item!r}")
        key, text = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[parts[-1]] = parse_value(text)
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    return data


def resolve_config_path(name: str | Path, relative_to: Path | None = None) -> Path:
    """A config name as given, relative to ``relative_to``, or in ``handos_model/configs``."""
    p = Path(name)
    for cand in ([p] if p.is_absolute() else [p, *([relative_to / p] if relative_to else []), CONFIGS_DIR / p]):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"config {name} not found (looked in cwd, {relative_to}, {CONFIGS_DIR})")


def load_train_config(path: str | Path | None, overrides: list[str] | None = None) -> dict[str, Any]:
    """Defaults <- training YAML (``base:`` chains allowed) <- overrides. Stage sections not applied yet."""
    cfg = copy.deepcopy(DEFAULTS)
    source_dir = None
    if path is not None:
        p = resolve_config_path(path)
        source_dir = p.parent.resolve()
        chain = []
        seen = set()
        while p is not None:
            if p.resolve() in seen:
                raise ValueError(f"cyclic base: chain at {p}")
            seen.add(p.resolve())
            data = load_yaml(p)
            chain.append(data)
            base = data.pop("base", None)
            p = resolve_config_path(base, p.parent) if base else None
        for data in reversed(chain):
            cfg = deep_merge(cfg, data)
    cfg = apply_overrides(cfg, overrides)
    cfg["_source_dir"] = str(source_dir) if source_dir else None
    return cfg


def stage_config(cfg: dict[str, Any], stage: int, overrides: list[str] | None = None) -> dict[str, Any]:
    """Merge ``stage{N}`` onto the root (then re-apply the CLI overrides so they win)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage}")
    out = deep_merge(cfg, cfg.get(f"stage{stage}") or {})
    out = apply_overrides(out, overrides)
    out["stage"] = stage
    return out


def load_model_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The model config dict (YAML file or inline) with ``model.overrides`` merged on."""
    mcfg = cfg["model"].get("config")
    if isinstance(mcfg, dict):
        model_cfg = copy.deepcopy(mcfg)
    elif mcfg is None:
        model_cfg = {}
    else:
        src = cfg.get("_source_dir")
        model_cfg = load_yaml(resolve_config_path(mcfg, Path(src) if src else None))
    return deep_merge(model_cfg, cfg["model"].get("overrides") or {})

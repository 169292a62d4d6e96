"""``handos-train``: the paper's training recipe (Sec. 4.1, supplement VI.2), single or multi-process.

Stages (``--stage``; without it, every stage that applies runs in order):

* **0** — only for the built-in tiny detector: train it on (synthetic) boxes with its own
  Hungarian-matching loss (``detector.detection_loss``). It is frozen afterwards.
* **1** — the 2D model: frozen detector + 2D layers, loss ``L^J2D + L^OKS``
  (what the model's ``configure_training_stage(1)`` / the ``stage1`` config section select).
* **2** — the full model, initialised from stage 1 (and the detector from stage 0).

Usage::

    handos-train --config handos_model/configs/train_tiny_synth.yaml --out runs/tiny [--stage 1]
        [--resume] [--export] [--set optim.lr=1e-4 train.epochs=2 ...]
    torchrun --standalone --nproc_per_node 2 -m handos_model.engine.train --config ... --out ...

Output layout (``--out DIR``)::

    DIR/stage{N}/checkpoints/   ckpt_*.safetensors + ckpt_*.state.pt + latest.json (atomic, resumable)
    DIR/stage{N}/tb/            TensorBoard scalars (loss terms, lr, images/s, skipped samples)
    DIR/stage{N}/final.safetensors, train.log, step_losses.jsonl, train_summary.json
    DIR/train_summary.json      all stages run so far
    DIR/handos_tiny.safetensors + .json   deployable weights (end of stage 2, or --export)

Determinism: on CPU a run resumed from any checkpoint reproduces the uninterrupted run
bit-exactly (same seed, same number of processes): data order and augmentation are pure
functions of ``(seed, epoch, position)`` (see ``engine.data``), and every rank's RNG states,
the optimiser, the scheduler and the epoch accumulators are checkpointed.
"""

from __future__ import annotations

import os

# libgomp's default spin-waiting makes a multi-threaded torch collapse when the cores are shared
# (measured: 1 process x 2 threads, stage 1, 39 s/step spinning vs 10 s passive on a loaded 2-core
# machine). Only effective before torch is first imported; OMP_WAIT_POLICY=ACTIVE restores it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from ..checkpoint import detector_tensors  # noqa: E402
from ..data.augment import AugmentConfig  # noqa: E402
from .checkpointing import (  # noqa: E402
    CheckpointManager,
    atomic_save_safetensors,
    atomic_write_bytes,
    load_safetensors,
    pack_rng_state,
    restore_rng_state,
)
from .config import STAGES, load_model_config, load_train_config, stage_config  # noqa: E402
from .data import (  # noqa: E402
    ResumableDistributedSampler,
    TrainDataset,
    build_base_dataset,
    import_object,
    seed_worker,
    train_collate,
)
from .distributed import (  # noqa: E402
    DistInfo,
    all_gather_objects,
    all_gather_tensor,
    barrier,
    broadcast_flag,
    cleanup_distributed,
    parameters_digest,
    setup_distributed,
    sync_buffers,
)
from .schedule import build_scheduler  # noqa: E402

log = logging.getLogger("handos.train")

DEFAULT_BUILDER = "handos_model.models.build:build_model"
DEFAULT_CRITERION = "handos_model.models.build:build_criterion"


# ----------------------------------------------------------------------------- helpers


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
    """Select the trainable parameters of ``stage``.

    The model decides when it implements ``configure_training_stage(stage)``; otherwise:
    stage 0 trains the detector only, stages 1-2 train everything but the (frozen) detector.
    """
    if callable(getattr(model, "configure_training_stage", None)):
        model.configure_training_stage(stage)
        return
    found = find_detector(model)
    for p in model.parameters():
        p.requires_grad_(stage != 0)
    if found is not None:
        found[1].set_trainable(stage == 0)


def set_train_mode(model: nn.Module, stage: int) -> None:
    """Stage 0: only the detector in train mode. Stages 1-2: ``train()``, the frozen detector in eval mode."""
    found = find_detector(model)
    if stage == 0 and found is not None:
        model.eval()
        found[1].train()
        return
    model.train()
    if found is not None:
        found[1].eval()


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


def load_matching(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    prefix: str = "",
    what: str = "",
    exclude: tuple[str, ...] = (),
) -> dict[str, int]:
    """Copy tensors of ``state`` whose name (under ``prefix``, not under any ``exclude`` prefix)
    and shape match; report counts (excluded tensors count as "excluded", and stay as built)."""
    own = model.state_dict()
    matched, shape_mismatch, unexpected, excluded = {}, 0, 0, 0
    for k, v in state.items():
        if prefix and not k.startswith(prefix):
            continue
        if exclude and k.startswith(exclude):
            excluded += 1
            continue
        if k not in own:
            unexpected += 1
        elif own[k].shape != v.shape:
            shape_mismatch += 1
        else:
            matched[k] = v
    model.load_state_dict(matched, strict=False)
    missing = sum(1 for k in own if (not prefix or k.startswith(prefix)) and k not in matched)
    stats = {"loaded": len(matched), "missing": missing, "unexpected": unexpected, "shape_mismatch": shape_mismatch}
    if exclude:
        stats["excluded"] = excluded
    log.info("init %s: %s", what, stats)
    if not matched:
        raise RuntimeError(f"init {what}: no tensor matched")
    return stats


def detector_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``detector_from`` accepts a full HandOS file (``stage0/final.safetensors``, detector tensors
    under ``prefix``) or a detector-only one (``stage0/detector.safetensors``, no prefix): the
    detector's tensors, named as in the model (under ``prefix``)."""
    return {prefix + k: v for k, v in detector_tensors(state, prefix).items()}


def _model_section(model_cfg: dict[str, Any]) -> dict[str, Any]:
    return model_cfg["model"] if isinstance(model_cfg.get("model"), dict) else model_cfg


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
        if _model_section(model_cfg).get(attr):
            return int(_model_section(model_cfg)[attr])
    raise ValueError("image size unknown: set data.image_size or the model config's input_size")


def amp_dtype(info: DistInfo, amp: str) -> torch.dtype | None:
    """Autocast dtype: CUDA only; bf16 where supported, else fp16 (with a GradScaler)."""
    if info.device.type != "cuda" or str(amp).lower() in ("none", "fp32", "false", "0"):
        return None
    return torch.bfloat16 if str(amp).lower() == "bf16" and torch.cuda.is_bf16_supported() else torch.float16


def autocast_context(dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext() if dtype is None else torch.autocast(device_type="cuda", dtype=dtype)


def export_weights(
    model: nn.Module, model_cfg: dict[str, Any], out_dir: Path, name: str, info: dict[str, Any], include_detector: bool = True
) -> Path:
    """Deployable weights via ``handos_model.checkpoint.save_model`` -> ``out_dir/name.safetensors`` (+ .json).

    ``include_detector=False`` for a pretrained detector (Grounding DINO) reloaded from its own snapshot.
    """
    from ..checkpoint import save_model

    path = out_dir / f"{name}.safetensors"
    kwargs: dict[str, Any] = {}
    params = _parameters_of(save_model)
    if "extra" in params:
        kwargs["extra"] = _public(info)
    if "include_detector" in params:
        kwargs["include_detector"] = include_detector
    save_model(model, model_cfg, path, **kwargs)
    return path


def _public(obj: Any) -> Any:
    """``obj`` without the loader's private keys (``_source_dir``: a machine path) at any depth."""
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(obj, list):
        return [_public(v) for v in obj]
    return obj


def _parameters_of(fn: Any) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


class _TeeLog:
    """Sets up ``logging`` once: stdout + the stage's train.log on rank 0, warnings only elsewhere."""

    handler: logging.Handler | None = None

    @classmethod
    def to_file(cls, path: Path | None, is_main: bool) -> None:
        root = logging.getLogger("handos")
        root.setLevel(logging.INFO if is_main else logging.WARNING)
        if not any(getattr(h, "_handos_console", False) for h in root.handlers):
            h = logging.StreamHandler(sys.stdout)
            h._handos_console = True  # type: ignore[attr-defined]
            h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
            root.addHandler(h)
        if cls.handler is not None:
            root.removeHandler(cls.handler)
            cls.handler.close()
            cls.handler = None
        if path is not None and is_main:
            cls.handler = logging.FileHandler(path, encoding="utf-8")
            cls.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            root.addHandler(cls.handler)


def _headline_term(name: str) -> bool:
    """Loss terms shown on the epoch line (all of them go to TensorBoard)."""
    return name != "total" and not name.startswith("num_") and "_aux_" not in name and "_dn_" not in name


def _fmt_count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def _fmt_time(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _Acc:
    """Running sums of loss terms (python floats) + counters; picklable for all_gather_object."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.sums: dict[str, float] = dict(state.get("sums", {}))
        self.count = int(state.get("count", 0))
        self.skipped = int(state.get("skipped", 0))
        self.images = int(state.get("images", 0))
        self.time = float(state.get("time", 0.0))

    def add(self, losses: dict[str, float], images: int, skipped: int) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1
        self.images += images
        self.skipped += skipped

    def state(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count, "skipped": self.skipped, "images": self.images, "time": self.time}

    @staticmethod
    def combine(states: list[dict[str, Any]]) -> dict[str, Any]:
        """Mean of each term over all steps of all ranks; summed counters; max time."""
        sums: dict[str, float] = {}
        count = 0
        for s in states:
            for k, v in s["sums"].items():
                sums[k] = sums.get(k, 0.0) + v
            count += s["count"]
        means = {k: v / max(1, count) for k, v in sums.items()}
        return {
            "loss": means,
            "steps": count // max(1, len(states)),
            "images": sum(s["images"] for s in states),
            "skipped": sum(s["skipped"] for s in states),
            "time": max(s["time"] for s in states),
        }


# ----------------------------------------------------------------------------- one stage


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
    _TeeLog.to_file(stage_dir / "train.log", info.is_main)

    # threads, determinism
    n_threads = int(tcfg.get("num_threads") or 0) or max(1, available_cores() // max(1, info.local_world_size))
    torch.set_num_threads(n_threads)
    if tcfg.get("deterministic", True):
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False

    # model (identical initialisation on every rank)
    model_cfg = load_model_config(cfg)
    seed_everything(seed)
    model, criterion = build_model_and_criterion(cfg, model_cfg, stage)
    if stage == 0 and not detector_is_trainable(model):
        raise ValueError("stage 0 trains the built-in tiny detector; this model's detector is pretrained (use stages 1-2)")
    topology = getattr(model, "topology", None)
    num_vertices = topology.num_vertices if topology is not None else int(_model_section(model_cfg).get("num_vertices", 0))
    image_size = image_size_of(cfg, model_cfg, model)

    # initialisation from earlier stages
    init_info: dict[str, Any] = {}
    det = find_detector(model)
    if stage == 2:
        src = cfg.get("init_from", "auto")
        if src not in (None, "none"):
            path = out_root / "stage1" / "final.safetensors" if src == "auto" else Path(src)
            if not path.is_file():
                raise FileNotFoundError(f"stage 2 starts from the stage-1 model, {path} is missing (train stage 1 or set init_from=none)")
            what = "from stage 1" if src == "auto" else f"from {path}"
            exclude = tuple(str(p) for p in (cfg.get("init_exclude") or ()))
            init_info["init_from"] = {
                "path": str(path),
                **load_matching(model, load_safetensors(path), what=what, exclude=exclude),
            }
    if stage in (1, 2) and det is not None and detector_is_trainable(model):
        src = cfg.get("detector_from", "auto")
        if src not in (None, "none"):
            path = out_root / "stage0" / "final.safetensors" if src == "auto" else Path(src)
            if path.is_file():
                init_info["detector_from"] = {
                    "path": str(path),
                    **load_matching(model, detector_state(load_safetensors(path), det[0] + "."), prefix=det[0] + ".",
                                    what="detector from stage 0"),
                }
            elif not (stage == 2 and "init_from" in init_info):
                raise FileNotFoundError(
                    f"the tiny detector is trained in stage 0 and frozen afterwards; {path} is missing "
                    "(train stage 0 first, or set detector_from=none)"
                )
    configure_stage(model, stage)
    model.to(info.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise RuntimeError(f"stage {stage}: no trainable parameters")
    n_trainable = sum(p.numel() for p in trainable)
    n_total = sum(p.numel() for p in model.parameters())

    # data
    world = info.world_size
    batch = int(tcfg["batch_size"])
    if batch % world:
        raise ValueError(f"train.batch_size={batch} (global) must be divisible by the {world} processes")
    per_rank = batch // world
    base = build_base_dataset(cfg)
    dataset = TrainDataset(
        base,
        image_size=image_size,
        num_vertices=num_vertices,
        augment=AugmentConfig.from_dict(cfg.get("augment")),
        seed=seed,
        max_consecutive_skips=int(cfg["data"].get("max_consecutive_skips", 64)),
    )
    sampler = ResumableDistributedSampler(
        len(dataset), world, info.rank, seed=seed, shuffle=True, epoch_size=int(cfg["data"].get("samples_per_epoch") or 0)
    )
    steps_per_epoch = sampler.num_samples // per_rank
    if steps_per_epoch < 1:
        raise ValueError(f"an epoch of {sampler.epoch_size} samples is smaller than one batch of {batch}")
    epochs = int(tcfg["epochs"])
    total_steps = steps_per_epoch * epochs
    if int(tcfg.get("max_steps") or 0) > 0:
        total_steps = min(total_steps, int(tcfg["max_steps"]))

    # optimisation
    ocfg = cfg["optim"]
    if ocfg.get("name", "adam").lower() == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(
            trainable, lr=float(ocfg["lr"]), betas=tuple(float(b) for b in ocfg.get("betas", (0.9, 0.999))),
            eps=float(ocfg.get("eps", 1e-8)), weight_decay=float(ocfg.get("weight_decay", 0.0)),
        )
    elif ocfg["name"].lower() == "adamw":
        optimizer = torch.optim.AdamW(
            trainable, lr=float(ocfg["lr"]), betas=tuple(float(b) for b in ocfg.get("betas", (0.9, 0.999))),
            eps=float(ocfg.get("eps", 1e-8)), weight_decay=float(ocfg.get("weight_decay", 0.0)),
        )
    else:
        raise ValueError(f"unknown optim.name {ocfg['name']!r}")
    scheduler = build_scheduler(optimizer, cfg["sched"], steps_per_epoch, epochs)
    autocast_dtype = amp_dtype(info, str(tcfg.get("amp", "none")))
    use_scaler = autocast_dtype == torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    clip = float(tcfg.get("clip_grad_norm") or 0.0)

    # resume
    mgr = CheckpointManager(ckpt_dir, keep=int(tcfg.get("keep_checkpoints", 3)))
    global_step, epoch, step_in_epoch = 0, 0, 0
    history: list[dict[str, Any]] = []
    skipped_total, nonfinite_steps, elapsed_before = 0, 0, 0.0
    acc_state: dict[str, Any] | None = None
    resumed_from = None
    resumed_losses: dict[str, float] = {}
    if info.is_main:
        mgr.cleanup_temporaries()
    barrier(info)
    existing = mgr.latest_step()
    if existing is not None and not resume:
        raise FileExistsError(f"{ckpt_dir} already holds checkpoints: pass --resume to continue, or use another --out")
    if resume and existing is not None:
        loaded = mgr.load(existing)
        assert loaded is not None
        model_state, st = loaded
        model.load_state_dict(model_state, strict=True)
        optimizer.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        if st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        global_step, epoch, step_in_epoch = int(st["global_step"]), int(st["epoch"]), int(st["step_in_epoch"])
        history = list(st.get("history", []))
        skipped_total = int(st.get("skipped_total", 0))
        nonfinite_steps = int(st.get("nonfinite_steps", 0))
        resumed_losses = {k: float(v) for k, v in dict(st.get("last_losses", {})).items()}
        elapsed_before = float(st.get("elapsed_s", 0.0))
        same_layout = int(st["world_size"]) == world and int(st["steps_per_epoch"]) == steps_per_epoch
        if same_layout:
            restore_rng_state(st["rng"][info.rank])
            acc_state = st["epoch_acc"][info.rank]
        else:
            log.warning(
                "resuming with %d processes / %d steps per epoch (checkpoint: %s / %s): training continues but is not "
                "bit-identical to an uninterrupted run", world, steps_per_epoch, st["world_size"], st["steps_per_epoch"],
            )
            seed_everything(rank_seed(seed + global_step, info.rank))
            step_in_epoch = min(step_in_epoch, steps_per_epoch)
        resumed_from = {"step": global_step, "epoch": epoch, "step_in_epoch": step_in_epoch}
        log.info("resumed stage %d from step %d (epoch %d, step %d in epoch)", stage, global_step, epoch, step_in_epoch)
    else:
        seed_everything(rank_seed(seed, info.rank))

    ddp_model: nn.Module = LossModule(model, criterion, stage)
    if info.enabled:
        ddp_model = DistributedDataParallel(
            ddp_model,
            device_ids=[info.device.index] if info.device.type == "cuda" else None,
            find_unused_parameters=bool(tcfg.get("ddp_find_unused_parameters", True)),
        )

    # logging sinks (rank 0)
    writer = None
    step_log = None
    if info.is_main:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(stage_dir / "tb"), purge_step=global_step if resumed_from else None)
        except ImportError:  # tensorboard is the optional [train] extra
            log.warning("tensorboard not installed: no TensorBoard scalars")
        if tcfg.get("step_log", True):
            step_log_path = stage_dir / "step_losses.jsonl"
            kept = []
            if resumed_from and step_log_path.exists():
                kept = [ln for ln in step_log_path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= global_step]
            elif step_log_path.exists():
                step_log_path.unlink()
            if kept:
                atomic_write_bytes(step_log_path, ("\n".join(kept) + "\n").encode())
            step_log = open(step_log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed below

    log.info(
        "stage %d: %d process(es) on %s (%s), %d threads each | model %s params (%s trainable) | "
        "%d samples (%d per epoch), global batch %d (%d/process), %d steps/epoch, %d epochs, %d steps | image %d px",
        stage, world, info.device, info.backend or "single", n_threads, _fmt_count(n_total), _fmt_count(n_trainable),
        len(dataset), sampler.epoch_size, batch, per_rank, steps_per_epoch, epochs, total_steps, image_size,
    )

    def checkpoint(acc: _Acc) -> None:
        rng_all = torch.stack(all_gather_tensor(info, pack_rng_state()))
        accs = all_gather_objects(info, acc.state())
        if not info.is_main:
            return
        state = {
            "version": 1,
            "stage": stage,
            "global_step": global_step,
            "epoch": epoch,
            "step_in_epoch": step_in_epoch,
            "steps_per_epoch": steps_per_epoch,
            "world_size": world,
            "per_rank_batch": per_rank,
            "seed": seed,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if use_scaler else {},
            "rng": rng_all,
            "epoch_acc": accs,
            "history": history,
            "skipped_total": skipped_total,
            "nonfinite_steps": nonfinite_steps,
            "last_losses": last_losses,
            "elapsed_s": elapsed_before + (time.time() - t_start),
            "config_json": json.dumps(cfg, default=str),
        }
        mgr.save(global_step, model.state_dict(), state, metadata={"stage": str(stage), "step": str(global_step)})

    from tqdm import tqdm

    bar = tqdm(
        total=total_steps, initial=global_step, disable=not (info.is_main and tcfg.get("progress", True)),
        desc=f"stage {stage}", unit="step", dynamic_ncols=True, mininterval=1.0, file=sys.stderr,
    )
    ckpt_every = int(tcfg.get("ckpt_every_steps") or 0)
    ckpt_minutes = float(tcfg.get("ckpt_every_minutes") or 0.0)
    log_every = max(1, int(tcfg.get("log_every", 10)))
    last_ckpt_time = time.time()
    interval: dict[str, Any] = {"t": time.time(), "images": 0, "sums": {}, "n": 0}
    if step_in_epoch >= steps_per_epoch:
        epoch, step_in_epoch = epoch + 1, 0
    last_losses: dict[str, float] = resumed_losses
    partial_record: dict[str, Any] | None = None
    set_train_mode(model, stage)

    def batches(ep: int, start: int) -> Iterator[tuple[torch.Tensor, list[dict[str, torch.Tensor]], int]]:
        sampler.set_epoch(ep)
        sampler.set_start(start * per_rank)
        workers = int(cfg["data"].get("workers", 0))
        g = torch.Generator()
        g.manual_seed(loader_seed(seed, ep, info.rank, start))
        loader = DataLoader(
            dataset, batch_size=per_rank, sampler=sampler, num_workers=workers, collate_fn=train_collate,
            drop_last=True, generator=g, worker_init_fn=seed_worker if workers else None,
            pin_memory=info.device.type == "cuda", prefetch_factor=int(cfg["data"].get("prefetch_factor", 2)) if workers else None,
        )
        yield from loader

    while global_step < total_steps and epoch < epochs:
        acc = _Acc(acc_state)
        acc_state = None
        t_epoch = time.time() - acc.time
        for images, targets, nskip in batches(epoch, step_in_epoch):
            images = images.to(info.device, non_blocking=True)
            targets = [{k: v.to(info.device, non_blocking=True) for k, v in t.items()} for t in targets]
            Ks = torch.stack([t["K"] for t in targets])
            with autocast_context(autocast_dtype):
                losses = ddp_model(images, Ks, targets)
            total = losses["total"]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total.float()).backward()
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, clip if clip > 0 else float("inf"))
            if torch.isfinite(grad_norm):  # identical on every rank (gradients are all-reduced)
                scaler.step(optimizer)
            else:
                nonfinite_steps += 1
                log.warning("step %d: non-finite gradient norm, update skipped", global_step)
            scaler.update()
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            global_step += 1
            step_in_epoch += 1
            values = {k: float(v.detach().float().item()) for k, v in losses.items() if v.numel() == 1}
            last_losses = values
            acc.add(values, images.shape[0], nskip)
            skipped_total += nskip
            acc.time = time.time() - t_epoch
            interval["images"] += images.shape[0]
            interval["n"] += 1
            for k, v in values.items():
                interval["sums"][k] = interval["sums"].get(k, 0.0) + v
            if step_log is not None:
                step_log.write(
                    json.dumps(
                        {"step": global_step, "epoch": epoch, "lr": lr, "grad_norm": float(grad_norm), "loss": values,
                         "skipped": nskip, "wall": time.time()}
                    ) + "\n"
                )
                step_log.flush()
            bar.update(1)
            if global_step % log_every == 0 or global_step == total_steps:
                gathered = all_gather_objects(info, {"sums": interval["sums"], "n": interval["n"], "images": interval["images"]})
                dt = max(1e-9, time.time() - interval["t"])
                n = sum(g_["n"] for g_ in gathered)
                means = {k: sum(g_["sums"].get(k, 0.0) for g_ in gathered) / max(1, n) for k in interval["sums"]}
                ips = sum(g_["images"] for g_ in gathered) / dt
                if writer is not None:
                    for k, v in means.items():
                        writer.add_scalar(f"loss/{k}", v, global_step)
                    writer.add_scalar("lr", lr, global_step)
                    writer.add_scalar("throughput/images_per_s", ips, global_step)
                    writer.add_scalar("grad_norm", float(grad_norm), global_step)
                bar.set_postfix(loss=f"{means.get('total', float('nan')):.4f}", lr=f"{lr:.2e}", ips=f"{ips:.1f}")
                interval = {"t": time.time(), "images": 0, "sums": {}, "n": 0}
            epoch_done = step_in_epoch >= steps_per_epoch
            stop = global_step >= total_steps
            due = ckpt_every > 0 and global_step % ckpt_every == 0
            if ckpt_minutes > 0:
                due = broadcast_flag(info, due or (time.time() - last_ckpt_time) >= 60.0 * ckpt_minutes)
            if due and not epoch_done and not stop:  # epoch ends and stops checkpoint below
                checkpoint(acc)
                last_ckpt_time = time.time()
            if epoch_done or stop:
                break

        # end of epoch (or of a max_steps run inside it)
        ep = _Acc.combine(all_gather_objects(info, acc.state()))
        epoch_done = step_in_epoch >= steps_per_epoch
        record = {
            "epoch": epoch + 1,
            "complete": epoch_done,
            "global_step": global_step,
            "loss": ep["loss"],
            "lr": optimizer.param_groups[0]["lr"],
            "images_per_s": ep["images"] / max(1e-9, ep["time"]),
            "skipped": ep["skipped"],
            "time_s": ep["time"],
        }
        if epoch_done:
            history.append(record)  # only complete epochs are checkpointed history
        else:
            partial_record = record
        skipped_all = sum(all_gather_objects(info, skipped_total))
        remaining = (total_steps - global_step) * ep["time"] / max(1, ep["steps"])
        terms = " ".join(f"{k} {v:.4f}" for k, v in sorted(ep["loss"].items()) if _headline_term(k))
        log.info(
            "stage %d epoch %d/%d%s | step %d/%d | loss %.4f (%s) | lr %.3g | %.1f img/s | skipped %d (run %d) | %s | ETA %s",
            stage, epoch + 1, epochs, "" if epoch_done else " (partial)", global_step, total_steps,
            ep["loss"].get("total", float("nan")), terms, record["lr"], record["images_per_s"], ep["skipped"], skipped_all,
            _fmt_time(ep["time"]), _fmt_time(remaining),
        )
        if writer is not None:
            writer.add_scalar("data/skipped_samples_epoch", ep["skipped"], global_step)
            writer.add_scalar("data/skipped_samples_total", skipped_all, global_step)
            writer.add_scalar("throughput/epoch_images_per_s", record["images_per_s"], global_step)
            for k, v in ep["loss"].items():
                writer.add_scalar(f"epoch_loss/{k}", v, epoch + 1)
            writer.flush()
        if epoch_done:
            epoch, step_in_epoch = epoch + 1, 0
            checkpoint(_Acc())
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
    skipped_all = sum(all_gather_objects(info, skipped_total))
    summary: dict[str, Any] = {}
    if info.is_main:
        final_path = stage_dir / "final.safetensors"
        atomic_save_safetensors(model.state_dict(), final_path, metadata={"stage": str(stage), "step": str(global_step)})
        if stage == 0 and det is not None:
            # the trained detector alone: usable as model.detector.weights of a model config
            atomic_save_safetensors(det[1].state_dict(), stage_dir / "detector.safetensors", metadata={"format": "handos-detector"})
        export_path = None
        if export or stage == 2:
            export_path = export_weights(
                model, model_cfg, out_root, str(cfg.get("export", {}).get("name", "handos_tiny")),
                {"stage": stage, "global_step": global_step, "train_config": cfg},
                include_detector=detector_is_trainable(model),
            )
            log.info("exported deployable weights to %s", export_path)
        wall = time.time() - t_start
        complete_epochs = [h for h in history if h["complete"]]
        summary = {
            "stage": stage,
            "finished": global_step >= total_steps,
            "global_step": global_step,
            "total_steps": total_steps,
            "epochs": epochs,
            "epochs_completed": epoch,
            "steps_per_epoch": steps_per_epoch,
            "global_batch": batch,
            "world_size": world,
            "device": str(info.device),
            "autocast": str(autocast_dtype).replace("torch.", "") if autocast_dtype else None,
            "backend": info.backend,
            "threads_per_process": n_threads,
            "image_size": image_size,
            "params": n_total,
            "trainable_params": n_trainable,
            "final_losses": last_losses,
            "history": history,
            "partial_epoch": partial_record,
            "skipped_samples": skipped_all,
            "nonfinite_steps": nonfinite_steps,
            "wall_time_s": elapsed_before + wall,
            "this_run_wall_time_s": wall,
            "mean_images_per_s": (sum(h["images_per_s"] * h["time_s"] for h in history) / max(1e-9, sum(h["time_s"] for h in history))),
            "last_epoch_images_per_s": complete_epochs[-1]["images_per_s"] if complete_epochs else None,
            "resumed_from": resumed_from,
            "init": init_info,
            "replicas_identical": replicas,
            "checkpoint_dir": str(ckpt_dir),
            "final_weights": str(final_path),
            "export": str(export_path) if export_path else None,
        }
        atomic_write_bytes(stage_dir / "train_summary.json", json.dumps(summary, indent=2, default=str).encode())
        root_summary_path = out_root / "train_summary.json"
        root = json.loads(root_summary_path.read_text()) if root_summary_path.exists() else {"stages": {}}
        root["stages"][str(stage)] = summary
        atomic_write_bytes(root_summary_path, json.dumps(root, indent=2, default=str).encode())
        log.info(
            "stage %d done: %d steps, final loss %.4f, skipped %d corrupt samples, %s wall; summary %s",
            stage, global_step, last_losses.get("total", float("nan")), skipped_all,
            _fmt_time(elapsed_before + wall), stage_dir / "train_summary.json",
        )
    if step_log is not None:
        step_log.close()
    if writer is not None:
        writer.close()
    barrier(info)
    summary["_model"] = model  # for in-process callers (tests); stripped before JSON
    return summary


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="handos-train", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="training YAML (e.g. handos_model/configs/train_tiny_synth.yaml)")
    p.add_argument("--stage", type=int, choices=STAGES, default=None, help="train one stage (default: all that apply)")
    p.add_argument("--out", default=None, help="output directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint of each stage")
    p.add_argument("--export", action="store_true", help="also export deployable weights at the end of this stage")
    p.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. --set optim.lr=1e-4 train.epochs=2")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base_cfg = load_train_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    info = setup_distributed(str(base_cfg["train"].get("device", "auto")))
    if info.device.type == "cuda" and base_cfg["train"].get("deterministic", True):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    _TeeLog.to_file(None, info.is_main)
    try:
        if args.stage is not None:
            stages = [args.stage]
        else:
            stages = [1, 2]
            probe_cfg = stage_config(base_cfg, 0, args.overrides)
            if _has_tiny_detector(probe_cfg):
                stages = [0, 1, 2]
        for s in stages:
            cfg = stage_config(base_cfg, s, args.overrides)
            summary = train_stage(cfg, s, out, info, resume=args.resume, export=args.export)
            summary.pop("_model", None)
            if not summary.get("finished", True) and info.is_main and s != stages[-1]:
                log.info("stage %d stopped early (max_steps); not starting the next stage", s)
                break
    finally:
        cleanup_distributed(info)
    return 0


def _has_tiny_detector(cfg: dict[str, Any]) -> bool:
    """Whether the configured model's detector is the trainable tiny one (stage 0 applies)."""
    if cfg.get("train_detector") is not None:
        return bool(cfg["train_detector"])
    det = _model_section(load_model_config(cfg)).get("detector") or {}
    return str(det.get("type", "rtdetr_tiny")) == "rtdetr_tiny"


if __name__ == "__main__":
    raise SystemExit(main())



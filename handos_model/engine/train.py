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
    DIR/<export.name>.safetensors + .json   deployable weights (end of stage 2, or --export)

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
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ..models.build import model_section  # noqa: E402
from .config import STAGES, load_model_config, load_train_config, stage_config  # noqa: E402
from .distributed import cleanup_distributed, setup_distributed  # noqa: E402
from .train_log import TeeLog, log  # noqa: E402
from .train_loop import train_stage  # noqa: E402

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
    TeeLog.to_file(None, info.is_main)
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
    det = model_section(load_model_config(cfg)).get("detector") or {}
    return str(det.get("type", "rtdetr_tiny")) == "rtdetr_tiny"


if __name__ == "__main__":
    raise SystemExit(main())



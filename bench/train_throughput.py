"""Training throughput (images/s) of ``handos-train`` on this machine, 1 vs N processes under torchrun.

Each configuration runs the real CLI (``torchrun --standalone --nproc_per_node N -m
handos_model.engine.train``) for ``warmup + steps`` optimiser steps of one stage, then reads the
per-step wall-clock stamps of ``step_losses.jsonl``; images/s = global batch x timed steps /
time of the timed steps (data loading, forward, backward, all-reduce and the optimiser step
included; start-up, model building and the first ``warmup`` steps excluded).

    python bench/train_throughput.py [--config train_tiny_synth.yaml] [--stage 1] [--procs 1 2]
        [--workers 0 2] [--steps 4] [--warmup 2] [--set data.train.length=64 ...] [--json out.json]

Prints a markdown table and a JSON object. Numbers go to the README, never into tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def torchrun() -> list[str]:
    """``torchrun`` next to this interpreter (venv), else ``python -m torch.distributed.run``."""
    exe = Path(sys.executable).with_name("torchrun")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "torch.distributed.run"]


def run_one(config: str, stage: int, procs: int, workers: int, steps: int, warmup: int, overrides: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="handos-bench-") as tmp:
        out = Path(tmp) / "run"
        cmd = [
            *torchrun(), "--standalone", "--nproc_per_node", str(procs), "-m", "handos_model.engine.train",
            "--config", config, "--stage", str(stage), "--out", str(out), "--set",
            f"train.max_steps={warmup + steps}", "train.ckpt_every_steps=0", "train.progress=false", "train.log_every=1000",
            f"data.workers={workers}", "stage1.detector_from=none", "stage2.init_from=none", "stage2.detector_from=none",
            *overrides,
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        t0 = time.time()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
        total = time.time() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        summary = json.loads((out / f"stage{stage}" / "train_summary.json").read_text())
        rows = [json.loads(x) for x in (out / f"stage{stage}" / "step_losses.jsonl").read_text().splitlines() if x.strip()]
    walls = [r["wall"] for r in rows]
    timed = walls[warmup:]
    dt = timed[-1] - walls[warmup - 1] if warmup > 0 else timed[-1] - timed[0]
    n_steps = len(timed) if warmup > 0 else len(timed) - 1
    batch = int(summary["global_batch"])
    return {
        "stage": stage,
        "processes": procs,
        "workers_per_process": workers,
        "threads_per_process": summary["threads_per_process"],
        "global_batch": batch,
        "image_size": summary["image_size"],
        "timed_steps": n_steps,
        "s_per_step": dt / max(1, n_steps),
        "images_per_s": batch * n_steps / max(1e-9, dt),
        "process_wall_s": total,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="train_tiny_synth.yaml")
    p.add_argument("--stage", type=int, default=1, choices=(0, 1, 2))
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--workers", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=4, help="timed steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    p.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    results = []
    for procs in args.procs:
        for workers in args.workers:
            r = run_one(args.config, args.stage, procs, workers, args.steps, args.warmup, args.overrides)
            results.append(r)
            print(f"procs={procs} workers={workers}: {r['images_per_s']:.2f} img/s ({r['s_per_step']:.2f} s/step)", file=sys.stderr)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\n### Training throughput, stage {args.stage}, `{args.config}` ({cores} CPU cores)\n")
    if load is not None:
        print(f"Load average after the runs: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min).\n")
    print("| processes | workers/process | threads/process | global batch | image px | s/step | images/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['processes']} | {r['workers_per_process']} | {r['threads_per_process']} | {r['global_batch']} | "
            f"{r['image_size']} | {r['s_per_step']:.2f} | {r['images_per_s']:.2f} |"
        )
    report = {
        "config": args.config, "stage": args.stage, "cores": cores, "loadavg_after": list(load) if load else None,
        "overrides": args.overrides, "results": results,
    }
    print("\n```json\n" + json.dumps(report, indent=2) + "\n```")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

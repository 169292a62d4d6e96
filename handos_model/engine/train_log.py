"""Logging of a training stage: console + train.log, TensorBoard, the step log, epoch accumulators."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import IO, Any

from ..safetensors_io import atomic_write_bytes
from .distributed import DistInfo, all_gather_objects

log = logging.getLogger("handos.train")


class TeeLog:
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


def headline_term(name: str) -> bool:
    """Loss terms shown on the epoch line (all of them go to TensorBoard)."""
    return name != "total" and not name.startswith("num_") and "_aux_" not in name and "_dn_" not in name


def fmt_count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k"


def fmt_time(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class EpochAccumulator:
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


def open_sinks(
    stage_dir: Path, tcfg: dict[str, Any], global_step: int, resumed: bool
) -> tuple[Any, IO[str] | None]:
    """Rank 0's TensorBoard writer (None without tensorboard) and ``step_losses.jsonl`` (None when
    ``train.step_log`` is off). On resume the step log keeps its lines up to ``global_step``."""
    writer = None
    step_log = None
    try:
        from torch.utils.tensorboard import SummaryWriter  # the optional [train] extra

        writer = SummaryWriter(str(stage_dir / "tb"), purge_step=global_step if resumed else None)
    except ImportError:
        log.warning("tensorboard not installed: no TensorBoard scalars")
    if tcfg.get("step_log", True):
        step_log_path = stage_dir / "step_losses.jsonl"
        kept = []
        if resumed and step_log_path.exists():
            kept = [ln for ln in step_log_path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= global_step]
        elif step_log_path.exists():
            step_log_path.unlink()
        if kept:
            atomic_write_bytes(step_log_path, ("\n".join(kept) + "\n").encode())
        step_log = open(step_log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    return writer, step_log


class IntervalLog:
    """Loss means and throughput over the last ``log_every`` steps of all ranks: TensorBoard + progress bar."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.t = time.time()
        self.images = 0
        self.n = 0
        self.sums: dict[str, float] = {}

    def add(self, values: dict[str, float], images: int) -> None:
        self.images += images
        self.n += 1
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v

    def flush(self, info: DistInfo, writer: Any, bar: Any, global_step: int, lr: float, grad_norm: float) -> None:
        gathered = all_gather_objects(info, {"sums": self.sums, "n": self.n, "images": self.images})
        dt = max(1e-9, time.time() - self.t)
        n = sum(g_["n"] for g_ in gathered)
        means = {k: sum(g_["sums"].get(k, 0.0) for g_ in gathered) / max(1, n) for k in self.sums}
        ips = sum(g_["images"] for g_ in gathered) / dt
        if writer is not None:
            for k, v in means.items():
                writer.add_scalar(f"loss/{k}", v, global_step)
            writer.add_scalar("lr", lr, global_step)
            writer.add_scalar("throughput/images_per_s", ips, global_step)
            writer.add_scalar("grad_norm", grad_norm, global_step)
        bar.set_postfix(loss=f"{means.get('total', float('nan')):.4f}", lr=f"{lr:.2e}", ips=f"{ips:.1f}")
        self.reset()


def log_epoch(
    writer: Any, stage: int, epoch: int, epochs: int, epoch_done: bool, global_step: int, total_steps: int,
    ep: dict[str, Any], record: dict[str, Any], skipped_all: int,
) -> None:
    """The epoch line (log) and the epoch scalars (TensorBoard); ``ep``: ``EpochAccumulator.combine``."""
    remaining = (total_steps - global_step) * ep["time"] / max(1, ep["steps"])
    terms = " ".join(f"{k} {v:.4f}" for k, v in sorted(ep["loss"].items()) if headline_term(k))
    log.info(
        "stage %d epoch %d/%d%s | step %d/%d | loss %.4f (%s) | lr %.3g | %.1f img/s | skipped %d (run %d) | %s | ETA %s",
        stage, epoch + 1, epochs, "" if epoch_done else " (partial)", global_step, total_steps,
        ep["loss"].get("total", float("nan")), terms, record["lr"], record["images_per_s"], ep["skipped"], skipped_all,
        fmt_time(ep["time"]), fmt_time(remaining),
    )
    if writer is not None:
        writer.add_scalar("data/skipped_samples_epoch", ep["skipped"], global_step)
        writer.add_scalar("data/skipped_samples_total", skipped_all, global_step)
        writer.add_scalar("throughput/epoch_images_per_s", record["images_per_s"], global_step)
        for k, v in ep["loss"].items():
            writer.add_scalar(f"epoch_loss/{k}", v, epoch + 1)
        writer.flush()

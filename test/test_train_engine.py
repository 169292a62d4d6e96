"""Training engine: DDP replicas, SIGKILL + bit-exact resume, atomic checkpoints, corrupt samples, lr schedule.

Every test drives the real engine (``handos_model.engine``) and the real HandOS model at toy
size (``train_fixtures.build_tiny_handos``: tiny RT-DETR detector + decoder + criterion,
64 px input), on CPU.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import yaml
from safetensors.torch import load_file
from train_fixtures import (
    FileSamples,
    RandomSamples,
    build_tiny_handos,
    ddp_worker,
    free_port,
    tiny_model_config,
    write_file_samples,
)

from handos_model.data.augment import AugmentConfig
from handos_model.data.schema import CorruptSampleError
from handos_model.engine.checkpointing import CheckpointManager, pack_rng_state, restore_rng_state
from handos_model.engine.config import DEFAULTS, apply_overrides, load_model_config, load_train_config, stage_config
from handos_model.engine.data import ResumableDistributedSampler, TrainDataset
from handos_model.engine.schedule import build_scheduler, cosine_from_epoch_factor
from handos_model.engine.stage_setup import seed_everything
from handos_model.engine.train import main
from handos_model.safetensors_io import TMP_PREFIX, atomic_write, read_safetensors

REPO = Path(__file__).resolve().parents[1]
TEST_DIR = Path(__file__).resolve().parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TEST_DIR), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _write_cfg(tmp_path: Path, name: str = "cfg.yaml", **sections: dict) -> Path:
    """A training YAML for the toy HandOS on random samples (overridable per section)."""
    cfg = {
        "model": {"config": tiny_model_config(), "builder": "train_fixtures:build_tiny_handos"},
        "data": {"train": {"type": "python", "factory": "train_fixtures:RandomSamples", "length": 32, "seed": 0}, "workers": 0},
        "augment": {"enabled": True, "flip_prob": 0.5, "scale_crop_prob": 0.5},
        "train": {
            "epochs": 3, "batch_size": 4, "log_every": 2, "ckpt_every_steps": 1, "keep_checkpoints": 2,
            "progress": False, "num_threads": 1, "seed": 3,
        },
        "sched": {"cosine_start_epoch": 1},
        "stage1": {"detector_from": "none"},
    }
    for k, v in sections.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train_cmd(cfg: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "handos_model.engine.train", "--config", str(cfg), "--out", str(out), "--stage", "1", *extra]


def _step_losses(stage_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (stage_dir / "step_losses.jsonl").read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- (a) DDP


def test_two_process_ddp_keeps_replicas_identical(tmp_path: Path) -> None:
    """Two gloo processes, different data shards: after training the replicas are bit-identical."""
    # time-based checkpoints (rank 0 decides, broadcast) at every step: collectives inside the loop
    cfg = _write_cfg(tmp_path, train={"epochs": 1, "max_steps": 3, "ckpt_every_steps": 0, "ckpt_every_minutes": 1e-6})
    res = tmp_path / "res"
    res.mkdir()
    # fork: the children start with torch/transformers already imported (spawn re-imports them, ~10 s)
    mp.start_processes(
        ddp_worker, args=(2, free_port(), str(cfg), 1, str(tmp_path / "out"), str(res)), nprocs=2, join=True, start_method="fork"
    )
    r0, r1 = load_file(res / "rank0_final.safetensors"), load_file(res / "rank1_final.safetensors")
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"replicas differ at {k}"
    summary = json.loads((tmp_path / "out" / "stage1" / "train_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["global_step"] == 3 and summary["replicas_identical"] is True
    assert summary["backend"] == "gloo" and summary["global_batch"] == 4
    # training changed the trainable weights (the test would be vacuous otherwise) but not the frozen detector
    assert CheckpointManager(tmp_path / "out" / "stage1" / "checkpoints").steps() == [2, 3]  # keep_checkpoints: 2
    init = read_safetensors(tmp_path / "out" / "stage1" / "checkpoints" / "ckpt_000000003.safetensors")
    assert all(torch.equal(init[k], r0[k]) for k in init)  # the checkpoint is rank 0's model
    seed_everything(3)  # the engine seeds this before building the model on every rank
    fresh = build_tiny_handos(load_model_config(stage_config(load_train_config(cfg), 1))).state_dict()
    changed = [k for k in r0 if not k.startswith("detector.") and not torch.equal(fresh[k], r0[k])]
    assert all(torch.equal(fresh[k], r0[k]) for k in r0 if k.startswith("detector."))  # frozen
    assert changed, "no parameter was updated"


def test_two_process_ddp_stage0_batchnorm_statistics_end_identical(tmp_path: Path) -> None:
    """Stage 0 trains the detector, whose backbone BatchNorm running statistics each rank updates
    from its own shard after DDP's per-forward broadcast: the engine syncs them from rank 0 at the
    end, so the replicas (parameters and buffers) are identical and equal to what rank 0 saves."""
    cfg = _write_cfg(tmp_path, train={"epochs": 1, "max_steps": 2, "ckpt_every_steps": 0})
    res = tmp_path / "res"
    res.mkdir()
    mp.start_processes(
        ddp_worker, args=(2, free_port(), str(cfg), 0, str(tmp_path / "out"), str(res)), nprocs=2, join=True, start_method="fork"
    )
    r0, r1 = load_file(res / "rank0_final.safetensors"), load_file(res / "rank1_final.safetensors")
    bn = [k for k in r0 if k.startswith("detector.") and k.endswith("running_mean")]
    assert bn, "the toy detector has no BatchNorm: this test would be vacuous"
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"replicas differ at {k}"
    seed_everything(3)
    fresh = build_tiny_handos(load_model_config(stage_config(load_train_config(cfg), 0))).state_dict()
    assert any(not torch.equal(fresh[k], r0[k]) for k in bn), "BatchNorm statistics were not updated"
    summary = json.loads((tmp_path / "out" / "stage0" / "train_summary.json").read_text())
    assert summary["replicas_identical"] is True
    saved = read_safetensors(tmp_path / "out" / "stage0" / "final.safetensors")
    assert all(torch.equal(saved[k], r0[k]) for k in bn)


def _ddp(cfg: Path, out: Path, res: Path, overrides: list[str], resume: bool = False) -> None:
    res.mkdir(exist_ok=True)
    mp.start_processes(
        ddp_worker, args=(2, free_port(), str(cfg), 1, str(out), str(res), overrides, resume),
        nprocs=2, join=True, start_method="fork",
    )


@pytest.mark.slow
def test_two_process_resume_is_bit_exact(tmp_path: Path) -> None:
    """DDP: stop after 5 steps (mid-epoch), resume to 10: identical to 10 steps in one go (every rank's RNG restored)."""
    cfg = _write_cfg(tmp_path, train={"epochs": 2, "ckpt_every_steps": 2}, model={"overrides": {}})
    _ddp(cfg, tmp_path / "ref", tmp_path / "res_ref", ["train.max_steps=10"])
    _ddp(cfg, tmp_path / "run", tmp_path / "res_run", ["train.max_steps=5"])
    _ddp(cfg, tmp_path / "run", tmp_path / "res_run", ["train.max_steps=10"], resume=True)
    ref, run = _step_losses(tmp_path / "ref" / "stage1"), _step_losses(tmp_path / "run" / "stage1")
    assert [r["step"] for r in run] == list(range(1, 11))
    assert [r["loss"] for r in ref] == [r["loss"] for r in run]
    for rank in (0, 1):
        a = load_file(tmp_path / "res_ref" / f"rank{rank}_final.safetensors")
        b = load_file(tmp_path / "res_run" / f"rank{rank}_final.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- (b) SIGKILL + resume


class _CheckpointWatcher(threading.Thread):
    """Repeatedly loads every final-named file of a checkpoint dir while a writer runs."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.stop = threading.Event()
        self.loaded = 0
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.directory.is_dir():
                time.sleep(0.005)
                continue
            for p in list(self.directory.iterdir()):
                if p.name.startswith(TMP_PREFIX):
                    continue
                try:
                    if p.suffix == ".safetensors":
                        read_safetensors(p)
                    elif p.name.endswith(".state.pt"):
                        torch.load(p, map_location="cpu", weights_only=True)
                    elif p.name == "latest.json":
                        json.loads(p.read_text())
                    else:
                        self.errors.append(f"unexpected file {p.name}")
                        continue
                    self.loaded += 1
                except FileNotFoundError:
                    pass  # pruned between listing and reading
                except Exception as e:  # noqa: BLE001 - any other failure is a half-written file
                    if not p.exists():
                        continue  # pruned between listing and reading (read_safetensors: CheckpointError)
                    self.errors.append(f"{p.name}: {type(e).__name__}: {e}")
            time.sleep(0.002)  # leave the CPU to the writer


def _quiet_main(argv: list[str]) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    main(argv)


class _ForkedTrain(mp.get_context("fork").Process):  # type: ignore[misc]
    """``handos-train argv`` in a forked child (no interpreter start-up / import cost)."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(target=_quiet_main, args=(argv,), daemon=True)
        self.start()


def _wait_for_checkpoint(ckpt_dir: Path, proc: _ForkedTrain, min_step: int, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.is_alive(), "training ended before it could be killed"
        if ckpt_dir.is_dir():
            step = CheckpointManager.__new__(CheckpointManager)
            step.directory = ckpt_dir
            steps = step.steps()
            if steps and steps[-1] >= min_step:
                return steps[-1]
        time.sleep(0.005)
    raise TimeoutError("no checkpoint appeared")


@pytest.mark.parametrize(
    "kill_steps", [pytest.param((5,), id="one-kill"), pytest.param((5, 13), id="two-kills", marks=pytest.mark.slow)]
)
def test_sigkill_then_resume_is_bit_exact(tmp_path: Path, kill_steps: tuple[int, ...]) -> None:
    """kill -9 mid-epoch, resume (with DataLoader workers): same per-step losses and weights as an uninterrupted run."""
    cfg = _write_cfg(tmp_path, train={"epochs": 4})  # 8 steps/epoch, 32 steps, checkpoint every step
    ref = tmp_path / "ref"
    threads = torch.get_num_threads()
    try:
        # same code, in this process, never checkpointing: checkpoints must not perturb the run either
        assert main(["--config", str(cfg), "--out", str(ref), "--stage", "1", "--set", "train.ckpt_every_steps=0"]) == 0
    finally:
        torch.set_num_threads(threads)
    ref_losses = _step_losses(ref / "stage1")
    assert [r["step"] for r in ref_losses] == list(range(1, 33))

    run = tmp_path / "run"
    ckpt_dir = run / "stage1" / "checkpoints"
    watcher = _CheckpointWatcher(ckpt_dir)
    watcher.start()
    killed_at = []
    try:
        for i, min_step in enumerate(kill_steps):  # mid-epoch 0, then mid-epoch 1 of a resumed run
            # a forked child running the CLI entry point (the final resume below goes through a fresh interpreter)
            proc = _ForkedTrain(["--config", str(cfg), "--out", str(run), "--stage", "1", *(["--resume"] if i else [])])
            try:
                _wait_for_checkpoint(ckpt_dir, proc, min_step)
                time.sleep(0.03 * i)  # kill at a different phase of the step/checkpoint cycle
                os.kill(proc.pid, signal.SIGKILL)
            finally:
                proc.join(timeout=60)
            assert proc.exitcode == -signal.SIGKILL
            assert not (run / "stage1" / "final.safetensors").exists(), "the run finished before the kill"
            # after the kill: the latest checkpoint always loads
            mgr = CheckpointManager(ckpt_dir)
            latest = mgr.latest_step()
            assert latest is not None and latest >= min_step
            loaded = mgr.load()
            assert loaded is not None and int(loaded[1]["global_step"]) == latest
            killed_at.append(latest)
        # resume to the end in a fresh interpreter, with a DataLoader worker: data order must not depend on it
        done = subprocess.run(
            _train_cmd(cfg, run, "--resume", "--set", "data.workers=1", "train.ckpt_every_steps=3"),
            env=_env(), capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    finally:
        watcher.stop.set()
        watcher.join(timeout=10)
    assert not watcher.errors, watcher.errors[:5]
    assert watcher.loaded > 0
    assert not any(p.name.startswith(TMP_PREFIX) for p in ckpt_dir.iterdir())

    losses = _step_losses(run / "stage1")
    assert [r["step"] for r in losses] == list(range(1, 33))
    for a, b in zip(ref_losses, losses, strict=True):
        assert a["loss"] == b["loss"], f"step {a['step']}: {a['loss']} != {b['loss']}"
        assert a["lr"] == b["lr"] and a["grad_norm"] == b["grad_norm"]
    w_ref = load_file(ref / "stage1" / "final.safetensors")
    w_run = load_file(run / "stage1" / "final.safetensors")
    assert all(torch.equal(w_ref[k], w_run[k]) for k in w_ref)
    summary = json.loads((run / "stage1" / "train_summary.json").read_text())
    assert summary["finished"] and summary["resumed_from"]["step"] >= killed_at[-1]
    ref_summary = json.loads((ref / "stage1" / "train_summary.json").read_text())
    assert [h["loss"] for h in summary["history"]] == [h["loss"] for h in ref_summary["history"]]


def test_fresh_run_refuses_to_overwrite_checkpoints(tmp_path: Path) -> None:
    cfg = _write_cfg(tmp_path, train={"epochs": 1, "max_steps": 2})
    out = tmp_path / "out"
    assert main(["--config", str(cfg), "--out", str(out), "--stage", "1"]) == 0
    with pytest.raises(FileExistsError):
        main(["--config", str(cfg), "--out", str(out), "--stage", "1"])
    # --resume with max_steps already reached is a no-op that still succeeds
    assert main(["--config", str(cfg), "--out", str(out), "--stage", "1", "--resume"]) == 0


# ----------------------------------------------------------------------------- checkpoint files


def test_atomic_write_never_exposes_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")

    def failing(f) -> None:  # noqa: ANN001
        f.write(b"new-but-incomplete")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, failing)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_checkpoint_manager_prunes_and_falls_back(tmp_path: Path) -> None:
    mgr = CheckpointManager(tmp_path, keep=2)
    for step in (1, 2, 3):
        mgr.save(step, {"w": torch.full((3,), float(step))}, {"global_step": step, "rng": pack_rng_state()})
    assert mgr.steps() == [2, 3]
    assert json.loads((tmp_path / "latest.json").read_text())["step"] == 3
    mgr.state_path(3).write_bytes(b"garbage")  # e.g. a disk error after the fact
    model, state = mgr.load()
    assert state["global_step"] == 2 and torch.equal(model["w"], torch.full((3,), 2.0))
    (tmp_path / f"{TMP_PREFIX}leftover").write_bytes(b"x")
    assert mgr.cleanup_temporaries() == 1


def test_rng_state_roundtrip() -> None:
    import random

    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's legacy state
    packed = pack_rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1))
    restore_rng_state(packed.clone())
    b = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
    assert packed.dtype == torch.int64


# ----------------------------------------------------------------------------- (c) corrupt samples


def test_corrupt_samples_are_skipped_counted_and_reported(tmp_path: Path) -> None:
    root = write_file_samples(tmp_path / "data", 16)
    png = root / "00003.png"
    png.write_bytes(png.read_bytes()[:60])  # truncated image
    (root / "00007.json").write_text('{"K": [[1, 0')  # truncated annotation
    ds = TrainDataset(FileSamples(str(root)), image_size=64, num_vertices=16, augment=AugmentConfig(), seed=0)
    img3, _, skipped3 = ds[(1, 3)]
    img4, _, skipped4 = ds[(1, 4)]
    assert skipped3 == 1 and skipped4 == 0 and torch.equal(img3, img4)  # deterministic: the next valid sample

    cfg = _write_cfg(
        tmp_path,
        data={"train": {"type": "python", "factory": "train_fixtures:FileSamples", "root": str(root)}},
        train={"epochs": 2, "ckpt_every_steps": 0},
    )
    out = tmp_path / "out"
    assert main(["--config", str(cfg), "--out", str(out), "--stage", "1"]) == 0
    summary = json.loads((out / "stage1" / "train_summary.json").read_text())
    assert summary["finished"] and summary["global_step"] == 8
    assert summary["skipped_samples"] == 4  # two corrupt samples, read once per epoch
    assert [h["skipped"] for h in summary["history"]] == [2, 2]
    log = (out / "stage1" / "train.log").read_text()
    assert "skipped 2 (run 2)" in log and "skipped 2 (run 4)" in log and "skipped 4 corrupt samples" in log
    # TensorBoard scalars: every loss term, lr, throughput, skip counters
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(out / "stage1" / "tb"))
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    assert {"loss/total", "loss/j2d", "loss/oks_2d", "lr", "throughput/images_per_s", "grad_norm"} <= tags
    assert [e.value for e in ea.Scalars("data/skipped_samples_total")] == [2, 4]


def test_too_many_corrupt_samples_stop_training() -> None:
    class Broken(RandomSamples):
        def __getitem__(self, index: int):
            raise CorruptSampleError(f"broken {index}")

    ds = TrainDataset(Broken(8), image_size=64, num_vertices=16, augment=None, seed=0, max_consecutive_skips=3)
    with pytest.raises(RuntimeError, match="consecutive corrupt"):
        ds[(0, 0)]


def test_sampler_resumes_mid_epoch() -> None:
    full = ResumableDistributedSampler(20, num_replicas=2, rank=1, seed=5)
    full.set_epoch(3)
    keys = list(full)
    part = ResumableDistributedSampler(20, num_replicas=2, rank=1, seed=5)
    part.set_epoch(3)
    part.set_start(4)
    assert list(part) == keys[4:] and len(part) == len(keys) - 4
    assert all(e == 3 for e, _ in keys)
    other = ResumableDistributedSampler(20, num_replicas=2, rank=0, seed=5)
    other.set_epoch(3)
    assert not {i for _, i in keys} & {i for _, i in other}  # disjoint shards
    # data.samples_per_epoch: epoch e covers the window [e*N, (e+1)*N) of a long dataset
    for epoch in (0, 1, 7):
        seen = []
        for rank in (0, 1):
            w = ResumableDistributedSampler(1000, num_replicas=2, rank=rank, seed=5, epoch_size=6)
            w.set_epoch(epoch)
            seen += [i for _, i in w]
        assert sorted(seen) == list(range(epoch * 6, epoch * 6 + 6))


# ----------------------------------------------------------------------------- (d) schedule + config


def test_cosine_from_epoch_25_of_40() -> None:
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = build_scheduler(opt, {"cosine_start_epoch": 25, "min_lr_ratio": 0.0}, steps_per_epoch=10, total_epochs=40)
    lrs = []
    for _ in range(400):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert all(lr == pytest.approx(1e-3, rel=0, abs=1e-15) for lr in lrs[:251])  # constant through epoch 25
    assert lrs[325] == pytest.approx(0.5e-3, rel=1e-9)  # epoch 32.5: half way down the cosine
    assert lrs[300] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 5 / 15)), rel=1e-9)
    assert lrs[399] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 14.9 / 15)), rel=1e-9)
    assert all(a >= b for a, b in zip(lrs[250:], lrs[251:], strict=False))
    # per-epoch variant and the floor
    assert cosine_from_epoch_factor(40, 40, 25, min_ratio=0.01) == pytest.approx(0.01)
    assert cosine_from_epoch_factor(24.999, 40, 25) == 1.0


def test_defaults_are_the_paper_recipe_and_overrides_win(tmp_path: Path) -> None:
    assert DEFAULTS["optim"]["name"] == "adam" and DEFAULTS["optim"]["lr"] == 1e-3
    assert DEFAULTS["train"]["batch_size"] == 16 and DEFAULTS["train"]["epochs"] == 40
    assert DEFAULTS["sched"]["cosine_start_epoch"] == 25
    cfg = load_train_config(_write_cfg(tmp_path), ["optim.lr=1e-4", "train.epochs=2", "stage1.train.batch_size=8"])
    s1 = stage_config(cfg, 1, ["optim.lr=1e-4", "train.epochs=2"])
    assert s1["optim"]["lr"] == 1e-4 and s1["train"]["epochs"] == 2 and s1["train"]["batch_size"] == 8
    assert s1["model"]["overrides"]["model"]["decoder"]["lifting"] is False  # stage 1 = the 2D model
    assert stage_config(cfg, 2)["train"]["batch_size"] == 4
    assert apply_overrides({}, ["a.b=[1, 2]"]) == {"a": {"b": [1, 2]}}


def test_shipped_tiny_synth_config_loads() -> None:
    cfg = load_train_config("train_tiny_synth.yaml")
    for stage in (0, 1, 2):
        s = stage_config(cfg, stage)
        assert s["train"]["batch_size"] % 2 == 0  # splits over 1 or 2 processes
        assert s["data"]["train"]["type"] == "synthetic_on_the_fly"
    # stage 0 sees big hands too (half the scenes easy); the config's stages 1-2 keep the cluttered mix
    # (scripts/finetune_default.sh sets its own easy fraction)
    assert [stage_config(cfg, i)["data"]["train"].get("easy_fraction", 0.0) for i in (0, 1, 2)] == [0.5, 0.0, 0.0]


def test_stage_loss_overrides_reach_the_criterion() -> None:
    """The shipped recipe's stage-2 section raises the mesh-regularity weights and turns loss_side on;
    the criterion the engine builds for stage 2 uses them, stage 1 keeps the paper's."""
    from handos_model.engine.config import load_model_config
    from handos_model.engine.stage_setup import build_model_and_criterion

    cfg = load_train_config("train_tiny_synth.yaml")
    weights, matches = {}, {}
    for stage in (1, 2):
        s = stage_config(cfg, stage)
        model, criterion = build_model_and_criterion(s, load_model_config(s), stage)
        weights[stage] = criterion.weights
        matches[stage] = model.max_matches_per_gt
    assert matches == {1: 2, 2: 1}  # stage 2: one SimOTA query per hand (CPU budget)
    assert (weights[1]["edge"], weights[1]["nc"]) == (10, 0.5)
    assert (weights[2]["edge"], weights[2]["nc"]) == (100, 5)
    assert (weights[1]["side"], weights[2]["side"]) == (0, 2)  # loss_side: stage 2 of the CPU recipe only
    assert {k: v for k, v in weights[2].items() if k not in ("edge", "nc", "side")} == {
        k: v for k, v in weights[1].items() if k not in ("edge", "nc", "side")
    }


# ----------------------------------------------------------------------------- stages 0 -> 1 -> 2 -> export


def test_three_stages_chain_and_export(tmp_path: Path) -> None:
    """Without --stage: stage 0 (detector), stage 1 (2D model, frozen stage-0 detector), stage 2 (full,
    from stage 1), then the deployable export that ``checkpoint.load_model`` reads back."""
    from handos_model.checkpoint import load_model

    cfg = _write_cfg(
        tmp_path,
        train={"epochs": 1, "max_steps": 3, "ckpt_every_steps": 0},
        stage1={"detector_from": "auto"},
        export={"name": "handos_test"},
    )
    out = tmp_path / "out"
    assert main(["--config", str(cfg), "--out", str(out)]) == 0
    root = json.loads((out / "train_summary.json").read_text())
    assert sorted(root["stages"]) == ["0", "1", "2"]
    s0, s1, s2 = (load_file(out / f"stage{i}" / "final.safetensors") for i in range(3))
    det0 = load_file(out / "stage0" / "detector.safetensors")
    seed_everything(3)
    fresh = build_tiny_handos(load_model_config(stage_config(load_train_config(cfg), 0))).state_dict()
    det_keys = [k for k in s0 if k.startswith("detector.")]
    assert any(not torch.equal(s0[k], fresh[k]) for k in det_keys)  # stage 0 trained the detector ...
    assert all(torch.equal(s0[k], fresh[k]) for k in s0 if not k.startswith("detector."))  # ... and only it
    assert all(torch.equal(det0[k[len("detector.") :]], s0[k]) for k in det_keys)
    assert all(torch.equal(s1[k], s0[k]) and torch.equal(s2[k], s0[k]) for k in det_keys)  # frozen afterwards
    # stage 1 is the 2D model (no lifting); stage 2 adds the 3D parts and starts from stage 1
    assert not any("query_lifting" in k for k in s1) and any("query_lifting" in k for k in s2)
    assert root["stages"]["2"]["init"]["init_from"]["loaded"] > len(det_keys)
    assert root["stages"]["1"]["trainable_params"] < root["stages"]["1"]["params"]
    # export
    assert root["stages"]["2"]["export"] == str(out / "handos_test.safetensors")
    model = load_model(out / "handos_test.safetensors")
    assert all(torch.equal(v, s2[k]) for k, v in model.state_dict().items())
    # the shipped JSON records the training config but no machine path (the loader's _source_dir)
    exported = (out / "handos_test.json").read_text()
    assert '"train_config"' in exported and "_source_dir" not in exported and str(tmp_path) not in exported


def test_detector_from_reads_full_and_detector_only_files() -> None:
    """``detector_from`` takes stage 0's final.safetensors (``detector.*``) or its detector.safetensors."""
    from torch import nn

    from handos_model.engine.stage_weights import detector_state, load_matching

    class Wrap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.detector, self.head = nn.Linear(2, 3), nn.Linear(3, 1)

    src, dst = Wrap(), Wrap()
    full, only = src.state_dict(), src.detector.state_dict()
    for state in (full, only):
        stats = load_matching(dst, detector_state(state, "detector."), prefix="detector.", what="test")
        assert stats == {"loaded": 2, "missing": 0, "unexpected": 0, "shape_mismatch": 0}
        assert torch.equal(dst.detector.weight, src.detector.weight) and not torch.equal(dst.head.weight, src.head.weight)


def test_load_matching_excludes_prefixes() -> None:
    """stage 2's ``init_exclude``: tensors under the listed prefixes keep their fresh values."""
    from torch import nn

    from handos_model.engine.stage_weights import load_matching

    src = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    dst = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    stats = load_matching(dst, src.state_dict(), what="test", exclude=("1.",))
    assert stats == {"loaded": 2, "missing": 2, "unexpected": 0, "shape_mismatch": 0, "excluded": 2}
    assert torch.equal(dst[0].weight, src[0].weight) and torch.equal(dst[1].weight, fresh["1.weight"])
    assert stage_config(load_train_config("train_tiny_synth.yaml"), 2)["init_exclude"] == []

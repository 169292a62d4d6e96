"""Data plumbing of a training stage: the dataset, the resumable sampler, the step counts, the batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..data.augment import AugmentConfig
from .data import ResumableDistributedSampler, TrainDataset, build_base_dataset, seed_worker, train_collate
from .distributed import DistInfo
from .stage_setup import loader_seed


@dataclass
class StageData:
    """Everything the training loop reads its batches from.

    Attributes:
        dataset: the augmented, network-ready training set.
        sampler: positions of one epoch for this rank (resumable at any step).
        per_rank: images per step on this rank (``train.batch_size`` / processes).
        steps_per_epoch, total_steps: of this stage (``train.max_steps`` caps the latter).
    """

    cfg: dict[str, Any]
    info: DistInfo
    seed: int
    dataset: TrainDataset
    sampler: ResumableDistributedSampler
    per_rank: int
    steps_per_epoch: int
    total_steps: int

    def batches(self, epoch: int, start: int) -> Iterator[tuple[torch.Tensor, list[dict[str, torch.Tensor]], int]]:
        """``(images (B, 3, S, S), targets, skipped samples)`` of ``epoch`` from step ``start`` on."""
        self.sampler.set_epoch(epoch)
        self.sampler.set_start(start * self.per_rank)
        data_cfg = self.cfg["data"]
        workers = int(data_cfg.get("workers", 0))
        g = torch.Generator()
        g.manual_seed(loader_seed(self.seed, epoch, self.info.rank, start))
        loader = DataLoader(
            self.dataset, batch_size=self.per_rank, sampler=self.sampler, num_workers=workers, collate_fn=train_collate,
            drop_last=True, generator=g, worker_init_fn=seed_worker if workers else None,
            pin_memory=self.info.device.type == "cuda",
            prefetch_factor=int(data_cfg.get("prefetch_factor", 2)) if workers else None,
        )
        yield from loader


def build_stage_data(cfg: dict[str, Any], info: DistInfo, image_size: int, num_vertices: int, seed: int) -> StageData:
    """The stage's :class:`StageData` from the ``data``, ``augment`` and ``train`` sections."""
    tcfg = cfg["train"]
    world = info.world_size
    batch = int(tcfg["batch_size"])
    if batch % world:
        raise ValueError(f"train.batch_size={batch} (global) must be divisible by the {world} processes")
    per_rank = batch // world
    dataset = TrainDataset(
        build_base_dataset(cfg),
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
    total_steps = steps_per_epoch * int(tcfg["epochs"])
    if int(tcfg.get("max_steps") or 0) > 0:
        total_steps = min(total_steps, int(tcfg["max_steps"]))
    return StageData(cfg, info, seed, dataset, sampler, per_rank, steps_per_epoch, total_steps)

"""Training data pipeline: dataset factory, corrupt-sample skipping, deterministic order.

Determinism: which samples a step sees and how they are augmented is a pure function of
``(seed, epoch, position in the epoch)``:

* ``ResumableDistributedSampler`` is ``torch.utils.data.DistributedSampler`` (order from
  ``seed + epoch``, sharded over ranks) that can start mid-epoch and yields
  ``(epoch, index)`` keys;
* ``TrainDataset`` seeds the augmentation of sample ``index`` in ``epoch`` with
  ``numpy.random.default_rng([seed, epoch, index])`` — not with the worker's RNG — so the
  batches do not depend on the number of DataLoader workers, and a resumed run sees exactly
  the batches the uninterrupted run would have seen.

Corrupt samples: ``schema.CorruptSampleError`` and decode errors (``OSError``, ``EOFError``,
``cv2.error``, unpickling/JSON errors) or a sample that fails ``validate_sample`` make
``TrainDataset`` move on to ``index + 1, index + 2, ...`` (deterministic) and report how many
reads it skipped with the item; the trainer sums the counts per epoch and over the run.
"""

from __future__ import annotations

import importlib
import json
import logging
import pickle
import random
from collections.abc import Iterator, Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from ..data.augment import AugmentConfig, augment_sample
from ..data.schema import NUM_JOINTS, CorruptSampleError, Sample
from ..data.transforms import collate as base_collate
from ..data.transforms import sample_to_network

log = logging.getLogger("handos.train")

CORRUPT_ERRORS: tuple[type[BaseException], ...] = (
    CorruptSampleError,
    OSError,
    EOFError,
    cv2.error,
    pickle.UnpicklingError,
    json.JSONDecodeError,
    UnicodeDecodeError,
)


def import_object(spec: str) -> Any:
    """``"package.module:attr"`` -> the attribute."""
    module, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"expected 'module:attribute', got {spec!r}")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def validate_sample(sample: Any) -> Sample:
    """Raise ``CorruptSampleError`` unless ``sample`` is a well-formed ``schema.Sample``."""
    if not isinstance(sample, Sample):
        raise CorruptSampleError(f"dataset returned {type(sample).__name__}, not a Sample")
    img = sample.image
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or img.size == 0:
        raise CorruptSampleError(f"{sample.key}: image must be (H, W, 3) uint8")
    K = np.asarray(sample.K)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CorruptSampleError(f"{sample.key}: bad intrinsics")
    for h in sample.hands:
        box = np.asarray(h.box)
        if box.shape != (4,) or not np.isfinite(box).all():
            raise CorruptSampleError(f"{sample.key}: bad box")
        for name, shape in (("joints_2d", (NUM_JOINTS, 2)), ("visibility", (NUM_JOINTS,)), ("joints_3d", (NUM_JOINTS, 3)), ("cam_t", (3,))):
            a = getattr(h, name)
            if a is not None and (np.asarray(a).shape != shape or not np.isfinite(a).all()):
                raise CorruptSampleError(f"{sample.key}: bad {name}")
        if h.vertices is not None and (np.asarray(h.vertices).ndim != 2 or not np.isfinite(h.vertices).all()):
            raise CorruptSampleError(f"{sample.key}: bad vertices")
    return sample


class TrainDataset(Dataset):
    """``base[i] -> Sample`` to ``(image (3,S,S) float, target dict, skipped: int)``.

    Keys are ``(epoch, index)`` tuples (from ``ResumableDistributedSampler``) or plain ints
    (epoch 0).
    """

    def __init__(
        self,
        base: Sequence[Sample],
        image_size: int,
        num_vertices: int,
        augment: AugmentConfig | None,
        seed: int,
        max_consecutive_skips: int = 64,
    ) -> None:
        self.base = base
        self.image_size = int(image_size)
        self.num_vertices = int(num_vertices)
        self.augment = augment
        self.seed = int(seed)
        self.max_consecutive_skips = int(max_consecutive_skips)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int] | int) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        n = len(self.base)
        for attempt in range(self.max_consecutive_skips + 1):
            j = (int(index) + attempt) % n
            try:
                sample = validate_sample(self.base[j])
            except CORRUPT_ERRORS as e:
                log.warning("skipping corrupt sample %d: %s", j, e)
                continue
            if self.augment is not None and self.augment.enabled:
                sample = augment_sample(sample, np.random.default_rng([self.seed, int(epoch), j]), self.augment)
            image, target = sample_to_network(sample, self.image_size, self.num_vertices)
            return image, target, attempt
        raise RuntimeError(
            f"{self.max_consecutive_skips + 1} consecutive corrupt samples from index {index}: is the dataset broken?"
        )


def train_collate(
    batch: list[tuple[torch.Tensor, dict[str, torch.Tensor], int]],
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]], int]:
    """``transforms.collate`` plus the number of corrupt reads skipped for this batch."""
    images, targets = base_collate([(b[0], b[1]) for b in batch])
    return images, targets, int(sum(b[2] for b in batch))


class ResumableDistributedSampler(DistributedSampler):
    """``DistributedSampler`` that yields ``(epoch, index)`` and can start at a position.

    ``set_epoch(e)`` then ``set_start(k)`` skips the first ``k`` indices of this rank's share
    of epoch ``e`` (``k = steps_done_in_epoch * per_rank_batch``).

    ``epoch_size`` (``data.samples_per_epoch``) < ``length``: epoch ``e`` covers the window
    ``[e * epoch_size, (e + 1) * epoch_size)`` of the dataset (modulo its length), shuffled, so
    an on-the-fly dataset of length "a lot" shows new samples every (short) epoch.
    """

    def __init__(
        self, length: int, num_replicas: int, rank: int, seed: int, shuffle: bool = True, epoch_size: int | None = None
    ) -> None:
        self.length = int(length)
        self.epoch_size = int(epoch_size) if epoch_size and 0 < int(epoch_size) < self.length else self.length
        super().__init__(range(self.epoch_size), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        self.start = 0

    def set_start(self, start: int) -> None:
        self.start = int(start)

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        offset = (self.epoch * self.epoch_size) % self.length if self.epoch_size < self.length else 0
        indices = list(super().__iter__())[self.start :]
        return iter([(self.epoch, (offset + int(i)) % self.length) for i in indices])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: numpy / random / torch seeded from the loader's seeded generator."""
    s = torch.initial_seed() % 2**32  # = loader base seed (from its generator) + worker_id
    np.random.seed(s)
    random.seed(s)


def build_base_dataset(cfg: dict[str, Any]) -> Sequence[Sample]:
    """The raw Sample dataset named by ``cfg['data']['train']``.

    ``type``: ``synthetic_on_the_fly`` (``SyntheticOnTheFly(**rest)``), ``python`` (``factory:
    "module:callable"`` called with the rest), or anything ``data.mixed.build_dataset`` knows
    (``synthetic`` folder, ``freihand``, ..., ``mixed`` with a ``datasets`` list); relative paths
    resolve against the training YAML's directory.
    """
    d = dict(cfg["data"]["train"])
    kind = d.get("type", "synthetic_on_the_fly")
    if kind == "synthetic_on_the_fly":
        from ..data.synthetic import SyntheticOnTheFly

        d.pop("type", None)
        return SyntheticOnTheFly(**d)
    if kind == "python":
        d.pop("type")
        factory = import_object(d.pop("factory"))
        return factory(**d)
    from ..data.mixed import build_dataset

    return build_dataset(d, base_dir=cfg.get("_source_dir"))

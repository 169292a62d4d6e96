"""Small real model + datasets with the HandOS training interfaces, for the training-engine tests.

``build_model(cfg, topology) -> StandInHandOS`` and ``build_criterion(cfg)`` mirror
``handos_model.models.build``; ``StandInHandOS.detector.detection_loss`` mirrors the tiny
detector's stage-0 loss. The model has dropout so that RNG-state checkpointing matters.
``FileSamples`` reads PNG images + JSON annotations from disk (real decode paths, so a
truncated PNG or a broken JSON raises the errors a real loader would).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from handos_model.data.schema import HandAnnotation, Sample, box_from_points

NUM_VERTICES = 8


class StandInDetector(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.box = nn.Linear(width, 4)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(images).mean(dim=(2, 3))

    def detection_loss(self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pred = self.box(self.features(images)).sigmoid()
        size = float(images.shape[-1])
        gt = torch.stack([t["boxes"][0] / size if len(t["boxes"]) else images.new_zeros(4) for t in targets])
        l1 = (pred - gt).abs().mean()
        return l1, {"loss_bbox": l1}


class StandInHandOS(nn.Module):
    """(B,3,S,S), Ks (B,3,3) -> {'joints_2d': (B,21,2) pixels, 'joints_3d': (B,21,3)}."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        w = int(cfg.get("width", 8))
        self.image_size = int(cfg.get("image_size", 32))
        self.detector = StandInDetector(w)
        self.body = nn.Sequential(nn.Conv2d(3, w, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, stride=2, padding=1), nn.ReLU())
        self.drop = nn.Dropout(p=float(cfg.get("dropout", 0.2)))
        self.head2d = nn.Linear(2 * w + 9, 42)
        self.head3d = nn.Linear(2 * w + 9, 63)

    def forward(self, images: torch.Tensor, Ks: torch.Tensor, targets: list[dict[str, torch.Tensor]] | None = None) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            det = self.detector.features(images)
        f = torch.cat([self.body(images).mean(dim=(2, 3)), det, Ks.reshape(len(Ks), 9) / self.image_size], dim=1)
        f = self.drop(f)
        return {
            "joints_2d": self.head2d(f).view(-1, 21, 2).sigmoid() * self.image_size,
            "joints_3d": self.head3d(f).view(-1, 21, 3) * 0.05,
        }


class StandInCriterion(nn.Module):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.w3d = float(cfg.get("loss_weight_3d", 1.0))

    def forward(self, outputs: dict[str, torch.Tensor], targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        size = float(targets[0]["image_size"][0])
        l2d, l3d = [], []
        for i, t in enumerate(targets):
            if len(t["joints_2d"]) and bool(t["has_2d"][0]):
                l2d.append(((outputs["joints_2d"][i] - t["joints_2d"][0]).abs().sum(-1) * t["visibility"][0]).mean() / size)
            if len(t["joints_3d"]) and bool(t["has_3d"][0]):
                l3d.append((outputs["joints_3d"][i] - t["joints_3d"][0]).abs().mean())
        zero = outputs["joints_2d"].sum() * 0.0
        j2d = torch.stack(l2d).mean() if l2d else zero
        j3d = torch.stack(l3d).mean() if l3d else zero
        return {"loss_j2d": j2d, "loss_j3d": j3d, "total": j2d + self.w3d * j3d}


def build_model(cfg: dict[str, Any], topology: Any = None) -> StandInHandOS:
    return StandInHandOS(cfg)


def build_criterion(cfg: dict[str, Any]) -> StandInCriterion:
    return StandInCriterion(cfg)


# ----------------------------------------------------------------------------- data


def random_sample(seed: int, index: int, height: int = 40, width: int = 48) -> Sample:
    """One image with one hand; a pure function of (seed, index)."""
    rng = np.random.default_rng([seed, index])
    K = np.array([[60.0, 0.0, width / 2.0], [0.0, 60.0, height / 2.0], [0.0, 0.0, 1.0]], np.float32)
    image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    cam_t = np.array([rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(0.4, 0.6)], np.float32)
    j3d = rng.normal(0.0, 0.03, size=(21, 3)).astype(np.float32)
    j3d[0] = 0.0
    p = (j3d + cam_t) @ K.T
    j2d = (p[:, :2] / p[:, 2:]).astype(np.float32)
    vis = np.ones(21, np.float32)
    verts = rng.normal(0.0, 0.03, size=(NUM_VERTICES, 3)).astype(np.float32)
    hand = HandAnnotation(box=box_from_points(j2d, vis), joints_2d=j2d, visibility=vis, joints_3d=j3d, vertices=verts, cam_t=cam_t, side=int(rng.integers(0, 2)))
    # paint the hand region so that the task is learnable
    x0, y0, x1, y1 = (int(v) for v in np.clip(hand.box, 0, [width - 1, height - 1, width - 1, height - 1]))
    image[y0 : y1 + 1, x0 : x1 + 1] = 220
    return Sample(image=image, K=K, hands=[hand], source="standin", key=f"{seed}/{index}")


class RandomSamples:
    """``length`` random Samples, a pure function of (seed, index)."""

    def __init__(self, length: int = 64, seed: int = 0) -> None:
        self.length = int(length)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        return random_sample(self.seed, int(index))


def write_file_samples(root: str | Path, length: int, seed: int = 0) -> Path:
    """Write ``length`` samples as ``{i:05d}.png`` + ``{i:05d}.json`` under ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(length):
        s = random_sample(seed, i)
        Image.fromarray(s.image).save(root / f"{i:05d}.png")
        h = s.hands[0]
        ann = {
            "K": s.K.tolist(), "box": h.box.tolist(), "joints_2d": h.joints_2d.tolist(), "visibility": h.visibility.tolist(),
            "joints_3d": h.joints_3d.tolist(), "vertices": h.vertices.tolist(), "cam_t": h.cam_t.tolist(), "side": h.side,
        }
        (root / f"{i:05d}.json").write_text(json.dumps(ann))
    return root


class FileSamples:
    """Reads what ``write_file_samples`` wrote, with plain PIL / json (their own exceptions on corruption)."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.keys = sorted(p.stem for p in self.root.glob("*.png"))

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> Sample:
        key = self.keys[index]
        with Image.open(self.root / f"{key}.png") as im:
            im.load()
            image = np.asarray(im.convert("RGB"), np.uint8)
        ann = json.loads((self.root / f"{key}.json").read_text())
        hand = HandAnnotation(
            box=np.array(ann["box"], np.float32), joints_2d=np.array(ann["joints_2d"], np.float32),
            visibility=np.array(ann["visibility"], np.float32), joints_3d=np.array(ann["joints_3d"], np.float32),
            vertices=np.array(ann["vertices"], np.float32), cam_t=np.array(ann["cam_t"], np.float32), side=int(ann["side"]),
        )
        return Sample(image=image, K=np.array(ann["K"], np.float32), hands=[hand], source="files", key=key)

"""Fixtures of the training-engine tests: the real HandOS at toy size, and small datasets.

``build_tiny_handos`` is the real ``models.build.build_model`` (tiny RT-DETR detector, side
tuning, decoder, criterion) on a 16-vertex topology and a 64 px input, so a training step
takes tens of milliseconds on CPU. ``RandomSamples`` are pure functions of (seed, index);
``FileSamples`` reads PNG + JSON from disk with plain PIL / json, so a truncated PNG or a
broken JSON raises the errors a real loader would.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from handos_model import CONFIGS_DIR
from handos_model.data.schema import HandAnnotation, Sample, box_from_points
from handos_model.hand.topology import FINGERTIPS, HandTopology
from handos_model.models.build import build_model, load_config

NUM_VERTICES = 16


def small_topology(num_vertices: int = NUM_VERTICES, seed: int = 0) -> HandTopology:
    """A valid but tiny HandTopology (ring of triangles, random regressor/skinning) so that tests stay fast."""
    rng = np.random.default_rng(seed)
    template = rng.normal(0.0, 0.03, (num_vertices, 3)).astype(np.float32)
    faces = np.array([[i, (i + 1) % num_vertices, (i + 2) % num_vertices] for i in range(num_vertices)], np.int64)
    regressor = rng.random((21, num_vertices)).astype(np.float32)
    regressor /= regressor.sum(1, keepdims=True)
    skinning = rng.random((num_vertices, 21)).astype(np.float32)
    skinning[:, list(FINGERTIPS)] = 0.0
    skinning /= skinning.sum(1, keepdims=True)
    return HandTopology("tiny_test", template, faces, regressor, skinning)


def tiny_model_config(input_size: int = 64) -> dict[str, Any]:
    """handos_tiny.yaml shrunk to a few hundred k parameters (same layout, same code paths)."""
    cfg = load_config(CONFIGS_DIR / "handos_tiny.yaml")
    m = cfg["model"]
    m["input_size"] = input_size
    m["detector"].update(
        d_model=32, num_queries=10, decoder_layers=1, num_heads=2, ffn_dim=64, num_points=2,
        backbone_embedding_size=8, backbone_hidden_sizes=[8, 16, 16, 32], num_denoising=4,
    )
    m["side_tuning"]["channels"] = 16
    m["decoder"].update(num_heads=2, num_points=2, ffn_dim=64, num_2d_layers=1, num_interactive_layers=1)
    return cfg


def build_tiny_handos(cfg: dict[str, Any]) -> Any:
    """The real ``models.build.build_model`` on the small test topology."""
    return build_model(cfg, small_topology())


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


# ----------------------------------------------------------------------------- DDP worker


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ddp_worker(
    rank: int, world: int, port: int, cfg_path: str, stage: int, out_dir: str, result_dir: str,
    overrides: list[str] | None = None, resume: bool = False,
) -> None:
    """``torch.multiprocessing.spawn`` target: one rank of a gloo job through the real engine.

    Saves the rank's final parameters and buffers to ``result_dir/rank{r}_final.safetensors``.
    """
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )
    from safetensors.torch import save_file

    from handos_model.engine.config import load_train_config, stage_config
    from handos_model.engine.distributed import cleanup_distributed, setup_distributed
    from handos_model.engine.train import train_stage

    info = setup_distributed("cpu")
    try:
        cfg = stage_config(load_train_config(cfg_path, overrides), stage, overrides)
        summary = train_stage(cfg, stage, out_dir, info, resume=resume)
        model = summary["_model"]
        save_file({k: v.contiguous().clone() for k, v in model.state_dict().items()}, f"{result_dir}/rank{rank}_final.safetensors")
    finally:
        cleanup_distributed(info)

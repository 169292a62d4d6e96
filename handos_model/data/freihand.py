"""FreiHAND v2 loader (Zimmermann et al. 2019; https://github.com/lmb-freiburg/freihand).

On-disk layout (``root`` = the unpacked ``FreiHAND_pub_v2`` folder; the evaluation
annotations of ``FreiHAND_pub_v2_eval`` are placed beside it)::

    root/training/rgb/%08d.jpg      130240 images = 4 versions x 32560 unique samples
    root/training_K.json            [32560][3][3] intrinsics
    root/training_xyz.json          [32560][21][3] joints, metres, camera frame
    root/training_verts.json        [32560][778][3] MANO vertices, metres, camera frame
    root/training_mano.json         MANO pose/shape (not needed: the schema holds geometry)
    root/evaluation/rgb/%08d.jpg    3960 images
    root/evaluation_{K,xyz,verts}.json

Image ``i`` of the training set shows unique sample ``i % 32560`` in version
``i // 32560`` (gs = green screen, hom, sample, auto; see ``fh_utils.sample_version``);
all versions share one annotation. The joint order is already MANO/FreiHAND's. Only
right hands. Images are 224 x 224.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .loader_utils import hand_from_camera_joints, read_rgb
from .schema import RIGHT, Sample

VERSIONS = ("gs", "hom", "sample", "auto")
SPLITS = ("training", "evaluation")


def _load_array(path: Path, shape_tail: tuple[int, ...], cache_dir: Path | None) -> np.ndarray:
    """JSON list -> float32 array; with ``cache_dir`` keep a memory-mapped ``.npy`` copy."""
    if cache_dir is not None:
        cached = cache_dir / (path.stem + ".npy")
        if cached.exists() and cached.stat().st_mtime >= path.stat().st_mtime:
            return np.load(cached, mmap_mode="r")
    with open(path, encoding="utf-8") as f:
        arr = np.asarray(json.load(f), dtype=np.float32)
    if arr.shape[1:] != shape_tail:
        raise ValueError(f"{path}: expected entries of shape {shape_tail}, got {arr.shape[1:]}")
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(cache_dir / (path.stem + ".npy"), arr)
    return arr


class FreiHANDDataset:
    """FreiHAND as ``schema.Sample``s (one right hand per image, full 3D + mesh).

    Args:
        root: folder holding ``training/``, ``evaluation/`` and the ``*_K.json`` files.
        split: ``"training"`` or ``"evaluation"`` (``"train"``/``"eval"``/``"test"`` accepted).
        versions: training-image versions to include (default all four); ignored for
            the evaluation split, which has one version.
        load_vertices: read ``{split}_verts.json`` (large: ~300 MB as float32 for training).
        cache_dir: optional folder for ``.npy`` copies of the JSON arrays (memory-mapped
            on later runs).
    """

    source = "freihand"
    intrinsics_known = True

    def __init__(
        self,
        root: str | Path,
        split: str = "training",
        versions: tuple[str, ...] = VERSIONS,
        load_vertices: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.root = Path(root)
        split = {"train": "training", "eval": "evaluation", "test": "evaluation", "val": "evaluation"}.get(split, split)
        if split not in SPLITS:
            raise ValueError(f"FreiHAND split must be one of {SPLITS}, got {split!r}")
        self.split = split
        cache = Path(cache_dir) if cache_dir is not None else None
        self.K = _load_array(self.root / f"{split}_K.json", (3, 3), cache)
        self.xyz = _load_array(self.root / f"{split}_xyz.json", (21, 3), cache)
        if len(self.K) != len(self.xyz):
            raise ValueError(f"FreiHAND {split}: {len(self.K)} intrinsics but {len(self.xyz)} joint sets")
        verts_path = self.root / f"{split}_verts.json"
        self.verts = _load_array(verts_path, (778, 3), cache) if load_vertices and verts_path.exists() else None
        if self.verts is not None and len(self.verts) != len(self.xyz):
            raise ValueError(f"FreiHAND {split}: {len(self.verts)} vertex sets but {len(self.xyz)} joint sets")
        self.num_unique = len(self.xyz)
        if split == "evaluation":
            self.version_ids = [0]
        else:
            unknown = set(versions) - set(VERSIONS)
            if unknown:
                raise ValueError(f"unknown FreiHAND versions {sorted(unknown)}; valid: {VERSIONS}")
            self.version_ids = [VERSIONS.index(v) for v in versions]

    def __len__(self) -> int:
        return self.num_unique * len(self.version_ids)

    def image_path(self, index: int) -> Path:
        """Path of image ``index`` (file id = unique id + 32560 x version id)."""
        version = self.version_ids[index // self.num_unique]
        file_id = index % self.num_unique + self.num_unique * version
        return self.root / self.split / "rgb" / f"{file_id:08d}.jpg"

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < len(self):
            raise IndexError(index)
        path = self.image_path(index)
        image = read_rgb(path)
        uid = index % self.num_unique
        K = np.asarray(self.K[uid], dtype=np.float32)
        verts = None if self.verts is None else np.asarray(self.verts[uid])
        hand = hand_from_camera_joints(np.asarray(self.xyz[uid]), K, image.shape[0], image.shape[1], RIGHT, verts)
        return Sample(image=image, K=K, hands=[hand], source=self.source, key=f"{self.split}/{path.name}")

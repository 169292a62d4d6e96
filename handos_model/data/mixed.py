"""Build a dataset (or a mix of datasets) from a YAML-style config.

One dataset::

    {type: freihand, root: /data/FreiHAND_pub_v2, split: training}

Several (concatenated in order; the paper's HInt model trains on FreiHAND + HInt +
COCO-WholeBody + OneHand10K)::

    datasets:
      - {type: freihand, root: ..., split: training}
      - {type: hint, root: ..., split: train}
      - {type: coco_wholebody, root: ..., split: train}
      - {type: onehand10k, root: ..., split: train}

Every key other than ``type`` is passed to the loader's constructor (see each
loader for its options, e.g. ``hint``'s ``joints: visible``). A top-level list is
accepted as well. Relative ``root``/path values are resolved against ``base_dir``
(the config file's folder when read with ``load_dataset_config``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml
from torch.utils.data import ConcatDataset

# type -> (module, class). Imported lazily so a missing optional module (the synthetic
# engine) only matters when that type is requested.
DATASET_TYPES: dict[str, tuple[str, str]] = {
    "freihand": ("handos_model.data.freihand", "FreiHANDDataset"),
    "ho3d": ("handos_model.data.ho3d", "HO3DDataset"),
    "dexycb": ("handos_model.data.dexycb", "DexYCBDataset"),
    "hint": ("handos_model.data.hint", "HIntDataset"),
    "hint_npz": ("handos_model.data.hint", "HIntNpzDataset"),
    "coco_wholebody": ("handos_model.data.coco_wholebody", "COCOWholeBodyDataset"),
    "onehand10k": ("handos_model.data.onehand10k", "OneHand10KDataset"),
    "synthetic": ("handos_model.data.synthetic", "SyntheticDataset"),
}
PATH_KEYS = ("root", "npz_path", "img_dir", "annotation_file", "cache_dir")


def _resolve(value: Any, base_dir: Path | None) -> Any:
    if base_dir is None or value is None:
        return value
    p = Path(str(value)).expanduser()
    return str(p if p.is_absolute() else base_dir / p)


def build_dataset(cfg: dict[str, Any] | list[Any], base_dir: str | Path | None = None) -> Any:
    """Instantiate the dataset(s) described by ``cfg``.

    Returns:
        A loader (``__len__``, ``__getitem__ -> schema.Sample``) or a
        ``torch.utils.data.ConcatDataset`` of several.
    """
    base = Path(base_dir) if base_dir is not None else None
    if isinstance(cfg, list | tuple):
        parts = [build_dataset(c, base) for c in cfg]
        return parts[0] if len(parts) == 1 else ConcatDataset(parts)
    if not isinstance(cfg, dict):
        raise TypeError(f"dataset config must be a dict or a list, got {type(cfg).__name__}")
    cfg = dict(cfg)
    if "datasets" in cfg and cfg.get("type", "mixed") == "mixed":
        return build_dataset(list(cfg["datasets"]), base)
    kind = cfg.pop("type", None)
    if kind not in DATASET_TYPES:
        raise ValueError(f"unknown dataset type {kind!r}; known: {sorted(DATASET_TYPES)}")
    for key in PATH_KEYS:
        if key in cfg:
            cfg[key] = _resolve(cfg[key], base)
    module_name, class_name = DATASET_TYPES[kind]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise ImportError(f"dataset type {kind!r} needs {module_name}.{class_name}, which is not available: {e}") from e
    return cls(**cfg)


def load_dataset_config(path: str | Path) -> Any:
    """Read a dataset YAML file and build it (relative paths are relative to the file)."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if isinstance(cfg, dict) and "data" in cfg and "type" not in cfg and "datasets" not in cfg:
        cfg = cfg["data"]  # allow a {data: {...}} wrapper
    return build_dataset(cfg, base_dir=path.parent)

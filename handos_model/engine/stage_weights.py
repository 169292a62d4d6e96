"""Weights in and out of a training stage: initialisation from earlier stages, final files, export."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import save_model
from ..detector_weights import detector_tensors, save_detector
from ..safetensors_io import read_safetensors, save_safetensors
from .stage_setup import detector_is_trainable, find_detector

log = logging.getLogger("handos.train")


def load_matching(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    prefix: str = "",
    what: str = "",
    exclude: tuple[str, ...] = (),
) -> dict[str, int]:
    """Copy tensors of ``state`` whose name (under ``prefix``, not under any ``exclude`` prefix)
    and shape match; report counts (excluded tensors count as "excluded", and stay as built)."""
    own = model.state_dict()
    matched, shape_mismatch, unexpected, excluded = {}, 0, 0, 0
    for k, v in state.items():
        if prefix and not k.startswith(prefix):
            continue
        if exclude and k.startswith(exclude):
            excluded += 1
            continue
        if k not in own:
            unexpected += 1
        elif own[k].shape != v.shape:
            shape_mismatch += 1
        else:
            matched[k] = v
    model.load_state_dict(matched, strict=False)
    missing = sum(1 for k in own if (not prefix or k.startswith(prefix)) and k not in matched)
    stats = {"loaded": len(matched), "missing": missing, "unexpected": unexpected, "shape_mismatch": shape_mismatch}
    if exclude:
        stats["excluded"] = excluded
    log.info("init %s: %s", what, stats)
    if not matched:
        raise RuntimeError(f"init {what}: no tensor matched")
    return stats


def detector_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``detector_from`` accepts a full HandOS file (``stage0/final.safetensors``, detector tensors
    under ``prefix``) or a detector-only one (``stage0/detector.safetensors``, no prefix): the
    detector's tensors, named as in the model (under ``prefix``)."""
    return {prefix + k: v for k, v in detector_tensors(state, prefix).items()}


def init_from_earlier_stages(model: nn.Module, cfg: dict[str, Any], out_root: Path, stage: int) -> dict[str, Any]:
    """Stage 2 starts from the stage-1 model (``init_from``), stages 1-2 take the stage-0
    detector (``detector_from``); returns what was loaded (for the summary)."""
    init_info: dict[str, Any] = {}
    det = find_detector(model)
    if stage == 2:
        src = cfg.get("init_from", "auto")
        if src not in (None, "none"):
            path = out_root / "stage1" / "final.safetensors" if src == "auto" else Path(src)
            if not path.is_file():
                raise FileNotFoundError(f"stage 2 starts from the stage-1 model, {path} is missing (train stage 1 or set init_from=none)")
            what = "from stage 1" if src == "auto" else f"from {path}"
            exclude = tuple(str(p) for p in (cfg.get("init_exclude") or ()))
            init_info["init_from"] = {
                "path": str(path),
                **load_matching(model, read_safetensors(path), what=what, exclude=exclude),
            }
    if stage in (1, 2) and det is not None and detector_is_trainable(model):
        src = cfg.get("detector_from", "auto")
        if src not in (None, "none"):
            path = out_root / "stage0" / "final.safetensors" if src == "auto" else Path(src)
            if path.is_file():
                init_info["detector_from"] = {
                    "path": str(path),
                    **load_matching(model, detector_state(read_safetensors(path), det[0] + "."), prefix=det[0] + ".",
                                    what="detector from stage 0"),
                }
            elif not (stage == 2 and "init_from" in init_info):
                raise FileNotFoundError(
                    f"the tiny detector is trained in stage 0 and frozen afterwards; {path} is missing "
                    "(train stage 0 first, or set detector_from=none)"
                )
    return init_info


def save_stage_weights(model: nn.Module, stage_dir: Path, stage: int, global_step: int) -> Path:
    """``stage_dir/final.safetensors`` and, after stage 0, the trained detector alone
    (``detector.safetensors``: usable as ``model.detector.weights`` of a model config)."""
    final_path = stage_dir / "final.safetensors"
    save_safetensors(model.state_dict(), final_path, metadata={"stage": str(stage), "step": str(global_step)})
    det = find_detector(model)
    if stage == 0 and det is not None:
        save_detector(det[1], stage_dir / "detector.safetensors")
    return final_path


def export_weights(
    model: nn.Module, model_cfg: dict[str, Any], out_dir: Path, name: str, info: dict[str, Any], include_detector: bool = True
) -> Path:
    """Deployable weights via ``handos_model.checkpoint.save_model`` -> ``out_dir/name.safetensors`` (+ .json).

    ``include_detector=False`` for a pretrained detector (Grounding DINO) reloaded from its own snapshot.
    """
    path = out_dir / f"{name}.safetensors"
    kwargs: dict[str, Any] = {}
    params = _parameters_of(save_model)
    if "extra" in params:
        kwargs["extra"] = _public(info)
    if "include_detector" in params:
        kwargs["include_detector"] = include_detector
    save_model(model, model_cfg, path, **kwargs)
    return path


def _public(obj: Any) -> Any:
    """``obj`` without the loader's private keys (``_source_dir``: a machine path) at any depth."""
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(obj, list):
        return [_public(v) for v in obj]
    return obj


def _parameters_of(fn: Any) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()

"""Crash-safe training checkpoints.

A checkpoint of step ``N`` is two files in one directory plus a pointer:

* ``ckpt_{N:09d}.safetensors`` — model weights (safetensors, no pickle);
* ``ckpt_{N:09d}.state.pt`` — everything else (optimiser, scheduler, step/epoch, sampler
  position, per-rank RNG states, counters), written with ``torch.save`` and read back with
  ``torch.load(weights_only=True)``: only tensors, numbers, strings, ``None``, lists, tuples
  and dicts — RNG states are packed into int64 tensors (``pack_rng_state``);
* ``latest.json`` — ``{"step": N, "model": ..., "state": ...}``, written last.

Every file is written atomically (``safetensors_io.atomic_write``: a hidden ``.tmp-*`` file,
fsync, ``os.replace``, directory fsync). A process killed at any instant (SIGKILL, power loss
after the fsync) therefore leaves either the previous complete checkpoint or the new complete
one; a final name never points at a half-written file. Stale ``.tmp-*`` files of a killed
writer are removed by the next ``CheckpointManager``.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..safetensors_io import TMP_PREFIX, atomic_write, atomic_write_bytes, read_safetensors, save_safetensors

_CKPT_RE = re.compile(r"^ckpt_(\d{9})\.safetensors$")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    return atomic_write(path, lambda f: torch.save(obj, f))


# ----------------------------------------------------------------------------- RNG states

_RNG_MAGIC = 0x48414E44  # "HAND"


def _f64_bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]


def _bits_f64(b: int) -> float:
    return struct.unpack("<d", struct.pack("<q", int(b)))[0]


def pack_rng_state() -> torch.Tensor:
    """This process's torch (CPU + CUDA), numpy (global) and python ``random`` states as one int64 tensor.

    Layout (all int64): magic, n_torch, torch bytes..., n_np, numpy MT keys..., np pos, np has_gauss,
    np cached_gaussian bits, py version, n_py, python MT state..., py has_gauss, py gauss bits,
    n_cuda, then per CUDA device: n, bytes....
    """
    out: list[int] = [_RNG_MAGIC]
    t = torch.get_rng_state().to(torch.int64).tolist()
    out += [len(t), *t]
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    assert name == "MT19937"
    out += [len(keys), *np.asarray(keys, np.int64).tolist(), int(pos), int(has_gauss), _f64_bits(gauss)]
    version, internal, gauss_next = random.getstate()
    out += [int(version), len(internal), *[int(v) for v in internal]]
    out += [0, 0] if gauss_next is None else [1, _f64_bits(gauss_next)]
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    out.append(len(cuda))
    for s in cuda:
        c = s.to(torch.int64).tolist()
        out += [len(c), *c]
    return torch.tensor(out, dtype=torch.int64)


def unpack_rng_state(packed: torch.Tensor) -> dict[str, Any]:
    v = [int(x) for x in packed.tolist()]
    if not v or v[0] != _RNG_MAGIC:
        raise ValueError("not a packed RNG state")
    i = 1
    n = v[i]
    torch_state = torch.tensor(v[i + 1 : i + 1 + n], dtype=torch.uint8)
    i += 1 + n
    n = v[i]
    np_keys = np.array(v[i + 1 : i + 1 + n], dtype=np.uint32)
    i += 1 + n
    np_state = ("MT19937", np_keys, v[i], v[i + 1], _bits_f64(v[i + 2]))
    i += 3
    py_version, n = v[i], v[i + 1]
    py_internal = tuple(v[i + 2 : i + 2 + n])
    i += 2 + n
    py_gauss = _bits_f64(v[i + 1]) if v[i] else None
    i += 2
    n_cuda = v[i]
    i += 1
    cuda = []
    for _ in range(n_cuda):
        n = v[i]
        cuda.append(torch.tensor(v[i + 1 : i + 1 + n], dtype=torch.uint8))
        i += 1 + n
    return {"torch": torch_state, "numpy": np_state, "python": (py_version, py_internal, py_gauss), "cuda": cuda}


def restore_rng_state(packed: torch.Tensor) -> None:
    """Inverse of ``pack_rng_state`` for this process."""
    s = unpack_rng_state(packed)
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    if s["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"][: torch.cuda.device_count()])


# ----------------------------------------------------------------------------- manager


class CheckpointManager:
    """Atomic save / find-latest / load of training checkpoints in ``directory``."""

    def __init__(self, directory: str | os.PathLike, keep: int = 3) -> None:
        self.directory = Path(directory)
        self.keep = max(1, int(keep))
        self.directory.mkdir(parents=True, exist_ok=True)

    # names
    def model_path(self, step: int) -> Path:
        return self.directory / f"ckpt_{step:09d}.safetensors"

    def state_path(self, step: int) -> Path:
        return self.directory / f"ckpt_{step:09d}.state.pt"

    @property
    def pointer_path(self) -> Path:
        return self.directory / "latest.json"

    def cleanup_temporaries(self) -> int:
        """Remove ``.tmp-*`` leftovers of a killed writer (call only when no writer runs)."""
        n = 0
        for p in self.directory.glob(TMP_PREFIX + "*"):
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
        return n

    def steps(self) -> list[int]:
        """Steps with both files present, ascending."""
        out = []
        for p in self.directory.iterdir():
            m = _CKPT_RE.match(p.name)
            if m and self.state_path(int(m.group(1))).exists():
                out.append(int(m.group(1)))
        return sorted(out)

    def save(
        self, step: int, model_state: dict[str, torch.Tensor], train_state: dict[str, Any], metadata: dict[str, str] | None = None
    ) -> Path:
        """Write checkpoint ``step`` (model, then state, then the pointer) and prune old ones."""
        save_safetensors(model_state, self.model_path(step), metadata=metadata)
        atomic_torch_save(train_state, self.state_path(step))
        pointer = {"step": int(step), "model": self.model_path(step).name, "state": self.state_path(step).name}
        atomic_write_bytes(self.pointer_path, json.dumps(pointer).encode())
        for old in self.steps()[: -self.keep]:
            if old != step:
                for p in (self.model_path(old), self.state_path(old)):
                    try:
                        p.unlink()
                    except OSError:
                        pass
        return self.model_path(step)

    def latest_step(self) -> int | None:
        """Step of the newest complete checkpoint (both files present; each was written atomically).

        ``latest.json`` is informative only: a writer killed between the state file and the
        pointer leaves a complete newer checkpoint that the pointer does not name yet.
        """
        steps = self.steps()
        return steps[-1] if steps else None

    def load(self, step: int | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """Load checkpoint ``step`` (default: the latest); None when there is none.

        When the latest one cannot be read (e.g. a disk error), older ones are tried.
        """
        candidates = sorted(self.steps(), reverse=True) if step is None else [step]
        last_err: Exception | None = None
        for s in candidates:
            try:
                model_state = read_safetensors(self.model_path(s))
                train_state = torch.load(self.state_path(s), map_location="cpu", weights_only=True)
                return model_state, train_state
            except Exception as e:  # noqa: BLE001 - fall back to an older checkpoint
                last_err = e
                if step is not None:
                    raise
        if last_err is not None:
            raise RuntimeError(f"no readable checkpoint in {self.directory}") from last_err
        return None

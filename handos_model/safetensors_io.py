"""Safetensors files on disk: atomic writing (one rule for every file the package writes) and
validated reading (pickles, ``torch.save`` zips and truncated files refused with a clear message).

Atomic: the bytes go to a hidden temporary file in the same directory (``.tmp-*``), are flushed
and ``fsync``-ed, then ``os.replace``-d onto the final name, and the directory is ``fsync``-ed;
a process killed at any instant leaves the old complete file or the new complete one.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import torch
from safetensors.torch import load_file
from safetensors.torch import save as st_save_bytes

TMP_PREFIX = ".tmp-"


class CheckpointError(RuntimeError):
    """A HandOS weights file that cannot be loaded (wrong format, truncated, or not matching its config)."""


def fsync_dir(directory: str | os.PathLike) -> None:
    """fsync a directory so that a rename inside it is durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` atomically: ``write(f)`` into a temp file in the same dir, fsync, os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def tensors_for_safetensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, unshared copies (safetensors refuses tied/shared storages)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def save_safetensors(
    state: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> Path:
    """Write tensors as a safetensors file, atomically."""
    return atomic_write_bytes(path, st_save_bytes(tensors_for_safetensors(state), metadata=metadata or {}))


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a safetensors file, refusing pickles / torch.save zips and truncated files with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    # A safetensors file starts with its JSON header's length (u64, little endian) then "{".
    # Check that structure first: the length's low byte may be anything, 0x80 included.
    looks_safetensors = len(head) == 9 and head[8:9] == b"{"
    is_pickle = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    if not looks_safetensors and (head[:2] == b"PK" or is_pickle):
        raise CheckpointError(
            f"{path}: this is a pickle / torch.save file; HandOS weights are loaded from safetensors only "
            "(never unpickled). Convert it with a trusted tool to safetensors first."
        )
    if len(head) < 9:
        raise CheckpointError(f"{path}: truncated or empty file ({size} bytes), not a safetensors file")
    (header_len,) = struct.unpack("<Q", head[:8])
    if head[8:9] != b"{" or header_len + 8 > size:
        raise CheckpointError(
            f"{path}: not a valid safetensors file (header of {header_len} bytes in a {size}-byte file): "
            "truncated or corrupted"
        )
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"{path}: unreadable safetensors file (truncated or corrupted?): {e}") from e


def describe(names: list[str], limit: int = 8) -> str:
    """The first ``limit`` names, comma-separated, and how many there are in all."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def state_mismatch(
    state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], optional: tuple[str, ...] = ()
) -> tuple[list[str], list[str], list[str]]:
    """How a file's tensors differ from a module's state dict: (missing from the file, not in the
    module, shape mismatches described). Names under an ``optional`` prefix may be missing."""
    missing = [k for k in own if k not in state and not k.startswith(optional)]
    unexpected = [k for k in state if k not in own]
    shape = [
        f"{k} {tuple(state[k].shape)} in file vs {tuple(own[k].shape)} in model"
        for k in state
        if k in own and state[k].shape != own[k].shape
    ]
    return missing, unexpected, shape

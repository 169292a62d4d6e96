"""Process-group setup for ``torchrun`` (gloo on CPU, NCCL on CUDA) and small collective helpers.

Gradients are synchronised by ``torch.nn.parallel.DistributedDataParallel``; the helpers
here only move logging statistics, RNG states and agreement flags.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 and dist.is_available() and dist.is_initialized()


def setup_distributed(device: str = "auto", timeout_s: float = 600.0) -> DistInfo:
    """Initialise from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR/PORT``).

    Single process when ``WORLD_SIZE`` is unset or 1.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank % max(1, torch.cuda.device_count()))
        dev = torch.device("cuda", torch.cuda.current_device())
    else:
        dev = torch.device("cpu")
    backend = None
    if world > 1:
        backend = "nccl" if use_cuda else "gloo"
        if not dist.is_initialized():
            kwargs: dict[str, Any] = {"backend": backend, "timeout": datetime.timedelta(seconds=timeout_s)}
            if use_cuda:
                kwargs["device_id"] = dev
            dist.init_process_group(**kwargs)
    return DistInfo(rank, world, local_rank, local_world, dev, backend)


def cleanup_distributed(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_gather_objects(info: DistInfo, obj: Any) -> list[Any]:
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_flag(info: DistInfo, flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank."""
    if not info.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64, device=info.device if info.backend == "nccl" else "cpu")
    dist.broadcast(t, src=0)
    return bool(t.item())


def all_gather_tensor(info: DistInfo, t: torch.Tensor) -> list[torch.Tensor]:
    """Gather an equal-shaped int64 tensor from every rank (CPU result)."""
    if not info.enabled:
        return [t.cpu()]
    dev = info.device if info.backend == "nccl" else torch.device("cpu")
    t = t.to(dev)
    out = [torch.empty_like(t) for _ in range(info.world_size)]
    dist.all_gather(out, t)
    return [o.cpu() for o in out]


def sync_buffers(info: DistInfo, module: torch.nn.Module) -> int:
    """Copy rank 0's buffers to every rank; returns how many were broadcast.

    DDP broadcasts buffers from rank 0 at the start of each forward, but a module in
    train mode (BatchNorm running statistics) then updates them from its own shard, so
    after the last step the ranks' buffers differ. This is the broadcast the next forward
    would have done: it makes every replica equal to what rank 0 saves.
    """
    if not info.enabled:
        return 0
    n = 0
    for buf in module.buffers():
        if buf.numel() == 0:
            continue
        if info.backend == "nccl" or buf.device.type == "cpu":
            dist.broadcast(buf.data, src=0)
        else:  # gloo with a non-CPU buffer: round-trip through the host
            host = buf.detach().cpu()
            dist.broadcast(host, src=0)
            buf.data.copy_(host)
        n += 1
    return n


def parameters_digest(module: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer, in state_dict order (replica consistency check)."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()

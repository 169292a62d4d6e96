"""The hand topology as tensors: the one place that names and types them.

``HandOS`` keeps the topology it was built for as persistent buffers, so a weights file carries
its own hand model (``checkpoint.load_model`` rebuilds the model from them); the decoder's joint
regressor is the same conversion.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..hand.topology import HandTopology

# buffer name -> (HandTopology field, dtype)
TOPOLOGY_BUFFERS: dict[str, tuple[str, torch.dtype]] = {
    "topology_template": ("template", torch.float32),
    "topology_faces": ("faces", torch.long),
    "topology_joint_regressor": ("joint_regressor", torch.float32),
    "topology_skinning_weights": ("skinning_weights_21", torch.float32),
}


def topology_tensor(topology: HandTopology, field: str) -> Tensor:
    """One field of ``topology`` as the tensor the model stores (float32, faces int64)."""
    dtype = next(dt for f, dt in TOPOLOGY_BUFFERS.values() if f == field)
    return torch.as_tensor(np.asarray(getattr(topology, field)), dtype=dtype)


def register_topology_buffers(module: nn.Module, topology: HandTopology) -> None:
    """Register every ``topology_*`` buffer of :data:`TOPOLOGY_BUFFERS` on ``module`` (persistent)."""
    for name, (field, _dtype) in TOPOLOGY_BUFFERS.items():
        module.register_buffer(name, topology_tensor(topology, field))


def topology_from_buffers(state: dict[str, Tensor], name: str) -> HandTopology:
    """The :class:`HandTopology` stored in a state dict (KeyError naming the first missing buffer)."""
    arrays = {}
    for key, (field, dtype) in TOPOLOGY_BUFFERS.items():
        np_dtype = np.int64 if dtype == torch.long else np.float32
        arrays[field] = state[key].numpy().astype(np_dtype)
    return HandTopology(name=name, **arrays)

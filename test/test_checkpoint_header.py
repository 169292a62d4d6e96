"""Regression: a safetensors file whose header length starts with byte 0x80 is not a pickle."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from handos_model.checkpoint import CheckpointError, read_safetensors


def test_safetensors_with_0x80_first_byte_loads(tmp_path):
    path = tmp_path / "w.safetensors"
    for pad in range(300):
        save_file({"k" * (1 + pad): torch.arange(3.0)}, str(path))
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("could not craft a header length with low byte 0x80")
    tensors = read_safetensors(path)
    assert torch.equal(next(iter(tensors.values())), torch.arange(3.0))


def test_real_pickle_is_still_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(CheckpointError, match="pickle"):
        read_safetensors(path)

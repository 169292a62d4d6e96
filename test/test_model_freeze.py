"""The detector inside HandOS is frozen: no gradient, eval mode, bit-identical after training steps."""

from __future__ import annotations

import torch
from model_fixtures import batch, synthetic_sample, tiny_cfg, tiny_topology

from handos_model.models.build import build_criterion, build_model


def test_detector_frozen_and_bit_identical_after_optimizer_step() -> None:
    torch.manual_seed(0)
    topo = tiny_topology()
    model = build_model(tiny_cfg(), topo)
    crit = build_criterion(tiny_cfg(), topo)
    assert all(not p.requires_grad for p in model.detector.parameters())
    before = {k: v.clone() for k, v in model.detector.state_dict().items()}
    other_before = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    model.train()
    assert not model.detector.training and not any(m.training for m in model.detector.modules())
    assert model.decoder.training and model.side_tuning.training
    # an optimiser over *all* parameters, to prove the detector gets no update even when it is included
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    images, Ks, targets = batch([synthetic_sample(topo, 2, seed=0), synthetic_sample(topo, 1, seed=1)])
    for _ in range(2):
        loss = crit(model(images, Ks, targets), targets)["total"]
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in model.detector.parameters())
        opt.step()
    after = model.detector.state_dict()
    assert before.keys() == after.keys()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    changed = [k for k, v in model.decoder.state_dict().items() if not torch.equal(v, other_before[k])]
    assert changed, "the decoder should have been updated"
    assert not model.detector.training


def test_training_stage_switch() -> None:
    topo = tiny_topology()
    model = build_model(tiny_cfg(), topo)
    model.configure_training_stage(0)
    model.train()
    assert model.detector.training and all(p.requires_grad for p in model.detector.parameters())
    assert not any(p.requires_grad for p in model.decoder.parameters())
    model.configure_training_stage(2)
    model.train()
    assert not model.detector.training and not any(p.requires_grad for p in model.detector.parameters())
    assert all(p.requires_grad for p in model.decoder.parameters())
    assert {id(p) for p in model.trainable_parameters()} == {
        id(p) for n, p in model.named_parameters() if not n.startswith("detector.")
    }

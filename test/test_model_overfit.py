"""Overfitting one synthetic sample (a posed open hand) lowers the total loss at least 10x."""

from __future__ import annotations

import pytest
import torch
from model_fixtures import batch, posed_hand_sample, tiny_cfg

from handos_model.models.build import build_criterion, build_model

STEPS = 160


@pytest.mark.slow
def test_overfit_one_sample_lowers_total_loss_10x() -> None:
    from handos_model.hand.hand_model import load_hand_model

    torch.manual_seed(0)
    hand = load_hand_model("open")
    topo = hand.topology
    cfg = tiny_cfg()
    model = build_model(cfg, topo).train()
    crit = build_criterion(cfg, topo)
    images, Ks, targets = batch([posed_hand_sample(hand, seed=0)])
    opt = torch.optim.Adam(model.trainable_parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[100], gamma=0.1)
    history = []
    for _ in range(STEPS):
        losses = crit(model(images, Ks, targets), targets)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        sched.step()
        history.append(losses["total"].item())
    first, last = history[0], min(history[-5:])
    assert last * 10 <= first, f"total loss {first:.3f} -> {last:.3f} (history {history[::10]})"
    # the 3D branch learned too, not only the 2D one
    assert losses["oks_proj"] < 0.5 and losses["vertices"] < 0.005

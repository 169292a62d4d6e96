"""A small DETR-like hand detector the project trains itself (stage 0).

Built from transformers' ``RTDetrForObjectDetection`` with a tiny ResNet backbone
and one label ("hand"). Measured ~45-80 ms eval at 320x320 on 2 CPU cores, so the
whole HandOS pipeline stays CPU-friendly. Training it on synthetic boxes uses
transformers' own Hungarian-matching loss (:meth:`TinyRTDetrDetector.detection_loss`);
inside HandOS it is frozen like Grounding DINO.

Adapter: a forward-pre-hook on the RT-DETR decoder captures the flattened memory
``F^e`` (``encoder_hidden_states``), ``spatial_shapes``, ``level_start_index``,
the initial content queries ``Q_0`` (``inputs_embeds``) and reference boxes; a
forward hook on the conv encoder captures the backbone maps for side tuning.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from transformers import ResNetConfig, RTDetrConfig, RTDetrForObjectDetection

from .box_ops import box_xyxy_to_cxcywh
from .detector import Detector, DetectorOutput


def tiny_rtdetr_config(
    d_model: int = 128,
    num_queries: int = 100,
    decoder_layers: int = 3,
    num_heads: int = 4,
    ffn_dim: int = 256,
    num_points: int = 4,
    backbone_embedding_size: int = 24,
    backbone_hidden_sizes: tuple[int, ...] | list[int] = (24, 48, 96, 192),
    backbone_depths: tuple[int, ...] | list[int] = (1, 1, 1, 1),
    num_denoising: int = 20,
    **_: Any,
) -> RTDetrConfig:
    """RT-DETR config with a tiny basic-block ResNet (strides 8/16/32 -> 3 levels), 1 label."""
    hidden = list(backbone_hidden_sizes)
    backbone = ResNetConfig(
        embedding_size=backbone_embedding_size,
        hidden_sizes=hidden,
        depths=list(backbone_depths),
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    return RTDetrConfig(
        backbone_config=backbone,
        encoder_in_channels=hidden[1:],
        d_model=d_model,
        encoder_hidden_dim=d_model,
        encoder_ffn_dim=ffn_dim,
        encoder_attention_heads=num_heads,
        decoder_in_channels=[d_model] * 3,
        decoder_ffn_dim=ffn_dim,
        decoder_layers=decoder_layers,
        decoder_attention_heads=num_heads,
        decoder_n_points=num_points,
        num_queries=num_queries,
        num_labels=1,
        id2label={0: "hand"},
        label2id={"hand": 0},
        num_denoising=num_denoising,
    )


class TinyRTDetrDetector(Detector):
    """RT-DETR (tiny) adapter returning :class:`DetectorOutput`.

    Args:
        config: an ``RTDetrConfig`` with ``num_labels=1``; default :func:`tiny_rtdetr_config`.
    """

    def __init__(self, config: RTDetrConfig | None = None):
        super().__init__()
        config = config if config is not None else tiny_rtdetr_config()
        if config.num_labels != 1:
            raise ValueError(f"the tiny hand detector has one label ('hand'), got num_labels={config.num_labels}")
        self.model = RTDetrForObjectDetection(config)
        self.d_model = int(config.d_model)
        self.num_levels = int(config.num_feature_levels)
        self.backbone_channels = list(self.model.model.backbone.intermediate_channel_sizes)
        self.capture_inputs(self.model.model.decoder, self.model.model.backbone)

    def forward(self, images: Tensor) -> DetectorOutput:
        """images: (B, 3, S, S) in ``[0, 1]`` -> :class:`DetectorOutput`."""
        self.clear_captured()
        out = self.model(pixel_values=self.normalize(images))
        dk, maps = self.captured()
        memory = dk["encoder_hidden_states"]
        shapes = dk["spatial_shapes"]
        b = images.shape[0]
        return DetectorOutput(
            memory=memory,
            spatial_shapes=shapes,
            level_start_index=dk["level_start_index"],
            valid_ratios=memory.new_ones(b, shapes.shape[0], 2),
            queries_init=dk["inputs_embeds"],
            queries_last=out.last_hidden_state,
            reference_boxes=dk["reference_points"].sigmoid(),
            scores=out.logits[..., 0].sigmoid(),
            boxes=out.pred_boxes,
            backbone_maps=maps,
        )

    def detection_loss(self, images: Tensor, targets: list[dict[str, Tensor]]) -> tuple[Tensor, dict[str, Tensor]]:
        """Stage-0 training loss (transformers' Hungarian matching + VFL/L1/GIoU, with denoising).

        Args:
            images: (B, 3, S, S) in ``[0, 1]``.
            targets: the training target dicts of ``data.transforms`` (``boxes`` (N, 4) xyxy
                network pixels, ``image_size`` (2,) = (S, S)).

        Returns:
            (scalar loss, dict of named loss terms). Call ``self.train()`` first.
        """
        size = float(images.shape[-1])
        labels = []
        for t in targets:
            boxes = box_xyxy_to_cxcywh(t["boxes"].to(images.device).float() / size).clamp(0.0, 1.0)
            labels.append(
                {"class_labels": torch.zeros(len(boxes), dtype=torch.long, device=images.device), "boxes": boxes}
            )
        out = self.model(pixel_values=self.normalize(images), labels=labels)
        self.clear_captured()
        return out.loss, dict(out.loss_dict)

"""Frozen detector interface (paper Sec. 3.1): what HandOS reads from a DETR-like detector.

Any DETR-like detector can serve as HandOS's foundation (paper suppl. IX). An
adapter subclasses :class:`Detector` and returns a :class:`DetectorOutput`:

* ``memory`` = ``F^e_6``, the encoder output the detector's decoder reads (flattened
  multi-scale tokens), with its ``spatial_shapes`` / ``level_start_index``;
* ``queries_init`` = ``Q_0`` and ``queries_last`` = ``Q_6`` (decoder input and output);
* ``scores`` ``S`` for the prompt "hand" and ``boxes`` ``B``;
* ``backbone_maps``: the visual backbone's multi-scale maps, input to side tuning.

Implementations: ``detector_tiny.TinyRTDetrDetector`` (trained by this project on
synthetic boxes) and ``detector_gdino.GroundingDinoDetector`` (paper's choice).
Images enter as (B, 3, S, S) float RGB in ``[0, 1]``; adapters normalise themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class DetectorOutput:
    """Everything HandOS takes from the frozen detector.

    Attributes:
        memory: (B, T, d) ``F^e_6``, flattened multi-scale encoder tokens, level by level.
        spatial_shapes: (L, 2) long, ``(H_l, W_l)`` of each level.
        level_start_index: (L,) long, first token of each level in ``memory``.
        valid_ratios: (B, L, 2) float, fraction of each level that is not padding (1 here).
        queries_init: (B, Q, d) ``Q_0``, the decoder's input content queries.
        queries_last: (B, Q, d) ``Q_6``, the decoder's last hidden state.
        reference_boxes: (B, Q, 4) normalised ``cxcywh``, reference boxes of ``Q_0``.
        scores: (B, Q) in ``[0, 1]``, probability of the "hand" prompt/class.
        boxes: (B, Q, 4) normalised ``cxcywh``, predicted boxes ``B``.
        backbone_maps: list of (B, C_l, H_l, W_l), the visual backbone's multi-scale maps.
    """

    memory: Tensor
    spatial_shapes: Tensor
    level_start_index: Tensor
    valid_ratios: Tensor
    queries_init: Tensor
    queries_last: Tensor
    reference_boxes: Tensor
    scores: Tensor
    boxes: Tensor
    backbone_maps: list[Tensor]

    @property
    def spatial_shapes_list(self) -> list[tuple[int, int]]:
        return [(int(h), int(w)) for h, w in self.spatial_shapes.tolist()]


class Detector(nn.Module):
    """Base class of detector adapters.

    Subclasses set ``d_model`` (width of ``memory`` and queries), ``num_levels``
    (L), ``backbone_channels`` (C_l of each backbone map) and implement ``forward``.
    """

    d_model: int
    num_levels: int
    backbone_channels: list[int]

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def set_trainable(self, trainable: bool) -> None:
        """Training stage set-up: ``requires_grad`` of the parameters a detector stage trains.

        Adapters with pre-trained parts that stay frozen in every stage (the ImageNet backbone
        of ``detector_lite``) override this to keep them frozen.
        """
        self.requires_grad_(trainable)

    def capture_inputs(self, decoder: nn.Module, backbone: nn.Module) -> None:
        """Hooks of a transformers DETR-like model: the keyword arguments its ``decoder`` is called
        with (``F^e``, spatial shapes, ``Q_0``, reference points) and the feature maps its
        ``backbone`` returns (``[(map, mask), ...]``); read them back with :meth:`captured`."""
        self._capture: dict[str, Any] = {}
        decoder.register_forward_pre_hook(self._decoder_pre_hook, with_kwargs=True)
        backbone.register_forward_hook(self._backbone_hook)

    def _decoder_pre_hook(self, module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        self._capture["decoder_kwargs"] = kwargs

    def _backbone_hook(self, module: nn.Module, args: tuple, output: Any) -> None:
        self._capture["backbone"] = [feature_map for feature_map, _mask in output]

    def clear_captured(self) -> None:
        """Forget what the hooks saw (call before a forward pass)."""
        self._capture.clear()

    def captured(self) -> tuple[dict[str, Any], list[Tensor]]:
        """(decoder keyword arguments, backbone maps (B, C_l, H_l, W_l)) of the last forward pass."""
        return self._capture.pop("decoder_kwargs"), self._capture.pop("backbone")

    def normalize(self, images: Tensor) -> Tensor:
        """(B, 3, S, S) in ``[0, 1]`` -> ImageNet-normalised."""
        return (images - self.pixel_mean) / self.pixel_std

    def forward(self, images: Tensor) -> DetectorOutput:  # pragma: no cover - interface
        raise NotImplementedError

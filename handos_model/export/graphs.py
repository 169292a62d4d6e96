"""The two exportable graphs of a HandOS model (the query filtering runs between them, outside).

``DetectorGraph``: the frozen detector on one letterboxed image,
``image (1, 3, S, S) in [0, 1] -> scores (1, Q), boxes (1, Q, 4) cxcywh, queries_init (1, Q, d_q),
queries_last (1, Q, d_q), memory (1, T, d), backbone_map_l (1, C_l, H_l, W_l) ...``.

``DecoderGraph``: side tuning + ``fuse_features`` + the interactive 2D-3D decoder for the K
hands the filtering selected (K is a dynamic axis, K >= 1):
``memory, backbone maps, queries_init / queries_last (K, d_q), boxes (K, 4), Ks (K, 3, 3)
-> joints_2d (K, 21, 2), vertices (K, V, 3), joints_3d (K, 21, 3), cam_t (K, 3),
joints_proj (K, 21, 2)`` of the last decoder layer (the only one ``postprocess`` reads).

Both wrap the modules of a :class:`~handos_model.models.handos.HandOS` (no copied weights), so
they compute exactly what ``HandOS.forward`` does in inference mode for a batch of one image.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..models.handos import HandOS
from ..models.side_tuning import fuse_features

DETECTOR_OUTPUTS = ("scores", "boxes", "queries_init", "queries_last", "memory")
DECODER_OUTPUTS = ("joints_2d", "vertices", "joints_3d", "cam_t", "joints_proj")
DECODER_QUERY_INPUTS = ("queries_init", "queries_last", "boxes", "Ks")


def backbone_map_names(num_maps: int) -> list[str]:
    """Graph names of the backbone maps side tuning reads: ``backbone_map_0`` ... (shallow to deep)."""
    return [f"backbone_map_{i}" for i in range(num_maps)]


def spatial_shapes_of(model: HandOS, size: int | None = None) -> list[tuple[int, int]]:
    """The detector's L level shapes ``(H_l, W_l)`` at input size ``size`` (default the model's S)."""
    size = int(size or model.input_size)
    with torch.no_grad():
        det = model.detector(torch.zeros(1, 3, size, size, device=model.device))
    return det.spatial_shapes_list


class DetectorGraph(nn.Module):
    """``image (1, 3, S, S) -> (scores, boxes, queries_init, queries_last, memory, *backbone_maps)``."""

    def __init__(self, model: HandOS):
        super().__init__()
        self.detector = model.detector

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        det = self.detector(image)
        return (det.scores, det.boxes, det.queries_init, det.queries_last, det.memory, *det.backbone_maps)


class DecoderGraph(nn.Module):
    """Side tuning + fused features + decoder of K hands of one image, last layer's outputs.

    Args:
        model: the HandOS (eval mode) whose modules it runs.
        spatial_shapes: the L ``(H_l, W_l)`` of the detector at the exported input size; they are
            constants of the graph (one graph per input size, like the detector's).
    """

    def __init__(self, model: HandOS, spatial_shapes: list[tuple[int, int]]):
        super().__init__()
        if not model.decoder.lifting:
            raise ValueError("ONNX export needs a full model (decoder.lifting: true), not a 2D-stage one")
        self.side_tuning = model.side_tuning
        self.decoder = model.decoder
        self.spatial_shapes = [(int(h), int(w)) for h, w in spatial_shapes]
        self.image_size = int(model.input_size)

    def forward(self, memory: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        """
        Args:
            memory: (1, T, d) ``F^e_6``.
            rest: the backbone maps (1, C_l, H_l, W_l) ..., then queries_init (K, d_q),
                queries_last (K, d_q), boxes (K, 4) normalised cxcywh, Ks (K, 3, 3) network-input K.

        Returns:
            joints_2d (K, 21, 2) network px, vertices (K, V, 3) m wrist-relative, joints_3d (K, 21, 3) m,
            cam_t (K, 3) m, joints_proj (K, 21, 2) network px.
        """
        maps, (queries_init, queries_last, boxes, Ks) = list(rest[:-4]), rest[-4:]
        features = fuse_features(memory, self.side_tuning(maps, self.spatial_shapes))
        batch_index = torch.zeros(boxes.shape[0], dtype=torch.long, device=boxes.device)
        out = self.decoder(queries_init, queries_last, boxes, features, batch_index, self.spatial_shapes, Ks,
                           self.image_size)
        return tuple(out[f"pred_{name}"][-1] for name in DECODER_OUTPUTS)

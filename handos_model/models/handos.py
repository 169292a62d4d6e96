"""HandOS: one-stage 3D hand reconstruction (paper Fig. 2).

``image -> frozen detector (F^e_6, Q_0, Q_6, B, S, backbone maps)
        -> side tuning (F^s), F^GD = [F^e_6, F^s]
        -> query filtering (SimOTA in training / threshold + NMS + cap in inference)
        -> interactive 2D-3D decoder (expansion, 2D layers, lifting, interactive layers)
        -> post-processing (HandPrediction in original pixels and metres)``
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import torch
from torch import Tensor, nn

from ..hand.topology import HandTopology
from .box_ops import box_xyxy_to_cxcywh
from .decoder import HandDecoder
from .detector import Detector
from .query_filtering import filter_queries, simota_assign
from .side_tuning import SideTuning, fuse_features
from .stages import set_stage_trainable
from .topology_buffers import register_topology_buffers


class StageHook(Protocol):
    """What ``forward(..., timer=)`` accepts: a context per named stage (``predictor.StageTimer``)."""

    def stage(self, name: str) -> AbstractContextManager[None]: ...


class _NoStages:
    def stage(self, name: str) -> AbstractContextManager[None]:
        return nullcontext()


class HandOS(nn.Module):
    """The full model. The detector is always frozen (no gradient, eval mode).

    Args:
        detector: a :class:`Detector` adapter.
        side_tuning: :class:`SideTuning` producing ``F^s``.
        decoder: :class:`HandDecoder`.
        topology: the hand model the decoder was built for (stored as buffers for checkpoints).
        input_size: S, side of the square network input.
        score_threshold, nms_threshold, max_hands: inference filtering defaults (``T^S``, ``T^NMS``, cap).
        simota_topk: top-IoU count of SimOTA's dynamic k; max_matches_per_gt: cap on k (None = paper).
        config: the config dict the model was built from (kept for checkpoints).
    """

    def __init__(
        self,
        detector: Detector,
        side_tuning: SideTuning,
        decoder: HandDecoder,
        topology: HandTopology,
        input_size: int = 320,
        score_threshold: float = 0.1,
        nms_threshold: float = 0.9,
        max_hands: int | None = 8,
        simota_topk: int = 10,
        max_matches_per_gt: int | None = None,
        config: dict | None = None,
    ):
        super().__init__()
        self.detector = detector
        self.side_tuning = side_tuning
        self.decoder = decoder
        self.topology = topology
        self.input_size = int(input_size)
        self._detector_trainable = False
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.max_hands = max_hands
        self.simota_topk = int(simota_topk)
        self.max_matches_per_gt = max_matches_per_gt
        self.config = config or {}
        register_topology_buffers(self, topology)  # topology_* buffers: saved with the weights
        self.detector.requires_grad_(False)
        self.detector.eval()

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> HandOS:
        """Like ``nn.Module.train`` but the frozen detector always stays in eval mode
        (except during stage 0, see :meth:`configure_training_stage`)."""
        super().train(mode)
        self.detector.train(mode and self._detector_trainable)
        return self

    def configure_training_stage(self, stage: int) -> None:
        """Select what trains. Stage 0: only the detector (the project's tiny detector, trained
        through ``detector.detection_loss``). Stages 1 (2D) and 2 (full): everything but the
        detector, which is frozen (no gradient, eval mode) as in the paper."""
        self._detector_trainable = stage == 0
        set_stage_trainable(self, self.detector, stage)
        self.train(self.training)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser should see (everything but the detector)."""
        return [p for n, p in self.named_parameters() if not n.startswith("detector.") and p.requires_grad]

    @property
    def device(self) -> torch.device:
        return self.topology_faces.device

    @property
    def image_size(self) -> int:
        """Alias of ``input_size`` (the name the training engine reads); follows it when it changes."""
        return self.input_size

    # ---------------------------------------------------------------- forward

    def forward(
        self,
        images: Tensor,
        Ks: Tensor,
        targets: list[dict[str, Tensor]] | None = None,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
        max_hands: int | None = None,
        fixed_count: int | None = None,
        timer: StageHook | None = None,
    ) -> dict:
        """
        Args:
            images: (B, 3, S, S) float RGB in ``[0, 1]``.
            Ks: (B, 3, 3) network-input intrinsics.
            targets: training target dicts (``data.transforms``). Given: queries are chosen by SimOTA
                against ``targets[b]["boxes"]``. None: by threshold + NMS + cap.
            score_threshold, nms_threshold, max_hands: override the inference defaults.
            fixed_count: benchmark mode, exactly the top-``fixed_count`` queries per image.
            timer: optional per-stage hook (``timer.stage(name)`` contexts around the detector,
                side tuning and decoder; ``predictor.StageTimer`` measures wall time).

        Returns:
            dict with per-layer lists ``pred_joints_2d`` [(K, 21, 2) network px], ``pred_vertices``
            [(K, V, 3) m], ``pred_joints_3d`` [(K, 21, 3) m], ``pred_cam_t`` [(K, 3) m],
            ``pred_joints_proj`` [(K, 21, 2) network px] (3D lists: interactive layers only), and
            ``instance_batch_index`` (K,), ``instance_query_index`` (K,), ``instance_gt_index`` (K,)
            (-1 without targets), ``instance_scores`` (K,), ``instance_boxes`` (K, 4) normalised cxcywh,
            ``image_size`` (int S), ``detector_scores`` (B, Q), ``detector_boxes`` (B, Q, 4).
            K = total number of selected instances in the batch.
        """
        if timer is None:
            timer = _NoStages()
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, S, S), got {tuple(images.shape)}")
        size = int(images.shape[-1])
        Ks = Ks.to(images.device, torch.float32)
        with timer.stage("detector_ms"), torch.no_grad():
            det = self.detector(images)
        shapes = det.spatial_shapes_list
        with timer.stage("decoder_ms"):
            bi, qi, gi = self._select(det, targets, size, score_threshold, nms_threshold, max_hands, fixed_count)
        if targets is None and bi.numel() == 0:
            # inference, no hand selected: side tuning and decoder have nothing to do
            out: dict = self.decoder.empty_outputs(images.device)
        else:
            with timer.stage("side_tuning_ms"):
                features = fuse_features(det.memory, self.side_tuning(det.backbone_maps, shapes))
            with timer.stage("decoder_ms"):
                out = self.decoder(
                    det.queries_init[bi, qi],
                    det.queries_last[bi, qi],
                    det.boxes[bi, qi],
                    features,
                    bi,
                    shapes,
                    Ks[bi],
                    size,
                )
        out.update(
            instance_batch_index=bi,
            instance_query_index=qi,
            instance_gt_index=gi,
            instance_scores=det.scores[bi, qi],
            instance_boxes=det.boxes[bi, qi],
            image_size=size,
            detector_scores=det.scores,
            detector_boxes=det.boxes,
        )
        return out

    @torch.no_grad()
    def _select(self, det, targets, size, score_threshold, nms_threshold, max_hands, fixed_count):
        """Query filtering -> (batch_index, query_index, gt_index), each (K,) long."""
        bis, qis, gis = [], [], []
        for b in range(det.scores.shape[0]):
            if targets is not None:
                gt = box_xyxy_to_cxcywh(targets[b]["boxes"].to(det.boxes.device).float() / size)
                q, g = simota_assign(det.scores[b], det.boxes[b], gt, self.simota_topk, self.max_matches_per_gt)
            else:
                q = filter_queries(
                    det.scores[b],
                    det.boxes[b],
                    self.score_threshold if score_threshold is None else score_threshold,
                    self.nms_threshold if nms_threshold is None else nms_threshold,
                    self.max_hands if max_hands is None else max_hands,
                    fixed_count,
                )
                g = torch.full_like(q, -1)
            bis.append(torch.full_like(q, b))
            qis.append(q)
            gis.append(g)
        return torch.cat(bis), torch.cat(qis), torch.cat(gis)

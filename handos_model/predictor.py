"""Deployment wrapper around the ``HandOS`` module: one numpy image in, hands out, with stage times.

``HandOS`` is an ``nn.Module`` on batched tensors; this is where a camera image meets it:
letterbox to the network input (``data.transforms``), the forward pass, post-processing back
to the image's pixels and metres (``models.postprocess``), and wall-clock time per stage::

    predictor = HandPredictor(load_model(path, "cpu"))
    hands = predictor.predict(image_rgb_uint8, K)                 # list[HandPrediction]
    hands, timing = predictor.predict_timed(image_rgb_uint8, K)   # + PredictTiming (ms)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .data.transforms import image_to_tensor, letterbox_image
from .hand.topology import HandTopology
from .models.handos import HandOS
from .models.postprocess import postprocess
from .prediction import HandPrediction, PredictTiming, check_predict_inputs


class StageTimer:
    """Accumulates wall time per stage into a :class:`PredictTiming` (synchronising CUDA when used).

    ``HandOS.forward(..., timer=...)`` calls :meth:`stage` around its detector, side-tuning and
    decoder parts; the predictor adds pre- and post-processing.
    """

    def __init__(self, device: torch.device):
        self.timing = PredictTiming()
        self.cuda = device.type == "cuda"

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        yield
        if self.cuda:
            torch.cuda.synchronize()
        setattr(self.timing, name, getattr(self.timing, name) + (time.perf_counter() - t0) * 1000.0)


class HandPredictor:
    """Runs a :class:`HandOS` on one RGB image at a time (reads ``model.input_size`` at each call).

    Args:
        model: the HandOS module (put it in eval mode and on its device first).
    """

    def __init__(self, model: HandOS):
        self.model = model

    @property
    def topology(self) -> HandTopology:
        """The hand model the predictions' vertices follow (faces, joint regressor)."""
        return self.model.topology

    def predict(
        self,
        image: np.ndarray,
        K: np.ndarray,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
        max_hands: int | None = None,
    ) -> list[HandPrediction]:
        """One RGB image (H, W, 3) uint8 and its 3x3 intrinsics -> hands in original pixels / metres,
        by descending score. Thresholds default to the model's (``query_filtering`` of its config)."""
        return self.predict_timed(image, K, score_threshold, nms_threshold, max_hands)[0]

    def predict_timed(
        self,
        image: np.ndarray,
        K: np.ndarray,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
        max_hands: int | None = None,
        fixed_count: int | None = None,
    ) -> tuple[list[HandPrediction], PredictTiming]:
        """:meth:`predict` plus per-stage wall times (ms). ``fixed_count`` forces a number of hands (bench)."""
        image, K = check_predict_inputs(image, K)
        model = self.model
        device = model.device
        timer = StageTimer(device)
        with timer.stage("preprocess_ms"):
            canvas, K_net, lb = letterbox_image(image, K, model.input_size)
            x = image_to_tensor(canvas)[None].to(device)
            k_t = torch.from_numpy(K_net)[None].to(device)
        with torch.no_grad():
            out = model(x, k_t, None, score_threshold, nms_threshold, max_hands, fixed_count, timer=timer)
            with timer.stage("postprocess_ms"):
                preds = postprocess(out, [lb], model.topology_faces.cpu().numpy())[0]
        return preds, timer.timing

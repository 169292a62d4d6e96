"""ONNX Runtime backend: the two exported graphs behind HandOS's ``predict`` / ``predict_timed``.

``load_onnx_model(dir)`` -> :class:`OnnxHandPredictor`, a drop-in for
:class:`~handos_model.predictor.HandPredictor` where only
inference is needed (the ROS node's ``backend: onnxruntime``): same arguments, same
``list[HandPrediction]`` and :class:`~handos_model.prediction.PredictTiming`.

Per frame: letterbox (``data.transforms``, as the PyTorch path) -> ``detector.onnx`` ->
:func:`~handos_model.models.query_filtering.filter_queries` (threshold, NMS, cap; the PyTorch
function itself) -> ``decoder.onnx`` for the K selected queries (skipped when K = 0) ->
:func:`~handos_model.models.postprocess.postprocess`. Timing: ``decoder_ms`` covers filtering,
side tuning and the decoder (one graph), ``side_tuning_ms`` stays 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.transforms import image_to_array, letterbox_image
from ..hand.topology import HandTopology
from ..models.postprocess import postprocess
from ..models.query_filtering import filter_queries
from ..prediction import HandPrediction, PredictTiming, check_predict_inputs
from ..predictor import StageTimer
from .graphs import DECODER_OUTPUTS, DECODER_QUERY_INPUTS
from .onnx_export import read_meta
from .ort_threads import enable_shared_pool, session_options

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def _session(path: Path, device: str, num_threads: int, provider_options: dict | None = None,
             spin: bool = True):  # noqa: ANN202
    """One graph's session (thread pools: :mod:`.ort_threads`)."""
    import onnxruntime as ort

    if device not in PROVIDERS:
        raise ValueError(f"device must be one of {sorted(PROVIDERS)}, got {device!r}")
    wanted = PROVIDERS[device]
    if wanted[0] not in ort.get_available_providers():
        raise ValueError(
            f"device={device!r} needs {wanted[0]}, but this onnxruntime has only {ort.get_available_providers()} "
            "(install onnxruntime-gpu for CUDA / TensorRT)"
        )
    options = [dict(provider_options or {})] + [{} for _ in wanted[1:]]
    return ort.InferenceSession(str(path), session_options(num_threads, spin), providers=wanted,
                                provider_options=options)


def _load_topology(path: Path, name: str) -> HandTopology:
    from safetensors.numpy import load_file

    t = load_file(str(path))
    return HandTopology(
        name=name,
        template=t["template"].astype(np.float32),
        faces=t["faces"].astype(np.int64),
        joint_regressor=t["joint_regressor"].astype(np.float32),
        skinning_weights_21=t["skinning_weights_21"].astype(np.float32),
    )


class OnnxHandPredictor:
    """HandOS inference from ``detector.onnx`` + ``decoder.onnx`` (see :func:`load_onnx_model`).

    Attributes:
        input_size: S of the exported graphs (fixed; re-export for another size).
        topology: the hand topology of the exported model (faces for mesh info / side).
        config: the model config recorded at export.
        score_threshold, nms_threshold, max_hands: filtering defaults recorded at export.
        device: "cpu", "cuda" or "tensorrt" (the execution provider).  precision: "fp32" or "int8".
    """

    def __init__(self, directory: Path, info: dict, device: str = "cpu", num_threads: int = 0,
                 precision: str = "fp32", provider_options: dict | None = None, shared_pool: bool = False):
        if precision not in info["precisions"]:
            raise ValueError(f"{directory}: no {precision!r} graphs (exported: {sorted(info['precisions'])})")
        files = info["precisions"][precision]
        self.directory = directory
        self.info = info
        self.device = device
        self.precision = precision
        self.config = info.get("config", {})
        self._size = int(info["input_size"])
        th = info["thresholds"]
        self.score_threshold = float(th["score_threshold"])
        self.nms_threshold = float(th["nms_threshold"])
        self.max_hands = th["max_hands"]
        self.topology = _load_topology(directory / info["topology"]["file"], info["topology"]["name"])
        self._faces = np.asarray(self.topology.faces)
        if shared_pool:
            enable_shared_pool(num_threads)
        self.detector = _session(directory / files["detector"], device, num_threads, provider_options)
        self.decoder = _session(directory / files["decoder"], device, num_threads, provider_options, spin=False)
        self._det_outputs = list(info["outputs"]["detector"])
        self._dec_inputs = list(info["inputs"]["decoder"])
        self._num_joints = int(self.topology.joint_regressor.shape[0])

    @property
    def input_size(self) -> int:
        return self._size

    @input_size.setter
    def input_size(self, size: int) -> None:
        if int(size) != self._size:
            raise ValueError(f"ONNX graphs were exported at input size {self._size}; re-export for {size} "
                             "(handos-export --onnx --input-size)")

    def predict(self, image: np.ndarray, K: np.ndarray, score_threshold: float | None = None,
                nms_threshold: float | None = None, max_hands: int | None = None) -> list[HandPrediction]:
        """One RGB image (H, W, 3) uint8 and its 3x3 intrinsics -> hands in original pixels / metres."""
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
        """:meth:`predict` plus per-stage wall times (ms); ``fixed_count`` forces a number of hands (bench)."""
        image, K = check_predict_inputs(image, K)
        timer = StageTimer(torch.device("cpu"))
        with timer.stage("preprocess_ms"):
            canvas, K_net, lb = letterbox_image(image, K, self._size)
            x = image_to_array(canvas)[None]
        with timer.stage("detector_ms"):
            det = dict(zip(self._det_outputs, self.detector.run(self._det_outputs, {"image": x}), strict=True))
        with timer.stage("decoder_ms"):
            scores, boxes = torch.from_numpy(det["scores"][0]), torch.from_numpy(det["boxes"][0])
            keep = filter_queries(
                scores, boxes,
                self.score_threshold if score_threshold is None else score_threshold,
                self.nms_threshold if nms_threshold is None else nms_threshold,
                self.max_hands if max_hands is None else max_hands,
                fixed_count,
            ).numpy()
            hands = self._decode(det, keep, K_net)
        with timer.stage("postprocess_ms"):
            out = {f"pred_{name}": [a] for name, a in zip(DECODER_OUTPUTS, hands, strict=True)}
            out.update(
                instance_batch_index=np.zeros(len(keep), dtype=np.int64),
                instance_scores=det["scores"][0, keep],
                instance_boxes=det["boxes"][0, keep],
                image_size=self._size,
            )
            preds = postprocess(out, [lb], self._faces)[0]
        return preds, timer.timing

    def _decode(self, det: dict[str, np.ndarray], keep: np.ndarray, K_net: np.ndarray) -> list[np.ndarray]:
        """decoder.onnx on the K = len(keep) selected queries -> the DECODER_OUTPUTS arrays (K, ...).

        K = 0: the decoder does not run (early exit, like the PyTorch path); empty arrays."""
        k = len(keep)
        if k == 0:
            nj, nv = self._num_joints, self.topology.num_vertices
            return [np.zeros(s, np.float32) for s in ((0, nj, 2), (0, nv, 3), (0, nj, 3), (0, 3), (0, nj, 2))]
        feed = {name: det[name] for name in self._dec_inputs[: -len(DECODER_QUERY_INPUTS)]}  # memory, maps
        feed.update(
            queries_init=det["queries_init"][0, keep], queries_last=det["queries_last"][0, keep],
            boxes=det["boxes"][0, keep], Ks=np.repeat(K_net[None], k, axis=0),
        )
        return self.decoder.run(list(DECODER_OUTPUTS), feed)


def load_onnx_model(path_or_dir: str | Path, device: str = "cpu", num_threads: int = 0,
                    precision: str = "fp32", provider_options: dict | None = None,
                    shared_pool: bool = False) -> OnnxHandPredictor:
    """Load an export of ``handos-export --onnx`` (its directory or its ``handos_onnx.json``).

    Args:
        device: "cpu" (CPUExecutionProvider), "cuda" or "tensorrt" (need onnxruntime-gpu).
        num_threads: intra-op threads of each graph's pool (0 = ONNX Runtime's default).
        shared_pool: run both graphs (and every later ONNX Runtime session of the process) on one
            process-wide pool of ``num_threads`` (:mod:`.ort_threads`: faster, but ONNX Runtime
            then refuses sessions that ask for their own pool; for a process that owns ONNX
            Runtime, such as the ROS node). Default: a pool per graph, the decoder's not spinning.
        precision: "fp32" or "int8" (exported with ``--int8``).
        provider_options: options of the first execution provider, e.g. for "tensorrt"
            ``{"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": DIR}``.
    """
    directory, info = read_meta(path_or_dir)
    return OnnxHandPredictor(directory, info, device=device, num_threads=num_threads, precision=precision,
                             provider_options=provider_options, shared_pool=shared_pool)

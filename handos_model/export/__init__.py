"""Deployment exports of HandOS (docs/deployment.md).

``handos-export --onnx`` (:mod:`.cli`) writes ``detector.onnx`` + ``decoder.onnx`` + JSON
(:mod:`.onnx_export`, graphs in :mod:`.graphs`); :func:`load_onnx_model` (:mod:`.onnx_runtime`)
runs them with ONNX Runtime behind the same ``predict`` / ``predict_timed`` as
:class:`handos_model.predictor.HandPredictor`; :mod:`.compare` measures how far the two agree.
"""

from .onnx_export import export_onnx
from .onnx_runtime import OnnxHandPredictor, load_onnx_model

OnnxHandOS = OnnxHandPredictor  # the name issue 17 used

__all__ = ["OnnxHandOS", "OnnxHandPredictor", "export_onnx", "load_onnx_model"]

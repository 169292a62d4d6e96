"""Export a HandOS model to two ONNX graphs + a JSON description (``handos-export --onnx``).

Files written into ``out_dir`` (docs/deployment.md):

* ``detector.onnx`` -- :class:`~.graphs.DetectorGraph`, image (1, 3, S, S) -> detector outputs;
* ``decoder.onnx``  -- :class:`~.graphs.DecoderGraph`, K selected queries -> last-layer hands,
  K a dynamic axis;
* ``topology.safetensors`` -- the hand topology the model carries (template, faces, joint
  regressor, skinning weights), for ``postprocess`` (faces) and the ROS node (mesh info);
* ``handos_onnx.json`` -- format, input size S, level shapes, graph input/output names, the
  model's config and default thresholds, the files of each precision.
* with ``int8=True`` also ``detector.int8.onnx`` / ``decoder.int8.onnx``
  (``onnxruntime.quantization.quantize_dynamic``, int8 weights, activations quantised per call).

Query filtering (threshold, NMS, cap) stays outside the graphs, in
:func:`handos_model.models.query_filtering.filter_queries`, so the ONNX Runtime backend selects
exactly the hands the PyTorch model selects.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.numpy import save_file

from ..models.handos import HandOS
from .graph_passes import fold_pads_into_convs
from .graphs import (
    DECODER_OUTPUTS,
    DECODER_QUERY_INPUTS,
    DETECTOR_OUTPUTS,
    DecoderGraph,
    DetectorGraph,
    backbone_map_names,
    spatial_shapes_of,
)
from .rtdetr_passes import gather_rows_first, merge_parallel_convs

FORMAT = "handos-onnx"
FORMAT_VERSION = 3  # 2: the backbone's SAME pads folded into its convolutions; 3: RT-DETR's box head on
# the selected rows only and its RepVGG branches merged (graph_passes.py)
META_FILE = "handos_onnx.json"
TOPOLOGY_FILE = "topology.safetensors"
DEFAULT_OPSET = 18  # GridSample (deformable attention) needs >= 16
# int8: quantise the matrix products only. ConvInteger (the convolutions) is far slower than the
# float Conv in ONNX Runtime's CPU provider, see docs/deployment.md for the measurement.
INT8_OP_TYPES = ("MatMul", "Gemm")


def _export(module: torch.nn.Module, args: tuple, path: Path, input_names: list[str], output_names: list[str],
            opset: int, dynamo: bool, dynamic: dict[str, dict[int, str]] | None) -> None:
    """``torch.onnx.export`` with either exporter. ``dynamic``: graph name -> {axis: symbol}."""
    kwargs: dict[str, Any] = dict(input_names=input_names, output_names=output_names, opset_version=opset)
    if dynamo:
        # torch.export: dynamic axes as Dims, structured like ``args`` (DecoderGraph takes *rest)
        dims: dict[str, torch.export.Dim] = {}
        specs = []
        for name in input_names:
            axes = (dynamic or {}).get(name)
            specs.append({a: dims.setdefault(s, torch.export.Dim(s, min=1, max=1024)) for a, s in axes.items()}
                         if axes else None)
        kwargs["dynamic_shapes"] = (specs[0], tuple(specs[1:])) if len(args) > 1 else (specs[0],)
        kwargs["dynamo"] = True
        kwargs["verbose"] = False
    else:
        kwargs.update(dynamo=False, do_constant_folding=True, dynamic_axes=dynamic)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings on the shape branches frozen at export
        torch.onnx.export(module, args, str(path), **kwargs)


def quantize_int8(src: Path, dst: Path, op_types: tuple[str, ...] = INT8_OP_TYPES) -> Path:
    """Dynamic int8 quantisation of ``src`` into ``dst`` (weights int8, activations per call)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), op_types_to_quantize=list(op_types), weight_type=QuantType.QInt8)
    return dst


def example_decoder_inputs(det_outputs: tuple[torch.Tensor, ...], model: HandOS, k: int) -> tuple[torch.Tensor, ...]:
    """DecoderGraph inputs for the top-``k`` queries of a detector run: (memory, *maps, qi, ql, boxes, Ks)."""
    scores, boxes, q_init, q_last, memory, *maps = det_outputs
    idx = scores[0].topk(k).indices
    s = float(model.input_size)
    K = torch.tensor([[s, 0.0, s / 2], [0.0, s, s / 2], [0.0, 0.0, 1.0]], device=memory.device)
    return (memory, *maps, q_init[0, idx], q_last[0, idx], boxes[0, idx], K.expand(k, 3, 3).contiguous())


def export_onnx(
    model: HandOS,
    out_dir: str | Path,
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
    int8: bool = False,
    source: str = "",
    int8_op_types: tuple[str, ...] = INT8_OP_TYPES,
) -> Path:
    """Write the two graphs, the topology and the JSON of ``model`` into ``out_dir``.

    Args:
        model: a full HandOS (``decoder.lifting: true``); exported at ``model.input_size`` on the CPU.
        out_dir: created if missing; existing files of the same names are replaced.
        opset: ONNX opset (>= 16 for GridSample).
        dynamo: use the ``torch.export``-based exporter (needs ``onnxscript``; slower to export)
            instead of the TorchScript tracer.
        int8: also write dynamically quantised int8 graphs.
        int8_op_types: the ONNX op types int8 quantises (default the matrix products only).
        source: free text recorded in the JSON (e.g. the weights file name).

    Returns:
        the JSON path.
    """
    if opset < 16:
        raise ValueError(f"opset {opset} < 16: GridSample (deformable attention) needs opset 16")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    size = int(model.input_size)
    shapes = spatial_shapes_of(model, size)
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    det_graph = DetectorGraph(model).eval()
    with torch.no_grad():
        det_out = det_graph(image)
    map_names = backbone_map_names(len(det_out) - len(DETECTOR_OUTPUTS))
    files = {"detector": "detector.onnx", "decoder": "decoder.onnx"}
    with torch.no_grad():
        _export(det_graph, (image,), out_dir / files["detector"], ["image"], [*DETECTOR_OUTPUTS, *map_names],
                opset, dynamo, None)
        dec_inputs = ["memory", *map_names, *DECODER_QUERY_INPUTS]
        dynamic = {n: {0: "K"} for n in (*DECODER_QUERY_INPUTS, *DECODER_OUTPUTS)}
        # traced with K = 2 hands: K = 1 would let the tracer fold the hand axis as a constant
        _export(DecoderGraph(model, shapes).eval(), example_decoder_inputs(det_out, model, 2),
                out_dir / files["decoder"], dec_inputs, list(DECODER_OUTPUTS), opset, dynamo, dynamic)
    folded = {key: fold_pads_into_convs(out_dir / name) for key, name in files.items()}  # graph_passes.py
    gathered = {key: gather_rows_first(out_dir / name) for key, name in files.items()}
    merged = {key: merge_parallel_convs(out_dir / name) for key, name in files.items()}
    precisions = {"fp32": dict(files)}
    if int8:
        precisions["int8"] = {
            key: quantize_int8(out_dir / name, out_dir / name.replace(".onnx", ".int8.onnx"), int8_op_types).name
            for key, name in files.items()
        }
    topo = model.topology
    arrays = {
        "template": model.topology_template, "faces": model.topology_faces,
        "joint_regressor": model.topology_joint_regressor, "skinning_weights_21": model.topology_skinning_weights,
    }
    save_file({k: v.detach().cpu().numpy() for k, v in arrays.items()}, str(out_dir / TOPOLOGY_FILE),
              metadata={"format": FORMAT, "name": str(getattr(topo, "name", "unknown"))})
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "source": source,
        "input_size": size,
        "spatial_shapes": [list(s) for s in shapes],
        "num_queries": int(det_out[0].shape[1]),
        "num_vertices": int(model.topology_template.shape[0]),
        "opset": int(opset),
        "exporter": "dynamo" if dynamo else "torchscript",
        "folded_pads": folded,
        "gathered_rows_first": gathered,
        "merged_parallel_convs": merged,
        "torch_version": torch.__version__,
        "inputs": {"detector": ["image"], "decoder": dec_inputs},
        "outputs": {"detector": [*DETECTOR_OUTPUTS, *map_names], "decoder": list(DECODER_OUTPUTS)},
        "precisions": precisions,
        "int8_op_types": list(int8_op_types) if int8 else [],
        "topology": {"file": TOPOLOGY_FILE, "name": str(getattr(topo, "name", "unknown"))},
        "thresholds": {
            "score_threshold": float(model.score_threshold),
            "nms_threshold": float(model.nms_threshold),
            "max_hands": None if model.max_hands is None else int(model.max_hands),
        },
        "config": json.loads(json.dumps(model.config, default=str)),
    }
    path = out_dir / META_FILE
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return path


def read_meta(path: str | Path) -> tuple[Path, dict]:
    """(directory, parsed JSON) of an export: ``path`` is its directory or its ``handos_onnx.json``."""
    path = Path(path)
    meta = path / META_FILE if path.is_dir() else path
    if not meta.is_file():
        raise FileNotFoundError(f"{meta}: no HandOS ONNX export here (handos-export --onnx writes {META_FILE})")
    info = json.loads(meta.read_text(encoding="utf-8"))
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{meta}: not a HandOS ONNX export (expected format={FORMAT!r})")
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{meta}: format_version {info['format_version']} is newer than this code ({FORMAT_VERSION})")
    return meta.parent, info


__all__ = ["FORMAT", "META_FILE", "export_onnx", "quantize_int8", "read_meta"]

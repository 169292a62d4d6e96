"""Clean-ups of an exported ONNX file, applied by ``export_onnx`` before anything reads it.

``fold_pads_into_convs(path)``: the TorchScript exporter writes ``F.pad`` (the backbone's
TensorFlow-``SAME`` padding of its stride-2 convolutions, ``backbone_efficientnet_lite.same_pad``:
one extra pixel bottom / right) as a ``Pad`` node, whose ``pads`` input is even computed by a
chain of Concat / Reshape / Slice / Transpose / Cast nodes although every value in it is a
constant. PyTorch's convolution pads symmetrically only; ONNX's ``Conv`` takes separate begin and
end pads. A separate ``Pad`` costs its own pass over the map and, on ONNX Runtime's CPU provider,
breaks the convolutions' blocked-memory-layout chain (a layout reorder out and back in around
each one). The pass evaluates every ``pads`` that depends on no graph input, moves each
zero-valued ``Pad`` whose only reader is a ``Conv`` into that ``Conv``'s ``pads`` attribute, and
drops the nodes nobody reads any more. The graph computes the same function (tested).

The RT-DETR-specific passes are in :mod:`.rtdetr_passes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .ort_threads import session_options

_ONNX_TO_NUMPY = {1: np.float32, 6: np.int32, 7: np.int64, 10: np.float16, 11: np.float64}


def producers_and_readers(graph) -> tuple[dict, dict[str, list]]:  # noqa: ANN001 - onnx.GraphProto
    """(tensor name -> the node writing it, tensor name -> the nodes reading it) of ``graph``."""
    producers = {o: n for n in graph.node for o in n.output}
    readers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    return producers, readers


def depends_on(name: str, inputs: set[str], producers: dict, constants: set[str], seen: set[str]) -> bool:
    """Whether tensor ``name`` is computed from a graph input."""
    if name in inputs:
        return True
    if not name or name in constants or name not in producers or name in seen:
        return False
    seen.add(name)
    return any(depends_on(i, inputs, producers, constants, seen) for i in producers[name].input)


def drop_dead_nodes(graph) -> int:  # noqa: ANN001 - onnx.GraphProto
    """Remove nodes none of whose outputs is read (by a node or as a graph output); count."""
    removed = 0
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return removed
        for n in dead:
            graph.node.remove(n)
        removed += len(dead)


def fold_pads_into_convs(path: str | Path) -> int:
    """Rewrite ``path`` in place: constant ``Pad`` -> ``Conv`` pairs become one ``Conv``.

    Returns:
        the number of ``Pad`` nodes removed (0: file unchanged).
    """
    import onnx
    from onnx import helper

    path = Path(path)
    model = onnx.load(str(path))
    g = model.graph
    constants = {i.name for i in g.initializer}
    inputs = {i.name for i in g.input} - constants
    producers, readers = producers_and_readers(g)
    pads = [n for n in g.node if n.op_type == "Pad" and len(n.input) > 1 and n.input[1]
            and n.input[1] not in constants
            and not depends_on(n.input[1], inputs, producers, constants, set())]
    if not pads:
        return 0
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = sorted({n.input[1] for n in pads})
    probe.graph.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None) for name in names)
    values = dict(zip(names, run_on_zeros(probe, names), strict=True))  # the pads depend on no input
    outputs = {o.name for o in g.output}
    fused = 0
    for pad in pads:
        p = np.asarray(values[pad.input[1]], np.int64).reshape(-1)
        mode = next((helper.get_attribute_value(a) for a in pad.attribute if a.name == "mode"), b"constant")
        zero = len(pad.input) < 3 or not pad.input[2]  # no constant value given: 0
        conv = readers.get(pad.output[0], [])
        if (len(p) != 8 or p[:2].any() or p[4:6].any() or (p < 0).any() or mode != b"constant" or not zero
                or len(conv) != 1 or conv[0].op_type != "Conv" or pad.output[0] in outputs
                or any(a.name == "auto_pad" and a.s not in (b"", b"NOTSET") for a in conv[0].attribute)):
            continue
        c = conv[0]
        old = next((list(a.ints) for a in c.attribute if a.name == "pads"), [0, 0, 0, 0])
        for a in [a for a in c.attribute if a.name == "pads"]:
            c.attribute.remove(a)
        # ONNX Conv pads: [H begin, W begin, H end, W end]; Pad pads: [N, C, H, W begins, N, C, H, W ends]
        c.attribute.append(helper.make_attribute("pads", [int(old[0] + p[2]), int(old[1] + p[3]),
                                                          int(old[2] + p[6]), int(old[3] + p[7])]))
        c.input[0] = pad.input[0]
        fused += 1
    if fused:
        drop_dead_nodes(g)
        onnx.save(model, str(path))
    return fused

def toposort(graph) -> None:  # noqa: ANN001 - onnx.GraphProto
    """Reorder ``graph.node`` topologically (stable: the original order where it is one already)."""
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = []
        for n in pending:
            if all(i in known for i in n.input):
                ordered.append(n)
                known.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise ValueError("graph has a cycle or a missing input")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def initializer(name: str, producers: dict, inits: dict):  # noqa: ANN201 - onnx.TensorProto | None
    """The initializer behind ``name``, through the Identity nodes the TorchScript exporter puts
    on initializers it de-duplicated; None when ``name`` is computed."""
    while name in producers and producers[name].op_type == "Identity":
        name = producers[name].input[0]
    return inits.get(name)


def run_on_zeros(model, names: list[str]) -> list[np.ndarray]:  # noqa: ANN001 - onnx.ModelProto
    """The tensors ``names`` (graph outputs of ``model``) in one run on all-zero inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        elem = next(x for x in model.graph.input if x.name == i.name).type.tensor_type.elem_type
        feeds[i.name] = np.zeros([d if isinstance(d, int) else 1 for d in i.shape], _ONNX_TO_NUMPY.get(elem, np.float32))
    return session.run(names, feeds)


def probe_shapes(model, names: list[str]) -> list[tuple[int, ...]]:  # noqa: ANN001 - onnx.ModelProto
    """The shapes of the tensors ``names`` in one run of ``model`` on zeros (ONNX shape inference
    leaves the exporter's reshapes unknown)."""
    import onnx
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_value_info(n, onnx.TypeProto()) for n in names)
    return [tuple(a.shape) for a in run_on_zeros(probe, names)]

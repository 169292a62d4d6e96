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

``gather_rows_first(path)``: RT-DETR's query selection (transformers' ``RTDetrModel``) runs its
box head, a 3-layer MLP, on every encoder token (1344 at 256 px) and only then keeps the rows of
the top-k tokens (``GatherElements``), although the same rows of the head's input are gathered
anyway (the initial queries). Row-wise ops (MatMul by a constant, Add of a constant row, Relu)
commute with a row gather, so the pass runs the head on the k gathered rows and gathers the
per-row constant (the anchors) instead: the same function on 60 rows instead of 1344 (tested).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .ort_threads import session_options

_ONNX_TO_NUMPY = {1: np.float32, 6: np.int32, 7: np.int64, 10: np.float16, 11: np.float64}


def _depends_on(name: str, inputs: set[str], producers: dict, constants: set[str], seen: set[str]) -> bool:
    """Whether tensor ``name`` is computed from a graph input."""
    if name in inputs:
        return True
    if not name or name in constants or name not in producers or name in seen:
        return False
    seen.add(name)
    return any(_depends_on(i, inputs, producers, constants, seen) for i in producers[name].input)


def _drop_dead_nodes(graph) -> int:  # noqa: ANN001 - onnx.GraphProto
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
    import onnxruntime as ort
    from onnx import helper

    path = Path(path)
    model = onnx.load(str(path))
    g = model.graph
    constants = {i.name for i in g.initializer}
    inputs = {i.name for i in g.input} - constants
    producers = {o: n for n in g.node for o in n.output}
    pads = [n for n in g.node if n.op_type == "Pad" and len(n.input) > 1 and n.input[1]
            and n.input[1] not in constants
            and not _depends_on(n.input[1], inputs, producers, constants, set())]
    if not pads:
        return 0
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = sorted({n.input[1] for n in pads})
    probe.graph.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None) for name in names)
    session = ort.InferenceSession(probe.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():  # values do not matter: the pads depend on none of them
        elem = next(x for x in g.input if x.name == i.name).type.tensor_type.elem_type
        feeds[i.name] = np.zeros([d if isinstance(d, int) else 1 for d in i.shape], _ONNX_TO_NUMPY.get(elem, np.float32))
    values = dict(zip(names, session.run(names, feeds), strict=True))
    readers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
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
        _drop_dead_nodes(g)
        onnx.save(model, str(path))
    return fused


_ROW_WISE = ("MatMul", "Add", "Relu")


def _row_source(name: str, producers: dict) -> str:
    """The tensor a GatherElements index is broadcast from (through Tile / Expand)."""
    while name in producers and producers[name].op_type in ("Tile", "Expand"):
        name = producers[name].input[0]
    return name


def _toposort(graph) -> None:  # noqa: ANN001 - onnx.GraphProto
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


def _probe_shapes(model, names: list[str]) -> list[tuple[int, ...]]:  # noqa: ANN001 - onnx.ModelProto
    """The shapes of the tensors ``names`` in one run of ``model`` on zeros (ONNX shape inference
    leaves the exporter's reshapes unknown)."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_value_info(n, onnx.TypeProto()) for n in names)
    session = ort.InferenceSession(probe.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        elem = next(x for x in model.graph.input if x.name == i.name).type.tensor_type.elem_type
        feeds[i.name] = np.zeros([d if isinstance(d, int) else 1 for d in i.shape], _ONNX_TO_NUMPY.get(elem, np.float32))
    return [tuple(a.shape) for a in session.run(names, feeds)]


def gather_rows_first(path: str | Path) -> int:
    """Rewrite ``path`` in place: ``GatherElements(rowwise(X) + C, idx)`` becomes
    ``rowwise(GatherElements(X, idx')) + GatherElements(C, idx)`` where the graph already gathers
    the same rows of ``X`` (``idx'``: the same row indices broadcast to X's width).

    Returns:
        the number of gathers moved (0: file unchanged).
    """
    import onnx
    from onnx import helper

    path = Path(path)
    model = onnx.load(str(path))
    g = model.graph
    constants = {i.name for i in g.initializer} | {n.output[0] for n in g.node if n.op_type == "Constant"}
    inputs = {i.name for i in g.input} - constants
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    readers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    outputs = {o.name for o in g.output}

    def axis(n) -> int:  # noqa: ANN001
        return next((helper.get_attribute_value(a) for a in n.attribute if a.name == "axis"), 0)

    def const(name: str) -> bool:
        return not _depends_on(name, inputs, producers, constants, set())

    def row_const(name: str) -> bool:  # a constant that broadcasts along rows: shape (..., 1, d) or (d,)
        while name in producers and producers[name].op_type == "Identity":  # the exporter's shared initialisers
            name = producers[name].input[0]
        t = inits.get(name)
        return t is not None and all(d == 1 for d in list(t.dims)[:-1])

    moved = 0
    for gather in [n for n in g.node if n.op_type == "GatherElements" and axis(n) == 1]:
        add = producers.get(gather.input[0])
        if add is None or add.op_type != "Add" or add.output[0] in outputs:
            continue
        others = [r for r in readers.get(add.output[0], []) if r is not gather]
        if any(r.op_type != "Shape" for r in others):  # only its shape may be read elsewhere
            continue
        heads = [i for i in add.input if i in producers and producers[i].op_type in _ROW_WISE]
        if not heads:
            continue
        head = heads[0]
        per_row = add.input[1] if head == add.input[0] else add.input[0]
        source = _row_source(gather.input[1], producers)
        shape_c, shape_h, shape_i = _probe_shapes(model, [per_row, head, source])
        if shape_c != shape_h or len(shape_h) < 3 or shape_i[-1:] != (1,):
            continue  # one per-row value per row (no broadcasting in the Add), rows not on the last
            # axis, and a row index (..., k, 1) that Tile / Expand only widen
        chain, t = [], head  # the row-wise nodes from X to ``head``, last first
        while (n := producers.get(t)) is not None and n.op_type in _ROW_WISE and len(readers.get(t, [])) == 1:
            data = [i for i in n.input if not const(i)]
            if len(data) != 1 or (n.op_type == "MatMul" and n.input[0] != data[0]) or \
                    (n.op_type == "Add" and not row_const(next(i for i in n.input if i != data[0]))):
                break
            chain.append(n)
            t = data[0]
        twin = next((r for r in readers.get(t, []) if r.op_type == "GatherElements" and axis(r) == 1
                     and r.input[0] == t and _row_source(r.input[1], producers) == source), None)
        if not chain or twin is None:
            continue
        prev, last = twin.output[0], t  # the chain again, from X's gathered rows
        for n in reversed(chain):
            copy = helper.make_node(n.op_type, [prev if i == last else i for i in n.input], [n.output[0] + "_rows"],
                                    name=n.name + "_rows")
            copy.attribute.extend(n.attribute)
            g.node.append(copy)
            prev, last = copy.output[0], n.output[0]
        g.node.append(helper.make_node("GatherElements", [per_row, gather.input[1]], [per_row + "_rows"],
                                       name=gather.name + "_per_row", axis=1))
        g.node.append(helper.make_node("Add", [prev, per_row + "_rows"], [gather.output[0]], name=gather.name + "_add"))
        for r in others:  # the per-row tensor has the sum's shape (probed above)
            r.input[0] = per_row
        g.node.remove(gather)
        moved += 1
    if moved:
        _drop_dead_nodes(g)
        _toposort(g)
        onnx.save(model, str(path))
    return moved

"""Clean-ups of transformers' RT-DETR in an exported ONNX file, applied by ``export_onnx``.

``gather_rows_first(path)``: RT-DETR's query selection (transformers' ``RTDetrModel``) runs its
box head, a 3-layer MLP, on every encoder token (1344 at 256 px) and only then keeps the rows of
the top-k tokens (``GatherElements``), although the same rows of the head's input are gathered
anyway (the initial queries). Row-wise ops (MatMul by a constant, Add of a constant row, Relu)
commute with a row gather, so the pass runs the head on the k gathered rows and gathers the
per-row constant (the anchors) instead: the same function on 60 rows instead of 1344 (tested).

``merge_parallel_convs(path)``: RT-DETR's RepVGG blocks (its encoder's CSP layers, 12 at this
size) add a 3x3 and a 1x1 convolution of the same input, which RepVGG trains as two branches so
that inference can run them as one: the 1x1 kernel, zero-padded to 3x3, is added to the 3x3 one
and the biases are summed (batch norm is already folded by the exporter). transformers keeps both
branches; the pass merges them (tested: same outputs up to float rounding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .graph_passes import depends_on, drop_dead_nodes, initializer, probe_shapes, producers_and_readers, toposort

_ROW_WISE = ("MatMul", "Add", "Relu")


def _row_source(name: str, producers: dict) -> str:
    """The tensor a GatherElements index is broadcast from (through Tile / Expand)."""
    while name in producers and producers[name].op_type in ("Tile", "Expand"):
        name = producers[name].input[0]
    return name






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
    producers, readers = producers_and_readers(g)
    outputs = {o.name for o in g.output}

    def axis(n) -> int:  # noqa: ANN001
        return next((helper.get_attribute_value(a) for a in n.attribute if a.name == "axis"), 0)

    def const(name: str) -> bool:
        return not depends_on(name, inputs, producers, constants, set())

    def row_const(name: str) -> bool:  # a constant that broadcasts along rows: shape (..., 1, d) or (d,)
        t = initializer(name, producers, inits)
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
        shape_c, shape_h, shape_i = probe_shapes(model, [per_row, head, source])
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
        drop_dead_nodes(g)
        toposort(g)
        onnx.save(model, str(path))
    return moved


def _conv_attrs(node) -> dict:  # noqa: ANN001 - onnx.NodeProto
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _conv_bias(node, weight: np.ndarray, producers: dict, inits: dict) -> np.ndarray:  # noqa: ANN001
    """A Conv's bias (zeros when it has none)."""
    from onnx import numpy_helper

    if len(node.input) > 2 and node.input[2]:
        return numpy_helper.to_array(initializer(node.input[2], producers, inits))
    return np.zeros(weight.shape[0], weight.dtype)


def merge_parallel_convs(path: str | Path) -> int:
    """Rewrite ``path`` in place: ``Conv_k(X) + Conv_1(X)`` (same input, stride, groups 1, centred
    pads, constant weights) becomes one ``Conv_k`` with the 1x1 kernel added at its centre.

    Returns:
        the number of pairs merged (0: file unchanged).
    """
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    model = onnx.load(str(path))
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producers, readers = producers_and_readers(g)

    def centred(node) -> tuple[int, int] | None:  # noqa: ANN001 - (kernel, stride) of a plain centred conv
        a = _conv_attrs(node)
        k = list(a.get("kernel_shape", []))
        if (len(k) != 2 or k[0] != k[1] or k[0] % 2 == 0 or a.get("group", 1) != 1
                or any(d != 1 for d in a.get("dilations", [1, 1])) or a.get("auto_pad", b"NOTSET") not in (b"", b"NOTSET")
                or list(a.get("pads", [0, 0, 0, 0])) != [k[0] // 2] * 4
                or any(initializer(i, producers, inits) is None for i in node.input[1:3] if i)):
            return None
        return k[0], tuple(a.get("strides", [1, 1]))

    merged = 0
    for add in [n for n in g.node if n.op_type == "Add"]:
        convs = [producers.get(i) for i in add.input]
        if any(c is None or c.op_type != "Conv" or len(readers.get(c.output[0], [])) != 1 for c in convs):
            continue
        if convs[0] is convs[1] or convs[0].input[0] != convs[1].input[0] or None in (kinds := [centred(c) for c in convs]):
            continue
        (kb, big), (ks, small) = sorted(zip(kinds, convs, strict=True), key=lambda kc: -kc[0][0])
        if kb[1] != ks[1]:
            continue
        wb, ws = (numpy_helper.to_array(initializer(c.input[1], producers, inits)) for c in (big, small))
        if wb.shape[:2] != ws.shape[:2]:
            continue
        off = (kb[0] - ks[0]) // 2
        w = wb.copy()
        w[:, :, off:off + ks[0], off:off + ks[0]] += ws
        b = _conv_bias(big, wb, producers, inits) + _conv_bias(small, wb, producers, inits)
        name = big.output[0] + "_merged"
        g.initializer.extend([numpy_helper.from_array(w.astype(wb.dtype), name + "_w"),
                              numpy_helper.from_array(b.astype(wb.dtype), name + "_b")])
        big.input[1], big.output[0] = name + "_w", add.output[0]
        if len(big.input) > 2:
            big.input[2] = name + "_b"
        else:
            big.input.append(name + "_b")
        g.node.remove(add)
        g.node.remove(small)
        merged += 1
    if merged:
        drop_dead_nodes(g)
        used = {i for n in g.node for i in n.input}
        keep = [i for i in g.initializer if i.name in used]
        del g.initializer[:]
        g.initializer.extend(keep)
        toposort(g)
        onnx.save(model, str(path))
    return merged

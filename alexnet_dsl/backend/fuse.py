"""IR -> IR: conv -> relu -> lrn chains become one fused op, conv -> relu a fused conv+ReLU.

A chain is fused only when each link has exactly one reader (the next link), so nothing else
needs the intermediate tensors. The fused layer keeps the conv's name, so parameters keep their
names (`conv1.weight`) whatever the backend; readers of the chain's last layer read it instead.
"""

from __future__ import annotations

from dataclasses import replace

from alexnet_dsl import ir
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.shapes import Shape, input_shape


def _readers(net: ir.Network) -> dict[str, list[int]]:
    readers: dict[str, list[int]] = {}
    for i, layer in enumerate(net.layers):
        for name in layer.inputs:
            readers.setdefault(name, []).append(i)
    return readers


def _chains(net: ir.Network) -> list[list[int]]:
    """Index lists [conv, relu] or [conv, relu, lrn] that can be fused."""
    readers = _readers(net)
    output = net.output_layer

    def only_reader(i: int) -> int | None:
        name = net.layers[i].name
        r = readers.get(name, [])
        return r[0] if len(r) == 1 and name != output else None

    chains = []
    for i, layer in enumerate(net.layers):
        if not isinstance(layer.op, ir.Conv) or _explicit_padding(layer.op) is None:
            continue
        j = only_reader(i)
        if j is None or net.layers[j].op != ir.Activation("relu"):
            continue
        chain = [i, j]
        k = only_reader(j)
        if k is not None and isinstance(net.layers[k].op, ir.LRN):
            chain.append(k)
        chains.append(chain)
    return chains


def _explicit_padding(conv: ir.Conv) -> tuple[int, int] | None:
    """The conv's padding as a pair; None for `same` that pads unevenly (an even window)."""
    if conv.padding != "same":
        return conv.padding  # type: ignore[return-value]
    totals = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel)]
    if any(t % 2 for t in totals):
        return None
    return (totals[0] // 2, totals[1] // 2)


def fuse(net: ir.Network) -> ir.Network:
    """The same network with fusable chains replaced by `FusedConv` layers."""
    chains = _chains(net)
    if not chains:
        return net
    removed: set[int] = set()
    renamed: dict[str, str] = {}
    fused_at: dict[int, ir.Layer] = {}
    for chain in chains:
        conv = net.layers[chain[0]]
        parts = [net.layers[i] for i in chain]
        lrn = parts[2].op if len(parts) == 3 else None
        explicit = replace(conv.op, padding=_explicit_padding(conv.op))  # type: ignore[arg-type]
        op = ir.FusedConv(explicit, True, lrn, tuple(p.name for p in parts))  # type: ignore[arg-type]
        fused_at[chain[0]] = replace(
            conv,
            op=op,
            span=conv.span.join(parts[-1].span),
            assertions=tuple(a for p in parts for a in p.assertions),
        )
        removed.update(chain[1:])
        renamed[parts[-1].name] = conv.name
    layers = []
    for i, layer in enumerate(net.layers):
        if i in removed:
            continue
        layer = fused_at.get(i, layer)
        if any(n in renamed for n in layer.inputs):
            layer = replace(layer, inputs=tuple(renamed.get(n, n) for n in layer.inputs))
        layers.append(layer)
    # the output may be the last link of a chain: the network still returns the chain's value
    return replace(net, layers=tuple(layers), output_layer=renamed.get(net.output_layer, net.output_layer))


def fused_groups(net: ir.Network) -> dict[str, str]:
    """Layer name -> the fused group it belongs to (`conv1+relu1+lrn1`), for `dslc summary`."""
    out: dict[str, str] = {}
    for chain in _chains(net):
        names = [net.layers[i].name for i in chain]
        label = "+".join(net.layers[i].display_name for i in chain)
        for n in names:
            out[n] = label
    return out


def layer_shapes(analysis: Analysis, net: ir.Network) -> dict[str, Shape | None]:
    """Each layer's predicted output shape, and the input's, for `net` as a backend runs it (the analysed
    network, or `fuse` of it): a fused layer, named after its conv, has its group's last layer's shape."""
    assert analysis.network is not None
    shapes: dict[str, Shape | None] = {i.layer.name: i.shape for i in analysis.infos}
    shapes[net.input_name] = input_shape(analysis.network)
    for layer in net.layers:
        if isinstance(layer.op, ir.FusedConv):
            shapes[layer.name] = shapes[layer.op.parts[-1]]
    return shapes

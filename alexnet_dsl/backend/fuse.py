"""IR -> IR: conv (-> batchnorm) (-> activation) chains become one fused op, and conv -> relu -> lrn too.

What fuses, for the backends that run fused ops (triton and auto; the torch backend runs the network as
written):

- conv -> relu -> lrn: one Triton kernel (AlexNet's block);
- conv -> activation, for every pointwise activation of the Triton epilogue (`FUSABLE`): the kernel with
  that activation compiled in;
- conv -> batchnorm (-> activation): the batchnorm folded into the conv's weight and bias in eval (then the
  kernel, or one PyTorch conv on the CPU), run as conv -> batchnorm with batch statistics in training.

A chain is fused only when each link has exactly one reader (the next link), so nothing else needs the
intermediate tensors; the network's output may be the last link, not an inner one. The fused layer keeps the
conv's name, and the batchnorm its own module, so parameters and buffers keep their names (`conv1.weight`,
`bn1.running_mean`) whatever the backend; readers of the chain's last layer read the fused layer instead.
"""

from __future__ import annotations

from dataclasses import replace

from alexnet_dsl import ir
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.shapes import Shape, input_shape

# The activations the Triton kernel's epilogue computes (kernels/reference.py ACTIVATIONS, less identity):
# every pointwise one of the language but GELU's tanh approximation. Not softmax (over the channels).
FUSABLE = frozenset(
    {
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "gelu",
        "silu",
        "mish",
        "hardswish",
        "hardsigmoid",
        "tanh",
        "sigmoid",
    }
)


def fusable_activation(op: ir.Op) -> bool:
    """Whether `op` is an activation the fused kernel computes (`gelu` only in its exact, erf form)."""
    if not isinstance(op, ir.Activation) or op.kind not in FUSABLE:
        return False
    return dict(op.params).get("approximate", "none") == "none"


def _readers(net: ir.Network) -> dict[str, list[int]]:
    readers: dict[str, list[int]] = {}
    for i, layer in enumerate(net.layers):
        for name in layer.inputs:
            readers.setdefault(name, []).append(i)
    return readers


def _chains(net: ir.Network) -> list[list[int]]:
    """Index lists [conv, batchnorm?, activation?, lrn?] that can be fused: a conv and at least one more link;
    LRN only in conv -> relu -> lrn."""
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
        chain = [i]
        j = only_reader(i)
        if j is not None and isinstance(net.layers[j].op, ir.BatchNorm):
            chain.append(j)
            j = only_reader(j)
        if j is not None and fusable_activation(net.layers[j].op):
            chain.append(j)
            k = only_reader(j)
            if (
                len(chain) == 2
                and net.layers[j].op == ir.Activation("relu")
                and k is not None
                and isinstance(net.layers[k].op, ir.LRN)
            ):
                chain.append(k)
        if len(chain) > 1:
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


def _fused_op(parts: list[ir.Layer]) -> ir.FusedConv:
    """The fused op of a chain's layers, conv first."""
    conv = parts[0].op
    assert isinstance(conv, ir.Conv), conv
    ops = [p.op for p in parts[1:]]
    norm = next((op for op in ops if isinstance(op, ir.BatchNorm)), None)
    act = next((op for op in ops if isinstance(op, ir.Activation)), None)
    lrn = next((op for op in ops if isinstance(op, ir.LRN)), None)
    explicit = replace(conv, padding=_explicit_padding(conv))  # type: ignore[arg-type]
    return ir.FusedConv(explicit, act, lrn, tuple(p.name for p in parts), norm)


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
        fused_at[chain[0]] = replace(
            conv,
            op=_fused_op(parts),
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

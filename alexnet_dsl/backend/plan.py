"""The forward plan: one statement per layer, which variable each one writes, and where a value may be
overwritten in place.

`forward` computes the layers in the network's one topological order (`ir.Network.ordered`) and returns
the value of `net.output_layer`. Each step becomes one line of the generated file, which codegen's source map
names (`codegen.Generated.layer_lines`): `testing.assert_shapes` runs those lines a statement at a time
(`source_map.py`) and the ONNX export maps its nodes back to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from alexnet_dsl import ir
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.backend import op_code
from alexnet_dsl.backend.fuse import fuse

_RETURN = "<return>"  # the reader `forward`'s return statement stands for (no layer has this name)
_CHAIN = "x"  # the variable a chain of layers, each read only by the next, computes in

# Ops whose output a ReLU may overwrite: their backward does not read their output, and the output
# is a fresh tensor (not a view of something still needed). Not softmax, tanh or sigmoid, whose
# backward reads their output, nor flatten or chunk (views), stochastic depth (its input itself in eval)
# or the network's input.
_FRESH_OUTPUT = (
    ir.Conv,
    ir.Linear,
    ir.BatchNorm,
    ir.Pool,
    ir.AdaptiveAvgPool,
    ir.GlobalPool,
    ir.LRN,
    ir.Add,
    ir.Mul,
    ir.Concat,
    ir.ConvTranspose,
    ir.Upsample,
    ir.Scale,
)


def _fresh(op: ir.Op) -> bool:
    """Whether a ReLU may overwrite `op`'s output (`_FRESH_OUTPUT`). A fused conv's, unless it ends with its
    activation: with a hook on the conv that activation runs as a PyTorch op, whose backward may read it."""
    if isinstance(op, ir.FusedConv):
        return op.activation is None or op.lrn is not None
    return isinstance(op, _FRESH_OUTPUT)


@dataclass(frozen=True)
class Step:
    """One line of `forward`: `out = code`, computing the output of `layer`."""

    layer: str
    out: str
    code: str
    helper: str | None  # the runtime helper `code` calls, if any (op_code.OpCode.helper)


def network_for(analysis: Analysis, backend: str) -> ir.Network:
    """The network as the backend runs it: fused for the Triton backends."""
    assert analysis.network is not None
    return analysis.network if backend == "torch" else fuse(analysis.network)


def forward_plan(net: ir.Network, arg: str) -> list[Step]:
    """The statements of `forward`, one per layer in the network's order (`net` as the backend runs it,
    `network_for`); `arg` is `forward`'s parameter.

    `x` holds a value whose only reader is the next line, so overwriting it is always safe; a value read
    later, or more than once, gets a name of its own; a value nothing reads is assigned to `_`. The
    output layer counts as read after every statement, so no later statement overwrites it.
    """
    order = net.ordered
    readers = _readers(net)
    # an input called `x` keeps its name: `x` is free from the statement that reads the input for the
    # last time
    input_read_until = (
        max((pos for pos, la in enumerate(order) if net.input_name in la.inputs), default=-1)
        if arg == _CHAIN
        else -1
    )
    names = _Names({"self", _CHAIN, arg})
    var: dict[str, str] = {net.input_name: arg}
    producers = {layer.name: layer for layer in order}
    plan = []
    for pos, layer in enumerate(order):
        nxt = order[pos + 1].name if pos + 1 < len(order) else None
        r = readers.get(layer.name, [])
        if not r:  # a side branch nothing reads: still run (its hooks fire), its value discarded
            out = "_"
        elif (r == [nxt] or nxt is None) and pos >= input_read_until:
            out = _CHAIN
        else:
            out = names.var(layer.name)
        args = tuple(var[n] for n in layer.inputs)
        var[layer.name] = out
        code = op_code.call_expr(layer, args, _in_place(layer, producers, readers))
        plan.append(Step(layer.name, out, code, op_code.helper(layer.op)))
    return plan


def returned(plan: list[Step], net: ir.Network, arg: str) -> str:
    """The variable `forward` returns: the output layer's (the input's, for a network without layers)."""
    return {step.layer: step.out for step in plan}.get(net.output_layer, arg)


def _in_place(layer: ir.Layer, producers: dict[str, ir.Layer], readers: dict[str, list[str]]) -> bool:
    """Whether a ReLU or an LRN may overwrite its input (saving a pass over memory, or an allocation):
    only when nothing else reads that input. LRN works in place only when no gradient is needed."""
    if len(layer.inputs) != 1:
        return False
    source = producers.get(layer.inputs[0])
    if source is None or readers.get(source.name, []) != [layer.name]:
        return False
    if layer.op == ir.Activation("relu"):
        return _fresh(source.op)
    if isinstance(layer.op, ir.LRN):
        # (no gradient is kept then: a fresh tensor is enough)
        return _fresh(source.op) or isinstance(source.op, ir.FusedConv) or source.op == ir.Activation("relu")
    return False


def _readers(net: ir.Network) -> dict[str, list[str]]:
    """Layer name -> the layers that read its value, in order; the output layer is also read by `return`."""
    readers: dict[str, list[str]] = {}
    for layer in net.ordered:
        for n in layer.inputs:
            readers.setdefault(n, []).append(layer.name)
    readers.setdefault(net.output_layer, []).append(_RETURN)  # read after every statement
    return readers


@dataclass
class _Names:
    """Unique Python identifiers for layer outputs."""

    taken: set[str]

    def var(self, layer_name: str) -> str:
        base = "x_" + layer_name.replace(".", "_")
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

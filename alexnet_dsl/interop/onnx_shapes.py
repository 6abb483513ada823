"""ONNX's shapes against dslc's: each layer's output shape, as ONNX's shape inference computes it
on the exported graph, compared with the one the checker inferred.

ONNX's shape inference runs on a copy of the graph with the exporter's annotations removed; where
it cannot compute a size (symbolic spatial sizes), the exporter's own symbolic expression is used.
Sizes are compared by evaluating both sides at several admissible input sizes.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.extras import needs
from alexnet_dsl.interop.errors import ExportError, first_line
from alexnet_dsl.ir import expr as E

with needs("`alexnet_dsl.interop.onnx_shapes`"):  # a missing extra is one line naming its `pip install`
    import onnx


@dataclass(frozen=True)
class ShapeCheck:
    """One layer's shape as dslc infers it and as ONNX does (None where ONNX cannot say)."""

    layer: str
    value: str  # the ONNX value holding the layer's output
    ours: tuple[E.Size, ...]
    theirs: tuple[int | str | None, ...] | None  # None: ONNX gives no shape at all
    agree: bool | None  # None: nothing contradicts, but ONNX knows too little to confirm

    def describe(self) -> str:
        """The comparison in one line, as `dslc export` warns with it."""
        ours = "[" + ", ".join(E.show(d) for d in self.ours) + "]"
        if self.theirs is None:
            return f"`{self.layer}`: dslc infers {ours}, ONNX gives no shape"
        theirs = "[" + ", ".join("?" if d is None else str(d) for d in self.theirs) + "]"
        return f"`{self.layer}`: dslc infers {ours}, ONNX infers {theirs} (value `{self.value}`)"


def compare_shapes(analysis: Analysis, proto: onnx.ModelProto, values: Mapping[str, str]) -> list[ShapeCheck]:
    """Compare our shape of each mapped layer with ONNX's shape inference (on a copy of the graph
    without the exporter's annotations), falling back to the exporter's symbolic sizes where ONNX's
    inference leaves a size unknown."""
    net = analysis.network
    assert net is not None
    annotated = _value_shapes(proto)
    bare = _without_weights(proto)
    del bare.graph.value_info[:]
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        inferred = _value_shapes(onnx.shape_inference.infer_shapes(bare, strict_mode=True, data_prop=True))
    except onnx.shape_inference.InferenceError as e:
        raise ExportError(f"ONNX's shape inference fails on the exported model: {first_line(e)}") from e
    inputs = {d.dim_param for i in proto.graph.input for d in i.type.tensor_type.shape.dim if d.dim_param}
    envs = _sample_envs(analysis, inputs)
    shapes = {i.layer.name: i.shape for i in analysis.infos}
    order = [la.name for la in net.layers]
    checks = []
    for name in sorted(values, key=order.index):
        ours = shapes.get(name)
        if ours is None:
            continue
        value = values[name]
        theirs = _merge(inferred.get(value), annotated.get(value), inputs)
        layer = next(la for la in net.layers if la.name == name)
        checks.append(ShapeCheck(layer.display_name, value, tuple(ours), theirs, _agree(ours, theirs, envs)))
    return checks


def _without_weights(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose large initializers are graph inputs of the same type: shape inference needs
    their shapes only, and copying 240 MB of AlexNet's weights through protobuf takes seconds."""
    bare = onnx.ModelProto()
    bare.CopyFrom(
        onnx.ModelProto(
            ir_version=proto.ir_version, opset_import=proto.opset_import, functions=proto.functions
        )
    )
    graph = onnx.GraphProto()
    graph.CopyFrom(
        onnx.GraphProto(
            name=proto.graph.name, node=proto.graph.node, input=proto.graph.input, output=proto.graph.output
        )
    )
    for init in proto.graph.initializer:
        if len(init.raw_data) > 4096:
            graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            graph.initializer.append(init)
    bare.graph.CopyFrom(graph)
    return bare


def _value_shapes(proto: onnx.ModelProto) -> dict[str, tuple[int | str | None, ...] | None]:
    """Each typed value's sizes (an int, a symbol's name, or None when unknown); None for no shape."""
    out: dict[str, tuple[int | str | None, ...] | None] = {}
    for v in [*proto.graph.value_info, *proto.graph.output, *proto.graph.input]:
        t = v.type.tensor_type
        if not t.HasField("shape"):
            out[v.name] = None
            continue
        out[v.name] = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None)
            for d in t.shape.dim
        )
    return out


def _merge(inferred, annotated, inputs: set[str]) -> tuple[int | str | None, ...] | None:
    """ONNX's inferred sizes; its unknown ones (`unk__3`) from the exporter's annotation."""
    if inferred is None:
        return annotated
    if annotated is None or len(annotated) != len(inferred):
        return tuple(d if isinstance(d, int) or d in inputs else None for d in inferred)
    merged: list[int | str | None] = []
    for d, a in zip(inferred, annotated):
        merged.append(d if isinstance(d, int) or d in inputs else a)
    return tuple(merged)


def _sample_envs(analysis: Analysis, inputs: set[str]) -> list[dict[str, int]]:
    """A few admissible values for every symbol of the input, zipped into environments."""
    net = analysis.network
    assert net is not None
    samples: dict[str, list[int]] = {}
    for d in net.input_dims:
        if isinstance(d, str) and d not in samples:
            allowed = analysis.admissible.get(d)
            if allowed is None:
                samples[d] = [1, 2, 3, 64]
            else:
                lo = allowed.ranges[0][0]
                found = [x for x in range(lo, lo + 4096) if allowed.contains(x)]
                samples[d] = (found[:3] + found[-1:]) or [lo]
    width = max((len(v) for v in samples.values()), default=1)
    zipped = [{s: v[k % len(v)] for s, v in samples.items()} for k in range(width)]
    if not analysis.couplings:
        return zipped
    # sizes tied to each other: only combinations that satisfy the ties are inputs the network accepts
    names = list(samples)
    combos = (dict(zip(names, values)) for values in itertools.product(*(samples[n] for n in names)))
    valid = [env for env in itertools.islice(combos, 4096) if all(c.holds(env) for c in analysis.couplings)]
    return valid[:8] or zipped


def _agree(ours, theirs, envs: list[dict[str, int]]) -> bool | None:
    """Whether both shapes have the same sizes in every environment; None when ONNX's are partly unknown."""
    if theirs is None:
        return None
    if len(ours) != len(theirs):
        return False
    unknown = False
    for d, t in zip(ours, theirs):
        if t is None:
            unknown = True
            continue
        for env in envs:
            ours_v = E.evaluate(d, env)
            theirs_v = t if isinstance(t, int) else _evaluate(t, env)
            if theirs_v is None:
                unknown = True
                break
            if ours_v != theirs_v:
                return False
    return None if unknown else True


_BINARY: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_CALLS: dict[str, Callable] = {
    "floor": math.floor,
    "ceiling": math.ceil,
    "ceil": math.ceil,
    "Max": max,
    "Min": min,
    "max": max,
    "min": min,
    "FloorDiv": operator.floordiv,
    "CeilToInt": math.ceil,
    "FloorToInt": math.floor,
}


def _evaluate(text: str, env: dict[str, int]) -> int | None:
    """A symbolic size as the exporter writes it (`((H - 5)//2) + 1`) at `env`; None when it uses
    anything else."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None

    def ev(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Fraction(node.value)
        if isinstance(node, ast.Name) and node.id in env:
            return Fraction(env[node.id])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return Fraction(_BINARY[type(node.op)](ev(node.left), ev(node.right)))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CALLS
            and not node.keywords
        ):
            return Fraction(_CALLS[node.func.id](*(ev(a) for a in node.args)))
        raise ValueError(ast.dump(node))

    try:
        value = ev(tree)
    except (ValueError, ZeroDivisionError, TypeError):
        return None
    return int(value) if value.denominator == 1 else None

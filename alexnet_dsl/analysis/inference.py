"""IR -> the shape of every layer, its parameters and MACs, and the shape diagnostics.

The layers are checked in the network's topological order, each by the rule of its op (rules.py). A
layer whose input is unknown is skipped silently, and after a failed assertion checking goes on from
the asserted or the computed shape (downstream.py): one mistake, one error.

With symbolic input sizes the checks that depend on a symbol become constraints for the solver.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alexnet_dsl import ir
from alexnet_dsl.analysis.assertions import BodyCheck, check_assertion, in_body, one_error_per_body_assertion
from alexnet_dsl.analysis.downstream import Downstream
from alexnet_dsl.analysis.rules import compute
from alexnet_dsl.analysis.shapes import (
    Constraint,
    Context,
    LayerInfo,
    Shape,
    input_shape,
    show_dims,
    show_shape,
)
from alexnet_dsl.diagnostics import Diagnostic
from alexnet_dsl.source import Span


@dataclass
class ShapeResult:
    infos: list[LayerInfo]  # source order
    output: Shape | None
    constraints: list[Constraint]
    diagnostics: list[Diagnostic]


def infer(net: ir.Network, inverse_help=None) -> ShapeResult:
    """Infer every layer's shape; collect diagnostics and the constraints left for the solver.

    `inverse_help(layer, input shapes)`, if given, returns the function that explains a failed
    assertion of that layer (see `check_assertion`)."""
    run = _Pass(net, inverse_help)
    for k, i in enumerate(run.order):
        run.layer(k, run.infos[i])
    output = run.output()
    _unused(run.ctx, net)
    diags = one_error_per_body_assertion(run.ctx.diags, run.bodies)
    return ShapeResult(run.infos, output, run.ctx.constraints, diags)


class _Pass:
    """One run of `infer`: the shapes found so far, and the failed assertions later layers rest on."""

    def __init__(self, net: ir.Network, inverse_help) -> None:
        self.net, self.inverse_help = net, inverse_help
        self.ctx = Context(net)
        self.shapes: dict[str, Shape | None] = {net.input_name: input_shape(net)}
        self.infos = [LayerInfo(layer) for layer in net.layers]
        for info in self.infos:
            self.ctx.infos[info.layer.name] = info
        self.order = _checked_order(self.ctx, net)
        self.later = Downstream(self.ctx, net, self.order)
        # After a failed assertion checking goes on from the asserted or the computed shape, whichever
        # leaves fewer errors after it; a later error that rests on an asserted shape says so (it may go
        # away with the assertion's fix). layer name -> (asserted layer, its own shape)
        self.assumed: dict[str, tuple[ir.Layer, Shape | None]] = {}
        # an assertion in a block's body: its check in each instance
        self.bodies: dict[Span, list[BodyCheck]] = {}

    def layer(self, k: int, info: LayerInfo) -> None:
        """Check the layer at position k of the order: its shape by its rule, then its assertions."""
        layer = info.layer
        ins = [self.shapes.get(name) for name in layer.inputs]
        before = len(self.ctx.diags)
        shape = compute(self.ctx, layer, ins, info)
        origin = next((self.assumed[name] for name in layer.inputs if name in self.assumed), None)
        if origin is not None:
            _note_assumption(self.ctx.diags, before, origin)
        shape, origin = self.assertions(k, info, ins, shape, origin)
        if origin is not None:
            self.assumed[layer.name] = origin
        info.shape = shape
        self.shapes[layer.name] = shape

    def assertions(
        self,
        k: int,
        info: LayerInfo,
        ins: list[Shape | None],
        shape: Shape | None,
        origin: tuple[ir.Layer, Shape | None] | None,
    ) -> tuple[Shape | None, tuple[ir.Layer, Shape | None] | None]:
        """Check a layer's assertions in order: the shape to go on from, and the failed assertion it rests
        on (if any)."""
        layer, ctx = info.layer, self.ctx
        computed = shape
        for a, assertion in enumerate(layer.assertions):
            inverse = self.inverse_help(layer, ins) if self.inverse_help else None
            failed = len(ctx.diags)
            who = f"`{layer.display_name}`"
            stated = check_assertion(ctx, layer, info, shape, assertion, "E0301", who, inverse)
            wrong = next((j for j in range(failed, len(ctx.diags)) if ctx.diags[j].code == "E0301"), None)
            keep = True
            if in_body(layer, assertion):
                self.bodies.setdefault(assertion.span, []).append(
                    BodyCheck(layer, assertion, shape, stated, wrong)
                )
            if wrong is not None and shape is not None:
                rest = layer.assertions[a + 1 :]
                keep, ctx.diags[wrong] = self.later.choose(
                    k, self.shapes, layer, shape, stated, rest, ctx.diags[wrong], assertion
                )
                if keep:
                    origin = (layer, computed)
                    shape = stated
            else:
                shape = stated
            if in_body(layer, assertion):
                self.bodies[assertion.span][-1].kept = keep
        return shape, origin

    def output(self) -> Shape | None:
        """The network's output shape, checked against the declared one."""
        net = self.net
        output = self.shapes.get(net.output_layer)
        if net.output is None or output is None:
            return output
        who = f"the network's output `{net.display_name(net.output_layer)}`"
        return check_assertion(
            self.ctx, None, self.ctx.infos.get(net.output_layer), output, net.output, "E0302", who
        )


def _checked_order(ctx: Context, net: ir.Network) -> list[int]:
    """The network's order (`ir.Network.order`); layers on a cycle are reported once."""
    order = list(net.order)
    if len(order) == len(net.layers):
        return order
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    left = set(range(len(net.layers))) - set(order)
    reported: set[int] = set()
    for start in sorted(left):
        if start in reported:
            continue
        cycle = _cycle_from(net, index, left, start)
        if cycle is not None and reported.isdisjoint(cycle):
            names = " -> ".join(f"`{net.layers[k].display_name}`" for k in reversed([*cycle, cycle[0]]))
            layer = net.layers[min(cycle)]
            ctx.err(
                "E0203",
                layer,
                f"layers depend on each other in a cycle: {names}",
                layer.name_span or layer.op_span,
                helps=("a layer reads the line above it unless it says `from NAME`",),
            )
        reported.update(cycle or ())
        reported.add(start)
    return order


def _cycle_from(net: ir.Network, index: dict[str, int], left: set[int], start: int) -> list[int] | None:
    """The cycle reached by walking a layer's first input among the layers `left` out of the order."""
    path: list[int] = []
    seen: dict[int, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        nxt = [index[n] for n in net.layers[node].inputs if n in index and index[n] in left]
        if not nxt:
            break
        node = nxt[0]
    if node in seen and node in path[seen[node] :]:
        return path[seen[node] :]
    return None


def _note_assumption(diags: list[Diagnostic], start: int, origin: tuple[ir.Layer, Shape | None]) -> None:
    """Add to the errors from `start` on that they rest on a failed assertion's shape."""
    layer, computed = origin
    assertion = layer.assertions[-1]
    text = (
        f"this takes `{layer.display_name}` to be {show_dims(assertion.dims)} as asserted on line "
        f"{assertion.span.line}"
        + (f", though it computes {show_shape(computed)}" if computed else "")
        + "; if the assertion is the mistake, fixing it fixes this too"
    )
    for k in range(start, len(diags)):
        if diags[k].is_error:
            diags[k] = replace(diags[k], notes=(*diags[k].notes, text))


def _unused(ctx: Context, net: ir.Network) -> None:
    if any(len(layer.inputs) == 0 for layer in net.layers):
        return  # a reference could not be resolved: what is used is not known
    used = {name for layer in net.layers for name in layer.inputs}
    for layer in net.layers:
        if layer.name not in used and layer.name != net.output_layer and not layer.instance:
            ctx.warn(
                "W0404",
                layer,
                f"the output of `{layer.display_name}` is never used",
                layer.name_span or layer.op_span,
                helps=("remove the layer, or use it with `from` or in a join (`add`, `mul`, `concat`)",),
            )

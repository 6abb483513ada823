"""IR -> the shape of every layer, its parameters and MACs, and shape diagnostics.

One rule per op, in a table. A rule gets the layer and the shapes of its inputs and returns the
output shape, or None when the shape cannot be known (its error is already reported). A layer
whose input is unknown is skipped silently, and after a failed assertion checking goes on from the
asserted shape: one mistake, one error.

With symbolic input sizes the checks that depend on a symbol become constraints for solve.py.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction

from . import expr as E
from . import ir
from .diagnostics import Diagnostic, Related, error, warning
from .solve import IntSet
from .source import Span

Shape = tuple[E.Size, ...]
BYTES_PER_ELEMENT = 4  # activation sizes are reported for float32


@dataclass(frozen=True, slots=True)
class Constraint:
    kind: str  # "ge": lhs >= rhs, "eq": lhs == rhs, "div": lhs % rhs == 0
    lhs: E.Size
    rhs: E.Size
    layer: ir.Layer | None  # None for the network's declared output
    span: Span
    what: str  # "the height of `conv1`'s output must be at least 1"

    def holds(self, env: dict[str, int]) -> bool:
        """Whether the constraint holds for these symbol values."""
        lhs, rhs = E.evaluate(self.lhs, env), E.evaluate(self.rhs, env)
        return lhs == rhs if self.kind == "eq" else lhs >= rhs if self.kind == "ge" else lhs % rhs == 0


@dataclass(slots=True)
class LayerInfo:
    layer: ir.Layer
    shape: Shape | None = None
    params: int | None = 0
    macs: int | None = 0
    notes: list[str] = field(default_factory=list)  # the arithmetic behind each spatial size

    @property
    def activation_bytes(self) -> int | None:
        if self.shape is None:
            return None
        n = 1
        for d in self.shape[1:]:
            if not isinstance(d, int):
                return None
            n *= d
        return n * BYTES_PER_ELEMENT


def input_shape(net: ir.Network) -> Shape:
    """The network input's shape as sizes: integers, and each symbol as itself."""
    return tuple(E.Chain(d) if isinstance(d, str) else d for d in net.input_dims)  # type: ignore[misc]


def show_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join(E.show(d) for d in shape) + "]"


class _Ctx:
    def __init__(self, net: ir.Network) -> None:
        self.net = net
        self.diags: list[Diagnostic] = []
        self.constraints: list[Constraint] = []
        self.infos: dict[str, LayerInfo] = {}

    def where(self, name: str) -> str:
        """How a producer is named in a message."""
        if name == self.net.input_name:
            return f"the input `{name}`"
        info = self.infos.get(name)
        shown = info.layer.display_name if info else name
        return f"`{shown}`"

    def origin(self, name: str, shape: Shape) -> str:
        return f"{self.where(name)} produces {show_shape(shape)}" if name != self.net.input_name \
            else f"{self.where(name)} is {show_shape(shape)}"

    def err(self, code: str, layer: ir.Layer, message: str, span: Span, **kw) -> None:
        self.diags.append(error(code, message, span, related=_instance_notes(layer), **kw))

    def warn(self, code: str, layer: ir.Layer, message: str, span: Span, **kw) -> None:
        self.diags.append(warning(code, message, span, related=_instance_notes(layer), **kw))

    def require(self, kind: str, lhs, rhs, layer, span, what) -> bool | None:
        """Decide a check now when both sides are known; otherwise keep it for the solver."""
        if isinstance(lhs, int) and isinstance(rhs, int):
            return {"ge": lhs >= rhs, "eq": lhs == rhs, "div": lhs % rhs == 0}[kind]
        self.constraints.append(Constraint(kind, lhs, rhs, layer, span, what))
        return None


def _instance_notes(layer: ir.Layer) -> tuple[Related, ...]:
    return tuple(
        Related(f"in `{inst}`, an instance of block `{block}`", span) for inst, block, span in layer.instance
    )


# ---------------------------------------------------------------------------- rules

_DIM_NAMES = ("height", "width")


def _window(ctx: _Ctx, layer: ir.Layer, shape: Shape, src: str, kernel, stride, padding, dilation,
            ceil: bool, info: LayerInfo) -> tuple[E.Size, E.Size] | None:
    """Output height and width of a convolution or pooling window; None if it does not fit."""
    out: list[E.Size] = []
    drops: list[tuple[int, int, str, str]] = []
    too_big: list[tuple[int, int, E.Size, str]] = []
    ok = True
    for i in range(2):
        size = shape[2 + i]
        k, s, p, d = kernel[i], stride[i], padding[i], dilation[i]
        eff = d * (k - 1) + 1
        padded = E.add(size, 2 * p)
        if ceil:
            # PyTorch: out = ceil((in + 2p - eff) / s) + 1, minus one if the last window starts in
            # the right padding; that is min(ceil((in + 2p - eff + s) / s), ceil((in + p) / s)).
            a = E.step(size, 2 * p - eff + s, s, ceil=True)
            b = E.step(size, p, s, ceil=True)
            o = min(a, b) if isinstance(a, int) and isinstance(b, int) else E.minimum(a, b)  # type: ignore[arg-type]
        else:
            o = E.step(size, 2 * p - eff + s, s)
        # In floor mode the output is empty exactly when the window is larger than the padded input;
        # in ceil mode PyTorch lets a window hang over the edge as long as one output remains.
        if isinstance(o, int) and o < 1:
            k_text = f"{eff} (dilation {d} * ({k} - 1) + 1)" if d > 1 else f"{k}"
            pad_text = f" + 2*{p} padding = {padded}" if p else ""
            too_big.append((i, eff, padded, f"{_DIM_NAMES[i]} {size}{pad_text}, kernel {k_text}"))
            ok = False
            continue
        if not isinstance(o, int):
            ctx.require("ge", o, 1, layer, layer.op_span,
                        f"the {_DIM_NAMES[i]} of `{layer.display_name}`'s window must fit its padded input")
        elif isinstance(size, int):
            exact = Fraction(size + 2 * p - eff, s) + 1
            rounded = "" if exact.denominator == 1 else (f", rounded up to {o}" if ceil else f", floored to {o}")
            pad = f" + 2*{p}" if p else ""
            info.notes.append(
                f"{_DIM_NAMES[i]}: ({size}{pad} - {eff}) / {s} + 1 = {_decimal(exact)}{rounded}"
            )
            dropped = (size + 2 * p - eff) % s - p
            # with a window narrower than its stride, rows are skipped by design: not a surprise
            if not ceil and dropped > 0 and eff >= s:
                drops.append((i, dropped, info.notes[-1], _exact_sizes(size, p, eff, s, o)))
        out.append(o)
    if too_big:
        what = " and ".join(_DIM_NAMES[i] for i, *_ in too_big)
        sizes = " x ".join(str(e) for _, e, _, _ in too_big)
        padded_sizes = " x ".join(str(p) for _, _, p, _ in too_big)
        ctx.err(
            "E0305",
            layer,
            f"`{layer.display_name}`'s window ({what} {sizes}) is larger than its padded input ({padded_sizes})",
            layer.arg_span("kernel"),
            notes=(ctx.origin(src, shape), *(text for *_, text in too_big)),
            helps=(f"use a kernel of at most {padded_sizes}, more padding, or a larger input",),
        )
    if drops:
        words = [f"{n} {('row', 'column')[i]}{'s' if n > 1 else ''}" for i, n, _, _ in drops]
        helps = [h for *_, h in drops]
        span = layer.arg_span("stride")
        ctx.warn(
            "W0401",
            layer,
            f"`{layer.display_name}` drops the last {' and '.join(words)} of its input",
            span if span != layer.op_span else layer.op_span,
            notes=(ctx.origin(src, shape), *(text for _, _, text, _ in drops)),
            helps=tuple(dict.fromkeys(helps)),
        )
    return (out[0], out[1]) if ok else None


def _decimal(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.4f}".rstrip("0")


def _exact_sizes(size: int, p: int, eff: int, s: int, out: int) -> str:
    below = size - ((size + 2 * p - eff) % s)
    above = below + s
    return f"inputs of {below} or {above} divide exactly (giving {out} or {out + 1})"


def _need_rank(ctx: _Ctx, layer: ir.Layer, shape: Shape, src: str, ranks: tuple[int, ...],
               expected: str) -> bool:
    if len(shape) in ranks:
        return True
    helps: tuple[str, ...] = ()
    if isinstance(layer.op, ir.Linear) and len(shape) == 4:
        helps = ("insert `flatten` before it",)
    ctx.err(
        "E0306",
        layer,
        f"`{layer.display_name}` ({ir.op_name(layer.op)}) needs {expected}, but {ctx.origin(src, shape)}",
        layer.op_span,
        helps=helps,
    )
    return False


def conv_rule(ctx: _Ctx, layer: ir.Layer, shapes: list[Shape], srcs: list[str], info: LayerInfo):
    op: ir.Conv = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    n, c_in = shape[0], shape[1]
    g = op.groups
    if ctx.require("div", c_in, g, layer, layer.arg_span("groups"),
                   f"`{layer.display_name}`'s {g} groups must divide its input channels") is False:
        ctx.err("E0303", layer,
                f"{g} groups do not divide the {c_in} input channels of `{layer.display_name}`",
                layer.arg_span("groups"),
                notes=(f"{ctx.origin(src, shape)}",),
                helps=(f"use a number of groups that divides {c_in}: "
                       + ", ".join(str(d) for d in _divisors(c_in)[:8]),))
    if op.filters % g:
        ctx.err("E0304", layer, f"{g} groups do not divide the {op.filters} filters of `{layer.display_name}`",
                layer.arg_span("filters"),
                helps=(f"use {op.filters - op.filters % g} or {op.filters - op.filters % g + g} filters",))
    if op.padding == "same":
        if op.stride != (1, 1):
            ctx.err("E0310", layer, "`padding=same` needs `stride=1`", layer.arg_span("padding"),
                    helps=("give the padding as numbers, e.g. `padding=(kernel - 1) // 2`",))
            return None
        hw: tuple[E.Size, E.Size] | None = (shape[2], shape[3])
    else:
        hw = _window(ctx, layer, shape, src, op.kernel, op.stride, op.padding, op.dilation, False, info)
    per_filter = E.times(E.step(c_in, 0, g), op.kernel[0] * op.kernel[1])
    weights = E.times(per_filter, op.filters)
    info.params = _known(E.add(weights, op.filters if op.bias else 0))
    if hw is None:
        info.macs = None
        return None
    info.macs = _known(E.times(E.times(weights, hw[0]), hw[1]))
    return (n, op.filters, hw[0], hw[1])


def pool_rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    op: ir.Pool = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    hw = _window(ctx, layer, shape, src, op.kernel, op.stride, op.padding, (1, 1), op.ceil, info)
    return None if hw is None else (shape[0], shape[1], hw[0], hw[1])


def adaptive_rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    op: ir.AdaptiveAvgPool = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    h, w = shape[2], shape[3]
    # global pooling (1x1) is meant to average; any other size is a no-op only at one input
    if isinstance(h, int) and isinstance(w, int) and (h, w) != op.output and op.output != (1, 1):
        overlap = h % op.output[0] or w % op.output[1]
        ctx.warn(
            "W0402",
            layer,
            f"`{layer.display_name}` averages {h}x{w} down to {op.output[0]}x{op.output[1]}",
            layer.op_span,
            notes=(f"{ctx.origin(src, shape)}",)
            + (("its windows overlap or differ in size, since the input is not a multiple of the output",)
               if overlap else ()),
            helps=("this is not the identity at this input size; if that is meant, nothing to do",),
        )
    return (shape[0], shape[1], *op.output)


def lrn_rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W] (LRN runs over channels of an image)"):
        return None
    return shape


def batchnorm_rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (2, 4), "[N, C, H, W] or [N, features]"):
        return None
    info.params = _known(E.times(shape[1], 2))
    return shape


def same_rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    return shapes[0]


def flatten_rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    (shape,) = shapes
    features: E.Size = 1
    for d in shape[1:]:
        features = E.times(features, d)
    if len(shape) > 2 and isinstance(features, int):
        info.notes.append(f"features: {' x '.join(E.show(d) for d in shape[1:])} = {features} "
                          f"(from {ctx.origin(srcs[0], shape)})")
    return (shape[0], features)


def linear_rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    op: ir.Linear = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (2,), "[N, features]"):
        return None
    weights = E.times(shape[1], op.features)
    info.params = _known(E.add(weights, op.features if op.bias else 0))
    info.macs = _known(weights)
    return (shape[0], op.features)


def _join_rule(concat: bool):
    def rule(ctx: _Ctx, layer: ir.Layer, shapes, srcs, info: LayerInfo):
        first, first_src = shapes[0], srcs[0]
        channels = first[1] if len(first) > 1 else None
        for shape, src in zip(shapes[1:], srcs[1:]):
            if len(shape) != len(first):
                ctx.err("E0307", layer,
                        f"`{layer.display_name}` joins tensors of different ranks",
                        layer.op_span, notes=(ctx.origin(first_src, first), ctx.origin(src, shape)))
                return None
            for i, (a, b) in enumerate(zip(first, shape)):
                if concat and i == 1:
                    continue
                what = ("the batch", "the channels", "the height", "the width")[i] if len(first) == 4 else \
                    ("the batch", "the features")[i]
                verdict = E.same(a, b)
                if verdict is None:
                    verdict = ctx.require("eq", a, b, layer, layer.op_span,
                                          f"{what} of {ctx.where(first_src)} and {ctx.where(src)} must match "
                                          f"for `{layer.display_name}`")
                if verdict is False:
                    ctx.err("E0307", layer,
                            f"`{layer.display_name}` ({ir.op_name(layer.op)}) needs {what} of its inputs to "
                            f"match: {E.show(a)} and {E.show(b)}",
                            layer.op_span,
                            notes=(ctx.origin(first_src, first), ctx.origin(src, shape)),
                            helps=("`concat` joins over channels; every other size must be equal",)
                            if concat else ("`add` needs identical shapes",))
                    return None
            if concat:
                channels = E.plus(channels, shape[1])  # type: ignore[arg-type]
        if concat:
            return (first[0], channels, *first[2:])
        return first

    return rule


def _known(x: E.Size) -> int | None:
    return x if isinstance(x, int) else None


def _divisors(n) -> list[int]:
    if not isinstance(n, int):
        return []
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


Rule = Callable[[_Ctx, ir.Layer, list[Shape], list[str], LayerInfo], Shape | None]
RULES: dict[type, Rule] = {
    ir.Conv: conv_rule,
    ir.Pool: pool_rule,
    ir.AdaptiveAvgPool: adaptive_rule,
    ir.LRN: lrn_rule,
    ir.BatchNorm: batchnorm_rule,
    ir.Dropout: same_rule,
    ir.Activation: same_rule,
    ir.Flatten: flatten_rule,
    ir.Linear: linear_rule,
    ir.Add: _join_rule(concat=False),
    ir.Concat: _join_rule(concat=True),
}


# ---------------------------------------------------------------------------- assertions


def _declared(dims: tuple[ir.Dim, ...], computed: Shape | None) -> Shape:
    """The shape an assertion states; `_` keeps the computed size."""
    out: list[E.Size] = []
    for i, d in enumerate(dims):
        if d is None:
            out.append(computed[i] if computed is not None and i < len(computed) else E.Chain(f"_{i}"))
        elif isinstance(d, str):
            out.append(E.Chain(d))
        else:
            out.append(d)
    return tuple(out)


def check_assertion(ctx: _Ctx, layer: ir.Layer | None, info: LayerInfo | None, shape: Shape | None,
                    assertion: ir.Assertion, code: str, who: str, inverse=None) -> Shape | None:
    """Compare a shape with an assertion. Returns the shape to continue from."""
    if shape is None:
        return _declared(assertion.dims, None) if all(d is not None for d in assertion.dims) else None
    stated = _declared(assertion.dims, shape)
    shown = "[" + ", ".join("_" if d is None else str(d) for d in assertion.dims) + "]"
    related = _instance_notes(layer) if layer is not None else ()
    if len(stated) != len(shape):
        ctx.diags.append(error(code, f"{who} produces {show_shape(shape)}, but {shown} is asserted",
                               assertion.span, label=f"rank {len(stated)}, not {len(shape)}", related=related))
        return stated
    bad = []
    for i, (want, got) in enumerate(zip(stated, shape)):
        if assertion.dims[i] is None:
            continue
        verdict = E.same(want, got)
        if verdict is None and layer is not None:
            verdict = ctx.require("eq", got, want, layer, assertion.dim_spans[i],
                                  f"{who}'s {_dim_word(i, len(shape))} must equal the asserted "
                                  f"{E.show(want)}")
        elif verdict is None:
            verdict = ctx.require("eq", got, want, None, assertion.dim_spans[i],
                                  f"the output's {_dim_word(i, len(shape))} must equal the declared "
                                  f"{E.show(want)}")
        if verdict is False:
            bad.append(i)
    if bad:
        first = bad[0]
        span = assertion.dim_spans[first] if len(bad) == 1 else assertion.span
        notes = list(info.notes) if info is not None else []
        helps = list(inverse(bad, stated)) if inverse else []
        ctx.diags.append(error(
            code,
            f"{who} produces {show_shape(shape)}, but {shown} is asserted",
            span,
            label="; ".join(f"{_dim_word(i, len(shape))} is {E.show(shape[i])}" for i in bad),
            notes=tuple(notes),
            helps=tuple(helps),
            related=related,
        ))
    return stated


def _dim_word(i: int, rank: int) -> str:
    if i == 0:
        return "batch"
    if rank == 4:
        return ("batch", "channels", "height", "width")[i]
    return "features" if i == 1 else f"dimension {i}"


# ---------------------------------------------------------------------------- the pass


@dataclass
class ShapeResult:
    infos: list[LayerInfo]  # source order
    output: Shape | None
    constraints: list[Constraint]
    diagnostics: list[Diagnostic]
    order: list[int]


def _topological(ctx: _Ctx, net: ir.Network) -> list[int]:
    """A topological order, source order where possible; layers on a cycle are reported once."""
    index = {layer.name: i for i, layer in enumerate(net.layers)}
    order = _stable_topological(net, index)
    if len(order) == len(net.layers):
        return order
    left = set(range(len(net.layers))) - set(order)
    reported: set[int] = set()
    for start in sorted(left):
        if start in reported:
            continue
        # walk inputs until a layer repeats: that is a cycle
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
        if node in seen and node in path[seen[node]:]:
            cycle = path[seen[node]:]
            if reported.isdisjoint(cycle):
                names = " -> ".join(f"`{net.layers[k].display_name}`" for k in reversed([*cycle, cycle[0]]))
                layer = net.layers[min(cycle)]
                ctx.err("E0203", layer, f"layers depend on each other in a cycle: {names}",
                        layer.name_span or layer.op_span,
                        helps=("a layer reads the line above it unless it says `from NAME`",))
            reported.update(cycle)
        reported.add(start)
    return order


def _stable_topological(net: ir.Network, index: dict[str, int]) -> list[int]:
    """Kahn's algorithm, taking the earliest ready layer first (so source order when it is valid)."""
    consumers: dict[int, list[int]] = {i: [] for i in range(len(net.layers))}
    missing = [0] * len(net.layers)
    for i, layer in enumerate(net.layers):
        for name in layer.inputs:
            if name in index:
                consumers[index[name]].append(i)
                missing[i] += 1
    heap = [i for i in range(len(net.layers)) if missing[i] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        i = heapq.heappop(heap)
        order.append(i)
        for j in consumers[i]:
            missing[j] -= 1
            if missing[j] == 0:
                heapq.heappush(heap, j)
    return order


def infer(net: ir.Network, inverse_help=None) -> ShapeResult:
    """Infer every layer's shape; collect diagnostics and the constraints left for the solver."""
    ctx = _Ctx(net)
    shapes: dict[str, Shape | None] = {net.input_name: input_shape(net)}
    infos = [LayerInfo(layer) for layer in net.layers]
    for info in infos:
        ctx.infos[info.layer.name] = info
    order = _topological(ctx, net)
    # After a failed assertion checking goes on from the asserted shape; a later error that depends on
    # it says so (it may go away with the assertion's fix). layer name -> (asserted layer, its own shape)
    assumed: dict[str, tuple[ir.Layer, Shape | None]] = {}
    for i in order:
        info = infos[i]
        layer = info.layer
        ins = [shapes.get(name) for name in layer.inputs]
        shape: Shape | None = None
        before = len(ctx.diags)
        if layer.inputs and all(s is not None for s in ins) and not isinstance(layer.op, ir.Invalid):
            rule = RULES[type(layer.op)]
            try:
                shape = rule(ctx, layer, ins, list(layer.inputs), info)  # type: ignore[arg-type]
            except Exception as e:  # an internal failure: say which layer it happened on
                raise RuntimeError(f"internal error while checking `{layer.name}` (line {layer.span.line})") from e
        else:
            info.params = info.macs = None
        if shape is None:
            info.macs = None
        origin = next((assumed[name] for name in layer.inputs if name in assumed), None)
        if origin is not None:
            _note_assumption(ctx.diags, before, origin)
        computed = shape
        for assertion in layer.assertions:
            inverse = inverse_help(layer, info, ins) if inverse_help else None
            failed = len(ctx.diags)
            shape = check_assertion(ctx, layer, info, shape, assertion, "E0301", f"`{layer.display_name}`",
                                    inverse)
            if any(d.code == "E0301" for d in ctx.diags[failed:]):
                origin = (layer, computed)
        if origin is not None:
            assumed[layer.name] = origin
        info.shape = shape
        shapes[layer.name] = shape
    output = shapes.get(net.output_layer)
    if net.output is not None and output is not None:
        output = check_assertion(ctx, None, infos[-1] if infos else None, output, net.output, "E0302",
                                 f"the network's output `{net.output_layer.split(chr(39))[0]}`")
    _unused(ctx, net)
    return ShapeResult(infos, output, ctx.constraints, ctx.diags, order)


def _note_assumption(diags: list[Diagnostic], start: int, origin: tuple[ir.Layer, Shape | None]) -> None:
    """Add to the errors from `start` on that they rest on a failed assertion's shape."""
    layer, computed = origin
    assertion = layer.assertions[-1]
    text = (f"this takes `{layer.display_name}` to be {_shown(assertion.dims)} as asserted on line "
            f"{assertion.span.line}" + (f", though it computes {show_shape(computed)}" if computed else "")
            + "; if the assertion is the mistake, fixing it fixes this too")
    for k in range(start, len(diags)):
        if diags[k].is_error:
            diags[k] = replace(diags[k], notes=(*diags[k].notes, text))


def _shown(dims: tuple[ir.Dim, ...]) -> str:
    return "[" + ", ".join("_" if d is None else str(d) for d in dims) + "]"


def _unused(ctx: _Ctx, net: ir.Network) -> None:
    if any(len(layer.inputs) == 0 for layer in net.layers):
        return  # a reference could not be resolved: what is used is not known
    used = {name for layer in net.layers for name in layer.inputs}
    for layer in net.layers[:-1]:
        if layer.name not in used and not layer.instance:
            ctx.warn("W0404", layer, f"the output of `{layer.display_name}` is never used",
                     layer.name_span or layer.op_span,
                     helps=("remove the layer, or use it with `from` or in `add`/`concat`",))


def exact_inputs(layer: ir.Layer, dim: int, target: int) -> IntSet | None:
    """Input sizes of a conv/pool layer's dimension that give `target` (for help messages)."""
    from .solve import equal_to

    op = layer.op
    x = E.Chain("x")
    if isinstance(op, ir.Conv) and op.padding != "same":
        eff = op.dilation[dim] * (op.kernel[dim] - 1) + 1
        f = E.step(x, 2 * op.padding[dim] - eff + op.stride[dim], op.stride[dim])  # type: ignore[index]
    elif isinstance(op, ir.Pool) and not op.ceil:
        eff = op.kernel[dim]
        f = E.step(x, 2 * op.padding[dim] - eff + op.stride[dim], op.stride[dim])
    else:
        return None
    r = equal_to(f, target)
    return r if isinstance(r, IntSet) else None

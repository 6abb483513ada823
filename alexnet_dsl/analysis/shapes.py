"""IR -> the shape of every layer, its parameters and MACs, and shape diagnostics.

One rule per op, in a table. A rule gets the layer and the shapes of its inputs and returns the
output shape, or None when the shape cannot be known (its error is already reported). A layer
whose input is unknown is skipped silently, and after a failed assertion checking goes on from the
asserted shape: one mistake, one error.

With symbolic input sizes the checks that depend on a symbol become constraints for solve.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction

from alexnet_dsl import ir
from alexnet_dsl.analysis.solve import IntSet, divisors
from alexnet_dsl.diagnostics import Diagnostic, Edit, Related, Rewrite, error, warning
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Span

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
        return (
            f"{self.where(name)} produces {show_shape(shape)}"
            if name != self.net.input_name
            else f"{self.where(name)} is {show_shape(shape)}"
        )

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


def _window(
    ctx: _Ctx,
    layer: ir.Layer,
    shape: Shape,
    src: str,
    kernel,
    stride,
    padding,
    dilation,
    ceil: bool,
    info: LayerInfo,
) -> tuple[E.Size, E.Size] | None:
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
            ctx.require(
                "ge",
                o,
                1,
                layer,
                layer.op_span,
                f"the {_DIM_NAMES[i]} of `{layer.display_name}`'s window must fit its padded input",
            )
        elif isinstance(size, int):
            exact = Fraction(size + 2 * p - eff, s) + 1
            rounded = (
                "" if exact.denominator == 1 else (f", rounded up to {o}" if ceil else f", floored to {o}")
            )
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
        span = layer.arg_span("stride")
        notes = [ctx.origin(src, shape), *(text for _, _, text, _ in drops)]
        rewrites: tuple[Rewrite, ...] = ()
        if src == ctx.net.input_name and len(ctx.net.input_dim_spans) == len(shape):
            rewrites = _exact_input_rewrites(ctx.net, drops)
        else:  # the sizes of a layer inside the network are not written anywhere: a fact, not a fix
            notes += dict.fromkeys(
                f"inputs of {lo} or {hi} divide exactly (giving {o} or {o + 1})" for *_, (lo, hi, o) in drops
            )
        ctx.warn(
            "W0401",
            layer,
            f"`{layer.display_name}` drops the last {' and '.join(words)} of its input",
            span if span != layer.op_span else layer.op_span,
            notes=tuple(notes),
            rewrites=rewrites,
        )
    return (out[0], out[1]) if ok else None


def _decimal(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.4f}".rstrip("0")


def _exact_sizes(size: int, p: int, eff: int, s: int, out: int) -> tuple[int, int, int]:
    """The nearest input sizes below and above `size` that the window divides exactly, and the output
    size of the smaller (the larger gives one more)."""
    below = size - ((size + 2 * p - eff) % s)
    return below, below + s, out


def argument_edit(layer: ir.Layer, key: str, text: str) -> Edit | None:
    """Write `key=text` in a layer's call: replace the argument's value, or add it after the last argument."""
    spans = dict(layer.arg_spans)
    if key in spans:
        return Edit(spans[key], text)
    if not spans:
        return None
    last = max(spans.values(), key=lambda s: (s.end_line, s.end_col))
    return Edit(Span(last.end_line, last.end_col, last.end_line, last.end_col), f", {key}={text}")


def _argument_rewrite(layer: ir.Layer, help_text: str, key: str, text: str) -> Rewrite:
    edit = argument_edit(layer, key, text)
    return Rewrite(help_text, (edit,) if edit is not None else ())


def _exact_input_rewrites(net: ir.Network, drops: list) -> tuple[Rewrite, ...]:
    """For a layer on the network's input: the input sizes, below and above, that its window divides
    exactly, as rewrites of the input's declared sizes (shown once the rewritten spec checks)."""
    out = []
    for pick in (0, 1):  # the sizes below, then above
        edits = tuple(Edit(net.input_dim_spans[2 + i], str(sizes[pick])) for i, _, _, sizes in drops)
        values = [(sizes[pick], sizes[2] + pick) for *_, sizes in drops]
        if len(drops) == 2:
            (vh, oh), (vw, ow) = values
            text = f"an input of {vh}x{vw} divides exactly (giving {oh}x{ow})"
        else:
            (v, o), i = values[0], drops[0][0]
            text = f"an input {_DIM_NAMES[i]} of {v} divides exactly (giving {o})"
        out.append(Rewrite(text, edits))
    return tuple(out)


def _need_rank(
    ctx: _Ctx, layer: ir.Layer, shape: Shape, src: str, ranks: tuple[int, ...], expected: str
) -> bool:
    if len(shape) in ranks:
        return True
    rewrites: tuple[Rewrite, ...] = ()
    if isinstance(layer.op, ir.Linear) and len(shape) == 4:
        start = Span(layer.span.line, layer.span.col, layer.span.line, layer.span.col)  # a line of its own
        rewrites = (
            Rewrite("insert `flatten` before it", (Edit(start, "flatten\n" + " " * (layer.span.col - 1)),)),
        )
    ctx.err(
        "E0306",
        layer,
        f"`{layer.display_name}` ({ir.op_name(layer.op)}) needs {expected}, but {ctx.origin(src, shape)}",
        layer.op_span,
        rewrites=rewrites,
    )
    return False


def conv_rule(ctx: _Ctx, layer: ir.Layer, shapes: list[Shape], srcs: list[str], info: LayerInfo):
    op: ir.Conv = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    n, c_in = shape[0], shape[1]
    g = op.groups
    if (
        ctx.require(
            "div",
            c_in,
            g,
            layer,
            layer.arg_span("groups"),
            f"`{layer.display_name}`'s {g} groups must divide its input channels",
        )
        is False
    ):
        divisors = _divisors(c_in)
        ctx.err(
            "E0303",
            layer,
            f"{g} groups do not divide the {c_in} input channels of `{layer.display_name}`",
            layer.arg_span("groups"),
            notes=(
                f"{ctx.origin(src, shape)}",
                f"the divisors of {c_in}: " + ", ".join(str(d) for d in divisors[:8]),
            ),
            # the nearest numbers of groups that divide both the channels and the filters
            rewrites=tuple(
                _argument_rewrite(layer, f"use `groups={d}`", "groups", str(d))
                for d in sorted((d for d in divisors if op.filters % d == 0), key=lambda d: (abs(d - g), d))[
                    :2
                ]
            ),
        )
    if op.filters % g:
        below = op.filters - op.filters % g
        ctx.err(
            "E0304",
            layer,
            f"{g} groups do not divide the {op.filters} filters of `{layer.display_name}`",
            layer.arg_span("filters"),
            rewrites=tuple(
                _argument_rewrite(layer, f"use {f} filters", "filters", str(f))
                for f in (below, below + g)
                if f > 0
            ),
        )
    if op.padding == "same":
        if op.stride != (1, 1):
            # the padding that keeps the size at stride 1: half the effective kernel on each side
            p = [op.dilation[i] * (op.kernel[i] - 1) // 2 for i in range(2)]
            text = str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"
            ctx.err(
                "E0310",
                layer,
                "`padding=same` needs `stride=1`",
                layer.arg_span("padding"),
                rewrites=(
                    _argument_rewrite(
                        layer,
                        f"give the padding as numbers: `padding={text}` is half the kernel",
                        "padding",
                        text,
                    ),
                ),
            )
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
        oh, ow = op.output
        # per axis: a smaller output averages windows, a larger one repeats input values
        if h >= oh and w >= ow:
            what = f"averages {h}x{w} down to {oh}x{ow}"
        elif h <= oh and w <= ow:
            what = f"enlarges {h}x{w} to {oh}x{ow}, repeating input values"
        else:
            down, up = ("height", "width") if h > oh else ("width", "height")
            what = (
                f"resizes {h}x{w} to {oh}x{ow}: it averages over the {down} and repeats values along the {up}"
            )
        uneven = any(max(i, o) % min(i, o) for i, o in ((h, oh), (w, ow)))
        ctx.warn(
            "W0402",
            layer,
            f"`{layer.display_name}` {what}",
            layer.op_span,
            notes=(f"{ctx.origin(src, shape)}",)
            + (
                (
                    "its windows overlap or differ in size, since neither of input and output is a multiple of "
                    "the other",
                )
                if uneven
                else ()
            ),
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
        info.notes.append(
            f"features: {' x '.join(E.show(d) for d in shape[1:])} = {features} "
            f"(from {ctx.origin(srcs[0], shape)})"
        )
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
                ctx.err(
                    "E0307",
                    layer,
                    f"`{layer.display_name}` joins tensors of different ranks",
                    layer.op_span,
                    notes=(ctx.origin(first_src, first), ctx.origin(src, shape)),
                )
                return None
            for i, (a, b) in enumerate(zip(first, shape)):
                if concat and i == 1:
                    continue
                what = (
                    ("the batch", "the channels", "the height", "the width")[i]
                    if len(first) == 4
                    else ("the batch", "the features")[i]
                )
                verdict = E.same(a, b)
                if verdict is None:
                    verdict = ctx.require(
                        "eq",
                        a,
                        b,
                        layer,
                        layer.op_span,
                        f"{what} of {ctx.where(first_src)} and {ctx.where(src)} must match "
                        f"for `{layer.display_name}`",
                    )
                if verdict is False:
                    ctx.err(
                        "E0307",
                        layer,
                        f"`{layer.display_name}` ({ir.op_name(layer.op)}) needs {what} of its inputs to "
                        f"match: {E.show(a)} and {E.show(b)}",
                        layer.op_span,
                        notes=(ctx.origin(first_src, first), ctx.origin(src, shape)),
                        helps=("`concat` joins over channels; every other size must be equal",)
                        if concat
                        else ("`add` needs identical shapes",),
                    )
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
    """The divisors of a known size, for helps ([] when unknown; the solver's factoring bounds the work)."""
    return (divisors(n) or []) if isinstance(n, int) and n >= 1 else []


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


def check_assertion(
    ctx: _Ctx,
    layer: ir.Layer | None,
    info: LayerInfo | None,
    shape: Shape | None,
    assertion: ir.Assertion,
    code: str,
    who: str,
    inverse=None,
) -> Shape | None:
    """Compare a shape with an assertion. Returns the shape to continue from."""
    if shape is None:
        return _declared(assertion.dims, None) if all(d is not None for d in assertion.dims) else None
    stated = _declared(assertion.dims, shape)
    shown = "[" + ", ".join("_" if d is None else str(d) for d in assertion.dims) + "]"
    related = _instance_notes(layer) if layer is not None else ()
    if len(stated) != len(shape):
        ctx.diags.append(
            error(
                code,
                f"{who} produces {show_shape(shape)}, but {shown} is asserted",
                assertion.span,
                label=f"rank {len(stated)}, not {len(shape)}",
                related=related,
            )
        )
        return stated
    bad = []
    for i, (want, got) in enumerate(zip(stated, shape)):
        if assertion.dims[i] is None:
            continue
        verdict = E.same(want, got)
        if verdict is None and layer is not None:
            verdict = ctx.require(
                "eq",
                got,
                want,
                layer,
                assertion.dim_spans[i],
                f"{who}'s {_dim_word(i, len(shape))} must equal the asserted {E.show(want)}",
            )
        elif verdict is None:
            verdict = ctx.require(
                "eq",
                got,
                want,
                None,
                assertion.dim_spans[i],
                f"the output's {_dim_word(i, len(shape))} must equal the declared {E.show(want)}",
            )
        if verdict is False:
            bad.append(i)
    if bad:
        first = bad[0]
        span = assertion.dim_spans[first] if len(bad) == 1 else assertion.span
        notes = list(info.notes) if info is not None else []
        # the inverse explains (a string: a note) and proposes (a Rewrite: a help once verified)
        found = list(inverse(bad, stated)) if inverse else []
        notes += [h for h in found if isinstance(h, str)]
        rewrites = tuple(h for h in found if isinstance(h, Rewrite))
        ctx.diags.append(
            error(
                code,
                f"{who} produces {show_shape(shape)}, but {shown} is asserted",
                span,
                label="; ".join(f"{_dim_word(i, len(shape))} is {E.show(shape[i])}" for i in bad),
                notes=tuple(notes),
                rewrites=rewrites,
                related=related,
            )
        )
    return stated


def one_error_per_assertion(net: ir.Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Merge the solver's E0308 errors on the axes of one assertion into one error naming every axis:
    the constraints are per axis, the mistake is the assertion."""
    owner: dict[Span, tuple[ir.Assertion, str, int]] = {}
    for layer in net.layers:
        for a in layer.assertions:
            for i, s in enumerate(a.dim_spans):
                owner.setdefault(s, (a, f"`{layer.display_name}`", i))
    if net.output is not None:
        for i, s in enumerate(net.output.dim_spans):
            owner.setdefault(s, (net.output, "the network's output", i))
    groups: dict[Span, list[int]] = {}
    for k, d in enumerate(diags):
        if d.code == "E0308" and d.span in owner:
            groups.setdefault(owner[d.span][0].span, []).append(k)
    merged: dict[int, Diagnostic] = {}
    dropped: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        first = diags[members[0]]
        assertion, who, _ = owner[first.span]  # type: ignore[index]
        axes = [owner[diags[k].span][2] for k in members]  # type: ignore[index]
        words = list(dict.fromkeys(_dim_word(i, len(assertion.dims)) for i in axes))
        merged[members[0]] = replace(
            first,
            message=f"no input size gives {who} the asserted {_shown(assertion.dims)}",
            span=assertion.span,
            label=" and ".join(words),
            notes=tuple(dict.fromkeys(n for k in members for n in diags[k].notes)),
        )
        dropped.update(members[1:])
    return [merged.get(k, d) for k, d in enumerate(diags) if k not in dropped]


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


def _checked_order(ctx: _Ctx, net: ir.Network) -> list[int]:
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
        if node in seen and node in path[seen[node] :]:
            cycle = path[seen[node] :]
            if reported.isdisjoint(cycle):
                names = " -> ".join(f"`{net.layers[k].display_name}`" for k in reversed([*cycle, cycle[0]]))
                layer = net.layers[min(cycle)]
                ctx.err(
                    "E0203",
                    layer,
                    f"layers depend on each other in a cycle: {names}",
                    layer.name_span or layer.op_span,
                    helps=("a layer reads the line above it unless it says `from NAME`",),
                )
            reported.update(cycle)
        reported.add(start)
    return order


def _compute(ctx: _Ctx, layer: ir.Layer, ins: list[Shape | None], info: LayerInfo) -> Shape | None:
    """One layer's output shape by its rule; None (silently) when an input is unknown."""
    shape: Shape | None = None
    if layer.inputs and all(s is not None for s in ins) and not isinstance(layer.op, ir.Invalid):
        rule = RULES[type(layer.op)]
        try:
            shape = rule(ctx, layer, ins, list(layer.inputs), info)  # type: ignore[arg-type]
        except Exception as e:  # an internal failure: say which layer it happened on
            raise RuntimeError(
                f"internal error while checking `{layer.name}` (line {layer.span.line})"
            ) from e
    else:
        info.params = info.macs = None
    if shape is None:
        info.macs = None
    return shape


def infer(net: ir.Network, inverse_help=None) -> ShapeResult:
    """Infer every layer's shape; collect diagnostics and the constraints left for the solver."""
    ctx = _Ctx(net)
    shapes: dict[str, Shape | None] = {net.input_name: input_shape(net)}
    infos = [LayerInfo(layer) for layer in net.layers]
    for info in infos:
        ctx.infos[info.layer.name] = info
    order = _checked_order(ctx, net)
    later = _Downstream(ctx, net, order)
    # After a failed assertion checking goes on from the asserted or the computed shape, whichever
    # leaves fewer errors after it; a later error that rests on an asserted shape says so (it may go
    # away with the assertion's fix). layer name -> (asserted layer, its own shape)
    assumed: dict[str, tuple[ir.Layer, Shape | None]] = {}
    bodies: dict[Span, list[_BodyCheck]] = {}  # an assertion in a block's body: its check in each instance
    for k, i in enumerate(order):
        info = infos[i]
        layer = info.layer
        ins = [shapes.get(name) for name in layer.inputs]
        before = len(ctx.diags)
        shape = _compute(ctx, layer, ins, info)
        origin = next((assumed[name] for name in layer.inputs if name in assumed), None)
        if origin is not None:
            _note_assumption(ctx.diags, before, origin)
        computed = shape
        for a, assertion in enumerate(layer.assertions):
            inverse = inverse_help(layer, info, ins) if inverse_help else None
            failed = len(ctx.diags)
            stated = check_assertion(
                ctx, layer, info, shape, assertion, "E0301", f"`{layer.display_name}`", inverse
            )
            wrong = next((j for j in range(failed, len(ctx.diags)) if ctx.diags[j].code == "E0301"), None)
            keep = True
            if _in_body(layer, assertion):
                bodies.setdefault(assertion.span, []).append(
                    _BodyCheck(layer, assertion, shape, stated, wrong)
                )
            if wrong is not None and shape is not None:
                rest = layer.assertions[a + 1 :]
                keep, ctx.diags[wrong] = later.choose(
                    k, shapes, layer, shape, stated, rest, ctx.diags[wrong], assertion
                )
                if keep:
                    origin = (layer, computed)
                    shape = stated
            else:
                shape = stated
            if _in_body(layer, assertion):
                bodies[assertion.span][-1].kept = keep
        if origin is not None:
            assumed[layer.name] = origin
        info.shape = shape
        shapes[layer.name] = shape
    output = shapes.get(net.output_layer)
    if net.output is not None and output is not None:
        output_info = ctx.infos.get(net.output_layer)
        output = check_assertion(
            ctx,
            None,
            output_info,
            output,
            net.output,
            "E0302",
            f"the network's output `{net.output_layer.split(chr(39))[0]}`",
        )
    _unused(ctx, net)
    diags = _one_error_per_body_assertion(ctx.diags, bodies)
    return ShapeResult(infos, output, ctx.constraints, diags)


@dataclass
class _BodyCheck:
    """One instance's check of an assertion written in a block's body."""

    layer: ir.Layer
    assertion: ir.Assertion
    shape: Shape | None  # what the layer computes (None: unknown)
    stated: Shape | None
    error: int | None  # its E0301 in the diagnostics, if it failed
    kept: bool = True  # checking went on from the asserted shape


_OTHER_INSTANCES = 4  # the other instances an error in a block's body names; the rest are counted


def _one_error_per_body_assertion(
    diags: list[Diagnostic], bodies: dict[Span, list[_BodyCheck]]
) -> list[Diagnostic]:
    """An assertion in a block's body that fails in several instances is one mistake: one error, at the
    first instance's, naming the others; its help (the assertion rewritten to hold in every instance) is
    proposed when checking went on from the computed shape in each instance where it failed."""
    dropped: set[int] = set()
    diags = list(diags)
    for checks in bodies.values():
        failed = [c for c in checks if c.error is not None]
        if not failed:
            continue
        first = failed[0]
        d = diags[first.error]  # type: ignore[index]
        notes = list(d.notes)
        related = list(d.related)
        shown = set(related)
        for n, c in enumerate(failed[1:]):
            dropped.add(c.error)  # type: ignore[arg-type]
            if n == _OTHER_INSTANCES:
                notes.append(f"also in {len(failed) - 1 - n} more instances")
            if n >= _OTHER_INSTANCES:
                continue
            inst, _, call = c.layer.instance[0]
            notes.append(
                f"also in `{inst}` (line {call.line}): `{c.layer.display_name}` produces "
                f"{show_shape(c.shape)}"
            )
            for r in _instance_notes(c.layer):
                if r not in shown:
                    shown.add(r)
                    related.append(r)
        rewrites = d.rewrites
        fix = _body_fix(checks) if not any(c.kept for c in failed) else None
        if fix is not None:
            rewrites = (*rewrites, fix)
        diags[first.error] = replace(
            d,
            notes=tuple(notes),
            related=tuple(related),  # type: ignore[index]
            rewrites=rewrites,
        )
    return [d for k, d in enumerate(diags) if k not in dropped] if dropped else diags


def _body_fix(checks: list[_BodyCheck]) -> Rewrite | None:
    """The body's assertion rewritten to hold in every instance: each size that fails somewhere becomes
    the size every instance computes, or `_` where they differ; the sizes that hold stay as written (a
    block parameter such as `filters` too, since only the failing sizes are edited)."""
    assertion = checks[0].assertion
    bad: set[int] = set()
    for c in checks:
        if c.error is None:
            continue
        if c.shape is None or c.stated is None:
            return None
        axes = _differing(c.assertion, c.stated, c.shape)
        if axes is None:
            return None  # another rank: no size to write
        bad.update(axes)
    if not bad:
        return None
    rank = len(assertion.dims)
    texts: dict[int, str] = {}
    for i in sorted(bad):
        values = {c.shape[i] for c in checks if c.shape is not None and i < len(c.shape)}
        (v,) = values if len(values) == 1 else ("_",)
        texts[i] = str(v) if isinstance(v, int) else "_"
    by_text: dict[str, list[str]] = {}
    for i, t in texts.items():
        by_text.setdefault(t, []).append(_dim_word(i, rank))
    what = " and ".join(f"`{t}` for its {' and '.join(words)}" for t, words in by_text.items())
    return Rewrite(
        f"if the assertion is the mistake, write {what}",
        tuple(Edit(assertion.dim_spans[i], t) for i, t in texts.items()),
    )


class _Downstream:
    """Choose, for a failed assertion, the shape to go on from: the asserted one (the layer is the
    mistake: AlexNet's conv1 at 224) or the computed one (the assertion is the mistake), whichever
    leaves fewer errors after it. Ties keep the asserted shape.

    Both choices are checked side by side over the layers after the assertion, only until they agree
    again (every layer fed by a differing shape is computed, and a full assertion makes them agree),
    so the cost is the stretch up to the next assertion, not the rest of the network; the choices of
    later failed assertions are made greedily in topological order, never as a search over all.
    """

    def __init__(self, ctx: _Ctx, net: ir.Network, order: list[int]) -> None:
        self.ctx, self.net, self.order = ctx, net, order
        self.consumers: dict[str, int] = {}
        for i in order:
            for name in set(net.layers[i].inputs):
                self.consumers[name] = self.consumers.get(name, 0) + 1

    def _trial(self) -> _Ctx:
        t = _Ctx(self.net)
        t.infos = self.ctx.infos  # names only
        return t

    def _assertions(
        self, t: _Ctx, layer: ir.Layer, shape: Shape | None, assertions: tuple[ir.Assertion, ...], who: str
    ) -> Shape | None:
        """A layer's assertions checked in a trial as the main pass checks them: after one fails, go on
        from the computed shape when the layer's own later assertions (the one on a block's call, after
        one in its body) agree with it better. Only the layer's assertions are checked again, no layer."""
        for n, a in enumerate(assertions):
            before = len(t.diags)
            stated = check_assertion(t, layer, None, shape, a, "E0301", who)
            rest = assertions[n + 1 :]
            if rest and shape is not None and stated != shape and any(d.is_error for d in t.diags[before:]):
                counts = []
                for start in (stated, shape):
                    probe = self._trial()
                    for b in rest:
                        start = check_assertion(probe, layer, None, start, b, "E0301", who)
                    counts.append(_errors(probe))
                if counts[1] < counts[0]:
                    stated = shape
            shape = stated
        return shape

    def errors_after(
        self,
        k: int,
        shapes: dict[str, Shape | None],
        layer: ir.Layer,
        choices: list[Shape],
        rest: tuple[ir.Assertion, ...],
        own: Span | None = None,
    ) -> tuple[list[int], bool, tuple[str, str, bool] | None]:
        """The errors after position `k` of the order for each choice of `layer`'s shape, whether any
        later layer (or the declared output) sees a difference, and what was compared: the first and
        last layer that saw one, and whether the choices agree again after the last (else the
        difference reaches the network's output). Errors within `own` (an assertion in a block's body,
        failing in a later instance too) are not counted: they are this error's, reported once."""
        net = self.net
        trials = [self._trial() for _ in choices]
        who = f"`{layer.display_name}`"
        diff: list[dict[str, Shape | None]] = []
        for t, s in zip(trials, choices):
            diff.append({layer.name: self._assertions(t, layer, s, rest, who)})
        if all(d[layer.name] == diff[0][layer.name] for d in diff):
            return [_errors(t, own) for t in trials], False, None
        reached: list[str] = []  # the layers that see a difference, in order
        open_uses = self.consumers.get(layer.name, 0)
        seen = open_uses > 0 or (layer.name == net.output_layer and net.output is not None)
        side: dict[str, Shape | None] = {}  # layers after `k` that no choice changes
        scratch = self._trial()
        for pos in range(k + 1, len(self.order)):  # (not a slice: that alone would cost the whole rest)
            if open_uses == 0:
                break
            lay = net.layers[self.order[pos]]
            touched = [n for n in set(lay.inputs) if n in diff[0]]
            if not touched:
                side[lay.name] = _compute(
                    scratch, lay, [side.get(n, shapes.get(n)) for n in lay.inputs], LayerInfo(lay)
                )
                side[lay.name] = self._assertions(scratch, lay, side[lay.name], lay.assertions, "")
                continue
            open_uses -= len(touched)
            reached.append(lay.display_name)
            outs: list[Shape | None] = []
            for t, d in zip(trials, diff):
                ins = [d[n] if n in d else side.get(n, shapes.get(n)) for n in lay.inputs]
                out = _compute(t, lay, ins, LayerInfo(lay))
                outs.append(self._assertions(t, lay, out, lay.assertions, f"`{lay.display_name}`"))
            if any(o != outs[0] for o in outs):
                for d, o in zip(diff, outs):
                    d[lay.name] = o
                open_uses += self.consumers.get(lay.name, 0)
        if net.output is not None and net.output_layer in diff[0]:
            for t, d in zip(trials, diff):
                check_assertion(t, None, None, d[net.output_layer], net.output, "E0302", "the output")
        met = open_uses == 0 and net.output_layer not in diff[0]
        reach = (reached[0], reached[-1], met) if reached else None
        return [_errors(t, own) for t in trials], seen, reach

    def choose(
        self,
        k: int,
        shapes: dict[str, Shape | None],
        layer: ir.Layer,
        computed: Shape,
        stated: Shape,
        rest: tuple[ir.Assertion, ...],
        diag: Diagnostic,
        assertion: ir.Assertion,
    ) -> tuple[bool, Diagnostic]:
        """Whether to go on from the asserted shape, and the assertion's error saying which was chosen.

        Fewer errors after it decide; on a tie the asserted shape (the layer or its input is the
        mistake), unless no argument of the layer itself can change the sizes that differ (a
        `flatten`, a pool's channels): then the layer cannot be the mistake, and going on from an
        asserted shape it cannot produce would only make the later numbers wrong."""
        in_body = _in_body(layer, assertion)
        (n_stated, n_computed), seen, reach = self.errors_after(
            k, shapes, layer, [stated, computed], rest, assertion.span if in_body else None
        )
        bad = _differing(assertion, stated, computed)
        fixed = not (_on_call(layer, assertion) or _can_change(layer, bad))
        tie = n_stated == n_computed
        if not seen and tie and not fixed:
            return True, diag
        keep = n_stated < n_computed or (tie and not fixed)
        # what the counts cover: the layer's own later assertions, and the layers its shape reaches up to
        # where the two choices agree again (a later, independent mistake beyond that is not counted)
        parts: list[str] = []
        if rest:
            lines = list(dict.fromkeys(a.span.line for a in rest))
            parts.append(
                f"the assertion on line {lines[0]}"
                if len(lines) == 1
                else f"the assertions on lines {', '.join(map(str, lines))}"
            )
        if seen and reach is None:  # the layer is the output: only the declared output sees it
            parts.append("the declared output")
        elif seen and reach is not None:
            first, last, met = reach
            if not met:
                parts.append(f"the layers after `{layer.display_name}`")
            elif first == last:
                parts.append(f"`{first}`, where the two shapes agree again,")
            else:
                parts.append(f"the layers from `{first}` to `{last}`, where the two shapes agree again,")
        subject = " and ".join(parts)
        verb = (
            "has" if len(parts) == 1 and not subject.startswith(("the layers", "the assertions")) else "have"
        )
        if tie:
            either = f"{subject} {verb} {_count(n_stated)} either way" if subject else ""
            if keep:
                return True, replace(
                    diag, notes=(*diag.notes, f"checking goes on from the asserted shape; {either}")
                )
            sizes = " and ".join(dict.fromkeys(_dim_word(i, len(computed)) for i in bad)) if bad else "rank"
            text = (
                f"checking goes on from the computed shape {show_shape(computed)}: no argument of "
                f"`{layer.display_name}` changes its {sizes}, so the assertion (or a layer before it) is the "
                f"mistake" + (f"; {either}" if either else "")
            )
        else:
            counts = (
                f"with it {subject} {verb} {_count(min(n_stated, n_computed))}, "
                f"with the {'computed' if keep else 'asserted'} shape {_count(max(n_stated, n_computed))}"
            )
            if keep:
                text = (
                    f"checking goes on from the asserted shape: {counts}, so the layer or its input is more "
                    f"likely the mistake"
                )
                return True, replace(diag, notes=(*diag.notes, text))
            text = (
                f"checking goes on from the computed shape {show_shape(computed)}: {counts}, so the assertion "
                f"is more likely the mistake"
            )
        # the rewrites that keep the assertion (another input size, other arguments) would move the error
        # downstream, which is what the count says: propose only the assertion's own fix (once verified)
        # (inside a block's body the fix must hold for every instance: `infer` proposes it, see _body_fix)
        written = None if in_body else _written_shape(assertion, computed)
        rewrites = (
            (
                Rewrite(
                    f"if the assertion is the mistake, write `-> {written}`", (Edit(assertion.span, written),)
                ),
            )
            if written is not None
            else ()
        )
        return False, replace(diag, notes=(*diag.notes, text), rewrites=rewrites)


def _within(outer: Span, inner: Span) -> bool:
    return (outer.line, outer.col) <= (inner.line, inner.col) and (inner.end_line, inner.end_col) <= (
        outer.end_line,
        outer.end_col,
    )


def _in_body(layer: ir.Layer, assertion: ir.Assertion) -> bool:
    """Whether the assertion is written in a block's body, so checked once per instance (not on the
    network's line that calls the block; an assertion on a call inside another block's body is)."""
    return bool(layer.instance) and not _within(layer.instance[0][2], assertion.span)


def _on_call(layer: ir.Layer, assertion: ir.Assertion) -> bool:
    """Whether the assertion is on a line that calls a block (of its instance's arguments)."""
    return any(_within(span, assertion.span) for *_, span in layer.instance)


def _differing(assertion: ir.Assertion, stated: Shape, computed: Shape) -> list[int] | None:
    """The checked axes where the asserted and the computed shape differ; None when the ranks do."""
    if len(stated) != len(computed):
        return None
    return [
        i
        for i, d in enumerate(assertion.dims)
        if d is not None and E.same(stated[i], computed[i]) is not True
    ]


def _can_change(layer: ir.Layer, bad: list[int] | None) -> bool:
    """Whether an argument of the layer itself can change the sizes that differ (a rank no argument does)."""
    if bad is None:
        return False
    op = layer.op.conv if isinstance(layer.op, ir.FusedConv) else layer.op
    if isinstance(op, ir.Conv):
        return any(i >= 1 for i in bad)  # filters; kernel, stride, padding, dilation
    if isinstance(op, (ir.Pool, ir.AdaptiveAvgPool)):
        return any(i >= 2 for i in bad)
    if isinstance(op, ir.Linear):
        return 1 in bad
    return False  # flatten, activations, dropout, lrn, batchnorm, add, concat


def _errors(ctx: _Ctx, own: Span | None = None) -> int:
    return sum(d.is_error and (own is None or d.span is None or not _within(own, d.span)) for d in ctx.diags)


def _count(n: int) -> str:
    return "no error" if n == 0 else f"{n} error{'s' if n != 1 else ''}"


def _written_shape(assertion: ir.Assertion, computed: Shape) -> str | None:
    """The assertion rewritten to hold for `computed`: a size that is not a number or a symbol of the
    input becomes `_`; None when the ranks differ."""
    if len(assertion.dims) != len(computed):
        return None
    out = []
    for d, c in zip(assertion.dims, computed):
        if d is None:
            out.append("_")
        elif isinstance(c, int):
            out.append(str(c))
        elif isinstance(c, E.Chain) and not c.steps:
            out.append(c.sym)
        else:
            out.append("_")
    return "[" + ", ".join(out) + "]"


def _note_assumption(diags: list[Diagnostic], start: int, origin: tuple[ir.Layer, Shape | None]) -> None:
    """Add to the errors from `start` on that they rest on a failed assertion's shape."""
    layer, computed = origin
    assertion = layer.assertions[-1]
    text = (
        f"this takes `{layer.display_name}` to be {_shown(assertion.dims)} as asserted on line "
        f"{assertion.span.line}"
        + (f", though it computes {show_shape(computed)}" if computed else "")
        + "; if the assertion is the mistake, fixing it fixes this too"
    )
    for k in range(start, len(diags)):
        if diags[k].is_error:
            diags[k] = replace(diags[k], notes=(*diags[k].notes, text))


def _shown(dims: tuple[ir.Dim, ...]) -> str:
    return "[" + ", ".join("_" if d is None else str(d) for d in dims) + "]"


def _unused(ctx: _Ctx, net: ir.Network) -> None:
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
                helps=("remove the layer, or use it with `from` or in `add`/`concat`",),
            )


def exact_inputs(layer: ir.Layer, dim: int, target: int) -> IntSet | None:
    """Input sizes of a conv/pool layer's dimension that give `target` (for help messages)."""
    from alexnet_dsl.analysis.solve import equal_to

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

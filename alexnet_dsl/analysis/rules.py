"""The shape rule of each op: one function per op, in one table keyed by IR node type (RULES).

A rule gets the checking context, the layer, the shapes of its inputs and their producers' names, and
the layer's info (where it writes the parameters, the MACs and the arithmetic of its sizes); it returns
the output shape, or None when the shape cannot be known (its error is already reported). A check
that depends on an input symbol becomes a constraint for the solver (`Context.require`).

Adding an op: its rule here, with its formula in the docstring, and its entry in RULES.
"""

from __future__ import annotations

from collections.abc import Callable

from alexnet_dsl import ir
from alexnet_dsl.analysis.equations import divisors
from alexnet_dsl.analysis.joins import add_rule, concat_rule, mul_rule
from alexnet_dsl.analysis.shapes import Context, LayerInfo, Shape, argument_edit
from alexnet_dsl.analysis.windows import window
from alexnet_dsl.diagnostics import Edit, Rewrite
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Span

Rule = Callable[[Context, ir.Layer, list[Shape], list[str], LayerInfo], Shape | None]


def conv_rule(ctx: Context, layer: ir.Layer, shapes: list[Shape], srcs: list[str], info: LayerInfo):
    """`[N, C, H, W] -> [N, filters, H', W']`; H' and W' by the window (windows.py), or H and W with
    `padding=same` (stride 1 only). params = C/groups * kh * kw * filters (+ filters for the bias),
    macs = the weights * H' * W'."""
    op: ir.Conv = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    n, c_in = shape[0], shape[1]
    _check_groups(ctx, layer, op, shape, src)
    if op.padding == "same":
        if op.stride != (1, 1):
            _same_needs_stride_1(ctx, layer, op)
            return None
        hw: tuple[E.Size, E.Size] | None = (shape[2], shape[3])
    else:
        hw = window(ctx, layer, shape, src, op.kernel, op.stride, op.padding, op.dilation, False, info)
    per_filter = E.times(E.step(c_in, 0, op.groups), op.kernel[0] * op.kernel[1])
    weights = E.times(per_filter, op.filters)
    info.params = _known(E.add(weights, op.filters if op.bias else 0))
    if hw is None:
        info.macs = None
        return None
    info.macs = _known(E.times(E.times(weights, hw[0]), hw[1]))
    return (n, op.filters, hw[0], hw[1])


def conv_transpose_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W] -> [N, filters, H', W']` with H' = (H - 1) * stride - 2 * padding + dilation *
    (kernel - 1) + output_padding + 1 (PyTorch's ConvTranspose2d: the input size of the conv it is the
    gradient of). params = C * filters/groups * kh * kw (+ filters), macs = the weights * H * W."""
    op: ir.ConvTranspose = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    _check_groups(ctx, layer, op, shape, src)
    hw: list[E.Size] = []
    for i in range(2):
        s, k, p, d = op.stride[i], op.kernel[i], op.padding[i], op.dilation[i]
        extra = d * (k - 1) + op.output_padding[i] + 1 - 2 * p - s
        size = E.scaled(shape[2 + i], s, extra)
        if isinstance(size, int) and size < 1:
            ctx.err(
                "E0305",
                layer,
                f"`{layer.display_name}`'s output {('height', 'width')[i]} is {size}: its padding removes more "
                "than the transposed window adds",
                layer.arg_span("padding"),
                notes=(
                    ctx.origin(src, shape),
                    f"({shape[2 + i]} - 1) * {s} - 2*{p} + {d} * ({k} - 1) + {op.output_padding[i]} + 1 = {size}",
                ),
                helps=("use less padding or a larger kernel",),
            )
            return None
        if not isinstance(size, int):
            what = f"the {('height', 'width')[i]} of `{layer.display_name}`'s output must be at least 1"
            ctx.require("ge", size, 1, layer, layer.op_span, what)
        else:
            info.notes.append(
                f"{('height', 'width')[i]}: ({E.show(shape[2 + i])} - 1) * {s}"
                + (f" - 2*{p}" if p else "")
                + f" + {d * (k - 1)}"
                + (f" + {op.output_padding[i]}" if op.output_padding[i] else "")
                + f" + 1 = {size}"
            )
        hw.append(size)
    weights = E.times(E.times(shape[1], E.step(op.filters, 0, op.groups)), op.kernel[0] * op.kernel[1])
    info.params = _known(E.add(weights, op.filters if op.bias else 0))
    info.macs = _known(E.times(E.times(weights, shape[2]), shape[3]))
    return (shape[0], op.filters, hw[0], hw[1])


def upsample_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W] -> [N, C, H * scale, W * scale]`."""
    op: ir.Upsample = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    return (shape[0], shape[1], E.scaled(shape[2], op.scale[0]), E.scaled(shape[3], op.scale[1]))


def _check_groups(
    ctx: Context, layer: ir.Layer, op: ir.Conv | ir.ConvTranspose, shape: Shape, src: str
) -> None:
    """The groups must divide the input channels (E0303) and the filters (E0304)."""
    c_in, g = shape[1], op.groups
    what = f"`{layer.display_name}`'s {g} groups must divide its input channels"
    if ctx.require("div", c_in, g, layer, layer.arg_span("groups"), what) is False:
        found = _divisors(c_in)
        # the nearest numbers of groups that divide both the channels and the filters
        nearest = sorted((d for d in found if op.filters % d == 0), key=lambda d: (abs(d - g), d))[:2]
        ctx.err(
            "E0303",
            layer,
            f"{g} groups do not divide the {c_in} input channels of `{layer.display_name}`",
            layer.arg_span("groups"),
            notes=(
                f"{ctx.origin(src, shape)}",
                f"the divisors of {c_in}: " + ", ".join(str(d) for d in found[:8]),
            ),
            rewrites=tuple(_argument_rewrite(layer, f"use `groups={d}`", "groups", str(d)) for d in nearest),
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


def shuffle_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W] -> [N, C, H, W]`, the channels reordered; `groups` must divide C (E0303)."""
    op: ir.ChannelShuffle = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    c, g = shape[1], op.groups
    what = f"`{layer.display_name}`'s {g} groups must divide its channels"
    if ctx.require("div", c, g, layer, layer.arg_span("groups"), what) is False:
        found = _divisors(c)
        nearest = sorted(found, key=lambda d: (abs(d - g), d))[:2]
        ctx.err(
            "E0303",
            layer,
            f"{g} groups do not divide the {c} channels of `{layer.display_name}`",
            layer.arg_span("groups"),
            notes=(ctx.origin(src, shape), f"the divisors of {c}: " + ", ".join(str(d) for d in found[:8])),
            rewrites=tuple(_argument_rewrite(layer, f"use `groups={d}`", "groups", str(d)) for d in nearest),
        )
        return None
    return shape


def chunk_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, ...] -> [N, C / parts, ...]`: one of `parts` equal parts of the channels; `parts` must
    divide C (E0303)."""
    op: ir.Chunk = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (2, 4), "[N, C, H, W] or [N, features]"):
        return None
    c, parts = shape[1], op.parts
    if isinstance(c, (E.Sum, E.Prod)):  # C / parts of a sum or product (a concat, a flatten of symbols)
        raise E.Unfollowed(f"{E.show(c)} channels cut into {parts} parts: the parts of a sum or a product")
    what = f"`{layer.display_name}`'s {parts} parts must divide its channels"
    if ctx.require("div", c, parts, layer, layer.arg_span("parts"), what) is False:
        found = _divisors(c)
        ctx.err(
            "E0303",
            layer,
            f"{parts} parts do not divide the {c} channels of `{layer.display_name}`",
            layer.arg_span("parts"),
            notes=(
                ctx.origin(src, shape),
                "each part has the same number of channels",
                f"the divisors of {c}: " + ", ".join(str(d) for d in found[:8]),
            ),
        )
        return None
    return (shape[0], E.step(c, 0, parts), *shape[2:])


def _same_needs_stride_1(ctx: Context, layer: ir.Layer, op: ir.Conv) -> None:
    # the padding that keeps the size at stride 1: half the effective kernel on each side
    p = [op.dilation[i] * (op.kernel[i] - 1) // 2 for i in range(2)]
    text = str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"
    help_text = f"give the padding as numbers: `padding={text}` is half the kernel"
    ctx.err(
        "E0310",
        layer,
        "`padding=same` needs `stride=1`",
        layer.arg_span("padding"),
        rewrites=(_argument_rewrite(layer, help_text, "padding", text),),
    )


def pool_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W] -> [N, C, H', W']`, H' and W' by the window (windows.py)."""
    op: ir.Pool = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    hw = window(ctx, layer, shape, src, op.kernel, op.stride, op.padding, (1, 1), op.ceil, info)
    return None if hw is None else (shape[0], shape[1], hw[0], hw[1])


def adaptive_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W] -> [N, C, output]`, whatever H and W; a warning where that is not an average over
    equal windows (W0402)."""
    op: ir.AdaptiveAvgPool = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    h, w = shape[2], shape[3]
    # global pooling (1x1) is meant to average; any other size is a no-op only at one input
    if isinstance(h, int) and isinstance(w, int) and (h, w) != op.output and op.output != (1, 1):
        _resize_warning(ctx, layer, op, shape, src)
    return (shape[0], shape[1], *op.output)


def global_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W] -> [N, C, 1, 1]` (`keepdims=true`) or `[N, C]`: the mean or maximum over H and W."""
    op: ir.GlobalPool = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W]"):
        return None
    return (shape[0], shape[1], 1, 1) if op.keepdims else (shape[0], shape[1])


def _resize_warning(ctx: Context, layer: ir.Layer, op: ir.AdaptiveAvgPool, shape: Shape, src: str) -> None:
    h, w = shape[2], shape[3]
    oh, ow = op.output
    # per axis: a smaller output averages windows, a larger one repeats input values
    if h >= oh and w >= ow:
        what = f"averages {h}x{w} down to {oh}x{ow}"
    elif h <= oh and w <= ow:
        what = f"enlarges {h}x{w} to {oh}x{ow}, repeating input values"
    else:
        down, up = ("height", "width") if h > oh else ("width", "height")
        what = f"resizes {h}x{w} to {oh}x{ow}: it averages over the {down} and repeats values along the {up}"
    uneven = any(max(i, o) % min(i, o) for i, o in ((h, oh), (w, ow)))
    overlap = (
        "its windows overlap or differ in size, since neither of input and output is a multiple of the other"
    )
    ctx.warn(
        "W0402",
        layer,
        f"`{layer.display_name}` {what}",
        layer.op_span,
        notes=(f"{ctx.origin(src, shape)}",) + ((overlap,) if uneven else ()),
        helps=("this is not the identity at this input size; if that is meant, nothing to do",),
    )


def lrn_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W] -> [N, C, H, W]`."""
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (4,), "[N, C, H, W] (LRN runs over channels of an image)"):
        return None
    return shape


def norm_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W]` or `[N, C]`, unchanged; params = 2 * C (a scale and a shift per channel). Batchnorm
    normalises each channel over the batch, layernorm the channels at each position."""
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (2, 4), "[N, C, H, W] or [N, features]"):
        return None
    info.params = _known(E.times(shape[1], 2))
    return shape


def scale_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, C, H, W]` or `[N, C]`, unchanged; params = C (a factor per channel)."""
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (2, 4), "[N, C, H, W] or [N, features]"):
        return None
    info.params = _known(shape[1])
    return shape


def same_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """The input's shape, unchanged (activations, dropout)."""
    return shapes[0]


def flatten_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, d1, d2, ...] -> [N, d1 * d2 * ...]`."""
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


def linear_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """`[N, F] -> [N, features]`; params = F * features (+ features for the bias), macs = F * features."""
    op: ir.Linear = layer.op  # type: ignore[assignment]
    (shape,), (src,) = shapes, srcs
    if not _need_rank(ctx, layer, shape, src, (2,), "[N, features]"):
        return None
    weights = E.times(shape[1], op.features)
    info.params = _known(E.add(weights, op.features if op.bias else 0))
    info.macs = _known(weights)
    return (shape[0], op.features)


RULES: dict[type, Rule] = {
    ir.Conv: conv_rule,
    ir.ConvTranspose: conv_transpose_rule,
    ir.Upsample: upsample_rule,
    ir.Pool: pool_rule,
    ir.AdaptiveAvgPool: adaptive_rule,
    ir.GlobalPool: global_rule,
    ir.ChannelShuffle: shuffle_rule,
    ir.LRN: lrn_rule,
    ir.BatchNorm: norm_rule,
    ir.LayerNorm: norm_rule,
    ir.Dropout: same_rule,
    ir.StochasticDepth: same_rule,
    ir.Scale: scale_rule,
    ir.Chunk: chunk_rule,
    ir.Activation: same_rule,
    ir.Flatten: flatten_rule,
    ir.Linear: linear_rule,
    ir.Add: add_rule,
    ir.Mul: mul_rule,
    ir.Concat: concat_rule,
}


def compute(ctx: Context, layer: ir.Layer, ins: list[Shape | None], info: LayerInfo) -> Shape | None:
    """One layer's output shape by its rule; None (silently) when an input is unknown."""
    shape: Shape | None = None
    if layer.inputs and all(s is not None for s in ins) and not isinstance(layer.op, ir.Invalid):
        rule = RULES[type(layer.op)]
        try:
            shape = rule(ctx, layer, ins, list(layer.inputs), info)  # type: ignore[arg-type]
        except E.Unfollowed as e:
            ctx.err(
                "E0313",
                layer,
                f"the sizes of `{layer.display_name}` cannot be followed symbolically",
                layer.op_span,
                notes=(str(e),),
                helps=("give the input sizes as numbers",),
            )
        except Exception as e:  # an internal failure: say which layer it happened on
            raise RuntimeError(
                f"internal error while checking `{layer.name}` (line {layer.span.line})"
            ) from e
    else:
        info.params = info.macs = None
    if shape is None:
        info.macs = None
    return shape


def _need_rank(
    ctx: Context, layer: ir.Layer, shape: Shape, src: str, ranks: tuple[int, ...], expected: str
) -> bool:
    """Whether the input has one of the ranks the op takes; an error (E0306) if not."""
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


def _argument_rewrite(layer: ir.Layer, help_text: str, key: str, text: str) -> Rewrite:
    edit = argument_edit(layer, key, text)
    return Rewrite(help_text, (edit,) if edit is not None else ())


def _known(x: E.Size) -> int | None:
    return x if isinstance(x, int) else None


def _divisors(n) -> list[int]:
    """The divisors of a known size, for helps ([] when unknown; the solver's factoring bounds the work)."""
    return (divisors(n) or []) if isinstance(n, int) and n >= 1 else []

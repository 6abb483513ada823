"""The sliding window of a convolution or a pooling layer, on the height and width axes.

    out = (in + 2*pad - dilation*(kernel-1) - 1) // stride + 1

rounded up instead with `ceil=true` (PyTorch's ceil mode). `window` is the shape rule's part: the output
sizes, the error of a window larger than its padded input (E0305) and the warning of one that drops
rows (W0401). The rest answers the helps' questions: the output with one argument changed, the rows
it drops, the input sizes that give an asserted output.
"""

from __future__ import annotations

from fractions import Fraction

from alexnet_dsl import ir
from alexnet_dsl.analysis.equations import equal_to
from alexnet_dsl.analysis.intsets import IntSet
from alexnet_dsl.analysis.shapes import Context, LayerInfo, Shape
from alexnet_dsl.diagnostics import Edit, Rewrite
from alexnet_dsl.ir import expr as E

_DIM_NAMES = ("height", "width")

_TooBig = tuple[int, int, E.Size, str]  # axis, effective kernel, padded input, the arithmetic as text
_Drop = tuple[int, int, str, tuple[int, int, int]]  # axis, rows dropped, the note, `_exact_sizes`


def window(
    ctx: Context,
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
    out: list[E.Size | None] = []
    drops: list[_Drop] = []
    too_big: list[_TooBig] = []
    for i in range(2):
        args = (kernel[i], stride[i], padding[i], dilation[i])
        o, big, drop = _axis(ctx, layer, info, i, shape[2 + i], *args, ceil)
        out.append(o)
        too_big += [big] if big is not None else []
        drops += [drop] if drop is not None else []
    if too_big:
        _too_big_error(ctx, layer, shape, src, too_big)
    if drops:
        _drops_warning(ctx, layer, shape, src, drops)
    return (out[0], out[1]) if not too_big else None  # type: ignore[return-value]


def _axis(
    ctx: Context,
    layer: ir.Layer,
    info: LayerInfo,
    i: int,
    size: E.Size,
    k: int,
    s: int,
    p: int,
    d: int,
    ceil: bool,
) -> tuple[E.Size | None, _TooBig | None, _Drop | None]:
    """One axis of a window: its output size (None when the window is larger than the padded input),
    and what makes it too big or the rows it drops (for `window`'s error and warning). Adds the
    arithmetic of a known size to the layer's notes, and keeps a symbolic one for the solver."""
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
        return None, (i, eff, padded, f"{_DIM_NAMES[i]} {size}{pad_text}, kernel {k_text}"), None
    if not isinstance(o, int):
        what = f"the {_DIM_NAMES[i]} of `{layer.display_name}`'s window must fit its padded input"
        ctx.require("ge", o, 1, layer, layer.op_span, what)
        return o, None, None
    if not isinstance(size, int):
        return o, None, None
    exact = Fraction(size + 2 * p - eff, s) + 1
    rounded = "" if exact.denominator == 1 else (f", rounded up to {o}" if ceil else f", floored to {o}")
    pad = f" + 2*{p}" if p else ""
    info.notes.append(f"{_DIM_NAMES[i]}: ({size}{pad} - {eff}) / {s} + 1 = {_decimal(exact)}{rounded}")
    dropped = (size + 2 * p - eff) % s - p
    # with a window narrower than its stride, rows are skipped by design: not a surprise
    if not ceil and dropped > 0 and eff >= s:
        return o, None, (i, dropped, info.notes[-1], _exact_sizes(size, p, eff, s, o))
    return o, None, None


def _too_big_error(ctx: Context, layer: ir.Layer, shape: Shape, src: str, too_big: list[_TooBig]) -> None:
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


def _drops_warning(ctx: Context, layer: ir.Layer, shape: Shape, src: str, drops: list[_Drop]) -> None:
    words = [f"{n} {('row', 'column')[i]}{'s' if n > 1 else ''}" for i, n, _, _ in drops]
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
        layer.arg_span("stride"),
        notes=tuple(notes),
        rewrites=rewrites,
    )


def _decimal(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.4f}".rstrip("0")


def _exact_sizes(size: int, p: int, eff: int, s: int, out: int) -> tuple[int, int, int]:
    """The nearest input sizes below and above `size` that the window divides exactly, and the output
    size of the smaller (the larger gives one more)."""
    below = size - ((size + 2 * p - eff) % s)
    return below, below + s, out


def _exact_input_rewrites(net: ir.Network, drops: list[_Drop]) -> tuple[Rewrite, ...]:
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


# ---------------------------------------------------------------------------- for the helps


def window_out(op: ir.Conv | ir.Pool, dim: int, size: int, change: dict[str, int]) -> int:
    """A window's output size on one axis with one argument changed (the arithmetic of `window`)."""
    k = change.get("kernel", op.kernel[dim])
    s = change.get("stride", op.stride[dim])
    p = change.get("padding", op.padding[dim])  # type: ignore[index]
    eff = (op.dilation[dim] if isinstance(op, ir.Conv) else 1) * (k - 1) + 1
    if isinstance(op, ir.Pool) and op.ceil:
        return min(-(-(size + 2 * p - eff + s) // s), -(-(size + p) // s))
    return (size + 2 * p - eff) // s + 1 if size + 2 * p >= eff else 0


def drops_rows(op: ir.Conv | ir.Pool, dim: int, size: int, change: dict[str, int]) -> bool:
    """Whether a window drops rows of its input on one axis with one argument changed (W0401)."""
    if isinstance(op, ir.Pool) and op.ceil:
        return False
    k = change.get("kernel", op.kernel[dim])
    s = change.get("stride", op.stride[dim])
    p = change.get("padding", op.padding[dim])  # type: ignore[index]
    eff = (op.dilation[dim] if isinstance(op, ir.Conv) else 1) * (k - 1) + 1
    return size + 2 * p >= eff and (size + 2 * p - eff) % s != 0


def exact_inputs(layer: ir.Layer, dim: int, target: int) -> IntSet | None:
    """Input sizes of a conv/pool layer's dimension that give `target` (for help messages)."""
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


def exact_value(layer: ir.Layer, dim: int, lo: int, hi: int | None) -> int | None:
    """The least input size in lo..hi that a conv/pool layer's window divides exactly (no row dropped)."""
    op = layer.op
    if not isinstance(op, (ir.Conv, ir.Pool)) or hi is None:
        return None
    k = op.kernel[dim]
    d = op.dilation[dim] if isinstance(op, ir.Conv) else 1
    p = op.padding[dim] if not isinstance(op.padding, str) else 0
    s = op.stride[dim]
    for x in range(lo, hi + 1):
        if (x + 2 * p - d * (k - 1) - 1) % s == 0:
            return x
    return None

"""Helps that propose a fix: for a failed assertion, the argument or the input size that gives the
asserted shape (the inverse of the window arithmetic); for a wrong network output, the argument that
makes it or the declaration written as computed; for input sizes that suit no layer, the sizes that
make the whole network check.

Each proposal is a Rewrite (an edit of the spec), shown only once the rewritten spec checks better
(verify.py); a fact that is not an edit (the input sizes of a layer inside the network) is a note.
"""

from __future__ import annotations

from dataclasses import replace

from alexnet_dsl import ir
from alexnet_dsl.analysis.admissible import solve
from alexnet_dsl.analysis.inference import infer
from alexnet_dsl.analysis.intsets import IntSet
from alexnet_dsl.analysis.shapes import LayerInfo, Shape, argument_edit, input_shape, show_dims
from alexnet_dsl.analysis.windows import drops_rows, exact_inputs, exact_value, window_out
from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite

_LARGEST_ARGUMENT = 64  # the largest padding, stride or kernel a help proposes


def inverse_help(net: ir.Network):
    """For a failed assertion on a conv/pool layer: the single-argument changes (padding, stride or
    kernel) that give the asserted size, and the input sizes that do. Each proposal is a Rewrite, shown
    only once the rewritten spec checks (verify_rewrites); for a layer inside the network the input size
    is not something to write, so it becomes a note, and only when no argument change fits.

    Returns what `infer` takes as its `inverse_help`."""

    def make(layer: ir.Layer, ins: list[Shape | None]):
        return lambda bad, stated: _inverse(net, layer, ins, bad, stated)

    return make


def _inverse(
    net: ir.Network, layer: ir.Layer, ins: list[Shape | None], bad: list[int], stated: Shape
) -> list[str | Rewrite]:
    shape = ins[0] if ins else None
    if shape is None or len(shape) != 4:
        return []
    arguments = argument_rewrites(layer, shape, bad, stated)
    # axis -> (the size the window divides exactly, the range of sizes that give the asserted one)
    found: dict[int, tuple[int | None, int, int | None]] = {}
    for i in bad:
        if i < 2 or not isinstance(stated[i], int):
            continue
        r = exact_inputs(layer, i - 2, stated[i])  # type: ignore[arg-type]
        if r is not None and not r.empty:
            lo, hi = r.ranges[0]
            found[i] = (exact_value(layer, i - 2, lo, hi), lo, hi)
    if not found:
        return list(arguments)
    direct = layer.inputs[:1] == (net.input_name,)
    if not direct and arguments:
        return list(arguments)
    return [*arguments, *_input_helps(net, layer, direct, found, stated)]


def _input_helps(
    net: ir.Network,
    layer: ir.Layer,
    direct: bool,
    found: dict[int, tuple[int | None, int, int | None]],
    stated: Shape,
) -> list[str | Rewrite]:
    """The input sizes that give the asserted ones: a rewrite of the network's input for a layer on it
    (`direct`), a note for a layer inside the network."""
    what = "an input" if direct else f"an input to `{layer.display_name}`"
    if len(found) == 2 and found[2] == found[3] and stated[2] == stated[3]:
        groups = [("", (2, 3))]
    else:
        groups = [(f" {('height', 'width')[i - 2]}", (i,)) for i in sorted(found)]
    out: list[str | Rewrite] = []
    for word, axes in groups:
        exact, lo, hi = found[axes[0]]
        size = f"{stated[axes[0]]}x{stated[axes[0]]}" if not word else f"{stated[axes[0]]}"
        given = f"{exact}x{exact}" if not word and exact is not None else f"{exact}"
        text = f"{what}{word} of {given} gives {size} exactly; " if exact is not None else ""
        text += f"{lo}..{hi} give {stated[axes[0]]}" if hi != lo else f"only {lo} gives {stated[axes[0]]}"
        if not direct:
            out.append(text)  # a fact about the layer, not an edit: a note
            continue
        value = exact if exact is not None else lo
        edits = tuple(Edit(net.input_dim_spans[i], str(value)) for i in axes if i < len(net.input_dim_spans))
        if len(edits) == len(axes):
            out.append(Rewrite(text, edits))
    return out


def argument_rewrites(layer: ir.Layer, shape: Shape, bad: list[int], stated: Shape) -> list[Rewrite]:
    """The padding, stride or kernel (one argument, the value nearest the written one on each axis) that
    gives a conv/pool layer the asserted height and width, or the filters that give a conv the asserted
    channels; alternatives, of which the best verified is shown.

    A conv that forgot its padding (`conv(384, kernel=3)` asserted 13x13 on 13x13) gets `padding=1`."""
    op = layer.op
    if layer.instance or not isinstance(op, (ir.Conv, ir.Pool)) or not bad:
        return []  # inside a block the written value may be a parameter
    if (
        bad == [1] and isinstance(op, ir.Conv) and isinstance(stated[1], int)
    ):  # a conv's channels: its filters
        edit = argument_edit(layer, "filters", str(stated[1]))
        text = f"with {stated[1]} filters, `{layer.display_name}` gives the asserted {stated[1]} channels"
        return [Rewrite(text, (edit,), group="argument")] if edit is not None else []
    if isinstance(op.padding, str) or any(i < 2 for i in bad):
        return []
    sizes, targets = shape[2:4], stated[2:4]
    if not all(isinstance(x, int) for x in (*sizes, *targets)):
        return []
    out: list[Rewrite] = []
    for key in ("padding", "stride", "kernel"):
        values = _fitting(op, key, sizes, targets)  # type: ignore[arg-type]
        if values is None or values == getattr(op, key):
            continue
        text = str(values[0]) if values[0] == values[1] else f"({values[0]}, {values[1]})"
        if isinstance(op, ir.Pool) and key == "kernel" and "stride" not in dict(layer.arg_spans):
            # a pool's stride defaults to its kernel: keep the stride it had
            s0, s1 = op.stride
            text += f", stride={s0 if s0 == s1 else f'({s0}, {s1})'}"
        edit = argument_edit(layer, key, text)
        if edit is not None:
            help_text = (
                f"with `{key}={text}`, `{layer.display_name}` gives {targets[0]}x{targets[1]} as asserted"
            )
            out.append(Rewrite(help_text, (edit,), group="argument"))
    return out


def _fitting(
    op: ir.Conv | ir.Pool, key: str, sizes: tuple[int, int], targets: tuple[int, int]
) -> tuple[int, ...] | None:
    """The values of one argument that give the target height and width (on an axis where the written
    value does, the written one); None when no value up to _LARGEST_ARGUMENT does on some axis."""
    written: tuple[int, int] = getattr(op, key)
    values = list(written)
    for dim in range(2):
        if window_out(op, dim, sizes[dim], {key: values[dim]}) == targets[dim]:
            continue
        lo = 0 if key == "padding" else 1
        hi = _LARGEST_ARGUMENT
        if key == "padding":  # PyTorch pools allow at most half the kernel; more than the kernel is no conv's
            hi = min(hi, op.kernel[dim] // 2 if isinstance(op, ir.Pool) else op.kernel[dim])
        fits = [v for v in range(lo, hi + 1) if window_out(op, dim, sizes[dim], {key: v}) == targets[dim]]
        if not fits:
            return None
        # a value that divides exactly (no rows dropped: no W0401 brought in), then the nearest written:
        # `conv(96, kernel=1, stride=4)` asserted 55 on 227 is `kernel=11`, not `kernel=8`
        values[dim] = min(
            fits, key=lambda v, w=written[dim], d=dim: (drops_rows(op, d, sizes[d], {key: v}), abs(v - w), v)
        )
    return tuple(values)


def output_rewrites(net: ir.Network, infos: list[LayerInfo], diags: list[Diagnostic]) -> list[Diagnostic]:
    """For a network output that is not the declared one (E0302): the argument of the layer that makes
    the differing sizes (`fc8: linear(1000)` declared `[N, 10]`: `linear(10)`), found by walking back over
    the layers that keep their input's shape, and the declaration written as computed. Both are
    Rewrites, shown once verified."""
    k = next((k for k, d in enumerate(diags) if d.code == "E0302" and d.is_error), None)
    if k is None or net.output is None:
        return diags
    by_name = {info.layer.name: info for info in infos}
    info = by_name.get(net.output_layer)
    declared = net.output.dims
    if info is None or info.shape is None or len(info.shape) != len(declared):
        return diags
    shape = info.shape
    bad = [i for i, d in enumerate(declared) if isinstance(d, int) and d != shape[i]]
    if not bad or not all(isinstance(shape[i], int) for i in bad):
        return diags
    out = _maker_rewrites(net, by_name, info.layer, shape, declared, bad)
    written = show_dims(tuple(shape[i] if i in bad else d for i, d in enumerate(declared)))
    edits = tuple(Edit(net.output.dim_spans[i], str(shape[i])) for i in bad if i < len(net.output.dim_spans))
    if len(edits) == len(bad):
        out.append(Rewrite(f"if the layers are right, declare the output `-> {written}`", edits))
    if not out:
        return diags
    d = diags[k]
    return [*diags[:k], replace(d, rewrites=(*d.rewrites, *out)), *diags[k + 1 :]]


def _maker_rewrites(
    net: ir.Network, by_name: dict[str, LayerInfo], layer: ir.Layer, shape: Shape, declared, bad: list[int]
) -> list[Rewrite]:
    """The argument of the layer that makes the output's differing sizes: the output layer, or the
    nearest before it that does not keep its input's shape."""
    keeps = (ir.Activation, ir.Dropout, ir.LRN, ir.BatchNorm, ir.LayerNorm, ir.ChannelShuffle)
    while isinstance(layer.op, keeps) and len(layer.inputs) == 1 and layer.inputs[0] in by_name:
        layer = by_name[layer.inputs[0]].layer
    own = by_name[layer.name].shape
    source = (
        by_name[layer.inputs[0]].shape
        if layer.inputs and layer.inputs[0] in by_name
        else (input_shape(net) if layer.inputs == (net.input_name,) else None)
    )
    if own is None or source is None or len(own) != len(shape):
        return []
    stated = tuple(declared[i] if i in bad else own[i] for i in range(len(own)))
    if not (isinstance(layer.op, ir.Linear) and bad == [1] and not layer.instance):
        return argument_rewrites(layer, source, bad, stated)  # type: ignore[arg-type]
    edit = argument_edit(layer, "features", str(declared[1]))
    if edit is None:
        return []
    text = f"with {declared[1]} features, `{layer.display_name}` gives the declared {show_dims(declared)}"
    return [Rewrite(text, (edit,), group="argument")]


def nearest(values: IntSet, x: int) -> int | None:
    """The member of `values` nearest to x (the smaller on a tie)."""
    best: int | None = None
    for lo, hi in values.ranges:
        start = min(max(x, lo), hi) if hi is not None else max(x, lo)
        for y in (*range(start, start + values.mod), *range(start - 1, start - values.mod, -1)):
            if values.contains(y) and (best is None or (abs(y - x), y) < (abs(best - x), best)):
                best = y
    return best


def with_global_help(net: ir.Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """If the input sizes are the problem, say which input sizes make the whole network check (a
    rewrite of the input's sizes to the nearest such size, verified like every other)."""
    dims = net.input_dims
    if len(dims) != 4 or not all(isinstance(d, int) for d in dims[2:]) or len(net.input_dim_spans) != 4:
        return diags
    taken = set(net.symbols) | {d for d in dims if isinstance(d, str)}
    names = [n for n in ("H", "W", "S", "height", "width", "H_", "W_") if n not in taken]
    square = dims[2] == dims[3]
    h_name, w_name = (names[2], names[2]) if square else (names[0], names[1])
    symbolic = replace(net, input_dims=(dims[0], dims[1], h_name, w_name))
    result = infer(symbolic)
    if any(d.is_error for d in result.diagnostics):
        return diags
    sets, solve_diags, _ = solve(symbolic, result.constraints)
    if solve_diags:  # coupled or undecided: a per-dimension answer would mislead
        return diags
    h, w = sets.get(h_name), sets.get(w_name)
    if h is None or w is None or h.empty or (h.contains(dims[2]) and w.contains(dims[3])):  # type: ignore[arg-type]
        return diags
    new_h, new_w = nearest(h, dims[2]), nearest(w, dims[3])  # type: ignore[arg-type]
    if new_h is None or new_w is None:
        return diags
    if square:
        text = f"the whole network checks for square inputs of {h.describe()}"
    else:
        text = f"the whole network checks for input heights {h.describe()} and widths {w.describe()}"
    edits = tuple(
        Edit(net.input_dim_spans[i], str(v))
        for i, v, old in ((2, new_h, dims[2]), (3, new_w, dims[3]))
        if v != old
    )
    out = []
    added = False
    for d in diags:
        if not added and d.code in ("E0301", "E0302") and d.is_error:
            d = replace(d, rewrites=(*d.rewrites, Rewrite(text, edits)))
            added = True
        out.append(d)
    return out

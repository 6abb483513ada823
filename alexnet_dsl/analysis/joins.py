"""The shape rules of the ops that join several layers: `add` and `concat` (equal sizes, concat summing the
channels) and `mul` (PyTorch's broadcasting of size-1 dimensions). Part of the table in rules.py."""

from __future__ import annotations

from alexnet_dsl import ir
from alexnet_dsl.analysis.shapes import Context, LayerInfo, Shape
from alexnet_dsl.ir import expr as E


def mul_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """Inputs of one rank -> their broadcast shape: in each dimension the sizes are equal, or one of them
    is 1 and is repeated to the other's (PyTorch's broadcasting; squeeze-excitation's
    [N, C, H, W] x [N, C, 1, 1])."""
    out, out_srcs = list(shapes[0]), [srcs[0]] * len(shapes[0])
    for shape, src in zip(shapes[1:], srcs[1:]):
        if len(shape) != len(out):
            ctx.err(
                "E0307",
                layer,
                f"`{layer.display_name}` multiplies tensors of different ranks",
                layer.op_span,
                notes=(ctx.origin(srcs[0], shapes[0]), ctx.origin(src, shape)),
                helps=("give the smaller one size-1 dimensions (`global_avgpool(keepdims=true)`)",),
            )
            return None
        for i, (a, b) in enumerate(zip(out, shape)):
            if b == 1 or E.same(a, b):
                continue
            if a == 1:
                out[i], out_srcs[i] = b, src
                continue
            what = _dim_name(len(shape), i)
            verdict = None
            if not isinstance(a, int) or not isinstance(b, int):
                must = f"{what} of {ctx.where(out_srcs[i])} and {ctx.where(src)} must match for `{layer.display_name}`"
                verdict = ctx.require("eq", a, b, layer, layer.op_span, must)
            if verdict is False or verdict is None and isinstance(a, int) and isinstance(b, int):
                first = shapes[srcs.index(out_srcs[i])]
                ctx.err(
                    "E0307",
                    layer,
                    f"`{layer.display_name}` (mul) cannot broadcast {what}: {E.show(a)} and {E.show(b)}",
                    layer.op_span,
                    notes=(ctx.origin(out_srcs[i], first), ctx.origin(src, shape)),
                    helps=(
                        "in each dimension the sizes must be equal, or one of them 1 (repeated to the other's)",
                    ),
                )
                return None
    return tuple(out)


def _dim_name(rank: int, i: int) -> str:
    return (
        ("the batch", "the channels", "the height", "the width")[i]
        if rank == 4
        else ("the batch", "the features")[i]
        if rank == 2
        else f"dimension {i}"
    )


def add_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """Inputs of one shape -> that shape."""
    return _join(ctx, layer, shapes, srcs, concat=False)


def concat_rule(ctx: Context, layer: ir.Layer, shapes, srcs, info: LayerInfo):
    """Inputs equal but for their channels -> their shape with C = the sum of their channels."""
    return _join(ctx, layer, shapes, srcs, concat=True)


def _join(ctx: Context, layer: ir.Layer, shapes: list[Shape], srcs: list[str], concat: bool) -> Shape | None:
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
        if not _sizes_match(ctx, layer, (first, first_src), (shape, src), concat):
            return None
        if concat:
            channels = E.plus(channels, shape[1])  # type: ignore[arg-type]
    if concat:
        return (first[0], channels, *first[2:])
    return first


def _sizes_match(
    ctx: Context, layer: ir.Layer, first: tuple[Shape, str], other: tuple[Shape, str], concat: bool
) -> bool:
    """Whether two joined inputs (a shape and its producer) have equal sizes (but for the channels of a
    concat); an error (E0307) where they differ, a constraint where a symbol decides."""
    (a_shape, a_src), (b_shape, b_src) = first, other
    for i, (a, b) in enumerate(zip(a_shape, b_shape)):
        if concat and i == 1:
            continue
        what = _dim_name(len(a_shape), i)
        verdict = E.same(a, b)
        if verdict is None:
            must = (
                f"{what} of {ctx.where(a_src)} and {ctx.where(b_src)} must match for `{layer.display_name}`"
            )
            verdict = ctx.require("eq", a, b, layer, layer.op_span, must)
        if verdict is False:
            ctx.err(
                "E0307",
                layer,
                f"`{layer.display_name}` ({ir.op_name(layer.op)}) needs {what} of its inputs to "
                f"match: {E.show(a)} and {E.show(b)}",
                layer.op_span,
                notes=(ctx.origin(a_src, a_shape), ctx.origin(b_src, b_shape)),
                helps=("`concat` joins over channels; every other size must be equal",)
                if concat
                else ("`add` needs identical shapes",),
            )
            return False
    return True

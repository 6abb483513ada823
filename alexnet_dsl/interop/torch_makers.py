"""The text of one op from PyTorch's arguments: `op_call` writes any op from the vocabulary, and one maker per
PyTorch layer kind checks what the language can say (`maxpool` refuses a dilation) and writes the call. A
call without a counterpart in the language raises `Untranslatable`, saying why. The tables of which
module, function or method each maker translates are in torch_ops.py.
"""

from __future__ import annotations

from decimal import Decimal

from alexnet_dsl.extras import needs
from alexnet_dsl.frontend.vocabulary import OPS, REQUIRED
from alexnet_dsl.ir.nodes import paper_alpha

with needs("`alexnet_dsl.interop.torch_makers`"):  # a missing extra is one line naming its `pip install`
    from torch import nn


class Untranslatable(Exception):
    """One call that cannot be translated, and why; the importer collects them into one error."""


# ---------------------------------------------------------------------------- the text of an op


def op_call(op: str, *, in_full: bool = False, **given: object) -> str:
    """The text of `op` with the arguments `given`, in the vocabulary's order: one equal to its default is
    left out and a required positional one is written by position, unless `in_full` (every one by name).

    >>> op_call("conv", filters=96, kernel=11, stride=4, padding=0)
    'conv(96, kernel=11, stride=4)'
    >>> op_call("maxpool", kernel=3, stride=3, ceil=True)
    'maxpool(kernel=3, ceil=true)'
    """
    spec = OPS[op]
    assert set(given) <= set(spec.params), f"`{op}` has no argument {sorted(set(given) - set(spec.params))}"
    written = []
    for name, param in spec.params.items():
        if name not in given:
            continue
        value = given[name]
        # a default may name another argument: a pool's stride is its kernel
        default = given.get(param.default) if param.default in spec.params else param.default
        if not in_full and param.default is not REQUIRED and value == default:
            continue
        text = _literal(param.kind, value)
        positional = not in_full and param.default is REQUIRED and name in spec.positional
        written.append(text if positional else f"{name}={text}")
    return f"{op}({', '.join(written)})" if written else op


def _literal(kind: str, value: object) -> str:
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float":
        return repr(float(value))  # type: ignore[arg-type]
    if isinstance(value, tuple):
        return f"({value[0]}, {value[1]})"
    return str(value)  # an int, or a word: `same`, `bilinear`


def pair(v) -> int | tuple[int, int]:
    """A size or a pair of sizes as the language writes it: a pair of equal sizes is one size."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise Untranslatable(f"expects a pair, got {tuple(v)}")
        return int(v[0]) if v[0] == v[1] else (int(v[0]), int(v[1]))
    return int(v)


# ---------------------------------------------------------------------------- one op each


def conv(m: nn.Conv2d) -> str:
    if m.padding_mode != "zeros":
        raise Untranslatable(f"padding_mode={m.padding_mode!r} (the language pads with zeros)")
    padding = pair(m.padding) if not isinstance(m.padding, str) else "same" if m.padding == "same" else 0
    return op_call(
        "conv",
        filters=m.out_channels,
        kernel=pair(m.kernel_size),
        stride=pair(m.stride),
        padding=padding,
        dilation=pair(m.dilation),
        groups=m.groups,
        bias=m.bias is not None,
    )


def maxpool(kernel, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False) -> str:
    if pair(dilation) != 1:
        raise Untranslatable(f"dilation={dilation} (the language's maxpool has none)")
    if return_indices:
        raise Untranslatable("return_indices=True")
    k = pair(kernel)
    stride = k if stride in (None, []) else pair(stride)
    return op_call("maxpool", kernel=k, stride=stride, padding=pair(padding), ceil=bool(ceil_mode))


def avgpool(
    kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
) -> str:
    if divisor_override is not None:
        raise Untranslatable(f"divisor_override={divisor_override}")
    k = pair(kernel)
    return op_call(
        "avgpool",
        kernel=k,
        stride=k if stride in (None, []) else pair(stride),
        padding=pair(padding),
        ceil=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
    )


def adaptive(output, shape) -> str:
    sizes = list(output) if isinstance(output, (tuple, list)) else [output, output]
    sizes = [shape[2 + i] if s is None else s for i, s in enumerate(sizes)]  # None keeps the input size
    return op_call("adaptive_avgpool", output=pair(sizes))


def adaptive_max(output, shape, return_indices: bool = False) -> str:
    if return_indices:
        raise Untranslatable("adaptive max pooling with return_indices=True")
    sizes = list(output) if isinstance(output, (tuple, list)) else [output, output]
    if any(s != 1 for s in sizes):
        raise Untranslatable(f"adaptive max pooling to {output} (the language's is global_maxpool, to 1x1)")
    return op_call("global_maxpool", keepdims=True)


def reduce(kind: str, dim, keepdim: bool, rank: int, dtype=None) -> str:
    """`x.mean((2, 3))`, `torch.amax(x, (-2, -1), keepdim=True)`: a global pooling over H and W."""
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    if dtype is not None:
        raise Untranslatable(f"a reduction with dtype={dtype}")
    if rank != 4 or sorted(d % 4 if isinstance(d, int) else d for d in dims) != [2, 3]:
        raise Untranslatable(f"a reduction over dims {dim} (the language's global pooling is over H and W)")
    return op_call(f"global_{kind}pool", keepdims=bool(keepdim))


def lrn(size: int, alpha: float, beta: float, k: float) -> str:
    # dividing the decimal PyTorch's alpha was written as keeps 3e-4 / 3 at 0.0001 rather than
    # 9.999999999999999e-05
    paper = float(paper_alpha(Decimal(repr(float(alpha))), int(size)))  # type: ignore[arg-type]
    # written in full: PyTorch's alpha is not the language's, and the paper's four numbers are worth seeing
    return op_call("lrn", in_full=True, size=int(size), alpha=paper, beta=beta, k=k)


def batchnorm(m: nn.modules.batchnorm._BatchNorm) -> str:
    if not m.affine or not m.track_running_stats:
        raise Untranslatable("affine=False or track_running_stats=False (the language's batchnorm has both)")
    if m.momentum is None:
        raise Untranslatable("momentum=None (a cumulative average)")
    return op_call("batchnorm", eps=m.eps, momentum=m.momentum)


def layernorm(m: nn.LayerNorm, shape, channels_last: bool = False) -> str:
    affine = m.elementwise_affine and m.bias is not None
    return layer_norm(m.normalized_shape, affine, m.eps, shape, channels_last)


def layer_norm(normalized_shape, affine: bool, eps: float, shape, channels_last: bool = False) -> str:
    """`nn.LayerNorm(F)` on [N, F], or over the channels of a channels-last [N, H, W, C] (ConvNeXt's)."""
    if not affine:
        raise Untranslatable(
            "LayerNorm without a learned scale and shift (the language's layernorm has both)"
        )
    over_last = len(shape) == 2 or (channels_last and len(shape) == 4)
    if not over_last or tuple(normalized_shape) != (shape[-1],):
        over = f"{tuple(normalized_shape)} of {list(shape)}"
        raise Untranslatable(f"LayerNorm over the last dims {over} (the language's layernorm is over C)")
    return op_call("layernorm", eps=eps)


def pointwise_conv(m: nn.Linear) -> str:
    """`nn.Linear` over the channels of a channels-last [N, H, W, C]: a 1x1 convolution."""
    return op_call("conv", filters=m.out_features, kernel=1, bias=m.bias is not None)


def flatten(start_dim: int, end_dim: int, rank: int) -> str:
    if start_dim != 1 or end_dim not in (-1, rank - 1):
        raise Untranslatable(
            f"flatten(start_dim={start_dim}, end_dim={end_dim}) (the language flattens dims 1..)"
        )
    return op_call("flatten")


def softmax(dim, rank: int, dtype=None) -> str:
    if dtype is not None:
        raise Untranslatable(f"softmax with dtype={dtype}")
    if dim is None:  # PyTorch's legacy implicit dim: 1 for 2-D and 4-D inputs
        dim = 0 if rank in (0, 1, 3) else 1
    if dim not in (1, 1 - rank):
        raise Untranslatable(f"softmax over dim {dim} (the language's softmax is over dim 1)")
    return op_call("softmax")


def gelu(approximate: str) -> str:
    if approximate not in ("none", "tanh"):
        raise Untranslatable(f"gelu with approximate={approximate!r}")
    return op_call("gelu", approximate=approximate)


def conv_transpose(m: nn.ConvTranspose2d) -> str:
    if m.padding_mode != "zeros":
        raise Untranslatable(f"padding_mode={m.padding_mode!r} (the language pads with zeros)")
    return op_call(
        "conv_transpose",
        filters=m.out_channels,
        kernel=pair(m.kernel_size),
        stride=pair(m.stride),
        padding=pair(m.padding),
        output_padding=pair(m.output_padding),
        dilation=pair(m.dilation),
        groups=m.groups,
        bias=m.bias is not None,
    )


def upsample(size, scale_factor, mode: str, align_corners, shape, antialias: bool = False) -> str:
    """`nn.Upsample`, `F.interpolate`: an integer factor per axis (or a size that is one), nearest or bilinear."""
    if antialias:
        raise Untranslatable("upsampling with antialias=True (the language's upsampling does not filter)")
    if mode not in ("nearest", "bilinear"):
        raise Untranslatable(f"upsampling with mode={mode!r} (the language's are nearest and bilinear)")
    if len(shape) != 4:
        raise Untranslatable(f"upsampling a tensor of rank {len(shape)} (the language's is over H and W)")
    if size is not None:
        sizes = list(size) if isinstance(size, (tuple, list)) else [size, size]
        factors = [s / shape[2 + i] for i, s in enumerate(sizes)]
    else:
        factors = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * 2
    if any(float(f) != int(f) or f < 1 for f in factors):
        raise Untranslatable(f"upsampling by {factors} (the language's factors are whole numbers)")
    return op_call(
        "upsample",
        scale=pair([int(f) for f in factors]),
        mode=mode,
        align_corners=bool(align_corners) and mode == "bilinear",
    )


def stochastic_depth(p: float, mode: str) -> str:
    if mode not in ("row", "batch"):
        raise Untranslatable(f"stochastic depth with mode={mode!r}")
    return op_call("stochastic_depth", p=float(p), mode=mode)

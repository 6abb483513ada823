"""The op vocabulary: one table of the language's ops, their arguments, defaults, ranges, PyTorch forms
and how each op's IR node is built.

Lowering binds and checks arguments against it; highlighting, `dslc graph`, the generators of
`alexnet_dsl.testing` and the importer (which leaves out arguments equal to their default) read it too.
What other frameworks call our ops and arguments, and their ops we lack, is in foreign.py.

Adding an op is one entry here (an elementwise activation is `_activation("name")`: `ir.Activation` with
its kind, no new IR class), one shape rule (analysis, keyed by the IR node's type), one codegen entry
(backend) and a test file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, error
from alexnet_dsl.source import Span

RESERVED = {"true", "false", "same", "network", "block", "from"}


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of an op: its kind, its default and its range."""

    kind: str  # int, pair (int or pair), padding (pair or same), float, bool, choice (one of `choices`)
    default: object = None  # None (REQUIRED): required, unless optional
    lo: float | None = None
    hi: float | None = None
    optional: bool = False  # may be left out though it has no default (lrn's `avg_alpha`)
    choices: tuple[str, ...] = ()  # the words a `choice` takes, the default first

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and not self.optional


REQUIRED = None
_INT1 = Param("int", REQUIRED, lo=1)
_PAIR1 = Param("pair", REQUIRED, lo=1)


@dataclass(frozen=True, slots=True)
class TorchForm:
    """A PyTorch constructor people write positionally, `nn.Conv2d(3, 96, 11)`."""

    cls: str  # `nn.Conv2d`
    inferred: str | None  # its first argument, when dslc infers it from the input (`in_channels`)
    args: tuple[str, ...]  # the dslc names of the arguments that follow, in the constructor's order


# How an op's IR node is built from its bound arguments (every one present, defaults filled in, pairs
# as pairs) and where each argument is written: the node, or the error of a rule across arguments.
Build = Callable[[dict[str, Any], dict[str, Span], Span], "ir.Op | Diagnostic"]


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One op of the language: its arguments (the positional ones first), how its node is built, and
    the PyTorch constructor it mirrors."""

    positional: tuple[str, ...]
    params: dict[str, Param]
    build: Build
    variadic_refs: bool = False  # add / concat take layer names
    torch: TorchForm | None = None


def _node(cls: type, *keys: str) -> Build:
    """A node built from the arguments `keys`, in order."""
    return lambda v, spans, at: cls(*(v[k] for k in keys))


def _choice(*words: str) -> Param:
    """An argument that is one of `words`, the first by default."""
    return Param("choice", words[0], choices=words)


def _activation(kind: str, *keys: str) -> Build:
    """An elementwise activation: one IR node for all, told apart by its kind (and its arguments `keys`)."""

    def value(x: object) -> float | str:
        return x if isinstance(x, str) else float(x)  # type: ignore[arg-type]

    return lambda v, spans, at: ir.Activation(kind, tuple((k, value(v[k])) for k in keys))


def _pool(kind: str) -> Build:
    """A pooling of `kind` ("max", "avg"): the stride is the kernel's unless given; PyTorch pads by at
    most half the window."""

    def build(v: dict[str, Any], spans: dict[str, Span], at: Span) -> ir.Op | Diagnostic:
        stride = v["kernel"] if v["stride"] == "kernel" else v["stride"]
        kernel, padding = v["kernel"], v["padding"]
        for i in range(2):
            if padding[i] * 2 > kernel[i]:
                return error(
                    "E0105",
                    f"`padding` must be at most half the kernel: {padding[i]} > {kernel[i]} / 2",
                    spans.get("padding", at),
                    notes=("PyTorch's pooling pads by at most half the window",),
                )
        return ir.Pool(kind, kernel, stride, padding, v["ceil"], v.get("count_include_pad", True))

    return build


def _global(kind: str) -> Build:
    """A pooling of `kind` ("avg", "max") over all of H and W."""
    return lambda v, spans, at: ir.GlobalPool(kind, v["keepdims"])


def _chunk(v: dict[str, Any], spans: dict[str, Span], at: Span) -> ir.Op | Diagnostic:
    if v["index"] >= v["parts"]:
        return error(
            "E0105",
            f"`index` counts the parts from 0: it must be less than {v['parts']}, got {v['index']}",
            spans.get("index", at),
        )
    return ir.Chunk(v["parts"], v["index"])


def _upsample(v: dict[str, Any], spans: dict[str, Span], at: Span) -> ir.Op | Diagnostic:
    if v["align_corners"] and v["mode"] == "nearest":
        return error(
            "E0106",
            "`align_corners` applies to `mode=bilinear` only",
            spans["align_corners"],
            notes=("nearest-neighbour upsampling has no corners to align (PyTorch refuses it too)",),
        )
    return ir.Upsample(v["scale"], v["mode"], v["align_corners"])


def _conv_transpose(v: dict[str, Any], spans: dict[str, Span], at: Span) -> ir.Op | Diagnostic:
    for i in range(2):
        extra, stride, dilation = v["output_padding"][i], v["stride"][i], v["dilation"][i]
        if extra >= max(stride, dilation):
            return error(
                "E0105",
                f"`output_padding` must be less than the stride or the dilation: {extra} >= "
                f"{max(stride, dilation)}",
                spans.get("output_padding", at),
                notes=(
                    "`output_padding` picks one of the `stride` input sizes a strided conv maps to the "
                    "same output; it adds at most stride - 1 rows and columns",
                ),
            )
    keys = ("filters", "kernel", "stride", "padding", "output_padding", "dilation", "groups", "bias")
    return ir.ConvTranspose(*(v[k] for k in keys))


def _lrn(v: dict[str, Any], spans: dict[str, Span], at: Span) -> ir.Op | Diagnostic:
    """The paper's LRN; `avg_alpha` (the alpha other frameworks divide by the size) is converted."""
    alpha = v["alpha"]
    if v["avg_alpha"] is not None:
        if "alpha" in spans:
            return error(
                "E0106",
                "give either `alpha` (the paper's) or `avg_alpha` (divided by size), not both",
                spans["avg_alpha"],
            )
        alpha = ir.paper_alpha(v["avg_alpha"], v["size"])
    return ir.LRN(v["size"], alpha, v["beta"], v["k"])


OPS: dict[str, OpSpec] = {
    "conv": OpSpec(
        ("filters",),
        {
            "filters": _INT1,
            "kernel": _PAIR1,
            "stride": Param("pair", 1, lo=1),
            "padding": Param("padding", 0, lo=0),
            "dilation": Param("pair", 1, lo=1),
            "groups": Param("int", 1, lo=1),
            "bias": Param("bool", True),
        },
        _node(ir.Conv, "filters", "kernel", "stride", "padding", "dilation", "groups", "bias"),
        torch=TorchForm(
            "nn.Conv2d",
            "in_channels",
            ("filters", "kernel", "stride", "padding", "dilation", "groups", "bias"),
        ),
    ),
    "maxpool": OpSpec(
        (),
        {
            "kernel": _PAIR1,
            "stride": Param("pair", "kernel", lo=1),
            "padding": Param("pair", 0, lo=0),
            "ceil": Param("bool", False),
        },
        _pool("max"),
    ),
    "avgpool": OpSpec(
        (),
        {
            "kernel": _PAIR1,
            "stride": Param("pair", "kernel", lo=1),
            "padding": Param("pair", 0, lo=0),
            "ceil": Param("bool", False),
            "count_include_pad": Param("bool", True),
        },
        _pool("avg"),
    ),
    "conv_transpose": OpSpec(
        ("filters",),
        {
            "filters": _INT1,
            "kernel": _PAIR1,
            "stride": Param("pair", 1, lo=1),
            "padding": Param("pair", 0, lo=0),
            "output_padding": Param("pair", 0, lo=0),
            "dilation": Param("pair", 1, lo=1),
            "groups": Param("int", 1, lo=1),
            "bias": Param("bool", True),
        },
        _conv_transpose,
        torch=TorchForm(
            "nn.ConvTranspose2d",
            "in_channels",
            ("filters", "kernel", "stride", "padding", "output_padding", "groups", "bias", "dilation"),
        ),
    ),
    "adaptive_avgpool": OpSpec(("output",), {"output": _PAIR1}, _node(ir.AdaptiveAvgPool, "output")),
    "channel_shuffle": OpSpec(("groups",), {"groups": _INT1}, _node(ir.ChannelShuffle, "groups")),
    "global_avgpool": OpSpec((), {"keepdims": Param("bool", False)}, _global("avg")),
    "global_maxpool": OpSpec((), {"keepdims": Param("bool", False)}, _global("max")),
    "upsample": OpSpec(
        ("scale",),
        {
            "scale": _PAIR1,
            "mode": _choice("nearest", "bilinear"),
            "align_corners": Param("bool", False),
        },
        _upsample,
    ),
    "lrn": OpSpec(
        ("size",),
        {
            "size": _INT1,
            "alpha": Param("float", 1e-4, lo=0),
            "avg_alpha": Param("float", None, lo=0, optional=True),  # absent: `alpha` is the paper's
            "beta": Param("float", 0.75, lo=0),
            "k": Param("float", 1.0, lo=0),
        },
        _lrn,
        # (its alpha is divided by the size: dslc's `avg_alpha`)
        torch=TorchForm("nn.LocalResponseNorm", None, ("size", "avg_alpha", "beta", "k")),
    ),
    "batchnorm": OpSpec(
        (),
        {"eps": Param("float", 1e-5, lo=1e-300), "momentum": Param("float", 0.1, lo=0, hi=1)},
        _node(ir.BatchNorm, "eps", "momentum"),
        torch=TorchForm("nn.BatchNorm2d", "num_features", ("eps", "momentum")),
    ),
    "layernorm": OpSpec((), {"eps": Param("float", 1e-5, lo=1e-300)}, _node(ir.LayerNorm, "eps")),
    "scale": OpSpec(("init",), {"init": Param("float", 1.0)}, _node(ir.Scale, "init")),
    "dropout": OpSpec(("p",), {"p": Param("float", 0.5, lo=0, hi=1)}, _node(ir.Dropout, "p")),
    "stochastic_depth": OpSpec(
        ("p",),
        {"p": Param("float", REQUIRED, lo=0, hi=1), "mode": _choice("row", "batch")},
        _node(ir.StochasticDepth, "p", "mode"),
    ),
    "chunk": OpSpec(("parts", "index"), {"parts": _INT1, "index": Param("int", REQUIRED, lo=0)}, _chunk),
    "flatten": OpSpec((), {}, _node(ir.Flatten)),
    "linear": OpSpec(
        ("features",),
        {"features": _INT1, "bias": Param("bool", True)},
        _node(ir.Linear, "features", "bias"),
        torch=TorchForm("nn.Linear", "in_features", ("features", "bias")),
    ),
    "relu": OpSpec((), {}, _activation("relu")),
    "tanh": OpSpec((), {}, _activation("tanh")),
    "sigmoid": OpSpec((), {}, _activation("sigmoid")),
    "softmax": OpSpec((), {}, _activation("softmax")),
    "identity": OpSpec((), {}, _activation("identity")),
    "relu6": OpSpec((), {}, _activation("relu6")),
    "leaky_relu": OpSpec(
        ("slope",), {"slope": Param("float", 0.01, lo=0)}, _activation("leaky_relu", "slope")
    ),
    "elu": OpSpec(("alpha",), {"alpha": Param("float", 1.0, lo=0)}, _activation("elu", "alpha")),
    "gelu": OpSpec((), {"approximate": _choice("none", "tanh")}, _activation("gelu", "approximate")),
    "silu": OpSpec((), {}, _activation("silu")),
    "mish": OpSpec((), {}, _activation("mish")),
    "hardswish": OpSpec((), {}, _activation("hardswish")),
    "hardsigmoid": OpSpec((), {}, _activation("hardsigmoid")),
    "add": OpSpec((), {}, _node(ir.Add), variadic_refs=True),
    "mul": OpSpec((), {}, _node(ir.Mul), variadic_refs=True),
    "concat": OpSpec((), {}, _node(ir.Concat), variadic_refs=True),
}


def _defaults(spec: OpSpec) -> dict[str, Any] | None:
    """Every argument of `spec` at its default; None if one is required."""
    if any(p.default is REQUIRED for p in spec.params.values()):
        return None
    return {k: p.default for k, p in spec.params.items()}


# The elementwise activations (`relu`, `gelu`, `leaky_relu`, ...): the ops whose node is an
# `ir.Activation`; each may be written bare, its arguments at their defaults.
ACTIVATIONS = tuple(
    op
    for op, spec in OPS.items()
    if (v := _defaults(spec)) is not None and isinstance(spec.build(v, {}, Span.point(1, 1)), ir.Activation)
)

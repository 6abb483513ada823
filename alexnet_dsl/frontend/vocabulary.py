"""The op vocabulary: one table of the language's ops, their arguments, defaults, ranges, PyTorch forms
and how each op's IR node is built.

Lowering binds and checks arguments against it; highlighting, `dslc graph`, the generators of
`alexnet_dsl.testing` and the importer (which leaves out arguments equal to their default) read it too. Beside it: what other frameworks call our ops and arguments, and their ops we lack.

Adding an op is one entry here (an elementwise activation is `_activation("name")`: `ir.Activation` with
its kind, no new IR class), one shape rule (analysis, keyed by the IR node's type), one codegen entry
(backend) and a test file.
"""

from __future__ import annotations

import re
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

    kind: str  # int, pair (int or pair), padding (pair or same), float, bool
    default: object = None  # None (REQUIRED): required, unless optional
    lo: float | None = None
    hi: float | None = None
    optional: bool = False  # may be left out though it has no default (lrn's `avg_alpha`)

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


def _activation(kind: str, *keys: str) -> Build:
    """An elementwise activation: one IR node for all, told apart by its kind (and its arguments `keys`)."""
    return lambda v, spans, at: ir.Activation(kind, tuple((k, float(v[k])) for k in keys))


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
    "adaptive_avgpool": OpSpec(("output",), {"output": _PAIR1}, _node(ir.AdaptiveAvgPool, "output")),
    "channel_shuffle": OpSpec(("groups",), {"groups": _INT1}, _node(ir.ChannelShuffle, "groups")),
    "global_avgpool": OpSpec((), {"keepdims": Param("bool", False)}, _global("avg")),
    "global_maxpool": OpSpec((), {"keepdims": Param("bool", False)}, _global("max")),
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
    "dropout": OpSpec(("p",), {"p": Param("float", 0.5, lo=0, hi=1)}, _node(ir.Dropout, "p")),
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
    "gelu": OpSpec((), {}, _activation("gelu")),
    "silu": OpSpec((), {}, _activation("silu")),
    "mish": OpSpec((), {}, _activation("mish")),
    "hardswish": OpSpec((), {}, _activation("hardswish")),
    "hardsigmoid": OpSpec((), {}, _activation("hardsigmoid")),
    "add": OpSpec((), {}, _node(ir.Add), variadic_refs=True),
    "concat": OpSpec((), {}, _node(ir.Concat), variadic_refs=True),
}

# The elementwise activations (`relu`, `tanh`, ...): the argument-free ops whose node is an `ir.Activation`.
ACTIVATIONS = tuple(
    op
    for op, spec in OPS.items()
    if not spec.params and isinstance(spec.build({}, {}, Span.point(1, 1)), ir.Activation)
)


# What other frameworks call dslc's ops and arguments: such a name is no typo of ours, so the edit
# distance alone misses it (`dense` is far from `linear`).
OP_ALIASES = {
    "dense": "linear",
    "fc": "linear",
    "swish": "silu",
    "layernormalization": "layernorm",
    "layer_norm": "layernorm",
    "layernorm2d": "layernorm",
    "globalaveragepooling2d": "global_avgpool",
    "globalavgpool": "global_avgpool",
    "globalaveragepool": "global_avgpool",
    "global_average_pooling2d": "global_avgpool",
    "globalmaxpool": "global_maxpool",
    "globalmaxpool2d": "global_maxpool",
    "globalmaxpooling2d": "global_maxpool",
    "global_max_pooling2d": "global_maxpool",
    "leakyrelu": "leaky_relu",
    "hard_swish": "hardswish",
    "hard_sigmoid": "hardsigmoid",
    "fully_connected": "linear",
    "conv2d": "conv",
    "convolution": "conv",
    "max_pool": "maxpool",
    "maxpool2d": "maxpool",
    "max_pool2d": "maxpool",
    "max_pooling2d": "maxpool",
    "avg_pool": "avgpool",
    "avgpool2d": "avgpool",
    "avg_pool2d": "avgpool",
    "average_pooling2d": "avgpool",
    "adaptiveavgpool2d": "adaptive_avgpool",
    "adaptive_avg_pool2d": "adaptive_avgpool",
    "localresponsenorm": "lrn",
    "local_response_normalization": "lrn",
    "batchnorm2d": "batchnorm",
    "batch_norm": "batchnorm",
    "batchnormalization": "batchnorm",
    "batch_normalization": "batchnorm",
    "concatenate": "concat",
    "cat": "concat",
}
ARG_ALIASES = {  # (op, their name) -> (ours, where theirs comes from)
    ("global_avgpool", "keepdim"): ("keepdims", "PyTorch's `keepdim` is dslc's `keepdims`"),
    ("global_maxpool", "keepdim"): ("keepdims", "PyTorch's `keepdim` is dslc's `keepdims`"),
    ("leaky_relu", "negative_slope"): ("slope", "PyTorch's `negative_slope` is dslc's `slope`"),
    ("leaky_relu", "alpha"): ("slope", "Keras's and ONNX's `alpha` of a leaky ReLU is dslc's `slope`"),
    ("lrn", "bias"): ("k", "ONNX's and TensorFlow's `bias` is dslc's `k`"),
    ("lrn", "local_size"): ("size", "Caffe's `local_size` is dslc's `size`"),
    ("conv", "kernel_size"): ("kernel", "PyTorch's `kernel_size` is dslc's `kernel`"),
    ("maxpool", "kernel_size"): ("kernel", "PyTorch's `kernel_size` is dslc's `kernel`"),
    ("avgpool", "kernel_size"): ("kernel", "PyTorch's `kernel_size` is dslc's `kernel`"),
    ("maxpool", "ceil_mode"): ("ceil", "PyTorch's `ceil_mode` is dslc's `ceil`"),
    ("avgpool", "ceil_mode"): ("ceil", "PyTorch's `ceil_mode` is dslc's `ceil`"),
    ("conv", "out_channels"): ("filters", "PyTorch's `out_channels` is dslc's `filters`"),
    ("linear", "out_features"): ("features", "PyTorch's `out_features` is dslc's `features`"),
    ("linear", "units"): ("features", "Keras's `units` is dslc's `features`"),
    ("dropout", "rate"): ("p", "Keras's `rate` is dslc's `p`"),
    ("batchnorm", "epsilon"): ("eps", "Keras's `epsilon` is dslc's `eps`"),
    ("adaptive_avgpool", "output_size"): ("output", "PyTorch's `output_size` is dslc's `output`"),
    ("conv", "num_output"): ("filters", "Caffe's `num_output` is dslc's `filters`"),
    ("linear", "num_output"): ("features", "Caffe's `num_output` is dslc's `features`"),
    ("lrn", "n"): ("size", "the paper's `n` (adjacent kernel maps) is dslc's `size`"),
    ("conv", "pad"): ("padding", "Caffe's `pad` is dslc's `padding`"),
    ("maxpool", "pad"): ("padding", "Caffe's `pad` is dslc's `padding`"),
    ("avgpool", "pad"): ("padding", "Caffe's `pad` is dslc's `padding`"),
    ("conv", "group"): ("groups", "Caffe's `group` is dslc's `groups`"),
    ("conv", "bias_term"): ("bias", "Caffe's `bias_term` is dslc's `bias`"),
    ("linear", "bias_term"): ("bias", "Caffe's `bias_term` is dslc's `bias`"),
    ("conv", "use_bias"): ("bias", "Keras's `use_bias` is dslc's `bias`"),
    ("linear", "use_bias"): ("bias", "Keras's `use_bias` is dslc's `bias`"),
    ("conv", "strides"): ("stride", "Keras's `strides` is dslc's `stride`"),
    ("maxpool", "strides"): ("stride", "Keras's `strides` is dslc's `stride`"),
    ("avgpool", "strides"): ("stride", "Keras's `strides` is dslc's `stride`"),
    ("maxpool", "pool_size"): ("kernel", "Keras's `pool_size` is dslc's `kernel`"),
    ("avgpool", "pool_size"): ("kernel", "Keras's `pool_size` is dslc's `kernel`"),
    ("conv", "dilation_rate"): ("dilation", "Keras's `dilation_rate` is dslc's `dilation`"),
    ("dropout", "dropout_ratio"): ("p", "Caffe's `dropout_ratio` is dslc's `p`"),
}
# Arguments other frameworks need and dslc infers from the layer's input: written, they are dropped.
INFERRED_ARGS = {
    ("conv", "in_channels"): "PyTorch's `in_channels`",
    ("linear", "in_features"): "PyTorch's `in_features`",
    ("batchnorm", "num_features"): "PyTorch's `num_features`",
}


# Well-known ops of other frameworks that dslc lacks. Each is close in spelling to one of ours (`gelu` to
# `relu`, `LogSoftmax` to `softmax`) but computes something else: proposing ours would silently change the
# network, so such a name is answered with "not an op of dslc yet", never with a did-you-mean. Keys are
# lowercase without `_` and without a trailing `1d`/`2d`/`3d`.
MISSING_OPS = frozenset(
    {
        "logsoftmax",
        "softmin",
        "selu",
        "celu",
        "prelu",
        "rrelu",
        "hardtanh",
        "softplus",
        "softsign",
        "tanhshrink",
        "logsigmoid",
        "threshold",
        "glu",
        "groupnorm",
        "instancenorm",
        "rmsnorm",
        "dropout2d",
        "alphadropout",
        "spatialdropout",
        "maxunpool",
        "lppool",
        "adaptivemaxpool",
        "fractionalmaxpool",
        "convtranspose",
        "conv2dtranspose",
        "deconv",
        "deconvolution",
        "separableconv",
        "depthwiseconv",
        "upsample",
        "upsampling",
        "interpolate",
        "pixelshuffle",
        "zeropad",
        "zeropadding",
        "pad",
        "embedding",
        "lstm",
        "gru",
        "rnn",
        "multiheadattention",
        "attention",
        "transformer",
        "sub",
        "mul",
        "multiply",
        "matmul",
        "bilinear",
    }
)


def is_missing_op(name: str) -> bool:
    """Whether `name` is another framework's op that dslc lacks (see MISSING_OPS)."""
    key = name.lower().replace("_", "")
    return key in MISSING_OPS or re.sub(r"[123]d$", "", key) in MISSING_OPS

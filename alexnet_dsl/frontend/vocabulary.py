"""The op vocabulary: one table of the language's ops, their arguments, defaults, ranges and PyTorch forms.

Lowering binds and checks arguments against it; highlighting, the importer, the generators and the docs
read it too. Beside it: what other frameworks call our ops and arguments, and their ops we lack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESERVED = {"true", "false", "same", "network", "block", "from"}


@dataclass(frozen=True, slots=True)
class Param:
    kind: str  # int, pair (int or pair), padding (pair or same), float, bool
    default: object = None  # None: required
    lo: float | None = None
    hi: float | None = None


REQUIRED = None
_INT1 = Param("int", REQUIRED, lo=1)
_PAIR1 = Param("pair", REQUIRED, lo=1)


@dataclass(frozen=True, slots=True)
class OpSpec:
    positional: tuple[str, ...]
    params: dict[str, Param]
    variadic_refs: bool = False  # add / concat take layer names


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
    ),
    "maxpool": OpSpec(
        (),
        {
            "kernel": _PAIR1,
            "stride": Param("pair", "kernel", lo=1),
            "padding": Param("pair", 0, lo=0),
            "ceil": Param("bool", False),
        },
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
    ),
    "adaptive_avgpool": OpSpec(("output",), {"output": _PAIR1}),
    "lrn": OpSpec(
        ("size",),
        {
            "size": _INT1,
            "alpha": Param("float", 1e-4, lo=0),
            "avg_alpha": Param("float", None, lo=0),
            "beta": Param("float", 0.75, lo=0),
            "k": Param("float", 1.0, lo=0),
        },
    ),
    "batchnorm": OpSpec(
        (), {"eps": Param("float", 1e-5, lo=1e-300), "momentum": Param("float", 0.1, lo=0, hi=1)}
    ),
    "dropout": OpSpec(("p",), {"p": Param("float", 0.5, lo=0, hi=1)}),
    "flatten": OpSpec((), {}),
    "linear": OpSpec(("features",), {"features": _INT1, "bias": Param("bool", True)}),
    "relu": OpSpec((), {}),
    "tanh": OpSpec((), {}),
    "sigmoid": OpSpec((), {}),
    "softmax": OpSpec((), {}),
    "add": OpSpec((), {}, variadic_refs=True),
    "concat": OpSpec((), {}, variadic_refs=True),
}
OPTIONAL_NONE = {("lrn", "avg_alpha")}  # optional arguments without a default value


# PyTorch constructors people write positionally: (class, the first argument if dslc infers it from
# the input, the dslc names of the arguments that follow, in the constructor's order).
TORCH_FORMS = {
    "conv": (
        "nn.Conv2d",
        "in_channels",
        ("filters", "kernel", "stride", "padding", "dilation", "groups", "bias"),
    ),
    "linear": ("nn.Linear", "in_features", ("features", "bias")),
    "batchnorm": ("nn.BatchNorm2d", "num_features", ("eps", "momentum")),
    "lrn": ("nn.LocalResponseNorm", None, ("size", "avg_alpha", "beta", "k")),
}


# What other frameworks call dslc's ops and arguments: such a name is no typo of ours, so the edit
# distance alone misses it (`dense` is far from `linear`).
OP_ALIASES = {
    "dense": "linear",
    "fc": "linear",
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
        "gelu",
        "leakyrelu",
        "logsoftmax",
        "softmin",
        "silu",
        "swish",
        "elu",
        "selu",
        "celu",
        "relu6",
        "prelu",
        "rrelu",
        "hardswish",
        "hardsigmoid",
        "hardtanh",
        "mish",
        "softplus",
        "softsign",
        "tanhshrink",
        "logsigmoid",
        "threshold",
        "glu",
        "layernorm",
        "layernormalization",
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
        "globalmaxpool",
        "globalmaxpooling",
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
        "identity",
    }
)


def is_missing_op(name: str) -> bool:
    """Whether `name` is another framework's op that dslc lacks (see MISSING_OPS)."""
    key = name.lower().replace("_", "")
    return key in MISSING_OPS or re.sub(r"[123]d$", "", key) in MISSING_OPS

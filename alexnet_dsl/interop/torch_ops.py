"""PyTorch calls as dslc ops: the modules, functions and tensor methods `dslc import` translates.

Each becomes the text of one op call (torch_makers.py writes it from the vocabulary: arguments in the
table's order, one equal to its default left out, a required positional one written by position,
`conv(96, kernel=11, stride=4)`). A call without a counterpart in the language raises `Untranslatable`,
saying why.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

from alexnet_dsl.extras import needs

with needs("`alexnet_dsl.interop.torch_ops`"):  # a missing extra is one line naming its `pip install`
    import torch
    import torch.nn.functional as F
    from torch import fx, nn

    from alexnet_dsl.interop.torch_makers import (
        Untranslatable,
        adaptive,
        adaptive_max,
        avgpool,
        batchnorm,
        conv,
        conv_transpose,
        flatten,
        gelu,
        layernorm,
        lrn,
        maxpool,
        op_call,
        reduce,
        softmax,
        stochastic_depth,
        upsample,
    )


# ---------------------------------------------------------------------------- modules, functions, methods

# each maker takes the module (or the bound arguments) and the input's shape; None is the identity
_MODULES: dict[type, Callable[[nn.Module, tuple], str | None]] = {
    nn.Conv2d: lambda m, s: conv(m),
    nn.ConvTranspose2d: lambda m, s: conv_transpose(m),
    nn.Upsample: lambda m, s: upsample(m.size, m.scale_factor, m.mode, m.align_corners, s),
    nn.UpsamplingNearest2d: lambda m, s: upsample(m.size, m.scale_factor, "nearest", None, s),
    nn.UpsamplingBilinear2d: lambda m, s: upsample(m.size, m.scale_factor, "bilinear", True, s),
    nn.MaxPool2d: lambda m, s: maxpool(
        m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices
    ),
    nn.AvgPool2d: lambda m, s: avgpool(
        m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override
    ),
    nn.AdaptiveAvgPool2d: lambda m, s: adaptive(m.output_size, s),
    nn.AdaptiveMaxPool2d: lambda m, s: adaptive_max(m.output_size, s, m.return_indices),
    nn.ChannelShuffle: lambda m, s: op_call("channel_shuffle", groups=m.groups),
    nn.LocalResponseNorm: lambda m, s: lrn(m.size, m.alpha, m.beta, m.k),
    nn.BatchNorm1d: lambda m, s: batchnorm(m),
    nn.BatchNorm2d: lambda m, s: batchnorm(m),
    nn.LayerNorm: layernorm,
    nn.Dropout: lambda m, s: op_call("dropout", p=m.p),
    nn.Flatten: lambda m, s: flatten(m.start_dim, m.end_dim, len(s)),
    nn.Linear: lambda m, s: op_call("linear", features=m.out_features, bias=m.bias is not None),
    nn.ReLU: lambda m, s: op_call("relu"),
    nn.Tanh: lambda m, s: op_call("tanh"),
    nn.Sigmoid: lambda m, s: op_call("sigmoid"),
    nn.Softmax: lambda m, s: softmax(m.dim, len(s)),
    nn.ReLU6: lambda m, s: op_call("relu6"),
    nn.LeakyReLU: lambda m, s: op_call("leaky_relu", slope=m.negative_slope),
    nn.ELU: lambda m, s: op_call("elu", alpha=m.alpha),
    nn.GELU: lambda m, s: gelu(m.approximate),
    nn.SiLU: lambda m, s: op_call("silu"),
    nn.Mish: lambda m, s: op_call("mish"),
    nn.Hardswish: lambda m, s: op_call("hardswish"),
    nn.Hardsigmoid: lambda m, s: op_call("hardsigmoid"),
    nn.Identity: lambda m, s: None,
}

# functions and methods: PyTorch's parameters in order with PyTorch's defaults, and the op they become
NO_DEFAULT = ...
_Signature = tuple[tuple[str, object], ...]
_FUNCTIONS: dict[Callable, tuple[_Signature, Callable[..., str | None]]] = {}


def _function(targets: Sequence[Callable], params: _Signature):
    def register(make: Callable[..., str | None]):
        for t in targets:
            _FUNCTIONS[t] = (params, make)
        return make

    return register


_function([F.relu, torch.relu], (("input", NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("relu"))
_function([torch.tanh, F.tanh], (("input", NO_DEFAULT),))(lambda a, s: op_call("tanh"))
_function([F.relu6], (("input", NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("relu6"))
_function([F.leaky_relu], (("input", NO_DEFAULT), ("negative_slope", 0.01), ("inplace", False)))(
    lambda a, s: op_call("leaky_relu", slope=a["negative_slope"])
)
_function([F.elu], (("input", NO_DEFAULT), ("alpha", 1.0), ("inplace", False)))(
    lambda a, s: op_call("elu", alpha=a["alpha"])
)
_function([F.gelu], (("input", NO_DEFAULT), ("approximate", "none")))(lambda a, s: gelu(a["approximate"]))
_function(
    [F.interpolate],
    (
        ("input", NO_DEFAULT),
        ("size", None),
        ("scale_factor", None),
        ("mode", "nearest"),
        ("align_corners", None),
        ("recompute_scale_factor", None),
        ("antialias", False),
    ),
)(lambda a, s: upsample(a["size"], a["scale_factor"], a["mode"], a["align_corners"], s, a["antialias"]))
_function([F.silu], (("input", NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("silu"))
_function([F.mish], (("input", NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("mish"))
_function([F.hardswish], (("input", NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("hardswish"))
_function([F.hardsigmoid], (("input", NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("hardsigmoid"))
_function([torch.sigmoid, F.sigmoid], (("input", NO_DEFAULT),))(lambda a, s: op_call("sigmoid"))
_function(
    [F.softmax, torch.softmax],
    (("input", NO_DEFAULT), ("dim", None), ("_stacklevel", 3), ("dtype", None)),
)(lambda a, s: softmax(a["dim"], len(s), a["dtype"]))
_function([torch.flatten], (("input", NO_DEFAULT), ("start_dim", 0), ("end_dim", -1)))(
    lambda a, s: flatten(a["start_dim"], a["end_dim"], len(s))
)
_function(
    [F.max_pool2d],
    (
        ("input", NO_DEFAULT),
        ("kernel_size", NO_DEFAULT),
        ("stride", None),
        ("padding", 0),
        ("dilation", 1),
        ("ceil_mode", False),
        ("return_indices", False),
    ),
)(
    lambda a, s: maxpool(
        a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"], a["return_indices"]
    )
)
_function(
    [F.avg_pool2d],
    (
        ("input", NO_DEFAULT),
        ("kernel_size", NO_DEFAULT),
        ("stride", None),
        ("padding", 0),
        ("ceil_mode", False),
        ("count_include_pad", True),
        ("divisor_override", None),
    ),
)(
    lambda a, s: avgpool(
        a["kernel_size"],
        a["stride"],
        a["padding"],
        a["ceil_mode"],
        a["count_include_pad"],
        a["divisor_override"],
    )
)
_function([F.adaptive_avg_pool2d], (("input", NO_DEFAULT), ("output_size", NO_DEFAULT)))(
    lambda a, s: adaptive(a["output_size"], s)
)
_function(
    [F.adaptive_max_pool2d], (("input", NO_DEFAULT), ("output_size", NO_DEFAULT), ("return_indices", False))
)(lambda a, s: adaptive_max(a["output_size"], s, a["return_indices"]))
_function([F.channel_shuffle, torch.channel_shuffle], (("input", NO_DEFAULT), ("groups", NO_DEFAULT)))(
    lambda a, s: op_call("channel_shuffle", groups=a["groups"])
)
_function([torch.mean], (("input", NO_DEFAULT), ("dim", None), ("keepdim", False), ("dtype", None)))(
    lambda a, s: reduce("avg", a["dim"], a["keepdim"], len(s), a["dtype"])
)
_function([torch.amax], (("input", NO_DEFAULT), ("dim", ()), ("keepdim", False)))(
    lambda a, s: reduce("max", a["dim"], a["keepdim"], len(s))
)
_function(
    [F.local_response_norm],
    (("input", NO_DEFAULT), ("size", NO_DEFAULT), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)),
)(lambda a, s: lrn(a["size"], a["alpha"], a["beta"], a["k"]))
# a dropout that is never active (`training=False` written out) is the identity
_function([F.dropout], (("input", NO_DEFAULT), ("p", 0.5), ("training", True), ("inplace", False)))(
    lambda a, s: op_call("dropout", p=a["p"]) if a["training"] else None
)

_SELF: _Signature = (("self", NO_DEFAULT),)
_METHODS: dict[str, tuple[_Signature, Callable[..., str | None]]] = {
    "relu": (_SELF, lambda a, s: op_call("relu")),
    "relu_": (_SELF, lambda a, s: op_call("relu")),
    "tanh": (_SELF, lambda a, s: op_call("tanh")),
    "sigmoid": (_SELF, lambda a, s: op_call("sigmoid")),
    "softmax": (
        (*_SELF, ("dim", NO_DEFAULT), ("dtype", None)),
        lambda a, s: softmax(a["dim"], len(s), a["dtype"]),
    ),
    "flatten": (
        (*_SELF, ("start_dim", 0), ("end_dim", -1)),
        lambda a, s: flatten(a["start_dim"], a["end_dim"], len(s)),
    ),
    "contiguous": (_SELF, lambda a, s: None),
    "mean": (
        (*_SELF, ("dim", None), ("keepdim", False), ("dtype", None)),
        lambda a, s: reduce("avg", a["dim"], a["keepdim"], len(s), a["dtype"]),
    ),
    "amax": (
        (*_SELF, ("dim", ()), ("keepdim", False)),
        lambda a, s: reduce("max", a["dim"], a["keepdim"], len(s)),
    ),
}


def bind(params: _Signature, args: tuple, kwargs: dict, what: str) -> dict[str, object]:
    """A call's arguments by name, PyTorch's defaults filled in."""
    names = [p for p, _ in params]
    if len(args) > len(names):
        raise Untranslatable(f"{what} with {len(args)} positional arguments")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise Untranslatable(f"{what} with argument `{k}`")
        bound[k] = v
    for p, default in params:
        if p not in bound:
            if default is NO_DEFAULT:
                raise Untranslatable(f"{what} without `{p}`")
            bound[p] = default
    return bound


# ---------------------------------------------------------------------------- one traced node


def is_stochastic_depth(module: nn.Module) -> bool:
    """torchvision's `StochasticDepth` (torchvision.ops.misc), recognised without importing torchvision: the
    importer traces it as one call rather than through its training-mode random draws."""
    return type(module).__name__ == "StochasticDepth" and hasattr(module, "p") and hasattr(module, "mode")


def single_op(gm: fx.GraphModule, node: fx.Node, in_shape: tuple[int, ...]) -> str | None:
    """The op of a node with one tensor input (a module, function or method call); None for the identity."""
    if node.op == "call_module":
        module = gm.get_submodule(node.target)
        make = _MODULES.get(type(module))
        if make is None and is_stochastic_depth(module):
            return stochastic_depth(module.p, module.mode)
        if make is None:
            raise Untranslatable("no such op in the language")
        if len(node.args) != 1 or node.kwargs:
            raise Untranslatable("called with more than one argument")
        return make(gm.get_submodule(node.target), in_shape)
    if node.op == "call_function" and node.target in _FUNCTIONS:
        params, make = _FUNCTIONS[node.target]
        bound = bind(params, node.args, dict(node.kwargs), node.name)
        if node.target is F.interpolate and bound["size"] is not None and "dslc_shape" in node.meta:
            bound["size"] = node.meta["dslc_shape"][2:]  # a size computed from the input (`x.shape[2] * 2`)
        return make(bound, in_shape)
    if node.op == "call_method" and node.target in _METHODS:
        params, make = _METHODS[node.target]
        return make(bind(params, node.args, dict(node.kwargs), f".{node.target}()"), in_shape)
    if node.op in ("call_function", "call_method"):
        raise Untranslatable("no such op in the language")
    if node.op == "get_attr":
        raise Untranslatable(
            "reads a parameter or buffer directly (the language has layers, not free tensors)"
        )
    raise Untranslatable(f"a `{node.op}` node")


def add_operands(node: fx.Node) -> tuple[fx.Node, fx.Node] | None:
    """The two operands of `a + b` (also `a += b`), `torch.add(a, b)`, `a.add(b)`; None for another node."""
    if node.op == "call_function":
        is_add = node.target in (operator.add, operator.iadd, torch.add)
    else:
        is_add = node.op == "call_method" and node.target in ("add", "add_")
    if not is_add:
        return None
    signature = (("input", NO_DEFAULT), ("other", NO_DEFAULT), ("alpha", 1))
    a, b, alpha = bind(signature, node.args, dict(node.kwargs), "add").values()
    if alpha != 1:
        raise Untranslatable(f"an add with alpha={alpha}")
    if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
        raise Untranslatable("adds a constant (the language adds layers)")
    return a, b


def concat_operands(node: fx.Node, rank: int) -> list | None:
    """The tensors `torch.cat` joins over channels; None for another node."""
    if node.op != "call_function" or node.target not in (torch.cat, torch.concat):
        return None
    bound = bind((("tensors", NO_DEFAULT), ("dim", 0)), node.args, dict(node.kwargs), "torch.cat")
    if bound["dim"] not in (1, 1 - rank):
        raise Untranslatable(f"a concatenation over dim {bound['dim']} (the language concatenates channels)")
    if not isinstance(bound["tensors"], (list, tuple)):
        raise Untranslatable("a concatenation of a tuple computed by another op (the language joins layers)")
    return list(bound["tensors"])

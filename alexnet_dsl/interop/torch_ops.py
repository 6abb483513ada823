"""PyTorch calls as dslc ops: the modules, functions and tensor methods `dslc import` translates.

Each becomes the text of one op call, written from the vocabulary (`alexnet_dsl.frontend.vocabulary.OPS`):
arguments in the table's order, one equal to its default left out, a required positional one written by
position (`conv(96, kernel=11, stride=4)`). A call without a counterpart in the language raises
`Untranslatable`, saying why.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from decimal import Decimal

from alexnet_dsl.extras import needs
from alexnet_dsl.frontend.vocabulary import OPS, REQUIRED
from alexnet_dsl.ir.nodes import paper_alpha

with needs("`alexnet_dsl.interop.torch_ops`"):  # a missing extra is one line naming its `pip install`
    import torch
    import torch.nn.functional as F
    from torch import fx, nn


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
    return str(value)  # an int, or `same`


def _pair(v) -> int | tuple[int, int]:
    """A size or a pair of sizes as the language writes it: a pair of equal sizes is one size."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise Untranslatable(f"expects a pair, got {tuple(v)}")
        return int(v[0]) if v[0] == v[1] else (int(v[0]), int(v[1]))
    return int(v)


# ---------------------------------------------------------------------------- one op each


def _conv(m: nn.Conv2d) -> str:
    if m.padding_mode != "zeros":
        raise Untranslatable(f"padding_mode={m.padding_mode!r} (the language pads with zeros)")
    padding = _pair(m.padding) if not isinstance(m.padding, str) else "same" if m.padding == "same" else 0
    return op_call(
        "conv",
        filters=m.out_channels,
        kernel=_pair(m.kernel_size),
        stride=_pair(m.stride),
        padding=padding,
        dilation=_pair(m.dilation),
        groups=m.groups,
        bias=m.bias is not None,
    )


def _maxpool(kernel, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False) -> str:
    if _pair(dilation) != 1:
        raise Untranslatable(f"dilation={dilation} (the language's maxpool has none)")
    if return_indices:
        raise Untranslatable("return_indices=True")
    k = _pair(kernel)
    stride = k if stride in (None, []) else _pair(stride)
    return op_call("maxpool", kernel=k, stride=stride, padding=_pair(padding), ceil=bool(ceil_mode))


def _avgpool(
    kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
) -> str:
    if divisor_override is not None:
        raise Untranslatable(f"divisor_override={divisor_override}")
    k = _pair(kernel)
    return op_call(
        "avgpool",
        kernel=k,
        stride=k if stride in (None, []) else _pair(stride),
        padding=_pair(padding),
        ceil=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
    )


def _adaptive(output, shape) -> str:
    sizes = list(output) if isinstance(output, (tuple, list)) else [output, output]
    sizes = [shape[2 + i] if s is None else s for i, s in enumerate(sizes)]  # None keeps the input size
    return op_call("adaptive_avgpool", output=_pair(sizes))


def _adaptive_max(output, shape, return_indices: bool = False) -> str:
    if return_indices:
        raise Untranslatable("adaptive max pooling with return_indices=True")
    sizes = list(output) if isinstance(output, (tuple, list)) else [output, output]
    if any(s != 1 for s in sizes):
        raise Untranslatable(f"adaptive max pooling to {output} (the language's is global_maxpool, to 1x1)")
    return op_call("global_maxpool", keepdims=True)


def _reduce(kind: str, dim, keepdim: bool, rank: int, dtype=None) -> str:
    """`x.mean((2, 3))`, `torch.amax(x, (-2, -1), keepdim=True)`: a global pooling over H and W."""
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    if dtype is not None:
        raise Untranslatable(f"a reduction with dtype={dtype}")
    if rank != 4 or sorted(d % 4 if isinstance(d, int) else d for d in dims) != [2, 3]:
        raise Untranslatable(f"a reduction over dims {dim} (the language's global pooling is over H and W)")
    return op_call(f"global_{kind}pool", keepdims=bool(keepdim))


def _lrn(size: int, alpha: float, beta: float, k: float) -> str:
    # dividing the decimal PyTorch's alpha was written as keeps 3e-4 / 3 at 0.0001 rather than
    # 9.999999999999999e-05
    paper = float(paper_alpha(Decimal(repr(float(alpha))), int(size)))  # type: ignore[arg-type]
    # written in full: PyTorch's alpha is not the language's, and the paper's four numbers are worth seeing
    return op_call("lrn", in_full=True, size=int(size), alpha=paper, beta=beta, k=k)


def _batchnorm(m: nn.modules.batchnorm._BatchNorm) -> str:
    if not m.affine or not m.track_running_stats:
        raise Untranslatable("affine=False or track_running_stats=False (the language's batchnorm has both)")
    if m.momentum is None:
        raise Untranslatable("momentum=None (a cumulative average)")
    return op_call("batchnorm", eps=m.eps, momentum=m.momentum)


def _layernorm(m: nn.LayerNorm, shape) -> str:
    if not m.elementwise_affine or m.bias is None:
        raise Untranslatable(
            "LayerNorm without a learned scale and shift (the language's layernorm has both)"
        )
    if len(shape) != 2 or tuple(m.normalized_shape) != (shape[1],):
        over = f"{tuple(m.normalized_shape)} of {list(shape)}"
        raise Untranslatable(f"LayerNorm over the last dims {over} (the language's layernorm is over C)")
    return op_call("layernorm", eps=m.eps)


def _flatten(start_dim: int, end_dim: int, rank: int) -> str:
    if start_dim != 1 or end_dim not in (-1, rank - 1):
        raise Untranslatable(
            f"flatten(start_dim={start_dim}, end_dim={end_dim}) (the language flattens dims 1..)"
        )
    return op_call("flatten")


def _softmax(dim, rank: int, dtype=None) -> str:
    if dtype is not None:
        raise Untranslatable(f"softmax with dtype={dtype}")
    if dim is None:  # PyTorch's legacy implicit dim: 1 for 2-D and 4-D inputs
        dim = 0 if rank in (0, 1, 3) else 1
    if dim not in (1, 1 - rank):
        raise Untranslatable(f"softmax over dim {dim} (the language's softmax is over dim 1)")
    return op_call("softmax")


def _gelu(approximate: str) -> str:
    if approximate != "none":
        raise Untranslatable(f"gelu with approximate={approximate!r} (the language's gelu is the exact one)")
    return op_call("gelu")


# ---------------------------------------------------------------------------- modules, functions, methods

# each maker takes the module (or the bound arguments) and the input's shape; None is the identity
_MODULES: dict[type, Callable[[nn.Module, tuple], str | None]] = {
    nn.Conv2d: lambda m, s: _conv(m),
    nn.MaxPool2d: lambda m, s: _maxpool(
        m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices
    ),
    nn.AvgPool2d: lambda m, s: _avgpool(
        m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override
    ),
    nn.AdaptiveAvgPool2d: lambda m, s: _adaptive(m.output_size, s),
    nn.AdaptiveMaxPool2d: lambda m, s: _adaptive_max(m.output_size, s, m.return_indices),
    nn.ChannelShuffle: lambda m, s: op_call("channel_shuffle", groups=m.groups),
    nn.LocalResponseNorm: lambda m, s: _lrn(m.size, m.alpha, m.beta, m.k),
    nn.BatchNorm1d: lambda m, s: _batchnorm(m),
    nn.BatchNorm2d: lambda m, s: _batchnorm(m),
    nn.LayerNorm: _layernorm,
    nn.Dropout: lambda m, s: op_call("dropout", p=m.p),
    nn.Flatten: lambda m, s: _flatten(m.start_dim, m.end_dim, len(s)),
    nn.Linear: lambda m, s: op_call("linear", features=m.out_features, bias=m.bias is not None),
    nn.ReLU: lambda m, s: op_call("relu"),
    nn.Tanh: lambda m, s: op_call("tanh"),
    nn.Sigmoid: lambda m, s: op_call("sigmoid"),
    nn.Softmax: lambda m, s: _softmax(m.dim, len(s)),
    nn.ReLU6: lambda m, s: op_call("relu6"),
    nn.LeakyReLU: lambda m, s: op_call("leaky_relu", slope=m.negative_slope),
    nn.ELU: lambda m, s: op_call("elu", alpha=m.alpha),
    nn.GELU: lambda m, s: _gelu(m.approximate),
    nn.SiLU: lambda m, s: op_call("silu"),
    nn.Mish: lambda m, s: op_call("mish"),
    nn.Hardswish: lambda m, s: op_call("hardswish"),
    nn.Hardsigmoid: lambda m, s: op_call("hardsigmoid"),
    nn.Identity: lambda m, s: None,
}

# functions and methods: PyTorch's parameters in order with PyTorch's defaults, and the op they become
_NO_DEFAULT = ...
_Signature = tuple[tuple[str, object], ...]
_FUNCTIONS: dict[Callable, tuple[_Signature, Callable[..., str | None]]] = {}


def _function(targets: Sequence[Callable], params: _Signature):
    def register(make: Callable[..., str | None]):
        for t in targets:
            _FUNCTIONS[t] = (params, make)
        return make

    return register


_function([F.relu, torch.relu], (("input", _NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("relu"))
_function([torch.tanh, F.tanh], (("input", _NO_DEFAULT),))(lambda a, s: op_call("tanh"))
_function([F.relu6], (("input", _NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("relu6"))
_function([F.leaky_relu], (("input", _NO_DEFAULT), ("negative_slope", 0.01), ("inplace", False)))(
    lambda a, s: op_call("leaky_relu", slope=a["negative_slope"])
)
_function([F.elu], (("input", _NO_DEFAULT), ("alpha", 1.0), ("inplace", False)))(
    lambda a, s: op_call("elu", alpha=a["alpha"])
)
_function([F.gelu], (("input", _NO_DEFAULT), ("approximate", "none")))(lambda a, s: _gelu(a["approximate"]))
_function([F.silu], (("input", _NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("silu"))
_function([F.mish], (("input", _NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("mish"))
_function([F.hardswish], (("input", _NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("hardswish"))
_function([F.hardsigmoid], (("input", _NO_DEFAULT), ("inplace", False)))(lambda a, s: op_call("hardsigmoid"))
_function([torch.sigmoid, F.sigmoid], (("input", _NO_DEFAULT),))(lambda a, s: op_call("sigmoid"))
_function(
    [F.softmax, torch.softmax],
    (("input", _NO_DEFAULT), ("dim", None), ("_stacklevel", 3), ("dtype", None)),
)(lambda a, s: _softmax(a["dim"], len(s), a["dtype"]))
_function([torch.flatten], (("input", _NO_DEFAULT), ("start_dim", 0), ("end_dim", -1)))(
    lambda a, s: _flatten(a["start_dim"], a["end_dim"], len(s))
)
_function(
    [F.max_pool2d],
    (
        ("input", _NO_DEFAULT),
        ("kernel_size", _NO_DEFAULT),
        ("stride", None),
        ("padding", 0),
        ("dilation", 1),
        ("ceil_mode", False),
        ("return_indices", False),
    ),
)(
    lambda a, s: _maxpool(
        a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"], a["return_indices"]
    )
)
_function(
    [F.avg_pool2d],
    (
        ("input", _NO_DEFAULT),
        ("kernel_size", _NO_DEFAULT),
        ("stride", None),
        ("padding", 0),
        ("ceil_mode", False),
        ("count_include_pad", True),
        ("divisor_override", None),
    ),
)(
    lambda a, s: _avgpool(
        a["kernel_size"],
        a["stride"],
        a["padding"],
        a["ceil_mode"],
        a["count_include_pad"],
        a["divisor_override"],
    )
)
_function([F.adaptive_avg_pool2d], (("input", _NO_DEFAULT), ("output_size", _NO_DEFAULT)))(
    lambda a, s: _adaptive(a["output_size"], s)
)
_function(
    [F.adaptive_max_pool2d], (("input", _NO_DEFAULT), ("output_size", _NO_DEFAULT), ("return_indices", False))
)(lambda a, s: _adaptive_max(a["output_size"], s, a["return_indices"]))
_function([F.channel_shuffle, torch.channel_shuffle], (("input", _NO_DEFAULT), ("groups", _NO_DEFAULT)))(
    lambda a, s: op_call("channel_shuffle", groups=a["groups"])
)
_function([torch.mean], (("input", _NO_DEFAULT), ("dim", None), ("keepdim", False), ("dtype", None)))(
    lambda a, s: _reduce("avg", a["dim"], a["keepdim"], len(s), a["dtype"])
)
_function([torch.amax], (("input", _NO_DEFAULT), ("dim", ()), ("keepdim", False)))(
    lambda a, s: _reduce("max", a["dim"], a["keepdim"], len(s))
)
_function(
    [F.local_response_norm],
    (("input", _NO_DEFAULT), ("size", _NO_DEFAULT), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)),
)(lambda a, s: _lrn(a["size"], a["alpha"], a["beta"], a["k"]))
# a dropout that is never active (`training=False` written out) is the identity
_function([F.dropout], (("input", _NO_DEFAULT), ("p", 0.5), ("training", True), ("inplace", False)))(
    lambda a, s: op_call("dropout", p=a["p"]) if a["training"] else None
)

_SELF: _Signature = (("self", _NO_DEFAULT),)
_METHODS: dict[str, tuple[_Signature, Callable[..., str | None]]] = {
    "relu": (_SELF, lambda a, s: op_call("relu")),
    "relu_": (_SELF, lambda a, s: op_call("relu")),
    "tanh": (_SELF, lambda a, s: op_call("tanh")),
    "sigmoid": (_SELF, lambda a, s: op_call("sigmoid")),
    "softmax": (
        (*_SELF, ("dim", _NO_DEFAULT), ("dtype", None)),
        lambda a, s: _softmax(a["dim"], len(s), a["dtype"]),
    ),
    "flatten": (
        (*_SELF, ("start_dim", 0), ("end_dim", -1)),
        lambda a, s: _flatten(a["start_dim"], a["end_dim"], len(s)),
    ),
    "contiguous": (_SELF, lambda a, s: None),
    "mean": (
        (*_SELF, ("dim", None), ("keepdim", False), ("dtype", None)),
        lambda a, s: _reduce("avg", a["dim"], a["keepdim"], len(s), a["dtype"]),
    ),
    "amax": (
        (*_SELF, ("dim", ()), ("keepdim", False)),
        lambda a, s: _reduce("max", a["dim"], a["keepdim"], len(s)),
    ),
}


def _bind(params: _Signature, args: tuple, kwargs: dict, what: str) -> dict[str, object]:
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
            if default is _NO_DEFAULT:
                raise Untranslatable(f"{what} without `{p}`")
            bound[p] = default
    return bound


# ---------------------------------------------------------------------------- one traced node


def single_op(gm: fx.GraphModule, node: fx.Node, in_shape: tuple[int, ...]) -> str | None:
    """The op of a node with one tensor input (a module, function or method call); None for the identity."""
    if node.op == "call_module":
        make = _MODULES.get(type(gm.get_submodule(node.target)))
        if make is None:
            raise Untranslatable("no such op in the language")
        if len(node.args) != 1 or node.kwargs:
            raise Untranslatable("called with more than one argument")
        return make(gm.get_submodule(node.target), in_shape)
    if node.op == "call_function" and node.target in _FUNCTIONS:
        params, make = _FUNCTIONS[node.target]
        return make(_bind(params, node.args, dict(node.kwargs), node.name), in_shape)
    if node.op == "call_method" and node.target in _METHODS:
        params, make = _METHODS[node.target]
        return make(_bind(params, node.args, dict(node.kwargs), f".{node.target}()"), in_shape)
    if node.op == "call_method" and node.target in ("view", "reshape") and is_flatten(node):
        return op_call("flatten")
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
    signature = (("input", _NO_DEFAULT), ("other", _NO_DEFAULT), ("alpha", 1))
    a, b, alpha = _bind(signature, node.args, dict(node.kwargs), "add").values()
    if alpha != 1:
        raise Untranslatable(f"an add with alpha={alpha}")
    if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
        raise Untranslatable("adds a constant (the language adds layers)")
    return a, b


def concat_operands(node: fx.Node, rank: int) -> list | None:
    """The tensors `torch.cat` joins over channels; None for another node."""
    if node.op != "call_function" or node.target not in (torch.cat, torch.concat):
        return None
    bound = _bind((("tensors", _NO_DEFAULT), ("dim", 0)), node.args, dict(node.kwargs), "torch.cat")
    if bound["dim"] not in (1, 1 - rank):
        raise Untranslatable(f"a concatenation over dim {bound['dim']} (the language concatenates channels)")
    return list(bound["tensors"])  # type: ignore[call-overload]


def is_flatten(node: fx.Node) -> bool:
    """`x.view(x.size(0), -1)` or `x.reshape(x.size(0), -1)`, an old spelling of flatten."""
    if node.op != "call_method" or node.target not in ("view", "reshape") or node.kwargs:
        return False
    args = node.args[1:]
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    if len(args) != 2 or args[1] != -1:
        return False
    size = args[0]
    return (
        isinstance(size, fx.Node)
        and size.op == "call_method"
        and size.target == "size"
        and size.args[:1] == (node.args[0],)
        and (size.args[1:] == (0,) or size.kwargs == {"dim": 0})
    )

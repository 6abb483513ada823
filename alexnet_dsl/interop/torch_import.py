"""`dslc import` and `alexnet_dsl.from_torch`: a PyTorch module as the text of a spec.

    module -> torch.fx graph -> shapes (on fake tensors) -> one spec line per node -> dslc check

Each node of the traced graph becomes one layer. A layer is named after the module it calls
(`features.0` -> `features_0`) or, for functions, after the graph node when another line refers
to it; a layer reads the line above unless it says `from NAME`, and `+` and `torch.cat(dim=1)`
become `add` and `concat`. Convolutions, pools and flatten carry their traced shape as an
assertion, so the spec documents itself and `dslc check` confirms the translation.

Everything that has no counterpart in the language is collected, not just the first, and raised
together as `UnsupportedModule`.
"""

from __future__ import annotations

import contextlib
import logging
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from alexnet_dsl._version import __version__
from alexnet_dsl.analysis.pipeline import Analysis, check_text
from alexnet_dsl.backend.codegen import mangle
from alexnet_dsl.extras import needs
from alexnet_dsl.frontend.vocabulary import RESERVED

with needs("`alexnet_dsl.interop.torch_import`"):  # a missing extra is one line naming its `pip install`
    import torch
    import torch.nn.functional as F
    from torch import fx, nn


class UnsupportedModule(ImportError):
    """The module uses ops the language does not have; `.unsupported` lists them, one string each."""

    def __init__(self, unsupported: Sequence[str]) -> None:
        self.unsupported = list(unsupported)
        count = len(self.unsupported)
        super().__init__(
            f"{count} op{'s' if count != 1 else ''} cannot be translated: " + "; ".join(self.unsupported)
        )


@dataclass(frozen=True)
class Translation:
    """A translated module: the spec, its checked analysis, and which module each layer came from."""

    text: str
    analysis: Analysis
    modules: dict[
        str, str
    ]  # layer name -> path of the module with its weights (`features_0` -> `features.0`)

    def state_dict(self, module: nn.Module) -> dict[str, torch.Tensor]:
        """`module`'s parameters and buffers under the names the compiled spec uses."""
        out: dict[str, torch.Tensor] = {}
        for layer, path in self.modules.items():
            for leaf, tensor in module.get_submodule(path).state_dict().items():
                out[f"{mangle(layer)}.{leaf}"] = tensor
        return out


def from_torch(module: nn.Module, input_shape: Sequence[int], name: str = "Imported") -> str:
    """The `.net` text of `module` for inputs of `input_shape` (batch first, e.g. (1, 3, 224, 224)).

    The spec compiles back to the same function; load the weights with `translate(...).state_dict`.
    Raises `UnsupportedModule` listing every op the language lacks.
    """
    return translate(module, input_shape, name).text


# ---------------------------------------------------------------------------- one node -> one layer


@dataclass
class _Layer:
    node: str  # the fx node's name
    op: str  # `conv(96, kernel=11, stride=4)`
    inputs: list[str]  # fx node names (or the placeholder's)
    shape: tuple[int, ...] | None = None
    join: bool = False  # add/concat: inputs are written as arguments
    path: str | None = None  # the module's path, for call_module nodes
    weights: bool = False  # the module has parameters or buffers
    assert_shape: bool = False


class _Unsupported(Exception):
    """One node that cannot be translated; collected into UnsupportedModule."""


def _pair(v) -> str:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise _Unsupported(f"expects a pair, got {tuple(v)}")
        return str(int(v[0])) if v[0] == v[1] else f"({int(v[0])}, {int(v[1])})"
    return str(int(v))


def _num(v: float) -> str:
    return repr(float(v))


def _args(pairs: list[tuple[str, object, object]]) -> str:
    """`name=value` for the arguments that differ from the language's defaults."""
    return ", ".join(f"{k}={v}" for k, v, default in pairs if v != default)


def _call(op: str, *positional: str, keywords: str = "") -> str:
    inside = ", ".join([*positional, *([keywords] if keywords else [])])
    return f"{op}({inside})" if inside else op


def _conv(m: nn.Conv2d) -> str:
    if m.padding_mode != "zeros":
        raise _Unsupported(f"padding_mode={m.padding_mode!r} (the language pads with zeros)")
    padding = _pair(m.padding) if not isinstance(m.padding, str) else "same" if m.padding == "same" else "0"
    return _call(
        "conv",
        str(m.out_channels),
        keywords=_args(
            [
                ("kernel", _pair(m.kernel_size), None),
                ("stride", _pair(m.stride), "1"),
                ("padding", padding, "0"),
                ("dilation", _pair(m.dilation), "1"),
                ("groups", m.groups, 1),
                ("bias", "true" if m.bias is not None else "false", "true"),
            ]
        ),
    )


def _maxpool(kernel, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False) -> str:
    if _pair(dilation) != "1":
        raise _Unsupported(f"dilation={dilation} (the language's maxpool has none)")
    if return_indices:
        raise _Unsupported("return_indices=True")
    k = _pair(kernel)
    return _call(
        "maxpool",
        keywords=_args(
            [
                ("kernel", k, None),
                ("stride", _pair(stride) if stride not in (None, []) else k, k),
                ("padding", _pair(padding), "0"),
                ("ceil", "true" if ceil_mode else "false", "false"),
            ]
        ),
    )


def _avgpool(
    kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
) -> str:
    if divisor_override is not None:
        raise _Unsupported(f"divisor_override={divisor_override}")
    k = _pair(kernel)
    return _call(
        "avgpool",
        keywords=_args(
            [
                ("kernel", k, None),
                ("stride", _pair(stride) if stride not in (None, []) else k, k),
                ("padding", _pair(padding), "0"),
                ("ceil", "true" if ceil_mode else "false", "false"),
                ("count_include_pad", "true" if count_include_pad else "false", "true"),
            ]
        ),
    )


def _adaptive(output, shape) -> str:
    sizes = list(output) if isinstance(output, (tuple, list)) else [output, output]
    sizes = [shape[2 + i] if s is None else s for i, s in enumerate(sizes)]  # None keeps the input size
    return _call("adaptive_avgpool", _pair(sizes))


def _lrn(size: int, alpha: float, beta: float, k: float) -> str:
    # PyTorch divides alpha by the size, the language (like the paper) does not; dividing the decimal
    # PyTorch's value was written as keeps 3e-4 / 3 at 0.0001 rather than 9.999999999999999e-05
    paper = float(Decimal(repr(float(alpha))) / int(size))
    return _call("lrn", keywords=f"size={int(size)}, alpha={_num(paper)}, beta={_num(beta)}, k={_num(k)}")


def _batchnorm(m: nn.modules.batchnorm._BatchNorm) -> str:
    if not m.affine or not m.track_running_stats:
        raise _Unsupported("affine=False or track_running_stats=False (the language's batchnorm has both)")
    if m.momentum is None:
        raise _Unsupported("momentum=None (a cumulative average)")
    return _call(
        "batchnorm", keywords=_args([("eps", _num(m.eps), "1e-05"), ("momentum", _num(m.momentum), "0.1")])
    )


def _dropout(p: float) -> str:
    return _call("dropout", keywords=_args([("p", _num(p), "0.5")]))


def _flatten(start_dim: int, end_dim: int, rank: int) -> str:
    if start_dim != 1 or end_dim not in (-1, rank - 1):
        raise _Unsupported(
            f"flatten(start_dim={start_dim}, end_dim={end_dim}) (the language flattens dims 1..)"
        )
    return "flatten"


def _softmax(dim, rank: int, dtype=None) -> str:
    if dtype is not None:
        raise _Unsupported(f"softmax with dtype={dtype}")
    if dim is None:  # PyTorch's legacy implicit dim: 1 for 2-D and 4-D inputs
        dim = 0 if rank in (0, 1, 3) else 1
    if dim not in (1, 1 - rank):
        raise _Unsupported(f"softmax over dim {dim} (the language's softmax is over dim 1)")
    return "softmax"


def _linear(m: nn.Linear) -> str:
    return _call("linear", str(m.out_features), keywords="" if m.bias is not None else "bias=false")


_MODULES: dict[type, Callable[[nn.Module, tuple], str | None]] = {
    nn.Conv2d: lambda m, s: _conv(m),
    nn.MaxPool2d: lambda m, s: _maxpool(
        m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices
    ),
    nn.AvgPool2d: lambda m, s: _avgpool(
        m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override
    ),
    nn.AdaptiveAvgPool2d: lambda m, s: _adaptive(m.output_size, s),
    nn.LocalResponseNorm: lambda m, s: _lrn(m.size, m.alpha, m.beta, m.k),
    nn.BatchNorm1d: lambda m, s: _batchnorm(m),
    nn.BatchNorm2d: lambda m, s: _batchnorm(m),
    nn.Dropout: lambda m, s: _dropout(m.p),
    nn.Flatten: lambda m, s: _flatten(m.start_dim, m.end_dim, len(s)),
    nn.Linear: lambda m, s: _linear(m),
    nn.ReLU: lambda m, s: "relu",
    nn.Tanh: lambda m, s: "tanh",
    nn.Sigmoid: lambda m, s: "sigmoid",
    nn.Softmax: lambda m, s: _softmax(m.dim, len(s)),
    nn.Identity: lambda m, s: None,
}
_WITH_SHAPE = {"conv", "maxpool", "avgpool", "adaptive_avgpool", "flatten"}

# functions: their parameters in order with defaults (... = required), and the op they become
_REQUIRED = ...
_FUNCTIONS: dict[Callable, tuple[tuple[tuple[str, object], ...], Callable[..., str | None]]] = {}


def _function(targets: Sequence[Callable], params: tuple[tuple[str, object], ...]):
    def register(make: Callable[..., str | None]):
        for t in targets:
            _FUNCTIONS[t] = (params, make)
        return make

    return register


_function([F.relu, torch.relu], (("input", _REQUIRED), ("inplace", False)))(lambda a, s: "relu")
_function([torch.tanh, F.tanh], (("input", _REQUIRED),))(lambda a, s: "tanh")
_function([torch.sigmoid, F.sigmoid], (("input", _REQUIRED),))(lambda a, s: "sigmoid")
_function(
    [F.softmax, torch.softmax], (("input", _REQUIRED), ("dim", None), ("_stacklevel", 3), ("dtype", None))
)(lambda a, s: _softmax(a["dim"], len(s), a["dtype"]))
_function([torch.flatten], (("input", _REQUIRED), ("start_dim", 0), ("end_dim", -1)))(
    lambda a, s: _flatten(a["start_dim"], a["end_dim"], len(s))
)
_function(
    [F.max_pool2d],
    (
        ("input", _REQUIRED),
        ("kernel_size", _REQUIRED),
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
        ("input", _REQUIRED),
        ("kernel_size", _REQUIRED),
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
_function([F.adaptive_avg_pool2d], (("input", _REQUIRED), ("output_size", _REQUIRED)))(
    lambda a, s: _adaptive(a["output_size"], s)
)
_function(
    [F.local_response_norm],
    (("input", _REQUIRED), ("size", _REQUIRED), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)),
)(lambda a, s: _lrn(a["size"], a["alpha"], a["beta"], a["k"]))
# a dropout that is never active (`training=False` written out) is the identity
_function([F.dropout], (("input", _REQUIRED), ("p", 0.5), ("training", True), ("inplace", False)))(
    lambda a, s: _dropout(a["p"]) if a["training"] else None
)

_METHODS: dict[str, tuple[tuple[tuple[str, object], ...], Callable[..., str | None]]] = {
    "relu": ((("self", _REQUIRED),), lambda a, s: "relu"),
    "relu_": ((("self", _REQUIRED),), lambda a, s: "relu"),
    "tanh": ((("self", _REQUIRED),), lambda a, s: "tanh"),
    "sigmoid": ((("self", _REQUIRED),), lambda a, s: "sigmoid"),
    "softmax": (
        (("self", _REQUIRED), ("dim", _REQUIRED), ("dtype", None)),
        lambda a, s: _softmax(a["dim"], len(s), a["dtype"]),
    ),
    "flatten": (
        (("self", _REQUIRED), ("start_dim", 0), ("end_dim", -1)),
        lambda a, s: _flatten(a["start_dim"], a["end_dim"], len(s)),
    ),
    "contiguous": ((("self", _REQUIRED),), lambda a, s: None),
}


def _bind(params: tuple[tuple[str, object], ...], args: tuple, kwargs: dict, what: str) -> dict[str, object]:
    names = [p for p, _ in params]
    if len(args) > len(names):
        raise _Unsupported(f"{what} with {len(args)} positional arguments")
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise _Unsupported(f"{what} with argument `{k}`")
        bound[k] = v
    for p, default in params:
        if p not in bound:
            if default is _REQUIRED:
                raise _Unsupported(f"{what} without `{p}`")
            bound[p] = default
    return bound


def _qualname(obj) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    if module.startswith("torch.nn.modules."):
        module = "torch.nn"
    module = {
        "_operator": "operator",
        "torch._C._nn": "torch.nn.functional",
        "torch._C._VariableFunctions": "torch",
    }.get(module, module)
    return f"{module}.{name}" if module and module != "builtins" else name


# ---------------------------------------------------------------------------- the graph


@contextlib.contextmanager
def _modes_kept(module: nn.Module) -> Iterator[None]:
    """Restore every submodule's train/eval mode afterwards (the traced graph shares them)."""
    modes = [(m, m.training) for m in module.modules()]
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _trace(module: nn.Module) -> fx.GraphModule:
    module.train()  # so that `F.dropout(x, p, self.training)` traces as a dropout
    try:
        gm = fx.symbolic_trace(module)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedModule([f"torch.fx cannot trace `{type(module).__name__}`: {first}"]) from None
    gm.graph.eliminate_dead_code()
    return gm


class _ShapeRecorder(fx.Interpreter):
    def run_node(self, n: fx.Node):
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            n.meta["dslc_shape"] = tuple(result.shape)
        return result


def _shapes(gm: fx.GraphModule, input_shape: Sequence[int]) -> None:
    """Every node's output shape in `node.meta`, computed on fake tensors (no arithmetic)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    gm.eval()  # batch statistics of a batch of one are an error, and running ones are not needed
    # a shape error in a meta function is logged with its traceback before it is raised
    logger = logging.getLogger("torch._subclasses.fake_tensor")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with FakeTensorMode(allow_non_fake_inputs=True) as mode:
            _ShapeRecorder(gm).run(mode.from_tensor(torch.empty(*input_shape)))
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"the module does not run on an input of shape {list(input_shape)}: {first}"
        ) from None
    finally:
        logger.setLevel(level)


def _shape(node: fx.Node) -> tuple[int, ...] | None:
    return node.meta.get("dslc_shape")


def _translate_node(gm: fx.GraphModule, node: fx.Node, alias: dict[str, str], layers: list[_Layer]) -> None:
    """Append the layer of one node, or record it as an alias of its input."""

    def source(arg) -> str:
        if not isinstance(arg, fx.Node):
            raise _Unsupported(f"an operand that is not a tensor ({arg!r})")
        if _shape(arg) is None:
            raise _Unsupported(f"an operand `{arg.name}` that is not a tensor")
        return alias.get(arg.name, arg.name)

    in_shape = _shape(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        make = _MODULES.get(type(m))
        if make is None:
            raise _Unsupported("no such op in the language")
        if len(node.args) != 1 or node.kwargs:
            raise _Unsupported("called with more than one argument")
        op = make(m, in_shape or ())
        path = str(node.target)
    elif _is_add(node):
        a, b, alpha = _bind(
            (("input", _REQUIRED), ("other", _REQUIRED), ("alpha", 1)), node.args, dict(node.kwargs), "add"
        ).values()
        if alpha != 1:
            raise _Unsupported(f"an add with alpha={alpha}")
        if not (isinstance(a, fx.Node) and isinstance(b, fx.Node)):
            raise _Unsupported("adds a constant (the language adds layers)")
        if _shape(a) != _shape(b):
            raise _Unsupported(
                f"adds shapes {list(_shape(a) or ())} and {list(_shape(b) or ())} "
                "(the language adds equal shapes)"
            )
        layers.append(_Layer(node.name, "add", [source(a), source(b)], _shape(node), join=True))
        return
    elif node.op == "call_function" and node.target in (torch.cat, torch.concat):
        bound = _bind((("tensors", _REQUIRED), ("dim", 0)), node.args, dict(node.kwargs), "torch.cat")
        rank = len(_shape(node) or ())
        if bound["dim"] not in (1, 1 - rank):
            raise _Unsupported(
                f"a concatenation over dim {bound['dim']} (the language concatenates channels)"
            )
        parts = [source(t) for t in bound["tensors"]]  # type: ignore[union-attr]
        if len(parts) == 1:
            alias[node.name] = parts[0]
            return
        layers.append(_Layer(node.name, "concat", parts, _shape(node), join=True))
        return
    elif node.op == "call_function" and node.target in _FUNCTIONS:
        params, make = _FUNCTIONS[node.target]
        op = make(_bind(params, node.args, dict(node.kwargs), node.name), in_shape or ())
        path = None
    elif node.op == "call_method" and node.target in _METHODS:
        params, make = _METHODS[node.target]
        op = make(_bind(params, node.args, dict(node.kwargs), f".{node.target}()"), in_shape or ())
        path = None
    elif node.op == "call_method" and node.target in ("view", "reshape") and _is_flatten(node):
        op, path = "flatten", None
    elif node.op == "call_method" and node.target == "size" and all(_is_flatten(u) for u in node.users):
        return  # `x.size(0)` feeding `x.view(x.size(0), -1)`
    elif node.op in ("call_function", "call_method"):
        raise _Unsupported("no such op in the language")
    elif node.op == "get_attr":
        raise _Unsupported("reads a parameter or buffer directly (the language has layers, not free tensors)")
    else:
        raise _Unsupported(f"a `{node.op}` node")
    x = source(node.args[0])
    if op is None:
        alias[node.name] = x
        return
    weights = path is not None and bool(gm.get_submodule(path).state_dict())
    layers.append(
        _Layer(
            node.name,
            op,
            [x],
            _shape(node),
            path=path,
            weights=weights,
            assert_shape=op.split("(")[0] in _WITH_SHAPE,
        )
    )


def _is_add(node: fx.Node) -> bool:
    """`a + b` (also `a += b`), `torch.add(a, b)`, `a.add(b)`."""
    if node.op == "call_function":
        return node.target in (operator.add, operator.iadd, torch.add)
    return node.op == "call_method" and node.target in ("add", "add_")


def _is_flatten(node: fx.Node) -> bool:
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


def _describe(gm: fx.GraphModule, node: fx.Node, why: str) -> str:
    if node.op == "call_module":
        return f"`{node.target}` ({_qualname(type(gm.get_submodule(node.target)))}): {why}"
    if node.op == "call_method":
        return f"`{node.name}` (Tensor.{node.target}): {why}"
    if node.op == "call_function":
        return f"`{node.name}` ({_qualname(node.target)}): {why}"
    return f"`{node.name}`: {why}"


# ---------------------------------------------------------------------------- names and text


def valid_name(text: str) -> bool:
    """An ASCII identifier the language accepts as a name, without `_` in front (which codegen mangles)."""
    return text.isascii() and text.isidentifier() and not text.startswith("_") and text not in RESERVED


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def translate(module: nn.Module, input_shape: Sequence[int], name: str = "Imported") -> Translation:
    """`from_torch`, with the checked analysis and the module each layer came from."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"from_torch expects an nn.Module, not {type(module).__name__}")
    shape = tuple(int(d) for d in input_shape)
    if len(shape) not in (2, 4) or any(d < 1 for d in shape):
        raise ValueError(
            f"the input shape is [N, C, H, W] or [N, features] with positive sizes, got {list(shape)}"
        )
    if not valid_name(name):
        raise ValueError(f"the network name must be an ASCII identifier, got {name!r}")
    with _modes_kept(module):
        gm = _trace(module)
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise UnsupportedModule(
                [f"`{type(module).__name__}.forward` takes {len(placeholders)} inputs (a network has one)"]
            )
        _shapes(gm, shape)

    alias: dict[str, str] = {}
    layers: list[_Layer] = []
    unsupported: list[str] = []
    output = None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            output = node.args[0]
            continue
        try:
            _translate_node(gm, node, alias, layers)
        except _Unsupported as e:
            unsupported.append(_describe(gm, node, str(e)))
    if not isinstance(output, fx.Node) or _shape(output) is None:
        unsupported.append(
            f"`{type(module).__name__}.forward` returns {type(output).__name__}, not one tensor"
        )
    if unsupported:
        raise UnsupportedModule(unsupported)
    assert output is not None
    last = alias.get(output.name, output.name)
    if not layers or layers[-1].node != last:
        raise UnsupportedModule([f"`{type(module).__name__}.forward` returns its input unchanged"])

    text, modules = _write(
        placeholders[0],
        layers,
        shape,
        _shape(output),
        name,  # type: ignore[arg-type]
        _qualname(type(module)),
    )
    analysis = check_text(text, f"<{name}>")
    assert analysis.ok, "the translation does not check:\n" + "\n".join(d.message for d in analysis.errors)
    return Translation(text, analysis, modules)


def _write(
    placeholder: fx.Node,
    layers: list[_Layer],
    shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    name: str,
    origin: str,
) -> tuple[str, dict[str, str]]:
    # names: the input, then module paths, then function nodes that other lines refer to
    taken: set[str] = set()
    input_name = placeholder.target if isinstance(placeholder.target, str) else ""
    if not valid_name(input_name) or input_name in ("input", "x"):
        input_name = "image" if len(shape) == 4 else "features"
    input_name = _unique(input_name, taken)
    referenced: set[str] = set()
    previous = placeholder.name
    for layer in layers:
        if layer.join:
            referenced.update(layer.inputs)
        elif layer.inputs[0] != previous:
            referenced.add(layer.inputs[0])
        previous = layer.node
    names: dict[str, str] = {placeholder.name: input_name}
    counters: dict[str, int] = {}
    for layer in layers:
        if layer.path is not None:
            candidate = layer.path.replace(".", "_")
        elif layer.node in referenced:
            candidate = layer.node
        else:
            continue  # the language names it (`relu3`)
        if not valid_name(candidate):  # `0` in a top-level nn.Sequential
            if not layer.weights and layer.node not in referenced:
                continue
            op = layer.op.split("(")[0]
            counters[op] = counters.get(op, 0) + 1
            candidate = f"{op}{counters[op]}"
        names[layer.node] = _unique(candidate, taken)
    modules = {names[la.node]: la.path for la in layers if la.weights and la.path is not None}

    def dims(s: Sequence[int]) -> str:
        return "[" + ", ".join(["N", *(str(d) for d in s[1:])]) + "]"

    lines: list[str] = []
    previous = placeholder.name
    for layer in layers:
        head = f"{names[layer.node]}: " if layer.node in names else ""
        if layer.join:
            body = f"{layer.op}({', '.join(names[n] for n in layer.inputs)})"
        else:
            body = layer.op + (f" from {names[layer.inputs[0]]}" if layer.inputs[0] != previous else "")
        lines.append((head + body, dims(layer.shape) if layer.assert_shape and layer.shape else ""))
        previous = layer.node
    width = min(max(len(a) for a, _ in lines), 56)
    body_lines = [f"    {a:<{width}}  -> {s}" if s else f"    {a}" for a, s in lines]
    header = [
        f"# Imported from {origin} by dslc {__version__} for an input of {list(shape)}.",
        f"network {name}({input_name}: {dims(shape)}) -> {dims(out_shape)} {{",
    ]
    return "\n".join([*header, *body_lines, "}"]) + "\n", modules

"""`dslc import` and `alexnet_dsl.from_torch`: a PyTorch module as the text of a spec.

    module -> torch.fx graph -> shapes (on fake tensors) -> one spec line per node -> dslc check

Each node of the traced graph becomes one layer. A layer is named after the module it calls
(`features.0` -> `features_0`) or, for functions, after the graph node when another line refers
to it; a layer reads the line above unless it says `from NAME`, and `+` and `torch.cat(dim=1)`
become `add` and `concat` (`torch_ops` translates each call). Convolutions, pools and flatten
carry their traced shape as an assertion, so the spec documents itself and `dslc check` confirms
the translation. The text is laid out by `dslc fmt`'s formatter, so fmt leaves it as it is.

Everything that has no counterpart in the language is collected, not just the first, and raised
together as `UnsupportedModule`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from alexnet_dsl._version import __version__
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.backend.names import mangle
from alexnet_dsl.extras import needs
from alexnet_dsl.frontend.vocabulary import RESERVED
from alexnet_dsl.tools.fmt import format_text

# a missing extra is one line naming its `pip install` (checked before `torch_ops` imports torch)
with needs("`alexnet_dsl.interop.torch_import`"):
    import torch
    from torch import fx, nn

    from alexnet_dsl.interop.torch_names import describe, qualname
    from alexnet_dsl.interop.torch_ops import (
        Untranslatable,
        add_operands,
        concat_operands,
        is_flatten,
        single_op,
    )


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
    # layer name -> path of the module with its weights (`features_0` -> `features.0`)
    modules: dict[str, str]

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
    """One line of the spec, before it has a name."""

    node: str  # the fx node's name
    op: str  # `conv(96, kernel=11, stride=4)`
    inputs: list[str]  # fx node names (or the placeholder's)
    shape: tuple[int, ...] | None = None
    join: bool = False  # add/concat: inputs are written as arguments
    path: str | None = None  # the module's path, for call_module nodes
    weights: bool = False  # the module has parameters or buffers
    assert_shape: bool = False


_WITH_SHAPE = {"conv", "maxpool", "avgpool", "adaptive_avgpool", "flatten"}  # ops that assert their shape


def _translate_node(gm: fx.GraphModule, node: fx.Node, alias: dict[str, str], layers: list[_Layer]) -> None:
    """Append the layer of one node, or record it as an alias of its input."""

    def source(arg) -> str:
        if not isinstance(arg, fx.Node):
            raise Untranslatable(f"an operand that is not a tensor ({arg!r})")
        if _shape(arg) is None:
            raise Untranslatable(f"an operand `{arg.name}` that is not a tensor")
        return alias.get(arg.name, arg.name)

    added = add_operands(node)
    if added is not None:
        a, b = added
        if _shape(a) != _shape(b):
            raise Untranslatable(
                f"adds shapes {list(_shape(a) or ())} and {list(_shape(b) or ())} "
                "(the language adds equal shapes)"
            )
        layers.append(_Layer(node.name, "add", [source(a), source(b)], _shape(node), join=True))
        return
    joined = concat_operands(node, len(_shape(node) or ()))
    if joined is not None:
        parts = [source(t) for t in joined]
        if len(parts) == 1:
            alias[node.name] = parts[0]
        else:
            layers.append(_Layer(node.name, "concat", parts, _shape(node), join=True))
        return
    if node.op == "call_method" and node.target == "size" and all(is_flatten(u) for u in node.users):
        return  # `x.size(0)` feeding `x.view(x.size(0), -1)`
    in_shape = _shape(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
    op = single_op(gm, node, in_shape or ())
    x = source(node.args[0])
    if op is None:
        alias[node.name] = x
        return
    path = str(node.target) if node.op == "call_module" else None
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
        except Untranslatable as e:
            unsupported.append(describe(gm, node, str(e)))
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

    placeholder = placeholders[0]
    names = _names(placeholder, layers, shape)
    origin = qualname(type(module))
    text = _spec_text(placeholder, layers, names, shape, _shape(output), name, origin)  # type: ignore[arg-type]
    analysis = check_text(text, f"<{name}>")
    assert analysis.ok, "the translation does not check:\n" + "\n".join(d.message for d in analysis.errors)
    modules = {names[la.node]: la.path for la in layers if la.weights and la.path is not None}
    return Translation(text, analysis, modules)


def _names(placeholder: fx.Node, layers: list[_Layer], shape: tuple[int, ...]) -> dict[str, str]:
    """fx node -> name in the spec: the input, then module paths, then function nodes that other lines
    refer to; the language names the others (`relu3`)."""
    taken: set[str] = set()
    input_name = placeholder.target if isinstance(placeholder.target, str) else ""
    if not valid_name(input_name) or input_name in ("input", "x"):
        input_name = "image" if len(shape) == 4 else "features"
    names: dict[str, str] = {placeholder.name: _unique(input_name, taken)}
    referenced: set[str] = set()
    previous = placeholder.name
    for layer in layers:
        if layer.join:
            referenced.update(layer.inputs)
        elif layer.inputs[0] != previous:
            referenced.add(layer.inputs[0])
        previous = layer.node
    counters: dict[str, int] = {}
    for layer in layers:
        if layer.path is not None:
            candidate = layer.path.replace(".", "_")
        elif layer.node in referenced:
            candidate = layer.node
        else:
            continue
        if not valid_name(candidate):  # `0` in a top-level nn.Sequential
            if not layer.weights and layer.node not in referenced:
                continue
            op = layer.op.split("(")[0]
            counters[op] = counters.get(op, 0) + 1
            candidate = f"{op}{counters[op]}"
        names[layer.node] = _unique(candidate, taken)
    return names


def _spec_text(
    placeholder: fx.Node,
    layers: list[_Layer],
    names: dict[str, str],
    shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    name: str,
    origin: str,
) -> str:
    """The spec, one line per layer, laid out by `dslc fmt` (so that fmt leaves an imported spec as it is)."""

    def dims(s: Sequence[int]) -> str:
        return "[" + ", ".join(["N", *(str(d) for d in s[1:])]) + "]"

    lines = [
        f"# Imported from {origin} by dslc {__version__} for an input of {list(shape)}.",
        f"network {name}({names[placeholder.name]}: {dims(shape)}) -> {dims(out_shape)} {{",
    ]
    previous = placeholder.name
    for layer in layers:
        head = f"{names[layer.node]}: " if layer.node in names else ""
        if layer.join:
            body = f"{layer.op}({', '.join(names[n] for n in layer.inputs)})"
        else:
            body = layer.op + (f" from {names[layer.inputs[0]]}" if layer.inputs[0] != previous else "")
        shown = f" -> {dims(layer.shape)}" if layer.assert_shape and layer.shape else ""
        lines.append(f"    {head}{body}{shown}")
        previous = layer.node
    return format_text("\n".join([*lines, "}"]) + "\n", f"<{name}>")

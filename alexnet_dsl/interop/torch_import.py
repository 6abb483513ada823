"""`dslc import` and `alexnet_dsl.from_torch`: a PyTorch module as the text of a spec.

    module -> torch.fx graph -> shapes (on fake tensors) -> one spec line per node -> dslc check

Each node of the traced graph becomes one layer. A layer is named after the module it calls
(`features.0` -> `features_0`) or, for functions, after the graph node when another line refers
to it; a layer reads the line above unless it says `from NAME`, and `+` and `torch.cat(dim=1)`
become `add` and `concat` (`torch_ops` translates each call). Convolutions, pools and flatten
carry their traced shape as an assertion, so the spec documents itself and `dslc check` confirms
the translation. A module repeated with equal bodies (ResNet's `Bottleneck`) becomes a block and
one call per instance (`torch_blocks`), unless `blocks=False`. The text is laid out by `dslc fmt`'s
formatter, so fmt leaves it as it is.

Everything that has no counterpart in the language is collected, not just the first, and raised
together as `UnsupportedModule`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from alexnet_dsl._version import __version__
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.backend.names import attr_path
from alexnet_dsl.extras import needs
from alexnet_dsl.interop.torch_blocks import Container, Layer, valid_name
from alexnet_dsl.interop.torch_spec import dims, spec
from alexnet_dsl.tools.fmt import format_text

__all__ = ["Translation", "UnsupportedModule", "from_torch", "translate", "valid_name"]

# a missing extra is one line naming its `pip install` (checked before `torch_ops` imports torch)
with needs("`alexnet_dsl.interop.torch_import`"):
    import torch
    from torch import fx, nn

    from alexnet_dsl.interop.torch_names import describe, qualname
    from alexnet_dsl.interop.torch_ops import (
        Untranslatable,
        add_operands,
        concat_operands,
        is_stochastic_depth,
        single_op,
    )
    from alexnet_dsl.interop.torch_patterns import Rewrite, rewrite


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
    # layer name -> path of the module with its weights (`features_0` -> `features.0`, inside a
    # block's instance `layer1_0.conv1` -> `layer1.0.conv1`), or of the parameter a `scale` is
    modules: dict[str, str]
    # layer name -> how its weights load, where not as its module's state_dict (torch_patterns.LOADS): a
    # Linear's as a 1x1 convolution's (`linear_as_conv`), a parameter as the layer itself (`parameter`,
    # `channel_parameter`: reshaped to (C, 1, 1))
    loads: dict[str, str] = field(default_factory=dict)

    def state_dict(self, module: nn.Module) -> dict[str, torch.Tensor]:
        """`module`'s parameters and buffers under the names the compiled spec uses."""
        out: dict[str, torch.Tensor] = {}
        for layer, path in self.modules.items():
            load = self.loads.get(layer, "module")
            if load in ("parameter", "channel_parameter"):
                owner, _, leaf = path.rpartition(".")
                tensor = getattr(module.get_submodule(owner), leaf).detach()
                out[attr_path(layer)] = tensor.reshape(-1, 1, 1) if load == "channel_parameter" else tensor
                continue
            for leaf, tensor in module.get_submodule(path).state_dict().items():
                if load == "linear_as_conv" and leaf == "weight":
                    tensor = tensor[:, :, None, None]  # [out, in] -> [out, in, 1, 1]
                out[f"{attr_path(layer)}.{leaf}"] = tensor
        return out


def from_torch(
    module: nn.Module, input_shape: Sequence[int], name: str = "Imported", *, blocks: bool = True
) -> str:
    """The `.net` text of `module` for inputs of `input_shape` (batch first, e.g. (1, 3, 224, 224)).

    The spec compiles back to the same function; load the weights with `translate(...).state_dict`.
    Repeated modules become blocks unless `blocks=False`. Raises `UnsupportedModule` listing every op
    the language lacks.
    """
    return translate(module, input_shape, name, blocks=blocks).text


# ---------------------------------------------------------------------------- one node -> one layer

# containers, never blocks (their subclasses, as DenseNet's `_Transition(nn.Sequential)`, can be)
_PLAIN = {f"torch.nn.modules.container.{name}" for name in ("Sequential", "ModuleList", "ModuleDict")}


def _stack(node: fx.Node, own: str | None = None) -> tuple[Container, ...]:
    """The modules `node` ran in, outermost first, its own module left out (from `nn_module_stack`)."""
    out = []
    for path, cls in (node.meta.get("nn_module_stack") or {}).values():
        if node.op == "call_module" and path == node.target or path == own:
            continue
        full = f"{cls.__module__}.{cls.__qualname__}" if isinstance(cls, type) else str(cls)
        out.append(Container(path, full.rpartition(".")[2], full in _PLAIN))
    return tuple(out)


_WITH_SHAPE = {"conv", "maxpool", "avgpool", "adaptive_avgpool", "flatten"}  # ops that assert their shape


def _translate_node(
    gm: fx.GraphModule, node: fx.Node, alias: dict[str, str], layers: list[Layer], done: Rewrite | None
) -> None:
    """Append the layer of one node (`done`: what a pattern made of it), or record it as an alias of its
    input."""

    def source(arg) -> str:
        if not isinstance(arg, fx.Node):
            raise Untranslatable(f"an operand that is not a tensor ({arg!r})")
        if _shape(arg) is None:
            raise Untranslatable(f"an operand `{arg.name}` that is not a tensor")
        return alias.get(arg.name, arg.name)

    done = done or _one_node(gm, node)
    if done.op is None:
        if done.inputs:
            alias[node.name] = source(done.inputs[0])
        return
    path = done.path
    weights = path is not None and (done.load != "module" or bool(gm.get_submodule(path).state_dict()))
    layers.append(
        Layer(
            node.name,
            done.op,
            [source(x) for x in done.inputs],
            done.shape or _shape(node),
            done.join,
            path=path,
            weights=weights,
            load=done.load,
            assert_shape=not done.join and done.op.split("(")[0] in _WITH_SHAPE,
            stack=_stack(node, done.own),
            name=done.name,
        )
    )


def _one_node(gm: fx.GraphModule, node: fx.Node) -> Rewrite:
    """What a node outside the patterns of `torch_patterns` is: a join, an op, or its input."""
    added = add_operands(node)
    if added is not None:
        a, b = added
        if _shape(a) != _shape(b):
            raise Untranslatable(
                f"adds shapes {list(_shape(a) or ())} and {list(_shape(b) or ())} "
                "(the language adds equal shapes)"
            )
        return Rewrite("add", (a, b), join=True)
    joined = concat_operands(node, len(_shape(node) or ()))
    if joined is not None:
        return (
            Rewrite(None, tuple(joined)) if len(joined) == 1 else Rewrite("concat", tuple(joined), join=True)
        )
    in_shape = _shape(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
    op = single_op(gm, node, in_shape or ())
    first = node.args[0] if node.args else None
    if op is None:
        return Rewrite(None, (first,))
    return Rewrite(op, (first,), path=str(node.target) if node.op == "call_module" else None)


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


class _Tracer(fx.Tracer):
    """torch.fx's tracer, with torchvision's StochasticDepth as one call (its forward draws random numbers)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_stochastic_depth(m) or super().is_leaf_module(m, module_qualified_name)


def _trace(module: nn.Module) -> fx.GraphModule:
    module.train()  # so that `F.dropout(x, p, self.training)` traces as a dropout
    try:
        tracer = _Tracer()
        graph = tracer.trace(module)
        gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedModule([f"torch.fx cannot trace `{type(module).__name__}`: {first}"]) from None
    problems = [
        f"`{path or type(module).__name__}` has a forward hook, which tracing does not see"
        for path, m in module.named_modules()
        if m._forward_hooks or m._forward_pre_hooks
    ]
    problems += [
        describe(gm, node, "an in-place op whose result is not used: write `y = y.relu()`, not `y.relu_()`")
        for node in gm.graph.nodes
        if not node.users and node.op != "output" and _in_place(gm, node)
    ]
    if problems:
        raise UnsupportedModule(problems)
    gm.graph.eliminate_dead_code()
    return gm


def _in_place(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Whether a node changes its input in place (`y.relu_()`, `F.relu(y, inplace=True)`, `nn.ReLU(inplace=True)`),
    so that dropping it when nothing reads its result would change what later reads of its input see."""
    if node.op == "call_method" and str(node.target).endswith("_") and not str(node.target).startswith("_"):
        return True
    if node.op == "call_module":
        return bool(getattr(gm.get_submodule(str(node.target)), "inplace", False))
    return node.op == "call_function" and (
        node.kwargs.get("inplace") is True or getattr(node.target, "__name__", "").endswith("_")
    )


# batch normalisation keeps its input's shape: on fake tensors it runs a decomposition in Python, some
# milliseconds a call (DenseNet-201 has 200), so a fitting input's shape is taken as it is
_NORM_RANKS = {nn.BatchNorm1d: (2, 3), nn.BatchNorm2d: (4,)}


class _ShapeRecorder(fx.Interpreter):
    def run_node(self, n: fx.Node):
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            n.meta["dslc_shape"] = tuple(result.shape)
        return result

    def call_module(self, target, args, kwargs):
        module = self.fetch_attr(target)  # type: ignore[arg-type]
        x = args[0] if len(args) == 1 and not kwargs else None
        ranks = _NORM_RANKS.get(type(module), ())
        if isinstance(x, torch.Tensor) and x.dim() in ranks and x.shape[1] == module.num_features:
            return torch.empty_like(x)
        return super().call_module(target, args, kwargs)


def _shapes(gm: fx.GraphModule, input_shape: Sequence[int]) -> None:
    """Every node's output shape in `node.meta`, computed on fake tensors (no arithmetic)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    gm.eval()  # batch statistics of a batch of one are an error, and running ones are not needed
    # a shape error in a meta function is logged with its traceback before it is raised
    logger = logging.getLogger("torch._subclasses.fake_tensor")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with FakeTensorMode(allow_non_fake_inputs=True) as mode, torch.no_grad():
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


# ---------------------------------------------------------------------------- the spec


def translate(
    module: nn.Module, input_shape: Sequence[int], name: str = "Imported", *, blocks: bool = True
) -> Translation:
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
    layers: list[Layer] = []
    unsupported: list[str] = []
    output = None
    patterns = rewrite(gm)  # several nodes that are one op, and what only feeds them
    for node in gm.graph.nodes:
        done = patterns.get(node)
        if node.op == "output":
            output = node.args[0]
        if isinstance(done, str):
            unsupported.append(describe(gm, node, done))
        elif node.op not in ("placeholder", "output"):
            try:
                _translate_node(gm, node, alias, layers, done)
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
    input_name = placeholder.target if isinstance(placeholder.target, str) else ""
    if not valid_name(input_name) or input_name in ("input", "x"):
        input_name = "image" if len(shape) == 4 else "features"
    recovered = spec(layers, placeholder.name, input_name, blocks=blocks)
    header = [
        f"# Imported from {qualname(type(module))} by dslc {__version__} for an input of {list(shape)}.",
        *(f"{block}\n" for block in recovered.blocks),
        f"network {name}({input_name}: {dims(shape)}) -> {dims(_shape(output))} {{",  # type: ignore[arg-type]
    ]
    body = [f"    {line}" for line in recovered.lines]
    # laid out by `dslc fmt` (so that fmt leaves an imported spec as it is)
    text = format_text("\n".join([*header, *body, "}"]) + "\n", f"<{name}>")
    analysis = check_text(text, f"<{name}>")
    if not analysis.ok:  # an op that PyTorch applies where the language's does not (`nn.Linear` over W)
        raise UnsupportedModule(
            [f"line {d.span.line} of the translation: {d.message}" for d in analysis.errors]
        )
    return Translation(text, analysis, recovered.modules, recovered.loads)

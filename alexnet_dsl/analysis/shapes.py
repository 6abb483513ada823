"""What every shape check shares: shapes and the text that shows them, a layer's facts, the constraints
left for the solver, and the context that collects a pass's diagnostics.

A size is an integer or a symbolic expression of the input's symbols (ir/expr.py). The pass itself is
in inference.py, the rule of each op in rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, Edit, Related, error, warning
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Span

Shape = tuple[E.Size, ...]
BYTES_PER_ELEMENT = 4  # activation sizes are reported for float32


@dataclass(frozen=True, slots=True)
class Constraint:
    """A check that depends on a symbol, left for the solver."""

    kind: str  # "ge": lhs >= rhs, "eq": lhs == rhs, "div": lhs % rhs == 0
    lhs: E.Size
    rhs: E.Size
    layer: ir.Layer | None  # None for the network's declared output
    span: Span
    what: str  # "the height of `conv1`'s output must be at least 1"

    def holds(self, env: dict[str, int]) -> bool:
        """Whether the constraint holds for these symbol values."""
        lhs, rhs = E.evaluate(self.lhs, env), E.evaluate(self.rhs, env)
        return lhs == rhs if self.kind == "eq" else lhs >= rhs if self.kind == "ge" else lhs % rhs == 0


@dataclass(slots=True)
class LayerInfo:
    """What checking found about one layer: its output shape, parameters and multiply-accumulates
    (None: unknown), and the arithmetic behind its spatial sizes."""

    layer: ir.Layer
    shape: Shape | None = None
    params: int | None = 0
    macs: int | None = 0
    notes: list[str] = field(default_factory=list)  # the arithmetic behind each spatial size

    @property
    def activation_bytes(self) -> int | None:
        """The bytes of one sample's output (float32); None when a size is unknown."""
        if self.shape is None:
            return None
        n = 1
        for d in self.shape[1:]:
            if not isinstance(d, int):
                return None
            n *= d
        return n * BYTES_PER_ELEMENT


def input_shape(net: ir.Network) -> Shape:
    """The network input's shape as sizes: integers, and each symbol as itself."""
    return tuple(E.Chain(d) if isinstance(d, str) else d for d in net.input_dims)  # type: ignore[misc]


def show_shape(shape: Shape | None) -> str:
    """`[N, 96, 55, 55]`; `?` for an unknown shape."""
    if shape is None:
        return "?"
    return "[" + ", ".join(E.show(d) for d in shape) + "]"


def show_dims(dims) -> str:
    """Sizes as written in a spec: `[N, 256, _, _]` (`_` for None)."""
    return "[" + ", ".join("_" if d is None else str(d) for d in dims) + "]"


def dim_word(i: int, rank: int) -> str:
    """How a message names axis i of a shape of this rank: `channels`, `features`, ..."""
    if i == 0:
        return "batch"
    if rank == 4:
        return ("batch", "channels", "height", "width")[i]
    return "features" if i == 1 else f"dimension {i}"


def instance_notes(layer: ir.Layer) -> tuple[Related, ...]:
    """For a layer of a block's instance: where each enclosing instance is called."""
    return tuple(
        Related(f"in `{inst}`, an instance of block `{block}`", span) for inst, block, span in layer.instance
    )


def argument_edit(layer: ir.Layer, key: str, text: str) -> Edit | None:
    """Write `key=text` in a layer's call: replace the argument's value, or add it after the last argument."""
    spans = dict(layer.arg_spans)
    if key in spans:
        return Edit(spans[key], text)
    if not spans:
        return None
    last = max(spans.values(), key=lambda s: (s.end_line, s.end_col))
    return Edit(Span(last.end_line, last.end_col, last.end_line, last.end_col), f", {key}={text}")


class Context:
    """One pass over a network: its diagnostics, the constraints it leaves, and each layer's info."""

    def __init__(self, net: ir.Network) -> None:
        self.net = net
        self.diags: list[Diagnostic] = []
        self.constraints: list[Constraint] = []
        self.infos: dict[str, LayerInfo] = {}

    def where(self, name: str) -> str:
        """How a producer is named in a message."""
        if name == self.net.input_name:
            return f"the input `{name}`"
        info = self.infos.get(name)
        shown = info.layer.display_name if info else name
        return f"`{shown}`"

    def origin(self, name: str, shape: Shape) -> str:
        """`the input `x` is [N, 3, 227, 227]`, `` `conv1` produces [N, 96, 55, 55]``."""
        return (
            f"{self.where(name)} produces {show_shape(shape)}"
            if name != self.net.input_name
            else f"{self.where(name)} is {show_shape(shape)}"
        )

    def err(self, code: str, layer: ir.Layer, message: str, span: Span, **kw) -> None:
        """Report an error on a layer (naming the block instances it is in)."""
        self.diags.append(error(code, message, span, related=instance_notes(layer), **kw))

    def warn(self, code: str, layer: ir.Layer, message: str, span: Span, **kw) -> None:
        """Report a warning on a layer (naming the block instances it is in)."""
        self.diags.append(warning(code, message, span, related=instance_notes(layer), **kw))

    def require(self, kind: str, lhs, rhs, layer, span, what) -> bool | None:
        """Decide a check now when both sides are known; otherwise keep it for the solver."""
        if isinstance(lhs, int) and isinstance(rhs, int):
            return {"ge": lhs >= rhs, "eq": lhs == rhs, "div": lhs % rhs == 0}[kind]
        self.constraints.append(Constraint(kind, lhs, rhs, layer, span, what))
        return None

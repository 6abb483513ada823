"""The intermediate representation: frozen ops, layers and the network.

Lowering (lower.py) builds it from the syntax tree, with names resolved, blocks expanded, defaults
filled in and every argument checked; later passes only read it or build new objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span

Pair = tuple[int, int]
Dim = int | str | None  # a declared dimension: a size, a symbol, or `_` (any)


# ---------------------------------------------------------------------------- ops


@dataclass(frozen=True, slots=True)
class Conv:
    filters: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair | str = (0, 0)  # a pair, or "same"
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = True


@dataclass(frozen=True, slots=True)
class Pool:
    kind: str  # "max" or "avg"
    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)
    ceil: bool = False
    count_include_pad: bool = True  # avg only


@dataclass(frozen=True, slots=True)
class AdaptiveAvgPool:
    output: Pair


@dataclass(frozen=True, slots=True)
class LRN:
    """The paper's LRN: alpha is not divided by size; window [c - size//2, c + (size-1)//2]."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


@dataclass(frozen=True, slots=True)
class BatchNorm:
    eps: float = 1e-5
    momentum: float = 0.1


@dataclass(frozen=True, slots=True)
class Dropout:
    p: float = 0.5


@dataclass(frozen=True, slots=True)
class Flatten:
    pass


@dataclass(frozen=True, slots=True)
class Linear:
    features: int
    bias: bool = True


@dataclass(frozen=True, slots=True)
class Activation:
    kind: str  # relu, tanh, sigmoid, softmax


@dataclass(frozen=True, slots=True)
class Add:
    pass


@dataclass(frozen=True, slots=True)
class Concat:
    pass


@dataclass(frozen=True, slots=True)
class FusedConv:
    """conv -> relu (-> lrn) run as one kernel; built by fuse.py, never written in a spec."""

    conv: Conv
    relu: bool
    lrn: LRN | None
    parts: tuple[str, ...]  # the names of the layers it replaces, conv first


@dataclass(frozen=True, slots=True)
class Invalid:
    """A layer that could not be built; its errors are reported and its shape is unknown."""

    op: str


Op = (
    Conv | Pool | AdaptiveAvgPool | LRN | BatchNorm | Dropout | Flatten | Linear | Activation | Add | Concat
    | FusedConv | Invalid
)


def op_name(op: Op) -> str:
    """The op's name in the language (`conv`, `maxpool`, `relu`, ...)."""
    if isinstance(op, Pool):
        return f"{op.kind}pool"
    if isinstance(op, Activation):
        return op.kind
    if isinstance(op, Invalid):
        return op.op
    if isinstance(op, FusedConv):
        return "conv+relu" + ("+lrn" if op.lrn else "")
    return _OP_NAMES[type(op)]


_OP_NAMES = {
    Conv: "conv",
    AdaptiveAvgPool: "adaptive_avgpool",
    LRN: "lrn",
    BatchNorm: "batchnorm",
    Dropout: "dropout",
    Flatten: "flatten",
    Linear: "linear",
    Add: "add",
    Concat: "concat",
}


# ---------------------------------------------------------------------------- layers


@dataclass(frozen=True, slots=True)
class Assertion:
    """A `-> [dims]` shape assertion and where each dim is written."""

    dims: tuple[Dim, ...]
    span: Span
    dim_spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Layer:
    name: str  # unique; dotted inside a block instance (`stage1.conv`)
    op: Op
    inputs: tuple[str, ...]  # layer names, or the network's input name
    span: Span  # the whole line
    op_span: Span
    name_span: Span | None = None  # None for automatically named layers
    arg_spans: tuple[tuple[str, Span], ...] = ()
    assertions: tuple[Assertion, ...] = ()
    instance: tuple[tuple[str, str, Span], ...] = ()  # (instance, block, call span), outermost first
    source_text: tuple[tuple[str, str], ...] = ()  # how numeric arguments were written

    def arg_span(self, name: str) -> Span:
        for key, span in self.arg_spans:
            if key == name:
                return span
        return self.op_span

    def written(self, name: str) -> str | None:
        for key, text in self.source_text:
            if key == name:
                return text
        return None

    @property
    def display_name(self) -> str:
        return self.name.split("'")[0]


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    input_name: str
    input_dims: tuple[Dim, ...]
    input_span: Span
    input_dim_spans: tuple[Span, ...]
    output: Assertion | None
    layers: tuple[Layer, ...]  # source order, blocks expanded
    order: tuple[int, ...] = field(default=())  # a topological order (indices into layers)
    name_span: Span | None = None

    @property
    def output_layer(self) -> str:
        return self.layers[-1].name if self.layers else self.input_name

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbolic sizes of the input, batch excluded, in order of first appearance."""
        seen: list[str] = []
        for d in self.input_dims[1:]:
            if isinstance(d, str) and d not in seen:
                seen.append(d)
        return tuple(seen)

    @property
    def batch(self) -> Dim:
        return self.input_dims[0] if self.input_dims else None

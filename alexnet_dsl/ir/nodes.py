"""The intermediate representation: frozen ops, layers and the network.

Lowering (frontend/lower.py) builds it from the typed syntax, with names resolved, blocks expanded, defaults
filled in and every argument checked; later passes only read it or build new objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alexnet_dsl.ir.graph import output_layer, topological_order
from alexnet_dsl.source import Span

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
class GlobalPool:
    """The mean (`avg`) or the maximum (`max`) over all of H and W: [N, C, 1, 1] if `keepdims`, else [N, C]."""

    kind: str  # "avg" or "max"
    keepdims: bool = False


@dataclass(frozen=True, slots=True)
class ChannelShuffle:
    """ShuffleNet's channel shuffle: the channels as `groups` rows of C/groups, read column by column."""

    groups: int


@dataclass(frozen=True, slots=True)
class LRN:
    """The paper's LRN: alpha is not divided by size; window [c - size//2, c + (size-1)//2]."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    @property
    def torch_alpha(self) -> float:
        """The alpha PyTorch, ONNX and Caffe take, which they divide by the size (dslc's `avg_alpha`).

        >>> LRN(5, alpha=1e-4).torch_alpha
        0.0005
        """
        return self.alpha * self.size


def paper_alpha(torch_alpha: float, size: int) -> float:
    """The paper's alpha (LRN.alpha) for the alpha of PyTorch, ONNX or Caffe, which they divide by size.

    >>> paper_alpha(0.0005, 5)
    0.0001
    """
    return torch_alpha / size


@dataclass(frozen=True, slots=True)
class BatchNorm:
    eps: float = 1e-5
    momentum: float = 0.1


@dataclass(frozen=True, slots=True)
class LayerNorm:
    """Normalisation over the channels of each position (ConvNeXt's LayerNorm2d), or over the features of
    [N, F], with a learned scale and shift per channel."""

    eps: float = 1e-5


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
    """An elementwise activation, told apart by its kind; the few with an argument carry it in `params`
    (`leaky_relu`'s slope, `elu`'s alpha)."""

    kind: str  # its op's name in the language (`relu`, `tanh`, ...: frontend/vocabulary.py)
    params: tuple[tuple[str, float | str], ...] = ()  # (argument, value), in the op's order

    def param(self, key: str) -> float | str:
        """The value of the argument `key` (`gelu`'s `approximate`)."""
        return dict(self.params)[key]


@dataclass(frozen=True, slots=True)
class Add:
    pass


@dataclass(frozen=True, slots=True)
class Mul:
    """The elementwise product of two tensors, size-1 dimensions broadcast (squeeze-excitation's
    [N, C, H, W] x [N, C, 1, 1])."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Part `index` of the channels cut into `parts` equal parts (`torch.chunk(x, parts, 1)[index]`)."""

    parts: int
    index: int


@dataclass(frozen=True, slots=True)
class Scale:
    """A learned factor per channel (ConvNeXt's layer scale), every factor starting at `init`."""

    init: float = 1.0


@dataclass(frozen=True, slots=True)
class StochasticDepth:
    """torchvision's stochastic depth: in training, zero the whole input with probability `p`, per sample
    (`row`) or for the whole batch (`batch`), and divide what is kept by 1 - p; the identity in eval."""

    p: float
    mode: str = "row"


@dataclass(frozen=True, slots=True)
class Upsample:
    """H and W multiplied by `scale`: the nearest value, or bilinear interpolation."""

    scale: Pair
    mode: str = "nearest"  # or "bilinear"
    align_corners: bool = False


@dataclass(frozen=True, slots=True)
class ConvTranspose:
    """The transposed convolution (the gradient of a conv with these arguments, as a layer)."""

    filters: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    output_padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = True


@dataclass(frozen=True, slots=True)
class Concat:
    pass


@dataclass(frozen=True, slots=True)
class FusedConv:
    """conv (-> batchnorm) (-> activation) (-> lrn) run as one op; built by backend/fuse.py, never written in a
    spec. The batchnorm is folded into the conv in eval; `parts` names the layers it replaces (their modules keep
    their names: `conv1`, `bn1`)."""

    conv: Conv
    activation: Activation | None
    lrn: LRN | None
    parts: tuple[str, ...]  # the names of the layers it replaces, conv first
    batchnorm: BatchNorm | None = None  # then its layer is parts[1]


@dataclass(frozen=True, slots=True)
class Invalid:
    """A layer that could not be built; its errors are reported and its shape is unknown."""

    op: str


Op = (
    Conv
    | Pool
    | AdaptiveAvgPool
    | GlobalPool
    | ChannelShuffle
    | LRN
    | BatchNorm
    | LayerNorm
    | Dropout
    | Flatten
    | Linear
    | Activation
    | Add
    | Mul
    | Concat
    | Chunk
    | Scale
    | StochasticDepth
    | Upsample
    | ConvTranspose
    | FusedConv
    | Invalid
)


def op_name(op: Op) -> str:
    """The op's name in the language (`conv`, `maxpool`, `relu`, ...).

    The vocabulary (frontend/vocabulary.py) is the table of names, but ir cannot import the frontend: the
    ops whose name is not in a field are named again in `_OP_NAMES`, so a new IR class needs its entry
    there too (`tests/frontend/test_lower.py` checks that every op of the vocabulary is named back).
    """
    if isinstance(op, Pool):
        return f"{op.kind}pool"
    if isinstance(op, GlobalPool):
        return f"global_{op.kind}pool"
    if isinstance(op, Activation):
        return op.kind
    if isinstance(op, Invalid):
        return op.op
    if isinstance(op, FusedConv):
        norm = ["batchnorm"] if op.batchnorm else []
        act = [op.activation.kind] if op.activation else []
        return "+".join(["conv", *norm, *act, *(["lrn"] if op.lrn else [])])
    return _OP_NAMES[type(op)]


_OP_NAMES = {
    Conv: "conv",
    AdaptiveAvgPool: "adaptive_avgpool",
    ChannelShuffle: "channel_shuffle",
    LRN: "lrn",
    BatchNorm: "batchnorm",
    LayerNorm: "layernorm",
    Dropout: "dropout",
    Flatten: "flatten",
    Linear: "linear",
    Add: "add",
    Mul: "mul",
    Concat: "concat",
    Chunk: "chunk",
    Scale: "scale",
    StochasticDepth: "stochastic_depth",
    Upsample: "upsample",
    ConvTranspose: "conv_transpose",
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
    # The name as messages show it (`display_name`), None for `name` itself. `name` is unique, so a name
    # written twice in one scope (an error, reported; the layer is still checked) gets a private suffix
    # there, and is shown as written.
    shown_as: str | None = None

    @property
    def display_name(self) -> str:
        """The layer's name as messages show it."""
        return self.name if self.shown_as is None else self.shown_as

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


@dataclass(frozen=True, slots=True)
class Network:
    """A network: its input, its layers in source order, and the graph they form.

    The graph (ir/graph.py) is computed once, when the network is built, and every pass reads it from
    here: the checker infers shapes in `order`, codegen writes `forward` in `order` and returns
    `output_layer`, ONNX export names that value the graph's output.
    """

    name: str
    input_name: str
    input_dims: tuple[Dim, ...]
    input_dim_spans: tuple[Span, ...]
    output: Assertion | None  # the declared `-> [dims]` of the network, if any
    layers: tuple[Layer, ...]  # source order, blocks expanded
    name_span: Span | None = None
    # The layer whose value the network returns (graph.output_layer). None means the language's rule;
    # passes that rename layers (fuse) pass the new name on.
    output_layer: str = None  # type: ignore[assignment]
    # ONE topological order (indices into `layers`), source order wherever the dependencies allow;
    # layers on a cycle, or reading a layer on a cycle, are missing (the checker reports them).
    order: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # A layer's name -> its display name, for readers that only hold a name (a layer's inputs).
    display_names: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.output_layer is None:
            object.__setattr__(self, "output_layer", output_layer(self.layers, self.input_name))
        else:  # a pass that drops or renames layers must say which one is the output now
            assert self.output_layer in {la.name for la in self.layers} or not self.layers, (
                f"the output `{self.output_layer}` is not a layer of `{self.name}`"
            )
        object.__setattr__(self, "order", topological_order(self.layers))
        object.__setattr__(self, "display_names", {la.name: la.display_name for la in self.layers})

    @property
    def ordered(self) -> tuple[Layer, ...]:
        """The layers in `order`."""
        return tuple(self.layers[i] for i in self.order)

    def display_name(self, name: str) -> str:
        """How messages show the layer `name`, or the input (any name that is no layer, as it is)."""
        return self.display_names.get(name, name)

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

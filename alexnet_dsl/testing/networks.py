"""Random network specs for property tests: valid ones with the shapes the checker must predict
(`networks`), and ones with a single known mistake (`broken_networks`).

The generators compute every shape with their own arithmetic (`_out`), so a test compares the
checker with an independent oracle; argument ranges start where the vocabulary's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import assume
from hypothesis import strategies as st

from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.frontend.vocabulary import ACTIVATIONS, OPS
from alexnet_dsl.ir import expr as E

Made = tuple[str, tuple[int, ...]]  # a layer's text and its (C, H, W) or (F,) shape


@dataclass(frozen=True)
class GeneratedNetwork:
    """A random spec, its input shape, the shape the checker predicts for every layer, and the layer
    the network returns (the last line)."""

    text: str
    input_shape: tuple[int, ...]
    shapes: dict[str, tuple[int, ...]] = field(hash=False)
    output: str = ""


@dataclass
class _Builder:
    """Layers in the order they are made, each reading only layers made before it; `render` writes
    them in any order, with `from` wherever a line does not read the line above it. `current` and
    `shape` are the end of the main chain."""

    current: str
    shape: tuple[int, ...]
    layers: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, op, input (None: a join)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name -> (C, H, W) or (F,)
    order: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shapes[self.current] = self.shape

    def add(self, text: str, shape: tuple[int, ...], source: str | None) -> str:
        name = f"l{len(self.order)}"
        self.layers.append((name, text, source))
        self.shapes[name] = shape
        self.order.append(name)
        return name

    def extend(self, text: str, shape: tuple[int, ...], source: str | None = "") -> None:
        """A layer at the end of the main chain (reading its end, unless `source` says otherwise)."""
        self.current = self.add(text, shape, self.current if source == "" else source)
        self.shape = shape

    def render(self, order: list[int]) -> list[str]:
        lines, above = [], "x"
        for i in order:
            name, text, source = self.layers[i]
            lines.append(f"{name}: {text}" + ("" if source in (None, above) else f" from {source}"))
            above = name
        return lines


# ---------------------------------------------------------------------------- layers


def _ints(op: str, arg: str, hi: int) -> st.SearchStrategy[int]:
    """Values of an int argument (or of one element of a pair) from the vocabulary's least to `hi`."""
    return st.integers(int(OPS[op].params[arg].lo), hi)


def _out(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    eff = d * (k - 1) + 1
    if not ceil:
        return (size + 2 * p - eff) // s + 1
    o = -((-(size + 2 * p - eff)) // s) + 1
    return o - 1 if (o - 1) * s >= size + p else o


def _pair_text(a: int, b: int) -> str:
    return str(a) if a == b else f"({a}, {b})"


@st.composite
def _conv(draw, shape: tuple[int, ...]) -> Made | None:
    c, h, w = shape
    kh, kw = draw(_ints("conv", "kernel", min(5, h + 2))), draw(_ints("conv", "kernel", min(5, w + 2)))
    sh, sw = draw(_ints("conv", "stride", 3)), draw(_ints("conv", "stride", 3))
    ph, pw = draw(_ints("conv", "padding", kh // 2 + 1)), draw(_ints("conv", "padding", kw // 2 + 1))
    dh, dw = draw(st.sampled_from([1, 1, 2])), draw(st.sampled_from([1, 1, 2]))
    oh, ow = _out(h, kh, sh, ph, dh), _out(w, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        return None
    groups = draw(st.sampled_from([g for g in (1, 1, 2, 3, 4) if c % g == 0]))
    filters = groups * draw(_ints("conv", "filters", 5))
    bias = draw(st.booleans())
    text = (
        f"conv({filters}, kernel={_pair_text(kh, kw)}, stride={_pair_text(sh, sw)}, "
        f"padding={_pair_text(ph, pw)}, dilation={_pair_text(dh, dw)}, groups={groups}"
        + ("" if bias else ", bias=false")
        + ")"
    )
    return text, (filters, oh, ow)


@st.composite
def _pool(draw, shape: tuple[int, ...]) -> Made | None:
    c, h, w = shape
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    kh, kw = draw(_ints(kind, "kernel", 4)), draw(_ints(kind, "kernel", 4))
    sh, sw = draw(_ints(kind, "stride", 3)), draw(_ints(kind, "stride", 3))
    ph, pw = draw(_ints(kind, "padding", kh // 2)), draw(_ints(kind, "padding", kw // 2))
    ceil = draw(st.booleans())
    oh, ow = _out(h, kh, sh, ph, ceil=ceil), _out(w, kw, sw, pw, ceil=ceil)
    if oh < 1 or ow < 1:
        return None
    text = (
        f"{kind}(kernel={_pair_text(kh, kw)}, stride={_pair_text(sh, sw)}, padding={_pair_text(ph, pw)}"
        + (", ceil=true" if ceil else "")
        + ")"
    )
    return text, (c, oh, ow)


@st.composite
def _adaptive(draw, shape: tuple[int, ...]) -> Made:
    oh, ow = draw(_ints("adaptive_avgpool", "output", 4)), draw(_ints("adaptive_avgpool", "output", 4))
    return f"adaptive_avgpool({_pair_text(oh, ow)})", (shape[0], oh, ow)


@st.composite
def _same_shape(draw, shape: tuple[int, ...]) -> Made:
    others = ["batchnorm", "layernorm", "dropout", "lrn", "channel_shuffle", "scale", "stochastic_depth"]
    op = draw(st.sampled_from([*ACTIVATIONS, *others, "gelu(approximate=tanh)"]))
    if op == "scale":
        return f"scale({draw(st.sampled_from(['1e-6', '0.5', '2']))})", shape
    if op == "stochastic_depth":
        return (
            f"stochastic_depth({draw(st.sampled_from(['0', '0.2', '1']))}, mode={draw(st.sampled_from(['row', 'batch']))})",
            shape,
        )
    if op == "channel_shuffle":
        groups = draw(st.sampled_from([d for d in range(1, shape[0] + 1) if shape[0] % d == 0]))
        return f"channel_shuffle({groups})", shape
    if op == "dropout":
        return f"dropout({draw(st.sampled_from(['0', '0.25', '0.5']))})", shape
    if op == "lrn":
        size = draw(_ints("lrn", "size", 6))
        alpha = draw(st.sampled_from(["1e-4", "1e-2", "1"]))
        k = draw(st.sampled_from(["1", "2"]))
        return f"lrn(size={size}, alpha={alpha}, beta=0.75, k={k})", shape
    return op, shape


_LAYERS = {"conv": _conv, "pool": _pool, "adaptive": _adaptive, "same": _same_shape}


def _branch(draw, b: _Builder) -> None:
    """A branch from an earlier value of the same spatial size, joined to the end of the chain by
    `add` (through a conv to the same channels) or `concat` (through a 1x1 conv)."""
    shape = b.shape
    candidates = [n for n in ["x", *b.order] if b.shapes[n][1:] == shape[1:] and n != b.current]
    if not candidates:
        return
    source = draw(st.sampled_from(candidates))
    sc = b.shapes[source][0]
    if draw(st.booleans()):
        side = b.add(f"conv({shape[0]}, kernel=3, padding=1)", shape, source)
        b.extend(f"add({b.current}, {side})", shape, None)
    else:
        side = b.add(f"conv({sc}, kernel=1)", (sc, *shape[1:]), source)
        b.extend(f"concat({b.current}, {side})", (shape[0] + sc, *shape[1:]), None)


def _squeeze_excitation(draw, b: _Builder) -> None:
    """MobileNetV3's and EfficientNet's squeeze-excitation: a gate per channel from the global average,
    multiplied into the chain (`mul` broadcasting [N, C, H, W] by [N, C, 1, 1])."""
    c = b.shape[0]
    squeeze = draw(st.integers(1, max(1, c // 2)))
    pool = b.add("global_avgpool(keepdims=true)", (c, 1, 1), b.current)
    reduce = b.add(f"conv({squeeze}, kernel=1)", (squeeze, 1, 1), pool)
    act = b.add(draw(st.sampled_from(["relu", "silu"])), (squeeze, 1, 1), reduce)
    expand = b.add(f"conv({c}, kernel=1)", (c, 1, 1), act)
    gate = b.add(draw(st.sampled_from(["sigmoid", "hardsigmoid"])), (c, 1, 1), expand)
    first, second = draw(st.permutations([b.current, gate]))
    b.extend(f"mul({first}, {second})", b.shape, None)


def _inverted_residual(draw, b: _Builder) -> None:
    """MobileNetV2's inverted residual: expand with a 1x1 conv, a depthwise 3x3, project back, add."""
    c, h, w = b.shape
    wide = c * draw(st.integers(1, 3))
    start = b.current
    b.extend(f"conv({wide}, kernel=1)", (wide, h, w))
    b.extend("relu6", (wide, h, w))
    b.extend(f"conv({wide}, kernel=3, padding=1, groups={wide})", (wide, h, w))
    b.extend("relu6", (wide, h, w))
    b.extend(f"conv({c}, kernel=1, bias=false)", (c, h, w))
    b.extend(f"add({start}, {b.current})", (c, h, w), None)


def _channel_split(draw, b: _Builder) -> None:
    """ShuffleNetV2's unit: the channels cut in two halves, one kept and one through convs, joined by
    concat and shuffled."""
    c, h, w = b.shape
    if c % 2:
        return
    start = b.current
    kept = b.add("chunk(2, 0)", (c // 2, h, w), start)
    b.extend("chunk(parts=2, index=1)", (c // 2, h, w), start)
    b.extend(f"conv({c // 2}, kernel=1)", (c // 2, h, w))
    b.extend("relu", (c // 2, h, w))
    b.extend(f"concat({kept}, {b.current})", (c, h, w), None)
    b.extend("channel_shuffle(2)", (c, h, w))


def _skip(draw, b: _Builder) -> None:
    """U-Net's skip: down by a stride-2 pooling, a conv, up by `upsample` or a transposed conv, joined to
    the input of the pooling by concat (even sizes only: otherwise the sizes no longer meet)."""
    c, h, w = b.shape
    if h % 2 or w % 2:
        return
    start = b.current
    b.extend("maxpool(kernel=2)", (c, h // 2, w // 2))
    f = draw(st.integers(1, 4))
    b.extend(f"conv({f}, kernel=3, padding=1)", (f, h // 2, w // 2))
    if draw(st.booleans()):
        mode = draw(st.sampled_from(["", ", mode=bilinear", ", mode=bilinear, align_corners=true"]))
        b.extend(f"upsample(2{mode})", (f, h, w))
    else:
        b.extend(f"conv_transpose({f}, kernel=2, stride=2)", (f, h, w))
    b.extend(f"concat({start}, {b.current})", (c + f, h, w), None)


_BLOCKS = {"se": _squeeze_excitation, "inverted": _inverted_residual, "split": _channel_split, "skip": _skip}


def _head(draw, b: _Builder) -> None:
    """flatten (or a global pooling), then one or two linear layers, each maybe followed by an activation."""
    c, h, w = b.shape
    if draw(st.booleans()):
        b.extend("flatten", (c * h * w,))
    else:
        b.extend(draw(st.sampled_from(["global_avgpool", "global_maxpool"])), (c,))
    for _ in range(draw(st.integers(1, 2))):
        f = draw(_ints("linear", "features", 12))
        b.extend(f"linear({f})", (f,))
        if draw(st.booleans()):
            b.extend(draw(st.sampled_from(["relu", "dropout(0.5)", "batchnorm", "softmax"])), (f,))


def _any_order(draw, b: _Builder, output: str) -> list[int]:
    """Unused side branches reading any layer, then the lines in any order but the output's, which is
    the last line by definition."""
    made = list(b.order)
    for _ in range(draw(st.integers(0, 2))):  # side branches that feed nothing, read by no one
        source = draw(st.sampled_from(made))
        b.add(draw(st.sampled_from(ACTIVATIONS)), b.shapes[source], source)
    others = [i for i in range(len(b.order)) if b.order[i] != output]
    return [*draw(st.permutations(others)), b.order.index(output)]


@st.composite
def networks(
    draw,
    max_layers: int = 8,
    branches: bool = True,
    head: bool = True,
    sizes: tuple[int, int] = (6, 40),
    channels: tuple[int, int] = (1, 6),
    any_order: bool = True,
) -> GeneratedNetwork:
    """Random valid specs over [N, C, H, W]: conv/pool/LRN/batchnorm/activations with random
    arguments (pairs, groups, dilation, ceil mode), branches joined with `add`/`concat`, the blocks of
    modern CNNs (squeeze-excitation, inverted residuals, channel splits, U-Net skips through
    `upsample` or `conv_transpose`), and an optional flatten + linear head.

    With `any_order`, the lines come in a random order, not only in dependency order (`from` and joins
    name layers further down), and unused side branches are added, reading any layer, the output
    included; the network's output stays its last line, as the language defines it."""
    c = draw(st.integers(*channels))
    h, w = draw(st.integers(*sizes)), draw(st.integers(*sizes))
    b = _Builder("x", (c, h, w))
    kinds = ["conv", "conv", "pool", "same", "adaptive"] + (["branch", *_BLOCKS] if branches else [])
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(kinds))
        if kind == "branch":
            _branch(draw, b)
            continue
        if kind in _BLOCKS:
            _BLOCKS[kind](draw, b)
            continue
        made = draw(_LAYERS[kind](b.shape))
        if made is not None:
            b.extend(*made)
    if not b.order:
        b.extend("relu", b.shape)
    if head and draw(st.booleans()):
        _head(draw, b)
    output = b.current
    order = _any_order(draw, b, output) if any_order else list(range(len(b.order)))
    body = "\n".join("    " + line for line in b.render(order))
    text = f"network Random(x: [N, {c}, {h}, {w}]) {{\n{body}\n}}\n"
    return _checked(text, (2, c, h, w), b.shapes, output)


def _checked(text: str, input_shape: tuple[int, ...], shapes: dict, output: str) -> GeneratedNetwork:
    """The generated network, once the checker accepts it and predicts the generator's own shapes."""
    analysis = check_text(text)
    assert analysis.ok, f"networks() made an invalid spec:\n{text}\n{[d.message for d in analysis.errors]}"
    assert analysis.network is not None and analysis.network.output_layer == output, text
    predicted = {i.layer.name: tuple(E.evaluate(d, {"N": 2}) for d in i.shape[1:]) for i in analysis.infos}
    for name, want in shapes.items():  # the generator's own arithmetic agrees with the checker
        if name != "x":
            assert predicted[name] == want, (name, predicted[name], want, text)
    return GeneratedNetwork(text, input_shape, predicted, output)


# ---------------------------------------------------------------------------- broken networks


@dataclass(frozen=True)
class BrokenNetwork:
    """A spec with one known mistake: the diagnostic code and the line it must be reported on."""

    text: str
    code: str
    line: int
    valid_text: str


# each kind of mistake and the code it must be reported with
MISTAKES = {
    "assertion": "E0301",
    "wrong_assertion": "E0301",
    "groups": "E0303",
    "kernel": "E0305",
    "unknown_op": "E0101",
    "unknown_arg": "E0102",
    "float_arg": "E0104",
    "duplicate": "E0201",
    "unknown_ref": "E0202",
    "linear_rank": "E0306",
    "join": "E0307",
}
_REPLACEMENTS = {  # a layer's op replaced by a wrong one
    "unknown_op": "convolution(4, kernel=3)",
    "unknown_arg": "relu(inplace=true)",
    "float_arg": "conv(4, kernel=2.5)",
}


def _append(lines: list[str], layer: str) -> int:
    """Add a layer line before the closing brace; its index."""
    lines.insert(len(lines) - 1, "    " + layer)
    return len(lines) - 2


def _layer_name(line: str) -> str:
    return line.strip().split(":")[0]


def _wrong(draw, shape: tuple[int, ...]) -> str:
    """` -> [N, ...]`: an assertion that gets one dimension of `shape` wrong."""
    wrong = list(shape)
    k = draw(st.integers(0, len(wrong) - 1))
    wrong[k] = wrong[k] + draw(st.sampled_from([1, 2])) if wrong[k] < 3 else wrong[k] - 1
    return _asserted(wrong)


def _asserted(dims) -> str:
    return " -> [N, " + ", ".join(map(str, dims)) + "]"


@st.composite
def broken_networks(draw, mistakes: tuple[str, ...] = tuple(MISTAKES)) -> BrokenNetwork:
    """A valid random network with exactly one mistake put in (shape, name, argument or rank)."""
    # in dependency order and without side branches: a prefix of the lines is a valid network
    net = draw(networks(max_layers=6, head=False, any_order=False))
    lines, valid = net.text.splitlines(), net.text
    last = _layer_name(lines[-2])
    c, h, w = net.shapes[last]
    mistake = draw(st.sampled_from(mistakes))
    i = draw(st.integers(1, len(lines) - 2))  # a layer line (0-based)
    name = _layer_name(lines[i])
    appended = {
        "groups": f"grouped: conv({c + 1}, kernel=1, groups={c + 1})",
        "kernel": f"big: maxpool(kernel=({h + 1}, {w + 1}))",
        "unknown_ref": "dangling: relu from nowhere",
        "linear_rank": "fc: linear(3)",
    }
    if mistake in appended:
        i = _append(lines, appended[mistake])
    elif mistake == "join":
        assume(max(h, w) >= 3)  # halved, that size is still above 1: torch cannot broadcast the two either
        _append(lines, "half: maxpool(kernel=1, stride=2)")
        i = _append(lines, f"bad: add(half, {last})")
    elif mistake == "assertion":
        # Checking goes on from an asserted shape, so later layers could fail on the wrong size too (a
        # second mistake, not a cascade): the network ends at the asserted layer.
        lines = lines[: i + 1] + lines[-1:]
        valid = "\n".join(lines) + "\n"
        lines[i] += _wrong(draw, net.shapes[name])
    elif mistake == "wrong_assertion":
        # The assertion is the mistake and every later layer asserts its true shape: checking must go on
        # from the computed shape, so the correct lines after it are not flagged (one mistake, one error).
        wrong = _wrong(draw, net.shapes[name])
        for j in range(i + 1, len(lines) - 1):
            later = _layer_name(lines[j])
            if "->" not in lines[j] and later in net.shapes:
                lines[j] += _asserted(net.shapes[later])
        lines[i] += wrong
    elif mistake == "duplicate":
        i += 1
        lines.insert(i, f"    {name}: relu")
    else:
        lines[i] = f"    {name}: {_REPLACEMENTS[mistake]}"
    return BrokenNetwork("\n".join(lines) + "\n", MISTAKES[mistake], i + 1, valid)

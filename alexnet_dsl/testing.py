"""Property-based shape testing with hypothesis.

    from hypothesis import given
    from alexnet_dsl.testing import admissible_inputs, assert_shapes

    @given(admissible_inputs("specs/alexnet_hw.net", batch=2))
    def test_every_admissible_input_gives_the_promised_shapes(shape):
        assert_shapes("specs/alexnet_hw.net", shape)

- `admissible_inputs(spec, batch=...)`: input shapes the network accepts, drawn from the checker's
  exact admissible sets (every draw is valid; the ends of each range are drawn often);
- `networks(...)`: random valid specs, sequential or with branches, with the shapes the checker
  predicts for them;
- `broken_networks(...)`: specs with one known mistake, its code and the line it is on;
- `assert_shapes(spec_or_module, input_shape)`: run the compiled module (on the `meta` device by
  default) and fail with a layer-by-layer table when a shape differs from the static prediction.

Needs hypothesis (and torch for `assert_shapes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alexnet_dsl.analysis.pipeline import Analysis, check_source, check_text
from alexnet_dsl.analysis.solve import IntSet
from alexnet_dsl.extras import needs
from alexnet_dsl.ir import expr as E

with needs("alexnet_dsl.testing"):  # one line naming the `test` extra, not a bare ModuleNotFoundError
    from hypothesis import assume
    from hypothesis import strategies as st

__all__ = [
    "BrokenNetwork",
    "GeneratedNetwork",
    "admissible_inputs",
    "assert_shapes",
    "broken_networks",
    "networks",
]


def _analysis(spec) -> Analysis:
    if isinstance(spec, Analysis):
        return spec
    from alexnet_dsl.backend.build import load

    analysis = check_source(load(spec))
    if not analysis.ok:
        from alexnet_dsl.diagnostics import DslError

        raise DslError(analysis.errors, analysis.source)
    return analysis


# ---------------------------------------------------------------------------- admissible inputs


def _values(s: IntSet, span: int) -> st.SearchStrategy[int]:
    """Members of an admissible set; the ends of every range come up often."""
    options = []
    for lo, hi in s.ranges:
        top = hi if hi is not None else lo + span
        ends = [lo, top] if hi is not None else [lo]
        options.append(st.one_of(st.sampled_from(ends), st.integers(lo, top)))
    values = st.one_of(*options)
    if s.mod > 1:
        values = values.filter(lambda v: v % s.mod in s.residues)
    return values


def admissible_inputs(
    spec, batch: int | st.SearchStrategy[int] | None = None, span: int = 64
) -> st.SearchStrategy[tuple[int, ...]]:
    """Input shapes that `spec` accepts.

    Symbols are drawn from their exact admissible sets (unbounded ranges up to `span` past their
    start); when symbols are coupled, draws that no choice of the others completes are rejected,
    so every shape drawn checks.
    """
    analysis = _analysis(spec)
    net = analysis.network
    assert net is not None
    batch_strategy = st.just(batch) if isinstance(batch, int) else (batch or st.integers(1, 4))
    symbols = {s: _values(analysis.admissible.get(s, IntSet.at_least(1)), span) for s in net.symbols}
    coupled = any(d.code == "N0501" for d in analysis.diagnostics)

    @st.composite
    def draw(draw_) -> tuple[int, ...]:
        values = {s: draw_(v) for s, v in symbols.items()}
        dims = []
        for i, d in enumerate(net.input_dims):
            if i == 0:
                dims.append(d if isinstance(d, int) else draw_(batch_strategy))
            else:
                dims.append(d if isinstance(d, int) else values[d])
        return tuple(dims)

    shapes = draw()
    if coupled:
        from alexnet_dsl.analysis.pipeline import bind

        def completes(shape: tuple[int, ...]) -> bool:
            sizes = {d: shape[i] for i, d in enumerate(net.input_dims) if i and isinstance(d, str)}
            return bind(analysis, sizes).ok

        shapes = shapes.filter(completes)
    return shapes


# ---------------------------------------------------------------------------- random networks


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
    them in any order, with `from` wherever a line does not read the line above it."""

    layers: list[tuple[str, str, str | None]] = field(default_factory=list)  # name, op, input (None: a join)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name -> (C, H, W) or (F,)
    order: list[str] = field(default_factory=list)

    def add(self, text: str, shape: tuple[int, ...], source: str | None) -> str:
        name = f"l{len(self.order)}"
        self.layers.append((name, text, source))
        self.shapes[name] = shape
        self.order.append(name)
        return name

    def render(self, order: list[int]) -> list[str]:
        lines, above = [], "x"
        for i in order:
            name, text, source = self.layers[i]
            lines.append(f"{name}: {text}" + ("" if source in (None, above) else f" from {source}"))
            above = name
        return lines


def _out(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    eff = d * (k - 1) + 1
    if not ceil:
        return (size + 2 * p - eff) // s + 1
    o = -((-(size + 2 * p - eff)) // s) + 1
    return o - 1 if (o - 1) * s >= size + p else o


def _pair_text(a: int, b: int) -> str:
    return str(a) if a == b else f"({a}, {b})"


@st.composite
def _conv(draw, shape: tuple[int, int, int]) -> tuple[str, tuple[int, int, int]] | None:
    c, h, w = shape
    kh, kw = draw(st.integers(1, min(5, h + 2))), draw(st.integers(1, min(5, w + 2)))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2 + 1)), draw(st.integers(0, kw // 2 + 1))
    dh, dw = draw(st.sampled_from([1, 1, 2])), draw(st.sampled_from([1, 1, 2]))
    oh, ow = _out(h, kh, sh, ph, dh), _out(w, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        return None
    groups = draw(st.sampled_from([g for g in (1, 1, 2, 3, 4) if c % g == 0]))
    filters = groups * draw(st.integers(1, 5))
    bias = draw(st.booleans())
    text = (
        f"conv({filters}, kernel={_pair_text(kh, kw)}, stride={_pair_text(sh, sw)}, "
        f"padding={_pair_text(ph, pw)}, dilation={_pair_text(dh, dw)}, groups={groups}"
        + ("" if bias else ", bias=false")
        + ")"
    )
    return text, (filters, oh, ow)


@st.composite
def _pool(draw, shape: tuple[int, int, int]) -> tuple[str, tuple[int, int, int]] | None:
    c, h, w = shape
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
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
def _same_shape(draw, shape: tuple[int, int, int]) -> tuple[str, tuple[int, int, int]]:
    op = draw(st.sampled_from(["relu", "tanh", "sigmoid", "batchnorm", "dropout", "lrn", "softmax"]))
    if op == "dropout":
        return f"dropout({draw(st.sampled_from(['0', '0.25', '0.5']))})", shape
    if op == "lrn":
        size = draw(st.integers(1, 6))
        alpha = draw(st.sampled_from(["1e-4", "1e-2", "1"]))
        k = draw(st.sampled_from(["1", "2"]))
        return f"lrn(size={size}, alpha={alpha}, beta=0.75, k={k})", shape
    return op, shape


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
    arguments (pairs, groups, dilation, ceil mode), branches joined with `add`/`concat`, and an
    optional flatten + linear head.

    With `any_order`, the lines come in a random order, not only in dependency order (`from` and joins
    name layers further down), and unused side branches are added, reading any layer, the output
    included; the network's output stays its last line, as the language defines it."""
    c = draw(st.integers(*channels))
    h, w = draw(st.integers(*sizes)), draw(st.integers(*sizes))
    b = _Builder()
    current, shape = "x", (c, h, w)
    b.shapes["x"] = shape
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(
            st.sampled_from(["conv", "conv", "pool", "same", "adaptive"] + (["branch"] if branches else []))
        )
        if kind == "conv":
            made = draw(_conv(shape))
        elif kind == "pool":
            made = draw(_pool(shape))
        elif kind == "adaptive":
            oh, ow = draw(st.integers(1, 4)), draw(st.integers(1, 4))
            made = (f"adaptive_avgpool({_pair_text(oh, ow)})", (shape[0], oh, ow))
        elif kind == "same":
            made = draw(_same_shape(shape))
        else:
            made = None
            # a branch from an earlier value of the same spatial size, joined to the current one
            candidates = [n for n in ["x", *b.order] if b.shapes[n][1:] == shape[1:] and n != current]
            if candidates:
                source = draw(st.sampled_from(candidates))
                sc = b.shapes[source][0]
                if draw(st.booleans()):
                    side = b.add(f"conv({shape[0]}, kernel=3, padding=1)", shape, source)
                    current = b.add(f"add({current}, {side})", shape, None)
                else:
                    side = b.add(f"conv({sc}, kernel=1)", (sc, *shape[1:]), source)
                    shape = (shape[0] + sc, *shape[1:])
                    current = b.add(f"concat({current}, {side})", shape, None)
                continue
        if made is None:
            continue
        text, shape = made
        current = b.add(text, shape, current)
    if not b.order:
        current = b.add("relu", shape, current)
    if head and draw(st.booleans()):
        features = shape[0] * shape[1] * shape[2]
        current = b.add("flatten", (features,), current)
        for _ in range(draw(st.integers(1, 2))):
            f = draw(st.integers(1, 12))
            current = b.add(f"linear({f})", (f,), current)
            if draw(st.booleans()):
                current = b.add(
                    draw(st.sampled_from(["relu", "dropout(0.5)", "batchnorm", "softmax"])), (f,), current
                )
    output = current
    order = list(range(len(b.order)))
    if any_order:
        made = list(b.order)
        for _ in range(draw(st.integers(0, 2))):  # side branches that feed nothing, read by no one
            source = draw(st.sampled_from(made))
            b.add(draw(st.sampled_from(["relu", "tanh", "sigmoid"])), b.shapes[source], source)
        # any order of the lines but the output's, which is the last line by definition
        order = [
            *draw(st.permutations([i for i in range(len(b.order)) if b.order[i] != output])),
            b.order.index(output),
        ]
    body = "\n".join("    " + line for line in b.render(order))
    text = f"network Random(x: [N, {c}, {h}, {w}]) {{\n{body}\n}}\n"
    analysis = check_text(text)
    assert analysis.ok, f"networks() made an invalid spec:\n{text}\n{[d.message for d in analysis.errors]}"
    assert analysis.network is not None and analysis.network.output_layer == output, text
    predicted = {i.layer.name: tuple(E.evaluate(d, {"N": 2}) for d in i.shape[1:]) for i in analysis.infos}
    for name, want in b.shapes.items():  # the generator's own arithmetic agrees with the checker
        if name != "x":
            assert predicted[name] == want, (name, predicted[name], want, text)
    return GeneratedNetwork(text, (2, c, h, w), predicted, output)


# ---------------------------------------------------------------------------- broken networks


@dataclass(frozen=True)
class BrokenNetwork:
    """A spec with one known mistake: the diagnostic code and the line it must be reported on."""

    text: str
    code: str
    line: int
    valid_text: str


_MISTAKES = (
    "assertion",
    "wrong_assertion",
    "groups",
    "kernel",
    "unknown_op",
    "unknown_arg",
    "float_arg",
    "duplicate",
    "unknown_ref",
    "linear_rank",
    "join",
)


@st.composite
def broken_networks(draw, mistakes: tuple[str, ...] = _MISTAKES) -> BrokenNetwork:
    """A valid random network with exactly one mistake put in (shape, name, argument or rank)."""
    # in dependency order and without side branches: a prefix of the lines is a valid network
    net = draw(networks(max_layers=6, head=False, any_order=False))
    lines = net.text.splitlines()
    last = lines[-2].strip().split(":")[0]
    c, h, w = net.shapes[last]
    mistake = draw(st.sampled_from(mistakes))
    i = draw(st.integers(1, len(lines) - 2))  # a layer line (0-based)
    name = lines[i].strip().split(":")[0]
    code = {
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
    }[mistake]
    appended = {
        "groups": f"grouped: conv({c + 1}, kernel=1, groups={c + 1})",
        "kernel": f"big: maxpool(kernel=({h + 1}, {w + 1}))",
        "unknown_ref": "dangling: relu from nowhere",
        "linear_rank": "fc: linear(3)",
    }
    if mistake in appended:
        lines.insert(len(lines) - 1, "    " + appended[mistake])
        i = len(lines) - 2
    elif mistake == "join":
        assume(max(h, w) >= 3)  # halved, that size is still above 1: torch cannot broadcast the two either
        lines.insert(len(lines) - 1, "    half: maxpool(kernel=1, stride=2)")
        lines.insert(len(lines) - 1, f"    bad: add(half, {last})")
        i = len(lines) - 2
    elif mistake == "assertion":
        # Checking goes on from an asserted shape, so later layers could fail on the wrong size too (a
        # second mistake, not a cascade): the network ends at the asserted layer.
        lines = lines[: i + 1] + lines[-1:]
        valid = "\n".join(lines) + "\n"
        wrong = list(net.shapes[name])
        k = draw(st.integers(0, len(wrong) - 1))
        wrong[k] = wrong[k] + draw(st.sampled_from([1, 2])) if wrong[k] < 3 else wrong[k] - 1
        lines[i] += " -> [N, " + ", ".join(map(str, wrong)) + "]"
        return BrokenNetwork("\n".join(lines) + "\n", code, i + 1, valid)
    elif mistake == "wrong_assertion":
        # The assertion is the mistake and every later layer asserts its true shape: checking must go on
        # from the computed shape, so the correct lines after it are not flagged (one mistake, one error).
        wrong = list(net.shapes[name])
        k = draw(st.integers(0, len(wrong) - 1))
        wrong[k] = wrong[k] + draw(st.sampled_from([1, 2])) if wrong[k] < 3 else wrong[k] - 1
        for j in range(i + 1, len(lines) - 1):
            later = lines[j].strip().split(":")[0]
            if "->" not in lines[j] and later in net.shapes:
                lines[j] += " -> [N, " + ", ".join(map(str, net.shapes[later])) + "]"
        lines[i] += " -> [N, " + ", ".join(map(str, wrong)) + "]"
    elif mistake == "duplicate":
        lines.insert(i + 1, f"    {name}: relu")
        i += 1
    else:
        lines[i] = (
            f"    {name}: "
            + {
                "unknown_op": "convolution(4, kernel=3)",
                "unknown_arg": "relu(inplace=true)",
                "float_arg": "conv(4, kernel=2.5)",
            }[mistake]
        )
    return BrokenNetwork("\n".join(lines) + "\n", code, i + 1, net.text)


# ---------------------------------------------------------------------------- assert_shapes


def assert_shapes(
    spec_or_module, input_shape: tuple[int, ...], device: str | None = None, backend: str = "torch"
) -> None:
    """Run the compiled network one statement at a time and compare every layer's output shape
    with the checker's prediction. A spec runs on the `meta` device by default, where nothing is
    computed or allocated; a module runs where its parameters are, unless `device` says otherwise.

    Raises AssertionError with a layer-by-layer table when any shape differs (or the input is not
    one the network accepts).
    """
    import sys

    with needs("alexnet_dsl.testing.assert_shapes"):
        import torch

    from alexnet_dsl.backend.codegen import forward_plan, input_arg, network_for

    if isinstance(spec_or_module, torch.nn.Module):
        model = spec_or_module
        analysis = getattr(model, "_dslc_analysis", None)
        if analysis is None:
            raise TypeError("assert_shapes needs a spec or a module made by alexnet_dsl.compile")
        backend = model._dslc_backend
        if device is None:
            device = next((str(p.device) for p in model.parameters()), "cpu")
        model = model.to(device)
    else:
        device = device or "meta"
        from alexnet_dsl import compile as compile_spec

        analysis = _analysis(spec_or_module)
        with torch.device(device):
            model = compile_spec(
                analysis.source.text if analysis.source.path == "<string>" else analysis.source.path,
                backend=backend,
                memory_budget=None,
            )
    model = model.eval()
    net = analysis.network
    assert net is not None
    if len(input_shape) != len(net.input_dims):
        raise AssertionError(
            f"input shape {list(input_shape)} has rank {len(input_shape)}, the network "
            f"expects {len(net.input_dims)}: {list(net.input_dims)}"
        )
    env_sizes = {d: input_shape[i] for i, d in enumerate(net.input_dims) if isinstance(d, str)}
    predicted = {i.layer.name: i.shape for i in analysis.infos}
    for layer in network_for(analysis, backend).layers:
        if layer.name not in predicted and hasattr(layer.op, "parts"):
            predicted[layer.name] = predicted[layer.op.parts[-1]]
    arg = input_arg(network_for(analysis, backend))
    namespace = sys.modules[type(model).__module__].__dict__
    x = torch.empty(input_shape, device=device)
    model._check_input(x)
    env: dict = {"self": model, arg: x}
    rows: list[tuple[str, str, str, bool]] = []
    failed = False
    with torch.no_grad():
        for step in forward_plan(network_for(analysis, backend), arg, backend):
            want_dims = predicted.get(step.layer)
            want = None if want_dims is None else tuple(E.evaluate(d, env_sizes) for d in want_dims)
            try:
                exec(f"{step.out} = {step.code}", namespace, env)
                got = tuple(env[step.out].shape)
            except Exception as e:  # the layer itself failed: that is a difference too
                rows.append((step.layer, str(want), f"raised {type(e).__name__}: {e}", True))
                failed = True
                break
            bad = got != want
            failed |= bad
            rows.append((step.layer, str(list(want)) if want else "?", str(list(got)), bad))
    if failed:
        width = max(len(r[0]) for r in rows)
        lines = [
            f"shapes differ from the static prediction for input {list(input_shape)}:",
            f"  {'layer':<{width}}  {'predicted':<24}  actual",
        ]
        lines += [f"  {n:<{width}}  {w:<24}  {g}{'   <-- differs' if bad else ''}" for n, w, g, bad in rows]
        raise AssertionError("\n".join(lines))

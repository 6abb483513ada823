"""`dslc graph`: the architecture as a Graphviz diagram.

One node per layer (name, op, key arguments, output shape) plus the input and the output (an
edge from the layer the network returns); edges follow
`layer.inputs`, so branches fork and joins (`add`, `concat`) meet; block instances and fused
conv+ReLU(+LRN) groups are clusters; colours say the kind of op. `dot_source` writes the DOT text
itself (no Graphviz, no Python package: a fresh `pip install .` draws `.dot`), `render` runs
Graphviz's `dot` for SVG and PNG.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import re
import shutil
import subprocess
from collections.abc import Iterator

from alexnet_dsl import ir
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.shapes import input_shape, show_shape
from alexnet_dsl.frontend.vocabulary import OPS

MISSING_DOT = (
    "Graphviz's `dot` is not installed: install it with `apt-get install graphviz` (Debian, Ubuntu) "
    "or `brew install graphviz` (macOS)"
)
FONT = "Helvetica"

# op kind -> (fill, border)
_COLOURS = {
    "input": ("#ffffff", "#444444"),
    "conv": ("#dbe9f7", "#3d78b3"),
    "pool": ("#dcefd6", "#4e9a3a"),
    "norm": ("#ece1f5", "#8256a8"),
    "activation": ("#fff4cc", "#c29b00"),
    "linear": ("#f8dcd6", "#c0503a"),
    "shape": ("#eeeeee", "#8a8a8a"),
    "join": ("#fde6c8", "#d2801f"),
    "invalid": ("#ffffff", "#cc0000"),
}


class GraphvizMissing(RuntimeError):
    """`dot` is not on PATH."""


_FAMILIES: dict[type, str] = {
    ir.Conv: "conv",
    ir.FusedConv: "conv",
    ir.Pool: "pool",
    ir.AdaptiveAvgPool: "pool",
    ir.GlobalPool: "pool",
    ir.LRN: "norm",
    ir.BatchNorm: "norm",
    ir.LayerNorm: "norm",
    ir.Activation: "activation",
    ir.Linear: "linear",
    ir.ConvTranspose: "conv",
    ir.Upsample: "pool",
    ir.Scale: "norm",
    ir.Add: "join",
    ir.Mul: "join",
    ir.Concat: "join",
    ir.Invalid: "invalid",
}


def kind(op: ir.Op) -> str:
    """The colour family of an op (`shape` for the others: flatten, dropout)."""
    return _FAMILIES.get(type(op), "shape")


# ---------------------------------------------------------------------------- key arguments


def _is_default(op: ir.Op, arg: str) -> bool:
    """Whether the op's `arg` has its default value in the vocabulary (an int default stands for
    a pair of it; a default naming another argument, pooling's `stride=kernel`, is that one's value)."""
    default = OPS[ir.op_name(op)].params[arg].default
    value = getattr(op, arg)
    if isinstance(default, str) and hasattr(op, default):
        default = getattr(op, default)
    if isinstance(value, tuple) and isinstance(default, int):
        default = (default, default)
    return value == default


def _pair(p: ir.Pair) -> str:
    return f"{p[0]}×{p[1]}"


def _short(p: ir.Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"


def _number(layer: ir.Layer, arg: str) -> str:
    """A float argument as written in the spec (`1e-4`), else as Python prints it shortest."""
    return layer.written(arg) or f"{getattr(layer.op, arg):g}"


def _conv_arguments(layer: ir.Layer) -> list[str]:
    op = layer.op
    out = [f"{op.filters} filters", _pair(op.kernel)]
    if not _is_default(op, "stride"):
        out.append(f"stride {_short(op.stride)}")
    if not _is_default(op, "padding"):
        out.append(f"pad {op.padding if isinstance(op.padding, str) else _short(op.padding)}")
    if not _is_default(op, "dilation"):
        out.append(f"dilation {_short(op.dilation)}")
    if not _is_default(op, "groups"):
        out.append(f"groups {op.groups}")
    return out + ([] if op.bias else ["no bias"])


def _conv_transpose_arguments(layer: ir.Layer) -> list[str]:
    op = layer.op
    out = [f"{op.filters} filters", _pair(op.kernel)]
    for arg, word in (
        ("stride", "stride"),
        ("padding", "pad"),
        ("output_padding", "out pad"),
        ("dilation", "dilation"),
    ):
        if not _is_default(op, arg):
            out.append(f"{word} {_short(getattr(op, arg))}")
    if not _is_default(op, "groups"):
        out.append(f"groups {op.groups}")
    return out + ([] if op.bias else ["no bias"])


def _pool_arguments(layer: ir.Layer) -> list[str]:
    op = layer.op
    out = [_pair(op.kernel)]
    if not _is_default(op, "stride"):
        out.append(f"stride {_short(op.stride)}")
    if not _is_default(op, "padding"):
        out.append(f"pad {_short(op.padding)}")
    return out + (["ceil"] if op.ceil else [])


def _lrn_arguments(layer: ir.Layer) -> list[str]:
    op = layer.op
    return [
        f"size {op.size}",
        f"α {_number(layer, 'alpha')}",
        f"β {_number(layer, 'beta')}",
        f"k {_number(layer, 'k')}",
    ]


def _batchnorm_arguments(layer: ir.Layer) -> list[str]:
    return [f"{arg} {_number(layer, arg)}" for arg in ("eps", "momentum") if not _is_default(layer.op, arg)]


def _activation_arguments(layer: ir.Layer) -> list[str]:
    """`leaky_relu`'s slope, `elu`'s alpha: when not the default."""
    spec = OPS[layer.op.kind]
    written = (layer.written(k) or (v if isinstance(v, str) else f"{v:g}") for k, v in layer.op.params)
    return [f"{k} {w}" for (k, v), w in zip(layer.op.params, written) if v != spec.params[k].default]


_ARGUMENTS = {
    ir.Activation: _activation_arguments,
    ir.Conv: _conv_arguments,
    ir.Pool: _pool_arguments,
    ir.AdaptiveAvgPool: lambda layer: [f"output {_pair(layer.op.output)}"],
    ir.GlobalPool: lambda layer: ["keeps 1×1"] if layer.op.keepdims else [],
    ir.ChannelShuffle: lambda layer: [f"{layer.op.groups} groups"],
    ir.LRN: _lrn_arguments,
    ir.BatchNorm: _batchnorm_arguments,
    ir.Dropout: lambda layer: [f"p {_number(layer, 'p')}"],
    ir.Linear: lambda layer: [f"{layer.op.features} features"] + ([] if layer.op.bias else ["no bias"]),
    ir.ConvTranspose: _conv_transpose_arguments,
    ir.Upsample: lambda layer: (
        [f"×{_short(layer.op.scale)}", layer.op.mode] + (["align corners"] if layer.op.align_corners else [])
    ),
    ir.Chunk: lambda layer: [f"part {layer.op.index} of {layer.op.parts}"],
    ir.Scale: lambda layer: [f"init {_number(layer, 'init')}"],
    ir.StochasticDepth: lambda layer: [f"p {_number(layer, 'p')}", layer.op.mode],
}


def key_arguments(layer: ir.Layer) -> list[str]:
    """The arguments worth a glance, non-defaults only: `96 filters`, `11×11`, `stride 4`, ..."""
    describe = _ARGUMENTS.get(type(layer.op))
    return describe(layer) if describe is not None else []


# ---------------------------------------------------------------------------- DOT


class _Html(str):
    """An HTML-like label, written as it is between its `<` and `>`."""


_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)")
_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def _quote(value: str) -> str:
    """A DOT ID: as it is when it is a plain name or number (or an HTML label), else a quoted string."""
    if isinstance(value, _Html) or (_ID.fullmatch(value) and value.lower() not in _KEYWORDS):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict[str, str], label: str | None = None) -> str:
    """`label=... key=value ...`: a node's label first, then the rest sorted (one text for one graph)."""
    items = [("label", label)] if label is not None else []
    return " ".join(f"{k}={_quote(v)}" for k, v in items + sorted(attrs.items()))


class _Graph:
    """Just enough of a DOT writer for one diagram: statements in order, a subgraph one tab deeper.

    Written here rather than taken from the `graphviz` package so that DOT output needs nothing
    beyond the standard library; the text is laid out as that package lays it out.
    """

    def __init__(self, depth: int = 1) -> None:
        self.depth = depth
        self.lines: list[str] = []

    def _say(self, statement: str) -> None:
        self.lines.append("\t" * self.depth + statement)

    def attr(self, kind: str | None = None, **attrs: str) -> None:
        self._say(f"{kind} [{_attrs(attrs)}]" if kind else _attrs(attrs))

    def node(self, name: str, label: str, **attrs: str) -> None:
        self._say(f"{_quote(name)} [{_attrs(attrs, label)}]")

    def edge(self, tail: str, head: str) -> None:
        self._say(f"{_quote(tail)} -> {_quote(head)}")

    @contextlib.contextmanager
    def subgraph(self, name: str) -> Iterator[_Graph]:
        sub = _Graph(self.depth + 1)
        yield sub
        self._say(f"subgraph {_quote(name)} {{")
        self.lines += sub.lines
        self._say("}")


def _label(name: str, op: str, args: list[str], shape: str) -> _Html:
    """An HTML-like label: bold name and op, the arguments, the shape in monospace."""
    rows = [f'<b>{html.escape(name)}</b>  <font color="#555555">{html.escape(op)}</font>']
    if args:
        rows.append(f'<font point-size="9">{html.escape(" · ".join(args))}</font>')
    rows.append(f'<font point-size="9" face="Courier" color="#333333">{html.escape(shape)}</font>')
    return _Html("<" + "<br/>".join(rows) + ">")


def dot_source(analysis: Analysis, fused: dict[str, str] | None = None) -> str:
    """The network as DOT text: top to bottom, clusters for block instances and fused groups."""
    net = analysis.network
    assert net is not None, "a network is needed to draw it"
    g = _Graph()
    _style(g, analysis)
    drawing = _Drawing(analysis, fused or {})
    in_shape = show_shape(input_shape(net))
    _end_node(g, "input", net.input_name, "input", in_shape)
    drawing.fill_cluster(g, ())
    # The layer the network returns (net.output_layer, the one every consumer uses) feeds an `output`
    # node, drawn as the input is: in a spec with side branches the last node drawn need not be it.
    out_info = drawing.info.get(net.output_layer)
    out_shape = show_shape(out_info.shape) if out_info is not None else in_shape if not net.layers else "?"
    _end_node(g, "output", "output", "returned", out_shape)
    ids = drawing.ids
    for layer in net.layers:
        for src in layer.inputs:
            if src in ids:
                g.edge(ids[src], ids[layer.name])
    if net.output_layer in ids:
        g.edge(ids[net.output_layer], "output")
    return "\n".join([f"digraph {_quote(net.name)} {{", *g.lines, "}"]) + "\n"


def _style(g: _Graph, analysis: Analysis) -> None:
    """The graph's title (the network, its parameters and MACs) and the look of nodes and edges."""
    title = analysis.network.name  # type: ignore[union-attr]
    if analysis.params is not None and analysis.macs is not None:
        title += f"   {analysis.params:,} params · {analysis.macs:,} MACs"
    g.attr(
        rankdir="TB",
        ranksep="0.18",
        nodesep="0.3",
        fontname=FONT,
        fontsize="12",
        labelloc="t",
        label=title,
        bgcolor="white",
        pad="0.2",
    )
    g.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname=FONT,
        fontsize="10",
        margin="0.12,0.05",
        height="0.3",
    )
    g.attr("edge", color="#666666", arrowsize="0.6", penwidth="1.1")


def _end_node(g: _Graph, node_id: str, name: str, what: str, shape: str) -> None:
    """The input or the output: a plain box with a bold border."""
    fill, border = _COLOURS["input"]
    g.node(
        node_id, _label(name, what, [], shape), shape="box", style="filled,bold", fillcolor=fill, color=border
    )


def _instance_path(layer: ir.Layer) -> tuple[str, ...]:
    """The block instances a layer sits in, outermost first."""
    return tuple(name for name, _, _ in layer.instance)


class _Drawing:
    """The layers of one network as nodes, nested in clusters: block instances as written, and inside
    them the fused groups (those whose layers all sit in one instance)."""

    def __init__(self, analysis: Analysis, fused: dict[str, str]) -> None:
        net = analysis.network
        assert net is not None
        self.net, self.fused = net, fused
        self.ids = {layer.name: f"L{i}" for i, layer in enumerate(net.layers)}
        self.ids[net.input_name] = "input"
        self.error_lines = {d.span.line for d in analysis.errors if d.span is not None}
        self.info = {i.layer.name: i for i in analysis.infos}
        groups: dict[str, list[ir.Layer]] = {}
        for layer in net.layers:
            if layer.name in fused:
                groups.setdefault(fused[layer.name], []).append(layer)
        self.clustered = {g: ms for g, ms in groups.items() if len({_instance_path(m) for m in ms}) == 1}
        self.blocks = {name: block for layer in net.layers for name, block, _ in layer.instance}
        self.counter = itertools.count()

    def node(self, graph: _Graph, layer: ir.Layer) -> None:
        li = self.info.get(layer.name)
        shape = show_shape(li.shape) if li is not None else "?"
        fill, border = _COLOURS[kind(layer.op)]
        attrs = {"fillcolor": fill, "color": border}
        if isinstance(layer.op, (ir.Add, ir.Mul, ir.Concat)):
            attrs["shape"] = "ellipse"
        if isinstance(layer.op, ir.Conv) and layer.op.groups > 1:
            attrs["peripheries"] = "2"  # a grouped conv: drawn as a stack
        if layer.span.line in self.error_lines or isinstance(layer.op, ir.Invalid):
            attrs.update(color=_COLOURS["invalid"][1], penwidth="2")
        label = _label(layer.display_name.split(".")[-1], ir.op_name(layer.op), key_arguments(layer), shape)
        graph.node(self.ids[layer.name], label, **attrs)

    def fill_cluster(self, graph: _Graph, where: tuple[str, ...]) -> None:
        """The layers of the block instance at `where` (() for the network), in order; a nested
        instance or a fused group where its first layer is."""
        done: set[str] = set()
        for layer in self.net.layers:
            path = _instance_path(layer)
            if path == where:
                group = self.fused.get(layer.name)
                if group not in self.clustered:
                    self.node(graph, layer)
                elif group not in done:
                    done.add(group)
                    self._fused_cluster(graph, group)
            elif path[: len(where)] == where and len(path) > len(where) and path[len(where)] not in done:
                done.add(path[len(where)])
                self._instance_cluster(graph, (*where, path[len(where)]))

    def _fused_cluster(self, graph: _Graph, group: str) -> None:
        with graph.subgraph(name=f"cluster_{next(self.counter)}") as c:
            c.attr(
                label="fused",
                labeljust="l",
                style="rounded,dashed",
                color="#3d78b3",
                fontcolor="#3d78b3",
                fontsize="9",
                margin="6",
                tooltip=group,
            )
            for m in self.clustered[group]:
                self.node(c, m)

    def _instance_cluster(self, graph: _Graph, path: tuple[str, ...]) -> None:
        inst = path[-1]
        with graph.subgraph(name=f"cluster_{next(self.counter)}") as c:
            c.attr(
                label=f"{inst.split('.')[-1]}: {self.blocks[inst]}",
                labeljust="l",
                style="rounded,filled",
                color="#b7b7b7",
                fillcolor="#f7f7f7",
                fontsize="10",
                margin="8",
            )
            self.fill_cluster(c, path)


def render(source: str, fmt: str) -> bytes:
    """Lay out DOT text with Graphviz's `dot`: `svg` or `png` bytes."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(MISSING_DOT)
    args = [dot, f"-T{fmt}"] + (["-Gdpi=110"] if fmt == "png" else [])
    try:
        done = subprocess.run(args, input=source.encode(), capture_output=True, timeout=120, check=False)
    except OSError as e:
        raise GraphvizMissing(f"cannot run `{dot}`: {e}") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"`dot -T{fmt}` failed: {err[-1] if err else f'exit code {done.returncode}'}")
    return done.stdout

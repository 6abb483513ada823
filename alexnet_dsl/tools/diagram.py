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
import re
import shutil
import subprocess
from collections.abc import Iterator

from alexnet_dsl import ir
from alexnet_dsl.analysis.pipeline import Analysis
from alexnet_dsl.analysis.shapes import input_shape, show_shape

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


def kind(op: ir.Op) -> str:
    """The colour family of an op."""
    if isinstance(op, (ir.Conv, ir.FusedConv)):
        return "conv"
    if isinstance(op, (ir.Pool, ir.AdaptiveAvgPool)):
        return "pool"
    if isinstance(op, (ir.LRN, ir.BatchNorm)):
        return "norm"
    if isinstance(op, ir.Activation):
        return "activation"
    if isinstance(op, ir.Linear):
        return "linear"
    if isinstance(op, (ir.Add, ir.Concat)):
        return "join"
    if isinstance(op, ir.Invalid):
        return "invalid"
    return "shape"  # flatten, dropout


def _pair(p: ir.Pair) -> str:
    return f"{p[0]}×{p[1]}"


def _num(layer: ir.Layer, key: str, value: float) -> str:
    return layer.written(key) or f"{value:g}"


def key_arguments(layer: ir.Layer) -> list[str]:
    """The arguments worth a glance, non-defaults only: `96 filters`, `11×11`, `stride 4`, ..."""
    op = layer.op
    if isinstance(op, ir.Conv):
        out = [f"{op.filters} filters", _pair(op.kernel)]
        if op.stride != (1, 1):
            out.append(f"stride {_short(op.stride)}")
        if op.padding != (0, 0):
            out.append(f"pad {op.padding if isinstance(op.padding, str) else _short(op.padding)}")
        if op.dilation != (1, 1):
            out.append(f"dilation {_short(op.dilation)}")
        if op.groups != 1:
            out.append(f"groups {op.groups}")
        if not op.bias:
            out.append("no bias")
        return out
    if isinstance(op, ir.Pool):
        out = [_pair(op.kernel)]
        if op.stride != op.kernel:
            out.append(f"stride {_short(op.stride)}")
        if op.padding != (0, 0):
            out.append(f"pad {_short(op.padding)}")
        if op.ceil:
            out.append("ceil")
        return out
    if isinstance(op, ir.AdaptiveAvgPool):
        return [f"output {_pair(op.output)}"]
    if isinstance(op, ir.LRN):
        alpha = layer.written("alpha") or f"{op.alpha:g}"
        return [
            f"size {op.size}",
            f"α {alpha}",
            f"β {_num(layer, 'beta', op.beta)}",
            f"k {_num(layer, 'k', op.k)}",
        ]
    if isinstance(op, ir.BatchNorm):
        return ([f"eps {_num(layer, 'eps', op.eps)}"] if op.eps != 1e-5 else []) + (
            [f"momentum {_num(layer, 'momentum', op.momentum)}"] if op.momentum != 0.1 else []
        )
    if isinstance(op, ir.Dropout):
        return [f"p {_num(layer, 'p', op.p)}"]
    if isinstance(op, ir.Linear):
        return [f"{op.features} features"] + ([] if op.bias else ["no bias"])
    return []


def _short(p: ir.Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"


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
    fused = fused or {}
    g = _Graph()
    title = net.name
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

    ids = {layer.name: f"L{i}" for i, layer in enumerate(net.layers)}
    ids[net.input_name] = "input"
    in_shape = show_shape(input_shape(net))
    fill, border = _COLOURS["input"]
    g.node(
        "input",
        _label(net.input_name, "input", [], in_shape),
        shape="box",
        style="filled,bold",
        fillcolor=fill,
        color=border,
    )

    error_lines = {d.span.line for d in analysis.errors if d.span is not None}
    info = {i.layer.name: i for i in analysis.infos}

    def node(graph, layer: ir.Layer) -> None:
        li = info.get(layer.name)
        shape = show_shape(li.shape) if li is not None else "?"
        fill, border = _COLOURS[kind(layer.op)]
        attrs = {"fillcolor": fill, "color": border}
        if isinstance(layer.op, (ir.Add, ir.Concat)):
            attrs["shape"] = "ellipse"
        if isinstance(layer.op, ir.Conv) and layer.op.groups > 1:
            attrs["peripheries"] = "2"  # a grouped conv: drawn as a stack
        if layer.span.line in error_lines or isinstance(layer.op, ir.Invalid):
            attrs.update(color=_COLOURS["invalid"][1], penwidth="2")
        graph.node(
            ids[layer.name],
            _label(layer.display_name.split(".")[-1], ir.op_name(layer.op), key_arguments(layer), shape),
            **attrs,
        )

    # Clusters: block instances (nested as written), and inside them the fused groups.
    def path(layer: ir.Layer) -> tuple[str, ...]:
        return tuple(name for name, _, _ in layer.instance)

    groups: dict[str, list[ir.Layer]] = {}
    for layer in net.layers:
        if layer.name in fused:
            groups.setdefault(fused[layer.name], []).append(layer)
    clustered = {g_: ms for g_, ms in groups.items() if len({path(m) for m in ms}) == 1}
    blocks = {name: block for layer in net.layers for name, block, _ in layer.instance}
    counter = iter(range(1_000_000))

    def fill_cluster(graph, where: tuple[str, ...]) -> None:
        done: set[str] = set()
        for layer in net.layers:
            p = path(layer)
            if p == where:
                group = fused.get(layer.name)
                if group in clustered:
                    if group in done:
                        continue
                    done.add(group)
                    with graph.subgraph(name=f"cluster_{next(counter)}") as c:
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
                        for m in clustered[group]:
                            node(c, m)
                else:
                    node(graph, layer)
            elif p[: len(where)] == where and len(p) > len(where) and p[len(where)] not in done:
                inst = p[len(where)]
                done.add(inst)
                with graph.subgraph(name=f"cluster_{next(counter)}") as c:
                    c.attr(
                        label=f"{inst.split('.')[-1]}: {blocks[inst]}",
                        labeljust="l",
                        style="rounded,filled",
                        color="#b7b7b7",
                        fillcolor="#f7f7f7",
                        fontsize="10",
                        margin="8",
                    )
                    fill_cluster(c, (*where, inst))

    fill_cluster(g, ())
    # The layer the network returns (net.output_layer, the one every consumer uses) feeds an `output`
    # node, drawn as the input is: in a spec with side branches the last node drawn need not be it.
    out_info = info.get(net.output_layer)
    out_shape = show_shape(out_info.shape) if out_info is not None else in_shape if not net.layers else "?"
    g.node(
        "output",
        _label("output", "returned", [], out_shape),
        shape="box",
        style="filled,bold",
        fillcolor=_COLOURS["input"][0],
        color=_COLOURS["input"][1],
    )
    for layer in net.layers:
        for src in layer.inputs:
            if src in ids:
                g.edge(ids[src], ids[layer.name])
    if net.output_layer in ids:
        g.edge(ids[net.output_layer], "output")
    return "\n".join([f"digraph {_quote(net.name)} {{", *g.lines, "}"]) + "\n"


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

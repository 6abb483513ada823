"""`dslc report`: one self-contained HTML page about a spec.

The page has the totals, the diagnostics as `dslc check` prints them, the diagram (`diagram.py`),
the layer table of `dslc summary`, the admissible input sizes and the highlighted source. It
loads nothing: the diagram is inline SVG, the styles sit in a `<style>` element, there is no
script, and its Content-Security-Policy forbids fetching anything.
"""

from __future__ import annotations

import html
import re

from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.shapes import input_shape, show_shape
from alexnet_dsl.diagnostics import printable, render
from alexnet_dsl.tools.highlight import highlight_html
from alexnet_dsl.tools.tables import (
    LAYER_COLUMNS,
    activation_total,
    diagnostic_counts,
    format_count,
    layer_rows,
)
from alexnet_dsl.units import format_bytes

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 0; padding: 24px 32px; color: #1f2328; background: #fff; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
.file { color: #59636e; margin: 0 0 16px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
code, pre, .shape { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, monospace;
                    font-size: 12.5px; }
.totals { display: flex; flex-wrap: wrap; gap: 10px; margin: 0; }
.totals div { border: 1px solid #d8dee4; border-radius: 6px; padding: 8px 14px; background: #f6f8fa; }
.totals dt { font-size: 12px; color: #59636e; }
.totals dd { margin: 0; font-size: 17px; font-weight: 600; }
.ok { color: #1a7f37; } .bad { color: #cf222e; }
.columns { display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr); gap: 32px;
           align-items: start; }
.diagram { margin: 0; }
.diagram svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eaeef2; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.input td { color: #59636e; }
pre.diag { padding: 10px 14px; border-left: 4px solid #8c959f; background: #f6f8fa; overflow-x: auto;
           margin: 0 0 12px; }
pre.error { border-color: #cf222e; } pre.warning { border-color: #bf8700; } pre.note { border-color: #0969da; }
pre.source { padding: 10px 14px; background: #f6f8fa; overflow-x: auto; }
.ln { color: #8c959f; user-select: none; display: inline-block; width: 3em; }
.t-comment { color: #6e7781; font-style: italic; } .t-keyword, .t-constant { color: #8250df; }
.t-title, .t-label { font-weight: 600; } .t-op, .t-call { color: #0550ae; }
.t-integer, .t-float { color: #953800; } .t-error { color: #cf222e; }
"""


def inline_svg(svg: str) -> str:
    """Graphviz's SVG document as an element for HTML: no XML prolog, doctype or namespaces."""
    start = svg.find("<svg")
    assert start >= 0, "not an SVG document"
    svg = svg[start:]
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg, count=4)
    return re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)


SIDE_BY_SIDE_PT = 400  # diagrams up to this width sit beside the layer table


def _width_pt(svg: str) -> float:
    m = re.search(r'<svg width="([\d.]+)pt"', svg)
    return float(m.group(1)) if m else float("inf")


def _totals(a: Analysis) -> str:
    errors, warnings = diagnostic_counts(a)
    items = []
    net = a.network
    if net is not None:
        out = show_shape(a.output) if a.output is not None else "?"
        items += [
            ("trainable params", format_count(a.params)),
            ("MACs per sample", format_count(a.macs)),
            ("activations per sample", format_bytes(activation_total(a))),
            ("input → output", f"{show_shape(input_shape(net))} → {out}"),
        ]
    verdict = "ok" if errors == 0 else "bad"
    items.append(("diagnostics", f'<span class="{verdict}">{errors} error(s)</span>, {warnings} warning(s)'))
    cells = "".join(
        f"<div><dt>{html.escape(k)}</dt><dd>{v if k == 'diagnostics' else html.escape(v)}</dd></div>"
        for k, v in items
    )
    return f'<dl class="totals">{cells}</dl>'


def _table(a: Analysis, fused: dict[str, str]) -> str:
    head = [*LAYER_COLUMNS, *(["fused"] if fused else [])]
    numeric = {"params", "MACs", "line"}
    rows = ["<tr>" + "".join(f"<th{' class=num' if h in numeric else ''}>{h}</th>" for h in head) + "</tr>"]
    inputs, *layers = layer_rows(a, fused)
    rows.append('<tr class="input">' + _cells(inputs, head, numeric) + "</tr>")
    rows += ["<tr>" + _cells(cells, head, numeric) + "</tr>" for cells in layers]
    return '<table id="layers">\n' + "\n".join(rows) + "\n</table>"


def _cells(cells: list[str], head: list[str], numeric: set[str]) -> str:
    out = []
    for h, c in zip(head, cells):
        cls = "num" if h in numeric else ("shape" if h == "output shape" else "")
        out.append(f"<td{f' class={cls}' if cls else ''}>{html.escape(c)}</td>")
    return "".join(out)


def _admissible(a: Analysis) -> str:
    if not a.admissible:
        return "<p>The input has no symbolic sizes: every size is fixed.</p>"
    items = "".join(
        f"<li><code>{html.escape(s)}</code> in {html.escape(v.describe(s))}</li>"
        for s, v in a.admissible.items()
    )
    return f'<ul id="admissible">{items}</ul>'


def _diagnostics(a: Analysis) -> str:
    if not a.diagnostics:
        return '<p class="ok">No errors, no warnings.</p>'
    return "\n".join(
        f'<pre class="diag {d.severity.value}">{html.escape(render(d, a.source).rstrip())}</pre>'
        for d in a.diagnostics
    )


def _source(a: Analysis) -> str:
    lines = a.source.text.rstrip("\n").split("\n")
    body = "\n".join(
        f'<span class="ln">{n}</span>{highlight_html(printable(line))}' for n, line in enumerate(lines, 1)
    )
    return f'<pre class="source">{body}</pre>'


def _network(a: Analysis, fused: dict[str, str], svg: str | None, missing: str | None) -> list[str]:
    """The diagram and the tables: side by side when the diagram is narrow, else one below the other."""
    tables = (
        f'<div><h2>Layers</h2><div class="scroll">{_table(a, fused)}</div>'
        f"<h2>Admissible input sizes</h2>{_admissible(a)}</div>"
    )
    diagram = (
        f'<figure class="diagram" id="diagram">{inline_svg(svg)}</figure>'
        if svg
        else f'<p class="missing" id="diagram">{html.escape(missing)}</p>'
        if missing
        else ""
    )
    if svg and _width_pt(svg) <= SIDE_BY_SIDE_PT:
        return ['<div class="columns">', diagram, tables, "</div>"]
    return [
        tables,
        "<h2>Diagram</h2>",
        diagram,
    ]  # a wide diagram goes below the table, which keeps the page's width


def report_html(
    a: Analysis, fused: dict[str, str] | None = None, svg: str | None = None, missing: str | None = None
) -> str:
    """The whole page. `svg` is Graphviz's SVG of the network (`diagram.render`), or None; `missing` says
    why there is no diagram (shown in its place)."""
    fused = fused or {}
    net = a.network
    title = net.name if net is not None else "(no network)"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="file">{html.escape(a.source.path)}</p>',
        _totals(a),
        "<h2>Diagnostics</h2>",
        f'<div id="diagnostics">{_diagnostics(a)}</div>',
    ]
    if net is not None:
        parts += _network(a, fused, svg, missing)
    parts += ["<h2>Source</h2>", _source(a)]
    body = "\n".join(parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: dslc report</title>
<style>{_CSS}</style>
</head>
<body>
{body}
</body>
</html>
"""

"""The layer table of `dslc summary` (and the short listing of `dslc check`), and the figures that
`dslc report` shows too: one home for how a count and a layer's row read (sizes in bytes: `units.py`)."""

from __future__ import annotations

from alexnet_dsl import ir
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.shapes import input_shape, show_shape
from alexnet_dsl.units import format_bytes


def format_count(x: int | None) -> str:
    """`60,965,224`; `?` when unknown."""
    return "?" if x is None else f"{x:,}"


def activation_total(a: Analysis) -> int | None:
    """Bytes of every layer's float32 output for one sample; None when a size is unknown."""
    sizes = [i.activation_bytes for i in a.infos]
    return None if any(x is None for x in sizes) else sum(sizes)  # type: ignore[arg-type]


def diagnostic_counts(a: Analysis) -> tuple[int, int]:
    """(errors, warnings)."""
    return len(a.errors), sum(d.severity.value == "warning" for d in a.diagnostics)


LAYER_COLUMNS = ("layer", "op", "output shape", "params", "MACs", "line")


def layer_rows(a: Analysis, fused: dict[str, str]) -> list[list[str]]:
    """The layer table's rows under `LAYER_COLUMNS` (and `fused` when there are fused groups): the
    input, then one row per layer."""
    net = a.network
    assert net is not None, "a network is needed for its layer table"
    extra = [""] if fused else []
    rows = [[net.input_name, "input", show_shape(input_shape(net)), "", "", "", *extra]]
    for info in a.infos:
        layer = info.layer
        row = [
            layer.display_name,
            ir.op_name(layer.op),
            show_shape(info.shape),
            format_count(info.params),
            format_count(info.macs),
            str(layer.span.line),
        ]
        rows.append(row + ([fused.get(layer.name, "")] if fused else []))
    return rows


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def summary_text(a: Analysis, fused: dict[str, str] | None = None) -> str:
    """A table like Keras' `model.summary()`: layer, op, output shape, params, MACs."""
    net = a.network
    if net is None:
        return f"{a.source.path}: no network could be read\n"
    fused = fused or {}
    header = [*LAYER_COLUMNS, *(["fused"] if fused else [])]
    rows = [header, *layer_rows(a, fused)]
    lines = [f"network {net.name} ({a.source.path})", ""]
    lines += _table(rows, right={3, 4, 5})
    params = a.params
    lines += [
        "",
        f"trainable params:        {format_count(params)}"
        + (f" ({format_bytes(params * 4)} as float32)" if params else ""),
        f"MACs per sample:         {format_count(a.macs)}",
        f"activations per sample:  {format_bytes(activation_total(a))} (float32, all layer outputs)",
    ]
    if a.admissible:
        lines.append("admissible input sizes:")
        for sym, values in a.admissible.items():
            lines.append(f"  {sym}: no size works" if values.empty else f"  {sym} in {values.describe(sym)}")
    errors, warnings = diagnostic_counts(a)
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines) + "\n"


def listing_text(a: Analysis) -> str:
    """One line per layer: the shapes `dslc check` prints."""
    net = a.network
    if net is None:
        return ""
    width = max((len(i.layer.display_name) for i in a.infos), default=4)
    lines = []
    for info in a.infos:
        lines.append(
            f"{info.layer.span.line:>5}  {info.layer.display_name:<{width}}  {show_shape(info.shape)}"
        )
    return "\n".join(lines) + ("\n" if lines else "")

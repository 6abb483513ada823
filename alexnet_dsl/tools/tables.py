"""The layer table of `dslc summary` (and the short listing of `dslc check`)."""

from __future__ import annotations

from alexnet_dsl import ir
from alexnet_dsl.analysis.pipeline import Analysis
from alexnet_dsl.analysis.shapes import input_shape, show_shape


def _num(x: int | None) -> str:
    return "?" if x is None else f"{x:,}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


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
    header = ["layer", "op", "output shape", "params", "MACs", "line"] + (["fused"] if fused else [])
    rows = [header]
    rows.append([net.input_name, "input", show_shape(input_shape(net)), "", "", ""] + ([""] if fused else []))
    for info in a.infos:
        layer = info.layer
        row = [
            layer.display_name,
            ir.op_name(layer.op),
            show_shape(info.shape),
            _num(info.params) if info.params else ("0" if info.params == 0 else "?"),
            _num(info.macs) if info.macs else ("0" if info.macs == 0 else "?"),
            str(layer.span.line),
        ]
        if fused:
            row.append(fused.get(layer.name, ""))
        rows.append(row)
    lines = [f"network {net.name} ({a.source.path})", ""]
    lines += _table(rows, right={3, 4, 5})
    act = [i.activation_bytes for i in a.infos]
    act_total = None if any(x is None for x in act) else sum(act)  # type: ignore[misc]
    params = a.params
    lines += [
        "",
        f"trainable params:        {_num(params)}"
        + (f" ({_bytes(params * 4)} as float32)" if params else ""),
        f"MACs per sample:         {_num(a.macs)}",
        f"activations per sample:  {_bytes(act_total)} (float32, all layer outputs)",
    ]
    if a.admissible:
        lines.append("admissible input sizes:")
        for sym, values in a.admissible.items():
            lines.append(f"  {sym}: no size works" if values.empty else f"  {sym} in {values.describe(sym)}")
    errors = len(a.errors)
    warnings = sum(d.severity.value == "warning" for d in a.diagnostics)
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

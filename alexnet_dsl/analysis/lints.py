"""Lints: warnings about argument values that are legal but probably not what the author meant."""

from __future__ import annotations

import math
import re

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite, warning
from alexnet_dsl.source import Source, Span


def lint(net: ir.Network | None, source: Source) -> list[Diagnostic]:
    """Warnings about argument values that are legal but probably not meant (none for no network)."""
    out: list[Diagnostic] = []
    if net is None:
        return out
    for layer in net.layers:
        if isinstance(layer.op, ir.LRN):
            found = _lrn_alpha(layer, layer.op, source)
            if found is not None:
                out.append(found)
    return out


def _lrn_alpha(layer: ir.Layer, op: ir.LRN, source: Source) -> Diagnostic | None:
    """`alpha=10e-4` (ten times the paper's 1e-4), or an alpha that is the paper's times the size
    (another framework's alpha, which they divide by the size)."""
    text = layer.written("alpha") or ""
    span = layer.arg_span("alpha")
    if re.fullmatch(r"\+?10\.?0*[eE]-?\d+", text):
        exp = int(re.split("[eE]", text)[1])
        return warning(
            "W0403",
            f"`alpha={text}` is {10.0 ** (exp + 1):g}, not {10.0**exp:g}",
            span,
            notes=("articles about AlexNet often write `10e-4` for the paper's 10^-4",),
            rewrites=(
                Rewrite(f"write `alpha=1e{exp}` if you mean the paper's value", (Edit(span, f"1e{exp}"),)),
            ),
        )
    if op.size > 1 and math.isclose(op.alpha, 1e-4 * op.size, rel_tol=1e-9):
        key = _key_span(source, span, "alpha")
        renamed = (
            (
                Rewrite(
                    f"if this value came from one of them, write `avg_alpha={text}`",
                    (Edit(key, "avg_alpha"),),
                ),
            )
            if key is not None
            else ()
        )
        return warning(
            "W0405",
            f"`alpha={text}` is the paper's 1e-4 multiplied by `size={op.size}`",
            span,
            notes=(
                "`alpha` is the paper's, NOT divided by size; PyTorch, Caffe, ONNX and cuDNN divide theirs",
            ),
            rewrites=(*renamed, Rewrite("for the paper's LRN write `alpha=1e-4`", (Edit(span, "1e-4"),))),
        )
    return None


def _key_span(source: Source, value: Span, key: str) -> Span | None:
    """Where `key` is written before the value `key=value` (None if it is not on the value's line)."""
    line = source.line_text(value.line)[: value.col - 1]
    m = re.search(rf"\b{key}\s*=\s*$", line)
    return Span(value.line, m.start() + 1, value.line, m.start() + 1 + len(key)) if m else None

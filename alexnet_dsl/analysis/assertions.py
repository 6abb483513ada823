"""Shape assertions (`conv(96, kernel=11, stride=4) -> [N, 96, 55, 55]`, the network's `-> [N, 1000]`):
checking one against a computed shape, and keeping one mistake one error (the solver's errors on the
axes of one assertion, and an assertion in a block's body failing in several instances).

Which shape checking goes on from after a failed assertion is decided in downstream.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from alexnet_dsl import ir
from alexnet_dsl.analysis.shapes import (
    Context,
    LayerInfo,
    Shape,
    dim_word,
    instance_notes,
    show_dims,
    show_shape,
)
from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite, error
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Span


def check_assertion(
    ctx: Context,
    layer: ir.Layer | None,
    info: LayerInfo | None,
    shape: Shape | None,
    assertion: ir.Assertion,
    code: str,
    who: str,
    inverse=None,
) -> Shape | None:
    """Compare a shape with an assertion (of `layer`, or with None of the network's output). Returns the
    shape to continue from. `inverse(bad, stated)` explains a failure: its strings become notes, its
    Rewrites helps (once verified)."""
    if shape is None:
        return _declared(assertion.dims, None) if all(d is not None for d in assertion.dims) else None
    stated = _declared(assertion.dims, shape)
    related = instance_notes(layer) if layer is not None else ()
    message = f"{who} produces {show_shape(shape)}, but {show_dims(assertion.dims)} is asserted"
    if len(stated) != len(shape):
        label = f"rank {len(stated)}, not {len(shape)}"
        ctx.diags.append(error(code, message, assertion.span, label=label, related=related))
        return stated
    bad = _failing_axes(ctx, layer, shape, stated, assertion, who)
    if bad:
        span = assertion.dim_spans[bad[0]] if len(bad) == 1 else assertion.span
        notes = list(info.notes) if info is not None else []
        # the inverse explains (a string: a note) and proposes (a Rewrite: a help once verified)
        found = list(inverse(bad, stated)) if inverse else []
        notes += [h for h in found if isinstance(h, str)]
        rewrites = tuple(h for h in found if isinstance(h, Rewrite))
        label = "; ".join(f"{dim_word(i, len(shape))} is {E.show(shape[i])}" for i in bad)
        ctx.diags.append(
            error(code, message, span, label=label, notes=tuple(notes), rewrites=rewrites, related=related)
        )
    return stated


def _declared(dims: tuple[ir.Dim, ...], computed: Shape | None) -> Shape:
    """The shape an assertion states; `_` keeps the computed size."""
    out: list[E.Size] = []
    for i, d in enumerate(dims):
        if d is None:
            out.append(computed[i] if computed is not None and i < len(computed) else E.Chain(f"_{i}"))
        elif isinstance(d, str):
            out.append(E.Chain(d))
        else:
            out.append(d)
    return tuple(out)


def _failing_axes(
    ctx: Context, layer: ir.Layer | None, shape: Shape, stated: Shape, assertion: ir.Assertion, who: str
) -> list[int]:
    """The axes where the computed shape is not the asserted one; where a symbol decides, a constraint."""
    bad = []
    for i, (want, got) in enumerate(zip(stated, shape)):
        if assertion.dims[i] is None:
            continue
        verdict = E.same(want, got)
        if verdict is None and layer is not None:
            what = f"{who}'s {dim_word(i, len(shape))} must equal the asserted {E.show(want)}"
            verdict = ctx.require("eq", got, want, layer, assertion.dim_spans[i], what)
        elif verdict is None:
            what = f"the output's {dim_word(i, len(shape))} must equal the declared {E.show(want)}"
            verdict = ctx.require("eq", got, want, None, assertion.dim_spans[i], what)
        if verdict is False:
            bad.append(i)
    return bad


def differing(assertion: ir.Assertion, stated: Shape, computed: Shape) -> list[int] | None:
    """The checked axes where the asserted and the computed shape differ; None when the ranks do."""
    if len(stated) != len(computed):
        return None
    return [
        i
        for i, d in enumerate(assertion.dims)
        if d is not None and E.same(stated[i], computed[i]) is not True
    ]


def within(outer: Span, inner: Span) -> bool:
    """Whether `inner` lies inside `outer`."""
    return (outer.line, outer.col) <= (inner.line, inner.col) and (inner.end_line, inner.end_col) <= (
        outer.end_line,
        outer.end_col,
    )


def in_body(layer: ir.Layer, assertion: ir.Assertion) -> bool:
    """Whether the assertion is written in a block's body, so checked once per instance (not on the
    network's line that calls the block; an assertion on a call inside another block's body is)."""
    return bool(layer.instance) and not within(layer.instance[0][2], assertion.span)


# ---------------------------------------------------------------------------- one mistake, one error


def one_error_per_assertion(net: ir.Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Merge the solver's E0308 errors on the axes of one assertion into one error naming every axis:
    the constraints are per axis, the mistake is the assertion."""
    owner = _owners(net)
    groups: dict[Span, list[int]] = {}
    for k, d in enumerate(diags):
        if d.code == "E0308" and d.span in owner:
            groups.setdefault(owner[d.span][0].span, []).append(k)
    merged: dict[int, Diagnostic] = {}
    dropped: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        first = diags[members[0]]
        assertion, who, _ = owner[first.span]  # type: ignore[index]
        axes = [owner[diags[k].span][2] for k in members]  # type: ignore[index]
        words = list(dict.fromkeys(dim_word(i, len(assertion.dims)) for i in axes))
        merged[members[0]] = replace(
            first,
            message=f"no input size gives {who} the asserted {show_dims(assertion.dims)}",
            span=assertion.span,
            label=" and ".join(words),
            notes=tuple(dict.fromkeys(n for k in members for n in diags[k].notes)),
        )
        dropped.update(members[1:])
    return [merged.get(k, d) for k, d in enumerate(diags) if k not in dropped]


def _owners(net: ir.Network) -> dict[Span, tuple[ir.Assertion, str, int]]:
    """The span of each asserted size -> its assertion, who makes the shape, and the axis."""
    owner: dict[Span, tuple[ir.Assertion, str, int]] = {}
    for layer in net.layers:
        for a in layer.assertions:
            for i, s in enumerate(a.dim_spans):
                owner.setdefault(s, (a, f"`{layer.display_name}`", i))
    if net.output is not None:
        for i, s in enumerate(net.output.dim_spans):
            owner.setdefault(s, (net.output, "the network's output", i))
    return owner


@dataclass
class BodyCheck:
    """One instance's check of an assertion written in a block's body."""

    layer: ir.Layer
    assertion: ir.Assertion
    shape: Shape | None  # what the layer computes (None: unknown)
    stated: Shape | None
    error: int | None  # its E0301 in the diagnostics, if it failed
    kept: bool = True  # checking went on from the asserted shape


_OTHER_INSTANCES = 4  # the other instances an error in a block's body names; the rest are counted


def one_error_per_body_assertion(
    diags: list[Diagnostic], bodies: dict[Span, list[BodyCheck]]
) -> list[Diagnostic]:
    """An assertion in a block's body that fails in several instances is one mistake: one error, at the
    first instance's, naming the others; its help (the assertion rewritten to hold in every instance) is
    proposed when checking went on from the computed shape in each instance where it failed."""
    dropped: set[int] = set()
    diags = list(diags)
    for checks in bodies.values():
        failed = [c for c in checks if c.error is not None]
        if not failed:
            continue
        first = failed[0]
        d = diags[first.error]  # type: ignore[index]
        notes = list(d.notes)
        related = list(d.related)
        shown = set(related)
        for n, c in enumerate(failed[1:]):
            dropped.add(c.error)  # type: ignore[arg-type]
            if n == _OTHER_INSTANCES:
                notes.append(f"also in {len(failed) - 1 - n} more instances")
            if n >= _OTHER_INSTANCES:
                continue
            inst, _, call = c.layer.instance[0]
            notes.append(
                f"also in `{inst}` (line {call.line}): `{c.layer.display_name}` produces {show_shape(c.shape)}"
            )
            for r in instance_notes(c.layer):
                if r not in shown:
                    shown.add(r)
                    related.append(r)
        fix = _body_fix(checks) if not any(c.kept for c in failed) else None
        rewrites = (*d.rewrites, fix) if fix is not None else d.rewrites
        diags[first.error] = replace(  # type: ignore[index]
            d, notes=tuple(notes), related=tuple(related), rewrites=rewrites
        )
    return [d for k, d in enumerate(diags) if k not in dropped] if dropped else diags


def _body_fix(checks: list[BodyCheck]) -> Rewrite | None:
    """The body's assertion rewritten to hold in every instance: each size that fails somewhere becomes
    the size every instance computes, or `_` where they differ; the sizes that hold stay as written (a
    block parameter such as `filters` too, since only the failing sizes are edited)."""
    assertion = checks[0].assertion
    bad: set[int] = set()
    for c in checks:
        if c.error is None:
            continue
        if c.shape is None or c.stated is None:
            return None
        axes = differing(c.assertion, c.stated, c.shape)
        if axes is None:
            return None  # another rank: no size to write
        bad.update(axes)
    if not bad:
        return None
    rank = len(assertion.dims)
    texts: dict[int, str] = {}
    for i in sorted(bad):
        values = {c.shape[i] for c in checks if c.shape is not None and i < len(c.shape)}
        (v,) = values if len(values) == 1 else ("_",)
        texts[i] = str(v) if isinstance(v, int) else "_"
    by_text: dict[str, list[str]] = {}
    for i, t in texts.items():
        by_text.setdefault(t, []).append(dim_word(i, rank))
    what = " and ".join(f"`{t}` for its {' and '.join(words)}" for t, words in by_text.items())
    return Rewrite(
        f"if the assertion is the mistake, write {what}",
        tuple(Edit(assertion.dim_spans[i], t) for i, t in texts.items()),
    )

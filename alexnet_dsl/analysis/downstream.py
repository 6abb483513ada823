"""After a failed assertion, which shape checking goes on from: the asserted one (the layer or its input
is the mistake) or the computed one (the assertion is), whichever leaves fewer errors after it.
"""

from __future__ import annotations

from dataclasses import replace

from alexnet_dsl import ir
from alexnet_dsl.analysis.assertions import check_assertion, differing, in_body, within
from alexnet_dsl.analysis.rules import compute
from alexnet_dsl.analysis.shapes import Context, LayerInfo, Shape, dim_word, show_shape
from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Span


class Downstream:
    """Choose, for a failed assertion, the shape to go on from: the asserted one (the layer is the
    mistake: AlexNet's conv1 at 224) or the computed one (the assertion is the mistake), whichever
    leaves fewer errors after it. Ties keep the asserted shape.

    Both choices are checked side by side over the layers after the assertion, only until they agree
    again (every layer fed by a differing shape is computed, and a full assertion makes them agree),
    so the cost is the stretch up to the next assertion, not the rest of the network; the choices of
    later failed assertions are made greedily in topological order, never as a search over all.
    """

    def __init__(self, ctx: Context, net: ir.Network, order: list[int]) -> None:
        self.ctx, self.net, self.order = ctx, net, order
        self.consumers: dict[str, int] = {}
        for i in order:
            for name in set(net.layers[i].inputs):
                self.consumers[name] = self.consumers.get(name, 0) + 1

    def _trial(self) -> Context:
        t = Context(self.net)
        t.infos = self.ctx.infos  # names only
        return t

    def _assertions(
        self, t: Context, layer: ir.Layer, shape: Shape | None, assertions: tuple[ir.Assertion, ...], who: str
    ) -> Shape | None:
        """A layer's assertions checked in a trial as the main pass checks them: after one fails, go on
        from the computed shape when the layer's own later assertions (the one on a block's call, after
        one in its body) agree with it better. Only the layer's assertions are checked again, no layer."""
        for n, a in enumerate(assertions):
            before = len(t.diags)
            stated = check_assertion(t, layer, None, shape, a, "E0301", who)
            rest = assertions[n + 1 :]
            if rest and shape is not None and stated != shape and any(d.is_error for d in t.diags[before:]):
                counts = []
                for start in (stated, shape):
                    probe = self._trial()
                    for b in rest:
                        start = check_assertion(probe, layer, None, start, b, "E0301", who)
                    counts.append(_errors(probe))
                if counts[1] < counts[0]:
                    stated = shape
            shape = stated
        return shape

    def errors_after(
        self,
        k: int,
        shapes: dict[str, Shape | None],
        layer: ir.Layer,
        choices: list[Shape],
        rest: tuple[ir.Assertion, ...],
        own: Span | None = None,
    ) -> tuple[list[int], bool, tuple[str, str, bool] | None]:
        """The errors after position `k` of the order for each choice of `layer`'s shape, whether any
        later layer (or the declared output) sees a difference, and what was compared: the first and
        last layer that saw one, and whether the choices agree again after the last (else the
        difference reaches the network's output). Errors within `own` (an assertion in a block's body,
        failing in a later instance too) are not counted: they are this error's, reported once."""
        net = self.net
        trials = [self._trial() for _ in choices]
        who = f"`{layer.display_name}`"
        diff: list[dict[str, Shape | None]] = []
        for t, s in zip(trials, choices):
            diff.append({layer.name: self._assertions(t, layer, s, rest, who)})
        if all(d[layer.name] == diff[0][layer.name] for d in diff):
            return [_errors(t, own) for t in trials], False, None
        reached: list[str] = []  # the layers that see a difference, in order
        open_uses = self.consumers.get(layer.name, 0)
        seen = open_uses > 0 or (layer.name == net.output_layer and net.output is not None)
        side: dict[str, Shape | None] = {}  # layers after `k` that no choice changes
        scratch = self._trial()
        for pos in range(k + 1, len(self.order)):  # (not a slice: that alone would cost the whole rest)
            if open_uses == 0:
                break
            lay = net.layers[self.order[pos]]
            touched = [n for n in set(lay.inputs) if n in diff[0]]
            if not touched:
                side[lay.name] = compute(
                    scratch, lay, [side.get(n, shapes.get(n)) for n in lay.inputs], LayerInfo(lay)
                )
                side[lay.name] = self._assertions(scratch, lay, side[lay.name], lay.assertions, "")
                continue
            open_uses -= len(touched)
            reached.append(lay.display_name)
            outs: list[Shape | None] = []
            for t, d in zip(trials, diff):
                ins = [d[n] if n in d else side.get(n, shapes.get(n)) for n in lay.inputs]
                out = compute(t, lay, ins, LayerInfo(lay))
                outs.append(self._assertions(t, lay, out, lay.assertions, f"`{lay.display_name}`"))
            if any(o != outs[0] for o in outs):
                for d, o in zip(diff, outs):
                    d[lay.name] = o
                open_uses += self.consumers.get(lay.name, 0)
        if net.output is not None and net.output_layer in diff[0]:
            for t, d in zip(trials, diff):
                check_assertion(t, None, None, d[net.output_layer], net.output, "E0302", "the output")
        met = open_uses == 0 and net.output_layer not in diff[0]
        reach = (reached[0], reached[-1], met) if reached else None
        return [_errors(t, own) for t in trials], seen, reach

    def choose(
        self,
        k: int,
        shapes: dict[str, Shape | None],
        layer: ir.Layer,
        computed: Shape,
        stated: Shape,
        rest: tuple[ir.Assertion, ...],
        diag: Diagnostic,
        assertion: ir.Assertion,
    ) -> tuple[bool, Diagnostic]:
        """Whether to go on from the asserted shape, and the assertion's error saying which was chosen.

        Fewer errors after it decide; on a tie the asserted shape (the layer or its input is the
        mistake), unless no argument of the layer itself can change the sizes that differ (a
        `flatten`, a pool's channels): then the layer cannot be the mistake, and going on from an
        asserted shape it cannot produce would only make the later numbers wrong."""
        body = in_body(layer, assertion)
        (n_stated, n_computed), seen, reach = self.errors_after(
            k, shapes, layer, [stated, computed], rest, assertion.span if body else None
        )
        bad = differing(assertion, stated, computed)
        fixed = not (_on_call(layer, assertion) or _can_change(layer, bad))
        tie = n_stated == n_computed
        if not seen and tie and not fixed:
            return True, diag
        keep = n_stated < n_computed or (tie and not fixed)
        covered = _what_counts(layer, rest, seen, reach)
        text = _choice_note(layer, computed, bad, keep, (n_stated, n_computed), covered)
        if keep:
            return True, replace(diag, notes=(*diag.notes, text))
        # the rewrites that keep the assertion (another input size, other arguments) would move the error
        # downstream, which is what the count says: propose only the assertion's own fix (once verified)
        # (inside a block's body the fix must hold for every instance: see assertions._body_fix)
        written = None if body else _written_shape(assertion, computed)
        fix = f"if the assertion is the mistake, write `-> {written}`"
        rewrites = (Rewrite(fix, (Edit(assertion.span, written),)),) if written is not None else ()
        return False, replace(diag, notes=(*diag.notes, text), rewrites=rewrites)


def _choice_note(
    layer: ir.Layer,
    computed: Shape,
    bad: list[int] | None,
    keep: bool,
    counts: tuple[int, int],
    covered: tuple[str, str],
) -> str:
    """The note on a failed assertion's error that says which shape checking goes on from, and why."""
    (n_stated, n_computed), (subject, verb) = counts, covered
    if n_stated == n_computed:
        either = f"{subject} {verb} {_count(n_stated)} either way" if subject else ""
        if keep:
            return f"checking goes on from the asserted shape; {either}"
        sizes = " and ".join(dict.fromkeys(dim_word(i, len(computed)) for i in bad)) if bad else "rank"
        return (
            f"checking goes on from the computed shape {show_shape(computed)}: no argument of "
            f"`{layer.display_name}` changes its {sizes}, so the assertion (or a layer before it) is the "
            f"mistake" + (f"; {either}" if either else "")
        )
    compared = (
        f"with it {subject} {verb} {_count(min(n_stated, n_computed))}, "
        f"with the {'computed' if keep else 'asserted'} shape {_count(max(n_stated, n_computed))}"
    )
    if keep:
        return (
            f"checking goes on from the asserted shape: {compared}, so the layer or its input is more "
            f"likely the mistake"
        )
    return (
        f"checking goes on from the computed shape {show_shape(computed)}: {compared}, so the assertion "
        f"is more likely the mistake"
    )


def _what_counts(
    layer: ir.Layer, rest: tuple[ir.Assertion, ...], seen: bool, reach: tuple[str, str, bool] | None
) -> tuple[str, str]:
    """What the error counts of `Downstream.choose` cover, and its verb: the layer's own later assertions,
    and the layers its shape reaches up to where the two choices agree again (a later, independent
    mistake beyond that is not counted)."""
    parts: list[str] = []
    if rest:
        lines = list(dict.fromkeys(a.span.line for a in rest))
        parts.append(
            f"the assertion on line {lines[0]}"
            if len(lines) == 1
            else f"the assertions on lines {', '.join(map(str, lines))}"
        )
    if seen and reach is None:  # the layer is the output: only the declared output sees it
        parts.append("the declared output")
    elif seen and reach is not None:
        first, last, met = reach
        if not met:
            parts.append(f"the layers after `{layer.display_name}`")
        elif first == last:
            parts.append(f"`{first}`, where the two shapes agree again,")
        else:
            parts.append(f"the layers from `{first}` to `{last}`, where the two shapes agree again,")
    subject = " and ".join(parts)
    verb = "has" if len(parts) == 1 and not subject.startswith(("the layers", "the assertions")) else "have"
    return subject, verb


def _on_call(layer: ir.Layer, assertion: ir.Assertion) -> bool:
    """Whether the assertion is on a line that calls a block (of its instance's arguments)."""
    return any(within(span, assertion.span) for *_, span in layer.instance)


def _can_change(layer: ir.Layer, bad: list[int] | None) -> bool:
    """Whether an argument of the layer itself can change the sizes that differ (a rank no argument does)."""
    if bad is None:
        return False
    op = layer.op.conv if isinstance(layer.op, ir.FusedConv) else layer.op
    if isinstance(op, ir.Conv):
        return any(i >= 1 for i in bad)  # filters; kernel, stride, padding, dilation
    if isinstance(op, (ir.Pool, ir.AdaptiveAvgPool)):
        return any(i >= 2 for i in bad)
    if isinstance(op, ir.Linear):
        return 1 in bad
    return False  # flatten, activations, dropout, lrn, the norms, shuffles, global pools, add, concat


def _errors(ctx: Context, own: Span | None = None) -> int:
    return sum(d.is_error and (own is None or d.span is None or not within(own, d.span)) for d in ctx.diags)


def _count(n: int) -> str:
    return "no error" if n == 0 else f"{n} error{'s' if n != 1 else ''}"


def _written_shape(assertion: ir.Assertion, computed: Shape) -> str | None:
    """The assertion rewritten to hold for `computed`: a size that is not a number or a symbol of the
    input becomes `_`; None when the ranks differ."""
    if len(assertion.dims) != len(computed):
        return None
    out = []
    for d, c in zip(assertion.dims, computed):
        if d is None:
            out.append("_")
        elif isinstance(c, int):
            out.append(str(c))
        elif isinstance(c, E.Chain) and not c.steps:
            out.append(c.sym)
        else:
            out.append("_")
    return "[" + ", ".join(out) + "]"

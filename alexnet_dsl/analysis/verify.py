"""Verifying the rewrites diagnostics propose: a help is shown only if the spec rewritten by it checks
better (the diagnostic gone, no new error where the edit is, fewer errors in all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite, apply_edits
from alexnet_dsl.source import Source

# Verifying a rewrite costs one check of the rewritten spec. The budget is in characters re-checked (a small
# spec gets its candidates checked, a 10,000-layer one two: checking stays linear in the size) and in checks
# (a spec with a hundred mistakes stays interactive); errors are served before warnings. A rewrite left
# unchecked is not shown.
_RECHECK_CHARACTERS = 200_000
_MAX_RECHECKS = 48
_MIN_RECHECKS = 2


def verify_rewrites(
    source: Source, diags: list[Diagnostic], recheck: Callable[[Source], Analysis | None]
) -> list[Diagnostic]:
    """Show the help of each rewrite the diagnostics propose only if the rewritten spec checks better: the
    diagnostic gone, no error left on the lines the edit touches or the diagnostic points at, and fewer
    errors in all (a name's correction or a warning's fix: no more). Of alternatives (one group), the one
    that leaves the fewest errors, the first on a tie. The rewrites that stay on a diagnostic are those
    verified. `recheck` checks a rewritten spec (as the
    pipeline does, with the sizes `bind` bound, but not verifying its own rewrites); None when it has no
    network."""
    if not any(d.rewrites for d in diags):
        return diags
    budget = max(_MIN_RECHECKS, min(_MAX_RECHECKS, _RECHECK_CHARACTERS // max(1, len(source.text))))
    before = sum(d.is_error for d in diags)
    # the errors there are: one of them left on an edited line is another mistake, not one an error's fix
    # made (`padding=SAME, bias=None`: each literal's fix leaves the other's error on the line); a warning's
    # fix leaves no error on its line
    existing = {(d.span.line, d.code, d.message) for d in diags if d.is_error and d.span is not None}
    rechecked: dict[tuple[Edit, ...], Analysis | None] = {}  # the spec after each distinct set of edits
    out = list(diags)
    for i in sorted((i for i, d in enumerate(diags) if d.rewrites), key=lambda i: not diags[i].is_error):
        d = diags[i]
        kept: list[tuple[int, int, Rewrite]] = []
        for order, r in enumerate(d.rewrites):
            if not r.edits or r.group and any(e == 0 and k.group == r.group for e, _, k in kept):
                continue  # nothing to write; or an earlier alternative leaves no error: none can do better
            edits = tuple(sorted(r.edits, key=lambda e: (e.span.line, e.span.col)))
            if d.span is None or edits not in rechecked and budget == 0:
                continue
            if edits not in rechecked:
                budget -= 1
                rechecked[edits] = recheck(Source(source.path, apply_edits(source.text, edits)))
            errors = _errors_after(rechecked[edits], edits, d, r.name_only, existing if d.is_error else set())
            # an error's fix leaves fewer errors: one that fixes this error and makes another (an input
            # size that suits one branch and not the other) is no fix; a name's correction may uncover the
            # mistakes the unknown name hid, and a warning's fix removes no error: these leave no more
            if errors is not None and (
                errors < before or (r.name_only or not d.is_error) and errors <= before
            ):
                kept.append((errors, order, r))
        best = {
            r.group: (e, o) for e, o, r in sorted(kept, key=lambda t: (t[0], t[1]), reverse=True) if r.group
        }
        shown = tuple(r for e, o, r in kept if not r.group or best[r.group] == (e, o))
        out[i] = replace(d, helps=(*d.helps, *(r.help for r in shown)), rewrites=shown)
    return out


def _another_mistake(d: Diagnostic) -> bool:
    """An error a name's correction may leave on its line: one of the arguments or shapes (E01xx, E03xx), not
    one the new name makes (a syntax error, a cycle or a clash of names: E00xx, E02xx)."""
    return not d.code.startswith(("E00", "E02"))


def _errors_after(
    after: Analysis | None,
    edits: tuple[Edit, ...],
    diag: Diagnostic,
    name_only: bool,
    existing: set[tuple[int, str, str]],
) -> int | None:
    """How many errors `after` (the spec with the edits made) has; None if the diagnostic is still there, or an
    error is left on its line or on an edited line (unless `name_only`: see Rewrite) that was not there before
    (`existing`: line, code, message)."""
    if after is None:
        return None

    def moved(line: int) -> int:
        """Where a line of the spec is in the rewritten one (a line an edit spans: where its text ends)."""
        shift = 0
        for e in edits:  # in order of position
            if line <= e.span.end_line:
                return e.span.line + shift + e.text.count("\n") if line >= e.span.line else line + shift
            shift += e.text.count("\n") - (e.span.end_line - e.span.line)
        return line + shift

    assert diag.span is not None
    at = moved(diag.span.line)
    lines = {at} | {
        k for e in edits for k in range(moved(e.span.line) - e.text.count("\n"), moved(e.span.line) + 1)
    }
    was = {
        (moved(line), code, message)
        for line, code, message in existing
        if (line, code, message) != (diag.span.line, diag.code, diag.message)
    }
    if any(
        d.span is not None
        and (d.span.line, d.code, d.message) not in was
        and (
            d.span.line in lines
            and d.is_error
            and not (name_only and _another_mistake(d))
            or d.span.line == at
            and d.code == diag.code
        )
        for d in after.diagnostics
    ):
        return None
    return len(after.errors)

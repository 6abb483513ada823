"""Help texts as data: each spec in `tests/data/help/` marks, on the offending line, a diagnostic's code and the
exact text of one of its helps:

    p1: maxpol(kernel=2)        # E0101 help: did you mean `maxpool`?

A line may carry several marks (`# W0401 help: ...  # E0301 help: ...`), so a help text holds no `#`. For each
mark, the diagnostic with that code on that line has exactly that help; when the help proposes a rewrite, the
rewritten spec no longer has the diagnostic and no more errors than before (so a file with one mistake checks
clean). The golden files of `tests/data/bad/` pin codes and lines; these pin what the help says.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import NamedTuple

import pytest

from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.diagnostics import apply_edits

CASES = sorted((Path(__file__).parents[1] / "data" / "help").glob("*.net"))
MARK = re.compile(r"^\s*([EWN]\d{4}) help: (.+?)\s*$")


class Mark(NamedTuple):
    line: int
    code: str
    help: str


def marks(text: str) -> list[Mark]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        for part in line.split("#")[1:]:
            m = MARK.match(part)
            if m:
                out.append(Mark(number, m[1], m[2]))
    return out


def count(analysis, code: str) -> int:
    return sum(d.code == code for d in analysis.diagnostics)


def test_there_are_cases():
    assert len(CASES) >= 12


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_help(path: Path):
    text = path.read_text(encoding="utf-8")
    wanted = marks(text)
    assert wanted, f"{path.name} marks no help"
    analysis = check_text(text, str(path))
    for mark in wanted:
        where = f"{path.name}:{mark.line}"
        found = [
            d for d in analysis.diagnostics if d.code == mark.code and d.span and d.span.line == mark.line
        ]
        on_line = [(d.code, d.helps) for d in analysis.diagnostics if d.span and d.span.line == mark.line]
        assert found, f"{where}: no {mark.code}; the line has {on_line}"
        helped = [d for d in found if mark.help in d.helps]
        assert helped, f"{where}: no help {mark.help!r}; the {mark.code} helps are {[d.helps for d in found]}"
        diagnostic = helped[0]
        rewrite = next((r for r in diagnostic.rewrites if r.help == mark.help), None)
        if rewrite is None:  # a help that proposes no edit
            continue
        fixed = apply_edits(text, rewrite.edits)
        after = check_text(fixed, str(path))
        change = "".join(
            difflib.unified_diff(text.splitlines(True), fixed.splitlines(True), path.name, "rewritten")
        )
        left = [(d.span.line if d.span else 0, d.code, d.message) for d in after.diagnostics if d.is_error]
        assert count(after, mark.code) < count(analysis, mark.code), (
            f"{where}: the rewrite leaves it\n{change}"
        )
        assert len(after.errors) < len(analysis.errors) or not after.errors, (
            f"{where}: {left} after\n{change}"
        )

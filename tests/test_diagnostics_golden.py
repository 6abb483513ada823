"""Golden diagnostics: each bad spec marks the expected codes on the offending line.

    conv(64, kernel=3, groups=2)   # E: E0303

`E:` lists errors, `W:` warnings; a line may carry several codes (a code twice means two
diagnostics). The test compares (line, code) pairs, so messages can improve freely.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from alexnet_dsl.analysis import check_file

BAD = sorted((Path(__file__).parent / "data" / "bad").glob("*.net"))
MARK = re.compile(r"\b([EW]):\s*((?:[EW]\d{4}\s*)+)")


def expected(path: Path) -> Counter:
    out: Counter = Counter()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if "#" not in line:
            continue
        comment = line[line.index("#"):]
        for kind, codes in MARK.findall(comment):
            for code in codes.split():
                assert code[0] == kind, f"{path.name}:{number}: {code} listed under {kind}:"
                out[(number, code)] += 1
    return out


def actual(path: Path) -> Counter:
    analysis = check_file(path)
    return Counter(
        (d.span.line if d.span else 0, d.code)
        for d in analysis.diagnostics
        if d.severity.value in ("error", "warning")
    )


def test_there_are_golden_files():
    assert len(BAD) >= 25


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_golden(path: Path):
    want = expected(path)
    assert want, f"{path.name} marks no expected diagnostic"
    assert actual(path) == want

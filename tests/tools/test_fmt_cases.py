"""`dslc fmt` on input/expected pairs: `tests/data/fmt/<case>.net` formats to `<case>.expected.net`, byte for
byte (line endings included), and the expected file formats to itself. A new case is a new pair of files.

To add one, write the input, run `dslc fmt tests/data/fmt/<case>.net > tests/data/fmt/<case>.expected.net`,
and read the output before keeping it. A case whose input is already canonical has the two files equal.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from alexnet_dsl.tools.fmt import format_text

DATA = Path(__file__).parents[1] / "data" / "fmt"
EXPECTED = ".expected.net"
CASES = sorted(p for p in DATA.glob("*.net") if not p.name.endswith(EXPECTED))


def read(path: Path) -> str:
    # bytes, not read_text: the universal newline mode would turn CRLF into LF
    return path.read_bytes().decode("utf-8")


def diff(expected: str, actual: str, name: str) -> str:
    """A unified diff, with `\\r` shown, so a line-ending difference is visible."""
    lines = difflib.unified_diff(
        expected.replace("\r", "\\r").splitlines(keepends=True),
        actual.replace("\r", "\\r").splitlines(keepends=True),
        f"{name} (expected)",
        f"{name} (formatted)",
    )
    return "".join(lines)


def test_there_are_cases_and_each_has_its_expected_file():
    assert len(CASES) >= 12
    expected = {p.name for p in DATA.glob(f"*{EXPECTED}")}
    assert expected == {p.name.removesuffix(".net") + EXPECTED for p in CASES}


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_formats_to_the_expected_file(case: Path):
    expected_path = case.with_name(case.stem + EXPECTED)
    expected = read(expected_path)
    out = format_text(read(case), str(case))
    assert out == expected, "\n" + diff(expected, out, expected_path.name)
    again = format_text(expected, str(expected_path))
    assert again == expected, "not idempotent:\n" + diff(expected, again, expected_path.name)

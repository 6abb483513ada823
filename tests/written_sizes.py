"""Specs with sizes written in: the brute-force oracle of the admissible-size tests."""

from __future__ import annotations

import re

from alexnet_dsl.analysis.result import Analysis


def write_in(text: str, sizes: dict[str, int]) -> str:
    """The spec with each symbol replaced by its value."""
    for sym, v in sizes.items():
        text = re.sub(rf"\b{sym}\b", str(v), text)
    return text


def superset_noted(a: Analysis) -> bool:
    """Whether the solver says (N0501) that a printed set may be larger than the sizes that check."""
    return any(d.code == "N0501" and "superset" in " ".join(d.notes) for d in a.diagnostics)

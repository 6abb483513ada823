"""The memory budget: how many bytes a compiled network may need before `alexnet_dsl.compile` refuses to
allocate it (E0312) and `dslc compile` warns (W0406).

A network needs its float32 parameters twice (their gradients' worth of headroom for training) and one
sample's activations. The budget is `memory_budget` (bytes, or a string such as `"8G"`), else
DSLC_MEMORY_BUDGET, else half of this machine's memory.
"""

from __future__ import annotations

import os
import re

from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.diagnostics import Diagnostic, DslError, error, warning
from alexnet_dsl.units import format_bytes

# `memory_budget`'s default (`default_budget()`), told apart from None, which turns the guard off
DEFAULT_BUDGET = object()


def parse_budget(text: str) -> int:
    """`"512M"`, `"1.5G"`, `"1000"`, `"1e9"` -> bytes (K, M, G, T are powers of 1024; ASCII digits only);
    the number is read as budget_bytes reads a number."""
    m = re.fullmatch(
        r"\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+]?[0-9]+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE
    )
    if not m:
        sign = " (a budget cannot be negative)" if text.strip().startswith("-") else ""
        raise ValueError(
            f"a memory budget is a number of bytes, optionally with K, M, G or T: {text!r}{sign}"
        )
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2).upper()]
    number = float(m.group(1)) if re.search(r"[.eE]", m.group(1)) else int(m.group(1))
    return _whole_bytes(number * scale, text)


def _whole_bytes(budget: float, shown) -> int:
    """A budget as whole bytes: a fraction of a byte is dropped, but a budget under 1 KiB with a fraction
    (`1.5`) is a unit left out (`'1.5G'`), not a budget of 1 byte."""
    if not budget >= 0 or budget == float("inf"):  # `not >=` also catches NaN
        raise ValueError(f"memory_budget must be a non-negative number of bytes, got {shown!r}")
    if budget != int(budget) and budget < 2**10:
        raise ValueError(
            f"memory_budget is a number of bytes: {shown!r} is not a whole number of bytes "
            f"(for {budget:g} GiB write '{budget:g}G')"
        )
    return int(budget)


def budget_bytes(budget) -> int | None:
    """`compile(memory_budget=...)` as bytes: None (no guard), a number of bytes or a string for
    parse_budget (`1e9` and `'1e9'` are the same budget). Negative, non-finite and other values, and
    fractions of a byte under 1 KiB, are a ValueError, not a guard that refuses all."""
    if budget is None:
        return None
    if isinstance(budget, str):
        return parse_budget(budget)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise ValueError(
            f"memory_budget must be a number of bytes, a string like '8G', or None, not {budget!r}"
        )
    return _whole_bytes(budget, budget)


def default_budget() -> int:
    """The budget `memory_budget` defaults to: DSLC_MEMORY_BUDGET, or half of this machine's memory."""
    env = os.environ.get("DSLC_MEMORY_BUDGET")
    if env:
        try:
            return parse_budget(env)
        except ValueError as e:
            raise ValueError(
                f"the environment variable DSLC_MEMORY_BUDGET={env!r} is not a memory budget: {e}"
            ) from None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return total // 2


def over_budget(analysis: Analysis, budget: int | None, *, refuse: bool = True) -> Diagnostic | None:
    """The diagnostic for a network whose parameters (and one sample's activations) exceed the budget, or
    None: E0312 where the caller would allocate them (`alexnet_dsl.compile`), W0406 where it only writes
    source (`dslc compile`, `refuse=False`)."""
    if budget is None:
        return None
    params = analysis.params or 0
    activations = sum(i.activation_bytes or 0 for i in analysis.infos)
    need = params * 4 * 2 + activations  # weights, their gradients' worth of headroom, one sample
    if need <= budget:
        return None
    net = analysis.network
    assert net is not None
    notes = (
        f"{params:,} parameters ({format_bytes(params * 4)} as float32, twice for training) and "
        f"{format_bytes(activations)} of activations per sample",
    )
    if refuse:
        return error(
            "E0312",
            f"`{net.name}` needs about {format_bytes(need)}, over the budget of {format_bytes(budget)}",
            net.name_span,
            notes=notes,
            helps=(
                "raise the budget: compile(spec, memory_budget=BYTES) or DSLC_MEMORY_BUDGET=64G; "
                "memory_budget=None turns the guard off",
            ),
        )
    return warning(
        "W0406",
        f"`{net.name}` needs about {format_bytes(need)}, over this machine's budget of "
        f"{format_bytes(budget)}: the module is written, but instantiating it here would likely fail",
        net.name_span,
        notes=(*notes, "`alexnet_dsl.compile` refuses it here with E0312"),
        helps=(
            "run it where that much memory is free, or raise the budget there: DSLC_MEMORY_BUDGET=64G "
            "or compile(spec, memory_budget=BYTES)",
        ),
    )


def check_budget(analysis: Analysis, budget: int | None) -> None:
    """Refuse, before allocating anything, a network whose parameters would not fit the budget."""
    diagnostic = over_budget(analysis, budget)
    if diagnostic is not None:
        raise DslError([diagnostic], analysis.source)

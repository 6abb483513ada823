"""Sets of positive integers, as inclusive ranges and a congruence, and the work budget exact answers spend.

Every computation on sizes counts its steps (values enumerated, residues built, search nodes), never
seconds, so every machine gets the same answer. Past a budget a function returns None (or raises
TooLarge) and the caller keeps the sets it had: a superset of the exact answer, said in a note.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

MAX_ENUMERATION = 200_000  # the most values a set is expanded to, or a search tries
MAX_MODULUS = 1 << 16  # the longest period written as residues
MAX_WORK = 1_000_000  # per constraint: about a second of Python, on any machine the same answer


class TooLarge(Exception):
    """An exact answer would cost more than the work budget (or a modulus past MAX_MODULUS)."""


_budget: list[int | None] = [None]  # work left in the current `work_budget`; None: not counted
_spent = [0]  # all work counted since the process started: tests bound it (deterministic, unlike time)


def work_spent() -> int:
    """Steps of work counted so far in this process."""
    return _spent[0]


def spend(n: int) -> None:
    """Count n steps of work against the current budget; TooLarge when it runs out."""
    _spent[0] += n
    left = _budget[0]
    if left is not None:
        _budget[0] = left - n
        if left - n < 0:
            raise TooLarge("the work budget")


@contextlib.contextmanager
def work_budget(n: int = MAX_WORK) -> Iterator[None]:
    """Run a block with n steps of work to spend (the solver gives one to each constraint)."""
    saved = _budget[0]
    _budget[0] = n
    try:
        yield
    finally:
        _budget[0] = saved


@dataclass(frozen=True, slots=True)
class IntSet:
    """Integers in `ranges` (inclusive, hi None = unbounded) whose residue mod `mod` is in `residues`."""

    ranges: tuple[tuple[int, int | None], ...]
    mod: int = 1
    residues: frozenset[int] = frozenset({0})

    @staticmethod
    def at_least(lo: int) -> IntSet:
        return IntSet(((lo, None),))

    @staticmethod
    def between(lo: int, hi: int | None) -> IntSet:
        return IntSet(((lo, hi),)) if hi is None or lo <= hi else EMPTY

    @staticmethod
    def union(ranges: list[tuple[int, int | None]]) -> IntSet:
        """The integers in any of `ranges` (inclusive, hi None = unbounded), overlaps and neighbours merged."""
        merged: list[tuple[int, int | None]] = []
        for lo, hi in sorted(ranges, key=lambda r: r[0]):
            if merged and (merged[-1][1] is None or lo <= merged[-1][1] + 1):
                prev_lo, prev_hi = merged[-1]
                merged[-1] = (prev_lo, None if prev_hi is None or hi is None else max(prev_hi, hi))
            else:
                merged.append((lo, hi))
        return IntSet(tuple(merged))

    @staticmethod
    def of_values(values: list[int]) -> IntSet:
        spend(len(values))
        ranges: list[tuple[int, int | None]] = []
        for v in sorted(set(values)):
            if ranges and ranges[-1][1] == v - 1:
                ranges[-1] = (ranges[-1][0], v)
            else:
                ranges.append((v, v))
        return IntSet(tuple(ranges))

    def contains(self, x: int) -> bool:
        return x % self.mod in self.residues and any(
            lo <= x and (hi is None or x <= hi) for lo, hi in self.ranges
        )

    def intersect(self, other: IntSet) -> IntSet:
        # both lists are sorted and disjoint: one merge pass, linear in their lengths
        out: list[tuple[int, int | None]] = []
        i = j = 0
        a, b = self.ranges, other.ranges
        spend(len(a) + len(b))
        while i < len(a) and j < len(b):
            (a_lo, a_hi), (b_lo, b_hi) = a[i], b[j]
            lo = max(a_lo, b_lo)
            hi = b_hi if a_hi is None else a_hi if b_hi is None else min(a_hi, b_hi)
            if hi is None or lo <= hi:
                out.append((lo, hi))
            if b_hi is None or (a_hi is not None and a_hi < b_hi):  # the range that ends first is done
                i += 1
            else:
                j += 1
        mod = math.lcm(self.mod, other.mod)
        if mod > MAX_MODULUS:
            # the joint condition has too many residues to write down; over few values, list them instead
            ranges = IntSet(tuple(sorted(out)))
            n = ranges.count()
            if n is None or n > MAX_ENUMERATION:
                raise TooLarge(f"a period of {mod}")
            # each x lies in both sets' ranges already: only their residues are left to test
            return IntSet.of_values(
                [
                    x
                    for lo, hi in ranges.ranges
                    for x in range(lo, hi + 1)  # type: ignore[operator]
                    if x % self.mod in self.residues and x % other.mod in other.residues
                ]
            )
        spend(mod)
        residues = frozenset(
            r for r in range(mod) if r % self.mod in self.residues and r % other.mod in other.residues
        )
        return IntSet(tuple(sorted(out)), mod, residues).normalised()

    def count(self) -> int | None:
        """How many members; None when unbounded. Costs at most one period, never the number of members."""
        total = 0
        spend(len(self.ranges) * self.mod)
        for lo, hi in self.ranges:
            if hi is None:
                return None
            full, rest = divmod(hi - lo + 1, self.mod)
            total += full * len(self.residues)
            total += sum(1 for x in range(lo, lo + rest) if x % self.mod in self.residues)
        return total

    def members(self) -> list[int]:
        """Every member of a bounded set, in order (callers check `count()` against their budget first)."""
        spend(sum(hi - lo + 1 for lo, hi in self.ranges))  # type: ignore[operator]
        return [
            x
            for lo, hi in self.ranges
            for x in range(lo, hi + 1)  # type: ignore[operator]
            if x % self.mod in self.residues
        ]

    def normalised(self) -> IntSet:
        if self.mod == 1 or len(self.residues) == self.mod:
            return IntSet(self.ranges)
        if not self.residues:
            return EMPTY
        # expand periodic sets over bounded ranges into plain ranges
        bounded = all(hi is not None for _, hi in self.ranges)
        if bounded and sum(hi - lo + 1 for lo, hi in self.ranges) <= MAX_ENUMERATION:  # type: ignore[operator]
            return IntSet.of_values(self.members())
        # trim each range to its first and last member
        spend(2 * self.mod * len(self.ranges))
        trimmed = []
        for lo, hi in self.ranges:
            first = next((x for x in range(lo, lo + self.mod) if x % self.mod in self.residues), None)
            if first is None or (hi is not None and first > hi):
                continue
            if hi is not None:
                last = next(x for x in range(hi, hi - self.mod, -1) if x % self.mod in self.residues)
                trimmed.append((first, last))
            else:
                trimmed.append((first, None))
        return IntSet(tuple(trimmed), self.mod, self.residues) if trimmed else EMPTY

    @property
    def empty(self) -> bool:
        return not self.ranges

    def describe(self, name: str = "x") -> str:
        """`227..258`, `3.., 5..9`; a periodic set adds its condition: `2.. with H % 2 == 0`."""
        if self.empty:
            return "no value"
        parts = [
            f"{lo}.." if hi is None else (f"{lo}" if lo == hi else f"{lo}..{hi}") for lo, hi in self.ranges
        ]
        if len(parts) > 8:
            parts = parts[:4] + ["…"] + parts[-2:]
        text = ", ".join(parts)
        if self.mod > 1:
            residues = sorted(self.residues)
            cond = (
                f"{name} % {self.mod} == {residues[0]}"
                if len(residues) == 1
                else f"{name} % {self.mod} in {{{', '.join(map(str, residues))}}}"
            )
            text += f" with {cond}"
        return text

    def to_json(self) -> list[list[int | None]]:
        return [[lo, hi] for lo, hi in self.ranges]


EMPTY = IntSet(())
ALL = IntSet.at_least(1)

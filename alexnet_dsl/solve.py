"""Admissible input sizes: the exact set of values of each symbol for which the network checks.

Constraints come from shapes.py: a size must be at least 1 (or at least a kernel), an assertion
or a join makes two sizes equal, groups must divide a channel count. Every spatial size is a
monotone chain f with f(x + P) = f(x) + 1 (see expr.py), so:

- `f >= k` and `f == c` are intervals, found by binary search;
- `f == g` with the same period is periodic: its residues mod P, read off one period;
- `f == g` with different periods holds only on a bounded range, enumerated;
- `f % g == 0` is periodic with period P * g;
- a product of sizes equal to a constant (flatten into an asserted size) couples symbols: each
  factor must be a divisor, each divisor value has an interval of preimages;
- `f(X) == g(Y)` between two symbols: f and g step by 0 or 1, so the image of a range is a range,
  and each symbol keeps the preimage of the other's image (exact projections); several such
  equalities between one pair are solved jointly by enumerating a bounded symbol (a symbol is
  bounded when two equalities tie it to the other at different rates).

Nothing is sampled or approximated; an answer is a list of inclusive ranges (and, rarely, a
congruence when an unbounded set is periodic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from itertools import product

from . import expr as E

MAX_ENUMERATION = 200_000
MAX_MODULUS = 1 << 16


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
        out: list[tuple[int, int | None]] = []
        for a_lo, a_hi in self.ranges:
            for b_lo, b_hi in other.ranges:
                lo = max(a_lo, b_lo)
                his = [h for h in (a_hi, b_hi) if h is not None]
                hi = min(his) if his else None
                if hi is None or lo <= hi:
                    out.append((lo, hi))
        mod = math.lcm(self.mod, other.mod)
        if mod > MAX_MODULUS:  # never seen in real networks; keep the coarser condition
            mod, residues = self.mod, self.residues
        else:
            residues = frozenset(
                r for r in range(mod) if r % self.mod in self.residues and r % other.mod in other.residues
            )
        return IntSet(tuple(sorted(out)), mod, residues).normalised()

    def normalised(self) -> IntSet:
        if self.mod == 1 or len(self.residues) == self.mod:
            return IntSet(self.ranges)
        if not self.residues:
            return EMPTY
        # expand periodic sets over bounded ranges into plain ranges
        if all(hi is not None for _, hi in self.ranges):
            total = sum(hi - lo + 1 for lo, hi in self.ranges)  # type: ignore[operator]
            if total <= MAX_ENUMERATION:
                return IntSet.of_values(
                    [x for lo, hi in self.ranges for x in range(lo, hi + 1) if x % self.mod in self.residues]  # type: ignore[operator]
                )
        # trim each range to its first and last member
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
        parts = [f"{lo}.." if hi is None else (f"{lo}" if lo == hi else f"{lo}..{hi}") for lo, hi in self.ranges]
        if len(parts) > 8:
            parts = parts[:4] + ["…"] + parts[-2:]
        text = ", ".join(parts)
        if self.mod > 1:
            residues = sorted(self.residues)
            cond = (f"{name} % {self.mod} == {residues[0]}" if len(residues) == 1
                    else f"{name} % {self.mod} in {{{', '.join(map(str, residues))}}}")
            text += f" with {cond}"
        return text

    def to_json(self) -> list[list[int | None]]:
        return [[lo, hi] for lo, hi in self.ranges]


EMPTY = IntSet(())
ALL = IntSet.at_least(1)


# ---------------------------------------------------------------------------- one constraint


def _first_at_least(f: E.Univariate, k: int, lo: int) -> int | None:
    """The least x >= lo with f(x) >= k (f is nondecreasing); None if f never reaches k."""
    if f.at(lo) >= k:
        return lo
    period = f.period
    b_lo, _ = f.bounds()
    # f(x) >= x/P + b_lo >= k once x >= (k - b_lo) * P
    hi = max(lo + 1, math.ceil((k - b_lo) * period) + 1)
    if f.at(hi) < k:  # cannot happen for a true bound; be safe
        return None
    while hi - lo > 1:  # invariant: f(lo) < k <= f(hi)
        mid = (lo + hi) // 2
        if f.at(mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


def at_least(f: E.Size, k: int) -> IntSet | bool:
    """Values of f's symbol with f >= k (a bool when f is a constant)."""
    if isinstance(f, int):
        return f >= k
    assert isinstance(f, (E.Chain, E.Min)), f
    x = _first_at_least(f, k, 1)
    return EMPTY if x is None else IntSet.at_least(x)


def equal_to(f: E.Size, c: int) -> IntSet | bool:
    """Values of f's symbol with f == c."""
    if isinstance(f, int):
        return f == c
    assert isinstance(f, (E.Chain, E.Min)), f
    a = _first_at_least(f, c, 1)
    if a is None or f.at(a) != c:
        return EMPTY
    b = _first_at_least(f, c + 1, a)
    return IntSet.between(a, None if b is None else b - 1)


def equal(f: E.Size, g: E.Size) -> IntSet | bool | None:
    """Values of the (single, shared) symbol with f == g; None when that is not univariate."""
    if isinstance(f, int) and isinstance(g, int):
        return f == g
    if isinstance(f, int):
        return equal_to(g, f)
    if isinstance(g, int):
        return equal_to(f, g)
    if not (isinstance(f, (E.Chain, E.Min)) and isinstance(g, (E.Chain, E.Min)) and f.sym == g.sym):
        return None
    pf, pg = f.period, g.period
    if pf == pg:
        residues = frozenset(r for r in range(pf) if f.at(r + pf) == g.at(r + pf))
        return IntSet(((1, None),), pf, residues).normalised() if pf <= MAX_MODULUS else None
    # different slopes: |f - g| grows, so equality holds on a bounded range only
    flo, fhi = f.bounds()
    glo, ghi = g.bounds()
    slope = abs(Fraction(1, pf) - Fraction(1, pg))
    limit = math.ceil((max(fhi, ghi) - min(flo, glo)) / slope) + 1
    if limit > MAX_ENUMERATION:
        return None
    return IntSet.of_values([x for x in range(1, limit + 1) if f.at(x) == g.at(x)])


def divisible(f: E.Size, g: int) -> IntSet | bool | None:
    """Values with f % g == 0."""
    if isinstance(f, int):
        return f % g == 0
    if not isinstance(f, (E.Chain, E.Min)):
        return None
    mod = f.period * g
    if mod > MAX_MODULUS:
        return None
    residues = frozenset(r for r in range(mod) if f.at(r + mod) % g == 0)
    return IntSet(((1, None),), mod, residues).normalised()


# ---------------------------------------------------------------------------- products


def product_equal(p: E.Size, c: int, domains: dict[str, IntSet]) -> dict[str, IntSet] | None:
    """For prod(factors) == c, the values of each symbol for which some choice of the others works.

    Returns None when the product has a shape this method does not handle.
    """
    if isinstance(p, int):
        return {} if p == c else {"": EMPTY}
    if isinstance(p, (E.Chain, E.Min)):
        r = equal_to(p, c)
        return {p.sym: r if isinstance(r, IntSet) else (ALL if r else EMPTY)}
    if not isinstance(p, E.Prod) or not all(isinstance(f, (E.Chain, E.Min)) for f in p.factors):
        return None
    if c % p.coef:
        return {f.sym: EMPTY for f in p.factors}  # type: ignore[union-attr]
    target = c // p.coef
    by_sym: dict[str, list[E.Univariate]] = {}
    for f in p.factors:
        by_sym.setdefault(f.sym, []).append(f)  # type: ignore[union-attr]
    divisors = [d for d in range(1, math.isqrt(target) + 1) if target % d == 0]
    divisors = sorted(set(divisors + [target // d for d in divisors]))
    # for each symbol, the values its own factors take (each factor a divisor), and where
    options: dict[str, dict[int, list[int]]] = {}
    for sym, factors in by_sym.items():
        values: dict[int, list[int]] = {}
        domain = domains.get(sym, ALL)
        # x ranges where every factor is at most target: enumerate the divisor preimages
        candidates: set[int] = set()
        for f in factors:
            for d in divisors:
                r = equal_to(f, d)
                if isinstance(r, IntSet):
                    for lo, hi in r.ranges:
                        if hi is None or hi - lo > MAX_ENUMERATION:
                            return None
                        candidates.update(range(lo, hi + 1))
        for x in sorted(candidates):
            if not domain.contains(x):
                continue
            v = 1
            for f in factors:
                v *= f.at(x)
            if v >= 1 and target % v == 0:
                values.setdefault(v, []).append(x)
        options[sym] = values
    syms = list(options)
    feasible: dict[str, set[int]] = {s: set() for s in syms}
    for combo in product(*(options[s].keys() for s in syms)):
        if math.prod(combo) == target:
            for s, v in zip(syms, combo):
                feasible[s].update(options[s][v])
    return {s: IntSet.of_values(sorted(xs)) if xs else EMPTY for s, xs in feasible.items()}


# ---------------------------------------------------------------------------- two symbols


def _image(f: E.Univariate, domain: IntSet) -> list[tuple[int, int | None]] | None:
    """The values f takes on `domain`, as ranges. f is nondecreasing with steps of 0 or 1, so a range
    of x maps onto every integer between its ends; periodic domains are enumerated when bounded."""
    if domain.mod == 1:
        return [(f.at(lo), None if hi is None else f.at(hi)) for lo, hi in domain.ranges]
    if any(hi is None for _, hi in domain.ranges):
        return None
    values = sorted({f.at(x) for lo, hi in domain.ranges for x in range(lo, hi + 1)  # type: ignore[operator]
                     if x % domain.mod in domain.residues})
    return list(IntSet.of_values(values).ranges)


def _preimage(f: E.Univariate, values: list[tuple[int, int | None]]) -> IntSet:
    """The x >= 1 with f(x) in one of the value ranges."""
    ranges: list[tuple[int, int | None]] = []
    for a, b in values:
        lo = _first_at_least(f, a, 1)
        if lo is None:
            continue
        end = None if b is None else _first_at_least(f, b + 1, lo)
        if end is None or end > lo:
            ranges.append((lo, None if end is None else end - 1))
    return IntSet.union(ranges)


def coupled_equal(f: E.Size, g: E.Size, domains: dict[str, IntSet]) -> dict[str, IntSet] | None:
    """For f(X) == g(Y) with two different symbols: each symbol's values for which some value of the other
    works (exact projections). None when either side is not a chain of one symbol."""
    if not (isinstance(f, (E.Chain, E.Min)) and isinstance(g, (E.Chain, E.Min))) or f.sym == g.sym:
        return None
    x_domain, y_domain = domains.get(f.sym, ALL), domains.get(g.sym, ALL)
    f_values = _image(f, x_domain)
    if f_values is None:
        return None
    y_new = y_domain.intersect(_preimage(g, f_values))
    g_values = _image(g, y_new)
    if g_values is None:
        return None
    x_new = x_domain.intersect(_preimage(f, g_values))
    return {f.sym: x_new, g.sym: y_new}


def joint_equalities(pairs: list[tuple[E.Univariate, E.Univariate]], domains: dict[str, IntSet]
                     ) -> dict[str, IntSet] | None:
    """For several f_i(X) == g_i(Y) between the same two symbols: the exact projections of the pairs that
    satisfy all of them, enumerated over X when X's set is bounded (for each x, the y with g_i(y) == f_i(x) form
    an interval per constraint). An unbounded X is bounded first when two constraints grow at different rates.
    None when X's set stays unbounded or is too large."""
    x_sym, y_sym = pairs[0][0].sym, pairs[0][1].sym
    x_domain, y_domain = domains.get(x_sym, ALL), domains.get(y_sym, ALL)
    if any(hi is None for _, hi in x_domain.ranges):
        limit = _joint_limit(pairs)
        if limit is None:
            return None
        x_domain = x_domain.intersect(IntSet.between(1, limit))
    xs = [x for lo, hi in x_domain.ranges for x in range(lo, hi + 1) if x % x_domain.mod in x_domain.residues]  # type: ignore[operator]
    if len(xs) > MAX_ENUMERATION // max(1, len(pairs)):
        return None
    good_x: list[int] = []
    y_ranges: list[tuple[int, int | None]] = []
    for x in xs:
        window = IntSet.at_least(1)
        for f, g in pairs:
            v = f.at(x)
            window = window.intersect(_preimage(g, [(v, v)]))
            if window.empty:
                break
        window = window.intersect(y_domain)
        if not window.empty:
            good_x.append(x)
            y_ranges += window.ranges if window.mod == 1 else [(y, y) for lo, hi in window.ranges
                                                                for y in range(lo, hi + 1)  # type: ignore[operator]
                                                                if window.contains(y)]
    ys = IntSet.union(y_ranges)
    return {x_sym: IntSet.of_values(good_x) if good_x else EMPTY, y_sym: ys}


def _joint_limit(pairs: list[tuple[E.Univariate, E.Univariate]]) -> int | None:
    """An x past which no y satisfies every f_i(x) == g_i(y), when two constraints tie y to x at different
    rates; None when all rates are equal (then solutions can go on forever).

    With f(x) in [x/P + f_lo, x/P + f_hi] and g(y) in [y/Q + g_lo, y/Q + g_hi], f(x) == g(y) puts y in
    [r x + a, r x + b] with r = Q/P, a = Q (f_lo - g_hi), b = Q (f_hi - g_lo); two such bands with different
    slopes meet only while |r_i - r_j| x <= max(b_j - a_i, b_i - a_j)."""
    bands = []
    for f, g in pairs:
        (f_lo, f_hi), (g_lo, g_hi) = f.bounds(), g.bounds()
        q = g.period
        bands.append((Fraction(q, f.period), q * (f_lo - g_hi), q * (f_hi - g_lo)))
    limits = [max(b_j - a_i, b_i - a_j) / abs(r_i - r_j)
              for k, (r_i, a_i, b_i) in enumerate(bands) for r_j, a_j, b_j in bands[k + 1:] if r_i != r_j]
    return math.floor(min(limits)) + 1 if limits else None

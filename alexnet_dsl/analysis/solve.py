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

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from alexnet_dsl.ir import expr as E

# Work budgets, counted in steps (values enumerated, residues built, search nodes), never in seconds, so
# every machine gets the same answer. Past a budget a function returns None (or raises TooLarge) and the
# caller keeps the sets it had: a superset of the exact answer, said in a note.
MAX_ENUMERATION = 200_000
MAX_MODULUS = 1 << 16


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


def canonical(f: E.Univariate) -> tuple[int, int, int]:
    """(P, a, b) with f(x) == (x + a) // P + b for every integer x.

    f is nondecreasing with steps of 0 or 1 and f(x + P) == f(x) + 1, so it rises exactly once in
    every P consecutive integers: it is one floor step, whatever chain of floors, ceils and minimums
    it was built from. Found by a binary search for the first rise after 0 (O(log P) evaluations).

    >>> canonical(E.Chain("H", ((-3, 4, False), (1, 2, True))))
    (8, -3, 1)
    """
    base = f.at(0)
    hi = _first_at_least(f, base + 1, 0)  # f rises at hi (within one period): f(x) = base + 1 + (x - hi) // P
    assert hi is not None and 0 < hi <= f.period, (f, hi)
    return f.period, -hi, base + 1


def _residue_set(period: int, ranges: list[tuple[int, int]], within: IntSet | None = None) -> IntSet | None:
    """The x >= 1 whose residue mod `period` lies in one of `ranges` (cyclic: hi < lo wraps around).

    A period past MAX_MODULUS cannot be written as residues; over a bounded `within`, the answer is then
    its ranges, one per period crossed (the work is the number of periods, not of values)."""
    pieces: list[tuple[int, int]] = []
    for lo, hi in ranges:
        lo, hi = lo % period, hi % period
        pieces += [(lo, hi)] if lo <= hi else [(lo, period - 1), (0, hi)]
    if not pieces:
        return EMPTY
    if sum(hi - lo + 1 for lo, hi in pieces) >= period:
        return ALL
    if period > MAX_MODULUS:
        if within is None or any(hi is None for _, hi in within.ranges):
            return None
        out: list[tuple[int, int | None]] = []
        for lo, hi in within.ranges:
            spend(len(pieces) * ((hi - lo) // period + 2))  # type: ignore[operator]
            for k in range(lo // period, hi // period + 1):  # type: ignore[operator]
                out += [
                    (max(lo, k * period + a), min(hi, k * period + b))
                    for a, b in pieces  # type: ignore[type-var]
                    if max(lo, k * period + a) <= min(hi, k * period + b)
                ]  # type: ignore[type-var]
        return within.intersect(IntSet.union(out)) if out else EMPTY
    spend(period)
    residues = frozenset(r for lo, hi in pieces for r in range(lo, hi + 1))
    return IntSet(((1, None),), period, residues).normalised()


def equal(f: E.Size, g: E.Size, within: IntSet | None = None) -> IntSet | bool | None:
    """Values of the (single, shared) symbol with f == g; None when that is not univariate, or when the
    answer is periodic with a period past MAX_MODULUS (and `within`, the values that matter, is unbounded)
    or has more than MAX_ENUMERATION pieces."""
    if isinstance(f, int) and isinstance(g, int):
        return f == g
    if isinstance(f, int):
        return equal_to(g, f)
    if isinstance(g, int):
        return equal_to(f, g)
    if not (isinstance(f, (E.Chain, E.Min)) and isinstance(g, (E.Chain, E.Min)) and f.sym == g.sym):
        return None
    (p, a, b), (q, c, d) = canonical(f), canonical(g)
    if p == q:
        # f - g is periodic and changes only where f or g rises: at x = -a and x = -c (mod P)
        cuts = sorted({(-a) % p, (-c) % p})
        pieces = [(lo, hi - 1) for lo, hi in zip(cuts, cuts[1:] + [cuts[0] + p])]
        return _residue_set(p, [(lo, hi) for lo, hi in pieces if f.at(lo) == g.at(lo)], within)
    # different slopes: f == g == v on the overlap of the intervals where each takes v,
    # f == v on [(v - b) P - a, (v - b) P - a + P - 1], g == v on [(v - d) Q - c, (v - d) Q - c + Q - 1];
    # they overlap for v in a bounded interval (linear inequalities in v)
    alpha, beta = -b * p - a, -d * q - c
    bounds = [Fraction(beta + q - 1 - alpha, p - q), Fraction(alpha + p - 1 - beta, q - p)]
    # v (p - q) <= beta + q - 1 - alpha and v (q - p) <= alpha + p - 1 - beta
    v_lo = math.ceil(bounds[0]) if p < q else math.ceil(bounds[1])
    v_hi = math.floor(bounds[1]) if p < q else math.floor(bounds[0])
    v_lo = max(v_lo, min(f.at(1), g.at(1)))
    if v_hi - v_lo + 1 > MAX_ENUMERATION:
        return None
    spend(max(0, v_hi - v_lo + 1))
    ranges = []
    for v in range(v_lo, v_hi + 1):
        lo = max((v - b) * p - a, (v - d) * q - c, 1)
        hi = min((v - b) * p - a + p - 1, (v - d) * q - c + q - 1)
        if lo <= hi:
            ranges.append((lo, hi))
    return IntSet.union(ranges) if ranges else EMPTY


def divisible(f: E.Size, g: int, within: IntSet | None = None) -> IntSet | bool | None:
    """Values with f % g == 0; None when the period P * g is past MAX_MODULUS (and the answer is not trivial,
    and `within` is unbounded)."""
    if isinstance(f, int):
        return f % g == 0
    if not isinstance(f, (E.Chain, E.Min)):
        return None
    p, a, b = canonical(f)
    # (x + a) // P + b == 0 (mod g) <=> (x + a) mod (P g) in [P r, P r + P - 1] with r = -b mod g
    r = (-b) % g
    return _residue_set(p * g, [(p * r - a, p * r - a + p - 1)], within)


# ---------------------------------------------------------------------------- products


def factorize(n: int) -> list[tuple[int, int]] | None:
    """n >= 1 as (prime, exponent) pairs; None when a cofactor past 10**12 is left that trial division up
    to 10**6 cannot certify prime (the work stays bounded whatever n is).

    >>> factorize(735134400)
    [(2, 6), (3, 3), (5, 2), (7, 1), (11, 1), (13, 1), (17, 1)]
    """
    factors: list[tuple[int, int]] = []
    rest, d = n, 2
    while d * d <= rest and d <= 10**6:
        if rest % d == 0:
            e = 0
            while rest % d == 0:
                rest //= d
                e += 1
            factors.append((d, e))
        d += 1 if d == 2 else 2
        spend(1)
    if rest > 1:
        if d * d <= rest:  # an unfactored cofactor: it may or may not be prime
            return None
        factors.append((rest, 1))
    return factors


def _divisors_of(factors: list[tuple[int, int]]) -> list[int]:
    out = [1]
    for prime, e in factors:
        out = [x * prime**k for x in out for k in range(e + 1)]
    spend(len(out))
    return out


def divisors(n: int) -> list[int] | None:
    """The divisors of n >= 1 in increasing order; None when n cannot be factored within the budget, or
    has more than MAX_ENUMERATION divisors.

    >>> divisors(12)
    [1, 2, 3, 4, 6, 12]
    """
    found = _factored(n)
    return None if found is None else found[1]


def _factored(n: int) -> tuple[list[tuple[int, int]], list[int]] | None:
    """(the prime factors of n, its divisors in increasing order), or None as for `divisors`."""
    factors = factorize(n)
    if factors is None or math.prod(e + 1 for _, e in factors) > MAX_ENUMERATION:
        return None
    return factors, sorted(_divisors_of(factors))


def product_equal(p: E.Size, c: int, domains: dict[str, IntSet]) -> dict[str, IntSet] | None:
    """For prod(factors) == c, the values of each symbol for which some choice of the others works.

    Each factor must take a divisor of c; for each symbol, the values its own factors multiply to and
    where; then which of those values complete to a product of c (trying only divisors of what is left).
    Returns None when the product has a shape this method does not handle, or c cannot be factored or
    has too many divisors (TooLarge when the work budget runs out).
    """
    if isinstance(p, int):
        return {} if p == c else {"": EMPTY}
    if isinstance(p, (E.Chain, E.Min)):
        r = equal_to(p, c)
        return {p.sym: r if isinstance(r, IntSet) else (ALL if r else EMPTY)}
    if not isinstance(p, E.Prod) or not all(isinstance(f, (E.Chain, E.Min)) for f in p.factors):
        return None
    if c % p.coef or c < 1:
        return {f.sym: EMPTY for f in p.factors}  # type: ignore[union-attr]
    target = c // p.coef
    by_sym: dict[str, list[E.Univariate]] = {}
    for f in p.factors:
        by_sym.setdefault(f.sym, []).append(f)  # type: ignore[union-attr]
    found = _factored(target)
    if found is None:
        return None
    prime_factors, divs = found
    budget = MAX_ENUMERATION
    # for each symbol, the products its own factors take (a divisor of the target) and for which values
    options: dict[str, dict[int, IntSet]] = {}
    for sym, factors in by_sym.items():
        domain = domains.get(sym, ALL)
        where: dict[int, list[tuple[int, int | None]]] = {}
        if len(factors) == 1:  # the common case: each divisor's preimage is a range, nothing to enumerate
            for d in divs:
                r = equal_to(factors[0], d)
                if isinstance(r, IntSet) and not r.empty:
                    where.setdefault(d, []).extend(r.ranges)
            options[sym] = {
                v: hit for v, rs in where.items() if not (hit := domain.intersect(IntSet.union(rs))).empty
            }
            continue
        # several factors of one symbol (a square input): the first factor's divisor preimages bound x
        candidates: list[tuple[int, int | None]] = []
        for d in divs:
            r = equal_to(factors[0], d)
            if isinstance(r, IntSet):
                candidates += r.ranges
        span = domain.intersect(IntSet.union(candidates)) if candidates else EMPTY
        n = span.count()
        if n is None or n > budget:
            return None
        budget -= n
        values: dict[int, list[int]] = {}
        for x in span.members():
            v = math.prod(f.at(x) for f in factors)
            if v >= 1 and target % v == 0:
                values.setdefault(v, []).append(x)
        options[sym] = {v: IntSet.of_values(xs) for v, xs in values.items()}
    # Which values of each symbol are part of some combination with product `target`: ok(i, rest) says
    # whether the symbols from i on can multiply to rest; only divisors of rest are tried, so the work is
    # the number of ways to split the target, not a power of its number of divisors.
    syms = sorted(options, key=lambda s_: len(options[s_]))
    primes = [q for q, _ in prime_factors]

    def split(rest: int) -> list[int]:
        factors = []
        for q in primes:
            e = 0
            while rest % q == 0:
                rest //= q
                e += 1
            factors.append((q, e))
        return _divisors_of(factors)

    known: dict[tuple[int, int], bool] = {}

    def ok(i: int, rest: int) -> bool:
        if i == len(syms) - 1:
            return rest in options[syms[i]]
        if (i, rest) not in known:
            known[i, rest] = any(v in options[syms[i]] and ok(i + 1, rest // v) for v in split(rest))
        return known[i, rest]

    feasible: dict[str, set[int]] = {s_: set() for s_ in syms}
    try:
        reach = {target} if ok(0, target) else set()
        for i, sym in enumerate(syms):
            following: set[int] = set()
            for rest in reach:
                for v in split(rest) if i < len(syms) - 1 else [rest]:
                    if v in options[sym] and (i == len(syms) - 1 or ok(i + 1, rest // v)):
                        feasible[sym].add(v)
                        following.add(rest // v)
            reach = following
    except TooLarge:
        return None
    # each option is the domain within some ranges, so the union of their ranges, within the domain, is their union
    return {
        s_: domains.get(s_, ALL).intersect(
            IntSet.union([r for v in feasible[s_] for r in options[s_][v].ranges])
        )
        if feasible[s_]
        else EMPTY
        for s_ in syms
    }


# ---------------------------------------------------------------------------- two symbols


def _image(f: E.Univariate, domain: IntSet) -> list[tuple[int, int | None]] | None:
    """The values f takes on `domain`, as ranges. f is nondecreasing with steps of 0 or 1, so a range
    of x maps onto every integer between its ends; periodic domains are enumerated when bounded."""
    if domain.mod == 1:
        return [(f.at(lo), None if hi is None else f.at(hi)) for lo, hi in domain.ranges]
    n = domain.count()
    if n is None or n > MAX_ENUMERATION:
        return None
    return list(IntSet.of_values(sorted({f.at(x) for x in domain.members()})).ranges)


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


def joint_equalities(
    pairs: list[tuple[E.Univariate, E.Univariate]], domains: dict[str, IntSet]
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
    n = x_domain.count()
    if n is None or n > MAX_ENUMERATION // max(1, len(pairs)):
        return None
    xs = x_domain.members()
    good_x: list[int] = []
    y_ranges: list[tuple[int, int | None]] = []
    for x in xs:
        window = _window(pairs, x, y_domain)
        if not window.empty:
            good_x.append(x)
            y_ranges += window.ranges if window.mod == 1 else [(y, y) for y in window.members()]
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
    limits = [
        max(b_j - a_i, b_i - a_j) / abs(r_i - r_j)
        for k, (r_i, a_i, b_i) in enumerate(bands)
        for r_j, a_j, b_j in bands[k + 1 :]
        if r_i != r_j
    ]
    return math.floor(min(limits)) + 1 if limits else None


def _window(pairs: list[tuple[E.Univariate, E.Univariate]], x: int, y_domain: IntSet) -> IntSet:
    """The y in `y_domain` with g_i(y) == f_i(x) for every pair: an interval per pair, intersected."""
    spend(len(pairs))
    window = IntSet.at_least(1)
    for f, g in pairs:
        v = f.at(x)
        window = window.intersect(_preimage(g, [(v, v)]))
        if window.empty:
            return window
    return window.intersect(y_domain)


def _tail(s: IntSet) -> tuple[int, int] | None:
    """Where the unbounded range of a set starts, and its modulus; None for a bounded set."""
    start = next((lo for lo, hi in s.ranges if hi is None), None)
    return None if start is None else (start, s.mod)


def periodic_projection(
    pairs: list[tuple[E.Univariate, E.Univariate]], domains: dict[str, IntSet]
) -> IntSet | None:
    """X's exact projection of all f_i(X) == g_i(Y) when every pair ties Y to X at the same rate r.

    Each f_i gains 1 when x gains P_i, each g_i when y gains Q_i = r P_i, so the solutions are invariant
    under (x, y) -> (x + T, y + r T) for T a multiple of every P_i (and of the domains' moduli). Past x0,
    where every solution's y lies in Y's unbounded periodic tail, X is periodic with period T: one period
    after x0 decides it, and the values below x0 are enumerated. None when the result is not one periodic
    set (an irregular start), or T or x0 is past the budget."""
    x_sym, y_sym = pairs[0][0].sym, pairs[0][1].sym
    x_domain, y_domain = domains.get(x_sym, ALL), domains.get(y_sym, ALL)
    rates = {Fraction(g.period, f.period) for f, g in pairs}
    if len(rates) != 1:
        return None
    (r,) = rates
    x_tail, y_tail = _tail(x_domain), _tail(y_domain)
    if x_tail is None or y_tail is None:  # bounded sets are enumerated by joint_equalities
        return None
    (x_start, x_mod), (y_start, y_mod) = x_tail, y_tail
    period = math.lcm(x_mod, *(f.period for f, _ in pairs))
    for _ in range(y_mod):  # a multiple whose shift of y, r T, is a multiple of Y's modulus
        if (r * period).denominator == 1 and int(r * period) % y_mod == 0:
            break
        period += math.lcm(x_mod, *(f.period for f, _ in pairs))
    else:
        return None
    # y >= r x + a for every solution (the bands of _joint_limit): past x0 every y is in Y's tail
    low = max(g.period * (f.bounds()[0] - g.bounds()[1]) for f, g in pairs)
    x0 = max(x_start, 1, math.ceil((y_start - low) / r))
    if period > MAX_MODULUS or x0 + period > MAX_ENUMERATION:
        return None
    good = [
        x for x in range(1, x0 + period) if x_domain.contains(x) and not _window(pairs, x, y_domain).empty
    ]
    residues = frozenset(x % period for x in good if x >= x0)
    if not residues:
        return IntSet.of_values([x for x in good if x < x0]) if any(x < x0 for x in good) else EMPTY
    # one periodic set from the first member on, or nothing this representation can say
    first, members = good[0], set(good)
    if any((x in members) != (x % period in residues) for x in range(first, x0)):
        return None
    return IntSet(((first, None),), period, residues).normalised()

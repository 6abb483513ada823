"""Equations on sizes: the exact set of values of a symbol for which one constraint holds.

Constraints come from shape inference: a size must be at least 1 (or at least a kernel), an
assertion or a join makes two sizes equal, groups must divide a channel count. Every spatial size is
a monotone chain f with f(x + P) = f(x) + 1 (see expr.py), so:

- `f >= k` and `f == c` are intervals, found by binary search;
- `f == g` with the same period is periodic: its residues mod P, read off one period;
- `f == g` with different periods holds only on a bounded range, enumerated;
- `f % g == 0` is periodic with period P * g;
- a product of sizes equal to a constant (flatten into an asserted size) couples symbols: each
  factor must be a divisor, each divisor value has an interval of preimages.

Equalities between two symbols are in bivariate.py, the driver that combines all constraints in
admissible.py. Nothing is sampled or approximated; an answer is a list of inclusive ranges (and,
rarely, a congruence when an unbounded set is periodic).
"""

from __future__ import annotations

import math
from fractions import Fraction

from alexnet_dsl.analysis.intsets import (
    ALL,
    EMPTY,
    MAX_ENUMERATION,
    MAX_MODULUS,
    IntSet,
    TooLarge,
    spend,
)
from alexnet_dsl.ir import expr as E


def first_at_least(f: E.Univariate, k: int, lo: int) -> int | None:
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
    assert isinstance(f, (E.Chain, E.Min, E.Scaled)), f
    x = first_at_least(f, k, 1)
    return EMPTY if x is None else IntSet.at_least(x)


def equal_to(f: E.Size, c: int) -> IntSet | bool:
    """Values of f's symbol with f == c."""
    if isinstance(f, int):
        return f == c
    assert isinstance(f, (E.Chain, E.Min, E.Scaled)), f
    a = first_at_least(f, c, 1)
    if a is None or f.at(a) != c:
        return EMPTY
    b = first_at_least(f, c + 1, a)
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
    hi = first_at_least(f, base + 1, 0)  # f rises at hi (within one period): f(x) = base + 1 + (x - hi) // P
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
    univariate = (E.Chain, E.Min, E.Scaled)
    if not (isinstance(f, univariate) and isinstance(g, univariate) and f.sym == g.sym):
        return None
    if isinstance(f, E.Scaled) or isinstance(g, E.Scaled):
        return _scaled_equal(f, g, within)
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


def _rise(f: E.Univariate) -> int:
    return f.rise if isinstance(f, E.Scaled) else 1


def _periodic(test, period: int, within: IntSet | None) -> IntSet | None:
    """The x >= 1 with test(x), where test(x + period) == test(x) for every x >= 1: one period read."""
    if period > MAX_MODULUS:
        return None
    spend(period)
    residues = frozenset(x % period for x in range(1, period + 1) if test(x))
    if not residues:
        return EMPTY
    if len(residues) == period:
        return ALL
    found = IntSet(((1, None),), period, residues).normalised()
    return found if within is None else within.intersect(found)


def _scaled_equal(f: E.Univariate, g: E.Univariate, within: IntSet | None) -> IntSet | None:
    """f == g where one rises by more than 1 a period (an upsampled size against a skip connection's).

    Over L = lcm of the periods, f grows by rise(f) L / P and g by rise(g) L / Q: with equal slopes f - g
    repeats every L, read off one period; otherwise the linear bounds of f - g leave a bounded range of x
    where it can be 0, enumerated."""
    slope_f, slope_g = Fraction(_rise(f), f.period), Fraction(_rise(g), g.period)
    if slope_f == slope_g:
        return _periodic(lambda x: f.at(x) == g.at(x), math.lcm(f.period, g.period), within)
    (f_lo, f_hi), (g_lo, g_hi) = f.bounds(), g.bounds()
    # f - g lies in [x (sf - sg) + f_lo - g_hi, x (sf - sg) + f_hi - g_lo]: 0 only for x within
    lo_x, hi_x = sorted([(g_hi - f_lo) / (slope_f - slope_g), (g_lo - f_hi) / (slope_f - slope_g)])
    first, last = max(1, math.floor(lo_x)), math.ceil(hi_x)
    if last - first + 1 > MAX_ENUMERATION:
        return None
    spend(max(0, last - first + 1))
    return IntSet.of_values([x for x in range(first, last + 1) if f.at(x) == g.at(x)])


def divisible(f: E.Size, g: int, within: IntSet | None = None) -> IntSet | bool | None:
    """Values with f % g == 0; None when the period P * g is past MAX_MODULUS (and the answer is not trivial,
    and `within` is unbounded)."""
    if isinstance(f, int):
        return f % g == 0
    if isinstance(f, E.Scaled):  # f(x + P g) = f(x) + rise g
        return _periodic(lambda x: f.at(x) % g == 0, f.period * g, within)
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
    options = _options(by_sym, divs, target, domains)
    if options is None:
        return None
    feasible = _feasible(options, target, [q for q, _ in prime_factors])
    if feasible is None:
        return None
    # each option is the domain within some ranges, so the union of their ranges, within the domain, is their union
    return {
        s_: domains.get(s_, ALL).intersect(
            IntSet.union([r for v in feasible[s_] for r in options[s_][v].ranges])
        )
        if feasible[s_]
        else EMPTY
        for s_ in feasible
    }


def _options(
    by_sym: dict[str, list[E.Univariate]], divs: list[int], target: int, domains: dict[str, IntSet]
) -> dict[str, dict[int, IntSet]] | None:
    """For each symbol, the products its own factors take (a divisor of the target) and for which values;
    None when a symbol with several factors has more values to try than MAX_ENUMERATION in all."""
    budget = MAX_ENUMERATION
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
    return options


def _feasible(
    options: dict[str, dict[int, IntSet]], target: int, primes: list[int]
) -> dict[str, set[int]] | None:
    """Which values of each symbol's product are part of some combination with product `target` (the
    symbols with the fewest options first); None when the work budget runs out.

    ok(i, rest) says whether the symbols from i on can multiply to rest; only divisors of rest are tried,
    so the work is the number of ways to split the target, not a power of its number of divisors."""
    syms = sorted(options, key=lambda s_: len(options[s_]))

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
    return feasible

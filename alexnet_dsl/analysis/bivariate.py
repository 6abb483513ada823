"""Equalities between two symbols: f(X) == g(Y), alone or several between the same pair.

f and g step by 0 or 1, so the image of a range is a range, and each symbol keeps the preimage of the
other's image (exact projections); several such equalities between one pair are solved jointly by
enumerating a bounded symbol (a symbol is bounded when two equalities tie it to the other at different
rates), or, when all tie them at the same rate, as one periodic set.
"""

from __future__ import annotations

import math
from fractions import Fraction

from alexnet_dsl.analysis.equations import first_at_least
from alexnet_dsl.analysis.intsets import ALL, EMPTY, MAX_ENUMERATION, MAX_MODULUS, IntSet, spend
from alexnet_dsl.ir import expr as E


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
        lo = first_at_least(f, a, 1)
        if lo is None:
            continue
        end = None if b is None else first_at_least(f, b + 1, lo)
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
        window = _y_window(pairs, x, y_domain)
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


def _y_window(pairs: list[tuple[E.Univariate, E.Univariate]], x: int, y_domain: IntSet) -> IntSet:
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
        x for x in range(1, x0 + period) if x_domain.contains(x) and not _y_window(pairs, x, y_domain).empty
    ]
    residues = frozenset(x % period for x in good if x >= x0)
    if not residues:
        return IntSet.of_values([x for x in good if x < x0]) if any(x < x0 for x in good) else EMPTY
    # one periodic set from the first member on, or nothing this representation can say
    first, members = good[0], set(good)
    if any((x in members) != (x % period in residues) for x in range(first, x0)):
        return None
    return IntSet(((first, None),), period, residues).normalised()

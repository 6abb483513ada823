"""The solver's driver: the admissible set of each input symbol, from all the constraints shape inference
left, each solved exactly by equations.py (one symbol, products) or bivariate.py (two symbols).

A constraint on one symbol narrows that symbol's set. The rest are coupled: grouped into units that
narrow each other's sets until nothing changes, searched exhaustively where they form a cycle, and
said in a note (N0501) where a set may hold more than the exact answer.
"""

from __future__ import annotations

import math

from alexnet_dsl import ir
from alexnet_dsl.analysis.bivariate import coupled_equal, joint_equalities, periodic_projection
from alexnet_dsl.analysis.equations import at_least, divisible, equal, product_equal
from alexnet_dsl.analysis.intsets import ALL, EMPTY, MAX_ENUMERATION, IntSet, TooLarge, spend, work_budget
from alexnet_dsl.analysis.shapes import Constraint
from alexnet_dsl.diagnostics import Diagnostic, error, note
from alexnet_dsl.ir import expr as E

_MAX_ROUNDS = 50
_SUPERSET = "each set is a superset: it may hold values that no choice of the others completes"


def solve(
    net: ir.Network, constraints: list[Constraint]
) -> tuple[dict[str, IntSet], list[Diagnostic], list[Constraint]]:
    """The admissible set of each input symbol: the values for which the whole network checks (with
    several symbols, for which some choice of the others works); an error where a set becomes empty;
    and the constraints on several symbols (or not decided statically), which run-time checks must
    evaluate. Exact, except where a note says a set is a superset (a work budget ran out)."""
    symbols = list(net.symbols)
    sets: dict[str, IntSet] = {s: ALL for s in symbols}
    batch = net.batch if isinstance(net.batch, str) else None
    if batch and batch not in sets:
        sets[batch] = ALL
    diags: list[Diagnostic] = []
    coupled: list[Constraint] = []
    emptied: set[str] = set()  # symbols left without a value: reported once, their other constraints skipped
    for c in constraints:
        syms = _symbols(c)
        if syms & emptied:
            continue
        try:
            with work_budget():
                result = _one(c)
                if isinstance(result, IntSet):
                    (sym,) = syms  # _one solves constraints on one symbol
                    before = sets.get(sym, ALL)
                    after = before.intersect(result)
        except TooLarge:  # too costly alone: the coupled solver enumerates it over the final sets, or says so
            result = None
        if result is None:
            coupled.append(c)
            continue
        if isinstance(result, bool):
            if not result:
                diags.append(_empty(c, None, None))
                emptied.add("")
            continue
        if after.empty:
            diags.append(_empty(c, sym, before))
            emptied.add(sym)
        sets[sym] = after
    diags += _solve_coupled(coupled, sets, emptied)
    if emptied:  # one symbol without a value: no input at all makes the whole network check
        sets = {s: EMPTY for s in sets}
        diags = [d for d in diags if d.code != "N0501"]
    if batch and batch not in symbols:
        sets.pop(batch, None)
    return {s: sets[s] for s in symbols if s in sets}, diags, coupled


def _one(c: Constraint) -> IntSet | bool | None:
    """A constraint on one symbol solved alone; None for the coupled solver (several symbols, a sum or
    a product)."""
    if len(_symbols(c)) != 1 or isinstance(c.lhs, (E.Sum, E.Prod)) or isinstance(c.rhs, (E.Sum, E.Prod)):
        return None  # products and sums go to the coupled solver
    if c.kind == "ge":
        assert isinstance(c.rhs, int)
        return at_least(c.lhs, c.rhs)
    if c.kind == "div":
        assert isinstance(c.rhs, int)
        return divisible(c.lhs, c.rhs)
    return equal(c.lhs, c.rhs)


def _symbols(c: Constraint) -> set[str]:
    return E.symbols(c.lhs) | (E.symbols(c.rhs) if not isinstance(c.rhs, int) else set())


def _empty(c: Constraint, sym: str | None, before: IntSet | None) -> Diagnostic:
    """The error of a constraint no input size meets (E0308)."""
    notes = []
    if sym is not None and before is not None:
        where = f"`{c.layer.display_name}`" if c.layer is not None else "the declared output"
        notes.append(f"before {where}, the constraints on `{sym}` alone allow {before.describe(sym)}")
    return error(
        "E0308",
        f"no input size works here: {c.what}",
        c.span,
        notes=tuple(notes),
        helps=("change the layer's arguments or the asserted sizes",),
    )


# ---------------------------------------------------------------------------- coupled constraints


def _solve_coupled(coupled: list[Constraint], sets: dict[str, IntSet], emptied: set[str]) -> list[Diagnostic]:
    """Narrow `sets` (in place) by the constraints on several symbols (and those too costly to solve alone);
    their errors and notes. Adds to `emptied` the symbols left without a value.

    A unit is one constraint, or all the equalities between the same two symbols (solved jointly: each
    alone may allow more than all together). Units narrow each other's sets until nothing changes; each
    unit's projection is exact, so the result is exact when the units do not form a cycle through their
    symbols (then consistency of each unit is consistency of all). Cycles are searched exhaustively
    within the work budget; what stays inexact is said in a note."""
    run = _Coupled(coupled, sets, emptied)
    run.narrow()
    if emptied or not run.search_cycle():
        return run.diags
    return run.diags + run.notes()


class _Coupled:
    """One run of `_solve_coupled`: its units, the sets they narrow, and why a unit's sets may be too large."""

    def __init__(self, coupled: list[Constraint], sets: dict[str, IntSet], emptied: set[str]) -> None:
        self.coupled, self.sets, self.emptied = coupled, sets, emptied
        self.units = _units(coupled)
        self.unit_symbols = [set().union(*(_symbols(coupled[i]) for i in unit)) for unit in self.units]
        self.inexact: dict[int, str] = {}  # unit -> why its sets may be too large
        self.diags: list[Diagnostic] = []

    def narrow(self) -> None:
        """Narrow the sets by each unit's exact projection, round after round, until nothing changes."""
        dirty = set(range(len(self.units)))
        for _ in range(_MAX_ROUNDS):
            if not dirty:
                break
            changed: set[str] = set()
            for u in sorted(dirty):
                if self.unit_symbols[u] & self.emptied:
                    continue
                members = [self.coupled[i] for i in self.units[u]]
                parts, why = _project(members, self.sets)
                if why:
                    self.inexact[u] = why
                else:  # exact now, whatever an earlier round with larger sets found
                    self.inexact.pop(u, None)
                if parts is not None:
                    changed |= self.apply(u, members, parts)
            dirty = {u for u, syms in enumerate(self.unit_symbols) if syms & changed}
        for u in dirty:  # the sets kept shrinking: what is left is a superset
            self.inexact.setdefault(u, f"narrowing the sets did not settle within {_MAX_ROUNDS} rounds")

    def apply(self, u: int, members: list[Constraint], parts: dict[str, IntSet]) -> set[str]:
        """Intersect the sets with a unit's projection; the symbols whose set changed."""
        changed: set[str] = set()
        for sym, values in parts.items():
            before = self.sets.get(sym, ALL)
            try:
                with work_budget():
                    after = before.intersect(values) if sym else EMPTY
            except TooLarge:
                self.inexact[u] = "the joint condition has a period too long to write down"
                continue
            if after.empty:
                self.diags.append(_empty(members[-1], sym or None, before))
                self.emptied.add(sym)
                self.sets[sym] = EMPTY
                break
            if after != before:
                self.sets[sym] = after
                changed.add(sym)
        return changed

    def search_cycle(self) -> bool:
        """Search the exact units that lie on a cycle exhaustively; False when a set comes out empty
        (its error is reported)."""
        units, coupled = self.units, self.coupled
        cyclic = _cycle(self.unit_symbols, [u for u in range(len(units)) if u not in self.inexact])
        if not cyclic:
            return True
        try:
            with work_budget():
                found = _search([coupled[i] for u in cyclic for i in units[u]], self.sets)
        except TooLarge:
            found = None
        if found is None:
            why = "constraints tie these symbols in a cycle and searching it would exceed the work budget"
            for u in cyclic:
                self.inexact.setdefault(u, why)
            return True
        for sym, values in found.items():
            if values.empty:
                self.diags.append(_empty(coupled[units[cyclic[-1]][-1]], sym, self.sets.get(sym, ALL)))
                self.emptied.add(sym)
                self.sets[sym] = EMPTY
                return False
            self.sets[sym] = values
        return True

    def notes(self) -> list[Diagnostic]:
        """A note (N0501) on each constraint between several symbols, or whose sets may be too large."""
        out = []
        for u in range(len(self.units)):
            for i in self.units[u]:
                c = self.coupled[i]
                syms = sorted(_symbols(c))
                if u in self.inexact:
                    why = (
                        self.inexact[u],
                        _SUPERSET + "; the compiled module checks the constraint on each input",
                    )
                elif len(syms) > 1:
                    why = ("each admissible set holds the values for which some choice of the others works",)
                else:
                    continue
                what = (
                    f"{' and '.join(f'`{s}`' for s in syms)} are coupled: {c.what}"
                    if len(syms) > 1
                    else f"not decided exactly: {c.what}"
                )
                out.append(note("N0501", what, c.span, notes=why))
        return out


def _units(coupled: list[Constraint]) -> list[list[int]]:
    """Constraint indices grouped: equalities between the same two symbols together, the rest alone."""
    units: list[list[int]] = []
    pairs: dict[tuple[str, ...], int] = {}
    for i, c in enumerate(coupled):
        syms = tuple(sorted(_symbols(c)))
        if c.kind == "eq" and len(syms) == 2 and all(isinstance(e, (E.Chain, E.Min)) for e in (c.lhs, c.rhs)):
            if syms in pairs:
                units[pairs[syms]].append(i)
                continue
            pairs[syms] = len(units)
        units.append([i])
    return units


def _project(members: list[Constraint], sets: dict[str, IntSet]) -> tuple[dict[str, IntSet] | None, str]:
    """The values of each symbol of a unit that some choice of the others allows, and why they may be too
    many ('' when exact). None when the unit cannot narrow the sets at all."""
    # the same equality stated twice (two assertions of one size) is one constraint
    members = list({frozenset((c.lhs, c.rhs)): c for c in members}.values())
    try:
        with work_budget():
            parts = _exact_projection(members, sets)
        if parts is not None:
            return parts, ""
    except TooLarge:
        pass
    try:  # over bounded sets, every combination can be tried
        with work_budget():
            found = _search(members, sets, MAX_ENUMERATION)
        if found is not None:
            return found, ""
    except TooLarge:
        pass
    if len(members) > 1:  # each equality alone is still exact: a superset of all together
        return _each_alone(members, sets), (
            "several constraints couple these symbols at the same rate and their sets are unbounded: "
            "each set holds the values that every constraint allows on its own, which may be more "
            "than all allow together"
        )
    return None, "its sets are unbounded or too large to enumerate, so they do not take it into account"


def _exact_projection(members: list[Constraint], sets: dict[str, IntSet]) -> dict[str, IntSet] | None:
    """A unit's exact projections by the equation solvers; None when they cannot say."""
    if len(members) == 1:
        return _coupled(members[0], sets)
    syms = sorted(_symbols(members[0]))
    for x_sym in syms:
        joint = joint_equalities(_pairs(members, x_sym), sets)
        if joint is not None:
            return joint
    # the same rate for all: the solutions repeat, and each projection is periodic
    parts = {x_sym: periodic_projection(_pairs(members, x_sym), sets) for x_sym in syms}
    return parts if all(v is not None for v in parts.values()) else None  # type: ignore[return-value]


def _pairs(members: list[Constraint], x_sym: str) -> list[tuple[E.Univariate, E.Univariate]]:
    """The equalities of a unit between two symbols, each as (the side of `x_sym`, the other side)."""
    return [(c.lhs, c.rhs) if c.lhs.sym == x_sym else (c.rhs, c.lhs) for c in members]  # type: ignore[union-attr, misc]


def _each_alone(members: list[Constraint], sets: dict[str, IntSet]) -> dict[str, IntSet]:
    """The values each equality of a unit allows on its own, intersected: a superset of the exact answer."""
    parts: dict[str, IntSet] = {}
    for c in members:
        try:
            with work_budget():
                one = _coupled(c, {**sets, **parts})
        except TooLarge:
            one = None
        for sym, values in (one or {}).items():
            parts[sym] = parts.get(sym, sets.get(sym, ALL)).intersect(values)
    return parts


def _coupled(c: Constraint, sets: dict[str, IntSet]) -> dict[str, IntSet] | None:
    """The values of each symbol of a constraint on several symbols that some choice of the others allows;
    for a constraint on one symbol that was too costly alone, its values within the symbol's set."""
    syms = _symbols(c)
    if len(syms) == 1 and not any(isinstance(e, (E.Sum, E.Prod)) for e in (c.lhs, c.rhs)) and c.kind != "ge":
        sym = next(iter(syms))
        one = (
            equal(c.lhs, c.rhs, sets.get(sym, ALL))
            if c.kind == "eq"
            else divisible(c.lhs, c.rhs, sets.get(sym, ALL))  # type: ignore[arg-type]
        )
        return None if one is None else {sym: one if isinstance(one, IntSet) else ALL if one else EMPTY}
    if c.kind != "eq":
        return None
    if isinstance(c.rhs, int):
        return product_equal(c.lhs, c.rhs, sets)
    if isinstance(c.lhs, int):
        return product_equal(c.rhs, c.lhs, sets)
    return coupled_equal(c.lhs, c.rhs, sets)


def _search(
    members: list[Constraint], sets: dict[str, IntSet], limit: int | None = None
) -> dict[str, IntSet] | None:
    """Exact projections of the solutions of `members`, by trying every combination of values (pruned:
    a constraint is checked as soon as its symbols have values). None when a set is unbounded or the
    combinations are more than `limit`; counts its work, so TooLarge when the search is too large."""
    syms = sorted(set().union(*(_symbols(c) for c in members)))
    domains = {s: sets.get(s, ALL) for s in syms}
    counts = {s: d.count() for s, d in domains.items()}
    if any(n is None for n in counts.values()):
        return None
    if limit is not None and math.prod(counts.values()) > limit:  # type: ignore[arg-type]
        return None
    syms.sort(key=lambda s: counts[s])  # type: ignore[arg-type, return-value]
    values = {s: domains[s].members() for s in syms}
    ready = [
        [c for c in members if _symbols(c) <= set(syms[: k + 1]) and s in _symbols(c)]
        for k, s in enumerate(syms)
    ]
    found: dict[str, set[int]] = {s: set() for s in syms}
    env: dict[str, int] = {}

    def assign(k: int) -> None:
        if k == len(syms):
            for s in syms:
                found[s].add(env[s])
            return
        for v in values[syms[k]]:
            spend(1 + len(ready[k]))
            env[syms[k]] = v
            if all(c.holds(env) for c in ready[k]):
                assign(k + 1)
        env.pop(syms[k], None)

    assign(0)
    return {s: IntSet.of_values(sorted(xs)) if xs else EMPTY for s, xs in found.items()}


def _cycle(unit_symbols: list[set[str]], live: list[int]) -> list[int]:
    """The units that lie on a cycle through shared symbols, with every unit in their component (empty when
    the units form a forest: then their exact projections are the exact answer)."""
    parent: dict[object, object] = {}

    def root(x: object) -> object:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    cyclic_roots = set()
    multi = [u for u in live if len(unit_symbols[u]) > 1]
    for u in multi:
        for s in unit_symbols[u]:
            a, b = root(("u", u)), root(("s", s))
            if a == b:
                cyclic_roots.add(a)
            else:
                parent[a] = b
    cyclic_roots = {root(r) for r in cyclic_roots}
    return [u for u in multi if root(("u", u)) in cyclic_roots]

"""The checking pipeline: text -> tree -> IR -> shapes -> admissible sizes, as one `Analysis`.

    parse.parse -> lower.lower -> shapes.infer -> solve (here)

Each stage only reads what the one before produced. This module imports neither torch nor numpy.
"""

from __future__ import annotations

import contextlib
import gc
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from alexnet_dsl import ir
from alexnet_dsl.analysis.shapes import (
    Constraint,
    LayerInfo,
    Shape,
    argument_edit,
    exact_inputs,
    infer,
    input_shape,
    one_error_per_assertion,
)
from alexnet_dsl.analysis.solve import (
    ALL,
    EMPTY,
    MAX_ENUMERATION,
    IntSet,
    TooLarge,
    at_least,
    coupled_equal,
    divisible,
    equal,
    joint_equalities,
    periodic_projection,
    product_equal,
    spend,
    work_budget,
)
from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite, apply_edits, error, note, sort_key
from alexnet_dsl.frontend.lower import lower
from alexnet_dsl.frontend.parse import parse
from alexnet_dsl.ir import expr as E
from alexnet_dsl.source import Source


@dataclass
class Analysis:
    source: Source
    network: ir.Network | None = None
    infos: list[LayerInfo] = field(default_factory=list)
    output: Shape | None = None
    admissible: dict[str, IntSet] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # constraints between several symbols: the admissible sets are their projections, so compiled
    # modules check these on each input's actual sizes
    couplings: list[Constraint] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def params(self) -> int | None:
        """Trainable parameters; None when unknown (an unbound symbol, or no network was read)."""
        return _total(i.params for i in self.infos) if self.network is not None else None

    @property
    def macs(self) -> int | None:
        return _total(i.macs for i in self.infos) if self.network is not None else None

    def to_json(self) -> dict:
        net = self.network
        return {
            "file": self.source.path,
            "network": net.name if net else None,
            "ok": self.ok,
            "input": [_dim_json(d) for d in net.input_dims] if net else None,
            "output": [_dim_json(d) for d in self.output] if self.output is not None else None,
            "params": self.params,
            "macs": self.macs,
            "layers": [
                {
                    "name": i.layer.display_name,
                    "op": ir.op_name(i.layer.op),
                    "shape": [_dim_json(d) for d in i.shape] if i.shape is not None else None,
                    "params": i.params,
                    "macs": i.macs,
                    "activation_bytes": i.activation_bytes,
                    "line": i.layer.span.line,
                    "inputs": [n.split("'")[0] for n in i.layer.inputs],
                }
                for i in self.infos
            ],
            "admissible": {s: v.to_json() for s, v in self.admissible.items()},
            **(
                {
                    "admissible_modulo": {
                        s: {"modulus": v.mod, "residues": sorted(v.residues)}
                        for s, v in self.admissible.items()
                        if v.mod > 1
                    }
                }
                if any(v.mod > 1 for v in self.admissible.values())
                else {}
            ),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


def _dim_json(d) -> int | str | None:
    if d is None:
        return None
    if isinstance(d, (int, str)):
        return d
    return E.show(d)


def _total(values) -> int | None:
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


# ---------------------------------------------------------------------------- entry points


def check_file(path: str | Path) -> Analysis:
    """Check a spec file (raises OSError when it cannot be read)."""
    return check_source(Source.from_file(path))


def check_text(text: str, path: str = "<string>") -> Analysis:
    return check_source(Source(path, text))


@contextlib.contextmanager
def _no_cyclic_gc():
    """Checking builds many small acyclic objects; the cyclic collector re-scanning them all makes
    large specs quadratic (100,000 layers: 27 s with it, 9 s without). Reference counting frees
    them either way."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_source(source: Source) -> Analysis:
    """Check a spec: parse, lower, infer shapes, solve for admissible sizes."""
    with _no_cyclic_gc():
        analysis = _check(source)
        analysis.diagnostics = verify_rewrites(source, analysis.diagnostics)
        return analysis


def _check(source: Source, helps: bool = True) -> Analysis:
    """The pipeline; without `helps`, the E0301/E0302 helps that re-check the network are not worked out
    (a rewrite's re-check only counts errors: see `_errors_after`)."""
    analysis = Analysis(source)
    tree, diags = parse(source)
    if tree is None:
        analysis.diagnostics = diags
        return analysis
    net, diags = lower(tree, source)
    analysis.network = net
    if net is None:
        analysis.diagnostics = sorted(diags, key=sort_key)
        return analysis
    result = infer(net, inverse_help=_inverse_help(net))
    analysis.infos = result.infos
    analysis.output = result.output
    sets, solve_diags, analysis.couplings = solve(net, result.constraints)
    solve_diags = one_error_per_assertion(net, solve_diags)
    analysis.admissible = sets
    shape_diags = result.diagnostics + solve_diags
    if helps and any(d.code == "E0302" for d in shape_diags):
        shape_diags = _output_rewrites(net, result.infos, shape_diags)
    if helps and any(d.code in ("E0301", "E0302") for d in shape_diags):
        shape_diags = _with_global_help(net, shape_diags)
    analysis.diagnostics = sorted(diags + shape_diags, key=sort_key)
    return analysis


def bind(analysis: Analysis, sizes: dict[str, int]) -> Analysis:
    """The same spec with some input symbols replaced by sizes, checked again."""
    net = analysis.network
    assert net is not None
    known = set(net.symbols)
    if isinstance(net.batch, str) and net.batch in sizes and net.batch not in known:
        raise ValueError(f"`{net.batch}` is the batch size: it stays free and is not bound at compile time")
    unknown = sorted(set(sizes) - known)
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a symbol of `{net.name}`'s input"
            + (f"; its symbols are {', '.join(sorted(known))}" if known else "; it has no symbols")
        )
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"size {name}={value!r} must be a positive integer")

    bound = _bound(analysis, sizes)
    # the input's sizes are the ones bound: `_sizes_help` says which work, not a rewrite of the header
    header = set(net.input_dim_spans)
    bound.diagnostics = [
        replace(d, rewrites=tuple(r for r in d.rewrites if not any(e.span in header for e in r.edits)))
        if d.rewrites
        else d
        for d in bound.diagnostics
    ]
    first = next((i for i, d in enumerate(bound.diagnostics) if d.is_error), None)
    if first is not None:  # say it in terms of the sizes that were bound, not only of the layer
        d = bound.diagnostics[first]
        bound.diagnostics[first] = replace(d, helps=(*d.helps, *_sizes_help(analysis, sizes)))
    bound.diagnostics = verify_rewrites(analysis.source, bound.diagnostics, sizes)
    return bound


def _bound(analysis: Analysis, sizes: dict[str, int]) -> Analysis:
    """`bind` without its help on the sizes and without verifying the helps' rewrites."""
    net = analysis.network
    assert net is not None

    def substitute(a: ir.Assertion | None) -> ir.Assertion | None:  # assertions name the symbols too
        return (
            a
            if a is None
            else replace(a, dims=tuple(sizes.get(d, d) if isinstance(d, str) else d for d in a.dims))
        )

    dims = tuple(sizes.get(d, d) if isinstance(d, str) else d for d in net.input_dims)
    layers = tuple(
        replace(la, assertions=tuple(substitute(a) for a in la.assertions)) if la.assertions else la
        for la in net.layers
    )
    bound = replace(net, input_dims=dims, layers=layers, output=substitute(net.output))
    result = infer(bound, inverse_help=_inverse_help(bound))
    sets, solve_diags, couplings = solve(bound, result.constraints)
    solve_diags = one_error_per_assertion(bound, solve_diags)
    diags = sorted(result.diagnostics + solve_diags, key=sort_key)
    return Analysis(
        source=analysis.source,
        network=bound,
        infos=result.infos,
        output=result.output,
        admissible=sets,
        diagnostics=diags,
        couplings=couplings,
    )


def _sizes_help(analysis: Analysis, sizes: dict[str, int]) -> list[str]:
    """Which values of each bound size work together with the other bound sizes: with H and W coupled,
    `H=8, W=9` is answered with the W that work with H=8, not with every W some H allows. A proposed
    value is shown only once the spec bound with it (the nearest one) checks."""
    accepts: list[str] = []
    helps: list[str] = []
    for name, value in sizes.items():
        alone = analysis.admissible.get(name)
        if alone is None:
            continue
        others = {k: v for k, v in sizes.items() if k != name}
        values = _bound(analysis, others).admissible.get(name, alone) if others else alone
        if values.contains(value):
            continue
        given = f" with {', '.join(f'{k}={v}' for k, v in others.items())}" if values != alone else ""
        if values.empty:
            helps.append(f"no {name} works{given}")
            continue
        nearest = _nearest(values, value)
        if nearest is not None and _bound(analysis, {**sizes, name: nearest}).ok:
            accepts.append(f"{name} in {values.describe(name)}{given}, not {value}")
    return (["the spec accepts " + "; ".join(accepts)] if accepts else []) + helps


# ---------------------------------------------------------------------------- solving


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


_MAX_ROUNDS = 50
_SUPERSET = "each set is a superset: it may hold values that no choice of the others completes"


def _solve_coupled(coupled: list[Constraint], sets: dict[str, IntSet], emptied: set[str]) -> list[Diagnostic]:
    """Narrow `sets` (in place) by the constraints on several symbols (and those too costly to solve alone);
    their errors and notes. Adds to `emptied` the symbols left without a value.

    A unit is one constraint, or all the equalities between the same two symbols (solved jointly: each
    alone may allow more than all together). Units narrow each other's sets until nothing changes; each
    unit's projection is exact, so the result is exact when the units do not form a cycle through their
    symbols (then consistency of each unit is consistency of all). Cycles are searched exhaustively
    within the work budget; what stays inexact is said in a note."""
    diags: list[Diagnostic] = []
    units = _units(coupled)
    unit_symbols = [set().union(*(_symbols(coupled[i]) for i in unit)) for unit in units]
    inexact: dict[int, str] = {}  # unit -> why its sets may be too large
    dirty = set(range(len(units)))
    for _ in range(_MAX_ROUNDS):
        if not dirty:
            break
        changed: set[str] = set()
        for u in sorted(dirty):
            members = [coupled[i] for i in units[u]]
            if unit_symbols[u] & emptied:
                continue
            parts, why = _project(members, sets)
            if why:
                inexact[u] = why
            else:  # exact now, whatever an earlier round with larger sets found
                inexact.pop(u, None)
            if parts is None:
                continue
            for sym, values in parts.items():
                before = sets.get(sym, ALL)
                try:
                    with work_budget():
                        after = before.intersect(values) if sym else EMPTY
                except TooLarge:
                    inexact[u] = "the joint condition has a period too long to write down"
                    continue
                if after.empty:
                    diags.append(_empty(members[-1], sym or None, before))
                    emptied.add(sym)
                    sets[sym] = EMPTY
                    break
                if after != before:
                    sets[sym] = after
                    changed.add(sym)
        dirty = {u for u, syms in enumerate(unit_symbols) if syms & changed}
    for u in dirty:  # the sets kept shrinking: what is left is a superset
        inexact.setdefault(u, f"narrowing the sets did not settle within {_MAX_ROUNDS} rounds")
    if emptied:
        return diags
    cyclic = _cycle(unit_symbols, [u for u in range(len(units)) if u not in inexact])
    if cyclic:
        try:
            with work_budget():
                found = _search([coupled[i] for u in cyclic for i in units[u]], sets)
        except TooLarge:
            found = None
        if found is None:
            for u in cyclic:
                inexact.setdefault(
                    u,
                    "constraints tie these symbols in a cycle and searching it would exceed the work budget",
                )
        else:
            for sym, values in found.items():
                if values.empty:
                    diags.append(_empty(coupled[units[cyclic[-1]][-1]], sym, sets.get(sym, ALL)))
                    emptied.add(sym)
                    sets[sym] = EMPTY
                    return diags
                sets[sym] = values
    for u in range(len(units)):
        for i in units[u]:
            c = coupled[i]
            syms = sorted(_symbols(c))
            if u in inexact:
                why = (inexact[u], _SUPERSET + "; the compiled module checks the constraint on each input")
            elif len(syms) > 1:
                why = ("each admissible set holds the values for which some choice of the others works",)
            else:
                continue
            what = (
                f"{' and '.join(f'`{s}`' for s in syms)} are coupled: {c.what}"
                if len(syms) > 1
                else f"not decided exactly: {c.what}"
            )
            diags.append(note("N0501", what, c.span, notes=why))
    return diags


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
            if len(members) > 1:
                for x_sym in sorted(_symbols(members[0])):
                    pairs = [
                        (c.lhs, c.rhs) if c.lhs.sym == x_sym else (c.rhs, c.lhs)  # type: ignore[union-attr]
                        for c in members
                    ]
                    joint = joint_equalities(pairs, sets)  # type: ignore[arg-type]
                    if joint is not None:
                        return joint, ""
                # the same rate for all: the solutions repeat, and each projection is periodic
                syms = sorted(_symbols(members[0]))
                parts = {}
                for x_sym in syms:
                    pairs = [
                        (c.lhs, c.rhs) if c.lhs.sym == x_sym else (c.rhs, c.lhs)  # type: ignore[union-attr]
                        for c in members
                    ]
                    parts[x_sym] = periodic_projection(pairs, sets)  # type: ignore[arg-type]
                if all(v is not None for v in parts.values()):
                    return parts, ""  # type: ignore[return-value]
            else:
                parts = _coupled(members[0], sets)
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
        parts = {}
        for c in members:
            try:
                with work_budget():
                    one = _coupled(c, {**sets, **parts})
            except TooLarge:
                one = None
            for sym, values in (one or {}).items():
                parts[sym] = parts.get(sym, sets.get(sym, ALL)).intersect(values)
        return parts, (
            "several constraints couple these symbols at the same rate and their sets are unbounded: "
            "each set holds the values that every constraint allows on its own, which may be more "
            "than all allow together"
        )
    return None, "its sets are unbounded or too large to enumerate, so they do not take it into account"


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


def _coupled(c: Constraint, sets: dict[str, IntSet]) -> dict[str, IntSet] | None:
    """The values of each symbol of a constraint on several symbols that some choice of the others allows;
    for a constraint on one symbol that was too costly alone, its values within the symbol's set."""
    syms = _symbols(c)
    if len(syms) == 1 and not any(isinstance(e, (E.Sum, E.Prod)) for e in (c.lhs, c.rhs)) and c.kind != "ge":
        sym = next(iter(syms))
        one = (
            equal(c.lhs, c.rhs, sets.get(sym, ALL))
            if c.kind == "eq"
            else divisible(c.lhs, c.rhs, sets.get(sym, ALL))
        )  # type: ignore[arg-type]
        return None if one is None else {sym: one if isinstance(one, IntSet) else ALL if one else EMPTY}
    if c.kind != "eq":
        return None
    if isinstance(c.rhs, int):
        return product_equal(c.lhs, c.rhs, sets)
    if isinstance(c.lhs, int):
        return product_equal(c.rhs, c.lhs, sets)
    return coupled_equal(c.lhs, c.rhs, sets)


def _symbols(c: Constraint) -> set[str]:
    return E.symbols(c.lhs) | (E.symbols(c.rhs) if not isinstance(c.rhs, int) else set())


def _one(c: Constraint) -> IntSet | bool | None:
    syms = E.symbols(c.lhs) | (E.symbols(c.rhs) if not isinstance(c.rhs, int) else set())
    if len(syms) != 1 or isinstance(c.lhs, (E.Sum, E.Prod)) or isinstance(c.rhs, (E.Sum, E.Prod)):
        return None  # products and sums go to the coupled solver
    if c.kind == "ge":
        assert isinstance(c.rhs, int)
        return at_least(c.lhs, c.rhs)
    if c.kind == "div":
        assert isinstance(c.rhs, int)
        return divisible(c.lhs, c.rhs)
    return equal(c.lhs, c.rhs)


def _empty(c: Constraint, sym: str | None, before: IntSet | None) -> Diagnostic:
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


# ---------------------------------------------------------------------------- help for assertions


def _inverse_help(net: ir.Network):
    """For a failed assertion on a conv/pool layer: the single-argument changes (padding, stride or
    kernel) that give the asserted size, and the input sizes that do. Each proposal is a Rewrite, shown
    only once the rewritten spec checks (verify_rewrites); for a layer inside the network the input size
    is not something to write, so it becomes a note, and only when no argument change fits."""

    def make(layer: ir.Layer, info: LayerInfo, ins):
        def helps(bad: list[int], stated: Shape) -> list[str | Rewrite]:
            shape = ins[0] if ins else None
            if shape is None or len(shape) != 4:
                return []
            arguments = _argument_rewrites(layer, shape, bad, stated)
            found: dict[int, tuple[int | None, int, int | None]] = {}
            for i in bad:
                if i < 2 or not isinstance(stated[i], int):
                    continue
                r = exact_inputs(layer, i - 2, stated[i])  # type: ignore[arg-type]
                if r is not None and not r.empty:
                    lo, hi = r.ranges[0]
                    found[i] = (_exact_value(layer, i - 2, lo, hi), lo, hi)
            if not found:
                return list(arguments)
            direct = layer.inputs[:1] == (net.input_name,)
            if not direct and arguments:
                return list(arguments)
            what = "an input" if direct else f"an input to `{layer.display_name}`"
            if len(found) == 2 and found[2] == found[3] and stated[2] == stated[3]:
                groups = [("", (2, 3))]
            else:
                groups = [(f" {('height', 'width')[i - 2]}", (i,)) for i in sorted(found)]
            out: list[str | Rewrite] = list(arguments)
            for word, axes in groups:
                exact, lo, hi = found[axes[0]]
                size = f"{stated[axes[0]]}x{stated[axes[0]]}" if not word else f"{stated[axes[0]]}"
                given = f"{exact}x{exact}" if not word and exact is not None else f"{exact}"
                text = f"{what}{word} of {given} gives {size} exactly; " if exact is not None else ""
                text += (
                    f"{lo}..{hi} give {stated[axes[0]]}" if hi != lo else f"only {lo} gives {stated[axes[0]]}"
                )
                if not direct:
                    out.append(text)  # a fact about the layer, not an edit: a note
                    continue
                value = exact if exact is not None else lo
                edits = tuple(
                    Edit(net.input_dim_spans[i], str(value)) for i in axes if i < len(net.input_dim_spans)
                )
                if len(edits) == len(axes):
                    out.append(Rewrite(text, edits))
            return out

        return helps

    return make


_LARGEST_ARGUMENT = 64  # the largest padding, stride or kernel a help proposes


def _argument_rewrites(layer: ir.Layer, shape: Shape, bad: list[int], stated: Shape) -> list[Rewrite]:
    """The padding, stride or kernel (one argument, the value nearest the written one on each axis) that
    gives a conv/pool layer the asserted height and width, or the filters that give a conv the asserted
    channels; alternatives, of which the best verified is shown.

    A conv that forgot its padding (`conv(384, kernel=3)` asserted 13x13 on 13x13) gets `padding=1`."""
    op = layer.op
    if layer.instance or not isinstance(op, (ir.Conv, ir.Pool)) or not bad:
        return []  # inside a block the written value may be a parameter
    if (
        bad == [1] and isinstance(op, ir.Conv) and isinstance(stated[1], int)
    ):  # a conv's channels: its filters
        edit = argument_edit(layer, "filters", str(stated[1]))
        return (
            [
                Rewrite(
                    f"with {stated[1]} filters, `{layer.display_name}` gives the asserted {stated[1]} channels",
                    (edit,),
                    group="argument",
                )
            ]
            if edit is not None
            else []
        )
    if isinstance(op.padding, str) or any(i < 2 for i in bad):
        return []
    sizes, targets = shape[2:4], stated[2:4]
    if not all(isinstance(x, int) for x in (*sizes, *targets)):
        return []
    name = layer.display_name
    out: list[Rewrite] = []
    for key in ("padding", "stride", "kernel"):
        written: tuple[int, int] = getattr(op, key)
        values = list(written)
        for dim in range(2):
            if _window_out(op, dim, sizes[dim], {key: values[dim]}) == targets[dim]:  # type: ignore[arg-type]
                continue
            lo = 0 if key == "padding" else 1
            hi = _LARGEST_ARGUMENT
            if (
                key == "padding"
            ):  # PyTorch pools allow at most half the kernel; more than the kernel is no conv's
                hi = min(hi, op.kernel[dim] // 2 if isinstance(op, ir.Pool) else op.kernel[dim])
            fits = [
                v for v in range(lo, hi + 1) if _window_out(op, dim, sizes[dim], {key: v}) == targets[dim]
            ]  # type: ignore[arg-type]
            if not fits:
                break
            # a value that divides exactly (no rows dropped: no W0401 brought in), then the nearest written:
            # `conv(96, kernel=1, stride=4)` asserted 55 on 227 is `kernel=11`, not `kernel=8`
            values[dim] = min(
                fits, key=lambda v, w=written[dim], d=dim: (_drops(op, d, sizes[d], {key: v}), abs(v - w), v)
            )  # type: ignore[arg-type]
        else:
            if tuple(values) == written:
                continue
            text = str(values[0]) if values[0] == values[1] else f"({values[0]}, {values[1]})"
            if isinstance(op, ir.Pool) and key == "kernel" and "stride" not in dict(layer.arg_spans):
                # a pool's stride defaults to its kernel: keep the stride it had
                s0, s1 = op.stride
                text += f", stride={s0 if s0 == s1 else f'({s0}, {s1})'}"
            edit = argument_edit(layer, key, text)
            if edit is not None:
                out.append(
                    Rewrite(
                        f"with `{key}={text}`, `{name}` gives {targets[0]}x{targets[1]} as asserted",
                        (edit,),
                        group="argument",
                    )
                )
    return out


def _window_out(op: ir.Conv | ir.Pool, dim: int, size: int, change: dict[str, int]) -> int:
    """A window's output size on one axis with one argument changed (the rule of shapes._window)."""
    k = change.get("kernel", op.kernel[dim])
    s = change.get("stride", op.stride[dim])
    p = change.get("padding", op.padding[dim])  # type: ignore[index]
    eff = (op.dilation[dim] if isinstance(op, ir.Conv) else 1) * (k - 1) + 1
    if isinstance(op, ir.Pool) and op.ceil:
        return min(-(-(size + 2 * p - eff + s) // s), -(-(size + p) // s))
    return (size + 2 * p - eff) // s + 1 if size + 2 * p >= eff else 0


def _drops(op: ir.Conv | ir.Pool, dim: int, size: int, change: dict[str, int]) -> bool:
    """Whether a window drops rows of its input on one axis with one argument changed (W0401)."""
    if isinstance(op, ir.Pool) and op.ceil:
        return False
    k = change.get("kernel", op.kernel[dim])
    s = change.get("stride", op.stride[dim])
    p = change.get("padding", op.padding[dim])  # type: ignore[index]
    eff = (op.dilation[dim] if isinstance(op, ir.Conv) else 1) * (k - 1) + 1
    return size + 2 * p >= eff and (size + 2 * p - eff) % s != 0


def _output_rewrites(net: ir.Network, infos: list[LayerInfo], diags: list[Diagnostic]) -> list[Diagnostic]:
    """For a network output that is not the declared one (E0302): the argument of the layer that makes
    the differing sizes (`fc8: linear(1000)` declared `[N, 10]`: `linear(10)`), found by walking back over
    the layers that keep their input's shape, and the declaration written as computed. Both are
    Rewrites, shown once verified."""
    k = next((k for k, d in enumerate(diags) if d.code == "E0302" and d.is_error), None)
    if k is None or net.output is None:
        return diags
    by_name = {info.layer.name: info for info in infos}
    info = by_name.get(net.output_layer)
    declared = net.output.dims
    if info is None or info.shape is None or len(info.shape) != len(declared):
        return diags
    shape = info.shape
    bad = [i for i, d in enumerate(declared) if isinstance(d, int) and d != shape[i]]
    if not bad or not all(isinstance(shape[i], int) for i in bad):
        return diags
    out: list[Rewrite] = []
    layer = info.layer
    keeps = (ir.Activation, ir.Dropout, ir.LRN, ir.BatchNorm)
    while isinstance(layer.op, keeps) and len(layer.inputs) == 1 and layer.inputs[0] in by_name:
        layer = by_name[layer.inputs[0]].layer
    own = by_name[layer.name].shape
    source = (
        by_name[layer.inputs[0]].shape
        if layer.inputs and layer.inputs[0] in by_name
        else (input_shape(net) if layer.inputs == (net.input_name,) else None)
    )
    if own is not None and source is not None and len(own) == len(shape):
        stated = tuple(declared[i] if i in bad else own[i] for i in range(len(own)))
        if isinstance(layer.op, ir.Linear) and bad == [1] and not layer.instance:
            edit = argument_edit(layer, "features", str(declared[1]))
            if edit is not None:
                out.append(
                    Rewrite(
                        f"with {declared[1]} features, `{layer.display_name}` gives the declared "
                        f"{_dims_text(declared)}",
                        (edit,),
                        group="argument",
                    )
                )
        else:
            out += _argument_rewrites(layer, source, bad, stated)  # type: ignore[arg-type]
    written = _dims_text(tuple(shape[i] if i in bad else d for i, d in enumerate(declared)))  # type: ignore[misc]
    edits = tuple(Edit(net.output.dim_spans[i], str(shape[i])) for i in bad if i < len(net.output.dim_spans))
    if len(edits) == len(bad):
        out.append(Rewrite(f"if the layers are right, declare the output `-> {written}`", edits))
    if not out:
        return diags
    d = diags[k]
    return [*diags[:k], replace(d, rewrites=(*d.rewrites, *out)), *diags[k + 1 :]]


def _dims_text(dims) -> str:
    return "[" + ", ".join("_" if d is None else str(d) for d in dims) + "]"


def _exact_value(layer: ir.Layer, dim: int, lo: int, hi: int | None) -> int | None:
    op = layer.op
    if not isinstance(op, (ir.Conv, ir.Pool)) or hi is None:
        return None
    k = op.kernel[dim]
    d = op.dilation[dim] if isinstance(op, ir.Conv) else 1
    p = op.padding[dim] if not isinstance(op.padding, str) else 0
    s = op.stride[dim]
    for x in range(lo, hi + 1):
        if (x + 2 * p - d * (k - 1) - 1) % s == 0:
            return x
    return None


def _nearest(values: IntSet, x: int) -> int | None:
    """The member of `values` nearest to x (the smaller on a tie)."""
    best: int | None = None
    for lo, hi in values.ranges:
        start = min(max(x, lo), hi) if hi is not None else max(x, lo)
        for y in (*range(start, start + values.mod), *range(start - 1, start - values.mod, -1)):
            if values.contains(y) and (best is None or (abs(y - x), y) < (abs(best - x), best)):
                best = y
    return best


def _with_global_help(net: ir.Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """If the input sizes are the problem, say which input sizes make the whole network check (a
    rewrite of the input's sizes to the nearest such size, verified like every other)."""
    dims = net.input_dims
    if len(dims) != 4 or not all(isinstance(d, int) for d in dims[2:]) or len(net.input_dim_spans) != 4:
        return diags
    taken = set(net.symbols) | {d for d in dims if isinstance(d, str)}
    names = [n for n in ("H", "W", "S", "height", "width", "H_", "W_") if n not in taken]
    square = dims[2] == dims[3]
    h_name, w_name = (names[2], names[2]) if square else (names[0], names[1])
    symbolic = replace(net, input_dims=(dims[0], dims[1], h_name, w_name))
    result = infer(symbolic)
    if any(d.is_error for d in result.diagnostics):
        return diags
    sets, solve_diags, _ = solve(symbolic, result.constraints)
    if solve_diags:  # coupled or undecided: a per-dimension answer would mislead
        return diags
    h, w = sets.get(h_name), sets.get(w_name)
    if h is None or w is None or h.empty or (h.contains(dims[2]) and w.contains(dims[3])):  # type: ignore[arg-type]
        return diags
    new_h, new_w = _nearest(h, dims[2]), _nearest(w, dims[3])  # type: ignore[arg-type]
    if new_h is None or new_w is None:
        return diags
    if square:
        text = f"the whole network checks for square inputs of {h.describe()}"
    else:
        text = f"the whole network checks for input heights {h.describe()} and widths {w.describe()}"
    edits = tuple(
        Edit(net.input_dim_spans[i], str(v))
        for i, v, old in ((2, new_h, dims[2]), (3, new_w, dims[3]))
        if v != old
    )
    out = []
    added = False
    for d in diags:
        if not added and d.code in ("E0301", "E0302") and d.is_error:
            d = replace(d, rewrites=(*d.rewrites, Rewrite(text, edits)))
            added = True
        out.append(d)
    return out


# ---------------------------------------------------------------------------- verified rewrites

# Verifying a rewrite costs one check of the rewritten spec. The budget is in characters re-checked (a small
# spec gets its candidates checked, a 10,000-layer one two: checking stays linear in the size) and in checks
# (a spec with a hundred mistakes stays interactive); errors are served before warnings. A rewrite left
# unchecked is not shown.
_RECHECK_CHARACTERS = 200_000
_MAX_RECHECKS = 48
_MIN_RECHECKS = 2


def verify_rewrites(
    source: Source, diags: list[Diagnostic], sizes: dict[str, int] | None = None
) -> list[Diagnostic]:
    """Show the help of each rewrite the diagnostics propose only if the rewritten spec checks better: the
    diagnostic gone, no error left on the lines the edit touches or the diagnostic points at, and fewer
    errors in all (a name's correction or a warning's fix: no more). Of alternatives (one group), the one that leaves the fewest errors, the first on a tie.
    The rewrites that stay on a diagnostic are those verified. With `sizes` (see `bind`) the rewritten
    spec is checked with those sizes bound."""
    if not any(d.rewrites for d in diags):
        return diags
    budget = max(_MIN_RECHECKS, min(_MAX_RECHECKS, _RECHECK_CHARACTERS // max(1, len(source.text))))
    before = sum(d.is_error for d in diags)
    # the errors there are: one of them left on an edited line is another mistake, not one an error's fix
    # made (`padding=SAME, bias=None`: each literal's fix leaves the other's error on the line); a warning's
    # fix leaves no error on its line
    existing = {(d.span.line, d.code, d.message) for d in diags if d.is_error and d.span is not None}
    rechecked: dict[tuple[Edit, ...], Analysis | None] = {}  # the spec after each distinct set of edits
    out = list(diags)
    for i in sorted((i for i, d in enumerate(diags) if d.rewrites), key=lambda i: not diags[i].is_error):
        d = diags[i]
        kept: list[tuple[int, int, Rewrite]] = []
        for order, r in enumerate(d.rewrites):
            if not r.edits or r.group and any(e == 0 and k.group == r.group for e, _, k in kept):
                continue  # nothing to write; or an earlier alternative leaves no error: none can do better
            edits = tuple(sorted(r.edits, key=lambda e: (e.span.line, e.span.col)))
            if d.span is None or edits not in rechecked and budget == 0:
                continue
            if edits not in rechecked:
                budget -= 1
                rechecked[edits] = _recheck(source, edits, sizes)
            errors = _errors_after(rechecked[edits], edits, d, r.name_only, existing if d.is_error else set())
            # an error's fix leaves fewer errors: one that fixes this error and makes another (an input
            # size that suits one branch and not the other) is no fix; a name's correction may uncover the
            # mistakes the unknown name hid, and a warning's fix removes no error: these leave no more
            if errors is not None and (
                errors < before or (r.name_only or not d.is_error) and errors <= before
            ):
                kept.append((errors, order, r))
        best = {
            r.group: (e, o) for e, o, r in sorted(kept, key=lambda t: (t[0], t[1]), reverse=True) if r.group
        }
        shown = tuple(r for e, o, r in kept if not r.group or best[r.group] == (e, o))
        out[i] = replace(d, helps=(*d.helps, *(r.help for r in shown)), rewrites=shown)
    return out


def _another_mistake(d: Diagnostic) -> bool:
    """An error a name's correction may leave on its line: one of the arguments or shapes (E01xx, E03xx), not
    one the new name makes (a syntax error, a cycle or a clash of names: E00xx, E02xx)."""
    return not d.code.startswith(("E00", "E02"))


def _recheck(source: Source, edits: tuple[Edit, ...], sizes: dict[str, int] | None) -> Analysis | None:
    """The spec checked with the edits made (and `sizes` bound, see `bind`); None when it has no network."""
    after = _check(
        Source(source.path, apply_edits(source.text, edits)), helps=False
    )  # unverified: no recursion
    if after.network is None:
        return None
    if sizes:  # (an edit may have written a size in place of a symbol: bind the others)
        after = _bound(after, {k: v for k, v in sizes.items() if k in after.network.symbols})
    return after


def _errors_after(
    after: Analysis | None,
    edits: tuple[Edit, ...],
    diag: Diagnostic,
    name_only: bool,
    existing: set[tuple[int, str, str]],
) -> int | None:
    """How many errors `after` (the spec with the edits made) has; None if the diagnostic is still there, or an
    error is left on its line or on an edited line (unless `name_only`: see Rewrite) that was not there before
    (`existing`: line, code, message)."""
    if after is None:
        return None

    def moved(line: int) -> int:
        """Where a line of the spec is in the rewritten one (a line an edit spans: where its text ends)."""
        shift = 0
        for e in edits:  # in order of position
            if line <= e.span.end_line:
                return e.span.line + shift + e.text.count("\n") if line >= e.span.line else line + shift
            shift += e.text.count("\n") - (e.span.end_line - e.span.line)
        return line + shift

    assert diag.span is not None
    at = moved(diag.span.line)
    lines = {at} | {
        k for e in edits for k in range(moved(e.span.line) - e.text.count("\n"), moved(e.span.line) + 1)
    }
    was = {
        (moved(line), code, message)
        for line, code, message in existing
        if (line, code, message) != (diag.span.line, diag.code, diag.message)
    }
    if any(
        d.span is not None
        and (d.span.line, d.code, d.message) not in was
        and (
            d.span.line in lines
            and d.is_error
            and not (name_only and _another_mistake(d))
            or d.span.line == at
            and d.code == diag.code
        )
        for d in after.diagnostics
    ):
        return None
    return len(after.errors)

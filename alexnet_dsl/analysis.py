"""The checking pipeline: text -> tree -> IR -> shapes -> admissible sizes, as one `Analysis`.

    parse.parse -> lower.lower -> shapes.infer -> solve (here)

Each stage only reads what the one before produced. This module imports neither torch nor numpy.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import expr as E
from . import ir
from .diagnostics import Diagnostic, Severity, error, note, sort_key
from .lower import lower
from .parse import parse
from .shapes import Constraint, LayerInfo, Shape, exact_inputs, infer
from .solve import (
    ALL,
    EMPTY,
    IntSet,
    at_least,
    coupled_equal,
    divisible,
    equal,
    joint_equalities,
    product_equal,
)
from .source import Source


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
                {"admissible_modulo": {s: {"modulus": v.mod, "residues": sorted(v.residues)}
                                       for s, v in self.admissible.items() if v.mod > 1}}
                if any(v.mod > 1 for v in self.admissible.values()) else {}
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
        return _check(source)


def _check(source: Source) -> Analysis:
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
    analysis.admissible = sets
    shape_diags = result.diagnostics + solve_diags
    if any(d.code in ("E0301", "E0302") for d in shape_diags):
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

    def substitute(a: ir.Assertion | None) -> ir.Assertion | None:  # assertions name the symbols too
        return a if a is None else replace(a, dims=tuple(sizes.get(d, d) if isinstance(d, str) else d
                                                          for d in a.dims))

    dims = tuple(sizes.get(d, d) if isinstance(d, str) else d for d in net.input_dims)
    layers = tuple(replace(la, assertions=tuple(substitute(a) for a in la.assertions)) if la.assertions else la
                   for la in net.layers)
    bound = replace(net, input_dims=dims, layers=layers, output=substitute(net.output))
    result = infer(bound, inverse_help=_inverse_help(bound))
    sets, solve_diags, couplings = solve(bound, result.constraints)
    diags = sorted(result.diagnostics + solve_diags, key=sort_key)
    outside = [f"{name} in {analysis.admissible[name].describe(name)}, not {value}" for name, value in sizes.items()
               if name in analysis.admissible and not analysis.admissible[name].contains(value)]
    first = next((i for i, d in enumerate(diags) if d.is_error), None)
    if outside and first is not None:  # say it in terms of the sizes that were bound, not only of the layer
        help_text = "the spec accepts " + "; ".join(outside)
        diags[first] = replace(diags[first], helps=(*diags[first].helps, help_text))
    return Analysis(
        source=analysis.source,
        network=bound,
        infos=result.infos,
        output=result.output,
        admissible=sets,
        diagnostics=diags,
        couplings=couplings,
    )


# ---------------------------------------------------------------------------- solving


def solve(net: ir.Network, constraints: list[Constraint]
          ) -> tuple[dict[str, IntSet], list[Diagnostic], list[Constraint]]:
    """The exact admissible set of each input symbol; an error where a set becomes empty; and the
    constraints on several symbols (or not decided statically), which run-time checks must evaluate."""
    symbols = [s for s in net.symbols]
    sets: dict[str, IntSet] = {s: ALL for s in symbols}
    batch = net.batch if isinstance(net.batch, str) else None
    if batch and batch not in sets:
        sets[batch] = ALL
    diags: list[Diagnostic] = []
    coupled: list[Constraint] = []
    for c in constraints:
        result = _one(c)
        if result is None:
            coupled.append(c)
            continue
        if isinstance(result, bool):
            if not result:
                diags.append(_empty(c, None, None))
            continue
        sym = _sym(c)
        before = sets.get(sym, ALL)
        after = before.intersect(result)
        if after.empty:
            diags.append(_empty(c, sym, before))
        else:
            sets[sym] = after
    diags += _solve_coupled(coupled, sets)
    if batch and batch not in symbols:
        sets.pop(batch, None)
    return {s: sets[s] for s in symbols if s in sets}, diags, coupled


_MAX_ROUNDS = 50


def _solve_coupled(coupled: list[Constraint], sets: dict[str, IntSet]) -> list[Diagnostic]:
    """Narrow `sets` (in place) by the constraints on several symbols; their errors and notes."""
    diags: list[Diagnostic] = []
    # Constraints between symbols narrow each other's sets: repeat until nothing changes (one constraint
    # gives exact projections; several give each set the values that survive all of them in turn).
    dead: set[int] = set()  # reported: undecided, or the constraint that emptied a set
    for _ in range(_MAX_ROUNDS):
        changed = False
        for i, c in enumerate(coupled):
            if i in dead:
                continue
            parts = _coupled(c, sets)
            if parts is None:
                diags.append(note("N0501", f"not decided statically: {c.what}", c.span))
                dead.add(i)
                continue
            for sym, values in parts.items():
                before = sets.get(sym, ALL)
                after = before.intersect(values) if sym else EMPTY
                if after.empty:
                    diags.append(_empty(c, sym or None, before))
                    dead.add(i)
                    break
                if after != before:
                    sets[sym] = after
                    changed = True
        if not changed:
            break
    # Several equalities between the same two symbols: each alone was projected exactly, together they
    # may allow less; solve them jointly where one symbol's set is bounded.
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, c in enumerate(coupled):
        if i not in dead and c.kind == "eq" and all(isinstance(e, (E.Chain, E.Min)) for e in (c.lhs, c.rhs)):
            groups.setdefault(tuple(sorted({c.lhs.sym, c.rhs.sym})), []).append(i)  # type: ignore[union-attr]
    approximate: set[int] = set()
    for syms, members in groups.items():
        if len(syms) != 2 or len(members) < 2:
            continue
        for x_sym in syms:
            pairs = [(c.lhs, c.rhs) if c.lhs.sym == x_sym else (c.rhs, c.lhs)  # type: ignore[union-attr]
                     for c in (coupled[i] for i in members)]
            joint = joint_equalities(pairs, sets)  # type: ignore[arg-type]
            if joint is not None:
                break
        if joint is None:
            approximate.update(members)
            continue
        for sym, values in joint.items():
            before = sets.get(sym, ALL)
            after = before.intersect(values)
            if after.empty:
                diags.append(_empty(coupled[members[-1]], sym, before))
                dead.update(members)
                break
            sets[sym] = after
    for i, c in enumerate(coupled):
        syms = sorted(E.symbols(c.lhs) | (E.symbols(c.rhs) if not isinstance(c.rhs, int) else set()))
        if i not in dead and len(syms) > 1:
            why = ("each admissible set holds the values for which some choice of the others works",)
            if i in approximate:
                why = ("several constraints couple these symbols at the same rate and their sets are unbounded: "
                       "each set holds the values that every constraint allows on its own, which may be more "
                       "than all allow together",)
            diags.append(note(
                "N0501", f"{' and '.join(f'`{s}`' for s in syms)} are coupled by {c.what}", c.span, notes=why,
            ))
    return diags


def _coupled(c: Constraint, sets: dict[str, IntSet]) -> dict[str, IntSet] | None:
    """The values of each symbol of a constraint on several symbols that some choice of the others allows."""
    if c.kind != "eq":
        return None
    if isinstance(c.rhs, int):
        return product_equal(c.lhs, c.rhs, sets)
    if isinstance(c.lhs, int):
        return product_equal(c.rhs, c.lhs, sets)
    return coupled_equal(c.lhs, c.rhs, sets)


def _sym(c: Constraint) -> str:
    syms = E.symbols(c.lhs) | (E.symbols(c.rhs) if not isinstance(c.rhs, int) else set())
    assert len(syms) == 1, syms
    return next(iter(syms))


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
        notes.append(f"before {where}, `{sym}` could be {before.describe(sym)}")
    return error(
        "E0308",
        f"no input size works here: {c.what}",
        c.span,
        notes=tuple(notes),
        helps=("change the layer's arguments or the asserted sizes",),
    )


# ---------------------------------------------------------------------------- help for assertions


def _inverse_help(net: ir.Network):
    """For a failed assertion on a conv/pool layer: the input sizes that give the asserted size."""

    def make(layer: ir.Layer, info: LayerInfo, ins):
        def helps(bad: list[int], stated: Shape):
            shape = ins[0] if ins else None
            found: dict[int, tuple[int | None, int, int | None]] = {}
            for i in bad:
                if i < 2 or shape is None or len(shape) != 4 or not isinstance(stated[i], int):
                    continue
                r = exact_inputs(layer, i - 2, stated[i])  # type: ignore[arg-type]
                if r is not None and not r.empty:
                    lo, hi = r.ranges[0]
                    found[i] = (_exact_value(layer, i - 2, lo, hi), lo, hi)
            if not found:
                return []
            src = layer.inputs[0] if layer.inputs else ""
            what = "an input" if src == net.input_name else f"an input to `{layer.display_name}`"
            if len(found) == 2 and found[2] == found[3] and stated[2] == stated[3]:
                groups = [("", 2)]
            else:
                groups = [(f" {('height', 'width')[i - 2]}", i) for i in sorted(found)]
            out = []
            for word, i in groups:
                exact, lo, hi = found[i]
                size = f"{stated[i]}x{stated[i]}" if not word else f"{stated[i]}"
                given = f"{exact}x{exact}" if not word and exact is not None else f"{exact}"
                text = f"{what}{word} of {given} gives {size} exactly; " if exact is not None else ""
                text += f"{lo}..{hi} give {stated[i]}" if hi != lo else f"only {lo} gives {stated[i]}"
                out.append(text)
            return out

        return helps

    return make


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


def _with_global_help(net: ir.Network, diags: list[Diagnostic]) -> list[Diagnostic]:
    """If the input sizes are the problem, say which input sizes make the whole network check."""
    dims = net.input_dims
    if len(dims) != 4 or not all(isinstance(d, int) for d in dims[2:]):
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
    if square:
        text = f"the whole network checks for square inputs of {h.describe()}"
    else:
        text = f"the whole network checks for input heights {h.describe()} and widths {w.describe()}"
    out = []
    added = False
    for d in diags:
        if not added and d.code in ("E0301", "E0302") and d.severity is Severity.ERROR:
            d = replace(d, helps=(*d.helps, text))
            added = True
        out.append(d)
    return out

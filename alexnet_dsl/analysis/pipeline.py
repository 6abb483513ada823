"""The checking pipeline: text -> typed syntax -> IR -> shapes -> admissible sizes, as one `Analysis`.

    parse -> lower -> lint -> infer shapes -> solve -> helps -> verify the helps' rewrites

Each stage only reads what the one before produced. This module imports neither torch nor numpy.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import replace
from pathlib import Path

from alexnet_dsl import ir
from alexnet_dsl.analysis.admissible import solve
from alexnet_dsl.analysis.assertions import one_error_per_assertion
from alexnet_dsl.analysis.helps import inverse_help, nearest, output_rewrites, with_global_help
from alexnet_dsl.analysis.inference import infer
from alexnet_dsl.analysis.lints import lint
from alexnet_dsl.analysis.result import Analysis
from alexnet_dsl.analysis.verify import verify_rewrites
from alexnet_dsl.diagnostics import Diagnostic, sort_key
from alexnet_dsl.frontend.lower import lower
from alexnet_dsl.frontend.parse import parse
from alexnet_dsl.source import Source


def check_file(path: str | Path) -> Analysis:
    """Check a spec file (raises OSError when it cannot be read)."""
    return check_source(Source.from_file(path))


def check_text(text: str, path: str = "<string>") -> Analysis:
    """Check the text of a spec; `path` names it in diagnostics."""
    return check_source(Source(path, text))


def check_source(source: Source) -> Analysis:
    """Check a spec: parse, lower, lint, infer shapes, solve for admissible sizes, then keep the helps
    whose rewrites verify."""
    with _no_cyclic_gc():
        analysis = _check(source)
        analysis.diagnostics = verify_rewrites(
            source, analysis.diagnostics, lambda edited: _recheck(edited, None)
        )
        return analysis


def _check(source: Source, helps: bool = True) -> Analysis:
    """The pipeline; without `helps`, the E0301/E0302 helps that re-check the network are not worked out
    (a rewrite's re-check only counts errors: see `verify._errors_after`)."""
    analysis = Analysis(source)
    file, diags = parse(source)
    if file is None:
        analysis.diagnostics = diags
        return analysis
    net, diags = lower(file, source)
    diags = list(dict.fromkeys(diags + lint(net, source)))
    analysis.network = net
    if net is None:
        analysis.diagnostics = sorted(diags, key=sort_key)
        return analysis
    shape_diags = _shapes(analysis, net)
    if helps and any(d.code == "E0302" for d in shape_diags):
        shape_diags = output_rewrites(net, analysis.infos, shape_diags)
    if helps and any(d.code in ("E0301", "E0302") for d in shape_diags):
        shape_diags = with_global_help(net, shape_diags)
    analysis.diagnostics = sorted(diags + shape_diags, key=sort_key)
    return analysis


def _shapes(analysis: Analysis, net: ir.Network) -> list[Diagnostic]:
    """Infer the network's shapes and solve for its admissible sizes, into `analysis`; their diagnostics."""
    result = infer(net, inverse_help=inverse_help(net))
    analysis.infos, analysis.output = result.infos, result.output
    analysis.admissible, solve_diags, analysis.couplings = solve(net, result.constraints)
    return result.diagnostics + one_error_per_assertion(net, solve_diags)


def _recheck(edited: Source, sizes: dict[str, int] | None) -> Analysis | None:
    """A rewritten spec checked for `verify_rewrites` (with `sizes` bound, see `bind`); None when it has no
    network. Its own helps are neither worked out nor verified: no recursion."""
    after = _check(edited, helps=False)
    if after.network is None:
        return None
    if sizes:  # (an edit may have written a size in place of a symbol: bind the others)
        after = _bound(after, {k: v for k, v in sizes.items() if k in after.network.symbols})
    return after


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


# ---------------------------------------------------------------------------- binding sizes


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
    bound.diagnostics = verify_rewrites(
        analysis.source, bound.diagnostics, lambda edited: _recheck(edited, sizes)
    )
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
    bound_net = replace(net, input_dims=dims, layers=layers, output=substitute(net.output))
    bound = Analysis(source=analysis.source, network=bound_net)
    bound.diagnostics = sorted(_shapes(bound, bound_net), key=sort_key)
    return bound


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
        closest = nearest(values, value)
        if closest is not None and _bound(analysis, {**sizes, name: closest}).ok:
            accepts.append(f"{name} in {values.describe(name)}{given}, not {value}")
    return (["the spec accepts " + "; ".join(accepts)] if accepts else []) + helps

"""`admissible_inputs`: input shapes a spec accepts, drawn from the checker's exact admissible sets."""

from __future__ import annotations

from hypothesis import strategies as st

from alexnet_dsl.analysis.intsets import IntSet
from alexnet_dsl.analysis.pipeline import bind, check_source
from alexnet_dsl.analysis.result import Analysis


def analysis_of(spec) -> Analysis:
    """The Analysis of `spec` (a path, a spec's text, or an Analysis); DslError when it has errors."""
    if isinstance(spec, Analysis):
        return spec
    from alexnet_dsl.source import Source

    analysis = check_source(Source.load(spec))
    if not analysis.ok:
        from alexnet_dsl.diagnostics import DslError

        raise DslError(analysis.errors, analysis.source)
    return analysis


def _values(s: IntSet, span: int) -> st.SearchStrategy[int]:
    """Members of an admissible set; the ends of every range come up often."""
    options = []
    for lo, hi in s.ranges:
        top = hi if hi is not None else lo + span
        ends = [lo, top] if hi is not None else [lo]
        options.append(st.one_of(st.sampled_from(ends), st.integers(lo, top)))
    values = st.one_of(*options)
    if s.mod > 1:
        values = values.filter(lambda v: v % s.mod in s.residues)
    return values


def admissible_inputs(
    spec, batch: int | st.SearchStrategy[int] | None = None, span: int = 64
) -> st.SearchStrategy[tuple[int, ...]]:
    """Input shapes that `spec` accepts.

    Symbols are drawn from their exact admissible sets (unbounded ranges up to `span` past their
    start); when symbols are coupled, draws that no choice of the others completes are rejected,
    so every shape drawn checks.
    """
    analysis = analysis_of(spec)
    net = analysis.network
    assert net is not None
    batch_strategy = st.just(batch) if isinstance(batch, int) else (batch or st.integers(1, 4))
    symbols = {s: _values(analysis.admissible.get(s, IntSet.at_least(1)), span) for s in net.symbols}

    @st.composite
    def draw(draw_) -> tuple[int, ...]:
        values = {s: draw_(v) for s, v in symbols.items()}
        dims = []
        for i, d in enumerate(net.input_dims):
            if i == 0:
                dims.append(d if isinstance(d, int) else draw_(batch_strategy))
            else:
                dims.append(d if isinstance(d, int) else values[d])
        return tuple(dims)

    shapes = draw()
    if not any(d.code == "N0501" for d in analysis.diagnostics):  # the symbols are independent
        return shapes

    def completes(shape: tuple[int, ...]) -> bool:
        sizes = {d: shape[i] for i, d in enumerate(net.input_dims) if i and isinstance(d, str)}
        return bind(analysis, sizes).ok

    return shapes.filter(completes)

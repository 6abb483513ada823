"""Declared shapes: the network's input and output and the `-> [...]` assertions of layers, as written.

Each function appends its errors to `diags`; one shape's mistakes (a wrong symbol written twice, several
bad sizes) are one error, at the smallest span covering them.
"""

from __future__ import annotations

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, Rewrite, error
from alexnet_dsl.frontend.suggest import and_, rename
from alexnet_dsl.frontend.syntax import INTEGER, MAX_INT, Shape, Value, parse_int
from alexnet_dsl.source import Span

Dims = tuple[ir.Dim, ...]
Problems = list[tuple[Span, str]]

BATCH_HELP = (
    "the first dimension is the batch; give the other sizes as numbers or other symbols "
    "(`[N, 3, H, W]`), or `_` in an assertion for a size you do not want to check",
)


def batch_of(input_dims: Dims) -> str | None:
    """The input's batch symbol (its first dimension, when it is a name)."""
    return input_dims[0] if input_dims and isinstance(input_dims[0], str) else None


def written_batch(shape: Shape) -> str | None:
    """The batch symbol as an input shape writes it (its first dimension, when a name other than `_`).

    Read before the shape is checked: block headers are checked against it."""
    first = shape.dims[0] if shape.dims else None
    return first.text if first is not None and not first.number and first.text != "_" else None


def _batch_elsewhere(dims: Dims, spans: tuple[Span, ...], batch: str | None) -> Problems:
    """The batch symbol used as another size: a compiled module takes the batch from each input and
    checks no other size against it, so `[N, N, 30, 30]` would promise what nothing checks."""
    if batch is None:
        return []
    words = ("batch", "channels", "height", "width") if len(dims) == 4 else ("batch", "features")
    wrong = [
        (s, words[i] if i < len(words) else f"dimension {i}")
        for i, (d, s) in enumerate(zip(dims, spans))
        if i > 0 and d == batch
    ]
    if not wrong:
        return []
    whole = wrong[0][0].join(wrong[-1][0])
    return [(whole, f"the batch symbol `{batch}` is used as the {and_([w for _, w in wrong])}")]


def _not_symbols(unknown: Problems, what: str) -> tuple[Span, str]:
    """The problem of names in a shape that are not symbols of the input, over all of them."""
    names = list(dict.fromkeys(d for _, d in unknown))
    return (
        unknown[0][0].join(unknown[-1][0]),
        f"{and_([f'`{d}`' for d in names])} in the {what} shape "
        f"{'is not a symbol' if len(names) == 1 else 'are not symbols'} of the input",
    )


def _one_error(diags: list[Diagnostic], problems: Problems, whole: Span | None, **kw) -> None:
    """One E0309 for the problems of one shape, at the smallest span covering them (the whole shape
    when they spread over lines)."""
    if not problems:
        return
    span = problems[0][0]
    for s, _ in problems[1:]:
        span = span.join(s)
    where = span if whole is None or span.line == span.end_line else whole
    diags.append(error("E0309", "; ".join(dict.fromkeys(m for _, m in problems)), where, **kw))


def read_shape(shape: Shape, where: str, diags: list[Diagnostic]) -> tuple[Dims | None, tuple[Span, ...]]:
    """The dimensions of a shape (sizes, symbols, None for `_`) and their spans; None if one is not an
    integer or a name, or the shape is empty."""
    dims: list[ir.Dim] = []
    spans: list[Span] = []
    ok = True
    for dim in shape.dims:
        if not dim.number:
            dims.append(None if dim.text == "_" else dim.text)
        elif not INTEGER.fullmatch(dim.text):
            diags.append(
                error("E0104", f"a dimension must be an integer or a symbol, got `{dim.text}`", dim.span)
            )
            ok = False
            continue
        elif (value := parse_int(dim.text)) > MAX_INT:
            cut = f"{dim.text[:20]}{'…' if len(dim.text) > 20 else ''}"
            diags.append(error("E0105", f"dimension {cut} is larger than {MAX_INT}", dim.span))
            ok = False
            continue
        else:
            dims.append(value)
        spans.append(dim.span)
    if not dims and ok:
        diags.append(error("E0309", f"the {where} shape is empty", shape.span))
        return None, ()
    return (tuple(dims), tuple(spans)) if ok else (None, ())


def check_input(dims: Dims, spans: tuple[Span, ...], span: Span, diags: list[Diagnostic]) -> bool:
    """Whether the network's input shape is usable: rank 2 or 4, every size at least 1, no `_`, the
    batch symbol nowhere else."""
    before = len(diags)
    if len(dims) not in (2, 4):
        diags.append(
            error(
                "E0306",
                f"the network input has rank {len(dims)}; it must be [N, C, H, W] or [N, features]",
                span,
            )
        )
    problems: Problems = []
    for d, s in zip(dims, spans):
        if d is None:
            problems.append((s, "the input shape cannot contain `_`; give a size or a symbol"))
        elif isinstance(d, int) and d < 1:
            problems.append((s, f"input dimensions must be at least 1, got {d}"))
    problems += _batch_elsewhere(dims, spans, batch_of(dims))
    _one_error(diags, problems, span, helps=BATCH_HELP if any("batch" in m for _, m in problems) else ())
    return len(diags) == before


def check_declared(
    dims: Dims, spans: tuple[Span, ...], input_dims: Dims, what: str, diags: list[Diagnostic]
) -> bool:
    """Whether a declared shape (the network's output) is usable against the input's symbols."""
    before = len(diags)
    symbols = {d for d in input_dims if isinstance(d, str)}
    unknown = [(s, d) for d, s in zip(dims, spans) if isinstance(d, str) and d not in symbols]
    problems = [
        (s, f"dimensions must be at least 1, got {d}")
        for d, s in zip(dims, spans)
        if isinstance(d, int) and d < 1
    ]
    problems += _batch_elsewhere(dims, spans, batch_of(input_dims))
    helps: tuple[str, ...] = ()
    if unknown:
        problems.append(_not_symbols(unknown, what))
        helps = (
            f"input symbols: {', '.join(f'`{x}`' for x in sorted(symbols)) or 'none'}; "
            "write `_` for a size you do not want to check",
        )
    whole = spans[0].join(spans[-1]) if spans else None
    _one_error(diags, problems, whole, helps=helps or (BATCH_HELP if problems else ()))
    return len(diags) == before


def assertion(
    shape: Shape, env: dict[str, Value], input_dims: Dims | None, diags: list[Diagnostic]
) -> ir.Assertion | None:
    """A layer's `-> [dims]`: block parameters replaced by their values; any other name must be a
    symbol of the network's input (a name that is neither would silently become a new unknown).
    `input_dims` None: the input is broken, its symbols unknown."""
    dims, spans = read_shape(shape, "asserted", diags)
    if dims is None:
        return None
    input_symbols = None if input_dims is None else {d for d in input_dims if isinstance(d, str)}
    resolved: list[ir.Dim] = []
    ok = True
    unknown: Problems = []
    problems: Problems = []
    for d, s in zip(dims, spans):
        if isinstance(d, str) and d in env:
            bound = env[d]
            if bound.kind != "int":
                diags.append(error("E0104", f"`{d}` is {bound.show()} here, not a size", s))
                ok = False
                continue
            d = bound.value
            if d < 1:
                problems.append((s, f"dimensions must be at least 1, got {d} (`{bound.text}`)"))
                continue
        elif isinstance(d, str) and input_symbols is not None and d not in input_symbols:
            unknown.append((s, d))
            continue
        resolved.append(d)
    if input_dims is not None:
        problems += _batch_elsewhere(dims, spans, batch_of(input_dims))
    helps: tuple[str, ...] = BATCH_HELP if problems else ()
    rewrites: tuple[Rewrite, ...] = ()
    if unknown:
        problems.append(_not_symbols(unknown, "asserted"))
        params = f"; block parameters: {', '.join(f'`{k}`' for k in env)}" if env else ""
        symbols = sorted(input_symbols or ())
        helps = (
            f"input symbols: {', '.join(f'`{x}`' for x in symbols) or 'none'}"
            f"{params}; write `_` for a size you do not want to check",
        )
        rewrites = tuple(r for span, d in unknown for r in rename(d, span, [*symbols, *env]))
    if problems:
        _one_error(diags, problems, shape.span, helps=helps, rewrites=rewrites)
        return None
    return ir.Assertion(tuple(resolved), shape.span, spans) if ok else None

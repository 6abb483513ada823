"""The help texts of a call's mistakes: did-you-mean, other frameworks' names, PyTorch's positional forms,
missing arguments, `from` written as an argument, a name where a value belongs.

Each proposed fix is a Rewrite, shown only once the rewritten spec checks (analysis/verify.py verifies
them); these functions build diagnostics and report nothing themselves.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite, error
from alexnet_dsl.frontend.foreign import ARG_ALIASES, INFERRED_ARGS, OP_ALIASES
from alexnet_dsl.frontend.syntax import Arg, Call, Value, substitute
from alexnet_dsl.frontend.vocabulary import OPS, OpSpec, Param
from alexnet_dsl.source import Source, Span


@dataclass(frozen=True, slots=True)
class Context:
    """What the help texts of one call read around it."""

    source: Source
    env: dict[str, Value]  # the block parameters in scope
    block_params: dict[str, str]  # every block parameter of the file -> the (first) block it is of
    input_symbols: set[str] | None  # None: the input shape is broken
    line_dims: tuple[ir.Dim, ...] = ()  # the line's assertion: example sizes for a missing argument
    output_dims: tuple[ir.Dim, ...] = ()  # the network's declared output, likewise


def and_(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def did_you_mean(name: str, options: Collection[str], aliases: dict[str, str] | None = None) -> str | None:
    """The option `name` most likely means: another framework's name for it, the same name in another
    case (`ReLU`), or the closest spelling; None when nothing is close."""
    by_lower = {o.lower(): o for o in sorted(options)}
    key = name.lower()
    if aliases and aliases.get(key) in by_lower.values():
        return aliases[key]
    if key in by_lower and by_lower[key] != name:
        return by_lower[key]
    close = difflib.get_close_matches(key, sorted(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def rename(name: str, span: Span, options: Collection[str], why: str = "") -> tuple[Rewrite, ...]:
    """ "did you mean `x`?" as a rewrite of the name at `span`: shown only once the renamed spec is checked
    and the error is gone (a name fix may leave another mistake on its line: see Rewrite.name_only)."""
    meant = did_you_mean(name, options)
    return () if meant is None else renamed_to(meant, span, why)


def renamed_to(meant: str, span: Span, why: str = "") -> tuple[Rewrite, ...]:
    """The name at `span` renamed to `meant`, as a name-only rewrite."""
    return (
        Rewrite(
            f"did you mean `{meant}`?" + (f" {why}" if why else ""), (Edit(span, meant),), name_only=True
        ),
    )


def fits(param: Param, val: Value) -> bool:
    """Whether a value has a kind the parameter could take (the rewrite of a call proposes no `bias=10`)."""
    if param.kind == "bool":
        return val.kind == "name" and val.value in ("true", "false")
    if param.kind == "float":
        return val.kind in ("int", "float")
    if param.kind == "int":
        return val.kind == "int"
    if param.kind == "choice":
        return val.kind == "name" and val.value in param.choices
    same = param.kind == "padding" and val.kind == "name" and val.value == "same"
    return same or val.kind in ("int", "pair")


def call_span(call: Call, source: Source) -> Span | None:
    """From the op's name to the call's closing parenthesis; None if a comment is in between."""
    start = call.op.span
    last = call.args[-1].span
    lines = source.lines
    line, col = last.end_line, last.end_col
    while line <= len(lines):
        text = lines[line - 1]
        while col <= len(text) and text[col - 1] in " \t\r,":
            col += 1
        if col <= len(text):
            return Span(start.line, start.col, line, col + 1) if text[col - 1] == ")" else None
        line, col = line + 1, 1
    return None


def _written(spec: OpSpec, op: str, written: dict[str, str]) -> str:
    """A call of `op` with the arguments `written` (name -> text), as dslc writes it: the positional
    arguments by position, the others by name, in the table's order."""
    parts = [written[k] if k in spec.positional else f"{k}={written[k]}" for k in spec.params if k in written]
    return f"{op}({', '.join(parts)})" if parts else op


# ---------------------------------------------------------------------------- unknown names


def unknown_argument(op: str, spec: OpSpec, call: Call, arg: Arg, ctx: Context) -> Diagnostic:
    """`op` has no argument `key` (that is no other framework's spelling of one: see foreign_arguments)."""
    assert arg.key is not None
    key, key_span = arg.key.text, arg.key.span
    val = substitute(arg.value, ctx.env)
    helps: tuple[str, ...] = ()
    rewrites: tuple[Rewrite, ...] = rename(key, key_span, spec.params)
    if op == "lrn" and key == "depth_radius":
        r = val.value if val.kind == "int" else "r"
        size = 2 * r + 1 if isinstance(r, int) else "2*r + 1"
        helps = (
            f"TensorFlow's `depth_radius` is the half width of the window: write "
            f"`size={size}` (TensorFlow's alpha is not divided, like ours)",
        )
        if isinstance(r, int):  # the argument written anew, verified like every rewrite
            where = key_span.join(arg.value.span)
            rewrites, helps = (Rewrite(helps[0], (Edit(where, f"size={size}"),)),), ()
    elif key == "from":
        helps = (f"`from` is not an argument: write it after the call, `{op}(...) from {val.text}`",)
        rewrites = _from_rewrite(op, call, arg, arg.value.text, ctx.source)
        helps = () if rewrites else helps
    known = (
        f"`{op}` takes: " + ", ".join(f"`{k}`" for k in spec.params)
        if spec.params
        else f"`{op}` takes no arguments" + (" (it runs over channels, dim 1)" if op == "softmax" else "")
    )
    return error(
        "E0102", f"`{op}` has no argument `{key}`", key_span, notes=(known,), helps=helps, rewrites=rewrites
    )


def _from_rewrite(op: str, call: Call, arg: Arg, src: str, source: Source) -> tuple[Rewrite, ...]:
    """`conv(8, kernel=3, from=x)` as `conv(8, kernel=3) from x`: the argument cut, the clause added."""
    whole = call_span(call, source)
    spans = [a.span for a in call.args]
    if whole is None or any(s.line != s.end_line for s in spans):
        return ()
    k = next(i for i, a in enumerate(call.args) if a is arg)
    if k > 0:  # with the comma before it
        cut = Span(spans[k - 1].end_line, spans[k - 1].end_col, spans[k].end_line, spans[k].end_col)
    elif len(spans) > 1:  # with the comma after it
        cut = Span(spans[0].line, spans[0].col, spans[1].line, spans[1].col)
    else:
        cut = spans[0]
    kept = [source.line_text(s.line)[s.col - 1 : s.end_col - 1] for i, s in enumerate(spans) if i != k]
    end = Span(whole.end_line, whole.end_col, whole.end_line, whole.end_col)
    return (
        Rewrite(
            f"`from` is not an argument: write it after the call, `{op}({', '.join(kept)}) from {src}`",
            (Edit(cut, ""), Edit(end, f" from {src}")),
        ),
    )


def is_foreign(op: str, key: str) -> bool:
    """Whether `key` is another framework's name of an argument of `op`, or one dslc infers."""
    return (op, key.lower()) in ARG_ALIASES or (op, key.lower()) in INFERRED_ARGS


def foreign_arguments(op: str, spec: OpSpec, call: Call, foreign: list[Arg], source: Source) -> Diagnostic:
    """One error for the arguments of one call spelt as another framework spells them
    (`conv(in_channels=3, out_channels=16, kernel_size=3)`: one line of PyTorch, one mistake), with
    the call written in dslc's names (`conv(16, kernel=3)`: the arguments dslc infers dropped),
    verified like every rewrite. One renamed argument alone is a did-you-mean of its name."""
    known = f"`{op}` takes: " + ", ".join(f"`{k}`" for k in spec.params)
    keys = [a.key.text for a in foreign if a.key is not None]
    why = [
        f"{INFERRED_ARGS[op, k.lower()]} is inferred by dslc from the layer's input: drop it"
        if (op, k.lower()) in INFERRED_ARGS
        else ARG_ALIASES[op, k.lower()][1]
        for k in keys
    ]
    spans = [a.key.span for a in foreign if a.key is not None]
    where = spans[0].join(spans[-1]) if spans[0].line == spans[-1].line else spans[0]
    message = (
        f"`{op}` has no argument `{keys[0]}`"
        if len(keys) == 1
        else f"`{op}` has no arguments {and_([f'`{k}`' for k in keys])}"
    )
    if len(keys) == 1 and (op, keys[0].lower()) in ARG_ALIASES:
        ours, explained = ARG_ALIASES[op, keys[0].lower()]
        return error("E0102", message, where, notes=(known,), rewrites=renamed_to(ours, spans[0], explained))
    whole = _in_dslc_names(op, spec, call, source)
    rewrites = (Rewrite(f"write `{whole[1]}`", (Edit(whole[0], whole[1]),)),) if whole is not None else ()
    return error("E0102", message, where, notes=(*why, known), rewrites=rewrites)


def _in_dslc_names(op: str, spec: OpSpec, call: Call, source: Source) -> tuple[Span, str] | None:
    """The call with other frameworks' argument names renamed and the inferred ones dropped, written
    as dslc writes it (its positional argument first); None if that is not a call of `op` (an unknown
    name left, a value given twice, too many positional values) or it cannot be cut out of the text."""
    span = call_span(call, source) if call.args else None
    if span is None:
        return None
    bound: dict[str, str] = {}
    positional = 0
    for a in call.args:
        if a.key is None:
            if positional >= len(spec.positional):
                return None
            key = spec.positional[positional]
            positional += 1
        else:
            key = a.key.text
            if (op, key.lower()) in INFERRED_ARGS:
                continue
            if key not in spec.params:
                if (op, key.lower()) not in ARG_ALIASES:
                    return None
                key = ARG_ALIASES[op, key.lower()][0]
        if key in bound:
            return None
        bound[key] = a.value.text  # as written: inside a block, the parameter's name
    return span, _written(spec, op, bound)


def renamed_op(
    call: Call, blocks: Collection[str], check: Callable[[str], list[Diagnostic]]
) -> tuple[Rewrite, ...]:
    """did you mean: our op is the same op in another case, another framework's name for it or a typo of
    it (never a different op: see foreign.MISSING_OPS). When the call is also wrong for our op
    (PyTorch's `BatchNorm2d(3)` is `batchnorm`; a bare `Linear` needs its features), the rewrite also
    fixes the call, so that accepting it leaves no error on the line. `check(op)`: the diagnostics of
    the call read as a call of the built-in `op`."""
    span = call.op.span
    meant = did_you_mean(call.op.text, [*OPS, *blocks], OP_ALIASES)
    if meant is None:
        return ()
    plain = Rewrite(f"did you mean `{meant}`?", (Edit(span, meant),), group="rename", name_only=True)
    if meant not in OPS:  # a block (one named like a built-in op is never among `blocks`)
        return (plain,)
    found = [d for d in check(meant) if d.is_error]
    if not found:
        return (plain,)
    if any(not d.rewrites for d in found) or any(
        e.span.line != span.line for d in found for r in d.rewrites for e in r.edits
    ):
        return (plain,)
    choices = [[r] for r in found[0].rewrites] if len(found) == 1 else [[d.rewrites[0] for d in found]]
    out: list[Rewrite] = []
    for chosen in choices:
        edits = [e for r in chosen for e in r.edits]
        if not any((e.span.line, e.span.col) == (span.line, span.col) for e in edits):
            edits.append(Edit(span, meant))  # the call's fix leaves the name: rename it too
        edits.sort(key=lambda e: (e.span.line, e.span.col))
        if any(
            (a.span.end_line, a.span.end_col) > (b.span.line, b.span.col) for a, b in zip(edits, edits[1:])
        ):
            continue  # overlapping edits
        out.append(
            Rewrite(
                f"did you mean `{meant}`? " + "; ".join(r.help for r in chosen), tuple(edits), group="rename"
            )
        )
    return (*out, plain)


# ---------------------------------------------------------------------------- positions and gaps


def too_many_positional(op: str, spec: OpSpec, call: Call, extra: list[Value], ctx: Context) -> Diagnostic:
    """One error for all positional arguments too many, with the call written with keywords: in
    dslc's order (`conv(96, 11, 4)` -> `conv(96, kernel=11, stride=4)`) where the values fit, and
    read as PyTorch's constructor (`conv(3, 96, 11)` is `nn.Conv2d(3, 96, 11)`: the input channels
    are inferred, so `conv(96, kernel=11)`). A reading is proposed only if it is a valid call: a
    value lands on no argument also given by keyword (`conv(96, 11, kernel=11)` is not
    `stride=11`), every value fits its argument and the required ones are all there; and only once
    the rewritten spec checks (each is a Rewrite, verified in analysis)."""
    n = len(spec.positional)
    takes = (
        f"{n} positional argument" + ("s" if n != 1 else "") + (f" (`{'`, `'.join(spec.positional)}`)")
        if n
        else "no positional arguments"
    )

    def too_many(rewrites: tuple[Rewrite, ...] = (), notes: tuple[str, ...] = ()) -> Diagnostic:
        return error(
            "E0106",
            f"`{op}` takes {takes}",
            extra[0].span.join(extra[-1].span),
            label=f"{len(extra)} too many",
            rewrites=rewrites,
            notes=notes,
            helps=("name the arguments: `key=value`",) if spec.params and not rewrites else (),
        )

    # every argument as bound (what fits where) and as written (what the rewrite writes back: inside a
    # block, the parameter's name, not one instance's value)
    values: list[tuple[Value, str]] = []
    keywords: dict[str, tuple[Value, str]] = {}
    for a in call.args:
        val = substitute(a.value, ctx.env)
        if a.key is None:
            values.append((val, a.value.text))
        elif a.key.text in spec.params and a.key.text not in keywords:
            keywords[a.key.text] = (val, a.value.text)
        else:  # reported on its own; a rewrite would silently drop it
            return too_many()
    span = call_span(call, ctx.source)
    rewrites = [] if span is None else _readings(op, spec, values, keywords, span)
    by_name = [k for k in spec.params if k not in spec.positional]
    # (a reading may not check, `linear(10, 5)` under `-> [N, 10]`: then the arguments say the rest)
    known = (f"the others are given by name: {and_([f'`{k}`' for k in by_name])}",) if by_name else ()
    return too_many(tuple(rewrites), known)


def _readings(
    op: str, spec: OpSpec, values: list[tuple[Value, str]], keywords: dict[str, tuple[Value, str]], span: Span
) -> list[Rewrite]:
    """The call's positional values read in dslc's order and as PyTorch's constructor, where valid."""
    required = {k for k, p in spec.params.items() if p.required}

    def reading(names: list[str], given: list[tuple[Value, str]]) -> str | None:
        """The call with `given` bound to `names` in order, or None if that is not a valid call."""
        if len(given) > len(names):
            return None
        bound = {**dict(zip(names, given)), **keywords}
        if len(bound) < len(keywords) + len(given) or not required <= set(bound):
            return None  # a value also given by keyword, or a required argument missing
        if not all(fits(spec.params[k], v) for k, (v, _) in bound.items()):
            return None
        return _written(spec, op, {k: text for k, (_, text) in bound.items()})

    rewrites = []
    # (a number given to `batchnorm` is PyTorch's num_features, never meant as `eps`)
    if op != "batchnorm":
        named = [k for k, p in spec.params.items() if k not in spec.positional and not p.optional]
        call = reading([*spec.positional, *named], values)
        if call is not None:
            rewrites.append(Rewrite(f"name them: `{call}`", (Edit(span, call),)))
    form = spec.torch
    if form is not None and values:
        call = reading(list(form.args), values[1:] if form.inferred else values)
        if call is not None:
            torch_call = f"{form.cls}({', '.join(v.text for v, _ in values)})"
            why = (
                f"dslc infers `{form.inferred}` from the input"
                if form.inferred
                else "its alpha is divided by the size, which is dslc's `avg_alpha`"
            )
            rewrites.append(
                Rewrite(f"if this is PyTorch's `{torch_call}`: {why}, so write `{call}`", (Edit(span, call),))
            )
    return rewrites


def missing_arguments(op: str, spec: OpSpec, call: Call, missing: list[str], ctx: Context) -> Diagnostic:
    """One error for the required arguments a call lacks, with the call completed by example values
    as alternative rewrites (verified: shown only if the network then checks better). The sizes come
    from the line's assertion and the network's declared output, so `linear` on `[N, 8] -> [N, 8]`
    gets `linear(8)`, not a size that breaks the output."""

    def sizes(axis: int, default: int) -> list[str]:
        found = [
            d[axis] for d in (ctx.line_dims, ctx.output_dims) if len(d) > axis and isinstance(d[axis], int)
        ]
        return [str(v) for v in dict.fromkeys([*found, default])]

    choices: dict[str, list[str]] = {
        "filters": sizes(1, 64),
        "features": sizes(1, 10),
        "output": sizes(2, 6),
        "kernel": ["3", "2"] if op == "conv" else ["2", "3"],
        "size": ["5"],
    }
    rewrites: list[Rewrite] = []
    first = missing[0]
    for value in choices.get(first, []):
        fill = {first: value, **{k: choices[k][0] for k in missing[1:] if k in choices}}
        if len(fill) < len(missing):
            break
        edit = _completed(op, spec, call, fill, ctx.source)
        whole = call_span(call, ctx.source) if call.args else call.op.span
        if edit is None or whole is None or whole.line != whole.end_line:
            break
        text = ctx.source.line_text(whole.line)[whole.col - 1 : whole.end_col - 1]
        at = edit.span.col - whole.col
        written = edit.text if not call.args else text[:at] + edit.text + text[at:]
        rewrites.append(Rewrite(f"write `{written}`", (edit,), group="example"))
    return error(
        "E0103", f"`{op}` needs " + and_([f"`{k}`" for k in missing]), call.op.span, rewrites=tuple(rewrites)
    )


def _completed(op: str, spec: OpSpec, call: Call, fill: dict[str, str], source: Source) -> Edit | None:
    """The edit that adds the arguments `fill` to the call; None where there is no simple place."""
    parts = [fill[k] if k in spec.positional else f"{k}={fill[k]}" for k in spec.params if k in fill]
    op_span = call.op.span
    if not call.args:
        if source.line_text(op_span.end_line)[op_span.end_col - 1 :].lstrip().startswith("("):
            return None  # `op()`: no arguments to place the new ones among (rare: not proposed)
        return Edit(op_span, f"{op}({', '.join(parts)})")
    if all(k not in spec.positional for k in fill):  # keywords: after the last argument
        last = call.args[-1].span
        return Edit(Span(last.end_line, last.end_col, last.end_line, last.end_col), ", " + ", ".join(parts))
    if all(k in spec.positional for k in fill) and len(fill) == 1:  # the positional one: first
        start = call.args[0].span
        return Edit(Span(start.line, start.col, start.line, start.col), parts[0] + ", ")
    return None


# ---------------------------------------------------------------------------- values


def name_value_help(name: str, span: Span, kind: str, ctx: Context) -> dict:
    """The help for a name where an argument's value belongs: Python's `None` (a flag's `false`), a
    block parameter used outside its block, an input size, a misspelt parameter of the block."""
    what = {
        "bool": "`true` or `false`",
        "float": "a number",
        "int": "an integer",
        "padding": "an integer, a pair `(h, w)` or `same`",
        "choice": "one of the words the argument takes",
    }.get(kind, "an integer or a pair `(h, w)`")
    if name.lower() in ("none", "null", "nil"):
        if kind == "bool":
            return {"rewrites": (Rewrite("write `false`", (Edit(span, "false"),)),)}
        return {"helps": (f"an argument is {what}; leave it out for its default",)}
    if name in ctx.block_params and name not in ctx.env:
        return {
            "helps": (
                f"`{name}` is a parameter of block `{ctx.block_params[name]}`: a block parameter "
                "is only visible inside its block",
            )
        }
    if ctx.env:
        renamed = tuple(replace(r, name_only=False) for r in rename(name, span, list(ctx.env)))
        if renamed:
            return {"rewrites": renamed}
    if ctx.input_symbols and name in ctx.input_symbols:
        return {
            "helps": (
                f"`{name}` is a size of the input, known only when the network runs; an argument "
                f"is {what} written in the spec",
            )
        }
    return {"helps": (f"an argument is {what}",)}

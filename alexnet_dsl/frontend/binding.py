"""Argument binding: a call's arguments onto the parameters of an op or of a block.

One routine, `bind`, sorts the arguments (positional ones first, in order, then keywords) and finds the
values too many, the names no parameter has and the parameters given twice. `bind_op` then checks each
value's kind and range against the vocabulary table and fills in the defaults; `bind_block` binds a
block's parameters, whose values are substituted where the block's body uses them. Both return their
diagnostics, in the order of the arguments, rather than reporting them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from alexnet_dsl.diagnostics import Diagnostic, Edit, Related, Rewrite, error
from alexnet_dsl.frontend import suggest
from alexnet_dsl.frontend.syntax import MAX_INT, Arg, Block, Call, Value, substitute
from alexnet_dsl.frontend.vocabulary import OpSpec, Param
from alexnet_dsl.source import Span


@dataclass(frozen=True, slots=True)
class Mistake:
    """An argument that binds to no parameter: `extra` (a positional value too many), `unknown` (a key
    that names no parameter) or `twice` (the parameter `key` given again; `first`: its first value)."""

    kind: str
    arg: Arg
    value: Value  # block parameters substituted
    key: str = ""
    first: Value | None = None


@dataclass
class Binding:
    """A call's arguments sorted onto parameters: parameter -> value, in the order given."""

    given: dict[str, Value] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)  # in the order of the arguments

    def of_kind(self, kind: str) -> list[Mistake]:
        return [m for m in self.mistakes if m.kind == kind]


def bind(
    args: Sequence[Arg], positional: Sequence[str], names: Collection[str], env: dict[str, Value]
) -> Binding:
    """Positional arguments onto `positional` in order, keywords onto `names`; the values with the block
    parameters of `env` substituted.

    >>> from alexnet_dsl.frontend.syntax import Name
    >>> from alexnet_dsl.source import Span
    >>> at = Span(1, 1, 1, 2)
    >>> one, two = Value("int", 1, at, "1"), Value("int", 2, at, "2")
    >>> b = bind([Arg(None, one, at), Arg(Name("a", at), two, at)], ["a"], ["a", "b"], {})
    >>> b.given["a"].text, [m.kind for m in b.mistakes]
    ('1', ['twice'])
    """
    binding = Binding()
    taken = 0
    for arg in args:
        value = substitute(arg.value, env)
        if arg.key is None:
            if taken >= len(positional):
                binding.mistakes.append(Mistake("extra", arg, value))
                continue
            key = positional[taken]
            taken += 1
        else:
            key = arg.key.text
            if key not in names:
                binding.mistakes.append(Mistake("unknown", arg, value, key))
                continue
        if key in binding.given:
            binding.mistakes.append(Mistake("twice", arg, value, key, binding.given[key]))
            continue
        binding.given[key] = value
    return binding


# ---------------------------------------------------------------------------- ops


@dataclass(frozen=True, slots=True)
class BoundOp:
    """An op call's arguments, checked: every parameter's value (defaults filled in, an int pair
    argument as a pair) or None after a mistake; where each given one is and how it was written."""

    values: dict[str, object] | None
    spans: tuple[tuple[str, Span], ...]
    texts: tuple[tuple[str, str], ...]
    diagnostics: list[Diagnostic]


def bind_op(op: str, spec: OpSpec, call: Call, ctx: suggest.Context) -> BoundOp:
    """The arguments of a call of the built-in `op`, bound and checked against its entry of the table."""
    b = bind(call.args, spec.positional, spec.params, ctx.env)
    diags: list[Diagnostic] = []
    foreign: list[Arg] = []  # arguments spelt as another framework spells them: one error for all
    for m in b.mistakes:
        if m.kind == "unknown" and suggest.is_foreign(op, m.key):
            foreign.append(m.arg)
        elif m.kind == "unknown":
            diags.append(suggest.unknown_argument(op, spec, call, m.arg, ctx))
        elif m.kind == "twice":
            first = Related("first given here", m.first.span)  # type: ignore[union-attr]
            diags.append(error("E0106", f"`{m.key}` is given twice", m.value.span, related=(first,)))
    if foreign:
        diags.append(suggest.foreign_arguments(op, spec, call, foreign, ctx.source))
    extra = [m.value for m in b.of_kind("extra")]
    if extra:  # one error for all, with the call rewritten
        diags.append(suggest.too_many_positional(op, spec, call, extra, ctx))
    # a misspelt argument, or positional values too many, probably holds the missing one: not reported
    guessing = bool(extra or b.of_kind("unknown"))
    values: dict[str, object] = {}
    texts: list[tuple[str, str]] = []
    missing: list[str] = []
    for key, param in spec.params.items():
        if key in b.given:
            val = b.given[key]
            converted = convert(key, param, val, ctx)
            if isinstance(converted, Diagnostic):
                diags.append(converted)
                continue
            values[key] = converted
            texts.append((key, val.text))
        elif param.required and not guessing:
            missing.append(key)
        elif param.kind in ("pair", "padding") and isinstance(param.default, int):
            values[key] = (param.default, param.default)
        else:
            values[key] = param.default
    if missing:
        diags.append(suggest.missing_arguments(op, spec, call, missing, ctx))
    ok = not b.mistakes and len(values) == len(spec.params)
    spans = tuple((k, v.span) for k, v in b.given.items())
    return BoundOp(values if ok else None, spans, tuple(texts), diags)


def convert(key: str, param: Param, val: Value, ctx: suggest.Context) -> object:
    """The value of the argument `key` as the IR takes it (an int pair argument as a pair), or the
    diagnostic of a value of the wrong kind or out of the parameter's range."""
    kind = param.kind
    if kind == "choice":
        return _choice(key, param, val)
    if val.kind == "name" and val.value not in ("true", "false", "same"):
        return _not_a_value(str(val.value), val.span, kind, ctx)
    if kind == "bool":
        if val.kind == "name" and val.value in ("true", "false"):
            return val.value == "true"
        if val.kind == "int" and val.value in (0, 1):  # C's and Caffe's flags
            literal = "true" if val.value else "false"
            return error(
                "E0104",
                f"`{key}` must be `true` or `false`, got {val.show()}",
                val.span,
                rewrites=(Rewrite(f"write `{literal}`", (Edit(val.span, literal),)),),
            )
        return _wrong_kind(key, val, "`true` or `false`")
    if kind == "float":
        if val.kind in ("int", "float"):
            x = float(val.value)  # type: ignore[arg-type]
            return _out_of_range(key, param, x, val.text, val.span) or x
        return _wrong_kind(key, val, "a number")
    if kind == "int":
        if val.kind != "int":
            return _wrong_kind(key, val, "an integer")
        return _out_of_range(key, param, val.value, val.text, val.span) or val.value
    # pairs
    if kind == "padding" and val.kind == "name" and val.value == "same":
        return "same"
    if val.kind == "pair":
        a, b = val.value  # type: ignore[misc]
        if a.kind != "int" or b.kind != "int":
            return _wrong_kind(key, val, "a pair of integers")
        bad = _out_of_range(key, param, a.value, a.text, val.span) or _out_of_range(
            key, param, b.value, b.text, val.span
        )
        return bad or (a.value, b.value)
    if val.kind != "int":
        return _wrong_kind(
            key, val, "an integer or a pair `(h, w)`" + (" or `same`" if kind == "padding" else "")
        )
    return _out_of_range(key, param, val.value, val.text, val.span) or (val.value, val.value)


def _choice(key: str, param: Param, val: Value) -> object:
    """One of the words the argument takes; a misspelt or differently cased one is rewritten."""
    if val.kind == "name" and val.value in param.choices:
        return val.value
    words = ", ".join(f"`{w}`" for w in param.choices)
    close = suggest.did_you_mean(str(val.text).strip("'\""), param.choices)
    rewrites = (Rewrite(f"write `{close}`", (Edit(val.span, close),)),) if close else ()
    return error("E0104", f"`{key}` must be one of {words}, got {val.show()}", val.span, rewrites=rewrites)


def _not_a_value(name: str, span: Span, kind: str, ctx: suggest.Context) -> Diagnostic:
    literal = name.lower()
    if literal in ("true", "false", "same"):  # Python's `True`, `False`: the literals are lowercase
        rewrite = Rewrite(f"write `{literal}`", (Edit(span, literal),))
        return error("E0202", f"`{name}` is not a value here", span, rewrites=(rewrite,))
    return error(
        "E0202", f"`{name}` is not a value here", span, **suggest.name_value_help(name, span, kind, ctx)
    )


def _wrong_kind(key: str, val: Value, expected: str) -> Diagnostic:
    return error("E0104", f"`{key}` must be {expected}, got {val.show()}", val.span)


def _out_of_range(key: str, param: Param, x: float, show: str, span: Span) -> Diagnostic | None:
    """The error of a number outside the parameter's range (or not finite, or past MAX_INT); None if
    it is in range."""
    if isinstance(x, float) and not math.isfinite(x):
        return error("E0105", f"`{key}` must be finite, got {show}", span)
    if isinstance(x, int) and x > MAX_INT:
        shown = show if len(show) <= 24 else show[:20] + "…"
        return error("E0105", f"`{key}` is {shown}, larger than the largest supported {MAX_INT}", span)
    if param.lo is not None and x < param.lo:
        lo = int(param.lo) if float(param.lo).is_integer() else param.lo
        rule = f"in [{lo}, {param.hi:g}]" if param.hi is not None else f"at least {lo}"
        if param.lo == 1e-300:
            rule = "positive"
        return error("E0105", f"`{key}` must be {rule}, got {show}", span)
    if param.hi is not None and x > param.hi:
        return error("E0105", f"`{key}` must be in [{param.lo:g}, {param.hi:g}], got {show}", span)
    return None


# ---------------------------------------------------------------------------- blocks


def bind_block(
    block: Block, call: Call, env: dict[str, Value]
) -> tuple[dict[str, Value] | None, list[Diagnostic]]:
    """The parameters of one call of `block` (None after a mistake) and the call's diagnostics. A
    parameter's default is taken as written in the block's header."""
    name = block.name.text
    names = [p.name.text for p in block.params]
    b = bind(call.args, names, names, env)
    diags: list[Diagnostic] = []
    extra = [m.value for m in b.of_kind("extra")]
    if extra:  # one error for all, as for an op
        n = len(names)
        takes = f"{n} argument" + ("s" if n != 1 else "") + (f" (`{'`, `'.join(names)}`)" if n else "")
        at = extra[0].span.join(extra[-1].span)
        diags.append(error("E0106", f"block `{name}` takes {takes}", at, label=f"{len(extra)} too many"))
    for m in b.mistakes:
        if m.kind == "unknown":
            at = m.arg.key.span  # type: ignore[union-attr]
            message = f"block `{name}` has no parameter `{m.key}`"
            diags.append(error("E0102", message, at, rewrites=suggest.rename(m.key, at, names)))
        elif m.kind == "twice":
            first = Related("first given here", m.first.span)  # type: ignore[union-attr]
            diags.append(error("E0106", f"`{m.key}` is given twice", m.value.span, related=(first,)))
    bound: dict[str, Value] = {}
    for p in block.params:
        key = p.name.text
        if key in b.given:
            bound[key] = b.given[key]
        elif p.default is not None:
            bound[key] = p.default
        else:
            diags.append(error("E0103", f"block `{name}` needs `{key}`", call.op.span))
    return (bound if not diags else None), diags

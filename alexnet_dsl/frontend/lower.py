"""Syntax tree -> IR: names, automatic names, block expansion, defaults and argument checks.

No lark type leaves this file. Every mistake becomes a diagnostic; lowering goes on after one, so a
file reports all of its argument and name errors in one run.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, replace

from lark import Token, Tree

from alexnet_dsl import ir
from alexnet_dsl.diagnostics import Diagnostic, Edit, Related, Rewrite, error, warning
from alexnet_dsl.frontend.parse import meta_span, token_span
from alexnet_dsl.frontend.vocabulary import (
    ARG_ALIASES,
    INFERRED_ARGS,
    OP_ALIASES,
    OPS,
    OPTIONAL_NONE,
    REQUIRED,
    RESERVED,
    TORCH_FORMS,
    OpSpec,
    Param,
    is_missing_op,
)
from alexnet_dsl.source import Source, Span

MAX_INT = 2**31 - 1
MAX_BLOCK_DEPTH = 64


# ---------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Val:
    """An argument value as written: an int, a float, a name or a pair of values."""

    kind: str  # "int", "float", "name", "pair"
    value: object
    span: Span
    text: str

    def show(self) -> str:
        text = self.text if len(self.text) <= 24 else self.text[:20] + "…"
        return f"`{text}`"


def parse_int(text: str) -> int:
    """An integer literal; anything past MAX_INT is clamped (it is an error wherever it is used),
    which also keeps 5,000-digit literals from costing quadratic time."""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > 12:
        return -(MAX_INT + 1) if text.startswith("-") else MAX_INT + 1
    return int(text)


def _number(tok: Token) -> Val:
    text = str(tok)
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return Val("int", parse_int(text), token_span(tok), text)
    return Val("float", float(text), token_span(tok), text)


def _value(tree: Tree) -> Val:
    if tree.data == "pair":
        a, b = (_value(c) for c in tree.children)
        return Val("pair", (a, b), meta_span(tree.meta), f"({a.text}, {b.text})")
    tok = tree.children[0]
    if tok.type == "NUMBER":
        return _number(tok)
    return Val("name", str(tok), token_span(tok), str(tok))


def _fits(param: Param, val: Val) -> bool:
    """Whether a value has a kind the parameter could take (the rewrite of a call proposes no `bias=10`)."""
    if param.kind == "bool":
        return val.kind == "name" and val.value in ("true", "false")
    if param.kind == "float":
        return val.kind in ("int", "float")
    if param.kind == "int":
        return val.kind == "int"
    same = param.kind == "padding" and val.kind == "name" and val.value == "same"
    return same or val.kind in ("int", "pair")


_BATCH_HELP = (
    "the first dimension is the batch; give the other sizes as numbers or other symbols "
    "(`[N, 3, H, W]`), or `_` in an assertion for a size you do not want to check",
)


def _batch_of(input_dims) -> str | None:
    """The input's batch symbol (its first dimension, when it is a name)."""
    return input_dims[0] if input_dims and isinstance(input_dims[0], str) else None


def _batch_elsewhere(dims, spans, batch: str | None) -> list[tuple[Span, str]]:
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
    return [
        (
            wrong[0][0].join(wrong[-1][0]),
            f"the batch symbol `{batch}` is used as the {_and([w for _, w in wrong])}",
        )
    ]


def _written_batch(network: Tree) -> str | None:
    """The batch symbol as the network's input shape writes it (its first dimension, when a name)."""
    in_shape = network.children[2]
    dims = [c for c in in_shape.children if c is not None]
    if not dims:
        return None
    tok = dims[0].children[0]
    return str(tok) if tok.type == "NAME" and str(tok) != "_" else None


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _not_symbols(unknown: list[tuple[Span, str]], what: str) -> tuple[Span, str]:
    """The problem of names in a shape that are not symbols of the input, over all of them."""
    names = list(dict.fromkeys(d for _, d in unknown))
    return (
        unknown[0][0].join(unknown[-1][0]),
        f"{_and([f'`{d}`' for d in names])} in the {what} shape "
        f"{'is not a symbol' if len(names) == 1 else 'are not symbols'} of the input",
    )


def _did_you_mean(name: str, options, aliases: dict[str, str] | None = None) -> str | None:
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


def _rename(name: str, span: Span, options, why: str = "") -> tuple[Rewrite, ...]:
    """ "did you mean `x`?" as a rewrite of the name at `span`: shown only once the renamed spec is checked
    and the error is gone (a name fix may leave another mistake on its line: see Rewrite.name_only)."""
    meant = _did_you_mean(name, options)
    return () if meant is None else _renamed_to(meant, span, why)


def _renamed_to(meant: str, span: Span, why: str = "") -> tuple[Rewrite, ...]:
    return (
        Rewrite(
            f"did you mean `{meant}`?" + (f" {why}" if why else ""), (Edit(span, meant),), name_only=True
        ),
    )


# ---------------------------------------------------------------------------- lowering


@dataclass
class _Scope:
    sid: int
    names: dict[str, Span | None]  # local name -> where it is defined (None: automatic or the input)
    env: dict[str, Val]  # block parameters
    prefix: str
    instance: tuple[tuple[str, str, Span], ...]


@dataclass(frozen=True, slots=True)
class _Ref:
    sid: int
    name: str
    span: Span


class _Lowerer:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.diags: list[Diagnostic] = []
        self.blocks: dict[str, Tree] = {}
        self.shadowed: set[str] = set()  # blocks named like a built-in op (reported, not defined)
        self.broken: set[str] = set()  # blocks whose definition is wrong: calls are not checked
        self.layers: list[ir.Layer] = []
        self.raw_inputs: list[tuple[object, ...]] = []  # per layer: _Ref or full names
        self.bindings: dict[tuple[int, str], object] = {}
        self.scope_names: dict[int, list[str]] = {}
        self.next_sid = 0
        self.instance_assertions: list[tuple[object, ir.Assertion]] = []
        self.input_symbols: set[str] | None = None  # None: the input shape is broken, nothing to compare
        self.input_dims: tuple[ir.Dim, ...] | None = None
        self.output_dims: tuple[ir.Dim, ...] = ()  # the network's declared output, for a help's examples
        self.line_dims: tuple[ir.Dim, ...] = ()  # the assertion of the line being lowered, likewise
        self.block_params: dict[str, str] = {}  # a block parameter's name -> the (first) block it is of

    # -- helpers
    def err(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.diags.append(error(code, message, span, **kw))

    def new_scope(self, prefix: str, env: dict[str, Val], instance) -> _Scope:
        self.next_sid += 1
        return _Scope(self.next_sid, {}, env, prefix, instance)

    # -- top level
    def lower(self, tree: Tree) -> ir.Network | None:
        networks = [c for c in tree.children if isinstance(c, Tree) and c.data == "network"]
        batch = _written_batch(networks[0]) if networks else None
        for blk in (c for c in tree.children if isinstance(c, Tree) and c.data == "block"):
            name_tok = blk.children[0]
            name = str(name_tok)
            if name in self.blocks:
                first = self.blocks[name].children[0]
                self.err(
                    "E0201",
                    f"block `{name}` is defined twice",
                    token_span(name_tok),
                    related=(Related(f"`{name}` first defined here", token_span(first)),),
                )
                continue
            if name in OPS:
                self.err(
                    "E0204",
                    f"block `{name}` has the name of a built-in op",
                    token_span(name_tok),
                    helps=("rename the block",),
                )
                self.shadowed.add(name)
                continue
            self.blocks[name] = blk
            seen_params: dict[str, Span] = {}
            for p in (p for p in blk.children[1:-1] if isinstance(p, Tree) and p.data == "param"):
                key_tok = p.children[0]
                if batch is not None and str(key_tok) == batch and str(key_tok) not in seen_params:
                    # inside the block `N` would be the parameter, and `-> [N, ...]` a number in the batch's place
                    self.err(
                        "E0204",
                        f"block parameter `{key_tok}` has the name of the batch symbol",
                        token_span(key_tok),
                        notes=(
                            f"`{batch}` is the batch size of the network's input; in the block's "
                            f"assertions (`-> [{batch}, ...]`) it must stay the batch",
                        ),
                        helps=("rename the parameter",),
                    )
                    self.broken.add(name)
                if str(key_tok) in seen_params:
                    self.err(
                        "E0201",
                        f"parameter `{key_tok}` is defined twice",
                        token_span(key_tok),
                        related=(Related("first defined here", seen_params[str(key_tok)]),),
                    )
                    self.broken.add(name)
                seen_params.setdefault(str(key_tok), token_span(key_tok))
                self.block_params.setdefault(str(key_tok), name)
        if not networks:
            self.err(
                "E0003",
                "this file defines no network",
                Span.point(1, 1),
                helps=("add `network NAME(input: [N, C, H, W]) { ... }`",),
            )
            return None
        for extra in networks[1:]:
            self.err(
                "E0003",
                "a file defines one network; this is a second one",
                token_span(extra.children[0]),
                related=(Related("the first network", token_span(networks[0].children[0])),),
            )
        return self.network(networks[0])

    def network(self, tree: Tree) -> ir.Network | None:
        name_tok, input_tok, in_shape, out_shape, body = tree.children
        input_name = str(input_tok)
        if input_name in RESERVED:
            self.err("E0204", f"`{input_name}` cannot name the input", token_span(input_tok))
        dims, dim_spans = self.shape(in_shape, where="input")
        if dims is not None and not self.check_input(dims, dim_spans, meta_span(in_shape.meta)):
            dims = None  # shapes cannot be checked against a broken input
        output = None
        if out_shape is not None:
            out_dims, out_spans = self.shape(out_shape, where="output")
            self.output_dims = out_dims or ()
            if (
                out_dims is not None
                and dims is not None
                and self.check_declared(out_dims, out_spans, dims, "output")
            ):
                output = ir.Assertion(out_dims, meta_span(out_shape.meta), out_spans)
        self.input_symbols = None if dims is None else {d for d in dims if isinstance(d, str)}
        self.input_dims = dims
        scope = self.new_scope("", {}, ())
        scope.names[input_name] = token_span(input_tok)
        self.bindings[(scope.sid, input_name)] = input_name
        self.scope(body, scope, input_name, stack=())
        layers = self.resolve()
        if dims is None:
            return None
        net = ir.Network(
            name=str(name_tok),
            input_name=input_name,
            input_dims=dims,
            input_span=meta_span(in_shape.meta),
            input_dim_spans=dim_spans,
            output=output,
            layers=tuple(layers),
            name_span=token_span(name_tok),
        )
        return net

    def check_input(self, dims, spans, span: Span) -> bool:
        before = len(self.diags)
        if len(dims) not in (2, 4):
            self.err(
                "E0306",
                f"the network input has rank {len(dims)}; it must be [N, C, H, W] or [N, features]",
                span,
            )
        problems: list[tuple[Span, str]] = []
        for d, s in zip(dims, spans):
            if d is None:
                problems.append((s, "the input shape cannot contain `_`; give a size or a symbol"))
            elif isinstance(d, int) and d < 1:
                problems.append((s, f"input dimensions must be at least 1, got {d}"))
        problems += _batch_elsewhere(dims, spans, _batch_of(dims))
        self.one_error(
            "E0309", problems, span, helps=_BATCH_HELP if any("batch" in m for _, m in problems) else ()
        )
        return len(self.diags) == before

    def check_declared(self, dims, spans, input_dims, what: str) -> bool:
        before = len(self.diags)
        symbols = {d for d in input_dims if isinstance(d, str)}
        unknown = [(s, d) for d, s in zip(dims, spans) if isinstance(d, str) and d not in symbols]
        problems = [
            (s, f"dimensions must be at least 1, got {d}")
            for d, s in zip(dims, spans)
            if isinstance(d, int) and d < 1
        ]
        problems += _batch_elsewhere(dims, spans, _batch_of(input_dims))
        helps: tuple[str, ...] = ()
        if unknown:
            problems.append(_not_symbols(unknown, what))
            helps = (
                f"input symbols: {', '.join(f'`{x}`' for x in sorted(symbols)) or 'none'}; "
                "write `_` for a size you do not want to check",
            )
        self.one_error(
            "E0309",
            problems,
            spans[0].join(spans[-1]) if spans else None,
            helps=helps or (_BATCH_HELP if problems else ()),
        )
        return len(self.diags) == before

    def one_error(self, code: str, problems: list[tuple[Span, str]], whole: Span | None, **kw) -> None:
        """One diagnostic for the problems of one shape: one mistake (a wrong symbol written twice, a
        shape with several bad sizes) is one error, at the smallest span covering them."""
        if not problems:
            return
        span = problems[0][0]
        for s, _ in problems[1:]:
            span = span.join(s)
        self.err(
            code,
            "; ".join(dict.fromkeys(m for _, m in problems)),
            span if whole is None or span.line == span.end_line else whole,
            **kw,
        )

    def shape(self, tree: Tree, where: str) -> tuple[tuple[ir.Dim, ...] | None, tuple[Span, ...]]:
        dims: list[ir.Dim] = []
        spans: list[Span] = []
        ok = True
        for dim in (c for c in tree.children if c is not None):
            tok = dim.children[0]
            span = token_span(tok)
            text = str(tok)
            if tok.type == "NUMBER":
                if not re.fullmatch(r"[+-]?[0-9]+", text):
                    self.err("E0104", f"a dimension must be an integer or a symbol, got `{text}`", span)
                    ok = False
                    continue
                value = parse_int(text)
                if value > MAX_INT:
                    self.err(
                        "E0105",
                        f"dimension {text[:20]}{'…' if len(text) > 20 else ''} is larger than {MAX_INT}",
                        span,
                    )
                    ok = False
                    continue
                dims.append(value)
            else:
                dims.append(None if text == "_" else text)
            spans.append(span)
        if not dims and ok:
            self.err("E0309", f"the {where} shape is empty", meta_span(tree.meta))
            return None, ()
        return (tuple(dims), tuple(spans)) if ok else (None, ())

    def assertion(self, tree: Tree, env: dict[str, Val]) -> ir.Assertion | None:
        """A layer's `-> [dims]`: block parameters replaced by their values; any other name must be a
        symbol of the network's input (a name that is neither would silently become a new unknown)."""
        dims, spans = self.shape(tree, where="asserted")
        if dims is None:
            return None
        resolved: list[ir.Dim] = []
        ok = True
        unknown: list[tuple[Span, str]] = []
        problems: list[tuple[Span, str]] = []
        for d, s in zip(dims, spans):
            if isinstance(d, str) and d in env:
                bound = env[d]
                if bound.kind != "int":
                    self.err("E0104", f"`{d}` is {bound.show()} here, not a size", s)
                    ok = False
                    continue
                d = bound.value
                if d < 1:
                    problems.append((s, f"dimensions must be at least 1, got {d} (`{bound.text}`)"))
                    continue
            elif isinstance(d, str) and self.input_symbols is not None and d not in self.input_symbols:
                unknown.append((s, d))
                continue
            resolved.append(d)
        if self.input_dims is not None:
            problems += _batch_elsewhere(dims, spans, _batch_of(self.input_dims))
        helps: tuple[str, ...] = _BATCH_HELP if problems else ()
        rewrites: tuple[Rewrite, ...] = ()
        if unknown:
            problems.append(_not_symbols(unknown, "asserted"))
            params = f"; block parameters: {', '.join(f'`{k}`' for k in env)}" if env else ""
            symbols = sorted(self.input_symbols or ())
            helps = (
                f"input symbols: {', '.join(f'`{x}`' for x in symbols) or 'none'}"
                f"{params}; write `_` for a size you do not want to check",
            )
            rewrites = tuple(r for span, d in unknown for r in _rename(d, span, [*symbols, *env]))
        if problems:
            self.one_error("E0309", problems, meta_span(tree.meta), helps=helps, rewrites=rewrites)
            return None
        return ir.Assertion(tuple(resolved), meta_span(tree.meta), spans) if ok else None

    # -- scopes: the body of the network or of one block instance
    def scope(self, body: Tree, scope: _Scope, input_ref, stack: tuple[str, ...]) -> object:
        lines = [c for c in body.children if isinstance(c, Tree) and c.data == "layer"]
        explicit: set[str] = {n for n in scope.names}
        for line in lines:
            if line.children[0] is not None:
                explicit.add(str(line.children[0]))
        counters: dict[str, int] = {}
        local_names: list[str] = []
        for line in lines:
            name_tok, call = line.children[0], line.children[1]
            if name_tok is not None:
                name = str(name_tok)
                span = token_span(name_tok)
                if name in RESERVED or (scope.prefix and name == "input"):
                    self.err("E0204", f"`{name}` is reserved and cannot name a layer", span)
                if name in scope.names:
                    first = scope.names[name]
                    self.err(
                        "E0201",
                        f"`{name}` is already defined",
                        span,
                        label="defined again here",
                        related=(Related(f"`{name}` first defined here", first),) if first else (),
                        helps=("give each layer its own name",),
                    )
                    name = f"{name}'{len(local_names)}"  # keep checking it, under a private name
                scope.names[name] = span
            else:
                base = str(call.children[0])
                n = counters.get(base, 0)
                while True:
                    n += 1
                    name = f"{base}{n}"
                    if name not in explicit and name not in scope.names:
                        break
                counters[base] = n
                scope.names[name] = None
            local_names.append(name)
        self.scope_names[scope.sid] = [n for n in scope.names if "'" not in n]
        prev = input_ref
        for line, name in zip(lines, local_names):
            out = self.line(line, name, scope, prev, stack)
            self.bindings[(scope.sid, name)] = out
            prev = _Ref(scope.sid, name, meta_span(line.meta))
        return prev

    def ref(self, scope: _Scope, tok: Token) -> _Ref:
        return _Ref(scope.sid, str(tok), token_span(tok))

    def line(self, line: Tree, name: str, scope: _Scope, prev, stack) -> object:
        name_tok, call, from_tok, shape_tree = line.children
        op_tok = call.children[0]
        op = str(op_tok)
        span = meta_span(line.meta)
        args = [a for a in call.children[1:] if a is not None]
        assertion = self.assertion(shape_tree, scope.env) if shape_tree is not None else None
        self.line_dims = assertion.dims if assertion is not None else ()
        source = _Ref(scope.sid, str(from_tok), token_span(from_tok)) if from_tok is not None else prev
        full = scope.prefix + name
        if op in self.blocks:
            return self.instance(op, op_tok, args, name, full, scope, source, assertion, span, stack)
        sig = OPS.get(op)
        calls_before = len(self.diags)
        if sig is None:
            ops = "built-in ops: " + ", ".join(f"`{o}`" for o in OPS)
            if is_missing_op(op) and op.lower() not in {
                b.lower() for b in self.blocks
            }:  # another framework's op that we lack: no near spelling of ours
                self.err(
                    "E0101",
                    f"unknown op `{op}`",
                    token_span(op_tok),
                    notes=(ops,),
                    helps=(f"`{op}` is not an op of dslc yet",),
                )
                return self.placeholder(full, op_tok, source, span, scope, assertion)
            renamed = self.rename_op(op, op_tok, args, scope.env)
            self.err(
                "E0101",
                f"unknown op `{op}`",
                token_span(op_tok),
                helps=() if renamed else (ops,),
                rewrites=renamed,
            )
            return self.placeholder(full, op_tok, source, span, scope, assertion)
        inputs: list[object]
        if sig.variadic_refs:
            refs = []
            for a in args:
                val = _value(a.children[-1])
                if a.data == "keyword" or val.kind != "name":
                    self.err(
                        "E0104",
                        f"`{op}` takes the names of the layers it joins",
                        val.span,
                        helps=(f"write `{op}(a, b)` with layer names",),
                    )
                    continue
                refs.append(_Ref(scope.sid, val.value, val.span))
            if from_tok is not None:
                self.err(
                    "E0106",
                    f"`{op}` names its inputs in parentheses; `from` is not used",
                    token_span(from_tok),
                )
            if len(refs) < 2 and len(refs) == len(args):
                self.err(
                    "E0103",
                    f"`{op}` joins at least two layers",
                    token_span(op_tok),
                    helps=(f"write `{op}(a, b)`",),
                )
            inputs = refs or [source]
            values = {}
            arg_spans = ()
            texts = ()
        else:
            values, arg_spans, texts = self.arguments(op, op_tok, sig, args, scope.env, span)
            inputs = [source]
        op_obj = self.make_op(op, values, arg_spans, op_tok) if values is not None else None
        if op in self.shadowed and len(self.diags) > calls_before:
            # a call that is wrong for the built-in op was probably meant for the block of that name:
            # the block's name is the one mistake, reported once
            del self.diags[calls_before:]
            op_obj = None
        if op_obj is None:
            return self.placeholder(full, op_tok, source, span, scope, assertion)
        self.add_layer(
            ir.Layer(
                name=full,
                op=op_obj,
                inputs=(),
                span=span,
                op_span=token_span(op_tok),
                name_span=token_span(name_tok) if name_tok is not None else None,
                arg_spans=tuple(arg_spans),
                assertions=(assertion,) if assertion else (),
                instance=scope.instance,
                source_text=tuple(texts),
            ),
            inputs,
        )
        return full

    def placeholder(self, full, op_tok, source, span, scope, assertion) -> str:
        """A layer whose op could not be built: shape unknown, checked no further."""
        self.add_layer(
            ir.Layer(
                name=full,
                op=ir.Invalid(str(op_tok)),
                inputs=(),
                span=span,
                op_span=token_span(op_tok),
                assertions=(assertion,) if assertion else (),
                instance=scope.instance,
            ),
            [source],
        )
        return full

    def add_layer(self, layer: ir.Layer, inputs: list[object]) -> None:
        self.layers.append(layer)
        self.raw_inputs.append(tuple(inputs))

    # -- arguments
    def arguments(self, op: str, op_tok: Token, sig: OpSpec, args, env, span):
        given: dict[str, Val] = {}
        spans: list[tuple[str, Span]] = []
        ok = True
        unknown = False  # a misspelt argument: do not also report the one it was meant to be
        extra: list[Val] = []  # positional arguments past the op's positional ones
        foreign: list[tuple[Tree, Token]] = []  # arguments spelt as another framework spells them
        positional = 0
        for a in args:
            if a.data == "positional":
                val = self.substitute(_value(a.children[0]), env)
                if val is None:
                    ok = False
                    continue
                if positional >= len(sig.positional):
                    extra.append(val)  # reported once, below, with the call rewritten
                    ok = False
                    continue
                key = sig.positional[positional]
                positional += 1
            else:
                key_tok, value_tree = a.children
                key = str(key_tok)
                val = self.substitute(_value(value_tree), env)
                if key not in sig.params and (
                    (op, key.lower()) in ARG_ALIASES or (op, key.lower()) in INFERRED_ARGS
                ):
                    foreign.append((a, key_tok))  # another framework's spelling: reported below, all together
                    ok = False
                    unknown = True
                    continue
                if key not in sig.params:  # (another framework's spelling went to `foreign` above)
                    helps: tuple[str, ...] = ()
                    rewrites: tuple[Rewrite, ...] = _rename(key, token_span(key_tok), sig.params)
                    if op == "lrn" and key == "depth_radius":
                        r = val.value if val is not None and val.kind == "int" else "r"
                        size = 2 * r + 1 if isinstance(r, int) else "2*r + 1"
                        helps = (
                            f"TensorFlow's `depth_radius` is the half width of the window: write "
                            f"`size={size}` (TensorFlow's alpha is not divided, like ours)",
                        )
                        if isinstance(r, int):  # the argument written anew, verified like every rewrite
                            where = token_span(key_tok).join(_value(value_tree).span)
                            rewrites, helps = (Rewrite(helps[0], (Edit(where, f"size={size}"),)),), ()
                    elif key == "from":
                        src = val.text if val is not None else "NAME"
                        helps = (
                            f"`from` is not an argument: write it after the call, `{op}(...) from {src}`",
                        )
                        rewrites = self._from_rewrite(op, op_tok, args, a, _value(value_tree).text)
                        helps = () if rewrites else helps
                    known = (
                        f"`{op}` takes: " + ", ".join(f"`{k}`" for k in sig.params)
                        if sig.params
                        else f"`{op}` takes no arguments"
                        + (" (it runs over channels, dim 1)" if op == "softmax" else "")
                    )
                    self.err(
                        "E0102",
                        f"`{op}` has no argument `{key}`",
                        token_span(key_tok),
                        notes=(known,),
                        helps=helps,
                        rewrites=rewrites,
                    )
                    ok = False
                    unknown = True
                    continue
                if val is None:
                    ok = False
                    continue
            if key in given:
                self.err(
                    "E0106",
                    f"`{key}` is given twice",
                    val.span,
                    related=(Related("first given here", given[key].span),),
                )
                ok = False
                continue
            given[key] = val
            spans.append((key, val.span))
        if foreign:
            self.foreign_error(op, op_tok, sig, args, foreign)
        if extra:
            self.positional_error(op, op_tok, sig, args, extra, env)
            unknown = True  # the missing arguments are probably among the extra ones
        values: dict[str, object] = {}
        texts: list[tuple[str, str]] = []
        missing: list[str] = []
        for key, param in sig.params.items():
            if key in given:
                val = given[key]
                converted = self.convert(op, key, param, val, env)
                if converted is None:
                    ok = False
                    continue
                values[key] = converted
                texts.append((key, val.text))
            elif param.default is REQUIRED and (op, key) not in OPTIONAL_NONE and not unknown:
                missing.append(key)
                ok = False
            elif param.kind in ("pair", "padding") and isinstance(param.default, int):
                values[key] = (param.default, param.default)
            else:
                values[key] = param.default
        if missing:
            self.missing_error(op, op_tok, sig, args, missing)
        return (values if ok else None), spans, texts

    def missing_error(self, op: str, op_tok: Token, sig: OpSpec, args, missing: list[str]) -> None:
        """One error for the required arguments a call lacks, with the call completed by example values
        as alternative rewrites (verified: shown only if the network then checks better). The sizes come
        from the line's assertion and the network's declared output, so `linear` on `[N, 8] -> [N, 8]`
        gets `linear(8)`, not a size that breaks the output."""

        def sizes(axis: int, default: int) -> list[int]:
            found = [
                d[axis]
                for d in (self.line_dims, self.output_dims)
                if len(d) > axis and isinstance(d[axis], int)
            ]
            return list(dict.fromkeys([*found, default]))  # type: ignore[list-item]

        choices: dict[str, list[str]] = {
            "filters": [str(v) for v in sizes(1, 64)],
            "features": [str(v) for v in sizes(1, 10)],
            "output": [str(v) for v in sizes(2, 6)],
            "kernel": ["3", "2"] if op == "conv" else ["2", "3"],
            "size": ["5"],
        }
        rewrites: list[Rewrite] = []
        first = missing[0]
        for value in choices.get(first, []):
            fill = {first: value, **{k: choices[k][0] for k in missing[1:] if k in choices}}
            if len(fill) < len(missing):
                break
            parts = [fill[k] if k in sig.positional else f"{k}={fill[k]}" for k in sig.params if k in fill]
            if not args and self.source.line_text(token_span(op_tok).end_line)[
                token_span(op_tok).end_col - 1 :
            ].lstrip().startswith("("):
                break  # `op()`: no arguments to place the new ones among (rare: not proposed)
            if not args:
                edit = Edit(token_span(op_tok), f"{op}({', '.join(parts)})")
            elif all(k not in sig.positional for k in fill):  # keywords: after the last argument
                last = meta_span(args[-1].meta)
                edit = Edit(
                    Span(last.end_line, last.end_col, last.end_line, last.end_col), ", " + ", ".join(parts)
                )
            elif all(k in sig.positional for k in fill) and len(fill) == 1:  # the positional one: first
                start = meta_span(args[0].meta)
                edit = Edit(Span(start.line, start.col, start.line, start.col), parts[0] + ", ")
            else:
                break
            whole = self._call_span(op_tok, args) if args else token_span(op_tok)
            if whole is None or whole.line != whole.end_line:
                break
            text = self.source.line_text(whole.line)[whole.col - 1 : whole.end_col - 1]
            at = edit.span.col - whole.col
            call = edit.text if not args else text[:at] + edit.text + text[at:]
            rewrites.append(Rewrite(f"write `{call}`", (edit,), group="example"))
        self.err(
            "E0103",
            f"`{op}` needs " + _and([f"`{k}`" for k in missing]),
            token_span(op_tok),
            rewrites=tuple(rewrites),
        )

    def rename_op(self, op: str, op_tok: Token, args, env: dict[str, Val]) -> tuple[Rewrite, ...]:
        """did you mean: our op `op` is the same op in another case, another framework's name for it or a
        typo of it (never a different op: see MISSING_OPS). When the call is also wrong for our op
        (PyTorch's `BatchNorm2d(3)` is `batchnorm`; a bare `Linear` needs its features), the rewrite
        also fixes the call, so that accepting it leaves no error on the line."""
        span = token_span(op_tok)
        meant = _did_you_mean(op, list(OPS) + list(self.blocks), OP_ALIASES)
        if meant is None:
            return ()
        plain = Rewrite(f"did you mean `{meant}`?", (Edit(span, meant),), group="rename", name_only=True)
        sig = OPS.get(meant)
        if sig is None:  # (a block named like a built-in op is never in self.blocks)
            return (plain,)
        mark = len(self.diags)
        self.arguments(meant, op_tok, sig, args, env, None)  # the call read as our op's
        found = [d for d in self.diags[mark:] if d.is_error]
        del self.diags[mark:]
        if not found:
            return (plain,)
        if any(not d.rewrites for d in found) or any(
            e.span.line != span.line for d in found for r in d.rewrites for e in r.edits
        ):
            return (plain,)
        options = [[r] for r in found[0].rewrites] if len(found) == 1 else [[d.rewrites[0] for d in found]]
        out: list[Rewrite] = []
        for chosen in options:
            edits = [e for r in chosen for e in r.edits]
            if not any((e.span.line, e.span.col) == (span.line, span.col) for e in edits):
                edits.append(Edit(span, meant))  # the call's fix leaves the name: rename it too
            edits.sort(key=lambda e: (e.span.line, e.span.col))
            if any(
                (a.span.end_line, a.span.end_col) > (b.span.line, b.span.col)
                for a, b in zip(edits, edits[1:])
            ):
                continue  # overlapping edits
            out.append(
                Rewrite(
                    f"did you mean `{meant}`? " + "; ".join(r.help for r in chosen),
                    tuple(edits),
                    group="rename",
                )
            )
        return (*out, plain)

    def foreign_error(
        self, op: str, op_tok: Token, sig: OpSpec, args, foreign: list[tuple[Tree, Token]]
    ) -> None:
        """One error for the arguments of one call spelt as another framework spells them
        (`conv(in_channels=3, out_channels=16, kernel_size=3)`: one line of PyTorch, one mistake), with
        the call written in dslc's names (`conv(16, kernel=3)`: the arguments dslc infers dropped),
        verified like every rewrite. One renamed argument alone is a did-you-mean of its name."""
        known = f"`{op}` takes: " + ", ".join(f"`{k}`" for k in sig.params)
        why = []
        for _, key_tok in foreign:
            key = str(key_tok).lower()
            if (op, key) in INFERRED_ARGS:
                why.append(f"{INFERRED_ARGS[op, key]} is inferred by dslc from the layer's input: drop it")
            else:
                why.append(ARG_ALIASES[op, key][1])
        keys = [str(t) for _, t in foreign]
        spans = [token_span(t) for _, t in foreign]
        where = spans[0].join(spans[-1]) if spans[0].line == spans[-1].line else spans[0]
        message = (
            f"`{op}` has no argument `{keys[0]}`"
            if len(keys) == 1
            else f"`{op}` has no arguments {_and([f'`{k}`' for k in keys])}"
        )
        if len(foreign) == 1 and (op, keys[0].lower()) in ARG_ALIASES:
            ours, explained = ARG_ALIASES[op, keys[0].lower()]
            self.err("E0102", message, where, notes=(known,), rewrites=_renamed_to(ours, spans[0], explained))
            return
        call = self._call_in_dslc_names(op, op_tok, sig, args)
        rewrites = (Rewrite(f"write `{call[1]}`", (Edit(call[0], call[1]),)),) if call is not None else ()
        self.err("E0102", message, where, notes=(*why, known), rewrites=rewrites)

    def _call_in_dslc_names(self, op: str, op_tok: Token, sig: OpSpec, args) -> tuple[Span, str] | None:
        """The call with other frameworks' argument names renamed and the inferred ones dropped, written
        as dslc writes it (its positional argument first); None if that is not a call of `op` (an unknown
        name left, a value given twice, too many positional values) or it cannot be cut out of the text."""
        span = self._call_span(op_tok, args) if args else None
        if span is None:
            return None
        bound: dict[str, str] = {}
        positional = 0
        for a in args:
            text = _value(a.children[-1]).text  # as written: inside a block, the parameter's name
            if a.data == "positional":
                if positional >= len(sig.positional):
                    return None
                key = sig.positional[positional]
                positional += 1
            else:
                key = str(a.children[0])
                if (op, key.lower()) in INFERRED_ARGS:
                    continue
                if key not in sig.params:
                    if (op, key.lower()) not in ARG_ALIASES:
                        return None
                    key = ARG_ALIASES[op, key.lower()][0]
            if key in bound:
                return None
            bound[key] = text
        parts = [bound[k] if k in sig.positional else f"{k}={bound[k]}" for k in sig.params if k in bound]
        return span, f"{op}({', '.join(parts)})" if parts else op

    def positional_error(
        self, op: str, op_tok: Token, sig: OpSpec, args, extra: list[Val], env: dict[str, Val]
    ) -> None:
        """One error for all positional arguments too many, with the call written with keywords: in
        dslc's order (`conv(96, 11, 4)` -> `conv(96, kernel=11, stride=4)`) where the values fit, and
        read as PyTorch's constructor (`conv(3, 96, 11)` is `nn.Conv2d(3, 96, 11)`: the input channels
        are inferred, so `conv(96, kernel=11)`). A reading is proposed only if it is a valid call: a
        value lands on no argument also given by keyword (`conv(96, 11, kernel=11)` is not
        `stride=11`), every value fits its argument and the required ones are all there; and only once
        the rewritten spec checks (each is a Rewrite, verified in analysis.py)."""
        n = len(sig.positional)
        takes = (
            (
                f"{n} positional argument"
                + ("s" if n != 1 else "")
                + (f" (`{'`, `'.join(sig.positional)}`)" if n else "")
            )
            if n
            else "no positional arguments"
        )
        # every argument as bound (what fits where) and as written (what the rewrite writes back: inside a
        # block, the parameter's name, not one instance's value)
        values: list[tuple[Val, str]] = []
        keywords: dict[str, tuple[Val, str]] = {}
        for a in args:
            raw = _value(a.children[-1])
            val = self.substitute(raw, env)
            if val is None:
                return self._positional_err(op, takes, extra, (), bool(sig.params))
            if a.data == "positional":
                values.append((val, raw.text))
            elif str(a.children[0]) in sig.params and str(a.children[0]) not in keywords:
                keywords[str(a.children[0])] = (val, raw.text)
            else:  # reported on its own; a rewrite would silently drop it
                return self._positional_err(op, takes, extra, (), bool(sig.params))
        span = self._call_span(op_tok, args)
        required = {
            k for k, p in sig.params.items() if p.default is REQUIRED and (op, k) not in OPTIONAL_NONE
        }
        rewrites: list[Rewrite] = []

        def reading(names: list[str], given: list[tuple[Val, str]]) -> str | None:
            """The call with `given` bound to `names` in order, or None if that is not a valid call."""
            if len(given) > len(names):
                return None
            bound = {**dict(zip(names, given)), **keywords}
            if len(bound) < len(keywords) + len(given) or not required <= set(bound):
                return None  # a value also given by keyword, or a required argument missing
            if not all(_fits(sig.params[k], v) for k, (v, _) in bound.items()):
                return None
            written = {k: text for k, (_, text) in bound.items()}
            parts = [
                written[k] if k in sig.positional else f"{k}={written[k]}" for k in sig.params if k in bound
            ]
            return f"{op}({', '.join(parts)})" if parts else op

        # (a number given to `batchnorm` is PyTorch's num_features, never meant as `eps`)
        if op != "batchnorm":
            order = [
                *sig.positional,
                *(k for k in sig.params if k not in sig.positional and k != "avg_alpha"),
            ]
            call = reading(order, values)
            if call is not None and span is not None:
                rewrites.append(Rewrite(f"name them: `{call}`", (Edit(span, call),)))
        torch_form = TORCH_FORMS.get(op)
        if torch_form is not None and values:
            cls, inferred, names = torch_form
            call = reading(list(names), values[1:] if inferred else values)
            if call is not None and span is not None:
                torch_call = f"{cls}({', '.join(v.text for v, _ in values)})"
                why = (
                    f"dslc infers `{inferred}` from the input"
                    if inferred
                    else "its alpha is divided by the size, which is dslc's `avg_alpha`"
                )
                rewrites.append(
                    Rewrite(
                        f"if this is PyTorch's `{torch_call}`: {why}, so write `{call}`", (Edit(span, call),)
                    )
                )
        by_name = [k for k in sig.params if k not in sig.positional]
        # (a reading may not check, `linear(10, 5)` under `-> [N, 10]`: then the arguments say the rest)
        known = (f"the others are given by name: {_and([f'`{k}`' for k in by_name])}",) if by_name else ()
        self._positional_err(op, takes, extra, tuple(rewrites), bool(sig.params), known)

    def _positional_err(
        self,
        op: str,
        takes: str,
        extra: list[Val],
        rewrites: tuple[Rewrite, ...],
        named: bool = True,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.err(
            "E0106",
            f"`{op}` takes {takes}",
            extra[0].span.join(extra[-1].span),
            label=f"{len(extra)} too many",
            rewrites=rewrites,
            notes=notes,
            helps=("name the arguments: `key=value`",) if named and not rewrites else (),
        )

    def _from_rewrite(self, op: str, op_tok: Token, args, arg, src: str) -> tuple[Rewrite, ...]:
        """`conv(8, kernel=3, from=x)` as `conv(8, kernel=3) from x`: the argument cut, the clause added."""
        call = self._call_span(op_tok, args)
        spans = [meta_span(b.meta) for b in args]
        if call is None or any(s.line != s.end_line for s in spans):
            return ()
        k = next(i for i, b in enumerate(args) if b is arg)
        if k > 0:  # with the comma before it
            cut = Span(spans[k - 1].end_line, spans[k - 1].end_col, spans[k].end_line, spans[k].end_col)
        elif len(args) > 1:  # with the comma after it
            cut = Span(spans[0].line, spans[0].col, spans[1].line, spans[1].col)
        else:
            cut = spans[0]
        kept = [
            self.source.line_text(s.line)[s.col - 1 : s.end_col - 1] for i, s in enumerate(spans) if i != k
        ]
        end = Span(call.end_line, call.end_col, call.end_line, call.end_col)
        return (
            Rewrite(
                f"`from` is not an argument: write it after the call, `{op}({', '.join(kept)}) from {src}`",
                (Edit(cut, ""), Edit(end, f" from {src}")),
            ),
        )

    def _call_span(self, op_tok: Token, args) -> Span | None:
        """From the op's name to the call's closing parenthesis; None if a comment is in between."""
        start = token_span(op_tok)
        last = meta_span(args[-1].meta)
        lines = self.source.lines
        line, col = last.end_line, last.end_col
        while line <= len(lines):
            text = lines[line - 1]
            while col <= len(text) and text[col - 1] in " \t\r,":
                col += 1
            if col <= len(text):
                return Span(start.line, start.col, line, col + 1) if text[col - 1] == ")" else None
            line, col = line + 1, 1
        return None

    def substitute(self, val: Val, env: dict[str, Val]) -> Val | None:
        """Replace block parameters by the values bound at the call."""
        if val.kind == "pair":
            a, b = (self.substitute(v, env) for v in val.value)  # type: ignore[union-attr]
            if a is None or b is None:
                return None
            return Val("pair", (a, b), val.span, f"({a.text}, {b.text})")
        if val.kind == "name" and val.value in env:
            bound = env[val.value]  # type: ignore[index]
            return replace(bound, span=val.span) if bound.span is None else bound
        return val

    def name_value_help(self, name: str, span: Span, kind: str, env: dict[str, Val]) -> dict:
        """The help for a name where an argument's value belongs: Python's `None` (a flag's `false`), a
        block parameter used outside its block, an input size, a misspelt parameter of the block."""
        what = {
            "bool": "`true` or `false`",
            "float": "a number",
            "int": "an integer",
            "padding": "an integer, a pair `(h, w)` or `same`",
        }.get(kind, "an integer or a pair `(h, w)`")
        if name.lower() in ("none", "null", "nil"):
            if kind == "bool":
                return {"rewrites": (Rewrite("write `false`", (Edit(span, "false"),)),)}
            return {"helps": (f"an argument is {what}; leave it out for its default",)}
        if name in self.block_params and name not in env:
            return {
                "helps": (
                    f"`{name}` is a parameter of block `{self.block_params[name]}`: a block parameter "
                    "is only visible inside its block",
                )
            }
        if env:
            renamed = tuple(replace(r, name_only=False) for r in _rename(name, span, list(env)))
            if renamed:
                return {"rewrites": renamed}
        if self.input_symbols and name in self.input_symbols:
            return {
                "helps": (
                    f"`{name}` is a size of the input, known only when the network runs; an argument "
                    f"is {what} written in the spec",
                )
            }
        return {"helps": (f"an argument is {what}",)}

    def convert(self, op: str, key: str, param: Param, val: Val, env: dict[str, Val] | None = None):
        def bad(expected: str) -> None:
            self.err("E0104", f"`{key}` must be {expected}, got {val.show()}", val.span)

        def in_range(x, show: str) -> bool:
            if isinstance(x, float) and not math.isfinite(x):
                self.err("E0105", f"`{key}` must be finite, got {show}", val.span)
                return False
            if isinstance(x, int) and x > MAX_INT:
                shown = show if len(show) <= 24 else show[:20] + "…"
                self.err(
                    "E0105", f"`{key}` is {shown}, larger than the largest supported {MAX_INT}", val.span
                )
                return False
            if param.lo is not None and x < param.lo:
                lo = int(param.lo) if float(param.lo).is_integer() else param.lo
                rule = f"in [{lo}, {param.hi:g}]" if param.hi is not None else f"at least {lo}"
                if param.lo == 1e-300:
                    rule = "positive"
                self.err("E0105", f"`{key}` must be {rule}, got {show}", val.span)
                return False
            if param.hi is not None and x > param.hi:
                self.err("E0105", f"`{key}` must be in [{param.lo:g}, {param.hi:g}], got {show}", val.span)
                return False
            return True

        def integer(v: Val) -> int | None:
            if v.kind != "int":
                return None
            return v.value  # type: ignore[return-value]

        kind = param.kind
        if val.kind == "name" and val.value not in ("true", "false", "same"):
            literal = str(val.value).lower()
            if literal in ("true", "false", "same"):  # Python's `True`, `False`: the literals are lowercase
                self.err(
                    "E0202",
                    f"`{val.value}` is not a value here",
                    val.span,
                    rewrites=(Rewrite(f"write `{literal}`", (Edit(val.span, literal),)),),
                )
            else:
                self.err(
                    "E0202",
                    f"`{val.value}` is not a value here",
                    val.span,
                    **self.name_value_help(str(val.value), val.span, kind, env or {}),
                )
            return None
        if kind == "bool":
            if val.kind == "name" and val.value in ("true", "false"):
                return val.value == "true"
            if val.kind == "int" and val.value in (0, 1):  # C's and Caffe's flags
                literal = "true" if val.value else "false"
                self.err(
                    "E0104",
                    f"`{key}` must be `true` or `false`, got {val.show()}",
                    val.span,
                    rewrites=(Rewrite(f"write `{literal}`", (Edit(val.span, literal),)),),
                )
                return None
            return bad("`true` or `false`")
        if kind == "float":
            if val.kind in ("int", "float"):
                x = float(val.value)  # type: ignore[arg-type]
                return x if in_range(x, val.text) else None
            return bad("a number")
        if kind == "int":
            x = integer(val)
            if x is None:
                return bad("an integer")
            return x if in_range(x, val.text) else None
        # pairs
        if kind == "padding" and val.kind == "name" and val.value == "same":
            return "same"
        if val.kind == "pair":
            a, b = val.value  # type: ignore[misc]
            xa, xb = integer(a), integer(b)
            if xa is None or xb is None:
                return bad("a pair of integers")
            return (xa, xb) if in_range(xa, a.text) and in_range(xb, b.text) else None
        x = integer(val)
        if x is None:
            return bad("an integer or a pair `(h, w)`" + (" or `same`" if kind == "padding" else ""))
        return (x, x) if in_range(x, val.text) else None

    def make_op(self, op: str, v: dict, spans, op_tok: Token) -> ir.Op | None:
        if op == "conv":
            return ir.Conv(
                v["filters"], v["kernel"], v["stride"], v["padding"], v["dilation"], v["groups"], v["bias"]
            )
        if op in ("maxpool", "avgpool"):
            stride = v["kernel"] if v["stride"] == "kernel" else v["stride"]
            kernel, padding = v["kernel"], v["padding"]
            for i in range(2):
                if padding[i] * 2 > kernel[i]:
                    span = dict(spans).get("padding", token_span(op_tok))
                    self.err(
                        "E0105",
                        f"`padding` must be at most half the kernel: {padding[i]} > {kernel[i]} / 2",
                        span,
                        notes=("PyTorch's pooling pads by at most half the window",),
                    )
                    return None
            return ir.Pool(op[:3], kernel, stride, padding, v["ceil"], v.get("count_include_pad", True))
        if op == "adaptive_avgpool":
            return ir.AdaptiveAvgPool(v["output"])
        if op == "lrn":
            alpha = v["alpha"]
            if v["avg_alpha"] is not None:
                if "alpha" in dict(spans):
                    self.err(
                        "E0106",
                        "give either `alpha` (the paper's) or `avg_alpha` (divided by size), not both",
                        dict(spans)["avg_alpha"],
                    )
                    return None
                alpha = v["avg_alpha"] / v["size"]
            return ir.LRN(v["size"], alpha, v["beta"], v["k"])
        if op == "batchnorm":
            return ir.BatchNorm(v["eps"], v["momentum"])
        if op == "dropout":
            return ir.Dropout(v["p"])
        if op == "flatten":
            return ir.Flatten()
        if op == "linear":
            return ir.Linear(v["features"], v["bias"])
        if op == "add":
            return ir.Add()
        if op == "concat":
            return ir.Concat()
        assert op in ("relu", "tanh", "sigmoid", "softmax"), op
        return ir.Activation(op)

    # -- blocks
    def instance(self, block: str, op_tok, args, name, full, scope, source, assertion, span, stack):
        blk = self.blocks[block]
        if block in stack:  # a real cycle: the block is being expanded inside itself
            cycle = " -> ".join(f"`{b}`" for b in (*stack[stack.index(block) :], block))
            self.err("E0203", f"block `{block}` uses itself: {cycle}", token_span(op_tok))
            return self.placeholder(full, op_tok, source, span, scope, assertion)
        if len(stack) >= MAX_BLOCK_DEPTH:  # no cycle, only deep: a limit of ours, said as such
            chain = [*stack, block]
            shown = chain if len(chain) <= 6 else [*chain[:3], "...", *chain[-2:]]
            self.err(
                "E0205",
                f"blocks are nested more than {MAX_BLOCK_DEPTH} levels deep",
                token_span(op_tok),
                label=f"level {len(chain)}",
                notes=("the calls: " + " -> ".join(b if b == "..." else f"`{b}`" for b in shown),),
                helps=(
                    f"expand some of the blocks into their callers: at most {MAX_BLOCK_DEPTH} levels "
                    "are supported",
                ),
            )
            return self.placeholder(full, op_tok, source, span, scope, assertion)
        if block in self.broken:  # its definition is the mistake, reported once: not each call
            return self.placeholder(full, op_tok, source, span, scope, assertion)
        params = [p for p in blk.children[1:-1] if isinstance(p, Tree) and p.data == "param"]
        names = [str(p.children[0]) for p in params]
        given: dict[str, Val] = {}
        ok = True
        positional = 0
        for a in args:
            if a.data == "positional":
                val = self.substitute(_value(a.children[0]), scope.env)
                if positional >= len(names):
                    self.err("E0106", f"block `{block}` takes {len(names)} argument(s)", val.span)
                    ok = False
                    continue
                key = names[positional]
                positional += 1
            else:
                key_tok, value_tree = a.children
                key = str(key_tok)
                val = self.substitute(_value(value_tree), scope.env)
                if key not in names:
                    self.err(
                        "E0102",
                        f"block `{block}` has no parameter `{key}`",
                        token_span(key_tok),
                        rewrites=_rename(key, token_span(key_tok), names),
                    )
                    ok = False
                    continue
            if val is None:
                ok = False
                continue
            if key in given:
                self.err("E0106", f"`{key}` is given twice", val.span)
                ok = False
                continue
            given[key] = val
        env: dict[str, Val] = {}
        for p in params:
            key_tok, default = p.children
            key = str(key_tok)
            if key in given:
                env[key] = given[key]
            elif default is not None:
                env[key] = _value(default)
            else:
                self.err("E0103", f"block `{block}` needs `{key}`", token_span(op_tok))
                ok = False
        if not ok:
            return self.placeholder(full, op_tok, source, span, scope, assertion)
        inner = self.new_scope(full + ".", env, (*scope.instance, (full, block, span)))
        inner.names["input"] = None
        self.bindings[(inner.sid, "input")] = source
        out = self.scope(blk.children[-1], inner, source, (*stack, block))
        if assertion is not None:
            self.instance_assertions.append((out, assertion))
        return out

    # -- references
    def resolve(self) -> list[ir.Layer]:
        """Turn every reference into a full layer name; unknown names become errors."""

        def follow(ref) -> str | None:
            seen = 0
            while isinstance(ref, _Ref):
                target = self.bindings.get((ref.sid, ref.name))
                if target is None:
                    if (ref.sid, ref.name, ref.span) not in reported:
                        reported.add((ref.sid, ref.name, ref.span))
                        self.err(
                            "E0202",
                            f"no layer named `{ref.name}`",
                            ref.span,
                            rewrites=_rename(ref.name, ref.span, self.scope_names.get(ref.sid, [])),
                        )
                    return None
                ref = target
                seen += 1
                if seen > 1_000_000:  # cannot happen: bindings only point to earlier scopes
                    return None
            return ref  # type: ignore[return-value]

        reported: set = set()
        layers = []
        for layer, raw in zip(self.layers, self.raw_inputs):
            names = [follow(r) for r in raw]
            layers.append(replace(layer, inputs=tuple(n for n in names if n is not None)))
        by_name = {layer.name: i for i, layer in enumerate(layers)}
        for out, assertion in self.instance_assertions:
            # a block call's `-> [...]` asserts the shape of the instance's last layer
            target = follow(out)
            if target in by_name:
                i = by_name[target]
                layers[i] = replace(layers[i], assertions=(*layers[i].assertions, assertion))
        return layers


def lower(tree: Tree, source: Source) -> tuple[ir.Network | None, list[Diagnostic]]:
    """Lower a parsed file: the network (None if unusable) and the diagnostics found."""
    lw = _Lowerer(source)
    net = lw.lower(tree)
    # A mistake in a block's body is found once per instance; it is one mistake, reported once.
    return net, list(dict.fromkeys(lw.diags + _lint(net, source)))


def _lint(net: ir.Network | None, source: Source) -> list[Diagnostic]:
    """Warnings about argument values that are legal but probably not meant."""
    out: list[Diagnostic] = []
    if net is None:
        return out
    for layer in net.layers:
        op = layer.op
        if isinstance(op, ir.LRN):
            text = layer.written("alpha") or ""
            span = layer.arg_span("alpha")
            if re.fullmatch(r"\+?10\.?0*[eE]-?\d+", text):
                exp = int(re.split("[eE]", text)[1])
                out.append(
                    warning(
                        "W0403",
                        f"`alpha={text}` is {10.0 ** (exp + 1):g}, not {10.0**exp:g}",
                        span,
                        notes=("articles about AlexNet often write `10e-4` for the paper's 10^-4",),
                        rewrites=(
                            Rewrite(
                                f"write `alpha=1e{exp}` if you mean the paper's value",
                                (Edit(span, f"1e{exp}"),),
                            ),
                        ),
                    )
                )
            elif op.size > 1 and math.isclose(op.alpha, 1e-4 * op.size, rel_tol=1e-9):
                key = _key_span(source, span, "alpha")
                out.append(
                    warning(
                        "W0405",
                        f"`alpha={text}` is the paper's 1e-4 multiplied by `size={op.size}`",
                        span,
                        notes=(
                            "`alpha` is the paper's, NOT divided by size; PyTorch, Caffe, ONNX and cuDNN "
                            "divide theirs",
                        ),
                        rewrites=(
                            *(
                                (
                                    Rewrite(
                                        f"if this value came from one of them, write `avg_alpha={text}`",
                                        (Edit(key, "avg_alpha"),),
                                    ),
                                )
                                if key is not None
                                else ()
                            ),
                            Rewrite("for the paper's LRN write `alpha=1e-4`", (Edit(span, "1e-4"),)),
                        ),
                    )
                )
    return out


def _key_span(source: Source, value: Span, key: str) -> Span | None:
    """Where `key` is written before the value `key=value` (None if it is not on the value's line)."""
    line = source.line_text(value.line)[: value.col - 1]
    m = re.search(rf"\b{key}\s*=\s*$", line)
    return Span(value.line, m.start() + 1, value.line, m.start() + 1 + len(key)) if m else None

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

from . import ir
from .diagnostics import Diagnostic, Related, error, warning
from .parse import meta_span, token_span
from .source import Source, Span

MAX_INT = 2**31 - 1
MAX_BLOCK_DEPTH = 64
RESERVED = {"true", "false", "same", "network", "block", "from"}


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
    if re.fullmatch(r"[+-]?\d+", text):
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


# ---------------------------------------------------------------------------- op signatures


@dataclass(frozen=True, slots=True)
class Param:
    kind: str  # int, pair (int or pair), padding (pair or same), float, bool
    default: object = None  # None: required
    lo: float | None = None
    hi: float | None = None


REQUIRED = None
_INT1 = Param("int", REQUIRED, lo=1)
_PAIR1 = Param("pair", REQUIRED, lo=1)


@dataclass(frozen=True, slots=True)
class Signature:
    positional: tuple[str, ...]
    params: dict[str, Param]
    variadic_refs: bool = False  # add / concat take layer names


SIGNATURES: dict[str, Signature] = {
    "conv": Signature(
        ("filters",),
        {
            "filters": _INT1,
            "kernel": _PAIR1,
            "stride": Param("pair", 1, lo=1),
            "padding": Param("padding", 0, lo=0),
            "dilation": Param("pair", 1, lo=1),
            "groups": Param("int", 1, lo=1),
            "bias": Param("bool", True),
        },
    ),
    "maxpool": Signature(
        (),
        {
            "kernel": _PAIR1,
            "stride": Param("pair", "kernel", lo=1),
            "padding": Param("pair", 0, lo=0),
            "ceil": Param("bool", False),
        },
    ),
    "avgpool": Signature(
        (),
        {
            "kernel": _PAIR1,
            "stride": Param("pair", "kernel", lo=1),
            "padding": Param("pair", 0, lo=0),
            "ceil": Param("bool", False),
            "count_include_pad": Param("bool", True),
        },
    ),
    "adaptive_avgpool": Signature(("output",), {"output": _PAIR1}),
    "lrn": Signature(
        ("size",),
        {
            "size": _INT1,
            "alpha": Param("float", 1e-4, lo=0),
            "avg_alpha": Param("float", None, lo=0),
            "beta": Param("float", 0.75, lo=0),
            "k": Param("float", 1.0, lo=0),
        },
    ),
    "batchnorm": Signature(
        (), {"eps": Param("float", 1e-5, lo=1e-300), "momentum": Param("float", 0.1, lo=0, hi=1)}
    ),
    "dropout": Signature(("p",), {"p": Param("float", 0.5, lo=0, hi=1)}),
    "flatten": Signature((), {}),
    "linear": Signature(("features",), {"features": _INT1, "bias": Param("bool", True)}),
    "relu": Signature((), {}),
    "tanh": Signature((), {}),
    "sigmoid": Signature((), {}),
    "softmax": Signature((), {}),
    "add": Signature((), {}, variadic_refs=True),
    "concat": Signature((), {}, variadic_refs=True),
}
OPTIONAL_NONE = {("lrn", "avg_alpha")}  # optional arguments without a default value


# PyTorch constructors people write positionally: (class, the first argument if dslc infers it from
# the input, the dslc names of the arguments that follow, in the constructor's order).
_TORCH_FORMS = {
    "conv": ("nn.Conv2d", "in_channels", ("filters", "kernel", "stride", "padding", "dilation", "groups", "bias")),
    "linear": ("nn.Linear", "in_features", ("features", "bias")),
    "batchnorm": ("nn.BatchNorm2d", "num_features", ("eps", "momentum")),
    "lrn": ("nn.LocalResponseNorm", None, ("size", "avg_alpha", "beta", "k")),
}


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


def _did_you_mean(name: str, options) -> tuple[str, ...]:
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return (f"did you mean `{close[0]}`?",) if close else ()


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
        self.layers: list[ir.Layer] = []
        self.raw_inputs: list[tuple[object, ...]] = []  # per layer: _Ref or full names
        self.bindings: dict[tuple[int, str], object] = {}
        self.scope_names: dict[int, list[str]] = {}
        self.next_sid = 0
        self.instance_assertions: list[tuple[object, ir.Assertion]] = []
        self.input_symbols: set[str] | None = None  # None: the input shape is broken, nothing to compare

    # -- helpers
    def err(self, code: str, message: str, span: Span | None, **kw) -> None:
        self.diags.append(error(code, message, span, **kw))

    def new_scope(self, prefix: str, env: dict[str, Val], instance) -> _Scope:
        self.next_sid += 1
        return _Scope(self.next_sid, {}, env, prefix, instance)

    # -- top level
    def lower(self, tree: Tree) -> ir.Network | None:
        networks = [c for c in tree.children if isinstance(c, Tree) and c.data == "network"]
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
            if name in SIGNATURES:
                self.err(
                    "E0204",
                    f"block `{name}` has the name of a built-in op",
                    token_span(name_tok),
                    helps=("rename the block",),
                )
                continue
            self.blocks[name] = blk
        if not networks:
            self.err("E0003", "this file defines no network", Span.point(1, 1),
                     helps=("add `network NAME(input: [N, C, H, W]) { ... }`",))
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
            if out_dims is not None and dims is not None and self.check_declared(out_dims, out_spans, dims, "output"):
                output = ir.Assertion(out_dims, meta_span(out_shape.meta), out_spans)
        self.input_symbols = None if dims is None else {d for d in dims if isinstance(d, str)}
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
        for d, s in zip(dims, spans):
            if d is None:
                self.err("E0309", "the input shape cannot contain `_`; give a size or a symbol", s)
            elif isinstance(d, int) and d < 1:
                self.err("E0309", f"input dimensions must be at least 1, got {d}", s)
        return len(self.diags) == before

    def check_declared(self, dims, spans, input_dims, what: str) -> bool:
        before = len(self.diags)
        symbols = {d for d in input_dims if isinstance(d, str)}
        for d, s in zip(dims, spans):
            if isinstance(d, str) and d not in symbols:
                self.err(
                    "E0309",
                    f"`{d}` in the {what} shape is not a symbol of the input",
                    s,
                    helps=(f"input symbols: {', '.join(f'`{x}`' for x in sorted(symbols)) or 'none'}; "
                           "write `_` for a size you do not want to check",),
                )
            elif isinstance(d, int) and d < 1:
                self.err("E0309", f"dimensions must be at least 1, got {d}", s)
        return len(self.diags) == before

    def shape(self, tree: Tree, where: str) -> tuple[tuple[ir.Dim, ...] | None, tuple[Span, ...]]:
        dims: list[ir.Dim] = []
        spans: list[Span] = []
        ok = True
        for dim in (c for c in tree.children if c is not None):
            tok = dim.children[0]
            span = token_span(tok)
            text = str(tok)
            if tok.type == "NUMBER":
                if not re.fullmatch(r"[+-]?\d+", text):
                    self.err("E0104", f"a dimension must be an integer or a symbol, got `{text}`", span)
                    ok = False
                    continue
                value = parse_int(text)
                if value > MAX_INT:
                    self.err("E0105", f"dimension {text[:20]}{'…' if len(text) > 20 else ''} is larger "
                             f"than {MAX_INT}", span)
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
        for d, s in zip(dims, spans):
            if isinstance(d, str) and d in env:
                bound = env[d]
                if bound.kind != "int":
                    self.err("E0104", f"`{d}` is {bound.show()} here, not a size", s)
                    ok = False
                    continue
                d = bound.value
                if d < 1:
                    self.err("E0309", f"dimensions must be at least 1, got {d} (`{bound.text}`)", s)
                    ok = False
                    continue
            elif isinstance(d, str) and self.input_symbols is not None and d not in self.input_symbols:
                params = f"; block parameters: {', '.join(f'`{k}`' for k in env)}" if env else ""
                self.err("E0309", f"`{d}` in the asserted shape is not a symbol of the input", s,
                         helps=(f"input symbols: {', '.join(f'`{x}`' for x in sorted(self.input_symbols)) or 'none'}"
                                f"{params}; write `_` for a size you do not want to check",
                                *_did_you_mean(d, [*self.input_symbols, *env])))
                ok = False
                continue
            resolved.append(d)
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
        source = _Ref(scope.sid, str(from_tok), token_span(from_tok)) if from_tok is not None else prev
        full = scope.prefix + name
        if op in self.blocks:
            return self.instance(op, op_tok, args, name, full, scope, source, assertion, span, stack)
        sig = SIGNATURES.get(op)
        if sig is None:
            self.err(
                "E0101",
                f"unknown op `{op}`",
                token_span(op_tok),
                helps=_did_you_mean(op, list(SIGNATURES) + list(self.blocks))
                or ("built-in ops: " + ", ".join(f"`{o}`" for o in SIGNATURES),),
            )
            return self.placeholder(full, op_tok, source, span, scope, assertion)
        inputs: list[object]
        if sig.variadic_refs:
            refs = []
            for a in args:
                val = _value(a.children[-1])
                if a.data == "keyword" or val.kind != "name":
                    self.err("E0104", f"`{op}` takes the names of the layers it joins", val.span,
                             helps=(f"write `{op}(a, b)` with layer names",))
                    continue
                refs.append(_Ref(scope.sid, val.value, val.span))
            if from_tok is not None:
                self.err("E0106", f"`{op}` names its inputs in parentheses; `from` is not used",
                         token_span(from_tok))
            if len(refs) < 2 and len(refs) == len(args):
                self.err("E0103", f"`{op}` joins at least two layers", token_span(op_tok),
                         helps=(f"write `{op}(a, b)`",))
            inputs = refs or [source]
            values = {}
            arg_spans = ()
            texts = ()
        else:
            values, arg_spans, texts = self.arguments(op, op_tok, sig, args, scope.env, span)
            inputs = [source]
        op_obj = self.make_op(op, values, arg_spans, op_tok) if values is not None else None
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
    def arguments(self, op: str, op_tok: Token, sig: Signature, args, env, span):
        given: dict[str, Val] = {}
        spans: list[tuple[str, Span]] = []
        ok = True
        unknown = False  # a misspelt argument: do not also report the one it was meant to be
        extra: list[Val] = []  # positional arguments past the op's positional ones
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
                if key not in sig.params:
                    helps = _did_you_mean(key, sig.params)
                    if op == "lrn" and key == "depth_radius":
                        r = val.value if val is not None and val.kind == "int" else "r"
                        size = 2 * r + 1 if isinstance(r, int) else "2*r + 1"
                        helps = (f"TensorFlow's `depth_radius` is the half width of the window: write "
                                 f"`size={size}` (TensorFlow's alpha is not divided, like ours)",)
                    elif key == "from":
                        src = val.text if val is not None else "NAME"
                        helps = (f"`from` is not an argument: write it after the call, `{op}(...) from {src}`",)
                    known = (f"`{op}` takes: " + ", ".join(f"`{k}`" for k in sig.params) if sig.params
                             else f"`{op}` takes no arguments" + (" (it runs over channels, dim 1)"
                                                                  if op == "softmax" else ""))
                    self.err("E0102", f"`{op}` has no argument `{key}`", token_span(key_tok),
                             notes=(known,), helps=helps)
                    ok = False
                    unknown = True
                    continue
                if val is None:
                    ok = False
                    continue
            if key in given:
                self.err("E0106", f"`{key}` is given twice", val.span,
                         related=(Related("first given here", given[key].span),))
                ok = False
                continue
            given[key] = val
            spans.append((key, val.span))
        if extra:
            self.positional_error(op, sig, args, extra, given, env)
            unknown = True  # the missing arguments are probably among the extra ones
        values: dict[str, object] = {}
        texts: list[tuple[str, str]] = []
        for key, param in sig.params.items():
            if key in given:
                val = given[key]
                converted = self.convert(op, key, param, val)
                if converted is None:
                    ok = False
                    continue
                values[key] = converted
                texts.append((key, val.text))
            elif param.default is REQUIRED and (op, key) not in OPTIONAL_NONE and not unknown:
                example = {"kernel": "kernel=3", "filters": "64", "size": "size=5", "features": "10",
                           "output": "6"}.get(key, f"{key}=...")
                self.err("E0103", f"`{op}` needs `{key}`", token_span(op_tok),
                         helps=(f"for example `{op}({example})`",))
                ok = False
            elif param.kind in ("pair", "padding") and isinstance(param.default, int):
                values[key] = (param.default, param.default)
            else:
                values[key] = param.default
        return (values if ok else None), spans, texts

    def positional_error(self, op: str, sig: Signature, args, extra: list[Val], given: dict[str, Val],
                         env: dict[str, Val]) -> None:
        """One error for all positional arguments too many, with the call written with keywords: in
        dslc's order (`conv(96, 11, 4)` -> `conv(96, kernel=11, stride=4)`) where the values fit, and
        read as PyTorch's constructor (`conv(3, 96, 11)` is `nn.Conv2d(3, 96, 11)`: the input channels
        are inferred, so `conv(96, kernel=11)`)."""
        n = len(sig.positional)
        takes = (f"{n} positional argument" + ("s" if n != 1 else "") + (f" (`{'`, `'.join(sig.positional)}`)"
                                                                        if n else "")) if n else "no positional arguments"
        helps: list[str] = []
        order = [k for k in sig.params if k not in sig.positional and k not in given and k != "avg_alpha"]
        # (a number given to `batchnorm` is PyTorch's num_features, never meant as `eps`)
        if len(extra) <= len(order) and op != "batchnorm" and all(
                _fits(sig.params[k], v) for k, v in zip(order, extra)):
            parts = [v.text for k, v in given.items() if k in sig.positional]
            parts += [f"{k}={v.text}" for k, v in given.items() if k not in sig.positional]
            parts += [f"{k}={v.text}" for k, v in zip(order, extra)]
            helps.append(f"name them: `{op}({', '.join(parts)})`")
        torch_form = _TORCH_FORMS.get(op)
        if torch_form is not None:
            cls, inferred, names = torch_form
            values = [given[k] for k in sig.positional if k in given] + extra
            keywords = {k: v for k, v in given.items() if k not in sig.positional}
            free = [k for k in names if k not in keywords]
            rest = values[1:] if inferred else values
            if len(rest) <= len(free):
                mapped = list(zip(free, rest))
                parts = [v.text if k in sig.positional else f"{k}={v.text}" for k, v in mapped]
                parts += [f"{k}={v.text}" for k, v in keywords.items()]
                call = f"{op}({', '.join(parts)})" if parts else op
                torch_call = f"{cls}({', '.join(v.text for v in values)})"
                why = (f"dslc infers `{inferred}` from the input" if inferred
                       else "its alpha is divided by the size, which is dslc's `avg_alpha`")
                helps.append(f"if this is PyTorch's `{torch_call}`: {why}, so write `{call}`")
        if not helps and sig.params:
            helps.append("name the arguments: `key=value`")
        self.err("E0106", f"`{op}` takes {takes}", extra[0].span.join(extra[-1].span),
                 label=f"{len(extra)} too many", helps=tuple(helps))

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

    def convert(self, op: str, key: str, param: Param, val: Val):
        def bad(expected: str) -> None:
            self.err("E0104", f"`{key}` must be {expected}, got {val.show()}", val.span)

        def in_range(x, show: str) -> bool:
            if isinstance(x, float) and not math.isfinite(x):
                self.err("E0105", f"`{key}` must be finite, got {show}", val.span)
                return False
            if isinstance(x, int) and x > MAX_INT:
                shown = show if len(show) <= 24 else show[:20] + "…"
                self.err("E0105", f"`{key}` is {shown}, larger than the largest supported {MAX_INT}",
                         val.span)
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
            self.err("E0202", f"`{val.value}` is not a value here", val.span,
                     helps=("a block parameter is only visible inside its block",))
            return None
        if kind == "bool":
            if val.kind == "name" and val.value in ("true", "false"):
                return val.value == "true"
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
            return ir.Conv(v["filters"], v["kernel"], v["stride"], v["padding"], v["dilation"],
                           v["groups"], v["bias"])
        if op in ("maxpool", "avgpool"):
            stride = v["kernel"] if v["stride"] == "kernel" else v["stride"]
            kernel, padding = v["kernel"], v["padding"]
            for i in range(2):
                if padding[i] * 2 > kernel[i]:
                    span = dict(spans).get("padding", token_span(op_tok))
                    self.err("E0105", f"`padding` must be at most half the kernel: {padding[i]} > "
                             f"{kernel[i]} / 2", span,
                             notes=("PyTorch's pooling pads by at most half the window",))
                    return None
            return ir.Pool(op[:3], kernel, stride, padding, v["ceil"], v.get("count_include_pad", True))
        if op == "adaptive_avgpool":
            return ir.AdaptiveAvgPool(v["output"])
        if op == "lrn":
            alpha = v["alpha"]
            if v["avg_alpha"] is not None:
                if "alpha" in dict(spans):
                    self.err("E0106", "give either `alpha` (the paper's) or `avg_alpha` (divided by "
                             "size), not both", dict(spans)["avg_alpha"])
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
        if block in stack or len(stack) >= MAX_BLOCK_DEPTH:
            cycle = " -> ".join(f"`{b}`" for b in (*stack[stack.index(block):], block)) if block in stack \
                else f"more than {MAX_BLOCK_DEPTH} levels"
            self.err("E0203", f"block `{block}` uses itself: {cycle}", token_span(op_tok))
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
                    self.err("E0102", f"block `{block}` has no parameter `{key}`", token_span(key_tok),
                             helps=_did_you_mean(key, names))
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
        seen_params: dict[str, Span] = {}
        for p in params:
            key_tok, default = p.children
            key = str(key_tok)
            if key in seen_params:
                self.err("E0201", f"parameter `{key}` is defined twice", token_span(key_tok),
                         related=(Related("first defined here", seen_params[key]),))
                ok = False
            seen_params[key] = token_span(key_tok)
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
                            helps=_did_you_mean(ref.name, self.scope_names.get(ref.sid, [])),
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
    return net, list(dict.fromkeys(lw.diags + _lint(net)))


def _lint(net: ir.Network | None) -> list[Diagnostic]:
    """Warnings about argument values that are legal but probably not meant."""
    out: list[Diagnostic] = []
    if net is None:
        return out
    for layer in net.layers:
        op = layer.op
        if isinstance(op, ir.LRN):
            text = layer.written("alpha") or ""
            if re.fullmatch(r"\+?10\.?0*[eE]-?\d+", text):
                exp = int(re.split("[eE]", text)[1])
                out.append(warning(
                    "W0403",
                    f"`alpha={text}` is {10.0 ** (exp + 1):g}, not {10.0 ** exp:g}",
                    layer.arg_span("alpha"),
                    notes=("articles about AlexNet often write `10e-4` for the paper's 10^-4",),
                    helps=(f"write `alpha=1e{exp}` if you mean the paper's value",),
                ))
            elif op.size > 1 and math.isclose(op.alpha, 1e-4 * op.size, rel_tol=1e-9):
                out.append(warning(
                    "W0405",
                    f"`alpha={text}` is the paper's 1e-4 multiplied by `size={op.size}`",
                    layer.arg_span("alpha"),
                    notes=("`alpha` is the paper's, NOT divided by size; PyTorch, Caffe, ONNX and cuDNN "
                           "divide theirs",),
                    helps=(f"if this value came from one of them, write `avg_alpha={text}`; "
                           "for the paper's LRN write `alpha=1e-4`",),
                ))
    return out


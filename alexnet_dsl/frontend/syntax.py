"""Typed syntax: a parsed file as frozen nodes with their spans.

`ToSyntax` (a lark Transformer, one method per grammar rule) builds them, so that lowering reads named
fields and never a lark `Tree` or `Token`. The parser applies it as it reduces each rule (parse.py), so no
lark tree of the file is built. The nodes keep what was written, mistakes included (a float where a size
belongs, a name twice): lowering checks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Token, Transformer, v_args

from alexnet_dsl.source import Span

MAX_INT = 2**31 - 1
INTEGER = re.compile(r"[+-]?[0-9]+")  # a NUMBER that is an integer


def token_span(tok: Token) -> Span:
    """Where a token is written."""
    end_line = tok.end_line if tok.end_line is not None else tok.line
    end_col = tok.end_column if tok.end_column is not None else tok.column + max(len(tok), 1)
    return Span(tok.line, tok.column, end_line, end_col)


def parse_int(text: str) -> int:
    """An integer literal; anything past MAX_INT is clamped (it is an error wherever it is used),
    which also keeps 5,000-digit literals from costing quadratic time.

    >>> parse_int("-0012"), parse_int("9" * 40) == MAX_INT + 1
    (-12, True)
    """
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > 12:
        return -(MAX_INT + 1) if text.startswith("-") else MAX_INT + 1
    return int(text)


@dataclass(frozen=True, slots=True)
class Name:
    """A name as written: a layer, an op, an argument's key, a block parameter."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Value:
    """An argument value as written: an int, a float, a name or a pair of values."""

    kind: str  # "int", "float", "name", "pair"
    value: object  # int, float, str, or a pair of Values
    span: Span
    text: str

    def show(self) -> str:
        """The value in backticks for a message, cut when long."""
        text = self.text if len(self.text) <= 24 else self.text[:20] + "…"
        return f"`{text}`"


@dataclass(frozen=True, slots=True)
class Dim:
    """One dimension of a shape: a number (`3`, or a mistake such as `2.5`) or a name (`H`, `_`)."""

    text: str
    span: Span
    number: bool


@dataclass(frozen=True, slots=True)
class Shape:
    """`[N, 3, H, W]`: its dimensions and where the brackets are."""

    dims: tuple[Dim, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a call: `value` (positional, `key` None) or `key=value`."""

    key: Name | None
    value: Value
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """`op(args)`, or a bare `op`; its span ends at the closing parenthesis."""

    op: Name
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Line:
    """One layer line: `[name:] call [from source] [-> shape]`."""

    name: Name | None
    call: Call
    source: Name | None
    assertion: Shape | None
    span: Span


@dataclass(frozen=True, slots=True)
class Param:
    """A block parameter, `name` or `name=default`."""

    name: Name
    default: Value | None


@dataclass(frozen=True, slots=True)
class Block:
    """`block name(params) { lines }`."""

    name: Name
    params: tuple[Param, ...]
    body: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Network:
    """`network name(input: shape) [-> output] { lines }`."""

    name: Name
    input: Name
    input_shape: Shape
    output_shape: Shape | None
    body: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class File:
    """A parsed file: its networks (one is right; lowering reports the others) and blocks, in order."""

    networks: tuple[Network, ...]
    blocks: tuple[Block, ...]


def _present(items) -> tuple:
    """The children lark's `maybe_placeholders` did not fill with None (an empty `[...]`)."""
    return tuple(c for c in items if c is not None)


def _bracketed(children: list) -> Span:
    """From a rule's opening bracket to its closing one: its first and last children (`!` rules of
    grammar.lark keep their bracket tokens)."""
    return token_span(children[0]).join(token_span(children[-1]))


class ToSyntax(Transformer):
    """Grammar rules -> syntax nodes, bottom-up: one method per rule of grammar.lark (NAME tokens become
    `Name`s first; a NUMBER is read by the rule it is in, as a value or as a dimension).

    The parser calls these methods as it reduces (`Lark(..., transformer=ToSyntax())`), and lark gives a
    transformer it applies itself no positions (`meta`): each span is the join of its children's, and
    the rules that start or end at a bracket (`pair`, `shape`, `call`) keep their bracket tokens (`!` in
    grammar.lark) and skip the other tokens they keep (commas, placeholders). The spans are the ones
    lark's `propagate_positions` gives (tests/frontend/test_syntax.py compares them)."""

    def NAME(self, tok: Token) -> Name:  # noqa: N802 (lark calls a terminal's callback by its name)
        return Name(str(tok), token_span(tok))

    @v_args(inline=True)
    def scalar(self, tok: Name | Token) -> Value:
        if isinstance(tok, Name):
            return Value("name", tok.text, tok.span, tok.text)
        text, span = str(tok), token_span(tok)
        if INTEGER.fullmatch(text):
            return Value("int", parse_int(text), span, text)
        return Value("float", float(text), span, text)

    def pair(self, children: list) -> Value:
        a, b = (c for c in children if isinstance(c, Value))
        return Value("pair", (a, b), _bracketed(children), f"({a.text}, {b.text})")

    @v_args(inline=True)
    def dim(self, tok: Name | Token) -> Dim:
        if isinstance(tok, Name):
            return Dim(tok.text, tok.span, number=False)
        return Dim(str(tok), token_span(tok), number=True)

    def shape(self, children: list) -> Shape:
        return Shape(tuple(c for c in children if isinstance(c, Dim)), _bracketed(children))

    @v_args(inline=True)
    def positional(self, value: Value) -> Arg:
        return Arg(None, value, value.span)

    @v_args(inline=True)
    def keyword(self, key: Name, value: Value) -> Arg:
        return Arg(key, value, key.span.join(value.span))

    def call(self, children: list) -> Call:
        op, close = children[0], children[-1]  # `)`, or a placeholder when the call has no parentheses
        span = op.span.join(token_span(close)) if isinstance(close, Token) else op.span
        return Call(op, tuple(c for c in children if isinstance(c, Arg)), span)

    @v_args(inline=True)
    def layer(self, name: Name | None, call: Call, source: Name | None, shape: Shape | None) -> Line:
        first = call if name is None else name
        last = next(x for x in (shape, source, call) if x is not None)
        return Line(name, call, source, shape, first.span.join(last.span))

    def body(self, lines: list[Line]) -> tuple[Line, ...]:
        return tuple(lines)

    @v_args(inline=True)
    def param(self, name: Name, default: Value | None) -> Param:
        return Param(name, default)

    @v_args(inline=True)
    def block(self, name: Name, *rest) -> Block:
        *params, body = rest
        return Block(name, _present(params), body)

    @v_args(inline=True)
    def network(self, name: Name, input_: Name, shape: Shape, output: Shape | None, body) -> Network:
        return Network(name, input_, shape, output, body)

    def start(self, items: list[Network | Block]) -> File:
        return File(
            tuple(i for i in items if isinstance(i, Network)), tuple(i for i in items if isinstance(i, Block))
        )


def substitute(value: Value, env: dict[str, Value]) -> Value:
    """`value` with the block parameters in it replaced by the values bound at the block's call (which
    keep their own spans: a mistake in one is shown at the call)."""
    if value.kind == "pair":
        a, b = (substitute(v, env) for v in value.value)  # type: ignore[union-attr]
        return Value("pair", (a, b), value.span, f"({a.text}, {b.text})")
    if value.kind == "name" and value.value in env:
        return env[value.value]  # type: ignore[index]
    return value

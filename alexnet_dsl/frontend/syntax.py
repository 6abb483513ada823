"""Typed syntax: the lark tree of a file as frozen nodes with their spans.

`ToSyntax` (a lark Transformer, one method per grammar rule) builds them, so that lowering reads named
fields and never a lark `Tree` or `Token`. The nodes keep what was written, mistakes included (a float
where a size belongs, a name twice): lowering checks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Token, Transformer, Tree, v_args
from lark.tree import Meta

from alexnet_dsl.source import Span

MAX_INT = 2**31 - 1
INTEGER = re.compile(r"[+-]?[0-9]+")  # a NUMBER that is an integer


def token_span(tok: Token) -> Span:
    """Where a token is written."""
    end_line = tok.end_line if tok.end_line is not None else tok.line
    end_col = tok.end_column if tok.end_column is not None else tok.column + max(len(tok), 1)
    return Span(tok.line, tok.column, end_line, end_col)


def meta_span(meta: Meta) -> Span:
    """Where a rule's text is written (lark's `propagate_positions`)."""
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


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
    """`op(args)`, or a bare `op`."""

    op: Name
    args: tuple[Arg, ...]


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


class ToSyntax(Transformer):
    """lark tree -> syntax nodes, bottom-up: one method per rule of grammar.lark (NAME tokens become
    `Name`s first; a NUMBER is read by the rule it is in, as a value or as a dimension)."""

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

    @v_args(inline=True, meta=True)
    def pair(self, meta: Meta, a: Value, b: Value) -> Value:
        return Value("pair", (a, b), meta_span(meta), f"({a.text}, {b.text})")

    @v_args(inline=True)
    def dim(self, tok: Name | Token) -> Dim:
        if isinstance(tok, Name):
            return Dim(tok.text, tok.span, number=False)
        return Dim(str(tok), token_span(tok), number=True)

    @v_args(meta=True)
    def shape(self, meta: Meta, dims: list[Dim | None]) -> Shape:
        return Shape(_present(dims), meta_span(meta))

    @v_args(inline=True, meta=True)
    def positional(self, meta: Meta, value: Value) -> Arg:
        return Arg(None, value, meta_span(meta))

    @v_args(inline=True, meta=True)
    def keyword(self, meta: Meta, key: Name, value: Value) -> Arg:
        return Arg(key, value, meta_span(meta))

    @v_args(inline=True)
    def call(self, op: Name, *args: Arg | None) -> Call:
        return Call(op, _present(args))

    @v_args(inline=True, meta=True)
    def layer(self, meta, name: Name | None, call: Call, source: Name | None, shape: Shape | None) -> Line:
        return Line(name, call, source, shape, meta_span(meta))

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


def to_syntax(tree: Tree) -> File:
    """The typed syntax of a parsed file."""
    return ToSyntax().transform(tree)


def substitute(value: Value, env: dict[str, Value]) -> Value:
    """`value` with the block parameters in it replaced by the values bound at the block's call (which
    keep their own spans: a mistake in one is shown at the call)."""
    if value.kind == "pair":
        a, b = (substitute(v, env) for v in value.value)  # type: ignore[union-attr]
        return Value("pair", (a, b), value.span, f"({a.text}, {b.text})")
    if value.kind == "name" and value.value in env:
        return env[value.value]  # type: ignore[index]
    return value

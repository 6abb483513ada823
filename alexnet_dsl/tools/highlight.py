"""Syntax highlighting for `.net` specs: one tokenizer, three outputs.

`tokenize` splits text into (kind, text) pieces; `highlight_line` paints them with ANSI colours
(for diagnostics on a terminal), `highlight_html` wraps them in `<span class="t-KIND">` (for
`dslc report`), and `NetLexer` hands them to Pygments, where it is registered as the `net` lexer
(`pygmentize -l net specs/alexnet.net`). Only `NetLexer` needs Pygments: importing this module
never fails without it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from alexnet_dsl.frontend.vocabulary import OPS, RESERVED

_TOKEN = re.compile(
    r"""
      (?P<comment>\#[^\n]*)
    | (?P<space>\s+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<float>[+-]?(?:(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+))
    | (?P<integer>[+-]?\d+)
    | (?P<operator>->|=)
    | (?P<punctuation>[()\[\]{},:])
    | (?P<error>.)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"network", "block", "from"}
_CONSTANTS = RESERVED - _KEYWORDS  # true, false, same
_OPS = frozenset(OPS)


def tokenize(text: str) -> Iterator[tuple[str, str]]:
    """Split spec text (a whole file or one line of it) into (kind, text) pieces that cover it.

    Kinds: comment, space, keyword, constant, title (a network or block name), label (a layer or
    input name before `:`), op (a built-in op), call (a block used as an op), attribute (an
    argument name before `=`), name, integer, float, operator, punctuation, error.

    >>> [k for k, _ in tokenize("conv1: conv(96, kernel=11) -> [N, 96, 55, 55]  # c") if k != "space"][:6]
    ['label', 'punctuation', 'op', 'punctuation', 'integer', 'punctuation']
    """
    expect_op = True  # at the start of a line, or after `name:`
    after_keyword = previous = ""
    for m in _TOKEN.finditer(text):
        kind, piece = m.lastgroup or "error", m.group()
        if kind == "space":
            if "\n" in piece:
                expect_op, after_keyword = True, ""
            yield kind, piece
            continue
        if kind == "word":
            rest = text[m.end() :].lstrip(" \t")
            if piece in _KEYWORDS:
                kind, after_keyword = "keyword", piece
            elif after_keyword in ("network", "block"):
                kind, after_keyword = "title", ""
            elif piece in _CONSTANTS:
                kind = "constant"
            elif rest.startswith(":"):
                kind = "label"
            elif rest.startswith("="):
                kind = "attribute"
            elif expect_op and not rest.startswith((",", ")", "]")):
                kind = "op" if piece in _OPS else "call"
            else:
                kind = "name"
        expect_op = kind == "label" or piece == "{" or (piece == ":" and previous == "label")
        previous = kind
        yield kind, piece


# ---------------------------------------------------------------------------- ANSI

_ANSI = {
    "comment": "\x1b[90m",
    "keyword": "\x1b[35m",
    "constant": "\x1b[35m",
    "title": "\x1b[1m",
    "label": "\x1b[1m",
    "op": "\x1b[36m",
    "call": "\x1b[36m",
    "integer": "\x1b[33m",
    "float": "\x1b[33m",
}
_RESET = "\x1b[0m"


def highlight_line(text: str) -> str:
    """The text with ANSI colours (keywords, ops, names being defined, numbers, comments)."""
    out = []
    for kind, piece in tokenize(text):
        colour = _ANSI.get(kind)
        out.append(f"{colour}{piece}{_RESET}" if colour else piece)
    return "".join(out)


def highlight_html(text: str) -> str:
    """The text, HTML-escaped, with each token but spaces in `<span class="t-KIND">`."""
    out = []
    for kind, piece in tokenize(text):
        escaped = html.escape(piece, quote=False)
        out.append(
            escaped if kind in ("space", "punctuation") else f'<span class="t-{kind}">{escaped}</span>'
        )
    return "".join(out)


# ---------------------------------------------------------------------------- Pygments

try:
    from pygments import token as _T
    from pygments.lexer import Lexer as _Lexer
except ImportError:  # Pygments is optional; only NetLexer needs it
    _Lexer = None

if _Lexer is not None:
    _PYGMENTS = {
        "comment": _T.Comment.Single,
        "space": _T.Whitespace,
        "keyword": _T.Keyword,
        "constant": _T.Keyword.Constant,
        "title": _T.Name.Class,
        "label": _T.Name.Label,
        "op": _T.Name.Builtin,
        "call": _T.Name.Function,
        "attribute": _T.Name.Attribute,
        "name": _T.Name,
        "integer": _T.Number.Integer,
        "float": _T.Number.Float,
        "operator": _T.Operator,
        "punctuation": _T.Punctuation,
        "error": _T.Error,
    }

    class NetLexer(_Lexer):
        """Pygments lexer for dslc network specs (`.net`)."""

        name = "dslc network spec"
        aliases = ["net", "dslc"]
        filenames = ["*.net"]

        def get_tokens_unprocessed(self, text: str):
            pos = 0
            for kind, piece in tokenize(text):
                yield pos, _PYGMENTS[kind], piece
                pos += len(piece)

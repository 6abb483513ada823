"""Text -> typed syntax (syntax.py), built by the LALR parser as it reduces. Syntax errors become
diagnostics (the ones a character causes, a typeset minus sign or a quote: typeset.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from alexnet_dsl.diagnostics import Diagnostic, error, printable
from alexnet_dsl.frontend.syntax import File, ToSyntax, token_span
from alexnet_dsl.frontend.typeset import non_ascii, quoted
from alexnet_dsl.source import Source, Span

GRAMMAR = Path(__file__).resolve().parent / "grammar.lark"

_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB"}
_CLOSE = {"RPAR", "RSQB"}

# How a person names what the parser expected.
_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "_NL": "the end of the line",
    "$END": "the end of the file",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "_ARROW": "`->`",
    "_FROM": "`from`",
    "NETWORK": "`network`",
    "BLOCK": "`block`",
}


class LineJoiner(PostLex):
    """Drop newlines inside brackets and merge runs of blank/comment lines into one."""

    always_accept = ("_NL",)

    def __init__(self) -> None:
        # What a syntax error is reported against: the last two tokens passed on, the last one that is
        # not a newline, and the brackets still open.
        self.last: Token | None = None
        self.prev: Token | None = None
        self.last_real: Token | None = None
        self.open: list[Token] = []

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        # No look-ahead here: the contextual lexer lexes each token in the parser's current state.
        self.last, self.prev, self.last_real, self.open = None, None, None, []
        for tok in stream:
            if tok.type == "_NL":
                if self.open or (self.last is not None and self.last.type == "_NL"):
                    continue
            elif tok.type in _OPEN:
                self.open.append(tok)
            elif tok.type in _CLOSE and self.open:
                self.open.pop()
            elif tok.type in ("LBRACE", "RBRACE"):
                self.open = []  # a brace ends any unclosed bracket: keep errors local
            self.prev, self.last = self.last, tok
            if tok.type != "_NL":
                self.last_real = tok
            yield tok


def build_lark(postlex: PostLex, **options) -> Lark:
    """The grammar's LALR parser, with positions on; `options` add to lark's or replace them (fmt keeps
    all tokens, `parse` applies the Transformer)."""
    return Lark(
        GRAMMAR.read_text(),
        **{
            "parser": "lalr",
            "lexer": "contextual",
            "propagate_positions": True,
            "maybe_placeholders": True,
            "postlex": postlex,
            **options,
        },
    )


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, LineJoiner]:
    joiner = LineJoiner()
    # transformer: the typed syntax is built during the parse, not by a second pass over a lark tree
    # (it computes its own spans: lark's positions would only be work for trees that are never built).
    # cache: the LALR tables, pickled in the temp dir: most of `dslc check`'s start-up
    lark = build_lark(joiner, transformer=ToSyntax(), propagate_positions=False, cache=True)
    return lark, joiner


_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")


def _check_encoding(source: Source) -> Diagnostic | None:
    """Invalid UTF-8 (decoded as surrogates) and NUL bytes are reported before parsing."""
    found = _BAD_CHAR.search(source.text)
    if found is None:
        return None
    index = found.start()
    line = source.text.count("\n", 0, index) + 1
    col = index - (source.text.rfind("\n", 0, index) + 1) + 1
    code = ord(found.group())
    if code == 0:
        return error("E0002", "the file contains a NUL byte", Span.point(line, col))
    return error(
        "E0002",
        "the file is not valid UTF-8",
        Span.point(line, col),
        label=f"byte 0x{code & 0xFF:02x}",
        helps=("save the file as UTF-8",),
    )


def _expected_words(expected) -> str:
    words = sorted({_WORDS.get(name, f"`{name.lower()}`") for name in expected})
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1] if words else "nothing"


def _describe(tok: Token) -> str:
    if tok.type == "_NL":
        return "the end of the line"
    if tok.type == "$END":
        return "the end of the file"
    text = printable(str(tok))
    return f"`{text[:40]}{'…' if len(text) > 40 else ''}`"


def _syntax_error(exc: UnexpectedInput, joiner: LineJoiner, source: Source) -> Diagnostic:
    line = getattr(exc, "line", -1)
    if isinstance(line, int) and line >= 1:
        typeset = non_ascii(source, line, getattr(exc, "column", 1) or 1)
        if typeset is not None:
            return typeset
    if isinstance(exc, UnexpectedCharacters):
        ch = source.line_text(exc.line)[exc.column - 1 : exc.column] or "?"
        span = Span.point(exc.line, exc.column)
        if ch in "\"'":
            return quoted(source, exc.line, exc.column)
        return error("E0001", f"unexpected character `{printable(ch)}`", span)
    # `accepts`: the tokens the parser would take here; `expected` also holds the look-aheads of
    # reductions that would fail right after (`network T(x: [N, 3, 8, 8] -> ...` takes only `)`)
    expected_names = set(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or [])
    if joiner.open:
        expected_names.discard("_NL")  # newlines inside brackets are not tokens
    expected = _expected_words(expected_names)
    notes: list[str] = []
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        last = joiner.last_real
        span = token_span(last) if last is not None else Span.point(1, 0)
        return error(
            "E0001",
            "unexpected end of file",
            Span(span.end_line, span.end_col, span.end_line, span.end_col + 1),
            notes=(f"expected {expected}",),
            helps=("a closing `}` may be missing",) if "`}`" in expected else (),
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    span = token_span(tok)
    # The lexer raises before the token reaches the parser, the parser after: find the token before.
    prev = joiner.prev if tok is joiner.last else joiner.last
    if joiner.open and tok.line > joiner.open[-1].line:
        opener = joiner.open[-1]
        notes.append(f"the `{opener}` opened at line {opener.line}, column {opener.column} is not closed")
    if (
        prev is not None
        and prev.type != "_NL"
        and (tok.line > prev.line or tok.type == "_NL")
        and tok.type != "RBRACE"
    ):
        # the mistake is at the end of the previous line, not at the start of this one
        ps = token_span(prev)
        span = Span(ps.end_line, ps.end_col, ps.end_line, ps.end_col + 1)
        helps = ("a `{` may be missing",) if "LBRACE" in expected_names else ()
        return error(
            "E0001", f"expected {expected} after {_describe(prev)}", span, notes=tuple(notes), helps=helps
        )
    return error(
        "E0001", f"unexpected {_describe(tok)}", span, label=f"expected {expected}", notes=tuple(notes)
    )


MAX_SYNTAX_ERRORS = 20


def parse(source: Source) -> tuple[File | None, list[Diagnostic]]:
    """Parse a spec: its typed syntax, or None and its syntax errors.

    After a syntax error on a line without braces, that line is blanked and the text parsed again,
    so that one run reports the syntax errors of every line (up to MAX_SYNTAX_ERRORS) instead of
    only the first.
    """
    bad = _check_encoding(source)
    if bad is not None:
        return None, [bad]
    lark, joiner = _parser()
    lines = source.text.split("\n")
    errors: list[Diagnostic] = []
    while True:
        try:
            parsed = lark.parse("\n".join(lines))
            return (parsed, []) if not errors else (None, errors)
        except UnexpectedInput as exc:
            errors.append(_syntax_error(exc, joiner, source))
            at_end = (
                isinstance(exc, UnexpectedEOF) or getattr(getattr(exc, "token", None), "type", "") == "$END"
            )
            # a header without its `{`: every line of the body would be an error of its own
            at_end = at_end or "LBRACE" in set(
                getattr(exc, "expected", None) or getattr(exc, "accepts", None) or []
            )
        line = errors[-1].span.line if errors[-1].span else 0
        if (
            at_end
            or len(errors) >= MAX_SYNTAX_ERRORS
            or not 1 <= line <= len(lines)
            or any(tok.line < line for tok in joiner.open)  # a bracket from an earlier line is open
            or "{" in lines[line - 1]
            or "}" in lines[line - 1]
            or not lines[line - 1].strip()
        ):
            return None, errors
        lines[line - 1] = ""

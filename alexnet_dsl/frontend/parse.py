"""Text -> lark tree (LALR, positions on) -> typed syntax (syntax.py). Syntax errors become diagnostics."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite, error, printable
from alexnet_dsl.frontend.syntax import File, to_syntax, token_span
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
        self.last: Token | None = None
        self.prev: Token | None = None
        self.open: list[Token] = []

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        # No look-ahead here: the contextual lexer lexes each token in the parser's current state.
        self.last, self.prev, self.open = None, None, []
        self.last_real: Token | None = None
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
    """The grammar's LALR parser with positions on; `options` add to lark's (fmt keeps all tokens)."""
    return Lark(
        GRAMMAR.read_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=postlex,
        **options,
    )


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, LineJoiner]:
    joiner = LineJoiner()
    # cache: the LALR tables, pickled in the temp dir: most of `dslc check`'s start-up
    return build_lark(joiner, cache=True), joiner


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


# Characters that typeset text (a paper, a PDF, a word processor) puts where a spec has ASCII: the ASCII
# character meant, where it is unambiguous. NFKC covers the rest of the compatibility forms (`１`, `（`).
_TYPESET = {
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u3000": " ",
    "\u200b": "",
    "\u2060": "",
    "\ufeff": "",
}
_QUOTES = "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00ab\u00bb\u2039\u203a\u2032\u2033"
_TIMES = "\u00d7\u2715\u2716\u2a2f\u22c5\u00b7\u2217"
_SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b"
_SUPERSCRIPT = str.maketrans(_SUPERSCRIPTS, "0123456789-")


def _code_part(line: str) -> str:
    """A line without its comment (the language has no strings: `#` always starts one)."""
    return line.split("#", 1)[0]


def _ascii_for(ch: str) -> str | None:
    """The ASCII text a typeset character stands for, when that is unambiguous (superscripts are not:
    `3²` is 9, or a 3×3 window)."""
    if ch in _TYPESET:
        return _TYPESET[ch]
    if ch in _SUPERSCRIPTS:
        return None
    folded = unicodedata.normalize("NFKC", ch)
    return folded if folded != ch and folded.isascii() and folded.isprintable() else None


_TYPESET_NOTE = "spec text copied from a paper or a PDF often carries typeset characters; outside comments a spec is ASCII"


def _non_ascii(source: Source, line: int, col: int) -> Diagnostic | None:
    """The error for a non-ASCII character outside a comment on `line` (the first at or after `col`, else
    the first on the line): such a character is the mistake wherever the parser stumbles on that line
    (`1e−4` fails at `e`, one column before the minus sign)."""
    code = _code_part(source.line_text(line))
    found = [i for i, c in enumerate(code) if ord(c) > 127]
    if not found:
        return None
    index = next((i for i in found if i >= col - 1), found[0])
    ch = code[index]
    name = f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()
    if unicodedata.category(ch) == "Nd":
        return _foreign_digits(code, line, index, name)
    span = Span.point(line, index + 1)
    message = f"character `{printable(ch)}` ({name}) is not allowed here"
    if ch in _SUPERSCRIPTS:
        return _superscript(code, index, span, message)
    if ch in _TIMES:
        return error(
            "E0002",
            message,
            span,
            notes=(_TYPESET_NOTE,),
            helps=(
                "sizes are separated by commas: `[N, 3, 224, 224]`; a window of 11×11 is `kernel=11`, of 3×5 "
                "`kernel=(3, 5)`",
            ),
        )
    if ch in _QUOTES:
        return error(
            "E0002",
            message,
            span,
            label="a typographic quote",
            notes=(_TYPESET_NOTE,),
            helps=("values are written without quotes: `padding=same`",),
        )
    if _ascii_for(ch) is not None:
        return _typeset(source, ch, span, message)
    if unicodedata.category(ch).startswith("L"):
        return error(
            "E0002",
            message,
            span,
            helps=("names are ASCII letters, digits and `_`; other characters may appear in comments",),
        )
    return error("E0002", message, span, notes=(_TYPESET_NOTE,))


def _foreign_digits(code: str, line: int, index: int, name: str) -> Diagnostic:
    """Digits of another script (`١٦`): `\\d` would read them as a number, Python's int() too; a spec
    means what its ASCII text says."""
    digits = re.match(r"\d+", code[index:]).group()  # type: ignore[union-attr]
    return error(
        "E0002",
        f"`{printable(digits)}` is written with non-ASCII digits",
        Span(line, index + 1, line, index + 1 + len(digits)),
        label=f"`{code[index]}` is {name}",
        notes=(f"`{printable(digits)}` is {int(digits)} in the digits of another script",),
        helps=("numbers are written with the ASCII digits 0-9",),
    )


def _superscript(code: str, index: int, span: Span, message: str) -> Diagnostic:
    """A power copied from typeset text (`10⁻⁴`, `3²`): dslc has none; the number itself where it is
    unambiguous."""
    run = re.match(r"[0-9.]*", code[:index][::-1]).group()[::-1]  # type: ignore[union-attr]
    exps = re.match(f"[{_SUPERSCRIPTS}]+", code[index:]).group()  # type: ignore[union-attr]
    power = exps.translate(_SUPERSCRIPT)
    shown = f"{run}{exps}" if run else exps
    helps = ["dslc has no powers: write the number itself with ASCII digits (`10⁻⁴` is `1e-4`)"]
    if re.fullmatch(r"[0-9]+", run) and re.fullmatch(r"[0-9]{1,2}", power) and power != "0":
        helps = [
            f"dslc has no powers: `{shown}` is `{int(run) ** int(power)}`"
            + (f"; a {run}×{run} window is `kernel={run}`" if power == "2" else "")
        ]
    return error("E0002", message, span, label="a superscript", notes=(_TYPESET_NOTE,), helps=tuple(helps))


def _typeset(source: Source, ch: str, span: Span, message: str) -> Diagnostic:
    """A typeset character that stands for an ASCII one (a minus sign, a no-break space)."""
    ascii_ = _ascii_for(ch)
    # the same character is likely everywhere the text was copied: one rewrite replaces each one in
    # the file (outside comments), so that it checks whichever of them this error is
    edits = tuple(
        Edit(Span(n, i + 1, n, i + 2), typed)
        for n in range(1, len(source.lines) + 1)
        for i, c in enumerate(_code_part(source.line_text(n)))
        if ord(c) > 127 and (typed := _ascii_for(c)) is not None
    )
    shown = {" ": "a plain space", "": "nothing (it is invisible)"}.get(ascii_, f"`{ascii_}`")
    others = len(edits) - 1
    more = (
        f" (and likewise the {others} other typeset character{'s' if others != 1 else ''} of the file)"
        if others
        else ""
    )
    what = {" ": "a typeset space", "": "an invisible character"}.get(ascii_, f"a typeset `{ascii_}`")
    return error(
        "E0002",
        message,
        span,
        label=what,
        notes=(_TYPESET_NOTE,),
        rewrites=(Rewrite(f"write {shown}{more}", edits),),
    )


def _quoted(source: Source, line: int, col: int) -> Diagnostic:
    """A quoted value (`padding="same"`, Python's and TensorFlow's habit): dslc has no strings; the
    word is written bare, and a rewrite drops the quotes where that makes a value of dslc."""
    text = source.line_text(line)
    q = text[col - 1]
    end = text.find(q, col)
    span = Span.point(line, col)
    if end < 0:
        return error("E0001", f"unexpected character `{q}`", span, helps=("dslc has no strings",))
    word = text[col:end]
    whole = Span(line, col, line, end + 2)
    bare = word.lower() if word.lower() in ("same", "true", "false") else word
    msg = f"`{q}{printable(word)}{q}`: dslc has no strings"
    if word.lower() == "valid":  # TensorFlow's padding="valid": none
        return error(
            "E0001",
            msg,
            whole,
            rewrites=(Rewrite("TensorFlow's `valid` is no padding: write `0`", (Edit(whole, "0"),)),),
        )
    if bare in ("same", "true", "false") or re.fullmatch(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?", word):
        return error("E0001", msg, whole, rewrites=(Rewrite(f"write `{bare}`", (Edit(whole, bare),)),))
    return error(
        "E0001", msg, whole, helps=("values are numbers, pairs `(h, w)`, `true`, `false` and `same`",)
    )


def _syntax_error(exc: UnexpectedInput, joiner: LineJoiner, source: Source) -> Diagnostic:
    line = getattr(exc, "line", -1)
    if isinstance(line, int) and line >= 1:
        typeset = _non_ascii(source, line, getattr(exc, "column", 1) or 1)
        if typeset is not None:
            return typeset
    if isinstance(exc, UnexpectedCharacters):
        ch = source.line_text(exc.line)[exc.column - 1 : exc.column] or "?"
        span = Span.point(exc.line, exc.column)
        if ch in "\"'":
            return _quoted(source, exc.line, exc.column)
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
            tree = lark.parse("\n".join(lines))
            return (to_syntax(tree), []) if not errors else (None, errors)
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

"""Syntax errors caused by characters: non-ASCII text outside comments (typeset minus signs, spaces and
quotes, superscripts, digits of other scripts) and quoted values (`padding="same"`). parse.py asks
`non_ascii` first wherever the parser stumbles on a line with such a character, and `quoted` when the
lexer stops at a quote.
"""

from __future__ import annotations

import re
import unicodedata

from alexnet_dsl.diagnostics import Diagnostic, Edit, Rewrite, error, printable
from alexnet_dsl.source import Source, Span

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


def non_ascii(source: Source, line: int, col: int) -> Diagnostic | None:
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


def quoted(source: Source, line: int, col: int) -> Diagnostic:
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

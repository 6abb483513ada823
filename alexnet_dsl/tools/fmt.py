"""`dslc fmt`: a spec's canonical layout, keeping every comment.

The canonical form: 4-space indentation; `name: op(arg, key=value) from src -> [dims]`, one
layer per line; the `->` of the single-line layers of a body aligned one space after the longest
of them, their trailing comments two spaces after the longest line; one blank line between
top-level items, other blank lines kept (a run of them becomes one); items, names and numbers
exactly as written; no trailing whitespace; a final newline.

How comments survive: each comment is attached to one token, as a trailing comment (the last
token before it on its line) or a leading one (the next token, or the end of the file). Every
token is printed once, with its comments; a bracket group that holds a comment is laid out one
element per line, so the comment stays where it was. `format_text` then checks that the result
describes the same network and formats to itself before returning it.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Lark, Token, Tree

from alexnet_dsl.diagnostics import DslError
from alexnet_dsl.frontend.lower import lower
from alexnet_dsl.frontend.parse import _LineJoiner, build_lark, parse
from alexnet_dsl.source import Source

INDENT = "    "


class FormatterBug(RuntimeError):
    """The formatted text would not be the same spec: a bug in dslc, never the user's mistake."""


def format_text(text: str, path: str = "<string>") -> str:
    """The canonical form of a spec. Raises `DslError` when it does not parse or has no network.

    Other errors (an unknown op, a wrong shape) do not stop formatting: the layout only needs
    the syntax, and the check below proves the spec means what it meant. A file written with
    Windows (CRLF) or classic Mac OS (CR) line endings keeps them; a byte-order mark is dropped.

    >>> print(format_text("network N(x: [N, 4]) {fc: linear(2) ->[N,2]  # out\\n}"), end="")
    network N(x: [N, 4]) {
        fc: linear(2) -> [N, 2]  # out
    }
    """
    source = Source(path, text)
    tree, diags = parse(source)
    if tree is None:
        raise DslError(diags, source)
    net, diags = lower(tree, source)
    if net is None:
        raise DslError([d for d in diags if d.is_error], source)
    ending = _line_ending(text)
    text = source.text.replace("\r\n", "\n")  # without a byte-order mark; a lone CR read as a line break
    out = _format(text)
    _verify(text, out, path)
    return out.replace("\n", ending) if ending != "\n" else out


def _line_ending(text: str) -> str:
    """The line ending a file uses throughout, kept by fmt: Windows' CRLF, classic Mac OS's lone CR, or LF
    (also for a file that mixes them)."""
    crlf = text.count("\r\n")
    lone_cr, lf = text.count("\r") - crlf, text.count("\n") - crlf
    if crlf and not lone_cr and not lf:
        return "\r\n"
    if lone_cr and not crlf and not lf:
        return "\r"
    return "\n"


# ---------------------------------------------------------------------------- comments


class _Sink:
    """Collects the COMMENT tokens the lexer skips."""

    def __init__(self) -> None:
        self.comments: list[Token] = []

    def __call__(self, tok: Token) -> Token:
        self.comments.append(tok)
        return tok


_LOCK = threading.Lock()  # one parser, one comment sink: one parse at a time


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _Sink]:
    sink = _Sink()
    # keep_all_tokens: punctuation too, since comments can follow a `(` or a `,`
    lark = build_lark(_LineJoiner(), keep_all_tokens=True, lexer_callbacks={"COMMENT": sink})
    return lark, sink


@dataclass
class _Comments:
    starts: list[int]  # start offsets of all comments, sorted
    leading: dict[int, list[Token]]  # token start offset -> own-line comments before it
    trailing: dict[int, list[Token]]  # token start offset -> the comment ending its line
    at_end: list[Token]

    def between(self, a: Token, b: Token) -> bool:
        """Whether a comment lies between the starts of tokens `a` and `b`."""
        i = bisect.bisect_right(self.starts, a.start_pos)
        return i < len(self.starts) and self.starts[i] < b.start_pos

    def left(self) -> int:
        return sum(map(len, self.leading.values())) + sum(map(len, self.trailing.values())) + len(self.at_end)


def _attach(tokens: list[Token], comments: list[Token]) -> _Comments:
    starts = [t.start_pos for t in tokens]
    out = _Comments(sorted(c.start_pos for c in comments), {}, {}, [])
    for c in comments:
        i = bisect.bisect_left(starts, c.start_pos) - 1
        if i >= 0 and tokens[i].end_line == c.line:
            out.trailing.setdefault(tokens[i].start_pos, []).append(c)
        elif i + 1 < len(tokens):
            out.leading.setdefault(tokens[i + 1].start_pos, []).append(c)
        else:
            out.at_end.append(c)
    return out


# ---------------------------------------------------------------------------- the writer


@dataclass
class _Line:
    indent: int
    text: str = ""
    comment: str | None = None
    blank_before: bool = False
    body: int | None = None  # the body whose alignment this line takes part in
    arrow: int | None = None  # where ` -> [dims]` starts in `text`


@dataclass
class _Writer:
    """Writes tokens into lines; comments ride along with their tokens."""

    comments: _Comments
    blank_lines: set[int]  # source lines holding only whitespace
    lines: list[_Line] = field(default_factory=list)
    indent: int = 0
    cur: _Line | None = None
    pending: list[Token] = field(default_factory=list)  # trailing comments for the end of the line
    last_line: int = 0  # source line of the last token or comment written
    opened: bool = False  # the last line ended with an opening bracket
    force_blank: bool = False  # a blank line before the next line (between top-level items)

    def _start(self, src_line: int, blank_ok: bool = True) -> _Line:
        if self.cur is None:
            blank = self.force_blank or (
                blank_ok
                and not self.opened
                and bool(self.lines)
                and any(n in self.blank_lines for n in range(self.last_line + 1, src_line))
            )
            self.cur = _Line(self.indent, blank_before=blank)
            self.force_blank = False
        return self.cur

    def newline(self) -> None:
        line = self.cur
        if line is None:
            return
        self.lines.append(line)
        self.opened = line.text.endswith(("(", "[", "{"))
        if self.pending:
            line.comment = _comment_text(self.pending[0])
            for extra in self.pending[1:]:  # two comments met at one comma: the second gets a line
                self.lines.append(_Line(line.indent, _comment_text(extra)))
                self.opened = False
        self.cur, self.pending = None, []

    def comment_lines(self, comments: list[Token]) -> None:
        for c in comments:
            self.newline()
            self._start(c.line).text = _comment_text(c)
            self.last_line = c.line
            self.newline()

    def leading(self, tok: Token) -> None:
        self.comment_lines(self.comments.leading.pop(tok.start_pos, []))

    def token(self, tok: Token, *, space: bool = False, blank_ok: bool = True) -> None:
        """Write a token (after a space, unless it starts a line), with its comments."""
        lead = self.comments.leading.pop(tok.start_pos, [])
        if tok.type == "COMMA":
            # a comma stays on its element's line; comments before it go after it
            self._start(tok.line).text += ","
        else:
            self.comment_lines(lead)
            lead = []
            if self.pending:
                self.newline()  # a trailing comment ends the line
            fresh = self.cur is None
            line = self._start(tok.line, blank_ok)
            line.text += ("" if fresh or not space else " ") + str(tok)
        self.last_line = tok.end_line
        self.pending += self.comments.trailing.pop(tok.start_pos, [])
        if lead:
            self.comment_lines(lead)

    def punct(self, text: str) -> None:
        """Punctuation that is not in the source (a trailing comma)."""
        assert self.cur is not None, "punctuation needs a line"
        self.cur.text += text

    def drop(self, tok: Token) -> None:
        """Leave out a token (a trailing comma, empty parentheses); its line's comment stays."""
        assert tok.start_pos not in self.comments.leading, f"dropped {tok!r} leads a comment"
        self.pending += self.comments.trailing.pop(tok.start_pos, [])


def _comment_text(tok: Token) -> str:
    return str(tok).rstrip()


# ---------------------------------------------------------------------------- the layout


def _kids(tree: Tree) -> list:
    """Children that matter: no placeholders, no newlines."""
    return [c for c in tree.children if c is not None and not (isinstance(c, Token) and c.type == "_NL")]


def _tokens(tree: Tree) -> list[Token]:
    return [t for t in tree.scan_values(lambda v: isinstance(v, Token)) if t.type != "_NL"]


def _format(text: str) -> str:
    lark, sink = _parser()
    with _LOCK:
        sink.comments = []
        tree = lark.parse(text)
        found = sink.comments
    comments = _attach(_tokens(tree), found)
    blank = {n for n, line in enumerate(text.split("\n"), 1) if not line.strip()}
    w = _Writer(comments, blank)
    bodies = itertools.count(1)
    for item in (c for c in tree.children if isinstance(c, Tree)):
        _item(w, item, bodies)
        w.force_blank = True
    w.comment_lines(comments.at_end)
    comments.at_end = []
    w.newline()
    if comments.left():
        raise FormatterBug(f"{comments.left()} comment(s) of {len(found)} were not placed")
    return _assemble(w.lines)


def _item(w: _Writer, tree: Tree, bodies: Iterator[int]) -> None:
    """`network NAME(input: [dims]) -> [dims] { ... }` or `block NAME(params) { ... }`."""
    kids = _kids(tree)
    keyword, name, open_, *rest = kids
    w.token(keyword)
    w.token(name, space=True)
    close_at = next(i for i, k in enumerate(rest) if isinstance(k, Token) and k.type == "RPAR")
    inner, close, after = rest[:close_at], rest[close_at], rest[close_at + 1 :]
    if tree.data == "network":
        input_name, colon, shape = inner

        def header() -> None:
            w.token(input_name)
            w.token(colon)
            _group_of(w, shape, space=True)

        _group(w, open_, [(header, None)], close, trailing_comma=False)
    else:
        _group(w, open_, _items(inner, lambda p: _param(w, p)), close, trailing_comma=True)
    for k in after[:-1]:
        if isinstance(k, Token):
            w.token(k, space=True)  # `->`
        else:
            _group_of(w, k, space=True)
    _body(w, after[-1], next(bodies))


def _body(w: _Writer, tree: Tree, body: int) -> None:
    lbrace, *layers, rbrace = _kids(tree)
    w.token(lbrace, space=True)
    w.indent += 1
    for layer in layers:
        w.newline()
        _layer(w, layer, body)
    w.leading(rbrace)  # comments after the last layer, at the body's indentation
    w.indent -= 1
    w.newline()
    w.token(rbrace, blank_ok=False)
    w.newline()


def _layer(w: _Writer, tree: Tree, body: int) -> None:
    """`name: op(args) from src -> [dims]`; one line unless a comment sits inside it."""
    tokens = _tokens(tree)
    flat = not w.comments.between(tokens[0], tokens[-1])
    kids = _kids(tree)
    if isinstance(kids[0], Token):  # `name:`
        w.token(kids[0])
        w.token(kids[1])
        kids = kids[2:]
    _call(w, kids[0], space=True)
    for k in kids[1:]:  # `from src`, `-> [dims]`
        if isinstance(k, Tree):
            _group_of(w, k, space=True)
            continue
        if k.type == "_ARROW" and flat:
            assert w.cur is not None
            w.cur.arrow = len(w.cur.text)
        w.token(k, space=True)
    if flat:
        assert w.cur is not None
        w.cur.body = body


def _call(w: _Writer, tree: Tree, space: bool) -> None:
    op, *rest = _kids(tree)
    w.token(op, space=space)
    if not rest:
        return
    open_, *inner, close = rest
    if not inner and not w.comments.between(open_, close):
        w.drop(open_)  # `relu()` is `relu`
        w.drop(close)
        return
    _group(w, open_, _items(inner, lambda a: _arg(w, a)), close, trailing_comma=True)


def _arg(w: _Writer, tree: Tree) -> None:
    kids = _kids(tree)
    if tree.data == "keyword":
        key, equal, value = kids
        w.token(key)
        w.token(equal)
        _value(w, value)
    else:
        _value(w, kids[0])


def _param(w: _Writer, tree: Tree) -> None:
    kids = _kids(tree)
    w.token(kids[0])
    if len(kids) == 3:
        w.token(kids[1])
        _value(w, kids[2])


def _value(w: _Writer, tree: Tree) -> None:
    if tree.data == "pair":
        _group_of(w, tree)
    else:
        w.token(_kids(tree)[0])


def _group_of(w: _Writer, tree: Tree, space: bool = False) -> None:
    """A shape `[dims]` or a pair `(a, b)`."""
    open_, *inner, close = _kids(tree)
    items = _items(inner, lambda d: w.token(_kids(d)[0]))
    _group(w, open_, items, close, trailing_comma=tree.data == "shape", space=space)


Item = tuple[Callable[[], None], Token | None]


def _items(inner: list, show: Callable) -> list[Item]:
    """Elements of a bracket group, each with the comma that follows it (or None)."""
    items: list[Item] = []
    for k in inner:
        if isinstance(k, Token) and k.type == "COMMA":
            items[-1] = (items[-1][0], k)
        else:
            items.append(((lambda k=k: show(k)), None))
    return items


def _group(
    w: _Writer, open_: Token, items: list[Item], close: Token, *, trailing_comma: bool, space: bool = False
) -> None:
    """`(a, b)` on one line, or one element per line when a comment sits inside."""
    exploded = w.comments.between(open_, close)
    w.token(open_, space=space)
    if not exploded:
        for k, (show, comma) in enumerate(items):
            show()
            if k < len(items) - 1:
                assert comma is not None
                w.token(comma)
                w.punct(" ")
            elif comma is not None:
                w.drop(comma)
        w.token(close)
        return
    w.indent += 1
    for k, (show, comma) in enumerate(items):
        w.newline()
        show()
        if comma is not None:
            w.token(comma)
        elif trailing_comma or k < len(items) - 1:
            w.punct(",")
    w.leading(close)  # comments before the closing bracket, at the elements' indentation
    w.indent -= 1
    w.newline()
    w.token(close, blank_ok=False)


def _assemble(lines: list[_Line]) -> str:
    """Align `->` and trailing comments within each body; join the lines."""
    arrow_col: dict[int, int] = {}  # one past the longest single-line layer: shapes read as a column
    for line in lines:
        if line.body is not None:
            width = len(INDENT * line.indent + line.text[: line.arrow])
            arrow_col[line.body] = max(arrow_col.get(line.body, 0), width)
    texts = []
    for line in lines:
        text = INDENT * line.indent + line.text
        if line.arrow is not None and line.body is not None:
            head = INDENT * line.indent + line.text[: line.arrow]
            text = head.ljust(arrow_col[line.body]) + " " + line.text[line.arrow :].lstrip()
        texts.append(text)
    comment_col: dict[int, int] = {}
    for line, text in zip(lines, texts):
        if line.comment is not None and line.body is not None:
            comment_col[line.body] = max(comment_col.get(line.body, 0), len(text) + 2)
    out = []
    for line, text in zip(lines, texts):
        if line.blank_before:
            out.append("")
        if line.comment is not None:
            col = comment_col.get(line.body, 0) if line.body is not None else 0
            text = text.ljust(max(col, len(text) + 2)) + line.comment
        out.append(text.rstrip())
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- the safety check


_LINE_NUMBER = re.compile(r"\bline \d+\b")


def fingerprint(text: str, path: str = "<string>") -> dict:
    """What a spec means: `dslc check --format json` without the file and positions."""
    from alexnet_dsl.analysis.pipeline import check_text

    doc = check_text(text, path).to_json()
    doc.pop("file")
    for layer in doc["layers"]:
        layer.pop("line")
    diags = []
    for d in doc["diagnostics"]:
        d = {k: v for k, v in d.items() if k not in ("line", "column", "end_line", "end_column")}
        d = json.loads(_LINE_NUMBER.sub("line ?", json.dumps(d)))  # "the assertion on line 12" moves too
        if "related" in d:
            d["related"] = [r["message"] for r in d["related"]]
        if "fixes" in d:  # an edit's position moves with the layout; what it writes does not
            d["fixes"] = [[f["help"], *(e["text"] for e in f["edits"])] for f in d["fixes"]]
        diags.append(d)
    doc["diagnostics"] = diags
    return doc


def _verify(before: str, after: str, path: str) -> None:
    if fingerprint(before, path) != fingerprint(after, path):
        raise FormatterBug(f"formatting `{path}` would change its network; the file is left as it is")
    if _format(after) != after:
        raise FormatterBug(f"formatting `{path}` twice gives a different text")

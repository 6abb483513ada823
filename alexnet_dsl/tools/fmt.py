"""`dslc fmt`: a spec's canonical layout, keeping every comment.

The canonical form: 4-space indentation; `name: op(arg, key=value) from src -> [dims]`, one
layer per line; the `->` of the single-line layers of a body aligned one space after the longest
of them, their trailing comments two spaces after the longest line; one blank line between
top-level items, other blank lines kept (a run of them becomes one); items, names and numbers
exactly as written; no trailing whitespace; a final newline.

How comments survive: each comment is attached to one token, as a trailing comment (the last
token before it on its line) or a leading one (the next token, or the end of the file). Every
token is printed once, with its comments (`fmt_lines.py`: the comments, the writer and the
alignment); a bracket group that holds a comment is laid out one element per line, so the
comment stays where it was. `format_text` then checks that the result
describes the same network and formats to itself before returning it.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from functools import lru_cache

from lark import Lark, Token, Tree

from alexnet_dsl.diagnostics import DslError
from alexnet_dsl.frontend.lower import lower
from alexnet_dsl.frontend.parse import LineJoiner, build_lark, parse
from alexnet_dsl.source import Source
from alexnet_dsl.tools.fmt_lines import Writer, assemble, attach


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
    lark = build_lark(LineJoiner(), keep_all_tokens=True, lexer_callbacks={"COMMENT": sink})
    return lark, sink


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
    comments = attach(_tokens(tree), found)
    blank = {n for n, line in enumerate(text.split("\n"), 1) if not line.strip()}
    w = Writer(comments, blank)
    bodies = itertools.count(1)
    for item in (c for c in tree.children if isinstance(c, Tree)):
        _item(w, item, bodies)
        w.force_blank = True
    w.comment_lines(comments.at_end)
    comments.at_end = []
    w.newline()
    if comments.left():
        raise FormatterBug(f"{comments.left()} comment(s) of {len(found)} were not placed")
    return assemble(w.lines)


def _item(w: Writer, tree: Tree, bodies: Iterator[int]) -> None:
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


def _body(w: Writer, tree: Tree, body: int) -> None:
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


def _layer(w: Writer, tree: Tree, body: int) -> None:
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


def _call(w: Writer, tree: Tree, space: bool) -> None:
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


def _arg(w: Writer, tree: Tree) -> None:
    kids = _kids(tree)
    if tree.data == "keyword":
        key, equal, value = kids
        w.token(key)
        w.token(equal)
        _value(w, value)
    else:
        _value(w, kids[0])


def _param(w: Writer, tree: Tree) -> None:
    kids = _kids(tree)
    w.token(kids[0])
    if len(kids) == 3:
        w.token(kids[1])
        _value(w, kids[2])


def _value(w: Writer, tree: Tree) -> None:
    if tree.data == "pair":
        _group_of(w, tree)
    else:
        w.token(_kids(tree)[0])


def _group_of(w: Writer, tree: Tree, space: bool = False) -> None:
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
    w: Writer, open_: Token, items: list[Item], close: Token, *, trailing_comma: bool, space: bool = False
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

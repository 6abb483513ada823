"""The lines `dslc fmt` writes: comments attached to tokens, a writer that prints tokens into lines
with their comments, and the alignment of `->` and trailing comments within a body.

Each comment is attached to one token, as a trailing comment (the last token before it on its
line) or a leading one (the next token, or the end of the file), so that printing every token
once, with its comments, keeps every comment where it was.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from lark import Token

INDENT = "    "


# ---------------------------------------------------------------------------- comments


@dataclass
class Comments:
    """A spec's comments, each attached to one token (or to the end of the file); the writer takes
    them out as it prints their tokens, so what is `left` at the end was not placed."""

    starts: list[int]  # start offsets of all comments, sorted
    leading: dict[int, list[Token]]  # token start offset -> own-line comments before it
    trailing: dict[int, list[Token]]  # token start offset -> the comment ending its line
    at_end: list[Token]

    def between(self, a: Token, b: Token) -> bool:
        """Whether a comment lies between the starts of tokens `a` and `b`."""
        i = bisect.bisect_right(self.starts, a.start_pos)
        return i < len(self.starts) and self.starts[i] < b.start_pos

    def left(self) -> int:
        """How many comments were not taken out."""
        return sum(map(len, self.leading.values())) + sum(map(len, self.trailing.values())) + len(self.at_end)


def attach(tokens: list[Token], comments: list[Token]) -> Comments:
    """Attach each comment to the last token before it on its line (trailing), else to the next token
    (leading), else to the end of the file; `tokens` in source order."""
    starts = [t.start_pos for t in tokens]
    out = Comments(sorted(c.start_pos for c in comments), {}, {}, [])
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
class Line:
    """One output line, before alignment: its indentation level, text and trailing comment."""

    indent: int
    text: str = ""
    comment: str | None = None
    blank_before: bool = False
    body: int | None = None  # the body whose alignment this line takes part in
    arrow: int | None = None  # where ` -> [dims]` starts in `text`


@dataclass
class Writer:
    """Writes tokens into lines; comments ride along with their tokens."""

    comments: Comments
    blank_lines: set[int]  # source lines holding only whitespace
    lines: list[Line] = field(default_factory=list)
    indent: int = 0
    cur: Line | None = None
    pending: list[Token] = field(default_factory=list)  # trailing comments for the end of the line
    last_line: int = 0  # source line of the last token or comment written
    opened: bool = False  # the last line ended with an opening bracket
    force_blank: bool = False  # a blank line before the next line (between top-level items)

    def _start(self, src_line: int, blank_ok: bool = True) -> Line:
        if self.cur is None:
            blank = self.force_blank or (
                blank_ok
                and not self.opened
                and bool(self.lines)
                and any(n in self.blank_lines for n in range(self.last_line + 1, src_line))
            )
            self.cur = Line(self.indent, blank_before=blank)
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
                self.lines.append(Line(line.indent, _comment_text(extra)))
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


# ---------------------------------------------------------------------------- alignment


def assemble(lines: list[Line]) -> str:
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

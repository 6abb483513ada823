"""Source text and positions: the only position types used past parsing."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file: 1-based lines and columns, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(line: int, col: int) -> Span:
        return Span(line, col, line, col + 1)

    def join(self, other: Span) -> Span:
        """The smallest span covering both."""
        start = min((self.line, self.col), (other.line, other.col))
        end = max((self.end_line, self.end_col), (other.end_line, other.end_col))
        return Span(start[0], start[1], end[0], end[1])


@dataclass(frozen=True)
class Source:
    """A spec's text and the name it is shown under (a path, or `<string>`)."""

    path: str
    text: str

    def __post_init__(self) -> None:
        # A byte-order mark (Windows editors write one) is not part of the text a person sees.
        if self.text.startswith("\ufeff"):
            object.__setattr__(self, "text", self.text[1:])
        # A lone CR ends a line (classic Mac OS), as editors show it; CRLF stays as it is.
        if "\r" in self.text:
            object.__setattr__(self, "text", re.sub(r"\r(?!\n)", "\n", self.text))

    @staticmethod
    def from_file(path: str | Path) -> Source:
        """Read a spec file. Invalid UTF-8 is kept (as U+FFFD) and reported by the parser."""
        data = Path(path).read_bytes()
        return Source(str(path), data.decode("utf-8", errors="surrogateescape"))

    @staticmethod
    def load(spec: str | os.PathLike) -> Source:
        """A spec given as a path (`str` naming an existing file, or `Path`) or as its text."""
        if isinstance(spec, os.PathLike):
            return Source.from_file(spec)
        if isinstance(spec, str):
            one_line = "\n" not in spec and len(spec) < 4096
            if one_line and Path(spec).is_file():
                return Source.from_file(spec)
            if one_line and "{" not in spec and spec.strip().endswith(".net"):
                raise FileNotFoundError(f"no spec file {spec!r}")
            return Source("<string>", spec)
        raise TypeError(f"spec must be a path or the text of a spec, not {type(spec).__name__}")

    def line_text(self, line: int) -> str:
        """A line as shown, without its line ending (`\n` or `\r\n`)."""
        lines = self.lines
        return lines[line - 1].removesuffix("\r") if 1 <= line <= len(lines) else ""

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

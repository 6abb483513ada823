"""Diagnostics: severities, the code registry, one renderer for people and one for JSON.

A diagnostic names its code, says what is wrong in lowercase with names in backticks, points at
the smallest span that shows it, and only its `help` lines propose a fix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from alexnet_dsl.codes import CODES
from alexnet_dsl.source import Source, Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Related:
    """A secondary place that explains the primary one (`first defined here`)."""

    message: str
    span: Span


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text of `span` by `text` (an empty span inserts; text may hold new lines)."""

    span: Span
    text: str


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A help that proposes a change of the spec, with the edits that make it. A diagnostic carries
    its rewrites as candidates; analysis.verify.verify_rewrites applies each to the text, checks the
    result, and only then shows its help (a proposed fix that does not check is never shown)."""

    help: str
    edits: tuple[Edit, ...]
    group: str = ""  # rewrites of one (non-empty) group are alternatives: only the best verified one is shown
    # A name's correction (`dense` -> `linear`) fixes this diagnostic alone: it is verified when the
    # diagnostic is gone and no more errors are left in all, though another mistake of the arguments or
    # shapes may stay on its line (a cycle or a clash of names the new name makes may not).
    name_only: bool = False


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span | None
    label: str = ""
    notes: tuple[str, ...] = ()
    helps: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()
    rewrites: tuple[Rewrite, ...] = ()  # verified: their helps are among `helps`

    def __post_init__(self) -> None:
        assert self.code in CODES, f"unregistered diagnostic code {self.code}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict:
        out: dict = {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            **_span_json(self.span),
        }
        if self.notes:
            out["notes"] = list(self.notes)
        if self.helps:
            out["help"] = list(self.helps)
        if self.rewrites:
            out["fixes"] = [
                {"help": r.help, "edits": [{**_span_json(e.span), "text": e.text} for e in r.edits]}
                for r in self.rewrites
            ]
        if self.related:
            out["related"] = [{"message": r.message, **_span_json(r.span)} for r in self.related]
        return out


def _span_json(span: Span | None) -> dict:
    """A span's JSON keys (null where a diagnostic has no place)."""
    return {
        "line": span.line if span else None,
        "column": span.col if span else None,
        "end_line": span.end_line if span else None,
        "end_column": span.end_col if span else None,
    }


def error(code: str, message: str, span: Span | None, **kw) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, span, **kw)


def warning(code: str, message: str, span: Span | None, **kw) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, span, **kw)


def note(code: str, message: str, span: Span | None, **kw) -> Diagnostic:
    return Diagnostic(Severity.NOTE, code, message, span, **kw)


def apply_edits(text: str, edits: tuple[Edit, ...]) -> str:
    """The text with the edits made (they must not overlap).

    >>> apply_edits("conv(8)\\n", (Edit(Span(1, 7, 1, 7), ", kernel=3"),))
    'conv(8, kernel=3)\\n'
    """
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(line: int, col: int) -> int:
        return starts[line - 1] + col - 1

    out = text
    for e in sorted(edits, key=lambda e: (e.span.line, e.span.col), reverse=True):  # back to front
        out = out[: offset(e.span.line, e.span.col)] + e.text + out[offset(e.span.end_line, e.span.end_col) :]
    return out


def sort_key(d: Diagnostic) -> tuple:
    s = d.span
    return (s.line, s.col) if s else (0, 0)


class DslError(Exception):
    """Raised by the Python API when a spec does not check; renders like `dslc check`."""

    def __init__(self, diagnostics: list[Diagnostic], source: Source | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(render(d, self.source) for d in self.diagnostics)

    def __str__(self) -> str:
        errors = sum(d.is_error for d in self.diagnostics)
        return f"{errors} error(s) in {self.source.path if self.source else 'spec'}\n" + self.render()


class DslWarning(UserWarning):
    """Issued by `alexnet_dsl.compile` for each warning of the spec (the same text as `dslc check`);
    filter it with `warnings.filterwarnings("ignore", category=alexnet_dsl.DslWarning)`."""

    def __init__(self, diagnostic: Diagnostic, source: Source | None = None) -> None:
        self.diagnostic = diagnostic
        super().__init__(render(diagnostic, source).rstrip("\n"))


# ---------------------------------------------------------------------------- rendering

_COLOURS = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
    "help": "\x1b[1;32m",
    "gutter": "\x1b[1;34m",
    "bold": "\x1b[1m",
    "reset": "\x1b[0m",
}


def printable(text: str) -> str:
    """Make text safe for a terminal: control characters and stray surrogates become escapes."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\t":
            out.append("    ")
        elif code < 32 or code == 127 or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\x{code & 0xFF:02x}" if code < 256 or code >= 0xDC80 else "\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def _snippet(
    source: Source, span: Span, marker: str, label: str, width: int, paint, highlight=None
) -> list[str]:
    """Source line(s) of a span with markers under its first line."""
    text = source.line_text(span.line)
    if len(text) > 400:  # very long lines: show a window around the span
        start = max(0, span.col - 60)
        shown = ("…" if start else "") + text[start : start + 200]
        col = span.col - start + (1 if start else 0)
    else:
        shown, col = text, span.col
    prefix = printable(shown[: col - 1])
    end_col = span.end_col if span.end_line == span.line else len(shown) + 1
    underlined = printable(shown[col - 1 : max(end_col, col + 1) - 1]) or " "
    pad = " " * width
    line_body = highlight(printable(shown)) if highlight else printable(shown)
    lines = [
        paint("gutter", f"{pad} |"),
        paint("gutter", f"{span.line:>{width}} |") + f" {line_body}",
        paint("gutter", f"{pad} |")
        + " "
        + " " * len(prefix)
        + paint(marker[1], marker[0] * len(underlined) + (f" {label}" if label else "")),
    ]
    return lines


def render(d: Diagnostic, source: Source | None, color: bool = False, highlight=None) -> str:
    """Render one diagnostic the way rustc does."""

    def paint(kind, text: str) -> str:
        return f"{_COLOURS[kind]}{text}{_COLOURS['reset']}" if color else text

    head = paint(d.severity, f"{d.severity.value}[{d.code}]") + paint("bold", f": {d.message}")
    lines = [head]
    spans = [d.span] if d.span else []
    spans += [r.span for r in d.related]
    width = len(str(max((s.line for s in spans), default=1)))
    pad = " " * width
    path = source.path if source else "<spec>"
    if d.span:
        lines.append(paint("gutter", f"{pad}--> ") + f"{path}:{d.span.line}:{d.span.col}")
        if source:
            lines += _snippet(source, d.span, ("^", d.severity), d.label, width, paint, highlight)
    for r in d.related:
        lines.append(paint(Severity.NOTE, "note") + f": {r.message}")
        lines.append(paint("gutter", f"{pad}--> ") + f"{path}:{r.span.line}:{r.span.col}")
        if source:
            lines += _snippet(source, r.span, ("-", "gutter"), "", width, paint, highlight)
    for n in d.notes:
        lines.append(paint("gutter", f"{pad} = ") + paint("bold", "note") + f": {n}")
    for h in d.helps:
        lines.append(paint("gutter", f"{pad} = ") + paint("help", "help") + f": {h}")
    return "\n".join(printable_lines(lines)) + "\n"


def printable_lines(lines: list[str]) -> list[str]:
    # Messages quote user text; strip anything a terminal would interpret (colours are ours).
    return [line.replace("\r", "\\r") for line in lines]

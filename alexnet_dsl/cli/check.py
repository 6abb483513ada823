"""`dslc check`, `dslc summary` and `dslc explain`: what a spec means, without compiling it.

These import neither torch, triton nor numpy.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from alexnet_dsl.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_color_option,
    check_path,
    fused_groups_of,
    print_diagnostics,
    use_color,
)


class Unreadable:
    """A file named on the command line that could not be read: an entry of the JSON output."""

    def __init__(self, path: str, message: str) -> None:
        self.path, self.message = path, message

    def to_json(self) -> dict:
        """The keys of a checked file's object that still mean something, and `error`, the reason."""
        return {"file": self.path, "network": None, "ok": False, "error": self.message, "diagnostics": []}


def check_all(paths: list[str]) -> tuple[list, list[str]]:
    """Every file that can be read, checked; and one line for each that cannot (the others are still
    checked: one missing file must not hide the results of the rest). The list has one entry per
    path, in order: an Analysis, or an `Unreadable` saying why the file could not be read."""
    analyses, unreadable = [], []
    for path in paths:
        try:
            analyses.append(check_path(path))
        except UsageError as e:
            unreadable.append(str(e))
            analyses.append(Unreadable(path, str(e)))
    return analyses, unreadable


def _read(analyses) -> list:
    return [a for a in analyses if not isinstance(a, Unreadable)]


def _dump_json(docs: list[dict], several: bool) -> None:
    """One object for one file, a list for several: one entry per file named, in order (one that
    cannot be read is `{"file": ..., "ok": false, "error": "cannot read ...", ...}`)."""
    json.dump(docs if several else docs[0], sys.stdout, indent=2)
    sys.stdout.write("\n")


def _exit(analyses, unreadable: list[str]) -> int:
    for message in unreadable:
        sys.stderr.write(f"dslc: error: {message}\n")
    if unreadable:
        return EXIT_USAGE
    return EXIT_OK if all(a.ok for a in _read(analyses)) else EXIT_ERRORS


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def verdict(analysis) -> str:
    """`path: Name: ok, 0 warnings` (or `2 errors`): the last line `dslc check` prints for a file."""
    from alexnet_dsl.tools.tables import diagnostic_counts

    errors, warnings = diagnostic_counts(analysis)
    name = analysis.network.name if analysis.network else _written_name(analysis.source.text) or "?"
    state = "ok" if errors == 0 else _plural(errors, "error")
    return f"{analysis.source.path}: {name}: {state}, {_plural(warnings, 'warning')}"


def _written_name(text: str) -> str | None:
    """The network's name as written, for a file that did not parse (or whose input shape is wrong)."""
    m = re.search(r"^[ \t]*network[ \t]+([A-Za-z_][A-Za-z0-9_]*)", text, re.M)
    return m.group(1) if m else None


def cmd_check(args: argparse.Namespace) -> int:
    analyses, unreadable = check_all(args.files)
    if args.format == "json":
        _dump_json([a.to_json() for a in analyses], several=len(args.files) > 1)
        return _exit(analyses, unreadable)
    from alexnet_dsl.tools.tables import listing_text

    color = use_color(sys.stderr, args.color)
    for a in _read(analyses):
        if not args.quiet:
            sys.stdout.write(listing_text(a))
            sys.stdout.flush()
        print_diagnostics(a.diagnostics, a.source, color)
        sys.stderr.write(verdict(a) + "\n")
    return _exit(analyses, unreadable)


def cmd_summary(args: argparse.Namespace) -> int:
    analyses, unreadable = check_all(args.files)
    if args.format == "json":
        docs = [a.to_json() if isinstance(a, Unreadable) else _summary_json(a) for a in analyses]
        _dump_json(docs, several=len(args.files) > 1)
        return _exit(analyses, unreadable)
    from alexnet_dsl.tools.tables import summary_text

    color = use_color(sys.stderr, args.color)
    for a in _read(analyses):
        print_diagnostics(a.diagnostics, a.source, color)
        sys.stdout.write(summary_text(a, fused_groups_of(a)))
    return _exit(analyses, unreadable)


def _summary_json(analysis) -> dict:
    doc = analysis.to_json()
    fused = fused_groups_of(analysis)
    for entry, info in zip(doc["layers"], analysis.infos):
        entry["fused"] = fused.get(info.layer.name)
    return doc


def cmd_explain(args: argparse.Namespace) -> int:
    from alexnet_dsl.codes import CODES

    code = args.code.upper()
    if code not in CODES:
        raise UsageError(f"unknown code `{args.code}`; known codes: {', '.join(CODES)}")
    entry = CODES[code]
    sys.stdout.write(f"{code}: {entry.title}\n\n{entry.explanation}\n")
    return EXIT_OK


def _files_command(sub, name: str, help_text: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("files", nargs="+", metavar="FILE", help="spec files (`-` reads standard input)")
    p.add_argument(
        "--format",
        choices=("human", "json"),
        default="human",
        help="`json` prints one object per file to stdout (a list for several files)",
    )
    add_color_option(p)
    p.set_defaults(func=func)
    return p


def add_commands(sub) -> None:
    """Register `check`, `summary` and `explain` on the `dslc` parser."""
    check = _files_command(sub, "check", "check specs: every shape, located errors and warnings", cmd_check)
    check.add_argument("-q", "--quiet", action="store_true", help="print only diagnostics and the verdict")
    _files_command(sub, "summary", "layer table: shapes, params, MACs, admissible input sizes", cmd_summary)

    explain = sub.add_parser("explain", help="explain a diagnostic code, with an example")
    explain.add_argument("code", metavar="CODE")
    explain.set_defaults(func=cmd_explain)

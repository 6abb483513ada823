"""dslc: the command line. One function per subcommand; exit codes 0 (ok), 1 (errors), 2 (usage or I/O).

`dslc check` and `dslc summary` import neither torch, triton nor numpy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence

from alexnet_dsl._version import __version__

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the command line or the files named on it (exit 2)."""


def _use_color(stream, choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"


def _highlighter(color: bool):
    if not color:
        return None
    try:
        from alexnet_dsl.tools.highlight import highlight_line
    except ImportError:  # pygments is optional
        return None
    return highlight_line


def read_source(path: str):
    """A spec file (or `-`, standard input) as a Source; unreadable files are usage errors (exit 2)."""
    from alexnet_dsl.source import Source

    if path == "-":
        return Source("<stdin>", sys.stdin.read())
    try:
        return Source.from_file(path)
    except IsADirectoryError:
        raise UsageError(f"cannot read `{path}`: it is a directory") from None
    except FileNotFoundError:
        raise UsageError(f"cannot read `{path}`: no such file") from None
    except OSError as e:
        raise UsageError(f"cannot read `{path}`: {e.strerror or e}") from None


def _analyse(path: str):
    from alexnet_dsl.analysis.pipeline import check_source

    return check_source(read_source(path))


def compilable(path: str, sizes_text: str | None, color: bool):
    """The checked spec with its sizes bound, ready to compile; None (diagnostics printed) if not."""
    from alexnet_dsl.backend.build import analyse
    from alexnet_dsl.cli.compile import parse_sizes
    from alexnet_dsl.diagnostics import DslError, render

    try:
        sizes = parse_sizes(sizes_text)
    except ValueError as e:
        raise UsageError(str(e)) from None
    analysis = _analyse(path)
    if not analysis.ok:
        _print_diagnostics(analysis, color)
        return None
    try:
        ready = analyse(analysis, sizes)
    except DslError as e:
        for d in e.diagnostics:
            sys.stderr.write(render(d, e.source, color=color) + "\n")
        return None
    except ValueError as e:
        raise UsageError(str(e)) from None
    _print_diagnostics(ready, color)  # its warnings (and notes), at the sizes bound
    return ready


def _print_diagnostics(analysis, color: bool) -> None:
    from alexnet_dsl.diagnostics import render

    highlight = _highlighter(color)
    for d in analysis.diagnostics:
        sys.stderr.write(render(d, analysis.source, color=color, highlight=highlight) + "\n")


def _verdict(analysis) -> str:
    errors = len(analysis.errors)
    warnings = sum(d.severity.value == "warning" for d in analysis.diagnostics)
    name = analysis.network.name if analysis.network else _written_name(analysis.source.text) or "?"
    state = "ok" if errors == 0 else f"{errors} error{'s' if errors != 1 else ''}"
    return f"{analysis.source.path}: {name}: {state}, {warnings} warning{'s' if warnings != 1 else ''}"


def _written_name(text: str) -> str | None:
    """The network's name as written, for a file that did not parse (or whose input shape is wrong)."""
    import re

    m = re.search(r"^[ \t]*network[ \t]+([A-Za-z_][A-Za-z0-9_]*)", text, re.M)
    return m.group(1) if m else None


def _analyse_all(paths: list[str]) -> tuple[list, list[str]]:
    """Every file that can be read, checked; and one line for each that cannot (the others are still
    checked: one missing file must not hide the results of the rest). The list has one entry per
    path, in order: an Analysis, or the message saying why the file could not be read."""
    analyses, unreadable = [], []
    for path in paths:
        try:
            analyses.append(_analyse(path))
        except UsageError as e:
            unreadable.append(str(e))
            analyses.append(_Unreadable(path, str(e)))
    return analyses, unreadable


class _Unreadable:
    """A file named on the command line that could not be read: an entry of the JSON output."""

    def __init__(self, path: str, message: str) -> None:
        self.path, self.message = path, message

    def to_json(self) -> dict:
        # the keys of a checked file's object that still mean something, and `error`, the reason
        return {"file": self.path, "network": None, "ok": False, "error": self.message, "diagnostics": []}


def _read(analyses) -> list:
    return [a for a in analyses if not isinstance(a, _Unreadable)]


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


def cmd_check(args: argparse.Namespace) -> int:
    analyses, unreadable = _analyse_all(args.files)
    if args.format == "json":
        docs = [a.to_json() for a in analyses]
        _dump_json(docs, several=len(args.files) > 1)
    else:
        from alexnet_dsl.tools.tables import listing_text

        color = _use_color(sys.stderr, args.color)
        for a in _read(analyses):
            if not args.quiet:
                sys.stdout.write(listing_text(a))
                sys.stdout.flush()
            _print_diagnostics(a, color)
            sys.stderr.write(_verdict(a) + "\n")
    return _exit(analyses, unreadable)


def cmd_summary(args: argparse.Namespace) -> int:
    analyses, unreadable = _analyse_all(args.files)
    if args.format == "json":
        docs = [a.to_json() if isinstance(a, _Unreadable) else _summary_json(a) for a in analyses]
        _dump_json(docs, several=len(args.files) > 1)
    else:
        from alexnet_dsl.tools.tables import summary_text

        color = _use_color(sys.stderr, args.color)
        for a in _read(analyses):
            _print_diagnostics(a, color)
            sys.stdout.write(summary_text(a, _fused(a)))
    return _exit(analyses, unreadable)


def _fused(analysis) -> dict[str, str]:
    if analysis.network is None or not analysis.ok:
        return {}
    from alexnet_dsl.backend.fuse import fused_groups

    return fused_groups(analysis.network)


def _summary_json(analysis) -> dict:
    doc = analysis.to_json()
    fused = _fused(analysis)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dslc",
        description="Check, summarise and compile .net network specs.",
    )
    parser.add_argument("--version", action="version", version=f"dslc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def files_command(name: str, help_text: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("files", nargs="+", metavar="FILE", help="spec files (`-` reads standard input)")
        p.add_argument(
            "--format",
            choices=("human", "json"),
            default="human",
            help="`json` prints one object per file to stdout (a list for several files)",
        )
        p.add_argument(
            "--color",
            choices=("auto", "always", "never"),
            default="auto",
            help="colour diagnostics (auto: when stderr is a terminal and NO_COLOR is unset)",
        )
        p.set_defaults(func=func)
        return p

    check = files_command("check", "check specs: every shape, located errors and warnings", cmd_check)
    check.add_argument("-q", "--quiet", action="store_true", help="print only diagnostics and the verdict")
    files_command("summary", "layer table: shapes, params, MACs, admissible input sizes", cmd_summary)

    explain = sub.add_parser("explain", help="explain a diagnostic code, with an example")
    explain.add_argument("code", metavar="CODE")
    explain.set_defaults(func=cmd_explain)

    from alexnet_dsl.cli import compile as cli_compile
    from alexnet_dsl.cli import interop as cli_interop
    from alexnet_dsl.cli import tools as cli_tools

    for module in (cli_compile, cli_tools, cli_interop):
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        sys.stderr.write(f"dslc: error: {e}\n")
        return EXIT_USAGE
    except ModuleNotFoundError as e:
        from alexnet_dsl.extras import MissingExtra, optional_module

        module = optional_module(e)
        if module is None:  # not an optional dependency: ours to fix
            return _internal_error(e)
        # an optional dependency: a setup to complete, not a bug; commands that know what needs it say so
        missing = e if isinstance(e, MissingExtra) else MissingExtra(f"`dslc {args.command}`", [module])
        sys.stderr.write(f"dslc: error: {missing}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("dslc: interrupted\n")
        return 130
    except BrokenPipeError:
        # the reader went away (`dslc summary x | head`): not an error of ours
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK
    except Exception as e:
        return _internal_error(e)


def _internal_error(e: Exception) -> int:
    """An internal failure: one line, and the way to see more."""
    if os.environ.get("DSLC_DEBUG"):
        raise e
    sys.stderr.write(
        f"dslc: internal error: {type(e).__name__}: {e}\n"
        "dslc: set DSLC_DEBUG=1 to see the traceback, and please report it\n"
    )
    return EXIT_USAGE


if __name__ == "__main__":
    # run the `alexnet_dsl.cli.main` module, not this `__main__` copy, whose UsageError the subcommands
    # would not raise
    from alexnet_dsl.cli.main import main as _main

    sys.exit(_main())

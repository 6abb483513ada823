"""What every `dslc` command shares: exit codes, usage errors, `--color`, reading specs, printing
diagnostics and writing results. Imports no command module (each of them imports this one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
COLOR_HELP = "colour diagnostics (auto: when stderr is a terminal and NO_COLOR is unset)"


class UsageError(Exception):
    """A problem with the command line or the files named on it (exit 2)."""


# ---------------------------------------------------------------------------- --color


def add_color_option(parser, help_text: str | None = COLOR_HELP) -> None:
    """The `--color {auto,always,never}` option of a command."""
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=help_text)


def use_color(stream, choice: str) -> bool:
    """Whether to colour what goes to `stream`: `always`, `never`, or (`auto`) when it is a terminal,
    NO_COLOR is unset and TERM is not `dumb`."""
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


# ---------------------------------------------------------------------------- reading and checking


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


def check_path(path: str):
    """The Analysis of the spec at `path` (`-`: standard input)."""
    from alexnet_dsl.analysis.pipeline import check_source

    return check_source(read_source(path))


def parse_sizes(text: str | None) -> dict[str, int]:
    """`--sizes H=227,W=227` as {"H": 227, "W": 227}; ValueError for anything else.

    >>> parse_sizes("H=227, W=227")
    {'H': 227, 'W': 227}
    """
    sizes: dict[str, int] = {}
    if not text:
        return sizes
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if (
            not sep
            or not name.strip().isidentifier()
            or not (value.strip().isascii() and value.strip().isdigit())
        ):
            raise ValueError(
                f"--sizes takes NAME=INT pairs separated by commas, e.g. H=227,W=227; got {part!r}"
            )
        sizes[name.strip()] = int(value)
    return sizes


def compilable(path: str, sizes_text: str | None, color: bool):
    """The checked spec with its sizes bound, ready to compile; None (diagnostics printed) if not."""
    from alexnet_dsl.backend.build import analyse
    from alexnet_dsl.diagnostics import DslError

    try:
        sizes = parse_sizes(sizes_text)
    except ValueError as e:
        raise UsageError(str(e)) from None
    analysis = check_path(path)
    if not analysis.ok:
        print_diagnostics(analysis.diagnostics, analysis.source, color)
        return None
    try:
        ready = analyse(analysis, sizes)
    except DslError as e:
        print_diagnostics(e.diagnostics, e.source, color, highlight=False)
        return None
    except ValueError as e:
        raise UsageError(str(e)) from None
    print_diagnostics(ready.diagnostics, ready.source, color)  # its warnings (and notes), at the sizes bound
    return ready


def fused_groups_of(analysis) -> dict[str, str]:
    """Layer name -> its fused group, for a network that checks ({} for one with errors)."""
    if analysis.network is None or not analysis.ok:
        return {}
    from alexnet_dsl.backend.fuse import fused_groups

    return fused_groups(analysis.network)


# ---------------------------------------------------------------------------- printing and writing


def print_diagnostics(diagnostics, source, color: bool, *, highlight: bool = True) -> None:
    """Each diagnostic on stderr as `dslc check` prints it (with colour: its source lines highlighted,
    unless `highlight` is off)."""
    from alexnet_dsl.diagnostics import render

    paint = _highlighter(color) if highlight else None
    for d in diagnostics:
        sys.stderr.write(render(d, source, color=color, highlight=paint) + "\n")


def inputs_of(path: str) -> tuple[Path, ...]:
    """The input files a result must never be written over: the spec named on the command line."""
    return (Path(path),) if path != "-" else ()


def write_output(output: str | None, data: str | bytes, *, inputs: tuple[Path, ...] = ()) -> bool:
    """A command's result to the file `output` (atomically, never over one of `inputs`), or to
    standard output when `output` is None or `-`. Whether it went to a file."""
    if output in (None, "-"):
        if isinstance(data, str):
            sys.stdout.write(data)
        else:
            sys.stdout.flush()  # text written before goes first
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return False
    from alexnet_dsl.files import atomic_write

    try:
        atomic_write(Path(output), data, inputs=inputs)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot write `{output}`: {e}") from None
    return True

"""`dslc fmt`, `dslc graph`, `dslc report`: everyday tools on a spec."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from alexnet_dsl.files import atomic_write

GRAPH_FORMATS = ("svg", "png", "dot")


def _output(args: argparse.Namespace, data: bytes, what: str) -> None:
    """Write a command's result to `-o` (atomically; never over the input) or to stdout."""
    from alexnet_dsl.cli.main import UsageError

    if args.output in (None, "-"):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    inputs = (Path(args.file),) if args.file != "-" else ()
    try:
        atomic_write(Path(args.output), data, inputs=inputs)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot write `{args.output}`: {e}") from None
    sys.stderr.write(f"{args.output}: {what}\n")


# ---------------------------------------------------------------------------- fmt


def cmd_fmt(args: argparse.Namespace) -> int:
    from alexnet_dsl.cli.main import EXIT_ERRORS, EXIT_OK, UsageError, _highlighter, _use_color, read_source
    from alexnet_dsl.diagnostics import DslError, render
    from alexnet_dsl.tools.fmt import format_text

    if args.in_place and "-" in args.files:
        raise UsageError("-i/--in-place rewrites files; it cannot take `-` (standard input)")
    sources = [read_source(p) for p in args.files]  # every file readable before anything is written
    color = _use_color(sys.stderr, args.color)
    status = EXIT_OK
    for source in sources:
        try:
            out = format_text(source.text, source.path)
        except DslError as e:
            for d in e.diagnostics:
                sys.stderr.write(render(d, e.source, color=color, highlight=_highlighter(color)) + "\n")
            sys.stderr.write(f"{source.path}: not formatted: fix the error above first\n")
            status = EXIT_ERRORS
            continue
        changed = out != source.text
        if args.check:
            if changed:
                sys.stdout.write(f"{source.path}\n")
                status = EXIT_ERRORS
        elif args.diff:
            if changed:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        source.text.splitlines(keepends=True),
                        out.splitlines(keepends=True),
                        f"{source.path} (as written)",
                        f"{source.path} (formatted)",
                    )
                )
                status = EXIT_ERRORS
        elif args.in_place:
            if changed:
                try:
                    atomic_write(Path(source.path), out)
                except OSError as e:
                    raise UsageError(f"cannot write `{source.path}`: {e}") from None
                sys.stderr.write(f"reformatted {source.path}\n")
        else:
            sys.stdout.write(out)
    return status


# ---------------------------------------------------------------------------- graph and report


def _checked(args: argparse.Namespace):
    """The analysis of `args.file`; diagnostics on stderr when it has errors."""
    from alexnet_dsl.cli.main import _analyse, _print_diagnostics, _use_color

    analysis = _analyse(args.file)
    if not analysis.ok:
        _print_diagnostics(analysis, _use_color(sys.stderr, args.color))
    return analysis


def _svg_or_png(source: str, fmt: str) -> bytes:
    from alexnet_dsl.cli.main import UsageError
    from alexnet_dsl.tools.diagram import GraphvizMissing, render

    try:
        return render(source, fmt)
    except GraphvizMissing as e:
        raise UsageError(f"{e}, or write `-o OUT.dot`, which needs no Graphviz") from None


def cmd_graph(args: argparse.Namespace) -> int:
    from alexnet_dsl.cli.main import EXIT_ERRORS, EXIT_OK, UsageError, _fused
    from alexnet_dsl.tools.diagram import dot_source

    fmt = args.format
    if fmt is None and args.output not in (None, "-"):
        fmt = Path(args.output).suffix.lstrip(".").lower()
        fmt = "dot" if fmt == "gv" else fmt
        if fmt not in GRAPH_FORMATS:
            raise UsageError(
                f"cannot tell the format of `{args.output}`: name it .svg, .png or .dot, or give --format"
            )
    fmt = fmt or "dot"
    analysis = _checked(args)
    net = analysis.network
    if net is None:
        return EXIT_ERRORS
    source = dot_source(analysis, _fused(analysis))
    data = source.encode() if fmt == "dot" else _svg_or_png(source, fmt)
    _output(args, data, f"{net.name}, {len(net.layers)} layers")
    return EXIT_OK if analysis.ok else EXIT_ERRORS


def cmd_report(args: argparse.Namespace) -> int:
    from alexnet_dsl.cli.main import EXIT_ERRORS, EXIT_OK, _fused
    from alexnet_dsl.tools.diagram import GraphvizMissing, dot_source, render
    from alexnet_dsl.tools.report import report_html

    analysis = _checked(args)
    svg = missing = None
    if analysis.network is not None:
        try:
            svg = render(dot_source(analysis, _fused(analysis)), "svg").decode()
        except GraphvizMissing as e:  # the rest of the report is still worth having
            missing = f"no diagram: {e}"
            sys.stderr.write(f"dslc: warning: {missing}\n")
    page = report_html(analysis, _fused(analysis), svg, missing=missing)
    name = analysis.network.name if analysis.network else "no network"
    _output(args, page.encode(), f"report on {name}")
    return EXIT_OK if analysis.ok else EXIT_ERRORS


def add_commands(sub) -> None:
    color_help = "colour diagnostics (auto: when stderr is a terminal and NO_COLOR is unset)"

    p = sub.add_parser(
        "fmt",
        help="print specs in their canonical layout (keeps every comment)",
        description="Print specs in their canonical layout: 4-space indentation, aligned "
        "`->`, every comment kept, the network unchanged.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="spec files (`-` reads standard input)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="print the names of files that are not canonical; exit 1 if there are any",
    )
    mode.add_argument(
        "--diff",
        action="store_true",
        help="print what would change as a unified diff; exit 1 if anything would",
    )
    mode.add_argument("-i", "--in-place", action="store_true", help="rewrite the files (atomically)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=color_help)
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser(
        "graph",
        help="draw the architecture with Graphviz (SVG, PNG or DOT)",
        description="Draw the network: one node per layer with its arguments and output "
        "shape, branches and joins, block instances and fused groups as clusters.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT.{svg,png,dot}",
        help="where to write; the format follows the extension (default: DOT on standard output)",
    )
    p.add_argument("--format", choices=GRAPH_FORMATS, help="the output format, whatever the file name")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=color_help)
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report (diagram, table, diagnostics)",
        description="Write one HTML page, loading nothing from the network: the diagram, "
        "the layer table, admissible input sizes, diagnostics and the source.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT.html", help="where to write (default: standard output)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=color_help)
    p.set_defaults(func=cmd_report)

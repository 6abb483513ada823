"""`dslc fmt`, `dslc graph`, `dslc report`: everyday tools on a spec."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from alexnet_dsl.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    UsageError,
    add_color_option,
    check_path,
    fused_groups_of,
    inputs_of,
    print_diagnostics,
    read_source,
    use_color,
    write_output,
)

GRAPH_FORMATS = ("svg", "png", "dot")


def _output(args: argparse.Namespace, data: bytes, what: str) -> None:
    """Write a command's result to `-o` (never over the input) or to stdout; say what went to a file."""
    if write_output(args.output, data, inputs=inputs_of(args.file)):
        sys.stderr.write(f"{args.output}: {what}\n")


# ---------------------------------------------------------------------------- fmt


def cmd_fmt(args: argparse.Namespace) -> int:
    if args.in_place and "-" in args.files:
        raise UsageError("-i/--in-place rewrites files; it cannot take `-` (standard input)")
    sources = [read_source(p) for p in args.files]  # every file readable before anything is written
    color = use_color(sys.stderr, args.color)
    status = EXIT_OK
    for source in sources:
        out = _formatted(source, color)
        if out is None:
            status = EXIT_ERRORS
        elif not (args.check or args.diff or args.in_place):
            sys.stdout.write(out)
        elif out != source.text:
            _act_on_change(args, source, out)
            if not args.in_place:  # with --check and --diff, a file to change is a finding
                status = EXIT_ERRORS
    return status


def _formatted(source, color: bool) -> str | None:
    """The canonical text of `source`; None (its errors printed) when it cannot be formatted."""
    from alexnet_dsl.diagnostics import DslError
    from alexnet_dsl.tools.fmt import format_text

    try:
        return format_text(source.text, source.path)
    except DslError as e:
        print_diagnostics(e.diagnostics, e.source, color)
        sys.stderr.write(f"{source.path}: not formatted: fix the error above first\n")
        return None


def _act_on_change(args: argparse.Namespace, source, out: str) -> None:
    """A file whose layout is not canonical: print its name (`--check`) or the diff (`--diff`), or
    rewrite it (`-i`)."""
    if args.check:
        sys.stdout.write(f"{source.path}\n")
    elif args.diff:
        before, after = source.text.splitlines(keepends=True), out.splitlines(keepends=True)
        names = f"{source.path} (as written)", f"{source.path} (formatted)"
        sys.stdout.writelines(difflib.unified_diff(before, after, *names))
    else:
        write_output(source.path, out)
        sys.stderr.write(f"reformatted {source.path}\n")


# ---------------------------------------------------------------------------- graph and report


def _checked(args: argparse.Namespace):
    """The analysis of `args.file`; diagnostics on stderr when it has errors."""
    analysis = check_path(args.file)
    if not analysis.ok:
        print_diagnostics(analysis.diagnostics, analysis.source, use_color(sys.stderr, args.color))
    return analysis


def _svg_or_png(source: str, fmt: str) -> bytes:
    from alexnet_dsl.tools.diagram import GraphvizMissing, render

    try:
        return render(source, fmt)
    except GraphvizMissing as e:
        raise UsageError(f"{e}, or write `-o OUT.dot`, which needs no Graphviz") from None


def _graph_format(args: argparse.Namespace) -> str:
    """--format, else the output file's extension, else DOT."""
    if args.format is not None or args.output in (None, "-"):
        return args.format or "dot"
    fmt = Path(args.output).suffix.lstrip(".").lower()
    fmt = "dot" if fmt == "gv" else fmt
    if fmt not in GRAPH_FORMATS:
        raise UsageError(
            f"cannot tell the format of `{args.output}`: name it .svg, .png or .dot, or give --format"
        )
    return fmt


def cmd_graph(args: argparse.Namespace) -> int:
    from alexnet_dsl.tools.diagram import dot_source

    fmt = _graph_format(args)
    analysis = _checked(args)
    net = analysis.network
    if net is None:
        return EXIT_ERRORS
    source = dot_source(analysis, fused_groups_of(analysis))
    data = source.encode() if fmt == "dot" else _svg_or_png(source, fmt)
    _output(args, data, f"{net.name}, {len(net.layers)} layers")
    return EXIT_OK if analysis.ok else EXIT_ERRORS


def cmd_report(args: argparse.Namespace) -> int:
    from alexnet_dsl.tools.diagram import GraphvizMissing, dot_source, render
    from alexnet_dsl.tools.report import report_html

    analysis = _checked(args)
    fused = fused_groups_of(analysis)
    svg = missing = None
    if analysis.network is not None:
        try:
            svg = render(dot_source(analysis, fused), "svg").decode()
        except GraphvizMissing as e:  # the rest of the report is still worth having
            missing = f"no diagram: {e}"
            sys.stderr.write(f"dslc: warning: {missing}\n")
    page = report_html(analysis, fused, svg, missing=missing)
    name = analysis.network.name if analysis.network else "no network"
    _output(args, page.encode(), f"report on {name}")
    return EXIT_OK if analysis.ok else EXIT_ERRORS


def add_commands(sub) -> None:
    """Register `fmt`, `graph` and `report` on the `dslc` parser."""
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
    add_color_option(p)
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
    add_color_option(p)
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report (diagram, table, diagnostics)",
        description="Write one HTML page, loading nothing from the network: the diagram, "
        "the layer table, admissible input sizes, diagnostics and the source.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT.html", help="where to write (default: standard output)")
    add_color_option(p)
    p.set_defaults(func=cmd_report)

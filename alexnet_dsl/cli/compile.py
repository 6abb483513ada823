"""`dslc compile`: write a checked spec as a standalone PyTorch module. Imports no torch."""

from __future__ import annotations

import argparse
import sys

from alexnet_dsl.cli.common import (
    EXIT_ERRORS,
    EXIT_OK,
    UsageError,
    add_color_option,
    compilable,
    inputs_of,
    print_diagnostics,
    use_color,
    write_output,
)


def cmd_compile(args: argparse.Namespace) -> int:
    color = use_color(sys.stderr, args.color)
    analysis = compilable(args.file, args.sizes, color)
    if analysis is None:
        return EXIT_ERRORS
    from alexnet_dsl.backend.budget import default_budget, over_budget
    from alexnet_dsl.backend.codegen import generate

    source = generate(analysis, backend=args.backend, init=args.init)
    # the same budget as alexnet_dsl.compile's E0312; writing allocates nothing, so a warning (W0406)
    try:
        budget = default_budget()
    except ValueError as e:  # DSLC_MEMORY_BUDGET: a setting to fix, named in the message
        raise UsageError(str(e)) from None
    too_big = over_budget(analysis, budget, refuse=False)
    if too_big is not None:
        print_diagnostics([too_big], analysis.source, color, highlight=False)
    if write_output(args.output, source, inputs=inputs_of(args.file)):
        sys.stderr.write(f"{args.output}: {analysis.network.name} ({args.backend} backend)\n")  # type: ignore[union-attr]
    return EXIT_OK


def add_commands(sub) -> None:
    """Register `compile` on the `dslc` parser."""
    p = sub.add_parser(
        "compile",
        help="write a spec as a standalone PyTorch module",
        description="Write a checked spec as a readable, deterministic PyTorch module.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT.py", help="where to write (default: standard output)")
    p.add_argument(
        "--backend",
        choices=("torch", "triton", "auto"),
        default="torch",
        help="torch: PyTorch ops only (default); triton: fused Triton kernels; auto: Triton on "
        "CUDA tensors, PyTorch elsewhere (both need alexnet_dsl at run time)",
    )
    p.add_argument(
        "--init",
        choices=("default", "paper"),
        default="default",
        help="paper: AlexNet's initialisation, applied in __init__",
    )
    p.add_argument("--sizes", metavar="H=227,W=227", help="bind symbolic input sizes")
    add_color_option(p, help_text=None)
    p.set_defaults(func=cmd_compile)

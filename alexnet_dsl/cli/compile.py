"""`dslc compile`: write a checked spec as a standalone PyTorch module. Imports no torch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet_dsl.files import atomic_write


def parse_sizes(text: str | None) -> dict[str, int]:
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


def cmd_compile(args: argparse.Namespace) -> int:
    from alexnet_dsl.backend.codegen import generate
    from alexnet_dsl.cli.main import EXIT_ERRORS, EXIT_OK, UsageError, _use_color, compilable

    analysis = compilable(args.file, args.sizes, _use_color(sys.stderr, args.color))
    if analysis is None:
        return EXIT_ERRORS
    from alexnet_dsl.backend.build import default_budget, over_budget
    from alexnet_dsl.diagnostics import render

    backend = args.backend
    source = generate(analysis, backend=backend, init=args.init)
    # the same budget as alexnet_dsl.compile's E0312; writing allocates nothing, so a warning (W0406)
    try:
        budget = default_budget()
    except ValueError as e:  # DSLC_MEMORY_BUDGET: a setting to fix, named in the message
        raise UsageError(str(e)) from None
    too_big = over_budget(analysis, budget, refuse=False)
    if too_big is not None:
        sys.stderr.write(render(too_big, analysis.source, color=_use_color(sys.stderr, args.color)) + "\n")
    if args.output in (None, "-"):
        sys.stdout.write(source)
        return EXIT_OK
    try:
        atomic_write(Path(args.output), source, inputs=(Path(args.file),) if args.file != "-" else ())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot write `{args.output}`: {e}") from None
    sys.stderr.write(f"{args.output}: {analysis.network.name} ({backend} backend)\n")  # type: ignore[union-attr]
    return EXIT_OK


def add_commands(sub) -> None:
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
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.set_defaults(func=cmd_compile)

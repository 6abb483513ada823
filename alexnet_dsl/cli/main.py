"""dslc: the command line. The parser and `main`; each command group lives in its own module
(check, compile, tools, interop). Exit codes: 0 (ok), 1 (errors), 2 (usage or I/O).

`dslc check` and `dslc summary` import neither torch, triton nor numpy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from alexnet_dsl._version import __version__
from alexnet_dsl.cli import check, interop, tools
from alexnet_dsl.cli import compile as compile_command  # not the builtin
from alexnet_dsl.cli.common import EXIT_OK, EXIT_USAGE, UsageError


def build_parser() -> argparse.ArgumentParser:
    """The `dslc` parser, with every command registered by its module."""
    parser = argparse.ArgumentParser(
        prog="dslc",
        description="Check, summarise and compile .net network specs.",
    )
    parser.add_argument("--version", action="version", version=f"dslc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in (check, compile_command, tools, interop):
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `dslc` with `argv` (default: the command line); the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        sys.stderr.write(f"dslc: error: {e}\n")
        return EXIT_USAGE
    except ModuleNotFoundError as e:
        return _missing_module(e, args.command)
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


def _missing_module(e: ModuleNotFoundError, command: str) -> int:
    """An optional dependency missing is a setup to complete, not a bug: one line naming the extra
    (commands that know what they need say so themselves; this is the net for the others)."""
    from alexnet_dsl.extras import MissingExtra, optional_module

    module = optional_module(e)
    if module is None:  # not an optional dependency: ours to fix
        return _internal_error(e)
    missing = e if isinstance(e, MissingExtra) else MissingExtra(f"`dslc {command}`", [module])
    sys.stderr.write(f"dslc: error: {missing}\n")
    return EXIT_USAGE


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
    sys.exit(main())

"""`dslc export --onnx` and `dslc import`: in and out of other formats."""

from __future__ import annotations


def add_commands(sub) -> None:
    """Register this module's subcommands on the `dslc` parser (none yet)."""

"""`dslc fmt`, `dslc graph`, `dslc report`: everyday tools on a spec."""

from __future__ import annotations


def add_commands(sub) -> None:
    """Register this module's subcommands on the `dslc` parser (none yet)."""

"""The dslc subcommands that need torch (`compile`), registered on the parser lazily."""

from __future__ import annotations

import argparse


def add_commands(sub) -> None:  # filled in by the compile work
    return None

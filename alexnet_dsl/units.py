"""Sizes as people read them: one home for how a number of bytes is written, in messages and in tables."""

from __future__ import annotations


def format_bytes(n: float | None) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1, `7.4 MiB`, `512 B`; `?` if unknown.

    >>> format_bytes(7_759_872), format_bytes(512), format_bytes(2**20 - 1), format_bytes(None)
    ('7.4 MiB', '512 B', '1.0 MiB', '?')
    """
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        shown = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
        if float(shown) < 1024:  # as rounded: 1023.97 KiB is `1.0 MiB`, not `1024.0 KiB`
            return f"{shown} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"

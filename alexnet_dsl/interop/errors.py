"""What the ONNX export raises, and the one line of an exception it quotes."""

from __future__ import annotations


class ExportError(Exception):
    """A spec that checks but cannot be exported as asked (weights that do not fit, a size that
    torch.export cannot keep symbolic). The message is one line."""


def first_line(e: BaseException) -> str:
    """The line of `e`'s message worth quoting in a one-line error, at most 300 characters."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    # torch.export puts its advice first and the cause under "Exception summary"
    for i, ln in enumerate(lines):
        if ln.startswith("## Exception summary") and i + 1 < len(lines):
            return lines[i + 1][:300]
    return (lines[0] if lines else type(e).__name__)[:300]

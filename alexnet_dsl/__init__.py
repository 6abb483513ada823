"""dslc: a language and compiler for convolutional network architectures.

Importing this package is cheap: torch is imported only when a network is compiled.
"""

from __future__ import annotations

__version__ = "0.1.0"

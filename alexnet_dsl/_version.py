"""The package version (one place; the root and generated files read it)."""

__version__ = "0.1.0"

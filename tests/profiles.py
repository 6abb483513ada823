"""How many examples a property test runs, by hypothesis profile."""

import os


def scaled(n: int) -> int:
    """A test's number of examples: as written for CI, twenty times as many at night."""
    return n * 20 if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else n

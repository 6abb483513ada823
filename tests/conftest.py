"""Test-wide setup: import path for the test helpers, and the hypothesis profiles.

HYPOTHESIS_PROFILE=ci (the default: derandomized, bounded) or nightly (many more examples):

    HYPOTHESIS_PROFILE=nightly scripts/test.sh tests/test_fuzz.py
"""

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "nightly",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

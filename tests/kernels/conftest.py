"""Kernel tests run the Triton kernels in the interpreter on CPU tensors.

`fused_conv2d` decides per call whether to interpret (CPU tensors + TRITON_INTERPRET=1) and builds the interpreted
kernel from the plain Python function, so the variable only has to be set while these tests run, not before
`import triton`: it is set per test module here and restored afterwards, and the rest of the suite never sees it.
The kernel uses only Triton builtins, which is what makes the switch work after triton was imported without it
(`tl.zeros`, `tl.sum` and friends are jit functions whose mode is fixed at import time).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from alexnet_dsl.kernels import tuning

settings.register_profile(
    "kernels",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True, scope="module")
def triton_interpreter() -> Iterator[None]:
    """TRITON_INTERPRET=1 and NaN-poisoned outputs (an element the kernel does not write fails the comparison)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRITON_INTERPRET", "1")
        mp.setenv("ALEXNET_DSL_POISON_OUTPUT", "1")
        tuning.clear_cache()
        yield
        tuning.clear_cache()

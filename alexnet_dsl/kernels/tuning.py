"""Tile configurations for the fused conv kernel: candidates per problem, checked before chosen, cached per problem.

Triton has miscompiled conv loops at some warp counts (Inductor caps its non-unrolled conv template at 4 warps for
that reason), so a configuration is only eligible after its output on the real problem (its first images) matched
the eager reference. Among the eligible ones the fastest, timed on the full problem, is kept for the process.

This module does not import triton; `choose_config` gets the running, checking and timing as callables.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import torch

from alexnet_dsl.kernels.reference import Activation, ConvGeometry, LRNParams


@dataclasses.dataclass(frozen=True)
class Problem:
    """Everything a configuration choice depends on (the cache key)."""

    geometry: ConvGeometry
    dtype: torch.dtype
    tf32: bool
    has_bias: bool
    activation: Activation  # a compile-time choice of the kernel: one compiled variant per kind
    lrn: LRNParams | None
    target: str  # "interpreter" or e.g. "cuda:sm90"

    @property
    def interpreted(self) -> bool:
        return self.target == "interpreter"

    def with_batch(self, batch: int) -> Problem:
        """The same problem on fewer images (same compiled kernel: the batch is a run-time argument)."""
        return dataclasses.replace(self, geometry=dataclasses.replace(self.geometry, batch=batch))


@dataclasses.dataclass(frozen=True)
class Config:
    """One tile shape and launch setting. BLOCK_N is the channel tile of one group."""

    block_m: int
    block_n: int
    block_k: int
    num_warps: int
    num_stages: int


def next_power_of_2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


def channel_block(problem: Problem) -> int:
    """BLOCK_N: with LRN a program holds a whole group (padded to a power of two), else at most 128 channels."""
    block_n = max(16, next_power_of_2(problem.geometry.group_out_c))
    return block_n if problem.lrn is not None else min(block_n, 128)


# (BLOCK_M, BLOCK_K, num_warps, num_stages), most promising first; filtered by register and shared-memory budgets.
# 8 warps first: with LRN a program holds all channels, and ptxas reports spills at 4 warps for BLOCK_M=64
# (docs/kernels.md has the numbers). Inductor caps its looped conv at 4 warps because of miscompiles; here the
# correctness gate catches those instead.
_GPU_CANDIDATES = (
    (64, 32, 8, 3),
    (128, 32, 8, 3),
    (64, 64, 8, 3),
    (64, 32, 4, 3),
    (128, 64, 8, 2),
    (32, 32, 4, 4),
    (128, 16, 8, 4),
    (64, 16, 4, 4),
    (256, 32, 8, 3),
)

_MAX_ACC_REGS_PER_THREAD = 128  # fp32 accumulator values per thread (of 255 registers)
_MAX_SHARED_BYTES = 180 * 1024  # H100 has 227 KB per block; keep room for the epilogue's layout conversions
MAX_CANDIDATES = 6  # each costs a compile (seconds) and a check when a problem is first seen


def configs_for(problem: Problem) -> list[Config]:
    """Candidate configurations for one problem: a single large-tile one in the interpreter, several on a GPU."""
    geometry = problem.geometry
    block_n = channel_block(problem)
    if problem.interpreted:
        # The interpreter costs ~30-40 ms per program instance, and numpy handles big tiles well: few, large tiles.
        block_m = min(512, max(16, next_power_of_2(geometry.gemm_m)))
        block_k = min(256, max(16, next_power_of_2(geometry.gemm_k)))
        return [Config(block_m, block_n, block_k, num_warps=4, num_stages=1)]

    element_bytes = problem.dtype.itemsize
    channels_held = block_n * (geometry.groups if problem.lrn is not None else 1)
    configs = []
    for block_m, block_k, num_warps, num_stages in _GPU_CANDIDATES:
        if element_bytes == 2 and block_k < 32:
            continue  # 16-bit MMAs consume k in steps of 16; a 16-wide k tile starves the pipeline
        acc_regs = block_m * channels_held // (32 * num_warps)
        shared = num_stages * (block_m * block_k + block_k * block_n) * element_bytes
        if acc_regs <= _MAX_ACC_REGS_PER_THREAD and shared <= _MAX_SHARED_BYTES:
            configs.append(Config(block_m, block_n, block_k, num_warps, num_stages))
    configs = configs[:MAX_CANDIDATES]
    if not configs:  # very wide LRN layers: fall back to the smallest tile, correctness first
        configs.append(Config(16, block_n, 32, 4, 2))
    return configs


_CHOSEN: dict[Problem, Config] = {}


def cached_choice(problem: Problem) -> Config | None:
    return _CHOSEN.get(problem)


def clear_cache() -> None:
    _CHOSEN.clear()


def chosen_configs() -> dict[Problem, Config]:
    """The configurations chosen so far in this process (for reports)."""
    return dict(_CHOSEN)


def choose_config(
    problem: Problem,
    candidates: list[Config],
    check: Callable[[Config], str | None],
    bench: Callable[[Config], float],
) -> Config:
    """Pick the fastest candidate among those whose `check` returns None (no error), and cache it per problem.

    `check` runs a configuration on (part of) the real problem and returns an error description, or None when the
    output matches the reference; a configuration that fails to compile or launch counts as failed. `bench` returns
    a time for the full problem; it is not called when a single candidate passes.
    """
    if problem in _CHOSEN:
        return _CHOSEN[problem]
    passed: list[Config] = []
    failures: list[str] = []
    for config in candidates:
        try:
            error = check(config)
        except Exception as e:  # compile errors (e.g. out of shared memory) disqualify the configuration
            error = f"{type(e).__name__}: {e}"
        if error is None:
            passed.append(config)
        else:
            failures.append(f"{config}: {error}")
    if failures:
        warnings.warn(
            f"fused_conv2d: {len(failures)} configuration(s) rejected for {problem.geometry}:\n  "
            + "\n  ".join(failures),
            RuntimeWarning,
            stacklevel=3,
        )
    if not passed:
        raise RuntimeError(f"fused_conv2d: no configuration passed the correctness check for {problem}")
    chosen = passed[0] if len(passed) == 1 else min(passed, key=bench)
    _CHOSEN[problem] = chosen
    return chosen

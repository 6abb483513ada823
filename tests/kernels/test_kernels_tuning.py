"""Configuration choice: candidates per problem, the correctness gate before a configuration may be chosen, the cache,
and the NaN poisoning that makes unwritten outputs visible."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from alexnet_dsl.kernels import LRNParams, conv_lrn, tuning
from alexnet_dsl.kernels.aot import ALEXNET_CONV1, ALEXNET_CONV2, ALEXNET_LRN
from alexnet_dsl.kernels.bounds import bound_violations
from alexnet_dsl.kernels.fused import gate_reference, make_problem
from alexnet_dsl.kernels.reference import Activation, check_conv_args
from alexnet_dsl.kernels.tuning import Config, Problem, choose_config, configs_for

RELU = Activation("relu")


def gpu_problem(geometry: tuning.ConvGeometry, dtype: torch.dtype, lrn: bool) -> Problem:
    return Problem(geometry, dtype, False, True, RELU, ALEXNET_LRN if lrn else None, "cuda:sm90")


@pytest.mark.parametrize("geometry", [ALEXNET_CONV1, ALEXNET_CONV2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("lrn", [True, False])
def test_gpu_candidates_fit_the_budgets(geometry: tuning.ConvGeometry, dtype: torch.dtype, lrn: bool) -> None:
    problem = gpu_problem(geometry, dtype, lrn)
    configs = configs_for(problem)
    assert 1 <= len(configs) <= tuning.MAX_CANDIDATES
    for config in configs:
        held = config.block_n * (geometry.groups if lrn else 1)
        assert config.block_m * held // (32 * config.num_warps) <= tuning._MAX_ACC_REGS_PER_THREAD
        if lrn:  # a program must own every channel of a group: the LRN window needs its neighbours
            assert config.block_n >= geometry.group_out_c
        assert config.block_n & (config.block_n - 1) == 0


def test_interpreter_gets_one_config_with_the_largest_tiles() -> None:
    x, w = torch.randn(2, 6, 9, 9), torch.randn(10, 3, 3, 3)
    geometry = check_conv_args(x, w, None, 1, 1, 1, 2, None)
    (config,) = configs_for(make_problem(geometry, x, False, RELU, None, False))
    assert (
        config.block_m >= geometry.gemm_m and config.block_k >= geometry.gemm_k
    )  # a single program, one k step
    assert conv_lrn.grid(make_problem(geometry, x, False, RELU, None, False), config) == (1, 2)


def test_choose_config_rejects_failures_times_the_rest_and_caches() -> None:
    problem = gpu_problem(ALEXNET_CONV2, torch.float32, True)
    good_slow, broken, good_fast, crashing = (Config(m, 128, 32, 4, 3) for m in (16, 32, 64, 128))
    checked: list[Config] = []

    def check(config: Config) -> str | None:
        checked.append(config)
        if config == crashing:
            raise RuntimeError("out of resources: shared memory")
        return "max error 1.0" if config == broken else None

    timings = {good_slow: 2.0, good_fast: 1.0}
    with pytest.warns(RuntimeWarning, match="2 configuration"):
        chosen = choose_config(problem, [good_slow, broken, good_fast, crashing], check, timings.__getitem__)
    assert chosen == good_fast
    assert len(checked) == 4
    # Cached per problem: no second check.
    assert choose_config(problem, [broken], check, timings.__getitem__) == good_fast
    assert len(checked) == 4


def test_choose_config_refuses_when_nothing_passes() -> None:
    problem = gpu_problem(ALEXNET_CONV1, torch.bfloat16, True)
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="no configuration passed"):
        choose_config(problem, [Config(64, 128, 32, 8, 3)], lambda config: "wrong", lambda config: 0.0)
    assert tuning.cached_choice(problem) is None


def test_bound_violations_catch_nan_and_mismatch() -> None:
    exact = torch.tensor([1.0, -2.0, 4.0], dtype=torch.float64)
    bound = torch.tensor([1e-6, 1e-6, 1e-2], dtype=torch.float64)
    assert bound_violations(exact.float(), exact, bound) is None
    assert "non-finite" in bound_violations(torch.tensor([1.0, float("nan"), 4.0]), exact, bound)
    # per element: 0.005 passes where the bound is 1e-2, 1e-5 fails where it is 1e-6
    assert bound_violations(torch.tensor([1.0, -2.0, 4.005]), exact, bound) is None
    message = bound_violations(torch.tensor([1.0, -2.00001, 4.0]), exact, bound)
    assert "1 of 3 elements outside the rounding-error bound" in message and "(1,)" in message


def lrn_data(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, LRNParams]:
    """Two groups of 6 output channels, data of a size that makes LRN(3, alpha 1) change the output a lot."""
    gen = torch.Generator().manual_seed(3)
    x, w, b = torch.randn(3, 4, 6, 6, generator=gen), torch.randn(12, 2, 3, 3, generator=gen), torch.randn(12)
    return x.to(dtype), w.to(dtype), b.to(dtype), LRNParams(3, 1.0, 0.75, 1.0)


@pytest.mark.parametrize(
    ("dtype", "tf32"), [(torch.float32, False), (torch.float32, True), (torch.bfloat16, False)]
)
def test_gate_rejects_a_configuration_that_computes_a_wrong_lrn_window(
    dtype: torch.dtype, tf32: bool
) -> None:
    """The gate's yardstick (float64 value, rounding-error bound of the precision mode, per element) passes the real
    kernel's output and fails one computed with an LRN window one channel wider, in every precision mode."""
    x, w, b, lrn = lrn_data(dtype)
    geometry = check_conv_args(x, w, b, 1, 1, 1, 2, lrn)
    problem = make_problem(geometry, x, True, RELU, lrn, tf32)
    small = problem.with_batch(2)  # the gate checks the first two images, as select_config does
    exact, bound = gate_reference(small, x[:2], w, b)
    good, wrong_window = Config(64, 8, 32, 4, 1), Config(64, 8, 32, 4, 2)
    # the "miscompiled" configuration: the same kernel, computing LRN over size + 1 channels
    computes = {good: small, wrong_window: dataclasses.replace(small, lrn=dataclasses.replace(lrn, size=4))}
    failures: dict[Config, str | None] = {}

    def check(config: Config) -> str | None:  # the tuner's own gate
        failures[config] = bound_violations(
            conv_lrn.launch(x[:2], w, b, computes[config], config), exact, bound
        )
        return failures[config]

    gpu = dataclasses.replace(problem, target="cuda:test")  # a key of its own in the cache
    with pytest.warns(RuntimeWarning, match="1 configuration"):
        assert choose_config(gpu, [wrong_window, good], check, lambda config: 0.0) == good
    assert failures[good] is None
    assert "outside the rounding-error bound" in failures[wrong_window]


def test_gate_with_the_real_kernel_rejects_a_configuration_that_cannot_work() -> None:
    """In the interpreter: a channel tile narrower than the group fails to build with LRN and must be rejected."""
    x, w, b = torch.randn(1, 4, 6, 6), torch.randn(40, 2, 3, 3), torch.randn(40)
    lrn = LRNParams(3, 1.0, 0.75, 1.0)
    geometry = check_conv_args(x, w, b, 1, 1, 1, 2, lrn)
    problem = make_problem(geometry, x, True, RELU, lrn, False)
    exact, bound = gate_reference(problem, x, w, b)

    def check(config: Config) -> str | None:  # the tuner's own gate, with its own bound
        return bound_violations(conv_lrn.launch(x, w, b, problem, config), exact, bound)

    too_narrow = Config(64, 16, 32, 4, 1)
    (good,) = configs_for(problem)
    with pytest.warns(RuntimeWarning, match="1 configuration"):
        assert choose_config(problem, [too_narrow, good], check, lambda config: 0.0) == good


def test_poisoned_output_shows_unwritten_elements(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a grid one row-tile short, the rows nobody wrote stay NaN and the comparison fails."""
    x, w = torch.randn(2, 3, 8, 8), torch.randn(5, 3, 3, 3)
    geometry = check_conv_args(x, w, None, 1, 0, 1, 1, None)
    problem = make_problem(geometry, x, False, RELU, None, False)
    config = Config(32, 16, 32, 4, 1)  # 72 rows -> 3 row tiles
    monkeypatch.setattr(conv_lrn, "grid", lambda problem, config: (2, 1))
    out = conv_lrn.launch(x, w, None, problem, config)
    assert "non-finite" in bound_violations(out, *gate_reference(problem, x, w, None))
    assert torch.isnan(out).sum() == (72 - 64) * 5

"""Configuration choice: candidates per problem, the correctness gate before a configuration may be chosen, the cache,
and the NaN poisoning that makes unwritten outputs visible."""

from __future__ import annotations

import pytest
import torch

from alexnet_dsl.kernels import LRNParams, conv_lrn, fused_conv2d_reference, tuning
from alexnet_dsl.kernels.aot import ALEXNET_CONV1, ALEXNET_CONV2, ALEXNET_LRN
from alexnet_dsl.kernels.fused import _CHECK_TOLERANCE, _check_error, make_problem
from alexnet_dsl.kernels.reference import check_conv_args
from alexnet_dsl.kernels.tuning import Config, Problem, choose_config, configs_for


def gpu_problem(geometry: tuning.ConvGeometry, dtype: torch.dtype, lrn: bool) -> Problem:
    return Problem(geometry, dtype, False, True, True, ALEXNET_LRN if lrn else None, "cuda:sm90")


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
    (config,) = configs_for(make_problem(geometry, x, False, True, None, False))
    assert (
        config.block_m >= geometry.gemm_m and config.block_k >= geometry.gemm_k
    )  # a single program, one k step
    assert conv_lrn.grid(make_problem(geometry, x, False, True, None, False), config) == (1, 2)


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


def test_check_error_catches_nan_and_mismatch() -> None:
    ref = torch.tensor([1.0, -2.0, 4.0])
    assert _check_error(ref.clone(), ref, 1e-5) is None
    assert "non-finite" in _check_error(torch.tensor([1.0, float("nan"), 4.0]), ref, 1e-5)
    assert "max error" in _check_error(ref + torch.tensor([0.0, 0.0, 0.01]), ref, 1e-5)


def test_gate_with_the_real_kernel_rejects_a_configuration_that_cannot_work() -> None:
    """In the interpreter: a channel tile narrower than the group fails to build with LRN and must be rejected."""
    x, w, b = torch.randn(1, 4, 6, 6), torch.randn(40, 2, 3, 3), torch.randn(40)
    lrn = LRNParams(3, 1.0, 0.75, 1.0)
    geometry = check_conv_args(x, w, b, 1, 1, 1, 2, lrn)
    problem = make_problem(geometry, x, True, True, lrn, False)
    ref = fused_conv2d_reference(x, w, b, padding=1, groups=2, lrn=lrn)

    def check(config: Config) -> str | None:  # the tuner's own gate, at its own fp32 tolerance
        return _check_error(conv_lrn.launch(x, w, b, problem, config), ref, _CHECK_TOLERANCE["ieee"])

    too_narrow = Config(64, 16, 32, 4, 1)
    (good,) = configs_for(problem)
    with pytest.warns(RuntimeWarning, match="1 configuration"):
        assert choose_config(problem, [too_narrow, good], check, lambda config: 0.0) == good


def test_poisoned_output_shows_unwritten_elements(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a grid one row-tile short, the rows nobody wrote stay NaN and the comparison fails."""
    x, w = torch.randn(2, 3, 8, 8), torch.randn(5, 3, 3, 3)
    geometry = check_conv_args(x, w, None, 1, 0, 1, 1, None)
    problem = make_problem(geometry, x, False, True, None, False)
    config = Config(32, 16, 32, 4, 1)  # 72 rows -> 3 row tiles
    monkeypatch.setattr(conv_lrn, "grid", lambda problem, config: (2, 1))
    out = conv_lrn.launch(x, w, None, problem, config)
    ref = fused_conv2d_reference(x, w, None)
    assert "non-finite" in _check_error(out, ref, 1e-5)
    assert torch.isnan(out).sum() == (72 - 64) * 5

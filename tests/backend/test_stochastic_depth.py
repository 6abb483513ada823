"""`stochastic_depth` trains as torchvision's does (the reference in tests/zoo/ops.py) and is the identity in eval."""

from __future__ import annotations

import pytest
import torch
from zoo.ops import StochasticDepth

import alexnet_dsl


def _compiled(p: float, mode: str) -> torch.nn.Module:
    return alexnet_dsl.compile(
        f"network SD(x: [N, 4, 3, 3]) {{\n    stochastic_depth({p}, mode={mode})\n}}\n", backend="torch"
    )


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.7, 1.0])
def test_training_draws_what_torchvision_draws(p, mode):
    x = torch.randn(16, 4, 3, 3)
    ours, theirs = _compiled(p, mode).train(), StochasticDepth(p, mode).train()
    for seed in range(5):
        torch.manual_seed(seed)
        got = ours(x)
        torch.manual_seed(seed)
        want = theirs(x)
        assert torch.equal(got, want)
    # each sample (row) or the whole batch is zeroed or scaled by 1 / (1 - p)
    kept = (got != 0).flatten(1).any(1)
    if p < 1:
        # x * (1 / (1 - p)) against x / (1 - p) in float32: two roundings against one, apart by at most 3 u
        # (u = 2**-24) relative, to first order; 4 u covers the second-order terms
        assert torch.allclose(got[kept], x[kept] / (1 - p), rtol=4 * 2.0**-24, atol=0.0)
    assert not got[~kept].any()
    if mode == "batch":
        assert kept.all() or not kept.any()


def test_eval_is_the_identity():
    x = torch.randn(8, 4, 3, 3)
    assert torch.equal(_compiled(0.9, "row").eval()(x), x)

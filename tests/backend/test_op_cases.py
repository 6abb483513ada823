"""One case per op, as data: `tests/data/ops/<op>.net` is a small spec using the op, and its `# torch:` line
is the PyTorch expression the compiled module must equal, written by hand with `torch.nn.functional` on the
module's own parameters (`m`) and input (`x`).

Each case compiles (torch backend, eval mode), its output has the shape the checker computed, and its values
are as accurate as PyTorch's own float32 evaluation of the expression, against the same expression in
float64 (tests/tolerance.py). Adding an op adds a file here (docs/architecture.md).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tolerance import assert_as_accurate_as_torch

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import check_file

CASES = sorted((Path(__file__).parents[1] / "data" / "ops").glob("*.net"))
TORCH_LINE = re.compile(r"^# torch: (.+)$", re.MULTILINE)


def _expression(path: Path) -> str:
    (expression,) = TORCH_LINE.findall(path.read_text())
    return expression.strip()


def _evaluate(expression: str, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return eval(expression, {"torch": torch, "F": F, "m": model, "x": x})  # noqa: S307 (the test's own data)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_op_equals_its_pytorch_expression(path):
    analysis = check_file(path)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    model = alexnet_dsl.compile(path, backend="torch").eval()
    net = analysis.network
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*net.input_dims, generator=generator)
    for p in model.parameters():  # batchnorm's affine parameters start at 1 and 0: make them tell
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=generator))
    for name, b in model.named_buffers():
        if name.endswith("running_var"):
            b.copy_(torch.rand(b.shape, generator=generator) + 0.5)
        elif name.endswith("running_mean"):
            b.copy_(torch.randn(b.shape, generator=generator))

    with torch.no_grad():
        got = model(x)
        expression = _expression(path)
        ref32 = _evaluate(expression, model, x)
        ref64 = _evaluate(expression, copy.deepcopy(model).double(), x.double())
    assert tuple(got.shape) == tuple(analysis.output), (tuple(got.shape), analysis.output)
    assert_as_accurate_as_torch(got, ref32, ref64, what=path.stem)


def test_every_op_of_the_vocabulary_has_a_case():
    from alexnet_dsl.frontend.vocabulary import OPS

    missing = sorted(set(OPS) - {p.stem for p in CASES})
    assert not missing, f"ops without a case `tests/data/ops/<op>.net`: {missing}"

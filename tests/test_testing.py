"""alexnet_dsl.testing: the strategies and assert_shapes that users write shape tests with."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import Phase, find, given, settings
from profiles import scaled

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import bind, check_file, check_text
from alexnet_dsl.testing import admissible_inputs, assert_shapes, networks

ROOT = Path(__file__).parent.parent
HW = ROOT / "specs" / "alexnet_hw.net"
COUPLED = """network Coupled(x: [N, 3, H, W]) {
    conv1: conv(96, kernel=11, stride=4)
    pool5: maxpool(kernel=3, stride=2)
    pool6: maxpool(kernel=3, stride=2)
    flatten -> [N, 2400]
}
"""


@settings(max_examples=scaled(40), deadline=None)
@given(admissible_inputs(HW, batch=3))
def test_admissible_inputs_are_admissible(shape):
    assert shape[0] == 3 and shape[1] == 3 and 227 <= shape[2] <= 258 and 227 <= shape[3] <= 258


def test_admissible_inputs_draw_the_ends():
    seen = set()

    @settings(max_examples=60, deadline=None, database=None)
    @given(admissible_inputs(HW))
    def collect(shape):
        seen.add(shape[2])

    collect()
    assert {227, 258} <= seen


@settings(max_examples=scaled(25), deadline=None)
@given(admissible_inputs(COUPLED))
def test_coupled_draws_all_check(shape):
    a = check_text(COUPLED)
    assert bind(a, {"H": shape[2], "W": shape[3]}).ok


TIED = """network Tied(x: [N, 3, H, W]) {
    c: conv(8, kernel=3, stride=2) -> [N, 8, _, H]
    p: maxpool(kernel=2)           -> [N, 8, _, 5]
}
"""


@settings(max_examples=scaled(25), deadline=None)
@given(admissible_inputs(TIED))
def test_draws_tied_by_an_assertion_all_check(shape):
    """An assertion naming H on a width ties W to H: every draw checks with both sizes written in."""
    written = TIED.replace("H, W]", f"{shape[2]}, {shape[3]}]").replace("_, H]", f"_, {shape[2]}]")
    assert check_text(written).ok, shape
    assert bind(check_text(TIED), {"H": shape[2], "W": shape[3]}).ok


def test_bind_writes_the_sizes_into_assertions_too():
    a = check_text(TIED)
    assert bind(a, {"H": 10, "W": 21}).ok
    assert [d.code for d in bind(a, {"H": 10, "W": 24}).errors] == ["E0301"]  # (24 - 1) // 2 is 11, not 10


@settings(max_examples=scaled(15), deadline=None)
@given(admissible_inputs(HW, batch=2))
def test_runtime_shapes_equal_static_over_admissible_inputs(shape):
    assert_shapes(HW, shape)


@settings(max_examples=scaled(25), deadline=None)
@given(networks())
def test_runtime_shapes_of_random_networks(net):
    assert_shapes(net.text, net.input_shape)


def _lines(net) -> dict[str, tuple[int, str]]:
    """Layer name -> (line number, line) of a generated spec."""
    body = net.text.splitlines()[1:-1]
    return {line.split(":")[0].strip(): (k, line) for k, line in enumerate(body)}


def _reads_a_later_line(net) -> bool:
    lines = _lines(net)
    return any(
        lines[m.group(1)][0] > k
        for k, line in lines.values()
        if (m := re.search(r" from (\w+)", line)) and m.group(1) in lines
    )


def _joins_a_later_line(net) -> bool:
    lines = _lines(net)
    return any(
        lines[name.strip()][0] > k
        for k, line in lines.values()
        if (m := re.search(r"(add|concat)\((.*)\)", line))
        for name in m.group(2).split(",")
        if name.strip() in lines
    )


def _output_is_read(net) -> bool:
    return any(net.output in la.inputs for la in check_text(net.text).network.layers)


def _has_unused_side_branch(net) -> bool:
    return any(d.code == "W0404" for d in check_text(net.text).diagnostics)


@pytest.mark.parametrize(
    "covers", [_reads_a_later_line, _joins_a_later_line, _output_is_read, _has_unused_side_branch]
)
def test_random_networks_come_in_any_line_order_with_side_branches(covers):
    """The generator covers the classes the round-trip properties need (issue 9): `from` and joins naming
    later lines, layers after the output in dependency order, side branches nothing reads. Each
    network's output is its last line, which the checker agrees with."""
    net = find(
        networks(), covers, settings=settings(max_examples=2000, database=None, phases=[Phase.generate])
    )
    assert net.text.splitlines()[-2].strip().startswith(f"{net.output}:")
    assert check_text(net.text).network.output_layer == net.output


def test_assert_shapes_on_real_tensors_and_modules():
    model = alexnet_dsl.compile(ROOT / "specs" / "lenet5.net", backend="torch")
    assert_shapes(model, (2, 1, 32, 32), device="cpu")


def test_assert_shapes_reports_a_readable_diff():
    model = alexnet_dsl.compile(ROOT / "specs" / "lenet5.net", backend="torch")
    model.c3 = torch.nn.Conv2d(6, 16, 5, padding=1)  # a different module than the spec's: 12x12, not 10x10
    with pytest.raises(AssertionError) as info:
        assert_shapes(model, (2, 1, 32, 32), device="cpu")
    text = str(info.value)
    assert "c3" in text and "[2, 16, 10, 10]" in text and "[2, 16, 12, 12]" in text and "<-- differs" in text


NAMED = """network NAME(x: [N, 3, 12, 12]) {
    LAYER: conv(8, kernel=3)
    relu
    lrn(size=3)
    maxpool(kernel=2)
    flatten
    fc: linear(5)
}
"""


@pytest.mark.parametrize(
    ("name", "layer", "backend"),
    [
        ("F", "c", "torch"),  # the file calls its own `F` as `_F`
        ("torch", "c", "torch"),  # ... and its own `torch` as `_torch`
        ("T", "F", "torch"),  # a layer named like an import: `self.F`
        ("T", "dslc_layer_lines", "torch"),  # a layer hides the public source map
        ("F", "c", "auto"),  # without Triton, `auto` compiles the torch backend's statements (with it, fused)
    ],
)
def test_assert_shapes_runs_the_statements_as_emitted(name: str, layer: str, backend: str):
    """assert_shapes runs `forward`'s lines as the file has them (its source map), whatever codegen renamed
    and whatever the backend fused; a wrong expectation still fails."""
    spec = check_text(NAMED.replace("NAME", name).replace("LAYER", layer))
    assert_shapes(spec, (2, 3, 12, 12), backend=backend)
    model = alexnet_dsl.compile(spec, backend=backend, memory_budget=None)
    assert_shapes(model, (2, 3, 12, 12), device="cpu")
    setattr(model, layer, torch.nn.Conv2d(3, 8, 3, padding=1))  # 12x12 out where the spec says 10x10
    with pytest.raises(AssertionError, match=r"\[2, 8, 10, 10\] +\[2, 8, 12, 12\]   <-- differs") as info:
        assert_shapes(model, (2, 3, 12, 12), device="cpu")
    assert f"\n  {layer} " in str(info.value)


def test_assert_shapes_rejects_inputs_the_network_does_not_accept():
    with pytest.raises(ValueError, match="expects `image`"):
        assert_shapes(HW, (1, 3, 200, 200))


def test_generated_source_is_identical_across_processes():
    code = (
        "import alexnet_dsl.analysis.pipeline as c, alexnet_dsl.backend.codegen as g, hashlib; "
        "print(hashlib.sha256(g.generate(c.check_file('specs/resnet18.net'), backend='auto').encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(digests) == 1 and len(next(iter(digests)).strip()) == 64


def test_example_file_passes():
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_shapes_example.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:]
    assert "1 passed" in r.stdout
    assert check_file(HW).admissible["H"].to_json() == [[227, 258]]

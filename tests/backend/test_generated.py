"""The generated module as text: the golden files, the source map, and the runtime copied in verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import check_file, check_text
from alexnet_dsl.backend.build import attached, instantiate
from alexnet_dsl.backend.codegen import generate, generate_module
from alexnet_dsl.backend.fuse import layer_shapes
from alexnet_dsl.backend.names import TOP_NAMES, attr_path, class_name, rename_own_names
from alexnet_dsl.backend.op_code import OP_CODE
from alexnet_dsl.backend.plan import network_for
from alexnet_dsl.backend.prelude import HELPERS, located
from alexnet_dsl.backend.source_map import StatementFailed, read_forward, run_forward

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "tests" / "data" / "generated"
RUNTIME = ROOT / "alexnet_dsl" / "backend" / "runtime"

# ---------------------------------------------------------------------------- golden generated modules


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.py")), ids=lambda p: p.stem)
def test_generated_modules_are_the_golden_files(golden: Path):
    """`tests/data/generated/<spec>.<backend>.py` is what `dslc compile specs/<spec>.net` writes, byte for byte."""
    spec, backend = golden.stem.rsplit(".", 1)
    source = generate(check_file(ROOT / "specs" / f"{spec}.net"), backend=backend)
    assert source == golden.read_text(encoding="utf-8"), (
        f"the generated code changed: run `.venv/bin/python scripts/regen_generated.py` and review "
        f"`git diff {golden.relative_to(ROOT)}`"
    )


def test_the_goldens_cover_both_backends_blocks_joins_and_symbolic_sizes():
    assert {p.name for p in GOLDEN.glob("*.py")} >= {
        "alexnet.torch.py",
        "alexnet.triton.py",
        "resnet18.torch.py",  # blocks, `add` joins, `from` branches
        "alexnet_hw.torch.py",  # symbolic H and W: the admissible sizes checked at run time
    }


# ---------------------------------------------------------------------------- the source map

# A network named like an import (the file's own `F` becomes `_F`) with layers named `torch` and `F`,
# branches, a join, a side branch nothing reads, and a group the Triton backends fuse.
RENAMED = """network F(x: [N, 3, 8, 8]) {
    torch: conv(4, kernel=3, padding=1)
    relu
    F: conv(4, kernel=1) from torch
    side: maxpool(kernel=2) from torch
    add(F, relu1)
    c: conv(6, kernel=3)
    relu
    lrn(size=3)
    flatten
    nn: linear(5)
}
"""
MAPPED = [
    ("alexnet", "torch"),
    ("alexnet", "auto"),  # fused conv -> relu -> lrn groups (PyTorch ops on CPU tensors)
    ("resnet18", "torch"),
    ("renamed", "torch"),
    ("renamed", "auto"),
]


def _analysis(name: str):
    return check_text(RENAMED, "F.net") if name == "renamed" else check_file(ROOT / "specs" / f"{name}.net")


@pytest.mark.parametrize(("name", "backend"), MAPPED)
def test_each_mapped_line_computes_its_layer(name: str, backend: str):
    """Run `forward` a line at a time (`source_map.run_forward`): each line the map names is the one that calls
    the layer's submodule (hooks), its value has the layer's predicted shape, and together with the lines
    before them they compute what `model(x)` returns."""
    analysis = _analysis(name)
    generated = generate_module(analysis, backend=backend)
    net = network_for(analysis, backend)
    assert sorted(generated.layer_lines.values()) == sorted(layer.name for layer in net.layers)
    model = instantiate(generated.source, class_name(net.name), f"{name}.net")().eval()
    predicted = layer_shapes(analysis, net)
    leaves = {attr_path(layer) for layer in generated.layer_lines.values()}
    called: list[str] = []  # the layers' submodules called since the last statement
    for module_name, module in model.named_modules():
        if module_name in leaves:
            module.register_forward_hook(lambda *_, module_name=module_name: called.append(module_name))
    forward = read_forward(generated.source, generated.layer_lines)
    x = torch.randn(1, *net.input_dims[1:])
    calls, out = [], None
    with torch.no_grad():
        for statement, value in run_forward(model, x, forward):
            assert generated.layer_lines[statement.line] == statement.layer
            assert tuple(value.shape) == (1, *predicted[statement.layer][1:]), statement
            calls += [(statement.layer, module) for module in called]
            called.clear()
            if statement.target == forward.returned:  # no later statement overwrites the output
                out = value
        assert calls and all(attr_path(layer) == module for layer, module in calls), calls
        assert torch.equal(out, model(x))


def test_the_map_is_attached_to_compiled_modules():
    model = alexnet_dsl.compile(RENAMED, backend="torch", memory_budget=None)
    assert model.dslc_layer_lines == generate_module(model.dslc_analysis, backend="torch").layer_lines
    assert attached(model, "layer_lines") is model.dslc_layer_lines is model._dslc_layer_lines
    lines = model.dslc_source.split("\n")
    assert lines[min(model.dslc_layer_lines) - 1] == "        x_torch = self.torch(x)  # (N, 4, 8, 8)"


def test_the_source_map_reads_forward_as_emitted():
    """In a network named `F` the file calls its own `F` as `_F`: the statements are the emitted lines."""
    generated = generate_module(check_text(RENAMED, "F.net"), backend="torch")
    forward = read_forward(generated.source, generated.layer_lines)
    assert (
        forward.arg == "x"
        and forward.prologue == "self._check_input(x)\nx = x.contiguous(memory_format=torch.channels_last)"
    )
    by_layer = {s.layer: s for s in forward.statements}
    assert by_layer["relu1"].text == "x_relu1 = _F.relu(x_torch)" and by_layer["relu1"].target == "x_relu1"
    assert by_layer["side"].target == "_" and forward.returned == "x"
    assert [s.line for s in forward.statements] == sorted(generated.layer_lines)


def test_a_failing_statement_is_named():
    model = alexnet_dsl.compile("network T(x: [N, 3, 8, 8]) {\n    c: conv(4, kernel=3)\n    relu\n}\n")
    model.c = torch.nn.Linear(2, 2)
    with pytest.raises(StatementFailed, match="`c`") as failed:
        list(run_forward(model, torch.randn(1, 3, 8, 8)))
    assert failed.value.statement.layer == "c" and isinstance(failed.value.__cause__, RuntimeError)


# ---------------------------------------------------------------------------- the runtime, verbatim


def runtime_regions(file: str) -> dict[str, str]:
    """The regions of a runtime file, read here independently of prelude.py: the text after each
    `# emit: NAME` line up to the next marker, without the blank lines around it."""
    parts = re.split(r"^# emit: (\w+)\n", (RUNTIME / file).read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {name: text.strip("\n") for name, text in zip(parts[1::2], parts[2::2]) if name != "end"}


LINEAR = ["onednn_linear", "needs_grad", "fast_call"]
LRN = ["inv_pow", "needs_grad", "lrn"]
PRELUDES = [  # (spec, backend): the runtime regions its generated file contains, in order
    ("alexnet", "torch", [*LRN, "onednn_linear", "fast_call"]),
    (
        "alexnet",
        "triton",
        [*LRN, "plain_module", "fold", "onednn_linear", "fast_call", "triton_ops.py:fused_conv"],
    ),
    (
        "alexnet",
        "auto",
        [*LRN, "plain_module", "fold", "onednn_linear", "fast_call", "auto_ops.py:fused_conv"],
    ),
    ("alexnet_hw", "torch", [*LRN, "onednn_linear", "fast_call", "admissible"]),
    ("vgg16", "torch", LINEAR),
    ("efficientnet_b0", "torch", [*LINEAR, "stochastic_depth"]),
]


@pytest.mark.parametrize(("spec", "backend", "regions"), PRELUDES)
def test_the_prelude_is_the_runtime_files_regions_byte_for_byte(spec: str, backend: str, regions: list[str]):
    """What a generated file defines before its class is the runtime files' regions, copied verbatim."""
    source = generate(check_file(ROOT / "specs" / f"{spec}.net"), backend=backend)
    prelude = source.rsplit("\n\n\nclass ", 1)[0].split("\n\n\n", 1)[1]  # after the imports, before the class
    located = [region.split(":") if ":" in region else ("torch_ops.py", region) for region in regions]
    assert prelude == "\n\n\n".join(runtime_regions(file)[name] for file, name in located)


CLASHING = """network NAME(x: [N, 3, H, W]) {
    c: conv(4, kernel=3)
    relu
    lrn(size=3)
    adaptive_avgpool(2)
    flatten
    fc: linear(5)
}
"""


@pytest.mark.parametrize("backend", ["torch", "triton", "auto"])
@pytest.mark.parametrize("name", sorted(TOP_NAMES - {"annotations"}))
def test_the_prelude_of_a_network_named_like_an_import_renames_only_that_import(name: str, backend: str):
    """The one exception to "verbatim" (prelude.py): in `network F` the file imports its own `F` as `_F`, and
    the regions' uses of it are renamed with the rest of the file; nothing else changes."""
    source = generate(check_text(CLASHING.replace("NAME", name), f"{name}.net"), backend=backend)
    prelude = source.rsplit("\n\n\nclass ", 1)[0].split("\n\n\n", 1)[1]
    fused = [] if backend == "torch" else ["plain_module", "fold"]
    own = [] if backend == "torch" else [(f"{backend}_ops.py", "fused_conv")]
    names = [*LRN, *fused, "onednn_linear", "fast_call"]
    located = [*(("torch_ops.py", n) for n in names), *own, ("torch_ops.py", "admissible")]
    verbatim = "\n\n\n".join(runtime_regions(file)[region] for file, region in located)
    assert prelude == rename_own_names(verbatim, {name})
    assert (prelude == verbatim) == (re.search(rf"\b{name}\b", verbatim) is None)  # renamed where used


def test_every_helper_generated_code_calls_is_in_the_helpers_table():
    """`OpCode.helper` is a key of `prelude.HELPERS`, and each region the table names is in the runtime."""
    used = {entry.helper for entry in OP_CODE.values() if entry.helper}
    assert used <= HELPERS.keys() and used | {"admissible"} == HELPERS.keys()
    for backend in ("triton", "auto"):
        for file, region in (located(r, backend) for regions in HELPERS.values() for r in regions):
            assert region in runtime_regions(file), (file, region)


def test_every_runtime_region_is_emitted_somewhere():
    emitted = {r if ":" in r else f"torch_ops.py:{r}" for *_, regions in PRELUDES for r in regions}
    every = {f"{f.name}:{name}" for f in RUNTIME.glob("*_ops.py") for name in runtime_regions(f.name)}
    assert emitted == every


def test_the_runtime_emits_no_marker_and_no_public_alias():
    """The regions end before the runtime's public names (`lrn = _lrn`), which generated files do not have."""
    source = generate(check_file(ROOT / "specs" / "alexnet.net"), backend="triton")
    assert "# emit:" not in source and "\nlrn = _lrn" not in source

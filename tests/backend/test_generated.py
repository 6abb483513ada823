"""The generated module as text: the golden files, the source map, and the runtime copied in verbatim."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from alexnet_dsl.analysis.pipeline import check_file, check_text
from alexnet_dsl.backend.build import instantiate
from alexnet_dsl.backend.codegen import Generated, generate, render
from alexnet_dsl.backend.names import attr_path, class_name, input_arg
from alexnet_dsl.backend.plan import network_for

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
    """Run `forward` a line at a time: each line the map names is the one that calls the layer's submodule
    (hooks), its value has the layer's predicted shape, and together with the lines before them they
    compute what `model(x)` returns."""
    analysis = _analysis(name)
    generated = render(analysis, backend=backend)
    net = network_for(analysis, backend)
    assert sorted(generated.layer_lines.values()) == sorted(layer.name for layer in net.layers)
    model = instantiate(generated.source, class_name(net.name), f"{name}.net")().eval()
    predicted = {i.layer.name: i.shape for i in analysis.infos}
    for layer in net.layers:
        if hasattr(layer.op, "parts"):  # a fused group computes its last layer's value
            predicted[layer.name] = predicted[layer.op.parts[-1]]
    x = torch.randn(1, *net.input_dims[1:])
    values, calls, out = run_line_by_line(model, generated, {"self": model, input_arg(net): x})
    for number, value in values.items():
        layer = generated.layer_lines[number]
        assert tuple(value.shape) == (1, *predicted[layer][1:]), (number, layer)
    assert calls and all(attr_path(generated.layer_lines[number]) == module for number, module in calls), (
        calls
    )
    with torch.no_grad():
        assert torch.equal(out, model(x))


def run_line_by_line(model: torch.nn.Module, generated: Generated, env: dict):
    """Run the mapped lines of `forward` one at a time, after the lines before them (the input check and
    conversion): each mapped line's value, the submodules each line called, and the value returned."""
    lines = generated.source.split("\n")
    first, last = min(generated.layer_lines), max(generated.layer_lines)
    assert lines[last].startswith("        return ")
    calls: list[tuple[int, str]] = []  # (line being run, submodule called)
    running = [0]
    for name, module in model.named_modules():
        module.register_forward_hook(lambda *_, name=name: calls.append((running[0], name)))
    namespace = vars(sys.modules[type(model).__module__])
    forward = next(i for i, line in enumerate(lines) if line.startswith("    def forward("))
    values = {}
    with torch.no_grad():
        exec(textwrap.dedent("\n".join(lines[forward + 1 : first - 1])), namespace, env)
        for number in range(first, last + 1):
            running[0] = number
            statement = lines[number - 1].split("  #")[0].strip()
            exec(statement, namespace, env)
            values[number] = env[statement.split(" = ")[0]]
    leaves = {attr_path(name) for name in generated.layer_lines.values()}
    return values, [c for c in calls if c[1] in leaves], env[lines[last].split("return ")[1]]


def test_the_map_is_attached_to_compiled_modules():
    import alexnet_dsl

    model = alexnet_dsl.compile(RENAMED, backend="torch", memory_budget=None)
    assert model._dslc_layer_lines == render(model._dslc_analysis, backend="torch").layer_lines
    lines = model._dslc_source.split("\n")
    assert lines[min(model._dslc_layer_lines) - 1] == "        x_torch = self.torch(x)  # (N, 4, 8, 8)"


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
        [*LRN, "plain_module", "onednn_linear", "fast_call", "triton_ops.py:conv_relu_lrn"],
    ),
    ("alexnet", "auto", [*LRN, "plain_module", "onednn_linear", "fast_call", "auto_ops.py:conv_relu_lrn"]),
    ("alexnet_hw", "torch", [*LRN, "onednn_linear", "fast_call", "admissible"]),
    ("vgg16", "torch", LINEAR),
]


@pytest.mark.parametrize(("spec", "backend", "regions"), PRELUDES)
def test_the_prelude_is_the_runtime_files_regions_byte_for_byte(spec: str, backend: str, regions: list[str]):
    """What a generated file defines before its class is the runtime files' regions, copied verbatim."""
    source = generate(check_file(ROOT / "specs" / f"{spec}.net"), backend=backend)
    prelude = source.rsplit("\n\n\nclass ", 1)[0].split("\n\n\n", 1)[1]  # after the imports, before the class
    located = [region.split(":") if ":" in region else ("torch_ops.py", region) for region in regions]
    assert prelude == "\n\n\n".join(runtime_regions(file)[name] for file, name in located)


def test_every_runtime_region_is_emitted_somewhere():
    emitted = {r if ":" in r else f"torch_ops.py:{r}" for *_, regions in PRELUDES for r in regions}
    every = {f"{f.name}:{name}" for f in RUNTIME.glob("*_ops.py") for name in runtime_regions(f.name)}
    assert emitted == every


def test_the_runtime_emits_no_marker_and_no_public_alias():
    """The regions end before the runtime's public names (`lrn = _lrn`), which generated files do not have."""
    source = generate(check_file(ROOT / "specs" / "alexnet.net"), backend="triton")
    assert "# emit:" not in source and "\nlrn = _lrn" not in source

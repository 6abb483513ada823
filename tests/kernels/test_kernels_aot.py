"""Ahead-of-time compiles of every kernel variant for NVIDIA GPUs, on a machine without one.

The compiles run in a subprocess without TRITON_INTERPRET: the kernel tests of this directory set it, and a process
that ran interpreted kernels can have `triton.language` patched (interpreted device functions do not undo their
patches), which breaks compilation. PTX only (no ptxas) for the matrix (every precision with ReLU or no activation, with and without LRN; every other
activation of the epilogue in fp32 and bf16), plus one full compile to a cubin; Triton's
cache (~/.triton/cache) makes reruns take seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from alexnet_dsl.kernels.aot import (
    ACTIVATION_PRECISIONS,
    OTHER_ACTIVATIONS,
    CompileResult,
    mma_summary,
    table,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kernels.md"

SCRIPT = textwrap.dedent(
    """
    import json
    from dataclasses import asdict
    from alexnet_dsl.kernels.aot import Variant, compile_all, compile_variant, variants

    conv2 = [v for v in variants() if v.layer == "conv2"]
    on_sm80 = [
        v
        for v in conv2
        if (v.activation == "relu" and v.lrn) or (v.activation not in ("relu", "identity") and v.precision == "bf16")
    ]
    pairs = [(v, 90) for v in conv2] + [(v, 80) for v in on_sm80]
    for result in compile_all(pairs, ptx_only=True):
        print(json.dumps(asdict(result)))
    print(json.dumps(asdict(compile_variant(Variant("conv1", "bf16", "relu", True), 90))))
    """
)


@pytest.fixture(scope="module")
def compiled() -> dict[tuple[str, int, bool], CompileResult]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=DOCS.parents[1],
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = [CompileResult(**json.loads(line)) for line in run.stdout.splitlines() if line.startswith("{")]
    print("\n" + table(results))
    return {(r.variant, r.capability, r.cubin_bytes > 0): r for r in results}


PRECISIONS = ["fp32", "tf32", "bf16", "fp16"]
EPILOGUES = [(activation, lrn) for activation in ("relu", "identity") for lrn in ("lrn", "nolrn")]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize(("activation", "lrn"), EPILOGUES)
def test_every_variant_compiles_to_ptx_for_sm90(compiled, precision: str, activation: str, lrn: str) -> None:  # noqa: ANN001
    r = compiled[(f"conv2-{precision}-{activation}-{lrn}", 90, False)]
    assert r.ptx_lines > 1000
    assert 0 < r.shared_bytes <= 227 * 1024, "more shared memory than an H100 block can have"
    kinds = mma_summary(r.mma)
    if precision == "fp32":
        assert "tf32" not in kinds, f"exact fp32 must not use TF32 tensor cores: {r.mma}"
        # The conv is FMA; with LRN only the band product of the exact bf16 parts is on tensor cores.
        assert kinds == ("wgmma.bf16" if lrn == "lrn" else "none")
    else:
        main = {"tf32": "wgmma.tf32", "bf16": "wgmma.bf16", "fp16": "wgmma.f16"}[precision]
        assert main in kinds, f"{precision} should run on Hopper tensor cores (wgmma): {r.mma}"
        if lrn == "lrn":
            assert "wgmma.bf16" in kinds


@pytest.mark.parametrize("precision", PRECISIONS)
def test_production_variants_compile_for_sm80(compiled, precision: str) -> None:  # noqa: ANN001
    r = compiled[(f"conv2-{precision}-relu-lrn", 80, False)]
    assert r.shared_bytes <= 163 * 1024, "more shared memory than an A100 block can have"
    kinds = mma_summary(r.mma)
    assert "wgmma" not in kinds
    if precision == "fp32":
        assert kinds == "mma.bf16"
    else:
        assert {"tf32": "mma.tf32", "bf16": "mma.bf16", "fp16": "mma.f16"}[precision] in kinds


@pytest.mark.parametrize("precision", ACTIVATION_PRECISIONS)
@pytest.mark.parametrize("activation", OTHER_ACTIVATIONS)
def test_every_activation_compiles_for_sm90_and_sm80(compiled, activation: str, precision: str) -> None:  # noqa: ANN001
    """One compiled variant per activation (a constexpr of the kernel): the epilogue adds no tensor-core work and
    leaves the conv's instructions as they are (exact fp32: FMA only, and ReLU's shared memory; bf16: wgmma on
    sm_90, mma.sync on sm_80)."""
    name = f"conv2-{precision}-{activation}-nolrn"
    for capability in (90, 80) if precision == "bf16" else (90,):
        r = compiled[(name, capability, False)]
        assert r.ptx_lines > 1000
        assert 0 < r.shared_bytes <= (227 if capability == 90 else 163) * 1024
        if precision == "fp32":
            assert mma_summary(r.mma) == "none", f"exact fp32 must not use tensor cores: {r.mma}"
            assert r.shared_bytes == compiled[("conv2-fp32-relu-nolrn", 90, False)].shared_bytes
        else:
            assert mma_summary(r.mma) == ("wgmma.bf16" if capability == 90 else "mma.bf16")


def test_full_compile_produces_a_cubin(compiled) -> None:  # noqa: ANN001
    r = compiled[("conv1-bf16-relu-lrn", 90, True)]
    assert r.cubin_bytes > 10_000
    assert "wgmma.bf16" in mma_summary(r.mma)


def test_docs_table_matches_the_compiler(compiled) -> None:  # noqa: ANN001
    """docs/kernels.md carries the table from `python -m alexnet_dsl.kernels.aot --ptxas-usage`; keep it current."""
    rows = {}
    for line in DOCS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"conv\d-\w+-\w+-\w+", cells[0]) and cells[1].isdigit():
            rows[(cells[0], int(cells[1]))] = (cells[2], int(cells[3]))
    assert rows, "no AOT table in docs/kernels.md"
    for (variant, capability, _), r in compiled.items():
        assert rows[(variant, capability)] == (mma_summary(r.mma), r.shared_bytes), (
            f"docs/kernels.md is stale for {variant} sm_{capability}: regenerate with "
            "`python -m alexnet_dsl.kernels.aot --ptxas-usage`"
        )

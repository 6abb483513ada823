"""Compile the fused conv kernel ahead of time for NVIDIA targets, without a GPU, and report what came out.

For every variant (fp32 ieee, TF32, bf16, fp16; with and without LRN; ReLU or no activation) on AlexNet's conv2,
the LRN variants of conv1, and conv2 with each other activation of the epilogue in fp32 and bf16, this produces PTX
for sm_80 and sm_90 and records the tensor-core instructions in it and the shared memory the kernel needs. It backs the AOT tests and the table in docs/kernels.md:

    python -m alexnet_dsl.kernels.aot            # table
    python -m alexnet_dsl.kernels.aot --json     # one JSON object per line

Run it in a process where TRITON_INTERPRET is not set: with it set, interpreter runs of other kernels can leave
`triton.language` patched, and compiling afterwards fails (``python -m`` re-executes itself without it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import torch

from alexnet_dsl.kernels.reference import ACTIVATIONS, Activation, ConvGeometry, LRNParams
from alexnet_dsl.kernels.tuning import Config, Problem, configs_for

ALEXNET_CONV1 = ConvGeometry(128, 3, 227, 227, 96, 55, 55, 11, 11, (4, 4), (0, 0), (1, 1), 1)
ALEXNET_CONV2 = ConvGeometry(128, 96, 27, 27, 256, 27, 27, 5, 5, (1, 1), (2, 2), (1, 1), 2)
ALEXNET_LRN = LRNParams(size=5, alpha=1e-4, beta=0.75, k=2.0)

# name -> (dtype, tf32)
PRECISIONS = {
    "fp32": (torch.float32, False),
    "tf32": (torch.float32, True),
    "bf16": (torch.bfloat16, False),
    "fp16": (torch.float16, False),
}
_MMA = re.compile(r"\b(?:wgmma\.mma_async|mma\.sync)[\w.]*")


# the activations beyond ReLU and none, compiled on conv2 without LRN in these precisions
ACTIVATION_PRECISIONS = ("fp32", "bf16")
OTHER_ACTIVATIONS = tuple(kind for kind in ACTIVATIONS if kind not in ("relu", "identity"))


@dataclass(frozen=True)
class Variant:
    layer: str
    precision: str
    activation: str  # a kind of reference.ACTIVATIONS ("identity": none)
    lrn: bool

    @property
    def name(self) -> str:
        return "-".join([self.layer, self.precision, self.activation, "lrn" if self.lrn else "nolrn"])

    def problem(self, capability: int) -> Problem:
        dtype, tf32 = PRECISIONS[self.precision]
        geometry = ALEXNET_CONV1 if self.layer == "conv1" else ALEXNET_CONV2
        lrn = ALEXNET_LRN if self.lrn else None
        return Problem(
            geometry, dtype, tf32, True, Activation.of(self.activation), lrn, f"cuda:sm{capability}"
        )


def variants() -> list[Variant]:
    """conv2 in every combination of precision, ReLU or none, LRN or not; conv1 as AlexNet uses it (ReLU and LRN)
    in every precision; conv2 with each other activation, without LRN, in fp32 and bf16."""
    out = [
        Variant("conv2", precision, activation, lrn)
        for precision in PRECISIONS
        for activation in ("relu", "identity")
        for lrn in (True, False)
    ]
    out += [Variant("conv1", precision, "relu", True) for precision in PRECISIONS]
    out += [
        Variant("conv2", precision, activation, False)
        for precision in ACTIVATION_PRECISIONS
        for activation in OTHER_ACTIVATIONS
    ]
    return out


class _TensorStandIn:
    """What the JIT looks at in a tensor argument: dtype, address (16-byte aligned, as torch allocates) and strides."""

    def __init__(self, dtype: torch.dtype, shape: tuple[int, ...]) -> None:
        self.dtype = dtype
        self._stride = _contiguous(shape)

    def data_ptr(self) -> int:
        return 0

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self._stride if dim is None else self._stride[dim]


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, running = [], 1
    for size in reversed(shape):
        strides.append(running)
        running *= size
    return tuple(reversed(strides))


def _specialize(
    arg_names: list[str], problem: Problem, constexprs: dict[str, Any]
) -> tuple[dict[str, str], dict[tuple[int, ...], list]]:
    """Signature and attributes as `JITFunction.run` would derive them from contiguous NCHW tensors of the problem.

    The JIT specialises integers equal to 1 into constants and marks pointers and integers divisible by 16
    (`tt.divisibility`), which decides vectorisation and async copies; the AOT compile must see the same.
    """
    from triton.backends.compiler import BaseBackend
    from triton.runtime.jit import native_specialize_impl

    from alexnet_dsl.kernels import conv_lrn

    g = problem.geometry
    x = _TensorStandIn(problem.dtype, (g.batch, g.in_c, g.in_h, g.in_w))
    weight = _TensorStandIn(problem.dtype, (g.out_c, g.group_in_c, g.kernel_h, g.kernel_w))
    out = _TensorStandIn(problem.dtype, (g.batch, g.out_c, g.out_h, g.out_w))
    values = iter(conv_lrn.kernel_args(problem, x, weight, weight if problem.has_bias else None, out))
    signature: dict[str, str] = {}
    attrs: dict[tuple[int, ...], list] = {}
    for index, name in enumerate(arg_names):
        if name in constexprs:
            signature[name] = "constexpr"
            continue
        specialize = name not in conv_lrn.DO_NOT_SPECIALIZE
        kind, attr = native_specialize_impl(BaseBackend, next(values), False, specialize, True)
        if kind == "constexpr":  # an integer 1: the JIT compiles it in
            signature[name] = "constexpr"
            constexprs[name] = 1
            continue
        signature[name] = kind
        if attr:
            attrs[(index,)] = BaseBackend.parse_attr(attr)
    return signature, attrs


@dataclass(frozen=True)
class CompileResult:
    variant: str
    capability: int
    config: str
    mma: list[str]  # distinct tensor-core instructions in the PTX
    shared_bytes: int
    ptx_lines: int
    cubin_bytes: int  # 0 when compiled with ptx_only
    seconds: float
    ptxas: str = ""  # ptxas -v summary (registers, spills) when asked for


def ptxas_usage(ptx: str, capability: int) -> str:
    """Registers and spills of a PTX kernel as reported by `ptxas -v` (runs ptxas again: seconds)."""
    import tempfile

    from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.ptx")
        with open(path, "w") as f:
            f.write(ptx)
        arch = sm_arch_from_capability(capability)
        # The flags of Triton's own ptxas call (triton/backends/nvidia/compiler.py, make_cubin).
        flags = ["-lineinfo", "-v", "--regAllocOptLevel=2", f"--gpu-name={arch}"]
        cmd = [get_ptxas(capability).path, *flags, path, "-o", os.path.join(tmp, "kernel.cubin")]
        log = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    used = re.search(r"Used (\d+) registers", log)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    return (
        f"{used.group(1) if used else '?'} registers, "
        f"{spills.group(1) if spills else '?'}/{spills.group(2) if spills else '?'} bytes spilled (stores/loads)"
    )


def _skip_ptxas(self: object = None, stages: dict | None = None, *args: object) -> tuple[str, str] | None:
    """Stage hook that replaces ptxas (the slowest stage, ~half the time) by an empty cubin."""
    if stages is None:  # asked for a cache key: keep these results apart from real compiles
        return "ptx-only", "ptx-only"
    stages["cubin"] = lambda src, metadata: b""
    return None


def compile_variant(
    variant: Variant,
    capability: int,
    ptx_only: bool = False,
    with_ptxas_usage: bool = False,
    config: Config | None = None,
) -> CompileResult:
    """Compile one variant, by default with the first configuration the tuner would try on a GPU.

    With `ptx_only` the PTX is not assembled (no cubin): same PTX and shared memory, about half the time.
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from alexnet_dsl.kernels import conv_lrn

    problem = variant.problem(capability)
    config = config or configs_for(problem)[0]
    jit_fn = conv_lrn.kernel(interpreted=False)
    constexprs = conv_lrn.kernel_constexprs(problem, config, interpreted=False)
    signature, attrs = _specialize(jit_fn.arg_names, problem, constexprs)
    source = ASTSource(fn=jit_fn, signature=signature, constexprs=constexprs, attrs=attrs)
    options = {"num_warps": config.num_warps, "num_stages": config.num_stages, "enable_fp_fusion": True}
    saved_hook = triton.knobs.runtime.add_stages_inspection_hook
    if ptx_only:
        triton.knobs.runtime.add_stages_inspection_hook = _skip_ptxas
    start = time.perf_counter()
    try:
        compiled = triton.compile(source, target=GPUTarget("cuda", capability, 32), options=options)
    finally:
        triton.knobs.runtime.add_stages_inspection_hook = saved_hook
    seconds = time.perf_counter() - start
    if not ptx_only:
        assert compiled.asm["cubin"], "ptxas produced no cubin"
    ptx = compiled.asm["ptx"]
    return CompileResult(
        variant=variant.name,
        capability=capability,
        config=f"BLOCK_M={config.block_m} BLOCK_N={config.block_n} BLOCK_K={config.block_k} "
        f"warps={config.num_warps} stages={config.num_stages}",
        mma=sorted(set(_MMA.findall(ptx))),
        shared_bytes=int(compiled.metadata.shared),
        ptx_lines=ptx.count("\n"),
        cubin_bytes=len(compiled.asm["cubin"]) if not ptx_only else 0,
        seconds=round(seconds, 2),
        ptxas=ptxas_usage(ptx, capability) if with_ptxas_usage else "",
    )


def _compile_one(job: tuple[Variant, int, bool, bool]) -> CompileResult:
    return compile_variant(*job)


def compile_all(
    pairs: list[tuple[Variant, int]] | None = None,
    ptx_only: bool = False,
    jobs: int | None = None,
    with_ptxas_usage: bool = False,
) -> list[CompileResult]:
    """Compile (variant, capability) pairs, all variants for sm_80 and sm_90 by default, in parallel processes."""
    pairs = pairs or [(variant, capability) for capability in (80, 90) for variant in variants()]
    work = [(variant, capability, ptx_only, with_ptxas_usage) for variant, capability in pairs]
    jobs = jobs or max(1, min(len(work), os.cpu_count() or 1))
    if jobs == 1:
        return [_compile_one(job) for job in work]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_compile_one, work))


def mma_summary(mma: list[str]) -> str:
    """`wgmma.bf16, mma.tf32` style short names of the tensor-core instructions found."""
    if not mma:
        return "none"
    short = set()
    for instruction in mma:
        kind = "wgmma" if instruction.startswith("wgmma") else "mma"
        for dtype in ("tf32", "bf16", "f16"):
            if f".{dtype}" in instruction:
                short.add(f"{kind}.{dtype}")
    return ", ".join(sorted(short))


def table(results: list[CompileResult]) -> str:
    lines = [
        "| variant | sm | tensor-core instructions in PTX | shared memory (bytes) | ptxas -v | config |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r.variant, r.capability)):
        lines.append(
            f"| {r.variant} | {r.capability} | {mma_summary(r.mma)} | {r.shared_bytes} | {r.ptxas or '-'} | {r.config} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object per result")
    parser.add_argument("--capability", type=int, action="append", help="80, 90 (default: both)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel compiles (default: CPU count)")
    parser.add_argument("--ptx-only", action="store_true", help="skip ptxas (no cubin), about twice as fast")
    parser.add_argument(
        "--ptxas-usage", action="store_true", help="also report registers and spills (ptxas -v)"
    )
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
        return subprocess.call([sys.executable, "-m", __spec__.name, *(argv or sys.argv[1:])], env=env)
    pairs = [(variant, capability) for capability in args.capability or (80, 90) for variant in variants()]
    results = compile_all(pairs, ptx_only=args.ptx_only, jobs=args.jobs, with_ptxas_usage=args.ptxas_usage)
    if args.json:
        for r in results:
            print(json.dumps(asdict(r)))
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

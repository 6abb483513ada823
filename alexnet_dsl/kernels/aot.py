"""Compile the fused conv kernel ahead of time for NVIDIA targets, without a GPU, and report what came out.

For every variant (fp32 ieee, TF32, bf16, fp16; with and without LRN; with and without ReLU) on AlexNet's conv2
(and the LRN variants of conv1) this produces PTX for sm_80 and sm_90 and records the tensor-core instructions in it
and the shared memory the kernel needs. It backs the AOT tests and the table in docs/kernels.md:

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

import torch

from .reference import ConvGeometry, LRNParams
from .tuning import Problem, configs_for

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
_TRITON_TYPE = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
_MMA = re.compile(r"\b(?:wgmma\.mma_async|mma\.sync)[\w.]*")


@dataclass(frozen=True)
class Variant:
    layer: str
    precision: str
    relu: bool
    lrn: bool

    @property
    def name(self) -> str:
        parts = [self.layer, self.precision, "relu" if self.relu else "norelu", "lrn" if self.lrn else "nolrn"]
        return "-".join(parts)

    def problem(self, capability: int) -> Problem:
        dtype, tf32 = PRECISIONS[self.precision]
        geometry = ALEXNET_CONV1 if self.layer == "conv1" else ALEXNET_CONV2
        lrn = ALEXNET_LRN if self.lrn else None
        return Problem(geometry, dtype, tf32, True, self.relu, lrn, f"cuda:sm{capability}")


def variants() -> list[Variant]:
    """conv2 in every combination, plus conv1 as AlexNet uses it (ReLU and LRN) in every precision."""
    out = [
        Variant("conv2", precision, relu, lrn)
        for precision in PRECISIONS
        for relu in (True, False)
        for lrn in (True, False)
    ]
    out += [Variant("conv1", precision, True, True) for precision in PRECISIONS]
    return out


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


def _skip_ptxas(self: object = None, stages: dict | None = None, *args: object) -> tuple[str, str] | None:
    """Stage hook that replaces ptxas (the slowest stage, ~half the time) by an empty cubin."""
    if stages is None:  # asked for a cache key: keep these results apart from real compiles
        return "ptx-only", "ptx-only"
    stages["cubin"] = lambda src, metadata: b""
    return None


def compile_variant(variant: Variant, capability: int, ptx_only: bool = False) -> CompileResult:
    """Compile one variant with the first configuration the tuner would try on a GPU.

    With `ptx_only` the PTX is not assembled (no cubin): same PTX and shared memory, about half the time.
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from . import conv_lrn

    problem = variant.problem(capability)
    config = configs_for(problem)[0]
    constexprs = conv_lrn.kernel_constexprs(problem, config, interpreted=False)
    jit_fn = conv_lrn.kernel(interpreted=False)
    element = _TRITON_TYPE[problem.dtype]
    signature = {}
    for name in jit_fn.arg_names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name.endswith("_ptr"):
            signature[name] = f"*{element}"
        elif name.startswith("lrn_"):
            signature[name] = "fp32"
        else:
            signature[name] = "i32"
    source = ASTSource(fn=jit_fn, signature=signature, constexprs=constexprs)
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
    )


def _compile_one(job: tuple[Variant, int, bool]) -> CompileResult:
    return compile_variant(*job)


def compile_all(
    pairs: list[tuple[Variant, int]] | None = None, ptx_only: bool = False, jobs: int | None = None
) -> list[CompileResult]:
    """Compile (variant, capability) pairs, all variants for sm_80 and sm_90 by default, in parallel processes."""
    pairs = pairs or [(variant, capability) for capability in (80, 90) for variant in variants()]
    work = [(variant, capability, ptx_only) for variant, capability in pairs]
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
        "| variant | sm | tensor-core instructions in PTX | shared memory (bytes) | config |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r.variant, r.capability)):
        lines.append(f"| {r.variant} | {r.capability} | {mma_summary(r.mma)} | {r.shared_bytes} | {r.config} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object per result")
    parser.add_argument("--capability", type=int, action="append", help="80, 90 (default: both)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel compiles (default: CPU count)")
    parser.add_argument("--ptx-only", action="store_true", help="skip ptxas (no cubin), about twice as fast")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
        return subprocess.call([sys.executable, "-m", __spec__.name, *(argv or sys.argv[1:])], env=env)
    pairs = [(variant, capability) for capability in args.capability or (80, 90) for variant in variants()]
    results = compile_all(pairs, ptx_only=args.ptx_only, jobs=args.jobs)
    if args.json:
        for r in results:
            print(json.dumps(asdict(r)))
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

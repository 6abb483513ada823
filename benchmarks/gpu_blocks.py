"""AlexNet's conv+ReLU+LRN blocks on a GPU: our fused Triton kernel against eager PyTorch and torch.compile.

    .venv/bin/python benchmarks/gpu_blocks.py                    # GPU: check, then time; JSON to --out
    .venv/bin/python benchmarks/gpu_blocks.py --whole-network    # also images/s of specs/alexnet.net per backend
    .venv/bin/python benchmarks/gpu_blocks.py --dry-run          # what runs without CUDA (CI does this)

On a GPU it first checks correctness (fp32 exact, TF32, bf16: every output element within the rounding-error bound
of the kernel's precision mode around the float64 value; it stops if a check fails), then for conv1 (3x227x227 -> 96x55x55, k11 s4) and conv2 (96x27x27 -> 256x27x27, k5 p2, groups 2), each
followed by ReLU and LRN(5, 1e-4, 0.75, 2), at batch 128, in float32 with TF32 allowed (all contenders) and in
bfloat16, it reports the median time (`triton.testing.do_bench`) of:
  * triton    - `fused_conv2d`, NCHW in and out: no layout conversion hidden outside the timed call;
  * eager     - cuDNN conv + ReLU + `F.local_response_norm` (alpha * size: the paper's alpha);
  * compile   - `torch.compile` of the eager function, default mode and mode="max-autotune";
with achieved TFLOP/s and the fraction of the roofline floor, floor = max(FLOPs / peak, minimal bytes / bandwidth)
(minimal bytes: read input, weights and bias once, write the output once). Peaks default to the H100 SXM
(989 TFLOP/s dense bf16, 494 TF32, 3.35 TB/s) and follow the device name for H200/A100; --peak-* override.
The whole run stays under ~8 minutes: max-autotune compiles are skipped (and reported as skipped) when the time
budget (--budget-s) runs short.

Without CUDA (or with --dry-run) it prints shapes, FLOP and byte counts and floors, then checks the kernel in the
Triton interpreter (TRITON_INTERPRET=1, set here: the kernel picks the interpreter per call, so no re-exec is
needed) on the real channel counts with a small image, and exits 0 when the check passes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from alexnet_dsl.kernels import LRNParams, fused_conv2d, fused_conv2d_reference, lrn_reference  # noqa: E402
from alexnet_dsl.kernels.bounds import bound_violations, fused_conv2d_error_bound  # noqa: E402
from alexnet_dsl.kernels.reference import ConvGeometry, conv_output_size  # noqa: E402

LRN = LRNParams(size=5, alpha=1e-4, beta=0.75, k=2.0)
SPEC = ROOT / "specs" / "alexnet.net"

# name substring -> (dense bf16 FLOP/s, dense TF32 FLOP/s, bytes/s); the first match wins, the last is the default
PEAKS = [
    ("H200", 989e12, 494e12, 4.8e12),
    ("H100 PCIe", 756e12, 378e12, 2.0e12),
    ("H100", 989e12, 494e12, 3.35e12),
    ("A100", 312e12, 156e12, 2.0e12),
    ("default (H100 SXM)", 989e12, 494e12, 3.35e12),
]

MODES = {"tf32": torch.float32, "bf16": torch.bfloat16}  # "tf32": float32 tensors, TF32 allowed everywhere


@dataclass(frozen=True)
class Block:
    name: str
    in_c: int
    in_hw: int
    out_c: int
    kernel: int
    stride: int
    padding: int
    groups: int
    input_scale: float  # inputs of this size make LRN(alpha=1e-4) change the output visibly

    def geometry(self, batch: int, in_hw: int | None = None) -> ConvGeometry:
        hw = in_hw or self.in_hw
        out = conv_output_size(hw, self.kernel, self.stride, self.padding, 1)
        k, s, p = self.kernel, self.stride, self.padding
        return ConvGeometry(
            batch, self.in_c, hw, hw, self.out_c, out, out, k, k, (s, s), (p, p), (1, 1), self.groups
        )

    def conv_kwargs(self) -> dict[str, Any]:
        return dict(stride=self.stride, padding=self.padding, groups=self.groups)


BLOCKS = [
    Block("conv1+relu+lrn", 3, 227, 96, 11, 4, 0, 1, input_scale=60.0),
    Block("conv2+relu+lrn", 96, 27, 256, 5, 1, 2, 2, input_scale=30.0),
]


def min_bytes(geometry: ConvGeometry, element_bytes: int) -> int:
    """Input, weights and bias read once, output written once."""
    g = geometry
    elements = (
        g.batch * g.in_c * g.in_h * g.in_w + g.out_c * (g.gemm_k + 1) + g.batch * g.out_c * g.out_h * g.out_w
    )
    return elements * element_bytes


def peaks_for(name: str, args: argparse.Namespace) -> dict[str, Any]:
    label, bf16, tf32, bandwidth = next(p for p in PEAKS if p[0] in name or p[0].startswith("default"))
    return dict(
        table=label,
        bf16=args.peak_bf16 or bf16,
        tf32=args.peak_tf32 or tf32,
        bandwidth=args.bandwidth or bandwidth,
    )


def floor_seconds(geometry: ConvGeometry, mode: str, peaks: dict[str, Any]) -> dict[str, float]:
    element_bytes = MODES[mode].itemsize
    compute = geometry.flops() / peaks[mode]
    memory = min_bytes(geometry, element_bytes) / peaks["bandwidth"]
    return dict(compute_s=compute, memory_s=memory, floor_s=max(compute, memory))


def make_inputs(
    block: Block, batch: int, dtype: torch.dtype, device: str, in_hw: int | None = None, seed: int = 0
):  # noqa: ANN201
    """Pixel-scale input and AlexNet's initialisation (weights N(0, 0.01)), so that LRN matters."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    g = block.geometry(batch, in_hw)
    x = torch.randn(batch, g.in_c, g.in_h, g.in_w, generator=gen) * block.input_scale
    w = torch.randn(g.out_c, g.group_in_c, g.kernel_h, g.kernel_w, generator=gen) * 0.01
    b = torch.full((g.out_c,), 0.0 if block.name.startswith("conv1") else 1.0)
    return tuple(t.to(device=device, dtype=dtype) for t in (x, w, b))


def check_block(
    block: Block, batch: int, device: str, in_hw: int | None, dtype: torch.dtype, tf32: bool
) -> dict:
    """Our kernel against the same function in float64, element by element, within the rounding-error bound of the
    kernel's precision mode (`reference.fused_conv2d_error_bound`, the tuner's gate). Errors are reported in units
    of that bound (ok: <= 1), with where LRN as the constant k^-beta and a window one channel wider land in the
    same units: above 2, a kernel computing them fails the check even with its own rounding."""
    x, w, b = make_inputs(block, batch, dtype, device, in_hw, seed=1)
    out = fused_conv2d(x, w, b, **block.conv_kwargs(), activation="relu", lrn=LRN, allow_tf32=tf32)
    exact, bound = fused_conv2d_error_bound(
        x, w, b, **block.conv_kwargs(), activation="relu", lrn=LRN, tf32=tf32
    )
    pre = fused_conv2d_reference(
        x.double(), w.double(), b.double(), **block.conv_kwargs(), activation="relu", lrn=None
    )
    wrong_window = lrn_reference(pre, LRN.size + 1, LRN.alpha, LRN.beta, LRN.k)
    scale = bound.clamp(min=torch.finfo(torch.float64).tiny)

    def in_bounds(t: torch.Tensor) -> float:
        """max |t - exact| / bound (inf when t has a NaN or an infinity)."""
        return float(((t.double() - exact).abs() / scale).max()) if torch.isfinite(t).all() else float("inf")

    problem = bound_violations(out, exact, bound)
    return dict(
        block=block.name,
        precision="fp32"
        if dtype == torch.float32 and not tf32
        else "tf32"
        if tf32
        else str(dtype).split(".")[-1],
        batch=batch,
        max_error_over_bound=in_bounds(out),
        max_bound_rel_to_max=float(bound.max()) / max(float(exact.abs().max()), 1e-300),
        lrn_effect_over_bound=in_bounds(pre / LRN.k**LRN.beta),
        wrong_window_over_bound=in_bounds(wrong_window),
        ok=problem is None,
        problem=problem,
    )


def print_checks(rows: list[dict]) -> bool:
    print(
        f"{'block':16} {'precision':9} {'max err / bound':>16} {'bound / max|y|':>15} {'LRN effect':>11} "
        f"{'wrong window':>13}  (in bounds)"
    )
    for r in rows:
        print(
            f"{r['block']:16} {r['precision']:9} {r['max_error_over_bound']:16.3f} {r['max_bound_rel_to_max']:15.2e} "
            f"{r['lrn_effect_over_bound']:11.3g} {r['wrong_window_over_bound']:13.3g}  "
            f"{'ok' if r['ok'] else 'FAILED: ' + str(r['problem'])}"
        )
    return all(r["ok"] for r in rows)


# ---- dry run (no CUDA) -----------------------------------------------------------------------------------------


def dry_run(args: argparse.Namespace) -> int:
    os.environ["TRITON_INTERPRET"] = "1"  # read per call by fused_conv2d; no re-exec needed
    os.environ.setdefault("ALEXNET_DSL_POISON_OUTPUT", "1")
    peaks = peaks_for("default", args)
    print(f"dry run (no CUDA): batch {args.batch}, peaks {peaks}\n")
    print(
        f"{'block':16} {'mode':5} {'GEMM M x N x K (per group)':>30} {'GFLOP':>7} {'min MB':>8} {'floor us':>9} bound"
    )
    shapes = []
    for block in BLOCKS:
        g = block.geometry(args.batch)
        for mode in MODES:
            f = floor_seconds(g, mode, peaks)
            gemm = f"{g.gemm_m:,} x {g.group_out_c} x {g.gemm_k:,}" + (
                f" x{g.groups}" if g.groups > 1 else ""
            )
            megabytes = min_bytes(g, MODES[mode].itemsize) / 1e6
            bound = "compute" if f["compute_s"] >= f["memory_s"] else "memory"
            print(
                f"{block.name:16} {mode:5} {gemm:>30} {g.flops() / 1e9:7.1f} {megabytes:8.1f} "
                f"{f['floor_s'] * 1e6:9.1f} {bound}"
            )
            shapes.append(
                dict(
                    block=block.name,
                    mode=mode,
                    geometry=asdict(g),
                    gflop=g.flops() / 1e9,
                    min_megabytes=megabytes,
                    **f,
                )
            )
    print("\ncorrectness in the Triton interpreter (real channel counts, small images, batch 1):")
    small = {"conv1+relu+lrn": 35, "conv2+relu+lrn": 9}
    checks = [
        check_block(block, 1, "cpu", small[block.name], dtype, tf32)
        for block in BLOCKS
        for dtype, tf32 in ((torch.float32, False), (torch.bfloat16, False))
    ]
    # The bound covers the interpreter too: it truncates when it converts to bf16 (the GPU rounds), allowed for.
    ok = print_checks(checks)
    if args.out_given:
        write_json(
            args.out,
            dict(mode="dry-run", device="cpu (interpreter)", peaks=peaks, shapes=shapes, checks=checks),
        )
    return 0 if ok else 1


# ---- GPU -------------------------------------------------------------------------------------------------------


def set_tf32(allowed: bool) -> None:
    torch.backends.cudnn.allow_tf32 = allowed
    torch.backends.cuda.matmul.allow_tf32 = allowed


def bench(fn: Callable[[], Any]) -> float:
    """Median milliseconds."""
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))


def eager_block(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, block: Block) -> torch.Tensor:
    """cuDNN conv + ReLU + `F.local_response_norm`, as a user of eager PyTorch writes it."""
    y = torch.nn.functional.relu(torch.nn.functional.conv2d(x, w, b, **block.conv_kwargs()))
    return torch.nn.functional.local_response_norm(y, LRN.size, LRN.alpha * LRN.size, LRN.beta, LRN.k)


def time_block(
    args: argparse.Namespace, block: Block, mode: str, peaks: dict[str, Any], allow_max_autotune: bool
) -> tuple[list[dict], float, list[str]]:
    """Rows of (contender, median ms, TFLOP/s, floor fraction) for one block and mode; tuning seconds; skips."""
    device, dtype, tf32 = "cuda", MODES[mode], mode == "tf32"
    g = block.geometry(args.batch)
    x, w, b = make_inputs(block, args.batch, dtype, device)
    kwargs = block.conv_kwargs()

    tic = time.perf_counter()
    with torch.no_grad():
        # The first call tunes: compiles, checks and times the candidates.
        fused_conv2d(x, w, b, **kwargs, lrn=LRN, allow_tf32=tf32)
    torch.cuda.synchronize()
    tuning_s = time.perf_counter() - tic

    contenders: list[tuple[str, Callable[[], Any] | None]] = [
        ("triton (ours)", lambda: fused_conv2d(x, w, b, **kwargs, lrn=LRN, allow_tf32=tf32)),
        ("eager (cuDNN)", lambda: eager_block(x, w, b, block)),
    ]
    skipped = []
    for label, compile_mode in (("torch.compile", "default"), ("torch.compile max-autotune", "max-autotune")):
        if compile_mode == "max-autotune" and not allow_max_autotune:
            skipped.append(f"{label} {block.name}/{mode}")
            contenders.append((label, None))
            continue
        compiled = torch.compile(eager_block, mode=compile_mode, dynamic=False)
        with torch.no_grad():
            compiled(x, w, b, block)  # compile outside the timing
        contenders.append((label, lambda compiled=compiled: compiled(x, w, b, block)))

    floor_s = floor_seconds(g, mode, peaks)["floor_s"]
    rows = []
    for label, fn in contenders:
        if fn is None:
            rows.append(dict(block=block.name, mode=mode, contender=label, skipped=True))
            continue
        with torch.no_grad():
            ms = bench(fn)
        rows.append(
            dict(
                block=block.name,
                mode=mode,
                contender=label,
                median_ms=ms,
                tflops=g.flops() / (ms * 1e-3) / 1e12,
                floor_us=floor_s * 1e6,
                fraction_of_floor=floor_s / (ms * 1e-3),
            )
        )
    eager_ms = next(r["median_ms"] for r in rows if r["contender"].startswith("eager"))
    for r in rows:
        if not r.get("skipped"):
            r["speedup_vs_eager"] = eager_ms / r["median_ms"]
    return rows, tuning_s, skipped


def gpu_run(args: argparse.Namespace) -> int:
    from alexnet_dsl.kernels import tuning

    start = time.perf_counter()
    device = "cuda"
    name = torch.cuda.get_device_name()
    peaks = peaks_for(name, args)
    print(
        f"{name}; peaks from `{peaks['table']}`: bf16 {peaks['bf16'] / 1e12:.0f} TFLOP/s, "
        f"TF32 {peaks['tf32'] / 1e12:.0f} TFLOP/s, {peaks['bandwidth'] / 1e12:.2f} TB/s\n"
    )

    print("correctness (batch 8, against float64, within the kernel's rounding-error bound):")
    tuning.MAX_CANDIDATES = 1  # the checks need one compiled configuration each; the timing below tunes
    checks = [
        check_block(block, 8, device, None, dtype, tf32)
        for block in BLOCKS
        for dtype, tf32 in ((torch.float32, False), (torch.float32, True), (torch.bfloat16, False))
    ]
    tuning.MAX_CANDIDATES = args.max_candidates
    if not print_checks(checks):
        print("a correctness check failed: not timing a wrong kernel")
        write_json(args.out, dict(device=name, peaks=peaks, checks=checks, results=[]))
        return 1

    results: list[dict] = []
    skipped: list[str] = []
    tuning_seconds: dict[str, float] = {}
    for mode in MODES:
        set_tf32(mode == "tf32")
        for block in BLOCKS:
            left = args.budget_s - (time.perf_counter() - start)
            rows, tuned_s, skip = time_block(
                args, block, mode, peaks, allow_max_autotune=left >= args.max_autotune_reserve_s
            )
            results += rows
            tuning_seconds[f"{block.name}/{mode}"] = tuned_s
            skipped += [f"{line}: {left:.0f} s of the time budget left" for line in skip]
            torch._dynamo.reset()
    print(f"\nbatch {args.batch}; time = median of do_bench; % of floor = floor / time")
    print(
        f"{'block':16} {'mode':5} {'contender':28} {'ms':>8} {'TFLOP/s':>8} {'floor us':>9} {'% floor':>8} {'vs eager':>9}"
    )
    for r in results:
        if r.get("skipped"):
            print(f"{r['block']:16} {r['mode']:5} {r['contender']:28} {'skipped (time budget)':>45}")
            continue
        print(
            f"{r['block']:16} {r['mode']:5} {r['contender']:28} {r['median_ms']:8.3f} {r['tflops']:8.1f} "
            f"{r['floor_us']:9.1f} {100 * r['fraction_of_floor']:7.1f}% {r['speedup_vs_eager']:8.2f}x"
        )
    chosen = {
        f"{p.geometry.out_c}ch/{str(p.dtype).split('.')[-1]}/tf32={p.tf32}": asdict(c)
        for p, c in tuning.chosen_configs().items()
        if p.geometry.batch == args.batch
    }
    print(f"\ntuning (compile + correctness gate + timing), seconds: {json.dumps(tuning_seconds)}")
    print(f"chosen configurations: {json.dumps(chosen)}")

    network: list[dict] = []
    if args.whole_network:
        left = args.budget_s - (time.perf_counter() - start)
        network = whole_network(args, device, deadline=time.perf_counter() + max(left, 0.0))
    for line in skipped:
        print(f"skipped: {line}")
    write_json(
        args.out,
        dict(
            device=name,
            peaks=peaks,
            batch=args.batch,
            checks=checks,
            results=results,
            skipped=skipped,
            tuning_seconds=tuning_seconds,
            chosen_configs=chosen,
            whole_network=network,
            torch=torch.__version__,
            total_seconds=time.perf_counter() - start,
        ),
    )
    return 0


def whole_network(args: argparse.Namespace, device: str, deadline: float) -> list[dict]:
    """Images/s of specs/alexnet.net built by `alexnet_dsl.compile` for each backend, and torch.compile of it."""
    try:
        import alexnet_dsl

        build = alexnet_dsl.compile
    except (ImportError, AttributeError) as e:
        print(f"--whole-network needs alexnet_dsl.compile(spec, backend=...) -> nn.Module: {e}")
        return [dict(error=str(e))]

    contenders: list[tuple[str, Callable[[], torch.nn.Module]]] = [
        ("torch", lambda: build(SPEC, backend="torch")),
        ("triton", lambda: build(SPEC, backend="triton")),
        ("torch.compile(torch)", lambda: torch.compile(build(SPEC, backend="torch"))),
        # the fused kernels are custom ops: Inductor compiles everything around them in one graph
        ("torch.compile(triton)", lambda: torch.compile(build(SPEC, backend="triton"))),
    ]
    rows = []
    print(f"\nwhole network: {SPEC.name}, batch {args.batch}, inference")
    for mode, dtype in MODES.items():
        set_tf32(mode == "tf32")
        x = torch.randn(args.batch, 3, 227, 227, device=device, dtype=dtype) * 60
        for label, make in contenders:
            if time.perf_counter() > deadline:
                rows.append(dict(mode=mode, backend=label, skipped="time budget"))
                print(f"{mode:5} {label:22} skipped (time budget)")
                continue
            try:
                model = make().to(device=device, dtype=dtype).eval()
                with torch.no_grad():
                    model(x)
                    ms = bench(lambda model=model, x=x: model(x))
            except Exception as e:  # report and go on: one backend failing must not hide the others
                rows.append(dict(mode=mode, backend=label, error=f"{type(e).__name__}: {e}"))
                print(f"{mode:5} {label:22} failed: {type(e).__name__}: {e}")
                continue
            rows.append(dict(mode=mode, backend=label, median_ms=ms, images_per_s=args.batch / (ms * 1e-3)))
            print(f"{mode:5} {label:22} {ms:8.2f} ms  {args.batch / (ms * 1e-3):10.0f} images/s")
    return rows


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON (default benchmarks/results/gpu_blocks.json)"
    )
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--dry-run", action="store_true", help="the CPU path even where CUDA exists")
    parser.add_argument(
        "--whole-network", action="store_true", help="also time specs/alexnet.net per backend"
    )
    parser.add_argument(
        "--budget-s", type=float, default=420.0, help="time budget; max-autotune is skipped past it"
    )
    parser.add_argument(
        "--max-autotune-reserve-s",
        type=float,
        default=150.0,
        help="skip a max-autotune compile when less than this is left of the budget",
    )
    parser.add_argument("--max-candidates", type=int, default=3, help="tile configurations tried per problem")
    parser.add_argument("--peak-bf16", type=float, default=None, help="FLOP/s")
    parser.add_argument("--peak-tf32", type=float, default=None, help="FLOP/s")
    parser.add_argument("--bandwidth", type=float, default=None, help="bytes/s")
    args = parser.parse_args(argv)
    args.out_given = args.out is not None
    args.out = args.out or ROOT / "benchmarks" / "results" / "gpu_blocks.json"

    from alexnet_dsl.kernels import tuning

    tuning.MAX_CANDIDATES = args.max_candidates
    if args.dry_run or not torch.cuda.is_available():
        return dry_run(args)
    return gpu_run(args)


if __name__ == "__main__":
    sys.exit(main())

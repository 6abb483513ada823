"""Fused conv2d + bias + activation + LRN as one Triton kernel (implicit GEMM).

Motivation
----------
Eager PyTorch runs AlexNet's LRN as ~8 kernels and ~15 passes over the activation, which costs more than the
convolution before it (see /work/shared/REFERENCE.md). Here the convolution's accumulator tile stays in registers
and bias, the activation (ReLU, or any pointwise one of `reference.ACTIVATIONS`) and LRN are applied to it before
the one store.

Design
------
* GEMM view: row m = (n, oh, ow) of the output, column = output channel, reduction k = (ci, kh, kw) of one group,
  kw fastest, so k runs along contiguous memory of the NCHW input and of the (C_out, C_in/g, KH, KW) weight.
  Input and output are read and written through their strides, in the caller's layout: no NHWC conversion. The
  weight is used as it is when each filter is contiguous (always, for an nn.Conv2d), else copied once per call.
  Every load is masked (rows past N*OH*OW, k past C_in/g*KH*KW, padding pixels, padded channels).
* How a tile gets its neighbours. LRN needs, for channel c, the channels [c - size//2, c + (size-1)//2] of *all*
  output channels (the window crosses conv group boundaries: AlexNet conv2 has two groups of 128, and channels
  126..129 read the other group). With LRN, a program therefore owns all C_out channels of BLOCK_M output pixels:
  one fp32 accumulator per group (BLOCK_N = next power of two >= C_out/groups), kept in a tuple and computed by
  one 2-D `tl.dot` loop per group (2-D so sm_90 gets wgmma). Nothing is recomputed and no halo is reloaded.
  Without LRN the grid also tiles the channels (one group, BLOCK_N channels per program), as a plain conv does.
* The window sum is a banded matrix product: S_g = sum over groups g' of sq_g' @ band(g', g), with
  band[j, c] = 1 when channel g'*Cg + j lies in the window of g*Cg + c (built from iotas, never loaded), so odd and
  even sizes and the group crossing are all in one comparison. Pairs of groups the window cannot reach are skipped
  at compile time (for conv2, size 5: all 4 pairs are reached, since groups are adjacent).
  To run the band product on tensor cores and still be exact, a = ReLU(conv) squared is split into bf16 parts by
  truncating mantissa bits (hi = top 8 bits, then the next 8, then the rest): the parts are exact in bf16, their
  products with 0/1 are exact, and the accumulation is fp32, so 3 parts give S to fp32 summation accuracy. fp32
  (ieee) uses 3 parts, TF32 and 16-bit inputs use 2 (relative error <= 2**-16, below their own rounding).
* Extra cost of LRN: FLOPs = parts x 2 x BLOCK_M x (G x BLOCK_N)^2 per program, on bf16 tensor cores.
  conv1 (K = 363 padded to 384, C_out 96 padded to 128): +33% of the conv's MMA work per part;
  conv2 (K = 1200, 2 x 128 channels): +21% per part. Bytes: none: the squares never leave registers.
  Padding C_out to a power of two costs conv1 33% more MMA columns (96 -> 128); conv2 pads nothing.
* Precision: accumulation is fp32; fp32 inputs use `input_precision="ieee"` unless TF32 is allowed; float16 and
  bfloat16 inputs are multiplied as they are and rounded once, at the store.
* The interpreter (TRITON_INTERPRET=1, CPU tensors) cannot multiply bfloat16 matrices, so there (and only there)
  `DOT_IN_FP32` upcasts bf16 tiles before `tl.dot` (exact: bf16 x bf16 products fit in fp32) and the band product
  multiplies the bf16-rounded parts as fp32 values (the same numbers). Everything else is the same code.
* The activation is a compile-time string (`ACTIVATION`): one compiled variant per kind, each an `if` chain
  resolved at compile time, in fp32 on the accumulator. exp is `exp2(x log2 e)` (what `tl.exp` compiles to on
  NVIDIA GPUs, and the function whose accuracy `bounds.TRANSCENDENTAL` covers in the interpreter); Mish is
  x n / (n + 2) with n = e^x (e^x + 2), which equals x tanh(softplus(x)) without its cancellation; the
  branches that could overflow get clamped arguments. leaky_relu's slope and elu's alpha are a run-time scalar.
* Registers are the limit (docs/kernels.md has ptxas's counts): with 256 channels in registers, BLOCK_M=64 needs
  8 warps to stay near the 255-register ceiling; the tuner's candidates are ordered accordingly.

Layout of this file: kernel -> launcher (check, allocate, launch) -> the compile-time parameters shared with the
ahead-of-time compile in ``aot.py``. The pure-torch reference is in ``reference.py``; tuning is in ``tuning.py``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction
from triton.runtime.jit import JITFunction

from alexnet_dsl.kernels.tuning import Config, Problem

# The batch size is not specialised on (divisible by 16, or 1), so the tuner's correctness check on the first images
# runs the very binary that then runs the whole batch.
DO_NOT_SPECIALIZE = ("BATCH",)


@triton.jit(do_not_specialize=DO_NOT_SPECIALIZE)
def conv2d_act_lrn_kernel(
    # Pointers: input (N, C_in, H, W), weight (C_out, C_in/G, KH, KW) with contiguous filters, bias, output
    # (N, C_out, OH, OW); the input and output are read and written through their strides.
    x_ptr,
    w_ptr,
    bias_ptr,
    y_ptr,
    # Sizes
    BATCH,
    IN_H,
    IN_W,
    OUT_H,
    OUT_W,
    # Strides, in elements
    stride_xn,
    stride_xc,
    stride_xh,
    stride_xw,
    stride_wo,
    stride_yn,
    stride_yc,
    stride_yh,
    stride_yw,
    # Activation scalar (leaky_relu's slope, elu's alpha; unused by the others); LRN scalars: paper alpha, -beta, k
    act_param,
    lrn_alpha,
    lrn_neg_beta,
    lrn_k,
    # Convolution geometry
    GROUPS: tl.constexpr,
    GROUP_IN_C: tl.constexpr,
    GROUP_OUT_C: tl.constexpr,
    KERNEL_H: tl.constexpr,
    KERNEL_W: tl.constexpr,
    STRIDE_H: tl.constexpr,
    STRIDE_W: tl.constexpr,
    PAD_H: tl.constexpr,
    PAD_W: tl.constexpr,
    DIL_H: tl.constexpr,
    DIL_W: tl.constexpr,
    # Epilogue: ACTIVATION is a kind of reference.ACTIVATIONS; LRN_SIZE == 0 means no LRN; LRN_PARTS bf16 parts
    # of the squares feed the band product
    HAS_BIAS: tl.constexpr,
    ACTIVATION: tl.constexpr,
    LRN_SIZE: tl.constexpr,
    LRN_PARTS: tl.constexpr,
    LRN_DOT_BF16: tl.constexpr,
    # Precision of the convolution's tl.dot ("ieee" or "tf32"); DOT_IN_FP32 upcasts tiles (interpreter + bf16)
    DOT_PRECISION: tl.constexpr,
    DOT_IN_FP32: tl.constexpr,
    # Meta-parameters: groups per program (all of them with LRN, else 1), channel tiles per group
    GROUPS_PER_PROGRAM: tl.constexpr,
    N_TILES_PER_GROUP: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    K_GROUP: tl.constexpr = GROUP_IN_C * KERNEL_H * KERNEL_W
    tl.static_assert(LRN_SIZE == 0 or (N_TILES_PER_GROUP == 1 and GROUPS_PER_PROGRAM == GROUPS))
    tl.static_assert(BLOCK_N * N_TILES_PER_GROUP >= GROUP_OUT_C)

    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    first_group = (pid_n // N_TILES_PER_GROUP) * GROUPS_PER_PROGRAM

    # Rows of this tile: output pixels (n, oh, ow), ow fastest.
    idx_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,)
    idx_y_w = idx_m % OUT_W
    idx_y_h = (idx_m // OUT_W) % OUT_H
    idx_n = idx_m // (OUT_W * OUT_H)
    mask_m = idx_n < BATCH
    # Top-left input pixel of each row's receptive field (negative inside the padding).
    idx_x_h0 = idx_y_h * STRIDE_H - PAD_H
    idx_x_w0 = idx_y_w * STRIDE_W - PAD_W
    x_row_ptrs = x_ptr + idx_n * stride_xn  # (BLOCK_M,)

    # Columns: output channels within a group.
    idx_c = (pid_n % N_TILES_PER_GROUP) * BLOCK_N + tl.arange(0, BLOCK_N)  # (BLOCK_N,)
    mask_c = idx_c < GROUP_OUT_C

    # ---- implicit GEMM, one accumulator per group this program owns --------------------------------------------
    accs = ()
    for gg in tl.static_range(GROUPS_PER_PROGRAM):
        group = first_group + gg
        w_col_ptrs = w_ptr + (group * GROUP_OUT_C + idx_c) * stride_wo  # (BLOCK_N,)
        acc = tl.full((BLOCK_M, BLOCK_N), 0.0, dtype=tl.float32)
        for k0 in range(0, K_GROUP, BLOCK_K):
            # Column k of the GEMM is (input channel, kernel row, kernel column) of this group.
            idx_k = k0 + tl.arange(0, BLOCK_K)  # (BLOCK_K,)
            mask_k = idx_k < K_GROUP
            idx_w_i = idx_k // (KERNEL_H * KERNEL_W)
            idx_w_h = (idx_k // KERNEL_W) % KERNEL_H
            idx_w_w = idx_k % KERNEL_W

            # A tile: the input pixel each (row, k) reads, zero in the padding.
            idx_x_h = idx_x_h0[:, None] + (idx_w_h * DIL_H)[None, :]  # (BLOCK_M, BLOCK_K)
            idx_x_w = idx_x_w0[:, None] + (idx_w_w * DIL_W)[None, :]
            idx_x_c = group * GROUP_IN_C + idx_w_i
            x_ptrs = (
                x_row_ptrs[:, None]
                + (idx_x_c * stride_xc)[None, :]
                + idx_x_h * stride_xh
                + idx_x_w * stride_xw
            )
            mask_x = (
                mask_m[:, None]
                & mask_k[None, :]
                & (idx_x_h >= 0)
                & (idx_x_h < IN_H)
                & (idx_x_w >= 0)
                & (idx_x_w < IN_W)
            )
            a = tl.load(x_ptrs, mask=mask_x, other=0.0)

            # B tile: weight[group * GROUP_OUT_C + c, i, kh, kw] is at column offset k of output channel c: the
            # launcher passes a weight whose last three dims are contiguous, so the loads vectorise along k.
            w_ptrs = w_col_ptrs[None, :] + idx_k[:, None]  # (BLOCK_K, BLOCK_N)
            b = tl.load(w_ptrs, mask=mask_k[:, None] & mask_c[None, :], other=0.0)

            if DOT_IN_FP32:
                a = a.to(tl.float32)
                b = b.to(tl.float32)
            acc = tl.dot(a, b, acc, input_precision=DOT_PRECISION)
        accs = accs + (acc,)

    # ---- epilogue: bias, activation (fp32; 1.4426950408889634 = log2 e) ----------------------------------------
    outs = ()
    for gg in tl.static_range(GROUPS_PER_PROGRAM):
        out = accs[gg]
        if HAS_BIAS:
            bias = tl.load(bias_ptr + (first_group + gg) * GROUP_OUT_C + idx_c, mask=mask_c, other=0.0)
            out = out + bias.to(tl.float32)[None, :]
        if ACTIVATION == "relu":
            out = tl.maximum(out, 0.0)
        elif ACTIVATION == "relu6":
            out = tl.minimum(tl.maximum(out, 0.0), 6.0)
        elif ACTIVATION == "leaky_relu":
            out = tl.where(out > 0.0, out, out * act_param)
        elif (
            ACTIVATION == "elu"
        ):  # alpha (e^x - 1) for x <= 0; the argument clamped where the branch is unused
            out = tl.where(
                out > 0.0, out, act_param * (tl.exp2(tl.minimum(out, 0.0) * 1.4426950408889634) - 1.0)
            )
        elif ACTIVATION == "gelu":  # exact: x Phi(x)
            out = 0.5 * out * (1.0 + tl.erf(out * 0.7071067811865476))
        elif ACTIVATION == "silu":
            out = out / (1.0 + tl.exp2(out * -1.4426950408889634))
        elif ACTIVATION == "mish":  # x tanh(log(1 + e)) = x n / (n + 2), n = e (e + 2); x itself beyond 20
            e = tl.exp2(tl.minimum(out, 20.0) * 1.4426950408889634)
            n = e * (e + 2.0)
            out = tl.where(out > 20.0, out, out * (n / (n + 2.0)))
        elif ACTIVATION == "hardswish":
            out = out * (tl.minimum(tl.maximum(out + 3.0, 0.0), 6.0) / 6.0)
        elif ACTIVATION == "hardsigmoid":
            out = tl.minimum(tl.maximum(out + 3.0, 0.0), 6.0) / 6.0
        elif ACTIVATION == "tanh":  # (1 - e) / (1 + e), e = e^(-2|x|) <= 1, the sign put back
            e = tl.exp2(tl.abs(out) * -2.8853900817779268)
            t = (1.0 - e) / (1.0 + e)
            out = tl.where(out < 0.0, -t, t)
        elif ACTIVATION == "sigmoid":
            out = 1.0 / (1.0 + tl.exp2(out * -1.4426950408889634))
        else:
            tl.static_assert(ACTIVATION == "identity")
        outs = outs + (out,)

    # ---- epilogue: LRN over all channels, b = a * (k + alpha * S) ** -beta ----------------------------------------
    if LRN_SIZE > 0:
        # The squares as LRN_PARTS bf16 parts: each but the last keeps the top 8 mantissa bits of what is left (a
        # truncation, so `sq - part` is exact in fp32); the last part is the rest (exact in bf16 when there are 3
        # parts, rounded when there are 2). Padded channels are 0 and stay 0.
        parts = ()
        for gg in tl.static_range(GROUPS_PER_PROGRAM):
            sq = outs[gg] * outs[gg]
            for p in tl.static_range(LRN_PARTS):
                if p < LRN_PARTS - 1:
                    part = (sq.to(tl.int32, bitcast=True) & -65536).to(tl.float32, bitcast=True)
                else:
                    part = sq
                sq = sq - part
                if LRN_DOT_BF16:
                    parts = parts + (part.to(tl.bfloat16),)
                else:  # interpreter: the same bf16 values, multiplied as fp32 (it has no bf16 matmul)
                    parts = parts + (part.to(tl.bfloat16).to(tl.float32),)

        # band(src, dst)[j, c] = 1 when channel src*Cg + j is in the window of dst*Cg + c:
        #     -(size//2) <= (src*Cg + j) - (dst*Cg + c) <= (size-1)//2
        idx_src = tl.arange(0, BLOCK_N)[:, None]  # j, (BLOCK_N, 1)
        idx_dst = tl.arange(0, BLOCK_N)[None, :]  # c, (1, BLOCK_N)
        normalised = ()
        for dst in tl.static_range(GROUPS_PER_PROGRAM):
            window_sum = tl.full((BLOCK_M, BLOCK_N), 0.0, dtype=tl.float32)
            for src in tl.static_range(GROUPS_PER_PROGRAM):
                # Skip group pairs the window cannot reach (decided at compile time).
                if (src - dst) * GROUP_OUT_C - (GROUP_OUT_C - 1) <= (LRN_SIZE - 1) // 2 and (
                    src - dst
                ) * GROUP_OUT_C + (GROUP_OUT_C - 1) >= -(LRN_SIZE // 2):
                    delta = (src - dst) * GROUP_OUT_C + idx_src - idx_dst
                    in_window = (
                        (delta >= -(LRN_SIZE // 2))
                        & (delta <= (LRN_SIZE - 1) // 2)
                        & (idx_src < GROUP_OUT_C)
                        & (idx_dst < GROUP_OUT_C)
                    )
                    band = tl.where(in_window, 1.0, 0.0)
                    if LRN_DOT_BF16:
                        band = band.to(tl.bfloat16)
                    for p in tl.static_range(LRN_PARTS):
                        window_sum = tl.dot(
                            parts[src * LRN_PARTS + p], band, window_sum, input_precision="ieee"
                        )
            scale = tl.exp2(tl.log2(lrn_k + lrn_alpha * window_sum) * lrn_neg_beta)
            normalised = normalised + (outs[dst] * scale,)
        outs = normalised

    # ---- store -------------------------------------------------------------------------------------------------
    y_row_ptrs = y_ptr + idx_n * stride_yn + idx_y_h * stride_yh + idx_y_w * stride_yw  # (BLOCK_M,)
    for gg in tl.static_range(GROUPS_PER_PROGRAM):
        idx_y_c = (first_group + gg) * GROUP_OUT_C + idx_c
        y_ptrs = y_row_ptrs[:, None] + (idx_y_c * stride_yc)[None, :]
        tl.store(y_ptrs, outs[gg].to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_c[None, :])


# ---- launcher -------------------------------------------------------------------------------------------------

# Output buffers are filled with NaN before the launch when this is set (tests), so an element the kernel does not
# write shows up as NaN instead of as stale memory that happens to be right.
POISON_ENV = "ALEXNET_DSL_POISON_OUTPUT"

_INTERPRETED: InterpretedFunction | None = None
_COMPILED: JITFunction | None = None


def interpreter_enabled() -> bool:
    """Whether TRITON_INTERPRET is set now (read at call time; the interpreter is chosen per launch)."""
    return bool(triton.knobs.runtime.interpret)


def runs_interpreted(device: torch.device) -> bool:
    """CPU tensors run in the interpreter (TRITON_INTERPRET=1 required); CUDA tensors compile unless it is set."""
    if device.type == "cpu":
        if not interpreter_enabled():
            raise RuntimeError(
                "fused_conv2d got CPU tensors, but Triton kernels run on CPU only in the interpreter: set "
                "TRITON_INTERPRET=1 (slow, for tests), or move the tensors to a CUDA device"
            )
        return True
    if device.type == "cuda":
        return interpreter_enabled()
    raise RuntimeError(
        f"fused_conv2d has no Triton backend for device `{device}` (CUDA, or CPU with TRITON_INTERPRET=1)"
    )


def kernel(interpreted: bool) -> JITFunction | InterpretedFunction:
    """The kernel as compiled (JIT) or interpreted function, whatever TRITON_INTERPRET was at import time.

    `@triton.jit` picks one of the two when the module is imported; building both from the same Python function
    lets the choice follow the tensors' device at call time, so the order of imports does not matter. The kernel
    calls only builtins (no `tl.zeros` or `tl.sum`, which are themselves jit functions fixed at import).
    """
    global _INTERPRETED, _COMPILED
    fn = conv2d_act_lrn_kernel.fn
    if interpreted:
        if _INTERPRETED is None:
            _INTERPRETED = InterpretedFunction(fn)
        return _INTERPRETED
    if _COMPILED is None:
        if isinstance(conv2d_act_lrn_kernel, JITFunction):
            _COMPILED = conv2d_act_lrn_kernel
        else:
            _COMPILED = JITFunction(fn, do_not_specialize=DO_NOT_SPECIALIZE)
    return _COMPILED


def kernel_constexprs(problem: Problem, config: Config, interpreted: bool) -> dict[str, Any]:
    """Compile-time arguments of :func:`conv2d_act_lrn_kernel` for one problem and tile configuration."""
    geometry = problem.geometry
    with_lrn = problem.lrn is not None
    fp32_ieee = problem.dtype == torch.float32 and not problem.tf32
    return dict(
        GROUPS=geometry.groups,
        GROUP_IN_C=geometry.group_in_c,
        GROUP_OUT_C=geometry.group_out_c,
        KERNEL_H=geometry.kernel_h,
        KERNEL_W=geometry.kernel_w,
        STRIDE_H=geometry.stride[0],
        STRIDE_W=geometry.stride[1],
        PAD_H=geometry.padding[0],
        PAD_W=geometry.padding[1],
        DIL_H=geometry.dilation[0],
        DIL_W=geometry.dilation[1],
        HAS_BIAS=problem.has_bias,
        ACTIVATION=problem.activation.kind,
        LRN_SIZE=problem.lrn.size if with_lrn else 0,
        LRN_PARTS=3 if fp32_ieee else 2,
        LRN_DOT_BF16=not interpreted,
        DOT_PRECISION="tf32" if problem.tf32 else "ieee",
        DOT_IN_FP32=interpreted and problem.dtype == torch.bfloat16,
        GROUPS_PER_PROGRAM=geometry.groups if with_lrn else 1,
        N_TILES_PER_GROUP=triton.cdiv(geometry.group_out_c, config.block_n),
        BLOCK_M=config.block_m,
        BLOCK_N=config.block_n,
        BLOCK_K=config.block_k,
    )


def kernel_args(problem: Problem, x: Any, weight: Any, bias: Any, out: Any) -> list[Any]:
    """Run-time arguments of :func:`conv2d_act_lrn_kernel`, in order (tensors, or stand-ins with `stride()`)."""
    geometry, lrn = problem.geometry, problem.lrn
    return [
        x,
        weight,
        bias if bias is not None else weight,  # never read when HAS_BIAS is False
        out,
        geometry.batch,
        geometry.in_h,
        geometry.in_w,
        geometry.out_h,
        geometry.out_w,
        *x.stride(),
        weight.stride(0),
        *out.stride(),
        float(problem.activation.param),
        float(lrn.alpha) if lrn else 0.0,
        -float(lrn.beta) if lrn else 0.0,
        float(lrn.k) if lrn else 0.0,
    ]


def grid(problem: Problem, config: Config) -> tuple[int, int]:
    """(row tiles, channel tiles): with LRN one program covers every channel of its rows."""
    geometry = problem.geometry
    n_tiles = (
        1 if problem.lrn is not None else geometry.groups * triton.cdiv(geometry.group_out_c, config.block_n)
    )
    return triton.cdiv(geometry.gemm_m, config.block_m), n_tiles


def launch(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    problem: Problem,
    config: Config,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the kernel once with a given configuration; arguments must already be checked (`check_conv_args`)."""
    geometry = problem.geometry
    if not weight[0].is_contiguous():
        weight = weight.contiguous()  # the kernel reads each output channel's filter as one contiguous row
    interpreted = runs_interpreted(x.device)

    shape = (geometry.batch, geometry.out_c, geometry.out_h, geometry.out_w)
    if out is None:
        if os.environ.get(POISON_ENV) == "1":
            out = torch.full(shape, float("nan"), dtype=x.dtype, device=x.device)
        else:
            out = torch.empty(shape, dtype=x.dtype, device=x.device)
    assert tuple(out.shape) == shape and out.dtype == x.dtype, "output buffer does not match the problem"
    for name, t in (("x", x), ("weight", weight), ("output", out)):
        if sum((size - 1) * stride for size, stride in zip(t.shape, t.stride())) >= 2**31 - 1:
            raise ValueError(f"`{name}` spans 2**31 elements or more; the kernel indexes with int32")

    kernel(interpreted)[grid(problem, config)](
        *kernel_args(problem, x, weight, bias, out),
        **kernel_constexprs(problem, config, interpreted),
        num_warps=config.num_warps,
        num_stages=config.num_stages,
        enable_fp_fusion=True,
    )
    return out

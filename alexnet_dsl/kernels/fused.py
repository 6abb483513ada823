"""`fused_conv2d`: the differentiable entry point to the Triton conv + bias + activation + LRN kernel.

Forward runs the kernel (``conv_lrn.py``), imported on first use so that this package imports without triton.
Backward recomputes the convolution and applies the activation's and LRN's derivatives in plain tensor ops
(``fused_conv2d_backward_reference``, tested against autograd through the reference); it costs one extra forward
convolution. The forward is a torch.library custom op (`torch.ops.alexnet_dsl.fused_conv2d`) with a shape rule and
this backward registered, so torch.compile keeps a model that calls it in one graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from alexnet_dsl.kernels.bounds import bound_violations, fused_conv2d_error_bound
from alexnet_dsl.kernels.reference import (
    Activation,
    ConvGeometry,
    IntPair,
    LRNParams,
    check_conv_args,
    fused_conv2d_backward_reference,
)
from alexnet_dsl.kernels.tuning import Config, Problem, choose_config, configs_for

if TYPE_CHECKING:
    from types import ModuleType

# Images of the problem a configuration must reproduce before it may be chosen: every output element within the
# rounding-error bound of the kernel's precision mode around the float64 value (`gate_reference`).
_CHECK_IMAGES = 2


def triton_available(device: str | torch.device | None = None) -> tuple[bool, str]:
    """Whether the Triton kernels can run in this process, and why (not).

    With ``device`` None: on any device (a CUDA GPU, or the interpreter for CPU tensors); else on that device.
    """
    try:
        import triton
    except ModuleNotFoundError as e:
        return False, f"triton is not installed ({e}; pip install 'alexnet-dsl[triton]')"
    except Exception as e:  # a broken install should say so, not crash the caller
        return False, f"triton failed to import: {type(e).__name__}: {e}"
    interpret = bool(triton.knobs.runtime.interpret)
    kind = None if device is None else torch.device(device).type
    if kind in (None, "cpu") and interpret:
        return True, "TRITON_INTERPRET=1: CPU tensors run in the Triton interpreter"
    if kind == "cpu":
        return False, "CPU tensors need the Triton interpreter: set TRITON_INTERPRET=1 before running"
    if kind not in (None, "cuda"):
        return False, f"no Triton backend for device type `{kind}`"
    if not torch.cuda.is_available():
        return False, "no CUDA device is available and TRITON_INTERPRET is not set to 1"
    major, minor = torch.cuda.get_device_capability()
    name = torch.cuda.get_device_name()
    if interpret:
        return True, f"TRITON_INTERPRET=1: CUDA tensors ({name}) run in the Triton interpreter, slowly"
    return True, f"CUDA device {name} (sm_{major}{minor})"


def _kernels() -> ModuleType:
    """The triton-dependent module, imported on first use."""
    from alexnet_dsl.extras import require

    require("triton", what="fused_conv2d")  # not installed: one line naming the extra
    try:
        from alexnet_dsl.kernels import conv_lrn
    except ImportError as e:
        raise RuntimeError(f"fused_conv2d needs Triton: {triton_available()[1]} ({e})") from e
    return conv_lrn


def resolve_tf32(dtype: torch.dtype, allow_tf32: bool | None) -> bool:
    """TF32 for float32 inputs: explicit, or cuDNN's switch as eager `F.conv2d` follows it (16-bit: never)."""
    if dtype != torch.float32:
        return False
    return bool(torch.backends.cudnn.allow_tf32) if allow_tf32 is None else bool(allow_tf32)


def make_problem(
    geometry: ConvGeometry,
    x: torch.Tensor,
    has_bias: bool,
    activation: Activation,
    lrn: LRNParams | None,
    tf32: bool,
) -> Problem:
    interpreted = _kernels().runs_interpreted(x.device)
    if interpreted:
        target = "interpreter"
    else:
        major, minor = torch.cuda.get_device_capability(x.device)
        target = f"cuda:sm{major}{minor}"
    return Problem(geometry, x.dtype, tf32, has_bias, activation, lrn, target)


def gate_reference(
    problem: Problem, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the problem's function of `x` in float64, the bound on the kernel's rounding error in its precision
    mode): what a configuration's output must match, element by element, to pass the gate
    (`bounds.fused_conv2d_error_bound`).

    A-priori and per element, so it holds on every GPU and for every tile shape and summation order, and it scales
    with the magnitudes that make the error (the pre-LRN sums of |w||x|), not with the output's maximum."""
    geometry = problem.geometry
    return fused_conv2d_error_bound(
        x,
        weight,
        bias,
        stride=geometry.stride,
        padding=geometry.padding,
        dilation=geometry.dilation,
        groups=geometry.groups,
        activation=problem.activation,
        lrn=problem.lrn,
        tf32=problem.tf32,
    )


def select_config(
    problem: Problem,
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> Config:
    """The cached or newly tuned configuration for `problem` (see tuning.py for the rules)."""
    conv_lrn = _kernels()
    candidates = configs_for(problem)
    if problem.interpreted:
        # One configuration and nothing to miscompile: the interpreter executes the kernel's Python.
        return choose_config(problem, candidates, check=lambda config: None, bench=lambda config: 0.0)

    geometry = problem.geometry
    images = min(geometry.batch, _CHECK_IMAGES)
    small = problem.with_batch(images)
    x_small = x[:images]
    exact, bound = gate_reference(small, x_small, weight, bias)

    def check(config: Config) -> str | None:
        out = torch.full_like(exact, float("nan"), dtype=x.dtype)
        conv_lrn.launch(x_small, weight, bias, small, config, out=out)
        torch.cuda.synchronize(x.device)
        return bound_violations(out, exact, bound)

    out_full = torch.empty(
        (geometry.batch, geometry.out_c, geometry.out_h, geometry.out_w), dtype=x.dtype, device=x.device
    )

    def bench(config: Config) -> float:
        import triton.testing

        return triton.testing.do_bench(
            lambda: conv_lrn.launch(x, weight, bias, problem, config, out=out_full), warmup=5, rep=25
        )

    return choose_config(problem, candidates, check, bench)


# The kernel is a torch.library custom op: torch.compile sees one opaque node with a shape rule (no graph break on
# the Python tuner or the launcher), and autograd uses the backward registered below. The activation travels as its
# kind and argument, the LRN as [size, alpha, beta, k] (empty: none), because op schemas take plain types.
_SCHEMA_ARGS = (
    "Tensor x, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] dilation, int groups, "
    "str activation, float activation_param, float[] lrn, bool tf32"
)


def _unpack(x, weight, bias, stride, padding, dilation, groups, lrn) -> tuple[ConvGeometry, LRNParams | None]:
    params = LRNParams(int(lrn[0]), lrn[1], lrn[2], lrn[3]) if lrn else None
    return check_conv_args(
        x, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups, params
    ), params


@torch.library.custom_op("alexnet_dsl::fused_conv2d", mutates_args=(), schema=f"({_SCHEMA_ARGS}) -> Tensor")
def _fused_conv2d_op(
    x, weight, bias, stride, padding, dilation, groups, activation, activation_param, lrn, tf32
):
    geometry, params = _unpack(x, weight, bias, stride, padding, dilation, groups, lrn)
    act = Activation(activation, activation_param)
    problem = make_problem(geometry, x, bias is not None, act, params, tf32)
    config = select_config(problem, x, weight, bias)
    return _kernels().launch(x, weight, bias, problem, config)


@_fused_conv2d_op.register_fake
def _(x, weight, bias, stride, padding, dilation, groups, activation, activation_param, lrn, tf32):
    sizes = [x.shape[0], weight.shape[0]]
    for i in range(2):  # plain arithmetic, so symbolic sizes under torch.compile stay symbolic
        window = dilation[i] * (weight.shape[2 + i] - 1) + 1
        sizes.append((x.shape[2 + i] + 2 * padding[i] - window) // stride[i] + 1)
    return x.new_empty(sizes)


def _setup_context(ctx, inputs, output) -> None:
    x, weight, bias, *rest = inputs
    ctx.save_for_backward(x, weight, bias)
    ctx.rest = rest


def _backward(ctx, grad_out):
    """The reference's gradients, in plain tensor ops (traceable by torch.compile); recomputes the convolution."""
    x, weight, bias = ctx.saved_tensors
    stride, padding, dilation, groups, activation, activation_param, lrn, tf32 = ctx.rest
    geometry, params = _unpack(x, weight, bias, stride, padding, dilation, groups, lrn)
    needs = (bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1]), bool(ctx.needs_input_grad[2]))
    act = Activation(activation, activation_param)
    grads = fused_conv2d_backward_reference(grad_out, x, weight, bias, geometry, act, params, tf32, needs)
    return (*grads, None, None, None, None, None, None, None, None)


_fused_conv2d_op.register_autograd(_backward, setup_context=_setup_context)


def fused_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    stride: int | IntPair = (1, 1),
    padding: int | IntPair = (0, 0),
    dilation: int | IntPair = (1, 1),
    groups: int = 1,
    activation: Activation | str | tuple[str, float] | None = "relu",
    lrn: LRNParams | None = None,
    allow_tf32: bool | None = None,
) -> torch.Tensor:
    """conv2d + bias + activation (+ LRN over all output channels) in one Triton kernel; differentiable.

    ``activation``: a kind of ``reference.ACTIVATIONS`` (``"relu"``, ``"silu"``, ``"gelu"`` (exact), ...),
    ``(kind, argument)`` for leaky_relu's slope or elu's alpha, an :class:`Activation`, or None (none).

    Takes and returns NCHW tensors of one dtype (float32, float16 or bfloat16; fp32 accumulation). float32 is
    exact fp32 unless TF32 is allowed: ``allow_tf32`` None follows ``torch.backends.cudnn.allow_tf32`` like eager
    ``F.conv2d``. CUDA tensors compile the kernel; CPU tensors run it in the Triton interpreter, which must be
    switched on with TRITON_INTERPRET=1 (otherwise RuntimeError: there is no silent fallback).
    """
    geometry = check_conv_args(x, weight, bias, stride, padding, dilation, groups, lrn)
    act = Activation.of(activation)
    if allow_tf32 is not None and not isinstance(allow_tf32, bool):
        raise TypeError(f"`allow_tf32` must be a bool or None, got {type(allow_tf32).__name__}")
    tf32 = resolve_tf32(x.dtype, allow_tf32)
    if x.device.type == "meta":  # shapes only (alexnet_dsl.testing.assert_shapes): nothing to launch
        return x.new_empty((geometry.batch, geometry.out_c, geometry.out_h, geometry.out_w))
    packed = [] if lrn is None else [float(lrn.size), float(lrn.alpha), float(lrn.beta), float(lrn.k)]
    return _fused_conv2d_op(
        x,
        weight,
        bias,
        list(geometry.stride),
        list(geometry.padding),
        list(geometry.dilation),
        geometry.groups,
        act.kind,
        float(act.param),
        packed,
        tf32,
    )

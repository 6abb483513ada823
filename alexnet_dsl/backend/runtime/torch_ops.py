"""What a generated module defines besides its class, written as it is emitted: pure-torch helpers for where plain
PyTorch is slow on the CPU.

Codegen copies the regions below verbatim (`backend/prelude.py`): each `# emit: NAME` line starts one, the next
marker ends it, and a generated file contains the regions its layers need. So this is the code as generated files
have it: torch as `torch`, `F` and `nn`, helpers named with a leading `_` (no layer's Python name can be one),
nothing imported but torch. (The one exception: in a network named like an import, `network F`, the file imports
that one as `_F`, and its uses here become `_F.pad`; see `backend/prelude.py`.) Tests, benchmarks and hand-written
modules use the public names at the end.

Every function here is differentiable, works on any device and under `torch.compile(fullgraph=True)` and
`torch.export`; each takes its fast path by itself when no gradient is needed (eval under `torch.no_grad` /
`torch.inference_mode`), so the same generated code serves training and inference:

- `lrn(x, size, alpha, beta, k, inplace=False)`: local response normalisation with the paper's alpha.
- `linear(x, weight, bias, relu=False)`: `F.linear` (+ ReLU) through oneDNN instead of MKL's sgemm.
- `to_fast_layout(x)` / `fast_layout_(module)`: `torch.channels_last` for activations / conv weights.

How a generated module should use them (`benchmarks/_reference_alexnet.py:PrototypeAlexNet` is the model; `ops`
is this module, as the benchmarks import it):

1. End of `__init__`, after every parameter exists (and after any custom init): `ops.fast_layout_(self)`. Conv
   weights become channels_last; `load_state_dict` later copies into them and keeps the layout.
2. Start of `forward`: `x = ops.to_fast_layout(x)`. Convs, ReLU, `lrn` and `F.max_pool2d` then all stay in
   channels_last. Never call `.contiguous()` or `.view()` on activations (the first silently goes back to
   NCHW, the second fails); `torch.flatten(x, 1)` yields PyTorch's (c, h, w) order whatever the memory format.
3. In place, only on a value whose sole reader is the next op (the chained `x = ...` of generated code):
   - `F.relu(y, inplace=True)` when `y` comes from a conv, linear, batch norm, pool, `lrn` or an addition:
     their backward does not read their output, so this is safe in training too. Never after softmax, sigmoid,
     tanh, exp or another ReLU (their backward reads the output), and never on the module's input.
   - `ops.lrn(y, ..., inplace=True)`: overwrites `y` only when no gradient is needed, so it too is safe in
     training.
4. A linear layer is called as its module, `ops.fast_call(self.fc, x)`: hooks fire, `quantize_dynamic` and a
   replaced head work, and `OneDNNLinear` still routes its `F.linear` to `ops.linear` (oneDNN). (The prototype
   calls `ops.linear(x, fc.weight, fc.bias, relu=True)` directly, the speed bound.) Dropout ->
   `F.dropout(x, p, self.training)`; softmax -> `F.softmax(x, dim=1)`.
5. `ops.lrn` takes the spec's alpha as written (not divided by size).

Measured with `benchmarks/cpu_forward.py` (`--ops` for single ops) on the development machine: a 2-core AMD
EPYC VM with AVX-512, torch 2.13 CPU build, 2 threads, float32, batch 16, medians of interleaved runs. The
whole network (the prototype, five runs): eager 0.47-0.51x the eager `nn.Sequential` (1 thread: 0.50-0.53x);
under `torch.compile` 0.75-0.84x the compiled Sequential, which itself runs at 0.55-0.62x the eager one.

- `nn.LocalResponseNorm` on conv1's output [16, 96, 55, 55]: 52-61 ms, `lrn` 6.3-8.0 ms (0.11-0.13x); on
  conv2's [16, 256, 27, 27]: 35-39 ms -> 3.7-4.8 ms. The window sum is shifted in-place `addcmul_`s, one pass
  each (a pass over conv1's output costs about a copy, 0.7 ms). Tried on the same data: a banded C x C matmul
  over channels (12-14 ms, worse for C = 256 as the band wastes C / size of the FLOPs), a cumulative sum and
  difference (13-16 ms, and 1e-5 relative error from cancellation), avg_pool over an [N, 1, C, H*W] view
  (27-50 ms).
- The passes run on batch slices of about 2 MB so that they hit the cache: 8.7 -> 5.7 ms on conv1's output,
  4.5 -> 3.3 ms on conv2's (1 thread: 13.2 -> 9.0 and 7.3 -> 5.4).
- Writing into a fresh output costs page faults, not compute: inside the network, LRN on conv1's output took
  9.8 ms into a new tensor and 6.0 ms in place (with glibc told never to return memory: 5.5 ms); hence
  `inplace`.
- `t ** -0.75` dominated the rest: `torch.pow` 6.7 ms on conv1's output against 0.9 ms for `rsqrt` and 1.5 ms
  for `sqrt`, so `r = rsqrt(t); r * sqrt(r)` (exact to a few ulp, no overflow for large t) replaces it.
- Max-pool 3/2 on conv1's output: 17.8 ms in NCHW, 1.4-2.0 ms in channels_last (vectorised over channels).
  Convs in channels_last against NCHW: conv1 0.8-1.0x, conv2 0.89-0.96x, conv3-5 0.92-0.96x. All run near the
  machine's peak FLOP rate (about 90 ms of the ~125 ms forward), which bounds the network at about 0.45x the
  baseline.
- fc6 + ReLU (9216 -> 4096, batch 16): `F.linear` (MKL) 20.5 ms, oneDNN's `mkldnn::_linear_pointwise` 11.1 ms;
  fc7 8.7 -> 5.2 ms. It is wrapped in the custom op `alexnet_dsl::onednn_linear` because Inductor cannot lower
  the raw op; as an opaque external kernel it keeps the speed-up under `torch.compile`.
- `fast_call(fc, x)` (the module called under `OneDNNLinear`) against `linear(x, fc.weight, fc.bias)`: 6-17 us
  more per call on a tiny layer (the mode's entry and Python dispatch; the custom op itself costs 26-70 us), so
  about 0.05 ms on AlexNet's three fc layers; fc7 at batch 16: 21.2 ms against 20.1 ms (medians, a loaded
  machine), `nn.Linear` through MKL 32.3 ms. (`--ops`, row "fc7 module + relu".)
- Tried and dropped: NNPACK convolutions (1.4-3x slower), conv weights prepacked for oneDNN with ReLU fused
  (`mkldnn::_convolution_pointwise`: same kernel, within noise, and a weight cache to keep in sync).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["OneDNNLinear", "fast_call", "fast_layout_", "linear", "lrn", "plain_module", "to_fast_layout"]


# emit: inv_pow
def _inv_pow(t: torch.Tensor, beta: float) -> torch.Tensor:
    """``t ** -beta``, out of place and differentiable; rsqrt/sqrt instead of pow for the common betas."""
    if beta == 0.75:
        r = torch.rsqrt(t)
        return r * torch.sqrt(r)
    if beta == 0.5:
        return torch.rsqrt(t)
    if beta == 1.0:
        return torch.reciprocal(t)
    return torch.pow(t, -beta)


def _inv_pow_(t: torch.Tensor, beta: float) -> torch.Tensor:
    """``t ** -beta`` in place (returns ``t``). No autograd."""
    if beta == 0.75:
        t.rsqrt_()
        return t.mul_(torch.sqrt(t))
    if beta == 0.5:
        return t.rsqrt_()
    if beta == 1.0:
        return t.reciprocal_()
    return t.pow_(-beta)


# emit: needs_grad
def _needs_grad(*tensors: torch.Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


# emit: lrn
def _traced() -> bool:
    """Inside torch.compile or torch.export, where the graph compiler (not eager dispatch) decides speed."""
    return torch.compiler.is_compiling()


def _lrn(
    x: torch.Tensor,
    size: int,
    alpha: float,
    beta: float,
    k: float,
    *,
    inplace: bool = False,
) -> torch.Tensor:
    """Local response normalisation across channels (dim 1) of [N, C, ...] input, with the paper's alpha.

        b_c = a_c / (k + alpha * S_c) ** beta
        S_c = sum of a_j ** 2 for j in [c - size//2, c + (size-1)//2] ∩ [0, C-1]

    Equals ``F.local_response_norm(x, size, alpha * size, beta, k)`` (which divides alpha by size) for every
    size, borders included, and also takes 2-D [N, C] input. Keeps channels_last input in channels_last.

    ``inplace=True`` lets the fast path (no gradient needed) write the result into ``x`` and return it, which
    saves allocating (and page-faulting) a fresh output: pass it when ``x`` is a temporary that nothing else
    reads. When a gradient is needed the result is always a new tensor.

    >>> x = torch.tensor([[3.0, 4.0]])
    >>> _lrn(x, size=3, alpha=1.0, beta=0.5, k=0.0)  # both windows cover both channels: x / |x|
    tensor([[0.6000, 0.8000]])
    """
    if size < 1:
        raise ValueError(f"_lrn: size must be >= 1, got {size}")
    if x.dim() < 2:
        raise ValueError(f"_lrn: expected at least 2 dims [N, C, ...], got shape {tuple(x.shape)}")
    C = x.shape[1]
    below = min(size // 2, C - 1)  # channels j < c in the window, clipped at the border
    above = min((size - 1) // 2, C - 1)  # channels j > c
    if _needs_grad(x) or _traced():
        # Out of place: autograd records it, and Inductor fuses it into about one pass over the tensor.
        sq = x * x
        padded = F.pad(sq, [0, 0] * (x.dim() - 2) + [below, above])  # zeros outside [0, C-1]
        s = padded.narrow(1, 0, C)
        for i in range(1, below + above + 1):
            s = s + padded.narrow(1, i, C)
        return x * _inv_pow(k + alpha * s, beta)
    # Fast path: in place, 9 passes over the data for size 5 and beta 0.75, a batch slice of about 2 MB at a
    # time so that the passes hit the cache (conv1's output: 8.7 -> 5.7 ms at 2 threads; slices of 1 MB: 5.8,
    # 4 MB: 5.6, 8 MB: 6.1, the whole tensor: 8.5).
    out = x if inplace else torch.empty_like(x)
    k_ = torch.full((), k, dtype=x.dtype, device=x.device)
    sample_bytes = max(1, x.numel() // max(1, x.shape[0]) * x.element_size())
    step = max(1, (2 << 20) // sample_bytes) if x.device.type == "cpu" else max(1, x.shape[0])
    for start in range(0, x.shape[0], step):
        a = x[start : start + step]
        s = torch.addcmul(k_, a, a, value=alpha)  # k + alpha * a_c^2
        for d in range(1, below + 1):
            a_lo = a.narrow(1, 0, C - d)
            s.narrow(1, d, C - d).addcmul_(a_lo, a_lo, value=alpha)  # + alpha * a_{c-d}^2
        for d in range(1, above + 1):
            a_hi = a.narrow(1, d, C - d)
            s.narrow(1, 0, C - d).addcmul_(a_hi, a_hi, value=alpha)  # + alpha * a_{c+d}^2
        torch.mul(a, _inv_pow_(s, beta), out=out[start : start + step])
    return out


# emit: plain_module
def _plain_module(module: nn.Module, cls: type) -> bool:
    """Whether ``module(x)`` would run ``cls.forward`` and nothing else, so that a fused kernel may stand in for
    the call: ``module`` is exactly a ``cls`` (not a replacement or a subclass), its ``forward`` is not
    overridden, and no hook, its own or global, is registered (the test ``nn.Module.__call__`` makes itself)."""
    from torch.nn.modules import module as _m

    return (
        type(module) is cls
        and "forward" not in module.__dict__
        and not (
            module._forward_hooks
            or module._forward_pre_hooks
            or module._backward_hooks
            or module._backward_pre_hooks
        )
        and not (
            _m._global_forward_hooks
            or _m._global_forward_pre_hooks
            or _m._global_backward_hooks
            or _m._global_backward_pre_hooks
        )
    )


# emit: fold
_ACTIVATIONS = {
    "relu": F.relu,
    "relu6": F.relu6,
    "leaky_relu": F.leaky_relu,  # (x, slope)
    "elu": F.elu,  # (x, alpha)
    "gelu": F.gelu,
    "silu": F.silu,
    "mish": F.mish,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def _activate(x: torch.Tensor, act: str | tuple | None) -> torch.Tensor:
    """The activation `act` (its kind, or (kind, argument)) in PyTorch ops; `x` itself for None."""
    if act is None:
        return x
    kind, *argument = (act,) if isinstance(act, str) else act
    return _ACTIVATIONS[kind](x, *argument)


def _folded(conv: nn.Conv2d, bn: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """(weight, bias) of the one conv computing bn(conv(x)) (conv(x) for no bn): w s and (b - mean) s + beta with
    s = gamma / sqrt(var + eps); None where the batchnorm uses batch statistics or is more than BatchNorm2d."""
    if bn is None:
        return conv.weight, conv.bias
    if (
        bn.training
        or bn.running_mean is None
        or bn.running_var is None
        or not _plain_module(bn, nn.BatchNorm2d)
    ):
        return None
    dtype = conv.weight.dtype
    wide = torch.promote_types(dtype, torch.float32)  # 16-bit parameters: the fold rounds once, at the end

    def w(t: torch.Tensor) -> torch.Tensor:
        return t.to(wide)

    std = torch.sqrt(w(bn.running_var) + bn.eps)
    scale = 1 / std if bn.weight is None else w(bn.weight) / std
    mean = w(bn.running_mean)
    shift = -mean * scale if conv.bias is None else (w(conv.bias) - mean) * scale
    shift = shift if bn.bias is None else shift + w(bn.bias)
    return (w(conv.weight) * scale.reshape(-1, 1, 1, 1)).to(dtype), shift.to(dtype)


# emit: onednn_linear
def _onednn_linear_op():  # -> the op's OpOverloadPacket, or None
    """The custom op ``alexnet_dsl::onednn_linear(x, weight, bias, relu)``, or None without oneDNN.

    A custom op so that Inductor calls it as an opaque external kernel (it has no lowering for the raw oneDNN
    op with unpacked weights). Registered once per process: the torch backend copies this code into generated
    modules.
    """
    mkldnn_linear = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    if mkldnn_linear is None:
        return None
    namespace = torch.ops.alexnet_dsl
    if not hasattr(namespace, "onednn_linear"):

        @torch.library.custom_op("alexnet_dsl::onednn_linear", mutates_args=())
        def onednn_linear(
            x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool
        ) -> torch.Tensor:
            return mkldnn_linear(x, weight, bias, "relu" if relu else "none", [], "")

        @onednn_linear.register_fake
        def _(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, relu: bool) -> torch.Tensor:
            return x.new_empty((*x.shape[:-1], weight.shape[0]))

    return namespace.onednn_linear


_ONEDNN_LINEAR = _onednn_linear_op()


# emit: fast_call
def _linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    relu: bool = False,
) -> torch.Tensor:
    """``y = x @ weight.T + bias``, then ``max(y, 0)`` if ``relu``; x is [..., in], weight [out, in].

    On float32 CPU tensors that need no gradient this runs oneDNN's matmul, about twice as fast as `F.linear`
    (MKL) for AlexNet's fc layers at batch 16; otherwise it is `F.linear` (+ an in-place ReLU).
    """
    if (
        _ONEDNN_LINEAR is not None
        and x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and (bias is None or bias.dtype == torch.float32)
        and x.dim() >= 2
        # a mismatch goes to F.linear, whose error names both shapes (oneDNN's names neither)
        and weight.dim() == 2
        and x.shape[-1] == weight.shape[1]
        and (bias is None or tuple(bias.shape) == (weight.shape[0],))
        and not _needs_grad(x, weight, bias)
        and not torch.compiler.is_exporting()
    ):
        return _ONEDNN_LINEAR(x, weight, bias, relu)
    y = F.linear(x, weight, bias)
    return F.relu(y, inplace=True) if relu else y


def _f_linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`_linear` under ``F.linear``'s signature (keyword ``input``)."""
    return _linear(input, weight, bias)


class _OneDNNLinear(torch.overrides.TorchFunctionMode):
    """Inside ``with _OneDNNLinear():``, every ``F.linear`` call (hence every ``nn.Linear`` module) runs `_linear`.

    Generated modules call their layers as modules, so that forward hooks fire, ``quantize_dynamic`` can swap an
    ``nn.Linear`` for its quantized version (it matches the exact type, so a subclass would silently stay
    float), and a replaced head (``m.fc8 = nn.Sequential(...)``) just runs. This mode gives those plain
    ``nn.Linear`` modules oneDNN's matmul all the same; other functions pass through unchanged.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear:
            return _f_linear(*args, **kwargs)
        return func(*args, **kwargs)


def _fast_call(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)``, hooks and all, with the ``nn.Linear`` layers in it on oneDNN's matmul (`_OneDNNLinear`)."""
    with _OneDNNLinear():
        return module(x)


# emit: stochastic_depth
def _stochastic_depth(x: torch.Tensor, p: float, mode: str, training: bool) -> torch.Tensor:
    """In training, ``x`` zeroed with probability ``p`` per sample (``row``) or for the whole batch (``batch``),
    what is kept divided by 1 - p (torchvision's stochastic depth); ``x`` itself in eval."""
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    shape = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * (mask / keep if keep > 0.0 else mask)


# emit: admissible
def _admissible(size: int, sets: tuple[tuple[tuple[int, int | None], ...], int, tuple[int, ...]]) -> bool:
    """Whether `size` is in `sets`: ranges ((lo, hi or None for no bound), ...), a modulus, its residues."""
    ranges, mod, residues = sets
    in_range = any(lo <= size and (hi is None or size <= hi) for lo, hi in ranges)
    return in_range and size % mod in residues


# emit: end

# Not emitted: the public names of the helpers above, for tests, benchmarks, hand-written modules and the
# fused helpers (triton_ops.py, auto_ops.py); and two functions for hand-written modules (generated ones
# convert to channels_last in `__init__` and `forward` themselves).
lrn = _lrn
linear = _linear
fast_call = _fast_call
stochastic_depth = _stochastic_depth
plain_module = _plain_module
activate = _activate
folded = _folded
OneDNNLinear = _OneDNNLinear


def to_fast_layout(x: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor in ``torch.channels_last`` (no copy when it already is); other tensors unchanged."""
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def fast_layout_(module: nn.Module) -> nn.Module:
    """Convert a module's 4-D parameters and buffers (conv weights) to ``channels_last``; returns it."""
    return module.to(memory_format=torch.channels_last)

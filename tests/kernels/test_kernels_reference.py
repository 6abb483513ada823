"""The pure-torch side: LRN's window and alpha, and the argument checks every entry point shares."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from tolerance import UNIT_ROUNDOFF, assert_within, lrn_bound

from alexnet_dsl.kernels import LRNParams, fused_conv2d, fused_conv2d_reference, lrn_reference


def paper_lrn(a: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """b_c = a_c / (k + alpha * sum_{j in [c - size//2, c + (size-1)//2] ∩ [0, C-1]} a_j^2) ** beta, by loops."""
    channels = a.shape[1]
    out = torch.empty_like(a)
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels - 1, c + (size - 1) // 2)
        window = (a[:, lo : hi + 1] ** 2).sum(dim=1)
        out[:, c] = a[:, c] / (k + alpha * window) ** beta
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("channels", [1, 3, 8])
def test_lrn_reference_is_the_papers_formula(size: int, channels: int) -> None:
    a = torch.randn(2, channels, 3, 4, dtype=torch.float64) * 10
    expected = paper_lrn(a, size, alpha=0.3, beta=0.75, k=2.0)
    # two float64 evaluations of LRN of the same exact input: each within the float64 rounding bound
    _, bound = lrn_bound(a, None, size, 0.3, 0.75, 2.0, u=UNIT_ROUNDOFF[torch.float64])
    assert_within(lrn_reference(a, size, 0.3, 0.75, 2.0), expected, 2 * bound, "lrn_reference")


def test_lrn_alpha_is_not_divided_by_size() -> None:
    a = torch.randn(1, 6, 2, 2, dtype=torch.float64) * 10
    ours = lrn_reference(a, 5, 1e-2, 0.75, 2.0)
    torch_convention = F.local_response_norm(a, 5, alpha=1e-2, beta=0.75, k=2.0)  # alpha / 5 inside
    _, bound = lrn_bound(a, None, 5, 1e-2, 0.75, 2.0, u=UNIT_ROUNDOFF[torch.float64])
    assert ((ours - torch_convention).abs() > 2 * bound).any()  # not a rounding difference: another function


def test_lrn_params_window() -> None:
    assert LRNParams(5, 1e-4, 0.75, 2.0).window(10) == (8, 12)
    assert LRNParams(4, 1e-4, 0.75, 2.0).window(10) == (8, 11)
    assert LRNParams(1, 1e-4, 0.75, 2.0).window(10) == (10, 10)


@pytest.mark.parametrize("size", [0, -1, 2.0, True])
def test_lrn_params_reject_bad_size(size: object) -> None:
    with pytest.raises(ValueError, match="size"):
        LRNParams(size, 1e-4, 0.75, 2.0)  # type: ignore[arg-type]


def test_lrn_params_reject_non_numbers() -> None:
    with pytest.raises(TypeError, match="beta"):
        LRNParams(5, 1e-4, "0.75", 2.0)  # type: ignore[arg-type]


def _args() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.randn(1, 4, 8, 8), torch.randn(6, 2, 3, 3), torch.randn(6)


@pytest.mark.parametrize("entry", [fused_conv2d, fused_conv2d_reference])
@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda x, w, b: (x.int(), w, b), TypeError, "dtype"),
        (lambda x, w, b: (x, w.half(), b), TypeError, "one dtype"),
        (lambda x, w, b: (x, w, b.half()), TypeError, "one dtype"),
        (lambda x, w, b: (x[:, :3], w, b), ValueError, "groups"),
        (lambda x, w, b: (x, w[:, :1], b), ValueError, "channels"),
        (lambda x, w, b: (x, w, b[:5]), ValueError, "bias"),
        (lambda x, w, b: (x[0], w, b), ValueError, "4-D"),
        (lambda x, w, b: (x, w, b.to("meta")), ValueError, "one device"),
        (lambda x, w, b: (x.numpy(), w, b), TypeError, "torch.Tensor"),
        (lambda x, w, b: (x[:, :, :1, :1], w, b), ValueError, "too small"),
    ],
)
def test_bad_arguments_raise_clear_errors(entry, change, error, message) -> None:  # noqa: ANN001
    x, w, b = change(*_args())
    with pytest.raises(error, match=message):
        entry(x, w, b, groups=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(stride=0), ValueError, "stride"),
        (dict(stride=(1, 2, 3)), TypeError, "stride"),
        (dict(padding=-1), ValueError, "padding"),
        (dict(dilation=(1, 0)), ValueError, "dilation"),
        (dict(groups=0), ValueError, "groups"),
        (dict(groups=3), ValueError, "groups"),
        (dict(lrn=(5, 1e-4, 0.75, 2.0)), TypeError, "LRNParams"),
        (dict(activation=1), TypeError, "activation"),
        (dict(activation="swish"), ValueError, "unknown activation `swish`"),
        (dict(activation=("leaky_relu", "0.2")), TypeError, "argument of `leaky_relu`"),
        (dict(activation=("silu", 0.5)), ValueError, "takes no argument"),
        (dict(allow_tf32="yes"), TypeError, "allow_tf32"),
    ],
)
def test_bad_options_raise_clear_errors(kwargs: dict, error: type, message: str) -> None:
    x, w, b = _args()
    with pytest.raises(error, match=message):
        fused_conv2d(x, w[:, :], b, **{"groups": 2, **kwargs})


def test_kernel_rejects_float64_reference_accepts_it() -> None:
    x, w, b = (t.double() for t in _args())
    with pytest.raises(TypeError, match="float64"):
        fused_conv2d(x, w, b, groups=2)
    assert fused_conv2d_reference(x, w, b, groups=2).dtype == torch.float64


def test_package_imports_and_explains_without_triton() -> None:
    """With triton unimportable: the references work, `triton_available` says why, the kernel raises."""
    script = textwrap.dedent(
        """
        import sys

        class NoTriton:
            def find_spec(self, name, path=None, target=None):
                if name == "triton" or name.startswith("triton."):
                    raise ModuleNotFoundError("No module named 'triton'", name=name)

        sys.meta_path.insert(0, NoTriton())
        import torch
        import alexnet_dsl.kernels as kernels

        ok, why = kernels.triton_available()
        assert not ok and "not installed" in why, why
        x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
        assert kernels.fused_conv2d_reference(x, w, None).shape == (1, 3, 3, 3)
        try:
            kernels.fused_conv2d(x, w, None)
        except ModuleNotFoundError as e:  # one line naming the extra (alexnet_dsl.extras)
            assert str(e).endswith("pip install 'alexnet-dsl[triton]'") and len(str(e).splitlines()) == 1, e
        else:
            raise SystemExit("fused_conv2d ran without triton")
        assert "triton" not in sys.modules or sys.modules["triton"] is None
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"

"""The shipped modern specs equal torchvision's networks (tests/zoo, written from torchvision's published
definitions) and the original U-Net: parameters, the output shape of every layer with weights, and the
function itself on the reference's weights (as accurate as PyTorch's own float32 evaluation)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from tolerance import assert_as_accurate_as_torch
from torch import nn
from zoo import ZOO

import alexnet_dsl
from alexnet_dsl import ir
from alexnet_dsl.analysis.pipeline import check_file

SPECS = Path(__file__).parents[1] / "specs"
_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d, nn.LayerNorm)


class UNet(nn.Module):
    """The original U-Net layout (Ronneberger et al., 2015) with padding=1 convs, written independently."""

    def __init__(self, classes: int = 2) -> None:
        super().__init__()

        def double(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU()
            )

        widths = [64, 128, 256, 512, 1024]
        self.down = nn.ModuleList([double(3, 64)] + [double(a, b) for a, b in zip(widths, widths[1:])])
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in zip(widths, widths[1:])][::-1]
        )
        self.decoders = nn.ModuleList([double(b, a) for a, b in zip(widths, widths[1:])][::-1])
        self.head = nn.Conv2d(64, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, stage in enumerate(self.down):
            x = stage(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for up, decoder, skip in zip(self.ups, self.decoders, skips[-2::-1]):
            x = decoder(torch.cat([skip, up(x)], dim=1))
        return self.head(x)


CASES = {  # spec -> (reference, input shape for the function check)
    "mobilenet_v2": (ZOO["mobilenet_v2"], (1, 3, 224, 224)),
    "efficientnet_b0": (ZOO["efficientnet_b0"], (1, 3, 224, 224)),
    "convnext_tiny": (ZOO["convnext_tiny"], (1, 3, 224, 224)),
    "shufflenet_v2": (ZOO["shufflenet_v2_x1_0"], (2, 3, 224, 224)),
    "unet": (UNet, (1, 3, 64, 48)),
}


def _calls(model: nn.Module, x: torch.Tensor) -> list[tuple[nn.Module, tuple[int, ...]]]:
    """The modules with weights, in the order the forward calls them, and each one's output shape."""
    calls: list[tuple[nn.Module, tuple[int, ...]]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: calls.append((m, _nchw(m, tuple(o.shape)))))
        for m in model.modules()
        if isinstance(m, _WEIGHTED)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return calls


def _nchw(m: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A LayerNorm over the channels runs on channels-last tensors (torchvision's and ours): its shape as NCHW."""
    if isinstance(m, nn.LayerNorm) and len(shape) == 4 and shape[3] == m.normalized_shape[0]:
        return (shape[0], shape[3], shape[1], shape[2])
    return shape


def _scales(model: nn.Module) -> list[nn.Parameter]:
    """Per-channel factors that are parameters of no layer (ConvNeXt's layer scale), in definition order."""
    owned = {id(p) for m in model.modules() if isinstance(m, _WEIGHTED) for p in m.parameters()}
    return [p for p in model.parameters() if id(p) not in owned]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_shipped_spec_is_its_reference_network(name):
    make, shape = CASES[name]
    torch.manual_seed(0)
    reference = make().eval()
    analysis = check_file(SPECS / f"{name}.net")
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert analysis.params == sum(p.numel() for p in reference.parameters())
    # stochastic depth (the identity in eval, so the values below never see it): the same p and mode as the
    # reference's modules that its forward calls (torchvision builds one in blocks that never call it), in order
    ours_sd = [
        (layer.op.p, layer.op.mode)
        for layer in analysis.network.layers
        if isinstance(layer.op, ir.StochasticDepth)
    ]
    called: list[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: called.append(m))
        for m in reference.modules()
        if type(m).__name__ == "StochasticDepth"
    ]
    with torch.no_grad():
        reference(torch.zeros(shape))
    for h in hooks:
        h.remove()
    assert [mode for _, mode in ours_sd] == [m.mode for m in called]
    # the spec writes decimals where torchvision computes 0.2 * 6 / 16 = 0.07500000000000001
    assert [p for p, _ in ours_sd] == pytest.approx([m.p for m in called], rel=1e-12)
    compiled = alexnet_dsl.compile(
        SPECS / f"{name}.net", backend="torch", **({"H": shape[2], "W": shape[3]} if name == "unet" else {})
    ).eval()

    x = torch.randn(shape)
    theirs, ours = _calls(reference, x), _calls(compiled, x)
    # every layer with weights: the same kind, in the same order, with the same output shape (torchvision's
    # channels-last pointwise nn.Linear is the spec's 1x1 conv: the same weights, another layout)
    assert len(theirs) == len(ours)
    for i, ((ref_m, ref_shape), (our_m, our_shape)) in enumerate(zip(theirs, ours)):
        assert [p.numel() for p in ref_m.parameters()] == [p.numel() for p in our_m.parameters()], i
        if not (isinstance(ref_m, nn.Linear) and isinstance(our_m, nn.Conv2d)):
            assert type(ref_m) is type(our_m) or isinstance(ref_m, type(our_m)), (i, ref_m, our_m)
            assert ref_shape == our_shape, (i, ref_m, ref_shape, our_shape)

    # the reference's weights, randomised (BN statistics too, so that every term counts), copied in
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for (ref_m, _), (our_m, _) in zip(theirs, ours):
            for key, ref_t in ref_m.state_dict().items():
                if ref_t.is_floating_point():
                    ref_t.copy_(
                        torch.rand(ref_t.shape, generator=generator) * (0.5 if "var" in key else 0.2)
                        + (0.5 if "var" in key else -0.1)
                    )
                our_m.state_dict()[key].copy_(ref_t.reshape(our_m.state_dict()[key].shape))
        for ref_p, our_p in zip(_scales(reference), _scales(compiled), strict=True):
            ref_p.copy_(torch.rand(ref_p.shape, generator=generator) + 0.5)
            our_p.copy_(ref_p.reshape(our_p.shape))
        got = compiled(x)
        ref32 = reference(x)
        ref64 = copy.deepcopy(reference).double()(x.double())
    assert_as_accurate_as_torch(got, ref32, ref64, what=name)

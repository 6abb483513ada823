"""dslc import translates torchvision's classification zoo: one model of each family (tests/zoo, torchvision's
definitions in plain torch) is imported at 64x64, checks clean, is a fixed point of fmt, reads as blocks, and
compiles back to the same function on the model's own weights. Then the patterns of several traced nodes
that this needs (interop/torch_patterns.py), each in its spellings, and what they refuse.

scripts/zoo_coverage.py runs the same round trip over all 68 models.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from tolerance import assert_as_accurate_as_torch
from torch import nn
from zoo import ZOO

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.interop.torch_import import UnsupportedModule, translate
from alexnet_dsl.tools.fmt import format_text


def randomise(module: nn.Module) -> None:
    """Batchnorm statistics and affine parameters that are not the identity, and layer scales of order 1
    (ConvNeXt's start at 1e-6, which would hide its blocks), so that each shows in the output."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.rand(c, generator=generator) - 0.5)
                m.running_var.copy_(torch.rand(c, generator=generator) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.rand(c, generator=generator) - 0.5)
        for name, p in module.named_parameters():
            if name.endswith(("layer_scale", "gamma")):
                p.copy_(torch.rand(p.shape, generator=generator) + 0.5)


def round_trip(module: nn.Module, shape: tuple[int, ...], **kw) -> str:
    """Import, check, compile, load the module's weights, and compare in eval mode; returns the spec."""
    module.eval()
    result = translate(module, (1, *shape[1:]), **kw)
    assert not check_text(result.text, "<import>").errors
    assert format_text(result.text, "<import>") == result.text
    compiled = alexnet_dsl.compile(result.text, backend="torch").eval()
    compiled.load_state_dict(result.state_dict(module))  # strict: every parameter and buffer is there
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        # the module in float64 is the exact value; the compiled spec is as accurate as the module in fp32
        ref64 = copy.deepcopy(module).double()(x.double())
        assert_as_accurate_as_torch(compiled(x), module(x), ref64, "import")
    return result.text


# ---------------------------------------------------------------------------- one model of each family

FAMILY_MODELS = [
    "googlenet",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "regnet_y_400mf",
    "mnasnet0_5",
    "shufflenet_v2_x0_5",
    "convnext_tiny",
]
# what each family needed beyond the per-node translation
NEEDS = {
    "mobilenet_v3_small": ["mul(scale_activation, input)", "hardsigmoid"],
    "efficientnet_b0": ["mul(scale_activation, input)", "stochastic_depth(p)"],
    "regnet_y_400mf": ["mul(scale_activation, input)"],
    "shufflenet_v2_x0_5": ["part0: chunk(2, 0)", "chunk(2, 1) from input", "channel_shuffle(2)"],
    "convnext_tiny": [
        "conv(filters, kernel=7, padding=3, groups=filters)",
        "block_2: layernorm(eps=1e-06)",
        "block_3: conv(width, kernel=1)",
        "layer_scale: scale",
        "features_0_1: layernorm(eps=1e-06)",
    ],
}


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_zoo_model_round_trips_as_blocks(name):
    torch.manual_seed(0)
    model = ZOO[name]()
    randomise(model)
    text = round_trip(model, (2, 3, 64, 64))
    flat = translate(model, (1, 3, 64, 64), blocks=False).text
    assert "\nblock " in text
    assert len(text.splitlines()) <= 0.5 * len(flat.splitlines()), (
        len(text.splitlines()),
        len(flat.splitlines()),
    )
    for line in NEEDS.get(name, []):
        assert line in text, line


# ---------------------------------------------------------------------------- the patterns, spelt each way


class Spellings(nn.Module):
    """Squeeze-excitation gates, layer scales, channel splits and shuffles, flattens: each in several forms."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.gate = nn.Conv2d(16, 16, 1)
        self.layer_scale = nn.Parameter(torch.full((16, 1, 1), 0.25))
        self.side = nn.Conv2d(8, 8, 3, padding=1)
        self.gamma = nn.Parameter(torch.rand(16 * 4 * 4) + 0.5)
        self.fc = nn.Linear(16 * 4 * 4, 12)

    def forward(self, x):
        x = self.conv(x)
        g = torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))
        x = torch.mul(x, g) + g * x + x.mul(g)  # [N, 16, H, W] x [N, 16, 1, 1]
        x = self.layer_scale * x + x * self.layer_scale
        left, right = x.chunk(2, dim=1)
        x = torch.cat([left, self.side(torch.chunk(x, 2, 1)[1] + right)], 1)
        n, c, h, w = x.size()
        x = x.view(n, 4, c // 4, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        x = x.reshape(n, 2, -1, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)
        x = torch.flatten(torch.transpose(x.unflatten(1, (8, -1)), 1, 2), 1, 2)
        x = F.adaptive_avg_pool2d(x, 4)
        flat = x.view(x.size(0), -1) + x.view(-1, 16 * 4 * 4) + x.reshape(x.shape[0], -1)
        return self.fc(self.gamma * flat)


def test_patterns_in_each_spelling_round_trip():
    module = Spellings()
    text = round_trip(module, (3, 3, 16, 16), blocks=False)
    assert text.count("mul(") == 3
    assert "layer_scale: scale(init=0.25)" in text and "layer_scale_2: scale(init=0.25)" in text
    assert "part0: chunk(2, 0)" in text and "chunk(2, 1) from" in text
    assert [line.split(":")[-1].strip() for line in text.splitlines() if "channel_shuffle" in line] == [
        "channel_shuffle(4)",
        "channel_shuffle(2)",
        "channel_shuffle(8)",
    ]
    assert text.count("flatten") == 3
    assert "gamma: scale\n" in text  # a factor per feature of [N, F], not all equal: scale's default init
    assert "size" not in text and "getitem" not in text


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ChannelsLast(nn.Module):
    """ConvNeXt's block as timm and torchvision write it: an MLP over channels-last tensors, a layer scale
    of shape (C,) there (timm's `gamma`), LayerNorm2d traced through to its F.layer_norm."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, stride=2)
        self.norm = LayerNorm2d(8, eps=1e-6)
        self.ln = nn.LayerNorm(8)
        self.pw1 = nn.Linear(8, 32)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(32, 8)
        self.gamma = nn.Parameter(torch.rand(8) + 0.5)

    def forward(self, x):
        x = self.norm(self.stem(x))
        y = self.pw2(self.act(self.pw1(self.ln(x.permute(0, 2, 3, 1))))).contiguous()
        y = torch.permute(F.relu(y.mul(self.gamma) + y), [0, 3, 1, 2])
        return x + y


def test_channels_last_region_round_trips_with_linear_as_conv():
    module = ChannelsLast()
    with torch.no_grad():
        module.norm.weight.uniform_(0.5, 1.5)
        module.ln.bias.uniform_(-0.5, 0.5)
    text = round_trip(module, (2, 3, 12, 10))
    for line in [
        "norm: layernorm(eps=1e-06)",
        "ln: layernorm",
        "pw1: conv(32, kernel=1)",
        "act: gelu",
        "pw2: conv(8, kernel=1)",
        "gamma: scale",
        "relu",
    ]:
        assert line in text, line
    assert "permute" not in text
    loads = translate(module, (1, 3, 12, 10)).loads
    assert loads == {"pw1": "linear_as_conv", "pw2": "linear_as_conv", "gamma": "channel_parameter"}


class Refused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 1)
        self.p = nn.Parameter(torch.ones(1, 6, 1, 1))
        self.fc = nn.Linear(6, 6)
        self.conv2 = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        x = self.conv(x)
        a = x.chunk(4, dim=1)[0]  # 6 channels in 4 parts
        b = torch.cat(x.chunk(2, 1), 1)  # the chunks as a tuple
        c = x.chunk(2, dim=2)[1]  # over H
        d = self.p * x  # (1, C, 1, 1)
        e = self.fc(x.permute(0, 2, 3, 1))  # returned channels-last
        f = self.conv2(x.permute(0, 2, 3, 1))  # a conv reading channels-last
        g = x.view(1, -1)  # a fixed batch
        return a, b, c, d, e, f, g


def test_what_the_patterns_refuse_is_listed():
    with pytest.raises(UnsupportedModule) as info:
        translate(Refused(), (1, 3, 8, 8))
    text = "\n".join(info.value.unsupported)
    for why in [
        "6 channels cut into 4 unequal parts",
        "the chunks used as a tuple",
        "a chunk over dim 2",
        "by a parameter of shape [1, 6, 1, 1]",
        "reads a channels-last tensor",
        "a view with a fixed batch size 1",
    ]:
        assert why in text, why

"""dslc import recovers blocks: a module class repeated with equal bodies becomes one `block` and a call
line per instance, so ResNet-152 and DenseNet-201 read like specs/resnet18.net, check clean, are fixed
points of fmt, and compile back to the same function on the same weights (loaded under the block
instances' names, `layer1_0.conv1.weight`).

The reference networks are written here in plain torch, with torchvision's attribute names and forward
passes (torchvision is not a dependency)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tolerance import assert_as_accurate_as_torch
from torch import nn

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.cli.main import main
from alexnet_dsl.interop.torch_blocks import snake_case
from alexnet_dsl.interop.torch_import import from_torch, translate
from alexnet_dsl.tools.fmt import format_text

ROOT = Path(__file__).parents[2]


# ---------------------------------------------------------------------------- torchvision's ResNet


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block: type, layers: list[int], num_classes: int = 1000) -> None:
        super().__init__()
        self.cin = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block: type, planes: int, count: int, stride: int = 1) -> nn.Sequential:
        cout = planes * block.expansion
        downsample = None
        if stride != 1 or self.cin != cout:
            downsample = nn.Sequential(nn.Conv2d(self.cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        layers = [block(self.cin, planes, stride, downsample)]
        self.cin = cout
        layers += [block(cout, planes) for _ in range(1, count)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---------------------------------------------------------------------------- torchvision's DenseNet


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, features):  # all the features before it, a list
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, count: int, cin: int, bn_size: int, growth_rate: int) -> None:
        super().__init__()
        for i in range(count):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(cin + i * growth_rate, growth_rate, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)


class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 48, 32), init=64, bn_size=4, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, init, 7, 2, 3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(init))
        self.features.add_module("relu0", nn.ReLU(inplace=True))
        self.features.add_module("pool0", nn.MaxPool2d(3, 2, 1))
        n = init
        for i, count in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(count, n, bn_size, growth_rate))
            n += count * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(n, n // 2))
                n //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(n))
        self.classifier = nn.Linear(n, num_classes)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1))


def randomise_batchnorm(module: nn.Module) -> nn.Module:
    """Running statistics and affine parameters that are not the identity, so BN shows in the output."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return module.eval()


SHAPE = (2, 3, 64, 64)


@pytest.fixture(scope="module")
def resnet152():
    torch.manual_seed(0)
    module = randomise_batchnorm(ResNet(Bottleneck, [3, 8, 36, 3]))
    return module, translate(module, (1, *SHAPE[1:]), "ResNet152")


@pytest.fixture(scope="module")
def densenet201():
    torch.manual_seed(0)
    module = randomise_batchnorm(DenseNet())
    return module, translate(module, (1, *SHAPE[1:]), "DenseNet201")


def calls(text: str, block: str) -> list[str]:
    """The network's lines calling `block`, spaces collapsed."""
    network = text[text.index("\nnetwork ") :]
    return [" ".join(line.split()) for line in network.splitlines() if f": {block}" in line]


def round_trip(module: nn.Module, result, shape: tuple[int, ...] = SHAPE) -> None:
    """Compile the spec, load the module's weights under its names (strict), compare outputs in eval mode."""
    compiled = alexnet_dsl.compile(result.text, backend="torch").eval()
    compiled.load_state_dict(result.state_dict(module))
    torch.manual_seed(2)
    x = torch.randn(*shape)
    with torch.no_grad():
        got, ref32 = compiled(x), module(x)
        try:  # in place: a copy of ResNet-152 takes longer than its conversion and back (exact)
            exact = module.double()(x.double())
        finally:
            module.float()
    # the module in float64 is the exact value; the spec in fp32 is as accurate as the module in fp32
    assert_as_accurate_as_torch(got, ref32, exact, "import with blocks")


# ---------------------------------------------------------------------------- ResNet-152 and DenseNet-201


def test_resnet152_is_two_blocks_and_a_call_per_bottleneck(resnet152):
    _, result = resnet152
    text = result.text
    assert len(text.splitlines()) < 100, text  # 518 lines flat
    assert text.count("\nblock ") == 2
    assert "block bottleneck(filters, width) {" in text
    assert "block bottleneck_downsample(filters, width, stride) {" in text
    assert "    conv2: conv(width, kernel=3, stride=stride, padding=1, bias=false)" in text
    assert "    downsample_0: conv(filters, kernel=1, stride=stride, bias=false) from input" in text
    assert "    add(bn3, input)" in text and "    add(bn3, downsample_1)" in text
    assert len(calls(text, "bottleneck(")) == 3 + 8 + 36 + 3 - 4
    assert len(calls(text, "bottleneck_downsample(")) == 4
    assert "layer1_0: bottleneck_downsample(256, width=64, stride=1)" in text
    assert "layer2_0: bottleneck_downsample(512, width=128, stride=2)" in text
    # the last call of each stage asserts its shape, as resnet18.net does
    for line in ("layer1_2: bottleneck(256, width=64)", "layer3_35: bottleneck(1024, width=256)"):
        assert any(s.startswith(line) and "-> [N, " in s for s in calls(text, "bottleneck(")), line
    assert sum("-> [N, " in s for s in calls(text, "bottleneck")) == 4


def test_densenet201_is_a_dense_layer_block_and_a_transition_block(densenet201):
    _, result = densenet201
    text = result.text
    assert len(text.splitlines()) < 140, text  # 710 lines flat; 98 dense layers are 98 calls
    assert text.count("\nblock ") == 2
    # the features so far are concatenated once per layer, inside the layer: it reads one tensor
    assert "block dense_layer() {" in text and "    concat(input, conv2)\n}" in text
    assert "block transition(filters) {" in text and "    avgpool(kernel=2)\n}" in text
    assert len(calls(text, "dense_layer")) == 6 + 12 + 48 + 32
    assert [c.split(" ->")[0] for c in calls(text, "transition")] == [
        "features_transition1: transition(128)",
        "features_transition2: transition(256)",
        "features_transition3: transition(896)",
    ]
    assert (
        calls(text, "dense_layer")[-1] == "features_denseblock4_denselayer32: dense_layer -> [N, 1920, 2, 2]"
    )


@pytest.mark.parametrize("net", ["resnet152", "densenet201"])
def test_imported_blocks_check_clean_and_are_a_fixed_point_of_fmt(net, request):
    _, result = request.getfixturevalue(net)
    assert format_text(result.text) == result.text
    analysis = check_text(result.text)
    assert analysis.ok and not analysis.diagnostics, [d.message for d in analysis.diagnostics]
    module = request.getfixturevalue(net)[0]
    assert analysis.params == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("net", ["resnet152", "densenet201"])
def test_imported_blocks_round_trip_on_the_same_weights(net, request):
    module, result = request.getfixturevalue(net)
    weights = result.state_dict(module)
    assert len(weights) == len(module.state_dict())  # every parameter and buffer, once
    first = "layer1_0.conv1.weight" if net == "resnet152" else "features_denseblock1_denselayer1.conv1.weight"
    assert first in weights
    round_trip(module, result)


# ---------------------------------------------------------------------------- small networks


def test_resnet18_reads_like_specs_resnet18():
    torch.manual_seed(0)
    module = randomise_batchnorm(ResNet(BasicBlock, [2, 2, 2, 2]))
    result = translate(module, (1, 3, 32, 32), "ResNet18")
    text = result.text
    assert "block basic_block(filters) {" in text and "block basic_block_downsample(filters) {" in text
    assert calls(text, "basic_block")[:3] == [
        "layer1_0: basic_block(64)",
        "layer1_1: basic_block(64) -> [N, 64, 8, 8]",
        "layer2_0: basic_block_downsample(128)",
    ]
    reference = check_text((ROOT / "specs" / "resnet18.net").read_text())
    assert result.analysis.params == reference.params == 11_689_512
    assert len(text.splitlines()) == 40  # resnet18.net: 43, with its comments
    round_trip(module, result, (2, 3, 32, 32))
    flat = translate(module, (1, 3, 32, 32), blocks=False)
    assert "\nblock " not in flat.text and len(flat.text.splitlines()) == 72
    # the same tensors, under the flat names and the blocks' names
    assert [t.data_ptr() for t in flat.state_dict(module).values()] == [
        t.data_ptr() for t in result.state_dict(module).values()
    ]
    assert "layer1_0_conv1.weight" in flat.state_dict(module)


class Unit(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Stage(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 1)
        self.units = nn.Sequential(Unit(cout), Unit(cout))

    def forward(self, x):
        return F.max_pool2d(self.units(self.proj(x)), 2)


class Residual(nn.Module):
    """`x + f(x)` written outside the repeated module: the add is the instance's last layer."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stages = nn.ModuleList([Stage(8, 16), Stage(16, 32)])
        self.mixers = nn.ModuleList([nn.Sequential(nn.Conv2d(32, 32, 1), nn.Tanh()) for _ in range(2)])
        self.head = Unit(32)  # one more Unit, outside any stage
        self.fc = nn.Linear(32, 5)

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        for mixer in self.mixers:
            x = x + mixer(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.head(x), 1), 1))


def test_a_repeated_module_of_repeated_modules_is_a_block_calling_blocks():
    torch.manual_seed(0)
    module = randomise_batchnorm(Residual())
    result = translate(module, (1, 3, 16, 16))
    text = result.text
    assert "block stage(filters) {" in text and "block unit(filters) {" in text
    assert "    units_0: unit(filters)\n    units_1: unit(filters)\n" in text
    assert "stages_0: stage(16)" in text and "stages_1: stage(32)" in text
    assert "head: unit(32)" in text  # an instance outside the stages calls the same block
    # nn.Sequential is a container, never a block: the two mixers stay flat, each add reading its input
    assert "add: add(stages_1, mixers_0_1)" in text and text.count("\nblock ") == 2
    assert "stages_1.units_0.conv.weight" in result.state_dict(module)
    round_trip(module, result, (2, 3, 16, 16))


def test_instances_that_cannot_be_calls_stay_flat():
    class Tap(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = Unit(3), Unit(3)

        def forward(self, x):
            hidden = self.a.bn(self.a.conv(x))  # not through `a`'s forward
            return self.b(F.relu(hidden)) + hidden

    text = from_torch(Tap(), (1, 3, 8, 8))
    assert "\nblock " not in text  # one instance of `Unit` only: nothing is repeated

    class Leaky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = Inner(), Inner()

        def forward(self, x):
            a, b = self.a(x), self.b(x)
            return a[0] + a[1] + b[0] + b[1]

    class Inner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            y = self.conv(x)
            return y, torch.sigmoid(y)

    text = round_trip_text(Leaky())
    assert "\nblock " not in text  # each instance is read before its last layer


def round_trip_text(module: nn.Module) -> str:
    module.eval()
    result = translate(module, (1, 3, 8, 8))
    round_trip(module, result, (2, 3, 8, 8))
    return result.text


def test_block_names_come_from_the_class_and_do_not_clash():
    assert snake_case("Bottleneck") == "bottleneck"
    assert snake_case("_DenseLayer") == "dense_layer"
    assert snake_case("SEBlock") == "se_block"
    assert snake_case("Conv") == "conv_block"  # the name of an op
    assert snake_case("Ünit") == "block"

    class Conv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return torch.relu(self.conv(x))

    module = nn.Sequential(nn.Conv2d(3, 4, 1), Conv(), Conv())
    module.add_module("conv_block", nn.Conv2d(4, 4, 1))  # a layer with the block's name
    text = round_trip_text(module)
    # the block gives way to the layer; the calls, at `1` and `2` of an nn.Sequential, are named as it is
    assert "block conv_block_2() {" in text and "conv_block: conv(4, kernel=1)" in text
    assert "conv_block1: conv_block_2\n" in text and "conv_block2: conv_block_2 " in text


def test_flat_turns_recovery_off(tmp_path, monkeypatch, capsys):
    name = f"dslc_blocks_models_{abs(hash(str(tmp_path)))}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent("""
        from torch import nn

        def tower():
            return nn.Sequential(nn.Conv2d(3, 8, 1), *(Cell() for _ in range(4)))

        class Cell(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.act = nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()

            def forward(self, x):
                return self.act(self.conv(x)) + x
    """)
    )
    monkeypatch.chdir(tmp_path)
    try:
        assert main(["import", f"{name}:tower", "--input-shape", "1,3,8,8"]) == 0
        with_blocks = capsys.readouterr().out
        assert main(["import", f"{name}:tower", "--input-shape", "1,3,8,8", "--flat"]) == 0
        flat = capsys.readouterr().out
    finally:
        sys.modules.pop(name, None)
    assert "block cell() {" in with_blocks and with_blocks.count(": cell") == 4
    assert "\nblock " not in flat and flat.count(": conv(") == 5

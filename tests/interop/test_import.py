"""dslc import and alexnet_dsl.from_torch: PyTorch modules become specs that compile back to the same
function (same weights, same outputs), with names from attribute paths, `from`/`add`/`concat` for
branches, shape assertions, and a list of everything that cannot be translated."""

from __future__ import annotations

import copy
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from reference_models import TorchvisionAlexNet, paper_alexnet
from tolerance import assert_as_accurate_as_torch
from torch import nn

import alexnet_dsl
from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.cli.main import main
from alexnet_dsl.interop.torch_import import UnsupportedModule, from_torch, translate
from alexnet_dsl.tools.fmt import format_text

ROOT = Path(__file__).parents[2]


def vgg11_bn(num_classes: int = 10) -> nn.Module:
    """torchvision's vgg11_bn layout: `features`, `avgpool`, `classifier`."""
    layers: list[nn.Module] = []
    channels = 3
    for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [
                nn.Conv2d(channels, int(v), kernel_size=3, padding=1),
                nn.BatchNorm2d(int(v)),
                nn.ReLU(inplace=True),
            ]
            channels = int(v)

    class VGG(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 512),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(512, 512),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(512, num_classes),
            )

        def forward(self, x):
            x = self.features(x)
            x = self.avgpool(x)
            x = x.view(x.size(0), -1)  # the older spelling of flatten
            return self.classifier(x)

    return VGG()


class BasicBlock(nn.Module):
    """torchvision's ResNet block: one ReLU module used twice, `out += identity`, a downsample branch."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Inception(nn.Module):
    """Three branches joined over channels with torch.cat, functional ops in between."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(cin, 8, 1)
        self.b3 = nn.Sequential(nn.Conv2d(cin, 8, 1), nn.ReLU(), nn.Conv2d(8, 12, 3, padding=1))
        self.pool_proj = nn.Conv2d(cin, 4, 1)

    def forward(self, x):
        pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([F.relu(self.b1(x)), self.b3(x), torch.relu(self.pool_proj(pooled))], dim=1)


class SmallResNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 32, stride=2))
        self.mixed = Inception(32)
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = self.mixed(x)
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.flatten(x, 1)
        return F.softmax(self.fc(x), dim=1)


def randomise_batchnorm(module: nn.Module) -> None:
    """Running statistics and affine parameters that are not the identity, so BN shows in the output."""
    torch.manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


def round_trip(module: nn.Module, shape: tuple[int, ...], scale: float = 1.0, **kw) -> str:
    """Import, compile, load the same weights, and compare outputs in eval mode; returns the spec."""
    module.eval()
    result = translate(module, (1, *shape[1:]), **kw)
    compiled = alexnet_dsl.compile(result.text, backend="torch").eval()
    compiled.load_state_dict(result.state_dict(module))  # strict: every parameter and buffer is there
    torch.manual_seed(2)
    x = torch.randn(*shape) * scale
    with torch.no_grad():
        # the module itself in float64 is the exact value; the compiled spec is as accurate as the module in fp32
        assert_as_accurate_as_torch(
            compiled(x), module(x), copy.deepcopy(module).double()(x.double()), "import"
        )
    return result.text


class ModernHead(nn.Module):
    """Every activation, global pooling and channel shuffle the language has, in their nn, F and Tensor-method
    forms."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.acts = nn.Sequential(
            nn.ReLU6(),
            nn.LeakyReLU(0.2),
            nn.ELU(0.5),
            nn.GELU(),
            nn.SiLU(),
            nn.Mish(),
            nn.Hardswish(),
            nn.Hardsigmoid(),
        )
        self.amp = nn.AdaptiveMaxPool2d(1)
        self.shuffle = nn.ChannelShuffle(2)
        self.ln = nn.LayerNorm(8, eps=1e-6)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.acts(self.conv(x))
        y = F.hardsigmoid(F.hardswish(F.mish(F.silu(F.gelu(F.elu(F.leaky_relu(F.relu6(y), 0.3), 0.7))))))
        y = F.channel_shuffle(self.shuffle(y), 4)
        pooled = y.mean([2, 3]) + torch.flatten(self.amp(y), 1) + torch.amax(y, (-2, -1))
        return self.fc(self.ln(pooled + torch.mean(y, dim=(2, 3), keepdim=True).flatten(1)))


class Decoder(nn.Module):
    """Upsampling in its nn and F forms, transposed convolutions, the tanh GELU."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 6, 3, stride=2, padding=1, output_padding=1, bias=False)
        self.grow = nn.Upsample(scale_factor=(2, 3), mode="bilinear", align_corners=True)
        self.near = nn.UpsamplingNearest2d(scale_factor=2)
        self.act = nn.GELU(approximate="tanh")
        self.conv = nn.Conv2d(6, 4, 3, padding=1)

    def forward(self, x):
        y = self.act(self.grow(self.up(x)))
        y = F.interpolate(self.near(y), size=(160, 96))  # 4x and 2x its input
        y = F.interpolate(y, scale_factor=0.5 * 2, mode="bilinear")
        return self.conv(y)


def test_decoder_ops_round_trip():
    text = round_trip(Decoder(), (2, 3, 5, 4))
    assert "up: conv_transpose(6, kernel=3, stride=2, padding=1, output_padding=1, bias=false)" in text
    assert "grow: upsample((2, 3), mode=bilinear, align_corners=true)" in text
    assert "near: upsample(2)" in text and "upsample((4, 2))" in text and "upsample(1, mode=bilinear)" in text
    assert "act: gelu(approximate=tanh)" in text


def test_modern_activations_and_global_pooling_round_trip():
    text = round_trip(ModernHead(), (2, 3, 12, 12), scale=4.0)  # past relu6's 6 and hardswish's 3
    for op in ("relu6", "leaky_relu(slope=0.2)", "elu(alpha=0.5)", "gelu", "silu", "mish", "hardswish"):
        assert op in text, op
    assert text.count("global_avgpool") == 2 and "global_avgpool(keepdims=true)" in text
    assert text.count("global_maxpool") == 2 and "global_maxpool(keepdims=true)" in text
    assert "shuffle: channel_shuffle(2)" in text and "channel_shuffle(4)" in text
    assert "ln: layernorm(eps=1e-06)" in text


def test_torchvision_alexnet_round_trips():
    torch.manual_seed(0)
    text = round_trip(TorchvisionAlexNet(), (2, 3, 224, 224))
    assert "features_0: conv(64, kernel=11, stride=4, padding=2)" in text
    assert "features_12: maxpool(kernel=3, stride=2)" in text and "-> [N, 256, 6, 6]" in text
    assert "avgpool: adaptive_avgpool(6)" in text
    assert "classifier_6: linear(1000)" in text
    assert "network Imported(image: [N, 3, 224, 224]) -> [N, 1000] {" in text
    analysis = check_text(text)
    assert analysis.ok and not analysis.diagnostics
    assert analysis.params == 61_100_840  # as specs/alexnet_torchvision.net


def test_paper_alexnet_sequential_round_trips_with_lrn_alpha_converted():
    torch.manual_seed(0)
    # inputs scaled so that LRN is far from a constant factor
    text = round_trip(paper_alexnet(), (2, 3, 227, 227), scale=100.0, name="AlexNet")
    assert text.count("lrn(size=5, alpha=0.0001, beta=0.75, k=2.0)") == 2  # PyTorch's 5e-4 / 5
    assert "conv2: conv(256, kernel=5, padding=2, groups=2)" in text
    assert check_text(text).params == check_text((ROOT / "specs" / "alexnet.net").read_text()).params


def test_vgg11_bn_round_trips():
    torch.manual_seed(0)
    module = vgg11_bn()
    randomise_batchnorm(module)
    text = round_trip(module, (2, 3, 32, 32))
    assert "features_1: batchnorm" in text
    assert "flatten" in text and "-> [N, 25088]" in text  # from x.view(x.size(0), -1)
    assert "classifier_2: dropout" in text


def test_branches_become_from_add_and_concat():
    torch.manual_seed(0)
    module = SmallResNet()
    randomise_batchnorm(module)
    text = round_trip(module, (3, 3, 16, 16), name="Small")
    # the block's one ReLU module, called twice, gives two layers
    assert "layer1_0_relu: relu" in text and "layer1_0_relu_2: relu" in text
    assert "add(layer1_0_bn2, stem_2)" in text  # out += identity
    assert "layer1_1_downsample_0: conv(32, kernel=1, stride=2, bias=false) from layer1_0_relu_2" in text
    assert "concat(" in text
    assert "mixed_b1: conv(8, kernel=1) from layer1_1_relu_2" in text
    for line in text.splitlines():
        if ": conv(" in line or "maxpool" in line or line.strip().startswith("flatten"):
            assert "-> [N, " in line, line  # convs, pools and flatten document their shapes


def test_shared_module_gets_its_weights_twice():
    conv = nn.Conv2d(4, 4, 3, padding=1)

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(F.relu(self.conv(x)))

    text = round_trip(Twice(), (2, 4, 8, 8))
    assert "conv: conv(4, kernel=3, padding=1)" in text and "conv_2: conv(4, kernel=3, padding=1)" in text


def every_argument() -> nn.Module:
    """Arguments away from the language's defaults, pairs that differ, `padding="same"`, a long line."""
    return nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=2, bias=False),
        nn.BatchNorm2d(8, eps=1e-3, momentum=0.2),
        nn.Tanh(),
        nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
        nn.Conv2d(8, 8, 3, padding="same", groups=2),
        nn.MaxPool2d((2, 2), stride=1, padding=1),
        nn.LocalResponseNorm(4, alpha=2e-4, beta=0.5, k=2.0),
        nn.Sigmoid(),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(8 * 4 * 5, 5, bias=False),
        nn.Softmax(dim=1),
    )


@pytest.mark.parametrize(
    "make, shape",
    [
        (TorchvisionAlexNet, (1, 3, 224, 224)),
        (paper_alexnet, (1, 3, 227, 227)),
        (SmallResNet, (1, 3, 16, 16)),  # residual adds and a concat
        (every_argument, (1, 3, 12, 12)),
    ],
    ids=["torchvision-alexnet", "paper-alexnet", "resnet-inception", "every-argument"],
)
def test_import_output_is_a_fixed_point_of_fmt(make, shape):
    text = from_torch(make(), shape)
    assert format_text(text) == text


def test_arguments_equal_to_the_languages_defaults_are_left_out():
    text = from_torch(every_argument(), (1, 3, 12, 12))
    body = [line.split("->")[0].strip() for line in text.splitlines()[2:-1]]
    assert body == [
        "conv1: conv(8, kernel=(3, 5), stride=(2, 1), padding=(1, 2), dilation=2, bias=false)",
        "batchnorm1: batchnorm(eps=0.001, momentum=0.2)",
        "tanh",
        "avgpool(kernel=2, ceil=true, count_include_pad=false)",
        "conv2: conv(8, kernel=3, padding=same, groups=2)",
        "maxpool(kernel=2, stride=1, padding=1)",
        "lrn(size=4, alpha=5e-05, beta=0.5, k=2.0)",  # always in full, alpha the paper's: 2e-4 / 4
        "sigmoid",
        "dropout(p=0.25)",
        "flatten",
        "linear1: linear(5, bias=false)",
        "softmax",
    ]


def test_unsupported_ops_are_all_listed():
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.act = nn.Softplus()
            self.up = nn.Upsample(scale_factor=2, mode="bicubic")

        def forward(self, x):
            x = self.up(self.act(self.conv(x)))
            return F.selu(x) * 2

    with pytest.raises(UnsupportedModule) as info:
        from_torch(Odd(), (1, 3, 16, 16))
    items = info.value.unsupported
    assert len(items) == 4, items
    assert items[0] == "`act` (torch.nn.Softplus): no such op in the language"
    assert items[1].startswith("`up` (torch.nn.Upsample): upsampling with mode='bicubic'")
    assert items[2].startswith("`selu` (torch.nn.functional.selu)")
    assert items[3].startswith("`mul` (operator.mul)")
    assert isinstance(info.value, ImportError)


@pytest.mark.parametrize(
    "module, why",
    [
        (nn.Sequential(nn.Conv2d(3, 4, 3, padding_mode="reflect")), "padding_mode='reflect'"),
        (nn.Sequential(nn.MaxPool2d(2, dilation=2)), "dilation=2"),
        (nn.Sequential(nn.Flatten(0)), r"flatten\(start_dim=0"),
        (nn.Sequential(nn.Flatten(), nn.Softmax(dim=0)), "softmax over dim 0"),
        (nn.Sequential(nn.BatchNorm2d(3, affine=False)), "affine=False"),
        (nn.Sequential(nn.Upsample(scale_factor=1.5)), r"upsampling by \[1.5, 1.5\]"),
        (
            nn.Sequential(
                nn.ConvTranspose2d(3, 4, 2, padding_mode="zeros"), nn.Upsample(scale_factor=2, mode="bicubic")
            ),
            "mode='bicubic'",
        ),
        (nn.Sequential(nn.AdaptiveMaxPool2d(2)), "adaptive max pooling to 2"),
        (nn.Sequential(nn.LayerNorm(8)), r"LayerNorm over the last dims \(8,\) of \[1, 3, 8, 8\]"),
    ],
)
def test_arguments_the_language_lacks_are_unsupported(module, why):
    with pytest.raises(UnsupportedModule, match=why):
        from_torch(module, (1, 3, 8, 8))


def test_from_torch_restores_train_mode_and_rejects_bad_input():
    module = TorchvisionAlexNet().eval()
    from_torch(module, (1, 3, 224, 224))
    assert not any(m.training for m in module.modules())
    module.train()
    from_torch(module, (1, 3, 224, 224))
    assert all(m.training for m in module.modules())
    with pytest.raises(ValueError, match="does not run on an input of shape"):
        from_torch(module, (1, 3, 32, 32))
    with pytest.raises(ValueError, match="input shape"):
        from_torch(module, (1, 3, 224))


# ---------------------------------------------------------------------------- the command line


@pytest.fixture
def models_module(tmp_path, monkeypatch):
    """A `models.py` in the current directory, as `dslc import models:...` finds it."""
    name = f"dslc_test_models_{abs(hash(str(tmp_path)))}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent("""
        import torch.nn.functional as F
        from torch import nn

        def small():
            return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.LocalResponseNorm(3, 3e-4),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 7 * 7, 10))

        instance = small()

        class Softplus(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3)

            def forward(self, x):
                return F.softplus(self.conv(x)) + F.selu(self.conv(x))
    """)
    )
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


def test_cli_import_writes_spec_and_weights_that_compile_and_export(models_module, tmp_path, capsys):
    out, weights = tmp_path / "small.net", tmp_path / "small.pt"
    assert (
        main(
            [
                "import",
                f"{models_module}:small",
                "--input-shape",
                "1,3,16,16",
                "--name",
                "Small",
                "-o",
                str(out),
                "--save-weights",
                str(weights),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert f"{out}: Small, 6 layers, 4,154 parameters; weights in {weights}" in err
    text = out.read_text()
    assert "network Small(image: [N, 3, 16, 16]) -> [N, 10] {" in text
    assert "lrn(size=3, alpha=0.0001, beta=0.75, k=1.0)" in text
    # the spec and its weights go on to dslc export
    assert main(["export", str(out), "--onnx", str(tmp_path / "small.onnx"), "--weights", str(weights)]) == 0
    assert "agree with ONNX" in capsys.readouterr().err


def test_cli_import_of_an_instance_and_of_a_saved_module(models_module, tmp_path, capsys):
    assert main(["import", f"{models_module}:instance", "--input-shape", "2,3,16,16"]) == 0
    from_instance = capsys.readouterr().out
    assert from_instance.startswith("# Imported from torch.nn.Sequential")
    saved = tmp_path / "saved.pt"
    torch.save(nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 14 * 14, 5)), saved)
    assert main(["import", str(saved), "--input-shape", "1,3,16,16"]) == 0
    assert "linear1: linear(5)" in capsys.readouterr().out


def test_cli_import_unsupported_gives_one_error_line_per_op(models_module, capsys):
    assert main(["import", f"{models_module}:Softplus", "--input-shape", "1,3,16,16"]) == 1
    captured = capsys.readouterr()
    errors = [ln for ln in captured.err.splitlines() if ln.startswith("dslc: error: cannot translate")]
    assert len(errors) == 2, captured.err  # the `+` of the two is fine
    assert any("torch.nn.functional.softplus" in e for e in errors)
    assert any("torch.nn.functional.selu" in e for e in errors)
    assert captured.out == "" and "Traceback" not in captured.err


@pytest.mark.parametrize(
    "args",
    [
        ["missing_module:x", "--input-shape", "1,3,8,8"],
        ["nofile.pt", "--input-shape", "1,3,8,8"],
        ["{mod}:nothing", "--input-shape", "1,3,8,8"],
        ["{mod}:small", "--input-shape", "1,3,x"],
        ["{mod}:small", "--input-shape", "1,3,16,16", "--name", "not valid"],
        ["{mod}:small", "--input-shape", "1,3,16,16", "-o", "missing/dir.net"],
    ],
)
def test_cli_import_usage_errors_exit_2(args, models_module, capsys):
    assert main(["import", *(a.format(mod=models_module) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dslc: error:") and "Traceback" not in err


def test_cli_import_state_dict_file_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "weights.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    assert main(["import", str(path), "--input-shape", "1,2"]) == 2
    assert "holds a state_dict, not a module" in capsys.readouterr().err


def test_cli_import_wrong_input_shape_is_one_error(models_module, capsys):
    assert main(["import", f"{models_module}:small", "--input-shape", "1,3,64,64"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not run on an input of shape [1, 3, 64, 64]" in err


class _Hooked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.conv.register_forward_hook(lambda m, i, o: o * 2)

    def forward(self, x):
        return self.conv(x)


class _Twisted(nn.Module):
    """Forwards that would import wrongly if taken at face value: each must be refused."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind, self.conv = kind, nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        if self.kind == "in place, unused":
            y.relu_()
            return y
        if self.kind == "antialias":
            return F.interpolate(y, scale_factor=2, mode="bilinear", antialias=True)
        if self.kind == "mixed layouts":  # C == H == W: equal shapes, other meanings
            return (y.permute(0, 2, 3, 1) + y).permute(0, 3, 1, 2)
        if self.kind == "shuffle at batch 1":
            return y.view(1, 2, 2, 4, 4).transpose(1, 2).reshape(1, 4, 4, 4)
        assert self.kind == "computed batch"
        return y.view(y.size(0) * y.size(0), -1)


@pytest.mark.parametrize(
    "module, why",
    [
        (_Hooked(), "has a forward hook"),
        (_Twisted("in place, unused"), "in-place op whose result is not used"),
        (_Twisted("antialias"), "antialias=True"),
        (_Twisted("mixed layouts"), "mixes a channels-last tensor"),
        (_Twisted("shuffle at batch 1"), "no such op"),
        (_Twisted("computed batch"), "first size is computed"),
    ],
    ids=["hook", "in-place", "antialias", "layouts", "shuffle-batch", "computed-batch"],
)
def test_what_would_import_wrongly_is_refused(module, why):
    shape = (1, 3, 4, 4) if isinstance(module, _Hooked) else (1, 4, 4, 4)
    with pytest.raises(UnsupportedModule, match=why):
        from_torch(module, shape)


def test_an_op_pytorch_applies_where_the_language_does_not_is_refused():
    """`nn.Linear` on [N, C, H, W] works over W in PyTorch; the language's linear reads [N, features]."""
    with pytest.raises(UnsupportedModule, match=r"line \d+ of the translation: .*linear"):
        from_torch(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Linear(5, 2)), (1, 3, 5, 5))

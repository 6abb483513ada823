"""The plain-torch torchvision zoo in tests/zoo: model count, torchvision's published parameter counts,
torchvision's state_dict keys, and forwards of the small models.

Parameter counts build every model on the meta device (no memory, no init cost); only models of up to
~30M parameters are built for real and run, on small inputs.
"""

from __future__ import annotations

import pytest
import torch
from zoo import FAMILIES, ZOO
from zoo.classic import Inception3
from zoo.ops import StochasticDepth
from zoo.shufflenet import channel_shuffle

# torchvision 0.28's published parameter counts (the num_params of each weights enum).
PARAMS: dict[str, int] = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "resnext101_64x4d": 83_455_272,
    "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "densenet121": 7_978_856,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    "googlenet": 6_624_904,
    # The docs' 27,161,264 counts the auxiliary classifier; without it (as in ZOO) 23,834,568.
    "inception_v3": 23_834_568,
    "squeezenet1_0": 1_248_424,
    "squeezenet1_1": 1_235_496,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960,
    "efficientnet_v2_s": 21_458_488,
    "efficientnet_v2_m": 54_139_356,
    "efficientnet_v2_l": 118_515_272,
    "regnet_x_400mf": 5_495_976,
    "regnet_x_800mf": 7_259_656,
    "regnet_x_1_6gf": 9_190_136,
    "regnet_x_3_2gf": 15_296_552,
    "regnet_x_8gf": 39_572_648,
    "regnet_x_16gf": 54_278_536,
    "regnet_x_32gf": 107_811_560,
    "regnet_y_400mf": 4_344_144,
    "regnet_y_800mf": 6_432_512,
    "regnet_y_1_6gf": 11_202_430,
    "regnet_y_3_2gf": 19_436_338,
    "regnet_y_8gf": 39_381_472,
    "regnet_y_16gf": 83_590_140,
    "regnet_y_32gf": 145_046_770,
    "regnet_y_128gf": 644_812_894,
    "mnasnet0_5": 2_218_512,
    "mnasnet0_75": 3_170_208,
    "mnasnet1_0": 4_383_312,
    "mnasnet1_3": 6_282_256,
    "shufflenet_v2_x0_5": 1_366_792,
    "shufflenet_v2_x1_0": 2_278_604,
    "shufflenet_v2_x1_5": 3_503_624,
    "shufflenet_v2_x2_0": 7_393_996,
    "convnext_tiny": 28_589_128,
    "convnext_small": 50_223_688,
    "convnext_base": 88_591_464,
    "convnext_large": 197_767_336,
}

FAMILY_SIZES = {
    "classic": 27,
    "mobilenet": 3,
    "efficientnet": 11,
    "regnet": 15,
    "mnasnet": 4,
    "shufflenet": 4,
    "convnext": 4,
}

# A few keys of each torchvision state_dict, written down from torchvision's checkpoints' layout.
KEYS: dict[str, list[str]] = {
    "alexnet": ["features.0.weight", "features.10.bias", "classifier.1.weight", "classifier.6.weight"],
    "vgg16_bn": ["features.0.weight", "features.1.running_mean", "features.41.weight", "classifier.6.bias"],
    "resnet50": [
        "conv1.weight",
        "bn1.num_batches_tracked",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.running_var",
        "layer4.2.conv3.weight",
        "fc.weight",
    ],
    "densenet121": [
        "features.conv0.weight",
        "features.norm0.running_mean",
        "features.denseblock1.denselayer1.norm1.weight",
        "features.denseblock4.denselayer16.conv2.weight",
        "features.transition3.conv.weight",
        "features.norm5.bias",
        "classifier.weight",
    ],
    "googlenet": [
        "conv1.conv.weight",
        "conv1.bn.running_var",
        "inception3a.branch1.conv.weight",
        "inception3a.branch2.1.bn.weight",
        "inception5b.branch4.1.conv.weight",
        "fc.weight",
    ],
    "inception_v3": [
        "Conv2d_1a_3x3.conv.weight",
        "Mixed_5b.branch5x5_2.conv.weight",
        "Mixed_6e.branch7x7dbl_5.bn.running_mean",
        "Mixed_7c.branch3x3dbl_3b.bn.weight",
        "fc.weight",
    ],
    "squeezenet1_1": [
        "features.0.weight",
        "features.3.squeeze.weight",
        "features.12.expand3x3.bias",
        "classifier.1.weight",
    ],
    "mobilenet_v2": [
        "features.0.0.weight",
        "features.0.1.running_var",
        "features.1.conv.0.0.weight",
        "features.1.conv.1.weight",
        "features.1.conv.2.weight",
        "features.2.conv.0.0.weight",
        "features.2.conv.3.running_mean",
        "features.18.0.weight",
        "classifier.1.weight",
    ],
    "mobilenet_v3_large": [
        "features.0.0.weight",
        "features.1.block.0.0.weight",
        "features.4.block.2.fc1.weight",
        "features.4.block.3.1.weight",
        "features.16.0.weight",
        "classifier.0.weight",
        "classifier.3.weight",
    ],
    "mobilenet_v3_small": [
        "features.1.block.1.fc2.bias",
        "features.1.block.2.0.weight",
        "features.12.0.weight",
    ],
    "efficientnet_b0": [
        "features.0.0.weight",
        "features.1.0.block.0.0.weight",
        "features.1.0.block.1.fc1.weight",
        "features.2.0.block.3.1.running_var",
        "features.8.0.weight",
        "classifier.1.weight",
    ],
    "efficientnet_v2_s": [
        "features.1.0.block.0.0.weight",
        "features.2.0.block.1.0.weight",
        "features.4.0.block.2.fc1.weight",
        "features.6.14.block.3.1.weight",
        "features.7.0.weight",
    ],
    "regnet_y_400mf": [
        "stem.0.weight",
        "stem.1.running_mean",
        "trunk_output.block1.block1-0.proj.0.weight",
        "trunk_output.block1.block1-0.f.a.0.weight",
        "trunk_output.block1.block1-0.f.b.1.weight",
        "trunk_output.block1.block1-0.f.se.fc1.weight",
        "trunk_output.block1.block1-0.f.c.1.running_var",
        "trunk_output.block4.block4-5.f.c.0.weight",
        "fc.weight",
    ],
    "regnet_x_400mf": ["trunk_output.block2.block2-1.f.b.0.weight", "fc.bias"],
    "mnasnet1_0": [
        "layers.0.weight",
        "layers.7.running_mean",
        "layers.8.0.layers.0.weight",
        "layers.15.weight",
        "classifier.1.weight",
    ],
    "shufflenet_v2_x1_0": [
        "conv1.0.weight",
        "stage2.0.branch1.0.weight",
        "stage2.0.branch2.6.running_var",
        "stage2.1.branch2.0.weight",
        "stage4.3.branch2.5.weight",
        "conv5.1.running_mean",
        "fc.weight",
    ],
    "convnext_tiny": [
        "features.0.0.weight",
        "features.0.1.weight",
        "features.1.0.block.0.weight",
        "features.1.0.block.2.weight",
        "features.1.0.block.3.weight",
        "features.1.0.block.5.weight",
        "features.1.0.layer_scale",
        "features.2.0.weight",
        "features.2.1.weight",
        "features.7.2.layer_scale",
        "classifier.0.weight",
        "classifier.2.weight",
    ],
}

# Models built for real and run: every required small one plus one of each block kind, all <= ~30M params.
FORWARD_SIZES: dict[str, int] = {
    "mobilenet_v3_small": 64,
    "shufflenet_v2_x0_5": 64,
    "mnasnet0_5": 64,
    "squeezenet1_1": 64,
    "regnet_x_400mf": 64,
    "squeezenet1_0": 64,
    "resnet18": 64,
    "resnext50_32x4d": 64,
    "densenet121": 64,
    "googlenet": 64,
    "inception_v3": 75,  # the smallest input its valid convolutions and pools accept
    "mobilenet_v2": 64,
    "mobilenet_v3_large": 64,
    "efficientnet_b0": 64,
    "efficientnet_v2_s": 64,
    "regnet_y_400mf": 64,
    "mnasnet1_0": 64,
    "shufflenet_v2_x1_0": 64,
    "convnext_tiny": 64,
}


def _meta(name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return ZOO[name]()


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_zoo_has_the_68_cnns_of_torchvision():
    assert {family: len(models) for family, models in FAMILIES.items()} == FAMILY_SIZES
    assert len(ZOO) == sum(FAMILY_SIZES.values()) == 68
    assert set(ZOO) == set(PARAMS)


@pytest.mark.parametrize("name", list(PARAMS))
def test_parameter_count_matches_torchvision(name):
    model = _meta(name)
    assert all(p.is_meta for p in model.parameters())
    assert _count(model) == PARAMS[name]


def test_inception_v3_with_aux_logits_matches_the_documented_count():
    with torch.device("meta"):
        model = Inception3(aux_logits=True)
    assert _count(model) == 27_161_264
    assert "AuxLogits.conv1.conv.weight" in model.state_dict()


@pytest.mark.parametrize("name", list(KEYS))
def test_state_dict_keys_follow_torchvision(name):
    keys = set(_meta(name).state_dict())
    missing = [k for k in KEYS[name] if k not in keys]
    assert not missing, f"{name}: missing {missing}"


def test_resnet18_state_dict_size():
    # 20 convolutions, 20 BatchNorms (5 entries each), fc weight and bias
    sd = _meta("resnet18").state_dict()
    assert len(sd) == 20 + 20 * 5 + 2


@pytest.mark.parametrize("name", list(FORWARD_SIZES))
def test_small_model_forward(name):
    torch.manual_seed(0)
    model = ZOO[name]().eval()
    size = FORWARD_SIZES[name]
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        y = model(x)
        y2 = model(x)
    assert y.shape == (1, 1000)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, y2, rtol=0, atol=0)  # eval mode: dropout and stochastic depth are off


def test_train_mode_forward_runs_with_stochastic_depth():
    torch.manual_seed(0)
    model = ZOO["efficientnet_b0"]().train()
    y = model(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 1000)
    y.sum().backward()


def test_stochastic_depth_modes():
    x = torch.ones(64, 3, 2, 2)
    assert StochasticDepth(0.5, "row").eval()(x) is x
    torch.manual_seed(0)
    row = StochasticDepth(0.5, "row")(x)
    per_sample = row.flatten(1)
    assert set(per_sample[:, 0].tolist()) == {0.0, 2.0}  # dropped or scaled by 1 / survival
    assert (per_sample == per_sample[:, :1]).all()  # one decision per sample
    batch = StochasticDepth(0.5, "batch")(x)
    assert len(set(batch.flatten().tolist())) == 1  # one decision for the batch


def test_channel_shuffle_interleaves_the_two_halves():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]

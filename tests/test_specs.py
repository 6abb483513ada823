"""Every shipped spec checks, and its shapes and parameter counts agree with torch and REFERENCE.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch_oracle import run_meta

from alexnet_dsl.analysis.pipeline import check_file
from alexnet_dsl.ir import expr as E

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.net"))

# (trainable parameters, MACs per sample) from ../shared/REFERENCE.md and torchvision
REFERENCE = {
    "alexnet": (60_965_224, 724_406_816),
    "alexnet_blocks": (60_965_224, 724_406_816),
    "alexnet_hw": (60_965_224, None),
    "alexnet_ungrouped": (62_378_344, 1_135_256_096),
    "alexnet_torchvision": (61_100_840, 714_188_480),
    "alexnet_keras_bn": (46_815_312, 1_005_915_264),
    "lenet5": (61_706, None),
    "vgg16": (138_357_544, None),
    "resnet18": (11_689_512, None),
    # REFERENCE.md's modern CNNs (torchvision 0.28); the U-Net's count is checked against an independent
    # torch U-Net in test_modern_specs.py
    "mobilenet_v2": (3_504_872, None),
    "efficientnet_b0": (5_288_548, None),
    "convnext_tiny": (28_589_128, None),
    "shufflenet_v2": (2_278_604, None),
    "unet": (31_031_810, None),
}


def test_every_spec_has_reference_numbers():
    assert {p.stem for p in SPECS} == set(REFERENCE)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_checks_and_matches_torch(path: Path):
    a = check_file(path)
    assert a.ok, [d.message for d in a.errors]
    params, macs = REFERENCE[path.stem]
    assert a.params == params
    if macs is not None:
        assert a.macs == macs
    sizes = {s: v.ranges[0][0] for s, v in a.admissible.items()}  # the smallest admissible size
    sizes["N"] = 2
    concrete = tuple(sizes[d] if isinstance(d, str) else d for d in a.network.input_dims)
    shapes, torch_params = run_meta(a.network, concrete)
    assert torch_params == params
    for info in a.infos:
        got = tuple(E.evaluate(d, sizes) for d in info.shape)
        assert got == shapes[info.layer.name], info.layer.name


def test_alexnet_layer_by_layer():
    """The per-layer numbers quoted in REFERENCE.md."""
    a = check_file(SPECS[0].parent / "alexnet.net")
    by_name = {i.layer.name: i for i in a.infos}
    expected = {
        "conv1": (34_944, (96, 55, 55)),
        "pool1": (0, (96, 27, 27)),
        "conv2": (307_456, (256, 27, 27)),
        "pool2": (0, (256, 13, 13)),
        "conv3": (885_120, (384, 13, 13)),
        "conv4": (663_936, (384, 13, 13)),
        "conv5": (442_624, (256, 13, 13)),
        "pool5": (0, (256, 6, 6)),
        "flatten1": (0, (9216,)),
        "fc6": (37_752_832, (4096,)),
        "fc7": (16_781_312, (4096,)),
        "fc8": (4_097_000, (1000,)),
    }
    for name, (params, shape) in expected.items():
        assert by_name[name].params == params, name
        assert tuple(by_name[name].shape[1:]) == shape, name
    neurons = sum(
        i.shape[1] * i.shape[2] * i.shape[3] if len(i.shape) == 4 else i.shape[1]
        for i in a.infos
        if i.layer.name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
    )
    assert neurons == 659_272

"""The two AlexNets that `cpu_forward.py` compares.

- `reference_alexnet()`: the straightforward eager `nn.Sequential` (the baseline of the speed requirement),
  with `nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)` (PyTorch divides alpha by size: 5e-4 / 5 is the
  paper's 1e-4).
- `PrototypeAlexNet`: a hand-written module built from `alexnet_dsl.backend.runtime.torch_ops` the way the torch backend should
  generate it. Both have the state_dict keys conv1.weight, conv1.bias, ..., fc8.bias, so weights copy across.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alexnet_dsl.backend.runtime import torch_ops as ops


def reference_alexnet(num_classes: int = 1000) -> nn.Sequential:
    """The paper's AlexNet (two-GPU grouping, 227 input) as plain eager PyTorch layers."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 96, 11, stride=4),  # (N, 96, 55, 55)
            relu1=nn.ReLU(),
            lrn1=nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0),
            pool1=nn.MaxPool2d(3, 2),  # (N, 96, 27, 27)
            conv2=nn.Conv2d(96, 256, 5, padding=2, groups=2),  # (N, 256, 27, 27)
            relu2=nn.ReLU(),
            lrn2=nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0),
            pool2=nn.MaxPool2d(3, 2),  # (N, 256, 13, 13)
            conv3=nn.Conv2d(256, 384, 3, padding=1),
            relu3=nn.ReLU(),
            conv4=nn.Conv2d(384, 384, 3, padding=1, groups=2),
            relu4=nn.ReLU(),
            conv5=nn.Conv2d(384, 256, 3, padding=1, groups=2),
            relu5=nn.ReLU(),
            pool5=nn.MaxPool2d(3, 2),  # (N, 256, 6, 6)
            flatten=nn.Flatten(),  # (N, 9216)
            drop6=nn.Dropout(0.5),
            fc6=nn.Linear(9216, 4096),
            relu6=nn.ReLU(),
            drop7=nn.Dropout(0.5),
            fc7=nn.Linear(4096, 4096),
            relu7=nn.ReLU(),
            fc8=nn.Linear(4096, num_classes),
            softmax=nn.Softmax(dim=1),
        )
    )


class PrototypeAlexNet(nn.Module):
    """What the torch backend should generate for `specs/alexnet.net` (rules: `alexnet_dsl.backend.runtime.torch_ops`)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(9216, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        ops.fast_layout_(self)  # conv weights channels_last once, at build time

    def forward(self, x: Tensor) -> Tensor:
        x = ops.to_fast_layout(x)  # (N, 3, 227, 227), channels_last
        x = F.relu(self.conv1(x), inplace=True)  # (N, 96, 55, 55)
        x = ops.lrn(x, 5, 1e-4, 0.75, 2.0, inplace=True)  # x is a temporary: reuse its memory
        x = F.max_pool2d(x, 3, 2)  # (N, 96, 27, 27)
        x = F.relu(self.conv2(x), inplace=True)  # (N, 256, 27, 27)
        x = ops.lrn(x, 5, 1e-4, 0.75, 2.0, inplace=True)  # x is a temporary: reuse its memory
        x = F.max_pool2d(x, 3, 2)  # (N, 256, 13, 13)
        x = F.relu(self.conv3(x), inplace=True)  # (N, 384, 13, 13)
        x = F.relu(self.conv4(x), inplace=True)  # (N, 384, 13, 13)
        x = F.relu(self.conv5(x), inplace=True)  # (N, 256, 13, 13)
        x = F.max_pool2d(x, 3, 2)  # (N, 256, 6, 6)
        x = torch.flatten(x, 1)  # (N, 9216), in (c, h, w) order whatever the memory format
        x = F.dropout(x, 0.5, self.training)
        x = ops.linear(x, self.fc6.weight, self.fc6.bias, relu=True)  # (N, 4096)
        x = F.dropout(x, 0.5, self.training)
        x = ops.linear(x, self.fc7.weight, self.fc7.bias, relu=True)  # (N, 4096)
        x = ops.linear(x, self.fc8.weight, self.fc8.bias)  # (N, 1000)
        return F.softmax(x, dim=1)

"""Plain-torch reference definitions of torchvision 0.28's CNN classification zoo (68 models).

torchvision cannot be imported on every test machine, so these follow its published model definitions:
the same module tree and attribute names (hence the same state_dict keys), the same forward, and the
same parameter counts. ZOO maps each torchvision builder name to a constructor of the randomly
initialized model with 1000 classes; build big ones under `with torch.device("meta"):` to count
parameters without allocating.

Needs the tests directory on sys.path (tests/conftest.py puts it there) for the shared AlexNet.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .classic import CLASSIC
from .convnext import CONVNEXT
from .efficientnet import EFFICIENTNET
from .mnasnet import MNASNET
from .mobilenet import MOBILENET
from .regnet import REGNET
from .shufflenet import SHUFFLENET

FAMILIES: dict[str, dict[str, Callable[[], nn.Module]]] = {
    "classic": CLASSIC,
    "mobilenet": MOBILENET,
    "efficientnet": EFFICIENTNET,
    "regnet": REGNET,
    "mnasnet": MNASNET,
    "shufflenet": SHUFFLENET,
    "convnext": CONVNEXT,
}

ZOO: dict[str, Callable[[], nn.Module]] = {
    name: ctor for family in FAMILIES.values() for name, ctor in family.items()
}

__all__ = ["FAMILIES", "ZOO"]

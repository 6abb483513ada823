#!/usr/bin/env bash
# Set everything up in .venv and run the main job: check and compile specs/alexnet.net.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
mkdir -p build
.venv/bin/dslc check specs/alexnet.net
.venv/bin/dslc summary specs/alexnet.net
.venv/bin/dslc compile specs/alexnet.net -o build/alexnet.py
.venv/bin/python -c "
import torch, alexnet_dsl
model = alexnet_dsl.compile('specs/alexnet.net').eval()
print(type(model).__name__, sum(p.numel() for p in model.parameters()), 'parameters;',
      'output', tuple(model(torch.randn(1, 3, 227, 227)).shape))
"

#!/usr/bin/env bash
# Set everything up in .venv and run the main job: check and compile specs/alexnet.net.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# Graphviz draws `dslc graph` and `dslc report`; Chromium runs the report's browser test.
if command -v apt-get >/dev/null 2>&1 && ! { command -v dot && command -v chromium; } >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    $SUDO apt-get update -q >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q graphviz chromium fonts-dejavu-core >/dev/null
fi
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

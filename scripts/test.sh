#!/usr/bin/env bash
# The whole test suite (CPU only; Triton kernels run in its interpreter).
set -euo pipefail
cd "$(dirname "$0")/.."
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

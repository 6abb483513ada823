#!/usr/bin/env bash
# The whole test suite (CPU only; Triton kernels run in its interpreter), after the linter and the
# formatter check. Arguments go to pytest (`bash scripts/test.sh tests/analysis -x`); then the lint is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
if [ "$#" -eq 0 ]; then
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

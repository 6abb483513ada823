"""Rewrite the golden generated modules in tests/data/generated/ from the current code generator.

    .venv/bin/python scripts/regen_generated.py                 # rewrite every golden
    .venv/bin/python scripts/regen_generated.py vgg16.auto      # add (or rewrite) specs/vgg16.net, backend auto

A golden `<spec>.<backend>.py` is `dslc compile specs/<spec>.net --backend <backend>`, byte for byte;
tests/backend/test_generated.py compares them, so a change to the generated code shows up as a diff of
these files. Review the diff (`git diff tests/data/generated`) before committing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alexnet_dsl.analysis.pipeline import check_file
from alexnet_dsl.backend.codegen import generate

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "generated"


def expected(golden: Path) -> str:
    """What the golden `<spec>.<backend>.py` should contain."""
    spec, backend = golden.name.removesuffix(".py").rsplit(".", 1)
    return generate(check_file(ROOT / "specs" / f"{spec}.net"), backend=backend)


def main(names: list[str]) -> None:
    goldens = [GOLDEN / f"{name}.py" for name in names] or sorted(GOLDEN.glob("*.py"))
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for golden in goldens:
        text = expected(golden)
        if golden.exists() and golden.read_text(encoding="utf-8") == text:
            continue
        golden.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {golden.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])

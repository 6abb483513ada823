"""The package's shape in numbers: modules and lines per folder, the largest modules and functions.

    .venv/bin/python scripts/layout_stats.py

Import cycles and private cross-module imports are counted by tests/test_layering.py (zero, or it fails).
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "alexnet_dsl"


def main() -> None:
    folders: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    functions: list[tuple[int, str]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        text = path.read_text()
        folder = "(base)" if relative.parent == Path(".") else relative.parent.as_posix()
        folders[folder].append((len(text.splitlines()), relative.as_posix()))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((node.end_lineno - node.lineno + 1, f"{relative.as_posix()}:{node.name}"))
    print("| folder | modules | lines | largest module |")
    print("|---|---|---|---|")
    for folder, modules in sorted(folders.items()):
        lines, name = max(modules)
        print(f"| `{folder}` | {len(modules)} | {sum(n for n, _ in modules):,} | `{name}` ({lines}) |")
    print(
        "\nlargest modules:",
        ", ".join(f"{name} ({n})" for n, name in sorted(sum(folders.values(), []))[-5:][::-1]),
    )
    print("largest functions:", ", ".join(f"{name} ({n})" for n, name in sorted(functions)[-6:][::-1]))


if __name__ == "__main__":
    main()

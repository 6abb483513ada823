"""The README's examples run: every Python block that is not an excerpt, and the shown commands."""

from __future__ import annotations

import linecache
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if not b.startswith(" ")]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(block, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    name = f"<README.md block {BLOCKS.index(block)}>"
    linecache.cache[name] = (len(block), None, block.splitlines(True), name)  # for tools reading source
    exec(compile(block, name, "exec"), namespace)
    for name, value in namespace.items():  # a block that defines a test runs it
        if name.startswith("test_") and callable(value):
            value()


def test_quick_start_names_two_commands_that_exist():
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"```\n(.*?)```", section, re.S)[0].strip().splitlines()
    assert commands == ["bash scripts/setup.sh", "bash scripts/test.sh"]
    assert all((ROOT / c.split()[1]).is_file() for c in commands)
    ci = (ROOT / ".ci" / "run").read_text()
    assert all(c in ci for c in commands)


@pytest.mark.parametrize(
    "command", ["dslc summary specs/alexnet.net", "dslc check tests/data/bad/alexnet_224.net"]
)
def test_shown_commands_print_what_the_readme_shows(command):
    args = command.split()[1:]
    r = subprocess.run(
        [sys.executable, "-m", "alexnet_dsl.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
    )
    out = r.stdout + r.stderr
    shown = README.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    assert shown.strip()
    for line in shown.splitlines():
        if line.strip() and not line.strip().startswith("..."):
            assert line.rstrip() in out, line

"""Syntax highlighting: the Pygments lexer, `pygmentize -l net`, and coloured diagnostics."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation

from alexnet_dsl.frontend.vocabulary import OPS
from alexnet_dsl.tools.highlight import NetLexer, highlight_html, highlight_line, tokenize

ROOT = Path(__file__).parents[2]
SPECS = sorted((ROOT / "specs").glob("*.net"))
BAD = ROOT / "tests" / "data" / "bad" / "alexnet_224.net"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in NetLexer().get_tokens(text) if v.strip()]


def test_lexer_token_types():
    line = "    conv1: conv(96, kernel=11, alpha=1e-4, bias=false) from image -> [N, 96, 55, 55]  # c1\n"
    toks = dict((v, t) for t, v in tokens(line))
    assert toks["conv1"] is Name.Label
    assert toks["conv"] is Name.Builtin
    assert toks["96"] is Number.Integer and toks["1e-4"] is Number.Float
    assert toks["kernel"] is Name.Attribute
    assert toks["false"] is Keyword.Constant and toks["from"] is Keyword
    assert toks["image"] is Name and toks["N"] is Name
    assert toks["->"] is Operator and toks["("] is Punctuation
    assert toks["# c1"] is Comment.Single
    header = dict(
        (v, t) for t, v in tokens("network AlexNet(image: [N, 3, 227, 227]) {\nblock stage(k=3) {\n")
    )
    assert header["network"] is Keyword and header["AlexNet"] is Name.Class and header["image"] is Name.Label
    assert header["block"] is Keyword and header["stage"] is Name.Class
    uses = dict((v, t) for t, v in tokens("    s1: stage(96)\n    relu\n    add(a, b)\n"))
    assert uses["stage"] is Name.Function and uses["relu"] is Name.Builtin and uses["a"] is Name


def test_every_op_is_known_to_the_highlighter():
    for op in OPS:
        assert [k for k, _ in tokenize(f"x: {op}(1)") if k != "space"][:3] == [
            "label",
            "punctuation",
            "op",
        ], op


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_tokens_cover_every_spec_exactly(path: Path):
    text = path.read_text()
    assert "".join(piece for _, piece in tokenize(text)) == text
    assert "".join(v for _, v in NetLexer().get_tokens(text)) == text
    assert not [p for k, p in tokenize(text) if k == "error"]


def test_lexer_is_found_by_alias_and_file_name():
    assert isinstance(get_lexer_by_name("net"), NetLexer)
    assert isinstance(get_lexer_by_name("dslc"), NetLexer)
    assert isinstance(get_lexer_for_filename("alexnet.net"), NetLexer)


def test_pygmentize_uses_the_entry_point():
    pygmentize = Path(sys.executable).with_name("pygmentize")
    r = subprocess.run(
        [str(pygmentize), "-l", "net", "-f", "terminal", str(ROOT / "specs" / "alexnet.net")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert ANSI.search(r.stdout) and ANSI.sub("", r.stdout) == (ROOT / "specs" / "alexnet.net").read_text()
    r = subprocess.run(
        [str(pygmentize), "-N", "specs/alexnet.net"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.stdout.strip() == "net"


def test_highlight_line_and_html():
    line = "    conv1: conv(96, kernel=11)  # <b>"
    painted = highlight_line(line)
    assert ANSI.sub("", painted) == line
    assert "\x1b[36mconv\x1b[0m" in painted and "\x1b[33m96\x1b[0m" in painted
    page = highlight_html(line)
    assert '<span class="t-op">conv</span>' in page and "&lt;b&gt;" in page and "<b>" not in page


def run_check(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    code = "import sys; from alexnet_dsl.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "check", str(BAD), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_diagnostics_are_coloured_only_when_asked():
    forced = run_check("--color", "always", env={"NO_COLOR": ""})
    assert forced.returncode == 1
    source_line = next(line for line in forced.stderr.splitlines() if "kernel=11" in ANSI.sub("", line))
    assert "\x1b[36mconv\x1b[0m" in source_line  # the source line is highlighted
    assert ANSI.sub("", forced.stderr) == run_check("--color", "never").stderr
    piped = run_check()  # stderr is a pipe: auto means no colour
    assert piped.returncode == 1 and "\x1b" not in piped.stderr and "error[E0301]" in piped.stderr
    assert "\x1b" not in run_check("--color", "auto", env={"NO_COLOR": "1"}).stderr


def test_check_does_not_import_the_highlighter_without_colour():
    code = (
        "import sys; from alexnet_dsl.cli.main import main; main(['check', '-q', sys.argv[1]]); "
        "print(sorted(m for m in sys.modules if m.startswith(('pygments', 'alexnet_dsl.tools.highlight'))))"
    )
    r = subprocess.run([sys.executable, "-c", code, str(BAD)], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stdout


def test_highlight_imports_without_pygments():
    code = (
        "import sys; sys.modules['pygments'] = None; import alexnet_dsl.tools.highlight as h; "
        "print(hasattr(h, 'NetLexer'), repr(h.highlight_line('relu')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == r"False '\x1b[36mrelu\x1b[0m'"

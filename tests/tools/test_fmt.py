"""`dslc fmt`: the canonical layout, every comment kept, the network unchanged, idempotent, atomic."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from alexnet_dsl.analysis.pipeline import check_text
from alexnet_dsl.cli.main import main
from alexnet_dsl.diagnostics import DslError
from alexnet_dsl.tools.fmt import fingerprint, format_text

ROOT = Path(__file__).parents[2]
SPECS = sorted((ROOT / "specs").glob("*.net"))
FILES = SPECS + sorted((ROOT / "tests" / "data" / "bad").glob("*.net"))
COMMENT = re.compile(r"#[^\r\n]*")  # a lone CR ends a line too


def comments(text: str) -> list[str]:
    return [c.rstrip() for c in COMMENT.findall(text)]


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="surrogateescape")


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_every_file_formats_to_the_same_network(path: Path):
    text = read(path)
    if check_text(text, str(path)).network is None:  # does not parse, or has no network
        with pytest.raises(DslError):
            format_text(text, str(path))
        return
    out = format_text(text, str(path))
    assert format_text(out, str(path)) == out  # idempotent
    assert fingerprint(out, str(path)) == fingerprint(text, str(path))  # same network, same diagnostics
    assert comments(out) == comments(text)  # every comment, in order
    lines = out.replace("\r\n", "\n").replace("\r", "\n")  # the file's own line endings are kept
    assert lines.endswith("\n") and not lines.endswith("\n\n")
    assert all(line == line.rstrip() for line in lines.split("\n"))
    assert all(not line.startswith(" ") or line.startswith("    ") for line in lines.split("\n"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_specs_are_canonical(path: Path):
    text = path.read_text()
    assert format_text(text, str(path)) == text, f"run `dslc fmt -i {path.relative_to(ROOT)}`"


TRICKY = """\
# header comment

# second header paragraph
block stage(filters,  # number of filters
   kernel, stride=1,
   # own-line inside params
   padding=0)  {   # after brace
    conv: conv(filters, kernel=kernel, stride=stride, padding=padding)   -> [N, filters, _, _]
    relu  # trailing on relu


    # own-line in body after two blanks
    pool: maxpool(kernel=3,stride=2)
    # before closing brace
}  # after closing brace
# between items, no blank before
network   Tricky( image :  [N, 3,  # channels
   227, 227] ) ->[N,10]{ stage1: stage(96, 11, stride=4)
    lrn(size=5, alpha=1e-4, beta=0.75, k=2) -> [N, 96, 27, 27]
    flatten
    fc: linear(
        10  # classes
        ,  # after the comma
        bias=true)
    x: dropout(0.50,) -> [N, 10]\t# tab before
\trelu( )
  # last own-line in network
}   \r
# end of file comment
  # indented end of file comment
"""

TRICKY_FORMATTED = """\
# header comment

# second header paragraph
block stage(
    filters,  # number of filters
    kernel,
    stride=1,
    # own-line inside params
    padding=0,
) {  # after brace
    conv: conv(filters, kernel=kernel, stride=stride, padding=padding) -> [N, filters, _, _]
    relu  # trailing on relu

    # own-line in body after two blanks
    pool: maxpool(kernel=3, stride=2)
    # before closing brace
}  # after closing brace

# between items, no blank before
network Tricky(
    image: [
        N,
        3,  # channels
        227,
        227,
    ]
) -> [N, 10] {
    stage1: stage(96, 11, stride=4)
    lrn(size=5, alpha=1e-4, beta=0.75, k=2) -> [N, 96, 27, 27]
    flatten
    fc: linear(
        10,  # classes
        # after the comma
        bias=true,
    )
    x: dropout(0.50)                        -> [N, 10]  # tab before
    relu
    # last own-line in network
}

# end of file comment
# indented end of file comment
"""


def test_comments_everywhere_are_kept_in_place():
    out = format_text(TRICKY)
    assert out == TRICKY_FORMATTED
    assert comments(out) == comments(TRICKY)
    assert format_text(out) == out


SMALL = """\
block cr(filters, kernel=3) {
    conv: conv(filters, kernel=kernel, padding=(1, 1)) -> [N, filters, _, _]
    relu
}

network Small(x: [N, 3, 32, 32]) -> [N, 10] {
    a: cr(8)
    b: conv(8, kernel=1, bias=false) from x
    c: add(a, b) -> [N, 8, 32, 32]
    flatten
    fc: linear(10, bias=true)
}
"""


def _variants(text: str):
    """SMALL with one comment added: before a line, after a line, or after any token inside brackets."""
    lines = text.split("\n")[:-1]
    for i in range(len(lines)):
        yield "\n".join(lines[:i] + ["# own", *lines[i:]]) + "\n"
        yield "\n".join(lines[:i] + [lines[i] + "  # end"] + lines[i + 1 :]) + "\n"
    depth = 0
    for m in re.finditer(r"[A-Za-z_0-9=]+|[()\[\],:]|->", text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(m.group(), 0)
        if depth > 0:
            yield text[: m.end()] + "  # inner\n" + text[m.end() :]


def test_a_comment_anywhere_is_kept():
    variants = list(_variants(SMALL))
    assert len(variants) > 60
    for text in variants:
        assert check_text(text).ok, text
        out = format_text(text)  # also checks the network and idempotence itself
        assert comments(out) == comments(text), (text, out)
        assert format_text(out) == out


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "network N(x:[N,4])->[N,2]{fc:linear(2)->[N,2]}",
            "network N(x: [N, 4]) -> [N, 2] {\n    fc: linear(2) -> [N, 2]\n}\n",
        ),
        (
            "network N(x: [N, 4]) {\n\tlrn(size=5, alpha=1e-4, beta=.75)\n}",
            "network N(x: [N, 4]) {\n    lrn(size=5, alpha=1e-4, beta=.75)\n}\n",
        ),
        ("network N(x: [N, 4]) {\r\n    relu()   \r\n}\r\n", "network N(x: [N, 4]) {\r\n    relu\r\n}\r\n"),
        ("network N(x: [N, 4]) {\r\n    relu()\n}\n", "network N(x: [N, 4]) {\n    relu\n}\n"),  # mixed: LF
        (
            "network N(x: [N, 4]) {\r    relu()  # a\r}\r",
            "network N(x: [N, 4]) {\r    relu  # a\r}\r",
        ),  # lone CR kept
        ("network N(x: [N, 4]) {\r    relu()\n}\n", "network N(x: [N, 4]) {\n    relu\n}\n"),  # mixed: LF
        (
            "\n\nnetwork N(x: [N, 4]) {\n\n\n    relu\n\n\n\n    relu\n\n}\n\n\n",
            "network N(x: [N, 4]) {\n    relu\n\n    relu\n}\n",
        ),
        (
            "block b(){relu}\nnetwork N(x: [N, 4]) { b }",
            "block b() {\n    relu\n}\n\nnetwork N(x: [N, 4]) {\n    b\n}\n",
        ),
    ],
)
def test_canonical_form(text: str, expected: str):
    assert format_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "network N(x: [N, 4]) {\n    relu\n",  # a syntax error
        "block b(n) {\n    relu\n}\n",  # no network
    ],
)
def test_refuses_what_does_not_parse_or_lower(text: str):
    with pytest.raises(DslError) as e:
        format_text(text)
    assert e.value.diagnostics and all(d.is_error for d in e.value.diagnostics)


# ---------------------------------------------------------------------------- the command line

UGLY = "network N(x:[N,4]) {\n  fc: linear(2)   # two\n}\n"
PRETTY = "network N(x: [N, 4]) {\n    fc: linear(2)  # two\n}\n"


def test_fmt_prints_the_canonical_form(tmp_path: Path, capsys):
    spec = tmp_path / "n.net"
    spec.write_text(UGLY)
    assert main(["fmt", str(spec)]) == 0
    assert capsys.readouterr().out == PRETTY
    assert spec.read_text() == UGLY  # stdout only


def test_fmt_check_exit_codes(tmp_path: Path, capsys):
    ugly, pretty = tmp_path / "ugly.net", tmp_path / "pretty.net"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    assert main(["fmt", "--check", str(pretty)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["fmt", "--check", str(pretty), str(ugly)]) == 1
    assert capsys.readouterr().out == f"{ugly}\n"
    assert main(["fmt", "--diff", str(ugly)]) == 1
    assert (
        "\n-  fc: linear(2)   # two\n+network N(x: [N, 4]) {\n+    fc: linear(2)  # two\n"
        in capsys.readouterr().out
    )
    assert ugly.read_text() == UGLY


def test_fmt_in_place(tmp_path: Path, capsys):
    ugly, pretty = tmp_path / "ugly.net", tmp_path / "pretty.net"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    os.chmod(ugly, 0o600)
    before = pretty.stat().st_mtime_ns
    assert main(["fmt", "-i", str(ugly), str(pretty)]) == 0
    assert ugly.read_text() == PRETTY and pretty.read_text() == PRETTY
    assert pretty.stat().st_mtime_ns == before  # canonical files are not rewritten
    assert ugly.stat().st_mode & 0o777 == 0o600
    assert capsys.readouterr().err == f"reformatted {ugly}\n"
    assert main(["fmt", "--check", str(ugly)]) == 0


def test_fmt_in_place_is_atomic(tmp_path: Path, monkeypatch, capsys):
    spec = tmp_path / "n.net"
    spec.write_text(UGLY)

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    assert main(["fmt", "-i", str(spec)]) == 2
    assert spec.read_text() == UGLY
    assert [p.name for p in tmp_path.iterdir()] == ["n.net"]  # no temporary file left
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err and "No space left" in err


def test_fmt_refuses_a_broken_file(tmp_path: Path, capsys):
    spec = tmp_path / "broken.net"
    broken = "network N(x: [N, 4]) {\n    fc: linear(2\n}\n"
    spec.write_text(broken)
    assert main(["fmt", "-i", str(spec)]) == 1
    assert spec.read_text() == broken
    err = capsys.readouterr().err
    assert "error[E0001]" in err and f"{spec}: not formatted" in err and "Traceback" not in err
    assert main(["fmt", "--check", str(spec)]) == 1


def test_fmt_usage_errors(tmp_path: Path, capsys):
    assert main(["fmt", str(tmp_path / "missing.net")]) == 2
    assert main(["fmt", "-i", "-"]) == 2
    assert main(["fmt", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("dslc: error:") == 3 and "Traceback" not in err


def test_fmt_reads_standard_input(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(UGLY))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == PRETTY


def test_windows_line_endings_are_kept_and_the_byte_order_mark_dropped():
    text = "\ufeffnetwork T(x: [N, 3, 8, 8]) {\r\n  conv(4,kernel=3)  # c\r\n}\r\n"
    out = format_text(text)
    assert out == "network T(x: [N, 3, 8, 8]) {\r\n    conv(4, kernel=3)  # c\r\n}\r\n"
    assert format_text(out) == out
    assert format_text(text.replace("\r\n", "\n")) == out.replace("\r\n", "\n")

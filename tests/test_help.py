"""The `help` of a diagnostic proposes the fix for the mistake people actually make.

Golden files pin which code lands on which line; these pin what the help says for mistakes that
come from other tools' habits (PyTorch's positional constructors, `from` as a keyword argument).
"""

from __future__ import annotations

import pytest

from alexnet_dsl.analysis import check_text


def diagnostics(body: str, input_dims: str = "N, 3, 32, 32", blocks: str = "") -> list:
    text = f"{blocks}network T(x: [{input_dims}]) {{\n{body}}}\n"
    return check_text(text, "t.net").diagnostics


def only_error(body: str, **kw):
    errors = [d for d in diagnostics(body, **kw) if d.is_error]
    assert len(errors) == 1, [d.message for d in errors]
    return errors[0]


@pytest.mark.parametrize(("body", "code", "help_text"), [
    ("    c: conv(8, kernel=3, from=x)\n", "E0102", "`conv(...) from x`"),
    ("    c: conv(8, kernel=3, strides=2)\n", "E0102", "did you mean `stride`?"),
    ("    c: MaxPool(kernel=2)\n", "E0101", "did you mean `maxpool`?"),
    ("    flatten\n    linear(3072, 10)\n", "E0106", "write `linear(10)`"),
    ("    flatten\n    linear(3072, 10, false)\n", "E0106", "write `linear(10, bias=false)`"),
    ("    conv(3, 8, 3)\n", "E0106", "write `conv(8, kernel=3)`"),
    ("    conv(3, 8, kernel=3, padding=1)\n", "E0106", "write `conv(8, kernel=3, padding=1)`"),
    ("    conv(96, 11, 4)\n", "E0106", "name them: `conv(96, kernel=11, stride=4)`"),
    ("    batchnorm(3)\n", "E0106", "so write `batchnorm`"),
    ("    maxpool(2)\n", "E0106", "name them: `maxpool(kernel=2)`"),
    ("    lrn(5, 5e-4, 0.75, 2)\n", "E0106", "write `lrn(5, avg_alpha=5e-4, beta=0.75, k=2)`"),
    ("    fc: linear(10)\n", "E0306", "insert `flatten` before it"),
])
def test_help_proposes_the_fix(body: str, code: str, help_text: str):
    d = only_error(body)
    assert d.code == code
    assert any(help_text in h for h in d.helps), d.helps


@pytest.mark.parametrize("body", ["    flatten\n    linear(3072, 10)\n", "    batchnorm(3)\n"])
def test_no_rewrite_puts_a_number_into_a_flag_or_eps(body: str):
    helps = " ".join(only_error(body).helps)
    assert "bias=10" not in helps and "eps=" not in helps, helps


def test_the_proposed_rewrites_check():
    """Every call a help proposes is itself a valid call on this input."""
    for body, rewritten in [("    conv(3, 8, 3)\n", "    conv(8, kernel=3)\n"),
                            ("    flatten\n    linear(3072, 10)\n", "    flatten\n    linear(10)\n"),
                            ("    batchnorm(3)\n", "    batchnorm\n")]:
        assert f"`{rewritten.splitlines()[-1].strip()}`" in " ".join(only_error(body).helps)
        assert not [d for d in diagnostics(rewritten) if d.is_error]


def test_assertion_names_must_be_input_symbols_or_block_parameters():
    d = only_error("    c: conv(8, kernel=3) -> [N, 8, H, 30]\n")
    assert d.code == "E0309" and "`H`" in d.message
    assert (d.span.line, d.span.col) == (2, 36)
    # a typo of a real symbol gets a did-you-mean; block parameters are sizes inside the block
    d = only_error("    c: conv(8, kernel=3) -> [N, 8, S2, S]\n", input_dims="N, 3, S, S")
    assert "did you mean `S`?" in d.helps
    block = "block stage(filters) {\n    c: conv(filters, kernel=3, padding=1) -> [N, filters, _, _]\n}\n"
    assert not [d for d in diagnostics("    s: stage(8) -> [N, 8, 32, 32]\n", blocks=block) if d.is_error]
    wrong = diagnostics("    s: stage(8) -> [N, 16, 32, 32]\n", blocks=block)
    assert [d.code for d in wrong if d.is_error] == ["E0301"]


def test_a_mistake_in_a_block_is_reported_once_not_once_per_instance():
    block = "block stage(f) {\n    conv(f, kernel=3, strides=1)\n    lrn(size=5, alpha=10e-4)\n}\n"
    diags = diagnostics("    a: stage(4)\n    b: stage(4)\n    c: stage(8)\n", blocks=block)
    assert sorted(d.code for d in diags) == ["E0102", "W0403"]


def test_an_error_resting_on_a_failed_assertion_says_so():
    body = "    l1: conv(2, kernel=1) -> [N, 3, 32, 32]\n    l2: conv(2, kernel=1, groups=2)\n    relu\n"
    errors = [d for d in diagnostics(body) if d.is_error]
    assert [d.code for d in errors] == ["E0301", "E0303"]
    assert any("as asserted on line 2, though it computes [N, 2, 32, 32]" in n for n in errors[1].notes)
    assert not any("as asserted" in n for n in errors[0].notes)
    # an error that does not follow a failed assertion carries no such note
    clean = [d for d in diagnostics("    conv(3, kernel=1, groups=2)\n") if d.is_error]
    assert clean and not any("as asserted" in n for n in clean[0].notes)

"""Golden diagnostics: each bad spec marks the expected codes on the offending line.

    conv(64, kernel=3, groups=2)   # E: E0303

`E:` lists errors, `W:` warnings; a line may carry several codes (a code twice means two
diagnostics). The test compares (line, code) pairs, so messages can improve freely.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from alexnet_dsl.analysis.pipeline import check_file, check_text

BAD = sorted((Path(__file__).parents[1] / "data" / "bad").glob("*.net"))
MARK = re.compile(r"\b([EW]):\s*((?:[EW]\d{4}\s*)+)")


def expected(path: Path) -> Counter:
    out: Counter = Counter()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if "#" not in line:
            continue
        comment = line[line.index("#") :]
        for kind, codes in MARK.findall(comment):
            for code in codes.split():
                assert code[0] == kind, f"{path.name}:{number}: {code} listed under {kind}:"
                out[(number, code)] += 1
    return out


def actual(path: Path) -> Counter:
    analysis = check_file(path)
    return Counter(
        (d.span.line if d.span else 0, d.code)
        for d in analysis.diagnostics
        if d.severity.value in ("error", "warning")
    )


def test_there_are_golden_files():
    assert len(BAD) >= 25


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_golden(path: Path):
    want = expected(path)
    assert want, f"{path.name} marks no expected diagnostic"
    assert actual(path) == want


# ---------------------------------------------------------------------------- one mistake, one error


def only_errors(text: str) -> list:
    return check_text(text).errors


def test_a_wrong_assertion_is_not_blamed_on_the_correct_layer_after_it():
    text = (
        "network T(x: [N, 3, 32, 32]) {\n    p1: maxpool(kernel=2) -> [N, 3, 32, 32]\n"
        "    p2: maxpool(kernel=2) -> [N, 3, 8, 8]\n}\n"
    )
    (d,) = only_errors(text)
    assert (d.code, d.span.line) == ("E0301", 2)
    assert any("goes on from the computed shape [N, 3, 16, 16]" in n for n in d.notes)
    # the one help is the assertion's own fix, and the spec it writes checks (no input-size help: it would
    # move the error to p2)
    assert d.helps == ("if the assertion is the mistake, write `-> [N, 3, 16, 16]`",)
    assert check_text(text.replace("-> [N, 3, 32, 32]", "-> [N, 3, 16, 16]")).ok


def test_a_wrong_layer_is_blamed_when_the_assertions_after_it_agree():
    analysis = check_file(Path(__file__).parents[1] / "data" / "bad" / "alexnet_224.net")
    (d,) = [d for d in analysis.diagnostics if d.is_error]
    assert any("goes on from the asserted shape" in n for n in d.notes)
    assert any("227" in h for h in d.helps)


def test_the_choice_costs_linear_time_with_many_failed_assertions(monkeypatch):
    """Count the layer computations (the trials included), not seconds: no machine's speed matters."""
    from alexnet_dsl.analysis import downstream, inference, rules

    calls = 0
    compute = rules.compute

    def counting(*args):
        nonlocal calls
        calls += 1
        return compute(*args)

    for module in (inference, downstream):  # the main pass and the trials
        monkeypatch.setattr(module, "compute", counting)
    n = 300
    every = (
        "network T(x: [N, 4, 16, 16]) {\n" + "    conv(4, kernel=1) -> [N, 5, 16, 16]\n    relu\n" * n + "}\n"
    )
    tail = (
        "network T(x: [N, 4, 16, 16]) {\n    conv(4, kernel=1) -> [N, 5, 16, 16]\n" + "    relu\n" * n + "}\n"
    )
    for text in (every, tail):
        net = check_text(text).network
        calls = 0
        inference.infer(net)
        # the main pass computes each layer once; the trials of a failed assertion each at most once more,
        # and only the layers up to where the two choices agree again (the next assertion)
        assert calls <= 3 * len(net.layers), (calls, len(net.layers))


def test_solver_errors_are_one_per_assertion():
    (d,) = only_errors(
        "network T(x: [N, 3, H, W]) {\n    a: conv(8, kernel=1, stride=2)\n"
        "    b: conv(8, kernel=1, stride=3) from x\n    s: add(a, b) -> [N, 8, 16, 16]\n}\n"
    )
    assert d.code == "E0308" and d.label == "height and width"
    assert "`s`" in d.message and "[N, 8, 16, 16]" in d.message


# ---------------------------------------------------------------------------- messages


def test_batch_symbol_as_a_size_is_rejected_and_never_proposed_as_a_binding():
    for dims, assertion in (
        ("N, 3, 32, 32", "[N, N, 30, 30]"),
        ("N, 3, 32, 32", "[N, 8, N, 30]"),
        ("N, 3, N, N", "[N, 8, _, _]"),
    ):
        (d,) = only_errors(f"network T(x: [{dims}]) {{\n    c: conv(8, kernel=3) -> {assertion}\n}}\n")
        assert d.code == "E0309" and "batch symbol `N`" in d.message
    # another symbol is fine, the batch in first place too
    assert check_text("network T(x: [B, 3, N, N]) {\n    c: conv(8, kernel=3) -> [B, 8, _, _]\n}\n").ok


def test_a_missing_brace_is_one_error_that_says_so():
    (d,) = only_errors("network T(x: [N, 3, 32, 32])\n    conv(8, kernel=3)\n    relu\n}\n")
    assert d.code == "E0001" and "`{` may be missing" in " ".join(d.helps)
    assert "after the end of the line" not in d.message


def test_line_endings_lf_crlf_and_lone_cr_read_the_same():
    text = "network T(x: [N, 3, 32, 32]) {\n    c: conv(8, kernel=3) -> [N, 8, 32, 32]\n}\n"
    for ending in ("\n", "\r\n", "\r"):
        (d,) = only_errors(text.replace("\n", ending))
        assert (d.code, d.span.line, d.span.col) == ("E0301", 2, 29), ending


@pytest.mark.parametrize(
    "call", ["conv(１６, kernel=3)", "conv(16, kernel=٣)", "conv(16, kernel=3) -> [N, １６, _, _]"]
)
def test_digits_of_other_scripts_are_not_numbers(call):
    (d,) = only_errors(f"network T(x: [N, 3, 32, 32]) {{\n    {call}\n}}\n")
    assert d.code == "E0002" and "non-ASCII digits" in d.message


@pytest.mark.parametrize(
    ("line", "code", "meant"),
    [
        ("ReLU", "E0101", "relu"),
        ("Conv(8, kernel=3)", "E0101", "conv"),
        ("dense(10)", "E0101", "linear"),
        ("MaxPool2d(kernel=2)", "E0101", "maxpool"),
        ("lrn(5, bias=2)", "E0102", "k"),
        ("conv(8, kernel_size=3)", "E0102", "kernel"),
    ],
)
def test_did_you_mean_knows_case_and_other_frameworks_names(line, code, meant):
    (d,) = only_errors(f"network T(x: [N, 3, 32, 32]) {{\n    {line}\n}}\n")
    assert d.code == code and any(h.startswith(f"did you mean `{meant}`?") for h in d.helps), d.helps


def test_the_documented_examples_of_suggestions_are_produced():
    from alexnet_dsl.codes import CODES

    example = next(line for line in CODES["E0101"].explanation.splitlines() if "did you mean" in line)
    call = example.split("#")[0].strip()
    (d,) = only_errors(f"network T(x: [N, 3, 32, 32]) {{\n    flatten\n    {call}\n}}\n")
    assert d.code == "E0101" and example.split("help: ")[1] in d.helps


@pytest.mark.parametrize(
    ("size", "output", "words"),
    [
        ("7, 9", "11", "enlarges 7x9 to 11x11"),
        ("14, 14", "(5, 7)", "averages 14x14 down to 5x7"),
        ("7, 9", "(3, 12)", "averages over the height and repeats values along the width"),
    ],
)
def test_adaptive_pool_warning_says_which_way_it_resizes(size, output, words):
    diags = check_text(f"network T(x: [N, 3, {size}]) {{\n    adaptive_avgpool({output})\n}}\n").diagnostics
    (d,) = [d for d in diags if d.code == "W0402"]
    assert words in d.message


def test_memory_budget_in_units_that_fit_and_no_negative_budget():
    from alexnet_dsl.backend.budget import budget_bytes, check_budget
    from alexnet_dsl.diagnostics import DslError
    from alexnet_dsl.units import format_bytes

    assert budget_bytes("1M") == 2**20 and budget_bytes(None) is None and budget_bytes(1.5e3) == 1500
    assert [format_bytes(n) for n in (512, 2**20, 3 * 2**30 // 2)] == ["512 B", "1.0 MiB", "1.5 GiB"]
    for wrong in (-1, "-1", float("nan"), True, "１M"):
        with pytest.raises(ValueError, match="budget"):
            budget_bytes(wrong)
    analysis = check_text("network T(x: [N, 3, 32, 32]) {\n    conv(64, kernel=3)\n}\n")
    with pytest.raises(DslError) as err:
        check_budget(analysis, budget_bytes("1K"))
    assert "over the budget of 1.0 KiB" in str(err.value) and " 0.0" not in str(err.value)


# ---------------------------------------------------------------------------- the choice after a failed assertion


def _blocks_alexnet(pool_assertion: str) -> str:
    text = (Path(__file__).parents[2] / "specs" / "alexnet_blocks.net").read_text()
    old = "    pool: maxpool(kernel=3, stride=2)\n"
    assert old in text
    return text.replace(old, f"    pool: maxpool(kernel=3, stride=2) -> {pool_assertion}\n")


@pytest.mark.parametrize("sizes", ["13, 13", "12, 12"])
def test_a_wrong_assertion_in_a_block_body_is_one_error_and_the_instance_assertions_hold(sizes):
    """One wrong in-body assertion: one error (not one per instance, nor one more on the instance's
    own correct `-> [N, 96, 27, 27]`), going on from the computed shape, with the body's fix."""
    from alexnet_dsl.diagnostics import apply_edits

    text = _blocks_alexnet(f"[N, filters, {sizes}]")
    line = 1 + text.splitlines().index(f"    pool: maxpool(kernel=3, stride=2) -> [N, filters, {sizes}]")
    (d,) = only_errors(text)
    assert (d.code, d.span.line) == ("E0301", line)
    assert any("goes on from the computed shape [N, 96, 27, 27]" in n for n in d.notes)
    assert not any("either way" in n or "have 2 errors" in n for n in d.notes)
    if sizes == "12, 12":  # it fails in both instances: one error naming the other
        assert any(n.startswith("also in `stage2`") for n in d.notes)
    (fix,) = d.rewrites
    assert fix.help == "if the assertion is the mistake, write `_` for its height and width"
    fixed = apply_edits(text, fix.edits)
    assert "-> [N, filters, _, _]" in fixed and check_text(fixed).ok


def test_the_instance_assertion_after_a_body_assertion_decides_in_the_trials_too():
    """s2's choice is made by checking s3, whose body and call assertions are both checked: s3's call
    assertion agrees with the computed chain, so everything goes on from computed shapes."""
    (d,) = only_errors((Path(__file__).parents[1] / "data" / "bad" / "block_body_assertion.net").read_text())
    assert [n for n in d.notes if n.startswith("also in")] == [
        "also in `s2` (line 13): `s2.pool` produces [N, 16, 8, 8]",
        "also in `s3` (line 14): `s3.pool` produces [N, 16, 4, 4]",
    ]
    assert d.helps == ("if the assertion is the mistake, write `_` for its height and width",)


def test_on_a_tie_a_layer_no_argument_can_change_is_not_the_mistake():
    path = Path(__file__).parents[2] / "specs" / "alexnet.net"
    text = path.read_text()
    old = "-> [N, 9216]"
    assert text.count(old) == 1
    analysis = check_text(text.replace(old, "-> [N, 4096]"))
    (d,) = [d for d in analysis.diagnostics if d.is_error]
    assert any(
        "goes on from the computed shape [N, 9216]: no argument of `flatten1` changes its features" in n
        for n in d.notes
    )
    assert "if the assertion is the mistake, write `-> [N, 9216]`" in d.helps
    params = {i.layer.name: i.params for i in analysis.infos}
    assert params["fc6"] == 9216 * 4096 + 4096
    assert sum(p for p in params.values() if p) == 60_965_224
    # a pool's channels: no argument of the pool changes them
    (d,) = only_errors(
        "network T(x: [N, 3, 32, 32]) {\n    c: conv(96, kernel=3, padding=1)\n"
        "    p: maxpool(kernel=2) -> [N, 48, 16, 16]\n    conv(16, kernel=3, padding=1, groups=2)\n}\n"
    )
    assert any("goes on from the computed shape [N, 96, 16, 16]" in n for n in d.notes)
    # a layer that can be the mistake keeps the asserted shape on a tie (its size, not its assertion)
    d, _ = only_errors(
        "network T(x: [N, 3, 32, 32]) {\n    p: maxpool(kernel=3) -> [N, 3, 16, 16]\n"
        "    c: conv(4, kernel=3) -> [N, 4, 16, 16]\n}\n"
    )
    assert any("goes on from the asserted shape" in n for n in d.notes)


_COMPARED = re.compile(
    r"the layers from `(\w+)` to `(\w+)`, where the two shapes agree again, have (no|\d+) error"
)


def test_the_counts_of_a_choice_cover_only_what_was_compared():
    """Several independent mistakes: each note's count is the number of errors reported on the layers it
    names (before, conv1's note said 'the layers after `conv1` have no error' while two followed)."""
    path = Path(__file__).parents[1] / "data" / "bad" / "several_wrong_assertions.net"
    analysis = check_file(path)
    errors = [d for d in analysis.diagnostics if d.is_error]
    lines = {i.layer.display_name: i.layer.span.line for i in analysis.infos}
    checked = 0
    for d in errors:
        for note in d.notes:
            m = _COMPARED.search(note)
            if m:
                first, last, count = lines[m[1]], lines[m[2]], 0 if m[3] == "no" else int(m[3])
                assert sum(first <= e.span.line <= last for e in errors) == count, note
                checked += 1
            if "after `" in note and "have" in note:
                raise AssertionError(f"a count over the whole rest of the network: {note}")
    assert checked == 2
    (pool2,) = [d for d in errors if d.span.line == lines["pool2"]]
    assert any("`conv3`, where the two shapes agree again, has 1 error either way" in n for n in pool2.notes)


# ---------------------------------------------------------------------------- text copied from papers


def _apply(text: str, d) -> str:
    from alexnet_dsl.diagnostics import apply_edits

    (r,) = d.rewrites
    return apply_edits(text, r.edits)


def test_a_typeset_minus_sign_is_named_where_it_is_and_replaced_everywhere():
    text = (
        "network T(x: [N, 96, 27, 27]) {\n    lrn(size=5, alpha=1e−4)   # 1e−4 in a comment stays\n"
        "    lrn(size=5, alpha=1e−4)\n}\n"
    )
    first, second = only_errors(text)
    assert (first.code, first.span.line, first.span.col) == ("E0002", 2, 25)  # the minus sign, not the `e`
    assert "U+2212 MINUS SIGN" in first.message and first.span.line != second.span.line
    assert first.helps[-1].startswith("write `-`") and "names are ASCII" not in " ".join(first.helps)
    fixed = _apply(text, first)
    assert check_text(fixed).ok and "1e−4 in a comment stays" in fixed


@pytest.mark.parametrize(
    ("line", "col", "words"),
    [
        ("lrn(size=5, alpha=−1e-4)", 23, "a typeset `-`"),  # (the fix, -1e-4, is out of range: no help)
        ("conv(8, kernel=3²)", 21, "`3²` is `9`; a 3×3 window is `kernel=3`"),
        ("conv(8, kernel=11×11)", 22, "a window of 11×11 is `kernel=11`"),
        ("maxpool(kernel=3, stride=2, ceil=”true”)", 38, "without quotes"),
    ],
)
def test_typeset_characters_are_named_not_taken_for_names(line, col, words):
    (d,) = only_errors(f"network T(x: [N, 96, 27, 27]) {{\n    {line}\n}}\n")
    assert (d.code, d.span.line, d.span.col) == ("E0002", 2, col)
    said = " ".join((d.label, *d.helps))
    assert words in said and "names are ASCII" not in said


def test_missing_parenthesis_in_the_header_expects_only_it():
    (d,) = only_errors("network T(x: [N, 3, 8, 8] -> [N, 8, 6, 6] {\n    conv(8, kernel=3)\n}\n")
    assert d.code == "E0001" and "`)`" in d.label and "`{`" not in d.label and "`}`" not in d.label


# ---------------------------------------------------------------------------- other frameworks' arguments


@pytest.mark.parametrize(
    ("call", "fixed"),
    [
        ("conv(in_channels=3, out_channels=16, kernel_size=3)", "conv(16, kernel=3)"),
        ("conv(in_channels=3, kernel_size=3, stride=1, out_channels=16)", "conv(16, kernel=3, stride=1)"),
        ("conv(16, in_channels=3, kernel_size=3)", "conv(16, kernel=3)"),
        ("conv(in_channels=3, filters=16, kernel=3)", "conv(16, kernel=3)"),
    ],
)
def test_a_pytorch_style_line_is_one_error_with_one_verified_rewrite(call, fixed):
    text = f"network T(x: [N, 3, 8, 8]) -> [N, 16, 6, 6] {{\n    {call}\n}}\n"
    (d,) = only_errors(text)
    assert d.code == "E0102" and d.helps == (f"write `{fixed}`",)
    assert check_text(_apply(text, d)).ok
    if "in_channels" in call:
        assert any("inferred" in n for n in d.notes)


def test_inferred_features_and_other_frameworks_names_get_hints():
    text = "network T(x: [N, 8]) -> [N, 10] {\n    linear(in_features=8, out_features=10)\n}\n"
    (d,) = only_errors(text)
    assert d.helps == ("write `linear(10)`",) and check_text(_apply(text, d)).ok
    for call, meant in (
        ("conv(num_output=3, kernel=1)", "filters"),
        ("lrn(n=5)", "size"),
        ("maxpool(pool_size=2)", "kernel"),
    ):
        (d,) = only_errors(f"network T(x: [N, 3, 8, 8]) {{\n    {call}\n}}\n")
        assert d.code == "E0102" and any(f"did you mean `{meant}`?" in h for h in d.helps), (call, d.helps)


def test_a_block_parameter_cannot_shadow_the_batch_symbol():
    text = (
        "block st(N) {\n    conv(N, kernel=3) -> [N, 2, _, _]\n}\n"
        "network T(x: [N, 3, 8, 8]) {\n    st(2)\n    st(4)\n}\n"
    )
    (d,) = only_errors(text)
    assert (d.code, d.span.line) == ("E0204", 1) and "batch symbol" in d.message
    renamed = text.replace("st(N)", "st(f)").replace("conv(N", "conv(f").replace("[N, 2", "[N, f")
    assert check_text(renamed).ok


def test_coupled_symbols_note_reads_as_a_sentence():
    a = check_text("network T(x: [N, 3, H, W]) {\n    c: conv(4, kernel=3) -> [N, 4, _, H]\n}\n")
    (d,) = [d for d in a.diagnostics if d.code == "N0501"]
    assert "coupled: " in d.message and "coupled by" not in d.message


def test_memory_budget_numbers_and_strings_alike_and_no_fraction_of_a_byte(monkeypatch):
    from alexnet_dsl.backend.budget import budget_bytes, default_budget
    from alexnet_dsl.units import format_bytes

    assert budget_bytes("1e9") == budget_bytes(1e9) == 10**9
    assert budget_bytes("1.5G") == budget_bytes(1.5 * 2**30) and budget_bytes(1024.5) == 1024
    for fraction in (1.5, "1.5", 0.5):
        with pytest.raises(ValueError, match="1.5G|0.5G"):
            budget_bytes(fraction)
    assert format_bytes(1) == "1 B"
    monkeypatch.setenv("DSLC_MEMORY_BUDGET", "-1")
    with pytest.raises(ValueError, match="DSLC_MEMORY_BUDGET='-1'"):
        default_budget()
    monkeypatch.setenv("DSLC_MEMORY_BUDGET", "1e9")
    assert default_budget() == 10**9

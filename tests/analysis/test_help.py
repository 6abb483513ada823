"""The `help` of a diagnostic proposes the fix for the mistake people actually make.

Golden files pin which code lands on which line; these pin what the help says for mistakes that
come from other tools' habits (PyTorch's positional constructors, `from` as a keyword argument).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alexnet_dsl.analysis.pipeline import bind, check_text
from alexnet_dsl.backend.build import analyse
from alexnet_dsl.diagnostics import DslError, apply_edits

ROOT = Path(__file__).parents[2]


def diagnostics(body: str, input_dims: str = "N, 3, 32, 32", blocks: str = "") -> list:
    text = f"{blocks}network T(x: [{input_dims}]) {{\n{body}}}\n"
    return check_text(text, "t.net").diagnostics


def only_error(body: str, **kw):
    errors = [d for d in diagnostics(body, **kw) if d.is_error]
    assert len(errors) == 1, [d.message for d in errors]
    return errors[0]


@pytest.mark.parametrize(
    ("body", "code", "help_text"),
    [
        (
            "    c: conv(8, kernel=3, from=x)\n",
            "E0102",
            "write it after the call, `conv(8, kernel=3) from x`",
        ),
        (
            "    c: conv(8, from=x, kernel=3)\n",
            "E0102",
            "write it after the call, `conv(8, kernel=3) from x`",
        ),
        ("    lrn(depth_radius=2)\n", "E0102", "write `size=5`"),
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
    ],
)
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
    for body, rewritten in [
        ("    conv(3, 8, 3)\n", "    conv(8, kernel=3)\n"),
        ("    flatten\n    linear(3072, 10)\n", "    flatten\n    linear(10)\n"),
        ("    batchnorm(3)\n", "    batchnorm\n"),
    ]:
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
    # l2 fits the asserted 3 channels, not the computed 2: checking goes on from the assertion, and
    # l3's mistake (wrong either way) rests on it
    body = (
        "    l1: conv(2, kernel=1) -> [N, 3, 32, 32]\n    l2: conv(6, kernel=1, groups=3)\n"
        "    l3: conv(4, kernel=1, groups=4)\n"
    )
    errors = [d for d in diagnostics(body) if d.is_error]
    assert [d.code for d in errors] == ["E0301", "E0303"]
    assert any("as asserted on line 2, though it computes [N, 2, 32, 32]" in n for n in errors[1].notes)
    assert not any("as asserted" in n for n in errors[0].notes)
    # an error that does not follow a failed assertion carries no such note
    clean = [d for d in diagnostics("    conv(3, kernel=1, groups=2)\n") if d.is_error]
    assert clean and not any("as asserted" in n for n in clean[0].notes)


# ---------------------------------------------------------------------------- helps that propose a rewrite


def rewrite_helps(d) -> list[str]:
    return [r.help for r in d.rewrites]


def test_a_positional_value_never_lands_on_an_argument_also_given_by_keyword():
    # `conv(96, 11, kernel=11)` is PyTorch's nn.Conv2d(96, 11, kernel_size=11), never `stride=11`
    d = only_error("    conv(96, 11, kernel=11)\n", input_dims="N, 3, 227, 227")
    assert not any("stride=11" in h for h in d.helps), d.helps
    assert any("write `conv(11, kernel=11)`" in h for h in d.helps), d.helps


def test_a_pytorch_reading_needs_its_required_arguments():
    # nn.Conv2d(16, 3, padding=1) has no kernel_size: the only valid reading is dslc's
    d = only_error("    conv(16, 3, padding=1)\n")
    assert d.helps == ("name them: `conv(16, kernel=3, padding=1)`",), d.helps


def test_a_flag_is_not_read_as_a_size():
    d = only_error("    flatten\n    linear(10, false)\n")
    assert d.helps == ("name them: `linear(10, bias=false)`",), d.helps


@pytest.mark.parametrize(
    ("call", "literal"),
    [
        ("conv(8, kernel=3, bias=False)", "false"),
        ("maxpool(kernel=2, ceil=True)", "true"),
        ("conv(8, kernel=3, padding=Same)", "same"),
    ],
)
def test_python_literals_get_the_lowercase_spelling(call: str, literal: str):
    d = only_error(f"    {call}\n")
    assert d.helps == (f"write `{literal}`",), d.helps
    assert not [e for e in diagnostics(f"    {call.replace(literal.capitalize(), literal)}\n") if e.is_error]


def test_a_conv_that_forgot_its_padding_gets_the_padding():
    alexnet = (ROOT / "specs" / "alexnet.net").read_text()
    assert "conv3: conv(384, kernel=3, padding=1)\n" in alexnet
    text = alexnet.replace(
        "conv3: conv(384, kernel=3, padding=1)\n", "conv3: conv(384, kernel=3) -> [N, 384, 13, 13]\n"
    )
    errors = check_text(text, "a.net").errors
    assert [d.code for d in errors] == ["E0301"]
    assert errors[0].helps == ("with `padding=1`, `conv3` gives 13x13 as asserted",), errors[0].helps
    assert not any("an input to" in n for n in errors[0].notes)  # not "an input to `conv3` of 15x15 gives"


def test_wrong_filters_get_the_filters_and_a_wrong_assertion_does_not():
    alexnet = (ROOT / "specs" / "alexnet.net").read_text()
    line = "conv1: conv(96, kernel=11, stride=4)            -> [N, 96, 55, 55]"
    assert line in alexnet
    wrong_layer = check_text(alexnet.replace(line, line.replace("conv(96", "conv(48"))).errors
    assert [d.helps for d in wrong_layer] == [("with 96 filters, `conv1` gives the asserted 96 channels",)]
    # 48 filters would break conv2 and pool1's assertion: the rewrite does not check, so it is not shown
    wrong_assertion = check_text(alexnet.replace(line, line.replace("N, 96", "N, 48"))).errors
    assert len(wrong_assertion) == 1 and not any("filters" in h for h in wrong_assertion[0].helps)


def test_a_pool_that_forgot_its_stride_gets_the_stride():
    # a 2x2 pool runs at stride 1 when its stride is left out; kernel=5 also gives 4x4, but one change is
    # shown: the first of padding, stride, kernel that checks
    body = "    p: maxpool(kernel=2, stride=1) -> [N, 3, 4, 4]\n    q: maxpool(kernel=2) -> [N, 3, 2, 2]\n"
    d = only_error(body, input_dims="N, 3, 8, 8")
    assert [h for h in d.helps if h.startswith("with")] == ["with `stride=2`, `p` gives 4x4 as asserted"]
    text = f"network T(x: [N, 3, 8, 8]) {{\n{body}}}\n"
    assert check_text(apply_edits(text, d.rewrites[0].edits)).ok


def test_alexnet_at_224_gets_torchvision_s_padding_and_the_input_size():
    errors = check_text((ROOT / "tests" / "data" / "bad" / "alexnet_224.net").read_text()).errors
    assert errors[0].helps[:2] == (
        "with `padding=2`, `conv1` gives 55x55 as asserted",
        "an input of 227x227 gives 55x55 exactly; 227..230 give 55",
    )


def test_only_the_input_sizes_that_divide_exactly_and_check_are_proposed():
    # 223 also divides conv1 exactly, but gives 54x54 where 55x55 is asserted
    warning = next(
        d
        for d in check_text((ROOT / "tests" / "data" / "bad" / "alexnet_224.net").read_text()).diagnostics
        if d.code == "W0401"
    )
    assert warning.helps == ("an input of 227x227 divides exactly (giving 55x55)",), warning.helps
    # inside the network the sizes are not written anywhere: a note, not a help
    inner = [
        d
        for d in diagnostics(
            "    c: conv(4, kernel=1)\n    p: maxpool(kernel=3, stride=2)\n", input_dims="N, 3, 8, 8"
        )
        if d.code == "W0401"
    ]
    assert len(inner) == 1 and not inner[0].helps
    assert "inputs of 7 or 9 divide exactly (giving 3 or 4)" in inner[0].notes


@pytest.mark.parametrize(
    ("body", "helps"),
    [
        (
            "    conv(8, kernel=3, groups=2)\n",
            ("use `groups=1`",),
        ),  # 3 would divide 3 channels, not 8 filters
        ("    conv(6, kernel=1)\n    conv(7, kernel=1, groups=2)\n", ("use 6 filters", "use 8 filters")),
        (
            "    conv(8, kernel=(3, 5), stride=2, padding=same)\n",
            ("give the padding as numbers: `padding=(1, 2)` is half the kernel",),
        ),
        ("    conv(8, kernel=3)\n    fc: linear(10) -> [N, 10]\n", ("insert `flatten` before it",)),
    ],
)
def test_argument_and_layer_rewrites_fix_the_error(body: str, helps: tuple[str, ...]):
    d = only_error(body)
    assert d.helps == helps
    text = f"network T(x: [N, 3, 32, 32]) {{\n{body}}}\n"
    for r in d.rewrites:
        assert check_text(apply_edits(text, r.edits)).ok, r


def test_a_rewrite_that_does_not_check_is_not_shown():
    # read in dslc's order, `conv(3, 8, 3)` is conv(3, kernel=8, stride=3): 9x9, not the asserted 30x30
    d = only_error("    c: conv(3, 8, 3) -> [N, 8, 30, 30]\n")
    assert not any("name them" in h for h in d.helps), d.helps
    assert any("write `conv(8, kernel=3)`" in h for h in d.helps), d.helps


def test_every_shown_rewrite_is_carried_with_its_edits_in_json():
    text = (
        "network T(x: [N, 3, 32, 32]) {\n    lrn(size=5, alpha=10e-4)\n    conv(8, kernel=3, bias=False)\n}\n"
    )
    a = check_text(text)
    fixes = [f for d in a.to_json()["diagnostics"] for f in d.get("fixes", [])]
    assert [f["help"] for f in fixes] == ["write `alpha=1e-4` if you mean the paper's value", "write `false`"]
    for d in a.diagnostics:
        for r in d.rewrites:
            assert r.help in d.helps
    fixed = text
    for d in reversed(a.diagnostics):  # later lines first: each edit's position stays valid
        for r in d.rewrites:
            fixed = apply_edits(fixed, r.edits)
    assert fixed == text.replace("10e-4", "1e-4").replace("False", "false")


COUPLED = (
    "network T(x: [N, 3, H, W]) {\n    p: maxpool(kernel=2) -> [N, 3, _, H]\n    c: conv(4, kernel=3)\n}\n"
)


def test_bound_sizes_get_the_values_that_work_with_the_others():
    """W // 2 == H ties the sizes: with H=8 only W in 16..17 works (W's own set, 12.., is what some H allows)."""
    a = check_text(COUPLED)
    assert a.ok
    d = next(d for d in bind(a, {"H": 8, "W": 9}).diagnostics if d.is_error)
    listed = [h for h in d.helps if h.startswith("the spec accepts")]
    assert listed == ["the spec accepts W in 16..17 with H=8, not 9"], d.helps
    works = [w for w in range(1, 60) if bind(a, {"H": 8, "W": w}).ok]  # brute force
    assert works == [16, 17]
    with pytest.raises(ValueError, match="W in 16..17 with H=8, not 9"):
        try:
            analyse(a, {"H": 8, "W": 9})  # what `compile(spec, H=8, W=9)` and `--sizes H=8,W=9` run
        except DslError as e:
            raise ValueError(str(e)) from e


def test_rewrites_are_verified_within_a_budget_that_keeps_big_specs_linear(monkeypatch):
    import alexnet_dsl.analysis.pipeline as pipeline
    import alexnet_dsl.analysis.verify as verify

    calls = []
    real = pipeline._check
    monkeypatch.setattr(
        pipeline, "_check", lambda source, **kw: calls.append(len(source.text)) or real(source, **kw)
    )
    line = "    lrn(size=5, alpha=10e-4)\n"
    text = "network Big(x: [N, 4, 8, 8]) {\n" + line * 2_000 + "}\n"
    a = check_text(text)
    assert len(a.diagnostics) == 2_000
    rechecked = sum(calls[1:])
    assert rechecked <= max(verify._MIN_RECHECKS * len(text), verify._RECHECK_CHARACTERS + len(text))
    assert len(calls) - 1 <= verify._MAX_RECHECKS


@pytest.mark.parametrize(
    ("body", "wrong", "meant"),
    [
        ("    d: dense(10)\n", "dense", "linear"),  # the name fixed, though linear then needs a flatten
        ("    c: conv(8, kernal=3)\n", "kernal", "kernel"),
        ("    c: conv(8, kernel=3)\n    r: relu from cc\n", "cc", "c"),
        ("    r: ReLU\n", "ReLU", "relu"),
    ],
)
def test_a_name_suggestion_is_a_rewrite_of_that_name(body: str, wrong: str, meant: str):
    text = "network T(x: [N, 3, 32, 32]) {\n" + body + "}\n"
    a = check_text(text)
    d = next(d for d in a.errors if f"`{wrong}`" in d.message)
    (r,) = d.rewrites
    assert r.help.startswith(f"did you mean `{meant}`?") and r.help in d.helps
    after = check_text(apply_edits(text, r.edits))
    assert not any(f"`{wrong}`" in e.message for e in after.errors)
    assert len(after.errors) <= len(a.errors)


def test_a_name_suggestion_that_makes_a_cycle_is_not_shown():
    # the only close name is the layer itself: `from ca` would read its own output
    d = only_error("    conv1: relu from conv2\n")
    assert d.code == "E0202" and not d.rewrites and not any("did you mean" in h for h in d.helps)


# ---------------------------------------------------------------------------- a shown fix fixes (audit of issue 9)


def checked(text: str):
    return check_text(text, "t.net")


def applied(text: str, r) -> list:
    """The errors left once a rewrite is applied."""
    return check_text(apply_edits(text, r.edits)).errors


def test_a_rewrite_that_fixes_one_error_and_makes_another_is_not_shown():
    # 34x34 suits `a` and breaks `b`, read from the input too: one error for another, not a fix
    text = (
        "network T(x: [N, 3, 32, 32]) -> [N, 8, 16, 16] {\n    a: conv(8, kernel=3) -> [N, 8, 32, 32]\n"
        "    pa: maxpool(kernel=2) -> [N, 8, 16, 16]\n"
        "    b: conv(8, kernel=3, stride=2, padding=1) from x -> [N, 8, 16, 16]\n"
        "    s: add(pa, b) -> [N, 8, 16, 16]\n}\n"
    )
    (d,) = checked(text).errors
    assert [r.help for r in d.rewrites] == ["with `padding=1`, `a` gives 32x32 as asserted"]
    assert d.helps == ("with `padding=1`, `a` gives 32x32 as asserted",)
    assert not applied(text, d.rewrites[0])


@pytest.mark.parametrize(
    "text",
    [
        "network T(x: [N, 3, 4, 4]) -> [N, 10] {\n    flatten\n    linear(10, 5)\n}\n",
        "network T(x: [N, 3, 8, 8]) -> [N, 16, 6, 6] {\n    conv(16, 3, 1)\n}\n",
    ],
)
def test_a_pytorch_reading_that_leaves_as_many_errors_is_not_shown(text: str):
    (d,) = checked(text).errors
    assert "linear(5)" not in " ".join(d.helps) and "conv(3, kernel=1)" not in " ".join(d.helps), d.helps
    assert any(n.startswith("the others are given by name: ") for n in d.notes), d.notes
    for r in d.rewrites:
        assert not applied(text, r), r.help


@pytest.mark.parametrize(
    ("body", "dims", "out", "help_text"),
    [
        ("    BatchNorm2d(3)\n", "N, 3, 8, 8", "", "write `batchnorm`"),
        ("    Conv2d(3, 16, 3)\n", "N, 3, 8, 8", "", "write `conv(16, kernel=3)`"),
        ("    Linear\n", "N, 8", "[N, 8]", "write `linear(8)`"),
        ("    Conv\n", "N, 3, 8, 8", "", "write `conv(64, kernel=3)`"),
        ("    Conv2d\n", "N, 3, 8, 8", "[N, 4, 6, 6]", "write `conv(4, kernel=3)`"),
        ("    Conv(4, kernel=3)\n", "N, 3, 8, 8", "", "did you mean `conv`?"),
    ],
)
def test_a_name_correction_also_fixes_the_call_it_makes(body: str, dims: str, out: str, help_text: str):
    """`BatchNorm2d(3)` renamed alone is `batchnorm(3)`, another error: the rewrite fixes the call too."""
    text = f"network T(x: [{dims}]){' -> ' + out if out else ''} {{\n{body}}}\n"
    (d,) = checked(text).errors
    (r,) = d.rewrites
    assert r.help.startswith("did you mean") and help_text in r.help, d.helps
    assert not applied(text, r)


def test_a_missing_argument_gets_an_example_that_checks():
    text = "network T(x: [N, 8]) -> [N, 8] {\n    linear\n}\n"
    (d,) = checked(text).errors
    assert d.code == "E0103" and d.helps == ("write `linear(8)`",)
    assert not applied(text, d.rewrites[0])
    d = only_error("    c: conv(16)\n")
    assert d.message == "`conv` needs `kernel`" and d.helps == ("write `conv(16, kernel=3)`",)
    d = only_error("    c: conv\n")
    assert d.message == "`conv` needs `filters` and `kernel`", d.message  # one error, not one per argument


@pytest.mark.parametrize(
    "op",
    [
        "SELU",
        "celu",
        "LogSoftmax",
        "log_softmax",
        "softplus",
        "RReLU",
        "Softmin",
        "Hardtanh",
        "softsign",
        "PReLU",
        "InstanceNorm2d",
        "GroupNorm",
        "Dropout2d",
    ],
)
def test_an_op_dslc_lacks_is_said_so_not_replaced_by_a_different_one(op: str):
    d = only_error(f"    {op}\n")
    assert d.code == "E0101" and not d.rewrites
    assert d.helps == (f"`{op}` is not an op of dslc yet",)


@pytest.mark.parametrize(
    ("call", "help_text", "fix"),
    [
        ("conv(4, kernel=3, bias=None)", "write `false`", "conv(4, kernel=3, bias=false)"),
        ("conv(4, kernel=3, padding=SAME)", "write `same`", "conv(4, kernel=3, padding=same)"),
        ('conv(4, kernel=3, padding="same")', "write `same`", "conv(4, kernel=3, padding=same)"),
        (
            "conv(4, kernel=3, padding='valid')",
            "TensorFlow's `valid` is no padding: write `0`",
            "conv(4, kernel=3, padding=0)",
        ),
    ],
)
def test_a_literal_of_another_language_gets_dslc_s(call: str, help_text: str, fix: str):
    text = f"network T(x: [N, 3, 8, 8]) {{\n    {call}\n}}\n"
    (d,) = checked(text).errors
    (r,) = d.rewrites
    assert r.help == help_text and d.helps == (help_text,)
    assert apply_edits(text, r.edits) == text.replace(call, fix)


@pytest.mark.parametrize(
    ("body", "dims", "blocks", "help_text"),
    [
        ("    flatten\n    linear(foo)\n", "N, 3, 8, 8", "", "an argument is an integer"),
        ("    flatten\n    linear(H)\n", "N, 3, H, 8", "", "`H` is a size of the input"),
        ("    c: conv(4, kernel=3, padding=None)\n", "N, 3, 8, 8", "", "leave it out for its default"),
        (
            "    conv(4, kernel=k)\n",
            "N, 3, 8, 8",
            "block st(k) {\n    conv(4, kernel=k)\n}\n",
            "`k` is a parameter of block `st`: a block parameter is only visible inside its block",
        ),
    ],
)
def test_a_name_in_place_of_a_value_gets_the_reason(body: str, dims: str, blocks: str, help_text: str):
    d = next(d for d in diagnostics(body, input_dims=dims, blocks=blocks) if d.is_error)
    assert d.code == "E0202" and any(help_text in h for h in d.helps), d.helps
    if "block" not in help_text:
        assert not any("block" in h for h in d.helps), d.helps


def test_a_misspelt_block_parameter_gets_its_spelling():
    block = "block st(filters) {\n    conv(fliters, kernel=3)\n}\n"
    d = only_error("    s: st(4)\n", blocks=block)
    assert d.code == "E0202" and d.helps == ("did you mean `filters`?",)


def alexnet(old: str, new: str) -> str:
    text = (ROOT / "specs" / "alexnet.net").read_text()
    assert old in text
    return text.replace(old, new)


def test_a_wrong_network_output_gets_the_layer_s_argument_and_the_declaration():
    text = alexnet("-> [N, 1000] {", "-> [N, 10] {")
    (d,) = checked(text).errors
    assert d.code == "E0302"
    assert d.helps == (
        "with 10 features, `fc8` gives the declared [N, 10]",
        "if the layers are right, declare the output `-> [N, 1000]`",
    ), d.helps
    for r in d.rewrites:
        assert not applied(text, r), r.help
    assert "fc8: linear(10)" in apply_edits(text, d.rewrites[0].edits)


def test_a_wrong_spatial_output_gets_the_window_that_gives_it():
    text = (
        "network T(x: [N, 3, 16, 16]) -> [N, 8, 6, 6] {\n    c: conv(8, kernel=3)\n    relu\n"
        "    lrn(size=5)\n    p: maxpool(kernel=2)\n    relu\n}\n"
    )
    (d,) = checked(text).errors
    assert d.code == "E0302"
    assert d.helps[0] == "with `kernel=4, stride=2`, `p` gives 6x6 as asserted", d.helps  # the stride kept
    for r in d.rewrites:
        assert not applied(text, r), r.help


def test_an_argument_that_divides_exactly_is_preferred_to_the_nearest():
    # `kernel=1` (for 11) on 227 with stride 4: 8..11 all give 55, 8 drops 3 rows (W0401), 11 none
    text = alexnet("conv(96, kernel=11, stride=4)", "conv(96, kernel=1, stride=4)")
    d = checked(text).errors[0]
    assert d.helps[0] == "with `kernel=11`, `conv1` gives 55x55 as asserted", d.helps
    after = check_text(apply_edits(text, d.rewrites[0].edits))
    assert not after.errors and not [w for w in after.diagnostics if w.code == "W0401"]


@pytest.mark.parametrize("code", ["E0101", "E0103"])
def test_the_documented_helps_are_produced(code: str):
    from alexnet_dsl.codes import CODES

    examples = [line for line in CODES[code].explanation.splitlines() if "help: " in line]
    assert examples
    for example in examples:
        call = example.split("#")[0].strip()
        (d,) = only_errors_of(
            f"network T(x: [N, 3, 32, 32]) {{\n    flatten\n    {call}\n}}\n"
            if "dense" in call
            else f"network T(x: [N, 3, 32, 32]) {{\n    {call}\n}}\n"
        )
        assert d.code == code and example.split("help: ")[1] in d.helps, (example, d.helps)


def only_errors_of(text: str) -> list:
    return checked(text).errors


def test_two_mistakes_on_one_line_each_get_their_fix():
    # each literal's fix leaves the other's error on the line: that error was there before, not made by it
    text = "network T(x: [N, 3, 8, 8]) {\n    conv(4, kernel=3, padding=SAME, bias=None)\n    conv(4, kernel=3, bias=0)\n}\n"
    errors = checked(text).errors
    assert [d.helps for d in errors] == [("write `same`",), ("write `false`",), ("write `false`",)]
    for d in errors:
        assert len(applied(text, d.rewrites[0])) == 2

"""lossbook.porting: the porting table's check and its cards.

The check is run on the real catalog, which it must pass, and on deliberately
wrong relations and losses, which it must reject; the rejected differences are
recomputed with torch and gluon directly. The cards are checked against the
catalog entries they are written from.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose

import lossbook as lb
from lossbook import catalog, frameworks, porting

mx = frameworks.require("mxnet")


def nd(values):
    """A float64 NDArray copy."""
    return frameworks.as_float64(values, "mxnet")


def per_sample_mean(loss, input, target, xp):
    """A relation that claims gluon returns torch's loss averaged per sample, nothing more."""
    return loss.reshape(len(loss), -1).mean(1)


# relative_difference


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [
        ([1.0, 0.0, -2.0], [1.0, 0.0, -2.0], 0.0),  # exact agreement, zeros included
        ([1.0 + 2**-40], [1.0], 2**-40),  # an ordinary relative difference
        ([3.0, 1e-300], [3.0, 0.0], np.inf),  # non-zero against zero
        ([np.nan, 1.0], [1.0, 1.0], np.inf),  # nan on one side only
        ([np.inf], [np.inf], 0.0),  # equal infinities agree
        ([1.0, 2.0], [[1.0, 2.0]], np.inf),  # a shape mismatch is a disagreement
        ([], [], 0.0),  # nothing to compare
    ],
)
def test_relative_difference(value, reference, expected):
    """Exact agreement is 0; a zero or nan on one side, or another shape, is infinite."""
    assert porting.relative_difference(value, reference) == expected


@pytest.mark.parametrize("argument", ["value", "reference"])
def test_relative_difference_rejects_what_is_not_real_numbers(argument):
    """Strings or complex numbers are a TypeError naming the argument."""
    arguments = {"value": [1.0], "reference": [1.0], argument: ["one"]}
    with pytest.raises(TypeError, match=argument):
        porting.relative_difference(**arguments)


# The check.


def test_tolerance_is_float64_roundoff_with_headroom():
    """RTOL is 1e-12, about 9007 unit roundoffs u = 2**-53."""
    assert porting.RTOL == 1e-12
    assert porting.UNIT_ROUNDOFF == 2.0**-53
    assert round(porting.RTOL / 2.0**-53) == 9007


def test_every_catalog_entry_passes():
    """Every entry is within RTOL of torch and gluon; only entries without a gluon class have a nan."""
    table = porting.differences()
    porting.check(table)
    assert list(table.index) == list(catalog.keys())
    no_gluon = {entry.key for entry in catalog.entries() if entry.gluon is None}
    missing = table.isna()
    assert set(table.index[missing["gluon output"]]) == no_gluon
    assert not missing[["torch loss", "torch gradient"]].to_numpy().any()


def test_check_entry_measures_torch_and_gluon_against_lossbook():
    """The L2 row is the relative difference of torch's MSELoss and gluon's L2Loss * 2 from lossbook."""
    batch = catalog.get("l2").make_batch(np.random.default_rng(porting.SEED))
    x, y = torch.tensor(batch.input, requires_grad=True), torch.tensor(batch.target)
    loss = torch.nn.MSELoss()(x, y)
    loss.backward()
    unreduced = torch.nn.MSELoss(reduction="none")(x, y).detach().numpy()
    gluon = mx.gluon.loss.L2Loss()(nd(batch.input), nd(batch.target)).asnumpy()
    reference = lb.mse_loss(batch.input, batch.target, reduction="none")
    row = porting.check_entry("l2")
    expected_loss = max(
        np.max(np.abs(unreduced - reference) / np.abs(reference)),
        abs(loss.item() - reference.mean()) / reference.mean(),
    )
    assert_allclose(row["torch loss"], expected_loss, rtol=1e-6, atol=1e-17)
    grad = lb.mse_loss_grad(batch.input, batch.target)
    assert_allclose(row["torch gradient"], np.max(np.abs(x.grad.numpy() - grad) / np.abs(grad)),
                    rtol=1e-6, atol=1e-17)
    half_mean = 0.5 * reference.mean(axis=1)
    assert_allclose(row["gluon output"], np.max(np.abs(gluon - half_mean) / half_mean), rtol=1e-6, atol=1e-17)


def test_a_forgotten_factor_of_one_half_fails_and_the_error_names_the_row():
    """An L2 relation without gluon's 1/2 is off by 0.5 (relative) and PortingMismatch names the row."""
    wrong = dataclasses.replace(catalog.get("l2"), to_gluon=per_sample_mean)
    table = porting.differences([wrong])
    batch = wrong.make_batch(np.random.default_rng(porting.SEED))
    gluon = mx.gluon.loss.L2Loss()(nd(batch.input), nd(batch.target)).asnumpy()
    claimed = torch.nn.MSELoss(reduction="none")(torch.tensor(batch.input), torch.tensor(batch.target))
    claimed = claimed.numpy().mean(axis=1)
    assert_allclose(table.loc["l2", "gluon output"], np.max(np.abs(gluon - claimed) / claimed), rtol=1e-12)
    assert_allclose(table.loc["l2", "gluon output"], 0.5, rtol=1e-12)
    with pytest.raises(porting.PortingMismatch, match="l2"):
        porting.check(table)


def test_a_wrong_huber_constant_fails():
    """Claiming gluon's HuberLoss(rho) equals torch's HuberLoss(delta) fails for delta = 2."""
    wrong = dataclasses.replace(catalog.get("huber", delta=2.0), to_gluon=per_sample_mean)
    with pytest.raises(porting.PortingMismatch):
        porting.check(porting.differences([wrong]))


def test_dropping_gluons_epsilon_fails():
    """gluon's BCE on probabilities differs from torch's BCELoss by more than RTOL, and the check sees it."""
    batch = catalog.get("bce").make_batch(np.random.default_rng(porting.SEED))
    gluon = mx.gluon.loss.SigmoidBCELoss(from_sigmoid=True)(nd(batch.input), nd(batch.target)).asnumpy()
    torch_loss = torch.nn.BCELoss(reduction="none")(torch.tensor(batch.input), torch.tensor(batch.target))
    independent = np.max(np.abs(gluon - torch_loss.numpy().mean(axis=1)) / np.abs(gluon))
    table = porting.differences([dataclasses.replace(catalog.get("bce"), to_gluon=per_sample_mean)])
    assert independent > porting.RTOL
    assert_allclose(table.loc["bce", "gluon output"], independent, rtol=1e-3)
    with pytest.raises(porting.PortingMismatch):
        porting.check(table)


@pytest.mark.parametrize(("difference", "passes"), [(5e-6, True), (2e-5, False)])
def test_a_float32_gluon_block_is_held_to_float32_rounding(difference, passes):
    """A float32 block's output may differ by 5e-6 (about 40 float32 ulp), not 2e-5; torch keeps RTOL."""
    table = pd.DataFrame(
        {"torch loss": [0.0], "torch gradient": [0.0], "gluon output": [difference],
         "gluon dtype": ["float32"]}, index=pd.Index(["cosine"], name="key"),
    )
    if passes:
        porting.check(table)
    else:
        with pytest.raises(porting.PortingMismatch, match="float32 gluon blocks"):
            porting.check(table)
    table["torch loss"] = 1e-6
    with pytest.raises(porting.PortingMismatch):
        porting.check(table)


@pytest.mark.parametrize(("factor", "passes"), [(1 + 1e-11, False), (1 + 1e-14, True)])
def test_the_tolerance_sits_between_roundoff_and_real_errors(factor, passes):
    """A lossbook loss off by 1e-11 (relative) is rejected; off by 1e-14, a few dozen u, it passes."""

    def scaled(input, target, reduction="mean"):
        return factor * lb.l1_loss(input, target, reduction=reduction)

    table = porting.differences([dataclasses.replace(catalog.get("l1"), loss=scaled)])
    if passes:
        porting.check(table)
    else:
        with pytest.raises(porting.PortingMismatch):
            porting.check(table)


def test_a_nan_cell_passes_and_an_infinite_one_fails():
    """nan (not computed) passes; inf (nan on one side or a zero mismatch) fails."""
    columns = list(porting.COLUMNS)
    porting.check(pd.DataFrame([[0.0, 0.0, np.nan]], columns=columns, index=["no gluon"]))
    with pytest.raises(porting.PortingMismatch, match="nan gradient"):
        porting.check(pd.DataFrame([[0.0, np.inf, 0.0]], columns=columns, index=["nan gradient"]))


def test_a_mismatch_is_an_assertion_error():
    """PortingMismatch is an AssertionError, so a failing check reads as a failed assertion."""
    assert issubclass(porting.PortingMismatch, AssertionError)


@pytest.mark.parametrize("rtol", [0.0, -1e-12, np.inf, np.nan, "1e-12"])
def test_check_rejects_a_bad_tolerance(rtol):
    """rtol must be a positive finite number; the error names it."""
    with pytest.raises(ValueError, match="rtol"):
        porting.check(porting.differences(["l1"]), rtol=rtol)


@pytest.mark.parametrize("function", [porting.check, porting.formatted, porting.worst])
def test_table_functions_reject_a_table_without_the_columns(function):
    """A DataFrame without the comparison columns, or no DataFrame, is a TypeError naming the columns."""
    for table in (pd.DataFrame({"other": [1.0]}), {"torch loss": 1.0}):
        with pytest.raises(TypeError, match="torch loss"):
            function(table)


def test_entries_with_a_repeated_key_are_refused():
    """Two entries with one key would make two rows and two cards with one label: a ValueError."""
    with pytest.raises(ValueError, match="repeated: huber"):
        porting.differences([catalog.get("huber"), catalog.get("huber", delta=2.0)])


def test_without_the_frameworks_nothing_is_computed(monkeypatch):
    """When neither framework is installed (and none is required) every comparison is nan, which passes."""
    monkeypatch.setattr(frameworks, "optional", lambda name: None)
    table = porting.differences(["l2", "quantile"])
    assert table[list(porting.COLUMNS)].isna().to_numpy().all()
    assert list(table["gluon dtype"]) == ["float64", ""]
    porting.check(table)
    with pytest.raises(ValueError, match="no computed float64 difference"):
        porting.worst(table)


def test_formatted_and_worst():
    """formatted writes 1.5e-16 and a dash for nan; worst returns the largest cell and where it is."""
    table = pd.DataFrame(
        [[1.5e-16, 0.0, np.nan], [3e-15, 7e-15, 2e-16]], columns=list(porting.COLUMNS), index=["a", "b"]
    )
    assert porting.formatted(table).loc["a"].tolist() == ["1.5e-16", "0.0e+00", "–"]
    assert porting.worst(table) == (7e-15, "b", "torch gradient")


def test_worst_keeps_float32_gluon_blocks_apart():
    """A float32 block's 3e-6 is not the float64 worst; asked for, it is the float32 worst."""
    table = pd.DataFrame(
        [[1e-16, 2e-16, 3e-6, "float32"], [5e-16, 1e-16, 4e-16, "float64"]],
        columns=[*porting.COLUMNS, "gluon dtype"], index=["cosine", "l1"],
    )
    assert porting.worst(table) == (5e-16, "l1", "torch loss")
    assert porting.worst(table, "float32") == (3e-6, "cosine", "gluon output")
    with pytest.raises(ValueError, match="dtype must be"):
        porting.worst(table, "float16")
    with pytest.raises(ValueError, match="no computed float32 difference"):
        porting.worst(table.iloc[1:], "float32")


def test_values_are_each_frameworks_reduced_loss():
    """The L2 row holds lossbook's and torch's MSE and gluon's L2Loss averaged over the batch."""
    batch = catalog.get("l2").make_batch(np.random.default_rng(porting.SEED))
    frame = porting.values(["l2", "quantile"])
    torch_value = torch.nn.MSELoss()(torch.tensor(batch.input), torch.tensor(batch.target)).item()
    gluon_value = mx.gluon.loss.L2Loss()(nd(batch.input), nd(batch.target)).asnumpy().mean()
    assert_allclose(frame.loc["l2", "torch"], torch_value, rtol=0)
    assert_allclose(frame.loc["l2", "gluon"], gluon_value, rtol=1e-15)
    assert_allclose(frame.loc["l2", "lossbook"], torch_value, rtol=1e-15)
    assert np.isnan(frame.loc["quantile", "gluon"])


# The cards.


def test_markdown_text_escapes_what_markdown_interprets():
    """Asterisks, underscores, backticks, brackets, dollars and the rest get a backslash."""
    assert porting.markdown_text("a*b_c `d` [e] $f$ <g> | ~ {h} # \\") == (
        "a\\*b\\_c \\`d\\` \\[e\\] \\$f\\$ \\<g\\> \\| \\~ \\{h\\} \\# \\\\"
    )
    with pytest.raises(TypeError, match="sentence"):
        porting.markdown_text(1.0)


def test_card_holds_every_fact_of_the_entry():
    """The Huber card: label, title, equation, the three calls, formats, relation, traps and values."""
    entry = catalog.get("huber")
    frame, table = porting.values(["huber"]), porting.differences(["huber"])
    text = porting.card(entry, frame.loc["huber"], table.loc["huber"])
    assert text.startswith("(porting-table-huber)=\n::::{card} Huber\n")
    assert f"$$\n{entry.equation}\n$$" in text
    assert entry.lossbook_call("mean") in text and entry.torch_call("mean") in text
    assert entry.gluon_call() in text
    assert f"**Relation.** {porting.markdown_text(entry.relation)}" in text
    for number, trap in enumerate(entry.traps, start=1):
        assert f"{number}. {porting.markdown_text(trap)}" in text
    assert f"gluon returns: {porting.markdown_text(entry.gluon.output)}" in text
    assert f"torch {frame.loc['huber', 'torch']:.6f}" in text and "(tolerance 1e-12)" in text


def test_card_of_a_torch_expression_without_gluon_class():
    """The quantile card writes the options and the expression, says gluon has no class, shows no gluon value."""
    entry = catalog.get("quantile")
    frame, table = porting.values(["quantile"]), porting.differences(["quantile"])
    text = porting.card(entry, frame.loc["quantile"], table.loc["quantile"])
    assert f"q = {entry.options['q']!r}\n{entry.torch.expression}.mean()" in text
    assert "# (no gluon class)" in text and "gluon label" not in text
    assert "gluon output" not in text and ", gluon " not in text


def test_checked_line_says_when_nothing_was_computed():
    """Without torch and gluon the closing line still states lossbook's value."""
    value = pd.Series({"lossbook": 1.5, "torch": np.nan, "gluon": np.nan})
    difference = pd.Series(dict.fromkeys(porting.COLUMNS, np.nan))
    assert "lossbook 1.500000. Largest relative difference from lossbook: none computed" in (
        porting.checked(value, difference)
    )


def test_cards_cover_each_family_in_catalog_order():
    """Each family's cards are its entries' cards, in catalog order; together they cover the catalog."""
    table, frame = porting.differences(), porting.values()
    labels = []
    for family in catalog.FAMILIES:
        text = porting.cards(family, table, frame)
        found = [line[1:-2] for line in text.splitlines() if line.startswith("(porting-table-")]
        expected = [porting.label(e) for e in catalog.entries() if e.family == family]
        assert found == expected
        labels += found
    assert sorted(labels) == sorted(f"porting-table-{key.replace('_', '-')}" for key in catalog.keys())
    with pytest.raises(ValueError, match="family"):
        porting.cards("exotic", table, frame)


# masked_mean: gluon's sample_weight mask against torch's ignore_index.


def padded_batch(seed=3, n=3, steps=5, classes=4):
    """(N, T, C) scores, (N, T) labels and a 0/1 mask whose rows keep 5, 3 and 1 steps."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, steps, classes))
    labels = rng.integers(0, classes, (n, steps))
    mask = (np.arange(steps) < np.array([[5], [3], [1]])).astype(np.float64)
    return scores, labels, mask


def test_masked_mean_all_is_gluons_sample_weight_mask():
    """divisor='all' is gluon's SoftmaxCrossEntropyLoss with the mask as (N, T, 1) sample_weight, batch-averaged."""
    scores, labels, mask = padded_batch()
    gluon = mx.gluon.loss.SoftmaxCrossEntropyLoss()(nd(scores), nd(labels), nd(mask[:, :, None])).asnumpy()
    losses = torch.nn.functional.cross_entropy(torch.tensor(scores).permute(0, 2, 1), torch.tensor(labels),
                                               reduction="none").numpy()
    assert_allclose(porting.masked_mean(losses, mask), gluon.mean(), rtol=1e-15)


def test_masked_mean_kept_is_torchs_ignore_index():
    """divisor='kept' is torch's CrossEntropyLoss(ignore_index=-100) mean over the labels it keeps."""
    scores, labels, mask = padded_batch()
    input = torch.tensor(scores).permute(0, 2, 1)
    padded = torch.tensor(np.where(mask == 1, labels, -100))
    losses = torch.nn.functional.cross_entropy(input, torch.tensor(labels), reduction="none").numpy()
    expected = torch.nn.functional.cross_entropy(input, padded).item()
    assert_allclose(porting.masked_mean(losses, mask.astype(bool), divisor="kept"), expected, rtol=1e-15)


def test_masked_mean_by_hand():
    """Losses 1..6 with four kept: 10 / 6 over every element, 10 / 4 over the kept ones; padding never counts."""
    losses = np.array([[1.0, 2.0, 3.0], [4.0, np.inf, np.nan]])
    mask = np.array([[1, 1, 1], [1, 0, 0]])
    assert porting.masked_mean(losses, mask) == 10 / 6
    assert porting.masked_mean(losses, mask, divisor="kept") == 10 / 4


@pytest.mark.parametrize(
    ("losses", "mask", "divisor", "error", "match"),
    [
        ([1.0, 2.0], [1, 1, 0], "all", ValueError, "mask must have the shape"),
        ([1.0, 2.0], [1, 0.5], "all", ValueError, "only 0 and 1"),
        ([1.0, 2.0], [0, 0], "kept", ValueError, "keeps no element"),
        ([], [], "all", ValueError, "losses must hold"),
        ([1.0, 2.0], [1, 1], "tokens", ValueError, "divisor"),
        (["a", "b"], [1, 1], "all", TypeError, "losses"),
        ([1.0, 2.0], [1j, 1], "all", TypeError, "mask"),
    ],
)
def test_masked_mean_rejects_bad_input(losses, mask, divisor, error, match):
    """Shapes, mask values, an empty or all-padding batch and the divisor are checked; the error names the argument."""
    with pytest.raises(error, match=match):
        porting.masked_mean(losses, mask, divisor=divisor)


def test_masked_mean_all_padding_is_zero_over_every_element():
    """A mask that keeps nothing averages to 0 over every element, as gluon's masked output does."""
    scores, labels, mask = padded_batch()
    zero = np.zeros_like(mask)
    gluon = mx.gluon.loss.SoftmaxCrossEntropyLoss()(nd(scores), nd(labels), nd(zero[:, :, None])).asnumpy()
    assert porting.masked_mean(np.ones_like(mask), zero) == gluon.mean() == 0.0


def test_calls_list_torch_options_but_not_lossbooks_function():
    """The triplet card's torch block defines margin and swap, not lossbook's distance function."""
    block = porting.calls(catalog.get("triplet"))
    assert "margin = 1.0\nswap = False\ntorch.nn.TripletMarginWithDistanceLoss(" in block
    assert "distance_function = " not in block

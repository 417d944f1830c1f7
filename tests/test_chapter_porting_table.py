"""What book/porting_table.md adds to the catalog: its build-time check and its cards.

tests/test_catalog.py already checks every entry's relation against torch and
gluon. These tests check the page's own machinery: the cell tagged
``porting-check`` (its relative difference, its per-entry check and the
assertion that fails the build) is read from the page and run here against
deliberately wrong catalog entries, which it must reject, and against the real
ones, which it must pass. The numbers the page's prose relies on (the unit
roundoff, the worst case and why it is the worst) are recomputed independently.
"""

import dataclasses
import re

import jupytext
import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose

import lossbook as lb
from lossbook import catalog, frameworks

PAGE = "book/porting_table.md"
UNIT_ROUNDOFF = 2.0**-53  # float64 has a 53-bit significand


@pytest.fixture(scope="module")
def page_text(repo_root):
    """The page's MyST source."""
    return (repo_root / PAGE).read_text()


@pytest.fixture(scope="module")
def check(page_text):
    """The namespace of the page's porting-check cell, executed."""
    notebook = jupytext.reads(page_text, fmt="md:myst")
    (cell,) = [c for c in notebook.cells if "porting-check" in c.metadata.get("tags", [])]
    namespace = {}
    exec(cell.source, namespace)  # noqa: S102 - the page's own code
    return namespace


def differences_of(check, entries, index):
    """The page's table of relative differences for some entries."""
    return pd.DataFrame([check["check_entry"](entry) for entry in entries], index=index)


def test_tolerance_is_float64_roundoff_with_headroom(check):
    """RTOL is 1e-12, about 9007 unit roundoffs u = 2**-53 (the prose's figures)."""
    assert check["RTOL"] == 1e-12
    assert_allclose(np.finfo(np.float64).eps / 2, UNIT_ROUNDOFF, rtol=0)
    assert round(check["RTOL"] / UNIT_ROUNDOFF) == 9007


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [
        ([1.0, 0.0, -2.0], [1.0, 0.0, -2.0], 0.0),  # exact agreement, zeros included
        ([1.0 + 2**-40], [1.0], 2**-40),  # an ordinary relative difference
        ([3.0, 1e-300], [3.0, 0.0], np.inf),  # non-zero against zero
        ([np.nan, 1.0], [1.0, 1.0], np.inf),  # nan on one side only
        ([np.inf], [np.inf], 0.0),  # equal infinities agree
        ([1.0, 2.0], [[1.0, 2.0]], np.inf),  # a shape mismatch is a disagreement
    ],
)
def test_relative_difference(check, value, reference, expected):
    """The page's relative difference: exact agreement 0, zero or nan on one side infinite."""
    assert check["relative_difference"](value, reference) == expected


def test_real_catalog_passes_and_only_quantile_lacks_gluon(check):
    """Every entry is within RTOL of torch and gluon; the only uncomputed cell is quantile's gluon one."""
    entries = catalog.entries()
    table = differences_of(check, entries, [e.key for e in entries])
    check["check_rows"](table)
    missing = table[check["COLUMNS"]].isna()
    assert missing.to_numpy().sum() == 1 and missing.loc["quantile", "gluon output"]


def test_a_forgotten_factor_of_one_half_fails_the_build(check):
    """An L2 relation without gluon's 1/2 is off by a factor 2 (0.5 relative) and the assertion names the row."""
    l2 = catalog.get("l2")
    wrong = dataclasses.replace(l2, to_gluon=lambda loss, input, target, xp: loss.reshape(len(loss), -1).mean(1))
    table = differences_of(check, [wrong], ["l2 without one half"])
    assert_allclose(table.loc["l2 without one half", "gluon output"], 0.5, rtol=1e-12)
    with pytest.raises(AssertionError, match="l2 without one half"):
        check["check_rows"](table)


def test_a_wrong_huber_constant_fails_the_build(check):
    """Claiming gluon's HuberLoss(rho) equals torch's HuberLoss(delta) fails for delta = 2."""
    huber = catalog.get("huber", delta=2.0)
    wrong = dataclasses.replace(huber, to_gluon=lambda loss, input, target, xp: loss.reshape(len(loss), -1).mean(1))
    with pytest.raises(AssertionError):
        check["check_rows"](differences_of(check, [wrong], ["huber"]))


@pytest.mark.parametrize(("factor", "passes"), [(1 + 1e-11, False), (1 + 1e-14, True)])
def test_the_tolerance_sits_between_roundoff_and_real_errors(check, factor, passes):
    """A lossbook loss off by 1e-11 (relative) is rejected; off by 1e-14, a few dozen u, it passes."""
    l1 = catalog.get("l1")

    def scaled(input, target, reduction="mean"):
        return factor * lb.l1_loss(input, target, reduction=reduction)

    table = differences_of(check, [dataclasses.replace(l1, loss=scaled)], ["l1 scaled"])
    if passes:
        check["check_rows"](table)
    else:
        with pytest.raises(AssertionError):
            check["check_rows"](table)


def test_missing_gluon_class_is_not_a_failure(check):
    """A nan cell (not computed) passes; an infinite one (nan or zero mismatch) fails."""
    columns = check["COLUMNS"]
    check["check_rows"](pd.DataFrame([[0.0, 0.0, np.nan]], columns=columns, index=["no gluon"]))
    with pytest.raises(AssertionError):
        check["check_rows"](pd.DataFrame([[0.0, np.inf, 0.0]], columns=columns, index=["nan gradient"]))


def test_dropping_gluons_epsilon_is_detected_independently():
    """gluon's BCE on probabilities differs from torch's BCELoss by more than 1e-12 (mxnet vs torch)."""
    mx = frameworks.require("mxnet")
    batch = catalog.get("bce").make_batch(np.random.default_rng(0))
    gluon = mx.gluon.loss.SigmoidBCELoss(from_sigmoid=True)(
        mx.nd.from_numpy(batch.input, zero_copy=False), mx.nd.from_numpy(batch.target, zero_copy=False)
    ).asnumpy()
    torch_loss = torch.nn.BCELoss(reduction="none")(torch.tensor(batch.input), torch.tensor(batch.target))
    relative = np.abs(gluon - torch_loss.numpy().mean(axis=1)) / np.abs(gluon)
    assert relative.max() > 1e-12


def test_the_worst_case_is_a_cancellation_in_the_poisson_gradient(check):
    """The table's largest difference is poisson_nll's torch gradient, at an element where e^x - t cancels."""
    entries = catalog.entries()
    table = differences_of(check, entries, [e.key for e in entries])[check["COLUMNS"]]
    assert table.stack().idxmax() == ("poisson_nll", "torch gradient")
    entry = catalog.get("poisson_nll")
    batch = entry.make_batch(np.random.default_rng(0))
    x = torch.tensor(batch.input, requires_grad=True)
    torch.nn.PoissonNLLLoss()(x, torch.tensor(batch.target)).backward()
    rate = np.exp(batch.input)
    exact = (rate - batch.target) / batch.input.size  # d/dx mean(e^x - t x), by hand
    worst = np.unravel_index(np.argmax(np.abs(x.grad.numpy() - exact) / np.abs(exact)), exact.shape)
    assert abs(rate[worst] - batch.target[worst]) < 0.05 * rate[worst]
    assert table.stack().max() > 20 * UNIT_ROUNDOFF


def test_every_family_has_a_section_of_cards(page_text):
    """Each catalog family is pasted on the page with {glue:md} under its own heading."""
    for family in catalog.FAMILIES:
        assert f"```{{glue:md}} porting-table-{family}\n:format: myst" in page_text
        assert re.search(rf"^### {family.capitalize()}$", page_text, re.MULTILINE)


def test_card_labels_are_unique():
    """Each entry's card label, porting-table-<key with dashes>, is distinct."""
    labels = [f"porting-table-{key.replace('_', '-')}" for key in catalog.keys()]
    assert len(set(labels)) == len(labels)

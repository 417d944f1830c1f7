"""float64 accuracy of every loss against its exact reference (lossbook.exact, mpmath).

Every catalog entry and variant is checked on each of its extreme batches,
for every reduction torch has for it: the result must lie within 2 ulp of
the exact value, |computed - exact| <= 2 * eps * scale with eps = 2**-52
(2 * 2**-1074 where the scale is subnormal), and an exact 0 or inf must come
out exactly. The scale is the sum of the magnitudes of the loss's terms,
which is the loss itself for every loss whose terms share a sign, and the
scale lossbook's docstrings state for the two whose terms cancel (Poisson,
and KL with probability targets). The extreme batches hold logits up to
+-1000, rows whose naive exp overflows or underflows, confident correct
predictions with logit gaps 20 to 40, probabilities within 1e-12 of 0 and 1,
and terms that cancel.
"""

import numpy as np
import pytest

import lossbook as lb
from lossbook import catalog, exact

ALL = catalog.entries() + catalog.variants()

CASES = [
    pytest.param(entry, batch, reduction, id=f"{entry.label}-{name}-{reduction}")
    for entry in ALL
    for name, batch in entry.extreme_batches().items()
    for reduction in entry.torch.reductions
]
CORRECTLY_ROUNDED = [
    pytest.param(entry, batch, id=f"{entry.label}-{name}")
    for entry in ALL
    if entry.correctly_rounded
    for name, batch in entry.extreme_batches().items()
]


@pytest.mark.parametrize(("entry", "batch", "reduction"), CASES)
def test_loss_within_2ulp_of_exact(entry, batch, reduction):
    """lossbook's loss is within 2 ulp of mpmath's, relative to the sum of its terms' sizes."""
    computed = entry.evaluate(batch, reduction)
    reference = entry.exact_loss(batch, reduction)
    scale = entry.exact_loss(batch, reduction, magnitude=True)
    exact.assert_within_ulp(computed, reference, ulps=2, scale=scale)


@pytest.mark.parametrize(("entry", "batch"), CORRECTLY_ROUNDED)
def test_loss_correctly_rounded(entry, batch):
    """Where the docstring promises it, each unreduced value is the double nearest the exact one."""
    exact.assert_correctly_rounded(entry.evaluate(batch, "none"), entry.exact_loss(batch, "none"))


def test_every_entry_has_an_exact_reference_and_extreme_batches():
    """Each entry's loss has a twin in lossbook.exact and at least one extreme batch."""
    for entry in ALL:
        assert exact.reference(entry.loss).__name__ == entry.loss.__name__
        assert entry.extreme_batches(), entry.label


# Claims sharper than the sum of the terms' sizes.


@pytest.mark.parametrize("name", list(catalog.get("kl_div").extreme_batches()))
def test_kl_div_within_2ulp_of_the_larger_of_loss_and_t_log_t(name):
    """KL with probability targets is within 2 ulp of max(|loss|, |t log t|), as its docstring says.

    t log t is the exact KL term against a prediction of log q = 0.
    """
    entry = catalog.get("kl_div")
    batch = entry.extreme_batches()[name]
    loss = entry.exact_loss(batch, "none")
    t_log_t = exact.kl_div(np.zeros_like(batch.input), batch.target, reduction="none")
    scale = np.maximum(np.abs(loss), np.abs(t_log_t))
    exact.assert_within_ulp(entry.evaluate(batch, "none"), loss, ulps=2, scale=scale)


def test_poisson_nll_loss_overflows_to_inf_only_beyond_float64():
    """e^1000 exceeds the float64 range, so the correctly rounded loss is inf."""
    entry = catalog.get("poisson_nll")
    batch = catalog.Batch(np.array([1000.0]), np.array([1.0]))
    with np.errstate(all="raise"):
        loss = entry.evaluate(batch, "none")
    assert exact.nearest_float(entry.exact_loss(batch, "none"))[0] == np.inf == loss[0]


# Activations, on the logits and rows of the extreme batches.

LOGITS = catalog.LOGIT_GRID
ROWS = catalog.EXTREME_ROWS


@pytest.mark.parametrize(
    "function", [lb.sigmoid, lb.softplus, lb.log_sigmoid], ids=lambda f: f.__name__
)
def test_elementwise_activation_within_2ulp(function):
    """sigmoid, softplus and log sigmoid on logits up to +-1000."""
    exact.assert_within_ulp(function(LOGITS), exact.reference(function)(LOGITS))


@pytest.mark.parametrize("function", [lb.softmax, lb.log_softmax], ids=lambda f: f.__name__)
def test_softmax_within_2ulp(function):
    """softmax and log_softmax on rows that overflow, underflow, tie, or have gaps of 20 to 40."""
    exact.assert_within_ulp(function(ROWS), exact.reference(function)(ROWS))
    exact.assert_within_ulp(function(ROWS.T, axis=0), exact.reference(function)(ROWS.T, axis=0))


def test_logsumexp_within_2ulp():
    """logsumexp within 2 ulp of the result where the maximum is >= 0, else of |maximum|."""
    reference = exact.logsumexp(ROWS)
    top = ROWS.max(axis=1)
    scale = np.where(top < 0, np.maximum(np.abs(reference), np.abs(top)), reference)
    exact.assert_within_ulp(lb.logsumexp(ROWS), reference, ulps=2, scale=scale)

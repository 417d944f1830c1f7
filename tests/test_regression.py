"""Regression losses against torch (float64) and hand-derived values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

import lossbook as lb

REDUCTIONS = ("none", "mean", "sum")
RNG = np.random.default_rng(7)
X = RNG.normal(size=(4, 5)) * 3
Y = RNG.normal(size=(4, 5)) * 3
W = RNG.uniform(0.1, 2.0, size=(4, 5))


def t(array):
    """A float64 torch tensor sharing the array's values."""
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def assert_matches_torch(ours, theirs):
    """Equal to torch's float64 result up to a few ulp."""
    assert np.shape(ours) == tuple(theirs.shape)
    assert_allclose(ours, theirs.numpy(), rtol=1e-14, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_loss_matches_torch(reduction, weighted):
    """mse_loss equals F.mse_loss, weighted mean dividing by the weights' sum as torch does."""
    options = {"weight": W} if weighted else {}
    theirs = F.mse_loss(t(X), t(Y), reduction=reduction, weight=t(W) if weighted else None)
    assert_matches_torch(lb.mse_loss(X, Y, reduction=reduction, **options), theirs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_l1_loss_matches_torch(reduction, weighted):
    """l1_loss equals F.l1_loss, with and without weights."""
    options = {"weight": W} if weighted else {}
    theirs = F.l1_loss(t(X), t(Y), reduction=reduction, weight=t(W) if weighted else None)
    assert_matches_torch(lb.l1_loss(X, Y, reduction=reduction, **options), theirs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.5, 4.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_huber_loss_matches_torch(reduction, delta, weighted):
    """huber_loss equals F.huber_loss; a weighted mean divides by the element count."""
    options = {"weight": W} if weighted else {}
    theirs = F.huber_loss(
        t(X), t(Y), reduction=reduction, delta=delta, weight=t(W) if weighted else None
    )
    assert_matches_torch(lb.huber_loss(X, Y, delta=delta, reduction=reduction, **options), theirs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.25, 3.0])
def test_smooth_l1_loss_matches_torch(reduction, beta):
    """smooth_l1_loss equals F.smooth_l1_loss."""
    theirs = F.smooth_l1_loss(t(X), t(Y), reduction=reduction, beta=beta)
    assert_matches_torch(lb.smooth_l1_loss(X, Y, beta=beta, reduction=reduction), theirs)


def test_huber_loss_by_hand():
    """delta=2: differences 1 and 5 give 1**2/2 = 0.5 and 2 * (5 - 2/2) = 8."""
    ours = lb.huber_loss([1.0, 5.0], [0.0, 0.0], delta=2.0, reduction="none")
    assert_array_equal(ours, [0.5, 8.0])


def test_smooth_l1_loss_by_hand():
    """beta=2: differences 1 and -5 give 0.5 * 1 / 2 = 0.25 and 5 - 2/2 = 4."""
    ours = lb.smooth_l1_loss([1.0, -5.0], [0.0, 0.0], beta=2.0, reduction="none")
    assert_array_equal(ours, [0.25, 4.0])


def test_quantile_loss_by_hand():
    """q=0.9: predicting 2 too low costs 0.9 * 2 = 1.8, 2 too high costs 0.1 * 2 = 0.2."""
    ours = lb.quantile_loss([1.0, 5.0], [3.0, 3.0], q=0.9, reduction="none")
    assert_allclose(ours, [1.8, 0.2], rtol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("q", [0.5, 0.1, 0.75])
def test_quantile_loss_matches_torch_expression(reduction, q):
    """quantile_loss equals the pinball formula written with torch ops."""
    d = t(Y) - t(X)
    elementwise = q * torch.clamp(d, min=0) + (1 - q) * torch.clamp(-d, min=0)
    theirs = {"none": elementwise, "mean": elementwise.mean(), "sum": elementwise.sum()}[reduction]
    assert_matches_torch(lb.quantile_loss(X, Y, q=q, reduction=reduction), theirs)


def test_quantile_loss_at_median_is_half_the_absolute_error():
    """At q = 0.5 the pinball loss is |x - y| / 2 exactly."""
    assert_array_equal(lb.quantile_loss(X, Y, reduction="none"), np.abs(X - Y) / 2)


COUNTS = RNG.poisson(3.0, size=(4, 5)).astype(np.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_matches_torch(reduction, log_input, full):
    """poisson_nll_loss equals F.poisson_nll_loss for log-rates and rates, with Stirling's term."""
    x = X if log_input else np.abs(X)
    options = {"log_input": log_input, "full": full, "reduction": reduction}
    theirs = F.poisson_nll_loss(t(x), t(COUNTS), **options)
    ours = lb.poisson_nll_loss(x, COUNTS, **options)
    assert np.shape(ours) == tuple(theirs.shape)
    # Where the terms cancel torch's own rounding is larger than 1e-14 of the loss.
    assert_allclose(ours, theirs.numpy(), rtol=1e-13, atol=1e-13)


def test_poisson_nll_loss_by_hand():
    """log-rate 0 and count 2: e^0 - 2 * 0 = 1; rate 1: 1 - 2 log(1 + 1e-8) = 1 - 2e-8 + 1e-16."""
    assert lb.poisson_nll_loss(0.0, 2.0) == 1.0
    assert_allclose(lb.poisson_nll_loss(1.0, 2.0, log_input=False), 1 - 2e-8 + 1e-16, rtol=1e-16)


@pytest.mark.parametrize(
    "loss",
    [
        lb.mse_loss,
        lb.l1_loss,
        lb.huber_loss,
        lb.smooth_l1_loss,
        lb.quantile_loss,
        lb.poisson_nll_loss,
    ],
)
def test_float32_in_float32_out(loss):
    """float32 operands give float32 results for every reduction."""
    x, y = np.abs(X).astype(np.float32), np.abs(Y).astype(np.float32)
    for reduction in REDUCTIONS:
        assert loss(x, y, reduction=reduction).dtype == np.float32


def test_float32_result_is_the_rounded_float64_result():
    """Computing in float64 and rounding once gives the float32 nearest the exact mean."""
    x, y = X.astype(np.float32), Y.astype(np.float32)
    exact = np.mean((x.astype(np.float64) - y) ** 2)
    assert lb.mse_loss(x, y) == np.float32(exact)


FINITE = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (2, 3), elements=FINITE), arrays(np.float64, (2, 3), elements=FINITE))
def test_regression_losses_agree_with_torch_on_random_input(x, y):
    """Property: on random finite input every regression loss equals torch's."""
    for ours, theirs, options in [
        (lb.mse_loss, F.mse_loss, {}),
        (lb.l1_loss, F.l1_loss, {}),
        (lb.huber_loss, F.huber_loss, {"delta": 3.0}),
        (lb.smooth_l1_loss, F.smooth_l1_loss, {"beta": 3.0}),
    ]:
        expected = theirs(t(x), t(y), reduction="none", **options).numpy()
        assert_allclose(ours(x, y, reduction="none", **options), expected, rtol=1e-15, atol=0)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, 6, elements=FINITE),
    arrays(np.float64, 6, elements=FINITE),
    st.floats(0.01, 0.99),
)
def test_regression_losses_are_non_negative_and_zero_at_the_target(x, y, q):
    """Property: each loss is >= 0 everywhere and exactly 0 where input == target."""
    for loss in (lb.mse_loss, lb.l1_loss, lb.huber_loss, lb.smooth_l1_loss):
        assert np.all(loss(x, y, reduction="none") >= 0)
        assert np.all(loss(x, x, reduction="none") == 0)
    assert np.all(lb.quantile_loss(x, y, q=q, reduction="none") >= 0)
    assert np.all(lb.quantile_loss(x, x, q=q, reduction="none") == 0)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, 5, elements=st.floats(-30, 30)),
    arrays(np.float64, 5, elements=st.floats(0, 50)),
)
def test_poisson_loss_is_minimised_at_the_count(x, counts):
    """Property: e^x - t x is smallest at x = log t; moving x away from it cannot lower the loss."""
    positive = counts > 0
    best = lb.poisson_nll_loss(np.log(counts[positive]), counts[positive], reduction="none")
    other = lb.poisson_nll_loss(x[positive], counts[positive], reduction="none")
    assert np.all(other >= best - 1e-12 * np.abs(best))

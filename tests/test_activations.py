"""Activations against torch and hand-derived values."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

import lossbook as lb


def test_sigmoid_matches_torch_on_moderate_logits():
    """sigmoid agrees with torch.sigmoid in float64 where neither can overflow."""
    z = np.linspace(-30.0, 30.0, 121)
    assert_allclose(lb.sigmoid(z), torch.sigmoid(torch.from_numpy(z)).numpy(), rtol=1e-15)


def test_sigmoid_of_extreme_logits_is_exact():
    """At ±1000 the exact answers 1 and e^-1000 (0 in float64) come out without overflow."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_allclose(lb.sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0], rtol=0, atol=0)


def test_sigmoid_keeps_float32():
    """float32 logits give a float32 result."""
    assert lb.sigmoid(np.ones(3, dtype=np.float32)).dtype == np.float32


def test_sigmoid_rejects_text():
    """Non-numeric input raises a TypeError that names the argument."""
    with pytest.raises(TypeError, match="input"):
        lb.sigmoid(np.array(["a", "b"]))


Z = np.random.default_rng(3).normal(size=(3, 4, 5)) * 10


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_matches_torch(axis):
    """softmax, log_softmax and logsumexp agree with torch along any axis."""
    # torch's log_softmax is accurate to about eps * (1 + |max|) in absolute terms
    # (it takes log, not log1p, of the normaliser), hence the absolute tolerance.
    z = torch.from_numpy(Z)
    torch_accuracy = 4 * np.finfo(float).eps * (1 + np.abs(Z).max())
    assert_allclose(lb.softmax(Z, axis=axis), torch.softmax(z, axis).numpy(), rtol=1e-14)
    assert_allclose(
        lb.log_softmax(Z, axis=axis),
        torch.log_softmax(z, axis).numpy(),
        rtol=1e-14,
        atol=torch_accuracy,
    )
    assert_allclose(lb.logsumexp(Z, axis=axis), torch.logsumexp(z, axis).numpy(), rtol=1e-14)


def test_softplus_and_log_sigmoid_match_torch():
    """softplus and log_sigmoid agree with torch where torch's threshold (20) does not apply."""
    z = np.linspace(-19.0, 19.0, 77)
    zt = torch.from_numpy(z)
    assert_allclose(lb.softplus(z), torch.nn.functional.softplus(zt).numpy(), rtol=1e-15)
    assert_allclose(lb.log_sigmoid(z), torch.nn.functional.logsigmoid(zt).numpy(), rtol=1e-15)


def test_softplus_keeps_the_tail_torch_drops():
    """softplus(30) = 30 + log1p(e^-30), where torch's threshold returns 30 exactly."""
    assert lb.softplus(30.0) == 30.0 + math.log1p(math.exp(-30.0))
    theirs = torch.nn.functional.softplus(torch.tensor(30.0, dtype=torch.float64)).item()
    assert theirs == 30.0 < lb.softplus(30.0)


def test_softmax_of_overflowing_logits_by_hand():
    """softmax(1000, 999) = (1, e^-1) / (1 + e^-1): the shift by the maximum prevents overflow."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ours = lb.softmax(np.array([1000.0, 999.0]))
    e = math.exp(-1.0)
    assert_allclose(ours, [1 / (1 + e), e / (1 + e)], rtol=5e-16)  # both sides round twice


def test_log_softmax_and_logsumexp_of_extreme_rows_by_hand():
    """Rows of n equal logits z = -1000 and 1000: log_softmax = -log n, logsumexp = z + log n."""
    rows = np.array([[-1000.0] * 3, [1000.0] * 3])
    assert_allclose(lb.log_softmax(rows), np.full((2, 3), -math.log(3.0)), rtol=1e-15)
    expected = [-1000.0 + math.log(3.0), 1000.0 + math.log(3.0)]
    assert_allclose(lb.logsumexp(rows), expected, rtol=1e-15)


def test_minus_infinity_logits_are_masked_out():
    """A logit of -inf gets probability 0; an all -inf row has logsumexp -inf, as in torch."""
    row = np.array([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf]])
    assert_array_equal(lb.softmax(row[:1]), [[0.5, 0.0, 0.5]])
    assert_array_equal(lb.log_softmax(row[:1]), [[-math.log(2.0), -np.inf, -math.log(2.0)]])
    assert_array_equal(lb.logsumexp(row), torch.logsumexp(torch.from_numpy(row), 1).numpy())


def test_nan_propagates_through_its_slice_only():
    """A nan logit makes its own row nan and leaves the other rows alone, as in torch."""
    rows = np.array([[0.0, np.nan], [0.0, 0.0]])
    ours = lb.softmax(rows)
    assert np.all(np.isnan(ours[0]))
    assert_array_equal(ours[1], [0.5, 0.5])
    assert np.isnan(lb.softplus(np.nan))


@pytest.mark.parametrize("function", [lb.softmax, lb.log_softmax, lb.logsumexp])
def test_softmax_family_keeps_float32(function):
    """float32 logits give float32 results."""
    assert function(Z.astype(np.float32)).dtype == np.float32


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (3, 6), elements=st.floats(-1000, 1000)))
def test_softmax_is_a_distribution(z):
    """Property: softmax rows lie in [0, 1] and sum to 1 within a few ulp; log_softmax <= 0."""
    p = lb.softmax(z)
    assert np.all((p >= 0) & (p <= 1))
    assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=8 * np.finfo(float).eps)
    assert np.all(lb.log_softmax(z) <= 0)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (3, 6), elements=st.floats(-1000, 1000)))
def test_logsumexp_bounds_and_shift(z):
    """Property: max <= logsumexp <= max + log n, and log_softmax = z - logsumexp to rounding."""
    lse = lb.logsumexp(z)
    m = z.max(axis=1)
    assert np.all((lse >= m) & (lse <= m + math.log(6) * (1 + 1e-15)))
    rounding = 4 * np.finfo(float).eps * (1 + np.abs(z)).max()
    assert_allclose(lb.log_softmax(z), z - lse[:, None], rtol=0, atol=rounding)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, 8, elements=st.floats(-700, 700)))
def test_activations_agree_with_torch_on_random_input(z):
    """Property: sigmoid, log_sigmoid and softmax agree with torch on random finite input."""
    zt = torch.from_numpy(z)
    assert_allclose(lb.sigmoid(z), torch.sigmoid(zt).numpy(), rtol=1e-14, atol=1e-300)
    theirs = torch.nn.functional.logsigmoid(zt).numpy()
    assert_allclose(lb.log_sigmoid(z), theirs, rtol=1e-14, atol=1e-300)
    assert_allclose(lb.softmax(z), torch.softmax(zt, 0).numpy(), rtol=1e-13, atol=1e-300)


def test_many_slices_are_computed_block_by_block_like_torch():
    """20000 slices (more than one block of blockwise evaluation) match torch slice for slice."""
    z = np.random.default_rng(4).normal(size=(20000, 3)) * 5
    zt = torch.from_numpy(z)
    assert_allclose(lb.softmax(z), torch.softmax(zt, 1).numpy(), rtol=1e-14)
    # m + log(1 + T) cancels for negative m: both are accurate to about eps * (1 + |m|).
    rounding = 4 * np.finfo(float).eps * (1 + np.abs(z).max())
    assert_allclose(lb.logsumexp(z), torch.logsumexp(zt, 1).numpy(), rtol=1e-14, atol=rounding)

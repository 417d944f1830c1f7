"""Margin losses against mxnet gluon and torch (float64) and hand-derived values."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

import lossbook as lb

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from mxnet import gluon, nd

REDUCTIONS = ("none", "mean", "sum")
RNG = np.random.default_rng(5)
SCORES = RNG.normal(size=(5, 3)) * 2
LABELS = RNG.choice([-1.0, 1.0], size=(5, 3))


def gluon_elementwise(block, x, y):
    """A gluon loss evaluated in float64 on a flat batch, where its batch mean is the identity."""
    out = block(nd.array(x.ravel(), dtype="float64"), nd.array(y.ravel(), dtype="float64"))
    assert out.dtype == np.float64
    return out.asnumpy().reshape(x.shape)


def reduced(elementwise, reduction):
    """Apply a reduction to reference values computed elementwise."""
    return {"none": elementwise, "mean": elementwise.mean(), "sum": elementwise.sum()}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5, 2.0])
def test_hinge_loss_matches_gluon(reduction, margin):
    """hinge_loss equals gluon.loss.HingeLoss in float64, elementwise then reduced."""
    theirs = gluon_elementwise(gluon.loss.HingeLoss(margin=margin), SCORES, LABELS)
    ours = lb.hinge_loss(SCORES, LABELS, margin=margin, reduction=reduction)
    assert_allclose(ours, reduced(theirs, reduction), rtol=1e-15, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5, 2.0])
def test_squared_hinge_loss_matches_gluon(reduction, margin):
    """squared_hinge_loss equals gluon.loss.SquaredHingeLoss in float64."""
    theirs = gluon_elementwise(gluon.loss.SquaredHingeLoss(margin=margin), SCORES, LABELS)
    ours = lb.squared_hinge_loss(SCORES, LABELS, margin=margin, reduction=reduction)
    assert_allclose(ours, reduced(theirs, reduction), rtol=1e-15, atol=0)


def test_hinge_losses_match_gluon_per_sample_mean():
    """gluon averages over all but the batch axis; reduction="none" then that mean reproduces it."""
    scores, labels = nd.array(SCORES, dtype="float64"), nd.array(LABELS, dtype="float64")
    theirs = gluon.loss.HingeLoss()(scores, labels)
    ours = lb.hinge_loss(SCORES, LABELS, reduction="none").mean(axis=1)
    assert_allclose(ours, theirs.asnumpy(), rtol=1e-15)


def test_hinge_losses_by_hand():
    """margin 1: scores 0.5, -2, 3 with labels +1, -1, -1 give 0.5, 0 and 4; squared 0.25, 0, 16."""
    scores, labels = [0.5, -2.0, 3.0], [1, -1, -1]
    assert_array_equal(lb.hinge_loss(scores, labels, reduction="none"), [0.5, 0.0, 4.0])
    assert_array_equal(lb.squared_hinge_loss(scores, labels, reduction="none"), [0.25, 0.0, 16.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_matches_torch(reduction):
    """soft_margin_loss equals F.soft_margin_loss."""
    scores, labels = torch.from_numpy(SCORES), torch.from_numpy(LABELS)
    theirs = F.soft_margin_loss(scores, labels, reduction=reduction)
    ours = lb.soft_margin_loss(SCORES, LABELS, reduction=reduction)
    assert np.shape(ours) == tuple(theirs.shape)
    assert_allclose(ours, theirs.numpy(), rtol=1e-14, atol=0)


def test_soft_margin_loss_by_hand():
    """Margin 0 costs log 2; margin 40 costs log1p(e^-40); margin -1000 costs 1000 (no overflow)."""
    ours = lb.soft_margin_loss([0.0, 40.0, 1000.0], [1, 1, -1], reduction="none")
    assert_allclose(ours, [math.log(2), math.log1p(math.exp(-40)), 1000.0], rtol=2e-16)


@pytest.mark.parametrize("loss", [lb.hinge_loss, lb.squared_hinge_loss, lb.soft_margin_loss])
def test_float32_in_float32_out(loss):
    """float32 scores give float32 results for every reduction."""
    for reduction in REDUCTIONS:
        assert loss(SCORES.astype(np.float32), LABELS, reduction=reduction).dtype == np.float32


SIGNED = arrays(np.float64, 6, elements=st.sampled_from([-1.0, 1.0]))
FINITE = arrays(np.float64, 6, elements=st.floats(-1e3, 1e3))


@settings(max_examples=40, deadline=None)
@given(FINITE, SIGNED, st.floats(0.0, 5.0))
def test_margin_losses_are_non_negative_and_ordered(x, y, margin):
    """Property: all are >= 0, squared hinge = hinge**2, and soft margin >= hinge at margin 0."""
    hinge = lb.hinge_loss(x, y, margin=margin, reduction="none")
    assert np.all(hinge >= 0)
    assert_array_equal(lb.squared_hinge_loss(x, y, margin=margin, reduction="none"), hinge**2)
    soft = lb.soft_margin_loss(x, y, reduction="none")
    assert np.all(soft >= lb.hinge_loss(x, y, margin=0.0, reduction="none"))


@settings(max_examples=40, deadline=None)
@given(FINITE, SIGNED)
def test_soft_margin_loss_agrees_with_torch(x, y):
    """Property: soft_margin_loss equals torch's, to torch's absolute accuracy eps * (1 + |x|)."""
    theirs = F.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(y), reduction="none").numpy()
    ours = lb.soft_margin_loss(x, y, reduction="none")
    torch_accuracy = 4 * np.finfo(float).eps * (1 + np.abs(x))
    assert np.all(np.abs(ours - theirs) <= 1e-14 * np.abs(theirs) + torch_accuracy)

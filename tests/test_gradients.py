"""Analytic gradients against torch.autograd (float64) and central finite differences.

Every catalog entry and variant (weights, pos_weight, class weights, label
smoothing, ignored targets, other thresholds) is checked on its seeded batch
for every reduction torch supports for it. For reduction="none" the gradient
is that of the sum of the elementwise losses.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from lossbook import catalog

SEED = 2024
ALL = catalog.entries() + catalog.variants()
PARAMETERS = [
    pytest.param(entry, reduction, id=f"{entry.label}-{reduction}")
    for entry in ALL
    for reduction in entry.torch.reductions
]


def batch_of(entry):
    """The entry's seeded batch."""
    return entry.make_batch(np.random.default_rng(SEED))


def torch_gradient(entry, batch, reduction):
    """d(loss)/d(input) of torch's spelling by torch.autograd, summing first for "none"."""
    input, target, arrays = entry.torch_tensors(torch, batch)
    input.requires_grad_(True)
    out = entry.torch_forward(torch, input, target, reduction, arrays)
    out.sum().backward()
    return input.grad.numpy()


def finite_difference_gradient(entry, batch, reduction, step=1e-6):
    """Central differences of the lossbook loss, one input element at a time."""

    def total(x):
        moved = catalog.Batch(x, batch.target, batch.options)
        return float(np.sum(entry.evaluate(moved, reduction)))

    gradient = np.zeros_like(batch.input)
    for index in np.ndindex(batch.input.shape):
        h = step * max(1.0, abs(batch.input[index]))
        up, down = batch.input.copy(), batch.input.copy()
        up[index] += h
        down[index] -= h
        gradient[index] = (total(up) - total(down)) / (up[index] - down[index])
    return gradient


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize(("entry", "reduction"), PARAMETERS)
def test_gradient_matches_torch_autograd(entry, reduction):
    """The analytic gradient equals torch.autograd's in float64 (to a few ulp)."""
    batch = batch_of(entry)
    ours = entry.gradient(batch, reduction)
    assert ours.shape == batch.input.shape
    assert ours.dtype == np.float64
    assert_allclose(ours, torch_gradient(entry, batch, reduction), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("entry", "reduction"), PARAMETERS)
def test_gradient_matches_finite_differences(entry, reduction):
    """The analytic gradient equals central differences of the loss (error O(h^2) + eps/h)."""
    batch = batch_of(entry)
    expected = finite_difference_gradient(entry, batch, reduction)
    assert_allclose(entry.gradient(batch, reduction), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("entry", ALL, ids=lambda entry: entry.label)
def test_gradient_keeps_float32(entry):
    """float32 input gives a float32 gradient."""
    batch = batch_of(entry)
    single = catalog.Batch(batch.input.astype(np.float32), batch.target, batch.options)
    assert entry.gradient(single, entry.torch.reduction).dtype == np.float32


# Hand-derived values at the kinks and the boundary, which random batches never reach.


def test_kink_gradients_are_the_middle_of_the_subdifferential():
    """At input == target l1 gives 0 and quantile 1/2 - q; at the hinge's kink it is 0."""
    at_target = catalog.Batch(np.array([1.0]), np.array([1.0]))
    assert catalog.get("l1").gradient(at_target, "sum")[0] == 0.0
    assert catalog.get("quantile", q=0.25).gradient(at_target, "sum")[0] == 0.25
    assert catalog.get("hinge").gradient(at_target, "sum")[0] == 0.0


def test_binary_cross_entropy_gradient_at_the_boundary():
    """p = 0 with y = 0 has gradient 1 / (1 - 0) = 1; with y = 1 it is -inf (torch: -1e12)."""
    batch = catalog.Batch(np.array([0.0, 0.0]), np.array([0.0, 1.0]))
    grad = catalog.get("bce").gradient(batch, "sum")
    assert grad[0] == 1.0
    assert grad[1] == -np.inf

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


def torch_gradients(entry, batch, reduction):
    """d(loss)/d(each differentiable array) of torch's spelling by torch.autograd ("none": summed)."""
    tensors, arrays = entry.torch_tensors(torch, batch)
    leaves, tensors = entry.torch_grad_inputs(torch, tensors)  # CTC: through log_softmax
    out = entry.torch_forward(torch, tensors, reduction, arrays)
    return tuple(gradient.numpy() for gradient in torch.autograd.grad(out.sum(), leaves))


def finite_difference_gradients(entry, batch, reduction, step=1e-6):
    """Central differences of the lossbook loss, one element of each differentiable array at a time."""

    def total(arrays):
        return float(np.sum(entry.evaluate(batch.with_arrays(*arrays), reduction)))

    gradients = []
    for position in entry.differentiable:
        values = batch.arrays[position]
        gradient = np.zeros_like(values)
        for index in np.ndindex(values.shape):
            h = step * max(1.0, abs(values[index]))
            up, down = list(batch.arrays), list(batch.arrays)
            up[position], down[position] = values.copy(), values.copy()
            up[position][index] += h
            down[position][index] -= h
            width = up[position][index] - down[position][index]
            gradient[index] = (total(up) - total(down)) / width
        gradients.append(gradient)
    return tuple(gradients)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize(("entry", "reduction"), PARAMETERS)
def test_gradient_matches_torch_autograd(entry, reduction):
    """The analytic gradient equals torch.autograd's in float64 (to a few ulp)."""
    batch = batch_of(entry)
    expected = torch_gradients(entry, batch, reduction)
    ours = entry.torch_comparable_gradients(batch, reduction)
    assert len(ours) == len(expected) == len(entry.differentiable)
    for position, gradient, torch_gradient in zip(entry.differentiable, ours, expected):
        assert gradient.shape == batch.arrays[position].shape
        assert gradient.dtype == np.float64
        assert_allclose(gradient, torch_gradient, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("entry", "reduction"), PARAMETERS)
def test_gradient_matches_finite_differences(entry, reduction):
    """The analytic gradient equals central differences of the loss (error O(h^2) + eps/h)."""
    batch = batch_of(entry)
    expected = finite_difference_gradients(entry, batch, reduction)
    for gradient, by_differences in zip(entry.gradients(batch, reduction), expected, strict=True):
        assert_allclose(gradient, by_differences, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("entry", ALL, ids=lambda entry: entry.label)
def test_gradient_keeps_float32(entry):
    """float32 input gives a float32 gradient."""
    batch = batch_of(entry)
    single = batch.with_arrays(*(
        array.astype(np.float32) if position in entry.differentiable else array
        for position, array in enumerate(batch.arrays)
    ))
    for gradient in entry.gradients(single, entry.torch.reduction):
        assert gradient.dtype == np.float32


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

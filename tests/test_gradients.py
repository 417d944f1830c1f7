"""Analytic gradients against torch.autograd (float64) and central finite differences.

Every loss is checked for every reduction it supports. For reduction="none" the
gradient is that of the sum of the elementwise losses.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

import lossbook as lb

RNG = np.random.default_rng(2024)
SHAPE = (4, 3)
SCORES = RNG.normal(size=SHAPE) * 2
# Targets at least 0.1 away from the scores, so no finite-difference step crosses a kink.
OTHER = SCORES + RNG.choice([-1.0, 1.0], SHAPE) * RNG.uniform(0.1, 3.0, SHAPE)
WEIGHT = RNG.uniform(0.2, 2.0, SHAPE)
PROBABILITIES = RNG.uniform(0.05, 0.95, SHAPE)
SOFT = RNG.uniform(0.0, 1.0, SHAPE)
COUNTS = RNG.poisson(2.0, SHAPE).astype(np.float64)
SIGNS = RNG.choice([-1.0, 1.0], SHAPE)
CLASS_WEIGHT = np.array([0.5, 2.0, 1.5])
LABELS = np.array([0, 2, -100, 1])
LOG_P = np.log(RNG.dirichlet(np.ones(3), 4))
TARGET_P = RNG.dirichlet(np.ones(3), 4)


def pinball(x, y, q):
    """The quantile loss written with torch ops."""
    return q * torch.clamp(y - x, min=0) + (1 - q) * torch.clamp(x - y, min=0)


def hinge(x, y, margin):
    """The hinge loss written with torch ops, as gluon defines it."""
    return torch.clamp(margin - y * x, min=0)


def reduce_torch(elementwise, reduction):
    """torch's reductions for the losses that torch.nn.functional lacks."""
    return {"none": elementwise, "mean": elementwise.mean(), "sum": elementwise.sum()}[reduction]


@dataclass
class Case:
    """A loss, its gradient, the torch function that computes the same loss, and a batch."""

    name: str
    loss: Callable
    grad: Callable
    torch_loss: Callable  # (input tensor, target tensor, reduction, **options) -> tensor
    input: np.ndarray
    target: np.ndarray
    options: dict = field(default_factory=dict)
    reductions: tuple = ("none", "mean", "sum")


def tensor_options(options):
    """The options with arrays turned into float64 tensors, as torch wants them."""
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}


CASES = [
    Case("mse", lb.mse_loss, lb.mse_loss_grad, F.mse_loss, SCORES, OTHER),
    Case("mse_weighted", lb.mse_loss, lb.mse_loss_grad, F.mse_loss, SCORES, OTHER,
         {"weight": WEIGHT}),
    Case("l1_weighted", lb.l1_loss, lb.l1_loss_grad, F.l1_loss, SCORES, OTHER, {"weight": WEIGHT}),
    Case("huber", lb.huber_loss, lb.huber_loss_grad, F.huber_loss, SCORES, OTHER,
         {"delta": 1.5, "weight": WEIGHT}),
    Case("smooth_l1", lb.smooth_l1_loss, lb.smooth_l1_loss_grad, F.smooth_l1_loss, SCORES, OTHER,
         {"beta": 0.7}),
    Case("quantile", lb.quantile_loss, lb.quantile_loss_grad,
         lambda x, y, reduction, q: reduce_torch(pinball(x, y, q), reduction),
         SCORES, OTHER, {"q": 0.8}),
    Case("poisson", lb.poisson_nll_loss, lb.poisson_nll_loss_grad, F.poisson_nll_loss,
         SCORES, COUNTS, {"full": True}),
    Case("poisson_rate", lb.poisson_nll_loss, lb.poisson_nll_loss_grad, F.poisson_nll_loss,
         PROBABILITIES, COUNTS, {"log_input": False}),
    Case("bce", lb.binary_cross_entropy, lb.binary_cross_entropy_grad, F.binary_cross_entropy,
         PROBABILITIES, SOFT, {"weight": WEIGHT[0]}),
    Case("bce_logits", lb.binary_cross_entropy_with_logits,
         lb.binary_cross_entropy_with_logits_grad, F.binary_cross_entropy_with_logits,
         SCORES, SOFT, {"weight": WEIGHT, "pos_weight": CLASS_WEIGHT}),
    Case("cross_entropy", lb.cross_entropy, lb.cross_entropy_grad, F.cross_entropy, SCORES, LABELS,
         {"weight": CLASS_WEIGHT, "label_smoothing": 0.15}),
    Case("cross_entropy_unweighted", lb.cross_entropy, lb.cross_entropy_grad, F.cross_entropy,
         SCORES, LABELS),
    Case("cross_entropy_probabilities", lb.cross_entropy, lb.cross_entropy_grad, F.cross_entropy,
         SCORES, TARGET_P, {"weight": CLASS_WEIGHT, "label_smoothing": 0.1}),
    Case("cross_entropy_spatial", lb.cross_entropy, lb.cross_entropy_grad, F.cross_entropy,
         RNG.normal(size=(2, 3, 2, 2)), RNG.integers(0, 3, (2, 2, 2))),
    Case("nll", lb.nll_loss, lb.nll_loss_grad, F.nll_loss, LOG_P, LABELS, {"weight": CLASS_WEIGHT}),
    Case("kl_div", lb.kl_div, lb.kl_div_grad, F.kl_div, LOG_P, TARGET_P,
         reductions=("none", "mean", "sum", "batchmean")),
    Case("kl_div_log_target", lb.kl_div, lb.kl_div_grad, F.kl_div, LOG_P, np.log(TARGET_P),
         {"log_target": True}, reductions=("none", "mean", "sum", "batchmean")),
    Case("soft_margin", lb.soft_margin_loss, lb.soft_margin_loss_grad, F.soft_margin_loss,
         SCORES, SIGNS),
    Case("hinge", lb.hinge_loss, lb.hinge_loss_grad,
         lambda x, y, reduction, margin: reduce_torch(hinge(x, y, margin), reduction),
         SCORES, SIGNS, {"margin": 1.3}),
    Case("squared_hinge", lb.squared_hinge_loss, lb.squared_hinge_loss_grad,
         lambda x, y, reduction, margin: reduce_torch(hinge(x, y, margin) ** 2, reduction),
         SCORES, SIGNS, {"margin": 0.8}),
]
PARAMETERS = [
    pytest.param(case, reduction, id=f"{case.name}-{reduction}")
    for case in CASES
    for reduction in case.reductions
]


def torch_gradient(case, reduction):
    """d(loss)/d(input) by torch.autograd, summing first for reduction="none"."""
    x = torch.from_numpy(case.input.copy()).requires_grad_(True)
    target = torch.from_numpy(np.asarray(case.target))
    out = case.torch_loss(x, target, reduction=reduction, **tensor_options(case.options))
    (out.sum() if reduction == "none" else out).backward()
    return x.grad.numpy()


def finite_difference_gradient(case, reduction, step=1e-6):
    """Central differences of the lossbook loss, one input element at a time."""
    def total(x):
        return float(np.sum(case.loss(x, case.target, reduction=reduction, **case.options)))

    gradient = np.zeros_like(case.input)
    for index in np.ndindex(case.input.shape):
        h = step * max(1.0, abs(case.input[index]))
        up, down = case.input.copy(), case.input.copy()
        up[index] += h
        down[index] -= h
        gradient[index] = (total(up) - total(down)) / (up[index] - down[index])
    return gradient


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("case, reduction", PARAMETERS)
def test_gradient_matches_torch_autograd(case, reduction):
    """The analytic gradient equals torch.autograd's in float64 (to a few ulp)."""
    ours = case.grad(case.input, case.target, reduction=reduction, **case.options)
    assert ours.shape == case.input.shape
    assert ours.dtype == np.float64
    assert_allclose(ours, torch_gradient(case, reduction), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("case, reduction", PARAMETERS)
def test_gradient_matches_finite_differences(case, reduction):
    """The analytic gradient equals central differences of the loss (error O(h^2) + eps/h)."""
    ours = case.grad(case.input, case.target, reduction=reduction, **case.options)
    assert_allclose(ours, finite_difference_gradient(case, reduction), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_gradient_keeps_float32(case):
    """float32 input gives a float32 gradient."""
    grad = case.grad(case.input.astype(np.float32), case.target, **case.options)
    assert grad.dtype == np.float32


def test_kink_gradients_are_the_middle_of_the_subdifferential():
    """At input == target l1 gives 0 and quantile 1/2 - q; at the hinge's kink it is 0."""
    assert lb.l1_loss_grad([1.0], [1.0], reduction="sum")[0] == 0.0
    assert lb.quantile_loss_grad([1.0], [1.0], q=0.25, reduction="sum")[0] == 0.25
    assert lb.hinge_loss_grad([1.0], [1.0], reduction="sum")[0] == 0.0


def test_binary_cross_entropy_gradient_at_the_boundary():
    """p = 0 with y = 0 has gradient 1 / (1 - 0) = 1; with y = 1 it is -inf (torch: -1e12)."""
    grad = lb.binary_cross_entropy_grad([0.0, 0.0], [0.0, 1.0], reduction="sum")
    assert grad[0] == 1.0
    assert grad[1] == -np.inf


def test_cross_entropy_gradient_of_ignored_targets_is_zero():
    """Samples whose target is ignore_index get a zero gradient row."""
    grad = lb.cross_entropy_grad(SCORES, LABELS, reduction="sum")
    assert np.all(grad[2] == 0.0)

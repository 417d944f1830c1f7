"""lossbook.training: one optimiser step in gluon and torch against the update rules written by hand."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lossbook import frameworks, training

frameworks.require("torch")
frameworks.require("mxnet")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 3))
Y = RNG.integers(0, 2, (6, 1)).astype(np.float64)
W0 = RNG.standard_normal((1, 3))
# Rates that float32 holds exactly: MXNet passes lr and wd to its kernels as float32.
LR, WD = 0.25, 0.125


def single(value):
    """``value`` rounded to float32, as MXNet stores an optimiser's parameters (lr, wd, rescale_grad...)."""
    return float(np.float32(value))


def summed_gradient():
    """d/dw of sum_i [y_i softplus(-z_i) + (1 - y_i) softplus(z_i)], z = X w: X^T (sigmoid(z) - y)."""
    return (1.0 / (1.0 + np.exp(-(X @ W0.T))) - Y).T @ X


def gradient(loss, framework="torch"):
    """The gradient a step applies: of the sum, or of the mean (gluon scales by a float32 1/N)."""
    if loss == "sum":
        return summed_gradient()
    return summed_gradient() * single(1 / len(X)) if framework == "gluon" else summed_gradient() / len(X)


@pytest.mark.parametrize("framework", ["gluon", "torch"])
@pytest.mark.parametrize("loss", ["mean", "sum"])
@pytest.mark.parametrize("weight_decay", [0.0, WD])
def test_sgd_step_is_w_minus_lr_times_gradient_plus_decay(framework, loss, weight_decay):
    """Both frameworks' SGD: w - lr (g + wd w), the decay added after the gradient is scaled."""
    expected = W0 - LR * (gradient(loss, framework) + weight_decay * W0)
    after = training.one_step(framework, "sgd", X, Y, W0, lr=LR, weight_decay=weight_decay, loss=loss)
    assert after.shape == (1, 3) and after.dtype == np.float64
    assert_allclose(after, expected, rtol=1e-13)


@pytest.mark.parametrize("loss", ["mean", "sum"])
def test_torch_adam_first_step(loss):
    """torch's Adam, step 1: m = (1 - b1) g, v = (1 - b2) g^2, w - lr/(1 - b1) m / (sqrt(v)/sqrt(1 - b2) + eps)."""
    g = gradient(loss)
    m, v = 0.1 * g, 0.001 * g * g
    expected = W0 - LR / 0.1 * m / (np.sqrt(v) / math.sqrt(0.001) + 1e-8)
    assert_allclose(training.one_step("torch", "adam", X, Y, W0, lr=LR, loss=loss), expected, rtol=1e-13)


@pytest.mark.parametrize("loss", ["mean", "sum"])
def test_gluon_adam_first_step(loss):
    """MXNet's Adam, step 1: lr_t = lr sqrt(1 - b2)/(1 - b1), w - lr_t m / (sqrt(v) + eps), parameters as float32."""
    b1, b2, eps = single(0.9), single(0.999), single(1e-8)
    lr_t = single(LR * math.sqrt(1 - 0.999) / (1 - 0.9))
    g = gradient(loss, "gluon")
    expected = W0 - lr_t * ((1 - b1) * g) / (np.sqrt((1 - b2) * g * g) + eps)
    assert_allclose(training.one_step("gluon", "adam", X, Y, W0, lr=LR, loss=loss), expected, rtol=1e-13)


def test_adam_with_weight_decay_adds_it_to_the_gradient():
    """Adam's first step with weight decay is the step without it, on the gradient g + wd w (torch)."""
    g = gradient("mean") + WD * W0
    expected = W0 - LR / 0.1 * (0.1 * g) / (np.sqrt(0.001 * g * g) / math.sqrt(0.001) + 1e-8)
    after = training.one_step("torch", "adam", X, Y, W0, lr=LR, weight_decay=WD)
    assert_allclose(after, expected, rtol=1e-13)


def test_flat_labels_and_weights_are_accepted():
    """Labels of shape (N,) and weights of shape (F,) give the step of the column and row forms."""
    flat = training.one_step("torch", "sgd", X, Y.ravel(), W0.ravel(), lr=LR)
    assert_allclose(flat, training.one_step("torch", "sgd", X, Y, W0, lr=LR), rtol=0)


def test_the_docstring_example():
    """Two samples, zero weights, lr 2: w = -2 X^T (1/2 - y) / 2 = (0.5, -0.5)."""
    after = training.one_step("torch", "sgd", np.eye(2), np.array([1.0, 0.0]), np.zeros(2), lr=2.0)
    assert after.tolist() == [[0.5, -0.5]]


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"framework": "jax"}, ValueError, "framework must be one of"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
        ({"loss": "none"}, ValueError, "loss must be one of"),
        ({"features": X[0]}, ValueError, "features must be a matrix"),
        ({"labels": Y[:5]}, ValueError, "labels must hold one label per row"),
        ({"labels": Y.reshape(6, 1, 1)}, ValueError, "labels must hold one label per row"),
        ({"weight": W0[:, :2]}, ValueError, "weight must hold one value per column"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay must be a finite number >= 0"),
        ({"weight_decay": math.inf}, ValueError, "weight_decay must be a finite number >= 0"),
        ({"features": X.astype(str)}, TypeError, "features must contain real numbers"),
    ],
)
def test_bad_arguments_are_named(change, error, match):
    """Each bad argument raises an error that names it and says what was wrong."""
    arguments = {"framework": "torch", "optimizer": "sgd", "features": X, "labels": Y, "weight": W0,
                 "lr": LR, "weight_decay": 0.0, "loss": "mean", **change}
    positional = [arguments.pop(name) for name in ("framework", "optimizer", "features", "labels", "weight")]
    with pytest.raises(error, match=match):
        training.one_step(*positional, **arguments)

"""lossbook.guards: the Keras, Kaggle and old scikit-learn re-implementations, and the tables of every library.

The re-implementations are checked against values derived by hand from the
recipes they follow (derivations in the comments) and against Kaggle's
documented example; the tables against scikit-learn, PyTorch and gluon called
directly here, and mpmath.
"""

import math

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss

from lossbook import frameworks, guards

mx = frameworks.require("mxnet")

mpmath.mp.dps = 40
F32_EPS = float(np.float32(1e-7))  # 1e-7 rounded to float32: 1.0000000116860974e-07


def minus_log(x):
    """-log(x) with 40 digits, as a float."""
    return float(-mpmath.log(mpmath.mpf(float(x))))


# Keras.


def test_keras_binary_clips_in_float32():
    """p = 0 against 1 costs -log(float32(1e-7)); p = 1 against 0 costs -log(1 - float32(1 - 1e-7)) = 23 ln 2."""
    # float32(1 - 1e-7) is 1 - 2^-23 (the nearest float32), so 1 - p is exactly 2^-23.
    losses = guards.keras_binary_crossentropy([[1.0], [0.0]], [[0.0], [1.0]])
    assert losses.dtype == np.float32 and losses.shape == (2,)
    assert float(losses[0]) == pytest.approx(minus_log(F32_EPS), rel=1e-6)
    assert float(losses[1]) == pytest.approx(23 * math.log(2), rel=1e-6)


def test_keras2_adds_epsilon_inside_the_logs():
    """Keras 2 at p = 0 against 1: -log(2 float32(1e-7)), clipped value plus epsilon."""
    loss = guards.keras_binary_crossentropy([[1.0]], [[0.0]], keras2=True)
    assert float(loss[0]) == pytest.approx(minus_log(2 * F32_EPS), rel=1e-6)


def test_keras_binary_averages_over_the_last_axis():
    """[[1, 0]] against [[0.6, 0.4]]: both terms are -log 0.6, so their mean is -log 0.6."""
    loss = guards.keras_binary_crossentropy(np.array([[1.0, 0.0]]), np.array([[0.6, 0.4]]))
    assert loss.shape == (1,)
    assert float(loss[0]) == pytest.approx(-math.log(0.6), rel=1e-6)


def test_keras_binary_in_float64_agrees_with_torch_inside_the_interval():
    """Away from the clip, the float64 re-implementation is torch's BCELoss, per sample."""
    rng = np.random.default_rng(3)
    p, y = rng.uniform(0.01, 0.99, (5, 1)), rng.integers(0, 2, (5, 1)).astype(float)
    ours = guards.keras_binary_crossentropy(y, p, dtype=np.float64)
    theirs = torch.nn.BCELoss(reduction="none")(torch.tensor(p), torch.tensor(y)).numpy()[:, 0]
    assert_allclose(ours, theirs, rtol=1e-14)


def test_keras_categorical_rescales_rows_then_clips():
    """[0.2, 0.2] rescales to [0.5, 0.5]: -log 0.5; [1, 0] against class 1 clips to -log(float32(1e-7))."""
    losses = guards.keras_categorical_crossentropy([[1.0, 0.0], [0.0, 1.0]], [[0.2, 0.2], [1.0, 0.0]])
    assert float(losses[0]) == pytest.approx(math.log(2), rel=1e-6)
    assert float(losses[1]) == pytest.approx(minus_log(F32_EPS), rel=1e-6)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: guards.keras_binary_crossentropy([[1.0]], [[1.5]]), ValueError, "y_pred must lie in"),
        (lambda: guards.keras_binary_crossentropy([[1.0, 0.0]], [[0.5]]), ValueError, "y_pred must have"),
        (lambda: guards.keras_binary_crossentropy([[1.0]], [[0.5]], dtype=np.int32), TypeError, "dtype"),
        (lambda: guards.keras_binary_crossentropy([[1.0]], [[0.5]], keras2=1), TypeError, "keras2"),
        (lambda: guards.keras_binary_crossentropy([[1.0]], [[0.5]], epsilon=0.0), ValueError, "epsilon"),
        (lambda: guards.keras_categorical_crossentropy([[-1.0, 2.0]], [[0.5, 0.5]]), ValueError, "y_true"),
    ],
)
def test_keras_rejects_bad_input(call, error, match):
    """Out-of-range values, mismatched shapes and bad options raise, naming the argument."""
    with pytest.raises(error, match=match):
        call()


# Kaggle and old scikit-learn.


def test_kaggle_reproduces_its_documented_example():
    """Kaggle's wiki scores its six-row example 1.881797068998267; so do the recipe and scikit-learn."""
    probabilities = np.array([[0.5, 0.5], [0.1, 0.9], [0.01, 0.99], [0.9, 0.1], [0.75, 0.25], [0.001, 0.999]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert guards.kaggle_log_loss(labels, probabilities) == pytest.approx(1.881797068998267, rel=1e-15)
    assert log_loss(labels, probabilities) == pytest.approx(1.881797068998267, rel=1e-15)


def test_kaggle_clips_at_1e_minus_15_and_rescales():
    """[1, 0] against class 1 costs -log(1e-15) = 15 ln 10; [0.2, 0.3] against class 1 costs -log 0.6."""
    assert guards.kaggle_log_loss([1], [[1.0, 0.0]]) == pytest.approx(15 * math.log(10), rel=1e-12)
    assert guards.kaggle_log_loss([1], [[0.2, 0.3]]) == pytest.approx(-math.log(0.6), rel=1e-15)


@pytest.mark.parametrize(
    "labels, probabilities, error, match",
    [
        ([0], [0.5, 0.5], ValueError, "shape \\(N, C\\)"),
        ([2], [[0.5, 0.5]], ValueError, "labels holds class index 2"),
        ([0, 1], [[0.5, 0.5]], ValueError, "labels must have"),
        ([0.5], [[0.5, 0.5]], ValueError, "whole numbers"),
    ],
)
def test_kaggle_rejects_bad_input(labels, probabilities, error, match):
    """A 1-D matrix, an out-of-range or fractional label, or a label count that is not N raise."""
    with pytest.raises(error, match=match):
        guards.kaggle_log_loss(labels, probabilities)


def test_sklearn_1_1_default_clips_at_1e_minus_15_in_float64():
    """p = 0 against 1 costs -log(1e-15) even for float32 input; inside (0, 1) it is today's log_loss."""
    assert guards.sklearn_1_1_log_loss([1], np.array([0.0], dtype=np.float32)) == pytest.approx(
        15 * math.log(10), rel=1e-12)
    p, y = np.array([0.2, 0.7, 0.9]), np.array([0, 1, 1])
    assert guards.sklearn_1_1_log_loss(y, p) == pytest.approx(log_loss(y, p), rel=1e-15)


# The tables.


def test_per_prediction_columns_are_each_library_called_directly():
    """Each column of per_prediction equals that library's own per-prediction loss."""
    p, y = np.array([0.0, 0.3, 1.0, 0.9]), np.array([1.0, 1.0, 0.0, 1.0])
    table = guards.per_prediction(p, y)
    assert list(table.index) == ["p = 0, y = 1", "p = 0.3, y = 1", "p = 1, y = 0", "p = 0.9, y = 1"]
    torch_losses = torch.nn.BCELoss(reduction="none")(torch.tensor(p), torch.tensor(y)).numpy()
    assert_allclose(table["torch"], torch_losses, rtol=0)
    sklearn_losses = [log_loss([t], [q], labels=[0, 1]) for q, t in zip(p, y)]
    assert_allclose(table["scikit-learn"], sklearn_losses, rtol=0)
    # gluon: -[y log(p + 1e-12) + (1 - y) log(1 - p + 1e-12)], by hand.
    gluon_by_hand = -(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
    assert_allclose(table["gluon"], gluon_by_hand, rtol=1e-15)
    exact = [math.inf, -math.log(0.3), math.inf, -math.log(0.9)]
    assert_allclose(table["exact (lossbook)"], exact, rtol=1e-15)
    assert table.loc["p = 0, y = 1", "Kaggle (re-impl.)"] == pytest.approx(15 * math.log(10), rel=1e-12)


def test_per_prediction_shows_minus_zero_as_zero():
    """torch returns -0.0 for a certain right answer; the table shows +0.0."""
    table = guards.per_prediction(np.array([1.0]), np.array([1.0]))
    assert math.copysign(1.0, table["torch"].iloc[0]) == 1.0


def test_binary_log_losses_are_each_library_own_mean():
    """The table's values are sklearn's log_loss, torch's BCELoss and gluon's per-sample mean, run here."""
    rng = np.random.default_rng(4)
    p, y = rng.uniform(0.05, 0.95, 8), rng.integers(0, 2, 8).astype(float)
    table = guards.binary_log_losses(p, y)
    assert list(table.index) == ["lossbook", "scikit-learn", "torch", "gluon", "Keras (re-impl.)", "Kaggle (re-impl.)"]
    exact = float(sum(-mpmath.log(q if t else 1 - q) for q, t in zip(map(mpmath.mpf, p), y)) / 8)
    assert table.loc["scikit-learn", "log loss"] == log_loss(y, p)
    assert table.loc["torch", "log loss"] == torch.nn.BCELoss()(torch.tensor(p), torch.tensor(y)).item()
    gluon_value = mx.gluon.loss.SigmoidBCELoss(from_sigmoid=True)(
        frameworks.as_float64(p[:, None], "mxnet"), frameworks.as_float64(y[:, None], "mxnet")).mean().asscalar()
    assert table.loc["gluon", "log loss"] == gluon_value
    assert_allclose(table["log loss"].drop("Keras (re-impl.)"), exact, rtol=1e-10)  # gluon's 1e-12
    assert table.loc["Keras (re-impl.)", "log loss"] == pytest.approx(exact, rel=1e-6)  # float32


def test_categorical_log_losses_are_each_library_own_mean():
    """The table's values are sklearn's log_loss and torch's NLLLoss run here, and mpmath's mean."""
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((5, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = np.array([0, 2, 1, 1, 0])
    table = guards.categorical_log_losses(probs, classes)
    assert table.loc["scikit-learn", "log loss"] == log_loss(classes, probs)
    nll = torch.nn.NLLLoss()(torch.log(torch.tensor(probs)), torch.tensor(classes)).item()
    assert table.loc["torch", "log loss"] == nll
    exact = float(sum(-mpmath.log(mpmath.mpf(probs[i, c])) for i, c in enumerate(classes)) / 5)
    assert_allclose(table["log loss"].drop("Keras (re-impl.)"), exact, rtol=1e-14)
    assert table.loc["Keras (re-impl.)", "log loss"] == pytest.approx(exact, rel=1e-6)


def test_tables_reject_bad_input():
    """A 2-D p, mismatched shapes or an out-of-range class raise ValueError naming the argument."""
    with pytest.raises(ValueError, match="p must be one probability per prediction"):
        guards.per_prediction(np.ones((2, 2)) / 2, np.ones((2, 2)))
    with pytest.raises(ValueError, match="y must have"):
        guards.binary_log_losses([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="classes holds class index 3"):
        guards.categorical_log_losses([[0.5, 0.5]], [3])
    with pytest.raises(ValueError, match=r"probabilities must have shape \(N, C\), got shape \(2,\)"):
        guards.categorical_log_losses([0.5, 0.5], [0])

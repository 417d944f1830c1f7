"""lossbook.fitting: IRLS line fits, the sum-of-RMSE minimiser and the linear classifier."""

import math
import statistics

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize
from sklearn.linear_model import LinearRegression, LogisticRegression, QuantileRegressor
from sklearn.svm import SVC

from lossbook import catalog, fitting


def line_data(seed=0, n=30):
    """Points near y = 2 - 0.7 x with two gross outliers."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 5.0, n)
    y = 2.0 - 0.7 * x + 0.3 * rng.standard_normal(n)
    y[[3, 11]] += [9.0, -7.0]
    return np.column_stack([np.ones(n), x]), y


def test_irls_l2_is_least_squares():
    """The L2 fit is scikit-learn's LinearRegression."""
    X, y = line_data()
    ols = LinearRegression().fit(X[:, 1:], y)
    assert_allclose(fitting.irls(X, y, "l2"), [ols.intercept_, ols.coef_[0]], rtol=1e-12)


def test_irls_l1_is_the_exact_median_regression():
    """The L1 fit is scikit-learn's linear-programming QuantileRegressor at q = 0.5."""
    X, y = line_data()
    lp = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X[:, 1:], y)
    assert_allclose(fitting.irls(X, y, "l1"), [lp.intercept_, lp.coef_[0]], atol=1e-7)


@pytest.mark.parametrize("delta", [0.5, 1.0, 3.0])
def test_irls_huber_minimises_the_hand_written_huber_loss(delta):
    """The Huber fit is SciPy's BFGS minimum of sum(Huber_delta(r)), written out by hand."""
    X, y = line_data()

    def objective(coef):
        r = np.abs(y - X @ coef)
        return np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)).sum()

    def gradient(coef):
        return -X.T @ np.clip(y - X @ coef, -delta, delta)

    best = optimize.minimize(objective, np.zeros(2), jac=gradient, method="BFGS", options={"gtol": 1e-12}).x
    assert_allclose(fitting.irls(X, y, "huber", delta=delta), best, atol=1e-8)


def test_irls_weights_by_hand():
    """1 for L2, 1/|r| for L1 (floored), min(1, delta/|r|) for Huber; a zero residual weighs 1 under Huber."""
    r = np.array([-4.0, -0.5, 0.0, 2.0])
    assert_allclose(fitting.irls_weights(r, "l2"), [1, 1, 1, 1], rtol=0)
    assert_allclose(fitting.irls_weights(r, "l1"), [0.25, 2.0, 1e9, 0.5], rtol=1e-15)
    assert_allclose(fitting.irls_weights(r, "huber", delta=1.0), [0.25, 1.0, 1.0, 0.5], rtol=1e-15)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: fitting.irls(np.ones(3), np.ones(3), "l2"), ValueError, "X must be 2-D"),
        (lambda: fitting.irls(np.ones((3, 2)), np.ones(4), "l2"), ValueError, r"y must have shape \(3,\)"),
        (lambda: fitting.irls(np.ones((3, 2)), np.ones(3), "l3"), ValueError, "loss must be one of"),
        (lambda: fitting.irls(np.ones((3, 2)), np.ones(3), "huber", delta=0), ValueError, "delta must be"),
        (lambda: fitting.irls(np.ones((3, 2)), np.ones(3), "l1", steps=0), ValueError, "steps must be"),
        (lambda: fitting.irls(np.array([["a", "b"]]), np.ones(1), "l1"), TypeError, "X must hold real"),
        (lambda: fitting.irls_weights(["x"], "l1"), TypeError, "residuals must be real"),
        (lambda: fitting.irls(np.ones((1, 2)), np.array(["a"]), "l1"), TypeError, "y must hold real"),
    ],
)
def test_irls_bad_input_raises(call, error, match):
    """Bad input raises an error naming the argument."""
    with pytest.raises(error, match=match):
        call()


def test_sum_of_rmse_minimiser_matches_scipy():
    """SciPy's bounded minimiser of RMSE_a(c) + RMSE_b(c) + RMSE_c(c); shares are 1/RMSE normalised."""
    rng = np.random.default_rng(3)
    groups = [rng.normal(0.0, 0.2, 5), rng.normal(3.0, 1.0, 9), rng.normal(-2.0, 3.0, 7)]

    def rmse(c, g):
        return math.sqrt(statistics.fmean((c - v) ** 2 for v in g))

    best = optimize.minimize_scalar(lambda c: sum(rmse(c, g) for g in groups), bounds=(-5, 5),
                                    method="bounded", options={"xatol": 1e-12}).x
    c, shares = fitting.sum_of_rmse_minimiser(groups)
    assert_allclose(c, best, atol=1e-7)
    inverse = np.array([1 / rmse(best, g) for g in groups])
    assert_allclose(shares, inverse / inverse.sum(), rtol=1e-6)


def test_sum_of_rmse_of_one_group_is_its_mean():
    """With one group the square root cannot move the minimiser: the mean (fmean)."""
    group = [1.0, 4.0, 2.5, -0.5]
    c, shares = fitting.sum_of_rmse_minimiser([group])
    assert_allclose(c, statistics.fmean(group), rtol=1e-15)
    assert_allclose(shares, [1.0], rtol=0)


@pytest.mark.parametrize(
    "groups, error, match",
    [([], ValueError, "at least one group"), ([[1.0, 1.0]], ValueError, "non-constant"),
     ([np.ones((2, 2))], ValueError, "1-D"), ([["a", "b"]], TypeError, "real numbers")],
)
def test_sum_of_rmse_bad_groups_raise(groups, error, match):
    """Bad groups raise an error naming groups[k]."""
    with pytest.raises(error, match=match):
        fitting.sum_of_rmse_minimiser(groups)


def clouds(seed=7, n=40):
    """Two overlapping Gaussian clouds, labels +1 and -1."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([1.0, -1.0], n)
    return rng.normal(size=(2 * n, 2)) + np.outer(labels, [1.3, 1.0]), labels


# mean loss + lambda ||w||^2, times C N with C = 1 / (2 lambda N), is C sum(loss) + ||w||^2 / 2.


def test_hinge_classifier_is_the_svm():
    """Hinge + 0.01 ||w||^2 is libsvm's linear SVC with C = 1 / (2 * 0.01 * 80), to 1e-3."""
    points, labels = clouds()
    svc = SVC(kernel="linear", C=1 / (2 * 0.01 * 80), tol=1e-12).fit(points, labels)
    params = fitting.fit_linear_classifier(points, labels, "hinge", penalty=0.01)
    assert_allclose(params, [*svc.coef_[0], svc.intercept_[0]], atol=1e-3)


def test_logistic_classifier_is_logistic_regression():
    """Soft margin + 0.01 ||w||^2 is scikit-learn's LogisticRegression with the same C, to 2e-5."""
    points, labels = clouds()
    model = LogisticRegression(C=1 / (2 * 0.01 * 80), tol=1e-12, max_iter=10000).fit(points, labels)
    params = fitting.fit_linear_classifier(points, labels, catalog.get("soft_margin"), penalty=0.01)
    assert_allclose(params, [*model.coef_[0], model.intercept_[0]], atol=2e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [({"loss": "l2"}, ValueError, "must be a margin loss"), ({"penalty": -1.0}, ValueError, "penalty"),
     ({"steps": 2.5}, ValueError, "steps"), ({"labels": np.zeros(80)}, ValueError, "labels must be -1 or \\+1"),
     ({"labels": np.ones(3)}, ValueError, r"labels must have shape \(80,\)")],
)
def test_classifier_bad_input_raises(kwargs, error, match):
    """Bad input raises an error naming the argument."""
    points, labels = clouds()
    arguments = {"points": points, "labels": labels, "loss": "hinge", **kwargs}
    with pytest.raises(error, match=match):
        fitting.fit_linear_classifier(arguments.pop("points"), arguments.pop("labels"), arguments.pop("loss"),
                                      **arguments)

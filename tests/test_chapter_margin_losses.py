"""Every number the margin-losses chapter states, and every framework claim it makes, checked.

The chapter (book/margin_losses.md), as the book build executed it: each number
it glues into its prose is compared with a source other than lossbook: mpmath
at 50 digits, a value derived by hand (the derivation is in a comment), SciPy,
scikit-learn, PyTorch or MXNet gluon. Each sentence about how gluon or torch
behaves is checked by running them.
"""

import math
import re

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy import optimize
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from executed_pages import executed_page, glued_values
from lossbook import fitting as lb_fitting
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

F = torch.nn.functional
PAGE = "margin_losses"
PREFIX = "margin-"
FLOAT32_EPS = 2.0**-23

mpmath.mp.dps = 50


def t64(values):
    """A float64 tensor."""
    return frameworks.as_float64(values, "torch")


def nd64(values):
    """A float64 NDArray."""
    return frameworks.as_float64(values, "mxnet")


@pytest.fixture(scope="module")
def executed():
    """The chapter as the book build executed it."""
    return executed_page(PAGE)


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, by key; numbers as Python numbers."""
    return glued_values(PAGE)


def exact_logistic(m):
    """log(1 + exp(-m)) by mpmath."""
    return mpmath.log1p(mpmath.exp(-mpmath.mpf(float(m))))


def assert_float32_close(gluon_values, exact):
    """gluon's float32 output is within float32's precision of the exact values: relative 2^-22."""
    gluon_values = np.asarray(gluon_values, dtype=np.float64)
    assert_allclose(gluon_values, exact, rtol=2 * FLOAT32_EPS, atol=0)


# The logistic loss is BCE with logits.

RNG0 = np.random.default_rng(0)
Z = 4.0 * RNG0.standard_normal((6, 3))
T = RNG0.integers(0, 2, (6, 3)).astype(np.float64)
Y = 2 * T - 1


def test_soft_margin_with_signed_labels_is_bce_with_logits(glued):
    """torch SoftMarginLoss(z, 2t - 1) = BCEWithLogitsLoss(z, t) = mpmath log(1 + e^{-yz}), to rounding."""
    soft = torch.nn.SoftMarginLoss(reduction="none")(t64(Z), t64(Y)).numpy()
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")(t64(Z), t64(T)).numpy()
    exact = np.array([float(exact_logistic(m)) for m in (Y * Z).ravel()]).reshape(Z.shape)
    assert_allclose(soft, exact, rtol=4 * 2.0**-52)
    assert_allclose(bce, exact, rtol=0, atol=1e-15)  # torch loses relative accuracy on tiny losses
    assert glued[PREFIX + "logistic-bce-gap"] == np.abs(soft - bce).max()
    assert glued[PREFIX + "logistic-bce-gap"] < 1e-14


def test_gluon_logistic_formats_and_sigmoid_bce_agree_exactly_in_float32():
    """gluon LogisticLoss signed on 2t - 1 = binary on t = SigmoidBCE on t, bit for bit in float32, ~ mpmath."""
    signed = gluon.loss.LogisticLoss(label_format="signed")(nd.array(Z), nd.array(Y))
    binary = gluon.loss.LogisticLoss(label_format="binary")(nd.array(Z), nd.array(T))
    sigmoid_bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()(nd.array(Z), nd.array(T))
    assert signed.dtype == np.float32
    assert (signed.asnumpy() == binary.asnumpy()).all() and (binary.asnumpy() == sigmoid_bce.asnumpy()).all()
    exact = np.array([float(exact_logistic(m)) for m in (Y * Z).ravel()]).reshape(Z.shape).mean(1)
    assert_float32_close(signed.asnumpy(), exact)
    assert_allclose(gluon.loss.LogisticLoss()(nd64(Z), nd64(Y)).asnumpy(), exact, rtol=1e-15)


# The wrong label format.

SCORES = np.array([-3.0, -1.0, 2.0])
BINARY_LABELS = np.array([0.0, 0.0, 1.0])


def test_soft_margin_with_a_zero_label_is_log_two_with_no_gradient(glued):
    """A 0 label in SoftMarginLoss gives log(1 + e^0) = log 2 and a zero gradient (torch autograd)."""
    scores = t64(SCORES).requires_grad_()
    loss = torch.nn.SoftMarginLoss(reduction="none")(scores, t64(BINARY_LABELS))
    (grad,) = torch.autograd.grad(loss.sum(), scores)
    assert_allclose(loss[:2].detach().numpy(), float(mpmath.log(2)), rtol=1e-16)
    assert grad[0].item() == 0.0 and grad[1].item() == 0.0
    assert_allclose(glued[PREFIX + "log2"], float(mpmath.log(2)), rtol=1e-16)


def test_gluon_signed_logistic_maps_a_zero_label_to_one_half():
    """gluon LogisticLoss() with label 0 is softplus(f) - f / 2 (mpmath), so 1.5486 at f = -3."""
    f = SCORES[:, None]
    out = gluon.loss.LogisticLoss()(nd64(f), nd64(np.zeros((3, 1)))).asnumpy()
    exact = [float(mpmath.log1p(mpmath.exp(v)) - mpmath.mpf(v) / 2) for v in f.ravel()]
    assert_allclose(out, exact, rtol=1e-15)


@pytest.mark.parametrize("loss_class", [gluon.loss.HingeLoss, gluon.loss.SquaredHingeLoss])
def test_gluon_hinge_losses_with_a_zero_label_are_one_with_no_gradient(loss_class):
    """max(0, 1 - 0 f) = 1 (and 1^2 = 1) whatever the score: gluon's loss and mxnet's gradient say so."""
    f = nd64(SCORES[:, None])
    f.attach_grad()
    with autograd.record():
        loss = loss_class()(f, nd64(np.zeros((3, 1))))
    loss.backward()
    assert_allclose(loss.asnumpy(), [1.0, 1.0, 1.0], rtol=0)
    assert_allclose(f.grad.asnumpy(), 0.0, atol=0)


def test_torch_hinge_expression_with_a_zero_label_is_one():
    """torch.relu(1 - f * 0) = 1 for every score, with a zero gradient."""
    f = t64(SCORES).requires_grad_()
    loss = torch.relu(1 - f * t64(BINARY_LABELS))
    (grad,) = torch.autograd.grad(loss.sum(), f)
    assert_allclose(loss.detach().numpy(), [1.0, 1.0, 0.0], rtol=0)
    assert grad[0].item() == 0.0 and grad[1].item() == 0.0


def test_exercise_3_gluon_gradient_for_a_zero_label_is_sigmoid_minus_one_half():
    """mxnet autograd of LogisticLoss() with label 0 at f = -2, 0.5, 3 is sigma(f) - 1/2 (mpmath)."""
    f = np.array([[-2.0], [0.5], [3.0]])
    x = nd64(f)
    x.attach_grad()
    with autograd.record():
        loss = gluon.loss.LogisticLoss()(x, nd64(np.zeros((3, 1))))
    loss.backward()
    exact = [float(1 / (1 + mpmath.exp(-v)) - mpmath.mpf(1) / 2) for v in f.ravel()]
    assert_allclose(x.grad.asnumpy().ravel(), exact, rtol=1e-15)


# Hinge and squared hinge across frameworks.

RNG1 = np.random.default_rng(1)
HINGE_F = 1.5 * RNG1.standard_normal((5, 1))
HINGE_Y = RNG1.choice([-1.0, 1.0], size=(5, 1))


def test_gluon_hinge_losses_are_the_clamp_expressions():
    """gluon HingeLoss / SquaredHingeLoss = torch.clamp(1 - y f, min=0) (squared) = the hand formula."""
    hinge = torch.clamp(1 - t64(HINGE_Y) * t64(HINGE_F), min=0).numpy().ravel()
    assert_allclose(hinge, np.maximum(0, 1 - HINGE_Y * HINGE_F).ravel(), rtol=1e-15)
    assert_allclose(gluon.loss.HingeLoss()(nd64(HINGE_F), nd64(HINGE_Y)).asnumpy(), hinge, rtol=1e-15)
    assert_allclose(gluon.loss.SquaredHingeLoss()(nd64(HINGE_F), nd64(HINGE_Y)).asnumpy(), hinge**2, rtol=1e-15)
    assert_float32_close(gluon.loss.HingeLoss()(nd.array(HINGE_F), nd.array(HINGE_Y)).asnumpy(), hinge)
    assert_float32_close(gluon.loss.SquaredHingeLoss()(nd.array(HINGE_F), nd.array(HINGE_Y)).asnumpy(), hinge**2)


def test_torch_has_no_binary_hinge_class():
    """torch.nn has no HingeLoss or SquaredHingeLoss; its only class with Hinge in its name is HingeEmbeddingLoss."""
    assert not hasattr(torch.nn, "HingeLoss") and not hasattr(torch.nn, "SquaredHingeLoss")
    assert {name for name in dir(torch.nn) if "Hinge" in name} == {"HingeEmbeddingLoss"}


def test_hinge_embedding_loss_is_the_score_itself_for_label_one():
    """HingeEmbeddingLoss: x for y = 1 (even when negative), max(0, 1 - x) for y = -1; not the hinge."""
    x = t64([0.5, -1.9, 1.2, 0.4])
    y = t64([1.0, 1.0, -1.0, -1.0])
    out = torch.nn.HingeEmbeddingLoss(reduction="none")(x, y).numpy()
    assert_allclose(out, [0.5, -1.9, 0.0, 0.6], rtol=1e-15)


def test_exercise_1_multi_margin_on_zero_and_f_is_half_the_hinge():
    """MultiMarginLoss([0, f], t) = max(0, 1 - (2t - 1) f) / 2, as derived in the exercise; hand values."""
    f = t64([[0.0, 0.3], [0.0, -2.0], [0.0, 0.4], [0.0, 5.0]])
    t = torch.tensor([1, 1, 0, 0])
    out = torch.nn.MultiMarginLoss(reduction="none")(f, t).numpy()
    # t = 1: max(0, 1 - 0.3) / 2 = 0.35, max(0, 1 + 2) / 2 = 1.5; t = 0: max(0, 1 + 0.4) / 2 = 0.7, 6 / 2 = 3.
    assert_allclose(out, [0.35, 1.5, 0.7, 3.0], rtol=1e-15)


# Why margins: kinks, sparsity, calibration.


def test_derivatives_on_either_side_of_the_hinge(glued):
    """torch autograd at m = 1 -/+ 1e-6: hinge -1 then 0; squared hinge -2 (1 - m) = -2e-6 then 0."""
    results = {}
    for name, loss in (("hinge", lambda m: torch.clamp(1 - m, min=0)),
                       ("squared-hinge", lambda m: torch.clamp(1 - m, min=0) ** 2)):
        for side, value in (("below", 1 - 1e-6), ("above", 1 + 1e-6)):
            m = torch.tensor(value, dtype=torch.float64, requires_grad=True)
            results[name, side] = torch.autograd.grad(loss(m), m)[0].item()
    assert results["hinge", "below"] == -1.0 and results["hinge", "above"] == 0.0
    assert results["squared-hinge", "above"] == 0.0
    assert glued[PREFIX + "kink-hinge-below"] == results["hinge", "below"]
    assert_allclose(glued[PREFIX + "kink-squared-hinge-below"], results["squared-hinge", "below"], rtol=1e-15)
    assert_allclose(results["squared-hinge", "below"], -2 * (1 - (1 - 1e-6)), rtol=1e-15)


def clouds():
    """The chapter's two overlapping classes of forty points each."""
    rng = np.random.default_rng(7)
    labels = np.repeat([1.0, -1.0], 40)
    return rng.normal(size=(80, 2)) + np.outer(labels, [1.3, 1.0]), labels


# mean loss + 0.01 ||w||^2 is, times C * N, C * sum(loss) + ||w||^2 / 2 with C = 1 / (2 * 0.01 * 80).
C_EQUIVALENT = 1 / (2 * 0.01 * 80)


def test_support_vector_counts_match_an_exact_svm_solver(glued):
    """scikit-learn's SVC (libsvm, exact) on the same objective gives the chapter's split of the 80 points."""
    points, labels = clouds()
    svc = SVC(kernel="linear", C=C_EQUIVALENT, tol=1e-12).fit(points, labels)
    margins = labels * svc.decision_function(points)
    tol = 1e-3
    assert glued[PREFIX + "n-points"] == 80
    assert glued[PREFIX + "hinge-silent"] == int((margins > 1 + tol).sum())
    assert glued[PREFIX + "hinge-on-margin"] == int((np.abs(margins - 1) <= tol).sum())
    assert glued[PREFIX + "hinge-inside"] == int((margins < 1 - tol).sum())
    assert glued[PREFIX + "hinge-on-margin"] + glued[PREFIX + "hinge-inside"] == len(svc.support_)


def test_circled_points_are_libsvms_support_vectors():
    """The points the figure circles (margin <= 1 + 1e-3 under the page's fit) are SVC's support vectors."""
    points, labels = clouds()
    svc = SVC(kernel="linear", C=C_EQUIVALENT, tol=1e-12).fit(points, labels)
    params = lb_fitting.fit_linear_classifier(points, labels, "hinge", penalty=0.01)
    circled = np.flatnonzero(labels * (points @ params[:2] + params[2]) <= 1 + 1e-3)
    assert set(circled) == set(svc.support_)


def test_logistic_pulls_match_scikit_learns_logistic_regression(glued):
    """scikit-learn's LogisticRegression on the same objective: every pull sigma(-m) is positive, min and max match."""
    points, labels = clouds()
    model = LogisticRegression(C=C_EQUIVALENT, tol=1e-12, max_iter=10000).fit(points, labels)
    pulls = 1 / (1 + np.exp(labels * model.decision_function(points)))
    assert pulls.min() > 0
    assert_allclose(glued[PREFIX + "logistic-min-pull"], pulls.min(), rtol=1e-3)
    assert_allclose(glued[PREFIX + "logistic-max-pull"], pulls.max(), rtol=1e-4)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.6, 0.9])
def test_minimisers_of_the_conditional_risk(p):
    """SciPy: logistic minimiser is log(p / (1 - p)), squared hinge 2p - 1, hinge sign(2p - 1)."""
    def risk(loss):
        return lambda f: p * loss(f) + (1 - p) * loss(-f)

    def logistic(f):
        return math.log1p(math.exp(-f))

    def squared(f):
        return max(0.0, 1 - f) ** 2

    def hinge(f):
        return max(0.0, 1 - f)

    options = {"xatol": 1e-10}
    best_logistic = optimize.minimize_scalar(risk(logistic), bounds=(-6, 6), method="bounded", options=options).x
    best_squared = optimize.minimize_scalar(risk(squared), bounds=(-6, 6), method="bounded", options=options).x
    assert_allclose(best_logistic, math.log(p / (1 - p)), atol=1e-7)
    assert_allclose(best_squared, 2 * p - 1, atol=1e-7)
    # The hinge risk is piecewise linear with kinks at -1 and 1: compare the candidates exactly.
    assert min((-1.0, 1.0), key=risk(hinge)) == math.copysign(1.0, 2 * p - 1)


def test_the_risk_table_on_the_page(executed):
    """The page's grid minimisers are log-odds, +-1 and 2p - 1 to the grid's 1e-4 spacing (4 decimals shown)."""
    cell = next(c for c in executed.cells if c.cell_type == "code" and "best_score(key, p) for p in" in c.source)
    text = next(o["data"]["text/plain"] for o in cell.outputs if o.get("output_type") == "execute_result")
    rows = [line.split()[3:] for line in text.splitlines()[1:]]  # after "p = 0.1"
    for p, row in zip((0.1, 0.3, 0.6, 0.9), rows):
        logistic, hinge, squared, log_odds, linear = map(float, row)
        assert_allclose([logistic, log_odds], math.log(p / (1 - p)), atol=1e-4 + 5e-5)  # grid step + rounding
        assert hinge == math.copysign(1.0, 2 * p - 1)
        assert_allclose([squared, linear], 2 * p - 1, atol=1e-4 + 5e-5)


def test_surrogates_bound_the_zero_one_loss():
    """Exercise 2: hinge, squared hinge and log2(1 + e^-m) are >= [m <= 0]; ln(1 + e^0) = log 2 < 1 is not."""
    m = np.linspace(-5, 5, 10001)
    zero_one = (m <= 0).astype(float)
    assert (np.maximum(0, 1 - m) >= zero_one).all()
    assert (np.maximum(0, 1 - m) ** 2 >= zero_one).all()
    assert all(float(exact_logistic(v) / mpmath.log(2)) >= z for v, z in zip(m[::50], zero_one[::50]))
    assert float(mpmath.log(2)) < 1


def test_exercise_1_printed_values_are_half_hinges(executed):
    """The exercise's MultiMarginLoss line equals max(0, 1 - (2t - 1) f) / 2 on its own draws (4 decimals)."""
    cell = next(c for c in executed.cells if c.cell_type == "code" and "MultiMarginLoss(reduction" in c.source)
    text = "".join(o.get("text", "") for o in cell.outputs)
    printed = [float(v) for v in re.findall(r"\d+\.\d+", text.splitlines()[0])]
    rng = np.random.default_rng(2)
    f, t = 2.0 * rng.standard_normal(6), rng.integers(0, 2, 6)
    assert_allclose(printed, np.maximum(0, 1 - (2.0 * t - 1) * f) / 2, atol=5e-5)

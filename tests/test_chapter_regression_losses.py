"""Every number the regression-losses chapter states or relies on, checked independently.

The chapter (book/regression_losses.md), as the book build executed it: each number it
glues into its prose is compared with a source other than lossbook: a value
derived by hand (the derivation is in a comment), the standard library,
SciPy, scikit-learn, PyTorch or MXNet gluon. The framework relations the chapter
teaches are checked against the frameworks directly, and its structure (glue
keys, equation and figure labels, glossary terms, citations, the widget) at the end.
"""

import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy import optimize
from sklearn.linear_model import LinearRegression, QuantileRegressor

from executed_pages import executed_page, glued_values
from float64_arrays import nd64, t64
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTER_PATH = REPO_ROOT / "book" / "regression_losses.md"
CHAPTER = CHAPTER_PATH.read_text()
F = torch.nn.functional
PREFIX = "regression-"


@pytest.fixture(scope="module")
def executed():
    """The chapter as the book build executed it."""
    return executed_page(CHAPTER_PATH.stem)


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, by key; numbers as Python numbers."""
    return glued_values(CHAPTER_PATH.stem)


def stdout_of(executed, marker):
    """The printed text of the cell whose source contains ``marker``."""
    for cell in executed.cells:
        if cell.cell_type == "code" and marker in cell.source:
            return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    raise KeyError(marker)


# The factor of two between L2Loss and MSELoss.

PRED = np.array([[2.5], [0.0], [-1.0], [4.0]])
TARGET = np.array([[3.0], [-0.5], [1.0], [1.0]])


def test_torch_mse_of_the_batch_is_3_375_and_gluon_half_of_it(glued):
    """MSE of residuals (-0.5, 0.5, -2, 3) is (0.25 + 0.25 + 4 + 9) / 4 = 3.375; gluon L2Loss 1.6875."""
    assert glued[PREFIX + "torch-mse"] == 3.375
    assert torch.nn.MSELoss()(t64(PRED), t64(TARGET)).item() == 3.375
    assert gluon.loss.L2Loss()(nd64(PRED), nd64(TARGET)).mean().asscalar() == 1.6875


def test_torch_gradient_is_twice_gluons_per_batch_gradient():
    """torch's mean-MSE gradient is 2r/N = (-0.25, 0.25, -1, 1.5); gluon's backward / N is r/N."""
    residual = (PRED - TARGET).ravel()
    p = t64(PRED).requires_grad_()
    torch.nn.MSELoss()(p, t64(TARGET)).backward()
    assert_allclose(p.grad.numpy().ravel(), [-0.25, 0.25, -1.0, 1.5], rtol=0, atol=0)
    q = nd64(PRED)
    q.attach_grad()
    with autograd.record():
        per_sample = gluon.loss.L2Loss()(q, nd64(TARGET))
    per_sample.backward()
    assert_allclose(q.grad.asnumpy().ravel() / 4, residual / 4, rtol=0, atol=0)


# MSE against RMSE.


def test_rmse_and_mse_of_a_constant_share_the_minimiser(glued):
    """Both are minimised at the mean (stdlib fmean); the grid argmins are the grid point nearest it."""
    y = np.random.default_rng(1).normal(3.0, 1.5, size=12)
    mean = statistics.fmean(y)
    assert_allclose(glued[PREFIX + "rmse-mean"], mean, rtol=1e-15)
    assert_allclose(glued[PREFIX + "rmse-s"], statistics.pstdev(y), rtol=1e-14)
    grid = np.linspace(-3.0, 9.0, 481)
    nearest = grid[np.argmin(np.abs(grid - mean))]
    assert glued[PREFIX + "rmse-argmin-mse"] == glued[PREFIX + "rmse-argmin-rmse"] == nearest
    rmse = optimize.minimize_scalar(lambda c: math.sqrt(statistics.fmean((c - v) ** 2 for v in y)),
                                    bounds=(-3, 9), method="bounded", options={"xatol": 1e-12})
    assert_allclose(rmse.x, mean, atol=1e-7)


def test_rmse_gradient_is_bounded_by_one_with_curvature_one_over_s():
    """d RMSE / dc = (c - mean) / sqrt((c - mean)^2 + s^2), by torch autograd; |.| < 1, slope 1/s at the mean."""
    y = t64(np.random.default_rng(1).normal(3.0, 1.5, size=12))
    mean, s = y.mean().item(), y.std(unbiased=False).item()
    for c0 in (-3.0, mean + 0.3, 9.0):
        c = torch.tensor(c0, dtype=torch.float64, requires_grad=True)
        torch.sqrt(((c - y) ** 2).mean()).backward()
        assert_allclose(c.grad.item(), (c0 - mean) / math.hypot(c0 - mean, s), rtol=1e-12)
        assert abs(c.grad.item()) < 1
    h = 1e-6
    slope = ((h / math.hypot(h, s)) - (-h / math.hypot(h, s))) / (2 * h)
    assert_allclose(slope, 1 / s, rtol=1e-9)


def test_sum_of_batch_rmses_moves_the_optimum_towards_the_tight_batch(glued):
    """SciPy's minimiser of RMSE_a(c) + RMSE_b(c) is the chapter's c*, and the tight batch's weight share matches."""
    rng = np.random.default_rng(2)
    batches = [rng.normal(1.0, 0.3, size=8), rng.normal(4.0, 2.0, size=8)]

    def rmse(c, batch):
        return math.sqrt(statistics.fmean((c - v) ** 2 for v in batch))

    best = optimize.minimize_scalar(lambda c: rmse(c, batches[0]) + rmse(c, batches[1]),
                                    bounds=(0, 5), method="bounded", options={"xatol": 1e-12})
    assert_allclose(glued[PREFIX + "batches-rmse-opt"], best.x, atol=1e-7)
    assert_allclose(glued[PREFIX + "batches-mse-opt"], statistics.fmean(np.concatenate(batches)), rtol=1e-15)
    inverse = [1 / rmse(best.x, batch) for batch in batches]
    assert_allclose(glued[PREFIX + "batches-tight-share"], inverse[0] / sum(inverse), rtol=1e-6)
    assert glued[PREFIX + "batches-tight-share"] > 0.5
    assert glued[PREFIX + "batches-rmse-opt"] < glued[PREFIX + "batches-mse-opt"]


def test_sqrt_of_mse_has_nan_gradient_at_a_perfect_fit():
    """torch: d sqrt(u)/du = inf at u = 0, times a zero MSE gradient, is nan."""
    p = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    torch.sqrt(F.mse_loss(p, p.detach())).backward()
    assert torch.isnan(p.grad).all()


def test_elementwise_square_root_is_the_l1_loss():
    """Exercise 4: sqrt(r^2) averaged is torch's L1Loss: (1 + 3 + 3) / 3 = 7/3 on the chapter's numbers."""
    a, b = t64([1.0, -2.0, 3.5]), t64([0.0, 1.0, 0.5])
    assert_allclose(torch.sqrt((a - b) ** 2).mean().item(), 7 / 3, rtol=1e-15)
    assert_allclose(torch.nn.L1Loss()(a, b).item(), 7 / 3, rtol=1e-15)


# Huber, Smooth L1 and gluon's HuberLoss.

RNG3 = np.random.default_rng(3)
HUBER_PRED, HUBER_TARGET = 3.0 * RNG3.standard_normal((6, 2)), 3.0 * RNG3.standard_normal((6, 2))


def hand_huber(r, delta):
    """Huber (1964): r^2 / 2 inside [-delta, delta], delta (|r| - delta / 2) outside."""
    r = np.abs(r)
    return np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))


def test_torch_huber_is_delta_times_smooth_l1(glued):
    """HuberLoss(delta) = delta * SmoothL1Loss(beta=delta) elementwise, and both match the hand formula."""
    delta = 2.0
    huber = torch.nn.HuberLoss(delta=delta, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).numpy()
    smooth = torch.nn.SmoothL1Loss(beta=delta, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).numpy()
    assert_allclose(huber, delta * smooth, rtol=1e-15)
    assert_allclose(huber, hand_huber(HUBER_PRED - HUBER_TARGET, delta), rtol=1e-15)
    assert glued[PREFIX + "huber-vs-smooth"] <= 4 * np.finfo(float).eps * huber.max()


def test_gluon_huber_rho_is_smooth_l1_beta_rho_not_huber_delta_rho():
    """gluon HuberLoss(rho=2) per sample = SmoothL1Loss(beta=2) per-sample mean = HuberLoss(delta=2) / 2."""
    per_sample = gluon.loss.HuberLoss(rho=2.0)(nd64(HUBER_PRED), nd64(HUBER_TARGET)).asnumpy()
    smooth = torch.nn.SmoothL1Loss(beta=2.0, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).mean(1)
    huber = torch.nn.HuberLoss(delta=2.0, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).mean(1)
    assert_allclose(per_sample, smooth.numpy(), rtol=1e-15)
    assert_allclose(per_sample, huber.numpy() / 2.0, rtol=1e-15)
    assert np.abs(per_sample - huber.numpy()).max() > 1.0


def test_huber_and_smooth_l1_limits():
    """SmoothL1 -> L1 as beta -> 0, Huber -> r^2 / 2 as delta -> infinity (torch)."""
    r = t64([-3.0, -0.2, 0.7, 5.0])
    zero = torch.zeros(4, dtype=torch.float64)
    assert_allclose(F.smooth_l1_loss(r, zero, beta=1e-9, reduction="none").numpy(), np.abs(r.numpy()), atol=1e-9)
    assert_allclose(F.huber_loss(r, zero, delta=1e6, reduction="none").numpy(), 0.5 * r.numpy() ** 2, rtol=1e-15)


def test_mxnet_smooth_l1_operator_threshold_is_one_over_sigma_squared():
    """nd.smooth_l1(x, scalar=3) = SmoothL1Loss(beta=1/9) of x against 0 = hand formula."""
    x = np.array([0.05, -0.3, 2.0])
    theirs = nd.smooth_l1(nd64(x), scalar=3.0).asnumpy()
    torch_port = F.smooth_l1_loss(t64(x), torch.zeros(3, dtype=torch.float64), beta=1 / 9, reduction="none")
    hand = np.where(np.abs(x) < 1 / 9, 0.5 * 9 * x**2, np.abs(x) - 0.5 / 9)
    assert_allclose(theirs, hand, rtol=1e-15)
    assert_allclose(torch_port.numpy(), hand, rtol=1e-15)


def test_exercise_1_smooth_l1_matches_gluon_huber_training_gradient():
    """SmoothL1Loss(beta=0.5) mean gradient = gluon HuberLoss(rho=0.5) backward / N, by both autograds."""
    rng = np.random.default_rng(6)
    pred, label = 0.5 * rng.standard_normal((5, 1)), 0.5 * rng.standard_normal((5, 1))
    p = t64(pred).requires_grad_()
    torch.nn.SmoothL1Loss(beta=0.5)(p, t64(label)).backward()
    q = nd64(pred)
    q.attach_grad()
    with autograd.record():
        per_sample = gluon.loss.HuberLoss(rho=0.5)(q, nd64(label))
    per_sample.backward()
    assert_allclose(p.grad.numpy(), q.grad.asnumpy() / 5, rtol=1e-15)
    inside = np.abs(pred - label) < 0.5
    assert inside.any() and (~inside).any(), "the batch should cross the threshold"


# Robustness to outliers.


def outlier_data():
    """The chapter's twenty points, one pushed twelve units down."""
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0.0, 10.0, 20))
    y = 1.0 + 0.5 * x + 0.4 * rng.standard_normal(20)
    y[18] -= 12.0
    return x, y


def huber_fit(x, y, delta=1.0):
    """Minimise the mean hand-coded Huber loss with SciPy's BFGS, from the least-squares fit."""
    def objective(coef):
        return hand_huber(y - coef[0] - coef[1] * x, delta).mean()

    def gradient(coef):
        psi = np.clip(coef[0] + coef[1] * x - y, -delta, delta)
        return np.array([psi.mean(), (psi * x).mean()])

    start = np.polyfit(x, y, 1)[::-1]
    return optimize.minimize(objective, start, jac=gradient, method="BFGS", options={"gtol": 1e-13}).x


def test_outlier_fit_slopes(glued):
    """L2 slope by scikit-learn, L1 by scikit-learn's exact LP quantile regression, Huber by SciPy."""
    x, y = outlier_data()
    l2 = LinearRegression().fit(x[:, None], y)
    l1 = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(x[:, None], y)
    huber = huber_fit(x, y)
    assert_allclose(glued[PREFIX + "slope-l2"], l2.coef_[0], rtol=1e-12)
    assert_allclose(glued[PREFIX + "slope-l1"], l1.coef_[0], atol=1e-7)
    assert_allclose(glued[PREFIX + "slope-huber"], huber[1], atol=1e-8)
    clean = np.delete(np.arange(20), 18)
    assert_allclose(glued[PREFIX + "slope-clean-l2"], LinearRegression().fit(x[clean, None], y[clean]).coef_[0], rtol=1e-12)
    # The story the prose tells: L2 is dragged, L1 and Huber are not.
    assert glued[PREFIX + "slope-l2"] < glued[PREFIX + "slope-huber"] < glued[PREFIX + "slope-l1"]


def test_outlier_residual_and_weight_under_huber(glued):
    """At SciPy's Huber fit the outlier's |residual| and its IRLS weight delta / |r| match the prose."""
    x, y = outlier_data()
    intercept, slope = huber_fit(x, y)
    residual = abs(y[18] - intercept - slope * x[18])
    assert_allclose(glued[PREFIX + "outlier-residual"], residual, rtol=1e-8)
    assert_allclose(glued[PREFIX + "outlier-weight"], 1.0 / residual, rtol=1e-8)


def test_mean_of_x_squared(glued):
    """The curvature along the slope quoted in exercise 3 is fsum(x^2) / 20."""
    x, _ = outlier_data()
    assert_allclose(glued[PREFIX + "mean-x2"], math.fsum(x**2) / 20, rtol=1e-14)


def test_exercise_3_gradient_descent_reaches_the_huber_fit(executed):
    """The exercise's torch gradient descent prints the same four-decimal coefficients as SciPy's Huber fit."""
    text = stdout_of(executed, "torch.optim.SGD")
    printed = [np.array(re.findall(r"-?\d+\.\d+", line), dtype=float) for line in text.strip().splitlines()]
    x, y = outlier_data()
    assert_allclose(printed[0], printed[1], atol=0)
    assert_allclose(printed[0], huber_fit(x, y), atol=6e-5)


# Per-sample weights.


def test_sample_weight_port_and_the_weight_argument(glued):
    """sum(w |r|) / (N D) is gluon's mean; torch's weight= divides by sum of weights, D * 3.5."""
    rng = np.random.default_rng(4)
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w = np.array([1.0, 0.5, 2.0, 0.0])
    weighted = math.fsum((w[:, None] * np.abs(pred - target)).ravel())
    gluon_mean = gluon.loss.L1Loss()(nd64(pred), nd64(target), nd64(w[:, None])).mean().asscalar()
    assert_allclose(glued[PREFIX + "weighted-port"], weighted / 12, rtol=1e-14)
    assert_allclose(gluon_mean, weighted / 12, rtol=1e-14)
    # The weights sum to 3.5 per column, so torch's weight= mean divides by 3 * 3.5 = 10.5.
    assert_allclose(glued[PREFIX + "weighted-arg"], weighted / 10.5, rtol=1e-14)
    assert glued[PREFIX + "weight-mean"] == 0.875  # (1 + 0.5 + 2 + 0) / 4


def test_torch_functional_huber_weight_divides_by_the_count():
    """torch's F.huber_loss(weight=) 'mean' divides by N D, unlike F.l1_loss(weight=)."""
    r = t64([[1.0, 3.0], [0.5, -2.0]])
    w = t64([[1.0, 1.0], [3.0, 3.0]])
    zero = torch.zeros(2, 2, dtype=torch.float64)
    # Huber(delta=1) of 1, 3, 0.5, -2 is 0.5, 2.5, 0.125, 1.5; weighted 0.5 + 2.5 + 0.375 + 4.5 = 7.875.
    assert_allclose(F.huber_loss(r, zero, weight=w).item(), 7.875 / 4, rtol=1e-15)
    assert_allclose(F.l1_loss(r, zero, weight=w).item(), (1 + 3 + 1.5 + 6) / 8, rtol=1e-15)


# The quantile loss.


def test_pinball_minimiser_is_the_23rd_of_25_order_statistics(glued):
    """At q = 0.9 and n = 25, nq = 22.5, so the minimiser is the ceil(22.5) = 23rd smallest target."""
    sample = np.random.default_rng(5).normal(size=25)
    order_statistic = sorted(sample)[22]
    assert glued[PREFIX + "quantile-argmin"] == order_statistic
    assert glued[PREFIX + "quantile-numpy"] == order_statistic
    # The mean pinball loss is larger at both neighbouring order statistics.
    def pinball(c):
        return statistics.fmean(max(0.9 * (v - c), (0.9 - 1) * (v - c)) for v in sample)
    assert pinball(order_statistic) < pinball(sorted(sample)[21])
    assert pinball(order_statistic) < pinball(sorted(sample)[23])


# The executed page and the chapter's structure.


def test_the_page_runs_clean(executed):
    """No errors, nothing on stderr, no memory addresses and no matplotlib reprs in any output."""
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error"
            assert output.get("name") != "stderr", output.get("text")
            text = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
            assert " at 0x" not in text and "<Axes" not in text and "<matplotlib" not in text, text


def test_every_figure_is_drawn(executed):
    """Each cell with a figure option produces exactly one PNG."""
    for cell in executed.cells:
        if "figure:" in cell.source or "figure" in cell.metadata.get("mystnb", {}):
            pngs = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert len(pngs) == 1, cell.source[:80]


def test_every_glued_number_in_the_prose_is_glued(glued):
    """Each {glue:text} and {glue:} key the page shows was glued when it ran."""
    used = set(re.findall(r"\{glue:text\}`(regression-[\w-]+)", CHAPTER))
    used |= set(re.findall(r"\{glue:\} (regression-[\w-]+)", CHAPTER))
    assert used and used <= set(glued), sorted(used - set(glued))


def test_equations_and_figures_are_labelled_and_referenced():
    """Every equation label is referenced with {eq} and every figure name with {numref}."""
    for label in re.findall(r"\$\$ \((eq-regression-[\w-]+)\)", CHAPTER):
        assert f"{{eq}}`{label}`" in CHAPTER, label
    figures = re.findall(r"name: (fig-regression-[\w-]+)", CHAPTER)
    assert len(figures) == 5
    for name in figures:
        assert f"{{numref}}`{name}`" in CHAPTER, name


def test_glossary_terms_citations_and_widget_exist():
    """Every {term} is in the glossary, every cited key in references.bib, and the widget is registered."""
    glossary = (REPO_ROOT / "book" / "glossary.md").read_text()
    terms = {line.strip().lower() for line in glossary.splitlines() if line and not line.startswith((" ", "`", "#", "(", "-"))}
    for link in re.findall(r"\{term\}`([^`]+)`", CHAPTER):
        target = re.search(r"<([^>]+)>", link)
        assert (target.group(1) if target else link).lower() in terms, link
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    cited = {key.strip() for group in re.findall(r"\{cite\}`([^`]+)`", CHAPTER) for key in group.split(",")}
    assert len(cited) >= 2
    for key in cited:
        assert re.search(r"@\w+\{" + re.escape(key) + ",", bib), key
    assert 'data-widget="regression"' in CHAPTER
    assert 'w.register("regression"' in (REPO_ROOT / "book" / "_static" / "widget-regression.js").read_text()


def test_exercises_have_solutions_and_one_runs():
    """At least three exercises, each with a solution, at least one of them with code."""
    exercises = re.findall(r":label: (ex-regression-\d+)", CHAPTER)
    assert len(exercises) >= 3
    for label in exercises:
        assert f"solution-start}} {label}" in CHAPTER or f"{{solution}} {label}" in CHAPTER, label
    assert "solution-start}" in CHAPTER

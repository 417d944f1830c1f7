"""Every number the regression-losses chapter states, and every framework claim it makes, checked.

The chapter (book/regression_losses.md), as the book build executed it: each
number it glues into its prose is compared with a source other than lossbook:
a value derived by hand (the derivation is in a comment), the standard library,
SciPy, scikit-learn, PyTorch or MXNet gluon. Each sentence about how gluon or
torch behaves is checked by running them.
"""

import inspect
import math
import re
import statistics

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy import optimize
from sklearn.linear_model import LinearRegression, QuantileRegressor

from executed_pages import executed_page, glued_values
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

F = torch.nn.functional
PAGE = "regression_losses"
PREFIX = "regression-"
FLOAT32_EPS = 2.0**-23


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


def printed_by(executed, marker):
    """The text printed by the cell whose source contains ``marker``."""
    for cell in executed.cells:
        if cell.cell_type == "code" and marker in cell.source:
            return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    raise KeyError(marker)


# Where L2 and L1 come from.


def test_gaussian_and_laplace_constants(glued):
    """-log N(r; 0, 1) - r^2/2 = log(2 pi)/2 and -log Laplace(r; 0, 1) - |r| = log 2, by the density formulas."""
    assert_allclose(glued[PREFIX + "gaussian-constant"], 0.5 * math.log(2 * math.pi), rtol=1e-15)
    assert_allclose(glued[PREFIX + "laplace-constant"], math.log(2), rtol=1e-15)


def test_laplace_with_python_number_parameters_computes_log_2_in_float32():
    """Laplace(0.0, 1.0) holds float32 parameters, so its constant is float32(log 2), off in the ninth digit."""
    r = t64([1.0])
    constant = (-torch.distributions.Laplace(0.0, 1.0).log_prob(r) - r.abs()).item()
    assert constant == float(np.float32(math.log(2)))
    assert 1e-9 < abs(constant - math.log(2)) < 1e-8


# The factor of two between L2Loss and MSELoss.

PRED = np.array([[2.5], [0.0], [-1.0], [4.0]])
TARGET = np.array([[3.0], [-0.5], [1.0], [1.0]])


def test_torch_mse_of_the_batch_is_3_375_and_gluon_half_of_it(glued):
    """Residuals (-0.5, 0.5, -2, 3): MSE (0.25 + 0.25 + 4 + 9) / 4 = 3.375; gluon L2Loss, even in float32, 1.6875."""
    assert glued[PREFIX + "torch-mse"] == 3.375
    assert torch.nn.MSELoss()(t64(PRED), t64(TARGET)).item() == 3.375
    per_sample = gluon.loss.L2Loss()(nd.array(PRED), nd.array(TARGET))  # float32, the page's spelling
    assert per_sample.dtype == np.float32
    assert_allclose(per_sample.asnumpy(), [0.125, 0.125, 2.0, 4.5], rtol=0)
    assert per_sample.mean().asscalar() == 1.6875


def test_torch_gradient_is_twice_gluons_and_half_mse_matches_gluon():
    """torch's mean-MSE gradient is 2r/N; gluon's backward / N and the gradient of 0.5 * MSELoss are r/N."""
    residual = (PRED - TARGET).ravel()
    p = t64(PRED).requires_grad_()
    (grad,) = torch.autograd.grad(torch.nn.MSELoss()(p, t64(TARGET)), p)
    (half,) = torch.autograd.grad(0.5 * torch.nn.MSELoss()(p, t64(TARGET)), p)
    assert_allclose(grad.numpy().ravel(), [-0.25, 0.25, -1.0, 1.5], rtol=0)
    q = nd64(PRED)
    q.attach_grad()
    with autograd.record():
        loss = gluon.loss.L2Loss()(q, nd64(TARGET))
    loss.backward()
    assert_allclose(q.grad.asnumpy().ravel() / 4, residual / 4, rtol=0)
    assert_allclose(half.numpy().ravel(), residual / 4, rtol=0)


def test_trainer_step_batch_size_applies_gluons_gradient_over_n():
    """gluon's Trainer (sgd, lr 1) after backward and step(4) moves pred by -r/4, torch's 0.5 * MSELoss gradient."""
    param = mx.gluon.Parameter("pred", shape=PRED.shape, dtype="float64")
    param.initialize(init=mx.init.Constant(0.0))
    param.set_data(nd64(PRED))
    trainer = gluon.Trainer([param], "sgd", {"learning_rate": 1.0})
    with autograd.record():
        loss = gluon.loss.L2Loss()(param.data(), nd64(TARGET))
    loss.backward()
    trainer.step(4)
    assert_allclose(param.data().asnumpy(), PRED - (PRED - TARGET) / 4, rtol=1e-15)


def test_gluon_l1_and_l2_on_a_wider_batch():
    """Per sample, gluon L1Loss is the row mean of |r| and L2Loss half the row mean of r^2 (float64)."""
    rng = np.random.default_rng(11)
    pred, target = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    r = pred - target
    assert_allclose(gluon.loss.L1Loss()(nd64(pred), nd64(target)).asnumpy(), np.abs(r).mean(1), rtol=1e-15)
    assert_allclose(gluon.loss.L2Loss()(nd64(pred), nd64(target)).asnumpy(), 0.5 * (r**2).mean(1), rtol=1e-15)


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


def test_rmse_gradient_is_bounded_by_one():
    """d RMSE / dc = (c - mean) / sqrt((c - mean)^2 + s^2) by torch autograd, below 1 in size."""
    y = t64(np.random.default_rng(1).normal(3.0, 1.5, size=12))
    mean, s = y.mean().item(), y.std(unbiased=False).item()
    for c0 in (-3.0, mean + 0.3, 9.0):
        c = torch.tensor(c0, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(torch.sqrt(((c - y) ** 2).mean()), c)
        assert_allclose(grad.item(), (c0 - mean) / math.hypot(c0 - mean, s), rtol=1e-12)
        assert abs(grad.item()) < 1


def test_sum_of_batch_rmses_moves_the_optimum_towards_the_tight_batch(glued):
    """SciPy's minimiser of RMSE_a(c) + RMSE_b(c) is the chapter's c*, and the tight batch's share matches."""
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


def test_sqrt_of_mse_has_nan_gradient_at_a_perfect_fit():
    """torch: d sqrt(u)/du = inf at u = 0, times a zero MSE gradient, is nan."""
    p = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.sqrt(F.mse_loss(p, p.detach())), p)
    assert torch.isnan(grad).all()


def test_elementwise_square_root_is_the_l1_loss(executed):
    """Exercise 4: sqrt(r^2) averaged is torch's L1Loss, (1 + 3 + 3) / 3 = 7/3; the RMSE is sqrt(19/3)."""
    printed = printed_by(executed, "the colleague's rmse")
    values = [float(v) for v in re.findall(r":\s+(\S+)", printed)]
    assert_allclose(values, [7 / 3, 7 / 3, math.sqrt((1 + 9 + 9) / 3)], rtol=1e-15)


# Huber, Smooth L1 and gluon's HuberLoss.

RNG3 = np.random.default_rng(3)
HUBER_PRED, HUBER_TARGET = 3.0 * RNG3.standard_normal((6, 2)), 3.0 * RNG3.standard_normal((6, 2))


def hand_huber(r, delta):
    """Huber (1964): r^2 / 2 inside [-delta, delta], delta (|r| - delta / 2) outside."""
    r = np.abs(r)
    return np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))


def test_torch_huber_is_delta_times_smooth_l1(glued):
    """HuberLoss(delta) = delta * SmoothL1Loss(beta=delta) elementwise, both matching the hand formula."""
    delta = 2.0
    huber = torch.nn.HuberLoss(delta=delta, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).numpy()
    smooth = torch.nn.SmoothL1Loss(beta=delta, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).numpy()
    assert_allclose(huber, delta * smooth, rtol=1e-15)
    assert_allclose(huber, hand_huber(HUBER_PRED - HUBER_TARGET, delta), rtol=1e-15)
    assert glued[PREFIX + "huber-vs-smooth"] == 0.0  # multiplying by 2 is exact


def test_gluon_huber_rho_is_smooth_l1_beta_rho_not_huber_delta_rho():
    """gluon HuberLoss(rho=2) per sample = SmoothL1Loss(beta=2) row mean = HuberLoss(delta=2) row mean / 2."""
    per_sample = gluon.loss.HuberLoss(rho=2.0)(nd64(HUBER_PRED), nd64(HUBER_TARGET)).asnumpy()
    smooth = torch.nn.SmoothL1Loss(beta=2.0, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).mean(1)
    huber = torch.nn.HuberLoss(delta=2.0, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).mean(1)
    assert_allclose(per_sample, smooth.numpy(), rtol=1e-15)
    assert_allclose(per_sample, huber.numpy() / 2.0, rtol=1e-15)


def test_gluon_float32_agrees_with_float64_to_float32_precision():
    """nd.array's float32 HuberLoss differs from torch's float64 by less than 2^-22 relative, but not by 0."""
    gluon32 = gluon.loss.HuberLoss(rho=2.0)(nd.array(HUBER_PRED), nd.array(HUBER_TARGET))
    assert gluon32.dtype == np.float32
    exact = torch.nn.SmoothL1Loss(beta=2.0, reduction="none")(t64(HUBER_PRED), t64(HUBER_TARGET)).mean(1).numpy()
    relative = np.abs(gluon32.asnumpy().astype(np.float64) - exact) / exact
    assert relative.max() < 2 * FLOAT32_EPS
    assert relative.max() > 0


def test_huber_and_smooth_l1_limits():
    """SmoothL1 -> L1 as beta -> 0, Huber -> r^2 / 2 as delta -> infinity (torch)."""
    r = t64([-3.0, -0.2, 0.7, 5.0])
    zero = torch.zeros(4, dtype=torch.float64)
    assert_allclose(F.smooth_l1_loss(r, zero, beta=1e-9, reduction="none").numpy(), np.abs(r.numpy()), atol=1e-9)
    assert_allclose(F.huber_loss(r, zero, delta=1e6, reduction="none").numpy(), 0.5 * r.numpy() ** 2, rtol=1e-15)


def test_mxnet_smooth_l1_operator_threshold_is_one_over_sigma_squared():
    """nd.smooth_l1(x, scalar=3) = SmoothL1Loss(beta=1/9) of x against 0 = the hand formula."""
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
    (grad,) = torch.autograd.grad(torch.nn.SmoothL1Loss(beta=0.5)(p, t64(label)), p)
    q = nd64(pred)
    q.attach_grad()
    with autograd.record():
        loss = gluon.loss.HuberLoss(rho=0.5)(q, nd64(label))
    loss.backward()
    assert_allclose(grad.numpy(), q.grad.asnumpy() / 5, rtol=1e-15)
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
    assert_allclose(glued[PREFIX + "slope-l2"], l2.coef_[0], rtol=1e-12)
    assert_allclose(glued[PREFIX + "slope-l1"], l1.coef_[0], atol=1e-7)
    assert_allclose(glued[PREFIX + "slope-huber"], huber_fit(x, y)[1], atol=1e-8)
    clean = np.delete(np.arange(20), 18)
    clean_l2 = LinearRegression().fit(x[clean, None], y[clean]).coef_[0]
    assert_allclose(glued[PREFIX + "slope-clean-l2"], clean_l2, rtol=1e-12)
    assert glued[PREFIX + "slope-l2"] < glued[PREFIX + "slope-huber"] < glued[PREFIX + "slope-l1"]


def test_outlier_residual_and_weight_under_huber(glued):
    """At SciPy's Huber fit the outlier's |residual| and its IRLS weight delta / |r| match the prose."""
    x, y = outlier_data()
    intercept, slope = huber_fit(x, y)
    residual = abs(y[18] - intercept - slope * x[18])
    assert_allclose(glued[PREFIX + "outlier-residual"], residual, rtol=1e-8)
    assert_allclose(glued[PREFIX + "outlier-weight"], 1.0 / residual, rtol=1e-8)


def test_exercise_3_gradient_descent(glued, executed):
    """mean x^2 by fsum; 2000 plain and 400 centred steps print SciPy's Huber fit to 4 decimals, 400 plain do not."""
    x, y = outlier_data()
    assert_allclose(glued[PREFIX + "mean-x2"], math.fsum(x**2) / 20, rtol=1e-14)
    lines = printed_by(executed, "centred, 400 steps").strip().splitlines()
    printed = {line.split(":")[0]: np.array(re.findall(r"-?\d+\.\d+", line), dtype=float) for line in lines}
    best = huber_fit(x, y)
    for label in ("2000 steps", "centred, 400 steps", "IRLS"):
        assert_allclose(printed[label], best, atol=5e-5 + 1e-9)
    assert np.abs(printed["400 steps"] - best).max() > 1e-3


# Per-sample weights.


def test_sample_weight_port_and_the_weight_argument(glued):
    """sum(w |r|) / (N D) is gluon's mean; torch's weight= divides by the summed weights, 3 * 3.5."""
    rng = np.random.default_rng(4)
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w = np.array([1.0, 0.5, 2.0, 0.0])
    weighted = math.fsum((w[:, None] * np.abs(pred - target)).ravel())
    gluon_mean = gluon.loss.L1Loss()(nd64(pred), nd64(target), nd64(w[:, None])).mean().asscalar()
    assert_allclose(glued[PREFIX + "weighted-port"], weighted / 12, rtol=1e-14)
    assert_allclose(gluon_mean, weighted / 12, rtol=1e-14)
    assert_allclose(glued[PREFIX + "weighted-arg"], weighted / 10.5, rtol=1e-14)
    assert glued[PREFIX + "weight-mean"] == 0.875  # (1 + 0.5 + 2 + 0) / 4
    gluon32 = gluon.loss.L1Loss()(nd.array(pred), nd.array(target), nd.array(w[:, None])).mean()
    assert gluon32.dtype == np.float32
    assert_allclose(float(gluon32.asscalar()), weighted / 12, rtol=2 * FLOAT32_EPS)


def test_torch_weight_arguments():
    """No torch regression loss class takes a weight, smooth_l1_loss neither; l1_loss(weight=) needs the full shape."""
    for loss_class in (torch.nn.L1Loss, torch.nn.MSELoss, torch.nn.HuberLoss, torch.nn.SmoothL1Loss):
        assert "weight" not in inspect.signature(loss_class).parameters
    assert "weight" not in inspect.signature(F.smooth_l1_loss).parameters
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.l1_loss(t64(np.ones((4, 3))), t64(np.zeros((4, 3))), weight=t64(np.ones((4, 1))))
    # mse_loss divides by the summed weights too: (1 * 1 + 3 * 4) / (1 + 3).
    assert F.mse_loss(t64([1.0, 2.0]), t64([0.0, 0.0]), weight=t64([1.0, 3.0])).item() == 13 / 4


def test_torch_functional_huber_weight_divides_by_the_count():
    """torch's F.huber_loss(weight=) 'mean' divides by N D, unlike F.l1_loss(weight=)."""
    r = t64([[1.0, 3.0], [0.5, -2.0]])
    w = t64([[1.0, 1.0], [3.0, 3.0]])
    zero = torch.zeros(2, 2, dtype=torch.float64)
    # Huber(delta=1) of 1, 3, 0.5, -2 is 0.5, 2.5, 0.125, 1.5; weighted 0.5 + 2.5 + 0.375 + 4.5 = 7.875.
    assert_allclose(F.huber_loss(r, zero, weight=w).item(), 7.875 / 4, rtol=1e-15)
    assert_allclose(F.l1_loss(r, zero, weight=w).item(), (1 + 3 + 1.5 + 6) / 8, rtol=1e-15)


# The quantile loss.


def test_asymmetric_laplace_is_normalised_with_q_below(glued):
    """The hand derivation: total mass 1/q + 1/(1 - q) times q(1 - q) = 1, mass below q = 0.9 (quad, 1e-10)."""
    assert_allclose(glued[PREFIX + "ald-total"], 1.0, atol=1e-10)
    assert_allclose(glued[PREFIX + "ald-below"], 0.9, atol=1e-10)


def test_pinball_expression_in_torch_and_gluon():
    """The pinball loss of the outlier targets against 1 at q = 0.9: torch and gluon expressions = fsum by hand."""
    _, y = outlier_data()
    hand = math.fsum(max(0.9 * (v - 1), (0.9 - 1) * (v - 1)) for v in y) / 20
    residual = t64(y) - 1
    assert_allclose(torch.maximum(0.9 * residual, (0.9 - 1) * residual).mean().item(), hand, rtol=1e-15)
    residual_nd = nd64(y) - 1
    assert_allclose(nd.maximum(0.9 * residual_nd, (0.9 - 1) * residual_nd).mean().asscalar(), hand, rtol=1e-15)


def test_pinball_minimiser_is_the_23rd_of_25_order_statistics(glued):
    """At q = 0.9 and n = 25, nq = 22.5, so the minimiser is the ceil(22.5) = 23rd smallest target."""
    sample = sorted(np.random.default_rng(5).normal(size=25))
    assert glued[PREFIX + "quantile-argmin"] == sample[22]
    assert glued[PREFIX + "quantile-numpy"] == sample[22]

    def pinball(c):
        return statistics.fmean(max(0.9 * (v - c), (0.9 - 1) * (v - c)) for v in sample)

    assert pinball(sample[22]) < pinball(sample[21]) and pinball(sample[22]) < pinball(sample[23])


# Poisson.


def poisson_batch():
    """The chapter's twelve counts and their log-rates."""
    rng = np.random.default_rng(8)
    log_rate = 0.5 * rng.standard_normal((4, 3))
    return log_rate, rng.poisson(np.exp(log_rate)).astype(np.float64)


def hand_poisson(z, y):
    """e^z - y z, the Poisson negative log-likelihood of a log-rate without log y!."""
    return np.exp(z) - y * z


def test_gluon_poisson_returns_one_number_the_mean_over_the_batch():
    """gluon's PoissonNLLLoss output has shape (1,) and is torch's reduction='mean' = the hand mean."""
    z, y = poisson_batch()
    hand = hand_poisson(z, y).mean()
    out = gluon.loss.PoissonNLLLoss()(nd64(z), nd64(y))
    assert out.shape == (1,)
    assert_allclose(out.asscalar(), hand, rtol=1e-15)
    assert_allclose(torch.nn.PoissonNLLLoss()(t64(z), t64(y)).item(), hand, rtol=1e-15)


def test_poisson_port_divides_torch_mean_by_the_batch_size():
    """gluon backward / N = gradient of torch's mean / N = (e^z - y) / (12 * 4)."""
    z, y = poisson_batch()
    q = nd64(z)
    q.attach_grad()
    with autograd.record():
        loss = gluon.loss.PoissonNLLLoss()(q, nd64(y))
    loss.backward()
    p = t64(z).requires_grad_()
    (grad,) = torch.autograd.grad(torch.nn.PoissonNLLLoss()(p, t64(y)) / 4, p)
    expected = (np.exp(z) - y) / (12 * 4)
    rounding = 4 * 2.0**-52 * (np.exp(z) + y) / (12 * 4)  # e^z - y cancels: a few ulp of its terms
    assert_allclose(q.grad.asnumpy() / 4, expected, rtol=0, atol=rounding.max())
    assert_allclose(grad.numpy(), expected, rtol=0, atol=rounding.max())


def test_full_poisson_loss_gluon_nan_at_zero_count_and_torch_stirling():
    """gluon compute_full is nan with a zero count; torch full adds y log y - y + log(2 pi y)/2 only for y > 1."""
    z, y = poisson_batch()
    assert (y == 0).any() and (y > 1).any()
    assert np.isnan(gluon.loss.PoissonNLLLoss(compute_full=True)(nd.array(z), nd.array(y)).asscalar())
    safe_y = np.where(y > 1, y, 1.0)
    stirling = np.where(y > 1, safe_y * np.log(safe_y) - safe_y + 0.5 * np.log(2 * math.pi * safe_y), 0.0)
    torch_full = torch.nn.PoissonNLLLoss(full=True, reduction="none")(t64(z), t64(y)).numpy()
    assert_allclose(torch_full, hand_poisson(z, y) + stirling, rtol=1e-14)
    shifted = y + 1  # no zero count: the two frameworks agree
    gluon_full = gluon.loss.PoissonNLLLoss(compute_full=True)(nd64(z), nd64(shifted)).asscalar()
    assert_allclose(gluon_full, torch.nn.PoissonNLLLoss(full=True)(t64(z), t64(shifted)).item(), rtol=1e-14)


def test_gluon_poisson_epsilon_is_positional():
    """gluon's epsilon goes fourth in the call: loss(pred, target, None, eps); as a keyword it raises TypeError."""
    rate, y = np.array([[0.0, 2.0]]), np.array([[1.0, 3.0]])
    loss = gluon.loss.PoissonNLLLoss(from_logits=False)
    out = loss(nd64(rate), nd64(y), None, 0.5).asscalar()
    terms = np.abs(rate) + np.abs(y * np.log(rate + 0.5))  # the sum cancels: compare to their size
    assert_allclose(out, np.mean(rate - y * np.log(rate + 0.5)), rtol=0, atol=4 * 2.0**-52 * terms.sum())
    with pytest.raises(TypeError, match="epsilon"):
        loss(nd64(rate), nd64(y), epsilon=0.5)


def test_only_poisson_averages_over_the_batch_in_gluon_source():
    """In mxnet's gluon.loss source, PoissonNLLLoss's hybrid_forward alone ends in a mean over every axis."""
    endings = {}
    for name, cls in vars(gluon.loss).items():
        if inspect.isclass(cls) and issubclass(cls, gluon.loss.Loss) and cls is not gluon.loss.Loss:
            endings[cls.__name__] = inspect.getsource(cls.hybrid_forward).rstrip().splitlines()[-1].strip()
    whole_batch = {name for name, line in endings.items() if line == "return F.mean(loss)"}
    assert whole_batch == {"PoissonNLLLoss"}
    assert len(endings) == 14

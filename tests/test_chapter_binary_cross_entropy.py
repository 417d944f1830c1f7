"""Every number the binary cross-entropy chapter states or relies on, checked independently.

Each test pins one claim of book/binary_cross_entropy.md against a source other
than lossbook itself: mpmath at 50 significant digits, a value derived by hand
(the derivation is in a comment), PyTorch, MXNet gluon or scikit-learn. lossbook
appears only as the thing being checked, never as its own reference. The
chapter's structure (equations, glue keys, glossary terms, citations, the
widget) is checked at the end.
"""

import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss

import lossbook as lb
from lossbook import catalog, frameworks
from float64_arrays import nd64

mx = frameworks.require("mxnet")
from mxnet import gluon  # noqa: E402  (after the import that silences mxnet)

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK = REPO_ROOT / "book"
CHAPTER = (BOOK / "binary_cross_entropy.md").read_text()

mpmath.mp.dps = 50

EPS64 = 2.0**-52  # float64 machine epsilon: 52 stored fraction bits
SMALLEST_SUBNORMAL = 2.0**-1074  # 52 fraction bits below the smallest exponent, -1022
SMALLEST_NORMAL = 2.0**-1022


def exact_bce(z, y):
    """y softplus(-z) + (1 - y) softplus(z) with 50 digits, softplus(t) = log1p(e^t) in mpmath."""
    z = mpmath.mpf(float(z))
    return y * mpmath.log1p(mpmath.exp(-z)) + (1 - y) * mpmath.log1p(mpmath.exp(z))


def relative_error(value, exact):
    """|value - exact| / exact, in mpmath."""
    return float(abs((mpmath.mpf(float(value)) - exact) / exact))


def naive_bce(z, y):
    """The chapter's naive formula: sigmoid first, then the log loss, in float64."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        p = 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))
        return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def torch_bce(z, y):
    """torch.nn.BCEWithLogitsLoss per element, float64."""
    loss = torch.nn.BCEWithLogitsLoss(reduction="none")
    return loss(torch.tensor(z, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)).numpy()


def gluon_bce(z, y):
    """gluon's SigmoidBinaryCrossEntropyLoss (logits) per element, float64."""
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    return loss(nd64(z.reshape(-1, 1)), nd64(y.reshape(-1, 1))).asnumpy()


def untrained_model():
    """The chapter's untrained model: seeded logits and unrelated labels, p from torch's sigmoid."""
    rng = np.random.default_rng(0)
    logits = 2.0 * rng.standard_normal(1000)
    labels = rng.integers(0, 2, 1000).astype(float)
    p_model = torch.sigmoid(torch.from_numpy(logits)).numpy()
    return logits, labels, p_model


def observed_probabilities():
    """The probability the untrained model gave to each observed label."""
    _, labels, p_model = untrained_model()
    return np.where(labels == 1, p_model, 1 - p_model)


def exact_log_likelihood():
    """The sum of the logs of the observed probabilities, in mpmath."""
    return mpmath.fsum(mpmath.log(mpmath.mpf(float(p))) for p in observed_probabilities())


# Underflow of the likelihood.


def test_the_product_of_a_thousand_probabilities_is_zero_in_float64():
    """The float64 product is 0.0 because the exact product lies below half the smallest subnormal."""
    p = observed_probabilities()
    assert p.size == 1000
    assert np.prod(p) == 0.0
    # Below 2^-1075 a float64 result rounds to 0.
    assert mpmath.exp(exact_log_likelihood()) < mpmath.mpf(2) ** -1075


def test_the_sum_of_logs_is_ordinary_and_accurate():
    """The float64 sum of logs is -1095.55, within 1.5e-16 (relative) of the mpmath sum."""
    exact = exact_log_likelihood()
    assert f"{float(exact):.2f}" == "-1095.55"
    float64_sum = np.sum(np.log(observed_probabilities()))
    assert f"{relative_error(float64_sum, exact):.1e}" == "1.5e-16"


def test_the_exact_product_and_its_distance_below_the_smallest_double():
    """The exact likelihood is 1.6e-476, 152 orders of magnitude below 4.9e-324."""
    product = mpmath.exp(exact_log_likelihood())
    exponent = int(mpmath.floor(mpmath.log10(product)))
    assert exponent == -476
    assert mpmath.nstr(product / mpmath.mpf(10) ** exponent, 2) == "1.6"
    # floor(log10(2^-1074)) = floor(-323.3) = -324, and -324 - (-476) = 152.
    assert math.floor(math.log10(SMALLEST_SUBNORMAL)) - exponent == 152


def test_the_running_product_reaches_zero_after_653_factors():
    """The float64 running product first becomes 0.0 at factor 653, where the exact one falls below 2^-1075."""
    p = observed_probabilities()
    running = np.cumprod(p)
    assert int(np.argmax(running == 0.0)) + 1 == 653
    exact_running = np.cumsum([mpmath.log(mpmath.mpf(float(q))) for q in p])
    half_smallest = mpmath.log(mpmath.mpf(2) ** -1075)
    assert next(k for k, s in enumerate(exact_running, 1) if s < half_smallest) == 653


def test_the_smallest_observed_probability_is_moderate():
    """The smallest of the thousand probabilities is 0.0004 to four places, far from any float64 limit."""
    assert f"{observed_probabilities().min():.4f}" == "0.0004"


def test_float64_limits_quoted_in_the_prose():
    """Smallest normal 2.2e-308, smallest subnormal 4.9e-324, epsilon 2.2e-16, overflow of exp above 709.78."""
    assert np.finfo(np.float64).tiny == SMALLEST_NORMAL and f"{SMALLEST_NORMAL:.1e}" == "2.2e-308"
    assert np.nextafter(0.0, 1.0) == SMALLEST_SUBNORMAL and f"{SMALLEST_SUBNORMAL:.1e}" == "4.9e-324"
    assert np.finfo(np.float64).eps == EPS64 and f"{EPS64:.1e}" == "2.2e-16"
    # exp(t) overflows once t exceeds log of the largest double, (2 - 2^-52) 2^1023.
    threshold = mpmath.log((2 - mpmath.mpf(2) ** -52) * mpmath.mpf(2) ** 1023)
    assert f"{float(threshold):.2f}" == "709.78"


# From likelihood to loss.


def test_mean_negative_log_likelihood_is_the_bce_of_the_untrained_model():
    """-sum(log p)/N equals scikit-learn's log loss, 1.0956, and lossbook's BCE; it exceeds log 2."""
    _, labels, p_model = untrained_model()
    nll = -float(exact_log_likelihood()) / 1000
    assert f"{nll:.4f}" == "1.0956"
    assert_allclose(log_loss(labels, p_model), nll, rtol=1e-14)
    assert_allclose(float(lb.binary_cross_entropy(p_model, labels)), nll, rtol=1e-14)
    # Answering 0.5 everywhere scores log 2 = 0.6931 per example, less than 1.0956.
    assert_allclose(log_loss(labels, np.full(1000, 0.5)), math.log(2), rtol=1e-15)
    assert f"{math.log(2):.4f}" == "0.6931" and nll > math.log(2)


def test_minimising_bce_maximises_the_likelihood_on_a_grid():
    """For a constant predictor of 100 seeded labels, the BCE minimiser and the likelihood maximiser coincide."""
    labels = np.random.default_rng(3).integers(0, 2, 100).astype(float)
    grid = np.linspace(0.01, 0.99, 99)
    likelihood = [mpmath.fprod(mpmath.mpf(q) if y else 1 - mpmath.mpf(q) for y in labels) for q in grid]
    bce = [log_loss(labels, np.full(100, q)) for q in grid]
    assert int(np.argmin(bce)) == int(np.argmax(likelihood))


# The shape of the log loss.


def test_log_loss_at_one_percent():
    """At p = 0.01 with label 1 the loss is 4.61, each factor of ten adds ln 10 = 2.30, squared error 0.9801."""
    assert f"{-math.log(0.01):.2f}" == "4.61"
    assert_allclose(float(lb.binary_cross_entropy(np.array(0.01), np.array(1.0))), -math.log(0.01), rtol=1e-15)
    assert f"{math.log(10):.2f}" == "2.30"
    assert_allclose(-math.log(0.001) - (-math.log(0.01)), math.log(10), rtol=1e-14)
    assert f"{(1 - 0.01) ** 2:.4f}" == "0.9801"


def test_the_log_loss_figure_spans_the_stated_range():
    """neg_log plots p from 0.01 to 0.99 (the caption), label 1 decreasing and label 0 increasing."""
    ax = lb.plotting.neg_log()
    label_one, label_zero = ax.get_lines()
    p = label_one.get_xdata()
    assert p.min() == pytest.approx(0.01) and p.max() == pytest.approx(0.99)
    assert_allclose(label_one.get_ydata(), -np.log(p), rtol=1e-14)
    assert_allclose(label_zero.get_ydata(), -np.log1p(-p), rtol=1e-14)


# The frameworks on the seeded batches.


def test_frameworks_agree_with_scikit_learn_on_the_seeded_batches():
    """torch and gluon give the same BCE on the 8 x 3 batches as scikit-learn, for probabilities and logits."""
    batch_p = catalog.get("bce").make_batch(np.random.default_rng(0))
    batch_z = catalog.get("bce_logits").make_batch(np.random.default_rng(0))
    assert batch_p.input.shape == batch_z.input.shape == (8, 3)
    p, y_p, z, y_z = batch_p.input, batch_p.target, batch_z.input, batch_z.target
    reference_p = log_loss(y_p.ravel(), p.ravel())
    reference_z = log_loss(y_z.ravel(), 1 / (1 + np.exp(-z.ravel())))
    torch_p = torch.nn.BCELoss()(torch.from_numpy(p), torch.from_numpy(y_p)).item()
    torch_z = torch.nn.BCEWithLogitsLoss()(torch.from_numpy(z), torch.from_numpy(y_z)).item()
    gluon_p = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)(nd64(p), nd64(y_p))
    gluon_z = gluon.loss.SigmoidBinaryCrossEntropyLoss()(nd64(z), nd64(y_z))
    assert gluon_p.shape == (8,)
    for value in (torch_p, float(lb.binary_cross_entropy(p, y_p))):
        assert_allclose(value, reference_p, rtol=1e-14)
    for value in (torch_z, gluon_z.mean().asscalar(), float(lb.binary_cross_entropy_with_logits(z, y_z))):
        assert_allclose(value, reference_z, rtol=1e-14)
    # gluon's probability form adds eps = 1e-12 inside each log, which moves the mean by 6.2e-12.
    eps = mpmath.mpf(1e-12)
    with_eps = mpmath.fsum(
        -(t * mpmath.log(mpmath.mpf(float(a)) + eps) + (1 - t) * mpmath.log(1 - mpmath.mpf(float(a)) + eps))
        for a, t in zip(p.ravel(), y_p.ravel())
    ) / p.size
    assert_allclose(gluon_p.mean().asscalar(), float(with_eps), rtol=1e-14)
    assert f"{abs(gluon_p.mean().asscalar() - reference_p):.1e}" == "6.2e-12"


def test_compare_reports_differences_of_a_few_epsilon():
    """The largest framework-to-lossbook difference in the tabs is 2e-16 to one digit, a few float64 epsilon."""
    differences = []
    for key in ("bce", "bce_logits"):
        batch = catalog.get(key).make_batch(np.random.default_rng(0))
        table = frameworks.compare(key, batch=batch)
        assert list(table.index) == ["lossbook", "torch", "gluon"]
        differences += [table.loc[name, "max_abs_diff"] for name in ("torch", "gluon")]
    worst = max(differences)
    assert f"{worst:.0e}" == "2e-16" and worst <= 2 * EPS64


# p = 0 and p = 1.


EDGE_P = np.array([0.0, 0.0, 1.0, 1.0])
EDGE_Y = np.array([0.0, 1.0, 0.0, 1.0])


def test_torch_clamps_the_log_at_minus_100():
    """torch's BCELoss returns 100 for a certain wrong answer and 0 for a certain right one."""
    loss = torch.nn.BCELoss(reduction="none")(torch.from_numpy(EDGE_P), torch.from_numpy(EDGE_Y)).numpy()
    assert loss.tolist() == [0.0, 100.0, 100.0, 0.0]
    assert math.copysign(1.0, loss[3]) == -1.0  # the -0 the chapter mentions


def test_gluon_adds_1e_minus_12_inside_the_log():
    """gluon returns -log(1e-12) = 27.631 for a certain wrong answer and -log(1 + 1e-12) = -1.0e-12 for a right one."""
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)(
        nd64(EDGE_P.reshape(-1, 1)), nd64(EDGE_Y.reshape(-1, 1))
    ).asnumpy()
    wrong = -mpmath.log(mpmath.mpf(1e-12))  # 12 ln 10
    assert f"{float(wrong):.3f}" == "27.631"
    assert_allclose(loss[[1, 2]], float(wrong), rtol=1e-15)
    # 1 + 1e-12 is first rounded to a double, whose log is then taken.
    right = -mpmath.log(mpmath.mpf(1.0 + 1e-12))
    assert_allclose(loss[[0, 3]], float(right), rtol=1e-12)
    assert f"{float(right):.1e}" == "-1.0e-12" and catalog.GLUON_EPS == 1e-12


def test_lossbook_returns_the_true_loss_at_the_edges():
    """lossbook gives 0 for certain right answers and +inf for certain wrong ones, as -log 1 and -log 0."""
    loss = lb.binary_cross_entropy(EDGE_P, EDGE_Y, reduction="none")
    assert loss.tolist() == [0.0, math.inf, math.inf, 0.0]


# Logits: the extremes.


def test_extreme_logits():
    """At |z| = 1000 the naive formula gives inf (wrong) and nan (right); torch, gluon and lossbook give 1000 and 0."""
    z = np.array([-1000.0, 1000.0, 1000.0, -1000.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    naive = naive_bce(z, y)
    assert np.isinf(naive[:2]).all() and np.isnan(naive[2:]).all()
    for values in (torch_bce(z, y), gluon_bce(z, y), lb.binary_cross_entropy_with_logits(z, y, reduction="none")):
        assert values.tolist() == [1000.0, 1000.0, 0.0, 0.0]
    # The true losses: 1000 + log(1 + e^-1000), which rounds to 1000, and e^-1000-ish, which underflows.
    assert float(exact_bce(-1000.0, 1)) == 1000.0
    assert mpmath.nstr(exact_bce(1000.0, 1), 6) == "5.07596e-435"
    assert float(exact_bce(1000.0, 1)) == 0.0


# Logits: the confident-correct regime.


CONFIDENT = [(20.0, 1.0), (30.0, 1.0), (40.0, 1.0), (-20.0, 0.0), (-30.0, 0.0), (-40.0, 0.0)]


def test_naive_formula_loses_digits_at_z_30_and_everything_at_z_40():
    """Naive relative error 1.0e-3 at z = 30 (label 1); at z = 40 the sigmoid rounds to 1 and the loss is nan."""
    assert f"{relative_error(naive_bce(30.0, 1.0), exact_bce(30.0, 1)):.1e}" == "1.0e-03"
    assert 1.0 + math.exp(-40.0) == 1.0 and np.isnan(naive_bce(40.0, 1.0))
    assert f"{math.exp(-30.0):.1e}" == "9.4e-14" and f"{math.exp(-40.0):.1e}" == "4.2e-18"
    # e^-30 is 421 epsilons, so 1 + e^-30 keeps log10(421) = 2.6 of its digits.
    assert f"{math.exp(-30.0) / EPS64:.0f}" == "421"
    assert f"{math.log10(math.exp(-30.0) / EPS64):.1f}" == "2.6"


def test_torch_is_accurate_for_label_one_and_loses_digits_for_label_zero():
    """torch: below 1e-16 relative error for label 1; 1.3e-2 at z = -30 and 1 (a result of 0) at z = -40."""
    for z, y in CONFIDENT[:3]:
        assert relative_error(torch_bce([z], [y])[0], exact_bce(z, y)) < 1e-16
    assert f"{relative_error(torch_bce([-30.0], [0.0])[0], exact_bce(-30.0, 0)):.1e}" == "1.3e-02"
    assert torch_bce([-40.0], [0.0])[0] == 0.0


def test_torch_evaluates_one_minus_y_times_z_minus_log_sigmoid():
    """torch's BCEWithLogitsLoss equals (1 - y) z - logsigmoid(z) bit for bit on the chapter's logits."""
    z = torch.tensor([c[0] for c in CONFIDENT], dtype=torch.float64)
    y = torch.tensor([c[1] for c in CONFIDENT], dtype=torch.float64)
    form = (1 - y) * z - torch.nn.functional.logsigmoid(z)
    assert torch.equal(form, torch.nn.BCEWithLogitsLoss(reduction="none")(z, y))


def test_gluon_and_lossbook_are_within_half_an_epsilon():
    """gluon and lossbook stay below 5e-17 relative error (one digit) in the table, under eps/2 = 1.1e-16."""
    z = np.array([c[0] for c in CONFIDENT])
    y = np.array([c[1] for c in CONFIDENT])
    errors = [
        relative_error(v, exact_bce(a, b))
        for values in (gluon_bce(z, y), lb.binary_cross_entropy_with_logits(z, y, reduction="none"))
        for v, a, b in zip(values, z, y)
    ]
    assert f"{max(errors):.0e}" == "5e-17"
    assert max(errors) < EPS64 / 2 and f"{EPS64 / 2:.1e}" == "1.1e-16"


def test_where_the_naive_formula_loses_every_digit():
    """1 + e^-|z| rounds to 1 beyond |z| = log(2/eps): 36.7 in float64 and 16.6 in float32 (eps 1.2e-7)."""
    eps32 = 2.0**-23
    assert np.finfo(np.float32).eps == eps32 and f"{eps32:.1e}" == "1.2e-07"
    assert f"{math.log(2 / EPS64):.1f}" == "36.7" and f"{math.log(2 / eps32):.1f}" == "16.6"
    # Just beyond the threshold 1 + e^-|z| is exactly 1, just before it is not.
    assert 1.0 + math.exp(-36.8) == 1.0 and 1.0 + math.exp(-36.6) > 1.0
    one = np.float32(1.0)
    assert one + np.float32(math.exp(-16.7)) == one and one + np.float32(math.exp(-16.5)) > one


# The gradient.


def test_gradient_is_sigmoid_minus_label_by_torch_autograd():
    """torch autograd on the seeded logit batch matches (sigma(z) - y) / 24 to 7e-18 (one digit)."""
    batch = catalog.get("bce_logits").make_batch(np.random.default_rng(0))
    z, y = batch.input, batch.target
    assert z.size == 24
    zt = torch.from_numpy(z).requires_grad_()
    torch.nn.BCEWithLogitsLoss()(zt, torch.from_numpy(y)).backward()
    formula = (1 / (1 + np.exp(-z)) - y) / z.size
    differences = [
        np.max(np.abs(formula - zt.grad.numpy())),
        np.max(np.abs(lb.binary_cross_entropy_with_logits_grad(z, y) - zt.grad.numpy())),
    ]
    assert f"{max(differences):.0e}" == "7e-18"


def test_gradient_exercise_at_extreme_logits():
    """Autograd of the stable loss is sigma(z) - y at |z| up to 1000; the naive formula's gradient is nan there."""
    z = np.repeat([-1000.0, -30.0, 0.0, 30.0, 1000.0], 3)
    y = np.tile([0.0, 0.3, 1.0], 5)
    zt = torch.from_numpy(z).requires_grad_()
    torch.nn.BCEWithLogitsLoss(reduction="sum")(zt, torch.from_numpy(y)).backward()
    sigma = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(v)))) for v in z])
    # Absolute agreement to half an epsilon: torch forms sigmoid(z) - 1, which cancels near z = 30.
    assert_allclose(zt.grad.numpy(), sigma - y, rtol=0, atol=EPS64 / 2)
    zt = torch.from_numpy(z).requires_grad_()
    p = 1 / (1 + torch.exp(-zt))
    yt = torch.from_numpy(y)
    (-(yt * torch.log(p) + (1 - yt) * torch.log(1 - p))).sum().backward()
    assert np.isnan(zt.grad.numpy()[np.abs(z) == 1000]).all()


# pos_weight.


def test_pos_weight_agrees_across_frameworks():
    """With pos_weight = 3 per column, torch, gluon and lossbook give the same loss (spread 0)."""
    batch = catalog.get("bce_logits").make_batch(np.random.default_rng(0))
    z, y = batch.input, batch.target
    r = np.full(z.shape[1], 3.0)
    torch_value = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(r))(
        torch.from_numpy(z), torch.from_numpy(y)
    ).item()
    gluon_value = gluon.loss.SigmoidBinaryCrossEntropyLoss()(nd64(z), nd64(y), None, nd64(r)).mean().asscalar()
    lossbook_value = float(lb.binary_cross_entropy_with_logits(z, y, pos_weight=r))
    # By hand: 3 y softplus(-z) + (1 - y) softplus(z), averaged over the 24 elements.
    by_hand = np.mean(3 * y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    assert_allclose(torch_value, by_hand, rtol=1e-14)
    values = [torch_value, gluon_value, lossbook_value]
    assert max(values) - min(values) == 0.0


def test_pos_weight_shifts_the_optimal_logit_by_log_r():
    """The expected loss q r softplus(-z) + (1 - q) softplus(z) is minimised at logit(q) + log r (by mpmath)."""
    for q, r in [(0.2, 3.0), (0.7, 0.5), (0.05, 19.0)]:
        def expected(z):
            return q * r * mpmath.log(1 + mpmath.exp(-z)) + (1 - q) * mpmath.log(1 + mpmath.exp(z))

        optimum = mpmath.findroot(lambda z: mpmath.diff(expected, z), 0)
        assert_allclose(float(optimum), math.log(q / (1 - q)) + math.log(r), rtol=0, atol=1e-12)


# The other exercises.


def test_soft_label_minimum_is_the_entropy_at_p_equals_y():
    """For y = 0.7 the loss is smallest at p = 0.7 on the grid, where it equals H(0.7) = 0.6109."""
    grid = np.linspace(0.001, 0.999, 999)
    losses = [log_loss([1, 0], [p, p], sample_weight=[0.7, 0.3]) for p in grid]
    assert grid[int(np.argmin(losses))] == pytest.approx(0.7)
    entropy = -(mpmath.mpf("0.7") * mpmath.log(mpmath.mpf("0.7")) + mpmath.mpf("0.3") * mpmath.log(mpmath.mpf("0.3")))
    assert f"{float(entropy):.4f}" == "0.6109"
    assert_allclose(min(losses), float(entropy), rtol=1e-14)
    soft = lb.binary_cross_entropy(grid, np.full_like(grid, 0.7), reduction="none")
    assert_allclose(soft, losses, rtol=1e-13)


def test_halving_underflows_at_the_1075th_factor():
    """2^-1074 is the smallest positive double and 2^-1075 rounds (half to even) to 0, so 1075 halvings give 0."""
    assert np.ldexp(1.0, -1074) == SMALLEST_SUBNORMAL and np.ldexp(1.0, -1075) == 0.0
    product, factors = 1.0, 0
    while product > 0.0:
        product *= 0.5
        factors += 1
    assert factors == 1075


# The chapter's structure.


def test_every_glue_reference_is_glued():
    """Each {glue:...} key the prose uses is set by a glue() call in the chapter."""
    used = set(re.findall(r"\{glue:(?:text|md)\}`(bce-[\w-]+)", CHAPTER))
    used |= set(re.findall(r"```\{glue:\} (bce-[\w-]+)", CHAPTER))
    glued = set(re.findall(r'glue\(\s*"(bce-[\w-]+)"', CHAPTER))
    glued |= {f"bce-compare-{name}" for name in ("gluon", "torch", "lossbook")}
    assert used and used <= glued


def test_every_equation_is_labelled_for_the_chapter_and_referenced():
    """Equation labels start with eq-bce- and each is referenced in the prose."""
    labels = re.findall(r"\$\$\s*\((eq-[\w-]+)\)", CHAPTER)
    assert len(labels) >= 10
    for label in labels:
        assert label.startswith("eq-bce-")
        assert f"{{eq}}`{label}`" in CHAPTER


def test_glossary_terms_exist():
    """Every {term} the chapter links is an entry of the glossary."""
    glossary = (BOOK / "glossary.md").read_text()
    entries = {line.strip().lower() for line in glossary.splitlines() if re.match(r"^[A-Za-z]", line)}
    for term in re.findall(r"\{term\}`([^`<]+)`", CHAPTER):
        assert term.strip().lower() in entries, term


def test_citations_exist():
    """Every cited key is in references.bib, and the three standard texts are cited."""
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", CHAPTER))
    cited = {key.strip() for group in keys for key in group.split(",")}
    assert {"goodfellow2016deep", "murphy2022probabilistic", "bishop2006pattern"} <= cited
    for key in cited:
        assert re.search(r"@\w+\{" + re.escape(key) + ",", bib), key


def test_the_log_loss_widget_is_embedded_and_exists():
    """The chapter embeds the log-loss widget, whose script registers under that name."""
    assert 'data-widget="log-loss"' in CHAPTER
    script = (BOOK / "_static" / "widget-log-loss.js").read_text()
    assert "log-loss" in script

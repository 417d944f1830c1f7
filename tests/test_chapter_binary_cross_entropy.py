"""Every number the binary cross-entropy chapter states, checked against an independent source.

The values the chapter glues into its prose are read from the notebook the book
build executed; each is compared with mpmath at 50 significant digits, a value
derived by hand (the derivation is in a comment), PyTorch, MXNet gluon or
scikit-learn. lossbook appears only as the thing being checked.
"""

import json
import math

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import brier_score_loss, log_loss

from executed_pages import EXECUTED, glued_values
import lossbook as lb
from lossbook import catalog, frameworks

mx = frameworks.require("mxnet")
from mxnet import gluon, nd  # noqa: E402  (after the import that silences mxnet)

PAGE = "binary_cross_entropy"

mpmath.mp.dps = 50

EPS64 = 2.0**-52  # float64 machine epsilon: 52 stored fraction bits
EPS32 = 2.0**-23
SMALLEST_SUBNORMAL = 2.0**-1074  # 52 fraction bits below the smallest exponent, -1022
SMALLEST_NORMAL = 2.0**-1022


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, without its bce- prefix."""
    return {key.removeprefix("bce-"): value for key, value in glued_values(PAGE).items()}


@pytest.fixture(scope="module")
def shown():
    """Every number the chapter glues as Markdown (``$1.2 \\times 10^{-5}$`` or plain), as a float."""
    numbers = {}
    for key, output in json.loads((EXECUTED / f"{PAGE}.glue.json").read_text()).items():
        text = output["data"].get("text/markdown", "").strip("$")
        if r" \times 10^" in text:
            mantissa, exponent = text.split(r" \times 10^")
            numbers[key.removeprefix("bce-")] = float(f"{mantissa}e{exponent.strip('{}')}")
        elif text.replace(".", "", 1).lstrip("-").isdigit():
            numbers[key.removeprefix("bce-")] = float(text)
    return numbers


def two_digits(value):
    """``value`` rounded to two significant digits, as the page shows it."""
    return float(f"{value:.1e}")


def f64(values):
    """A float64 NDArray copy of ``values``."""
    return frameworks.as_float64(values, "mxnet")


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
    return gluon.loss.SigmoidBinaryCrossEntropyLoss()(f64(z.reshape(-1, 1)), f64(y.reshape(-1, 1))).asnumpy()


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


def test_the_product_of_a_thousand_probabilities_is_zero_in_float64(glued):
    """The glued float64 product is 0.0 because the exact product lies below half the smallest subnormal."""
    assert glued["n"] == 1000 and glued["product"] == 0.0
    assert np.prod(observed_probabilities()) == 0.0
    # Below 2^-1075 a float64 result rounds to 0.
    assert mpmath.exp(exact_log_likelihood()) < mpmath.mpf(2) ** -1075


def test_the_sum_of_logs_is_ordinary_and_accurate(glued, shown):
    """The glued float64 sum of logs and its relative error (two digits) against the mpmath sum."""
    exact = exact_log_likelihood()
    assert glued["sum-logs"] == pytest.approx(float(exact), rel=1e-15)
    assert shown["log-rel-error"] == two_digits(relative_error(glued["sum-logs"], exact))
    assert glued["dps"] == 50


def test_the_exact_product_and_its_distance_below_the_smallest_double(glued, shown):
    """The exact likelihood (two digits) and how many orders of magnitude it lies below 2^-1074."""
    product = mpmath.exp(exact_log_likelihood())
    exponent = int(mpmath.floor(mpmath.log10(product)))
    assert shown["exact-product"] == float(mpmath.nstr(product, 2))
    # floor(log10(2^-1074)) = floor(-323.3) = -324.
    assert glued["orders-below"] == math.floor(math.log10(SMALLEST_SUBNORMAL)) - exponent


def test_the_running_product_reaches_zero_where_mpmath_says(glued):
    """The float64 running product first becomes 0.0 at the factor where the exact one falls below 2^-1075."""
    exact_running = np.cumsum([mpmath.log(mpmath.mpf(float(q))) for q in observed_probabilities()])
    half_smallest = mpmath.log(mpmath.mpf(2) ** -1075)
    assert glued["underflow-at"] == next(k for k, s in enumerate(exact_running, 1) if s < half_smallest)


def test_the_smallest_observed_probability_is_moderate(glued):
    """The smallest of the thousand probabilities is the glued value, far from any float64 limit."""
    assert glued["smallest-observed"] == pytest.approx(observed_probabilities().min(), rel=1e-15)
    assert glued["smallest-observed"] > 1e-4


def test_float64_limits_quoted_in_the_prose(glued, shown):
    """Smallest normal 2^-1022, smallest subnormal 2^-1074, epsilon 2^-52, exp overflows above log(max double)."""
    assert shown["min-normal"] == two_digits(SMALLEST_NORMAL) and np.finfo(np.float64).tiny == SMALLEST_NORMAL
    assert shown["tiny"] == two_digits(SMALLEST_SUBNORMAL) and np.nextafter(0.0, 1.0) == SMALLEST_SUBNORMAL
    assert shown["float64-eps"] == two_digits(EPS64)
    # exp(t) overflows once t exceeds log of the largest double, (2 - 2^-52) 2^1023.
    threshold = mpmath.log((2 - mpmath.mpf(2) ** -52) * mpmath.mpf(2) ** 1023)
    assert glued["overflow-threshold"] == pytest.approx(float(threshold), rel=1e-15)


# From likelihood to loss.


def test_mean_negative_log_likelihood_is_the_bce_of_the_untrained_model(glued):
    """-sum(log p)/N equals scikit-learn's log loss and the glued BCE; it exceeds log 2."""
    _, labels, p_model = untrained_model()
    nll = -float(exact_log_likelihood()) / 1000
    assert_allclose(log_loss(labels, p_model), nll, rtol=1e-14)
    assert glued["untrained"] == pytest.approx(nll, rel=1e-14)
    # Answering 0.5 everywhere scores log 2 per example, less than the untrained model's loss.
    assert_allclose(log_loss(labels, np.full(1000, 0.5)), glued["log2"], rtol=1e-15)
    assert glued["log2"] == math.log(2) and nll > math.log(2)


def test_minimising_bce_maximises_the_likelihood_on_a_grid():
    """For a constant predictor of 100 seeded labels, the BCE minimiser and the likelihood maximiser coincide."""
    labels = np.random.default_rng(3).integers(0, 2, 100).astype(float)
    grid = np.linspace(0.01, 0.99, 99)
    likelihood = [mpmath.fprod(mpmath.mpf(q) if y else 1 - mpmath.mpf(q) for y in labels) for q in grid]
    bce = [log_loss(labels, np.full(100, q)) for q in grid]
    assert int(np.argmin(bce)) == int(np.argmax(likelihood))


# The shape of the log loss.


def test_log_loss_at_one_percent(glued):
    """At p = 0.01 with label 1 the loss is -log 0.01; each factor of ten adds ln 10; the squared error is 0.99^2."""
    assert glued["p-small"] == 0.01
    assert glued["loss-small"] == pytest.approx(-math.log(0.01), rel=1e-15)
    assert glued["ln10"] == pytest.approx(-math.log(0.001) + math.log(0.01), rel=1e-14)
    assert glued["sq-small"] == pytest.approx((1 - 0.01) ** 2, rel=1e-15)


def test_log_loss_and_brier_score_are_both_proper():
    """For q = 0.7 both expected scores (scikit-learn, weights q and 1 - q) are smallest at p = 0.7."""
    grid = np.linspace(0.01, 0.99, 99)
    # E[score] = q score(label 1) + (1 - q) score(label 0): a mean over the two labels weighted q, 1 - q.
    expected = {name: [score([1, 0], [p, p], sample_weight=[0.7, 0.3]) for p in grid]
                for name, score in (("log", log_loss), ("brier", brier_score_loss))}
    for values in expected.values():
        assert grid[int(np.argmin(values))] == pytest.approx(0.7)
    # By hand: q (1 - p)^2 + (1 - q) p^2 = (p - q)^2 + q (1 - q), smallest at p = q, never above 1.
    assert_allclose(expected["brier"], (grid - 0.7) ** 2 + 0.7 * 0.3, rtol=1e-13)
    assert max(expected["brier"]) < 1


def test_brier_stays_bounded_where_the_log_loss_grows(glued):
    """On the grid the largest expected Brier score and log loss are at p = 0.01, by hand."""
    assert glued["brier-max"] == pytest.approx(0.7 * 0.99**2 + 0.3 * 0.01**2, rel=1e-14)
    assert glued["log-loss-max"] == pytest.approx(-(0.7 * math.log(0.01) + 0.3 * math.log(0.99)), rel=1e-14)


# The frameworks on the seeded batches.


def seeded_batches():
    """The catalog's seeded 8 x 3 batches of probabilities and of logits."""
    batch_p = catalog.get("bce").make_batch(np.random.default_rng(0))
    batch_z = catalog.get("bce_logits").make_batch(np.random.default_rng(0))
    return batch_p.input, batch_p.target, batch_z.input, batch_z.target


def test_frameworks_agree_with_scikit_learn_on_the_seeded_batches(glued, shown):
    """torch and gluon give scikit-learn's BCE on the 8 x 3 batches; gluon's probability form shifts by its eps."""
    p, y_p, z, y_z = seeded_batches()
    assert (glued["batch-rows"], glued["batch-cols"]) == p.shape == z.shape == (8, 3)
    reference_p = log_loss(y_p.ravel(), p.ravel())
    reference_z = log_loss(y_z.ravel(), 1 / (1 + np.exp(-z.ravel())))
    torch_p = torch.nn.BCELoss()(torch.from_numpy(p), torch.from_numpy(y_p)).item()
    torch_z = torch.nn.BCEWithLogitsLoss()(torch.from_numpy(z), torch.from_numpy(y_z)).item()
    gluon_p = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)(f64(p), f64(y_p))
    gluon_z = gluon.loss.SigmoidBinaryCrossEntropyLoss()(f64(z), f64(y_z))
    assert gluon_p.shape == (8,)
    assert_allclose(torch_p, reference_p, rtol=1e-14)
    for value in (torch_z, gluon_z.mean().asscalar()):
        assert_allclose(value, reference_z, rtol=1e-14)
    # gluon's probability form adds eps = 1e-12 inside each log, which moves the mean.
    eps = mpmath.mpf(1e-12)
    with_eps = mpmath.fsum(
        -(t * mpmath.log(mpmath.mpf(float(a)) + eps) + (1 - t) * mpmath.log(1 - mpmath.mpf(float(a)) + eps))
        for a, t in zip(p.ravel(), y_p.ravel())
    ) / p.size
    assert_allclose(gluon_p.mean().asscalar(), float(with_eps), rtol=1e-14)
    assert shown["gluon-shift"] == two_digits(abs(float(with_eps) - reference_p))


def test_gluon_float32_gap_in_the_prose(shown):
    """gluon's default float32 logit BCE differs from scikit-learn's float64 value by the glued relative gap."""
    _, _, z, y_z = seeded_batches()
    float32 = gluon.loss.SigmoidBCELoss()(nd.array(z), nd.array(y_z)).mean()
    assert float32.dtype == np.float32
    gap = abs(float(float32.asscalar()) / log_loss(y_z.ravel(), 1 / (1 + np.exp(-z.ravel()))) - 1)
    assert shown["gluon32-gap"] == pytest.approx(gap, rel=0.05)
    assert gap < 4 * EPS32  # a few float32 roundings


def test_the_largest_difference_in_the_comparison(shown):
    """Each implementation is within 2 eps of mpmath, and the dropdown's bound obeys the triangle inequality."""
    p, y_p, z, y_z = seeded_batches()
    eps = mpmath.mpf(1e-12)  # gluon's constant in the probability form, which the catalog's relation includes
    exact = {
        "p": [-mpmath.log(mpmath.mpf(float(a)) if t else 1 - mpmath.mpf(float(a))) for a, t in zip(p.ravel(), y_p.ravel())],
        "p+eps": [-mpmath.log((mpmath.mpf(float(a)) if t else 1 - mpmath.mpf(float(a))) + eps)
                  for a, t in zip(p.ravel(), y_p.ravel())],
        "z": [exact_bce(a, t) for a, t in zip(z.ravel(), y_z.ravel())],
    }
    outputs = {
        "torch p": ("p", torch.nn.BCELoss(reduction="none")(torch.from_numpy(p), torch.from_numpy(y_p)).numpy()),
        "gluon p": ("p+eps", gluon.loss.SigmoidBCELoss(from_sigmoid=True, batch_axis=1)(
            f64(p.reshape(1, -1)), f64(y_p.reshape(1, -1))).asnumpy()),  # the batch axis 1: no averaging
        "lossbook p": ("p", lb.binary_cross_entropy(p, y_p, reduction="none")),
        "torch z": ("z", torch_bce(z.ravel(), y_z.ravel())),
        "gluon z": ("z", gluon_bce(z.ravel(), y_z.ravel())),
        "lossbook z": ("z", lb.binary_cross_entropy_with_logits(z, y_z, reduction="none")),
    }
    errors = {name: max(abs(mpmath.mpf(float(v)) - e) for v, e in zip(values.ravel(), exact[kind]))
              for name, (kind, values) in outputs.items()}
    assert max(errors.values()) <= 2 * EPS64
    # A framework's difference from lossbook is at most the sum of their errors; the page shows two digits.
    bound = max(errors[f"{fw} {kind}"] + errors[f"lossbook {kind}"] for fw in ("torch", "gluon") for kind in "pz")
    assert 0 < shown["compare-worst"] <= 1.05 * float(bound)


# p = 0 and p = 1.


EDGE_P = np.array([0.0, 0.0, 1.0, 1.0])
EDGE_Y = np.array([0.0, 1.0, 0.0, 1.0])


def test_torch_clamps_the_log_at_minus_100(glued):
    """torch's BCELoss returns 100 for a certain wrong answer and (-)0 for a certain right one."""
    loss = torch.nn.BCELoss(reduction="none")(torch.from_numpy(EDGE_P), torch.from_numpy(EDGE_Y)).numpy()
    assert loss.tolist() == [0.0, 100.0, 100.0, 0.0]
    assert math.copysign(1.0, loss[3]) == -1.0  # the -0 the chapter mentions
    assert glued["torch-at-edge"] == 100.0 and glued["torch-clamp"] == -100.0


def test_gluon_adds_1e_minus_12_inside_the_log(shown):
    """gluon (float64) returns -log(1e-12) for a wrong answer and -log(1 + 1e-12) for a right one."""
    loss = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True)(
        f64(EDGE_P.reshape(-1, 1)), f64(EDGE_Y.reshape(-1, 1))).asnumpy()
    wrong = -mpmath.log(mpmath.mpf(1e-12))  # 12 ln 10
    assert_allclose(loss[[1, 2]], float(wrong), rtol=1e-15)
    assert shown["gluon-at-edge"] == float(f"{float(wrong):.3f}")
    # 1 + 1e-12 is first rounded to a double, whose log is then taken.
    right = -mpmath.log(mpmath.mpf(1.0 + 1e-12))
    assert_allclose(loss[[0, 3]], float(right), rtol=1e-12)
    assert shown["gluon-perfect"] == two_digits(float(right))
    assert shown["gluon-eps"] == 1e-12 and catalog.GLUON_EPS == 1e-12


def test_gluon_in_float32_charges_right_answers_nothing():
    """In float32, gluon's default, 1 + 1e-12 rounds to 1: right answers cost 0, wrong ones -log(1e-12)."""
    loss = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(
        nd.array(EDGE_P).reshape(4, 1), nd.array(EDGE_Y).reshape(4, 1)).asnumpy()
    assert np.float32(1.0) + np.float32(1e-12) == np.float32(1.0)
    assert loss[0] == 0.0 and loss[3] == 0.0
    assert_allclose(loss[[1, 2]], 12 * math.log(10), rtol=1e-6)


def test_lossbook_returns_the_true_loss_at_the_edges():
    """lossbook gives 0 for certain right answers and +inf for certain wrong ones, as -log 1 and -log 0."""
    loss = lb.binary_cross_entropy(EDGE_P, EDGE_Y, reduction="none")
    assert loss.tolist() == [0.0, math.inf, math.inf, 0.0]


# Logits: the extremes.


def test_extreme_logits(glued):
    """At |z| = 1000 the naive formula gives inf (wrong) and nan (right); torch, gluon and lossbook give 1000 and 0."""
    z = np.array([-1000.0, 1000.0, 1000.0, -1000.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    naive = naive_bce(z, y)
    assert np.isinf(naive[:2]).all() and np.isnan(naive[2:]).all()
    float32 = gluon.loss.SigmoidBCELoss()(nd.array(z).reshape(4, 1), nd.array(y).reshape(4, 1)).asnumpy()
    for values in (torch_bce(z, y), gluon_bce(z, y), float32, lb.binary_cross_entropy_with_logits(z, y, reduction="none")):
        assert values.tolist() == [1000.0, 1000.0, 0.0, 0.0]
    # The true losses: 1000 + log(1 + e^-1000), which rounds to 1000, and about e^-1000, which underflows.
    assert float(exact_bce(-1000.0, 1)) == 1000.0 and glued["z-extreme"] == 1000
    assert mpmath.nstr(exact_bce(1000.0, 1), 6) == "5.07596e-435"
    assert float(exact_bce(1000.0, 1)) == 0.0


# Logits: the confident-correct regime.


CONFIDENT = [(20.0, 1.0), (30.0, 1.0), (40.0, 1.0), (-20.0, 0.0), (-30.0, 0.0), (-40.0, 0.0)]


def test_naive_formula_loses_digits_at_z_30_and_everything_at_z_40(glued, shown):
    """Naive relative error at z = 30 (label 1) as glued; at z = 40 the sigmoid rounds to 1 and the loss is nan."""
    assert shown["naive-rel-30"] == two_digits(relative_error(naive_bce(30.0, 1.0), exact_bce(30.0, 1)))
    assert 1.0 + math.exp(-40.0) == 1.0 and np.isnan(naive_bce(40.0, 1.0))
    assert shown["exp-30"] == two_digits(math.exp(-30.0)) and shown["exp-40"] == two_digits(math.exp(-40.0))
    # e^-30 is about 421 epsilons, so 1 + e^-30 keeps log10(421) = 2.6 of its digits.
    assert glued["exp-30-over-eps"] == pytest.approx(math.exp(-30.0) / EPS64, rel=1e-14)
    assert glued["digits-30"] == pytest.approx(math.log10(math.exp(-30.0) / EPS64), rel=1e-14)
    assert (glued["z-lo"], glued["z-hi"]) == (20, 40)


def test_torch_is_accurate_for_label_one_and_loses_digits_for_label_zero(glued, shown):
    """torch: below 1e-16 relative error for label 1; the glued errors at z = -30 and (a result of 0) z = -40."""
    for z, y in CONFIDENT[:3]:
        assert relative_error(torch_bce([z], [y])[0], exact_bce(z, y)) < 1e-16
    assert shown["torch-rel-m30"] == two_digits(relative_error(torch_bce([-30.0], [0.0])[0], exact_bce(-30.0, 0)))
    assert torch_bce([-40.0], [0.0])[0] == 0.0 and glued["torch-rel-m40"] == 1.0


def test_torch_evaluates_one_minus_y_times_z_minus_log_sigmoid():
    """torch's BCEWithLogitsLoss equals (1 - y) z - logsigmoid(z) bit for bit on the chapter's logits."""
    z = torch.tensor([c[0] for c in CONFIDENT], dtype=torch.float64)
    y = torch.tensor([c[1] for c in CONFIDENT], dtype=torch.float64)
    form = (1 - y) * z - torch.nn.functional.logsigmoid(z)
    assert torch.equal(form, torch.nn.BCEWithLogitsLoss(reduction="none")(z, y))


def test_gluon_and_lossbook_are_within_half_an_epsilon(shown):
    """gluon and lossbook stay below the glued relative error in the table, itself under eps/2."""
    z = np.array([c[0] for c in CONFIDENT])
    y = np.array([c[1] for c in CONFIDENT])
    errors = [
        relative_error(v, exact_bce(a, b))
        for values in (gluon_bce(z, y).ravel(), lb.binary_cross_entropy_with_logits(z, y, reduction="none"))
        for v, a, b in zip(values, z, y)
    ]
    assert shown["stable-worst"] == float(f"{max(errors):.0e}")
    assert max(errors) < EPS64 / 2 and shown["unit-roundoff"] == two_digits(EPS64 / 2)


def test_where_the_naive_formula_loses_every_digit(glued, shown):
    """1 + e^-|z| rounds to 1 beyond |z| = log(2/eps), in float64 and in float32."""
    assert np.finfo(np.float32).eps == EPS32 and shown["float32-eps"] == two_digits(EPS32)
    assert glued["z-lost-64"] == pytest.approx(math.log(2 / EPS64), rel=1e-15)
    assert glued["z-lost-32"] == pytest.approx(math.log(2 / EPS32), rel=1e-15)
    # Just beyond the threshold 1 + e^-|z| is exactly 1, just before it is not.
    assert 1.0 + math.exp(-36.8) == 1.0 and 1.0 + math.exp(-36.6) > 1.0
    one = np.float32(1.0)
    assert one + np.float32(math.exp(-16.7)) == one and one + np.float32(math.exp(-16.5)) > one


# The gradient.


def test_gradient_is_sigmoid_minus_label_by_torch_autograd(glued, shown):
    """torch autograd on the seeded logit batch matches lossbook's gradient within the glued bound."""
    _, _, z, y = seeded_batches()
    assert glued["batch-size"] == z.size == 24
    zt = torch.from_numpy(z).requires_grad_()
    torch.nn.BCEWithLogitsLoss()(zt, torch.from_numpy(y)).backward()
    exact = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(float(v))))) for v in z.ravel()]).reshape(z.shape)
    assert_allclose(zt.grad.numpy(), (exact - y) / 24, rtol=0, atol=EPS64 / 24)
    difference = np.max(np.abs(lb.binary_cross_entropy_with_logits_grad(z, y) - zt.grad.numpy()))
    assert shown["grad-diff"] == float(f"{difference:.0e}")


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


def rare_labels():
    """The chapter's labels with one in four positive (flat index divisible by 4), on the 8 x 3 logits."""
    return (np.arange(24) % 4 == 0).astype(float).reshape(8, 3)


def test_pos_weight_equalises_total_weight_not_loss(glued):
    """r = 18 / 6 = 3 gives both classes a total weight of 18; their summed losses, by numpy, differ."""
    _, _, z, _ = seeded_batches()
    y = rare_labels()
    assert y.sum() == 6 and (y == 0).sum() == 18 and (y.sum(axis=0) == 2).all()
    assert glued["pos-weight"] == 3.0 and glued["total-weight"] == 3.0 * 6 == 18
    softplus = np.logaddexp(0, -z), np.logaddexp(0, z)  # log(1 + e^-z), log(1 + e^z)
    assert glued["loss-pos"] == pytest.approx(3.0 * softplus[0][y == 1].sum(), rel=1e-13)
    assert glued["loss-neg"] == pytest.approx(softplus[1][y == 0].sum(), rel=1e-13)
    assert abs(glued["loss-pos"] - glued["loss-neg"]) > 1


def test_pos_weight_agrees_across_frameworks(shown):
    """With pos_weight = 3 per column, torch, gluon (float64) and numpy by hand give the same loss."""
    _, _, z, _ = seeded_batches()
    y, r = rare_labels(), np.full(3, 3.0)
    torch_value = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(r))(
        torch.from_numpy(z), torch.from_numpy(y)).item()
    gluon_value = gluon.loss.SigmoidBinaryCrossEntropyLoss()(f64(z), f64(y), None, f64(r)).mean().asscalar()
    # By hand: 3 y softplus(-z) + (1 - y) softplus(z), averaged over the 24 elements.
    by_hand = np.mean(3 * y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
    lossbook_value = float(lb.binary_cross_entropy_with_logits(z, y, pos_weight=r))
    values = [lossbook_value, torch_value, gluon_value]
    assert_allclose(values, by_hand, rtol=1e-14)
    # Their spread is at most twice the largest distance from the hand value; the page shows one digit.
    assert shown["pos-weight-diff"] <= 1.34 * 2 * max(abs(v - by_hand) for v in values)


def test_where_each_framework_takes_pos_weight():
    """torch: a constructor argument of BCEWithLogitsLoss only; gluon: the call's fourth argument, in both settings."""
    import inspect

    assert "pos_weight" in inspect.signature(torch.nn.BCEWithLogitsLoss).parameters
    assert "pos_weight" not in inspect.signature(torch.nn.BCELoss).parameters
    assert gluon.loss.SigmoidBCELoss is gluon.loss.SigmoidBinaryCrossEntropyLoss
    p, y = np.array([[0.2, 0.9]]), np.array([[1.0, 0.0]])
    value = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(f64(p), f64(y), None, f64([3.0, 3.0])).asscalar()
    # By hand, with gluon's eps: -(3 log(0.2 + eps) + log(1 - 0.9 + eps)) / 2.
    by_hand = -(3 * mpmath.log(mpmath.mpf(0.2) + mpmath.mpf(1e-12)) + mpmath.log(1 - mpmath.mpf(0.9) + mpmath.mpf(1e-12))) / 2
    assert value == pytest.approx(float(by_hand), rel=1e-14)


def test_pos_weight_shifts_the_optimal_logit_by_log_r():
    """The expected loss q r softplus(-z) + (1 - q) softplus(z) is minimised at logit(q) + log r (by mpmath)."""
    for q, r in [(0.2, 3.0), (0.7, 0.5), (0.05, 19.0)]:
        def expected(z):
            return q * r * mpmath.log(1 + mpmath.exp(-z)) + (1 - q) * mpmath.log(1 + mpmath.exp(z))

        optimum = mpmath.findroot(lambda z: mpmath.diff(expected, z), 0)
        assert_allclose(float(optimum), math.log(q / (1 - q)) + math.log(r), rtol=0, atol=1e-12)


# The other exercises.


def test_soft_label_minimum_is_the_entropy_at_p_equals_y():
    """For y = 0.7 the loss is smallest at p = 0.7 on the grid, where it equals the entropy H(0.7)."""
    grid = np.linspace(0.001, 0.999, 999)
    losses = [log_loss([1, 0], [p, p], sample_weight=[0.7, 0.3]) for p in grid]
    assert grid[int(np.argmin(losses))] == pytest.approx(0.7)
    entropy = -(mpmath.mpf("0.7") * mpmath.log(mpmath.mpf("0.7")) + mpmath.mpf("0.3") * mpmath.log(mpmath.mpf("0.3")))
    assert_allclose(min(losses), float(entropy), rtol=1e-14)
    soft = lb.binary_cross_entropy(grid, np.full_like(grid, 0.7), reduction="none")
    assert_allclose(soft, losses, rtol=1e-13)


def test_halving_underflows_at_the_1075th_factor(glued):
    """2^-1074 is the smallest positive double and 2^-1075 rounds (half to even) to 0, so 1075 halvings give 0."""
    assert np.ldexp(1.0, -1074) == SMALLEST_SUBNORMAL and np.ldexp(1.0, -1075) == 0.0
    product, factors = 1.0, 0
    while product > 0.0:
        product *= 0.5
        factors += 1
    assert factors == 1075 and glued["underflow-at"] < factors

"""float64 accuracy of every loss against arbitrary-precision references (mpmath, 60 digits).

The bound is 2 ulp in relative terms: |computed - exact| <= 2 * eps * |exact|
with eps = 2**-52 (about 4.44e-16), or 2 * 2**-1074 where the exact answer is
subnormal; an exact 0 or inf must come out exactly. Where a docstring restricts
the claim because the loss's own terms cancel (Poisson, KL with probability
targets, logsumexp with a negative maximum), ``scale`` is the magnitude the
docstring names instead of |exact|. The grids hold logits up to +-1000, rows
whose naive exp overflows or underflows, confident correct predictions with
logit gaps 20 to 40, and probabilities within 1e-12 of 0 and 1.
"""

import itertools

import mpmath as mp
import numpy as np
import pytest

import lossbook as lb

mp.mp.dps = 60
EPS = np.finfo(np.float64).eps
SMALLEST_SUBNORMAL = 2.0**-1074
REDUCTIONS = ("none", "mean", "sum")

_RNG = np.random.default_rng(20240601)
# Round numbers subtract exactly; the random ones exercise rounding in z - m.
LOGITS = np.array(
    sorted(
        {0.0, 1e-300, 1e-10, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 25.0, 30.0, 35.0, 37.0,
         40.0, 50.0, 100.0, 700.0, 709.7, 745.0, 1000.0}
        | {-v for v in (1e-300, 1e-10, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 25.0, 30.0, 35.0,
                        37.0, 40.0, 50.0, 100.0, 700.0, 709.7, 745.0, 1000.0)}
        | set(_RNG.uniform(-50.0, 50.0, 24).tolist())
    )
)
PROBABILITIES = np.array(
    [0.0, 1e-300, 1e-12, 3e-10, 1e-6, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99,
     1 - 1e-6, 1 - 3e-10, 1 - 1e-12, 1 - 2**-53, 1.0]
)
SOFT_LABELS = np.array([0.0, 1.0, 0.25, 0.5, 0.7, 1e-12, 1 - 1e-12])


def exact(value):
    """A float64 as an exact mpmath number."""
    return mp.mpf(float(value))


def ulp_errors(actual, reference, scale=None):
    """Errors in units of the tolerance (<= 1 passes); exact 0 and inf must match exactly."""
    actual = np.asarray(actual, dtype=np.float64).ravel()
    reference = list(reference)
    scale = reference if scale is None else list(scale)
    assert actual.size == len(reference)
    units = []
    for value, truth, size in zip(actual, reference, scale):
        if mp.isinf(truth) or truth == 0:
            units.append(0.0 if value == truth else np.inf)
            continue
        tolerance = 2 * max(EPS * abs(size), SMALLEST_SUBNORMAL)
        units.append(float(abs(exact(value) - truth) / tolerance))
    return np.array(units)


def assert_within_2ulp(actual, reference, scale=None):
    """Assert every computed value lies within 2 ulp of its reference (see module docstring)."""
    units = ulp_errors(actual, reference, scale)
    worst = int(np.argmax(units))
    assert units[worst] <= 1.0, (
        f"element {worst}: {np.asarray(actual).ravel()[worst]!r} vs exact "
        f"{mp.nstr(list(reference)[worst], 20)}, {units[worst]:.3f} x the 2-ulp tolerance"
    )


def assert_correctly_rounded(actual, reference):
    """Assert every computed value is the float64 nearest its exact reference."""
    nearest = np.array([float(value) for value in reference])
    np.testing.assert_array_equal(np.asarray(actual).ravel(), nearest)


def check_reductions(loss, arguments, elementwise, divisor=None, scale=None):
    """Check reduction="none", "sum" and "mean" against exact elementwise values.

    ``divisor`` is the exact divisor of "mean" (default: the number of values);
    ``scale`` (elementwise magnitudes) replaces |exact| in the tolerance.
    """
    total = mp.fsum(elementwise)
    count = len(elementwise) if divisor is None else divisor
    total_scale = None if scale is None else [mp.fsum(abs(s) for s in scale)]
    assert_within_2ulp(loss(*arguments[0], reduction="none", **arguments[1]), elementwise, scale)
    assert_within_2ulp(loss(*arguments[0], reduction="sum", **arguments[1]), [total], total_scale)
    mean_scale = None if scale is None else [total_scale[0] / count]
    assert_within_2ulp(
        loss(*arguments[0], reduction="mean", **arguments[1]), [total / count], mean_scale
    )


def softplus_exact(z):
    return mp.log1p(mp.exp(z))


def sigmoid_exact(z):
    return 1 / (1 + mp.exp(-z))


def log_softmax_exact(row):
    """log softmax(row) as (z - m) - log1p(sum of the other exp(z_j - m)), so that 60 digits
    suffice even where a loss of 1e-45 sits next to a logit of 70."""
    top = int(np.argmax(row))
    m = exact(row[top])
    norm = mp.log1p(mp.fsum(mp.exp(exact(v) - m) for j, v in enumerate(row) if j != top))
    return [(exact(v) - m) - norm for v in row]


def logsumexp_exact(row):
    return exact(max(row)) - log_softmax_exact(row)[int(np.argmax(row))]


# ----------------------------------------------------------------- activations


def test_sigmoid_within_2ulp():
    """sigmoid(z) = 1 / (1 + e^-z) on logits up to +-1000."""
    assert_within_2ulp(lb.sigmoid(LOGITS), [sigmoid_exact(exact(z)) for z in LOGITS])


def test_softplus_within_2ulp():
    """softplus(z) = log(1 + e^z), including its tiny values e^z for z down to -745."""
    assert_within_2ulp(lb.softplus(LOGITS), [softplus_exact(exact(z)) for z in LOGITS])


def test_log_sigmoid_within_2ulp():
    """log sigmoid(z) = -softplus(-z)."""
    assert_within_2ulp(lb.log_sigmoid(LOGITS), [-softplus_exact(-exact(z)) for z in LOGITS])


ROWS = [
    [1000.0, 999.5, 998.0, -1000.0],  # naive exp overflows
    [710.0, 709.0, 0.0, 1.5],
    [-1000.0, -1000.5, -1003.0, -1010.0],  # naive exp underflows to 0 / 0
    [-1000.0, 1000.0, 0.0, 3.0],
    [5.0, 5.0, 5.0, 5.0],
    [1e-10, 0.0, -1e-10, 2e-10],
    [20.3, 0.3, 0.1, -1.7],  # logit gaps 20 to 40: tiny normalising tails
    [25.7, 0.3, 4.1, -1.7],
    [30.0, 0.0, -0.5, -2.0],
    [35.123456789, 0.987654321, 0.5, -3.25],
    [40.5, 0.5, 0.25, 0.125],
    [37.9, -2.2, 1.3, 0.7],
] + _RNG.uniform(-50.0, 50.0, (8, 4)).tolist() + _RNG.uniform(-3.0, 3.0, (4, 4)).tolist()
ROWS = np.array(ROWS)


def test_softmax_within_2ulp():
    """softmax on rows that overflow, underflow, tie, or have logit gaps of 20 to 40."""
    reference = [mp.exp(value) for row in ROWS for value in log_softmax_exact(row)]
    assert_within_2ulp(lb.softmax(ROWS), reference)


def test_log_softmax_within_2ulp():
    """log_softmax = z - logsumexp(z) on the same rows."""
    reference = [value for row in ROWS for value in log_softmax_exact(row)]
    assert_within_2ulp(lb.log_softmax(ROWS), reference)


def test_logsumexp_within_2ulp():
    """logsumexp within 2 ulp of the result where the maximum is >= 0, else of |maximum|."""
    reference = [logsumexp_exact(row) for row in ROWS]
    scale = [
        max(abs(r), abs(exact(max(row)))) if max(row) < 0 else r for r, row in zip(reference, ROWS)
    ]
    assert_within_2ulp(lb.logsumexp(ROWS), reference, scale)


# ------------------------------------------------------------------ regression

_PAIRS = np.array(list(itertools.product(LOGITS[::3], LOGITS[1::3])))
PREDICTIONS, TARGETS = _PAIRS[:, 0], _PAIRS[:, 1]
WEIGHTS = _RNG.uniform(0.1, 3.0, PREDICTIONS.size)


@pytest.mark.parametrize("weighted", [False, True])
def test_mse_loss_within_2ulp(weighted):
    """(x - y)^2, weighted mean = sum(w l) / sum(w)."""
    w = WEIGHTS if weighted else np.ones_like(PREDICTIONS)
    values = [exact(c) * (exact(a) - exact(b)) ** 2 for a, b, c in zip(PREDICTIONS, TARGETS, w)]
    options = {"weight": WEIGHTS} if weighted else {}
    check_reductions(lb.mse_loss, ((PREDICTIONS, TARGETS), options), values, mp.fsum(map(exact, w)))


@pytest.mark.parametrize("weighted", [False, True])
def test_l1_loss_within_2ulp(weighted):
    """|x - y| (correctly rounded without weights), weighted mean = sum(w l) / sum(w)."""
    w = WEIGHTS if weighted else np.ones_like(PREDICTIONS)
    values = [exact(c) * abs(exact(a) - exact(b)) for a, b, c in zip(PREDICTIONS, TARGETS, w)]
    options = {"weight": WEIGHTS} if weighted else {}
    check_reductions(lb.l1_loss, ((PREDICTIONS, TARGETS), options), values, mp.fsum(map(exact, w)))
    if not weighted:
        assert_correctly_rounded(lb.l1_loss(PREDICTIONS, TARGETS, reduction="none"), values)


def huber_exact(a, b, delta):
    d = abs(exact(a) - exact(b))
    delta = exact(delta)
    return d * d / 2 if d < delta else delta * (d - delta / 2)


@pytest.mark.parametrize("delta", [1.0, 0.3, 70.0])
def test_huber_loss_within_2ulp(delta):
    """Huber with thresholds below, at and above the differences; weighted mean divides by n."""
    values = [exact(c) * huber_exact(a, b, delta) for a, b, c in zip(PREDICTIONS, TARGETS, WEIGHTS)]
    check_reductions(
        lb.huber_loss, ((PREDICTIONS, TARGETS), {"delta": delta, "weight": WEIGHTS}), values
    )


@pytest.mark.parametrize("beta", [1.0, 0.3, 70.0])
def test_smooth_l1_loss_within_2ulp(beta):
    """Smooth L1 = Huber(beta) / beta."""
    values = [huber_exact(a, b, beta) / exact(beta) for a, b in zip(PREDICTIONS, TARGETS)]
    check_reductions(lb.smooth_l1_loss, ((PREDICTIONS, TARGETS), {"beta": beta}), values)


@pytest.mark.parametrize("q", [0.5, 0.1, 0.9, 0.01])
def test_quantile_loss_within_2ulp(q):
    """Pinball: q max(y - x, 0) + (1 - q) max(x - y, 0)."""
    q_ = exact(q)
    values = [
        q_ * max(exact(b) - exact(a), 0) + (1 - q_) * max(exact(a) - exact(b), 0)
        for a, b in zip(PREDICTIONS, TARGETS)
    ]
    check_reductions(lb.quantile_loss, ((PREDICTIONS, TARGETS), {"q": q}), values)


COUNTS = np.array([0.0, 1.0, 2.0, 3.0, 3.5, 10.0, 1e6])
_POISSON = np.array(list(itertools.product(LOGITS[np.abs(LOGITS) < 709], COUNTS)))


def stirling_terms(t):
    """The Stirling terms torch adds for t > 1 (as a list, to build the error scale)."""
    if t <= 1:
        return []
    return [t * mp.log(t), -t, mp.log(2 * mp.pi * t) / 2]


@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_log_input_within_2ulp_of_its_terms(full):
    """e^x - t x (+ Stirling), within 2 ulp of the sum of the terms' magnitudes."""
    x, t = _POISSON[:, 0], _POISSON[:, 1]
    values, scale = [], []
    for a, b in zip(x, t):
        terms = [mp.exp(exact(a)), -exact(b) * exact(a)]
        terms += stirling_terms(exact(b)) if full else []
        values.append(mp.fsum(terms))
        scale.append(mp.fsum(abs(term) for term in terms))
    check_reductions(lb.poisson_nll_loss, ((x, t), {"full": full}), values, scale=scale)


@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_rate_input_within_2ulp_of_its_terms(full):
    """lambda - t log(lambda + eps) (+ Stirling), eps = 1e-8 added exactly."""
    rates = np.array([0.0, 1e-300, 1e-9, 0.5, 1 - 1e-8, 1.0, 2.0, 1e3, 1e300])
    pairs = np.array(list(itertools.product(rates, COUNTS)))
    lam, t = pairs[:, 0], pairs[:, 1]
    values, scale = [], []
    for a, b in zip(lam, t):
        terms = [exact(a), -exact(b) * mp.log(exact(a) + exact(1e-8))]
        terms += stirling_terms(exact(b)) if full else []
        values.append(mp.fsum(terms))
        scale.append(mp.fsum(abs(term) for term in terms))
    check_reductions(
        lb.poisson_nll_loss, ((lam, t), {"log_input": False, "full": full}), values, scale=scale
    )


def test_poisson_nll_loss_overflows_to_inf_only_beyond_float64():
    """e^1000 exceeds the float64 range, so the correctly rounded loss is inf."""
    with np.errstate(all="raise"):
        loss = lb.poisson_nll_loss(np.array([1000.0]), np.array([1.0]), reduction="none")
    assert loss[0] == np.inf


# -------------------------------------------------------------- classification


def bce_exact(p, y, w=1.0):
    p, y = exact(p), exact(y)
    terms = []
    if y != 0:
        terms.append(-y * mp.log(p) if p != 0 else mp.inf)
    if y != 1:
        terms.append(-(1 - y) * mp.log1p(-p) if p != 1 else mp.inf)
    return exact(w) * mp.fsum(terms)


def test_binary_cross_entropy_within_2ulp():
    """-(y log p + (1-y) log(1-p)) with p within 1e-12 of 0 and 1, and 0 log 0 = 0."""
    pairs = np.array(list(itertools.product(PROBABILITIES, SOFT_LABELS)))
    p, y = pairs[:, 0], pairs[:, 1]
    values = [bce_exact(a, b) for a, b in zip(p, y)]
    finite = np.array([not mp.isinf(v) for v in values])
    check_reductions(
        lb.binary_cross_entropy,
        ((p[finite], y[finite]), {}),
        [v for v in values if not mp.isinf(v)],
    )
    assert_within_2ulp(lb.binary_cross_entropy(p, y, reduction="none"), values)


def bce_logits_exact(z, y, pos_weight=1.0, weight=1.0):
    z, y = exact(z), exact(y)
    return exact(weight) * (
        exact(pos_weight) * y * softplus_exact(-z) + (1 - y) * softplus_exact(z)
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_with_logits_within_2ulp(weighted):
    """y softplus(-z) + (1-y) softplus(z), tiny losses at |z| = 20...40 included."""
    pairs = np.array(list(itertools.product(LOGITS, SOFT_LABELS)))
    z, y = pairs[:, 0], pairs[:, 1]
    pos_weight, weight = (3.5, 0.3) if weighted else (1.0, 1.0)
    values = [bce_logits_exact(a, b, pos_weight, weight) for a, b in zip(z, y)]
    options = {"pos_weight": np.array(pos_weight), "weight": np.array(weight)} if weighted else {}
    check_reductions(lb.binary_cross_entropy_with_logits, ((z, y), options), values)


CLASS_WEIGHTS = np.array([0.7, 2.0, 1.3, 0.25])


def cross_entropy_index_exact(row, label, weights, smoothing):
    nll = [-value for value in log_softmax_exact(row)]
    loss = (1 - exact(smoothing)) * exact(weights[label]) * nll[label]
    if smoothing:
        loss += exact(smoothing) / len(row) * mp.fsum(exact(w) * n for w, n in zip(weights, nll))
    return loss


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label", ["argmax", "other"])
def test_cross_entropy_class_indices_within_2ulp(label, weighted, smoothing):
    """Cross-entropy on rows that overflow, underflow, or are confidently right (gap 20...40)."""
    labels = np.argmax(ROWS, axis=1) if label == "argmax" else np.argmin(ROWS, axis=1)
    weights = CLASS_WEIGHTS if weighted else np.ones(4)
    values = [cross_entropy_index_exact(r, c, weights, smoothing) for r, c in zip(ROWS, labels)]
    options = {"label_smoothing": smoothing}
    if weighted:
        options["weight"] = CLASS_WEIGHTS
    divisor = mp.fsum(exact(weights[c]) for c in labels)
    check_reductions(lb.cross_entropy, ((ROWS, labels), options), values, divisor)


def test_cross_entropy_probabilities_within_2ulp():
    """-sum_c w_c t_c log softmax(z)_c with soft, one-hot and smoothed targets."""
    targets = _RNG.dirichlet(np.ones(4), ROWS.shape[0])
    targets[::3] = np.eye(4)[np.arange(0, ROWS.shape[0], 3) % 4]
    for smoothing in (0.0, 0.1):
        values = []
        for row, t in zip(ROWS, targets):
            smoothed = [(1 - exact(smoothing)) * exact(v) + exact(smoothing) / 4 for v in t]
            log_p = log_softmax_exact(row)
            terms = zip(CLASS_WEIGHTS, smoothed, log_p)
            values.append(mp.fsum(-exact(w) * s * v for w, s, v in terms))
        options = {"weight": CLASS_WEIGHTS, "label_smoothing": smoothing}
        check_reductions(lb.cross_entropy, ((ROWS, targets), options), values)


def test_nll_loss_within_2ulp():
    """-w_y x_y, weighted mean divided by the weights of the targets; exact without weights."""
    labels = np.arange(ROWS.shape[0]) % 4
    log_p = -np.abs(ROWS)
    values = [-exact(CLASS_WEIGHTS[c]) * exact(row[c]) for row, c in zip(log_p, labels)]
    divisor = mp.fsum(exact(CLASS_WEIGHTS[c]) for c in labels)
    check_reductions(lb.nll_loss, ((log_p, labels), {"weight": CLASS_WEIGHTS}), values, divisor)
    unweighted = lb.nll_loss(log_p, labels, reduction="none")
    assert_correctly_rounded(unweighted, [-exact(row[c]) for row, c in zip(log_p, labels)])


LOG_PROBABILITIES = np.array(
    [-1000.0, -50.0, np.log(1e-12), -20.0, -1.2, np.log(0.7), -1e-6, -1e-12, -1e-300, 0.0]
)


def test_kl_div_log_target_within_2ulp():
    """e^s (s - x) with log-probability targets: no cancellation error beyond rounding."""
    pairs = np.array(list(itertools.product(LOG_PROBABILITIES, LOG_PROBABILITIES)))
    x, s = pairs[:, 0], pairs[:, 1]
    values = [mp.exp(exact(b)) * (exact(b) - exact(a)) for a, b in zip(x, s)]
    check_reductions(lb.kl_div, ((x, s), {"log_target": True}), values)


def test_kl_div_within_2ulp_of_t_log_t():
    """t (log t - x) within 2 ulp of max(|loss|, |t log t|), as its docstring claims."""
    pairs = np.array(list(itertools.product(LOG_PROBABILITIES, PROBABILITIES)))
    x, t = pairs[:, 0], pairs[:, 1]
    values, scale = [], []
    for a, b in zip(x, t):
        b = exact(b)
        loss = b * (mp.log(b) - exact(a)) if b else mp.mpf(0)
        values.append(loss)
        scale.append(max(abs(loss), abs(b * mp.log(b)) if b else 0))
    check_reductions(lb.kl_div, ((x, t), {}), values, scale=scale)


def test_kl_div_batchmean_divides_by_the_batch_size():
    """"batchmean" is the exact sum over the batch divided by its size (here 3)."""
    x = LOG_PROBABILITIES[:9].reshape(3, 3)
    t = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [1e-12, 0.5, 0.5 - 1e-12]])
    total = mp.fsum(
        exact(b) * (mp.log(exact(b)) - exact(a)) for a, b in zip(x.ravel(), t.ravel()) if b
    )
    assert_within_2ulp(lb.kl_div(x, t, reduction="batchmean"), [total / 3])


# ---------------------------------------------------------------------- margin

_SIGNED = np.array(list(itertools.product(LOGITS, [-1.0, 1.0])))


def test_soft_margin_loss_within_2ulp():
    """softplus(-y x) for margins up to +-1000."""
    x, y = _SIGNED[:, 0], _SIGNED[:, 1]
    values = [softplus_exact(-exact(b) * exact(a)) for a, b in zip(x, y)]
    check_reductions(lb.soft_margin_loss, ((x, y), {}), values)


@pytest.mark.parametrize("margin", [1.0, 0.1, 2.5])
def test_hinge_losses_within_2ulp(margin):
    """max(0, margin - y x), correctly rounded, and its square within 2 ulp."""
    x, y = _SIGNED[:, 0], _SIGNED[:, 1]
    hinge = [max(exact(margin) - exact(b) * exact(a), 0) for a, b in zip(x, y)]
    check_reductions(lb.hinge_loss, ((x, y), {"margin": margin}), hinge)
    assert_correctly_rounded(lb.hinge_loss(x, y, margin=margin, reduction="none"), hinge)
    check_reductions(lb.squared_hinge_loss, ((x, y), {"margin": margin}), [h * h for h in hinge])

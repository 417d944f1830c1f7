"""Relative error of lossbook, torch, gluon and the textbook formula against mpmath.

Every implementation runs in float64 on the same extreme inputs; the exact
answer is computed with mpmath at 60 significant digits. Each cell is the
largest relative error over the case's elements, |computed - exact| / |exact|,
with "inf" where a finite exact answer came out inf or nan, and 0 where a
zero exact answer came out exactly. Cases marked * have terms of both signs
that cancel; there the error is relative to the sum of the terms' magnitudes
(the scale lossbook's docstrings state for them), since no float64 method
knows more of the result than the rounding of its terms.

Run: .venv/bin/python bench/accuracy.py
"""

import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import mpmath as mp
import numpy as np
import torch
import torch.nn.functional as F

import lossbook as lb

warnings.filterwarnings("ignore", category=DeprecationWarning, module="mxnet")
warnings.filterwarnings("ignore", category=DeprecationWarning, module="mxnet.*")
from mxnet import gluon, nd  # noqa: E402  (after the filter, which must precede the import)

mp.mp.dps = 60
EPS = np.finfo(np.float64).eps
TINY = np.finfo(np.float64).tiny


def exact(value):
    """A float64 as an exact mpmath number."""
    return mp.mpf(float(value))


def softplus_exact(z):
    return mp.log1p(mp.exp(z))


def log_softmax_exact(row):
    """(z - m) - log1p(sum of the other exp(z_j - m)): 60 digits suffice even for tiny losses."""
    top = int(np.argmax(row))
    m = exact(row[top])
    norm = mp.log1p(mp.fsum(mp.exp(exact(v) - m) for j, v in enumerate(row) if j != top))
    return [(exact(v) - m) - norm for v in row]


def t(array):
    return torch.from_numpy(np.asarray(array))


def g(array):
    return nd.array(np.asarray(array), dtype="float64")


class NotFloat64(Exception):
    """A framework computed in a lower precision than asked for."""


def gluon_values(block, *arrays):
    """A gluon loss in float64, one value per sample."""
    out = block(*(g(a) for a in arrays))
    if out.dtype != np.float64:
        raise NotFloat64(str(out.dtype))
    return out.asnumpy()


def naive(function):
    """The textbook formula in numpy, letting overflow and 0 * inf happen silently."""
    def run(*arrays):
        with np.errstate(all="ignore"):
            return function(*arrays)
    return run


@dataclass
class Case:
    loss: str
    case: str
    arrays: tuple
    exact: Callable  # arrays -> list of mpf values
    lossbook: Callable
    torch: Callable
    gluon: Optional[Callable]  # None: gluon has no such loss
    textbook: Callable
    scale: Optional[Callable] = None  # arrays -> magnitudes to measure errors against (cancelling)


def relative_error(values, reference, scale=None):
    """The largest relative error of ``values`` against the mpmath ``reference``.

    Below the normal range the error is taken relative to the smallest normal
    number, so an exact answer that underflows counts 0 as right.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    scale = reference if scale is None else scale
    worst = 0.0
    for value, truth, size in zip(values, reference, scale):
        if mp.isinf(truth) or truth == 0:
            if value != truth:
                return np.inf
            continue
        if not np.isfinite(value):
            return np.inf
        worst = max(worst, float(abs(exact(value) - truth) / max(abs(size), TINY)))
    return worst


def elementwise(function):
    """Apply an mpmath formula to matching elements of the arrays."""
    def apply(*arrays):
        return [function(*map(exact, values)) for values in zip(*(a.ravel() for a in arrays))]
    return apply


def magnitudes(terms):
    """The scale of a cancelling loss: the sum of its terms' magnitudes."""
    return elementwise(lambda *values: mp.fsum(abs(term) for term in terms(*values)))


def total(terms):
    return elementwise(lambda *values: mp.fsum(terms(*values)))


def per_sample(block, *arrays):
    """A gluon loss that averages over the whole batch, evaluated one sample at a time."""
    return np.array([gluon_values(block, [a], [b])[0] for a, b in zip(*arrays)])


# ------------------------------------------------------- exact and textbook forms

def huber_exact(a, b, delta=1):
    d, delta = abs(a - b), mp.mpf(delta)
    return d * d / 2 if d < delta else delta * (d - delta / 2)


def huber_textbook(x, y, delta=1.0):
    d = np.abs(x - y)
    return np.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta))


def quantile_exact(a, b, q=0.1):
    q = mp.mpf(q)
    return q * max(b - a, 0) + (1 - q) * max(a - b, 0)


def quantile_textbook(x, y, q=0.1):
    return q * np.maximum(y - x, 0) + (1 - q) * np.maximum(x - y, 0)


def quantile_torch(x, y, q=0.1):
    return (q * torch.clamp(t(y) - t(x), min=0) + (1 - q) * torch.clamp(t(x) - t(y), min=0)).numpy()


def poisson_log_terms(x, count):
    return [mp.exp(x), -count * x]


def poisson_rate_terms(rate, count):
    return [rate, -count * mp.log(rate + exact(1e-8))]


def kl_terms(log_p, target):
    return [target * mp.log(target), -target * log_p]


def bce_exact(p, y):
    terms = []
    if y != 0:
        terms.append(-y * mp.log(p) if p != 0 else mp.inf)
    if y != 1:
        terms.append(-(1 - y) * mp.log1p(-p) if p != 1 else mp.inf)
    return mp.fsum(terms)


def bce_logits_exact(z, y):
    return y * softplus_exact(-z) + (1 - y) * softplus_exact(z)


def bce_textbook(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce_logits_textbook(z, y):
    return bce_textbook(1 / (1 + np.exp(-z)), y)


def softmax_textbook(z):
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def cross_entropy_exact(z, labels):
    return [-log_softmax_exact(row)[c] for row, c in zip(z, labels)]


def cross_entropy_textbook(z, labels):
    return -np.log(softmax_textbook(z)[np.arange(len(labels)), labels])


def soft_cross_entropy_exact(z, p):
    return [mp.fsum(-exact(q) * v for q, v in zip(probabilities, log_softmax_exact(row)))
            for row, probabilities in zip(z, p)]


def soft_cross_entropy_textbook(z, p):
    return -(p * np.log(softmax_textbook(z))).sum(axis=1)


# -------------------------------------------------------------------- the cases

NEAR_ONE = 1.0 + np.arange(1, 6) * EPS
BIG = np.array([1e150, -3e150, 2.5e151])
CONFIDENT = np.array([20.0, 25.0, 30.0, 35.0, 40.0])
HUGE_LOGITS = np.array([-1000.0, -745.0, 709.0, 1000.0])
P_NEAR_0 = np.array([1e-12, 3e-13, 1e-15])
P_NEAR_1 = 1 - np.array([1e-12, 3e-13, 2.0**-50])


def regression_cases():
    pairs = {"differences of 1 ulp": (NEAR_ONE, np.ones(5)),
             "magnitudes 1e150": (BIG, BIG[::-1] / 3)}
    cases = []
    for name, arrays in pairs.items():
        cases += [
            Case("mse_loss", name, arrays, elementwise(lambda a, b: (a - b) ** 2),
                 lambda x, y: lb.mse_loss(x, y, reduction="none"),
                 lambda x, y: F.mse_loss(t(x), t(y), reduction="none").numpy(),
                 lambda x, y: 2 * gluon_values(gluon.loss.L2Loss(), x, y),
                 naive(lambda x, y: (x - y) ** 2)),
            Case("l1_loss", name, arrays, elementwise(lambda a, b: abs(a - b)),
                 lambda x, y: lb.l1_loss(x, y, reduction="none"),
                 lambda x, y: F.l1_loss(t(x), t(y), reduction="none").numpy(),
                 lambda x, y: gluon_values(gluon.loss.L1Loss(), x, y),
                 naive(lambda x, y: np.abs(x - y))),
            Case("huber_loss", name, arrays, elementwise(huber_exact),
                 lambda x, y: lb.huber_loss(x, y, reduction="none"),
                 lambda x, y: F.huber_loss(t(x), t(y), reduction="none").numpy(),
                 lambda x, y: gluon_values(gluon.loss.HuberLoss(rho=1.0), x, y),
                 naive(huber_textbook)),
            Case("smooth_l1_loss", name + ", beta=0.1", arrays,
                 elementwise(lambda a, b: huber_exact(a, b, 0.1) / mp.mpf(0.1)),
                 lambda x, y: lb.smooth_l1_loss(x, y, beta=0.1, reduction="none"),
                 lambda x, y: F.smooth_l1_loss(t(x), t(y), beta=0.1, reduction="none").numpy(),
                 lambda x, y: gluon_values(gluon.loss.HuberLoss(rho=0.1), x, y),
                 naive(lambda x, y: huber_textbook(x, y, 0.1) / 0.1)),
            Case("quantile_loss", name + ", q=0.1", arrays, elementwise(quantile_exact),
                 lambda x, y: lb.quantile_loss(x, y, q=0.1, reduction="none"),
                 quantile_torch, None, naive(quantile_textbook)),
        ]
    log_rates = np.array([-700.0, -30.0, 0.5, 30.0, 700.0])
    counts = np.array([0.0, 3.0, 1.0, 20.0, 1e300])
    matched = np.array([np.e, 3.0, 20.0, 1e6])
    log_rate_cases = {"log-rates +-700": (log_rates, counts),
                      "log-rate = log(count): the terms cancel": (np.log(matched), matched)}
    for name, arrays in log_rate_cases.items():
        cases.append(Case("poisson_nll_loss*", name, arrays, total(poisson_log_terms),
                          lambda x, c: lb.poisson_nll_loss(x, c, reduction="none"),
                          lambda x, c: F.poisson_nll_loss(t(x), t(c), reduction="none").numpy(),
                          lambda x, c: per_sample(gluon.loss.PoissonNLLLoss(), x, c),
                          naive(lambda x, c: np.exp(x) - c * x),
                          magnitudes(poisson_log_terms)))
    rates = np.array([1e-300, 1e-9, 1.0 - 1e-8, 1.0, 1e300])
    counts = np.array([2.0, 5.0, 1e8, 3.0, 1.0])
    cases.append(Case("poisson_nll_loss*", "rates, log(rate + 1e-8)", (rates, counts),
                      total(poisson_rate_terms),
                      lambda r, c: lb.poisson_nll_loss(r, c, log_input=False, reduction="none"),
                      lambda r, c: F.poisson_nll_loss(t(r), t(c), log_input=False,
                                                      reduction="none").numpy(),
                      lambda r, c: per_sample(gluon.loss.PoissonNLLLoss(from_logits=False), r, c),
                      naive(lambda r, c: r - c * np.log(r + 1e-8)),
                      magnitudes(poisson_rate_terms)))
    return cases


def binary_cases():
    cases = []
    probability_cases = {
        "p within 1e-12 of 0, y=0": (P_NEAR_0, np.zeros(3)),
        "p within 1e-12 of 1, y=1": (P_NEAR_1, np.ones(3)),
        "p within 1e-12 of 0, y=1": (P_NEAR_0, np.ones(3)),
        "p within 1e-12 of 1, soft y=0.3": (P_NEAR_1, np.full(3, 0.3)),
    }
    for name, arrays in probability_cases.items():
        cases.append(Case("binary_cross_entropy", name, arrays, elementwise(bce_exact),
                          lambda p, y: lb.binary_cross_entropy(p, y, reduction="none"),
                          lambda p, y: F.binary_cross_entropy(t(p), t(y), reduction="none").numpy(),
                          lambda p, y: gluon_values(gluon.loss.SigmoidBCELoss(from_sigmoid=True),
                                                    p, y),
                          naive(bce_textbook)))
    both_signs = np.concatenate([CONFIDENT, -CONFIDENT])
    logit_cases = {
        "confident and right, |z|=20..40": (both_signs, np.repeat([1.0, 0.0], 5)),
        "confident and wrong, |z|=20..40": (both_signs, np.repeat([0.0, 1.0], 5)),
        "logits +-1000, soft y=0.7": (HUGE_LOGITS, np.full(4, 0.7)),
        "soft y=1-2^-30, z=20..40": (CONFIDENT, np.full(5, 1 - 2.0**-30)),
    }
    for name, arrays in logit_cases.items():
        cases.append(Case("binary_cross_entropy_with_logits", name, arrays,
                          elementwise(bce_logits_exact),
                          lambda z, y: lb.binary_cross_entropy_with_logits(z, y, reduction="none"),
                          lambda z, y: F.binary_cross_entropy_with_logits(t(z), t(y),
                                                                          reduction="none").numpy(),
                          lambda z, y: gluon_values(gluon.loss.SigmoidBCELoss(), z, y),
                          naive(bce_logits_textbook)))
    return cases


def multiclass_cases():
    gap_rows = np.array([[g + 0.3, 0.3, 0.1, -1.7] for g in CONFIDENT])
    overflowing = np.array([[1000.0, 999.5, 998.0, -1000.0]] * 2)
    underflowing = np.array([[-1000.0, -1000.5, -1003.0, -1010.0]] * 2)
    row_cases = {
        "logit gap 20..40, right class": (gap_rows, np.zeros(5, dtype=int)),
        "logit gap 20..40, wrong class": (gap_rows, np.full(5, 3)),
        "exp overflows: (1000, 999.5, 998, -1000)": (overflowing, np.array([1, 3])),
        "exp underflows: (-1000, -1000.5, -1003, -1010)": (underflowing, np.array([0, 2])),
        "random logits, gap 37": (np.array([[37.123456789, 0.987654321, -2.5, 0.25]]),
                                  np.array([0])),
    }
    cases = []
    for name, arrays in row_cases.items():
        cases.append(Case("cross_entropy", name, arrays, cross_entropy_exact,
                          lambda z, y: lb.cross_entropy(z, y, reduction="none"),
                          lambda z, y: F.cross_entropy(t(z), t(y), reduction="none").numpy(),
                          lambda z, y: gluon_values(gluon.loss.SoftmaxCELoss(), z, y),
                          naive(cross_entropy_textbook)))
    probabilities = np.array([[0.7, 0.1, 0.1, 0.1], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25],
                              [0.5, 0.5, 0.0, 0.0], [0.9, 0.0, 0.0, 0.1]])
    cases.append(Case("cross_entropy", "class probabilities, gap 20..40", (gap_rows, probabilities),
                      soft_cross_entropy_exact,
                      lambda z, p: lb.cross_entropy(z, p, reduction="none"),
                      lambda z, p: F.cross_entropy(t(z), t(p), reduction="none").numpy(),
                      lambda z, p: gluon_values(gluon.loss.SoftmaxCELoss(sparse_label=False), z, p),
                      naive(soft_cross_entropy_textbook)))
    log_p = np.array([[-1e-18, -41.5, -45.0], [-1000.0, -1e-300, -700.0]])
    cases.append(Case("nll_loss", "log-probabilities -1e-300..-1000", (log_p, np.array([0, 2])),
                      lambda x, y: [-exact(row[c]) for row, c in zip(x, y)],
                      lambda x, y: lb.nll_loss(x, y, reduction="none"),
                      lambda x, y: F.nll_loss(t(x), t(y), reduction="none").numpy(),
                      lambda x, y: gluon_values(gluon.loss.SoftmaxCELoss(from_logits=True), x, y),
                      naive(lambda x, y: -x[np.arange(len(y)), y])))
    x = np.array([-1000.0, -50.0, -1e-12, -0.5, -27.0])
    target = np.array([1e-300, 1e-12, 1 - 1e-12, 0.6, 1e-12])
    matched = np.array([1e-12, 0.3, 0.5, 1 - 1e-12])
    kl_cases = {"targets within 1e-12 of 0 and 1": (x, target),
                "input = log(target): the terms cancel": (np.log(matched), matched)}
    for name, arrays in kl_cases.items():
        cases.append(Case("kl_div*", name, arrays, total(kl_terms),
                          lambda x, p: lb.kl_div(x, p, reduction="none"),
                          lambda x, p: F.kl_div(t(x), t(p), reduction="none").numpy(),
                          lambda x, p: gluon_values(gluon.loss.KLDivLoss(), x, p),
                          naive(lambda x, p: p * (np.log(p) - x)),
                          magnitudes(kl_terms)))
    cases.append(Case("kl_div", "log_target=True, targets near 0 and 1", (x, np.log(target)),
                      elementwise(lambda a, s: mp.exp(s) * (s - a)),
                      lambda x, s: lb.kl_div(x, s, reduction="none", log_target=True),
                      lambda x, s: F.kl_div(t(x), t(s), reduction="none", log_target=True).numpy(),
                      None,
                      naive(lambda x, s: np.exp(s) * (s - x))))
    return cases


def margin_cases():
    scores = np.concatenate([CONFIDENT, HUGE_LOGITS])
    labels = np.concatenate([np.ones(5), [1.0, -1.0, -1.0, 1.0]])
    near = np.array([1 - 2.0**-52, 1 + 2.0**-52, 0.999999, 1e-300])
    return [
        Case("soft_margin_loss", "margins 20..40 and +-1000", (scores, labels),
             elementwise(lambda x, y: softplus_exact(-x * y)),
             lambda x, y: lb.soft_margin_loss(x, y, reduction="none"),
             lambda x, y: F.soft_margin_loss(t(x), t(y), reduction="none").numpy(),
             lambda x, y: gluon_values(gluon.loss.LogisticLoss(), x, y),
             naive(lambda x, y: np.log(1 + np.exp(-y * x)))),
        Case("hinge_loss", "margins within 1 ulp of 1", (near, np.ones(4)),
             elementwise(lambda x, y: max(1 - x * y, 0)),
             lambda x, y: lb.hinge_loss(x, y, reduction="none"),
             lambda x, y: torch.clamp(1 - t(y) * t(x), min=0).numpy(),
             lambda x, y: gluon_values(gluon.loss.HingeLoss(), x, y),
             naive(lambda x, y: np.maximum(0, 1 - x * y))),
        Case("squared_hinge_loss", "margins within 1 ulp of 1", (near, np.ones(4)),
             elementwise(lambda x, y: max(1 - x * y, 0) ** 2),
             lambda x, y: lb.squared_hinge_loss(x, y, reduction="none"),
             lambda x, y: (torch.clamp(1 - t(y) * t(x), min=0) ** 2).numpy(),
             lambda x, y: gluon_values(gluon.loss.SquaredHingeLoss(), x, y),
             naive(lambda x, y: np.maximum(0, 1 - x * y) ** 2)),
    ]


COLUMNS = ("lossbook", "torch", "gluon", "textbook")


def evaluate(case):
    """The relative error of each implementation on a case (None: no such loss)."""
    reference = case.exact(*case.arrays)
    scale = None if case.scale is None else case.scale(*case.arrays)
    errors = {}
    for column in COLUMNS:
        function = getattr(case, column)
        if function is None:
            errors[column] = None
            continue
        try:
            errors[column] = relative_error(function(*case.arrays), reference, scale)
        except NotFloat64 as dtype:
            errors[column] = f"{dtype} only"
    return errors


def cell(error):
    if error is None:
        return "n/a"
    if isinstance(error, str):
        return error
    if error == 0:
        return "0"
    if np.isinf(error):
        return "inf"
    return f"{error:.1e}"


def main():
    cases = regression_cases() + binary_cases() + multiclass_cases() + margin_cases()
    header = f"{'loss':34s} {'case':46s} " + " ".join(f"{c:>9s}" for c in COLUMNS)
    print(__doc__.split("\n\n")[0])
    print("(float64 everywhere; gluon via nd.array(..., dtype='float64'), its output dtype")
    print(" checked: a cell would read 'float32 only' if a gluon loss could not run in float64;")
    print(" n/a: the framework has no such loss)\n")
    print(header)
    print("-" * len(header))
    worst = dict.fromkeys(COLUMNS, 0.0)
    for case in cases:
        errors = evaluate(case)
        for column, error in errors.items():
            if isinstance(error, float):
                worst[column] = max(worst[column], error)
        cells = " ".join(f"{cell(errors[c]):>9s}" for c in COLUMNS)
        print(f"{case.loss:34s} {case.case:46s} {cells}")
    print("-" * len(header))
    print(f"{'worst':34s} {'':46s} " + " ".join(f"{cell(worst[c]):>9s}" for c in COLUMNS))
    print(f"\n2 ulp = 2 * eps = {2 * EPS:.2e}; * = error relative to the sum of the terms' sizes.")


if __name__ == "__main__":
    main()

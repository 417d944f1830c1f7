"""Every number the softmax and cross-entropy chapter states or relies on, checked independently.

Each test pins one claim of book/softmax_cross_entropy.md against a source
other than lossbook itself: mpmath at 50 significant digits, a value derived by
hand (the derivation is in a comment), PyTorch or MXNet gluon. The chapter's
own structure (glue keys, glossary terms, citations) is checked at the end.
"""

import math
import re
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

import lossbook as lb
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTER = (REPO_ROOT / "book" / "softmax_cross_entropy.md").read_text()

mpmath.mp.dps = 50

CLASSIC = np.array([[10.0, 20.0, 40.0, 5.0]])
PAIR = np.array([[1.0, 10.0], [8.0, 2.0]])
PAIR_LABELS = np.array([0, 1])
F = torch.nn.functional


def exact_cross_entropy(row, label):
    """log(sum(exp(z))) - z[label] by mpmath."""
    row = [mpmath.mpf(float(v)) for v in row]
    return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row)) - row[label]


def ulps(value, exact):
    """Distance of a double from an mpmath number, in units of the double's last place."""
    return abs((mpmath.mpf(value) - exact) / mpmath.mpf(np.spacing(value)))


def nd64(array):
    """A float64 NDArray, as the chapter builds them."""
    return nd.array(np.asarray(array, dtype=np.float64), dtype="float64")


# The softmax.


def test_softmax_of_one_to_five_matches_mpmath():
    """softmax([1..5]) is e^c / sum_j e^j to the last bit or so, in (0, 1), summing to 1."""
    scores = np.arange(1.0, 6.0)
    total = mpmath.fsum(mpmath.exp(j) for j in range(1, 6))
    exact = [mpmath.exp(c) / total for c in range(1, 6)]
    probabilities = lb.softmax(scores)
    for value, truth in zip(probabilities, exact):
        assert ulps(float(value), truth) <= 2
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert f"{probabilities.sum():.6f}" == "1.000000"
    # The chapter's prose: the smallest is 0.0117 and the largest 0.6364 to four places.
    assert f"{float(exact[0]):.4f}" == "0.0117" and f"{float(exact[-1]):.4f}" == "0.6364"


def test_adding_a_constant_changes_nothing_for_these_scores():
    """softmax(z + 1000) equals softmax(z) exactly for z = 1..5, as torch also finds."""
    # (z + 1000) - 1005 is computed exactly in binary, so the shifted logits are identical.
    scores = np.arange(1.0, 6.0)
    assert np.max(np.abs(lb.softmax(scores + 1000.0) - lb.softmax(scores))) == 0.0
    assert_allclose(torch.softmax(torch.tensor(scores + 1000.0), 0).numpy(), lb.softmax(scores), rtol=1e-15)


def test_temperature_figure_claims():
    """At T = 0.5 the largest score takes most of the mass; at T = 5 it is much flatter; order is kept."""
    scores = np.arange(1.0, 6.0)
    sharp = torch.softmax(torch.tensor(scores / 0.5), 0).numpy()
    flat = torch.softmax(torch.tensor(scores / 5.0), 0).numpy()
    assert sharp[-1] > 0.5
    assert flat.max() - flat.min() < 0.25 < sharp.max() - sharp.min()
    for T in (0.5, 1.0, 2.0, 5.0):
        assert np.all(np.diff(lb.softmax(scores / T)) > 0)


# The classic examples.


def test_classic_label_1_is_about_twenty_in_all_three():
    """z = (10, 20, 40, 5), label 1: 20.0000000020612... in lossbook, torch and gluon (float64)."""
    exact = exact_cross_entropy(CLASSIC[0], 1)
    assert abs(exact - 20) < 3e-9  # 20 + log(1 + e^-20 + ...) - ... : about 20 + e^-20
    ours = float(lb.cross_entropy(CLASSIC, np.array([1])))
    theirs = F.cross_entropy(torch.tensor(CLASSIC), torch.tensor([1])).item()
    glue_value = gluon.loss.SoftmaxCrossEntropyLoss()(nd64(CLASSIC), nd64([1])).asscalar()
    for value in (ours, theirs, glue_value):
        assert f"{value:.10f}" == f"{float(exact):.10f}" == "20.0000000021"


def test_classic_label_2_lossbook_has_all_sixteen_digits():
    """z = (10, 20, 40, 5), label 2: lossbook matches mpmath to 16 significant digits, within one ulp."""
    exact = exact_cross_entropy(CLASSIC[0], 2)
    ours = float(lb.cross_entropy(CLASSIC, np.array([2])))
    assert f"{ours:.15e}" == f"{float(exact):.15e}" == "2.061247827055551e-09"
    assert ulps(ours, exact) < 1
    assert abs((mpmath.mpf(ours) - exact) / exact) < 2e-16  # the relative error the prose shows


def test_classic_label_2_frameworks_have_eight_digits():
    """torch and gluon (float64) agree with each other and with the truth to 8 digits, not 9."""
    exact = float(exact_cross_entropy(CLASSIC[0], 2))
    theirs = F.cross_entropy(torch.tensor(CLASSIC), torch.tensor([2])).item()
    glue_value = float(gluon.loss.SoftmaxCrossEntropyLoss()(nd64(CLASSIC), nd64([2])).asscalar())
    assert theirs == glue_value
    relative = abs(theirs - exact) / exact
    assert 1e-9 < relative < 1e-8


def test_log_of_one_plus_s_reproduces_the_frameworks_and_log1p_keeps_the_digits():
    """np.log(1 + s) is torch's value bit for bit; np.log1p(s) is within 1 ulp of the truth."""
    # s = e^-20 + e^-30 + e^-35 and the loss for label 2 is log(1 + s), since m = z_2 = 40.
    s = np.exp(-20.0) + np.exp(-30.0) + np.exp(-35.0)
    assert np.log(1.0 + s) == F.cross_entropy(torch.tensor(CLASSIC), torch.tensor([2])).item()
    assert ulps(float(np.log1p(s)), exact_cross_entropy(CLASSIC[0], 2)) < 1


def test_classic_label_2_in_float32():
    """float32: lossbook keeps 2.0612478e-09, torch rounds to 0, gluon goes negative (about -1.4e-6)."""
    logits32 = CLASSIC.astype(np.float32)
    exact32 = np.float32(float(exact_cross_entropy(CLASSIC[0], 2)))
    assert lb.cross_entropy(logits32, np.array([2])) == exact32
    assert F.cross_entropy(torch.tensor(logits32), torch.tensor([2])).item() == 0.0
    from_gluon = gluon.loss.SoftmaxCrossEntropyLoss()(nd.array(logits32), nd.array([2])).asscalar().item()
    assert -1e-5 < from_gluon < -1e-7
    # The chapter attributes it to MXNet's float32 log_softmax: a positive log-probability.
    assert nd.log_softmax(nd.array(logits32)).asnumpy()[0, 2] > 0


def test_pair_per_example_losses_and_mean():
    """[[1, 10], [8, 2]], labels [0, 1]: 9 + log(1 + e^-9), 6 + log(1 + e^-6), mean 7.5012995."""
    # Row 0: logsumexp(1, 10) - 1 = 10 + log(1 + e^-9) - 1; row 1: logsumexp(8, 2) - 2 = 6 + log(1 + e^-6).
    first = 9 + mpmath.log1p(mpmath.exp(-9))
    second = 6 + mpmath.log1p(mpmath.exp(-6))
    losses = lb.cross_entropy(PAIR, PAIR_LABELS, reduction="none")
    assert ulps(float(losses[0]), first) <= 2 and ulps(float(losses[1]), second) <= 2
    assert f"{float(first):.7f}" == "9.0001234" and f"{float(second):.7f}" == "6.0024757"
    mean = (first + second) / 2
    assert f"{float(mean):.7f}" == "7.5012995"
    assert_allclose(F.cross_entropy(torch.tensor(PAIR), torch.tensor(PAIR_LABELS)).item(), float(mean), rtol=1e-15)
    per_example = gluon.loss.SoftmaxCrossEntropyLoss()(nd64(PAIR), nd64(PAIR_LABELS)).asnumpy()
    assert_allclose(per_example, [float(first), float(second)], rtol=1e-15)


def test_compare_tables_agree_with_torch_and_gluon():
    """The four comparisons the tabs show have torch and gluon rows within 1e-12 of lossbook's."""
    pair = lb.catalog.Batch(PAIR, PAIR_LABELS)
    tables = [
        lb.frameworks.compare("cross_entropy", pair),
        lb.frameworks.compare("nll", lb.catalog.Batch(lb.log_softmax(PAIR), PAIR_LABELS)),
        lb.frameworks.compare("cross_entropy_probs"),
        lb.frameworks.compare("kl_div"),
    ]
    for table in tables:
        assert list(table.index) == ["lossbook", "torch", "gluon"]
        assert table["max_abs_diff"].max() < 1e-12
    assert_allclose(tables[1].loc["torch", "value"], tables[0].loc["torch", "value"], rtol=1e-15)


# gluon's and torch's packaging.


def test_gluon_from_logits_true_on_raw_scores_returns_minus_the_true_logit():
    """from_logits=True on raw scores gives -z_y = [-1, -2]; on log_softmax it gives the loss."""
    wrong = gluon.loss.SoftmaxCrossEntropyLoss(from_logits=True)(nd64(PAIR), nd64(PAIR_LABELS)).asnumpy()
    assert np.array_equal(wrong, [-1.0, -2.0])
    fixed = gluon.loss.SoftmaxCrossEntropyLoss(from_logits=True)(nd.log_softmax(nd64(PAIR)), nd64(PAIR_LABELS))
    expected = F.cross_entropy(torch.tensor(PAIR), torch.tensor(PAIR_LABELS), reduction="none").numpy()
    assert_allclose(fixed.asnumpy(), expected, rtol=1e-15)


def test_cross_entropy_is_log_softmax_then_nll_loss():
    """torch: cross_entropy(z) == nll_loss(log_softmax(z)) == mean of the picked -log p."""
    z, y = torch.tensor(PAIR), torch.tensor(PAIR_LABELS)
    log_p = torch.log_softmax(z, dim=1)
    picked = -log_p[torch.arange(2), y]
    assert F.nll_loss(log_p, y).item() == F.cross_entropy(z, y).item()
    assert_allclose(picked.mean().item(), F.cross_entropy(z, y).item(), rtol=1e-15)


def test_catalog_porting_facts_for_the_three_spellings():
    """The catalog maps from_logits=False to CrossEntropyLoss and from_logits=True to NLLLoss."""
    table = lb.catalog.table()
    assert "from_logits=False" in table.loc["cross_entropy", "gluon"]
    assert "CrossEntropyLoss" in table.loc["cross_entropy", "torch"]
    assert "sparse_label=False" in table.loc["cross_entropy_probs", "gluon"]
    assert "from_logits=True" in table.loc["nll", "gluon"] and "NLLLoss" in table.loc["nll", "torch"]


# Stability.


def test_floating_point_limits():
    """exp overflows above 709.8 (float64) and 88.7 (float32); the smallest doubles are 2^-1074 and 2^-149."""
    assert f"{math.log(np.finfo(np.float64).max):.1f}" == "709.8"  # log((2 - 2^-52) 2^1023)
    assert f"{math.log(float(np.finfo(np.float32).max)):.1f}" == "88.7"  # log((2 - 2^-23) 2^127)
    assert np.finfo(np.float64).smallest_subnormal == 2.0**-1074
    assert np.finfo(np.float32).smallest_subnormal == np.float32(2.0**-149)
    assert f"{2.0**-1074:.1e}" == "4.9e-324"


def naive(z, y, shift):
    """Softmax then log, optionally after the shift by the maximum, as the chapter writes it."""
    if shift:
        z = z - z.max(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y])[0]


@pytest.mark.parametrize(
    "logits, label, unshifted, shifted, exact",
    [
        # Row 1: exp(1000) = inf, inf/inf = nan; shifted, p = 1/(1 + e^-1000) = 1 and -log 1 = 0.
        ([1000.0, 0.0], 0, np.nan, 0.0, 0.0),
        # Row 2: e^-800 underflows to 0 with or without the shift; the loss is 800 + log1p(e^-800) = 800.
        ([0.0, -800.0], 1, np.inf, np.inf, 800.0),
        # Row 3: p_1 = 1/inf = 0 unshifted, e^-1000 = 0 shifted; the loss is 1000.
        ([1000.0, 0.0], 1, np.inf, np.inf, 1000.0),
    ],
)
def test_naive_routes_fail_and_the_fused_form_does_not(logits, label, unshifted, shifted, exact):
    """The stability table: naive nan/inf/inf, shifted 0/inf/inf, fused (lossbook and torch) 0/800/1000."""
    z, y = np.array([logits]), np.array([label])
    assert_allclose(naive(z, y, shift=False), unshifted)
    assert_allclose(naive(z, y, shift=True), shifted)
    assert lb.cross_entropy(z, y) + 0.0 == exact
    assert F.cross_entropy(torch.tensor(z), torch.tensor(y)).item() + 0.0 == exact


# Gradients.


def test_gradient_is_softmax_minus_one_hot_by_both_autograds():
    """On the pair, lossbook's gradient, torch autograd and mxnet autograd all equal softmax - onehot."""
    # Row 0: p_0 = 1 / (1 + e^9), so the gradient on the true logit is p_0 - 1 = -e^9 / (1 + e^9).
    exact_true = -mpmath.exp(9) / (1 + mpmath.exp(9))
    assert f"{float(exact_true):.6f}" == "-0.999877"
    formula = np.array(
        [[float(exact_true), float(-exact_true)], [float(1 / (1 + mpmath.exp(-6))), float(-1 / (1 + mpmath.exp(-6)))]]
    )
    z = torch.tensor(PAIR, requires_grad=True)
    F.cross_entropy(z, torch.tensor(PAIR_LABELS), reduction="sum").backward()
    z_nd = nd64(PAIR)
    z_nd.attach_grad()
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(z_nd, nd64(PAIR_LABELS))
    loss.backward()
    for gradient in (lb.cross_entropy_grad(PAIR, PAIR_LABELS, reduction="sum"), z.grad.numpy(), z_nd.grad.asnumpy()):
        assert_allclose(gradient, formula, rtol=0, atol=1e-15)


def test_squared_error_gradient_vanishes_where_cross_entropy_does_not():
    """Two classes, gap -10: p_0 = 4.5e-5, CE gradient -0.99995, squared-error gradient -1.8e-4."""
    # p_0 = sigmoid(-10). CE: d/dz_0 = p_0 - 1. SE on p: L = 2 (1 - p_0)^2 and dp_0/dz_0 = p_0 (1 - p_0),
    # so dL/dz_0 = -4 (1 - p_0)^2 p_0.
    p0 = 1 / (1 + mpmath.exp(10))
    assert f"{float(p0):.1e}" == "4.5e-05"
    assert f"{float(p0 - 1):.5f}" == "-0.99995"
    se = -4 * (1 - p0) ** 2 * p0
    assert f"{float(se):.1e}" == "-1.8e-04"
    z = torch.tensor([[-10.0, 0.0]], dtype=torch.float64, requires_grad=True)
    ((torch.softmax(z, 1) - torch.tensor([[1.0, 0.0]], dtype=torch.float64)) ** 2).sum().backward()
    assert_allclose(z.grad[0, 0].item(), float(se), rtol=1e-12)
    # The chapter samples the gap on a grid; the point nearest -10 gives the same digits.
    gap = np.linspace(-12.0, 12.0, 241)
    at = np.argmin(np.abs(gap + 10.0))
    p = lb.softmax(np.array([[gap[at], 0.0]]))
    assert f"{p[0, 0] - 1:.5f}" == "-0.99995"


def test_squared_error_on_probabilities_levels_off_at_two():
    """The caption: squared error on p tends to 2 as the model becomes confidently wrong."""
    # 2 (1 - sigmoid(gap))^2 -> 2 as gap -> -inf.
    p = torch.softmax(torch.tensor([[-12.0, 0.0]], dtype=torch.float64), 1)
    loss = ((p - torch.tensor([[1.0, 0.0]], dtype=torch.float64)) ** 2).sum().item()
    assert 1.999 < loss < 2.0


# Labels.


def test_one_hot_targets_equal_class_indices():
    """torch with one-hot float targets, and gluon with sparse_label=False, equal the class-index loss."""
    one_hot = np.eye(2)[PAIR_LABELS]
    as_index = F.cross_entropy(torch.tensor(PAIR), torch.tensor(PAIR_LABELS)).item()
    as_probs = F.cross_entropy(torch.tensor(PAIR), torch.tensor(one_hot)).item()
    assert as_index == as_probs
    dense = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)(nd64(PAIR), nd64(one_hot)).asnumpy()
    assert_allclose(dense.mean(), as_index, rtol=1e-15)


def test_label_smoothing_torch_equals_gluon_by_hand():
    """eps = 0.1: example 0's loss drops from 9.0001 to 8.5501 in torch, gluon-by-hand and the formula."""
    # (1 - eps) * (9 + log1p(e^-9)) + eps / 2 * ((9 + log1p(e^-9)) + log1p(e^-9)).
    eps = 0.1
    a = mpmath.log1p(mpmath.exp(-9))
    first = (1 - mpmath.mpf(eps)) * (9 + a) + mpmath.mpf(eps) / 2 * ((9 + a) + a)
    assert f"{float(first):.4f}" == "8.5501"
    smoothed = (1 - eps) * np.eye(2)[PAIR_LABELS] + eps / 2
    builtin = F.cross_entropy(torch.tensor(PAIR), torch.tensor(PAIR_LABELS), label_smoothing=eps, reduction="none").numpy()
    by_hand = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)(nd64(PAIR), nd64(smoothed)).asnumpy()
    assert_allclose(builtin[0], float(first), rtol=1e-14)
    assert_allclose(by_hand, builtin, rtol=1e-14)
    ours = lb.cross_entropy(PAIR, PAIR_LABELS, label_smoothing=eps, reduction="none")
    assert np.max(np.abs(ours - builtin)) < 1e-14


# Entropy, cross-entropy and KL divergence.


def chapter_distributions():
    """The chapter's two soft targets and predicted log-probabilities (seed 0)."""
    rng = np.random.default_rng(0)
    target = lb.softmax(rng.standard_normal((2, 4)))
    logits = rng.standard_normal((2, 4))
    return target, logits


def test_cross_entropy_is_entropy_plus_kl():
    """H(t, q) = H(t) + KL(t || q), by mpmath, and lossbook's H(t, q) matches torch's."""
    target, logits = chapter_distributions()
    for t_row, z_row in zip(target, logits):
        t = [mpmath.mpf(float(v)) for v in t_row]
        z = [mpmath.mpf(float(v)) for v in z_row]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z))
        log_q = [v - lse for v in z]
        entropy = -mpmath.fsum(a * mpmath.log(a) for a in t)
        cross = -mpmath.fsum(a * b for a, b in zip(t, log_q))
        kl = mpmath.fsum(a * (mpmath.log(a) - b) for a, b in zip(t, log_q))
        assert abs(cross - (entropy + kl)) < mpmath.mpf(10) ** -40
    assert_allclose(
        lb.cross_entropy(logits, target, reduction="none"),
        F.cross_entropy(torch.tensor(logits), torch.tensor(target), reduction="none").numpy(),
        rtol=1e-14,
    )


def test_mean_divides_kl_by_the_number_of_classes_and_batchmean_does_not():
    """Splitting each class in two keeps KL and batchmean, halves torch's 'mean'; gluon matches batchmean."""
    target, logits = chapter_distributions()
    log_q = lb.log_softmax(logits)
    split_t = np.repeat(target / 2, 2, axis=1)
    split_log_q = np.repeat(log_q - np.log(2.0), 2, axis=1)
    by_definition = (target * (np.log(target) - log_q)).sum(axis=1).mean()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for lq, t, classes in ((log_q, target, 4), (split_log_q, split_t, 8)):
            batchmean = F.kl_div(torch.tensor(lq), torch.tensor(t), reduction="batchmean").item()
            mean = F.kl_div(torch.tensor(lq), torch.tensor(t), reduction="mean").item()
            assert_allclose(batchmean, by_definition, rtol=1e-13)
            assert_allclose(mean, by_definition / classes, rtol=1e-13)
            per_example = gluon.loss.KLDivLoss()(nd64(lq), nd64(t)).asnumpy()
            assert_allclose(per_example.mean(), by_definition, rtol=1e-10)
    assert any("batchmean" in str(w.message) for w in caught)  # torch warns about 'mean'


# The exercises.


def test_two_class_cross_entropy_is_bce_on_the_logit_difference():
    """Exercise 1: CE of (z0, z1) with label y equals torch's BCE-with-logits of z1 - z0."""
    rng = np.random.default_rng(1)
    z = 3.0 * rng.standard_normal((6, 2))
    y = rng.integers(0, 2, 6)
    bce = F.binary_cross_entropy_with_logits(torch.tensor(z[:, 1] - z[:, 0]), torch.tensor(y, dtype=torch.float64), reduction="none")
    assert_allclose(lb.cross_entropy(z, y, reduction="none"), bce.numpy(), rtol=1e-13)


def test_temperature_gradient_is_scaled_by_one_over_t():
    """Exercise 2: the gradient of CE of softmax(z / T) is (softmax(z / T) - onehot(y)) / T."""
    T = 4.0
    z = torch.tensor(PAIR, requires_grad=True)
    F.cross_entropy(z / T, torch.tensor(PAIR_LABELS), reduction="sum").backward()
    formula = (torch.softmax(torch.tensor(PAIR) / T, 1).numpy() - np.eye(2)[PAIR_LABELS]) / T
    assert_allclose(z.grad.numpy(), formula, rtol=0, atol=1e-16)


def test_label_smoothing_floor_is_the_entropy_of_the_smoothed_target():
    """Exercise 3: eps = 0.1, C = 10: floor H(t) = 0.50029 at a logit gap of log 91 = 4.5109."""
    # t = 0.91 on the true class and 0.01 on the nine others; the gap is log(0.91 / 0.01) = log 91.
    floor = -(mpmath.mpf("0.91") * mpmath.log(mpmath.mpf("0.91")) + 9 * mpmath.mpf("0.01") * mpmath.log(mpmath.mpf("0.01")))
    gap = math.log(91.0)
    logits = np.where(np.arange(10) == 3, gap, 0.0)[None, :]
    at_best = F.cross_entropy(torch.tensor(logits), torch.tensor([3]), label_smoothing=0.1).item()
    assert_allclose(at_best, float(floor), rtol=1e-14)
    nearby = F.cross_entropy(torch.tensor(logits * 1.01), torch.tensor([3]), label_smoothing=0.1).item()
    assert nearby > at_best


# The chapter's structure.


def glue_keys_defined():
    """Every glue key the chapter's code creates, with f-string patterns expanded for its loops."""
    keys = set(re.findall(r'glue\(\s*"(softmax-ce-[\w-]+)"', CHAPTER))
    for label in (1, 2):
        for name in ("lossbook", "torch", "gluon"):
            keys |= {f"softmax-ce-classic-{label}-{name}", f"softmax-ce-classic-{label}-{name}-relerr"}
        keys.add(f"softmax-ce-classic-{label}-exact")
    keys |= {f"softmax-ce-float32-{name}" for name in ("lossbook", "torch", "gluon")}
    keys |= {f"softmax-ce-{kind}-{bits}" for kind in ("overflow", "tiny") for bits in (32, 64)}
    for name in re.findall(r'glue_tabs\("(\w+)"', CHAPTER):
        keys |= {f"softmax-ce-{name}-{framework}" for framework in ("gluon", "torch", "lossbook")}
    return keys


def test_every_glued_number_in_the_prose_is_glued_by_a_cell():
    """Each {glue:text} and {glue:} key the page shows is created by one of its code cells."""
    used = set(re.findall(r"\{glue:text\}`(softmax-ce-[\w-]+)", CHAPTER))
    used |= set(re.findall(r"\{glue:\} (softmax-ce-[\w-]+)", CHAPTER))
    assert used, "no glued values"
    assert used <= glue_keys_defined(), sorted(used - glue_keys_defined())


def test_glossary_terms_and_citations_exist():
    """Every {term} the chapter links is in the glossary and every cited key is in references.bib."""
    glossary = (REPO_ROOT / "book" / "glossary.md").read_text()
    terms = {line.strip().lower() for line in glossary.splitlines() if line and not line.startswith((" ", "`", "#", "(", "-"))}
    for link in re.findall(r"\{term\}`([^`]+)`", CHAPTER):
        target = re.search(r"<([^>]+)>", link)
        assert (target.group(1) if target else link).lower() in terms, link
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    for group in re.findall(r"\{cite(?::t)?\}`([^`]+)`", CHAPTER):
        for key in group.split(","):
            assert re.search(r"@\w+\{" + re.escape(key.strip()) + ",", bib), key

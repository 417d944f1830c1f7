"""Every number the softmax and cross-entropy chapter states, checked independently.

The values the chapter glues are read from the notebook the book build executed
and compared with mpmath at 50 significant digits, a value derived by hand
(the derivation is in a comment), or PyTorch and MXNet gluon called here.
lossbook appears only as the thing being checked.
"""

import math
import warnings

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from executed_pages import glued_values
import lossbook as lb
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

mpmath.mp.dps = 50
F = torch.nn.functional
CLASSIC = np.array([[10.0, 20.0, 40.0, 5.0]])
PAIR = np.array([[1.0, 10.0], [8.0, 2.0]])
PAIR_LABELS = np.array([0, 1])
# The pair's exact losses: row 0 is logsumexp(1, 10) - 1 = 9 + log(1 + e^-9), row 1 is 6 + log(1 + e^-6).
PAIR_EXACT = [9 + mpmath.log1p(mpmath.exp(-9)), 6 + mpmath.log1p(mpmath.exp(-6))]


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, by key without the chapter's prefix."""
    values = glued_values("softmax_cross_entropy")
    return {key.removeprefix("softmax-ce-"): value for key, value in values.items()}


def as64(values):
    """A float64 NDArray."""
    return frameworks.as_float64(values, "mxnet")


def exact_cross_entropy(row, label):
    """log(sum(exp(z))) - z[label] by mpmath."""
    row = [mpmath.mpf(float(v)) for v in row]
    return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row)) - row[label]


def ulps(value, exact):
    """Distance of a double from an mpmath number, in units of the double's last place."""
    return abs((mpmath.mpf(value) - exact) / mpmath.mpf(np.spacing(value)))


def chapter_distributions():
    """The chapter's two soft targets and their predicted log-probabilities (seed 0), by mpmath."""
    rng = np.random.default_rng(0)
    t_logits, z = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    target = np.exp(t_logits) / np.exp(t_logits).sum(axis=1, keepdims=True)
    log_q = np.array([[float(v - mpmath.log(mpmath.fsum(mpmath.exp(u) for u in row))) for v in row]
                      for row in [[mpmath.mpf(float(x)) for x in r] for r in z]])
    return target, z, log_q


# The softmax.


def test_softmax_of_one_to_five(glued):
    """softmax([1..5]) runs from e / S to e^5 / S, S = e + ... + e^5, and sums to 1."""
    total = mpmath.fsum(mpmath.exp(j) for j in range(1, 6))
    assert glued["p-min"] == pytest.approx(float(mpmath.e / total), rel=4e-16)
    assert glued["p-max"] == pytest.approx(float(mpmath.exp(5) / total), rel=4e-16)
    assert glued["p-sum"] == pytest.approx(1.0, abs=4e-16)


def test_adding_a_constant_changes_nothing_for_these_scores(glued):
    """softmax(z + 1000) equals softmax(z) exactly for z = 1..5; torch agrees with the unshifted softmax."""
    # (z + 1000) - 1005 is computed exactly in binary, so the shifted logits are identical.
    assert glued["shift-diff"] == 0.0
    scores = np.arange(1.0, 6.0)
    assert_allclose(torch.softmax(torch.tensor(scores + 1000.0), 0).numpy(),
                    torch.softmax(torch.tensor(scores), 0).numpy(), rtol=1e-15)


def test_temperature_figure_claims():
    """At T = 0.5 the largest score takes most of the mass; at T = 5 it is much flatter; order is kept."""
    scores = torch.arange(1.0, 6.0, dtype=torch.float64)
    sharp, flat = torch.softmax(scores / 0.5, 0), torch.softmax(scores / 5.0, 0)
    assert sharp[-1] > 0.5 and flat.max() - flat.min() < 0.25 < sharp.max() - sharp.min()
    for T in (0.5, 1.0, 2.0, 5.0):
        assert torch.all(torch.diff(torch.softmax(scores / T, 0)) > 0)


# The classic examples.


def test_classic_exact_values(glued):
    """z = (10, 20, 40, 5): the glued exact losses are mpmath's, about 20 + e^-20 and log(1 + s)."""
    assert glued["classic-1-exact"] == float(exact_cross_entropy(CLASSIC[0], 1))
    assert glued["classic-2-exact"] == float(exact_cross_entropy(CLASSIC[0], 2))
    assert f"{glued['classic-1-exact']:.10f}" == "20.0000000021"  # 20 + e^-20 - e^-30 ... to ten places


def test_classic_relative_errors(glued):
    """Label 2 in float64: lossbook within 1 ulp of the truth, torch and gluon to 8 digits and not 9."""
    exact = exact_cross_entropy(CLASSIC[0], 2)
    torch_value = F.cross_entropy(torch.tensor(CLASSIC), torch.tensor([2])).item()
    gluon_value = gluon.loss.SoftmaxCrossEntropyLoss()(as64(CLASSIC), as64([2])).asscalar()
    assert torch_value == gluon_value
    relative = float(abs((mpmath.mpf(torch_value) - exact) / exact))
    assert 1e-9 < relative < 1e-8
    assert glued["classic-2-torch-relerr"] == pytest.approx(relative, rel=1e-12)
    assert glued["classic-2-gluon-relerr"] == pytest.approx(relative, rel=1e-12)
    assert glued["classic-2-lossbook-relerr"] < 2.0**-52
    assert ulps(float(lb.cross_entropy(CLASSIC, np.array([2]))), exact) < 1


def test_classic_in_float32(glued):
    """float32: lossbook keeps float32(exact), torch rounds to 0, gluon goes negative, and is 19.999998 for label 1."""
    exact = float(exact_cross_entropy(CLASSIC[0], 2))
    assert glued["float32-lossbook"] == float(np.float32(exact))
    assert glued["float32-torch"] == F.cross_entropy(torch.tensor(CLASSIC, dtype=torch.float32), torch.tensor([2])).item() == 0.0
    gluon_ce = gluon.loss.SoftmaxCrossEntropyLoss()
    gluon2 = float(gluon_ce(nd.array(CLASSIC), nd.array([2])).asscalar())
    assert glued["float32-gluon"] == gluon2 and -1e-5 < gluon2 < -1e-7
    assert glued["gluon32-label1"] == float(gluon_ce(nd.array(CLASSIC), nd.array([1])).asscalar())
    assert glued["gluon32-label1"] == pytest.approx(20.0, abs=4 * float(np.spacing(np.float32(20))))
    assert glued["float32-gap"] == pytest.approx(abs(gluon2 - exact), rel=1e-15)


def test_mxnet_float32_log_softmax_gives_the_top_class_a_positive_log_probability():
    """The dropdown's cause: nd.log_softmax in float32 returns log p > 0 for the winning class."""
    assert nd.log_softmax(nd.array(CLASSIC)).asnumpy()[0, 2] > 0


def test_log_of_one_plus_s_is_torch_and_log1p_keeps_the_digits():
    """np.log(1 + s) is torch's float64 value bit for bit; np.log1p(s) is within 1 ulp of the truth."""
    # s = e^-20 + e^-30 + e^-35 and the loss for label 2 is log(1 + s), since m = z_2 = 40.
    s = np.exp(-20.0) + np.exp(-30.0) + np.exp(-35.0)
    assert np.log(1.0 + s) == F.cross_entropy(torch.tensor(CLASSIC), torch.tensor([2])).item()
    assert ulps(float(np.log1p(s)), exact_cross_entropy(CLASSIC[0], 2)) < 1


def test_pair_per_example_losses_and_mean(glued):
    """[[1, 10], [8, 2]], labels [0, 1]: 9 + log(1 + e^-9), 6 + log(1 + e^-6) and their mean, in all three."""
    assert ulps(glued["pair-0"], PAIR_EXACT[0]) <= 1 and ulps(glued["pair-1"], PAIR_EXACT[1]) <= 1
    mean = (PAIR_EXACT[0] + PAIR_EXACT[1]) / 2
    assert glued["pair-mean"] == pytest.approx(float(mean), rel=2e-16)
    assert glued["nll-mean"] == pytest.approx(float(mean), rel=2e-16)
    assert F.cross_entropy(torch.tensor(PAIR), torch.tensor(PAIR_LABELS)).item() == pytest.approx(float(mean), rel=1e-15)
    gluon_losses = gluon.loss.SoftmaxCrossEntropyLoss()(as64(PAIR), as64(PAIR_LABELS)).asnumpy()
    assert_allclose(gluon_losses, [float(v) for v in PAIR_EXACT], rtol=1e-15)


# gluon's and torch's packaging.


def test_gluon_from_logits_true_on_raw_scores_returns_minus_the_true_logit():
    """from_logits=True on raw scores gives -z_y = [-1, -2]; on log_softmax it gives the loss."""
    takes_log_probs = gluon.loss.SoftmaxCrossEntropyLoss(from_logits=True)
    assert takes_log_probs(as64(PAIR), as64(PAIR_LABELS)).asnumpy().tolist() == [-1.0, -2.0]
    fixed = takes_log_probs(nd.log_softmax(as64(PAIR)), as64(PAIR_LABELS)).asnumpy()
    assert_allclose(fixed, [float(v) for v in PAIR_EXACT], rtol=1e-15)


def test_only_poisson_nll_averages_over_the_batch():
    """gluon.loss 1.9.1: SoftmaxCELoss returns one value per example, PoissonNLLLoss one for the batch."""
    pred = nd.array(np.zeros((4, 3)))
    assert gluon.loss.SoftmaxCrossEntropyLoss()(pred, nd.array([0, 1, 2, 0])).shape == (4,)
    assert gluon.loss.PoissonNLLLoss()(pred, nd.array(np.ones((4, 3)))).shape == (1,)


def test_cross_entropy_is_log_softmax_then_nll_loss():
    """torch: cross_entropy(z) == nll_loss(log_softmax(z)) == mean of the picked -log p."""
    z, y = torch.tensor(PAIR), torch.tensor(PAIR_LABELS)
    log_p = torch.log_softmax(z, dim=1)
    assert F.nll_loss(log_p, y).item() == F.cross_entropy(z, y).item()
    assert_allclose(-log_p[torch.arange(2), y].mean().item(), F.cross_entropy(z, y).item(), rtol=1e-15)


def test_catalog_porting_facts_for_the_three_spellings():
    """The catalog maps from_logits=False to CrossEntropyLoss and from_logits=True to NLLLoss."""
    table = lb.catalog.table()
    assert "from_logits=False" in table.loc["cross_entropy", "gluon"]
    assert "CrossEntropyLoss" in table.loc["cross_entropy", "torch"]
    assert "sparse_label=False" in table.loc["cross_entropy_probs", "gluon"]
    assert "from_logits=True" in table.loc["nll", "gluon"] and "NLLLoss" in table.loc["nll", "torch"]


def test_class_weights(glued):
    """Weights 3 and 1: gluon's sample_weight mean is sum(w l) / 2, torch's weight= is sum(w l) / 4."""
    class_w = np.array([3.0, 1.0])
    weighted = 3 * PAIR_EXACT[0] + 1 * PAIR_EXACT[1]  # sum of w[y] l
    assert glued["class-w-port"] == pytest.approx(float(weighted / 2), rel=2e-16)
    assert glued["class-w-torch"] == pytest.approx(float(weighted / 4), rel=2e-16)
    assert glued["class-w-ratio"] == 0.5  # N / sum(w[y]) = 2 / 4
    z, y, w = torch.tensor(PAIR), torch.tensor(PAIR_LABELS), torch.tensor(class_w)
    assert F.cross_entropy(z, y, weight=w).item() == pytest.approx(float(weighted / 4), rel=1e-15)
    assert F.nll_loss(torch.log_softmax(z, 1), y, weight=w).item() == pytest.approx(float(weighted / 4), rel=1e-15)
    port = (F.cross_entropy(z, y, reduction="none") * w[y]).mean().item()
    assert port == pytest.approx(float(weighted / 2), rel=1e-15)
    gluon_value = gluon.loss.SoftmaxCrossEntropyLoss()(as64(PAIR), as64(PAIR_LABELS), as64(class_w[PAIR_LABELS][:, None]))
    assert gluon_value.mean().asscalar() == pytest.approx(float(weighted / 2), rel=1e-15)
    assert F.cross_entropy(z, y, weight=w, reduction="sum").item() / 2 == pytest.approx(port, rel=1e-15)


# Stability.


def test_floating_point_limits(glued):
    """exp overflows above log(max float): 709.78 (float64), 88.72 (float32); the smallest are 2^-1074 and 2^-149."""
    assert glued["overflow-64"] == pytest.approx(float(mpmath.log((2 - mpmath.mpf(2) ** -52) * mpmath.mpf(2) ** 1023)), rel=1e-15)
    assert glued["overflow-32"] == pytest.approx(float(mpmath.log((2 - mpmath.mpf(2) ** -23) * mpmath.mpf(2) ** 127)), rel=1e-7)
    assert glued["tiny-64"] == 2.0**-1074 and glued["tiny-32"] == 2.0**-149


def naive(z, y, shift):
    """Softmax then log, optionally after the shift by the maximum, as the chapter writes it."""
    if shift:
        z = z - z.max(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y])


def test_naive_routes_fail_and_the_fused_form_does_not():
    """The stability table: naive nan/inf/inf, shifted 0/inf/inf, fused (lossbook and torch) 0/800/1000."""
    # Row 1: exp(1000) = inf, inf/inf = nan; shifted, p = 1/(1 + e^-1000) = 1 and -log 1 = 0.
    # Rows 2 and 3: e^-800 and e^-1000 underflow to 0 with or without the shift; the losses are 800 and 1000.
    z, y = np.array([[1000.0, 0.0], [0.0, -800.0], [1000.0, 0.0]]), np.array([0, 1, 1])
    assert_allclose(naive(z, y, shift=False), [np.nan, np.inf, np.inf])
    assert_allclose(naive(z, y, shift=True), [0.0, np.inf, np.inf])
    assert_allclose(F.cross_entropy(torch.tensor(z), torch.tensor(y), reduction="none").numpy(), [0.0, 800.0, 1000.0])
    assert_allclose(lb.cross_entropy(z, y, reduction="none"), [0.0, 800.0, 1000.0])


# Gradients.


def test_gradient_is_softmax_minus_one_hot_by_both_autograds(glued):
    """On the pair, torch and mxnet autograd equal softmax - onehot; the true logit of row 0 gets -e^9 / (1 + e^9)."""
    # Row 0: p_0 = 1 / (1 + e^9), so the gradient on the true logit is p_0 - 1 = -e^9 / (1 + e^9).
    exact_true = -mpmath.exp(9) / (1 + mpmath.exp(9))
    row1 = 1 / (1 + mpmath.exp(-6))  # row 1: p_0 = e^8 / (e^8 + e^2) and class 0 is wrong
    formula = np.array([[float(exact_true), float(-exact_true)], [float(row1), float(-row1)]])
    assert glued["grad-true"] == pytest.approx(float(exact_true), rel=2e-16)
    assert glued["grad-maxdiff"] < 4e-16
    z = torch.tensor(PAIR, requires_grad=True)
    F.cross_entropy(z, torch.tensor(PAIR_LABELS), reduction="sum").backward()
    z_nd = as64(PAIR)
    z_nd.attach_grad()
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(z_nd, as64(PAIR_LABELS))
    loss.backward()
    for gradient in (z.grad.numpy(), z_nd.grad.asnumpy()):
        assert_allclose(gradient, formula, rtol=0, atol=4e-16)


def test_squared_error_gradient_vanishes_where_cross_entropy_does_not(glued):
    """Two classes, gap -10: p_0 = 1/(1 + e^10), CE gradient p_0 - 1, squared-error gradient -4 (1 - p_0)^2 p_0."""
    # SE on p: L = 2 (1 - p_0)^2 and dp_0/dz_0 = p_0 (1 - p_0), so dL/dz_0 = -4 (1 - p_0)^2 p_0.
    p0 = 1 / (1 + mpmath.exp(10))
    assert glued["wrong-p"] == pytest.approx(float(p0), rel=1e-15)
    assert glued["wrong-ce-grad"] == pytest.approx(float(p0 - 1), rel=1e-15)
    se = -4 * (1 - p0) ** 2 * p0
    assert glued["wrong-se-grad"] == pytest.approx(float(se), rel=1e-12)
    z = torch.tensor([[-10.0, 0.0]], dtype=torch.float64, requires_grad=True)
    ((torch.softmax(z, 1) - torch.tensor([[1.0, 0.0]], dtype=torch.float64)) ** 2).sum().backward()
    assert z.grad[0, 0].item() == pytest.approx(float(se), rel=1e-12)


def test_squared_error_on_probabilities_levels_off_at_two():
    """The caption: squared error on p tends to 2 as the model becomes confidently wrong."""
    # 2 (1 - sigmoid(gap))^2 -> 2 as gap -> -inf.
    p = torch.softmax(torch.tensor([[-12.0, 0.0]], dtype=torch.float64), 1)
    assert 1.999 < ((p - torch.tensor([[1.0, 0.0]], dtype=torch.float64)) ** 2).sum().item() < 2.0


# Labels.


def test_one_hot_targets_equal_class_indices():
    """torch with one-hot float targets, and gluon with sparse_label=False, equal the class-index loss."""
    one_hot = np.eye(2)[PAIR_LABELS]
    as_index = F.cross_entropy(torch.tensor(PAIR), torch.tensor(PAIR_LABELS), reduction="none").numpy()
    as_probs = F.cross_entropy(torch.tensor(PAIR), torch.tensor(one_hot), reduction="none").numpy()
    assert_allclose(as_probs, as_index, rtol=1e-15)
    dense = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)(as64(PAIR), as64(one_hot)).asnumpy()
    assert_allclose(dense, as_index, rtol=1e-15)


def test_label_smoothing_torch_equals_gluon_by_hand(glued):
    """eps = 0.1: example 0's loss is 0.95 (9 + a) + 0.05 a, a = log(1 + e^-9), in torch and gluon-by-hand."""
    # The smoothed target of row 0 is (0.95, 0.05): -0.95 log p_0 - 0.05 log p_1 = 0.95 (9 + a) + 0.05 a.
    a = mpmath.log1p(mpmath.exp(-9))
    first = mpmath.mpf("0.95") * (9 + a) + mpmath.mpf("0.05") * a
    assert glued["smooth-0"] == pytest.approx(float(first), rel=2e-16)
    assert glued["smooth-spread"] < 4e-15
    builtin = F.cross_entropy(torch.tensor(PAIR), torch.tensor(PAIR_LABELS), label_smoothing=0.1, reduction="none").numpy()
    smoothed = 0.9 * np.eye(2)[PAIR_LABELS] + 0.05
    by_hand = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)(as64(PAIR), as64(smoothed)).asnumpy()
    assert builtin[0] == pytest.approx(float(first), rel=1e-14)
    assert_allclose(by_hand, builtin, rtol=1e-14)


def test_label_smoothing_mixes_probability_targets_with_the_uniform(glued):
    """torch's label_smoothing on a soft target t scores against 0.9 t + 0.05, by mpmath."""
    soft = np.array([[0.7, 0.3], [0.2, 0.8]])
    builtin = F.cross_entropy(torch.tensor(PAIR), torch.tensor(soft), label_smoothing=0.1, reduction="none").numpy()
    for row, t, value in zip(PAIR, soft, builtin):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in row))
        mixed = [mpmath.mpf("0.9") * mpmath.mpf(float(c)) + mpmath.mpf("0.05") for c in t]
        exact = mpmath.fsum(m * (lse - mpmath.mpf(v)) for m, v in zip(mixed, row))
        assert value == pytest.approx(float(exact), rel=1e-14)
    assert glued["smooth-probs-diff"] < 4e-15


# Entropy, cross-entropy and KL divergence.


def test_cross_entropy_is_entropy_plus_kl(glued):
    """H(t, q) = H(t) + KL(t || q), by mpmath, and torch's soft-label cross-entropy is H(t, q)."""
    target, logits, log_q = chapter_distributions()
    for t_row, lq_row in zip(target, log_q):
        t, lq = [mpmath.mpf(float(v)) for v in t_row], [mpmath.mpf(float(v)) for v in lq_row]
        entropy = -mpmath.fsum(a * mpmath.log(a) for a in t)
        cross = -mpmath.fsum(a * b for a, b in zip(t, lq))
        kl = mpmath.fsum(a * (mpmath.log(a) - b) for a, b in zip(t, lq))
        assert abs(cross - (entropy + kl)) < mpmath.mpf(10) ** -40
    torch_cross = F.cross_entropy(torch.tensor(logits), torch.tensor(target), reduction="none").numpy()
    assert_allclose(torch_cross, -(target * log_q).sum(axis=1), rtol=1e-14)
    assert glued["identity-diff"] < 1e-15


def test_mean_divides_kl_by_the_number_of_classes_and_batchmean_does_not(glued):
    """Splitting each class in two keeps KL and batchmean, halves torch's 'mean'; torch warns about 'mean'."""
    target, _, log_q = chapter_distributions()
    by_definition = float(np.mean([mpmath.fsum(mpmath.mpf(float(a)) * (mpmath.log(mpmath.mpf(float(a))) - mpmath.mpf(float(b)))
                                               for a, b in zip(t_row, lq_row)) for t_row, lq_row in zip(target, log_q)]))
    assert glued["kl-true"] == pytest.approx(by_definition, rel=1e-14)
    assert glued["kl-mean4"] == pytest.approx(by_definition / 4, rel=1e-14)
    assert glued["kl-mean8"] == pytest.approx(by_definition / 8, rel=1e-14)
    split_t, split_lq = np.repeat(target / 2, 2, axis=1), np.repeat(log_q - np.log(2.0), 2, axis=1)
    with pytest.warns(UserWarning, match="batchmean"):
        mean8 = F.kl_div(torch.tensor(split_lq), torch.tensor(split_t), reduction="mean").item()
    assert mean8 == pytest.approx(by_definition / 8, rel=1e-13)
    batchmean8 = F.kl_div(torch.tensor(split_lq), torch.tensor(split_t), reduction="batchmean").item()
    assert batchmean8 == pytest.approx(by_definition, rel=1e-13)


def test_gluon_kl_before_and_after_1_9(glued):
    """gluon 1.9's batch mean is torch's batchmean, and mxnet 1.8's (a mean over classes) is torch's 'mean'.

    Both up to gluon's 1e-12 inside the log, which adds t log1p(1e-12 / t) to each term.
    """
    target, _, log_q = chapter_distributions()
    guard = target * np.log1p(1e-12 / target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about 'mean'
        torch_mean = F.kl_div(torch.tensor(log_q), torch.tensor(target), reduction="mean").item()
    torch_batchmean = F.kl_div(torch.tensor(log_q), torch.tensor(target), reduction="batchmean").item()
    new = gluon.loss.KLDivLoss()(as64(log_q), as64(target))
    assert new.shape == (2,)
    assert new.mean().asscalar() == pytest.approx(torch_batchmean + guard.sum(axis=1).mean(), rel=1e-15)
    # mxnet 1.8.0's hybrid_forward ended in F.mean(loss, axis=batch_axis, exclude=True), run here in nd.
    terms = as64(target) * (nd.log(as64(target) + 1e-12) - as64(log_q))
    old = nd.mean(terms, axis=0, exclude=True)
    assert old.mean().asscalar() == pytest.approx(torch_mean + guard.mean(), rel=1e-15)
    assert old.mean().asscalar() == pytest.approx(new.mean().asscalar() / 4, rel=1e-15)
    assert glued["kl-guard"] == pytest.approx(float(guard.mean()), rel=1e-12)


# The exercises.


def test_two_class_cross_entropy_is_bce_on_the_logit_difference():
    """Exercise 1: CE of (z0, z1) with label y equals torch's BCE-with-logits of z1 - z0."""
    rng = np.random.default_rng(1)
    z, y = 3.0 * rng.standard_normal((6, 2)), rng.integers(0, 2, 6)
    bce = F.binary_cross_entropy_with_logits(torch.tensor(z[:, 1] - z[:, 0]), torch.tensor(y, dtype=torch.float64), reduction="none")
    ce = F.cross_entropy(torch.tensor(z), torch.tensor(y), reduction="none")
    assert_allclose(ce.numpy(), bce.numpy(), rtol=1e-13)


def test_temperature_gradient_is_scaled_by_one_over_t():
    """Exercise 2: the gradient of CE of softmax(z / T) is (softmax(z / T) - onehot(y)) / T."""
    T = 4.0
    z = torch.tensor(PAIR, requires_grad=True)
    F.cross_entropy(z / T, torch.tensor(PAIR_LABELS), reduction="sum").backward()
    formula = (torch.softmax(torch.tensor(PAIR) / T, 1).numpy() - np.eye(2)[PAIR_LABELS]) / T
    assert_allclose(z.grad.numpy(), formula, rtol=0, atol=1e-16)


def test_label_smoothing_floor_is_the_entropy_of_the_smoothed_target():
    """Exercise 3: eps = 0.1, C = 10: floor H(t) = 0.50029 at a logit gap of log 91."""
    # t = 0.91 on the true class and 0.01 on the nine others; the gap is log(0.91 / 0.01) = log 91.
    floor = -(mpmath.mpf("0.91") * mpmath.log(mpmath.mpf("0.91")) + 9 * mpmath.mpf("0.01") * mpmath.log(mpmath.mpf("0.01")))
    logits = np.where(np.arange(10) == 3, math.log(91.0), 0.0)[None, :]
    at_best = F.cross_entropy(torch.tensor(logits), torch.tensor([3]), label_smoothing=0.1).item()
    assert_allclose(at_best, float(floor), rtol=1e-14)
    assert F.cross_entropy(torch.tensor(logits * 1.01), torch.tensor([3]), label_smoothing=0.1).item() > at_best

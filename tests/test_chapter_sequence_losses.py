"""Every number the chapter on sequence, ranking and embedding losses states, and each framework claim it makes.

The chapter (book/sequence_losses.md), as the book build executed it: each number it
glues into its prose is compared with a source other than lossbook: a hand derivation
(written out in the test), mpmath, scikit-learn's data with a brute-force nearest
neighbour, PyTorch or MXNet gluon. Each sentence about how gluon or torch behaves is
checked by running them.
"""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits

from executed_pages import glued_values
from lossbook import frameworks, metric_learning
from test_metric_learning import squared_triplet_gradient

mx = frameworks.require("mxnet")
from mxnet import gluon, nd  # noqa: E402  (after the import that silences mxnet)

F = torch.nn.functional
PAGE = "sequence_losses"
FLOAT32_EPS = 2.0**-23

mpmath.mp.dps = 50


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, by key; numbers as Python numbers."""
    return glued_values(PAGE)


# The worked example: three frames, alphabet {a, b} and the blank, transcript "ab".

Y = {1: {"a": 5, "b": 2, "-": 3}, 2: {"a": 3, "b": 4, "-": 3}, 3: {"a": 1, "b": 6, "-": 3}}  # tenths
# The alignments of "ab" over three frames, by hand: the two labels in order, the third frame
# repeating one of them or a blank before, between or after them.
ALIGNMENTS_OF_AB = ("aab", "abb", "-ab", "a-b", "ab-")


def probability_by_hand():
    """p(ab | x): the sum over the five alignments of the product of their probabilities."""
    return sum(Fraction(Y[1][p[0]] * Y[2][p[1]] * Y[3][p[2]], 1000) for p in ALIGNMENTS_OF_AB)


def test_worked_example_sums_the_five_alignments_written_out_by_hand(glued):
    """Five alignments; p = 0.09 + 0.12 + 0.054 + 0.09 + 0.06 = 207/500; the recursion agrees exactly."""
    assert glued["seq-hand-count"] == len(ALIGNMENTS_OF_AB)
    assert probability_by_hand() == Fraction(207, 500)
    assert glued["seq-hand-probability"] == "207/500"
    assert glued["seq-hand-probability-float"] == 0.414
    assert glued["seq-hand-recursion-equal"] is True


def test_worked_example_loss_is_minus_log_p_and_torch_agrees(glued):
    """-log(207/500) by mpmath; torch's ctc_loss on log y with blank=2 recomputed and glued match it."""
    exact = float(-mpmath.log(mpmath.mpf(207) / 500))
    assert glued["seq-hand-loss"] == pytest.approx(exact, rel=2**-52)
    log_y = torch.log(torch.tensor([[[Y[t][k] / 10 for k in "ab-"]] for t in (1, 2, 3)], dtype=torch.float64))
    value = F.ctc_loss(log_y, torch.tensor([[0, 1]]), torch.tensor([3]), torch.tensor([2]), blank=2,
                       reduction="none").item()
    assert value == pytest.approx(exact, rel=1e-14)
    assert glued["seq-hand-by-torch"] == value
    gluon_value = gluon.loss.CTCLoss()(nd.array(log_y.numpy().transpose(1, 0, 2)), nd.array([[0, 1]]))
    assert gluon_value.asscalar() == pytest.approx(exact, rel=4 * FLOAT32_EPS)
    gap = float(abs(value + mpmath.log(mpmath.mpf(207) / 500)))
    assert glued["seq-hand-torch-gap"] == gap and gap <= np.spacing(exact) / 2


# The batch: three utterances of eight frames, transcripts ab, cc, abc.

RNG = np.random.default_rng(0)
SCORES = RNG.standard_normal((3, 8, 4))
LABELS = np.array([[0, 1, -1], [2, 2, -1], [0, 1, 2]])
LENGTHS = np.array([2, 2, 3])
LOG_PROBS = F.log_softmax(torch.tensor(SCORES), dim=-1).transpose(0, 1)


def torch_ctc(targets, lengths, log_probs=LOG_PROBS, **options):
    """torch's per-utterance CTC loss, with every utterance eight frames long."""
    return F.ctc_loss(log_probs, torch.tensor(targets), torch.tensor([8, 8, 8]), torch.tensor(lengths),
                      reduction="none", **options).numpy()


def gluon_ctc(labels, *lengths):
    """gluon's CTCLoss() on the raw scores, in its default float32."""
    return gluon.loss.CTCLoss()(nd.array(SCORES), nd.array(labels), None, *lengths).asnumpy()


def test_the_exact_port_matches_gluon_to_float32_precision():
    """log_softmax, (T, N, C), blank=C-1, reduction='none' reproduces gluon's CTCLoss() per utterance."""
    port = torch_ctc(LABELS, LENGTHS, blank=3)
    assert_allclose(gluon_ctc(LABELS), port, rtol=4 * FLOAT32_EPS)


def test_time_major_layouts_give_the_same_losses_and_the_blank_stays_last():
    """CTCLoss(layout="TNC", label_layout="TN") on transposed arrays equals the port with blank=C-1."""
    time_major = gluon.loss.CTCLoss(layout="TNC", label_layout="TN")
    value = time_major(nd.array(SCORES.transpose(1, 0, 2)), nd.array(LABELS.T)).asnumpy()
    assert_allclose(value, torch_ctc(LABELS, LENGTHS, blank=3), rtol=4 * FLOAT32_EPS)


def test_padding_with_zero_reads_the_zeros_as_the_letter_a(glued):
    """gluon with 0-padding is torch on aba, cca, abc; with -1 (or with lengths) it is the port; means glued."""
    padded_with_0 = np.maximum(LABELS, 0)
    on_aba = torch_ctc(padded_with_0, [3, 3, 3], blank=3)
    port = torch_ctc(LABELS, LENGTHS, blank=3)
    assert_allclose(gluon_ctc(padded_with_0), on_aba, rtol=4 * FLOAT32_EPS)
    assert_allclose(gluon_ctc(padded_with_0, nd.array(LENGTHS)), port, rtol=4 * FLOAT32_EPS)
    assert glued["seq-ctc-pad-minus-one"] == pytest.approx(port.mean(), rel=1e-15)
    assert glued["seq-ctc-pad-zero"] == pytest.approx(on_aba.mean(), rel=1e-15)
    assert glued["seq-ctc-pad-zero"] != pytest.approx(glued["seq-ctc-pad-minus-one"], rel=1e-3)


def test_raw_scores_give_negative_losses_and_blank_zero_other_values(glued):
    """Without log_softmax the smallest loss is negative; with blank=0 every loss changes."""
    raw = torch_ctc(LABELS, LENGTHS, log_probs=torch.tensor(SCORES).transpose(0, 1), blank=3)
    assert glued["seq-ctc-raw-min"] == pytest.approx(raw.min(), rel=1e-15) and raw.min() < 0
    port = torch_ctc(LABELS, LENGTHS, blank=3)
    assert np.all(np.abs(torch_ctc(LABELS, LENGTHS) - port) > 0.1)


def test_the_batch_first_layout_is_refused_when_n_differs_from_t():
    """(N, T, C) passed as (T, N, C), with N = 3 != T = 8, raises RuntimeError about the batch size."""
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        F.ctc_loss(F.log_softmax(torch.tensor(SCORES), dim=-1), torch.tensor(LABELS), torch.tensor([8, 8, 8]),
                   torch.tensor(LENGTHS), blank=3)


def test_torch_mean_divides_by_the_target_lengths_and_gluon_mean_does_not(glued):
    """torch's reduction='mean' is mean(loss / length); gluon's output mean is mean(loss)."""
    port = torch_ctc(LABELS, LENGTHS, blank=3)
    default = F.ctc_loss(LOG_PROBS, torch.tensor(LABELS), torch.tensor([8, 8, 8]), torch.tensor(LENGTHS),
                         blank=3).item()
    assert default == pytest.approx((port / LENGTHS).mean(), rel=1e-15)
    assert glued["seq-ctc-torch-mean"] == pytest.approx(default, rel=1e-15)
    assert glued["seq-ctc-batch-mean"] == pytest.approx(port.mean(), rel=1e-15)
    assert glued["seq-ctc-batch-mean"] == pytest.approx(gluon_ctc(LABELS).mean(), rel=4 * FLOAT32_EPS)


def test_gluon_ctc_refuses_float64(glued):
    """gluon's CTCLoss given float64 arrays raises MXNetError, whose last line the page shows."""
    with pytest.raises(mx.base.MXNetError) as error:
        gluon.loss.CTCLoss()(frameworks.as_float64(SCORES, "mxnet"), frameworks.as_float64(LABELS, "mxnet")).asnumpy()
    assert glued["seq-ctc-gluon-float64"] == str(error.value).splitlines()[-1]
    assert "data type do not match" in glued["seq-ctc-gluon-float64"]


def test_too_short_an_input_costs_infinity_or_zero_with_zero_infinity():
    """Exercise 2: two frames cannot carry aa; torch returns inf, or 0 with zero_infinity=True."""
    short = torch.log(torch.full((2, 1, 3), 1 / 3, dtype=torch.float64))
    loss = lambda zero: F.ctc_loss(short, torch.tensor([[0, 0]]), [2], [2], blank=2, zero_infinity=zero).item()
    assert loss(False) == np.inf and loss(True) == 0.0


# Ranking, triplet and cosine embedding losses.


def test_margin_ranking_is_gluon_hinge_on_the_difference():
    """max(0, -y (x1 - x2) + 0.5) by hand = torch MarginRankingLoss = gluon HingeLoss(0.5)(x1 - x2, y)."""
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((2, 5))
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    by_hand = np.maximum(0.0, -y * (x1 - x2) + 0.5)
    torch_value = torch.nn.MarginRankingLoss(margin=0.5, reduction="none")(*map(torch.tensor, (x1, x2, y)))
    assert_allclose(torch_value.numpy(), by_hand, rtol=1e-15)
    gluon_value = gluon.loss.HingeLoss(margin=0.5)(frameworks.as_float64(x1 - x2, "mxnet"),
                                                   frameworks.as_float64(y, "mxnet"))
    assert_allclose(gluon_value.asnumpy(), by_hand, rtol=1e-15)


TRIPLET = np.random.default_rng(2).standard_normal((3, 4, 5))


def test_gluon_triplet_is_the_squared_distance_port_and_not_triplet_margin_loss():
    """gluon TripletLoss = TripletMarginWithDistanceLoss(squared) = max(0, |a-p|^2 - |a-n|^2 + 1) by hand."""
    a, p, n = TRIPLET
    by_hand = np.maximum(0.0, ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 1.0)
    gluon_value = gluon.loss.TripletLoss(margin=1)(*(frameworks.as_float64(v, "mxnet") for v in TRIPLET))
    assert_allclose(gluon_value.asnumpy(), by_hand, rtol=1e-14)
    A, P, N = map(torch.tensor, TRIPLET)
    squared = torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda u, v: ((u - v) ** 2).sum(-1),
                                                     margin=1.0, reduction="none")(A, P, N)
    assert_allclose(squared.numpy(), by_hand, rtol=1e-14)
    euclid = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(1))  # torch's pairwise_distance, eps = 1e-6
    margin_loss = torch.nn.TripletMarginLoss(margin=1.0, reduction="none")(A, P, N).numpy()
    assert_allclose(margin_loss, np.maximum(0.0, euclid(a, p) - euclid(a, n) + 1.0), rtol=1e-14)
    assert np.all(np.abs(margin_loss - by_hand)[by_hand > 0] > 0.1)


def test_torch_triplet_epsilon_moves_each_distance_by_at_most_eps_sqrt_d():
    """|pairwise_distance(a, p) - |a - p|| <= 1e-6 sqrt(D) on the chapter's triplets, by the triangle inequality."""
    a, p, _ = TRIPLET
    with_eps = F.pairwise_distance(torch.tensor(a), torch.tensor(p)).numpy()  # eps=1e-6, as TripletMarginLoss
    plain = np.sqrt(((a - p) ** 2).sum(1))
    assert np.all(np.abs(with_eps - plain) <= 1e-6 * np.sqrt(a.shape[1]) * (1 + 1e-9))
    assert np.all(with_eps != plain)


COSINE = np.random.default_rng(3).standard_normal((2, 4, 3))
TORCH_COSINE_EPS = float(np.float32(1e-12))  # torch's constant is a C++ float: 1e-12 rounded to float32
Y_PAIR = np.array([1.0, -1.0, 1.0, -1.0])


def cosine_loss_by_hand(u, v, y, eps=0.0):
    """1 - cos for y = 1 and max(0, cos) for y = -1; eps is added to each squared norm, as torch does."""
    cos = (u * v).sum(1) / np.sqrt(((u * u).sum(1) + eps) * ((v * v).sum(1) + eps))
    return np.where(y == 1, 1 - cos, np.maximum(0.0, cos))


def test_cosine_embedding_values_agree_but_gluon_returns_a_column(glued):
    """Eq. (cosine) by hand; torch shape (4,), its 1e-12 in each squared norm; gluon (4, 1) in float32."""
    u, v = COSINE
    by_hand = cosine_loss_by_hand(u, v, Y_PAIR)
    torch_value = torch.nn.CosineEmbeddingLoss(reduction="none")(*map(torch.tensor, (u, v, Y_PAIR)))
    assert torch_value.shape == (4,)
    assert_allclose(torch_value.numpy(), cosine_loss_by_hand(u, v, Y_PAIR, eps=TORCH_COSINE_EPS), rtol=1e-15)
    gap = np.abs(torch_value.numpy() - by_hand).max()
    assert glued["seq-cosine-torch-eps-gap"] == pytest.approx(gap, rel=1e-3) and 1e-13 < gap < 1e-11
    gluon_value = gluon.loss.CosineEmbeddingLoss()(nd.array(u), nd.array(v), nd.array(Y_PAIR))
    assert gluon_value.shape == (4, 1)
    # float32 inputs and float32 arithmetic on terms of size at most 2: within 8 float32 ulp of 2.
    rounded = [x.astype(np.float32).astype(np.float64) for x in (u, v)]
    assert_allclose(gluon_value.asnumpy()[:, 0], cosine_loss_by_hand(*rounded, Y_PAIR), rtol=0,
                    atol=16 * FLOAT32_EPS)
    gluon_value = gluon.loss.CosineEmbeddingLoss()(nd.array(u), nd.array(v), nd.array(Y_PAIR))
    assert gluon_value.shape == (4, 1)
    assert_allclose(gluon_value.asnumpy()[:, 0], by_hand, rtol=8 * FLOAT32_EPS, atol=8 * FLOAT32_EPS)


def test_gluon_cosine_and_sdml_refuse_float64_because_of_float32_constants():
    """float64 input raises MXNetError about mixed float64 and float32; the float32 constants are the cause."""
    as64 = lambda values: frameworks.as_float64(values, "mxnet")
    with pytest.raises(mx.base.MXNetError, match="expected float64, got float32"):
        gluon.loss.CosineEmbeddingLoss()(as64(COSINE[0]), as64(COSINE[1]), as64(Y_PAIR))
    with pytest.raises(mx.base.MXNetError, match="expected float64, got float32"):
        gluon.loss.CosineEmbeddingLoss()._cosine_similarity(nd, as64(COSINE[0]), as64(COSINE[1]))
    assert nd.array([1e-12]).dtype == np.float32 and nd.eye(3).dtype == np.float32
    with pytest.raises(mx.base.MXNetError, match="expected float32, got float64"):
        gluon.loss.SDMLLoss()(as64(COSINE[0]), as64(COSINE[1])).asnumpy()


def sdml_by_hand(x1, x2, s, magnitude=False):
    """sum_j q_ij log(q_ij / p_ij), p_ij = softmax_j(-|x1_i - x2_j|^2), q = 1 - s on the diagonal, s / (N - 1) off it.

    With ``magnitude``, also the sums of the terms' magnitudes, sum_j q_ij (|log q_ij| + |log p_ij|).
    """
    n = len(x1)
    distances = ((x1[:, None, :] - x2[None, :, :]) ** 2).sum(-1)
    log_p = -distances - np.log(np.exp(-distances).sum(1, keepdims=True))
    q = np.where(np.eye(n, dtype=bool), 1 - s, s / (n - 1))
    value = (q * (np.log(q) - log_p)).sum(1)
    return (value, (q * (np.abs(np.log(q)) + np.abs(log_p))).sum(1)) if magnitude else value


def test_sdml_is_kl_of_smoothed_labels_against_a_softmax_of_negative_distances():
    """gluon's SDMLLoss (float32) and the torch expressions of the page match the formula by hand."""
    x1, x2 = np.random.default_rng(4).standard_normal((2, 4, 3))
    by_hand = sdml_by_hand(x1, x2, 0.3)
    # gluon: float32 inputs and about a dozen float32 operations per term, so 32 float32 ulp of the
    # terms' magnitudes, against the formula on the inputs rounded to float32.
    rounded = [x.astype(np.float32).astype(np.float64) for x in (x1, x2)]
    on_rounded, magnitude = sdml_by_hand(*rounded, 0.3, magnitude=True)
    gluon_value = gluon.loss.SDMLLoss(smoothing_parameter=0.3)(nd.array(x1), nd.array(x2)).asnumpy()
    assert np.all(np.abs(gluon_value - on_rounded) <= 32 * FLOAT32_EPS * magnitude)
    a, b = torch.tensor(x1), torch.tensor(x2)
    distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    q = torch.full((4, 4), 0.1, dtype=torch.float64).fill_diagonal_(0.7)
    kl = F.kl_div(F.log_softmax(-distances, dim=1), q, reduction="none").sum(1)
    ce = F.cross_entropy(-distances, q, reduction="none") + (q * q.log()).sum(1)
    assert_allclose(kl.numpy(), by_hand, rtol=1e-13)
    assert_allclose(ce.numpy(), by_hand, rtol=1e-13)


def test_gluons_1e_12_is_rounded_away_from_every_float32_label_from_2_to_the_minus_15():
    """q + 1e-12 == q in float32 for q in [2^-15, 1), and not just below (1.5 * 2^-16)."""
    eps = np.float32(1e-12)
    q = (np.float32(2.0**-15) * np.linspace(1, 2**15, 100_001)).astype(np.float32)
    q = q[q < 1]
    assert np.all(q + eps == q)
    below = np.float32(1.5 * 2.0**-16)
    assert below + eps != below


def test_sdml_vanishes_where_the_softmax_equals_the_smoothed_labels():
    """Exercise 4: two items at squared distance log(7/3) cost zero; at distance 2 they cost more."""
    at_gap = np.array([[0.0], [np.sqrt(np.log(0.7 / 0.3))]])
    assert_allclose(sdml_by_hand(at_gap, at_gap, 0.3), 0.0, atol=1e-15)
    far = np.array([[0.0], [2.0]])
    assert np.all(sdml_by_hand(far, far, 0.3) > 0.1)


# The digits.


def nearest_neighbour_accuracy(train, train_labels, test, test_labels):
    """The share of test rows whose nearest training row (brute force, Euclidean) has their label."""
    distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(-1)
    return float((train_labels[distances.argmin(1)] == test_labels).mean())


def sgd_replay(X, labels, dim):
    """The chapter's run, replayed in numpy with the hand-derived gradient and the same draws."""
    rng = np.random.default_rng(0)
    start = 0.1 * rng.standard_normal((X.shape[1], dim))
    weight = start.copy()
    for _ in range(300):
        a, p, n = metric_learning.sample_triplets(labels, 64, rng)
        weight = weight - 0.05 * squared_triplet_gradient(weight, X[a], X[p], X[n], 1.0)[1]
    return start, weight


def test_digit_accuracies_are_those_of_an_independent_replay(glued):
    """Brute-force 1-NN accuracies of a numpy replay of the training equal the glued ones, before and after."""
    X, digit = load_digits(return_X_y=True)
    X = X / 16.0
    train, test = np.split(np.random.default_rng(0).permutation(len(digit)), [1000])
    accuracy = lambda W: nearest_neighbour_accuracy(X[train] @ W, digit[train], X[test] @ W, digit[test])
    for dim in (2, 8):
        start, weight = sgd_replay(X[train], digit[train], dim)
        assert glued[f"seq-digits-{dim}d-before"] == accuracy(start)
        assert glued[f"seq-digits-{dim}d-after"] == accuracy(weight)
        assert accuracy(weight) > accuracy(start) + 0.1
    assert glued["seq-digits-raw"] == accuracy(np.eye(64))


def test_torch_cosine_departs_from_the_formula_for_tiny_vectors():
    """For u = v of norm 1e-7 the cosine is 1 and the loss 0, but torch adds ~1e-12 to each squared norm: 1 - 1e-14 / (1e-14 + 1e-12)."""
    u = torch.tensor([[1e-7, 0.0, 0.0]], dtype=torch.float64)
    loss = torch.nn.CosineEmbeddingLoss(reduction="none")(u, u, torch.tensor([1.0])).item()
    squared_norm = 1e-7**2
    assert loss == pytest.approx(1 - squared_norm / (squared_norm + TORCH_COSINE_EPS), rel=1e-15) and loss > 0.9


def test_the_lossbook_tabs_reproduce_the_formulas_written_out_here():
    """lb's ranking, triplet (both), cosine and SDML losses on the chapter's batches equal the hand formulas."""
    import lossbook as lb

    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((2, 5))
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    assert_allclose(lb.margin_ranking_loss(x1, x2, y, margin=0.5, reduction="none"),
                    np.maximum(0.0, -y * (x1 - x2) + 0.5), rtol=1e-15)
    a, p, n = TRIPLET
    squared = np.maximum(0.0, ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 1.0)
    assert_allclose(lb.triplet_margin_with_distance_loss(a, p, n, distance_function=lb.squared_l2_distance,
                                                         reduction="none"), squared, rtol=1e-14)
    euclid = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(1))
    assert_allclose(lb.triplet_margin_loss(a, p, n, reduction="none"),
                    np.maximum(0.0, euclid(a, p) - euclid(a, n) + 1.0), rtol=1e-14)
    assert_allclose(lb.cosine_embedding_loss(*COSINE, Y_PAIR, reduction="none"),
                    cosine_loss_by_hand(*COSINE, Y_PAIR, eps=TORCH_COSINE_EPS), rtol=1e-15)
    x_1, x_2 = np.random.default_rng(4).standard_normal((2, 4, 3))
    assert_allclose(lb.sdml_loss(x_1, x_2, reduction="none"), sdml_by_hand(x_1, x_2, 0.3), rtol=1e-13)


def ctc_by_mpmath(log_probs, target):
    """-log p(target) by the forward recursion on exp(log_probs) in mpmath; log_probs (T, C), blank C - 1."""
    blank = log_probs.shape[1] - 1
    extended = [blank] + [symbol for k in target for symbol in (k, blank)]
    y = [[mpmath.exp(mpmath.mpf(float(v))) for v in row] for row in log_probs]
    alpha = [y[0][extended[0]], y[0][extended[1]]] + [mpmath.mpf(0)] * (len(extended) - 2)
    for row in y[1:]:
        alpha = [row[k] * (alpha[s] + (alpha[s - 1] if s >= 1 else 0)
                           + (alpha[s - 2] if s >= 2 and k != blank and k != extended[s - 2] else 0))
                 for s, k in enumerate(extended)]
    return -mpmath.log(alpha[-1] + alpha[-2])


def test_worked_example_lossbook_is_minus_log_207_over_500_correctly_rounded(glued):
    """The glued gap of lossbook's loss from -log(207/500) (mpmath) is that gap, at most half an ulp."""
    import lossbook as lb

    exact = -mpmath.log(mpmath.mpf(207) / 500)
    log_y = np.log(np.array([[Y[t][k] for k in "ab-"] for t in (1, 2, 3)]) / 10)
    value = float(lb.ctc_loss(log_y, [0, 1], 3, 2, blank=2, reduction="none"))
    assert glued["seq-hand-lossbook-gap"] == float(abs(value - exact))
    assert abs(value - exact) <= np.spacing(float(exact)) / 2


def test_batch_relative_errors_against_an_mpmath_recursion(glued):
    """lossbook's and torch's relative errors on the batch, recomputed against a forward recursion in mpmath."""
    import lossbook as lb

    time_major = lb.log_softmax(SCORES, axis=-1).transpose(1, 0, 2)
    exact = [ctc_by_mpmath(time_major[:, n], LABELS[n, :LENGTHS[n]]) for n in range(3)]
    lossbook = lb.ctc_loss(time_major, LABELS, [8, 8, 8], LENGTHS, blank=3, reduction="none")
    torch_value = torch_ctc(LABELS, LENGTHS, log_probs=torch.tensor(time_major), blank=3)
    relerr = lambda values: max(float(abs(mpmath.mpf(float(v)) / e - 1)) for v, e in zip(values, exact))
    assert glued["seq-ctc-lossbook-relerr"] == pytest.approx(relerr(lossbook), rel=1e-6, abs=1e-300)
    assert glued["seq-ctc-torch-relerr"] == pytest.approx(relerr(torch_value), rel=1e-6, abs=1e-300)
    assert relerr(lossbook) <= 2.0**-51

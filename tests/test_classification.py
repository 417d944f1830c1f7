"""Classification losses against torch (float64) and hand-derived values."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

import lossbook as lb

REDUCTIONS = ("none", "mean", "sum")
RNG = np.random.default_rng(11)
LOGITS = RNG.normal(size=(6, 4)) * 4
PROBABILITIES = RNG.uniform(0.01, 0.99, size=(6, 4))
SOFT_TARGETS = RNG.uniform(0, 1, size=(6, 4))
WEIGHT = RNG.uniform(0.2, 2.0, size=(6, 4))
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])
LABELS = np.array([0, 3, 1, -100, 2, 3])


def t(array):
    """A float64 (or int64) torch tensor with the array's values."""
    return torch.from_numpy(np.asarray(array))


def assert_matches_torch(ours, theirs, rtol=1e-14):
    """Same shape as torch's float64 result and equal up to a few ulp."""
    assert np.shape(ours) == tuple(theirs.shape)
    assert_allclose(ours, theirs.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted):
    """binary_cross_entropy equals F.binary_cross_entropy away from 0 and 1 (where torch clamps)."""
    weight = WEIGHT[0] if weighted else None
    theirs = F.binary_cross_entropy(
        t(PROBABILITIES),
        t(SOFT_TARGETS),
        weight=None if weight is None else t(weight),
        reduction=reduction,
    )
    ours = lb.binary_cross_entropy(PROBABILITIES, SOFT_TARGETS, weight=weight, reduction=reduction)
    assert_matches_torch(ours, theirs)


def test_binary_cross_entropy_does_not_clamp():
    """p = 0 with y = 1 is an infinite loss (torch clamps the log at -100 and says 100)."""
    ours = lb.binary_cross_entropy([0.0, 1.0], [1.0, 0.0], reduction="none")
    assert_array_equal(ours, [np.inf, np.inf])
    theirs = F.binary_cross_entropy(t([0.0, 1.0]), t([1.0, 0.0]), reduction="none")
    assert_array_equal(theirs.numpy(), [100.0, 100.0])


def test_binary_cross_entropy_certain_and_right_is_zero():
    """0 log 0 = 0: predicting exactly the hard target costs nothing, with no nan or warning."""
    ours = lb.binary_cross_entropy([0.0, 1.0], [0.0, 1.0], reduction="none")
    assert_array_equal(ours, [0.0, 0.0])


def test_binary_cross_entropy_near_one_keeps_its_digits():
    """p = 1 - 2**-40, y = 0: -log(2**-40) = 40 log 2, from log1p(-p) with the exact 1 - p."""
    ours = lb.binary_cross_entropy(1 - 2.0**-40, 0.0)
    assert_allclose(ours, 40 * math.log(2), rtol=2e-16)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_binary_cross_entropy_with_logits_matches_torch(reduction, weights):
    """binary_cross_entropy_with_logits equals torch's, with weight and per-class pos_weight."""
    weight = WEIGHT if weights in ("weight", "both") else None
    pos_weight = CLASS_WEIGHT if weights in ("pos_weight", "both") else None
    theirs = F.binary_cross_entropy_with_logits(
        t(LOGITS),
        t(SOFT_TARGETS),
        weight=None if weight is None else t(weight),
        pos_weight=None if pos_weight is None else t(pos_weight),
        reduction=reduction,
    )
    ours = lb.binary_cross_entropy_with_logits(
        LOGITS, SOFT_TARGETS, weight=weight, pos_weight=pos_weight, reduction=reduction
    )
    assert_matches_torch(ours, theirs)


def test_binary_cross_entropy_with_logits_by_hand():
    """z = 0 costs log 2 whatever the target; z = 1000, y = 1 costs log1p(e^-1000), 0 in float64."""
    z, y = [0.0, 0.0, 1000.0], [0.0, 0.3, 1.0]
    ours = lb.binary_cross_entropy_with_logits(z, y, reduction="none")
    assert_allclose(ours, [math.log(2), math.log(2), 0.0], rtol=1e-16, atol=0)


def test_binary_cross_entropy_with_logits_soft_label_near_one_is_accurate():
    """y = 1 - 2**-30, z = 30: y softplus(-z) + (1-y) softplus(z), no cancellation."""
    # torch's max(z, 0) - z y + log1p(e^-|z|) cancels in its first two terms here.
    y, z = 1 - 2.0**-30, 30.0
    exact = 30 * 2.0**-30 + y * math.log1p(math.exp(-30)) + 2.0**-30 * math.log1p(math.exp(-30))
    assert_allclose(lb.binary_cross_entropy_with_logits(z, y), exact, rtol=4e-16)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices_match_torch(reduction, weighted, label_smoothing):
    """cross_entropy with class indices, ignore_index, weights and smoothing equals torch's."""
    weight = CLASS_WEIGHT if weighted else None
    theirs = F.cross_entropy(
        t(LOGITS), t(LABELS), weight=None if weight is None else t(weight),
        reduction=reduction, label_smoothing=label_smoothing,
    )
    ours = lb.cross_entropy(
        LOGITS, LABELS, weight=weight, reduction=reduction, label_smoothing=label_smoothing
    )
    assert_matches_torch(ours, theirs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_class_probabilities_match_torch(reduction, weighted, label_smoothing):
    """cross_entropy with probability targets (same shape as input) equals torch's."""
    targets = lb.softmax(RNG.normal(size=LOGITS.shape))
    weight = CLASS_WEIGHT if weighted else None
    theirs = F.cross_entropy(
        t(LOGITS), t(targets), weight=None if weight is None else t(weight),
        reduction=reduction, label_smoothing=label_smoothing,
    )
    ours = lb.cross_entropy(
        LOGITS, targets, weight=weight, reduction=reduction, label_smoothing=label_smoothing
    )
    assert_matches_torch(ours, theirs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_and_unbatched_shapes_match_torch(reduction):
    """(N, C, d1, d2) logits with (N, d1, d2) targets, and unbatched (C,) with a scalar target."""
    logits = RNG.normal(size=(2, 4, 3, 5))
    labels = RNG.integers(0, 4, size=(2, 3, 5))
    theirs = F.cross_entropy(t(logits), t(labels), reduction=reduction)
    assert_matches_torch(lb.cross_entropy(logits, labels, reduction=reduction), theirs)
    theirs = F.cross_entropy(t(LOGITS[0]), t(np.array(2)), reduction=reduction)
    assert_matches_torch(lb.cross_entropy(LOGITS[0], 2, reduction=reduction), theirs)


def test_cross_entropy_by_hand():
    """Two equal logits cost log 2; a logit gap of 40 costs log1p(e^-40) = e^-40 - e^-80/2."""
    ours = lb.cross_entropy(np.array([[0.0, 0.0], [40.0, 0.0]]), [1, 0], reduction="none")
    assert_allclose(ours, [math.log(2), math.exp(-40) - math.exp(-80) / 2], rtol=2e-16)


def test_cross_entropy_of_overflowing_logits():
    """Logits (1000, 999): the naive exp overflows; the loss of class 1 is 1 + log1p(e^-1)."""
    ours = lb.cross_entropy(np.array([[1000.0, 999.0]]), [1])
    assert_allclose(ours, 1 + math.log1p(math.exp(-1)), rtol=2e-16)


def test_cross_entropy_accepts_whole_number_float_labels():
    """Labels stored as the floats 0.0 and 3.0 mean classes 0 and 3 (torch needs int64 for that)."""
    theirs = F.cross_entropy(t(LOGITS[:2]), t(np.array([0, 3])))
    assert_allclose(lb.cross_entropy(LOGITS[:2], [0.0, 3.0]), theirs.numpy(), rtol=1e-14)


def test_cross_entropy_all_targets_ignored_is_nan():
    """A mean over no targets is undefined: nan, as torch returns, and no warning."""
    assert np.isnan(lb.cross_entropy(LOGITS[:2], [-100, -100]))
    assert torch.isnan(F.cross_entropy(t(LOGITS[:2]), t([-100, -100])))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, weighted):
    """nll_loss equals F.nll_loss with ignore_index and class weights."""
    log_p = lb.log_softmax(LOGITS)
    weight = CLASS_WEIGHT if weighted else None
    weight_tensor = None if weight is None else t(weight)
    theirs = F.nll_loss(t(log_p), t(LABELS), weight=weight_tensor, reduction=reduction)
    assert_matches_torch(lb.nll_loss(log_p, LABELS, weight=weight, reduction=reduction), theirs)


def test_nll_loss_ignore_index_is_configurable():
    """With ignore_index=1 only the first target counts: the mean is -log 0.5 over one target."""
    log_p = np.log([[0.5, 0.5], [0.1, 0.9], [0.75, 0.25]])
    ours = lb.nll_loss(log_p, [0, 1, 1], ignore_index=1)
    assert_allclose(ours, -np.log(0.5), rtol=1e-15)
    ours = lb.nll_loss(np.array([[-0.5, -0.25]]), [0], ignore_index=1)
    assert ours == 0.5


def test_an_ignored_target_costs_plus_zero_whatever_its_class_weight():
    """An ignored target's class weight never enters: inf gives no nan, a negative one no -0.

    Targets [-1, 1, -1]: the ignored rows count as class 0 internally. By hand, the one kept
    target costs 2 * 4 = 8, and the mean divides it by its weight 2.
    """
    log_p = np.array([[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0]])
    for first in (np.inf, -1.0):
        weight = np.array([first, 2.0])
        ours = lb.nll_loss(log_p, [-1, 1, -1], weight=weight, ignore_index=-1, reduction="none")
        assert ours.tolist() == [0.0, 8.0, 0.0] and not np.signbit(ours).any()
        assert lb.nll_loss(log_p, [-1, 1, -1], weight=weight, ignore_index=-1) == 4.0


@pytest.mark.parametrize("label", [1, -100])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_unbatched_input_with_class_weights_matches_torch(label, reduction):
    """An input of shape (C,) with a 0-d target and class weights (it used to raise TypeError)."""
    x, weight = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, 2.0])
    for ours, theirs in [(lb.cross_entropy, F.cross_entropy), (lb.nll_loss, F.nll_loss)]:
        expected = theirs(t(x), t(label), weight=t(weight), reduction=reduction).numpy()
        got = ours(x, np.array(label), weight=weight, reduction=reduction)
        assert_allclose(got, expected, rtol=1e-15, equal_nan=True)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    """kl_div equals F.kl_div for every reduction, batchmean included (torch warns for mean)."""
    log_p = lb.log_softmax(LOGITS)
    target = lb.softmax(RNG.normal(size=LOGITS.shape))
    target[0, 1] = 0.0
    if log_target:
        target = np.log(target[1:])
        log_p = log_p[1:]
    theirs = F.kl_div(t(log_p), t(target), reduction=reduction, log_target=log_target)
    ours = lb.kl_div(log_p, target, reduction=reduction, log_target=log_target)
    assert_matches_torch(ours, theirs, 1e-13)


def test_kl_div_by_hand():
    """KL((1/2, 1/2) || (1/4, 3/4)) = 1/2 log 2 + 1/2 log(2/3) = 1/2 log(4/3)."""
    ours = lb.kl_div(np.log([0.25, 0.75]), [0.5, 0.5], reduction="sum")
    assert_allclose(ours, 0.5 * math.log(4 / 3), rtol=1e-15)


def test_kl_div_zero_target_contributes_nothing():
    """t = 0 contributes 0 even against a log-probability of -inf (0 log 0 = 0)."""
    assert_array_equal(lb.kl_div([-np.inf, 0.0], [0.0, 1.0], reduction="none"), [0.0, 0.0])
    assert_array_equal(lb.kl_div([-np.inf], [-np.inf], reduction="none", log_target=True), [0.0])


@pytest.mark.parametrize(
    "loss, input, target",
    [
        (lb.binary_cross_entropy, PROBABILITIES, SOFT_TARGETS),
        (lb.binary_cross_entropy_with_logits, LOGITS, SOFT_TARGETS),
        (lb.cross_entropy, LOGITS, LABELS),
        (lb.nll_loss, LOGITS, LABELS),
        (lb.kl_div, LOGITS, PROBABILITIES),
    ],
)
def test_float32_in_float32_out(loss, input, target):
    """float32 input gives float32 results for every reduction."""
    for reduction in REDUCTIONS:
        assert loss(input.astype(np.float32), target, reduction=reduction).dtype == np.float32


FINITE_LOGITS = st.floats(-500, 500, allow_nan=False)
LOGIT_ROWS = arrays(np.float64, (3, 5), elements=FINITE_LOGITS)
LABEL_LISTS = st.lists(st.integers(0, 4), min_size=3, max_size=3)


@settings(max_examples=40, deadline=None)
@given(LOGIT_ROWS, LABEL_LISTS)
def test_cross_entropy_equals_nll_of_log_softmax(logits, labels):
    """Property: cross_entropy(z, y) == nll_loss(log_softmax(z), y), both within 2 ulp of exact."""
    ours = lb.cross_entropy(logits, labels, reduction="none")
    via_nll = lb.nll_loss(lb.log_softmax(logits, axis=1), labels, reduction="none")
    assert_allclose(ours, via_nll, rtol=1e-15, atol=0)


@settings(max_examples=40, deadline=None)
@given(LOGIT_ROWS, LABEL_LISTS)
def test_cross_entropy_agrees_with_torch_on_random_logits(logits, labels):
    """Property: cross_entropy agrees with torch on random logits, to torch's accuracy."""
    # torch computes log(sum exp(z - m)) with log, not log1p, so its error is about
    # eps * (1 + |m|) in absolute terms; small losses carry no more digits than that.
    theirs = F.cross_entropy(t(logits), t(np.array(labels)), reduction="none").numpy()
    torch_accuracy = 4 * np.finfo(float).eps * (1 + np.abs(logits).max())
    ours = lb.cross_entropy(logits, labels, reduction="none")
    assert_allclose(ours, theirs, rtol=1e-14, atol=torch_accuracy)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, 6, elements=FINITE_LOGITS),
    arrays(np.float64, 6, elements=st.floats(0, 1)),
)
def test_binary_losses_are_non_negative_and_agree_with_each_other(z, y):
    """Property: BCE with logits >= 0 and equals BCE of sigmoid(z) for |z| < 15."""
    # Rounding sigmoid(z) to float64 costs about eps * e^|z| relative in 1 - sigmoid(z),
    # so the two agree to 1e-9 only for |z| < 15.
    with_logits = lb.binary_cross_entropy_with_logits(z, y, reduction="none")
    assert np.all(with_logits >= 0)
    moderate = np.abs(z) < 15
    p = lb.sigmoid(z[moderate])
    of_probabilities = lb.binary_cross_entropy(p, y[moderate], reduction="none")
    assert_allclose(of_probabilities, with_logits[moderate], rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, 6, elements=st.floats(-50, 50)),
    arrays(np.float64, 6, elements=st.floats(0, 1)),
)
def test_binary_cross_entropy_with_logits_agrees_with_torch(z, y):
    """Property: on random logits and soft targets the loss equals torch's, to torch's accuracy."""
    # torch adds log(e^-m + e^(-z-m)) to terms of size |z|, so its absolute error is
    # about eps * (1 + |z|); a loss of 1e-4 has only 12 correct digits there.
    theirs = F.binary_cross_entropy_with_logits(t(z), t(y), reduction="none").numpy()
    torch_accuracy = 4 * np.finfo(float).eps * (1 + np.abs(z))
    ours = lb.binary_cross_entropy_with_logits(z, y, reduction="none")
    assert np.all(np.abs(ours - theirs) <= 1e-14 * np.abs(theirs) + torch_accuracy)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_of_many_samples_matches_torch(label_smoothing):
    """20000 samples (more than one block of the blockwise evaluation), losses and gradients."""
    rng = np.random.default_rng(8)
    logits, labels = rng.normal(size=(20000, 3)) * 5, rng.integers(0, 3, 20000)
    options = {"reduction": "none", "label_smoothing": label_smoothing}
    theirs = F.cross_entropy(t(logits), t(labels), **options)
    torch_accuracy = 4 * np.finfo(float).eps * (1 + np.abs(logits).max())  # see the property test
    ours = lb.cross_entropy(logits, labels, **options)
    assert_allclose(ours, theirs.numpy(), rtol=1e-14, atol=torch_accuracy)
    z = t(logits).requires_grad_(True)
    F.cross_entropy(z, t(labels), label_smoothing=label_smoothing).backward()
    ours = lb.cross_entropy_grad(logits, labels, label_smoothing=label_smoothing)
    # p_y - 1 cancels in both, so compare to the rounding of 1 / 20000 (the mean's divisor).
    assert_allclose(ours, z.grad.numpy(), rtol=1e-12, atol=4 * np.finfo(float).eps / 20000)


def test_a_certain_right_answer_costs_plus_zero():
    """-log 1 = 0 exactly, and lossbook returns +0, not the -0 of a bare negation (torch prints -0.)."""
    bce = lb.binary_cross_entropy(np.array([1.0, 0.0]), np.array([1.0, 0.0]), reduction="none")
    nll = lb.nll_loss(np.array([[0.0, -np.inf]]), np.array([0]), reduction="none")
    for loss in (bce, nll):
        assert np.all(loss == 0.0) and not np.any(np.signbit(loss))


def test_bce_with_logits_soft_labels_near_0_and_1_stay_within_3_ulp():
    """Labels within 1e-6 of 0 or 1 and |z| in [2.08, 2.77]: past 2 ulp, as the docstring says, within 3."""
    from lossbook import exact

    rng = np.random.default_rng(1)
    n = 40000
    z = rng.uniform(2.08, 2.77, n) * rng.choice([-1.0, 1.0], n)
    y = np.where(rng.random(n) < 0.5, rng.uniform(0, 1e-6, n), 1 - rng.uniform(0, 1e-6, n))
    errors = exact.ulp_errors(
        lb.binary_cross_entropy_with_logits(z, y, reduction="none"),
        exact.binary_cross_entropy_with_logits(z, y, reduction="none"),
    )
    assert 2.0 < errors.max() <= 3.0

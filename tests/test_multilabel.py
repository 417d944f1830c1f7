"""Multi-label losses against torch (float64), gluon, mpmath and hand-derived values."""

import doctest
import inspect
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

import lossbook as lb
from lossbook import exact, multilabel

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from mxnet import gluon, nd

REDUCTIONS = ("none", "mean", "sum")
RNG = np.random.default_rng(11)
N, C = 6, 5
LOGITS = RNG.normal(size=(N, C)) * 3
LABELS = (RNG.random((N, C)) < 0.4).astype(np.float64)
CLASS_WEIGHT = RNG.uniform(0.2, 3.0, size=C)


def t(array):
    """A float64 torch tensor holding the array's values."""
    return torch.from_numpy(np.array(array, dtype=np.float64))


def padded_targets(rng, samples, classes, duplicates=False):
    """Random target rows: some classes, then -1, then padding anywhere in [-1, C)."""
    rows = rng.integers(-1, classes, size=(samples, classes))
    for row in rows:
        count = rng.integers(0, classes + 1)
        listed = rng.choice(classes, size=count, replace=duplicates)
        row[:count] = listed
        if count < classes:
            row[count] = -1
    return rows


MARGIN_SCORES = RNG.normal(size=(8, 5))
MARGIN_TARGETS = padded_targets(RNG, 8, 5)
MARGIN_TARGETS[0] = [3, 0, -1, 1, 4]  # padding after the first -1 that would count otherwise
MARGIN_TARGETS[1] = [2, 2, -1, -1, -1]  # a class listed twice counts twice, as in torch
MARGIN_TARGETS[2] = [0, 1, 2, 3, 4]  # every class a target: no pairs
MARGIN_TARGETS[3] = [-1, 1, 2, 3, 4]  # no target at all


def torch_values_and_grad(function, x, *args, reduction, **kwargs):
    """torch's loss and its autograd gradient with respect to ``x`` (of the sum, for "none")."""
    leaf = t(x).requires_grad_(True)
    value = function(leaf, *args, reduction=reduction, **kwargs)
    value.sum().backward()
    return value.detach().numpy(), leaf.grad.numpy()


# multilabel_soft_margin_loss: torch, gluon and hand-derived values.


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "class", "element", "negative"])
def test_soft_margin_matches_torch(reduction, weight):
    """Values and gradients equal F.multilabel_soft_margin_loss's (autograd) to a few ulp."""
    w = {None: None, "class": CLASS_WEIGHT, "element": RNG.uniform(0.1, 2, (N, C)),
         "negative": CLASS_WEIGHT - 1.5}[weight]
    theirs, their_grad = torch_values_and_grad(
        F.multilabel_soft_margin_loss, LOGITS, t(LABELS), reduction=reduction,
        weight=None if w is None else t(w))
    ours = lb.multilabel_soft_margin_loss(LOGITS, LABELS, weight=w, reduction=reduction)
    grad = lb.multilabel_soft_margin_loss_grad(LOGITS, LABELS, weight=w, reduction=reduction)
    assert np.shape(ours) == theirs.shape
    assert_allclose(ours, theirs, rtol=1e-14, atol=1e-16)
    assert_allclose(grad, their_grad, rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), (3, 1)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_classes_are_the_last_axis_as_in_torch(shape, reduction):
    """A vector gives one 0-d loss; more axes give one loss per leading index, as in torch."""
    x, y = RNG.normal(size=shape), (RNG.random(shape) < 0.5).astype(float)
    theirs, their_grad = torch_values_and_grad(F.multilabel_soft_margin_loss, x, t(y),
                                               reduction=reduction)
    ours = lb.multilabel_soft_margin_loss(x, y, reduction=reduction)
    assert np.shape(ours) == theirs.shape
    assert_allclose(ours, theirs, rtol=1e-14)
    assert_allclose(lb.multilabel_soft_margin_loss_grad(x, y, reduction=reduction), their_grad,
                    rtol=1e-14)


def test_soft_margin_with_soft_targets_matches_torch():
    """Targets strictly between 0 and 1 enter torch's formula the same way."""
    y = RNG.random((N, C))
    theirs, their_grad = torch_values_and_grad(F.multilabel_soft_margin_loss, LOGITS, t(y),
                                               reduction="none")
    assert_allclose(lb.multilabel_soft_margin_loss(LOGITS, y, reduction="none"), theirs,
                    rtol=1e-14)
    assert_allclose(lb.multilabel_soft_margin_loss_grad(LOGITS, y, reduction="none"), their_grad,
                    rtol=1e-14)


def test_soft_margin_torch_module_is_the_function():
    """nn.MultiLabelSoftMarginLoss(weight=w) computes F.multilabel_soft_margin_loss."""
    module = torch.nn.MultiLabelSoftMarginLoss(weight=t(CLASS_WEIGHT), reduction="sum")
    ours = lb.multilabel_soft_margin_loss(LOGITS, LABELS, weight=CLASS_WEIGHT, reduction="sum")
    assert_allclose(ours, module(t(LOGITS), t(LABELS)).item(), rtol=1e-14)


def gluon_sigmoid_bce(x, y, *weights, **options):
    """gluon.loss.SigmoidBCELoss on float64 ``nd`` arrays; its float64 output as numpy."""
    block = gluon.loss.SigmoidBCELoss(**options)
    out = block(*(nd.array(a, dtype="float64") for a in (x, y, *weights)))
    assert out.dtype == np.float64
    return out.asnumpy()


def test_gluon_sigmoid_bce_is_the_per_sample_soft_margin_loss():
    """SigmoidBCELoss()(x, y) on (N, C) equals reduction="none": gluon's mean over the classes."""
    ours = lb.multilabel_soft_margin_loss(LOGITS, LABELS, reduction="none")
    theirs = gluon_sigmoid_bce(LOGITS, LABELS)
    assert theirs.shape == (N,)
    assert_allclose(ours, theirs, rtol=1e-15, atol=0)


def test_gluon_sample_weight_of_shape_1_c_is_the_class_weight():
    """SigmoidBCELoss()(x, y, w[None, :]) equals weight=w; gluon's weight= is a global factor."""
    ours = lb.multilabel_soft_margin_loss(LOGITS, LABELS, weight=CLASS_WEIGHT, reduction="none")
    theirs = gluon_sigmoid_bce(LOGITS, LABELS, CLASS_WEIGHT[None, :])
    assert_allclose(ours, theirs, rtol=1e-15, atol=0)
    scaled = gluon_sigmoid_bce(LOGITS, LABELS, weight=2.5)
    assert_allclose(scaled, 2.5 * lb.multilabel_soft_margin_loss(LOGITS, LABELS,
                                                                 reduction="none"), rtol=1e-15)


def test_gluon_has_no_multilabel_margin_or_gaussian_nll_class():
    """mxnet 1.9.1's gluon.loss lists 14 concrete classes (and 2 aliases), none of them these."""
    classes = {name for name, value in inspect.getmembers(gluon.loss, inspect.isclass)
               if issubclass(value, gluon.loss.Loss) and value is not gluon.loss.Loss}
    assert classes == {
        "CTCLoss", "CosineEmbeddingLoss", "HingeLoss", "HuberLoss", "KLDivLoss", "L1Loss",
        "L2Loss", "LogisticLoss", "PoissonNLLLoss", "SDMLLoss", "SigmoidBCELoss",
        "SigmoidBinaryCrossEntropyLoss", "SoftmaxCELoss", "SoftmaxCrossEntropyLoss",
        "SquaredHingeLoss", "TripletLoss",
    }
    assert gluon.loss.SigmoidBCELoss is gluon.loss.SigmoidBinaryCrossEntropyLoss


def test_soft_margin_by_hand():
    """Logits 0 cost log 2 a class; +-700 on the right side costs log(1 + e^-700) = e^-700."""
    zero = lb.multilabel_soft_margin_loss([[0.0, 0.0, 0.0]], [[1, 0, 1]], reduction="none")
    assert zero[0] == math.log(2.0)
    confident = lb.multilabel_soft_margin_loss([[700.0, -700.0]], [[1, 0]], reduction="none")
    assert_allclose(confident, [math.exp(-700.0)], rtol=2**-52)
    wrong = lb.multilabel_soft_margin_loss([[-700.0, 700.0]], [[1, 0]], reduction="none")
    assert_allclose(wrong, [700.0], rtol=2**-53)  # (700 + log1p(e^-700)) per class, mean 700


def test_soft_margin_gradient_by_hand():
    """At logit 0, d/dx = (1/2 - y) w / C: for y = (1, 0), w = (2, 4), C = 2, N = 1: -1/2 and 1."""
    grad = lb.multilabel_soft_margin_loss_grad([[0.0, 0.0]], [[1, 0]], weight=[2.0, 4.0])
    assert_array_equal(grad, [[-0.5, 1.0]])


def test_soft_margin_infinite_logits_on_the_right_side_cost_zero():
    """torch's 0 * inf is nan; the loss exists (0, or inf on the wrong side), as lossbook says."""
    x, y = [[np.inf, -np.inf]], [[1.0, 0.0]]
    assert torch.isnan(F.multilabel_soft_margin_loss(t(x), t(y))).item()
    assert lb.multilabel_soft_margin_loss(x, y) == 0.0
    assert lb.multilabel_soft_margin_loss(x, [[0.0, 1.0]]) == np.inf
    assert_array_equal(lb.multilabel_soft_margin_loss_grad(x, y), [[0.0, 0.0]])


def test_soft_margin_no_classes_is_nan_as_in_torch():
    """(N, 0) input: each per-sample mean over no classes is 0/0."""
    theirs = F.multilabel_soft_margin_loss(torch.zeros(2, 0, dtype=torch.float64),
                                           torch.zeros(2, 0, dtype=torch.float64),
                                           reduction="none")
    assert torch.isnan(theirs).all()
    ours = lb.multilabel_soft_margin_loss(np.zeros((2, 0)), np.zeros((2, 0)), reduction="none")
    assert ours.shape == (2,) and np.isnan(ours).all()
    assert lb.multilabel_soft_margin_loss_grad(np.zeros((2, 0)), np.zeros((2, 0))).shape == (2, 0)


def test_soft_margin_nan_propagates():
    """A nan logit makes its sample's loss and its own gradient nan, and nothing else."""
    x = LOGITS.copy()
    x[1, 2] = np.nan
    losses = lb.multilabel_soft_margin_loss(x, LABELS, reduction="none")
    assert np.isnan(losses[1]) and np.isfinite(np.delete(losses, 1)).all()
    grad = lb.multilabel_soft_margin_loss_grad(x, LABELS)
    assert np.isnan(grad[1, 2]) and np.isfinite(grad).sum() == N * C - 1


def test_soft_margin_float32_is_rounded_once():
    """float32 logits give float32 losses: the float64 value rounded."""
    x32 = LOGITS.astype(np.float32)
    ours = lb.multilabel_soft_margin_loss(x32, LABELS, reduction="none")
    assert ours.dtype == np.float32
    reference = exact.multilabel_soft_margin_loss(x32, LABELS, reduction="none")
    assert_array_equal(ours, exact.nearest_float(reference).astype(np.float32))
    assert lb.multilabel_soft_margin_loss_grad(x32, LABELS).dtype == np.float32


# Accuracy against mpmath.


def soft_margin_batches():
    """Random and extreme (input, target, weight) triples."""
    rng = np.random.default_rng(21)
    extreme = rng.choice([-700.0, 700.0, -40.0, 40.0, -36.7, 1e-300, 0.0, -1e-20, 1e300,
                          -1e300], size=(60, 5))
    return {
        "random": (rng.normal(size=(80, 7)) * 4, (rng.random((80, 7)) < 0.5) * 1.0, None),
        "weighted": (rng.normal(size=(80, 7)) * 4, (rng.random((80, 7)) < 0.5) * 1.0,
                     rng.uniform(0.01, 10, size=7)),
        "soft": (rng.normal(size=(80, 7)) * 4, rng.random((80, 7)), None),
        "extreme": (extreme, (rng.random((60, 5)) < 0.5) * 1.0, None),
        "confident": (rng.uniform(30, 700, (40, 6)) * rng.choice([-1, 1], (40, 6)),
                      None, rng.uniform(0.5, 2, 6)),
        "many classes": (rng.normal(size=(3, 1000)), (rng.random((3, 1000)) < 0.1) * 1.0, None),
    }


@pytest.mark.parametrize("name", list(soft_margin_batches()))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_within_2ulp_of_exact(name, reduction):
    """Every per-sample loss (and the reductions) within 2 ulp of mpmath."""
    x, y, w = soft_margin_batches()[name]
    if y is None:  # confident: every logit on the right side of its target
        y = (x > 0) * 1.0
    ours = lb.multilabel_soft_margin_loss(x, y, weight=w, reduction=reduction)
    exact.assert_within_ulp(ours, exact.multilabel_soft_margin_loss(x, y, weight=w,
                                                                    reduction=reduction))


def test_soft_margin_negative_weights_within_2ulp_of_the_magnitudes():
    """Weights of both signs make the terms cancel: within 2 ulp of their magnitudes."""
    rng = np.random.default_rng(22)
    x, y, w = rng.normal(size=(100, 6)) * 3, (rng.random((100, 6)) < 0.5) * 1.0, rng.normal(size=6)
    ours = lb.multilabel_soft_margin_loss(x, y, weight=w, reduction="none")
    reference = exact.multilabel_soft_margin_loss(x, y, weight=w, reduction="none")
    scale = exact.multilabel_soft_margin_loss(x, y, weight=w, reduction="none", magnitude=True)
    exact.assert_within_ulp(ours, reference, scale=scale)


def test_soft_margin_large_losses_do_not_overflow_their_mean():
    """Two classes costing 1e308 each have the finite mean 1e308 (their sum overflows)."""
    x = np.array([[1e308, 1.5e308, 36.7]])
    ours = lb.multilabel_soft_margin_loss(x, [[0.0, 0.0, 0.0]], reduction="none")
    exact.assert_within_ulp(ours, exact.multilabel_soft_margin_loss(x, [[0.0, 0.0, 0.0]],
                                                                    reduction="none"))


def test_soft_margin_gradient_within_2ulp_of_exact():
    """(sigma(x) - y) / (C N) against mpmath, extreme logits included.

    sigma(x) - 1 is written -sigma(-x), so that the reference keeps e^-700 next to 1.
    """
    x, y, _ = soft_margin_batches()["extreme"]
    grad = lb.multilabel_soft_margin_loss_grad(x, y)
    with exact.working_precision():
        truth = np.where(y == 1, -exact.sigmoid(-x), exact.sigmoid(x)) / x.size
    exact.assert_within_ulp(grad, truth)


# Properties.

LOGIT = st.floats(-50, 50, allow_nan=False, allow_subnormal=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (3, 4), elements=LOGIT), arrays(np.bool_, (3, 4)),
       st.permutations(range(4)))
def test_soft_margin_is_symmetric_and_ignores_the_class_order(x, labels, order):
    """Flipping every logit and label, or permuting classes with their weights, changes nothing."""
    y = labels * 1.0
    w = np.array([0.5, 1.0, 2.0, 4.0])
    base = lb.multilabel_soft_margin_loss(x, y, weight=w, reduction="none")
    flipped = lb.multilabel_soft_margin_loss(-x, 1.0 - y, weight=w, reduction="none")
    permuted = lb.multilabel_soft_margin_loss(x[:, order], y[:, order], weight=w[order],
                                              reduction="none")
    assert_array_equal(flipped, base)
    assert_allclose(permuted, base, rtol=2**-51)
    assert (base > 0).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (2, 5), elements=LOGIT), arrays(np.bool_, (2, 5)))
def test_soft_margin_gradient_is_bounded_and_signed(x, labels):
    """|d/dx| < w / (C N), pushing each logit towards its label: negative for y = 1."""
    y = labels * 1.0
    grad = lb.multilabel_soft_margin_loss_grad(x, y)
    assert (np.abs(grad) <= 1 / x.size).all()
    assert (grad[labels] <= 0).all() and (grad[~labels] >= 0).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (2, 3), elements=LOGIT), st.integers(-4, 4))
def test_soft_margin_weights_scale_the_loss(x, power):
    """Multiplying every weight by 2**k multiplies each loss by 2**k, exactly."""
    y = (x > 0.5) * 1.0
    w = np.array([1.0, 3.0, 0.25])
    base = lb.multilabel_soft_margin_loss(x, y, weight=w, reduction="none")
    scaled = lb.multilabel_soft_margin_loss(x, y, weight=w * 2.0**power, reduction="none")
    assert_array_equal(scaled, base * 2.0**power)


# Bad input.


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ((1.0, 1.0), ValueError, "input must have a class axis"),
        (([[0.0, 1.0]], [[1.0, 0.0, 1.0]]), ValueError, "target"),
        (([[0.0, 1.0]], [[1.0, 2.0]]), ValueError, "target must lie in"),
        (([[0.0, 1.0]], [[1.0, -0.5]]), ValueError, "target must lie in"),
        (([["a", "b"]], [[1.0, 0.0]]), TypeError, "input"),
        (([[0.0, 1.0]], [["a", "b"]]), TypeError, "target"),
    ],
)
def test_soft_margin_rejects_bad_input(arguments, error, match):
    """Each bad argument raises, naming itself, from the loss and from its gradient."""
    for function in (lb.multilabel_soft_margin_loss, lb.multilabel_soft_margin_loss_grad):
        with pytest.raises(error, match=match):
            function(*arguments)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"weight": [1.0, 2.0, 3.0]}, ValueError, "weight"),
        ({"weight": np.ones((2, 1, 2))}, ValueError, "weight"),
        ({"weight": ["a", "b"]}, TypeError, "weight"),
        ({"reduction": "batchmean"}, ValueError, "reduction"),
        ({"reduction": None}, ValueError, "reduction"),
    ],
)
def test_soft_margin_rejects_bad_options(options, error, match):
    """A weight that does not broadcast to the input unchanged, or an unknown reduction, raises."""
    for function in (lb.multilabel_soft_margin_loss, lb.multilabel_soft_margin_loss_grad):
        with pytest.raises(error, match=match):
            function([[0.0, 1.0]], [[1.0, 0.0]], **options)


# multilabel_margin_loss: torch and hand-derived values.


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_matches_torch(reduction):
    """Values and gradients equal F.multilabel_margin_loss's, padding and duplicates included."""
    theirs, their_grad = torch_values_and_grad(
        F.multilabel_margin_loss, MARGIN_SCORES, torch.from_numpy(MARGIN_TARGETS),
        reduction=reduction)
    ours = lb.multilabel_margin_loss(MARGIN_SCORES, MARGIN_TARGETS, reduction=reduction)
    assert np.shape(ours) == theirs.shape
    assert_allclose(ours, theirs, rtol=1e-14, atol=0)
    grad = lb.multilabel_margin_loss_grad(MARGIN_SCORES, MARGIN_TARGETS, reduction=reduction)
    assert_allclose(grad, their_grad, rtol=1e-14, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", range(4))
def test_margin_matches_torch_on_random_batches(reduction, seed):
    """Random scores and padded targets, classes listed twice included."""
    rng = np.random.default_rng(100 + seed)
    x = rng.normal(size=(20, 6)) * 2
    y = padded_targets(rng, 20, 6, duplicates=bool(seed % 2))
    theirs, their_grad = torch_values_and_grad(F.multilabel_margin_loss, x, torch.from_numpy(y),
                                               reduction=reduction)
    assert_allclose(lb.multilabel_margin_loss(x, y, reduction=reduction), theirs, rtol=1e-14)
    assert_allclose(lb.multilabel_margin_loss_grad(x, y, reduction=reduction), their_grad,
                    rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("x", "y"), [([0.3, -0.2, 0.9], [2, -1, 0]), (0.5, 0), (0.5, -1)])
def test_margin_vector_and_scalar_give_0d_losses_as_in_torch(reduction, x, y):
    """(C,) and scalar input (one class) give a 0-d loss even for "none", as in torch."""
    theirs, their_grad = torch_values_and_grad(F.multilabel_margin_loss, x, torch.tensor(y),
                                               reduction=reduction)
    ours = lb.multilabel_margin_loss(x, y, reduction=reduction)
    assert np.shape(ours) == theirs.shape == ()
    assert_allclose(ours, theirs, rtol=1e-15)
    grad = lb.multilabel_margin_loss_grad(x, y, reduction=reduction)
    assert np.shape(grad) == their_grad.shape
    assert_allclose(grad, their_grad, rtol=1e-15)


def test_margin_torch_documented_example_by_hand():
    """x = (0.1, 0.2, 0.4, 0.8), targets 3 and 0: hinges 0.4, 0.6, 1.1, 1.3; 3.4 / 4 = 0.85."""
    x, y = [[0.1, 0.2, 0.4, 0.8]], [[3, 0, -1, 1]]
    assert_allclose(lb.multilabel_margin_loss(x, y), 0.85, rtol=2**-52)
    assert_allclose(F.multilabel_margin_loss(t(x), torch.tensor(y)).item(), 0.85, rtol=2**-52)
    # Each of the 4 active pairs adds 1/4 to its non-target and takes 1/4 from its target.
    assert_array_equal(lb.multilabel_margin_loss_grad(x, y), [[-0.5, 0.5, 0.5, -0.5]])


def test_margin_duplicates_count_twice_by_hand():
    """Target (0, 0): the pairs of class 0 count twice (torch's loop); the set has class 0 once."""
    x = [0.5, 1.0, 0.0]
    # Pairs (0, 1): 1 - 0.5 + 1 = 1.5 and (0, 2): 1 - 0.5 + 0 = 0.5, total 2, twice: 4 / 3.
    assert_allclose(lb.multilabel_margin_loss(x, [0, 0, -1], reduction="none"), 4 / 3, rtol=2**-52)
    assert_allclose(lb.multilabel_margin_loss(x, [0, -1, -1], reduction="none"), 2 / 3, rtol=2**-52)
    assert_allclose(lb.multilabel_margin_loss_grad(x, [0, 0, -1]), [-4 / 3, 2 / 3, 2 / 3],
                    rtol=2**-52)


def test_margin_kink_gradient_is_zero_as_in_torch():
    """A hinge of exactly 0 (x_y = 1, x_i = 0) contributes no gradient, as torch's z > 0 test."""
    x, y = [1.0, 0.0, -5.0], [0, -1, -1]
    assert lb.multilabel_margin_loss(x, y) == 0.0
    leaf = t(x).requires_grad_(True)
    F.multilabel_margin_loss(leaf, torch.tensor(y)).backward()
    assert_array_equal(leaf.grad.numpy(), [0.0, 0.0, 0.0])
    assert_array_equal(lb.multilabel_margin_loss_grad(x, y), [0.0, 0.0, 0.0])
    # Just past the kink the pair is active: 1/C from the target, 1/C to the non-target.
    past = lb.multilabel_margin_loss_grad([1.0, 2.0**-40, -5.0], y)
    assert_array_equal(past, [-1 / 3, 1 / 3, 0.0])


def test_margin_without_pairs_is_zero():
    """No target, or every class a target: no pair, loss and gradient 0."""
    x = [[0.3, 0.1, 2.0]]
    for y in ([[-1, 0, 1]], [[0, 1, 2]], [[2, 0, 1]]):
        assert lb.multilabel_margin_loss(x, y) == 0.0
        assert_array_equal(lb.multilabel_margin_loss_grad(x, y), [[0.0, 0.0, 0.0]])


def test_margin_empty_batch():
    """N = 0: "none" is empty, "sum" 0, "mean" nan (0/0); torch returns uninitialised memory."""
    x, y = np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    assert lb.multilabel_margin_loss(x, y, reduction="none").shape == (0,)
    assert lb.multilabel_margin_loss(x, y, reduction="sum") == 0.0
    assert np.isnan(lb.multilabel_margin_loss(x, y, reduction="mean"))
    assert lb.multilabel_margin_loss_grad(x, y).shape == (0, 3)


def test_margin_nan_propagates_where_torch_skips_it():
    """A nan score gives nan; torch drops the pairs whose hinge is nan and returns a number."""
    x, y = [0.5, np.nan, 0.0], [0, -1, -1]
    assert np.isnan(lb.multilabel_margin_loss(x, y))
    theirs = F.multilabel_margin_loss(t(x), torch.tensor(y)).item()
    assert_allclose(theirs, 0.5 / 3, rtol=1e-15)  # the pair (0, 2) alone: 1 - 0.5 + 0
    grad = lb.multilabel_margin_loss_grad(x, y)
    assert np.isnan(grad[0]) and np.isnan(grad[1]) and grad[2] == 1 / 3


def test_margin_infinite_scores():
    """A non-target at +inf costs inf; a target at +inf clears its pairs; inf - inf is nan."""
    assert lb.multilabel_margin_loss([0.0, np.inf], [0, -1]) == np.inf
    assert lb.multilabel_margin_loss([np.inf, 3.0], [0, -1]) == 0.0
    assert np.isnan(lb.multilabel_margin_loss([np.inf, np.inf], [0, -1]))


def test_margin_float32_and_unsigned_targets():
    """float32 scores give float32; uint8 targets are integers too."""
    x32 = MARGIN_SCORES.astype(np.float32)
    ours = lb.multilabel_margin_loss(x32, MARGIN_TARGETS, reduction="none")
    assert ours.dtype == np.float32
    reference = exact.multilabel_margin_loss(x32, MARGIN_TARGETS, reduction="none")
    assert_array_equal(ours, exact.nearest_float(reference).astype(np.float32))
    assert lb.multilabel_margin_loss_grad(x32, MARGIN_TARGETS).dtype == np.float32
    # Class 0 listed twice against class 1: twice 1 - 0.2 + 0.7 = 1.5, over C = 2.
    twice = lb.multilabel_margin_loss([0.2, 0.7], np.array([0, 0], dtype=np.uint8))
    assert_allclose(twice, 1.5, rtol=2**-52)


# Accuracy against mpmath.


def margin_batches():
    """Random and extreme (scores, targets) pairs."""
    rng = np.random.default_rng(31)
    targets = padded_targets(rng, 40, 6, duplicates=True)
    return {
        "random": (rng.normal(size=(40, 6)), targets),
        "near the kink": (1.0 + rng.normal(size=(40, 6)) * 1e-12, targets),
        "cancelling": (rng.integers(-3, 3, (40, 6)) + rng.normal(size=(40, 6)) * 2.0**-40,
                       targets),
        "large": (rng.normal(size=(40, 6)) * 1e17, targets),
        "tiny": (rng.normal(size=(40, 6)) * 1e-300, targets),
        "many classes": (rng.normal(size=(2, 300)), padded_targets(rng, 2, 300)),
    }


@pytest.mark.parametrize("name", list(margin_batches()))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_within_2ulp_of_exact(name, reduction):
    """Every per-sample loss (and the reductions) within 2 ulp of mpmath."""
    x, y = margin_batches()[name]
    ours = lb.multilabel_margin_loss(x, y, reduction=reduction)
    exact.assert_within_ulp(ours, exact.multilabel_margin_loss(x, y, reduction=reduction))


def test_margin_hinges_beyond_float64_give_finite_means():
    """Hinges of 2.7e308 and 3.4e308 overflow, their means over C = 4 do not: within 2 ulp."""
    x = [[1e308, -1e308, 1.7e308, 0.0], [-1.7e308, 1.7e308, 1e307, -1e308]]
    y = [[1, -1, 0, 0], [0, -1, 3, 3]]
    for reduction in ("none", "mean"):
        ours = lb.multilabel_margin_loss(x, y, reduction=reduction)
        exact.assert_within_ulp(ours, exact.multilabel_margin_loss(x, y, reduction=reduction))
    # Their sum, about 2.7e308, is beyond float64: inf is its correct rounding.
    assert exact.multilabel_margin_loss(x, y, reduction="sum") > np.finfo(np.float64).max
    assert lb.multilabel_margin_loss(x, y, reduction="sum") == np.inf


def test_margin_keeps_the_one_that_torch_rounds_away():
    """x_y = x_i = 2**60 + ...: torch's 1 - x_y rounds the 1 away and drops a hinge of exactly 1."""
    x, y = [[2.0**60, 2.0**60]], [[0, -1]]
    assert F.multilabel_margin_loss(t(x), torch.tensor(y)).item() == 0.0
    assert lb.multilabel_margin_loss(x, y) == 0.5  # max(0, 1 - 0) / C
    assert exact.multilabel_margin_loss(x, y) == 0.5
    assert_array_equal(lb.multilabel_margin_loss_grad(x, y), [[-0.5, 0.5]])


# Properties.

SCORE = st.integers(-64, 64).map(lambda k: k / 16)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (3, 5), elements=SCORE), st.integers(-1000, 1000),
       st.permutations(range(5)), st.integers(0, 2**31))
def test_margin_ignores_shifts_and_class_order(x, shift, order, seed):
    """Adding a constant to every score, or renaming the classes, leaves each loss unchanged."""
    y = padded_targets(np.random.default_rng(seed), 3, 5)
    base = lb.multilabel_margin_loss(x, y, reduction="none")
    assert_array_equal(lb.multilabel_margin_loss(x + shift, y, reduction="none"), base)
    rename = np.argsort(order)  # class c becomes rename[c]
    renamed = np.where(y >= 0, rename[np.maximum(y, 0)], -1)
    permuted = np.empty_like(x)
    permuted[:, rename] = x
    assert_array_equal(lb.multilabel_margin_loss(permuted, renamed, reduction="none"), base)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (4, 4), elements=SCORE), st.integers(0, 2**31))
def test_margin_gradient_rows_sum_to_zero(x, seed):
    """Every active pair adds 1/C to one score and takes 1/C from another: rows sum to 0."""
    y = padded_targets(np.random.default_rng(seed), 4, 4, duplicates=True)
    counts = lb.multilabel_margin_loss_grad(x, y, reduction="sum") * 4  # C = 4: exact
    assert_array_equal(counts, np.round(counts))
    assert_array_equal(counts.sum(axis=1), 0.0)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (3, 4), elements=SCORE), st.integers(0, 2**31))
def test_margin_zero_once_targets_clear_the_others_by_one(x, seed):
    """Lifting every target above every non-target by 1 or more makes each loss 0."""
    y = padded_targets(np.random.default_rng(seed), 3, 4)
    lifted = x.copy()
    for row, labels in zip(lifted, y):
        listed = labels[: np.argmax(labels < 0)] if (labels < 0).any() else labels
        if listed.size:
            row[listed] = row.max() + 1 + np.arange(listed.size)
    assert_array_equal(lb.multilabel_margin_loss(lifted, y, reduction="none"), 0.0)
    assert (lb.multilabel_margin_loss(x, y, reduction="none") >= 0).all()


# Bad input.


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        (([[0.1, 0.2]], [[0.0, 1.0]]), TypeError, "target must hold integer"),
        (([[0.1, 0.2]], [[True, False]]), TypeError, "target must hold integer"),
        (([[0.1, 0.2]], [[0, 2]]), ValueError, "target holds 2, outside"),
        (([[0.1, 0.2]], [[0, -2]]), ValueError, "target holds -2, outside"),
        (([[0.1, 0.2]], [[0, -1, 1]]), ValueError, "target must have the input shape"),
        (([[0.1, 0.2]], [0, -1]), ValueError, "target must have the input shape"),
        ((np.zeros((1, 2, 2)), np.zeros((1, 2, 2), int)), ValueError, "input must be"),
        ((np.zeros((2, 0)), np.zeros((2, 0), int)), ValueError, "at least one class"),
        ((np.zeros(0), np.zeros(0, int)), ValueError, "at least one class"),
        (([["a"]], [[0]]), TypeError, "input"),
        (([[0.1, 0.2]], [["a", "b"]]), TypeError, "target"),
    ],
)
def test_margin_rejects_bad_input(arguments, error, match):
    """Each bad argument raises, naming itself, from the loss and from its gradient."""
    for function in (lb.multilabel_margin_loss, lb.multilabel_margin_loss_grad):
        with pytest.raises(error, match=match):
            function(*arguments)
    # torch rejects each too (its messages differ, and it accepts no other index dtype than int64).
    x, y = (np.asarray(a) for a in arguments)
    if x.dtype.kind == "f" and y.dtype.kind in "iuf":
        with pytest.raises(RuntimeError):
            F.multilabel_margin_loss(t(x), torch.from_numpy(y))


def test_margin_range_check_covers_the_padding():
    """Like torch, an index out of range after the first -1 is still an error."""
    with pytest.raises(RuntimeError, match="out of range"):
        F.multilabel_margin_loss(t([0.1, 0.2, 0.3]), torch.tensor([0, -1, 3]))
    with pytest.raises(ValueError, match="target holds 3"):
        lb.multilabel_margin_loss([0.1, 0.2, 0.3], [0, -1, 3])


def test_margin_rejects_unknown_reduction():
    """reduction must be one of the three."""
    for function in (lb.multilabel_margin_loss, lb.multilabel_margin_loss_grad):
        with pytest.raises(ValueError, match="reduction"):
            function([0.1, 0.2], [0, -1], reduction="batchmean")


def test_docstring_examples_run():
    """The Examples of the module's functions run as doctests and print what they show."""
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for name in ("multilabel_soft_margin_loss", "multilabel_soft_margin_loss_grad",
                 "multilabel_margin_loss", "multilabel_margin_loss_grad"):
        for test in finder.find(getattr(multilabel, name), name, globs={}):
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert runner.summarize(verbose=False).attempted >= 8


# The exact twins themselves.


def test_exact_twins_by_hand():
    """mpmath references on hand-derived cases: log 2 per class; hinges 1.25 and 0.75 over 3."""
    import mpmath

    with exact.working_precision():
        log2 = mpmath.log(2)
        soft = exact.multilabel_soft_margin_loss([[0.0, 0.0, 0.0]], [[1, 0, 1]], reduction="none")
        assert abs(soft[0] - log2) < mpmath.mpf(10) ** -55
        hinge = exact.multilabel_margin_loss([0.25, 0.5, 0.0], [0, -1, -1], reduction="none")
        assert abs(hinge[()] - mpmath.mpf(2) / 3) < mpmath.mpf(10) ** -55
        assert exact.multilabel_margin_loss([[1.0, 0.0]], [[0, -1]]) == 0
        assert mpmath.isnan(exact.multilabel_soft_margin_loss(np.zeros((1, 0)), np.zeros((1, 0))))


@pytest.mark.parametrize(
    ("function", "arguments", "match"),
    [
        (exact.multilabel_soft_margin_loss, (1.0, 1.0), "class axis"),
        (exact.multilabel_soft_margin_loss, ([[0.0, 1.0]], [[1.0]]), "target"),
        (exact.multilabel_margin_loss, ([[0.0, 1.0]], [[1]]), "target"),
        (exact.multilabel_margin_loss, (np.zeros((1, 1, 2)), np.zeros((1, 1, 2), int)), "axes"),
        (exact.multilabel_margin_loss, ([[0.0, 1.0]], [[0, 2]]), "target holds 2"),
    ],
)
def test_exact_twins_reject_bad_input(function, arguments, match):
    """The references refuse what lossbook refuses, naming the argument."""
    with pytest.raises(ValueError, match=match):
        function(*arguments)

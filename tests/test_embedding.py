"""Embedding losses and distances against torch (float64, values and autograd), mpmath and gluon."""

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
from lossbook import exact
from lossbook.embedding import COSINE_EPSILON

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from mxnet import base as mxnet_base
    from mxnet import gluon, nd

REDUCTIONS = ("none", "mean", "sum")
RNG = np.random.default_rng(11)
ANCHOR, POSITIVE, NEGATIVE = (RNG.normal(size=(7, 5)) for _ in range(3))
LABELS = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
TOLERANCE = {"rtol": 1e-13, "atol": 1e-15}
"""torch's float64 values and gradients carry a few roundings of their own (about 1e-15)."""


def tensors(*values):
    """float64 leaf tensors that record gradients."""
    return [torch.tensor(np.asarray(value, dtype=np.float64), requires_grad=True)
            for value in values]


def torch_value_and_grads(function, differentiable, *rest, **options):
    """torch's loss and the gradients of its sum (torch.autograd) for the differentiable arrays."""
    leaves = tensors(*differentiable)
    out = function(*leaves, *rest, **options)
    out.sum().backward()
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


def assert_matches_torch(ours, grads, theirs, their_grads):
    assert np.shape(ours) == np.shape(theirs)
    assert_allclose(ours, theirs, **TOLERANCE)
    assert len(grads) == len(their_grads)
    for mine, other in zip(grads, their_grads):
        assert mine.shape == other.shape and mine.dtype == np.float64
        assert_allclose(mine, other, **TOLERANCE)


# torch parity.


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.3])
def test_margin_ranking_loss_matches_torch(reduction, margin):
    """margin_ranking_loss and its gradient equal F.margin_ranking_loss's."""
    x1, x2 = ANCHOR[:, 0], POSITIVE[:, 0]
    options = {"margin": margin, "reduction": reduction}
    theirs, their_grads = torch_value_and_grads(
        F.margin_ranking_loss, (x1, x2), torch.tensor(LABELS), **options)
    assert_matches_torch(lb.margin_ranking_loss(x1, x2, LABELS, **options),
                         lb.margin_ranking_loss_grad(x1, x2, LABELS, **options),
                         theirs, their_grads)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 1.5, math.inf])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss_matches_torch(reduction, p, swap):
    """triplet_margin_loss and its three gradients equal torch's, for p = 1, 2, 3, 1.5, inf and swap."""
    options = {"margin": 2.0, "p": p, "swap": swap, "reduction": reduction}
    arrays_ = (ANCHOR, POSITIVE, NEGATIVE)
    theirs, their_grads = torch_value_and_grads(F.triplet_margin_loss, arrays_, **options)
    assert_matches_torch(lb.triplet_margin_loss(*arrays_, **options),
                         lb.triplet_margin_loss_grad(*arrays_, **options), theirs, their_grads)


@pytest.mark.parametrize("eps", [0.0, 1e-6, 0.25])
@pytest.mark.parametrize("margin", [0.3, 1.0])
def test_triplet_margin_loss_options_and_unbatched_match_torch(eps, margin):
    """Other eps and margins, and one unbatched triplet of shape (D,), as in torch."""
    for arrays_ in [(ANCHOR, POSITIVE, NEGATIVE), (ANCHOR[0], POSITIVE[0], NEGATIVE[0])]:
        options = {"margin": margin, "eps": eps, "reduction": "none", "swap": True}
        theirs, their_grads = torch_value_and_grads(F.triplet_margin_loss, arrays_, **options)
        assert_matches_torch(lb.triplet_margin_loss(*arrays_, **options),
                             lb.triplet_margin_loss_grad(*arrays_, **options), theirs,
                             their_grads)


def manhattan(x, y):
    """A custom distance in numpy: the L1 distance of the rows."""
    return np.abs(x - y).sum(axis=-1)


def manhattan_grad(x, y):
    """The gradients of manhattan(x, y).sum()."""
    return np.sign(x - y), -np.sign(x - y)


DISTANCES = {
    "default": (None, None, None),
    "squared-l2": (lb.squared_l2_distance, None, lambda x, y: ((x - y) ** 2).sum(-1)),
    "pairwise": (lb.pairwise_distance, None, F.pairwise_distance),
    "custom": (manhattan, manhattan_grad, lambda x, y: (x - y).abs().sum(-1)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("name", list(DISTANCES))
def test_triplet_margin_with_distance_loss_matches_torch(reduction, swap, name):
    """Each distance (default, squared L2, pairwise, a custom numpy one) gives torch's values and grads."""
    ours, gradient, theirs_function = DISTANCES[name]
    options = {"margin": 1.5, "swap": swap, "reduction": reduction}
    arrays_ = (ANCHOR, POSITIVE, NEGATIVE)
    theirs, their_grads = torch_value_and_grads(
        F.triplet_margin_with_distance_loss, arrays_, distance_function=theirs_function, **options)
    extra = {} if gradient is None else {"distance_grad": gradient}
    assert_matches_torch(
        lb.triplet_margin_with_distance_loss(*arrays_, distance_function=ours, **options),
        lb.triplet_margin_with_distance_loss_grad(*arrays_, distance_function=ours, **extra,
                                                  **options),
        theirs, their_grads)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.5])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    """cosine_embedding_loss and its gradients equal torch's, batched and for one pair (D,)."""
    options = {"margin": margin, "reduction": reduction}
    theirs, their_grads = torch_value_and_grads(
        F.cosine_embedding_loss, (ANCHOR, POSITIVE), torch.tensor(LABELS), **options)
    assert_matches_torch(lb.cosine_embedding_loss(ANCHOR, POSITIVE, LABELS, **options),
                         lb.cosine_embedding_loss_grad(ANCHOR, POSITIVE, LABELS, **options),
                         theirs, their_grads)
    theirs, their_grads = torch_value_and_grads(
        F.cosine_embedding_loss, (ANCHOR[1], POSITIVE[1]), torch.tensor(-1.0), **options)
    assert_matches_torch(lb.cosine_embedding_loss(ANCHOR[1], POSITIVE[1], -1, **options),
                         lb.cosine_embedding_loss_grad(ANCHOR[1], POSITIVE[1], -1, **options),
                         theirs, their_grads)


def torch_sdml(x1, x2, smoothing, reduction):
    """SDML in torch (no class): KL of the smoothed identity from softmax(-squared distances)."""
    size = x1.shape[0]
    distances = ((x1[:, None, :] - x2[None, :, :]) ** 2).sum(-1)
    labels = torch.full((size, size), smoothing / (size - 1), dtype=torch.float64)
    labels.fill_diagonal_(1 - smoothing)
    losses = F.kl_div(F.log_softmax(-distances, dim=1), labels, reduction="none").sum(1)
    return {"none": losses, "mean": losses.mean(), "sum": losses.sum()}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3, 1.0])
def test_sdml_loss_matches_the_torch_expression(reduction, smoothing):
    """sdml_loss and its gradients equal the torch expression's (torch has no SDML class)."""
    theirs, their_grads = torch_value_and_grads(torch_sdml, (ANCHOR, POSITIVE), smoothing,
                                                reduction)
    options = {"smoothing_parameter": smoothing, "reduction": reduction}
    assert_matches_torch(lb.sdml_loss(ANCHOR, POSITIVE, **options),
                         lb.sdml_loss_grad(ANCHOR, POSITIVE, **options), theirs, their_grads)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_pairwise_distance_matches_torch(p, eps):
    """pairwise_distance and its gradient equal F.pairwise_distance's."""
    theirs, their_grads = torch_value_and_grads(F.pairwise_distance, (ANCHOR, POSITIVE), p=p,
                                                eps=eps)
    assert_matches_torch(lb.pairwise_distance(ANCHOR, POSITIVE, p=p, eps=eps),
                         lb.pairwise_distance_grad(ANCHOR, POSITIVE, p=p, eps=eps),
                         theirs, their_grads)


def test_squared_l2_distance_matches_torch():
    """squared_l2_distance and its gradient equal torch's ((x - y)**2).sum(-1)."""
    theirs, their_grads = torch_value_and_grads(lambda x, y: ((x - y) ** 2).sum(-1),
                                                (ANCHOR, POSITIVE))
    assert_matches_torch(lb.squared_l2_distance(ANCHOR, POSITIVE),
                         lb.squared_l2_distance_grad(ANCHOR, POSITIVE), theirs, their_grads)


def test_kinks_follow_torch():
    """At the hinge's kink and at a swap tie the gradients are torch's (active side; split in half)."""
    # margin + d(a, p) - d(a, n) = 1 + 1 - 2 = 0 exactly (L1 distances); the swap ties d(a, n) = d(p, n).
    a, p, n = [[0.0, 0.0]], [[1.0, 0.0]], [[2.0, 0.0]]
    for arrays_, swap in [((a, p, n), False), ((a, [[2.0, 0.0]], [[1.0, 0.0]]), True)]:
        options = {"margin": 1.0, "swap": swap, "reduction": "sum", "p": 1.0, "eps": 0.0}
        theirs, their_grads = torch_value_and_grads(F.triplet_margin_loss, arrays_, **options)
        assert_matches_torch(lb.triplet_margin_loss(*arrays_, **options),
                             lb.triplet_margin_loss_grad(*arrays_, **options), theirs,
                             their_grads)
    # margin ranking at -y (x1 - x2) + margin = 0, and cosine at cos = margin = 0.
    theirs, their_grads = torch_value_and_grads(F.margin_ranking_loss, ([2.0], [1.0]),
                                                torch.tensor([1.0]), margin=1.0)
    assert_matches_torch(lb.margin_ranking_loss([2.0], [1.0], [1], margin=1.0),
                         lb.margin_ranking_loss_grad([2.0], [1.0], [1], margin=1.0), theirs,
                         their_grads)
    theirs, their_grads = torch_value_and_grads(F.cosine_embedding_loss, ([[1.0, 0.0]], [[0.0, 1.0]]),
                                                torch.tensor([-1.0]))
    assert_matches_torch(lb.cosine_embedding_loss([[1.0, 0.0]], [[0.0, 1.0]], [-1]),
                         lb.cosine_embedding_loss_grad([[1.0, 0.0]], [[0.0, 1.0]], [-1]), theirs,
                         their_grads)
    # p = inf shares the gradient among tied largest components; a zero distance has gradient 0.
    for x, y in [([[0.0, 0.0, 0.0]], [[1.0, -1.0, 0.5]]), ([[1.0, 2.0]], [[1.0, 2.0]])]:
        for p in (math.inf, 1.0, 2.0, 3.0):
            theirs, their_grads = torch_value_and_grads(F.pairwise_distance, (x, y), p=p, eps=0.0)
            assert_matches_torch(lb.pairwise_distance(x, y, p=p, eps=0.0),
                                 lb.pairwise_distance_grad(x, y, p=p, eps=0.0), theirs,
                                 their_grads)


def test_empty_batches_as_torch():
    """No samples: "none" gives an empty array, "sum" 0 and "mean" nan, as torch; no rows' length D = 0."""
    empty = np.zeros((0, 3))
    for reduction in REDUCTIONS:
        cases = [
            (lb.triplet_margin_loss(empty, empty, empty, reduction=reduction),
             F.triplet_margin_loss(*tensors(empty, empty, empty), reduction=reduction)),
            (lb.cosine_embedding_loss(empty, empty, np.zeros(0), reduction=reduction),
             F.cosine_embedding_loss(*tensors(empty, empty, np.zeros(0)), reduction=reduction)),
            (lb.margin_ranking_loss([], [], [], reduction=reduction),
             F.margin_ranking_loss(*tensors([], [], []), reduction=reduction)),
        ]
        for ours, theirs in cases:
            assert_array_equal(ours, theirs.detach().numpy())
    flat = np.zeros((2, 0))
    assert_array_equal(lb.triplet_margin_loss(flat, flat, flat, reduction="none"),
                       F.triplet_margin_loss(*tensors(flat, flat, flat), reduction="none")
                       .detach().numpy())
    assert_array_equal(lb.cosine_embedding_loss(flat, flat, [1, -1], reduction="none"), [1.0, 0.0])
    assert_array_equal(lb.squared_l2_distance(flat, flat), [0.0, 0.0])
    assert_allclose(lb.sdml_loss(flat, flat, reduction="none"),
                    torch_sdml(*tensors(flat, flat), 0.3, "none").detach().numpy(), **TOLERANCE)
    for gradient in lb.triplet_margin_loss_grad(empty, empty, empty):
        assert gradient.shape == (0, 3)


def test_nan_and_inf_propagate():
    """nan in a row gives nan for that row only; inf gives inf distances, as torch."""
    a = ANCHOR[:3].copy()
    a[1, 2] = np.nan
    a[2, 0] = np.inf
    loss = lb.triplet_margin_loss(a, POSITIVE[:3], NEGATIVE[:3], reduction="none")
    theirs = F.triplet_margin_loss(*tensors(a, POSITIVE[:3], NEGATIVE[:3]), reduction="none")
    assert_array_equal(np.isnan(loss), np.isnan(theirs.detach().numpy()))
    assert np.isnan(loss[1]) and np.isfinite(loss[0])
    distances = lb.pairwise_distance(a, POSITIVE[:3])
    assert np.isnan(distances[1]) and distances[2] == np.inf
    assert lb.squared_l2_distance(a, POSITIVE[:3])[2] == np.inf
    gradients = lb.triplet_margin_loss_grad(a, POSITIVE[:3], NEGATIVE[:3], reduction="none")
    assert np.isnan(gradients[0][1]).all() and np.isfinite(gradients[0][0]).all()
    cosine = lb.cosine_embedding_loss(a, POSITIVE[:3], [1, -1, 1], reduction="none")
    assert np.isnan(cosine[1]) and np.isfinite(cosine[0])
    assert np.isnan(lb.cosine_embedding_loss_grad(a, POSITIVE[:3], [1, -1, 1])[0][1]).all()
    assert np.isnan(lb.margin_ranking_loss([np.nan, 1.0], [0.0, 0.0], [1, 1], reduction="none")[0])
    assert np.isnan(lb.margin_ranking_loss_grad([np.nan], [0.0], [1])[0]).all()
    assert np.isnan(lb.cosine_embedding_loss([1.0, 0.0], [1.0, 0.0], np.nan))
    assert np.isnan(lb.sdml_loss(a, POSITIVE[:3], reduction="none")).any()
    swapped = lb.triplet_margin_loss_grad(a, POSITIVE[:3], NEGATIVE[:3], swap=True)
    assert np.isnan(swapped[2][1]).all()


# Accuracy against mpmath.


def ulp(computed, reference, scale=None):
    """Worst error in units of eps = 2**-52 relative to the scale (the reference by default)."""
    return float(np.max(exact.ulp_errors(computed, reference, scale), initial=0.0))


def extreme_vectors():
    """Pairs of batches whose differences cancel, are tiny, huge, or mix scales."""
    rng = np.random.default_rng(2)
    base = rng.normal(size=(6, 5))
    return {
        "random": (base, rng.normal(size=(6, 5))),
        "nearly-equal": (base, base * (1 + 1e-12 * rng.normal(size=(6, 5)))),
        "eps-cancelling": (base, base + 1e-6 * (1 + 1e-9 * rng.normal(size=(6, 5)))),
        "huge": (base * 1e150, rng.normal(size=(6, 5)) * 1e150),
        "tiny": (base * 1e-160, rng.normal(size=(6, 5)) * 1e-160),
        "mixed-scales": (base * np.logspace(-8, 8, 5), rng.normal(size=(6, 5))),
    }


@pytest.mark.parametrize("name", list(extreme_vectors()))
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 2.5, math.inf])
@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_pairwise_distance_within_2ulp(name, p, eps):
    """pairwise_distance is within 2 ulp of mpmath's, however close the vectors (its docstring)."""
    x1, x2 = extreme_vectors()[name]
    error = ulp(lb.pairwise_distance(x1, x2, p=p, eps=eps), exact.pairwise_distance(x1, x2, p=p,
                                                                                     eps=eps))
    assert error <= (1 if p in (1.0, 2.0, math.inf) else 2)


@pytest.mark.parametrize("name", list(extreme_vectors()))
def test_squared_l2_distance_within_1ulp(name):
    """squared_l2_distance is within 1 ulp of mpmath's."""
    x1, x2 = extreme_vectors()[name]
    assert ulp(lb.squared_l2_distance(x1, x2), exact.squared_l2_distance(x1, x2)) <= 1


def at_the_margin(distance, margin, rng):
    """Triplets with the negative placed so that d(a, n) is d(a, p) + margin to about 1e-9."""
    anchor = rng.normal(size=(6, 4))
    positive = anchor + rng.normal(size=(6, 4))
    direction = rng.normal(size=(6, 4))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    target = distance(anchor, positive) + margin
    negative = anchor + direction * (target if distance is np.linalg.norm else np.sqrt(target))[:, None]
    return anchor, positive, negative


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_loss_within_2ulp_of_its_terms(p, swap, reduction):
    """Within 2 ulp of margin + d(a, p) + d(a, n), also where the terms cancel (at the margin)."""
    rng = np.random.default_rng(5)
    batches = [(ANCHOR, POSITIVE, NEGATIVE),
               at_the_margin(lambda x, y: np.linalg.norm(x - y, axis=1), 0.5, rng)]
    batches += [tuple(v * 1e100 for v in batches[0]), tuple(v * 1e-100 for v in batches[0])]
    for batch in batches:
        options = {"margin": 0.5, "p": p, "swap": swap, "reduction": reduction}
        reference = exact.triplet_margin_loss(*batch, **options)
        scale = exact.triplet_margin_loss(*batch, magnitude=True, **options)
        assert ulp(lb.triplet_margin_loss(*batch, **options), reference, scale) <= 2


@pytest.mark.parametrize("distance", [None, lb.squared_l2_distance, lb.pairwise_distance])
def test_triplet_margin_with_distance_loss_within_2ulp_of_its_terms(distance):
    """gluon's squared-L2 triplets at the margin, and the default distance, within 2 ulp of the terms."""
    rng = np.random.default_rng(6)
    squared = at_the_margin(lambda x, y: ((x - y) ** 2).sum(axis=1), 0.5, rng)
    rooted = at_the_margin(lambda x, y: np.linalg.norm(x - y, axis=1), 0.5, rng)
    for batch in [(ANCHOR, POSITIVE, NEGATIVE), squared, rooted]:
        options = {"distance_function": distance, "margin": 0.5, "reduction": "none"}
        reference = exact.triplet_margin_with_distance_loss(*batch, **options)
        scale = exact.triplet_margin_with_distance_loss(*batch, magnitude=True, **options)
        computed = lb.triplet_margin_with_distance_loss(*batch, **options)
        assert ulp(computed, reference, scale) <= 2


def test_triplet_losses_of_vectors_whose_squares_near_the_float64_limit():
    """Differences near 1e153, squares near 1e307: their sums fit float64, 2 D times the largest not.

    The plain pass cannot extract such sums and leaves the rows to the compensated path.
    """
    rng = np.random.default_rng(12)
    anchor, positive, negative = (rng.normal(size=(5, 6)) * 1.2e153 for _ in range(3))
    assert np.max((anchor - positive) ** 2) > np.finfo(float).max / 12
    options = {"margin": 1.0, "reduction": "none"}
    for function, distance in [(lb.triplet_margin_loss, {}),
                               (lb.triplet_margin_with_distance_loss,
                                {"distance_function": lb.squared_l2_distance})]:
        twin = getattr(exact, function.__name__)
        reference = twin(anchor, positive, negative, **options, **distance)
        scale = twin(anchor, positive, negative, magnitude=True, **options, **distance)
        assert np.isfinite(np.array(scale, dtype=float)).all()
        assert ulp(function(anchor, positive, negative, **options, **distance), reference,
                   scale) <= 2


def test_margin_ranking_loss_within_1ulp_up_to_eps_squared():
    """Within 1 ulp of the loss, up to eps**2 (|x1| + |x2| + |margin|), also where the terms cancel."""
    rng = np.random.default_rng(8)
    x1 = rng.normal(size=50) * 10.0 ** rng.integers(-5, 5, 50)
    x2 = x1 + x1 * 1e-13 * rng.normal(size=50)
    margin = 1e-12
    for a, b in [(x1, x2), (x1, rng.normal(size=50))]:
        y = np.sign(rng.normal(size=50))
        reference = exact.margin_ranking_loss(a, b, y, margin=margin, reduction="none")
        magnitude = exact.margin_ranking_loss(a, b, y, margin=margin, reduction="none",
                                              magnitude=True)
        scale = np.abs(reference) + exact.EPS * magnitude
        assert ulp(lb.margin_ranking_loss(a, b, y, margin=margin, reduction="none"), reference,
                   scale) <= 1
        for reduction in ("mean", "sum"):
            computed = lb.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction)
            exact_value = exact.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction)
            exact_scale = exact.margin_ranking_loss(a, b, y, margin=margin, reduction=reduction,
                                                    magnitude=True)
            assert ulp(computed, exact_value, exact_scale) <= 2


@pytest.mark.parametrize("margin", [0.0, 0.3, -0.7])
def test_cosine_embedding_loss_within_1ulp_up_to_cancelling_products(margin):
    """Within 1 ulp of the loss, up to 4 D**2 eps**2 sum|x1 x2| / den (nearly orthogonal pairs).

    The pairs are random, nearly parallel (1 - cos ~ 1e-20 is held exactly... to within its own
    ulp), nearly orthogonal (the products cancel), zero, huge and tiny.
    """
    rng = np.random.default_rng(9)
    base = rng.normal(size=(6, 8))
    other = rng.normal(size=(6, 8))
    orthogonal = other - (other * base).sum(1, keepdims=True) / (base * base).sum(1,
                                                                                 keepdims=True) * base
    batches = [
        (base, other), (base, base * (1 + 1e-9 * other)), (base, orthogonal),
        (np.zeros((6, 8)), other), (base * 1e200, other * 1e-200), (base * 1e-170, other),
        (base * 1e-7, other * 1e-7),
    ]
    for x1, x2 in batches:
        for labels in (np.ones(6), -np.ones(6)):
            reference = exact.cosine_embedding_loss(x1, x2, labels, margin=margin, reduction="none")
            magnitude = exact.cosine_embedding_loss(x1, x2, labels, margin=margin,
                                                    reduction="none", magnitude=True)
            scale = np.abs(reference) + 2 * 8**2 * exact.EPS * magnitude
            computed = lb.cosine_embedding_loss(x1, x2, labels, margin=margin, reduction="none")
            assert ulp(computed, reference, scale) <= 1


@pytest.mark.parametrize("smoothing", [0.0, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sdml_loss_within_2ulp_of_cross_entropy_plus_entropy(smoothing, reduction):
    """Within 2 ulp of the cross-entropy plus the entropy of the smoothed labels (the terms cancel)."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(6, 4))
    batches = [(ANCHOR, POSITIVE), (x, x + 1e-3 * rng.normal(size=(6, 4))), (x * 30, x * 30 + 1),
               (x, x * (1 + 1e-13))]
    for x1, x2 in batches:
        options = {"smoothing_parameter": smoothing, "reduction": reduction}
        reference = exact.sdml_loss(x1, x2, **options)
        scale = exact.sdml_loss(x1, x2, magnitude=True, **options)
        assert ulp(lb.sdml_loss(x1, x2, **options), reference, scale) <= 2


# Properties.

VECTORS = arrays(np.float64, (4, 3), elements=st.floats(-100, 100, allow_subnormal=False))
SIGNS = arrays(np.float64, 4, elements=st.sampled_from([-1.0, 1.0]))


@settings(max_examples=40, deadline=None)
@given(VECTORS, VECTORS, SIGNS, st.floats(-5, 5), st.floats(0, 5))
def test_margin_ranking_properties(x1, x2, y, margin, more):
    """Swapping the inputs and the labels changes nothing; a larger margin never lowers a loss."""
    loss = lb.margin_ranking_loss(x1[:, 0], x2[:, 0], y, margin=margin, reduction="none")
    assert_array_equal(loss, lb.margin_ranking_loss(x2[:, 0], x1[:, 0], -y, margin=margin,
                                                    reduction="none"))
    larger = lb.margin_ranking_loss(x1[:, 0], x2[:, 0], y, margin=margin + more, reduction="none")
    assert np.all(larger >= loss) and np.all(loss >= 0)


@settings(max_examples=40, deadline=None)
@given(VECTORS, VECTORS, VECTORS, st.floats(0.01, 5), st.floats(0, 5),
       st.sampled_from([1.0, 2.0, 3.0, math.inf]))
def test_triplet_properties(a, p, n, margin, more, order):
    """Loss >= 0, monotone in the margin, no larger with swap, and 0 where d(a, n) >= d(a, p) + margin."""
    options = {"p": order, "reduction": "none"}
    loss = lb.triplet_margin_loss(a, p, n, margin=margin, **options)
    assert np.all(loss >= 0)
    assert np.all(lb.triplet_margin_loss(a, p, n, margin=margin + more, **options) >= loss)
    assert np.all(lb.triplet_margin_loss(a, p, n, margin=margin, swap=True, **options) >= loss)
    near = lb.pairwise_distance(a, p, p=order)
    far = lb.pairwise_distance(a, n, p=order)
    assert np.all(loss[far > near + margin + 1e-9 * (near + far + margin)] == 0)


@settings(max_examples=40, deadline=None)
@given(VECTORS, VECTORS, SIGNS, st.floats(-1, 1), st.integers(-60, 60))
def test_cosine_properties(x1, x2, y, margin, power):
    """Symmetric in its inputs (exactly), bounded by [0, 2], and unchanged by scaling by 2**k.

    Scaling changes the loss only through the epsilon inside the norms: by at most
    2 e / min(|x1|^2, |x2|^2) (plus a few ulp), where e = 1e-12 in float32.
    """
    loss = lb.cosine_embedding_loss(x1, x2, y, margin=margin, reduction="none")
    assert_array_equal(loss, lb.cosine_embedding_loss(x2, x1, y, margin=margin, reduction="none"))
    assert np.all((loss >= 0) & (loss <= 2))
    scaled = lb.cosine_embedding_loss(np.ldexp(x1, power), x2, y, margin=margin, reduction="none")
    smallest = np.minimum((x1 * x1).sum(1) * min(1.0, 4.0**power), (x2 * x2).sum(1))
    bound = 2 * COSINE_EPSILON / np.maximum(smallest, 1e-300) + 8 * exact.EPS
    assert np.all(np.abs(scaled - loss) <= bound)


@settings(max_examples=30, deadline=None)
@given(VECTORS, VECTORS, st.floats(0, 1), st.permutations(range(4)))
def test_sdml_properties(x1, x2, smoothing, order):
    """SDML is a KL divergence (>= 0, up to rounding), and permuting the pairs permutes the losses."""
    loss = lb.sdml_loss(x1, x2, smoothing_parameter=smoothing, reduction="none")
    scale = exact.EPS * 8 * (1 + np.abs(loss).max() + ((x1[:, None] - x2[None]) ** 2).sum(-1).max())
    assert np.all(loss >= -scale)
    order = list(order)
    permuted = lb.sdml_loss(x1[order], x2[order], smoothing_parameter=smoothing, reduction="none")
    assert_allclose(permuted, loss[order], rtol=0, atol=scale)


# Hand-derived examples.


def test_sdml_loss_with_a_smoothing_whose_share_underflows():
    """s = 5e-324 (hypothesis found it): s / (N - 1) underflows to 0, and the loss is still exact."""
    x1, x2 = ANCHOR[:4], POSITIVE[:4]
    options = {"smoothing_parameter": 5e-324, "reduction": "none"}
    assert ulp(lb.sdml_loss(x1, x2, **options), exact.sdml_loss(x1, x2, **options)) <= 2


def test_sdml_loss_of_a_nearly_certain_match_between_large_vectors():
    """Partners 1e-9 apart, others 26.5 and more apart at 1000: losses near 1e-305, still 2 ulp.

    The fast distances err by about 1e-22 here, more than such a loss can absorb: those rows take
    the compensated distances. The third row's loss underflows to 0.
    """
    x1 = np.array([[1000.0], [1026.5], [1060.0]])
    x2 = x1 + np.array([[1e-9], [-2e-9], [3e-9]])
    options = {"smoothing_parameter": 0.0, "reduction": "none"}
    reference = exact.sdml_loss(x1, x2, **options)
    assert float(reference[0]) < 1e-300
    scale = exact.sdml_loss(x1, x2, magnitude=True, **options)
    assert ulp(lb.sdml_loss(x1, x2, **options), reference, scale) <= 2


def test_hand_examples():
    """3-4-5 triangles, a right angle, and SDML on two points at distance 1 (0 smoothing)."""
    assert_array_equal(lb.margin_ranking_loss([3.0, 1.0], [1.0, 2.0], [1, 1], margin=0.5,
                                              reduction="none"), [0.0, 1.5])
    # d(a, p) = 5, d(a, n) = 5.5: 1 + 5 - 5.5 = 0.5; squared: 1 + 25 - 30.25 < 0.
    a, p, n = [0.0, 0.0], [3.0, 4.0], [0.0, 5.5]
    assert lb.triplet_margin_loss(a, p, n, eps=0.0) == 0.5
    assert lb.triplet_margin_with_distance_loss(
        a, p, n, distance_function=lb.squared_l2_distance) == 0.0
    assert lb.pairwise_distance([3.0, 0.0], [0.0, 4.0], eps=0.0) == 5.0
    assert lb.pairwise_distance([3.0, 0.0], [0.0, 4.0], p=1.0, eps=0.0) == 7.0
    assert lb.pairwise_distance([3.0, 0.0], [0.0, 4.0], p=math.inf, eps=0.0) == 4.0
    # torch adds eps to each difference: a vector is sqrt(D) * eps from itself.
    assert lb.pairwise_distance(np.ones(4), np.ones(4)) == 2e-6
    # Orthogonal: cos 0, so 1 for y = 1 and max(0, 0 - (-0.5)) = 0.5 for y = -1.
    loss = lb.cosine_embedding_loss([[1.0, 0.0]] * 2, [[0.0, 3.0]] * 2, [1, -1], margin=-0.5,
                                    reduction="none")
    assert_array_equal(loss, [1.0, 0.5])
    # A vector with itself: 1 - |x|^2 / (|x|^2 + e) = e / (|x|^2 + e), with torch's float32 e.
    assert_allclose(lb.cosine_embedding_loss([1e-6, 0.0], [1e-6, 0.0], 1),
                    COSINE_EPSILON / (1e-12 + COSINE_EPSILON), rtol=1e-15)
    # Two points 1 apart, no smoothing: -log softmax picks e^0 / (e^0 + e^-1): softplus(-1).
    x = [[0.0], [1.0]]
    assert_allclose(lb.sdml_loss(x, x, smoothing_parameter=0.0, reduction="none"),
                    [math.log1p(math.exp(-1.0))] * 2, rtol=1e-15)


def test_float32_in_float32_out():
    """float32 arrays give float32 losses and gradients; mixed dtypes promote, as in torch."""
    a, p, n = (v.astype(np.float32) for v in (ANCHOR, POSITIVE, NEGATIVE))
    assert lb.triplet_margin_loss(a, p, n).dtype == np.float32
    assert lb.triplet_margin_loss(a, p, NEGATIVE).dtype == np.float64
    assert [g.dtype for g in lb.triplet_margin_loss_grad(a, p, NEGATIVE)] == [np.float32,
                                                                              np.float32,
                                                                              np.float64]
    assert lb.cosine_embedding_loss(a, p, LABELS, reduction="none").dtype == np.float32
    assert lb.sdml_loss(a, p).dtype == np.float32
    labels = LABELS.astype(np.float32)
    assert lb.margin_ranking_loss(a[:, 0], p[:, 0], labels).dtype == np.float32
    # torch promotes the target too: float64 labels make a float64 loss there and here.
    assert F.margin_ranking_loss(*tensors(a[:, 0]), *tensors(p[:, 0]),
                                 torch.tensor(LABELS)).dtype == torch.float64
    assert lb.margin_ranking_loss(a[:, 0], p[:, 0], LABELS).dtype == np.float64
    assert lb.squared_l2_distance(a, p).dtype == np.float32
    assert lb.pairwise_distance_grad(a, p)[0].dtype == np.float32


# Bad input.


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: lb.margin_ranking_loss([1.0], [1.0, 2.0], [1, 1]), ValueError, "input2"),
    (lambda: lb.margin_ranking_loss([1.0], [2.0], [0.5]), ValueError, "target"),
    (lambda: lb.margin_ranking_loss([1.0], [2.0], [1], margin=math.nan), ValueError, "margin"),
    (lambda: lb.margin_ranking_loss([1.0], [2.0], [1], margin="1"), TypeError, "margin"),
    (lambda: lb.margin_ranking_loss(["a"], [2.0], [1]), TypeError, "input1"),
    (lambda: lb.margin_ranking_loss([1.0], [2.0], [1], reduction="avg"), ValueError, "reduction"),
    (lambda: lb.triplet_margin_loss(ANCHOR, POSITIVE, NEGATIVE[:, :4]), ValueError, "negative"),
    (lambda: lb.triplet_margin_loss(ANCHOR, POSITIVE, NEGATIVE, margin=0.0), ValueError, "margin"),
    (lambda: lb.triplet_margin_loss(ANCHOR, POSITIVE, NEGATIVE, p=0.5), ValueError, "p must"),
    (lambda: lb.triplet_margin_loss(ANCHOR, POSITIVE, NEGATIVE, eps=-1e-6), ValueError, "eps"),
    (lambda: lb.triplet_margin_loss(ANCHOR, POSITIVE, NEGATIVE, swap=1), TypeError, "swap"),
    (lambda: lb.triplet_margin_loss(1.0, 2.0, 3.0), ValueError, "anchor"),
    (lambda: lb.triplet_margin_loss_grad(ANCHOR, POSITIVE, NEGATIVE, p=math.nan), ValueError, "p"),
    (lambda: lb.pairwise_distance(ANCHOR, POSITIVE, eps=math.inf), ValueError, "eps"),
    (lambda: lb.squared_l2_distance(ANCHOR, POSITIVE[:3]), ValueError, "x2"),
    (lambda: lb.triplet_margin_with_distance_loss(ANCHOR, POSITIVE, NEGATIVE,
                                                  distance_function="l2"), TypeError,
     "distance_function"),
    (lambda: lb.triplet_margin_with_distance_loss(ANCHOR, POSITIVE, NEGATIVE,
                                                  distance_function=lambda x, y: x - y),
     ValueError, "distance_function's result"),
    (lambda: lb.triplet_margin_with_distance_loss_grad(ANCHOR, POSITIVE, NEGATIVE,
                                                       distance_function=manhattan), TypeError,
     "distance_grad is required"),
    (lambda: lb.triplet_margin_with_distance_loss_grad(ANCHOR, POSITIVE, NEGATIVE,
                                                       distance_grad=manhattan_grad), TypeError,
     "only for a custom"),
    (lambda: lb.triplet_margin_with_distance_loss_grad(
        ANCHOR, POSITIVE, NEGATIVE, distance_function=manhattan, distance_grad=1), TypeError,
     "distance_grad must be callable"),
    (lambda: lb.triplet_margin_with_distance_loss_grad(
        ANCHOR, POSITIVE, NEGATIVE, distance_function=manhattan,
        distance_grad=lambda x, y: x - y), TypeError, "tuple"),
    (lambda: lb.triplet_margin_with_distance_loss_grad(
        ANCHOR, POSITIVE, NEGATIVE, distance_function=manhattan,
        distance_grad=lambda x, y: (x, y[:, :2])), ValueError, "d_y"),
    (lambda: lb.cosine_embedding_loss(ANCHOR, POSITIVE, LABELS[:3]), ValueError, "target"),
    (lambda: lb.cosine_embedding_loss(ANCHOR, POSITIVE, LABELS * 2), ValueError, "target"),
    (lambda: lb.cosine_embedding_loss(ANCHOR, POSITIVE[:, :3], LABELS), ValueError, "input2"),
    (lambda: lb.cosine_embedding_loss(np.ones((2, 2, 3)), np.ones((2, 2, 3)), [1, 1]), ValueError,
     "input1"),
    (lambda: lb.cosine_embedding_loss(ANCHOR, POSITIVE, LABELS, margin=math.inf), ValueError,
     "margin"),
    (lambda: lb.sdml_loss(ANCHOR[:1], POSITIVE[:1]), ValueError, "at least 2"),
    (lambda: lb.sdml_loss(ANCHOR[0], POSITIVE[0]), ValueError, "(N, D)"),
    (lambda: lb.sdml_loss(ANCHOR, POSITIVE, smoothing_parameter=1.5), ValueError,
     "smoothing_parameter"),
    (lambda: lb.sdml_loss(ANCHOR, POSITIVE[:4]), ValueError, "x2"),
    (lambda: exact.triplet_margin_with_distance_loss(ANCHOR, POSITIVE, NEGATIVE,
                                                     distance_function=manhattan), TypeError,
     "no exact twin"),
])
def test_bad_input_is_named(call, error, words):
    """Each bad argument raises the right error, naming the argument."""
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_exact_twins_check_their_input():
    """The twins refuse what lossbook refuses: shapes, labels, margins, batch sizes."""
    with pytest.raises(ValueError, match="positive"):
        exact.triplet_margin_loss(ANCHOR, POSITIVE[:2], NEGATIVE)
    with pytest.raises(ValueError, match="margin"):
        exact.triplet_margin_loss(ANCHOR, POSITIVE, NEGATIVE, margin=0.0)
    with pytest.raises(ValueError, match="target"):
        exact.margin_ranking_loss([1.0], [2.0], [0.0])
    with pytest.raises(ValueError, match="target"):
        exact.cosine_embedding_loss(ANCHOR, POSITIVE, LABELS[:2])
    with pytest.raises(ValueError, match="scalar"):
        exact.pairwise_distance(1.0, 2.0)
    with pytest.raises(ValueError, match="N >= 2"):
        exact.sdml_loss(ANCHOR[:1], POSITIVE[:1])
    assert exact.reference(lb.sdml_loss) is exact.sdml_loss
    assert exact.pairwise_distance(np.zeros((1, 0)), np.zeros((1, 0)))[0] == 0


# gluon 1.9.1.


def test_gluon_triplet_loss_is_the_squared_l2_triplet():
    """gluon's TripletLoss (float64) equals the squared-L2 triplet with reduction="none"; not TripletMarginLoss."""
    block = gluon.loss.TripletLoss(margin=0.7)
    theirs = block(*(nd.array(v, dtype="float64") for v in (ANCHOR, POSITIVE, NEGATIVE)))
    assert theirs.dtype == np.float64 and theirs.shape == (7,)
    ours = lb.triplet_margin_with_distance_loss(
        ANCHOR, POSITIVE, NEGATIVE, distance_function=lb.squared_l2_distance, margin=0.7,
        reduction="none")
    assert_allclose(theirs.asnumpy(), ours, rtol=1e-15, atol=1e-15)
    different = lb.triplet_margin_loss(ANCHOR, POSITIVE, NEGATIVE, margin=0.7, reduction="none")
    assert np.max(np.abs(different - ours)) > 0.1


def test_gluon_cosine_embedding_loss_is_torch_in_a_column_and_float32_only():
    """gluon's CosineEmbeddingLoss: torch's values, shape (N, 1), and float64 fails (float32 epsilon)."""
    f32 = [v.astype(np.float32) for v in (ANCHOR, POSITIVE)]
    theirs = gluon.loss.CosineEmbeddingLoss(margin=0.1)(nd.array(f32[0]), nd.array(f32[1]),
                                                        nd.array(LABELS))
    assert theirs.shape == (7, 1)
    ours = lb.cosine_embedding_loss(*f32, LABELS, margin=0.1, reduction="none")
    assert_allclose(theirs.asnumpy()[:, 0], ours, rtol=0, atol=2 * np.finfo(np.float32).eps)
    with pytest.raises(mxnet_base.MXNetError, match="expected float64, got float32"):
        gluon.loss.CosineEmbeddingLoss()(*(nd.array(v, dtype="float64")
                                           for v in (ANCHOR, POSITIVE, LABELS))).asnumpy()


def test_gluon_sdml_loss_is_sdml_loss_in_float32():
    """gluon's SDMLLoss (float32 only: its labels are float32) equals sdml_loss per sample."""
    f32 = [v.astype(np.float32) for v in (ANCHOR, POSITIVE)]
    theirs = gluon.loss.SDMLLoss(smoothing_parameter=0.3)(nd.array(f32[0]), nd.array(f32[1]))
    assert theirs.shape == (7,) and theirs.dtype == np.float32
    x1, x2 = (v.astype(np.float64) for v in f32)
    ours = lb.sdml_loss(x1, x2, reduction="none")
    # gluon rounds the squared distances in float32: the error scales with the largest of them.
    largest = ((x1[:, None, :] - x2[None, :, :]) ** 2).sum(-1).max()
    assert_allclose(theirs.asnumpy(), ours, rtol=0, atol=4 * np.finfo(np.float32).eps * largest)
    with pytest.raises(mxnet_base.MXNetError, match="expected float32, got float64"):
        gluon.loss.SDMLLoss()(*(nd.array(v, dtype="float64") for v in (ANCHOR, POSITIVE))
                              ).asnumpy()

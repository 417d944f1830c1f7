"""The triplet sampler and the linear-embedding trainer, against counts and a gradient derived by hand."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lossbook import metric_learning

LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])


def test_triplets_pair_an_anchor_with_its_class_and_with_another_class():
    """Positives share the anchor's class and are never the anchor; negatives are of another class."""
    anchor, positive, negative = metric_learning.sample_triplets(LABELS, 5000, np.random.default_rng(1))
    assert anchor.shape == positive.shape == negative.shape == (5000,)
    assert np.all(LABELS[anchor] == LABELS[positive]) and np.all(anchor != positive)
    assert np.all(LABELS[anchor] != LABELS[negative])


def test_triplets_are_uniform_over_anchors_positives_and_negatives():
    """Each (anchor, positive) and (anchor, negative) pair turns up as often as uniform draws predict.

    An anchor is one of n items (1/n); its positive one of the k - 1 others of its class, its
    negative one of the n - k items outside it. Each count must lie within 5 standard deviations
    of its binomial expectation.
    """
    draws = 200_000
    anchor, positive, negative = metric_learning.sample_triplets(LABELS, draws, np.random.default_rng(2))
    n = LABELS.size
    counts = np.bincount(LABELS)[LABELS]
    for pairs, share in ((positive, 1 / (counts - 1)), (negative, 1 / (n - counts))):
        observed = np.zeros((n, n))
        np.add.at(observed, (anchor, pairs), 1)
        allowed = observed > 0
        expected = draws / n * share[:, None] * np.ones((1, n))
        assert allowed.sum(axis=1).tolist() == (1 / share).round().astype(int).tolist()
        spread = np.sqrt(expected * (1 - expected / draws))
        assert np.all(np.abs(observed - expected)[allowed] < 5 * spread[allowed])


def squared_triplet_gradient(W, Xa, Xp, Xn, margin):
    """The gradient of mean max(0, |(xa - xp) W|^2 - |(xa - xn) W|^2 + margin) with respect to W.

    By hand: d|v W|^2 / dW = 2 v^T (v W), summed over the active triplets and divided by their number.
    """
    dp, dn = Xa - Xp, Xa - Xn
    loss = ((dp @ W) ** 2).sum(1) - ((dn @ W) ** 2).sum(1) + margin
    active = (loss > 0)[:, None]
    grad = 2 * ((dp * active).T @ (dp @ W) - (dn * active).T @ (dn @ W)) / len(Xa)
    return np.maximum(loss, 0).mean(), grad


def euclidean_triplet_gradient(W, Xa, Xp, Xn, margin, eps=1e-6):
    """The same for torch's distance |(xa - xp) W + eps|: its gradient is (xa - xp)^T u, u the unit difference."""
    def distance(d):
        diff = d @ W + eps
        norm = np.sqrt((diff**2).sum(1, keepdims=True))
        return norm[:, 0], diff / norm

    (d_p, u_p), (d_n, u_n) = distance(Xa - Xp), distance(Xa - Xn)
    loss = d_p - d_n + margin
    active = (loss > 0)[:, None]
    grad = (((Xa - Xp) * active).T @ u_p - ((Xa - Xn) * active).T @ u_n) / len(Xa)
    return np.maximum(loss, 0).mean(), grad


@pytest.mark.parametrize("distance, gradient", [("squared", squared_triplet_gradient),
                                                ("euclidean", euclidean_triplet_gradient)])
def test_fit_is_sgd_on_the_triplet_loss_with_the_gradient_derived_by_hand(distance, gradient):
    """Replaying the same draws with the hand-derived gradient gives the same weights and losses."""
    rng = np.random.default_rng(3)
    X, labels = rng.standard_normal((40, 6)), rng.integers(0, 4, 40)
    kwargs = {"dim": 3, "margin": 0.5, "steps": 25, "batch_size": 16, "lr": 0.1, "seed": 7}
    start, W, losses = metric_learning.fit_linear_embedding(X, labels, distance=distance, **kwargs)
    replay = np.random.default_rng(7)
    expected_start = 0.1 * replay.standard_normal((6, 3))
    weight, expected_losses = expected_start.copy(), []
    for _ in range(25):
        a, p, n = metric_learning.sample_triplets(labels, 16, replay)
        loss, grad = gradient(weight, X[a], X[p], X[n], 0.5)
        expected_losses.append(loss)
        weight = weight - 0.1 * grad
    assert_allclose(start, expected_start, rtol=0)
    assert_allclose(losses, expected_losses, rtol=1e-12)
    assert_allclose(W, weight, rtol=1e-11, atol=1e-14)


def test_fit_pulls_a_class_together():
    """On two well-separated classes in 2-D, training leaves each point nearer its class than the other."""
    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1], 20)
    X = rng.standard_normal((40, 2)) * 0.3 + np.where(labels[:, None] == 0, -1.0, 1.0)
    _, W, losses = metric_learning.fit_linear_embedding(X, labels, dim=1, steps=100, seed=0)
    z = (X @ W)[:, 0]
    assert losses[-10:].mean() < losses[:10].mean()
    assert (z[labels == 0].max() < z[labels == 1].min()) or (z[labels == 1].max() < z[labels == 0].min())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: metric_learning.sample_triplets(np.array([0.0, 0.0, 1.0, 1.0]), 3, None), "integer classes"),
        (lambda: metric_learning.sample_triplets(np.array([0, 0, 1]), 3, None), "each at least twice"),
        (lambda: metric_learning.sample_triplets(np.array([0, 0, 0]), 3, None), "at least two classes"),
        (lambda: metric_learning.sample_triplets(LABELS, 0, None), "size must be a positive integer"),
        (lambda: metric_learning.fit_linear_embedding(np.ones((3, 2)), LABELS), r"shape \(n, d\)"),
        (lambda: metric_learning.fit_linear_embedding(np.ones((9, 2)), LABELS, distance="cosine"),
         "distance must be one of"),
        (lambda: metric_learning.fit_linear_embedding(np.ones((9, 2)), LABELS, dim=0), "dim must be"),
        (lambda: metric_learning.fit_linear_embedding(np.ones((9, 2)), LABELS, steps=1.5), "steps must be"),
        (lambda: metric_learning.fit_linear_embedding(np.ones((9, 2)), LABELS, margin=-1.0), "margin must be"),
        (lambda: metric_learning.fit_linear_embedding(np.ones((9, 2)), LABELS, lr=0.0), "lr > 0"),
        (lambda: metric_learning.fit_linear_embedding(np.ones((9, 2)), LABELS, margin=np.nan), "margin must be"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, match):
    """Float labels, too few items per class, bad sizes, an unknown distance and bad numbers raise ValueError."""
    with pytest.raises(ValueError, match=match):
        call()

"""Metric learning with a triplet loss: a linear embedding trained in PyTorch, in float64.

The chapter on sequence, ranking and embedding losses learns a linear map
:math:`z = x W` from images to a few dimensions, so that images of one class
land close together and images of different classes far apart.
:func:`sample_triplets` draws (anchor, positive, negative) triplets of
indices, and :func:`fit_linear_embedding` runs seeded minibatch SGD on the
triplet loss, with either gluon's squared Euclidean distance or torch's
Euclidean distance.

Examples
--------
>>> import numpy as np
>>> import lossbook as lb
>>> labels = np.array([0, 0, 1, 1, 2, 2])
>>> anchor, positive, negative = lb.metric_learning.sample_triplets(labels, 4, np.random.default_rng(0))
>>> bool(np.all(labels[anchor] == labels[positive]) and np.all(anchor != positive))
True
>>> bool(np.all(labels[anchor] != labels[negative]))
True
"""

import numpy as np

from . import frameworks
from ._validation import as_float64

DISTANCES = ("squared", "euclidean")
"""The triplet losses :func:`fit_linear_embedding` trains with: gluon's ``TripletLoss`` and torch's
``TripletMarginLoss``."""


def _labels(labels):
    """Check that ``labels`` are integer classes, each held at least twice, of at least two classes."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D array of integer classes, got {labels.dtype}{labels.shape}")
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size < 2 or counts.min() < 2:
        raise ValueError("labels must hold at least two classes, each at least twice, "
                         f"got counts {dict(zip(classes.tolist(), counts.tolist()))}")
    return labels


def sample_triplets(labels, size, rng):
    """Draw ``size`` triplets of indices: an anchor, another item of its class, an item of another.

    The anchor is uniform over all items, the positive uniform over the other
    items of the anchor's class, and the negative uniform over the items of
    every other class.

    Parameters
    ----------
    labels : array_like
        The integer class of each item, shape ``(n,)``: at least two classes,
        each with at least two items.
    size : int
        The number of triplets, at least 1.
    rng : ``numpy.random.Generator``
        The source of randomness.

    Returns
    -------
    anchor, positive, negative : numpy.ndarray
        Three integer arrays of shape ``(size,)``.

    Raises
    ------
    ValueError
        If the labels are not as above or ``size`` is not a positive integer.
    """
    if not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    return _sampler(_labels(labels))(size, rng)


def _sampler(labels):
    """:func:`sample_triplets` for checked ``labels``, with the class blocks found once."""
    order = np.argsort(labels, kind="stable")  # the items, sorted into one block per class
    _, inverse, counts = np.unique(labels[order], return_inverse=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    start, count = np.empty_like(order), np.empty_like(order)
    start[order], count[order] = starts[inverse], counts[inverse]  # of each item's block
    rank = np.empty_like(order)
    rank[order] = np.arange(labels.size)  # each item's place in the sorted order

    def sample(size, rng):
        anchor = rng.integers(0, labels.size, size)
        first, k = start[anchor], count[anchor]
        offset = rng.integers(1, k)  # 1 .. k - 1: never the anchor itself
        positive = order[first + (rank[anchor] - first + offset) % k]
        other = rng.integers(0, labels.size - k)  # a place outside the anchor's block
        negative = order[np.where(other < first, other, other + k)]
        return anchor, positive, negative

    return sample


def fit_linear_embedding(features, labels, *, dim=2, distance="squared", margin=1.0, steps=300,
                         batch_size=64, lr=0.05, seed=0):
    r"""Learn a linear embedding :math:`z = x W` by minibatch SGD on a triplet loss, in torch float64.

    With the anchor, positive and negative embeddings :math:`a, p, n` the
    loss of a triplet is :math:`\max(0, d(a, p) - d(a, n) + \text{margin})`,
    with :math:`d` the squared Euclidean distance (``distance="squared"``,
    gluon's ``TripletLoss``, in torch ``TripletMarginWithDistanceLoss``) or
    the Euclidean distance (``"euclidean"``, torch's ``TripletMarginLoss``,
    which adds ``eps=1e-6`` to the difference). The start is
    :math:`W_0 = 0.1\,G` with :math:`G` standard normal; each of the ``steps``
    steps draws ``batch_size`` triplets as :func:`sample_triplets` does and
    takes one plain SGD step, :math:`W \leftarrow W - \text{lr}\,\nabla_W`,
    on their mean loss. Everything is drawn from
    ``numpy.random.default_rng(seed)``: first :math:`G`, then the triplets
    of each step in turn.

    Parameters
    ----------
    features : array_like
        Shape ``(n, d)``.
    labels : array_like
        The integer class of each row, shape ``(n,)``.
    dim : int, default 2
        The embedding's dimension.
    distance : {"squared", "euclidean"}, default "squared"
    margin : float, default 1.0
        At least 0.
    steps : int, default 300
    batch_size : int, default 64
    lr : float, default 0.05
        The SGD step size, greater than 0.
    seed : int, default 0

    Returns
    -------
    start : numpy.ndarray
        :math:`W_0`, shape ``(d, dim)``.
    weight : numpy.ndarray
        The trained :math:`W`, shape ``(d, dim)``.
    losses : numpy.ndarray
        The mean triplet loss of each step's minibatch, before its step.

    Raises
    ------
    ValueError
        If a shape, the labels, ``distance`` or a number is out of range.
    """
    X, _ = as_float64(features, "features")
    labels = _labels(labels)
    if X.ndim != 2 or X.shape[0] != labels.size:
        raise ValueError(f"features must have shape (n, d) with n = {labels.size} labels, got {X.shape}")
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    for name, value in (("dim", dim), ("steps", steps), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not margin >= 0 or not lr > 0:
        raise ValueError(f"margin must be >= 0 and lr > 0, got margin={margin!r}, lr={lr!r}")
    torch = frameworks.require("torch")
    rng = np.random.default_rng(seed)
    start = 0.1 * rng.standard_normal((X.shape[1], dim))
    weight = torch.tensor(start, requires_grad=True)
    if distance == "squared":
        loss_fn = torch.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda x, y: ((x - y) ** 2).sum(-1), margin=margin)
    else:
        loss_fn = torch.nn.TripletMarginLoss(margin=margin)
    inputs, sample, losses = torch.tensor(X), _sampler(labels), []
    for _ in range(steps):
        embedded = inputs @ weight
        loss = loss_fn(*(embedded[torch.from_numpy(i)] for i in sample(batch_size, rng)))
        loss.backward()
        with torch.no_grad():  # plain SGD; torch.optim.SGD takes the same step
            weight -= lr * weight.grad
        weight.grad = None
        losses.append(loss.item())
    return start, weight.detach().numpy(), np.array(losses)

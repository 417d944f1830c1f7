r"""Small fits the regression and margin chapters run, kept out of their cells.

:func:`irls` fits a straight line (any linear model) under the L2, L1 or Huber
loss by iteratively reweighted least squares; :func:`irls_weights` gives the
weight each residual gets. :func:`sum_of_rmse_minimiser` finds the constant
that minimises a sum of root mean squared errors over groups.
:func:`fit_linear_classifier` trains a linear score on a margin loss by plain
full-batch gradient descent, with the gradients of the catalog's lossbook
functions.

Examples
--------
>>> import numpy as np
>>> import lossbook as lb
>>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
>>> lb.fitting.irls(X, np.array([1.0, 3.0, 5.0, 7.0]), "l2").round(12)
array([1., 2.])
"""

import numpy as np

from . import catalog
from ._validation import as_positive

IRLS_LOSSES = ("l2", "l1", "huber")
"""The losses :func:`irls` fits: squared error, absolute error and Huber's."""

L1_FLOOR = 1e-9
"""The smallest residual size the L1 weight :math:`1 / |r|` is computed for."""

MARGIN_LOSSES = ("hinge", "squared_hinge", "soft_margin")
"""The catalog's margin losses, which :func:`fit_linear_classifier` trains on."""


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _real_matrix(value, name):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (one row per sample), got shape {array.shape}")
    return array.astype(np.float64)


def _real_vector(value, name, length):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {array.dtype}")
    if array.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), one value per row, got {array.shape}")
    return array.astype(np.float64)


def irls_weights(residuals, loss, *, delta=1.0):
    r"""Return the weight :math:`w_i = \rho'(r_i) / r_i` each residual gets in :func:`irls`.

    .. math::
        w_i = 1 \ \text{(L2, as } \tfrac12 r^2\text{)}, \qquad
        w_i = 1 / |r_i| \ \text{(L1)}, \qquad
        w_i = \min(1, \delta / |r_i|) \ \text{(Huber)}

    The L1 weight is infinite at a zero residual; residuals smaller than
    :data:`L1_FLOOR` in size are weighted as if they were that size.

    Parameters
    ----------
    residuals : array_like
        Residuals :math:`r_i`, any shape.
    loss : {"l2", "l1", "huber"}
    delta : float, default 1.0
        Huber's threshold (used only for ``"huber"``); finite and > 0.

    Returns
    -------
    ndarray
        float64 weights, the shape of ``residuals``.

    Raises
    ------
    ValueError
        If ``loss`` is unknown or ``delta`` is not a finite number > 0.
    TypeError
        If ``residuals`` are not real numbers.
    """
    if loss not in IRLS_LOSSES:
        raise ValueError(f"loss must be one of {IRLS_LOSSES}, got {loss!r}")
    delta = as_positive(delta, "delta")
    r = np.asarray(residuals)
    if r.dtype.kind not in "biuf":
        raise TypeError(f"residuals must be real numbers, got an array of dtype {r.dtype}")
    size = np.abs(r.astype(np.float64))
    if loss == "l2":
        return np.ones_like(size)
    if loss == "l1":
        return 1.0 / np.maximum(size, L1_FLOOR)
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, delta / size)  # delta / 0 = inf: a zero residual weighs 1


def irls(X, y, loss, *, delta=1.0, steps=200):
    r"""Fit ``y ≈ X @ coef`` by minimising :math:`\sum_i \rho(y_i - x_i^\top \mathrm{coef})`.

    Iteratively reweighted least squares: solve weighted least squares with
    the weights of :func:`irls_weights` at the current residuals, recompute the
    residuals, and repeat, starting from ordinary least squares. A fixed point
    satisfies :math:`\sum_i \rho'(r_i)\, x_i = 0`, the condition for a minimum
    of the convex sum. L2 is solved exactly at the first step.

    Parameters
    ----------
    X : array_like
        The design matrix, shape ``(n, p)`` (a column of ones for an intercept).
    y : array_like
        Targets, shape ``(n,)``.
    loss : {"l2", "l1", "huber"}
        :math:`\tfrac12 r^2`, :math:`|r|` or Huber's loss with threshold ``delta``.
    delta : float, default 1.0
        Huber's threshold; finite and > 0.
    steps : int, default 200
        Reweighting steps.

    Returns
    -------
    ndarray
        The coefficients, shape ``(p,)``.

    Raises
    ------
    ValueError
        If the shapes do not match, ``loss`` is unknown, ``delta`` is not a
        finite number > 0 or ``steps`` is not a positive integer.
    TypeError
        If ``X`` or ``y`` do not hold real numbers.
    """
    X = _real_matrix(X, "X")
    y = _real_vector(y, "y", X.shape[0])
    irls_weights(np.zeros(0), loss, delta=delta)  # validates loss and delta
    steps = _positive_int(steps, "steps")
    weights = np.ones_like(y)
    for _ in range(steps):
        root = np.sqrt(weights)
        coef = np.linalg.lstsq(X * root[:, None], y * root, rcond=None)[0]
        weights = irls_weights(y - X @ coef, loss, delta=delta)
    return coef


def sum_of_rmse_minimiser(groups, *, steps=200):
    r"""Return the constant :math:`c` that minimises :math:`\sum_k \operatorname{RMSE}_k(c)`.

    Setting the derivative to zero gives a weighted mean of the group means
    :math:`\bar y_k`, with weights :math:`1 / \operatorname{RMSE}_k(c)`:

    .. math:: c = \frac{\sum_k \bar y_k / \operatorname{RMSE}_k(c)}{\sum_k 1 / \operatorname{RMSE}_k(c)}

    which is iterated from the overall mean of the targets.

    Parameters
    ----------
    groups : list of array_like
        The targets of each group (a batch, or an output); each 1-D and not
        constant (a group whose RMSE can reach 0 has an infinite weight there).
    steps : int, default 200
        Iterations of the fixed-point equation.

    Returns
    -------
    c : float
        The minimiser.
    shares : ndarray
        Each group's weight :math:`1 / \operatorname{RMSE}_k(c)` as a share of their sum.

    Raises
    ------
    ValueError
        If there are no groups, a group is empty, not 1-D or constant, or
        ``steps`` is not a positive integer.
    TypeError
        If a group does not hold real numbers.
    """
    steps = _positive_int(steps, "steps")
    arrays = []
    for number, group in enumerate(groups):
        array = np.asarray(group)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"groups[{number}] must hold real numbers, got dtype {array.dtype}")
        if array.ndim != 1 or array.size == 0 or np.all(array == array[0]):
            raise ValueError(f"groups[{number}] must be a 1-D, non-constant array of targets")
        arrays.append(array.astype(np.float64))
    if not arrays:
        raise ValueError("groups must hold at least one group")
    means = np.array([array.mean() for array in arrays])
    c = np.concatenate(arrays).mean()
    for _ in range(steps):
        inverse = np.array([1.0 / np.sqrt(np.mean((c - array) ** 2)) for array in arrays])
        c = (inverse * means).sum() / inverse.sum()
    inverse = np.array([1.0 / np.sqrt(np.mean((c - array) ** 2)) for array in arrays])
    return float(c), inverse / inverse.sum()


def fit_linear_classifier(points, labels, loss, *, penalty=0.01, steps=5000, lr=0.5, decay=100.0):
    r"""Train a linear score :math:`f(x) = w^\top x + b` on a margin loss by gradient descent.

    The objective is the mean loss of the scores against the labels plus
    :math:`\lambda \lVert w \rVert^2` (the bias is not penalised). Each step
    moves the parameters against the objective's gradient, taken from the
    catalog entry's lossbook gradient, with the step size
    :math:`\eta_t = \mathrm{lr} / (1 + t / \mathrm{decay})`: a fixed step would
    keep hopping across the hinge's kink.

    Parameters
    ----------
    points : array_like
        Features, shape ``(n, d)``.
    labels : array_like
        Labels -1 or +1, shape ``(n,)``.
    loss : {"hinge", "squared_hinge", "soft_margin"} or catalog.LossEntry
        A margin loss of the catalog.
    penalty : float, default 0.01
        :math:`\lambda`; finite and > 0.
    steps : int, default 5000
    lr : float, default 0.5
        The first step size; finite and > 0.
    decay : float, default 100.0
        The step at which the step size has halved; finite and > 0.

    Returns
    -------
    ndarray
        ``[w_1, ..., w_d, b]``, shape ``(d + 1,)``.

    Raises
    ------
    ValueError
        If the shapes do not match, a label is not -1 or +1, ``loss`` is not a
        margin loss, or a number is out of range.
    TypeError
        If ``points`` or ``labels`` do not hold real numbers.
    """
    entry = catalog.as_entry(loss)
    if entry.key not in MARGIN_LOSSES:
        raise ValueError(f"loss must be a margin loss, one of {MARGIN_LOSSES}, got {entry.key!r}")
    points = _real_matrix(points, "points")
    labels = _real_vector(labels, "labels", points.shape[0])
    if not np.all((labels == -1.0) | (labels == 1.0)):
        raise ValueError(f"labels must be -1 or +1, got {np.unique(labels)}")
    penalty, lr, decay = (as_positive(v, n) for v, n in ((penalty, "penalty"), (lr, "lr"), (decay, "decay")))
    steps = _positive_int(steps, "steps")
    design = np.column_stack([points, np.ones(points.shape[0])])
    params = np.zeros(design.shape[1])
    for step in range(steps):
        scores = design @ params
        gradient = design.T @ entry.gradient(catalog.Batch(scores, labels), "mean")
        gradient[:-1] += 2.0 * penalty * params[:-1]
        params -= lr / (1.0 + step / decay) * gradient
    return params

"""Losses of pairs and triplets of embeddings, and the distances they use.

Metric learning compares vectors rather than scoring classes: a ranking loss
compares two scores, a triplet loss asks an anchor to lie nearer its positive
than its negative, a cosine loss compares directions, and SDML (gluon's
smoothed deep metric learning) asks each vector of one batch to pick its
partner out of the other batch. Each function is named and behaves like its
``torch.nn.functional`` namesake in float64 (``sdml_loss`` reproduces gluon's
``SDMLLoss``, which torch lacks), and each ``*_grad`` returns the gradient of
the reduced loss with respect to every array argument it differentiates, as
a tuple in argument order.

Distances are taken along the last axis. The differences of the vectors are
formed exactly (as a sum of two doubles, with Knuth's TwoSum), squared or
raised to the power ``p`` with their rounding errors kept, and summed with
``lossbook._compensated.accurate_sum``, so that a distance is nearly correctly
rounded even between vectors that nearly coincide. Where a loss subtracts
terms (a distance from another, a cosine from 1), the terms are combined
exactly and rounded once; the docstrings state the bounds.

The losses of whole batches first take a fast path that keeps those bounds:
plain float64 in blocks of rows that stay in the CPU cache, or BLAS products
of inputs split exactly into short pieces, with an error bound computed row
by row from what the pass produced. A row whose bound does not prove the
documented accuracy (a hinge at its kink, nearly equal vectors, values near
the ends of float64's range, inf or nan) is computed again the careful way
above, so a batch costs a few passes over its data and every row keeps its
bound.
"""

import math
from typing import NamedTuple

import numpy as np

from ._compensated import accurate_sum, two_sum, two_sum_into
from ._reduction import check_reduction, constant, elementwise, reduce, reduce_gradient
from ._reduction import scratch, staggered
from ._validation import as_float64, as_positive, as_real, as_real_in, check_flag, check_shape
from ._validation import check_signed_labels
from .activations import softmax
from .classification import cross_entropy

COSINE_EPSILON = float(np.float32(1e-12))
"""The epsilon torch adds to each squared norm in ``cosine_embedding_loss``.

torch's C++ source declares it as a ``float``, so in float64 it is
``float(numpy.float32(1e-12))`` = 9.999999960041972e-13, not 1e-12.
"""

_SPLITTER = 2.0**27 + 1.0
_SCALE_FLOOR = -250
"""Rows are scaled by a power of two to lie near 1, but never up by more than ``2**250``."""


# Error-free transformations and double-double sums.


def _two_product(a, b):
    """``fl(a * b)`` and its exact rounding error (Dekker's product, Veltkamp's split).

    Exact for ``|a|, |b| < 2**995`` whose product does not underflow; where the
    product is not finite the error is 0.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        product = np.multiply(a, b)
        a_high, a_low = _split(a)
        b_high, b_low = _split(b)
        error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return product, np.where(np.isfinite(product), error, 0.0)


def _split(a):
    """``a`` as ``high + low``, each with at most 26 significant bits."""
    c = _SPLITTER * a
    high = c - (c - a)
    return high, a - high


def _sum_last(terms, relative_errors):
    """``sum(terms * (1 + relative_errors))`` over the last axis, for ``terms >= 0``, as hi, lo."""
    shape = terms.shape[:-1]
    columns = np.array(np.moveaxis(terms, -1, 0).reshape(terms.shape[-1], math.prod(shape)))
    errors = np.array(np.moveaxis(relative_errors, -1, 0).reshape(columns.shape))
    plain = np.add.reduce(columns, axis=0, keepdims=True)
    undefined = ~np.isfinite(plain[0])  # rows with inf or nan keep their plain sum
    columns[:, undefined] = 0.0
    errors[:, undefined] = 0.0
    estimate = np.where(undefined, 0.0, plain)
    high, low = accurate_sum(columns, np.empty_like(columns), estimate, errors)
    high = np.where(undefined, plain[0], high[0])
    return high.reshape(shape), np.where(undefined, 0.0, low[0]).reshape(shape)


def _ratio(numerator, denominator):
    """``numerator / denominator``, 0 where the denominator is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(numerator, denominator, out=np.zeros(np.shape(numerator)),
                         where=denominator != 0)


def _difference(x, y, eps):
    """``x - y + eps`` as ``high + low`` (exact unless ``x - y`` overflows)."""
    high, low = two_sum(x, -y)
    if eps:
        high, carry = two_sum(high, eps)
        low = low + carry
    return high, low


def _row_exponents(magnitudes, floor=None):
    """Per row (last axis), the exponent ``k`` with ``max |row| < 2**k`` (0 for rows of 0, inf, nan)."""
    if magnitudes.shape[-1] == 0:
        zeros = np.zeros(magnitudes.shape[:-1])
        return zeros.astype(int), zeros
    top = np.max(magnitudes, axis=-1)
    usable = np.isfinite(top) & (top > 0)
    _, exponent = np.frexp(np.where(usable, top, 1.0))
    if floor is not None:
        exponent = np.maximum(exponent, floor)
    return np.where(usable, exponent, 0), top


def _power_sum(high, low, p):
    """``sum |d|**p`` over the last axis of ``d = high + low``, rows scaled by ``2**-k``.

    Returns ``(hi, lo, k, top)``: the sum of the scaled row is ``hi + lo`` and
    ``top = max |high|``. Each term keeps its rounding error (exactly for
    ``p`` = 1 and 2; ``numpy.power`` within half an ulp otherwise), and the
    terms are summed with :func:`accurate_sum`.
    """
    k, top = _row_exponents(np.abs(high))
    scaled = np.ldexp(high, -k[..., None])
    scaled_low = np.ldexp(low, -k[..., None])
    ratio = _ratio(scaled_low, scaled)
    with np.errstate(invalid="ignore", under="ignore"):
        if p == 1:
            terms, errors = np.abs(scaled), ratio
        elif p == 2:
            terms, error = _two_product(scaled, scaled)
            errors = _ratio(error, terms) + 2.0 * ratio
        else:
            terms, errors = np.power(np.abs(scaled), p), p * ratio
    hi, lo = _sum_last(terms, errors)
    return hi, lo, k, top


def _root(hi, lo, p):
    """``(hi + lo)**(1/p)`` for ``hi >= 0``, correcting the rounding of ``hi`` and of ``1/p``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if p == 1:
            return hi + lo
        if p == 2:
            root = np.sqrt(hi)
            square, error = _two_product(root, root)
            correction = _ratio(((hi - square) - error) + lo, 2.0 * root)
            return root + correction
        q = 1.0 / p
        product, error = _two_product(p, q)
        missing = ((1.0 - product) - error) / p  # 1/p - q
        root = np.power(hi, q)
        correction = missing * np.log(hi) + _ratio(lo, p * hi)
        return np.where(hi > 0, root + root * correction, root)


def _norm(high, low, p):
    """The ``p``-norm over the last axis of ``high + low``, within about one ulp.

    Rows holding nan give nan, rows holding inf (and no nan) give inf; rows
    of length 0 give 0.
    """
    if high.shape[-1] == 0:
        return np.zeros(high.shape[:-1])
    if p == math.inf:  # high + low rounds to the double nearest each exact difference
        return np.max(np.abs(high + low), axis=-1)
    hi, lo, k, top = _power_sum(high, low, p)
    norm = np.ldexp(_root(hi, lo, p), k)
    return np.where(np.isfinite(top), norm, top)


def _norm_gradient(high, norm, p):
    """d norm / d difference for each element: ``sign(d) (|d| / norm)**(p - 1)``, 0 where norm is 0.

    For ``p = inf`` the gradient is shared equally among the largest
    elements, as torch does.
    """
    column = norm[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        if p == 1:
            gradient = np.sign(high)
        elif p == 2:
            gradient = high / column
        elif p == math.inf:
            magnitude = np.abs(high)
            largest = magnitude == np.max(magnitude, axis=-1, keepdims=True)
            gradient = np.sign(high) * largest / np.sum(largest, axis=-1, keepdims=True)
        else:
            gradient = np.sign(high) * np.power(np.abs(high) / column, p - 1.0)
        gradient = np.where((column == 0) & ~np.isnan(high), 0.0, gradient)
    return gradient


# Validation.


def _finite(value, name):
    """A real option that must be finite, as a float."""
    number = as_real(value, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _p_norm_order(value):
    """``p`` of a p-norm: a real number >= 1, or inf."""
    p = as_real(value, "p")
    if not p >= 1:
        raise ValueError(
            f"p must be >= 1 (or inf) for a norm, got {value!r}; torch also accepts "
            "0 <= p < 1, which does not give a distance"
        )
    return p


def _non_negative(value, name):
    """A finite real option >= 0, as a float."""
    number = _finite(value, name)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def _arrays(names, values):
    """Validate arrays that must share one shape; return them as float64 and the result dtype."""
    arrays, dtypes = [], []
    for name, value in zip(names, values):
        array, dtype = as_float64(value, name)
        arrays.append(array)
        dtypes.append(dtype)
    for name, array in zip(names[1:], arrays[1:]):
        check_shape(array, arrays[0].shape, name, f"{names[0]}'s shape")
    return arrays, np.result_type(*dtypes), dtypes


def _vectors(names, values):
    """Like :func:`_arrays`, for vectors along the last axis (at least one dimension)."""
    arrays, dtype, dtypes = _arrays(names, values)
    if arrays[0].ndim == 0:
        raise ValueError(
            f"{names[0]} must hold vectors along its last axis, shape (N, D) or (D,); got a scalar"
        )
    return arrays, dtype, dtypes


def _gradients(gradients, dtypes):
    """The gradients, each in its argument's dtype, as a tuple."""
    return tuple(np.asarray(g).astype(dtype, copy=False) for g, dtype in zip(gradients, dtypes))


# Margin ranking.

_ZEROS = constant(0.0)


def _ranking(input1, input2, target, margin, reduction):
    margin = _finite(margin, "margin")
    (x1, x2, y), dtype, dtypes = _arrays(("input1", "input2", "target"), (input1, input2, target))
    check_reduction(reduction)
    check_signed_labels(y, "target")
    # -y (x1 - x2) + margin, as high + low: TwoSum of x1 - x2, then of margin - y * high.
    difference, error = two_sum(x1, -x2)
    high, carry = two_sum(margin, -y * difference)
    value = high + (carry - y * error)
    return value, y, dtype, dtypes


def margin_ranking_loss(input1, input2, target, *, margin=0.0, reduction="mean"):
    r"""Margin ranking loss: ``input1`` should outrank ``input2`` where ``target`` is 1.

    .. math:: \ell_i = \max\big(0,\; -y_i (x_{1,i} - x_{2,i}) + \text{margin}\big)

    The three terms can cancel; they are added exactly (TwoSum) and rounded
    once, so the loss is within 1 ulp of the exact value up to
    :math:`\varepsilon^2 (|x_1| + |x_2| + |\text{margin}|)` with
    :math:`\varepsilon = 2^{-52}`.

    Parameters
    ----------
    input1, input2 : array_like
        Scores of any shape (the same for both), float32 or float64.
    target : array_like
        Labels -1 or +1 of the same shape. torch accepts any value here and
        broadcasts the three arrays; lossbook requires labels -1 or +1 and
        one shape.
    margin : float, default 0.0
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in the promoted
        dtype of the arrays. The mean of no losses is nan, as in torch.

    Raises
    ------
    TypeError
        If an array is not numeric or ``margin`` is not a real number.
    ValueError
        If the shapes differ, a label is not -1 or +1, ``margin`` is not
        finite, or ``reduction`` is unknown.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.margin_ranking_loss([3.0, 1.0], [1.0, 2.0], [1, 1], margin=0.5, reduction="none")
    array([0. , 1.5])
    """
    margin = _finite(margin, "margin")
    (x1, x2, y), dtype, _ = _arrays(("input1", "input2", "target"), (input1, input2, target))
    check_reduction(reduction)
    check_signed_labels(y, "target")

    def careful(x1, x2, y):
        value, _, _, _ = _ranking(x1, x2, y, margin, "none")
        return np.maximum(value, 0.0)

    return elementwise(_ranking_kernel(margin), [x1, x2, y], reduction, dtype, temporaries=4,
                       repair=careful)


def _ranking_kernel(margin):
    """:func:`_ranking`'s hinge of one block, clamped at 0, in reused buffers.

    The same TwoSums (so the same values): ``x1 - x2 = d + e`` exactly, then
    ``margin - y d`` exactly (``y`` is -1 or +1, so ``y d`` and ``y e`` are
    exact), rounded once with ``- y e``. Where ``x1 - x2`` overflows TwoSum's
    error is nan and the value too; ``elementwise`` then hands those elements
    to the careful path.
    """
    level = constant(margin)

    def kernel(out, first, second, third, fourth, x1, x2, y):
        m = level[:out.size]
        np.subtract(x1, x2, out=out)  # d; e = (x1 - (d - b)) - (x2 + b), b = d - x1
        np.subtract(out, x1, out=first)
        np.subtract(out, first, out=second)
        np.subtract(x1, second, out=second)
        first += x2
        second -= first  # e
        out *= y  # y d
        second *= y  # y e
        np.subtract(m, out, out=first)  # s = margin - y d; its error (m - (s - b)) - (y d + b)
        np.subtract(first, m, out=third)
        np.subtract(first, third, out=fourth)
        np.subtract(m, fourth, out=fourth)
        third += out
        fourth -= third
        fourth -= second
        np.add(first, fourth, out=out)
        np.maximum(out, _ZEROS[:out.size], out=out)

    return kernel


def margin_ranking_loss_grad(input1, input2, target, *, margin=0.0, reduction="mean"):
    r"""Gradient of :func:`margin_ranking_loss`: ``(d_input1, d_input2)``.

    .. math:: \frac{\partial \ell_i}{\partial x_{1,i}} = -y_i\,[\ell_i \text{ active}],
        \qquad \frac{\partial \ell_i}{\partial x_{2,i}} = y_i\,[\ell_i \text{ active}]

    The hinge is active where :math:`-y_i (x_{1,i} - x_{2,i}) + \text{margin} \ge 0`:
    at the kink (equality) the gradient is that of the active side, as torch's
    ``clamp_min`` gives. Parameters and errors are those of
    :func:`margin_ranking_loss`.

    Returns
    -------
    tuple of ndarray
        ``(d_input1, d_input2)``, each of the inputs' shape and in its dtype.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.margin_ranking_loss_grad([3.0, 1.0], [1.0, 2.0], [1, 1], reduction="sum")
    (array([-0., -1.]), array([0., 1.]))
    """
    value, y, _, dtypes = _ranking(input1, input2, target, margin, reduction)
    active = np.where(np.isnan(value), np.nan, value >= 0.0)
    gradient = reduce_gradient(-y * active, reduction, np.float64)
    return _gradients((gradient, -gradient), dtypes[:2])


# Distances.


def _distance_operands(x1, x2, p, eps):
    p = _p_norm_order(p)
    eps = _non_negative(eps, "eps")
    (a, b), dtype, dtypes = _vectors(("x1", "x2"), (x1, x2))
    return a, b, p, eps, dtype, dtypes


def pairwise_distance(x1, x2, *, p=2.0, eps=1e-6):
    r"""The ``p``-norm distance between matching rows, as torch's ``pairwise_distance``.

    .. math:: d(x_1, x_2) = \big\lVert x_1 - x_2 + \epsilon \big\rVert_p
        = \Big(\sum_k |x_{1,k} - x_{2,k} + \epsilon|^p\Big)^{1/p}

    torch adds :math:`\epsilon` to every component of the difference (not to
    the norm), so the distance of a vector from itself is
    :math:`\epsilon D^{1/p}`. The differences are formed exactly, and the
    distance is within 2 ulp of the exact value (for ``p`` = 1, 2 and inf
    within 1 ulp), however close the vectors.

    Parameters
    ----------
    x1, x2 : array_like
        Vectors along the last axis, shape ``(N, D)`` or ``(D,)`` (any
        leading axes work), the same for both; float32 or float64.
    p : float, default 2.0
        The norm's order, >= 1 or ``inf``. (torch also takes ``0 <= p < 1``,
        which gives no distance; lossbook refuses it.)
    eps : float, default 1e-6
        Added to each difference, >= 0.

    Returns
    -------
    ndarray
        The distances, shape ``x1.shape[:-1]``, in the promoted dtype. A
        difference beyond float64's range gives inf, as in torch.

    Raises
    ------
    TypeError
        If an array is not numeric or ``p`` or ``eps`` is not a real number.
    ValueError
        If the shapes differ, an array is a scalar, ``p < 1`` or ``eps`` is
        negative or not finite.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.pairwise_distance([3.0, 0.0], [0.0, 4.0], eps=0.0))
    5.0
    """
    a, b, p, eps, dtype, _ = _distance_operands(x1, x2, p, eps)
    return np.asarray(_norm(*_difference(a, b, eps), p)).astype(dtype, copy=False)


def pairwise_distance_grad(x1, x2, *, p=2.0, eps=1e-6):
    r"""Gradient of the sum of :func:`pairwise_distance`: ``(d_x1, d_x2)``.

    .. math:: \frac{\partial d}{\partial x_{1,k}} = -\frac{\partial d}{\partial x_{2,k}}
        = \operatorname{sign}(u_k) \Big(\frac{|u_k|}{d}\Big)^{p-1},
        \qquad u = x_1 - x_2 + \epsilon

    Each row of a result is the gradient of that row's distance. Where the
    distance is 0 the gradient is 0, and for ``p = inf`` it is shared equally
    among the largest components, as in torch. Parameters and errors are
    those of :func:`pairwise_distance`.

    Returns
    -------
    tuple of ndarray
        ``(d_x1, d_x2)``, each of the inputs' shape and in its dtype.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.pairwise_distance_grad([3.0, 0.0], [0.0, 4.0], eps=0.0)
    (array([ 0.6, -0.8]), array([-0.6,  0.8]))
    """
    a, b, p, eps, _, dtypes = _distance_operands(x1, x2, p, eps)
    gradient = _distance_gradient(a, b, p, eps)
    return _gradients((gradient, -gradient), dtypes)


def _distance_gradient(a, b, p, eps):
    """d pairwise_distance(a, b) / d a, row by row."""
    high, low = _difference(a, b, eps)
    return _norm_gradient(high, _norm(high, low, p), p)


def squared_l2_distance(x1, x2):
    r"""Squared Euclidean distance between matching rows, as gluon's ``TripletLoss`` uses.

    .. math:: d(x_1, x_2) = \lVert x_1 - x_2 \rVert_2^2 = \sum_k (x_{1,k} - x_{2,k})^2

    No root and no epsilon. Pass it as ``distance_function`` to
    :func:`triplet_margin_with_distance_loss` to port gluon's ``TripletLoss``.
    The differences are formed exactly and their squares summed with their
    rounding errors, so the result is within 1 ulp of the exact value.

    Parameters
    ----------
    x1, x2 : array_like
        Vectors along the last axis, shape ``(N, D)`` or ``(D,)``, the same
        for both; float32 or float64.

    Returns
    -------
    ndarray
        The distances, shape ``x1.shape[:-1]``, in the promoted dtype.

    Raises
    ------
    TypeError
        If an array is not numeric.
    ValueError
        If the shapes differ or an array is a scalar.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.squared_l2_distance([3.0, 0.0], [0.0, 4.0]))
    25.0
    """
    (a, b), dtype, _ = _vectors(("x1", "x2"), (x1, x2))
    return np.asarray(_squared_l2(a, b)).astype(dtype, copy=False)


def _squared_l2(a, b):
    """:func:`squared_l2_distance` of validated float64 arrays."""
    high, low = _difference(a, b, 0.0)
    if high.shape[-1] == 0:
        return np.zeros(high.shape[:-1])
    hi, lo, k, top = _power_sum(high, low, 2)
    with np.errstate(over="ignore"):
        total = np.ldexp(hi + lo, 2 * k)
    return np.where(np.isfinite(top), total, top * top)


def squared_l2_distance_grad(x1, x2):
    r"""Gradient of the sum of :func:`squared_l2_distance`: ``(d_x1, d_x2)``.

    .. math:: \frac{\partial d}{\partial x_1} = -\frac{\partial d}{\partial x_2} = 2 (x_1 - x_2)

    Parameters and errors are those of :func:`squared_l2_distance`.

    Returns
    -------
    tuple of ndarray
        ``(d_x1, d_x2)``, each of the inputs' shape and in its dtype.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.squared_l2_distance_grad([3.0, 0.0], [0.0, 4.0])
    (array([ 6., -8.]), array([-6.,  8.]))
    """
    (a, b), _, dtypes = _vectors(("x1", "x2"), (x1, x2))
    with np.errstate(over="ignore", invalid="ignore"):
        gradient = 2.0 * (a - b)
    return _gradients((gradient, -gradient), dtypes)


# Triplet losses.


def _triplet_operands(anchor, positive, negative, margin, swap, reduction):
    margin = as_positive(margin, "margin")
    check_flag(swap, "swap")
    check_reduction(reduction)
    arrays, dtype, dtypes = _vectors(("anchor", "positive", "negative"),
                                     (anchor, positive, negative))
    return arrays, margin, dtype, dtypes


def _hinge_of(margin, positive_distance, negative_distance):
    """``margin + d_p - d_n`` added exactly and rounded once (before the clamp at 0)."""
    difference, error = two_sum(positive_distance, -negative_distance)
    high, carry = two_sum(difference, margin)
    return high + (error + carry)


def _swap_weights(near, swapped):
    """The share of the gradient of ``min(near, swapped)`` each takes: 1, 0 or, at a tie, 1/2."""
    first = np.where(near < swapped, 1.0, np.where(near == swapped, 0.5, 0.0))
    first = np.where(np.isnan(near) | np.isnan(swapped), np.nan, first)
    return first, 1.0 - first


class _Distance:
    """A distance of two arrays of vectors and the gradient of its sum, on validated float64."""

    def __init__(self, value, gradient):
        self.value, self.gradient = value, gradient


def _pairwise(p, eps):
    """torch's pairwise distance with order ``p`` and ``eps``, as a :class:`_Distance`."""
    def gradient(a, b):
        g = _distance_gradient(a, b, p, eps)
        return g, -g

    return _Distance(lambda a, b: _norm(*_difference(a, b, eps), p), gradient)


def _triplet(arrays, margin, swap, distance):
    """The triplet losses (before reduction) and what their gradients need."""
    anchor, positive, negative = arrays
    near = distance.value(anchor, positive)
    far = distance.value(anchor, negative)
    swapped = distance.value(positive, negative) if swap else None
    negative_distance = np.minimum(far, swapped) if swap else far
    value = _hinge_of(margin, near, negative_distance)
    return value, far, swapped


def _triplet_gradients(arrays, value, far, swapped, swap, reduction, distance):
    anchor, positive, negative = arrays
    active = np.where(np.isnan(value), np.nan, value >= 0.0)
    upstream = reduce_gradient(np.asarray(active, dtype=np.float64), reduction, np.float64)
    column = np.asarray(upstream)[..., None]
    near_a, near_p = distance.gradient(anchor, positive)
    far_a, far_n = distance.gradient(anchor, negative)
    if swap:
        share_far, share_swapped = (w[..., None] for w in _swap_weights(far, swapped))
        swap_p, swap_n = distance.gradient(positive, negative)
    else:
        share_far, share_swapped, swap_p, swap_n = 1.0, 0.0, 0.0, 0.0
    d_anchor = column * (near_a - share_far * far_a)
    d_positive = column * (near_p - share_swapped * swap_p)
    d_negative = -column * (share_far * far_n + share_swapped * swap_n)
    return d_anchor, d_positive, d_negative


# The triplet losses' fast path.
#
# The distances of the default triplet losses (torch's 2-norm with eps, and
# gluon's squared 2-norm) are computed in plain float64, in blocks of rows that
# stay in the CPU cache: t = fl(fl(a - b) + eps), p = fl(t * t), and each row's
# sum of the p is taken exactly as hi + lo by extracting them on one grid
# (Rump, Ogita and Oishi). What the hinge needs is then bounded row by row, and
# a row whose bound does not prove the documented accuracy (2 ulp of
# margin + d(a, p) + d(a, n)) is computed again: with the double-length root
# and hinge if its sums allow, else by the compensated path (_triplet).

_U = 2.0**-53
"""The unit roundoff: a rounded float64 operation errs by at most ``_U`` times its result."""
_BLOCK = 32768
"""Elements per block of a fast path (256 KiB a buffer)."""
_SIGMA_POWERS = (-960, 1000)
"""The exponents of the powers of two a block's sums are extracted on (see :func:`_square_sums`)."""
_SMALLEST_SUM = 2.0**-900
"""A row whose fast sum of squares lies below this takes the compensated path."""
_ROUNDING = {  # (plain, double length): |d_c - d| <= c * u * d_c + c0 (see _fast_distances)
    "root": ((4.0 + 2.0**-9) * _U, (2.5 + 2.0**-9) * _U),
    "squared": ((4.0 + 2.0**-9) * _U, (3.0 + 2.0**-9) * _U),
}


def _fast_shape(array):
    """Whether an array of vectors suits a fast path: some rows, each of some length."""
    return array.size > 0


def _rows(array):
    """An array of vectors along its last axis, as a C-contiguous 2-D ``(N, D)`` array."""
    return np.ascontiguousarray(array.reshape(-1, array.shape[-1]))


def _square_sums(pairs, eps, names):
    r"""Per row of pairs of ``(N, D)`` arrays, :math:`\sum_k p_k` as ``high + low``, and a floor.

    With :math:`t_k = \mathrm{fl}(\mathrm{fl}(x_k - y_k) + \epsilon)` and
    :math:`p_k = \mathrm{fl}(t_k^2)`. In each block of rows, :math:`\sigma` is a
    power of two with :math:`\sigma \ge 2 D \max p`; then :math:`q = (\sigma
    + p) - \sigma` and :math:`r = p - q` are exact, the :math:`q` are
    multiples of :math:`2^{-52}\sigma` whose row sums stay below :math:`\sigma`,
    so ``high``, their sum, is exact whatever the order (BLAS's gemv adds
    them), and ``low``, the plain sum of the :math:`|r| \le u\sigma`, errs by at
    most :math:`E = 1.01 D^2 u^2 \sigma`. ``floor`` is the block's
    :math:`\tau = 2^{12}(D\epsilon^2 + 1.12 D^2 u \sigma + D\, 2^{-1021})`
    (at least ``_SMALLEST_SUM``): a row whose sum reaches it has
    :math:`u D \epsilon^2 + 1.12 E + D\, 2^{-1074} \le 2^{-12} u\, x`, which
    :func:`_fast_distances` needs. A block with inf or nan, or whose
    :math:`\sigma` falls outside ``2**_SIGMA_POWERS``, gets the floor inf (and
    sums 0). The three arrays of each pair are scratch arrays named after its
    name in ``names``. The pairs are taken together, block by block, so that an
    array they share (the anchors) is read from memory once.
    """
    rows, width = pairs[0][0].shape
    step = max(1, _BLOCK // width)
    results = [tuple(scratch(f"{name}.{part}", (rows,)) for part in ("high", "low", "floor"))
               for name in names]
    length = min(rows, step) * width
    extracted, remainders = (buffer.reshape(-1, width) for buffer in
                             staggered("embedding", 2, length))
    ones = np.ones(width)
    with np.errstate(all="ignore"):
        for start in range(0, rows, step):
            stop = min(start + step, rows)
            count = stop - start
            q, t = extracted[:count], remainders[:count]
            for (x, y), (high, low, floor) in zip(pairs, results):
                np.subtract(x[start:stop], y[start:stop], out=t)
                if eps:
                    t += eps
                np.multiply(t, t, out=t)
                reach = 2.0 * width * float(np.maximum.reduce(t, axis=None))  # inf, nan: skip
                power = math.frexp(reach)[1] if reach > 0.0 else -1074
                if not (math.isfinite(reach) and power <= _SIGMA_POWERS[1]):
                    high[start:stop], low[start:stop], floor[start:stop] = 0.0, 0.0, np.inf
                    continue
                sigma = math.ldexp(1.0, max(power, _SIGMA_POWERS[0]))
                np.add(t, sigma, out=q)
                q -= sigma
                t -= q
                np.dot(q, ones, out=high[start:stop])
                np.dot(t, ones, out=low[start:stop])
                tau = 2.0**12 * (width * eps * eps + 1.12 * width * width * _U * sigma
                                 + width * 2.0**-1021)
                floor[start:stop] = max(tau, _SMALLEST_SUM)
    return results


class _FastDistance(NamedTuple):
    """One distance of each row, by :func:`_fast_distances`."""

    value: np.ndarray
    """The plain distance ``d_c``: ``fl(high + low)``, or its rounded square root."""
    high: np.ndarray
    """The exact sum of the extracted squares (see :func:`_square_sums`)."""
    low: np.ndarray
    """The sum of their remainders."""
    usable: np.ndarray
    """Rows whose error the bounds of :func:`_fast_distances` cover."""
    offset: float
    """``c0`` of those bounds."""


def _fast_distances(pairs, eps, squared, names):
    r"""For each pair ``(x, y)``, the squared 2-norm of ``x - y`` (``squared``) or the 2-norm of
    ``x - y + eps``, row by row (a :class:`_FastDistance` each).

    Where ``usable``, the plain value ``d_c`` errs by at most
    :math:`c\,u\,d_c + c_0` with :math:`c` the first of ``_ROUNDING[kind]``,
    and the double-length value of :func:`_double_length` by the second.

    Proof, with :math:`\delta_k = x_k - y_k + \epsilon` exact, :math:`s = \sum
    \delta_k^2`, :math:`T_2 = \sum t_k^2` and :math:`x_s = \mathrm{fl}(h + l)`
    (``high``, ``low``). The two roundings of :math:`t_k` err by
    :math:`u|x_k - y_k| + u|t_k|`, and :math:`|x_k - y_k| \le |t_k| + \epsilon +
    \Delta_k`, so :math:`\Delta_k = |t_k - \delta_k| \le u'(2|t_k| + \epsilon)`
    (:math:`u' = u / (1 - u)`; :math:`u|t_k|` alone for :math:`\epsilon = 0`,
    one rounding). With :math:`|p_k - t_k^2| \le u t_k^2 + 2^{-1075}` and
    :math:`|t_k^2 - \delta_k^2| \le \Delta_k (2|t_k| + \Delta_k)`,

    .. math:: \Big|\sum p_k - s\Big| \le u T_2 + u(1 + 4u)\big(4 T_2
        + 4\epsilon\sqrt{D T_2} + D\epsilon^2\big) + D\,2^{-1075}

    (:math:`u(3 + u) T_2 + D\,2^{-1075}` for :math:`\epsilon = 0`), and
    :math:`|h + l - \sum p_k| \le E`. On a usable row (:math:`x_s \ge \tau`,
    see :func:`_square_sums`) :math:`T_2 \le x_s(1 + 2.1u)`, hence
    :math:`|x_s - s| \le (6 + 2^{-11}) u x_s + 4.001 u \epsilon \sqrt{D x_s}`
    (:math:`(4 + 2^{-11}) u x_s` for the squared norm, which is ``d_c``:
    the first bound), and :math:`|h + l - s|` is smaller by :math:`u x_s`.
    For the norm, :math:`|\sqrt{x_s} - \sqrt s| = |x_s - s| / (\sqrt{x_s} +
    \sqrt s) \le (3 + 2^{-11}) u \sqrt{x_s} + 2.001 u \epsilon \sqrt D` (as
    :math:`x_s \ge 2^{12} D \epsilon^2` keeps :math:`s` near :math:`x_s`), and
    the rounded root adds :math:`u \sqrt{x_s}`: :math:`c_0 = 2.02\, u
    \epsilon \sqrt D`. The double-length root of :math:`h + l` errs by
    :math:`(2.5 + 2^{-11}) u \sqrt{x_s} + 2.001 u\epsilon\sqrt D` plus
    :math:`8 u^2 \sqrt{x_s}` for its own roundings.
    """
    offset = 0.0 if squared else 2.02 * _U * eps * math.sqrt(pairs[0][0].shape[1])
    distances = []
    for name, (high, low, floor) in zip(names, _square_sums(pairs, eps, names)):
        with np.errstate(all="ignore"):
            total = np.add(high, low, out=scratch(f"{name}.value", high.shape))
            usable = np.greater_equal(total, floor,
                                      out=scratch(f"{name}.usable", high.shape, bool))
            value = total if squared else np.sqrt(total, out=total)
        distances.append(_FastDistance(value, high, low, usable, offset))
    return distances


def _double_length(distance, rows, squared):
    """The rows' distances as ``hi + lo`` from their exact sums (usable rows only)."""
    high, low = distance.high[rows], distance.low[rows]
    total = high + low  # FastTwoSum: |low| <= D u sigma is far below high on a usable row
    rest = low - (total - high)
    if squared:
        return total, rest
    root = np.sqrt(total)
    square, error = _two_product(root, root)
    return root, ((total - square) - error + rest) / (2.0 * root)


def _fast_hinges(margin, near, far, kind, name):
    """The hinges ``V = margin + d_near - d_far`` in plain arithmetic, and which rows are proven.

    ``V = fl(margin + fl(d_n - d_f))`` errs by at most ``err_n + err_f +
    u |fl(d_n - d_f)| + u |V|``. A row is proven where this shows the exact
    hinge negative (its loss is exactly 0), or positive with an error of at
    most 2 ulp of the exact ``margin + d_n + d_f`` (bounded below, with a
    margin of ``2^-45`` of itself, from the computed distances and their
    errors). A hinge too close to 0 for its sign to be sure is left to the
    compensated path, which decides the kink as closely as before. Both
    results are scratch arrays named after ``name``.
    """
    c = _ROUNDING[kind][0]
    shape = near.value.shape
    value, errors, bound, scale, magnitude = (
        scratch(f"{name}.{part}", shape) for part in ("value", "errors", "bound", "scale", "size"))
    proven, accurate, zero = (scratch(f"{name}.{part}", shape, bool)
                              for part in ("proven", "accurate", "zero"))
    with np.errstate(all="ignore"):
        np.logical_and(near.usable, far.usable, out=proven)
        np.add(near.value, far.value, out=errors)  # c (d_n + d_f) + 2 c0
        errors *= c
        errors += 2.0 * far.offset
        np.add(near.value, far.value, out=scale)  # 4u ((margin + d_n + d_f)(1 - 2^-45) - errors)
        scale += margin
        scale *= 1.0 - 2.0**-45
        scale -= errors
        scale *= 4.0 * _U
        np.subtract(near.value, far.value, out=value)  # (err + u (|d_n - d_f| + |V|))(1 + 2^-40)
        np.abs(value, out=bound)
        value += margin
        bound += np.abs(value, out=magnitude)
        bound *= _U
        bound += errors
        bound *= 1.0 + 2.0**-40
        np.less_equal(bound, scale, out=accurate)  # accurate, and surely positive ...
        np.less(bound, value, out=zero)
        accurate &= zero
        bound += value  # ... or surely negative
        np.less(bound, 0.0, out=zero)
        accurate |= zero
        proven &= accurate
    return value, proven


def _double_length_hinges(margin, rows, near, far, kind):
    """The hinges of ``rows`` (usable ones) in double length, and which rows are proven.

    The distances are double-length (:func:`_double_length`), the hinge is
    added exactly by TwoSums and rounded once: it errs by ``err_n + err_f``,
    ``3.01 u`` times the parts added last, and ``u |V|``. Proven as in
    :func:`_fast_hinges`.
    """
    c = _ROUNDING[kind][1]
    squared = kind == "squared"
    near_high, near_low = _double_length(near, rows, squared)
    far_high, far_low = _double_length(far, rows, squared)
    with np.errstate(all="ignore"):
        difference, first = two_sum(near_high, -far_high)
        high, second = two_sum(difference, margin)
        parts = (first + second) + (near_low - far_low)
        value = high + parts
        errors = c * (near_high + far_high) + 2.0 * far.offset
        bound = errors + 3.01 * _U * (np.abs(first) + np.abs(second) + np.abs(near_low)
                                      + np.abs(far_low)) + _U * np.abs(value)
        bound *= 1.0 + 2.0**-40
        scale = (margin + (near_high + far_high)) * (1.0 - 2.0**-45) - errors
        proven = (value + bound < 0.0) | ((bound < value) & (bound <= 4.0 * _U * scale))
    return value, proven


def _proven_hinges(margin, near, far, pairs, eps, squared, name):
    """The hinges ``margin + d(*pairs[0]) - d(*pairs[1])`` of every row, each proven or recomputed.

    ``near`` and ``far`` are the :func:`_fast_distances` of the two pairs of
    ``(N, D)`` arrays. Rows the plain pass does not prove are redone in
    double length, and rows that cannot be (inf, nan, extreme magnitudes,
    distances too small for the bounds, a sign too close to call) by the
    compensated distances and :func:`_hinge_of`. The result is a scratch array.
    """
    kind = "squared" if squared else "root"
    value, proven = _fast_hinges(margin, near, far, kind, name)
    if not proven.all():
        again = np.flatnonzero(~proven & near.usable & far.usable)
        if again.size:
            value[again], done = _double_length_hinges(margin, again, near, far, kind)
            proven[again] = done
        rest = np.flatnonzero(~proven)
        if rest.size:
            distance = _squared_l2 if squared else _pairwise(2.0, eps).value
            (a, b), (x, y) = pairs
            value[rest] = _hinge_of(margin, distance(a[rest], b[rest]), distance(x[rest], y[rest]))
    return value


def _fast_triplet(arrays, margin, swap, eps, squared):
    """The triplet hinges (before the clamp at 0) of the default distances, fast where proven.

    ``squared`` selects the squared 2-norm (``eps`` is then 0), else torch's
    2-norm with ``eps``. With ``swap`` the hinge is the larger of the hinges
    against ``d(a, n)`` and ``d(p, n)`` (which is the hinge against their
    minimum), each computed as without ``swap``: so a swap never lowers a
    loss, exactly as in the compensated path.
    """
    shape = arrays[0].shape[:-1]
    anchor, positive, negative = (_rows(array) for array in arrays)
    pairs = [(anchor, positive), (anchor, negative), (positive, negative)][:3 if swap else 2]
    near, far, *swapped = _fast_distances(pairs, eps, squared, ["near", "far", "swapped"])
    value = _proven_hinges(margin, near, far, pairs[:2], eps, squared, "hinge")
    if swap:
        other = _proven_hinges(margin, near, swapped[0], [pairs[0], pairs[2]], eps, squared,
                               "swap")
        np.maximum(value, other, out=value)
    return value.reshape(shape)


def _hinge_loss(value, reduction, dtype):
    """``max(value, 0)`` reduced; ``value`` is overwritten unless ``reduction`` is "none"."""
    if reduction == "none":
        return reduce(np.maximum(value, 0.0), reduction, dtype)
    return reduce(np.maximum(value, 0.0, out=value), reduction, dtype)


def triplet_margin_loss(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean"):
    r"""Triplet margin loss with torch's pairwise distance.

    .. math:: \ell_i = \max\big(0,\; \text{margin} + d(a_i, p_i) - d(a_i, n_i)\big),
        \qquad d(x, y) = \lVert x - y + \epsilon \rVert_p

    With ``swap=True``, :math:`d(a_i, n_i)` is replaced by
    :math:`\min(d(a_i, n_i), d(p_i, n_i))` (the distance swap of Balntas et
    al.). Note that torch adds :math:`\epsilon` to each difference, so the
    distance is not symmetric: the swap uses :math:`\lVert p - n + \epsilon\rVert_p`.
    The loss is within 2 ulp of :math:`\text{margin} + d(a_i, p_i) + d(a_i,
    n_i)`, the sum of the terms' magnitudes (the terms cancel when the triplet
    sits at the margin). For ``p=2`` the distances are first taken in plain
    float64 with an error bound for each row, which proves that for almost
    every row; the rest, and every row for another ``p``, get distances
    within 2 ulp each (see :func:`pairwise_distance`) whose three terms are
    added exactly and rounded once. A hinge too close to 0 for the bound to
    tell its sign is always computed that second way, so the kink is decided
    as closely as :func:`pairwise_distance` allows.

    Parameters
    ----------
    anchor, positive, negative : array_like
        Vectors along the last axis, shape ``(N, D)`` or ``(D,)``, the same
        for all three (torch broadcasts; lossbook does not); float32 or float64.
    margin : float, default 1.0
        Must be > 0 (as torch requires) and finite.
    p : float, default 2.0
        Order of the norm, >= 1 or ``inf``.
    eps : float, default 1e-6
        Added to each difference, >= 0.
    swap : bool, default False
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (shape ``anchor.shape[:-1]``), else their
        mean or sum; in the promoted dtype. The mean of no losses is nan.

    Raises
    ------
    TypeError
        If an array is not numeric, an option is not a real number, or
        ``swap`` is not a bool.
    ValueError
        If the shapes differ or are scalars, ``margin <= 0``, ``p < 1``,
        ``eps < 0``, or ``reduction`` is unknown.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.triplet_margin_loss([0.0, 0.0], [3.0, 4.0], [6.0, 8.0], eps=0.0))
    0.0
    >>> float(lb.triplet_margin_loss([0.0, 0.0], [3.0, 4.0], [0.0, 5.5], eps=0.0))
    0.5
    """
    p = _p_norm_order(p)
    eps = _non_negative(eps, "eps")
    arrays, margin, dtype, _ = _triplet_operands(anchor, positive, negative, margin, swap,
                                                 reduction)
    if p == 2.0 and _fast_shape(arrays[0]):
        value = _fast_triplet(arrays, margin, swap, eps, squared=False)
    else:
        value, _, _ = _triplet(arrays, margin, swap, _pairwise(p, eps))
    return _hinge_loss(value, reduction, dtype)


def triplet_margin_loss_grad(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6,
                             swap=False, reduction="mean"):
    r"""Gradient of :func:`triplet_margin_loss`: ``(d_anchor, d_positive, d_negative)``.

    .. math:: \frac{\partial \ell_i}{\partial a_i} = [\ell_i \text{ active}]
        \Big(\nabla_a d(a_i, p_i) - \nabla_a d(a_i, n_i)\Big)

    and likewise for the positive and the negative; the hinge is active where
    :math:`\text{margin} + d(a_i, p_i) - d(a_i, n_i) \ge 0` (torch's
    ``clamp_min`` passes the gradient at the kink). With ``swap``, a tie
    between the two negative distances shares the gradient equally, as
    torch's ``min`` does. The distance's own gradient is that of
    :func:`pairwise_distance_grad`. Parameters and errors are those of
    :func:`triplet_margin_loss`.

    Returns
    -------
    tuple of ndarray
        ``(d_anchor, d_positive, d_negative)``, each of the inputs' shape and
        in its dtype.

    Examples
    --------
    >>> import lossbook as lb
    >>> g = lb.triplet_margin_loss_grad([0.0, 0.0], [3.0, 4.0], [0.0, 5.5], eps=0.0)
    >>> [(a + 0.0).round(12).tolist() for a in g]
    [[-0.6, 0.2], [0.6, 0.8], [0.0, -1.0]]
    """
    p = _p_norm_order(p)
    eps = _non_negative(eps, "eps")
    arrays, margin, dtype, dtypes = _triplet_operands(anchor, positive, negative, margin, swap,
                                                      reduction)
    distance = _pairwise(p, eps)
    value, far, swapped = _triplet(arrays, margin, swap, distance)
    return _gradients(
        _triplet_gradients(arrays, value, far, swapped, swap, reduction, distance), dtypes
    )


def _custom_distance(function, gradient, shape):
    """A user's ``distance_function`` (and ``distance_grad``) as a checked :class:`_Distance`."""
    if not callable(function):
        raise TypeError(f"distance_function must be callable or None, got {function!r}")

    def value(a, b):
        result, _ = as_float64(function(a, b), "distance_function's result")
        check_shape(result, shape, "distance_function's result", "the shape of the batch")
        return result

    def grad(a, b):
        if gradient is None:
            raise TypeError(
                "distance_grad is required with a custom distance_function: pass a function "
                "that returns the gradients (d_x, d_y) of distance_function(x, y).sum()"
            )
        if not callable(gradient):
            raise TypeError(f"distance_grad must be callable, got {gradient!r}")
        result = gradient(a, b)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(
                f"distance_grad must return a tuple (d_x, d_y), got {type(result).__name__}"
            )
        arrays = []
        for name, part in zip(("d_x", "d_y"), result):
            array, _ = as_float64(part, f"distance_grad's {name}")
            check_shape(array, a.shape, f"distance_grad's {name}", "the inputs' shape")
            arrays.append(array)
        return tuple(arrays)

    return _Distance(value, grad)


def _chosen_distance(distance_function, distance_grad, shape):
    """The distance (and its gradient) that ``distance_function`` names."""
    if distance_function is None:
        if distance_grad is not None:
            raise TypeError(
                "distance_grad is only for a custom distance_function; the default "
                "pairwise distance has its own gradient"
            )
        return _pairwise(2.0, 1e-6)
    own = _OWN_GRADIENTS.get(distance_function)
    if own is not None and distance_grad is None:
        distance_grad = own
    return _custom_distance(distance_function, distance_grad, shape)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    r"""Triplet margin loss with any distance, as torch's ``triplet_margin_with_distance_loss``.

    .. math:: \ell_i = \max\big(0,\; \text{margin} + d(a_i, p_i) - d(a_i, n_i)\big)

    With ``swap=True``, :math:`d(a_i, n_i)` becomes
    :math:`\min(d(a_i, n_i), d(p_i, n_i))`. The default distance is
    :func:`pairwise_distance` with ``p=2, eps=1e-6``, as in torch. gluon's
    ``TripletLoss`` is this loss with ``distance_function=lb.squared_l2_distance``
    (squared Euclidean distance, no root, no epsilon). With lossbook's
    distances the loss is within 2 ulp of :math:`\text{margin} + d(a_i, p_i)
    + d(a_i, n_i)`, fast where a bound for each row proves it and otherwise
    with the distances' terms added exactly and rounded once, as
    :func:`triplet_margin_loss` describes.

    Parameters
    ----------
    anchor, positive, negative : array_like
        Vectors along the last axis, shape ``(N, D)`` or ``(D,)``, the same
        for all three; float32 or float64.
    distance_function : callable, optional
        ``distance_function(x, y)`` takes two float64 arrays of the inputs'
        shape and returns one distance per row, shape ``anchor.shape[:-1]``
        (numpy, not torch). ``None`` means :func:`pairwise_distance`.
    margin : float, default 1.0
        Must be > 0 (as torch requires) and finite.
    swap : bool, default False
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (shape ``anchor.shape[:-1]``), else their
        mean or sum; in the promoted dtype. The mean of no losses is nan.

    Raises
    ------
    TypeError
        If an array is not numeric, ``distance_function`` is not callable,
        ``margin`` is not a real number or ``swap`` not a bool.
    ValueError
        If the shapes differ or are scalars, ``margin <= 0``, ``reduction``
        is unknown, or ``distance_function`` returns the wrong shape.

    Examples
    --------
    >>> import lossbook as lb
    >>> a, p, n = [[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.2]]
    >>> lb.triplet_margin_with_distance_loss(
    ...     a, p, n, distance_function=lb.squared_l2_distance, reduction="none").round(12)
    array([0.56])
    """
    arrays, margin, dtype, _ = _triplet_operands(anchor, positive, negative, margin, swap,
                                                 reduction)
    fast = distance_function in (None, pairwise_distance, squared_l2_distance)
    if fast and _fast_shape(arrays[0]):
        squared = distance_function is squared_l2_distance
        value = _fast_triplet(arrays, margin, swap, 0.0 if squared else 1e-6, squared)
    else:
        distance = _chosen_distance(distance_function, None, arrays[0].shape[:-1])
        value, _, _ = _triplet(arrays, margin, swap, distance)
    return _hinge_loss(value, reduction, dtype)


def triplet_margin_with_distance_loss_grad(anchor, positive, negative, *, distance_function=None,
                                           distance_grad=None, margin=1.0, swap=False,
                                           reduction="mean"):
    r"""Gradient of :func:`triplet_margin_with_distance_loss`: ``(d_anchor, d_positive, d_negative)``.

    .. math:: \frac{\partial \ell_i}{\partial a_i} = [\ell_i \text{ active}]
        \Big(\nabla_x d(a_i, p_i) - \nabla_x d(a_i, n_i)\Big)

    The chain rule needs the distance's own gradient. For the default
    distance, :func:`squared_l2_distance` and :func:`pairwise_distance`,
    lossbook knows it. For any other ``distance_function`` pass
    ``distance_grad``: a function of the same two arrays returning the tuple
    ``(d_x, d_y)``, the gradients of ``distance_function(x, y).sum()``
    (each of the inputs' shape), as :func:`squared_l2_distance_grad` does.
    The hinge is active where its argument is >= 0 and a swap tie shares the
    gradient equally, as in torch. Other parameters and errors are those of
    :func:`triplet_margin_with_distance_loss`.

    Returns
    -------
    tuple of ndarray
        ``(d_anchor, d_positive, d_negative)``, each of the inputs' shape and
        in its dtype.

    Raises
    ------
    TypeError
        If ``distance_grad`` is missing for a custom ``distance_function``,
        given without one, not callable, or does not return two arrays.
    ValueError
        If ``distance_grad``'s arrays do not have the inputs' shape.

    Examples
    --------
    >>> import numpy as np
    >>> import lossbook as lb
    >>> def manhattan(x, y):
    ...     return np.abs(x - y).sum(axis=-1)
    >>> def manhattan_grad(x, y):
    ...     return np.sign(x - y), -np.sign(x - y)
    >>> g = lb.triplet_margin_with_distance_loss_grad(
    ...     [[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.5]],
    ...     distance_function=manhattan, distance_grad=manhattan_grad)
    >>> [(a + 0.0).tolist() for a in g]
    [[[-1.0, 1.0]], [[1.0, 0.0]], [[0.0, -1.0]]]
    """
    arrays, margin, dtype, dtypes = _triplet_operands(anchor, positive, negative, margin, swap,
                                                      reduction)
    distance = _chosen_distance(distance_function, distance_grad, arrays[0].shape[:-1])
    value, far, swapped = _triplet(arrays, margin, swap, distance)
    return _gradients(
        _triplet_gradients(arrays, value, far, swapped, swap, reduction, distance), dtypes
    )


_OWN_GRADIENTS = {
    squared_l2_distance: squared_l2_distance_grad,
    pairwise_distance: pairwise_distance_grad,
}
"""The gradients lossbook knows for the distances it defines (their default options)."""


# Cosine embedding.


def _scaled_rows(x):
    """``x`` with each row scaled by ``2**-k`` to lie near 1 (``k >= -250``), and ``k``."""
    k, _ = _row_exponents(np.abs(x), floor=_SCALE_FLOOR)
    return np.ldexp(x, -k[..., None]), k


def _squared_norm(x, epsilon):
    """``sum x**2 + epsilon`` over the last axis, as ``hi, lo``."""
    squares, error = _two_product(x, x)
    hi, lo = _sum_last(squares, _ratio(error, squares))
    hi, carry = two_sum(hi, epsilon)
    return hi, lo + carry


def _dot(x, y):
    """``sum x * y`` over the last axis as ``hi, lo``, the positive and negative products apart."""
    products, error = _two_product(x, y)
    relative = _ratio(error, products)
    positive_hi, positive_lo = _sum_last(np.maximum(products, 0.0), relative)
    negative_hi, negative_lo = _sum_last(np.maximum(-products, 0.0), relative)
    hi, carry = two_sum(positive_hi, -negative_hi)
    return hi, carry + (positive_lo - negative_lo)


def _cosine(x1, x2):
    """torch's cosine of ``cosine_embedding_loss`` as ``hi + lo``, with what the gradient needs.

    ``cos = x1.x2 / sqrt((|x1|^2 + e)(|x2|^2 + e))``; each row of each input is
    scaled by a power of two first (``e`` with it), which leaves the cosine
    unchanged and keeps every square and product in range.
    """
    a, k1 = _scaled_rows(x1)
    b, k2 = _scaled_rows(x2)
    with np.errstate(over="ignore", under="ignore"):
        n1 = _squared_norm(a, np.ldexp(COSINE_EPSILON, -2 * k1))
        n2 = _squared_norm(b, np.ldexp(COSINE_EPSILON, -2 * k2))
    dot_hi, dot_lo = _dot(a, b)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        square, square_error = _two_product(n1[0], n2[0])
        square_error = square_error + (n1[0] * n2[1] + n1[1] * n2[0])
        root = np.sqrt(square)
        r2, r2_error = _two_product(root, root)
        root_lo = ((square - r2) - r2_error + square_error) / (2.0 * root)
        cos = dot_hi / root
        back, back_error = _two_product(cos, root)
        cos_lo = (((dot_hi - back) - back_error) + dot_lo - cos * root_lo) / root
    cos_lo = np.where(np.isfinite(cos_lo), cos_lo, 0.0)
    return cos, cos_lo, (a, b, k1, k2, n1[0], n2[0], root)


# The cosine loss's fast path.

_COSINE_RANGE = (2.0**-400, 2.0**400)
"""The largest magnitude in a block must lie in this range for the fast path (squares stay normal)."""


def _cosine_sums(x, y):
    r"""Per row of two ``(N, D)`` arrays, the squared norms and the dot product in two parts.

    Returns ``sums`` of shape ``(6, N)``: :math:`H_{xx}, H_{yy}, H_{xy}` exact and
    :math:`L_{xx}, L_{yy}, L_{xy}` plain, with :math:`\sum_k x_k^2 = H_{xx} +
    L_{xx}` and so on up to the errors bounded in :func:`_fast_cosine`; and
    ``units``, shape ``(2, N)``, the grids :math:`g_x, g_y` of each row's
    block (0 where the block has inf, nan, only zeros, or magnitudes outside
    ``_COSINE_RANGE``). In each block of rows, :math:`x = q_x + r_x` is split
    by extraction on :math:`\sigma_x = 2^{k + c}` with :math:`2^k >
    \max|x|` and :math:`c = \max(27, \lceil (53 + \log_2 D)/2 \rceil)` (or just
    above): :math:`q_x` is a multiple of :math:`g_x = 2^{k + c - 53}` with at
    most :math:`54 - c` bits and :math:`|r_x| \le g_x`. So every product
    :math:`q_x q_y` is exact and so is every sum of :math:`D` of them (below
    :math:`2^{53} g_x g_y`): :math:`H_{xy} = \sum q_x q_y`, whatever order
    numpy adds in. :math:`L_{xy} = \sum r_x y + \sum q_x r_y`, and
    :math:`L_{xx} = \sum r_x (x + q_x)`.
    """
    rows, width = x.shape
    step = max(1, _BLOCK // width)
    sums, units = scratch("cosine.sums", (6, rows)), scratch("cosine.units", (2, rows))
    other = scratch("cosine.other", (min(rows, step),))
    buffers = [buffer.reshape(-1, width)
               for buffer in staggered("cosine", 4, min(rows, step) * width)]
    c = max(27, math.ceil((53.0 + math.log2(width)) / 2.0 + 2.0**-10))
    with np.errstate(all="ignore"):
        for start in range(0, rows, step):
            stop = min(start + step, rows)
            block = slice(start, stop)
            xs, ys = x[block], y[block]
            tops = [max(float(np.maximum.reduce(v, axis=None)),
                        -float(np.minimum.reduce(v, axis=None))) for v in (xs, ys)]
            if not all(_COSINE_RANGE[0] <= top < _COSINE_RANGE[1] for top in tops):
                sums[:, block], units[:, block] = 0.0, 0.0
                continue
            (sigma_x, unit_x), (sigma_y, unit_y) = (
                (math.ldexp(1.0, power + c), math.ldexp(1.0, power + c - 53))
                for power in (math.frexp(top)[1] for top in tops))
            qx, rx, qy, ry = (buffer[:stop - start] for buffer in buffers)
            np.add(xs, sigma_x, out=qx)
            qx -= sigma_x
            np.subtract(xs, qx, out=rx)
            np.add(ys, sigma_y, out=qy)
            qy -= sigma_y
            np.subtract(ys, qy, out=ry)
            np.einsum("ij,ij->i", qx, qx, out=sums[0, block])
            np.einsum("ij,ij->i", qy, qy, out=sums[1, block])
            np.einsum("ij,ij->i", qx, qy, out=sums[2, block])
            np.einsum("ij,ij->i", rx, ys, out=sums[5, block])
            sums[5, block] += np.einsum("ij,ij->i", qx, ry, out=other[:stop - start])
            qx += xs
            np.einsum("ij,ij->i", rx, qx, out=sums[3, block])
            qy += ys
            np.einsum("ij,ij->i", ry, qy, out=sums[4, block])
            units[0, block], units[1, block] = unit_x, unit_y
    return sums, units


def _product_error(a, b, split_a, split_b):
    """The rounding error of ``fl(a * b)`` (Dekker), given the splits of ``a`` and ``b``."""
    (ah, al), (bh, bl) = split_a, split_b
    return ((ah * bh - a * b) + ah * bl + al * bh) + al * bl


def _fast_cosine(x, y, labels, margin):
    """The cosine losses (before reduction) of ``(N, D)`` rows, fast where a row bound proves them.

    ``labels`` holds -1 and +1 (nan propagates). Returns the losses, and the
    rows left to the compensated path.

    The sums of :func:`_cosine_sums` err by at most (per row, from its block's
    grids and largest magnitudes, :math:`k_D = 1.02 (D + 1) u`)
    :math:`E_{xx} = k_D g_x D (2 M_x + g_x)`,
    :math:`E_{xy} = k_D D (g_x M_y + g_y (M_x + g_x)) + u |L_{xy}|`, and the
    norms' :math:`L + \\epsilon` add their rounding. With :math:`A, B, C` the
    norms and the dot, :math:`\\cos = C / \\sqrt{AB}` then errs by at most
    :math:`E_C / \\sqrt{AB} + |\\cos| (E_A / 2A + E_B / 2B)` (to first order; the
    second is below :math:`2^{-40}` of it), plus :math:`24 u^2` for the
    double-length arithmetic below. A row is proven where that total is at
    most :math:`u |V| (1 - 2^{-40})`, :math:`V` the loss before the clamp:
    the final rounding adds :math:`u |V|`, so the loss is within 1 ulp, and
    the clamp's side is sure.
    """
    rows, width = x.shape
    sums, units = _cosine_sums(x, y)
    value, unproven = np.empty(rows), np.empty(rows, dtype=bool)
    for start in range(0, rows, _CHUNK):
        chunk = slice(start, start + _CHUNK)  # small temporaries, reused from call to call
        value[chunk], unproven[chunk] = _cosine_chunk(sums[:, chunk], units[:, chunk],
                                                      labels[chunk], margin, width)
    return value, unproven


_CHUNK = 8192
"""Rows per chunk of the per-row arithmetic of the fast paths (64 KiB arrays)."""


def _cosine_chunk(sums, units, labels, margin, width):
    """:func:`_fast_cosine` on a chunk of rows, from their sums and grids."""
    high_xx, high_yy, high_xy, low_xx, low_yy, low_xy = sums
    unit_x, unit_y = units
    with np.errstate(all="ignore"):
        # The norms with epsilon and the dot, each as a normalised double-length number.
        a_high, a_low = two_sum(high_xx, low_xx + COSINE_EPSILON)
        b_high, b_low = two_sum(high_yy, low_yy + COSINE_EPSILON)
        c_high, c_low = two_sum(high_xy, low_xy)
        # R = sqrt(A B) and cos = C / R in double length.
        split_a, split_b = _split(a_high), _split(b_high)
        p_high = a_high * b_high
        p_low = _product_error(a_high, b_high, split_a, split_b) + (a_high * b_low + a_low * b_high)
        root = np.sqrt(p_high)
        split_r = _split(root)
        square = root * root
        root_low = ((p_high - square) - _product_error(root, root, split_r, split_r) + p_low)
        root_low /= 2.0 * root
        cos = c_high / root
        back = cos * root
        back_error = _product_error(cos, root, _split(cos), split_r)
        cos_low = (((c_high - back) - back_error) + c_low - cos * root_low) / root
        # The loss before the clamp, V, in double length, rounded once.
        similar, error = two_sum(1.0, -cos)
        similar += error - cos_low
        dissimilar, error = two_sum(cos, -margin)
        dissimilar += error + cos_low
        value = np.where(labels == 1.0, similar, dissimilar)
        value = np.where(np.isnan(labels), np.nan, value)
        # Its error bound (see above); 2**k >= the block's largest magnitude is g 2**(53 - c).
        c = max(27, math.ceil((53.0 + math.log2(width)) / 2.0 + 2.0**-10))
        top_x, top_y = unit_x * 2.0**(53 - c), unit_y * 2.0**(53 - c)
        k = 1.02 * (width + 1) * _U * width
        error_a = k * unit_x * (2.0 * top_x + unit_x) + _U * np.abs(low_xx + COSINE_EPSILON)
        error_b = k * unit_y * (2.0 * top_y + unit_y) + _U * np.abs(low_yy + COSINE_EPSILON)
        error_c = k * (unit_x * top_y + unit_y * (top_x + unit_x)) + _U * np.abs(low_xy)
        size = np.abs(cos)
        total = (error_c / root + size * (error_a / (2.0 * a_high) + error_b / (2.0 * b_high)))
        total *= 1.0 + 2.0**-30
        total += _U * _U * (28.0 * size + 4.0 * (1.0 + abs(margin)))
        proven = ((total <= _U * np.abs(value) * (1.0 - 2.0**-40)) & (unit_x > 0.0)
                  & (error_a <= 2.0**-40 * a_high) & (error_b <= 2.0**-40 * b_high))
        proven |= np.isnan(labels)
        value = np.where(labels == 1.0, value, np.maximum(value, 0.0))
    return value, ~proven


def _cosine_operands(input1, input2, target, margin, reduction):
    margin = _finite(margin, "margin")
    (x1, x2), dtype, dtypes = _arrays(("input1", "input2"), (input1, input2))
    y, _ = as_float64(target, "target")
    check_reduction(reduction)
    if x1.ndim not in (1, 2):
        raise ValueError(
            f"input1 must have shape (N, D) or (D,), got shape {x1.shape}"
        )
    check_shape(y, x1.shape[:-1], "target", "the shape of the batch")
    check_signed_labels(y, "target")
    return x1, x2, y, margin, dtype, dtypes


def _cosine_values(x1, x2, y, margin):
    cos, cos_lo, parts = _cosine(x1, x2)
    similar, error = two_sum(1.0, -cos)
    similar = similar + (error - cos_lo)
    dissimilar, error = two_sum(cos, -margin)
    dissimilar = dissimilar + (error + cos_lo)
    value = np.where(y == 1.0, similar, np.maximum(dissimilar, 0.0))
    value = np.where(np.isnan(y), np.nan, value)
    return value, dissimilar, cos, parts


def cosine_embedding_loss(input1, input2, target, *, margin=0.0, reduction="mean"):
    r"""Cosine embedding loss: similar pairs (``target`` 1) should point the same way.

    .. math:: \ell_i = \begin{cases} 1 - \cos(x_{1,i}, x_{2,i}) & y_i = 1 \\
        \max\big(0,\; \cos(x_{1,i}, x_{2,i}) - \text{margin}\big) & y_i = -1 \end{cases},
        \qquad \cos(u, v) = \frac{u \cdot v}{\sqrt{(\lVert u \rVert^2 + e)(\lVert v \rVert^2 + e)}}

    with :math:`e` = :data:`COSINE_EPSILON`, torch's float32 ``1e-12``, inside
    each squared norm (so a zero vector has cosine 0). The dot product and the
    norms are summed with their rounding errors, the cosine is carried as a
    sum of two doubles, and the final subtraction is rounded once: the loss
    is within 1 ulp of the exact value, up to
    :math:`4 D^2 \varepsilon^2 \sum_k |x_{1,k} x_{2,k}| / \sqrt{\cdot}` where the
    products of nearly orthogonal vectors cancel (well under 1 ulp of the
    terms' magnitudes, :math:`1 + \sum_k |x_{1,k} x_{2,k}| / \sqrt{\cdot}`
    for :math:`y = 1` and :math:`|\text{margin}| + \sum_k |x_{1,k} x_{2,k}| / \sqrt{\cdot}`
    for :math:`y = -1`). A batch first takes a faster path: the inputs, split
    exactly into short pieces in blocks of rows, give the norms and the dot
    product in double length with an error bound for each row, and a row
    whose bound does not prove the loss within 1 ulp outright (nearly
    parallel pairs with label 1, a cosine at the margin with label -1, rows
    much smaller than the largest of their block) is computed as above.

    Parameters
    ----------
    input1, input2 : array_like
        Vectors, shape ``(N, D)`` or a single pair of shape ``(D,)``, the
        same for both; float32 or float64.
    target : array_like
        Labels -1 or +1, shape ``(N,)`` (a scalar for a single pair). torch
        gives a loss of 0 for any other label; lossbook refuses it.
    margin : float, default 0.0
        Finite. torch's documentation suggests [-1, 1] but it accepts any
        value, and so does lossbook (beyond 1 the dissimilar loss is always
        0; below -1 it is never 0).
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (shape ``(N,)`` or ``()``), else their mean
        or sum; in the promoted dtype. The mean of no losses is nan.

    Raises
    ------
    TypeError
        If an array is not numeric or ``margin`` is not a real number.
    ValueError
        If the inputs' shapes differ or are not ``(N, D)`` or ``(D,)``, the
        target's shape is not the batch's, a label is not -1 or +1,
        ``margin`` is not finite, or ``reduction`` is unknown.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.cosine_embedding_loss([[1.0, 0.0], [1.0, 1.0]], [[0.0, 2.0], [2.0, 2.0]], [1, -1],
    ...                          reduction="none").round(12)
    array([1., 1.])
    """
    x1, x2, y, margin, dtype, _ = _cosine_operands(input1, input2, target, margin, reduction)
    if not _fast_shape(x1):
        value, _, _, _ = _cosine_values(x1, x2, y, margin)
        return reduce(value, reduction, dtype)
    value, unproven = _fast_cosine(_rows(x1), _rows(x2), y.reshape(-1), margin)
    if unproven.any():
        rows = np.flatnonzero(unproven)
        value[rows], _, _, _ = _cosine_values(_rows(x1)[rows], _rows(x2)[rows], y.reshape(-1)[rows],
                                              margin)
    return reduce(value.reshape(y.shape), reduction, dtype)


def cosine_embedding_loss_grad(input1, input2, target, *, margin=0.0, reduction="mean"):
    r"""Gradient of :func:`cosine_embedding_loss`: ``(d_input1, d_input2)``.

    .. math:: \frac{\partial \cos}{\partial x_1} = \frac{x_2}{\sqrt{n_1 n_2}}
        - \cos \frac{x_1}{n_1}, \qquad n_j = \lVert x_j \rVert^2 + e

    (and symmetrically for :math:`x_2`), times -1 for :math:`y = 1` and
    times 1 for :math:`y = -1` where :math:`\cos - \text{margin} \ge 0`
    (torch's ``clamp_min`` passes the gradient at the kink), else 0.
    Parameters and errors are those of :func:`cosine_embedding_loss`.

    Returns
    -------
    tuple of ndarray
        ``(d_input1, d_input2)``, each of the inputs' shape and in its dtype.

    Examples
    --------
    >>> import lossbook as lb
    >>> g = lb.cosine_embedding_loss_grad([1.0, 0.0], [0.0, 2.0], 1)
    >>> [(a + 0.0).round(9).tolist() for a in g]
    [[0.0, -1.0], [-0.5, 0.0]]
    """
    x1, x2, y, margin, _, dtypes = _cosine_operands(input1, input2, target, margin, reduction)
    _, dissimilar, cos, (a, b, k1, k2, n1, n2, root) = _cosine_values(x1, x2, y, margin)
    active = np.where(np.isnan(dissimilar), np.nan, dissimilar >= 0.0)
    factor = np.where(y == 1.0, -1.0, active)
    factor = np.where(np.isnan(y), np.nan, factor)
    factor = np.asarray(reduce_gradient(np.asarray(factor, dtype=np.float64), reduction,
                                        np.float64))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        column = factor[..., None]
        cos_column, root_column = cos[..., None], root[..., None]
        d1 = np.ldexp(column * (b / root_column - cos_column * a / n1[..., None]), -k1[..., None])
        d2 = np.ldexp(column * (a / root_column - cos_column * b / n2[..., None]), -k2[..., None])
    return _gradients((d1, d2), dtypes)


# SDML.


def _sdml_operands(x1, x2, smoothing_parameter, reduction):
    smoothing = as_real_in(smoothing_parameter, "smoothing_parameter", 0.0, 1.0, closed=True)
    (a, b), dtype, dtypes = _arrays(("x1", "x2"), (x1, x2))
    check_reduction(reduction)
    if a.ndim != 2:
        raise ValueError(f"x1 must have shape (N, D), got shape {a.shape}")
    if a.shape[0] < 2:
        raise ValueError(
            f"x1 must hold at least 2 rows (the other rows are each row's negatives), "
            f"got shape {a.shape}"
        )
    return a, b, smoothing, dtype, dtypes


def _sdml_labels(size, smoothing):
    """gluon's smoothed identity: ``1 - s`` on the diagonal, ``s / (N - 1)`` elsewhere."""
    labels = np.full((size, size), smoothing / (size - 1))
    np.fill_diagonal(labels, 1.0 - smoothing)
    return labels


def _sdml_exact_distances(a, b):
    """The squared distances ``D_ij`` of the rows as ``hi, lo``, each nearly correctly rounded."""
    size = a.shape[0]
    high, low = np.empty((size, b.shape[0])), np.empty((size, b.shape[0]))
    rows = max(1, 2**16 // max(1, b.shape[0] * a.shape[1]))
    for start in range(0, size, rows):
        block = slice(start, start + rows)
        dh, dl = _difference(a[block, None, :], b[None, :, :], 0.0)
        if a.shape[1] == 0:
            high[block], low[block] = 0.0, 0.0
            continue
        hi, lo, k, _ = _power_sum(dh, dl, 2)
        with np.errstate(over="ignore"):
            high[block], low[block] = np.ldexp(hi, 2 * k), np.ldexp(lo, 2 * k)
    return high, low


_SDML_RANGE = 2.0**450
"""The fast distances take inputs whose largest magnitude lies in [1 / _SDML_RANGE, _SDML_RANGE)."""


def _sdml_fast_distances(a, b):
    r"""The squared distances ``D_ij`` as ``hi, lo`` by three matrix products, and their error bound.

    :math:`D_{ij} = |a_i|^2 + |b_j|^2 - 2 a_i \cdot b_j`, with the products
    taken in three levels (an Ozaki-style split): every value is cut as
    :math:`x = q + q' + r'` by two extractions (Rump, Ogita and Oishi), on the
    grids :math:`g_1 = 2^{k + c - 53}` and :math:`g_2 = 2^{c - 53} g_1`
    (:math:`2^k >` the largest :math:`|x|`, :math:`c = \lceil (56 + \log_2 D) /
    2\rceil` or just above), so that :math:`q` and :math:`q'` hold at most
    :math:`54 - c` bits and every product of two of them, and every sum of
    such products met here, is exact: the levels of :math:`q q` (grid
    :math:`g_1^2`) and of :math:`q q' + q' q` (grid :math:`g_1 g_2`) are exact
    whatever order BLAS adds in, and :math:`D_{ij}` is their exact sum (a
    TwoSum) plus the third level, :math:`q' q' + (q + q') r' + r' x`, whose
    terms are below :math:`4.1\, g_1^2` each. Rounded, that level and the
    final addition err by at most the returned
    :math:`E = 50 (D + 1) D u g_1^2 + 5 D u^2 4^k`, about :math:`D^2 2^{-38}
    u\, 4^k`: far below an ulp of any distance but the tiniest, whose
    effect on the loss :func:`sdml_loss` bounds row by row. ``None`` if an
    input is not finite, all are 0, or their magnitudes leave
    ``_SDML_RANGE`` (where the grids would under- or overflow).
    """
    width = a.shape[1]
    with np.errstate(invalid="ignore"):
        top = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    if not 1.0 / _SDML_RANGE <= top < _SDML_RANGE:
        return None
    power = math.frexp(top)[1]  # top < 2**power
    c = math.ceil((56.0 + math.log2(width)) / 2.0 + 2.0**-10)
    first, second = math.ldexp(1.0, power + c), math.ldexp(1.0, power + 2 * c - 53)

    def levels(x):
        q = (x + first) - first
        rest = x - q
        q2 = (rest + second) - second
        return q, q2, q + q2, rest - q2  # q + q2 = x - r' exactly

    qa, qa2, pa, ra = levels(a)
    qb, qb2, pb, rb = levels(b)
    shape = (a.shape[0], b.shape[0])
    level1, level2, level3, work = (scratch(f"sdml.{part}", shape)
                                    for part in ("level1", "level2", "level3", "work"))
    with np.errstate(all="ignore"):
        # Level by level: -2 a.b, then + |a|^2 (a column), then + |b|^2 (a row).
        np.matmul(qa, qb.T, out=level1)
        np.matmul(np.hstack([qa, qa2]), np.hstack([qb2, qb]).T, out=level2)
        np.matmul(np.hstack([qa2, pa, ra]), np.hstack([qb2, rb, b]).T, out=level3)
        own = [(np.einsum("ij,ij->i", qa, qa), np.einsum("ij,ij->i", qb, qb)),
               (2.0 * np.einsum("ij,ij->i", qa, qa2), 2.0 * np.einsum("ij,ij->i", qb, qb2)),
               (np.einsum("ij,ij->i", qa2, qa2) + np.einsum("ij,ij->i", pa, ra)
                + np.einsum("ij,ij->i", ra, a),
                np.einsum("ij,ij->i", qb2, qb2) + np.einsum("ij,ij->i", pb, rb)
                + np.einsum("ij,ij->i", rb, b))]
        for level, (rows, columns) in zip((level1, level2, level3), own):
            level *= -2.0
            level += rows[:, None]
            level += columns
        high, low = two_sum_into(level1, level2, *(scratch(f"sdml.{part}", shape)
                                                   for part in ("high", "low")), work)
        low += level3
        high, low = two_sum_into(high, low, level1, level2, work)  # high: the double nearest
    unit = math.ldexp(1.0, power + c - 53)
    return high, low, 50.0 * (width + 1) * width * _U * unit * unit + 5.0 * width * _U**2 * 4.0**power


def _sdml_scores(a, b, exact=False):
    """``-g_ij = min_j D_ij - D_ij`` (``D`` the squared distances of the rows) as ``hi, lo``.

    The scores whose softmax SDML takes. Also returns a bound on the error of
    ``hi + lo`` beyond the compensated path's: 0 for that path (``exact``, or
    where the fast one does not apply), twice the :math:`E` of
    :func:`_sdml_fast_distances` else.
    """
    found = None if exact or a.shape[1] == 0 else _sdml_fast_distances(a, b)
    if found is None:
        (high, low), error = _sdml_exact_distances(a, b), 0.0
    else:
        high, low, error = found
    nearest = np.argmin(high, axis=1)[:, None]
    score, carry, negated, work = (scratch(f"sdml.{part}", high.shape)
                                   for part in ("score", "carry", "negated", "work"))
    with np.errstate(invalid="ignore"):
        np.negative(high, out=negated)
        two_sum_into(np.take_along_axis(high, nearest, axis=1), negated, score, carry, work)
        carry -= low
        carry += np.take_along_axis(low, nearest, axis=1)
    return score, carry, 2.0 * error


def _negative_entropy(size, smoothing):
    """``sum_j L_ij log L_ij`` (the same for every row), with 0 log 0 = 0."""
    terms = [(1.0 - smoothing) * math.log1p(-smoothing) if smoothing < 1.0 else 0.0]
    if smoothing > 0.0:  # s log(s / (N - 1)), whose quotient may underflow; both logs are <= 0
        terms.append(smoothing * (math.log(smoothing) - math.log(size - 1)))
    return math.fsum(terms)


def sdml_loss(x1, x2, *, smoothing_parameter=0.3, reduction="mean"):
    r"""Smoothed deep metric learning loss, as mxnet gluon's ``SDMLLoss`` (1.9.1).

    .. math:: \ell_i = \sum_j L_{ij} \Big(\log L_{ij}
        - \log \operatorname{softmax}_j\big(-\lVert x_{1,i} - x_{2,j} \rVert^2\big)\Big)

    Row :math:`x_{2,i}` is the partner of :math:`x_{1,i}` and every other row
    of ``x2`` a negative: :math:`\ell_i` is the KL divergence from the
    label-smoothed identity :math:`L_{ij} = 1 - s` (:math:`j = i`),
    :math:`s / (N - 1)` (:math:`j \ne i`) to the softmax of the negative
    squared distances. It is the cross-entropy of that softmax against
    :math:`L` minus the entropy of :math:`L`; the two are computed within 2
    ulp each and subtracted once, so the loss is within 2 ulp of their sum
    (they cancel when the softmax matches :math:`L`). The squared distances
    are carried in double length, from three BLAS products of the inputs
    split exactly into pieces of at most 26 bits, with an error below about
    :math:`D^2 2^{-38}\, u \max|x|^2`; a row where that could move the loss
    by more than :math:`2^{-20}` ulp of its scale (and every row of inputs
    that are not finite or exceed :math:`2^{\pm 450}`) gets distances exact
    to a few ulp of ``eps**2`` instead. The softmax is taken of their
    differences from the row's smallest, formed exactly.

    gluon's ``KLDivLoss`` adds 1e-12 inside its logarithm, so gluon's result
    is larger than this loss by the constant
    :math:`\sum_j L_{ij} \log(1 + 10^{-12} / L_{ij}) \approx N \cdot 10^{-12}`
    (and gluon computes :math:`L` in float32).

    Parameters
    ----------
    x1, x2 : array_like
        Batches of vectors, shape ``(N, D)`` with ``N >= 2``, the same for
        both; float32 or float64.
    smoothing_parameter : float, default 0.3
        The mass :math:`s` spread over the other rows, in [0, 1].
    reduction : {"mean", "sum", "none"}, default "mean"
        gluon returns the losses per sample, shape ``(N,)``: ``"none"``.

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (shape ``(N,)``), else their mean or sum;
        in the promoted dtype.

    Raises
    ------
    TypeError
        If an array is not numeric or ``smoothing_parameter`` is not a real number.
    ValueError
        If the shapes differ or are not ``(N, D)``, ``N < 2``,
        ``smoothing_parameter`` lies outside [0, 1], or ``reduction`` is unknown.

    Examples
    --------
    >>> import lossbook as lb
    >>> x = [[0.0, 0.0], [3.0, 0.0]]
    >>> lb.sdml_loss(x, x, smoothing_parameter=0.0, reduction="none").round(6)
    array([0.000123, 0.000123])
    """
    a, b, smoothing, dtype, _ = _sdml_operands(x1, x2, smoothing_parameter, reduction)
    size = a.shape[0]
    score, score_lo, error = _sdml_scores(a, b)
    labels = _sdml_labels(size, smoothing)
    negative_entropy = _negative_entropy(size, smoothing)
    cross, cross_lo, weights = _sdml_cross(score, score_lo, labels)
    if error:
        # A score off by e moves row i's loss by at most e sum_j |L_ij - P_ij|: rows where that
        # could exceed 2**-20 ulp of their scale are taken again with the compensated distances.
        with np.errstate(invalid="ignore", over="ignore"):  # (scaled so as not to underflow)
            moved = np.add.reduce(np.abs(weights, out=weights), axis=1) * (error / (2.0**-20 * _U))
            unsure = ~(moved <= np.abs(cross) + abs(negative_entropy))
        if unsure.any():
            rows = np.flatnonzero(unsure)
            score, score_lo, _ = _sdml_scores(a[rows], b, exact=True)
            cross[rows], cross_lo[rows], _ = _sdml_cross(score, score_lo, labels[rows])
    high, error = two_sum(cross, negative_entropy)
    return reduce(high + (error + cross_lo), reduction, dtype)


def _sdml_cross(score, score_lo, labels):
    """Each row's cross-entropy of ``softmax(score + score_lo)`` against ``labels``, as ``hi, lo``.

    The cross-entropy is taken of ``score``; ``score_lo`` enters to first
    order, through the derivative ``softmax(score) - labels``. Also returns
    ``labels - softmax(score)`` (overwritten by :func:`sdml_loss`).
    """
    cross = cross_entropy(score, labels, reduction="none")
    weights = softmax(score, axis=1)
    np.subtract(labels, weights, out=weights)
    with np.errstate(invalid="ignore"):
        lo = np.multiply(weights, np.where(np.isfinite(score_lo), score_lo, 0.0))
        cross_lo = -np.add.reduce(lo, axis=1)
    return cross, cross_lo, weights


def sdml_loss_grad(x1, x2, *, smoothing_parameter=0.3, reduction="mean"):
    r"""Gradient of :func:`sdml_loss`: ``(d_x1, d_x2)``.

    With :math:`D_{ij} = \lVert x_{1,i} - x_{2,j} \rVert^2`,
    :math:`P = \operatorname{softmax}(-D)` row by row and
    :math:`G_{ij} = L_{ij} - P_{ij}` (times the reduction's factor for row
    :math:`i`):

    .. math:: \frac{\partial}{\partial x_{1,i}} = 2 \sum_j G_{ij} (x_{1,i} - x_{2,j}),
        \qquad \frac{\partial}{\partial x_{2,j}} = -2 \sum_i G_{ij} (x_{1,i} - x_{2,j})

    Parameters and errors are those of :func:`sdml_loss`.

    Returns
    -------
    tuple of ndarray
        ``(d_x1, d_x2)``, each of shape ``(N, D)`` and in its argument's dtype.

    Examples
    --------
    >>> import lossbook as lb
    >>> g = lb.sdml_loss_grad([[0.0], [1.0]], [[0.0], [1.0]], smoothing_parameter=0.5)
    >>> [a.ravel().round(6).tolist() for a in g]    # +-(1/2 - sigmoid(1))
    [[-0.231059, 0.231059], [-0.231059, 0.231059]]
    """
    a, b, smoothing, _, dtypes = _sdml_operands(x1, x2, smoothing_parameter, reduction)
    size = a.shape[0]
    score, _, _ = _sdml_scores(a, b)
    weights = _sdml_labels(size, smoothing) - softmax(score, axis=1)
    weights = reduce_gradient(weights, reduction, np.float64, divisor=size)
    with np.errstate(invalid="ignore", over="ignore"):
        d1 = 2.0 * (weights.sum(axis=1)[:, None] * a - weights @ b)
        d2 = -2.0 * (weights.T @ a - weights.sum(axis=0)[:, None] * b)
    return _gradients((d1, d2), dtypes)

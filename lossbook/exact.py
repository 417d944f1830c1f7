r"""Exact references: every loss and activation of lossbook, in arbitrary precision.

Each function here has the name, arguments and meaning of its lossbook
namesake, and is written straight from the loss's mathematical definition
with `mpmath <https://mpmath.org>`_; nothing here calls lossbook's float64
code, so the tests and the book can measure lossbook (and torch, and gluon)
against it. Every float64 input is converted to an mpmath number exactly,
so a reference is the exact answer *for the given float64 inputs*, rounded
only once, at :data:`DIGITS` significant digits.

Working precision
-----------------
Every function computes at :data:`DIGITS` = 60 significant decimal digits
(about 200 bits), whatever ``mpmath.mp.dps`` is set to outside. float64
carries about 16 digits, so a reference that keeps 40 correct digits settles
every comparison the book makes. The only cancellation left is between the
terms of the losses whose terms have both signs (Poisson, KL), where a float64
input such as a rounded :math:`\log t` can cancel about 16 digits, leaving
more than 40. The softmax family is evaluated as
:math:`(z - m) - \log(1 + \sum_{j \ne \arg\max} e^{z_j - m})` with
:math:`m = \max_j z_j`, so nothing overflows and a loss of :math:`10^{-45}`
next to a logit of 70 keeps all its digits.

Returned values
---------------
A loss called with ``reduction="none"`` returns a numpy array of ``dtype=object``
holding ``mpmath.mpf`` numbers, shaped like lossbook's result; any other
reduction returns one ``mpf``. Every loss also takes ``magnitude=True``, which
returns, in place of each loss, the sum of the magnitudes of the terms it adds
up (for Poisson, :math:`e^{x} + |t x|`; for KL, :math:`|t \log t| + |t x|`).
For a loss whose terms cancel, that is the scale its rounding error is
measured against (lossbook's docstrings say which); for the other losses it
equals the magnitude of the loss.

The error helpers (:func:`ulp_errors`, :func:`relative_errors`,
:func:`assert_within_ulp`, :func:`nearest_float`, ...) compare float64 results
with these references.

mpmath is imported on first use, so ``import lossbook`` does not need it.

Examples
--------
>>> from lossbook import exact
>>> float(exact.softplus(0.0))   # log 2
0.6931471805599453
>>> exact.ulp_errors([1.0 + 2.0**-52], [1])
array([1.])
"""

import functools
import math

import numpy as np

DIGITS = 60
"""Significant decimal digits every reference is computed with."""

EPS = 2.0**-52
"""float64's machine epsilon, the spacing of the floats in [1, 2)."""

SMALLEST_SUBNORMAL = 2.0**-1074
"""The smallest positive float64, the spacing of the floats below :data:`SMALLEST_NORMAL`."""

SMALLEST_NORMAL = 2.0**-1022
"""The smallest positive normal float64."""

REDUCTIONS = ("none", "mean", "sum")
"""The reductions every loss accepts (``kl_div`` also takes ``"batchmean"``)."""


def _mpmath():
    """Import mpmath on first use."""
    import mpmath

    return mpmath


def _at_working_precision(function):
    """Run ``function`` at :data:`DIGITS` significant digits, restoring the caller's precision."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        with _mpmath().workdps(DIGITS):
            return function(*args, **kwargs)

    return run


def working_precision():
    """Return a context manager in which mpmath computes at :data:`DIGITS` digits.

    Use it for arithmetic on the references outside this module (sums,
    ratios, a catalog relation), so that it does not round at the caller's
    precision.

    Examples
    --------
    >>> import mpmath
    >>> from lossbook import exact
    >>> with exact.working_precision():
    ...     print(mpmath.mp.dps)
    60
    """
    return _mpmath().workdps(DIGITS)


_REFERENCES = {}


def _reference(function):
    """Register an exact reference under its name, run at the working precision."""
    _REFERENCES[function.__name__] = _at_working_precision(function)
    return _REFERENCES[function.__name__]


# Conversions.


def _number(value):
    """One float64 (or integer, or mpf) as an exact mpmath number."""
    mp = _mpmath()
    if isinstance(value, mp.mpf):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return mp.mpf(int(value))
    return mp.mpf(float(value))


def _float64(values, name):
    """``values`` as a float64 ndarray, or ``TypeError`` naming the argument."""
    array = np.asarray(values)
    if array.dtype == object:
        return array
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


@_at_working_precision
def to_mpf(values):
    """Convert float64 values to exact mpmath numbers.

    Parameters
    ----------
    values : array_like
        Real numbers; each is taken as the float64 it rounds to (mpmath
        numbers pass through unchanged).

    Returns
    -------
    ndarray of object
        ``mpmath.mpf`` numbers, shaped like ``values`` (0-d for a scalar).

    Examples
    --------
    >>> from lossbook import exact
    >>> exact.to_mpf([0.1])[0] == exact.to_mpf(0.1)[()]
    True
    """
    array = _float64(values, "values")
    out = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        out[index] = _number(value)
    return out


def _map(function, *arrays):
    """Apply ``function`` to matching elements of object arrays; an object array back."""
    shape = np.broadcast_shapes(*(array.shape for array in arrays))
    arrays = [np.broadcast_to(array, shape) for array in arrays]
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        out[index] = function(*(array[index] for array in arrays))
    return out


class _ObjectArrayMath:
    """The few ``numpy`` functions the catalog's relations use, on object arrays of mpf."""

    @staticmethod
    def log1p(values):
        return _map(_mpmath().log1p, np.asarray(values, dtype=object))

    @staticmethod
    def log(values):
        return _map(_mpmath().log, np.asarray(values, dtype=object))

    @staticmethod
    def exp(values):
        return _map(_mpmath().exp, np.asarray(values, dtype=object))


xp = _ObjectArrayMath()
"""An array namespace (``xp.log1p``, ``xp.log``, ``xp.exp``) for object arrays of mpf.

It lets code written for ``numpy`` or ``torch`` arrays, such as a catalog
entry's ``to_gluon`` relation, run exactly on the arrays this module returns.
"""


# Reductions.


def _check_reduction(reduction, allowed=REDUCTIONS):
    if not isinstance(reduction, str) or reduction not in allowed:
        choices = ", ".join(repr(name) for name in allowed)
        raise ValueError(f"reduction must be one of {choices}, got {reduction!r}")


def _reduce(terms, reduction, magnitude, divisor=None, batch_size=None):
    """Add up each element's terms and reduce the losses as lossbook does.

    ``terms`` is an object array holding a list of mpf terms per loss element;
    ``divisor`` is the divisor of ``"mean"`` (default: the number of losses)
    and ``batch_size`` that of ``"batchmean"``.
    """
    mp = _mpmath()
    if magnitude:
        losses = _map(lambda parts: mp.fsum(abs(part) for part in parts), terms)
    else:
        losses = _map(mp.fsum, terms)
    if reduction == "none":
        return losses
    total = mp.fsum(losses.ravel())
    if reduction == "sum":
        return total
    if reduction == "batchmean":
        divisor = batch_size
    elif divisor is None:
        divisor = losses.size
    divisor = _number(divisor)
    if divisor == 0:
        return mp.nan if total == 0 else mp.inf * mp.sign(total)
    return total / divisor


def _pair(input, target):
    """Exact copies of an input and a target of the same shape."""
    x, t = to_mpf(input), to_mpf(target)
    if x.shape != t.shape:
        raise ValueError(f"target must have the input's shape {x.shape}, got shape {t.shape}")
    return x, t


def _broadcast_weight(weight, name, shape):
    """An optional weight broadcast to ``shape`` (all ones if omitted)."""
    if weight is None:
        return np.full(shape, _mpmath().mpf(1), dtype=object)
    w = to_mpf(weight)
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{name} of shape {w.shape} does not broadcast to {shape}") from None


def _terms_of(function, *arrays):
    """An object array of term lists, ``function(*elements)`` for each element."""
    return _map(lambda *elements: list(function(*elements)), *arrays)


# Activations.


@_reference
def sigmoid(input):
    r"""The logistic function, exactly.

    .. math:: \sigma(z) = \frac{1}{1 + e^{-z}}

    Parameters
    ----------
    input : array_like
        Logits :math:`z`.

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` values, shaped like ``input``.
    """
    mp = _mpmath()
    return _map(lambda z: 1 / (1 + mp.exp(-z)), to_mpf(input))


@_reference
def softplus(input):
    r"""Softplus, exactly.

    .. math:: \operatorname{softplus}(z) = \log\left(1 + e^{z}\right)

    Parameters
    ----------
    input : array_like

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` values, shaped like ``input``.
    """
    mp = _mpmath()
    return _map(lambda z: mp.log1p(mp.exp(z)), to_mpf(input))


@_reference
def log_sigmoid(input):
    r"""The logarithm of the logistic function, exactly.

    .. math:: \log \sigma(z) = -\log\left(1 + e^{-z}\right)

    Parameters
    ----------
    input : array_like

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` values, shaped like ``input``.
    """
    mp = _mpmath()
    return _map(lambda z: -mp.log1p(mp.exp(-z)), to_mpf(input))


def _log_softmax_row(row):
    """``log softmax`` of a list of mpf, and ``logsumexp``, from the largest entry ``m``.

    :math:`\\log \\operatorname{softmax}(z)_i = (z_i - m) - \\log(1 + \\sum_{j \\ne k} e^{z_j - m})`
    with :math:`k` the position of :math:`m`: every exponential is at most 1
    and the logarithm's argument is at least 1, so nothing over- or
    underflows and nothing cancels.
    """
    mp = _mpmath()
    top = max(range(len(row)), key=row.__getitem__)
    m = row[top]
    tail = mp.log1p(mp.fsum(mp.exp(value - m) for j, value in enumerate(row) if j != top))
    return [(value - m) - tail for value in row], m + tail


def _rows(input, axis):
    """The input as exact rows along ``axis`` (moved last), and how to put them back."""
    z = to_mpf(input)
    if z.ndim == 0:
        raise ValueError("input must have at least one axis, got a scalar")
    moved = np.moveaxis(z, axis, -1)
    if moved.shape[-1] == 0:
        raise ValueError("input must have at least one entry along the axis")
    return moved.reshape(-1, moved.shape[-1]), moved.shape


@_reference
def log_softmax(input, axis=-1):
    r"""Log-softmax along ``axis``, exactly.

    .. math:: \log \operatorname{softmax}(z)_i = z_i - \log \sum_j e^{z_j}

    Parameters
    ----------
    input : array_like
    axis : int, default -1

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` values, shaped like ``input``.
    """
    rows, shape = _rows(input, axis)
    out = np.array([_log_softmax_row(list(row))[0] for row in rows], dtype=object)
    return np.moveaxis(out.reshape(shape), -1, axis)


@_reference
def softmax(input, axis=-1):
    r"""Softmax along ``axis``, exactly.

    .. math:: \operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}

    Parameters
    ----------
    input : array_like
    axis : int, default -1

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` values, shaped like ``input``.
    """
    return _map(_mpmath().exp, log_softmax(input, axis))


@_reference
def logsumexp(input, axis=-1):
    r"""Log-sum-exp along ``axis``, exactly.

    .. math:: \operatorname{logsumexp}(z) = \log \sum_j e^{z_j}

    Parameters
    ----------
    input : array_like
    axis : int, default -1

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` values, shaped like ``input`` without ``axis``.
    """
    rows, shape = _rows(input, axis)
    out = np.empty(len(rows), dtype=object)
    for number, row in enumerate(rows):
        out[number] = _log_softmax_row(list(row))[1]
    return out.reshape(shape[:-1])


# Regression losses.


@_reference
def mse_loss(input, target, *, weight=None, reduction="mean", magnitude=False):
    r"""Squared error, exactly.

    .. math:: \ell_i = w_i (\hat y_i - y_i)^2

    Parameters
    ----------
    input, target : array_like
        Predictions and targets of the same shape.
    weight : array_like, optional
        Weights of the input's shape; with them ``"mean"`` divides by
        :math:`\sum_i w_i`.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False
        Return the sum of the magnitudes of the terms (see the module docstring).

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    x, y = _pair(input, target)
    w = _broadcast_weight(weight, "weight", x.shape)
    terms = _terms_of(lambda a, b, c: [c * (a - b) ** 2], x, y, w)
    divisor = None if weight is None else _mpmath().fsum(w.ravel())
    return _reduce(terms, reduction, magnitude, divisor)


@_reference
def l1_loss(input, target, *, weight=None, reduction="mean", magnitude=False):
    r"""Absolute error, exactly.

    .. math:: \ell_i = w_i |\hat y_i - y_i|

    Parameters
    ----------
    input, target : array_like
        Predictions and targets of the same shape.
    weight : array_like, optional
        Weights of the input's shape; with them ``"mean"`` divides by
        :math:`\sum_i w_i`.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    x, y = _pair(input, target)
    w = _broadcast_weight(weight, "weight", x.shape)
    terms = _terms_of(lambda a, b, c: [c * abs(a - b)], x, y, w)
    divisor = None if weight is None else _mpmath().fsum(w.ravel())
    return _reduce(terms, reduction, magnitude, divisor)


def _huber_value(difference, delta):
    """Huber's loss of a difference: quadratic below ``delta``, linear above."""
    d = abs(difference)
    return d * d / 2 if d < delta else delta * (d - delta / 2)


def _positive(value, name):
    """A finite option > 0 as an exact number, or ``ValueError`` naming it."""
    number = _number(value)
    if not (number > 0 and _mpmath().isfinite(number)):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return number


@_reference
def huber_loss(input, target, *, delta=1.0, weight=None, reduction="mean", magnitude=False):
    r"""Huber's loss, exactly.

    .. math:: \ell_i = w_i \begin{cases}
        \tfrac12 (\hat y_i - y_i)^2 & |\hat y_i - y_i| < \delta \\
        \delta (|\hat y_i - y_i| - \tfrac12 \delta) & \text{otherwise}
        \end{cases}

    Parameters
    ----------
    input, target : array_like
        Predictions and targets of the same shape.
    delta : float, default 1.0
    weight : array_like, optional
        Weights of the input's shape; ``"mean"`` still divides by the number
        of elements.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    delta = _positive(delta, "delta")
    x, y = _pair(input, target)
    w = _broadcast_weight(weight, "weight", x.shape)
    terms = _terms_of(lambda a, b, c: [c * _huber_value(a - b, delta)], x, y, w)
    return _reduce(terms, reduction, magnitude)


@_reference
def smooth_l1_loss(input, target, *, beta=1.0, reduction="mean", magnitude=False):
    r"""Smooth L1 loss, exactly.

    .. math:: \ell_i = \begin{cases}
        \tfrac12 (\hat y_i - y_i)^2 / \beta & |\hat y_i - y_i| < \beta \\
        |\hat y_i - y_i| - \tfrac12 \beta & \text{otherwise}
        \end{cases}

    Parameters
    ----------
    input, target : array_like
        Predictions and targets of the same shape.
    beta : float, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    beta = _positive(beta, "beta")

    def smooth_l1(a, b):
        d = abs(a - b)
        return [d * d / (2 * beta) if d < beta else d - beta / 2]

    x, y = _pair(input, target)
    return _reduce(_terms_of(smooth_l1, x, y), reduction, magnitude)


@_reference
def quantile_loss(input, target, *, q=0.5, reduction="mean", magnitude=False):
    r"""Quantile (pinball) loss, exactly.

    .. math:: \ell_i = q \max(y_i - \hat y_i, 0) + (1 - q) \max(\hat y_i - y_i, 0)

    Parameters
    ----------
    input, target : array_like
        Predictions and targets of the same shape.
    q : float, default 0.5
        Strictly between 0 and 1.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    q_ = _number(q)
    if not 0 < q_ < 1:
        raise ValueError(f"q must lie strictly between 0 and 1, got {q!r}")

    def pinball(a, b):
        return [q_ * max(b - a, 0) + (1 - q_) * max(a - b, 0)]

    x, y = _pair(input, target)
    return _reduce(_terms_of(pinball, x, y), reduction, magnitude)


def _stirling_terms(t):
    """The terms of Stirling's :math:`\\log t!`, which torch adds where ``t > 1``."""
    mp = _mpmath()
    if t <= 1:
        return []
    return [t * mp.log(t), -t, mp.log(2 * mp.pi * t) / 2]


@_reference
def poisson_nll_loss(
    input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean", magnitude=False
):
    r"""Poisson negative log-likelihood, exactly.

    .. math:: \ell_i = e^{x_i} - t_i x_i
        \quad\text{or, with log_input=False,}\quad
        \ell_i = \lambda_i - t_i \log(\lambda_i + \varepsilon)

    ``full=True`` adds :math:`t_i \log t_i - t_i + \tfrac12 \log(2\pi t_i)`
    where :math:`t_i > 1`. Its terms (two, or five with ``full``) have both
    signs; ``magnitude=True`` adds up their magnitudes.

    Parameters
    ----------
    input : array_like
        Log-rates :math:`x`, or rates :math:`\lambda \ge 0` with ``log_input=False``.
    target : array_like
        Counts :math:`t \ge 0`, same shape.
    log_input : bool, default True
    full : bool, default False
    eps : float, default 1e-8
        Added to the rate, exactly, before its logarithm.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    eps = _positive(eps, "eps")

    def poisson(x, t):
        if t < 0:
            raise ValueError(f"target must hold counts >= 0, got {mp.nstr(t, 17)}")
        if log_input:
            terms = [mp.exp(x)] + ([-t * x] if t else [])
        else:
            if x < 0:
                raise ValueError(f"input must hold rates >= 0, got {mp.nstr(x, 17)}")
            terms = [x] + ([-t * mp.log(x + eps)] if t else [])
        return terms + (_stirling_terms(t) if full else [])

    x, t = _pair(input, target)
    return _reduce(_terms_of(poisson, x, t), reduction, magnitude)


# Classification losses.


def _probabilities(values, name):
    """Exact values that must lie in [0, 1], or ``ValueError`` naming them."""
    array = to_mpf(values)
    if any(not 0 <= value <= 1 for value in array.ravel()):
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    return array


@_reference
def binary_cross_entropy(input, target, *, weight=None, reduction="mean", magnitude=False):
    r"""Binary cross-entropy of probabilities, exactly.

    .. math:: \ell_i = -w_i \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right]

    A term whose coefficient (:math:`y_i` or :math:`1 - y_i`) is 0 is left
    out, so :math:`0 \log 0 = 0`; a probability of 0 or 1 against a non-zero
    coefficient gives :math:`+\infty`.

    Parameters
    ----------
    input : array_like
        Probabilities :math:`p \in [0, 1]`.
    target : array_like
        Target probabilities :math:`y \in [0, 1]`, same shape.
    weight : array_like, optional
        Weights that broadcast to the input's shape; ``"mean"`` divides by the
        number of elements.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)

    def bce(p, y, w):
        terms = []
        if y != 0:
            terms.append(w * -y * mp.log(p) if p != 0 else mp.inf)
        if y != 1:
            terms.append(w * -(1 - y) * mp.log1p(-p) if p != 1 else mp.inf)
        return terms

    p, y = _probabilities(input, "input"), _probabilities(target, "target")
    if p.shape != y.shape:
        raise ValueError(f"target must have the input's shape {p.shape}, got shape {y.shape}")
    w = _broadcast_weight(weight, "weight", p.shape)
    return _reduce(_terms_of(bce, p, y, w), reduction, magnitude)


@_reference
def binary_cross_entropy_with_logits(
    input, target, *, weight=None, pos_weight=None, reduction="mean", magnitude=False
):
    r"""Binary cross-entropy of logits, exactly.

    .. math:: \ell_i = w_i \left[ r_i \, y_i \log(1 + e^{-z_i})
        + (1 - y_i) \log(1 + e^{z_i}) \right]

    Parameters
    ----------
    input : array_like
        Logits :math:`z`.
    target : array_like
        Target probabilities :math:`y \in [0, 1]`, same shape.
    weight, pos_weight : array_like, optional
        :math:`w` and :math:`r`, broadcast to the input's shape; ``"mean"``
        divides by the number of elements.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)

    def bce(z, y, w, r):
        terms = []
        if y != 0:
            terms.append(w * r * y * mp.log1p(mp.exp(-z)))
        if y != 1:
            terms.append(w * (1 - y) * mp.log1p(mp.exp(z)))
        return terms

    z = to_mpf(input)
    y = _probabilities(target, "target")
    if z.shape != y.shape:
        raise ValueError(f"target must have the input's shape {z.shape}, got shape {y.shape}")
    w = _broadcast_weight(weight, "weight", z.shape)
    r = _broadcast_weight(pos_weight, "pos_weight", z.shape)
    return _reduce(_terms_of(bce, z, y, w, r), reduction, magnitude)


def _class_rows(input):
    """Exact class scores as rows ``(samples, C)``, classes on axis 1 (axis 0 if 1-D)."""
    x = to_mpf(input)
    if x.ndim == 0:
        raise ValueError("input must have a class axis: shape (C,), (N, C) or (N, C, d1, ...)")
    class_axis = 0 if x.ndim == 1 else 1
    sample_shape = x.shape[:class_axis] + x.shape[class_axis + 1 :]
    rows = np.moveaxis(x, class_axis, -1).reshape(-1, x.shape[class_axis])
    return rows, sample_shape, class_axis


def _class_indices(target, sample_shape, num_classes, ignore_index):
    """Validated class indices, flat, with ``None`` where the target is ``ignore_index``."""
    array = np.asarray(target)
    if array.shape != sample_shape:
        raise ValueError(
            f"target of class indices must have shape {sample_shape}, got {array.shape}"
        )
    indices = []
    for value in array.ravel():
        if float(value) != int(value):
            raise ValueError(f"class indices must be whole numbers, got {value!r}")
        index = int(value)
        if index == ignore_index:
            indices.append(None)
        elif not 0 <= index < num_classes:
            raise ValueError(f"class index {index} is outside [0, {num_classes})")
        else:
            indices.append(index)
    return indices


def _class_weights(weight, num_classes):
    """Exact per-class weights, shape ``(C,)`` (all ones if omitted)."""
    mp = _mpmath()
    if weight is None:
        return [mp.mpf(1)] * num_classes
    w = to_mpf(weight)
    if w.shape != (num_classes,):
        raise ValueError(
            f"weight must have one entry per class, shape ({num_classes},), got {w.shape}"
        )
    return list(w)


def _losses(values, sample_shape):
    """An object array of term lists, shaped like the samples."""
    out = np.empty(len(values), dtype=object)
    for number, terms in enumerate(values):
        out[number] = terms
    return out.reshape(sample_shape)


@_reference
def nll_loss(input, target, *, weight=None, ignore_index=-100, reduction="mean", magnitude=False):
    r"""Negative log-likelihood of the target class, exactly.

    .. math:: \ell_n = -w_{y_n} x_{n, y_n}

    ``"mean"`` divides by :math:`\sum_n w_{y_n}` over the targets that are not
    ``ignore_index``.

    Parameters
    ----------
    input : array_like
        Log-probabilities, shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
    target : array_like
        Class indices, of the input's shape without the class axis.
    weight : array_like, optional
        One weight per class.
    ignore_index : int, default -100
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    rows, sample_shape, _ = _class_rows(input)
    w = _class_weights(weight, rows.shape[1])
    indices = _class_indices(target, sample_shape, rows.shape[1], ignore_index)
    values = [[mp.mpf(0)] if c is None else [-w[c] * row[c]] for row, c in zip(rows, indices)]
    divisor = mp.fsum(w[c] for c in indices if c is not None)
    return _reduce(_losses(values, sample_shape), reduction, magnitude, divisor)


@_reference
def cross_entropy(
    input,
    target,
    *,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    magnitude=False,
):
    r"""Cross-entropy of logits against class indices or class probabilities, exactly.

    With class indices :math:`y_n` and label smoothing :math:`\varepsilon`:

    .. math:: \ell_n = (1 - \varepsilon)\, w_{y_n} \big(-\log \operatorname{softmax}(z_n)_{y_n}\big)
        + \frac{\varepsilon}{C} \sum_c w_c \big(-\log \operatorname{softmax}(z_n)_c\big)

    and ``"mean"`` divides by :math:`\sum_n w_{y_n}` over the targets that are
    not ``ignore_index``. With class probabilities :math:`t` (a target of the
    input's shape), :math:`t' = (1 - \varepsilon) t + \varepsilon / C` and

    .. math:: \ell_n = -\sum_c w_c \, t'_{n,c} \log \operatorname{softmax}(z_n)_c

    with ``"mean"`` dividing by the number of samples.

    Parameters
    ----------
    input : array_like
        Logits, shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
    target : array_like
        Class indices of the input's shape without the class axis, or class
        probabilities of the input's shape.
    weight : array_like, optional
        One weight per class.
    ignore_index : int, default -100
    reduction : {"mean", "sum", "none"}, default "mean"
    label_smoothing : float, default 0.0
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    smoothing = _number(label_smoothing)
    if not 0 <= smoothing <= 1:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing!r}")
    rows, sample_shape, class_axis = _class_rows(input)
    num_classes = rows.shape[1]
    w = _class_weights(weight, num_classes)
    share = smoothing / num_classes
    nll = [[-value for value in _log_softmax_row(list(row))[0]] for row in rows]
    if np.shape(target) == np.shape(input):
        t = _probabilities(target, "target")
        t = np.moveaxis(t, class_axis, -1).reshape(-1, num_classes)
        values = [
            [w[c] * ((1 - smoothing) * t_c + share) * nll_c for c, (t_c, nll_c) in
             enumerate(zip(probabilities, row))]
            for row, probabilities in zip(nll, t)
        ]
        return _reduce(_losses(values, sample_shape), reduction, magnitude)
    indices = _class_indices(target, sample_shape, num_classes, ignore_index)
    values = []
    for row, c in zip(nll, indices):
        if c is None:
            values.append([mp.mpf(0)])
            continue
        smoothed = [share * w[j] * row[j] for j in range(num_classes)] if smoothing else []
        values.append([(1 - smoothing) * w[c] * row[c]] + smoothed)
    divisor = mp.fsum(w[c] for c in indices if c is not None)
    return _reduce(_losses(values, sample_shape), reduction, magnitude, divisor)


@_reference
def kl_div(input, target, *, reduction="mean", log_target=False, magnitude=False):
    r"""Kullback-Leibler divergence terms, exactly.

    .. math:: \ell_i = t_i (\log t_i - x_i)
        \quad\text{or, with log_target=True,}\quad
        \ell_i = e^{s_i} (s_i - x_i)

    A target probability of 0 gives 0. Without ``log_target`` the terms
    :math:`t_i \log t_i` and :math:`-t_i x_i` have opposite signs when the
    prediction is good; ``magnitude=True`` adds up their magnitudes. With
    ``log_target`` the loss is a single term.

    Parameters
    ----------
    input : array_like
        Predicted log-probabilities :math:`x`.
    target : array_like
        Target probabilities :math:`t` (or log-probabilities :math:`s` with
        ``log_target=True``), same shape.
    reduction : {"mean", "batchmean", "sum", "none"}, default "mean"
        ``"batchmean"`` divides the sum by ``input.shape[0]`` (1 for a scalar).
    log_target : bool, default False
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction, REDUCTIONS + ("batchmean",))

    def kl(x, t):
        if log_target:
            return [mp.exp(t) * (t - x)]
        return [t * mp.log(t), -t * x] if t else [mp.mpf(0)]

    x, t = _pair(input, target)
    if not log_target:
        _probabilities(target, "target")
    batch_size = x.shape[0] if x.ndim else 1
    return _reduce(_terms_of(kl, x, t), reduction, magnitude, batch_size=batch_size)


# Margin losses.


@_reference
def soft_margin_loss(input, target, *, reduction="mean", magnitude=False):
    r"""Soft-margin (logistic) loss, exactly.

    .. math:: \ell_i = \log\left(1 + e^{-y_i \hat y_i}\right)

    Parameters
    ----------
    input : array_like
        Scores.
    target : array_like
        Labels -1 or +1, same shape.
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    x, y = _pair(input, target)
    return _reduce(_terms_of(lambda a, b: [mp.log1p(mp.exp(-b * a))], x, y), reduction, magnitude)


@_reference
def hinge_loss(input, target, *, margin=1.0, reduction="mean", magnitude=False):
    r"""Hinge loss, exactly.

    .. math:: \ell_i = \max(0, \text{margin} - y_i \hat y_i)

    Parameters
    ----------
    input : array_like
        Scores.
    target : array_like
        Labels -1 or +1, same shape.
    margin : float, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    m = _number(margin)
    x, y = _pair(input, target)
    return _reduce(_terms_of(lambda a, b: [max(m - b * a, 0)], x, y), reduction, magnitude)


@_reference
def squared_hinge_loss(input, target, *, margin=1.0, reduction="mean", magnitude=False):
    r"""Squared hinge loss, exactly.

    .. math:: \ell_i = \max(0, \text{margin} - y_i \hat y_i)^2

    Parameters
    ----------
    input : array_like
        Scores.
    target : array_like
        Labels -1 or +1, same shape.
    margin : float, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    m = _number(margin)
    x, y = _pair(input, target)
    return _reduce(_terms_of(lambda a, b: [max(m - b * a, 0) ** 2], x, y), reduction, magnitude)


# Embedding losses and distances (lossbook.embedding).


def _same_shapes(names, values):
    """Exact copies of arrays that must share one shape."""
    arrays = [to_mpf(value) for value in values]
    for name, array in zip(names[1:], arrays[1:]):
        if array.shape != arrays[0].shape:
            raise ValueError(
                f"{name} must have {names[0]}'s shape {arrays[0].shape}, got shape {array.shape}"
            )
    return arrays


def _vector_rows(array, problem="the inputs must hold vectors along their last axis"):
    """The rows (along the last axis) of an exact array, and the shape of the row index."""
    if array.ndim == 0:
        raise ValueError(f"{problem}, got a scalar")
    return array.reshape(math.prod(array.shape[:-1]), array.shape[-1]), array.shape[:-1]


def _labels_pm1(values):
    """Exact labels that must be -1 or +1."""
    if any(value not in (-1, 1) for value in values.ravel()):
        raise ValueError("target must hold labels -1 or +1")
    return values


@_reference
def margin_ranking_loss(input1, input2, target, *, margin=0.0, reduction="mean",
                        magnitude=False):
    r"""Margin ranking loss, exactly.

    .. math:: \ell_i = \max\big(0,\; -y_i (x_{1,i} - x_{2,i}) + \text{margin}\big)

    ``magnitude=True`` gives :math:`|x_{1,i}| + |x_{2,i}| + |\text{margin}|`.

    Parameters
    ----------
    input1, input2 : array_like
        Scores of one shape.
    target : array_like
        Labels -1 or +1, same shape.
    margin : float, default 0.0
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    m = _number(margin)
    x1, x2, y = _same_shapes(("input1", "input2", "target"), (input1, input2, target))
    _labels_pm1(y)

    def ranking(a, b, c):
        if magnitude:
            return [abs(a), abs(b), abs(m)]
        return [max(-c * (a - b) + m, 0)]

    return _reduce(_terms_of(ranking, x1, x2, y), reduction, magnitude)


def _p_norm(values, p):
    """The ``p``-norm of a list of exact numbers (``p >= 1`` or inf)."""
    mp = _mpmath()
    if not values:
        return mp.mpf(0)
    if mp.isinf(p):
        return max(abs(value) for value in values)
    return mp.fsum(abs(value) ** p for value in values) ** (1 / p)


def _row_distances(function, x1, x2):
    """``function(row1, row2)`` for matching rows, shaped like the batch."""
    rows1, shape = _vector_rows(x1)
    rows2, _ = _vector_rows(x2)
    out = np.empty(len(rows1), dtype=object)
    for number, (row1, row2) in enumerate(zip(rows1, rows2)):
        out[number] = function(list(row1), list(row2))
    return out.reshape(shape)


def _pairwise_rows(p, eps):
    """torch's pairwise distance of two exact rows: ``||x - y + eps||_p``."""
    return lambda u, v: _p_norm([a - b + eps for a, b in zip(u, v)], p)


def _squared_l2_rows(u, v):
    """The squared Euclidean distance of two exact rows."""
    return _mpmath().fsum((a - b) ** 2 for a, b in zip(u, v))


@_reference
def pairwise_distance(x1, x2, *, p=2.0, eps=1e-6, magnitude=False):
    r"""torch's pairwise distance, exactly.

    .. math:: d(x_1, x_2) = \lVert x_1 - x_2 + \epsilon \rVert_p

    A distance has no cancelling terms: ``magnitude=True`` returns it unchanged.

    Parameters
    ----------
    x1, x2 : array_like
        Vectors along the last axis, one shape.
    p : float, default 2.0
        >= 1, or inf.
    eps : float, default 1e-6
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` distances, shape ``x1.shape[:-1]``.
    """
    x1, x2 = _same_shapes(("x1", "x2"), (x1, x2))
    return _row_distances(_pairwise_rows(_number(p), _number(eps)), x1, x2)


@_reference
def squared_l2_distance(x1, x2, *, magnitude=False):
    r"""Squared Euclidean distance, exactly.

    .. math:: d(x_1, x_2) = \sum_k (x_{1,k} - x_{2,k})^2

    Parameters
    ----------
    x1, x2 : array_like
        Vectors along the last axis, one shape.
    magnitude : bool, default False
        Returns the distance unchanged (its terms share a sign).

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` distances, shape ``x1.shape[:-1]``.
    """
    x1, x2 = _same_shapes(("x1", "x2"), (x1, x2))
    return _row_distances(_squared_l2_rows, x1, x2)


def _triplet_losses(rows, anchor, positive, negative, margin, swap, reduction, magnitude):
    """Triplet losses of exact rows with the row distance ``rows``, reduced."""
    m = _number(margin)
    if not m > 0:
        raise ValueError(f"margin must be greater than 0, got {margin!r}")
    _check_reduction(reduction)
    near = _row_distances(rows, anchor, positive)
    far = _row_distances(rows, anchor, negative)
    if swap:
        far = _map(min, far, _row_distances(rows, positive, negative))

    def triplet(d_near, d_far):
        if magnitude:
            return [m, d_near, d_far]
        return [max(m + d_near - d_far, 0)]

    return _reduce(_terms_of(triplet, near, far), reduction, magnitude)


@_reference
def triplet_margin_loss(anchor, positive, negative, *, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean", magnitude=False):
    r"""Triplet margin loss with torch's pairwise distance, exactly.

    .. math:: \ell_i = \max\big(0,\; \text{margin} + d(a_i, p_i) - d(a_i, n_i)\big),
        \qquad d(x, y) = \lVert x - y + \epsilon \rVert_p

    With ``swap``, :math:`d(a_i, n_i)` becomes :math:`\min(d(a_i, n_i), d(p_i, n_i))`.
    ``magnitude=True`` gives :math:`\text{margin} + d(a_i, p_i) + d(a_i, n_i)`.

    Parameters
    ----------
    anchor, positive, negative : array_like
        Vectors along the last axis, one shape.
    margin : float, default 1.0
    p : float, default 2.0
    eps : float, default 1e-6
    swap : bool, default False
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    arrays = _same_shapes(("anchor", "positive", "negative"), (anchor, positive, negative))
    rows = _pairwise_rows(_number(p), _number(eps))
    return _triplet_losses(rows, *arrays, margin, swap, reduction, magnitude)


@_reference
def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean", magnitude=False):
    r"""Triplet margin loss with lossbook's distances, exactly.

    .. math:: \ell_i = \max\big(0,\; \text{margin} + d(a_i, p_i) - d(a_i, n_i)\big)

    A custom distance has no exact twin: ``distance_function`` must be
    ``None`` (torch's pairwise distance, ``p=2, eps=1e-6``), or
    ``lossbook.squared_l2_distance`` or ``lossbook.pairwise_distance`` (or
    their twins here), which are recognised by identity.

    Parameters
    ----------
    anchor, positive, negative : array_like
        Vectors along the last axis, one shape.
    distance_function : callable, optional
    margin : float, default 1.0
    swap : bool, default False
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.

    Raises
    ------
    TypeError
        If ``distance_function`` is a distance lossbook has no exact twin of.
    """
    if distance_function is None:
        rows = _pairwise_rows(_number(2.0), _number(1e-6))
    elif _is_lossbook(distance_function, "squared_l2_distance"):
        rows = _squared_l2_rows
    elif _is_lossbook(distance_function, "pairwise_distance"):
        rows = _pairwise_rows(_number(2.0), _number(1e-6))
    else:
        raise TypeError(
            f"distance_function {distance_function!r} has no exact twin: use None, "
            "lossbook.squared_l2_distance or lossbook.pairwise_distance"
        )
    arrays = _same_shapes(("anchor", "positive", "negative"), (anchor, positive, negative))
    return _triplet_losses(rows, *arrays, margin, swap, reduction, magnitude)


def _is_lossbook(function, name):
    """Whether ``function`` is lossbook's function ``name`` or its twin here (by identity)."""
    import lossbook.embedding

    return function is getattr(lossbook.embedding, name) or function is _REFERENCES[name]


@_reference
def cosine_embedding_loss(input1, input2, target, *, margin=0.0, reduction="mean",
                          magnitude=False):
    r"""Cosine embedding loss, exactly.

    .. math:: \ell_i = \begin{cases} 1 - \cos_i & y_i = 1 \\
        \max(0, \cos_i - \text{margin}) & y_i = -1 \end{cases},
        \qquad \cos_i = \frac{x_{1,i} \cdot x_{2,i}}
        {\sqrt{(\lVert x_{1,i} \rVert^2 + e)(\lVert x_{2,i} \rVert^2 + e)}}

    with :math:`e` the float32 number nearest :math:`10^{-12}`, as in torch.
    ``magnitude=True`` gives :math:`1 + c_i` for :math:`y_i = 1` and
    :math:`|\text{margin}| + c_i` for :math:`y_i = -1`, with :math:`c_i` the
    cosine's numerator taken as :math:`\sum_k |x_{1,ik} x_{2,ik}|`.

    Parameters
    ----------
    input1, input2 : array_like
        Vectors, shape ``(N, D)`` or ``(D,)``, one shape.
    target : array_like
        Labels -1 or +1, shape ``(N,)`` or ``()``.
    margin : float, default 0.0
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    m = _number(margin)
    e = _number(float(np.float32(1e-12)))
    x1, x2 = _same_shapes(("input1", "input2"), (input1, input2))
    y = _labels_pm1(to_mpf(target))
    rows1, shape = _vector_rows(x1)
    rows2, _ = _vector_rows(x2)
    if y.shape != shape:
        raise ValueError(f"target must have the batch's shape {shape}, got shape {y.shape}")
    labels = y.reshape(-1)
    values = []
    for u, v, label in zip(rows1, rows2, labels):
        denominator = mp.sqrt((mp.fsum(a * a for a in u) + e) * (mp.fsum(b * b for b in v) + e))
        if magnitude:
            size = mp.fsum(abs(a * b) for a, b in zip(u, v)) / denominator
            values.append([1 + size] if label == 1 else [abs(m) + size])
            continue
        cos = mp.fsum(a * b for a, b in zip(u, v)) / denominator
        values.append([1 - cos] if label == 1 else [max(cos - m, 0)])
    terms = np.empty(len(values), dtype=object)
    for number, value in enumerate(values):
        terms[number] = value
    return _reduce(terms.reshape(shape), reduction, magnitude)


@_reference
def sdml_loss(x1, x2, *, smoothing_parameter=0.3, reduction="mean", magnitude=False):
    r"""gluon's smoothed deep metric learning loss, exactly (without gluon's 1e-12).

    .. math:: \ell_i = \sum_j L_{ij} \Big(\log L_{ij}
        - \log \operatorname{softmax}_j\big(-\lVert x_{1,i} - x_{2,j} \rVert^2\big)\Big)

    with :math:`L_{ii} = 1 - s`, :math:`L_{ij} = s / (N - 1)`. The loss is
    the cross-entropy :math:`-\sum_j L_{ij} \log \operatorname{softmax}_j` minus
    the entropy :math:`-\sum_j L_{ij} \log L_{ij}`; ``magnitude=True`` returns
    their sum.

    Parameters
    ----------
    x1, x2 : array_like
        Shape ``(N, D)`` with ``N >= 2``, one shape.
    smoothing_parameter : float, default 0.3
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    s = _number(smoothing_parameter)
    x1, x2 = _same_shapes(("x1", "x2"), (x1, x2))
    if x1.ndim != 2 or x1.shape[0] < 2:
        raise ValueError(f"x1 must have shape (N, D) with N >= 2, got shape {x1.shape}")
    size = x1.shape[0]
    terms = np.empty(size, dtype=object)
    for i in range(size):
        logits = [-_squared_l2_rows(list(x1[i]), list(row)) for row in x2]
        log_probabilities, _ = _log_softmax_row(logits)
        labels = [1 - s if j == i else s / (size - 1) for j in range(size)]
        cross = mp.fsum(-label * value for label, value in zip(labels, log_probabilities))
        entropy = mp.fsum(-label * mp.log(label) for label in labels if label)
        terms[i] = [cross, entropy] if magnitude else [cross - entropy]
    return _reduce(terms, reduction, magnitude)


# Multi-label losses (lossbook.multilabel) and the Gaussian NLL (lossbook.regression).


@_reference
def multilabel_soft_margin_loss(input, target, *, weight=None, reduction="mean", magnitude=False):
    r"""Multi-label soft-margin loss, exactly.

    .. math:: \ell_n = \frac{1}{C} \sum_{c} w_c \left[ y_{n,c} \log(1 + e^{-x_{n,c}})
        + (1 - y_{n,c}) \log(1 + e^{x_{n,c}}) \right]

    A term whose coefficient (:math:`y` or :math:`1 - y`) is 0 is left out.
    ``magnitude=True`` adds up the terms' magnitudes (they differ from the
    loss only with negative weights).

    Parameters
    ----------
    input : array_like
        Logits, classes along the last axis.
    target : array_like
        Targets in [0, 1], same shape.
    weight : array_like, optional
        Weights that broadcast to the input's shape (typically one per class).
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` divides by the number of samples.
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses of shape ``input.shape[:-1]``
        for ``reduction="none"``, else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    rows, sample_shape = _vector_rows(to_mpf(input), "input must have a class axis (its last)")
    y = _probabilities(target, "target")
    if y.shape != np.shape(input):
        raise ValueError(f"target must have the input's shape {np.shape(input)}, got {y.shape}")
    w = _broadcast_weight(weight, "weight", np.shape(input)).reshape(rows.shape)
    y = y.reshape(rows.shape)
    classes = rows.shape[1]

    def class_terms(x, t, weight_c):
        terms = []
        if t != 0:
            terms.append(weight_c * t * mp.log1p(mp.exp(-x)) / classes)
        if t != 1:
            terms.append(weight_c * (1 - t) * mp.log1p(mp.exp(x)) / classes)
        return terms

    values = [
        [term for c in range(classes) for term in class_terms(row[c], t_row[c], w_row[c])]
        for row, t_row, w_row in zip(rows, y, w)
    ]
    if classes == 0:
        values = [[mp.nan] for _ in values]
    return _reduce(_losses(values, sample_shape), reduction, magnitude)


def _exact_sum(*values):
    """The sum of float64 values (or small integers) without rounding, then at working precision.

    2200 bits hold any sum of a few float64 numbers exactly (they span 2**-1074
    to 2**1024), where the working precision would round ``1 - 1e308`` to ``-1e308``.
    """
    mp = _mpmath()
    with mp.workprec(2200):
        total = mp.mpf(0)
        for value in values:
            total += value
    return +total


@_reference
def multilabel_margin_loss(input, target, *, reduction="mean", magnitude=False):
    r"""Multi-label margin loss, exactly.

    .. math:: \ell_n = \frac{1}{C} \sum_{j} \sum_{i \notin Y_n}
        \max\left(0, 1 - x_{n, y_{n,j}} + x_{n,i}\right)

    with :math:`y_{n,j}` the entries of the target row before its first -1
    (a class listed twice counts twice) and :math:`Y_n` the set of them.

    Parameters
    ----------
    input : array_like
        Scores: a scalar, ``(C,)`` or ``(N, C)``.
    target : array_like
        Integer class indices padded with -1, same shape.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` divides by the number of samples.
    magnitude : bool, default False
        Equal to the loss (every hinge is non-negative).

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses (shape ``(N,)``, or 0-d for a
        scalar or a vector) for ``reduction="none"``, else one ``mpmath.mpf``.
    """
    _check_reduction(reduction)
    x = to_mpf(input)
    y = np.asarray(target)
    if y.shape != x.shape or x.ndim > 2:
        raise ValueError(f"target must have the input's shape {x.shape} (at most 2 axes)")
    sample_shape = x.shape[:1] if x.ndim == 2 else ()
    rows = x.reshape(1, -1) if x.ndim < 2 else x
    labels = y.reshape(1, -1) if y.ndim < 2 else y
    classes = rows.shape[1]
    values = []
    for row, label_row in zip(rows, labels):
        listed = []
        for label in label_row:
            if not -1 <= int(label) < classes:
                raise ValueError(f"target holds {int(label)}, outside [-1, {classes})")
        for label in label_row:
            if int(label) < 0:
                break
            listed.append(int(label))
        others = [i for i in range(classes) if i not in listed]
        values.append([max(_exact_sum(1, -row[j], row[i]), 0) / classes
                       for j in listed for i in others] or [_mpmath().mpf(0)])
    return _reduce(_losses(values, sample_shape), reduction, magnitude)


@_reference
def gaussian_nll_loss(
    input, target, var, *, full=False, eps=1e-6, reduction="mean", magnitude=False
):
    r"""Gaussian negative log-likelihood, exactly.

    .. math:: \ell_i = \frac12 \left( \log v_i + \frac{(\hat y_i - y_i)^2}{v_i} \right),
        \qquad v_i = \max(\mathrm{var}_i, \varepsilon)

    plus :math:`\tfrac12 \log 2\pi` with ``full``. ``magnitude=True`` adds up
    the magnitudes of the terms (:math:`\log v_i` is negative for
    :math:`v_i < 1`).

    Parameters
    ----------
    input, target : array_like
        Means and observations, same shape.
    var : array_like or float
        Variances >= 0: a number, or an array of the input's shape, of that
        shape without its last axis, or that broadcasts to it.
    full : bool, default False
    eps : float, default 1e-6
    reduction : {"mean", "sum", "none"}, default "mean"
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``,
        else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    eps = _positive(eps, "eps")
    x, t = _pair(input, target)
    v = to_mpf(var)
    if v.shape != x.shape and x.ndim and v.shape == x.shape[:-1]:
        v = v[..., None]
    v = _broadcast_weight(v, "var", x.shape)
    if any(value < 0 for value in v.ravel()):
        raise ValueError("var must hold variances >= 0")

    def gaussian(mean, observed, variance):
        variance = max(variance, eps)
        terms = [mp.log(variance) / 2, (mean - observed) ** 2 / variance / 2]
        return terms + ([mp.log(2 * mp.pi) / 2] if full else [])

    return _reduce(_terms_of(gaussian, x, t, v), reduction, magnitude)


# Sequence losses (lossbook.sequence).


def _ctc_targets(targets, lengths):
    """Each sample's target labels (a list of ints), from padded ``(N, S)`` or concatenated 1-D."""
    array = np.asarray(targets)
    if array.ndim == 2:
        if array.shape[0] != len(lengths) or max(lengths) > array.shape[1]:
            raise ValueError(f"targets of shape {array.shape} do not fit target_lengths {lengths}")
        return [[int(label) for label in array[n, :length]] for n, length in enumerate(lengths)]
    if array.ndim != 1 or array.size != sum(lengths):
        raise ValueError(f"targets of shape {array.shape} do not fit target_lengths {lengths}")
    starts = np.cumsum([0] + lengths)
    return [[int(label) for label in array[start:start + length]]
            for start, length in zip(starts, lengths)]


def _ctc_likelihood(probabilities, target, blank):
    """The summed probability of the alignments of ``target`` (Graves' forward recursion).

    ``probabilities`` is a list of frames, each a list of C exact probabilities.
    """
    mp = _mpmath()
    if not probabilities:
        return mp.mpf(1) if not target else mp.mpf(0)
    extended = [blank]
    for label in target:
        extended += [label, blank]
    alpha = [mp.mpf(0)] * len(extended)
    alpha[0] = probabilities[0][blank]
    if target:
        alpha[1] = probabilities[0][target[0]]
    for frame in probabilities[1:]:
        previous = alpha
        alpha = []
        for s, label in enumerate(extended):
            total = previous[s]
            if s >= 1:
                total += previous[s - 1]
            if s >= 2 and label != blank and label != extended[s - 2]:
                total += previous[s - 2]
            alpha.append(total * frame[label])
    return alpha[-1] + (alpha[-2] if target else 0)


_CTC_EXTRA_DIGITS = 340
"""Digits added when a CTC likelihood lies within 1e-20 of 1: then -log p is below 1e-20 and
the first pass kept fewer than 40 of its digits; with 340 more, a loss down to 1e-320 keeps 40."""


def _ctc_sample_loss(log_probs, target, blank):
    """``-log`` of the likelihood of one sample (frames ``(T_n, C)`` of exact log-probabilities).

    The likelihood is a sum of products of probabilities; where it is within
    1e-20 of 1 the loss is its tiny difference from 1, so it is computed again
    with :data:`_CTC_EXTRA_DIGITS` more digits.
    """
    mp = _mpmath()

    def loss():
        probabilities = [[mp.exp(value) for value in frame] for frame in log_probs]
        likelihood = _ctc_likelihood(probabilities, target, blank)
        return mp.inf if likelihood == 0 else -mp.log(likelihood)

    first = loss()
    if not abs(first) < mp.mpf(10) ** -20:
        return first
    with mp.workdps(DIGITS + _CTC_EXTRA_DIGITS):
        return +loss()


@_reference
def ctc_loss(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
             zero_infinity=False, magnitude=False):
    r"""Connectionist temporal classification loss, exactly.

    .. math:: \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)}
        \prod_{t=1}^{T_n} e^{x_{t, n, \pi_t}}

    The sum runs over the alignments of the sample's first ``input_lengths[n]``
    frames that collapse to its target; it is evaluated by the forward
    recursion on the exact probabilities :math:`e^{x}` (mpmath's exponent
    range has no underflow), and a sum of 0 gives ``inf``, or 0 with
    ``zero_infinity``. A likelihood within 1e-20 of 1 (a loss below 1e-20,
    which the sum near 1 would cancel) is recomputed with 340 more digits.
    ``"mean"`` divides each loss by ``max(target_length, 1)`` and averages
    over the batch.

    ``magnitude=True`` gives :math:`|\ell_n| + \log A_n` instead, with
    :math:`A_n` the number of alignments of the target (the likelihood with
    every probability 1; taken as 1 when there is none). That is the scale of
    lossbook's error bound: the rounding errors of its merges add up to a few
    eps times the entropy of the alignments' posterior, which is at most
    :math:`\log A_n`.

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities, ``(T, N, C)`` or ``(T, C)``.
    targets : array_like
        Class indices, padded ``(N, S)`` or concatenated 1-D.
    input_lengths, target_lengths : array_like of int
        One per sample.
    blank : int, default 0
    reduction : {"mean", "sum", "none"}, default "mean"
    zero_infinity : bool, default False
    magnitude : bool, default False

    Returns
    -------
    ndarray
        An object array of ``mpmath.mpf`` losses for ``reduction="none"``
        (0-d for unbatched input), else one ``mpmath.mpf``.
    """
    mp = _mpmath()
    _check_reduction(reduction)
    x = to_mpf(log_probs)
    if any(value == mp.inf for value in x.flat):
        raise ValueError("log_probs must not be +inf (a probability cannot be infinite)")
    batched = x.ndim == 3
    if not batched:
        x = x[:, None, :]
    frames, samples, classes = x.shape
    inputs = [int(length) for length in np.ravel(input_lengths)]
    lengths = [int(length) for length in np.ravel(target_lengths)]
    if len(inputs) != samples or len(lengths) != samples:
        raise ValueError(f"input_lengths and target_lengths need {samples} entries each")
    if not 0 <= blank < classes:
        raise ValueError(f"blank must lie in [0, {classes})")
    losses = np.empty(samples, dtype=object)
    for n, (length, target) in enumerate(zip(inputs, _ctc_targets(targets, lengths))):
        if not 0 <= length <= frames or any(not 0 <= c < classes or c == blank for c in target):
            raise ValueError(f"sample {n}: input length or target labels out of range")
        loss = _ctc_sample_loss(x[:length, n], target, blank)
        if zero_infinity and loss == mp.inf:
            loss = mp.mpf(0)
        if magnitude:
            ones = [[mp.mpf(1)] * classes for _ in range(length)]
            alignments = _ctc_likelihood(ones, target, blank)
            loss = abs(loss) + mp.log(max(alignments, 1))
        losses[n] = loss
    if reduction == "none":
        return losses if batched else losses.reshape(())
    if reduction == "sum":
        return mp.fsum(losses)
    return mp.fsum(loss / max(length, 1) for loss, length in zip(losses, lengths)) / samples


def reference(function):
    """Return the exact reference of a lossbook function: the function here of the same name.

    Parameters
    ----------
    function : callable
        A lossbook loss or activation, e.g. ``lossbook.mse_loss``.

    Returns
    -------
    callable

    Raises
    ------
    ValueError
        If this module has no reference of that name.

    Examples
    --------
    >>> import lossbook as lb
    >>> from lossbook import exact
    >>> exact.reference(lb.hinge_loss) is exact.hinge_loss
    True
    """
    name = getattr(function, "__name__", repr(function))
    if name not in _REFERENCES:
        raise ValueError(f"lossbook.exact has no reference for {name!r}")
    return _REFERENCES[name]



# Comparing float64 results with the references.


def _flat_objects(values):
    """``values`` (floats, mpf or object arrays) as a flat list."""
    return list(np.asarray(values, dtype=object).ravel())


@_at_working_precision
def ulp_errors(computed, reference, scale=None):
    r"""The error of float64 results, in units of float64's eps relative to the exact value.

    .. math:: e_i = \frac{|c_i - r_i|}{\max(\varepsilon\,|s_i|,\ 2^{-1074})}

    with :math:`\varepsilon = 2^{-52}` (:data:`EPS`), :math:`r` the exact
    references and :math:`s` the scale (the references themselves by
    default). "Within 2 ulp" in lossbook's docstrings means :math:`e_i \le 2`.
    Below the normal range the unit is the smallest subnormal, the spacing of
    the floats there. An exact answer of 0, :math:`\pm\infty` or nan must come
    out exactly (error 0) or the error is ``inf``; so must a finite answer
    that came out infinite or nan.

    Parameters
    ----------
    computed : array_like
        float64 results.
    reference : array_like
        Their exact values (``mpf``), as many as ``computed`` has elements.
    scale : array_like, optional
        Magnitudes to measure the error against instead of the references,
        e.g. ``magnitude=True`` references for losses whose terms cancel.

    Returns
    -------
    ndarray
        One error per element, flattened.

    Raises
    ------
    ValueError
        If the three do not have the same number of elements.

    Examples
    --------
    >>> from lossbook import exact
    >>> exact.ulp_errors([1.0, 3.0], [1, exact.to_mpf(1.0)[()] * 3])
    array([0., 0.])
    """
    mp = _mpmath()
    values = [float(value) for value in np.asarray(computed, dtype=np.float64).ravel()]
    truths = [_number(value) for value in _flat_objects(reference)]
    sizes = truths if scale is None else [_number(value) for value in _flat_objects(scale)]
    if not len(values) == len(truths) == len(sizes):
        raise ValueError(
            f"computed, reference and scale must have as many elements: got {len(values)}, "
            f"{len(truths)} and {len(sizes)}"
        )
    errors = np.empty(len(values))
    for number, (value, truth, size) in enumerate(zip(values, truths, sizes)):
        if mp.isnan(truth) or mp.isinf(truth) or truth == 0:
            same = (math.isnan(value) and mp.isnan(truth)) or value == truth
            errors[number] = 0.0 if same else math.inf
        elif not math.isfinite(value):
            errors[number] = math.inf
        else:
            unit = max(EPS * abs(size), mp.mpf(SMALLEST_SUBNORMAL))
            errors[number] = float(abs(mp.mpf(value) - truth) / unit)
    return errors


def relative_errors(computed, reference, scale=None):
    r"""The relative error of float64 results against their exact values.

    .. math:: \frac{|c_i - r_i|}{\max(|s_i|,\ 2^{-1022})}

    that is :func:`ulp_errors` times :data:`EPS`: below the normal range the
    error is relative to the smallest normal number, so an exact answer that
    underflows to 0 counts as right. Parameters, conventions and errors are
    those of :func:`ulp_errors`.

    Returns
    -------
    ndarray
        One error per element, flattened.

    Examples
    --------
    >>> from lossbook import exact
    >>> exact.relative_errors([1.0 + 2.0**-52, 0.0], [1, 0])
    array([2.22044605e-16, 0.00000000e+00])
    """
    return ulp_errors(computed, reference, scale) * EPS


def worst_relative_error(computed, reference, scale=None):
    """The largest of :func:`relative_errors` (0 for no elements), as a float."""
    errors = relative_errors(computed, reference, scale)
    return float(errors.max()) if errors.size else 0.0


def assert_within_ulp(computed, reference, ulps=2.0, scale=None):
    """Assert that every float64 result lies within ``ulps`` of its exact value.

    Parameters
    ----------
    computed, reference, scale
        As for :func:`ulp_errors`.
    ulps : float, default 2.0
        The bound on :func:`ulp_errors`.

    Raises
    ------
    AssertionError
        Naming the worst element, its value, the exact value and its error.
    """
    errors = ulp_errors(computed, reference, scale)
    if not errors.size:
        return
    worst = int(np.argmax(errors))
    if errors[worst] <= ulps:
        return
    value = np.asarray(computed, dtype=np.float64).ravel()[worst]
    truth = _flat_objects(reference)[worst]
    raise AssertionError(
        f"element {worst} of {errors.size}: computed {value!r}, exact "
        f"{_mpmath().nstr(_number(truth), 20)}: {errors[worst]:.3g} ulp, more than {ulps:g}"
    )


def _nearest(value):
    """The float64 nearest an mpf, ties to even, with gradual underflow and overflow."""
    mp = _mpmath()
    value = _number(value)
    if mp.isnan(value):
        return math.nan
    if mp.isinf(value) or value == 0:
        return float(value)
    if abs(value) < SMALLEST_NORMAL:
        # Subnormals are multiples of 2**-1074: round the exact multiple to an integer.
        units = mp.nint(mp.ldexp(value, 1074))  # ties to even
        return math.ldexp(int(units), -1074)
    with mp.workprec(53):
        rounded = +value  # to 53 bits, to nearest, ties to even
    if abs(rounded) >= mp.ldexp(1, 1024):
        return math.copysign(math.inf, rounded)
    return float(rounded)  # exact: 53 bits in the normal range


@_at_working_precision
def nearest_float(reference):
    """Round exact values to the nearest float64 (ties to even), correctly.

    Parameters
    ----------
    reference : array_like
        ``mpf`` numbers (or anything :func:`to_mpf` takes).

    Returns
    -------
    ndarray
        Shaped like ``reference``.

    Examples
    --------
    >>> from lossbook import exact
    >>> float(exact.nearest_float(exact.softplus(0.0)))
    0.6931471805599453
    """
    array = np.asarray(reference, dtype=object)
    out = np.empty(array.shape)
    for index, value in np.ndenumerate(array):
        out[index] = _nearest(value)
    return out


def assert_correctly_rounded(computed, reference):
    """Assert that every float64 result is the float64 nearest its exact value.

    Parameters
    ----------
    computed : array_like
        float64 results.
    reference : array_like
        Their exact values, as many.

    Raises
    ------
    AssertionError
        If any result differs from :func:`nearest_float` of its reference.
    """
    nearest = nearest_float(_flat_objects(reference))
    np.testing.assert_array_equal(np.asarray(computed, dtype=np.float64).ravel(), nearest)

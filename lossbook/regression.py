"""Regression losses and their gradients with respect to ``input``.

Every loss compares a prediction ``input`` (written :math:`\\hat y`) with a
``target`` (:math:`y`) of the same shape, elementwise, and then applies
``reduction``: ``"none"``, ``"mean"`` (the default) or ``"sum"``. Each
``*_grad`` function returns the derivative of the reduced loss with respect to
``input``, shaped like ``input``; for ``reduction="none"`` that is the
elementwise derivative (the gradient of the sum).
"""

import numpy as np

from ._compensated import two_sum
from ._elementary import product
from ._reduction import (
    Total,
    check_reduction,
    constant,
    elementwise,
    reduce_gradient,
    switch_off,
    weighted,
)
from ._validation import (
    as_input_and_target,
    as_positive,
    as_real_in,
    as_weight,
    check_flag,
    check_within,
)


def _operands(input, target, reduction):
    """Validate an elementwise loss's operands; return them as float64 and the result dtype."""
    x, y, dtype = as_input_and_target(input, target)
    check_reduction(reduction)
    return x, y, dtype


def _difference(input, target, reduction):
    """Validate an elementwise loss's operands and return ``input - target`` and the dtype."""
    x, y, dtype = _operands(input, target, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        # A fresh array (even for 0-d operands) that the callers overwrite in place.
        return np.subtract(x, y, out=np.empty_like(x)), dtype


def _split_difference(x, y):
    """``x - y`` as ``d * scale``, with ``d`` finite for all finite ``x`` and ``y``.

    ``scale`` is 1, except where ``x - y`` overflows: there ``d = x/2 - y/2``
    (exact but for the one rounding) and ``scale`` is 2. Both are arrays.
    """
    with np.errstate(all="ignore"):
        difference = np.asarray(np.subtract(x, y), dtype=np.float64)
        scale = np.ones_like(difference)
        over = np.isinf(difference) & np.isfinite(x) & np.isfinite(y)
        if over.any():
            difference[over] = np.subtract(x * 0.5, y * 0.5)[over]
            scale[over] = 2.0
    return difference, scale


def _clip(values, bound):
    """``values`` clipped to ``[-bound, bound]`` in place, nan kept (``numpy.clip`` may drop it)."""
    np.minimum(values, bound, out=values)
    return np.maximum(values, -bound, out=values)


def _quotient(factors, divisor):
    """``prod(factors) / divisor`` (a :class:`Total`, or ``None`` for 1) without overflow."""
    with np.errstate(all="ignore"):
        if divisor is None:
            return np.asarray(product(*factors))
        mantissa, exponent = np.frexp(divisor.value)
        return np.asarray(product(*factors, 1.0 / mantissa,
                                  exponent=-int(exponent) - divisor.exponent))


def _weight(weight, shape):
    """An optional elementwise weight of the input's shape, as torch requires."""
    return as_weight(weight, "weight", shape, "the input shape")


def _weight_sum(weight):
    """The divisor of torch's weighted mean for ``mse_loss`` and ``l1_loss``."""
    return None if weight is None else Total.of(np.ravel(weight))


def _with_weight(kernel, repair, weight):
    """The operands' tail, kernel and repair for an optionally weighted loss.

    ``kernel(out, *buffers, x, y)`` and ``repair(x, y) -> (factors, data)``
    compute the unweighted loss; with a weight, the kernel multiplies its
    result by the weight, and the repair's product gets the weight as one more
    factor, with a zero weight switching the term off.
    """
    def careful(x, y, *w):
        factors, data = repair(x, y)
        with np.errstate(all="ignore"):
            return switch_off(product(*factors, *w), w[0] if w else None, data)

    if weight is None:
        return [], kernel, careful

    def weighted_kernel(out, *arguments):
        kernel(out, *arguments[:-1])
        np.multiply(out, arguments[-1], out=out)

    return [weight], weighted_kernel, careful


def mse_loss(input, target, *, weight=None, reduction="mean"):
    r"""Mean squared error.

    .. math:: \ell_i = w_i \, (\hat y_i - y_i)^2

    Accuracy: elementwise within 2 ulp (the only roundings are of the
    difference and of the square).

    Parameters
    ----------
    input : array_like
        Predictions :math:`\hat y`, float32 or float64 (integers become float64).
    target : array_like
        Targets :math:`y`, same shape as ``input``.
    weight : array_like, optional
        Weights :math:`w`, same shape as ``input``. With weights, ``"mean"``
        is :math:`\sum_i \ell_i / \sum_i w_i`, as in torch.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (shape of ``input``), else their mean or
        sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric.
    ValueError
        If ``target`` or ``weight`` does not have ``input``'s shape, or
        ``reduction`` is unknown.
    """
    return _weighted_mean(_squared_error, _squared_error_repair, input, target, weight, reduction)


def _weighted_mean(kernel, repair, input, target, weight, reduction):
    """A loss ``kernel`` of ``input`` and ``target``, optionally weighted, reduced (weighted mean)."""
    x, y, dtype = _operands(input, target, reduction)
    w = _weight(weight, x.shape)
    extra, kernel, repair = _with_weight(kernel, repair, w)
    return elementwise(kernel, [x, y, *extra], reduction, dtype, repair=repair,
                       divisor=_weight_sum(w))


def _squared_error(out, x, y):
    np.subtract(x, y, out=out)
    np.multiply(out, out, out=out)


def _squared_error_repair(x, y):
    """``(x - y)**2`` as ``d d scale scale`` (see :func:`_split_difference`)."""
    difference, scale = _split_difference(x, y)
    return (difference, difference, scale, scale), difference


def mse_loss_grad(input, target, *, weight=None, reduction="mean"):
    r"""Gradient of :func:`mse_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i} = 2 w_i (\hat y_i - y_i)

    Parameters and errors are those of :func:`mse_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    x, y, dtype = _operands(input, target, reduction)
    w = _weight(weight, x.shape)
    # 2 w (x - y) / divisor, as a product that overflows only where the result does.
    divisor = None
    if reduction == "mean":
        divisor = Total(np.float64(x.size)) if w is None else _weight_sum(w)
    difference, scale = _split_difference(x, y)
    gradient = _quotient([difference, scale, 2.0] + ([] if w is None else [w]), divisor)
    switch_off(gradient, w, difference)
    return np.asarray(gradient, dtype=np.float64).astype(dtype, copy=False)


def l1_loss(input, target, *, weight=None, reduction="mean"):
    r"""Mean absolute error.

    .. math:: \ell_i = w_i \, |\hat y_i - y_i|

    Accuracy: elementwise within 2 ulp; correctly rounded without ``weight``
    (the difference is the only rounding).

    Parameters
    ----------
    input : array_like
        Predictions :math:`\hat y`, float32 or float64.
    target : array_like
        Targets :math:`y`, same shape as ``input``.
    weight : array_like, optional
        Weights :math:`w`, same shape as ``input``. With weights, ``"mean"``
        is :math:`\sum_i \ell_i / \sum_i w_i`, as in torch.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric.
    ValueError
        If ``target`` or ``weight`` does not have ``input``'s shape, or
        ``reduction`` is unknown.
    """
    return _weighted_mean(_absolute_error, _absolute_error_repair, input, target, weight, reduction)


def _absolute_error(out, x, y):
    np.subtract(x, y, out=out)
    np.absolute(out, out=out)


def _absolute_error_repair(x, y):
    """``|x - y|`` as ``|d| scale`` (see :func:`_split_difference`)."""
    difference, scale = _split_difference(x, y)
    return (np.absolute(difference), scale), difference


def l1_loss_grad(input, target, *, weight=None, reduction="mean"):
    r"""Gradient of :func:`l1_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i} = w_i \operatorname{sign}(\hat y_i - y_i)

    At :math:`\hat y_i = y_i` this is 0, the middle of the subdifferential
    (torch's choice too). Parameters and errors are those of :func:`l1_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    difference, dtype = _difference(input, target, reduction)
    w = _weight(weight, difference.shape)
    gradient = weighted(np.sign(difference, out=difference), w)
    return reduce_gradient(gradient, reduction, dtype, _weight_sum(w))


def _huber_kernel(delta):
    """Huber's loss of ``d = x - y`` as ``m (|d| - m/2)`` with ``m = min(|d|, delta)``.

    That is ``d**2 / 2`` for ``|d| <= delta`` and ``delta (|d| - delta/2)``
    otherwise, with the same two roundings (the subtraction and the product)
    as the two-branch textbook form. ``m`` and ``m/2`` are kept apart, so a
    subnormal ``delta`` (whose half is rounded) still gives the right product.
    """
    limit = constant(delta)

    def kernel(out, bound, half, x, y):
        np.subtract(x, y, out=out)
        np.absolute(out, out=out)
        np.minimum(out, limit[: out.size], out=bound)
        np.multiply(bound, 0.5, out=half)
        np.subtract(out, half, out=out)
        np.multiply(out, bound, out=out)

    return kernel


def _huber_repair(delta):
    """The factors of Huber's loss where ``x - y`` overflows (see :func:`_split_difference`).

    There ``|x - y| > delta``, so the loss is
    ``delta (|x - y| - delta/2) = delta (|d| - delta/4) 2``.
    """
    def repair(x, y):
        difference, scale = _split_difference(x, y)
        size = np.absolute(difference)
        bound = np.minimum(size, delta)
        with np.errstate(all="ignore"):
            excess = np.where(scale == 1.0, size - bound * 0.5, size - delta * 0.25)
        return (bound, excess, scale), difference

    return repair


def huber_loss(input, target, *, delta=1.0, weight=None, reduction="mean"):
    r"""Huber loss: squared error near the target, absolute error far from it.

    .. math:: \ell_i = w_i \begin{cases}
        \tfrac12 (\hat y_i - y_i)^2 & |\hat y_i - y_i| < \delta \\
        \delta \left(|\hat y_i - y_i| - \tfrac12 \delta\right) & \text{otherwise}
        \end{cases}

    Accuracy: elementwise within 2 ulp.

    Parameters
    ----------
    input : array_like
        Predictions :math:`\hat y`, float32 or float64.
    target : array_like
        Targets :math:`y`, same shape as ``input``.
    delta : float, default 1.0
        Where the quadratic part ends; must be finite and > 0. A subnormal
        ``delta`` is valid and computed as accurately as any other.
    weight : array_like, optional
        Weights :math:`w`, same shape as ``input``. Unlike ``mse_loss``, torch's
        weighted Huber ``"mean"`` divides by the number of elements, not by
        :math:`\sum_i w_i`, and so does lossbook.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric or ``delta`` is not a real number.
    ValueError
        If ``target`` or ``weight`` does not have ``input``'s shape, ``delta``
        is not > 0, or ``reduction`` is unknown.
    """
    delta = as_positive(delta, "delta")
    x, y, dtype = _operands(input, target, reduction)
    w = _weight(weight, x.shape)
    extra, kernel, repair = _with_weight(_huber_kernel(delta), _huber_repair(delta), w)
    return elementwise(kernel, [x, y, *extra], reduction, dtype, temporaries=2, repair=repair)


def huber_loss_grad(input, target, *, delta=1.0, weight=None, reduction="mean"):
    r"""Gradient of :func:`huber_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i}
        = w_i \operatorname{clip}(\hat y_i - y_i, -\delta, \delta)

    Parameters and errors are those of :func:`huber_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    delta = as_positive(delta, "delta")
    difference, dtype = _difference(input, target, reduction)
    w = _weight(weight, difference.shape)
    gradient = weighted(_clip(difference, delta), w)
    return reduce_gradient(gradient, reduction, dtype)


def smooth_l1_loss(input, target, *, beta=1.0, reduction="mean"):
    r"""Smooth L1 loss: Huber's loss with threshold :math:`\beta`, divided by :math:`\beta`.

    .. math:: \ell_i = \begin{cases}
        \tfrac12 (\hat y_i - y_i)^2 / \beta & |\hat y_i - y_i| < \beta \\
        |\hat y_i - y_i| - \tfrac12 \beta & \text{otherwise}
        \end{cases}

    Accuracy: elementwise within 2 ulp.

    Parameters
    ----------
    input : array_like
        Predictions :math:`\hat y`, float32 or float64.
    target : array_like
        Targets :math:`y`, same shape as ``input``.
    beta : float, default 1.0
        Where the quadratic part ends; must be finite and > 0 (torch's
        ``beta=0``, plain L1, is :func:`l1_loss`). A subnormal ``beta`` is
        valid and computed as accurately as any other: the linear part is
        :math:`|\hat y_i - y_i| - \beta/2` without dividing by :math:`\beta`.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric or ``beta`` is not a real number.
    ValueError
        If ``target`` does not have ``input``'s shape, ``beta`` is not > 0, or
        ``reduction`` is unknown.
    """
    beta = as_positive(beta, "beta")
    x, y, dtype = _operands(input, target, reduction)
    if beta == 1.0:  # Huber's loss itself, one division fewer
        kernel, repair = _huber_kernel(1.0), _huber_repair(1.0)
    else:
        kernel, repair = _smooth_l1_kernel(beta), _smooth_l1_repair(beta)
    return elementwise(kernel, [x, y], reduction, dtype, temporaries=2,
                       repair=_with_weight(None, repair, None)[2])


def _smooth_l1_kernel(beta):
    """Smooth L1 of ``d = x - y`` as ``(m / beta) (|d| - m/2)`` with ``m = min(|d|, beta)``.

    In the linear part ``m / beta`` is exactly 1, so the loss is
    ``|d| - beta/2`` whatever ``beta`` (even subnormal); in the quadratic part
    ``(|d| / beta) (|d| / 2)`` cannot overflow where the loss does not.
    """
    limit = constant(beta)

    def kernel(out, bound, ratio, x, y):
        np.subtract(x, y, out=out)
        np.absolute(out, out=out)
        np.minimum(out, limit[: out.size], out=bound)
        np.divide(bound, beta, out=ratio)
        np.multiply(bound, 0.5, out=bound)
        np.subtract(out, bound, out=out)
        np.multiply(out, ratio, out=out)

    return kernel


def _smooth_l1_repair(beta):
    """Where ``x - y`` overflows the loss is ``|x - y| - beta/2 = (|d| - beta/4) 2``."""
    def repair(x, y):
        difference, scale = _split_difference(x, y)
        size = np.absolute(difference)
        bound = np.minimum(size, beta)
        with np.errstate(all="ignore"):
            excess = np.where(scale == 1.0, size - bound * 0.5, size - beta * 0.25)
        return (bound / beta, excess, scale), difference

    return repair


def smooth_l1_loss_grad(input, target, *, beta=1.0, reduction="mean"):
    r"""Gradient of :func:`smooth_l1_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i}
        = \operatorname{clip}\left(\frac{\hat y_i - y_i}{\beta}, -1, 1\right)

    Parameters and errors are those of :func:`smooth_l1_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    beta = as_positive(beta, "beta")
    difference, dtype = _difference(input, target, reduction)
    difference /= beta
    gradient = _clip(difference, 1.0)
    return reduce_gradient(gradient, reduction, dtype)


def quantile_loss(input, target, *, q=0.5, reduction="mean"):
    r"""Quantile (pinball) loss, minimised by the ``q``-quantile of the target.

    .. math:: \ell_i = q \max(y_i - \hat y_i, 0) + (1 - q) \max(\hat y_i - y_i, 0)

    At ``q = 0.5`` this is half the absolute error. torch has no such function;
    the name and defaults follow the rest of this module. Accuracy:
    elementwise within 2 ulp.

    Parameters
    ----------
    input : array_like
        Predictions :math:`\hat y`, float32 or float64.
    target : array_like
        Targets :math:`y`, same shape as ``input``.
    q : float, default 0.5
        The quantile, strictly between 0 and 1.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric or ``q`` is not a real number.
    ValueError
        If ``target`` does not have ``input``'s shape, ``q`` is not in
        (0, 1), or ``reduction`` is unknown.
    """
    q = as_real_in(q, "q", 0.0, 1.0, closed=False)
    x, y, dtype = _operands(input, target, reduction)
    return elementwise(_pinball_kernel(q), [x, y], reduction, dtype, temporaries=1,
                       repair=_with_weight(None, _pinball_repair(q), None)[2])


def _pinball_kernel(q):
    """With ``d = x - y``, ``q max(-d, 0) + (1 - q) max(d, 0) = max(-q d, (1 - q) d)``."""
    def kernel(out, above, x, y):
        np.subtract(x, y, out=out)
        np.multiply(out, 1.0 - q, out=above)
        np.multiply(out, -q, out=out)
        np.maximum(out, above, out=out)

    return kernel


def _pinball_repair(q):
    """The pinball loss of ``x - y = d scale`` (see :func:`_split_difference`)."""
    def repair(x, y):
        difference, scale = _split_difference(x, y)
        loss = np.maximum(difference * -q, difference * (1.0 - q))
        return (loss, scale), difference

    return repair


def quantile_loss_grad(input, target, *, q=0.5, reduction="mean"):
    r"""Gradient of :func:`quantile_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i}
        = \tfrac12 \operatorname{sign}(\hat y_i - y_i) + \tfrac12 - q

    that is :math:`1 - q` above the target and :math:`-q` below it; at
    :math:`\hat y_i = y_i` it is :math:`\tfrac12 - q`, the middle of the
    subdifferential (0 at ``q = 0.5``, like :func:`l1_loss_grad`).
    Parameters and errors are those of :func:`quantile_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    q = as_real_in(q, "q", 0.0, 1.0, closed=False)
    difference, dtype = _difference(input, target, reduction)
    gradient = np.sign(difference, out=difference)
    gradient *= 0.5
    gradient += 0.5 - q
    return reduce_gradient(gradient, reduction, dtype)


def _poisson_operands(input, target, log_input, full, eps, reduction):
    """Validate the arguments of the Poisson losses."""
    check_flag(log_input, "log_input")
    check_flag(full, "full")
    eps = as_positive(eps, "eps")
    x, t, dtype = as_input_and_target(input, target)
    check_reduction(reduction)
    check_within(t, "target", 0.0, np.inf, "Poisson counts")
    if not log_input:
        check_within(x, "input", 0.0, np.inf, "Poisson rates, as log_input=False")
    return x, t, eps, dtype


def _log_shifted(x, eps):
    """``log(x + eps)`` with the rounding error of the sum folded back in."""
    total, error = two_sum(x, eps)
    return np.log(total) + error / total


def _stirling(t):
    r"""Stirling's approximation of :math:`\log t!` where :math:`t > 1`, and 0 elsewhere.

    An infinite count gives inf (:math:`t \log t - t = t (\log t - 1)`); nan stays nan.
    """
    term = np.zeros_like(t)
    counted = ~(t <= 1.0)
    large = t[counted]
    with np.errstate(all="ignore"):
        term[counted] = large * (np.log(large) - 1.0) + 0.5 * np.log(2.0 * np.pi * large)
    return term


# ln 2 = _LN2_HIGH + _LN2_LOW, with _LN2_HIGH's 32 bits leaving x - _LN2_HIGH exact for
# 512 <= x < 1024, the log-rates whose e^x overflows.
_LN2_HIGH = 6.93147180369123816490e-01
_LN2_LOW = 1.90821492927058770002e-10


def _poisson_kernel(log_input, full, eps):
    """The loss of :func:`poisson_nll_loss` for one block.

    With ``log_input=False`` this is :func:`_log_shifted` in the block's
    buffers: Knuth's TwoSum of ``x`` and ``eps`` gives their sum ``s`` and its
    rounding error ``e`` (nan where ``x`` is infinite: the repair takes those).
    """
    def kernel(out, term, other, x, t):
        if log_input:
            np.exp(x, out=out)
            np.multiply(t, x, out=term)
            np.subtract(out, term, out=out)
        else:
            np.add(x, eps, out=term)  # s
            np.subtract(term, x, out=other)  # the part of s from eps
            np.subtract(term, other, out=out)  # the part of s from x
            np.subtract(x, out, out=out)
            np.subtract(eps, other, out=other)
            np.add(out, other, out=out)  # e, so that s + e = x + eps
            np.divide(out, term, out=out)
            np.log(term, out=term)
            np.add(term, out, out=term)
            np.multiply(term, t, out=term)
            np.subtract(x, term, out=out)
        if full:
            out += _stirling(t)

    return kernel


def _poisson_repair(log_input, full, eps):
    """The loss where the kernel's is not finite.

    A count of 0 switches its term off (``0 * inf`` is 0); an infinite rate
    (or log-rate) outweighs its logarithm (or itself times a finite count);
    and ``e^x`` above float64's range is carried as ``2 e^(x - ln 2)``, in
    case the count term brings the loss back into range.
    """
    def repair(x, t):
        with np.errstate(all="ignore"):
            log_rate = x if log_input else _log_shifted(x, eps)
            rate = np.exp(x) if log_input else x.copy()
            big = np.isinf(rate) & np.isfinite(x)
            rate[big] = 0.0
            shifted = np.exp(x[big] - _LN2_HIGH)  # inf for x >= 710.5 or so
            shifted = np.where(np.isinf(shifted), shifted, shifted - shifted * _LN2_LOW)
            halves = switch_off(product(t, log_rate, 0.5), t, log_rate)
            halves[big] -= shifted
            loss = product(rate * 0.5 - halves, 2.0)
            loss[(x == np.inf) & np.isfinite(t)] = np.inf
            if full:
                loss += _stirling(t)
        return loss

    return repair


def poisson_nll_loss(
    input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean"
):
    r"""Negative log-likelihood of a Poisson count, up to terms free of ``input``.

    With ``log_input=True`` (default) ``input`` is the log-rate :math:`x`:

    .. math:: \ell_i = e^{x_i} - t_i x_i

    With ``log_input=False`` it is the rate :math:`\lambda`:

    .. math:: \ell_i = \lambda_i - t_i \log(\lambda_i + \varepsilon)

    ``full=True`` adds Stirling's approximation of :math:`\log t_i!`,
    :math:`t_i \log t_i - t_i + \tfrac12 \log(2\pi t_i)`, where :math:`t_i > 1`.

    Accuracy: the terms have both signs and cancel near the minimum, so the
    error is within 2 ulp of the sum of the terms' magnitudes
    (:math:`e^{x_i} + |t_i x_i|`, plus the Stirling terms' magnitudes),
    not of the loss. The sum :math:`\lambda_i + \varepsilon` is used exactly.

    Parameters
    ----------
    input : array_like
        Log-rates, or rates (>= 0) if ``log_input=False``; float32 or float64.
    target : array_like
        Counts :math:`t \ge 0` (need not be integers), same shape as ``input``.
    log_input : bool, default True
    full : bool, default False
    eps : float, default 1e-8
        Added to the rate before its logarithm; must be finite and > 0.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in ``input``'s dtype.
        A log-rate above about 709.8 gives ``inf``, the correctly rounded
        value of :math:`e^{x}`.

    Raises
    ------
    TypeError
        If an array argument is not numeric, a flag is not a bool, or ``eps``
        is not a real number.
    ValueError
        If ``target`` does not have ``input``'s shape, a count is negative, a
        rate is negative, ``eps`` is not > 0, or ``reduction`` is unknown.
    """
    x, t, eps, dtype = _poisson_operands(input, target, log_input, full, eps, reduction)
    return elementwise(_poisson_kernel(log_input, full, eps), [x, t], reduction, dtype,
                       temporaries=2, repair=_poisson_repair(log_input, full, eps))


def poisson_nll_loss_grad(
    input, target, *, log_input=True, full=False, eps=1e-8, reduction="mean"
):
    r"""Gradient of :func:`poisson_nll_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial x_i} = e^{x_i} - t_i
        \quad\text{or, with log_input=False,}\quad
        \frac{\partial \ell_i}{\partial \lambda_i} = 1 - \frac{t_i}{\lambda_i + \varepsilon}

    The Stirling term does not depend on ``input``. Parameters and errors are
    those of :func:`poisson_nll_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    x, t, eps, dtype = _poisson_operands(input, target, log_input, full, eps, reduction)
    if log_input:
        with np.errstate(over="ignore"):  # e^x above the float64 range is inf
            gradient = np.exp(x) - t
    else:
        gradient = 1.0 - t / (x + eps)
    return reduce_gradient(gradient, reduction, dtype)


# Gaussian negative log-likelihood. This block brings its own imports, so that it
# does not depend on which helpers the losses above happen to import.

import numbers  # noqa: E402
from typing import NamedTuple  # noqa: E402

from ._compensated import two_sum as _two_sum  # noqa: E402
from ._reduction import check_reduction as _check_reduction, reduce as _reduce  # noqa: E402
from ._reduction import constant as _constant, elementwise as _elementwise  # noqa: E402
from ._elementary import log1p as _log1p  # noqa: E402
from ._validation import (  # noqa: E402
    as_float_array as _as_float_array,
    as_input_and_target as _as_input_and_target,
    as_positive as _as_positive,
    check_flag as _check_flag,
    check_within as _check_within,
)

# log(2 pi) = _LOG_2PI_HIGH + _LOG_2PI_LOW, to about 2**-106.
_LOG_2PI_HIGH = 1.8378770664093456
_LOG_2PI_LOW = -7.756588316134483e-17


class _Variance(NamedTuple):
    """``var`` as :func:`gaussian_nll_loss` takes it, and how to give its gradient back."""

    values: np.ndarray
    """float64, broadcast (as a view) to the input's shape."""
    shape: tuple
    """The shape of ``var`` itself (``()`` for a number)."""
    axes: tuple
    """The axes of the input's shape that ``var`` is shared along (summed for its gradient)."""
    dtype: np.dtype
    """The dtype of ``var``'s gradient: its own, or the input's for a number."""


def _variance(var, shape, dtype):
    """Validate ``var`` against the input ``shape`` with torch's rules; return a :class:`_Variance`.

    A number stands for every element. An array must have the input's shape,
    that shape without its last axis (one variance per row of the last axis),
    or the input's number of axes with exactly one axis where the sizes differ
    and ``var``'s is 1 (torch's test: the sizes of ``var`` along the axes that
    differ add up to 1). It must also broadcast to the input's shape without
    changing it, which torch leaves to the arithmetic.
    """
    if isinstance(var, (bool, np.bool_)):
        raise TypeError(f"var must be a number or an array of variances, got {var!r}")
    if isinstance(var, numbers.Real):
        value = float(var)
        if value < 0:
            raise ValueError(f"var must hold variances >= 0, got {var!r}")
        return _Variance(np.broadcast_to(np.float64(value), shape), (), tuple(range(len(shape))),
                         dtype)
    array = _as_float_array(var, "var")
    own_dtype = array.dtype
    values = array.astype(np.float64, copy=False)
    _check_within(values, "var", 0.0, np.inf, "variances")
    if values.shape == shape:
        return _Variance(values, shape, (), own_dtype)
    if shape and values.shape == shape[:-1]:
        return _Variance(np.broadcast_to(values[..., None], shape), values.shape,
                         (len(shape) - 1,), own_dtype)
    differ = [axis for axis, (size, own) in enumerate(zip(shape, values.shape)) if size != own]
    if values.ndim == len(shape) and sum(values.shape[axis] for axis in differ) == 1 and all(
        values.shape[axis] == 1 for axis in differ
    ):
        return _Variance(np.broadcast_to(values, shape), values.shape, tuple(differ), own_dtype)
    raise ValueError(
        f"var of shape {values.shape} does not fit the input shape {shape}: it must have that "
        f"shape, that shape without its last axis {shape[:-1]}, or that shape with one axis "
        "of length 1 (a variance shared along it), or be a number"
    )


def _gaussian_operands(input, target, var, full, eps, reduction):
    """Validate the arguments of :func:`gaussian_nll_loss`."""
    _check_flag(full, "full")
    eps = _as_positive(eps, "eps")
    x, t, dtype = _as_input_and_target(input, target)
    _check_reduction(reduction)
    return x, t, _variance(var, x.shape, dtype), eps, dtype


def _two_product_of_square(m):
    """``m * m`` and its rounding error, exactly (Dekker's split; ``|m| < 1``)."""
    split = m * 134217729.0  # 2**27 + 1
    high = split - (split - m)
    low = m - high
    square = m * m
    return square, ((high * high - square) + 2.0 * high * low) + low * low


class _GaussianParts(NamedTuple):
    r"""The pieces of the Gaussian NLL, with ``x - t`` and ``v`` split as mantissa times 2**k.

    ``x - t = (m + m_low) 2**k`` exactly (where it is finite; ``m`` in
    [0.5, 1) or 0), ``v = u 2**j`` with ``u`` in [0.5, 1), and
    ``(x - t)**2 / v = r 2**(2k - j)``, where ``r = (m**2)/u`` in [0.25, 2)
    has the two roundings of the (compensated) square and of the division.
    Nothing over- or underflows before the final scaling by a power of two.
    """

    clamped: np.ndarray
    """``v = max(var, eps)``."""
    mantissa: np.ndarray
    """``m + m_low``, rounded."""
    ratio: np.ndarray
    """``r``."""
    exponent: np.ndarray
    """``k``."""
    var_mantissa: np.ndarray
    """``u``."""
    var_exponent: np.ndarray
    """``j``."""
    plain: np.ndarray
    """Where ``x - t`` is nan or infinite (the values above are unusable there)."""
    difference: np.ndarray
    """``x - t``, rounded (used where ``plain``)."""


def _gaussian_parts(x, t, var, eps):
    """Compute :class:`_GaussianParts` for float64 arrays of one shape."""
    with np.errstate(all="ignore"):
        clamped = np.maximum(var, eps)
        difference, low = _two_sum(x, -t)
        halved = np.isinf(difference) & np.isfinite(x) & np.isfinite(t)
        scale = np.zeros(difference.shape, dtype=np.int64)
        if halved.any():  # x - t overflows: carry it as (x/2 - t/2) * 2
            difference[halved], low[halved] = _two_sum(x[halved] * 0.5, -t[halved] * 0.5)
            scale[halved] = 1
        plain = ~np.isfinite(difference)
        mantissa, exponent = np.frexp(np.where(plain, 0.0, difference))
        low = np.ldexp(np.where(plain, 0.0, low), -exponent)
        square, error = _two_product_of_square(mantissa)
        numerator = square + (error + 2.0 * mantissa * low)
        var_mantissa, var_exponent = np.frexp(clamped)
        ratio = numerator / var_mantissa
    return _GaussianParts(clamped, mantissa + low, ratio, exponent + scale, var_mantissa,
                          var_exponent, plain, difference)


def _gaussian_elementwise(parts, full):
    """The elementwise loss ``log(v)/2 + (x - t)**2 / (2 v) [+ log(2 pi)/2]``, compensated.

    Each term is halved before the sum (exactly: a power of two), so that a
    loss near float64's maximum does not overflow in ``log v + (x - t)**2 / v``.
    """
    p = parts
    with np.errstate(all="ignore"):
        half_quotient = np.ldexp(p.ratio, 2 * p.exponent - p.var_exponent - 1)
        half_quotient = np.where(p.plain, p.difference * p.difference / p.clamped * 0.5,
                                 half_quotient)
        total, error = _two_sum(_log(p.clamped, np.empty(np.shape(p.clamped))) * 0.5,
                                half_quotient)
        if full:
            total, carry = _two_sum(total, _LOG_2PI_HIGH * 0.5)
            error += carry + _LOG_2PI_LOW * 0.5
        return total + error


_SPLITTER = 134217729.0  # 2**27 + 1
_SMALLEST_SQUARE = 2.0**-900
"""A block with a nonzero squared difference below this is computed by the careful path."""
_LOG_BAND = (1.0 + 2.0**-6, 1.0 + 2.0**-5)
"""Where numpy's float64 log errs most (1.55 eps measured, against at most 1.07 eps elsewhere)."""


def _log(v, out):
    """``out = log(v)`` for ``v > 0``, within 1.1 eps: numpy's, and ``log1p(v - 1)`` on ``_LOG_BAND``.

    On the band ``v - 1`` is exact and lossbook's ``log1p`` sums its series
    there (within 0.6 eps). ``out`` may be ``v``.
    """
    band = np.flatnonzero((v >= _LOG_BAND[0]) & (v <= _LOG_BAND[1]))
    near = v.take(band) - 1.0  # before ``out``, which may be ``v``, is written
    np.log(v, out=out)
    if band.size:
        np.put(out, band, _log1p(near))
    return out


def _gaussian_kernel(eps, full, careful):
    r"""The Gaussian NLL of one block in plain float64, its square kept exact.

    With :math:`d = x - t = d_h + d_l` exactly (TwoSum) and :math:`d_h^2 = s +
    e` exactly (Dekker's product), the numerator :math:`n = s + (e + 2 d_h
    d_l)` drops only :math:`d_l^2` (below :math:`u^2 d^2`) and one rounding, so
    :math:`q = n / v` errs by :math:`2u` relative. With :math:`\log v` within
    1.1 eps (:func:`_log`) and the sum :math:`T = q + \log v` rounded once,
    :math:`T` errs by :math:`3uq + 3.2u|\log v|`, within the documented 2 ulp
    of :math:`q + |\log v|`; the loss is :math:`T/2`, exactly. ``full``
    adds :math:`\log 2\pi` to the exact sum of the two (TwoSums) and rounds
    once: :math:`2uq + 2.2u|\log v| + u|T|`, within 2 ulp of :math:`q +
    |\log v| + \log 2\pi`. Where a square or a quotient overflows the value
    is inf or nan, and ``careful`` (the exact path of
    :func:`gaussian_nll_loss`) redoes it; a block with a nonzero square
    below ``_SMALLEST_SQUARE``, whose subnormal roundings a small variance
    could magnify, is redone by ``careful`` whole.
    """
    floor = _constant(eps)

    def kernel(out, clamped, low, high, part, error, x, t, var):
        np.subtract(x, t, out=out)  # d_h; TwoSum's error d_l = (x - (d_h - b)) - (t + b), b = d_h - x
        np.subtract(out, x, out=low)
        np.subtract(out, low, out=high)
        np.subtract(x, high, out=high)
        low += t
        np.subtract(high, low, out=low)
        low *= out  # 2 d_h d_l
        low += low
        np.multiply(out, _SPLITTER, out=high)  # Veltkamp's split of d_h: high + part
        np.subtract(high, out, out=part)
        high -= part
        np.subtract(out, high, out=part)
        out *= out  # s = fl(d_h^2); e = ((h h - s) + 2 h p) + p p
        small = out < _SMALLEST_SQUARE
        if small.any() and (out[small] != 0.0).any():
            out[...] = careful(x, t, var)
            return
        np.multiply(high, high, out=error)
        error -= out
        high *= part
        high += high
        error += high
        part *= part
        error += part
        error += low
        out += error  # n
        np.maximum(var, floor[:var.size], out=clamped)
        out /= clamped  # q
        logarithm = _log(clamped, out=clamped)
        if not full:
            out += logarithm
        else:
            np.add(out, logarithm, out=high)  # TwoSum(q, log v): high + error
            np.subtract(high, out, out=low)
            np.subtract(high, low, out=error)
            np.subtract(out, error, out=error)
            np.subtract(logarithm, low, out=low)
            error += low
            np.add(high, _LOG_2PI_HIGH, out=out)  # TwoSum(high, log 2 pi), rounded once
            np.subtract(out, high, out=low)
            np.subtract(out, low, out=part)
            np.subtract(high, part, out=part)
            np.subtract(_LOG_2PI_HIGH, low, out=low)
            part += low
            error += part
            error += _LOG_2PI_LOW
            out += error
        out *= 0.5

    return kernel


def gaussian_nll_loss(input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    r"""Negative log-likelihood of a Gaussian with mean ``input`` and variance ``var``.

    .. math:: \ell_i = \frac12 \left( \log v_i + \frac{(\hat y_i - y_i)^2}{v_i} \right),
        \qquad v_i = \max(\mathrm{var}_i, \varepsilon)

    ``full=True`` adds the constant :math:`\tfrac12 \log(2\pi)`. ``var`` is
    clamped at ``eps`` from below, as torch does, so a variance of 0 costs
    :math:`\tfrac12 \log\varepsilon` plus the squared error over
    :math:`2\varepsilon` rather than :math:`-\infty`.

    ``var`` may be a number (one variance for every element), an array of
    ``input``'s shape (one per element), or, as in torch, one that omits the
    last axis (one per row: shape ``input.shape[:-1]``) or has length 1 along
    exactly one axis where ``input`` does not (a variance shared along it,
    e.g. ``(N, 1)`` for ``(N, D)`` input). ``"mean"`` divides by the number of
    elements of ``input``.

    Accuracy: :math:`\log v_i` is negative for :math:`v_i < 1` and then
    cancels against the squared error near the best fit, so the error is
    within 2 ulp of the sum of the terms' magnitudes,
    :math:`\tfrac12 (|\log v_i| + (\hat y_i - y_i)^2 / v_i\ [+ \log 2\pi])`,
    and within 2 ulp of the loss itself where :math:`v_i \ge 1`. The
    difference :math:`\hat y_i - y_i` and its square are formed exactly
    (TwoSum, Dekker's product) and rounded once, so the only roundings left
    are that one, those of one division and of the logarithm (within 1.1 eps:
    numpy's, or ``log1p(v - 1)`` on :math:`[1 + 2^{-6}, 1 + 2^{-5}]`, where
    numpy's log errs by up to 1.55 eps), and that of the result; nothing
    overflows unless the loss does.

    Parameters
    ----------
    input : array_like
        Predicted means :math:`\hat y`, float32 or float64.
    target : array_like
        Observations :math:`y`, same shape as ``input`` (torch would broadcast
        them; lossbook does not).
    var : array_like or float
        Predicted variances, each >= 0 (nan propagates), of a shape described
        above, or a number >= 0. torch only accepts a Python ``float`` as a
        number; lossbook also takes an integer or a numpy scalar.
    full : bool, default False
        Add :math:`\tfrac12 \log(2\pi)` to every loss.
    eps : float, default 1e-6
        The smallest variance used; must be finite and > 0 (torch accepts 0 or
        less, which lets a variance of 0 give nan or :math:`-\infty`).
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (shape of ``input``), else their mean or
        sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric, ``full`` is not a bool, or
        ``eps`` is not a real number.
    ValueError
        If ``target`` does not have ``input``'s shape, ``var`` has a shape
        other than those above or a negative entry, ``eps`` is not > 0, or
        ``reduction`` is unknown.

    Examples
    --------
    A prediction 2 away from its target with variance 4 costs
    :math:`\tfrac12 (\log 4 + 4/4) = \log 2 + \tfrac12`:

    >>> import lossbook as lb
    >>> float(lb.gaussian_nll_loss([3.0], [1.0], [4.0]))
    1.1931471805599454
    """
    x, t, v, eps, dtype = _gaussian_operands(input, target, var, full, eps, reduction)

    def careful(x, t, var):
        return _gaussian_elementwise(_gaussian_parts(x, t, var, eps), full)

    return _elementwise(_gaussian_kernel(eps, full, careful), [x, t, v.values], reduction, dtype,
                        temporaries=5, repair=careful)


def gaussian_nll_loss_grad(input, target, var, *, full=False, eps=1e-6, reduction="mean"):
    r"""Gradients of :func:`gaussian_nll_loss` with respect to ``input`` and ``var``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i} = \frac{\hat y_i - y_i}{v_i},
        \qquad
        \frac{\partial \ell_i}{\partial v_i} = \frac12 \left( \frac{1}{v_i}
        - \frac{(\hat y_i - y_i)^2}{v_i^2} \right),
        \qquad v_i = \max(\mathrm{var}_i, \varepsilon)

    The clamp follows torch, which clamps a copy of ``var`` in place under
    ``torch.no_grad()``: autograd never sees the clamp, so it differentiates
    the loss at :math:`v_i` and passes that derivative on to ``var``
    unchanged. Where :math:`\mathrm{var}_i < \varepsilon` the gradient is
    therefore :math:`\tfrac12 (1/\varepsilon - (\hat y_i - y_i)^2/\varepsilon^2)`,
    not 0 (a straight-through clamp), and lossbook returns the same. Where
    ``var`` is shared along an axis, or is a number, its gradient is summed
    over the elements that share it.

    torch also differentiates with respect to ``target``; that gradient is
    minus the gradient with respect to ``input``, so it is not returned.
    ``full`` does not change either gradient. Parameters and errors are those
    of :func:`gaussian_nll_loss`.

    Returns
    -------
    d_input : ndarray
        Shape and dtype of ``input``.
    d_var : ndarray or numpy scalar
        Shape and dtype of ``var`` (a numpy scalar in ``input``'s dtype when
        ``var`` is a number, which torch cannot differentiate).

    Examples
    --------
    >>> import lossbook as lb
    >>> d_input, d_var = lb.gaussian_nll_loss_grad([3.0], [1.0], [4.0])
    >>> d_input.tolist(), d_var.tolist()
    ([0.5], [0.0])
    """
    x, t, v, eps, dtype = _gaussian_operands(input, target, var, full, eps, reduction)
    p = _gaussian_parts(x, t, v.values, eps)
    with np.errstate(all="ignore"):
        d_input = np.ldexp(p.mantissa / p.var_mantissa, p.exponent - p.var_exponent)
        # (1 - q) / (2 v), with q = (x - t)**2 / v = r 2**e; 1 is negligible once q > 2**60.
        e = 2 * p.exponent - p.var_exponent
        large = e > 60
        quotient = np.ldexp(p.ratio, np.where(large, 0, e))
        scaled = np.where(large, -quotient, 1.0 - quotient) / p.var_mantissa
        d_var = np.ldexp(scaled * 0.5, np.where(large, e, 0) - p.var_exponent)
        d_input = np.where(p.plain, p.difference / p.clamped, d_input)
        d_var = np.where(p.plain, 0.5 * (1.0 / p.clamped - p.difference * p.difference
                                         / (p.clamped * p.clamped)), d_var)
        if reduction == "mean":
            d_input /= x.size
            d_var /= x.size
        d_var = np.add.reduce(d_var, axis=v.axes, keepdims=True).reshape(v.shape)
    d_var = d_var.astype(v.dtype, copy=False)
    return d_input.astype(dtype, copy=False), d_var if v.shape else d_var[()]

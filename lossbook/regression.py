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
from ._reduction import check_reduction, reduce, reduce_gradient, weighted
from ._validation import (
    as_input_and_target,
    as_positive,
    as_real_in,
    as_weight,
    check_flag,
    check_within,
)


def _difference(input, target, reduction):
    """Validate an elementwise loss's operands and return ``input - target`` and the dtype."""
    x, y, dtype = as_input_and_target(input, target)
    check_reduction(reduction)
    # A fresh array (even for 0-d operands) that the callers overwrite in place.
    return np.subtract(x, y, out=np.empty_like(x)), dtype


def _weight(weight, shape):
    """An optional elementwise weight of the input's shape, as torch requires."""
    return as_weight(weight, "weight", shape, "the input shape")


def _weight_sum(weight):
    """The divisor of torch's weighted mean for ``mse_loss`` and ``l1_loss``."""
    return None if weight is None else weight.sum()


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
    difference, dtype = _difference(input, target, reduction)
    w = _weight(weight, difference.shape)
    loss = weighted(np.square(difference, out=difference), w)
    return reduce(loss, reduction, dtype, _weight_sum(w))


def mse_loss_grad(input, target, *, weight=None, reduction="mean"):
    r"""Gradient of :func:`mse_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i} = 2 w_i (\hat y_i - y_i)

    Parameters and errors are those of :func:`mse_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    difference, dtype = _difference(input, target, reduction)
    w = _weight(weight, difference.shape)
    gradient = weighted(np.multiply(difference, 2.0, out=difference), w)
    return reduce_gradient(gradient, reduction, dtype, _weight_sum(w))


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
    difference, dtype = _difference(input, target, reduction)
    w = _weight(weight, difference.shape)
    loss = weighted(np.abs(difference, out=difference), w)
    return reduce(loss, reduction, dtype, _weight_sum(w))


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


def _huber(difference, delta):
    """Huber's loss of a difference ``d``, in place: ``c (d - c/2)``, ``c = clip(d, ±delta)``.

    ``c`` has the sign of ``d``, so this is ``d**2 / 2`` for ``|d| <= delta`` and
    ``delta * (|d| - delta / 2)`` otherwise, with the same two roundings (one
    for the subtraction, one for the product) as the two-branch textbook form.
    """
    clipped = np.clip(difference, -delta, delta)
    clipped *= 0.5
    difference -= clipped
    clipped *= 2.0  # exact: c is back (were c subnormal the loss would underflow anyway)
    difference *= clipped
    return difference


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
        Where the quadratic part ends; must be finite and > 0.
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
    difference, dtype = _difference(input, target, reduction)
    w = _weight(weight, difference.shape)
    return reduce(weighted(_huber(difference, delta), w), reduction, dtype)


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
    gradient = weighted(np.clip(difference, -delta, delta, out=difference), w)
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
        ``beta=0``, plain L1, is :func:`l1_loss`).
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
    difference, dtype = _difference(input, target, reduction)
    loss = _huber(difference, beta)
    if beta != 1.0:
        loss /= beta
    return reduce(loss, reduction, dtype)


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
    gradient = np.clip(difference, -1.0, 1.0, out=difference)
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
    difference, dtype = _difference(input, target, reduction)
    # With d = input - target, q * max(-d, 0) + (1 - q) * max(d, 0) = max(-q d, (1 - q) d).
    above = difference * (1.0 - q)
    difference *= -q
    loss = np.maximum(above, difference, out=above)
    return reduce(loss, reduction, dtype)


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
    r"""Stirling's approximation of :math:`\log t!` where :math:`t > 1`, and 0 elsewhere."""
    term = np.zeros_like(t)
    counted = t > 1.0
    large = t[counted]
    term[counted] = large * np.log(large) - large + 0.5 * np.log(2.0 * np.pi * large)
    return term


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
    if log_input:
        with np.errstate(over="ignore"):  # e^x above the float64 range is inf
            loss = np.exp(x)
            loss -= np.multiply(t, x, out=np.empty_like(x))
    else:
        loss = x - t * _log_shifted(x, eps)
    if full:
        loss += _stirling(t)
    return reduce(loss, reduction, dtype)


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

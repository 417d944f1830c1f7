"""Margin losses for labels -1 and +1, and their gradients with respect to ``input``.

Each loss depends on the margin :math:`y_i \\hat y_i` of a score ``input``
(:math:`\\hat y`) against a label ``target`` (:math:`y \\in \\{-1, +1\\}`, same
shape); any other label raises ``ValueError``. Since :math:`y = \\pm 1` the
product is exact. Each ``*_grad`` function returns the derivative of the
reduced loss with respect to ``input``, shaped like ``input``; for
``reduction="none"`` it is the elementwise derivative.
"""

import numpy as np

from ._elementary import Band
from ._reduction import check_reduction, constant, elementwise, reduce_gradient
from ._validation import as_input_and_target, as_real, check_signed_labels
from .activations import _sigmoid

_ZEROS = constant(0.0)
_SIGN_BIT = np.int64(-(2**63))


def _operands(input, target, reduction):
    """Validate a margin loss's operands; return scores, labels and the dtype."""
    x, y, dtype = as_input_and_target(input, target)
    check_reduction(reduction)
    check_signed_labels(y, "target")
    return x, y, dtype


def _margins(input, target, reduction):
    """Validate a margin loss's operands; return labels, margins ``y * input`` and the dtype."""
    x, y, dtype = _operands(input, target, reduction)
    return y, np.multiply(y, x), dtype


def _hinge(input, target, margin, reduction):
    """Labels, hinge values ``max(0, margin - y * input)`` and the dtype (whole arrays)."""
    margin = as_real(margin, "margin")
    y, margins, dtype = _margins(input, target, reduction)
    with np.errstate(invalid="ignore", over="ignore"):
        hinge = np.subtract(margin, margins, out=np.asarray(margins))
    return y, np.maximum(hinge, 0.0, out=hinge), dtype


def _hinge_kernel(margin, squared):
    """``max(0, margin - y x)``, squared if asked, for one block."""
    def kernel(out, x, y):
        np.multiply(y, x, out=out)
        np.subtract(margin, out, out=out)
        np.maximum(out, _ZEROS[: out.size], out=out)
        if squared:
            np.multiply(out, out, out=out)

    return kernel


def _soft_margin_kernel(out, tail, x, y, band):
    """``softplus(-y x) = log(1 + e^-|x|) - min(y x, 0)`` for one block (``|y x| = |x|``).

    ``-|x|`` is ``x`` with its sign bit set.
    """
    np.bitwise_or(x.view(np.int64), _SIGN_BIT, out=tail.view(np.int64))
    np.exp(tail, out=tail)
    band.log1p(tail, out=tail)
    np.multiply(y, x, out=out)
    np.minimum(out, _ZEROS[: out.size], out=out)
    np.subtract(tail, out, out=out)


def soft_margin_loss(input, target, *, reduction="mean"):
    r"""Soft-margin (logistic) loss, a smooth hinge.

    .. math:: \ell_i = \log\left(1 + e^{-y_i \hat y_i}\right)
        = \operatorname{softplus}(-y_i \hat y_i)

    computed as :math:`\max(-y_i \hat y_i, 0) + \log(1 + e^{-|\hat y_i|})`,
    which neither overflows nor loses the tiny loss of a large correct
    margin. Accuracy: elementwise within 2 ulp.

    Parameters
    ----------
    input : array_like
        Scores :math:`\hat y`, float32 or float64.
    target : array_like
        Labels -1 or +1, same shape as ``input``.
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
        If ``target`` does not have ``input``'s shape, a label is not -1 or
        +1, or ``reduction`` is unknown.
    """
    x, y, dtype = _operands(input, target, reduction)
    return elementwise(_soft_margin_kernel, [x, y], reduction, dtype, temporaries=1, band=Band)


def soft_margin_loss_grad(input, target, *, reduction="mean"):
    r"""Gradient of :func:`soft_margin_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i} = -y_i \, \sigma(-y_i \hat y_i)

    Parameters and errors are those of :func:`soft_margin_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    y, margins, dtype = _margins(input, target, reduction)
    return reduce_gradient(-y * _sigmoid(-margins), reduction, dtype)


def hinge_loss(input, target, *, margin=1.0, reduction="mean"):
    r"""Hinge loss of support vector machines, as in mxnet gluon's ``HingeLoss``.

    .. math:: \ell_i = \max(0, \; \text{margin} - y_i \hat y_i)

    Accuracy: elementwise correctly rounded (the subtraction is the only rounding).

    Parameters
    ----------
    input : array_like
        Scores :math:`\hat y`, float32 or float64.
    target : array_like
        Labels -1 or +1, same shape as ``input``.
    margin : float, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"
        gluon instead averages over all but the batch axis; ``"none"``
        followed by such a mean reproduces it.

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric or ``margin`` is not a real number.
    ValueError
        If ``target`` does not have ``input``'s shape, a label is not -1 or
        +1, or ``reduction`` is unknown.
    """
    margin = as_real(margin, "margin")
    x, y, dtype = _operands(input, target, reduction)
    return elementwise(_hinge_kernel(margin, False), [x, y], reduction, dtype)


def hinge_loss_grad(input, target, *, margin=1.0, reduction="mean"):
    r"""Gradient of :func:`hinge_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i}
        = -y_i \, [\text{margin} - y_i \hat y_i > 0]

    At the kink (:math:`y_i \hat y_i = \text{margin}`) this is 0, the
    gradient torch's ``relu`` gives there. Parameters and errors are those of
    :func:`hinge_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    y, hinge, dtype = _hinge(input, target, margin, reduction)
    # -y where the hinge is active, 0 where it is not, and nan (not 0) where it is nan.
    gradient = np.where(hinge > 0.0, -y, 0.0)
    gradient[np.isnan(hinge)] = np.nan
    return reduce_gradient(gradient, reduction, dtype)


def squared_hinge_loss(input, target, *, margin=1.0, reduction="mean"):
    r"""Squared hinge loss, as in mxnet gluon's ``SquaredHingeLoss``.

    .. math:: \ell_i = \max(0, \; \text{margin} - y_i \hat y_i)^2

    Accuracy: elementwise within 2 ulp.

    Parameters
    ----------
    input : array_like
        Scores :math:`\hat y`, float32 or float64.
    target : array_like
        Labels -1 or +1, same shape as ``input``.
    margin : float, default 1.0
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their mean or sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric or ``margin`` is not a real number.
    ValueError
        If ``target`` does not have ``input``'s shape, a label is not -1 or
        +1, or ``reduction`` is unknown.
    """
    margin = as_real(margin, "margin")
    x, y, dtype = _operands(input, target, reduction)
    return elementwise(_hinge_kernel(margin, True), [x, y], reduction, dtype)


def squared_hinge_loss_grad(input, target, *, margin=1.0, reduction="mean"):
    r"""Gradient of :func:`squared_hinge_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial \hat y_i}
        = -2 y_i \max(0, \; \text{margin} - y_i \hat y_i)

    Parameters and errors are those of :func:`squared_hinge_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    y, hinge, dtype = _hinge(input, target, margin, reduction)
    return reduce_gradient(-2.0 * y * hinge, reduction, dtype)

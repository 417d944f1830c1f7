"""Activation functions in forms that neither overflow nor lose digits."""

import numpy as np

from ._validation import as_float_array


def sigmoid(input):
    r"""Logistic sigmoid, evaluated without overflow for any finite logit.

    .. math:: \sigma(z) = \frac{1}{1 + e^{-z}}

    For negative ``z`` the equivalent form :math:`e^{z} / (1 + e^{z})` is used,
    so ``exp`` is only ever taken of a non-positive number.

    Parameters
    ----------
    input : array_like
        Logits ``z`` of any shape, float32 or float64 (integers become float64).

    Returns
    -------
    ndarray
        :math:`\sigma(z)`, same shape and dtype as ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not numeric.

    Examples
    --------
    >>> import lossbook as lb
    >>> float(lb.sigmoid(0.0))
    0.5
    """
    z = as_float_array(input, "input")
    exp_neg_abs = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, exp_neg_abs) / (1.0 + exp_neg_abs)

"""The reductions applied to elementwise losses and to their gradients, in one place.

``"mean"`` divides the sum by a divisor that each loss chooses the way torch
does: the number of loss elements by default, the sum of the weights for
weighted ``mse_loss``/``l1_loss``, the summed weights of the targets for
``nll_loss``/``cross_entropy``, and the batch size for ``"batchmean"``.

Sums use ``numpy.sum`` (pairwise summation): for non-negative losses it adds
at most about ``log2(n) * eps / 2`` relative error to that of the elementwise
values, and the reduced results on the accuracy tests' grids stay within
2 ulp of exact, so nothing slower (such as ``math.fsum``) is used.
"""

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction, allowed=REDUCTIONS):
    """Raise ``ValueError`` unless ``reduction`` is one of ``allowed``."""
    if not isinstance(reduction, str) or reduction not in allowed:
        choices = ", ".join(repr(name) for name in allowed)
        raise ValueError(f"reduction must be one of {choices}, got {reduction!r}")


def weighted(values, weight):
    """``values * weight``, or ``values`` itself when there is no weight (``None``)."""
    return values if weight is None else values * weight


def _divide(numerator, divisor):
    # A mean over nothing (no elements, every target ignored, zero total
    # weight) is undefined: like torch, return nan (or inf) rather than fail.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(numerator, divisor)


def reduce(loss, reduction, dtype, divisor=None):
    """Reduce float64 elementwise ``loss`` values and return them in ``dtype``.

    ``"none"`` returns the values, ``"sum"`` their sum, and ``"mean"`` or
    ``"batchmean"`` the sum divided by ``divisor`` (default ``loss.size``).
    """
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    total = loss.sum()
    if reduction != "sum":
        total = _divide(total, loss.size if divisor is None else divisor)
    return dtype.type(total)


def reduce_gradient(gradient, reduction, dtype, divisor=None):
    """Scale the float64 gradient of the summed loss to match ``reduce``.

    ``"none"`` and ``"sum"`` return the gradient of the sum; ``"mean"`` and
    ``"batchmean"`` divide it by ``divisor`` (default ``gradient.size``, right
    whenever loss and input have the same shape).
    """
    if reduction in ("mean", "batchmean"):
        gradient = _divide(gradient, gradient.size if divisor is None else divisor)
    return gradient.astype(dtype, copy=False)

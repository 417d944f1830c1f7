"""Activation functions in forms that neither overflow nor lose digits.

The softmax family shares one private computation, ``_softmax_parts``: with
``m`` the largest logit of a slice, every logit is shifted to ``d = z - m <= 0``
(so ``exp`` cannot overflow) and the normaliser is written as
``1 + T`` with ``T`` the sum of ``exp(d)`` over every logit but the largest,
so that ``log(1 + T)`` can be taken as ``log1p(T)`` without losing ``T``'s
digits when it is tiny. The rounding error of ``z - m`` is kept and folded
back in, since ``exp`` turns an absolute error in its argument into a
relative error in its result.
"""

import math
import numbers
from typing import NamedTuple

import numpy as np

from ._compensated import accurate_sum, two_sum
from ._elementary import log1p
from ._reduction import scratch, staggered
from ._validation import as_float64


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
    z, dtype = as_float64(input, "input")
    return _sigmoid(z).astype(dtype, copy=False)


def _sigmoid(z):
    """The sigmoid of a float64 array, for callers that have validated it."""
    exp_neg_abs = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, exp_neg_abs) / (1.0 + exp_neg_abs)


def _softplus_tail(z):
    r"""The part of softplus that is not a ReLU, for a float64 array.

    .. math:: \operatorname{softplus}(z) - \max(z, 0) = \log\left(1 + e^{-|z|}\right)

    It lies in :math:`(0, \log 2]`, and ``exp`` only sees non-positive numbers.
    """
    tail = np.abs(z, out=np.empty_like(z))
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)
    return log1p(tail, out=tail)


def softplus(input):
    r"""Softplus, a smooth ReLU, accurate for every finite input.

    .. math:: \operatorname{softplus}(z) = \log\left(1 + e^{z}\right)
        = \max(z, 0) + \log\left(1 + e^{-|z|}\right)

    Unlike ``torch.nn.functional.softplus`` there is no ``threshold`` above
    which ``z`` is returned unchanged: torch's default (20) drops the term
    :math:`\log(1 + e^{-z}) \approx e^{-z}`, a relative error of up to
    :math:`10^{-10}`, while the form above is exact to rounding everywhere.

    Parameters
    ----------
    input : array_like
        Values ``z`` of any shape, float32 or float64.

    Returns
    -------
    ndarray
        :math:`\operatorname{softplus}(z) > 0`, same shape and dtype as ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not numeric.
    """
    z, dtype = as_float64(input, "input")
    return (np.maximum(z, 0.0) + _softplus_tail(z)).astype(dtype, copy=False)


def log_sigmoid(input):
    r"""Logarithm of the sigmoid, accurate where the sigmoid underflows.

    .. math:: \log \sigma(z) = -\operatorname{softplus}(-z)
        = \min(z, 0) - \log\left(1 + e^{-|z|}\right)

    Parameters
    ----------
    input : array_like
        Logits ``z`` of any shape, float32 or float64.

    Returns
    -------
    ndarray
        :math:`\log\sigma(z) < 0`, same shape and dtype as ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not numeric.
    """
    z, dtype = as_float64(input, "input")
    return (np.minimum(z, 0.0) - _softplus_tail(z)).astype(dtype, copy=False)


class _SoftmaxParts(NamedTuple):
    """The pieces of a stable (log-)softmax over the first axis (see the module docstring).

    Each quantity is a float64 value plus a correction (its rounding error, as
    far as it is known), so that callers fold the corrections in with their
    final addition. The per-slice fields keep the first axis with length 1.
    """

    maximum: np.ndarray
    """``m``, the largest logit of each slice."""
    shift: np.ndarray
    """``fl(z - m) <= 0``."""
    shift_error: np.ndarray
    """The rounding error of ``shift``, so that ``shift + shift_error == z - m`` exactly."""
    log_normalizer: np.ndarray
    """``L = log1p(T)``, the logarithm of the softmax denominator ``1 + T``."""
    log_normalizer_error: np.ndarray
    """The part of ``log1p(T)`` due to the low half of the double-length ``T``."""

    def negative_log_softmax(self):
        """``L - (z - m) >= 0``, two non-negative terms, from the values and their corrections."""
        result = np.subtract(self.log_normalizer, self.shift)
        result += np.subtract(self.log_normalizer_error, self.shift_error)
        return result

    def softmax(self):
        """``exp(z - m - L)``, the argument split exactly as ``s + e``: ``exp(s) (1 + e)``."""
        exponent, error = two_sum(self.shift, -self.log_normalizer)
        error += self.shift_error
        error -= self.log_normalizer_error
        probabilities = np.exp(exponent, out=exponent)
        error *= probabilities
        probabilities += error
        return probabilities


class _Workspace:
    """Buffers for :func:`_softmax_parts`: blocks of up to ``samples`` slices of ``classes``.

    Reusing them block after block keeps the work in the CPU cache and spares
    numpy an allocation (and page faults) for each of its dozen steps.
    """

    def __init__(self, classes, samples):
        buffers = staggered("softmax", 6, classes * samples)
        self.logits, self.shift, self.shift_error, self.terms, self.high, self._other = (
            buffer.reshape(classes, samples) for buffer in buffers
        )
        self.kept = scratch("softmax kept", (classes, samples), dtype=bool)

    def other(self, samples):
        """One more ``(classes, samples)`` buffer."""
        return self._other[:, :samples]

    def views(self, samples):
        """The buffers cut to a block of ``samples`` slices."""
        if samples == self.logits.shape[1]:
            return self.logits, self.shift, self.shift_error, self.terms, self.high, self.kept
        return tuple(
            buffer[:, :samples]
            for buffer in (self.logits, self.shift, self.shift_error, self.terms, self.high,
                           self.kept)
        )


def _softmax_parts(z, work):
    """Compute :class:`_SoftmaxParts` for a float64 array over its first axis.

    The first axis is the one normalised over (it must not be empty); with
    the slices along the other axes every step is a vector operation. ``T``
    excludes one copy of the largest logit (ties each add exactly 1) and is
    summed like ``accurate_sum``, so the only roundings left in ``L`` are the
    ``exp`` of each term and ``log1p`` itself. ``work`` (a :class:`_Workspace`
    whose ``logits`` may be ``z``) supplies the buffers; the arrays returned
    live in it until its next use.
    """
    classes, samples = z.shape
    _, shift, error, terms, high, kept = work.views(samples)
    with np.errstate(all="ignore"):
        maximum = np.maximum.reduce(z, axis=0, keepdims=True)
        np.subtract(z, maximum, out=shift)
        # Knuth's TwoSum of z and -m: error = (z - (d - b')) + (-m - b'), b' = d - z.
        np.subtract(shift, z, out=error)
        np.subtract(shift, error, out=high)
        np.subtract(z, high, out=high)
        np.add(error, maximum, out=error)
        np.subtract(high, error, out=error)
        np.less(shift, 0.0, out=kept)  # False at the maxima (and at nan)
        tail, tail_error = _tail(shift, error, terms, high, kept)
        if np.isnan(tail_error).any():
            # An infinite logit makes its TwoSum error nan; where exp is 0 it does not
            # matter, and elsewhere the slice is nan anyway: take those errors as 0.
            error[~np.isfinite(error)] = 0.0
            tail, tail_error = _tail(shift, error, terms, high, kept)
        if kept.size - np.count_nonzero(kept) != samples:
            # Ties (or nan): count the maxima beyond the first, exactly.
            ties = (classes - 1.0) - np.add.reduce(kept, axis=0, keepdims=True, dtype=np.float64)
            tail, carry = two_sum(tail, ties)
            tail_error += carry
        log_normalizer = log1p(tail)
        return _SoftmaxParts(maximum, shift, error, log_normalizer, tail_error / (1.0 + tail))


def _tail(shift, error, terms, high, kept):
    """``T = sum exp(d) (1 + e)`` over the kept entries, as ``hi + lo`` (``accurate_sum``).

    ``exp(d + e) = exp(d) (1 + e)`` to first order, as ``|e| < 1e-13``: the
    shift errors are relative errors of the terms.
    """
    np.exp(shift, out=terms)
    np.multiply(terms, kept, out=terms)
    estimate = np.add.reduce(terms, axis=0, keepdims=True)
    return accurate_sum(terms, high, estimate, relative_errors=error)


_BLOCK = 8192
"""Slices per block for the softmax family."""


def _blockwise(function, out, *arrays):
    """Fill ``out`` block by block: ``out[..., b] = function(*(a[..., b] for a in arrays))``.

    The blocks are consecutive runs along the last axis, which all the arrays
    share: the first array holds the logits, laid out by
    :func:`_classes_first` as ``(classes, ..., samples)``, and the others hold
    per-slice values laid out alike (see :func:`_slices_last`), with or without
    the class axis. Each block of logits is copied into a :class:`_Workspace`
    as ``(classes, slices)``, at most ``_BLOCK`` slices, and the other arrays'
    blocks are flattened to match; ``function`` gets them with the workspace
    (as ``work``, recycled from block to block) and returns its values for
    the block's slices, flattened likewise (with any leading axis of ``out``).
    """
    if out.size == 0:
        return out
    logits = arrays[0]
    samples = logits.shape[-1]
    inner = math.prod(logits.shape[1:-1])  # slices per sample
    step = max(1, _BLOCK // inner)
    work = _Workspace(logits.shape[0], min(samples, step) * inner)
    for start in range(0, samples, step):
        block = (..., slice(start, start + step))
        size = min(step, samples - start) * inner
        copy = work.views(size)[0]
        np.copyto(copy.reshape(logits.shape[:-1] + (-1,)), logits[block])
        others = (array[block].reshape(array.shape[: array.ndim - logits.ndim + 1] + (size,))
                  for array in arrays[1:])
        out[block] = np.reshape(function(copy, *others, work=work), out[block].shape)
    return out


def _classes_first(array, axis):
    """A view of ``array``, class ``axis`` first and batch axis last, for :func:`_blockwise`.

    ``(C,)`` becomes ``(C, 1)`` and ``(N, C)`` becomes ``(C, N)``. From three
    axes on, the first axis other than ``axis`` (the batch) moves to the end:
    ``(N, C, d)`` becomes ``(C, d, N)``, so that a block of samples is copied
    into the workspace in long runs (flattening it to ``(C, N * d)`` would copy
    the whole input, two elements at a time).
    """
    array = np.moveaxis(array, axis, 0)
    if array.ndim == 1:
        return array.reshape(array.shape[0], 1)
    return np.moveaxis(array, 1, -1)


def _slices_last(array, lead=0):
    """A view of per-slice values laid out as the slices of :func:`_classes_first`.

    ``array`` has the input's shape without its class axis, after ``lead``
    other leading axes, which stay in front.
    """
    if array.ndim == lead:
        return array.reshape(array.shape + (1,))
    return np.moveaxis(array, lead, -1)


def _softmax_input(input, axis):
    """Validate ``input``; return it classes first (:func:`_classes_first`), its shape and dtype."""
    z, dtype = as_float64(input, "input")
    if z.ndim == 0:
        raise ValueError("input must have at least one dimension to take a softmax over")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an integer, got {axis!r}")
    if not -z.ndim <= axis < z.ndim:
        raise np.AxisError(axis, z.ndim)
    shape = np.moveaxis(z, axis, 0).shape
    if shape[0] == 0:
        raise ValueError(
            f"input must have at least one element along the softmax axis, got shape {z.shape}"
        )
    return _classes_first(z, axis), shape, dtype


def _output(shape):
    """An array for results of classes-first ``shape``, laid out with the classes last.

    Returns the array (shape ``shape[1:] + shape[:1]``, C-contiguous, as a caller
    expects from a softmax over the last axis) and its view laid out by
    :func:`_classes_first`, which :func:`_blockwise` fills.
    """
    rows = np.empty(shape[1:] + shape[:1])
    return rows, _classes_first(rows, -1)


def _restore(rows, axis, dtype):
    """The array made by :func:`_output`, with its classes moved to ``axis``, in ``dtype``."""
    return np.moveaxis(rows, -1, axis).astype(dtype, copy=False)


def softmax(input, axis=-1):
    r"""Softmax along ``axis``, free of overflow for any finite logits.

    .. math:: \operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}
        = \frac{e^{z_i - m}}{1 + \sum_{j \ne k} e^{z_j - m}},
        \quad m = z_k = \max_j z_j

    Accuracy: within 2 ulp. Each probability is computed as
    :math:`\exp(z_i - m - \log(1 + T))` with the exponent carried exactly.

    Parameters
    ----------
    input : array_like
        Logits of any shape with at least one dimension, float32 or float64.
    axis : int, default -1
        The axis the probabilities sum to 1 along (torch calls it ``dim``).

    Returns
    -------
    ndarray
        Probabilities, same shape and dtype as ``input``. Logits of ``-inf``
        get probability 0; a slice containing nan or ``+inf`` is all nan.

    Raises
    ------
    TypeError
        If ``input`` is not numeric.
    ValueError
        If ``input`` is a scalar or has no elements along ``axis``.
    TypeError
        If ``axis`` is not an integer.
    numpy.AxisError
        If ``axis`` is out of range (a ``ValueError`` and an ``IndexError``).
    """
    z, shape, dtype = _softmax_input(input, axis)
    rows, out = _output(shape)
    _blockwise(lambda block, work: _softmax_parts(block, work).softmax(), out, z)
    return _restore(rows, axis, dtype)


def log_softmax(input, axis=-1):
    r"""Logarithm of the softmax along ``axis``, accurate for any finite logits.

    .. math:: \log \operatorname{softmax}(z)_i = (z_i - m)
        - \log\Big(1 + \sum_{j \ne k} e^{z_j - m}\Big), \quad m = z_k = \max_j z_j

    Both terms are non-positive, so they never cancel. Accuracy: within 2 ulp.

    Parameters
    ----------
    input : array_like
        Logits of any shape with at least one dimension, float32 or float64.
    axis : int, default -1
        The axis to normalise along (torch calls it ``dim``).

    Returns
    -------
    ndarray
        Log-probabilities (all <= 0), same shape and dtype as ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not numeric.
    ValueError
        If ``input`` is a scalar or has no elements along ``axis``.
    TypeError
        If ``axis`` is not an integer.
    numpy.AxisError
        If ``axis`` is out of range (a ``ValueError`` and an ``IndexError``).
    """
    z, shape, dtype = _softmax_input(input, axis)
    rows, out = _output(shape)
    _blockwise(lambda block, work: _softmax_parts(block, work).negative_log_softmax(), out, z)
    return _restore(np.negative(rows, out=rows), axis, dtype)


def logsumexp(input, axis=-1):
    r"""Logarithm of the sum of exponentials along ``axis``, free of overflow.

    .. math:: \operatorname{logsumexp}(z) = \log \sum_j e^{z_j}
        = m + \log\Big(1 + \sum_{j \ne k} e^{z_j - m}\Big), \quad m = z_k = \max_j z_j

    Accuracy: within 2 ulp when :math:`m \ge 0` (both terms are
    non-negative). When :math:`m < 0` the two terms can cancel, and the error
    is then within 2 ulp of :math:`\max(|\mathrm{result}|, |m|)`.

    Parameters
    ----------
    input : array_like
        Values of any shape with at least one dimension, float32 or float64.
    axis : int, default -1
        The axis to reduce (torch calls it ``dim``).

    Returns
    -------
    ndarray
        ``input``'s shape without ``axis``, same dtype. A slice whose maximum
        is ``-inf`` or ``+inf`` gives that maximum, as in torch.

    Raises
    ------
    TypeError
        If ``input`` is not numeric.
    ValueError
        If ``input`` is a scalar or has no elements along ``axis``.
    TypeError
        If ``axis`` is not an integer.
    numpy.AxisError
        If ``axis`` is out of range (a ``ValueError`` and an ``IndexError``).
    """
    z, shape, dtype = _softmax_input(input, axis)
    result = np.empty(shape[1:])
    _blockwise(_logsumexp_of_block, _slices_last(result), z)
    return result.astype(dtype, copy=False)


def _logsumexp_of_block(z, work):
    """``m + L`` for each slice of a classes-first block; ``m`` itself where it is infinite."""
    parts = _softmax_parts(z, work)
    maximum = parts.maximum[0]
    normalizer = parts.log_normalizer[0] + parts.log_normalizer_error[0]
    return np.where(np.isinf(maximum), maximum, maximum + normalizer)

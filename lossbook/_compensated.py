"""Error-free transformations: floating-point sums together with their rounding error."""

import numpy as np


def two_sum(a, b):
    r"""Return ``fl(a + b)`` and the rounding error of that sum (Knuth's TwoSum).

    .. math:: s = \mathrm{fl}(a + b), \qquad s + e = a + b \ \text{exactly}

    Six floating-point operations recover the exact error ``e`` whatever the
    magnitudes of ``a`` and ``b`` (round-to-nearest, no overflow).

    Parameters
    ----------
    a, b : ndarray or float
        float64 operands; they broadcast against each other.

    Returns
    -------
    s : ndarray
        The rounded sum.
    e : ndarray
        Its rounding error. Where ``s`` is not finite there is no finite error
        to recover and ``e`` is 0 (``s`` itself stays inf or nan).
    """
    # An infinite operand or sum makes the error formula compute inf - inf;
    # that nan is replaced by 0 below, and a nan sum (from inf - inf in a + b)
    # is the answer torch gives too.
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    with np.errstate(invalid="ignore"):
        s = np.add(a, b, out=np.empty(shape))
        b_virtual = np.subtract(s, a, out=np.empty(shape))
        e = np.subtract(s, b_virtual, out=np.empty(shape))  # a_virtual
        e -= a  # -(a - a_virtual)
        b_virtual -= b  # -(b - b_virtual)
        e += b_virtual
        np.negative(e, out=e)
    undefined = np.isnan(e)
    if undefined.any():
        e[undefined] = 0.0
    return s, e


def fast_two_sum(a, b):
    r"""Return ``fl(a + b)`` and its rounding error, given :math:`|a| \ge |b|` (Dekker).

    .. math:: s = \mathrm{fl}(a + b), \qquad e = b - (s - a), \qquad s + e = a + b

    Nan propagates into ``s``; callers only use it where ``a`` and ``b`` are finite.
    """
    s = a + b
    return s, b - (s - a)


def accurate_sum(terms, high, estimate, relative_errors=None):
    r"""Sum non-negative ``terms`` over their first axis as ``hi + lo``, nearly exactly.

    .. math:: \mathrm{hi} + \mathrm{lo} = \sum_i t_i (1 + \delta_i)
        \quad \text{to a relative } 4 n^2 \varepsilon^2

    with :math:`n` the number of terms and :math:`\delta_i` the optional
    ``relative_errors`` (below 1e-13, say: the rounding errors of the terms,
    to be folded in). This is Rump, Ogita and Oishi's ExtractVector: with
    :math:`\sigma` a power of two at least twice the sum, :math:`q_i = (\sigma
    + t_i) - \sigma` rounds each term to a multiple of
    :math:`\mathrm{ulp}(\sigma)`, so the :math:`q_i` sum exactly in any
    order, and the remainders :math:`t_i - q_i` (exact, below
    :math:`\mathrm{ulp}(\sigma)/2`) are too small for their own rounding to
    matter. ``hi`` is therefore the correctly rounded sum, up to that bound.

    ``estimate`` is the plain sum over the first axis (with that axis kept,
    length 1), which the callers have already. ``terms`` is overwritten (with
    the remainders) and ``high``, of the same shape, is scratch: the sum runs
    in the caller's buffers. Both results keep the first axis with length 1.
    """
    _, exponent = np.frexp(estimate)
    sigma = np.ldexp(1.0, exponent + 1)  # a power of two >= 2 * estimate
    np.add(terms, sigma, out=high)
    np.subtract(high, sigma, out=high)
    np.subtract(terms, high, out=terms)  # the remainders, exact
    high_sum = np.add.reduce(high, axis=0, keepdims=True)
    if relative_errors is not None:
        # t * delta, with t's high part standing in for t: the difference is
        # below ulp(sigma) * delta, far under the bound above.
        np.multiply(high, relative_errors, out=high)
        np.add(terms, high, out=terms)
    return fast_two_sum(high_sum, np.add.reduce(terms, axis=0, keepdims=True))


def two_sum_into(a, b, high, low, work):
    r"""Knuth's TwoSum of two float64 arrays into preallocated arrays: ``high + low = a + b``.

    ``high``, ``low`` and ``work`` have the broadcast shape of ``a`` and ``b``
    and must not overlap them (``work`` is scratch). Six operations and no
    temporaries; unlike :func:`two_sum` the error is left nan where the sum
    is not finite, for callers whose operands keep it finite.
    """
    np.add(a, b, out=high)
    np.subtract(high, a, out=work)  # b_virtual
    np.subtract(high, work, out=low)  # a_virtual
    np.subtract(a, low, out=low)  # a - a_virtual
    np.subtract(b, work, out=work)  # b - b_virtual
    np.add(low, work, out=low)
    return high, low

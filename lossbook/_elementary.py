"""Elementary functions where numpy's own are not accurate enough for lossbook's 2-ulp claims."""

import decimal

import numpy as np

from ._reduction import staggered

# numpy >= 1.22 evaluates float64 log1p with vectorised AVX-512 kernels where the
# CPU has them. Measured against mpmath they are within 0.55 eps (eps = 2**-52)
# below 2**-6 and within 1 eps from 2**-4 up, but up to 1.9 eps at the bottom of
# [2**-6, 2**-5] and 1.3 eps up to 2**-4. With the error of an exp added, as in
# softplus's log1p(exp(-|z|)), that is up to 2.7 eps on the narrow band
# [2**-6, 1.5 * 2**-6] and 1.75 eps on the rest of the wide band [2**-6, 2**-4]
# (2 * 10**7 samples), 1.67 eps above it. The narrow band must be fixed for 2 ulp;
# the wide one too where a small term is added to the logarithm (a soft label's
# other term), whose rounding comes on top. On a band, lossbook moves the
# argument next to 0, where numpy's log1p is accurate.
_NARROW = (2.0**-6, 3 * 2.0**-7)
_WIDE = (2.0**-6, 2.0**-4)
_CENTRE = 5 * 2.0**-8
"""The middle of the narrow band: ``x - _CENTRE`` is exact on it and at most ``2**-8``."""
_ROUNDER = 1.5 * 2.0**45
"""``x + _ROUNDER`` rounds ``x`` (on the wide band) to a multiple of ``2**-7``, its spacing."""
_ROUNDER_BITS = int(np.float64(_ROUNDER).view(np.int64))


def _log1p_in_double_length(values):
    """``log1p`` of each of ``values`` (exact floats) as float64s ``high + low``, from decimal."""
    context = decimal.Context(prec=50)
    high, low = [], []
    for value in values:
        exact = context.ln(context.add(1, decimal.Decimal(value)))
        high.append(float(exact))
        low.append(float(context.subtract(exact, decimal.Decimal(high[-1]))))
    return np.array(high), np.array(low)


(_CENTRE_HIGH,), (_CENTRE_LOW,) = _log1p_in_double_length([_CENTRE])
_GRID_HIGH, _GRID_LOW = _log1p_in_double_length([k * 2.0**-7 for k in range(9)])


def _narrow_log1p(x):
    r"""``log1p`` of a float64 array whose values lie in the narrow band ``[2**-6, 1.5 * 2**-6]``.

    .. math:: \log(1 + x) = \log(1 + c) + \log\Big(1 + \frac{x - c}{1 + c}\Big),
        \qquad c = 5 \cdot 2^{-8}

    ``x - c`` is exact, :math:`|(x - c)/(1 + c)| < 2^{-8}`, where
    ``numpy.log1p`` is within 0.55 eps, and :math:`\log(1 + c)` is a
    double-length constant. The second term is at most about a quarter of
    the result, so the error is within 0.5 eps (the last addition) plus a
    quarter of 1.05 eps (the division and the small logarithm): 0.77 eps,
    and 0.67 eps measured. ``x`` is overwritten and returned.
    """
    x -= _CENTRE
    x /= 1.0 + _CENTRE
    np.log1p(x, out=x)
    x += _CENTRE_LOW
    x += _CENTRE_HIGH
    return x


def _wide_log1p(x):
    r"""``log1p`` of a float64 array whose values lie in the wide band ``[2**-6, 2**-4]``.

    As :func:`_narrow_log1p`, with ``c`` the multiple of ``2**-7`` nearest each
    value (so :math:`|(x - c)/(1 + c)| \le 2^{-8}` again) and
    :math:`\log(1 + c)` from a table: within 0.77 eps too (0.6 eps measured).
    ``x`` is overwritten and returned.
    """
    centre = np.add(x, _ROUNDER)
    k = centre.view(np.int64) - _ROUNDER_BITS
    centre -= _ROUNDER
    x -= centre
    centre += 1.0
    x /= centre
    np.log1p(x, out=x)
    x += _GRID_LOW[k]
    x += _GRID_HIGH[k]
    return x


class Band:
    """``log1p`` for kernels evaluated block by block, fixed on a band in reused scratch buffers.

    :func:`lossbook._reduction.elementwise` makes one for a kernel that takes
    it as its keyword argument ``band``; each call of :meth:`log1p` fixes the
    band of its block at once, while the block is in the CPU cache.
    """

    def __init__(self):
        self._masks = None

    def log1p(self, x, out, wide=False):
        """``out = log1p(x)`` for a block ``x`` (``out`` may be ``x``), on the narrow or wide band.

        The narrow band is enough where the result is used as it is, or next to
        a much larger term (``tail`` or ``tail + |z|``, when ``x = exp(-|z|)``);
        where a small term is added to it, and rounded, take the wide one.
        """
        (low, high), fix = (_WIDE, _wide_log1p) if wide else (_NARROW, _narrow_log1p)
        if self._masks is None or self._masks[0].size < x.size:
            self._masks = staggered("band", 2, x.size, dtype=bool)
        above, below = (mask[: x.size] for mask in self._masks)
        np.greater_equal(x, low, out=above)
        np.less_equal(x, high, out=below)
        np.logical_and(above, below, out=above)
        found = above.nonzero()[0]
        values = x[found]
        np.log1p(x, out=out)
        if found.size:
            out[found] = fix(values)
        return out


def log1p(x, out=None):
    r"""``log(1 + x)`` for a float64 array: ``numpy.log1p``, made accurate on a band of small ``x``.

    On the band :math:`2^{-6} \le x \le 2^{-4}`, where ``numpy.log1p`` can be off
    by almost 2 eps, the argument is moved next to 0 (see :func:`_wide_log1p`).
    ``out`` (which may be ``x``) receives the result, as for a ufunc.
    """
    x = np.asarray(x)
    low, high = _WIDE
    band = np.flatnonzero((x >= low) & (x <= high))
    xb = x.take(band)
    result = np.log1p(x, out=np.empty_like(x) if out is None else out)
    if band.size:
        result.put(band, _wide_log1p(xb))
    return result


def product(*factors, exponent=0):
    r"""The product of float64 arrays (or numbers) without intermediate overflow or underflow.

    .. math:: \prod_i f_i = \Big(\prod_i m_i\Big)\, 2^{\sum_i e_i},
        \qquad f_i = m_i 2^{e_i},\ \tfrac12 \le |m_i| < 1

    Each factor is split by ``numpy.frexp``; the mantissas are multiplied (one
    rounding each, and no overflow or underflow for fewer than a thousand
    factors) and the exponents added exactly, and ``numpy.ldexp`` scales the
    result once. So the product is inf or 0 only where the exact product lies
    outside float64's range. ``0 * inf`` and nan give nan, as in IEEE
    arithmetic. The error is at most half an ulp per factor after the first
    (more only where the result is subnormal). The product is further scaled
    by ``2**exponent``, exactly.
    """
    mantissa, exponents = np.frexp(factors[0])
    mantissa = np.array(mantissa, dtype=np.float64)
    exponents = np.array(exponents, dtype=np.int64) + exponent
    for factor in factors[1:]:
        m, e = np.frexp(factor)
        mantissa = mantissa * m
        exponents = exponents + e
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(mantissa, exponents)

"""Elementary functions where numpy's own are not accurate enough for lossbook's 2-ulp claims."""

import decimal

import numpy as np

from ._reduction import staggered

# numpy >= 1.22 evaluates float64 log1p with vectorised AVX-512 kernels where the
# CPU has them. Measured against mpmath they are within 0.55 eps (eps = 2**-52)
# below 2**-6 and within 1.3 eps elsewhere, except at the bottom of [2**-6, 2**-5],
# where they reach 1.9 eps: too much to stay within 2 ulp once the error of an exp
# is added, as in softplus, where log1p(exp(-|z|)) is then off by up to 2.7 eps.
# Outside the band [2**-6, 1.5 * 2**-6] that composite error stays within 1.75
# eps (2 * 10**7 samples); on the band lossbook moves the argument next to 0,
# where numpy's log1p is accurate.
_BAND = (2.0**-6, 3 * 2.0**-7)
_CENTRE = 5 * 2.0**-8
"""The middle of the band: ``x - _CENTRE`` is exact on it and at most ``2**-8`` in size."""


def _log1p_of_centre():
    """``log1p(_CENTRE)`` as float64s ``high + low`` (106 bits), from 50 decimal digits."""
    context = decimal.Context(prec=50)
    value = context.ln(context.add(1, decimal.Decimal(_CENTRE)))
    high = float(value)
    return high, float(context.subtract(value, decimal.Decimal(high)))


_CENTRE_HIGH, _CENTRE_LOW = _log1p_of_centre()


def _band_log1p(x):
    r"""``log1p`` of a float64 array whose values lie in the band ``[2**-6, 1.5 * 2**-6]``.

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


class Band:
    """``log1p`` for kernels evaluated block by block: :func:`log1p` in reused scratch buffers.

    :func:`lossbook._reduction.elementwise` makes one for a kernel that takes
    it as its keyword argument ``band``; each call of :meth:`log1p` fixes the
    band of its block at once, while the block is in the CPU cache.
    """

    def log1p(self, x, out):
        """``out = log1p(x)`` for a block ``x`` (``out`` may be ``x``)."""
        low, high = staggered("band", 2, x.size, dtype=bool)
        np.greater_equal(x, _BAND[0], out=low)
        np.less_equal(x, _BAND[1], out=high)
        np.logical_and(low, high, out=low)
        found = low.nonzero()[0]
        values = x[found]
        np.log1p(x, out=out)
        if found.size:
            out[found] = _band_log1p(values)
        return out


def log1p(x, out=None):
    r"""``log(1 + x)`` for a float64 array: ``numpy.log1p``, made accurate on a band of small ``x``.

    On the band :math:`2^{-6} \le x \le 1.5 \cdot 2^{-6}`, where ``numpy.log1p`` can be
    off by almost 2 eps, the argument is moved next to 0 (see :func:`_band_log1p`).
    ``out`` (which may be ``x``) receives the result, as for a ufunc.
    """
    x = np.asarray(x)
    low, high = _BAND
    band = np.flatnonzero((x >= low) & (x <= high))
    xb = x.take(band)
    result = np.log1p(x, out=np.empty_like(x) if out is None else out)
    if band.size:
        result.put(band, _band_log1p(xb))
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

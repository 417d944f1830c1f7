"""Elementary functions where numpy's own are not accurate enough for lossbook's 2-ulp claims."""

import numpy as np

from ._reduction import staggered

# numpy >= 1.22 evaluates float64 log1p with vectorised AVX-512 kernels where the
# CPU has them. Measured against mpmath they are within 0.55 eps (eps = 2**-52)
# for |x| < 2**-6, within 1.3 eps for negative x and above 2**-4, but up to
# 1.8 eps on [2**-6, 2**-5]: too much to stay within 2 ulp once the error of an
# exp is added, as in softplus. On [2**-7, 2**-4] lossbook sums the Taylor
# series instead.
_SERIES_BAND = (2.0**-7, 2.0**-4)
# log1p(x) = x + x**2 * P(x) with P(x) = sum_{k>=2} (-1)**(k+1) x**(k-2) / k.
# These are its coefficients from k = 13 down to k = 2 (Horner order); on the
# band the first term left out, x**14 / 14, is below 2**-58 of the result.
_SERIES_COEFFICIENTS = tuple((-1.0) ** (k + 1) / k for k in range(13, 1, -1))


def _series(x):
    """The Taylor series of ``log1p`` on the band (see :func:`log1p`), for a float64 array."""
    series = np.full_like(x, _SERIES_COEFFICIENTS[0])
    for coefficient in _SERIES_COEFFICIENTS[1:]:
        series *= x
        series += coefficient
    series *= x
    series *= x
    series += x
    return series


class Band:
    """``log1p`` for kernels evaluated block by block, with the band's fix deferred.

    The arguments that fall in the band of :func:`log1p` are few (about 0.6%
    of ``exp(-|z|)`` for standard normal ``z``) but turn up in almost every
    block, and the series costs a dozen numpy calls whatever its length. So
    :meth:`log1p` takes ``numpy.log1p`` and notes in ``found`` where the
    block's arguments lie in the band; :func:`lossbook._reduction.elementwise`
    then evaluates the kernel once more, with ``exact`` set (and :func:`log1p`
    used), on all the elements noted.
    """

    def __init__(self):
        self.exact = False
        self.found = None

    def log1p(self, x, out):
        """``out = log1p(x)``: exactly with ``exact`` set, else numpy's, noting the band."""
        if self.exact:
            return log1p(x, out=out)
        np.log1p(x, out=out)
        low, high = staggered("band", 2, x.size, dtype=bool)
        np.greater_equal(x, _SERIES_BAND[0], out=low)
        np.less_equal(x, _SERIES_BAND[1], out=high)
        np.logical_and(low, high, out=low)
        found = low.nonzero()[0]
        self.found = found if found.size else None
        return out


def log1p(x, out=None):
    r"""``log(1 + x)`` for a float64 array: ``numpy.log1p``, made accurate on a band of small ``x``.

    .. math:: \log(1 + x) = x + x^2 \sum_{k \ge 2} \frac{(-1)^{k+1} x^{k-2}}{k}
        \quad \text{for } 2^{-7} \le x \le 2^{-4}

    and ``numpy.log1p`` elsewhere. On the band the series' last addition is
    the only rounding that matters, since :math:`x^2 P(x)` is at most 1/32 of
    the result: the error is within 0.6 eps. ``out`` (which may be ``x``)
    receives the result, as for a ufunc.
    """
    x = np.asarray(x)
    low, high = _SERIES_BAND
    band = np.flatnonzero((x >= low) & (x <= high))
    xb = x.take(band)
    result = np.log1p(x, out=np.empty_like(x) if out is None else out)
    if band.size:
        result.put(band, _series(xb))
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

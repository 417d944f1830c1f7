"""Elementary functions where numpy's own are not accurate enough for lossbook's 2-ulp claims."""

import numpy as np

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
        series = np.full_like(xb, _SERIES_COEFFICIENTS[0])
        for coefficient in _SERIES_COEFFICIENTS[1:]:
            series *= xb
            series += coefficient
        series *= xb
        series *= xb
        series += xb
        result.put(band, series)
    return result

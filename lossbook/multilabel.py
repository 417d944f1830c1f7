r"""Multi-label classification losses and their gradients with respect to ``input``.

In multi-label classification a sample may belong to any number of its ``C``
classes at once. ``input`` holds one score per class, with the classes along
the last axis as in torch, and each loss averages over the classes, giving one
loss per sample before ``reduction``: ``"none"`` returns those losses,
``"mean"`` (the default) their mean over the samples and ``"sum"`` their sum.
Each ``*_grad`` function returns the derivative of the reduced loss with
respect to ``input``, shaped like ``input``; for ``reduction="none"`` it is the
gradient of the sum of the per-sample losses.

The two losses take their targets in different forms: a 0/1 indicator per
class for :func:`multilabel_soft_margin_loss`, and a list of class indices
padded with -1 for :func:`multilabel_margin_loss`.
"""

import math

import numpy as np

from ._compensated import accurate_sum, two_sum
from ._reduction import SCALE, check_reduction, reduce, staggered
from ._validation import _as_array, as_float64
from .classification import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
)


_LARGE = 2.0**1000
"""Sums above this are taken scaled by ``2**-SCALE`` (``accurate_sum``'s power of two must fit)."""


def _class_input(input):
    """Validate the scores of :func:`multilabel_soft_margin_loss`: classes on the last axis."""
    x, dtype = as_float64(input, "input")
    if x.ndim == 0:
        raise ValueError(
            "input must have a class axis (its last), shape (C,) or (N, C); got a scalar"
        )
    return x, dtype


_U = 2.0**-53
"""The unit roundoff: a rounded float64 operation errs by at most ``_U`` times its result."""
_BLOCK = 32768
"""Elements per block of :func:`_class_sums` (256 KiB a buffer)."""
_SIGMA_POWERS = (-960, 1000)
"""The exponents of the powers of two :func:`_class_sums` extracts on."""


def _class_sums(terms):
    r"""Each row's sum over the last axis of ``(N, C)`` float64 ``terms``, fast, and where it is proven.

    In each block of rows, :math:`\sigma` is a power of two with :math:`\sigma
    \ge 2 C \max|t|`; :math:`q = (\sigma + t) - \sigma` and :math:`r = t - q`
    are exact, the :math:`q` are multiples of :math:`2^{-53}\sigma` whose
    partial sums stay below :math:`\sigma`, so their row sums (by BLAS) are
    exact, and the plain row sums of the :math:`|r| \le 2^{-53}\sigma` err by
    at most :math:`E = 1.01 C^2 u^2 \sigma`. The row's sum, ``fl(high +
    low)``, is therefore within half an ulp plus :math:`E` of the exact sum,
    as :func:`lossbook._compensated.accurate_sum` gives; a row is proven where
    :math:`E \le 2^{-20} u` times that sum's magnitude (at most the sum of
    the terms' magnitudes). Blocks with inf or nan, or extreme magnitudes,
    are not proven.
    """
    rows, classes = terms.shape
    step = max(1, _BLOCK // classes)
    sums, proven = np.empty(rows), np.zeros(rows, dtype=bool)
    low = np.empty(min(rows, step))
    buffer = np.empty((min(rows, step), classes))
    ones = np.ones(classes)
    with np.errstate(all="ignore"):
        for start in range(0, rows, step):
            stop = min(start + step, rows)
            block, q, rest = terms[start:stop], buffer[:stop - start], low[:stop - start]
            top = max(float(np.maximum.reduce(block, axis=None)),
                      -float(np.minimum.reduce(block, axis=None)))
            reach = 2.0 * classes * top  # inf or nan: the careful path
            power = math.frexp(reach)[1] if reach > 0.0 else -1074
            if not (math.isfinite(reach) and power <= _SIGMA_POWERS[1]):
                continue
            sigma = math.ldexp(1.0, max(power, _SIGMA_POWERS[0]))
            np.add(block, sigma, out=q)
            q -= sigma
            np.dot(q, ones, out=sums[start:stop])
            np.subtract(block, q, out=q)
            np.dot(q, ones, out=rest)
            sums[start:stop] += rest
            bound = 1.01 * classes * classes * _U * _U * sigma / (2.0**-20 * _U)
            np.less_equal(bound, np.abs(sums[start:stop]), out=proven[start:stop])
    return sums, proven


def _class_mean(terms):
    """The mean over the last axis of float64 ``terms``, from a sum that is nearly exact.

    The sum of each slice is Rump, Ogita and Oishi's ``accurate_sum`` with the
    terms' magnitudes as its estimate, which keeps the extraction exact for
    terms of either sign (a negative class weight): the total is within a
    rounding of the exact sum, or of the sum of the terms' magnitudes where
    they cancel. A slice of finite terms whose magnitudes add up to more than
    ``_LARGE`` (``accurate_sum`` needs a power of two above twice the sum) is
    summed scaled by ``2**-SCALE``. A slice with an infinite or nan term gets
    the plain sum (inf or nan). The result has the shape of ``terms`` without
    its last axis; with no classes it is nan (0/0), as in torch.
    """
    classes = terms.shape[-1]
    if not (classes and terms.size):
        return _careful_class_mean(terms)
    flat = terms.reshape(-1, classes)
    means, proven = _class_sums(flat)  # sums, first; rows the fast sums prove
    with np.errstate(all="ignore"):
        np.divide(means, classes, out=means)
    if not proven.all():
        rest = np.flatnonzero(~proven)
        means[rest] = _careful_class_mean(flat[rest])
    return means.reshape(terms.shape[:-1])


def _careful_class_mean(terms):
    """:func:`_class_mean` by ``accurate_sum``, sample by sample (see there).

    The fast path (:func:`_class_sums`) gives the same bound where it proves
    it; the rows it does not prove, and arrays without rows or classes, come here.
    """
    classes = terms.shape[-1]
    rows = np.moveaxis(terms, -1, 0).reshape(classes, math.prod(terms.shape[:-1]))  # a copy
    with np.errstate(all="ignore"):
        sums = np.add.reduce(rows, axis=0)
        if classes:
            magnitudes = np.add.reduce(np.absolute(rows), axis=0)
            scaled = (magnitudes > _LARGE) & np.isfinite(rows).all(axis=0)
            if scaled.any():
                rows[:, scaled] = np.ldexp(rows[:, scaled], -SCALE)
                magnitudes[scaled] = np.add.reduce(np.absolute(rows[:, scaled]), axis=0)
            careful = np.isfinite(magnitudes)
            if careful.any():
                chosen = rows[:, careful]
                total, _ = accurate_sum(chosen, np.empty_like(chosen),
                                        magnitudes[careful][None, :])
                sums[careful] = total[0]
        means = np.divide(sums, classes)
        if classes and scaled.any():
            means[scaled] = np.ldexp(means[scaled], SCALE)
    return means.reshape(terms.shape[:-1])


def multilabel_soft_margin_loss(input, target, *, weight=None, reduction="mean"):
    r"""Multi-label soft-margin loss: the per-class logistic loss, averaged over the classes.

    .. math:: \ell_n = \frac{1}{C} \sum_{c=1}^{C} w_c \left[
        y_{n,c} \operatorname{softplus}(-x_{n,c})
        + (1 - y_{n,c}) \operatorname{softplus}(x_{n,c}) \right]

    with :math:`\operatorname{softplus}(z) = \log(1 + e^{z}) = -\log\sigma(-z)`:
    torch's :math:`-[y \log\sigma(x) + (1 - y)\log\sigma(-x)]` for each class,
    times the class weight, summed over the classes and divided by their
    number :math:`C`. ``"mean"`` then averages over the samples (the weights do
    not enter the divisor) and ``"sum"`` adds the samples up. It is
    :func:`~lossbook.classification.binary_cross_entropy_with_logits` of each class, averaged
    per sample, and mxnet gluon's ``SigmoidBCELoss`` computes the same per-sample
    losses on ``(N, C)`` input.

    Each class term is evaluated with the stable softplus of
    :func:`~lossbook.classification.binary_cross_entropy_with_logits` (within 2 ulp, so a
    confident correct logit of 40 keeps its loss of about :math:`e^{-40}`
    exactly), and the terms of a sample are summed nearly exactly. Accuracy:
    each per-sample loss within 2 ulp; with negative weights, whose terms
    cancel, within 2 ulp of :math:`\frac1C \sum_c |w_c| (\ldots)`, the sum of
    the terms' magnitudes. An infinite logit on the right side of its target
    costs 0 (torch's arithmetic gives ``0 * inf = nan`` there).

    Parameters
    ----------
    input : array_like
        Logits :math:`x`, shape ``(C,)`` or ``(N, C)`` (more leading axes are
        allowed, as in torch: the classes are always the last axis); float32
        or float64.
    target : array_like
        Targets :math:`y`, same shape as ``input``: 1 where the sample has the
        class and 0 where it does not (probabilities in [0, 1] are accepted
        too, as soft labels).
    weight : array_like, optional
        Class weights :math:`w`, shape ``(C,)``, or any shape that broadcasts
        to ``input``'s (torch multiplies the elementwise losses by it).
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        For ``"none"`` one loss per sample, shape ``input.shape[:-1]``
        (``(N,)``, or 0-d for ``(C,)`` input); else their mean or sum. In
        ``input``'s dtype. No classes (``C = 0``) gives nan, 0/0, as in torch.

    Raises
    ------
    TypeError
        If an array argument is not numeric.
    ValueError
        If ``input`` is a scalar, ``target`` does not have ``input``'s shape,
        ``weight`` does not broadcast to it, a target lies outside [0, 1], or
        ``reduction`` is unknown.

    Examples
    --------
    A sample with classes 0 and 2 of three, and logits 0, 0, 0: each class
    costs :math:`\log 2`, and so does their mean.

    >>> import lossbook as lb
    >>> float(lb.multilabel_soft_margin_loss([[0.0, 0.0, 0.0]], [[1, 0, 1]]))
    0.6931471805599453
    """
    x, dtype = _class_input(input)
    check_reduction(reduction)
    terms = binary_cross_entropy_with_logits(x, target, weight=weight, reduction="none")
    return reduce(_class_mean(terms), reduction, dtype)


def multilabel_soft_margin_loss_grad(input, target, *, weight=None, reduction="mean"):
    r"""Gradient of :func:`multilabel_soft_margin_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_n}{\partial x_{n,c}}
        = \frac{w_c}{C} \left(\sigma(x_{n,c}) - y_{n,c}\right)

    divided further by the number of samples for ``"mean"``. Parameters and
    errors are those of :func:`multilabel_soft_margin_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.multilabel_soft_margin_loss_grad([[0.0, 0.0]], [[1, 0]]).tolist()
    [[-0.25, 0.25]]
    """
    x, dtype = _class_input(input)
    check_reduction(reduction)
    gradient = binary_cross_entropy_with_logits_grad(x, target, weight=weight, reduction="none")
    divisor = x.shape[-1] * (math.prod(x.shape[:-1]) if reduction == "mean" else 1)
    with np.errstate(all="ignore"):
        return np.divide(gradient, divisor).astype(dtype, copy=False)


def _margin_operands(input, target, reduction):
    """Validate the arguments of :func:`multilabel_margin_loss`.

    Returns the scores as float64 ``(samples, C)``, the targets as int64 of the
    same shape, the shape of the per-sample losses and the result dtype.
    """
    x, dtype = as_float64(input, "input")
    check_reduction(reduction)
    if x.ndim > 2 or (x.ndim >= 1 and x.shape[-1] == 0):
        raise ValueError(
            "input must be a scalar, a vector (C,) or a matrix (N, C) with at least one "
            f"class, as in torch; got shape {x.shape}"
        )
    y = _as_array(target, "target")
    if y.dtype.kind not in "iu":
        raise TypeError(
            "target must hold integer class indices (padded with -1), "
            f"got dtype {y.dtype}"
        )
    if y.shape != x.shape:
        raise ValueError(f"target must have the input shape {x.shape}, got shape {y.shape}")
    classes = x.shape[-1] if x.ndim else 1
    if y.size and not (y.min() >= -1 and y.max() < classes):
        wrong = (y < -1) | (y >= classes)
        raise ValueError(
            f"target holds {y[wrong].flat[0]!r}, outside [-1, {classes - 1}]: it must hold "
            f"class indices of {classes} classes, padded with -1"
        )
    samples = x.shape[0] if x.ndim == 2 else 1
    return (x.reshape(samples, classes), y.astype(np.int64).reshape(samples, classes),
            x.shape[:1] if x.ndim == 2 else (), dtype)


class _Targets:
    """The targets of :func:`multilabel_margin_loss` for ``(samples, C)`` class indices ``y``.

    A row's targets are its entries before its first -1; the rest is padding.
    """

    def __init__(self, y):
        self.indices = y
        self.listed = np.logical_and.accumulate(y >= 0, axis=1)
        """Where ``y`` lists a target (before the row's first -1)."""
        self.is_target = np.zeros(y.shape, dtype=bool)
        rows = np.broadcast_to(np.arange(y.shape[0])[:, None], y.shape)
        self.is_target[rows[self.listed], y[self.listed]] = True

    def positions(self):
        """For each position ``j`` that some row lists: the rows listing it and their targets."""
        for j in range(self.indices.shape[1]):
            rows = np.flatnonzero(self.listed[:, j])
            if not rows.size:
                return
            yield rows, self.indices[rows, j]


def _hinges(x, rows, targets, is_target, scale):
    r"""``max(0, 1 - x[n, y] + x[n, i])`` for the listed rows against every non-target ``i``.

    Times ``2**-scale``. The three-term sum is carried as TwoSums:
    :math:`s_1 + e_1 = 1 - x_y` and :math:`s_2 + e_2 = s_1 + x_i` exactly, then
    :math:`s_2 + (e_1 + e_2)`. Where :math:`s_2` is tiny against :math:`s_1`
    (the only way the terms cancel), Sterbenz's lemma makes :math:`e_2 = 0` and
    the value is correctly rounded; elsewhere the error is of order
    :math:`\varepsilon^2`. So each hinge, and its sign (which decides the
    kink), is right. Targets and rows not listed give 0; nan stays nan.
    """
    one = math.ldexp(1.0, -scale)
    block = np.ldexp(x[rows], -scale) if scale else x[rows]
    picked = block[np.arange(rows.size), targets]
    with np.errstate(over="ignore", invalid="ignore"):
        first, first_error = two_sum(one, -picked)
        second, second_error = two_sum(first[:, None], block)
        second_error += first_error[:, None]
        second += second_error
        hinge = np.maximum(second, 0.0, out=second)
    hinge[is_target[rows]] = 0.0
    return hinge


def _margin_totals(x, targets, scale=0):
    """Each row's sum of hinges over its listed targets and its non-targets, times ``2**-scale``.

    The hinges of one listed position are summed nearly exactly
    (``accurate_sum``, non-negative terms) and the positions' sums added with
    a TwoSum, so the total is within a rounding of the exact sum. A row whose
    hinges add up to more than ``_LARGE`` (or to inf or nan) gets the plain
    sum: :func:`multilabel_margin_loss` sums it again, scaled.
    """
    total = np.zeros(x.shape[0])
    error = np.zeros(x.shape[0])
    for rows, picked in targets.positions():
        hinges = _hinges(x, rows, picked, targets.is_target, scale)
        with np.errstate(all="ignore"):
            plain = np.add.reduce(hinges, axis=1)
        careful = plain <= _LARGE
        sums = plain
        if careful.any():
            terms = np.ascontiguousarray(hinges[careful].T)
            high, low = accurate_sum(terms, np.empty_like(terms), plain[careful][None, :])
            sums = plain.copy()
            sums[careful] = high[0]
            error[rows[careful]] += low[0]
        with np.errstate(over="ignore", invalid="ignore"):
            total[rows], carry = two_sum(total[rows], sums)
        error[rows] += carry
    with np.errstate(invalid="ignore"):
        return total + error


def multilabel_margin_loss(input, target, *, reduction="mean"):
    r"""Multi-label hinge loss between each target class and each non-target class.

    .. math:: \ell_n = \frac{1}{C} \sum_{j} \sum_{i \notin Y_n}
        \max\left(0, \; 1 - (x_{n, y_{n,j}} - x_{n,i})\right)

    where :math:`y_{n,j}` runs over the class indices that ``target``'s row
    lists before its first -1, and :math:`Y_n` is the set of them: each target
    class should score at least 1 above each non-target class. As in torch,
    entries after the first -1 are ignored, and a class listed twice is counted
    twice in the sum (and once in :math:`Y_n`). ``"mean"`` averages over the
    samples.

    Accuracy: each per-sample loss within 2 ulp. Each hinge
    :math:`1 - x_y + x_i` is computed with its rounding errors carried, so its
    sign (which decides whether the pair counts) is exact and its value
    correctly rounded where its terms cancel. torch rounds
    :math:`1 - x_y` first, which can drop a pair whose hinge is tiny but
    positive (or, for :math:`|x| > 2^{53}`, a hinge of 1), so for such inputs
    the two differ. nan in a score makes the losses it enters nan; torch
    skips the pairs whose hinge is nan instead.

    Parameters
    ----------
    input : array_like
        Scores :math:`x`, shape ``(C,)`` or ``(N, C)`` (or a scalar, one class),
        float32 or float64, with at least one class.
    target : array_like
        Integer class indices of ``input``'s shape: each row lists its target
        classes first, then -1, then anything in [-1, C) (ignored).
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        For ``"none"`` one loss per sample: shape ``(N,)`` for ``(N, C)``
        input, 0-d for a vector or a scalar. Else their mean (nan for ``N = 0``;
        torch returns an uninitialised number there) or sum. In ``input``'s
        dtype.

    Raises
    ------
    TypeError
        If ``input`` is not numeric or ``target`` is not an integer array.
    ValueError
        If ``input`` has more than two axes or no classes, ``target`` does not
        have its shape or holds an index outside [-1, C), or ``reduction`` is
        unknown.

    Examples
    --------
    torch's documented example: targets 3 and 0 against non-targets 1 and 2
    give the hinges 1 - 0.8 + 0.2 = 0.4 and 0.6 (class 3) and 1.1 and 1.3
    (class 0), which add up to 3.4; over C = 4 classes that is 0.85, up to the
    rounding of the decimal scores.

    >>> import lossbook as lb
    >>> x = [[0.1, 0.2, 0.4, 0.8]]
    >>> round(float(lb.multilabel_margin_loss(x, [[3, 0, -1, 1]])), 12)
    0.85
    """
    x, y, shape, dtype = _margin_operands(input, target, reduction)
    losses, proven = _fast_margin_losses(x, y)
    if not proven.all():
        rows = np.flatnonzero(~proven)
        losses[rows] = _careful_margin_losses(x[rows], y[rows])
    return reduce(losses.reshape(shape), reduction, dtype)


def _careful_margin_losses(x, y):
    """The per-sample losses of :func:`multilabel_margin_loss`, position by position (see there)."""
    targets = _Targets(y)
    classes = x.shape[1]
    totals = _margin_totals(x, targets)
    with np.errstate(invalid="ignore"):
        large = (totals > _LARGE) & np.isfinite(x).all(axis=1)
    if large.any():
        # Hinges (or their sum) near or above float64's range, from finite scores: sum scaled.
        again = np.flatnonzero(large)
        scaled = _margin_totals(x[again], _Targets(y[again]), SCALE)
        totals[again] = scaled
    with np.errstate(all="ignore"):
        losses = totals / classes
        if large.any():
            losses[again] = np.ldexp(losses[again], SCALE)
    return losses


_FAST_SCORES = 2.0**900
"""Rows with a score beyond this (or not finite) take the careful path."""


def _fast_margin_losses(x, y):
    r"""The per-sample losses of :func:`multilabel_margin_loss` for all pairs at once, and which are proven.

    Every (sample, listed target) pair is a row of hinges against the
    sample's classes, computed as :func:`_hinges` does (so each hinge and its
    sign are the same), in chunks of samples. A chunk's hinges are extracted
    on one power of two :math:`\sigma \ge 2 C^2 \max h` (Rump, Ogita and
    Oishi): the extracted parts, multiples of :math:`2^{-53}\sigma`, add up
    exactly whatever the order, over a pair's classes (BLAS) and then over a
    sample's pairs (``numpy.add.reduceat``), since a sample's at most
    :math:`C^2` hinges sum below :math:`\sigma/2`; the remainders, below
    :math:`u\sigma`, add up with an error below :math:`E = 1.01 C^4 u^2
    \sigma`. So each sample's total is within :math:`E` of exact before its
    rounding, as the careful path's; a sample is proven where :math:`E \le
    2^{-20} u` times its total (or the total is 0: every hinge is 0). The
    samples of a chunk with a score beyond ``_FAST_SCORES`` or not finite are
    not proven (elsewhere :math:`\sigma` stays below :math:`2^{1000}`).
    """
    samples, classes = x.shape
    listed = np.logical_and.accumulate(y >= 0, axis=1)
    counts = np.add.reduce(listed, axis=1)
    losses, proven = np.zeros(samples), np.zeros(samples, dtype=bool)
    step = max(1, 2 * _BLOCK // (classes * classes))
    buffers = [buffer.reshape(-1, classes) for buffer in
               staggered("multilabel", 5, min(samples, step) * classes * classes)]
    buffers[4][...] = 0.0
    ones = np.ones(classes)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, samples, step):
            stop = min(start + step, samples)
            chunk = slice(start, stop)
            top = max(float(np.maximum.reduce(x[chunk], axis=None)),
                      -float(np.minimum.reduce(x[chunk], axis=None)))
            if not (top <= _FAST_SCORES and classes < 2**40):  # nan too; 2 C^2 max(h) < 2**1000
                continue
            pairs = np.add.reduce(counts[chunk])
            if not pairs:
                proven[chunk] = True
                continue
            rows = np.repeat(np.arange(stop - start), counts[chunk])
            picked = y[chunk][listed[chunk]]
            scores, wide, second, others, zeros = (buffer[:pairs] for buffer in buffers)
            x[chunk].take(rows, axis=0, out=scores)
            hinge = _pair_hinges(scores, scores[np.arange(pairs), picked], wide, second, zeros)
            mask = np.ones((stop - start, classes))
            mask[rows, picked] = 0.0
            hinge *= mask.take(rows, axis=0, out=others)  # the targets' own hinges drop out
            reach = 2.0 * classes * classes * float(np.maximum.reduce(hinge, axis=None))
            power = math.frexp(reach)[1] if reach > 0.0 else -1074
            sigma = math.ldexp(1.0, max(power, _SIGMA_POWERS[0]))  # <= 2**1000: |x| <= 2**900
            high = np.add(hinge, sigma, out=scores)
            high -= sigma
            hinge -= high  # the remainders
            sums = np.empty((2, pairs))
            np.dot(high, ones, out=sums[0])
            np.dot(hinge, ones, out=sums[1])
            first = np.flatnonzero(counts[chunk])
            totals = np.zeros((2, stop - start))
            totals[:, first] = np.add.reduceat(sums, (np.cumsum(counts[chunk]) - counts[chunk])[first],
                                               axis=1)
            total = totals[0] + totals[1]
            bound = 1.01 * classes**4 * _U * _U * sigma / (2.0**-20 * _U)
            proven[chunk] = (bound <= total) | (total == 0.0)  # 0: every hinge is 0, exactly
            losses[chunk] = total / classes
    return losses, proven


def _pair_hinges(scores, picked, wide, second, zeros):
    """``max(0, 1 - picked + scores)`` row by row, as in :func:`_hinges` (targets included).

    The TwoSums of :func:`_hinges` on ``(P, C)`` scores and ``P`` picked
    scores, a pair's ``1 - picked`` repeated along its row. ``scores`` is
    overwritten, ``wide`` is scratch, ``zeros`` holds zeros (numpy's maximum
    against an array is several times faster than against a scalar), and the
    result is ``second``.
    """
    first = 1.0 - picked  # TwoSum(1, -picked): first + first_error
    virtual = first - 1.0
    first_error = (1.0 - (first - virtual)) - (picked + virtual)
    np.copyto(wide, first[:, None])  # repeated along the row once: plain operations after
    np.add(scores, wide, out=second)  # TwoSum(first, scores): second + error
    np.subtract(second, wide, out=wide)  # the virtual score
    scores -= wide
    np.subtract(second, wide, out=wide)
    np.subtract(first[:, None], wide, out=wide)
    wide += scores  # the error
    wide += first_error[:, None]
    second += wide
    return np.maximum(second, zeros, out=second)


def multilabel_margin_loss_grad(input, target, *, reduction="mean"):
    r"""Gradient of :func:`multilabel_margin_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_n}{\partial x_{n,i}} = \frac{1}{C} \Big(
        \#\{j : h_{n,j,i} > 0\} [i \notin Y_n]
        - \sum_{j : y_{n,j} = i} \#\{i' \notin Y_n : h_{n,j,i'} > 0\} \Big)

    with :math:`h_{n,j,i} = 1 - x_{n,y_{n,j}} + x_{n,i}` the hinge of a pair:
    each active pair adds :math:`1/C` to its non-target's score and takes
    :math:`1/C` from its target's, divided further by the number of samples
    for ``"mean"``. At the kink (:math:`h = 0`) the pair contributes 0, as in
    torch (which counts a pair only where :math:`h > 0`). A pair whose hinge is
    nan makes the gradient of both its scores nan. Parameters and errors are
    those of :func:`multilabel_margin_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.multilabel_margin_loss_grad([0.1, 0.2, 0.4, 0.8], [3, 0, -1, 1]).tolist()
    [-0.5, 0.5, 0.5, -0.5]
    """
    x, y, _, dtype = _margin_operands(input, target, reduction)
    targets = _Targets(y)
    samples, classes = x.shape
    counts = np.zeros(x.shape)
    for rows, picked in targets.positions():
        hinges = _hinges(x, rows, picked, targets.is_target, 0)
        with np.errstate(invalid="ignore"):
            active = np.greater(hinges, 0.0)
        undefined = np.isnan(hinges)
        pairs = np.where(undefined, np.nan, active)
        counts[rows] += pairs
        counts[rows, picked] -= np.add.reduce(pairs, axis=1)
    divisor = classes * (samples if reduction == "mean" else 1)
    with np.errstate(all="ignore"):
        return np.divide(counts, divisor).reshape(np.shape(input)).astype(dtype, copy=False)

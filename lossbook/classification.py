"""Classification losses and their gradients with respect to ``input``.

Binary losses compare ``input`` (probabilities or logits) with a ``target`` of
the same shape. Multi-class losses take ``input`` of shape ``(C,)``,
``(N, C)`` or ``(N, C, d1, ...)`` with the classes along axis 1 (axis 0 for
an unbatched ``(C,)``), as in torch. Each ``*_grad`` function returns the
derivative of the reduced loss with respect to ``input``, shaped like
``input``; for ``reduction="none"`` it is the gradient of the sum of the losses.

A target probability of 0 switches its term off: :math:`0 \\cdot \\log 0` is
taken to be 0, the limit, as in the definition of entropy. So does a weight of
0, and either does so even against an infinite term (a logit of ``-inf``, a
prediction of exactly 0 or 1), where torch's arithmetic says ``0 * inf = nan``.
nan in any argument still propagates to the losses it enters.
"""

from typing import NamedTuple, Optional

import numpy as np

from ._compensated import accurate_sum
from ._elementary import log1p
from ._elementary import Band, product
from ._reduction import (
    REDUCTIONS,
    Total,
    check_reduction,
    constant,
    elementwise,
    finish,
    remembered,
    scratch,
    reduce,
    reduce_gradient,
    switch_off,
    weighted,
)
from ._validation import (
    as_broadcast_weight,
    as_class_indices,
    as_float64,
    as_input_and_target,
    as_real_in,
    as_weight,
    check_flag,
    check_within,
)
from .activations import (
    _blockwise as blockwise,
    _classes_first as classes_first,
    _output,
    _slices_last as slices_last,
    _sigmoid as stable_sigmoid,
    _softmax_parts as softmax_parts,
)


def _times(coefficient, values):
    """``coefficient * values``, where a zero coefficient gives 0 even against an infinite value.

    ``values`` must be a fresh array of the result's shape: it is overwritten.
    """
    values = np.asarray(values)  # a 0-d result of a ufunc is a scalar, which cannot be written to
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(values, axis=None)
    if not np.isfinite(total):
        # Only an infinite value is switched off: nan stays nan, as 0 * nan is.
        np.copyto(values, 0.0, where=(coefficient == 0) & np.isinf(values))
    values *= coefficient
    return values


def _over(numerator, denominator):
    """``numerator / denominator``, with a zero numerator giving 0 even where the denominator is."""
    quotient = np.zeros(np.broadcast_shapes(np.shape(numerator), np.shape(denominator)))
    # A non-zero numerator over a zero denominator is an infinite gradient, and that is the answer.
    with np.errstate(divide="ignore"):
        return np.divide(numerator, denominator, out=quotient, where=numerator != 0)


_ONE_BITS = np.float64(1.0).view(np.uint64)


def _binary_operands(input, target, weight, reduction, *, probabilities):
    """Validate the arguments shared by the two binary cross-entropies.

    ``probabilities`` says whether ``input`` holds probabilities (else logits).
    """
    x, y, dtype = as_input_and_target(input, target)
    check_reduction(reduction)
    for array, name in [(x, "input")] * probabilities + [(y, "target")]:
        # As unsigned integers the float64s in [+0, 1] are those up to 1.0's bits: one
        # pass over the array instead of two. -0.0, nan and the rest take check_within.
        if not array.size or np.maximum.reduce(array.view(np.uint64), axis=None) > _ONE_BITS:
            check_within(array, name, 0.0, 1.0, "probabilities")
    return x, y, as_broadcast_weight(weight, "weight", x.shape), dtype


def binary_cross_entropy(input, target, *, weight=None, reduction="mean"):
    r"""Binary cross-entropy of predicted probabilities.

    .. math:: \ell_i = -w_i \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right]

    Every probability in [0, 1] is valid input, including 0 and 1, and
    nothing is clamped. A term whose target weight (:math:`y_i` or
    :math:`1 - y_i`) is 0 contributes 0; otherwise a prediction of exactly 0
    or 1 against it gives :math:`+\infty`, the true loss. torch instead
    clamps each logarithm at -100, returning 100 where lossbook returns
    ``inf``. :math:`\log(1 - p)` is computed as ``log1p(-p)``, so
    probabilities within 1e-12 of 0 or 1 keep their digits. Accuracy:
    elementwise within 2 ulp.

    Parameters
    ----------
    input : array_like
        Predicted probabilities :math:`p \in [0, 1]`, float32 or float64.
    target : array_like
        Target probabilities :math:`y \in [0, 1]`, same shape as ``input``.
    weight : array_like, optional
        Weights :math:`w` that broadcast to ``input``'s shape. ``"mean"``
        still divides by the number of elements, as in torch.
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
        If ``target`` does not have ``input``'s shape, ``weight`` does not
        broadcast to it, a probability lies outside [0, 1], or ``reduction``
        is unknown.
    """
    p, y, w, dtype = _binary_operands(input, target, weight, reduction, probabilities=True)
    operands, kernel = _weighted_kernel(_bce_kernel, [p, y], w)
    return elementwise(kernel, operands, reduction, dtype, temporaries=2, repair=_bce_repair)


def _weighted_kernel(kernel, operands, weight):
    """The operands and kernel of a loss, times an optional weight that broadcasts to them."""
    if weight is None:
        return operands, kernel
    weight = np.broadcast_to(weight, operands[0].shape)

    def weighted_kernel(out, *arguments, **band):
        kernel(out, *arguments[:-1], **band)
        np.multiply(out, arguments[-1], out=out)

    return [*operands, weight], weighted_kernel


def _bce_kernel(out, other, complement, p, y):
    """``-(y log p + (1 - y) log1p(-p))``; ``0 * log 0`` comes out nan, for the repair.

    ``log1p`` only sees ``-p <= 0``, where numpy's is accurate (see ``_elementary``).
    """
    np.log(p, out=out)
    np.multiply(out, y, out=out)
    np.negative(p, out=other)
    np.log1p(other, out=other)
    np.subtract(1.0, y, out=complement)
    np.multiply(other, complement, out=other)
    np.add(out, other, out=out)
    np.subtract(0.0, out, out=out)  # 0 - x, not -x: a certain right answer costs +0, not -0


def _bce_repair(p, y, w=None):
    """The loss where ``log 0`` met a target weight of 0 (which switches its term off)."""
    with np.errstate(all="ignore"):
        first = _times(y, np.log(p))
        second = _times(1.0 - y, log1p(-p))
        loss = 0.0 - (first + second)
        return loss if w is None else _times(w, loss)


def binary_cross_entropy_grad(input, target, *, weight=None, reduction="mean"):
    r"""Gradient of :func:`binary_cross_entropy` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial p_i}
        = w_i \left[ \frac{1 - y_i}{1 - p_i} - \frac{y_i}{p_i} \right]

    A term whose target weight is 0 contributes 0; otherwise :math:`p_i = 0`
    or 1 gives an infinite gradient (torch clamps the denominator at 1e-12).
    Parameters and errors are those of :func:`binary_cross_entropy`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    p, y, w, dtype = _binary_operands(input, target, weight, reduction, probabilities=True)
    gradient = _over(1.0 - y, 1.0 - p) - _over(y, p)
    return reduce_gradient(weighted(gradient, w), reduction, dtype)


def binary_cross_entropy_with_logits(
    input, target, *, weight=None, pos_weight=None, reduction="mean"
):
    r"""Binary cross-entropy of logits, exact to rounding for every finite logit.

    .. math:: \ell_i = w_i \left[ r_i \, y_i \operatorname{softplus}(-z_i)
        + (1 - y_i) \operatorname{softplus}(z_i) \right]

    with :math:`\operatorname{softplus}(z) = \log(1 + e^{z}) = \max(z, 0) + \log(1 + e^{-|z|})`
    and :math:`r` the ``pos_weight`` (1 if omitted). Both terms are
    non-negative, so nothing cancels: a confident correct prediction
    (:math:`|z| = 30`, say) gets its tiny loss :math:`\approx e^{-30}` to full
    precision, for hard and soft targets alike. Accuracy: elementwise within
    2 ulp for 0/1 targets without weights; within 3 ulp with soft targets
    (labels within 1e-6 of 0 or 1 and :math:`|z|` near 2.5 reach 2.1 ulp)
    or with ``weight`` and ``pos_weight`` (2.8 ulp measured in 6 million
    samples), where one more rounding joins numpy's ``log1p`` and ``exp``.

    Parameters
    ----------
    input : array_like
        Logits :math:`z`, float32 or float64.
    target : array_like
        Target probabilities :math:`y \in [0, 1]`, same shape as ``input``.
    weight : array_like, optional
        Weights :math:`w` that broadcast to ``input``'s shape; ``"mean"``
        divides by the number of elements.
    pos_weight : array_like, optional
        Weights :math:`r` of the positive term that broadcast to ``input``'s
        shape, typically one per class (the last axis).
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
        If ``target`` does not have ``input``'s shape, a weight does not
        broadcast to it, a target lies outside [0, 1], or ``reduction`` is
        unknown.
    """
    z, y, w, dtype = _binary_operands(input, target, weight, reduction, probabilities=False)
    r = as_broadcast_weight(pos_weight, "pos_weight", z.shape)
    if r is None:
        operands, kernel = _weighted_kernel(_bce_logits_kernel(), [z, y], w)
        repair = _bce_logits_repair
    else:
        operands, kernel = _weighted_kernel(
            _bce_logits_kernel(pos_weight=True), [z, y, np.broadcast_to(r, z.shape)], w
        )
        repair = _bce_logits_repair_pos_weight
    return elementwise(kernel, operands, reduction, dtype, temporaries=3, repair=repair,
                       band=Band)


def _softplus(z):
    """``log(1 + e^z)`` for a float64 array (``numpy.log1p`` of the tail is enough here)."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.absolute(z)))


def _bce_logits_repair(z, y, w=None):
    """The loss where an infinite logit met a target weight of 0 (which switches it off)."""
    with np.errstate(all="ignore"):
        loss = _times(y, _softplus(-z)) + _times(1.0 - y, _softplus(z))
        return loss if w is None else _times(w, loss)


def _bce_logits_repair_pos_weight(z, y, r, w=None):
    """As :func:`_bce_logits_repair`, with ``pos_weight``; its product may overflow alone."""
    with np.errstate(all="ignore"):
        positive = switch_off(product(r, y, _softplus(-z)), y, z, r)
        positive = switch_off(positive, r, z, y)
        loss = positive + _times(1.0 - y, _softplus(z))
        return loss if w is None else _times(w, loss)


_ZEROS = constant(0.0)
_SIGN_BIT = np.int64(-(2**63))


def _bce_logits_kernel(pos_weight=False):
    r"""The loss of :func:`binary_cross_entropy_with_logits` for one block.

    With the tail :math:`\log(1 + e^{-|z|})`, :math:`Q = \min(z, 0)` and
    :math:`N = \max(z, 0)`, :math:`\operatorname{softplus}(-z) = \text{tail} - Q`
    and :math:`\operatorname{softplus}(z) = \text{tail} + N`. Without
    ``pos_weight`` the loss is :math:`\text{tail} - \min(z (y - 1), z y)`:
    the minimum is :math:`y Q - (1 - y) N \le 0`, since one of :math:`Q, N`
    is 0, so no term cancels another, and the roundings are those of
    :math:`(1 - y) N` and :math:`y Q`. ``-|z|`` is ``z`` with its sign bit set.

    With labels 0 and 1 only, the tail enters the loss as it is (times the
    weights) or next to :math:`|z| \ge 2.7`, where its error no longer shows,
    and the narrow band of ``log1p`` is enough (see
    :class:`lossbook._elementary.Band`). A block with soft labels (see
    :func:`_any_soft`) takes the wide one: there a tiny
    :math:`(1 - y) N` or :math:`y Q` adds one more rounding to the tail's.
    """
    def kernel(out, tail, other, complement, z, y, *r, band):
        # z and y are used while their blocks are in the cache; exp and log1p come after.
        np.bitwise_or(z.view(np.int64), _SIGN_BIT, out=tail.view(np.int64))  # -|z|
        np.subtract(y, 1.0, out=complement)
        soft = _any_soft(y, complement)
        if pos_weight:
            np.minimum(z, _ZEROS[: out.size], out=out)  # Q
            np.maximum(z, _ZEROS[: out.size], out=other)  # N
            np.exp(tail, out=tail)
            band.log1p(tail, out=tail, wide=soft)
            np.subtract(tail, out, out=out)
            np.multiply(out, r[0], out=out)
            np.multiply(out, y, out=out)
            np.add(other, tail, out=other)
            np.multiply(other, complement, out=other)  # -(1 - y) (tail + N)
            np.subtract(out, other, out=out)
        else:
            np.multiply(z, complement, out=out)
            np.multiply(z, y, out=other)
            np.minimum(out, other, out=out)
            np.exp(tail, out=tail)
            band.log1p(tail, out=tail, wide=soft)
            np.subtract(tail, out, out=out)

    return kernel


def _any_soft(y, complement):
    """Whether a block of labels ``y`` (and ``y - 1``) holds any but 0 and 1.

    ``y (y - 1)`` is 0 for the labels 0 and 1 and negative for any other in
    [0, 1] (or nan), so its sum is 0 exactly when every label is 0 or 1.
    ``numpy.dot`` sums it, in pieces short enough for OpenBLAS to keep to
    one thread (its helper threads would go on spinning after the call).
    """
    return any(np.dot(y[start:start + _DOT], complement[start:start + _DOT]) != 0.0
               for start in range(0, y.size, _DOT))


_DOT = 8192


def binary_cross_entropy_with_logits_grad(
    input, target, *, weight=None, pos_weight=None, reduction="mean"
):
    r"""Gradient of :func:`binary_cross_entropy_with_logits` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial z_i}
        = w_i \left[ (1 - y_i)\, \sigma(z_i) - r_i \, y_i \, \sigma(-z_i) \right]

    which is :math:`w_i (\sigma(z_i) - y_i)` without ``pos_weight``.
    Parameters and errors are those of :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    z, y, w, dtype = _binary_operands(input, target, weight, reduction, probabilities=False)
    r = as_broadcast_weight(pos_weight, "pos_weight", z.shape)
    gradient = (1.0 - y) * stable_sigmoid(z) - weighted(y, r) * stable_sigmoid(-z)
    return reduce_gradient(weighted(gradient, w), reduction, dtype)


def _multiclass_input(input):
    """Validate multi-class ``input``; return it as float64, with its class axis and dtype."""
    x, dtype = as_float64(input, "input")
    if x.ndim == 0:
        raise ValueError(
            "input must have a class axis: shape (C,), (N, C) or (N, C, d1, ...), got a scalar"
        )
    class_axis = 0 if x.ndim == 1 else 1
    if x.shape[class_axis] == 0:
        raise ValueError(f"input must have at least one class, got shape {x.shape}")
    return x, class_axis, dtype


def _check_index_shape(target_shape, input_shape, class_axis):
    """Raise ``ValueError`` unless class indices have ``input``'s shape without the class axis."""
    expected = input_shape[:class_axis] + input_shape[class_axis + 1 :]
    if target_shape == expected:
        return
    if len(input_shape) > 1 and len(target_shape) > 0 and target_shape[0] != input_shape[0]:
        raise ValueError(
            f"target batch size {target_shape[0]} does not match input batch size {input_shape[0]}"
        )
    raise ValueError(
        f"target of class indices must have shape {expected} (input shape {input_shape} "
        f"without the class axis {class_axis}), got shape {target_shape}"
    )


_PICK_BLOCK = 8192
"""Samples per block of :meth:`_Targets.weighted_sum`."""


def _row_starts(samples, classes):
    """``arange(samples) * classes``: where each row starts in the flattened ``(N, C)`` input."""
    return remembered(("row starts", samples, classes),
                      lambda: np.multiply(np.arange(samples), classes))


class _Targets:
    """Validated class-index targets with their per-sample weights.

    ``safe`` holds each index with ignored entries replaced by 0 (any valid
    class), ``weight`` the weight of each target's class, 0 where ignored,
    and ``total_weight`` the divisor of torch's ``"mean"``; each is made when
    first asked for.
    """

    def __init__(self, target, input_shape, class_axis, class_weight, ignore_index):
        num_classes = input_shape[class_axis]
        self.indices, self.kept = as_class_indices(target, num_classes, ignore_index, "target")
        _check_index_shape(self.indices.shape, input_shape, class_axis)
        self.everything = bool(self.kept.all())
        """Whether no target is ignored."""
        self.unweighted = self.everything and class_weight is None
        """Whether every weight is 1 (no class weights, nothing ignored)."""
        self._ignore_index = ignore_index
        self._class_weight = class_weight
        self._safe = self._weight = self._total_weight = None

    def _safe_of(self, indices, kept):
        """``indices`` with the ignored entries (``kept`` False) replaced by 0."""
        if self.everything:
            return indices
        if self._ignore_index < 0:  # below every class, so the ignored entries are the negative ones
            return np.maximum(indices, 0)
        return np.where(kept, indices, 0)

    def _weight_of(self, safe, kept):
        """The weights of the classes ``safe``, 0 where ``kept`` is False."""
        if self._class_weight is None:
            return kept.astype(np.float64)
        weight = np.asarray(self._class_weight[safe])  # fancy indexing: faster than take
        if self.everything:
            pass
        elif np.all(self._class_weight >= 0.0) and np.isfinite(self._class_weight).all():
            np.multiply(weight, kept, out=weight)  # w * 0 is +0 here
        else:
            weight[~kept] = 0.0
        return weight

    @property
    def safe(self):
        """Each class index, with the ignored ones replaced by 0."""
        if self._safe is None:
            self._safe = self._safe_of(self.indices, self.kept)
        return self._safe

    @property
    def weight(self):
        """The weight of each target's class (1 without class weights), 0 where ignored."""
        if self._weight is None:
            self._weight = self._weight_of(self.safe, self.kept)
        return self._weight

    @property
    def total_weight(self):
        """The sum of the weights, the divisor of ``"mean"``."""
        if self._total_weight is None:
            self._total_weight = (
                float(self.kept.size) if self.unweighted else Total.of(self.weight.ravel()).float()
            )
        return self._total_weight

    def weighted_sum(self, values):
        """``sum w_y x_y`` over the rows of an ``(N, C)`` array, and ``sum w_y``, as :class:`Total`.

        Block by block, in temporaries small enough to stay in the cache (and
        to be reused by malloc: arrays of a whole batch come fresh from the
        system and are page-faulted in on every call). The second total is
        ``None`` when every weight is 1.

        With a negative ``ignore_index`` the weights are looked up in a table
        of the class weights followed by ``-ignore_index`` zeros, where an
        ignored target's index lands on a 0, and the value multiplied by that
        0 is read wherever its index points (another row; the sum is then
        not finite only if that value is not, and the caller starts again).
        """
        samples, classes = values.shape
        flat, starts = values.ravel(), _row_starts(samples, classes)
        indices, kept = self.indices.reshape(-1), self.kept.reshape(-1)
        table = self._class_weight
        if self.everything or 0 < -self._ignore_index <= flat.size:
            if not self.everything:
                weights = np.ones(classes) if table is None else table
                table = np.concatenate([weights, np.zeros(-self._ignore_index)])
            direct = True
        else:
            direct = False
        sums, weights = [], []
        with np.errstate(invalid="ignore", over="ignore"):
            for start in range(0, samples, _PICK_BLOCK):
                span = slice(start, start + _PICK_BLOCK)
                if direct:
                    picked = flat[indices[span] + starts[span]]
                    weight = None if table is None else table[indices[span]]
                else:
                    safe = self._safe_of(indices[span], kept[span])
                    picked = flat[safe + starts[span]]
                    weight = self._weight_of(safe, kept[span])
                if weight is not None:
                    picked *= weight
                    weights.append(np.add.reduce(weight))
                sums.append(np.add.reduce(picked))
        total = Total.of(np.array(sums, dtype=np.float64))
        return total, None if self.unweighted else Total.of(np.array(weights, dtype=np.float64))

    def pick(self, values, class_axis=0):
        """The entries of ``values`` at the target classes, along ``class_axis``."""
        if values.ndim == 2 and class_axis == 1:
            samples, classes = values.shape
            index = scratch("pick", (samples,), np.intp)
            np.add(_row_starts(samples, classes), self.safe, out=index)
            return values.ravel()[index]  # fancy indexing: twice as fast as take here
        index = np.expand_dims(self.safe, class_axis)
        return np.take_along_axis(values, index, axis=class_axis).squeeze(class_axis)

    def scatter(self, values, shape, class_axis=0):
        """An array of ``shape``, zero except ``values`` at the target classes."""
        scattered = np.zeros(shape)
        index = np.expand_dims(self.safe, class_axis)
        np.put_along_axis(scattered, index, np.expand_dims(values, class_axis), axis=class_axis)
        return scattered


def _class_weight(weight, num_classes):
    """An optional per-class weight, shape ``(C,)``."""
    return as_weight(weight, "weight", (num_classes,), "one entry per class, shape")


def _nll_operands(input, target, weight, ignore_index, reduction):
    """Validate the arguments of :func:`nll_loss`: the input, its class axis, dtype and targets."""
    x, class_axis, dtype = _multiclass_input(input)
    check_reduction(reduction)
    class_weight = _class_weight(weight, x.shape[class_axis])
    return x, class_axis, dtype, _Targets(target, x.shape, class_axis, class_weight, ignore_index)


def nll_loss(input, target, *, weight=None, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood of the target class, given log-probabilities.

    .. math:: \ell_n = -w_{y_n} \, x_{n, y_n}

    ``"mean"`` is :math:`\sum_n \ell_n / \sum_n w_{y_n}` over the targets that
    are not ``ignore_index``, as in torch. Accuracy: elementwise within
    2 ulp; exact without ``weight``.

    Parameters
    ----------
    input : array_like
        Log-probabilities of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``,
        float32 or float64.
    target : array_like
        Class indices in ``[0, C)``, of ``input``'s shape without the class
        axis; integers, or floats that are whole numbers.
    weight : array_like, optional
        One weight per class, shape ``(C,)``.
    ignore_index : int, default -100
        Targets equal to it contribute 0 to the loss and to the mean's divisor.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (``target``'s shape), else their mean or
        sum; in ``input``'s dtype. A mean over no targets is nan, as in torch.

    Raises
    ------
    TypeError
        If ``input`` or ``weight`` is not numeric, ``target`` is not integral,
        or ``ignore_index`` is not an integer.
    ValueError
        If the shapes do not fit together, a class index is out of range,
        negative (other than ``ignore_index``) or fractional, or ``reduction``
        is unknown.
    """
    x, class_axis, dtype, targets = _nll_operands(input, target, weight, ignore_index, reduction)
    if reduction != "none" and x.ndim == 2:
        # The sum of -w x is minus that of w x, unless a zero weight met an infinite x.
        total, total_weight = targets.weighted_sum(x)
        if np.isfinite(total.value):
            total_weight = float(x.shape[0]) if total_weight is None else total_weight.float()
            return finish(Total(0.0 - total.value, total.exponent), reduction, dtype,
                          x.shape[0], total_weight)
    loss = targets.pick(x, class_axis)
    loss = np.subtract(0.0, loss, out=np.asarray(loss))  # 0 - x: a certain right answer costs +0
    if not targets.unweighted:
        loss = _times(targets.weight, loss)
    return reduce(loss, reduction, dtype, targets.total_weight)


def nll_loss_grad(input, target, *, weight=None, ignore_index=-100, reduction="mean"):
    r"""Gradient of :func:`nll_loss` with respect to ``input``.

    .. math:: \frac{\partial \ell_n}{\partial x_{n,c}} = -w_{y_n} [c = y_n]

    Parameters and errors are those of :func:`nll_loss`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    x, class_axis, dtype, targets = _nll_operands(input, target, weight, ignore_index, reduction)
    gradient = targets.scatter(-targets.weight, x.shape, class_axis)
    return reduce_gradient(gradient, reduction, dtype, targets.total_weight)


class _Logits(NamedTuple):
    """Validated :func:`cross_entropy` arguments, classes first (see :func:`classes_first`)."""

    z: np.ndarray
    """Shape ``(C, samples)``."""
    input_shape: tuple
    class_axis: int
    dtype: np.dtype
    class_weight: Optional[np.ndarray]
    """Shape ``(C,)``, or ``None``."""
    class_weight_column: Optional[np.ndarray]
    """Shape ``(C, 1)``, or ``None``."""
    smoothing: float
    probabilities: Optional[np.ndarray]
    """Target probabilities, classes first like ``z``; ``None`` for class indices.
    :func:`_target_weights` smooths them and applies the class weights."""

    @property
    def sample_shape(self):
        """The shape of the losses: the input's without its class axis."""
        return self.input_shape[: self.class_axis] + self.input_shape[self.class_axis + 1 :]


def _cross_entropy_operands(input, target, weight, reduction, label_smoothing):
    """Validate the arguments of :func:`cross_entropy`; the target's shape decides its kind."""
    smoothing = as_real_in(label_smoothing, "label_smoothing", 0.0, 1.0, closed=True)
    x, class_axis, dtype = _multiclass_input(input)
    check_reduction(reduction)
    num_classes = x.shape[class_axis]
    class_weight = _class_weight(weight, num_classes)
    column = None if class_weight is None else class_weight[:, np.newaxis]
    probabilities = None
    if np.shape(target) == x.shape:
        t, _ = as_float64(target, "target")
        check_within(t, "target", 0.0, 1.0, "class probabilities")
        probabilities = classes_first(t, class_axis)
    z = classes_first(x, class_axis)
    return _Logits(z, x.shape, class_axis, dtype, class_weight, column, smoothing, probabilities)


def _target_weights(logits, probabilities, out):
    """``w_c ((1 - e) t_c + e / C)`` into ``out``: the smoothed, weighted target probabilities."""
    np.copyto(out, probabilities)
    if logits.smoothing:
        out *= 1.0 - logits.smoothing
        out += logits.smoothing / logits.z.shape[0]
    if logits.class_weight_column is not None:
        out *= logits.class_weight_column.reshape((-1,) + (1,) * (out.ndim - 1))
    return out


def _target_nll(parts, safe):
    """``-log softmax`` at the target classes: ``(L - d_y) + (L_error - d_y_error)``."""
    samples = safe.size
    index = safe * samples + np.arange(samples)  # into the (C, samples) arrays, flattened
    shift = parts.shift.take(index)
    shift_error = parts.shift_error.take(index)
    return (parts.log_normalizer[0] - shift) + (parts.log_normalizer_error[0] - shift_error)


def _weighted_nll(parts, weights, work):
    """``sum_c a_c (-log softmax_c)`` per sample, for non-negative ``a`` (``None``: all 1).

    The terms ``a_c ((L - d_c) + (L_error - e_c))`` are summed like
    ``accurate_sum``, in ``work``'s buffers.
    """
    samples = parts.shift.shape[1]
    terms, high = work.views(samples)[3:5]
    with np.errstate(invalid="ignore"):
        np.subtract(parts.log_normalizer, parts.shift, out=terms)
        np.subtract(parts.log_normalizer_error, parts.shift_error, out=high)
        np.add(terms, high, out=terms)
        if weights is not None:
            np.multiply(terms, weights, out=terms)
        plain = np.add.reduce(terms, axis=0, keepdims=True)
        undefined = ~np.isfinite(plain[0])
        if undefined.any():
            # An infinite term (a -inf logit) is 0 where its target weight is 0 and makes
            # the sum inf elsewhere; accurate summation would turn inf into nan.
            terms = parts.negative_log_softmax()
            if weights is not None:
                terms = _times(weights, terms)
            plain = np.add.reduce(terms, axis=0, keepdims=True)
            np.copyto(terms, 0.0, where=~np.isfinite(plain))
        total = accurate_sum(terms, high, plain)[0][0]
    return np.where(np.isfinite(plain[0]), total, plain[0])


def cross_entropy(
    input,
    target,
    *,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
):
    r"""Cross-entropy of logits against class indices or class probabilities.

    With class indices :math:`y_n` and :math:`m_n = \max_c z_{n,c}`:

    .. math:: \ell_n = w_{y_n} \left[ (m_n - z_{n,y_n})
        + \log\Big(1 + \sum_{c \ne \arg\max} e^{z_{n,c} - m_n}\Big) \right]
        = -w_{y_n} \log \operatorname{softmax}(z_n)_{y_n}

    Both terms are non-negative, and the second is computed with ``log1p``,
    so the tiny loss of a confident correct prediction (logit gap 20 to 40)
    keeps all its digits; ``exp`` never overflows, and the rounding error of
    :math:`z - m` is corrected. With class probabilities :math:`t_{n,c}`
    (``target`` of ``input``'s shape):

    .. math:: \ell_n = -\sum_c w_c \, t_{n,c} \log \operatorname{softmax}(z_n)_c

    ``label_smoothing`` :math:`\varepsilon` mixes the target with the uniform
    distribution over the :math:`C` classes, exactly as torch does: class
    indices get

    .. math:: (1-\varepsilon)\,\ell_n
        + \frac{\varepsilon}{C}\sum_c w_c\,\big(-\log \operatorname{softmax}(z_n)_c\big)

    and probabilities become :math:`(1-\varepsilon)\,t + \varepsilon / C`.
    ``"mean"`` divides by :math:`\sum_n w_{y_n}` over the targets that are
    not ``ignore_index`` (class indices) or by the number of samples
    (probabilities), as in torch. Accuracy: elementwise within 2 ulp.

    Parameters
    ----------
    input : array_like
        Logits of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``, float32
        or float64.
    target : array_like
        Class indices of ``input``'s shape without the class axis (integers,
        or whole-number floats, in ``[0, C)``), or class probabilities in
        [0, 1] of ``input``'s shape.
    weight : array_like, optional
        One weight per class, shape ``(C,)``.
    ignore_index : int, default -100
        Class-index targets equal to it contribute 0 to the loss and to the
        mean's divisor.
    reduction : {"mean", "sum", "none"}, default "mean"
    label_smoothing : float, default 0.0
        In [0, 1].

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"`` (``input``'s shape without the class axis),
        else their mean or sum; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If ``input`` or ``weight`` is not numeric, class indices are not
        integral, or ``ignore_index`` or ``label_smoothing`` has the wrong type.
    ValueError
        If the shapes do not fit together, a class index is out of range,
        negative (other than ``ignore_index``) or fractional, a probability
        lies outside [0, 1], ``label_smoothing`` lies outside [0, 1], or
        ``reduction`` is unknown.
    """
    logits = _cross_entropy_operands(input, target, weight, reduction, label_smoothing)
    # Per-sample values that only a sum will see go to scratch memory, which the
    # system need not fault in afresh on every call.
    def values(shape):
        return np.empty(shape) if reduction == "none" else scratch("cross_entropy", shape)

    loss = values(logits.sample_shape)
    if logits.probabilities is not None:
        def soft_losses(z, t, work):
            parts = softmax_parts(z, work)
            return _weighted_nll(parts, _target_weights(logits, t, work.other(z.shape[1])), work)

        blockwise(soft_losses, slices_last(loss), logits.z, logits.probabilities)
        return reduce(loss, reduction, logits.dtype)
    targets = _Targets(
        target, logits.input_shape, logits.class_axis, logits.class_weight, ignore_index
    )
    safe = slices_last(targets.safe)
    if logits.smoothing:
        def losses(z, safe, work):
            parts = softmax_parts(z, work)
            return _target_nll(parts, safe), _weighted_nll(parts, logits.class_weight_column,
                                                            work)

        pair = values((2,) + logits.sample_shape)
        blockwise(losses, slices_last(pair, 1), logits.z, safe)
        nll, smooth = pair
        share = logits.smoothing / logits.z.shape[0]
        # 0 * inf is 0 in each product: a weight of 0 switches its term off.
        loss = _times(1.0 - logits.smoothing, _times(targets.weight, nll))
        loss += _times(share, _times(targets.kept, smooth))
    else:
        blockwise(lambda z, safe, work: _target_nll(softmax_parts(z, work), safe),
                  slices_last(loss), logits.z, safe)
        if not targets.unweighted:
            loss = _times(targets.weight, loss)
    return reduce(loss, reduction, logits.dtype, targets.total_weight)


def cross_entropy_grad(
    input,
    target,
    *,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
):
    r"""Gradient of :func:`cross_entropy` with respect to ``input``.

    With :math:`p = \operatorname{softmax}(z_n)` and effective target weights
    :math:`a_c` (:math:`w_c t_{n,c}` for probabilities, :math:`w_{y_n}[c = y_n]`
    for class indices, each mixed with :math:`\frac{\varepsilon}{C} w_c` under
    label smoothing):

    .. math:: \frac{\partial \ell_n}{\partial z_{n,c}} = p_c \sum_j a_j - a_c

    Parameters and errors are those of :func:`cross_entropy`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    logits = _cross_entropy_operands(input, target, weight, reduction, label_smoothing)
    divisor = logits.z[0].size  # the number of samples
    if logits.probabilities is not None:
        weighted_target = _target_weights(logits, logits.probabilities, np.empty(logits.z.shape))
    else:
        targets = _Targets(
            target, logits.input_shape, logits.class_axis, logits.class_weight, ignore_index
        )
        divisor = targets.total_weight
        kept_weight = (1.0 - logits.smoothing) * targets.weight
        weighted_target = np.zeros_like(logits.z)
        np.put_along_axis(weighted_target, slices_last(targets.safe)[np.newaxis],
                          slices_last(kept_weight)[np.newaxis], axis=0)
        if logits.smoothing:
            uniform = np.full((1, 1), logits.smoothing / logits.z.shape[0])
            uniform = weighted(uniform, logits.class_weight_column)
            uniform = uniform.reshape(uniform.shape + (1,) * (logits.z.ndim - 2))
            weighted_target += slices_last(targets.kept)[np.newaxis] * uniform
    rows, out = _output(logits.z.shape[:1] + logits.sample_shape)
    blockwise(
        lambda z, a, work: softmax_parts(z, work).softmax() * a.sum(axis=0, keepdims=True) - a,
        out, logits.z, weighted_target,
    )
    gradient = reduce_gradient(rows, reduction, logits.dtype, divisor)
    return np.moveaxis(gradient, -1, logits.class_axis)


def kl_div(input, target, *, reduction="mean", log_target=False):
    r"""Kullback-Leibler divergence of ``target`` from the log-probabilities ``input``.

    .. math:: \ell_i = t_i \left( \log t_i - x_i \right)
        \quad\text{or, with log_target=True,}\quad
        \ell_i = e^{s_i} \left( s_i - x_i \right)

    with :math:`t` the target probabilities, :math:`s = \log t` and :math:`x`
    the predicted log-probabilities. Summed over a distribution this is
    :math:`\mathrm{KL}(t \,\|\, e^{x})`; use ``reduction="batchmean"`` (the sum
    divided by the batch size ``input.shape[0]``) for the true divergence per
    sample. ``"mean"`` divides by the number of elements, as torch does
    (torch also warns about it; lossbook does not).

    Accuracy: with ``log_target=True`` elementwise within 2 ulp. With
    ``log_target=False`` the difference :math:`\log t_i - x_i` cancels
    when the prediction is good, and the computed :math:`\log t_i` carries
    about one rounding error; the error is within 2 ulp of
    :math:`\max(|\ell_i|, |t_i \log t_i|)` rather than of the loss.

    Parameters
    ----------
    input : array_like
        Predicted log-probabilities :math:`x`, float32 or float64.
    target : array_like
        Target probabilities in [0, 1], or log-probabilities (<= 0) with
        ``log_target=True``; same shape as ``input``.
    reduction : {"mean", "batchmean", "sum", "none"}, default "mean"
    log_target : bool, default False

    Returns
    -------
    ndarray or numpy scalar
        The losses for ``"none"``, else their reduction; in ``input``'s dtype.

    Raises
    ------
    TypeError
        If an array argument is not numeric or ``log_target`` is not a bool.
    ValueError
        If ``target`` does not have ``input``'s shape, a target lies outside
        [0, 1] (or above 0 with ``log_target=True``), or ``reduction`` is
        unknown.
    """
    x, t, dtype = _kl_operands(input, target, reduction, log_target)
    return elementwise(_kl_kernel(log_target), [x, t], reduction, dtype, temporaries=1,
                       repair=_kl_repair(log_target), divisor=_kl_divisor(x, reduction))


def _kl_kernel(log_target):
    """``t (log t - x)`` or ``e^s (s - x)`` for one block; a zero target gives nan or inf here."""
    def kernel(out, probability, x, t):
        if log_target:
            np.exp(t, out=probability)
            np.subtract(t, x, out=out)
            np.multiply(out, probability, out=out)
        else:
            np.log(t, out=out)
            np.subtract(out, x, out=out)
            np.multiply(out, t, out=out)

    return kernel


def _kl_repair(log_target):
    """The loss where the kernel's is not finite: a target probability of 0 contributes 0.

    That holds whatever the prediction, even ``x = -inf`` (``0 log 0 = 0``); nan
    in ``x`` still propagates.
    """
    def repair(x, t):
        with np.errstate(all="ignore"):
            probability = np.exp(t) if log_target else t
            log_probability = t if log_target else np.log(t)
            loss = np.asarray((log_probability - x) * probability)
            off = (probability == 0) & ~np.isnan(x) & ~np.isnan(t)
            loss[off] = 0.0
        return loss

    return repair


def kl_div_grad(input, target, *, reduction="mean", log_target=False):
    r"""Gradient of :func:`kl_div` with respect to ``input``.

    .. math:: \frac{\partial \ell_i}{\partial x_i} = -t_i
        \quad\text{or, with log_target=True,}\quad -e^{s_i}

    Parameters and errors are those of :func:`kl_div`.

    Returns
    -------
    ndarray
        Shape and dtype of ``input``.
    """
    x, t, dtype = _kl_operands(input, target, reduction, log_target)
    gradient = -np.exp(t) if log_target else -t
    return reduce_gradient(gradient, reduction, dtype, _kl_divisor(x, reduction))


def _kl_operands(input, target, reduction, log_target):
    check_flag(log_target, "log_target")
    x, t, dtype = as_input_and_target(input, target)
    check_reduction(reduction, REDUCTIONS + ("batchmean",))
    if log_target:
        check_within(t, "target", -np.inf, 0.0, "log-probabilities, as log_target=True")
    else:
        check_within(t, "target", 0.0, 1.0, "probabilities")
    return x, t, dtype


def _kl_divisor(x, reduction):
    """``"batchmean"`` divides by the size of axis 0 (1 for a scalar, as in torch)."""
    if reduction != "batchmean":
        return None
    return x.shape[0] if x.ndim else 1

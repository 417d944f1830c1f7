r"""Sequence losses: connectionist temporal classification (CTC) and its gradient.

CTC scores an unsegmented label sequence :math:`y = (y_1, \dots, y_U)` against
``T`` frames of log-probabilities over ``C`` classes, one of which is the
*blank*. An *alignment* :math:`\pi` picks one class per frame; the collapsing
map :math:`\mathcal{B}` merges runs of equal classes and then drops the
blanks, so that ``a a - b b`` (``-`` the blank) and ``- a b - -`` both collapse
to ``a b``. The loss is minus the log of the total probability of the
alignments that collapse to :math:`y`.

The sum over alignments is computed by the forward recursion over the
*extended* label sequence :math:`y' = (\varnothing, y_1, \varnothing, \dots,
y_U, \varnothing)` (:math:`\varnothing` the blank) of length :math:`2U + 1`,
in log space. Each merge of two or three log-path sums is a log-sum-exp, and
the path sums themselves are carried in double length (a float64 ``hi`` and a
float64 ``lo``), so the only roundings that reach the loss are those of the
``exp`` and ``log1p`` inside the merges. The recursion is vectorised over the
batch and the extended labels; only the frames are looped over. For the loss
alone it runs on chunks of samples sorted by their lengths, each with its own
number of states and frames, in buffers that stay in the CPU cache; the
gradient keeps every frame's states for the backward pass.
"""

import math
import numbers
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from ._compensated import two_sum
from ._reduction import check_reduction
from ._validation import _as_array, as_float64, check_flag


class _Batch(NamedTuple):
    """Validated operands of :func:`ctc_loss`, batched."""

    log_probs: np.ndarray
    """float64, shape ``(T, N, C)``."""
    labels: np.ndarray
    """int64, shape ``(N, U)`` with ``U = max(target_lengths)``; blank beyond each length."""
    input_lengths: np.ndarray
    """int64, shape ``(N,)``."""
    target_lengths: np.ndarray
    """int64, shape ``(N,)``."""
    blank: int
    """The blank's class index."""
    batched: bool
    """False for an unbatched ``(T, C)`` input."""
    dtype: np.dtype
    """The dtype results are returned in."""


def _as_index(value, name):
    """``value`` as a Python int, or ``TypeError`` naming it (a bool is not an index)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _as_lengths(value, name, batch_size, batched):
    """Lengths as an int64 array of shape ``(N,)``.

    Shape ``(N,)`` or, for one sample, ``()``; an integer dtype (a Python
    sequence of ints is fine); no negative entry.
    """
    array = _as_array(value, name)
    expected = f"({batch_size},)" if batched else "() or (1,)"
    if array.ndim > 1 or array.size != batch_size:
        raise ValueError(
            f"{name} must have shape {expected}, one length per sample, got shape {array.shape}"
        )
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    lengths = array.astype(np.int64).reshape(batch_size)
    if (lengths < 0).any():
        raise ValueError(f"{name} must not be negative; found {lengths[lengths < 0][0]}")
    return lengths


def _target_values(targets, used, num_classes, blank):
    """The entries of ``targets`` selected by ``used``, checked, as int64."""
    values = targets[used]
    if targets.dtype.kind == "f":
        fractional = values != np.floor(values)  # nan and inf too
        if fractional.any():
            raise ValueError(
                "targets holds class indices, which must be whole numbers; found "
                f"{values[fractional][0]!r}"
            )
    outside = (values < 0) | (values >= num_classes)
    if outside.any():
        raise ValueError(
            f"targets holds class index {values[outside][0]!r}, outside [0, {num_classes - 1}] "
            f"for {num_classes} classes"
        )
    if (values == blank).any():
        raise ValueError(
            f"targets holds the blank index {blank} within target_lengths; a target label "
            "must not be the blank"
        )
    return values.astype(np.int64)


def _operands(log_probs, targets, input_lengths, target_lengths, blank, reduction,
              zero_infinity):
    """Validate the arguments of :func:`ctc_loss` and return them as a :class:`_Batch`."""
    check_reduction(reduction)
    check_flag(zero_infinity, "zero_infinity")
    x, dtype = as_float64(log_probs, "log_probs")
    if x.ndim not in (2, 3):
        raise ValueError(
            f"log_probs must have shape (T, N, C) or, unbatched, (T, C); got shape {x.shape}"
        )
    if x.size == 0:
        raise ValueError(f"log_probs must not be empty, got shape {x.shape}")
    if np.isposinf(x).any():
        where = tuple(int(i) for i in np.argwhere(np.isposinf(x))[0])
        raise ValueError(
            f"log_probs must not be +inf (a probability cannot be infinite); found at {where}"
        )
    batched = x.ndim == 3
    if not batched:
        x = x[:, None, :]
    frames, batch_size, num_classes = x.shape
    blank = _as_index(blank, "blank")
    if not 0 <= blank < num_classes:
        raise ValueError(f"blank must lie in [0, {num_classes - 1}] for {num_classes} classes, "
                         f"got {blank}")
    inputs = _as_lengths(input_lengths, "input_lengths", batch_size, batched)
    if (inputs > frames).any():
        raise ValueError(
            f"input_lengths must be at most the {frames} frames of log_probs; "
            f"found {inputs[inputs > frames][0]}"
        )
    lengths = _as_lengths(target_lengths, "target_lengths", batch_size, batched)
    labels = _labels(targets, lengths, batch_size, batched, num_classes, blank)
    return _Batch(x, labels, inputs, lengths, blank, batched, dtype)


def _labels(targets, lengths, batch_size, batched, num_classes, blank):
    """The target labels as ``(N, max(target_lengths))`` int64, blank beyond each length."""
    array = _as_array(targets, "targets")
    if array.dtype.kind not in "iuf" or array.dtype.itemsize > 8:
        raise TypeError(f"targets must hold integer class indices, got dtype {array.dtype}")
    longest = int(lengths.max())
    positions = np.arange(longest)
    used = positions < lengths[:, None]
    if array.ndim == 2:
        rows = batch_size if batched else 1
        if array.shape[0] != rows:
            raise ValueError(
                f"targets padded as (N, S) must have N = {rows} rows, got shape {array.shape}"
            )
        if longest > array.shape[1]:
            raise ValueError(
                f"target_lengths must be at most the {array.shape[1]} columns of targets; "
                f"found {longest}"
            )
        padded = array[:, :longest]
    elif array.ndim == 1:
        total = int(lengths.sum())
        if array.size != total:
            raise ValueError(
                "targets concatenated as 1-D must have sum(target_lengths) = "
                f"{total} entries, got {array.size}"
            )
        starts = np.cumsum(lengths) - lengths
        padded = array[np.where(used, starts[:, None] + positions, 0)]
    else:
        raise ValueError(
            "targets must be padded (N, S) or concatenated 1-D, got shape "
            f"{array.shape}"
        )
    labels = np.full(used.shape, blank, dtype=np.int64)
    labels[used] = _target_values(padded, used, num_classes, blank)
    return labels


class _Lattice(NamedTuple):
    """The extended label sequences of a batch and their emissions."""

    labels: np.ndarray
    """int64 ``(N, W)``, ``W = 2 max(target_lengths) + 1``: blank, y_1, blank, ..., blank."""
    skip: np.ndarray
    """bool ``(N, W)``: state ``s`` may be entered from ``s - 2`` (a label unlike the one before)."""
    emissions: np.ndarray
    """float64 ``(T', N, W)`` with ``T' = max(input_lengths)``: ``log_probs[t, n, labels[n, s]]``,
    and ``-inf`` for the states past ``2 * target_lengths[n]`` (``None`` where not needed)."""


def _lattice(batch, emissions=True):
    """The :class:`_Lattice` of a validated batch (``emissions`` ``None`` unless asked for)."""
    samples, longest = batch.labels.shape
    width = 2 * longest + 1
    labels = np.empty((samples, width), dtype=np.int64)
    labels[:, 0::2] = batch.blank
    labels[:, 1::2] = batch.labels
    skip = np.zeros((samples, width), dtype=bool)
    skip[:, 3::2] = batch.labels[:, 1:] != batch.labels[:, :-1]
    if not emissions:
        return _Lattice(labels, skip, None)
    frames = int(batch.input_lengths.max())
    return _Lattice(labels, skip, _emissions(batch, labels, frames, np.arange(samples)))


def _emissions(batch, labels, frames, samples):
    """``log_probs[t, n, labels[n, s]]`` for the given samples, ``-inf`` past ``2 U_n``: ``(T, n, W)``."""
    rows = labels[samples]
    emissions = batch.log_probs[:frames, samples[:, None], rows]
    emissions[:, np.arange(rows.shape[1]) > 2 * batch.target_lengths[samples][:, None]] = -np.inf
    return emissions


def _emissions_across(batch, labels, frames, samples):
    """:func:`_emissions` laid out ``(T, W, n)``: for each frame, each state's samples in a row."""
    rows = labels[samples].T
    emissions = batch.log_probs[:frames, samples[None, :], rows]
    emissions[:, np.arange(rows.shape[0])[:, None] > 2 * batch.target_lengths[samples]] = -np.inf
    return emissions


_LARGEST = np.finfo(np.float64).max

# numpy's float64 log1p (AVX-512 kernels, numpy >= 1.22) errs by up to 1.8 eps
# on [2**-6, 2**-5] (see lossbook._elementary). There the merges take
# log1p(x) = log1p(a) + log1p((x - a) / (1 + a)) with a = 3/128: x - a is
# exact, |(x - a) / (1 + a)| < 2**-7 where numpy's log1p is within 0.55 eps,
# and log1p(a) is the double-length constant below (mpmath, 50 digits).
# Measured on 40 000 points of the band: within 0.83 eps.
_BAND = (2.0**-6, 2.0**-5)
_PIVOT = 3.0 / 128.0
_LOG1P_PIVOT = (0.02316705928153438, -1.1769544932063305e-18)


class _Merge:
    r"""Log-sum-exp over the first axis of ``k`` double-length candidates, in reused buffers.

    The caller fills :attr:`high` and :attr:`low` (shape ``(k, *shape)``;
    ``low`` must be 0 where ``high`` is not finite) and calls the instance,
    which writes :math:`\log \sum_i e^{h_i + l_i}` as ``hi + lo`` into the
    arrays it is given. With :math:`m` the first largest candidate,

    .. math:: \log \sum_i e^{h_i + l_i} = h_m + l_m
        + \log\Big(1 + \sum_{i \ne m} e^{d_i}\Big),
        \qquad d_i = (h_i - h_m) + (l_i - l_m)

    where :math:`h_i - h_m` is split exactly into a float and its rounding
    error (Knuth's TwoSum), :math:`l_i - l_m` is added to that error, the
    result is rounded to :math:`\hat d_i` with what the rounding left out,
    :math:`r_i` (Dekker's FastTwoSum; :math:`|r_i|` is below 1e-13 wherever
    :math:`e^{\hat d_i}` is not 0), and :math:`e^{d_i} = e^{\hat d_i}(1 + r_i)`.
    The sum :math:`h_m + \log(\dots)` is split exactly again, so the roundings
    left are those of ``exp``, of the sum of at most ``k - 1`` terms and of
    ``log1p``: an absolute error of a few eps times the logarithm, which lies
    in :math:`[0, \log k]` (measured on 20 000 random merges: at most 1.8 eps
    times it), plus :math:`O(\varepsilon^2 |h_m|)` from adding up the ``lo``
    parts. A largest candidate of ``-inf`` (every candidate ``-inf``) or nan
    gives itself. (No candidate is ``+inf``: :func:`ctc_loss` rejects it.)
    """

    def __init__(self, count, shape):
        full = (count,) + tuple(shape)
        self.high = np.full(full, -np.inf)
        self.low = np.zeros(full)
        self._first = np.empty(full, dtype=bool)
        self._unseen = np.empty(shape, dtype=bool)
        self._inside = np.empty(shape, dtype=bool)
        self._top, self._top_low, self._shift, self._rest = (np.empty(shape) for _ in range(4))
        self._other, self._virtual = np.empty(shape), np.empty(shape)
        self._difference, self._error, self._rounded = (np.empty(full) for _ in range(3))
        self._positive = np.empty(full, dtype=bool)

    def __call__(self, out_high, out_low):
        high, low, first = self.high, self.low, self._first
        top, top_low, shift, rest = self._top, self._top_low, self._shift, self._rest
        difference, error, rounded = self._difference, self._error, self._rounded
        np.maximum.reduce(high, axis=0, out=top)
        # The first candidate equal to the largest (none where it is nan).
        np.equal(high, top, out=first)
        unseen = np.logical_not(first[0], out=self._unseen)
        for row in first[1:]:
            np.logical_and(row, unseen, out=row)
            np.logical_xor(unseen, row, out=unseen)
        np.multiply(low, first, out=difference)
        np.add.reduce(difference, axis=0, out=top_low)
        # The shift is the largest candidate, made finite: -inf (all candidates
        # -inf) would turn the differences into nan.
        np.maximum(top, -_LARGEST, out=shift)
        # TwoSum: difference + error = high - shift exactly (error nan where high is -inf).
        np.subtract(high, shift, out=difference)
        np.subtract(difference, high, out=rounded)
        np.subtract(difference, rounded, out=error)
        np.subtract(high, error, out=error)
        np.add(rounded, shift, out=rounded)
        np.subtract(error, rounded, out=error)
        error += low
        error -= top_low
        np.fmin(error, _LARGEST, out=error)  # nan (high = -inf) becomes finite
        # FastTwoSum: rounded + error = difference + error.
        np.add(difference, error, out=rounded)
        np.subtract(difference, rounded, out=difference)
        error += difference
        terms = np.exp(rounded, out=rounded)
        error *= terms
        np.greater(terms, 0.0, out=self._positive)  # error is nan where terms is 0
        np.add(terms, error, out=terms, where=self._positive)
        np.copyto(terms, 0.0, where=first)
        np.add.reduce(terms, axis=0, out=rest)
        self._log1p(rest)
        # TwoSum: out_high + other = top + rest exactly.
        np.add(top, rest, out=out_high)
        other, virtual = self._other, self._virtual
        np.subtract(out_high, top, out=other)
        np.subtract(out_high, other, out=virtual)
        np.subtract(top, virtual, out=virtual)
        np.subtract(rest, other, out=other)
        np.add(virtual, other, out=other)
        np.add(top_low, other, out=out_low)

    def _log1p(self, x):
        """``x = log1p(x)`` in place (``x >= 0``), within 1.2 eps (see ``_BAND``)."""
        pivoted, inside, above = self._other, self._unseen, self._inside
        np.subtract(x, _PIVOT, out=pivoted)
        pivoted /= 1.0 + _PIVOT
        np.log1p(pivoted, out=pivoted)
        pivoted += _LOG1P_PIVOT[1]
        pivoted += _LOG1P_PIVOT[0]
        np.greater_equal(x, _BAND[0], out=inside)
        np.less_equal(x, _BAND[1], out=above)
        inside &= above
        np.log1p(x, out=x)
        np.copyto(x, pivoted, where=inside)


def _add(high, low, values, out_high, out_low, work):
    """``out = high + low + values`` in double length, renormalised.

    ``out`` may be ``high`` and ``low``. ``work`` holds three float arrays
    and a bool array of the result's shape. ``out_low`` is 0 where
    ``out_high`` is not finite (there TwoSum's error is nan).
    """
    total, virtual, error, undefined = work
    np.add(high, values, out=total)  # TwoSum of high and values
    np.subtract(total, high, out=virtual)
    np.subtract(total, virtual, out=error)
    np.subtract(high, error, out=error)
    np.subtract(values, virtual, out=virtual)
    error += virtual
    error += low
    np.fmin(error, _LARGEST, out=error)  # nan (total not finite) becomes finite
    np.add(total, error, out=out_high)  # FastTwoSum: renormalise
    np.subtract(out_high, total, out=total)
    np.subtract(error, total, out=out_low)
    np.isnan(out_low, out=undefined)
    np.copyto(out_low, 0.0, where=undefined)


def _work(shape):
    """Scratch for :func:`_add`."""
    return np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape, dtype=bool)


def _fill(merge, high, low, skip, forward):
    """Put in ``merge``'s candidates the states each state is reached from.

    Forward a state ``s`` is reached from ``s``, ``s - 1`` and, where
    ``skip[:, s]``, ``s - 2``; backward from ``s``, ``s + 1`` and, where
    ``skip[:, s + 2]``, ``s + 2``. The other candidates keep the ``-inf`` (and
    0) the merge was made with.
    """
    merge.high[0], merge.low[0] = high, low
    if forward:
        merge.high[1, :, 1:], merge.low[1, :, 1:] = high[:, :-1], low[:, :-1]
        np.copyto(merge.high[2, :, 2:], high[:, :-2], where=skip[:, 2:])
        np.copyto(merge.low[2, :, 2:], low[:, :-2], where=skip[:, 2:])
    else:
        merge.high[1, :, :-1], merge.low[1, :, :-1] = high[:, 1:], low[:, 1:]
        np.copyto(merge.high[2, :, :-2], high[:, 2:], where=skip[:, 2:])
        np.copyto(merge.low[2, :, :-2], low[:, 2:], where=skip[:, 2:])


def _final_states(lengths):
    """The last two states of each extended sequence: ``2U`` and ``2U - 1`` (``-1`` for none)."""
    return np.stack([2 * lengths, np.where(lengths > 0, 2 * lengths - 1, -1)])


def _forward(lattice, batch):
    """Log-likelihood of each sample as ``hi + lo``, and every log alpha.

    Returns ``(high, low, alpha_high, alpha_low)`` with ``high``/``low`` of
    shape ``(N,)``; the alphas have shape ``(T', N, W)`` (``None`` for no
    frames). ``alpha[t, n, s]`` is the log of the summed probability of the
    paths through the first ``t + 1`` frames that end in state ``s``.
    :func:`_fast_forward` computes the same log-likelihoods without keeping
    the alphas.
    """
    emissions, skip = lattice.emissions, lattice.skip
    frames, samples, width = emissions.shape
    high, low = np.full(samples, -np.inf), np.zeros(samples)
    high[batch.target_lengths == 0] = 0.0  # an empty target with an empty input
    if frames == 0:
        return high, low, None, None
    alpha_high, alpha_low = np.empty(emissions.shape), np.empty(emissions.shape)
    state_high, state_low = alpha_high[0], alpha_low[0]
    state_high.fill(-np.inf)
    state_high[:, :2] = emissions[0, :, :2]
    state_low.fill(0.0)
    merge = _Merge(3, (samples, width))
    work = _work((samples, width))
    finals = _final_states(batch.target_lengths)
    ends = batch.input_lengths - 1
    with np.errstate(all="ignore"):
        for t in range(frames):
            if t:
                _fill(merge, state_high, state_low, skip, forward=True)
                state_high, state_low = alpha_high[t], alpha_low[t]
                merge(state_high, state_low)
                _add(state_high, state_low, emissions[t], state_high, state_low, work)
            done = np.flatnonzero(ends == t)
            if done.size:
                last = finals[:, done]
                final = _Merge(2, (done.size,))
                final.high[last >= 0] = state_high[np.broadcast_to(done, last.shape), last][
                    last >= 0]
                final.low[last >= 0] = state_low[np.broadcast_to(done, last.shape), last][
                    last >= 0]
                out_high, out_low = np.empty(done.size), np.empty(done.size)
                final(out_high, out_low)
                high[done], low[done] = out_high, out_low
        low[~np.isfinite(high)] = 0.0  # TwoSum's error there is nan
        total = high + low  # renormalised: total is the double nearest high + low
        low -= total - high
        low[~np.isfinite(total)] = 0.0
    return total, low, alpha_high, alpha_low


_CHUNK = 2048
"""Samples per chunk of :func:`_fast_forward` (its arrays stay in the CPU cache)."""


class _Forward:
    r"""The forward recursion of :func:`_forward_alphas` for a chunk of samples, in reused buffers.

    The same arithmetic as :class:`_Merge` (three candidates) and :func:`_add`,
    so the same errors: with :math:`m` the first largest candidate and the
    shift :math:`h_m` made finite, each :math:`h_i - h_m` is split exactly
    (TwoSum), :math:`l_i - l_m` is added to its error, the result rounded
    with what the rounding left out (FastTwoSum) and :math:`e^{d_i}` taken as
    :math:`e^{\hat d_i}(1 + r_i)`; the terms other than :math:`m`'s are added,
    :math:`\log(1 + \cdot)` is taken as in :meth:`_Merge._log1p`, and
    :math:`h_m + \log(\dots)`, then the emission, are added exactly (TwoSums)
    and renormalised. What differs changes no value: the candidates are
    views of the state, padded with two ``-inf`` states, instead of copies;
    a state that is ``-inf`` may carry the largest double as its ``low``
    where :class:`_Merge` has 0 (its term is 0 all the same, and the final
    states' lows are cleaned before their merge); the first largest
    candidate's low is picked by multiplying by 0 or 1; and the guards
    against nan use ``fmin`` with the largest double (times a zero term, 0)
    where :class:`_Merge` masks an addition.
    """

    def __init__(self, samples, width):
        shape = (width, samples)  # states down, samples across: each state's row is contiguous
        self.high = np.full((width + 2, samples), -np.inf)  # two -inf states before state 0
        self.low = np.zeros((width + 2, samples))
        (self._top, self._top_low, self._shift, self._rest, self._difference, self._error,
         self._rounded, self._other, self._skipped) = (np.empty(shape) for _ in range(9))
        self._largest = np.full(shape, _LARGEST)
        self._equal, self._first, self._keep = (np.empty(shape, dtype=bool) for _ in range(3))

    def step(self, penalty, emissions):
        """One frame: merge each state's predecessors, then add the frame's emissions.

        ``penalty`` is 0 where a state may be entered from two states back, and
        ``-inf`` where it may not. Both arrays are ``(W, samples)``.
        """
        high, low = self.high, self.low
        top, top_low, shift, rest = self._top, self._top_low, self._shift, self._rest
        difference, error, rounded, other = (self._difference, self._error, self._rounded,
                                             self._other)
        equal, first, keep, largest = self._equal, self._first, self._keep, self._largest
        np.add(high[:-2], penalty, out=self._skipped)
        candidates = ((high[2:], low[2:]), (high[1:-1], low[1:-1]), (self._skipped, low[:-2]))
        (h0, l0), (h1, l1), (h2, l2) = candidates
        np.maximum(h0, h1, out=top)
        np.maximum(top, h2, out=top)
        # The first candidate equal to the largest (0, 1 or 2) and its low part, picked by
        # multiplying by 0 or 1 (the lows are finite: a -inf state's is at most the largest double).
        np.equal(h0, top, out=first)
        np.equal(h1, top, out=equal)
        np.multiply(l0, first, out=top_low)
        np.logical_or(first, equal, out=keep)
        np.logical_not(keep, out=keep)
        np.multiply(l2, keep, out=other)
        top_low += other
        np.logical_not(first, out=keep)
        keep &= equal
        np.multiply(l1, keep, out=other)
        top_low += other
        np.maximum(top, -largest, out=shift)
        rest.fill(0.0)
        for index, (value, value_low) in enumerate(candidates):
            # TwoSum: difference + error = value - shift exactly.
            np.subtract(value, shift, out=difference)
            np.subtract(difference, value, out=rounded)
            np.subtract(difference, rounded, out=error)
            np.subtract(value, error, out=error)
            np.add(rounded, shift, out=rounded)
            np.subtract(error, rounded, out=error)
            error += value_low
            error -= top_low
            np.fmin(error, largest, out=error)  # nan (value = -inf) becomes finite
            # FastTwoSum: rounded + error = difference + error.
            np.add(difference, error, out=rounded)
            np.subtract(difference, rounded, out=difference)
            error += difference
            np.fmin(error, largest, out=error)  # nan (value = -inf) becomes finite, so that ...
            np.exp(rounded, out=rounded)
            error *= rounded  # ... a zero term gives 0
            rounded += error
            if index == 0:  # keep every candidate but the first largest
                np.logical_not(first, out=keep)
            elif index == 1:
                np.logical_not(equal, out=keep)
                keep |= first
            else:
                np.logical_or(first, equal, out=keep)
            rounded *= keep
            rest += rounded
        self._log1p(rest)
        # TwoSum: top + rest = merged high + other, then the low parts.
        merged_high, merged_low = high[2:], low[2:]  # the candidates are used up
        np.add(top, rest, out=merged_high)
        np.subtract(merged_high, top, out=other)
        np.subtract(merged_high, other, out=difference)
        np.subtract(top, difference, out=difference)
        np.subtract(rest, other, out=other)
        np.add(difference, other, out=other)
        np.add(top_low, other, out=merged_low)
        # The emissions, in double length (TwoSum, then FastTwoSum to renormalise).
        np.add(merged_high, emissions, out=top)
        np.subtract(top, merged_high, out=rounded)
        np.subtract(top, rounded, out=error)
        np.subtract(merged_high, error, out=error)
        np.subtract(emissions, rounded, out=rounded)
        error += rounded
        error += merged_low
        np.fmin(error, largest, out=error)
        np.add(top, error, out=merged_high)
        np.subtract(merged_high, top, out=top)
        np.subtract(error, top, out=merged_low)
        np.fmin(merged_low, largest, out=merged_low)  # nan (high = -inf) becomes finite

    def _log1p(self, x):
        """``x = log1p(x)`` in place (``x >= 0``), with :meth:`_Merge._log1p`'s band fixed."""
        inside = np.flatnonzero((x >= _BAND[0]) & (x <= _BAND[1]))
        pivoted = (x.take(inside) - _PIVOT) / (1.0 + _PIVOT)
        np.log1p(x, out=x)
        if inside.size:
            pivoted = np.log1p(pivoted)
            pivoted += _LOG1P_PIVOT[1]
            pivoted += _LOG1P_PIVOT[0]
            np.put(x, inside, pivoted)


def _fast_forward(lattice, batch):
    """Each sample's log-likelihood as ``hi + lo``: :func:`_forward_alphas` without the alphas.

    Chunk by chunk of ``_CHUNK`` samples of similar lengths, with :class:`_Forward`.
    """
    samples = batch.labels.shape[0]
    frames = int(batch.input_lengths.max())
    high, low = np.full(samples, -np.inf), np.zeros(samples)
    high[batch.target_lengths == 0] = 0.0  # an empty target with an empty input
    if frames == 0:
        return high, low
    finals = _final_states(batch.target_lengths)
    ends = batch.input_lengths - 1
    # Samples sorted by target and input length, so that a chunk needs only its own longest
    # extended target (states) and its own longest input (frames).
    order = np.lexsort((batch.input_lengths, batch.target_lengths))
    with np.errstate(all="ignore"):
        for start in range(0, samples, _CHUNK):
            chunk = order[start:start + _CHUNK]
            states = 2 * int(batch.target_lengths[chunk[-1]]) + 1
            steps = max(1, int(np.maximum.reduce(batch.input_lengths[chunk])))
            forward = _Forward(chunk.size, states)
            # (T, W, samples): each state's row contiguous.
            across = _emissions_across(batch, lattice.labels[:, :states], steps, chunk)
            penalty = np.where(lattice.skip[chunk, :states], 0.0, -np.inf).T.copy()
            forward.high[2:4] = across[0, :2]
            for t in range(steps):
                if t:
                    forward.step(penalty, across[t])
                done = np.flatnonzero(ends[chunk] == t)
                if done.size:
                    high[chunk[done]], low[chunk[done]] = _finish(forward, done,
                                                                   finals[:, chunk])
        low[~np.isfinite(high)] = 0.0  # TwoSum's error there is nan
        total = high + low  # renormalised: total is the double nearest high + low
        low -= total - high
        low[~np.isfinite(total)] = 0.0
    return total, low


def _finish(forward, done, finals):
    """The log-likelihood of the samples ``done`` of a chunk: their final states merged."""
    last = finals[:, done]
    final = _Merge(2, (done.size,))
    rows = np.broadcast_to(done, last.shape)
    states_high = forward.high[last + 2, rows]
    states_low = forward.low[last + 2, rows]
    usable = (last >= 0) & (states_high != -np.inf)  # a -inf state's low is not 0
    final.high[usable], final.low[usable] = states_high[usable], states_low[usable]
    out_high, out_low = np.empty(done.size), np.empty(done.size)
    final(out_high, out_low)
    return out_high, out_low


def _backward(lattice, batch):
    """Every log beta, ``(T', N, W)`` as ``hi`` and ``lo``.

    ``beta[t, n, s]`` is the log of the summed probability of the frames after
    ``t`` over the paths from state ``s`` at frame ``t`` to a final state at
    frame ``input_lengths[n] - 1`` (0 at that frame's final states).
    """
    emissions, skip = lattice.emissions, lattice.skip
    frames, samples, width = emissions.shape
    start = np.full((samples, width), -np.inf)
    finals = _final_states(batch.target_lengths)
    rows = np.arange(samples)
    for last in finals:
        start[rows[last >= 0], last[last >= 0]] = 0.0
    beta_high, beta_low = np.empty(emissions.shape), np.empty(emissions.shape)
    merge = _Merge(3, (samples, width))
    work = _work((samples, width))
    next_high, next_low = np.empty((samples, width)), np.empty((samples, width))
    ends = batch.input_lengths - 1
    with np.errstate(all="ignore"):
        for t in range(frames - 1, -1, -1):
            state_high, state_low = beta_high[t], beta_low[t]
            if t < frames - 1:
                _add(beta_high[t + 1], beta_low[t + 1], emissions[t + 1], next_high, next_low,
                     work)
                _fill(merge, next_high, next_low, skip, forward=False)
                merge(state_high, state_low)
            if t == frames - 1:
                state_high[...], state_low[...] = start, 0.0
            else:
                restart = ends == t
                state_high[restart], state_low[restart] = start[restart], 0.0
    return beta_high, beta_low


def _log_likelihood(batch, keep=False):
    """The lattice, each sample's log-likelihood as ``hi + lo`` and (``keep``) the alphas."""
    if not keep:
        lattice = _lattice(batch, emissions=False)
        return (lattice, *_fast_forward(lattice, batch), None, None)
    lattice = _lattice(batch)
    high, low, alpha_high, alpha_low = _forward(lattice, batch)
    return lattice, high, low, alpha_high, alpha_low


def _losses(high, low, zero_infinity):
    """The losses ``-(hi + lo)`` as ``hi + lo``; 0 for an infinite loss with ``zero_infinity``."""
    loss_high, loss_low = 0.0 - high, 0.0 - low
    if zero_infinity:
        infinite = loss_high == np.inf
        loss_high[infinite], loss_low[infinite] = 0.0, 0.0
    return loss_high, loss_low


def _divisors(batch, reduction):
    """What each sample's loss is divided by: ``N * max(target_length, 1)`` for "mean", else 1."""
    if reduction != "mean":
        return np.ones(batch.target_lengths.size, dtype=np.int64)
    return batch.target_lengths.size * np.maximum(batch.target_lengths, 1)


def _reduce(loss_high, loss_low, divisors, reduction, batch):
    """``"none"``: the losses; otherwise the sum of ``loss / divisor``, correctly rounded.

    The double-length losses are divided and added exactly, in rational
    arithmetic, and rounded once; where a loss is not finite, IEEE arithmetic
    gives inf or nan as torch does.
    """
    if reduction == "none":
        values = loss_high.astype(batch.dtype)
        return values if batch.batched else values.reshape(())
    if not np.isfinite(loss_high).all():
        return batch.dtype.type(np.add.reduce(loss_high / divisors))
    total = Fraction(0)
    for divisor in np.unique(divisors):
        group = divisors == divisor
        parts = _expansion(np.concatenate([loss_high[group], loss_low[group]]))
        if parts is None:  # sums near float64's limit: add the values themselves
            parts = np.concatenate([loss_high[group], loss_low[group]]).tolist()
        total += sum(map(Fraction, parts), Fraction(0)) / int(divisor)
    try:
        return batch.dtype.type(float(total))
    except OverflowError:  # beyond float64's range: correctly rounded, that is inf
        return batch.dtype.type(math.inf if total > 0 else -math.inf)


def _expansion(values):
    r"""A few floats whose exact sum is that of the finite float64 ``values``, or ``None``.

    Rump, Ogita and Oishi's extraction, repeated: with :math:`\sigma` a power
    of two at least four times :math:`\sum |v|`, :math:`q = (\sigma + v) -
    \sigma` and :math:`v - q` are exact, the :math:`q` are multiples of
    :math:`2^{-53}\sigma` whose sum (in any order) stays below :math:`\sigma`,
    so it is exact; the remainders, below :math:`2^{-53}\sigma` each, are
    treated the same way until they vanish, which takes a few rounds (each
    removes about :math:`53 - \log_2 n` bits). ``None`` where :math:`\sigma`
    would overflow.
    """
    parts = []
    while True:
        with np.errstate(over="ignore"):
            size = float(np.add.reduce(np.abs(values)))
        if size == 0.0:
            return parts
        power = math.frexp(size)[1] + 2
        if not (math.isfinite(size) and power <= 1020):
            return None
        sigma = math.ldexp(1.0, power)
        high = (values + sigma) - sigma
        parts.append(float(np.add.reduce(high)))
        values = values - high


def ctc_loss(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
             zero_infinity=False):
    r"""Connectionist temporal classification loss: minus the log of the summed alignments.

    .. math:: \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)}
        \prod_{t=1}^{T_n} e^{x_{t, n, \pi_t}}

    with :math:`x` the log-probabilities, :math:`T_n` the sample's input
    length, :math:`y_n` its target (its first ``target_lengths[n]`` labels)
    and :math:`\mathcal{B}^{-1}(y_n)` the alignments of length :math:`T_n`
    that collapse to it: merge repeated classes, then drop the blanks. The sum
    is evaluated by the forward recursion over the extended labels
    :math:`y' = (\varnothing, y_1, \varnothing, \dots, y_U, \varnothing)`
    (:math:`\varnothing` the blank):

    .. math:: \alpha_t(s) = x_{t, y'_s} + \log\big(e^{\alpha_{t-1}(s)}
        + e^{\alpha_{t-1}(s-1)} + [y'_s \ne y'_{s-2}]\, e^{\alpha_{t-1}(s-2)}\big),
        \qquad \ell_n = -\log\big(e^{\alpha_{T_n}(2U)} + e^{\alpha_{T_n}(2U-1)}\big)

    where the third term exists only for a label unlike the label before it
    (between two equal labels a blank is required). A target that no
    alignment reaches (too few frames for its labels and the blanks between
    repeats) has probability 0 and loss ``inf``; ``zero_infinity=True``
    replaces that by 0. An empty target is reached only by all blanks; an
    empty input reaches only an empty target (loss 0).

    ``"mean"`` divides each sample's loss by its target length (at least 1)
    and averages over the batch, as torch does; ``"sum"`` adds the losses.

    Accuracy: the sums of log-probabilities along the paths are carried in
    double length (a float64 ``hi`` and ``lo``), so the only roundings are
    inside the merges. A merge of two or three paths adds
    :math:`c = \log(1 + \sum_i e^{d_i}) \in [0, \log 3]`, computed with an
    absolute error below :math:`2 \varepsilon c` (at most :math:`1.99
    \varepsilon c` on 20 000 random merges), and its error reaches the loss
    weighted by the posterior probability of the merged state. Summed over
    the lattice these weighted :math:`c` are at most the entropy of the
    posterior over the alignments (each :math:`c` is a min-entropy of the
    choice of predecessor), which is at most :math:`\log A_n`, :math:`A_n`
    the number of alignments. So the loss is within 2 ulp of
    :math:`|\ell_n| + \log A_n` (the scale ``lossbook.exact.ctc_loss`` returns
    with ``magnitude=True``), which matters only where unnormalised
    log-probabilities make the loss cancel to near 0. Against mpmath the loss
    itself came out within 0.7 ulp on random, flat, peaked (a favoured
    alignment by logit gaps up to 700, losses down to :math:`10^{-302}`), long
    (1000 frames), repeated-label and empty-target inputs and on
    log-probabilities scaled up to :math:`10^{300}`. torch's float64
    recursion rounds at every frame: about 10 ulp off after 500 flat frames,
    and wrong in every digit where the loss is below :math:`10^{-16}`.
    ``"sum"`` and ``"mean"`` divide and add the double-length losses exactly
    and round once.

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities :math:`x`, shape ``(T, N, C)`` (frames, batch,
        classes) or, unbatched, ``(T, C)``; float32 or float64. They need not
        be normalised (torch does not check either).
    targets : array_like
        Class indices, padded as ``(N, S)`` (``(1, S)`` or ``(S,)`` unbatched,
        with ``target_lengths[n] <= S``), or concatenated as 1-D with
        ``sum(target_lengths)`` entries. Entries past a sample's target length
        are ignored (any padding value will do, -1 included); the others must
        lie in ``[0, C)`` and differ from ``blank``. Integer dtype, or floats
        holding whole numbers.
    input_lengths : array_like of int
        Frames per sample, shape ``(N,)`` (``()`` or ``(1,)`` unbatched), each
        in ``[0, T]``. Frames past a sample's length are ignored.
    target_lengths : array_like of int
        Labels per sample, same shape, each ``>= 0``.
    blank : int, default 0
        The blank's class index, in ``[0, C)``.
    reduction : {"mean", "sum", "none"}, default "mean"
    zero_infinity : bool, default False
        Replace infinite losses (unreachable targets) by 0.

    Returns
    -------
    ndarray or numpy scalar
        The losses, shape ``(N,)`` (``()`` unbatched), for ``"none"``; else
        their reduction. In ``log_probs``'s dtype.

    Raises
    ------
    TypeError
        If ``log_probs`` or ``targets`` is not numeric, a length array does not
        hold integers, ``blank`` is not an integer or ``zero_infinity`` not a bool.
    ValueError
        If a shape is wrong, ``log_probs`` is empty or holds ``+inf`` (torch
        returns nan there), a length is negative or too long, a used target is
        outside ``[0, C)`` or is the blank, ``blank`` is outside ``[0, C)`` or
        ``reduction`` is unknown.

    Examples
    --------
    Two frames, a blank (class 0) and one label, each with probability 1/2:
    the target ``[1]`` is reached by the alignments ``1 1``, ``0 1`` and
    ``1 0``, so its probability is 3/4.

    >>> import numpy as np
    >>> import lossbook as lb
    >>> log_probs = np.log(np.full((2, 1, 2), 0.5))
    >>> float(lb.ctc_loss(log_probs, [[1]], [2], [1], reduction="sum"))  # log(4/3)
    0.2876820724517809
    """
    batch = _operands(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                      zero_infinity)
    _, high, low, _, _ = _log_likelihood(batch)
    loss_high, loss_low = _losses(high, low, zero_infinity)
    return _reduce(loss_high, loss_low, _divisors(batch, reduction), reduction, batch)


def ctc_loss_grad(log_probs, targets, input_lengths, target_lengths, *, blank=0,
                  reduction="mean", zero_infinity=False):
    r"""Gradient of :func:`ctc_loss` with respect to ``log_probs``: minus the posteriors.

    .. math:: \frac{\partial \ell_n}{\partial x_{t, n, k}} = -\gamma_{t, n, k}
        = -\sum_{s:\, y'_s = k} e^{\alpha_t(s) + \beta_t(s) + \ell_n}

    for :math:`t < T_n` (0 for the frames past the input length), where
    :math:`\beta_t(s)` is the log of the summed probability of the frames after
    :math:`t` on the paths from state :math:`s` to the end, computed by the
    backward recursion. :math:`\gamma_{t, n, k}` is the posterior probability
    that an alignment of the target emits class :math:`k` at frame
    :math:`t`; it sums to 1 over the classes. ``"mean"`` divides sample
    :math:`n`'s gradient by :math:`N \max(U_n, 1)`; for ``"none"`` this is the
    gradient of the sum of the losses.

    This is the partial derivative with respect to ``log_probs`` itself (a
    finite difference in one log-probability confirms it). torch's autograd
    returns something else for ``torch.nn.functional.ctc_loss``: its native
    backward gives :math:`(e^{x_{t,n,k}} - \gamma_{t,n,k})` times the same
    factor, the gradient with respect to the *logits* when ``log_probs`` is a
    ``log_softmax`` of them. Chained through ``log_softmax`` the two agree,
    since :math:`\sum_k \gamma_{t,n,k} = 1`; on ``log_probs`` themselves they
    differ by :math:`e^{x}` (times the factor) on the frames within the input
    length.

    Where the loss is infinite (an unreachable target) the derivative does not
    exist: the gradient of that sample is nan, as torch's is, or 0 with
    ``zero_infinity=True``, as torch's is. A log-probability of ``-inf`` gets
    the derivative 0 (no alignment through it has any probability), where
    torch says nan.

    Accuracy: each posterior's exponent :math:`\alpha + \beta + \ell` is
    formed in double length, so a posterior carries the errors of the two
    recursions (see :func:`ctc_loss`) plus one ``exp``, and the posteriors of
    the states that share a class are then added. Against the forward-backward
    posteriors in mpmath every element came out within 2.6 ulp (random, flat,
    peaked and long inputs; the tests assert 4).

    Parameters
    ----------
    log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity
        As for :func:`ctc_loss`.

    Returns
    -------
    ndarray
        :math:`\partial L / \partial x`, shaped like ``log_probs``, in its dtype.

    Raises
    ------
    TypeError, ValueError
        As for :func:`ctc_loss`.

    Examples
    --------
    In the example of :func:`ctc_loss` the alignments ``1 1``, ``0 1``, ``1 0``
    are equally likely, so frame 0 emits the blank with posterior 1/3 and the
    label with 2/3:

    >>> import numpy as np
    >>> import lossbook as lb
    >>> log_probs = np.log(np.full((2, 1, 2), 0.5))
    >>> lb.ctc_loss_grad(log_probs, [[1]], [2], [1], reduction="sum")[0, 0]
    array([-0.33333333, -0.66666667])
    """
    batch = _operands(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                      zero_infinity)
    lattice, high, low, alpha_high, alpha_low = _log_likelihood(batch, keep=True)
    gradient = np.zeros(batch.log_probs.shape)
    frames, samples, width = lattice.emissions.shape
    if frames:
        beta_high, beta_low = _backward(lattice, batch)
        with np.errstate(all="ignore"):
            exponent, error = two_sum(alpha_high, beta_high)
            exponent, carry = two_sum(exponent, 0.0 - high[:, None])
            error += carry
            error += alpha_low
            error += beta_low
            error -= low[:, None]
            posterior = np.exp(exponent)
            error *= posterior
            np.add(posterior, error, out=posterior, where=posterior > 0)
        posterior[np.arange(frames)[:, None] >= batch.input_lengths] = 0.0
        one_hot = np.zeros((samples, width, batch.log_probs.shape[2]))
        one_hot[np.arange(samples)[:, None], np.arange(width), lattice.labels] = 1.0
        gamma = np.matmul(posterior.transpose(1, 0, 2), one_hot).transpose(1, 0, 2)
        np.subtract(0.0, gamma, out=gradient[:frames])
    gradient /= _divisors(batch, reduction)[:, None]
    unreachable = high == -np.inf
    if zero_infinity:
        gradient[:, unreachable] = 0.0
    else:
        within = np.arange(gradient.shape[0])[:, None] < batch.input_lengths
        gradient[within & unreachable] = np.nan
    gradient = gradient.astype(batch.dtype, copy=False)
    return gradient if batch.batched else gradient[:, 0]

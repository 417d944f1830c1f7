"""The reductions applied to elementwise losses and to their gradients, in one place.

``"mean"`` divides the sum by a divisor that each loss chooses the way torch
does: the number of loss elements by default, the sum of the weights for
weighted ``mse_loss``/``l1_loss``, the summed weights of the targets for
``nll_loss``/``cross_entropy``, and the batch size for ``"batchmean"``.

Elementwise losses are evaluated by :func:`elementwise`, block by block: each
block of ``BLOCK`` elements and its temporaries stay in the CPU cache and reuse
the same few buffers, which is several times faster than numpy expressions on
whole arrays (each of those allocates, and page-faults in, a fresh array).

Sums use ``numpy.add.reduce`` (pairwise summation) within a block and again
over the blocks' sums: for non-negative losses that adds at most about
``log2(n) * eps / 2`` relative error to that of the elementwise values. A sum
that overflows although every value is finite is redone scaled by
``2**-SCALE``, so that a mean of values near float64's maximum is still
returned whenever it fits.
"""

import math
import threading

import numpy as np

REDUCTIONS = ("none", "mean", "sum")
BLOCK = 32768
"""Elements per block: 256 KiB per buffer, so that a kernel's few buffers share the L2 cache."""
SCALE = 128
"""A sum that overflows is redone on values times ``2**-SCALE``."""


_CACHE = threading.local()


def scratch(name, shape, dtype=np.float64):
    """A scratch array of ``shape`` kept between calls (one per thread and ``name``).

    Fresh arrays of a few hundred KiB come from ``mmap`` and are page-faulted in
    on every call, which costs as much as a pass over them; the losses' block
    buffers and the softmax workspaces are therefore reused from call to call.
    The array's contents are garbage, and it is only valid until the next call
    with the same ``name`` in the same thread: callers must not keep it, nor
    hand it out. Arrays over ``KEEP`` bytes are not kept (a fresh one is
    returned), so the memory held stays small whatever the inputs.
    """
    arrays = _CACHE.__dict__.setdefault("arrays", {})
    array = arrays.get(name)
    size = math.prod(shape)
    if array is None or array.size < size or array.dtype != dtype:
        array = np.empty(size, dtype)
        if array.nbytes <= KEEP:
            arrays[name] = array
    return array[:size].reshape(shape)


KEEP = 2**23
"""The largest scratch array (8 MiB) that :func:`scratch` and :func:`remembered` keep."""


def remembered(key, make):
    """``make()``, kept from the last call with the same ``key`` (one per thread)."""
    memory = _CACHE.__dict__.setdefault("remembered", {})
    if key in memory:
        return memory[key]
    value = make()
    memory.clear()
    if value.nbytes <= KEEP:
        memory[key] = value
    return value


_STAGGER = 320
"""Bytes between consecutive buffers of :func:`staggered`."""


def staggered(name, count, length, dtype=np.float64):
    """``count`` scratch buffers of ``length`` whose addresses differ modulo 4 KiB.

    Buffers that start at the same offset within a 4 KiB page (as separately
    ``mmap``-ed arrays do) make the CPU mistake a store to one for a store to
    the other ("4K aliasing") and stall the loads that follow: a kernel that
    reads one buffer while writing another ran at a third of its speed. So the
    buffers are cut from one array with ``_STAGGER`` bytes between them (and
    before the first, which keeps it off the inputs' offset too).
    """
    gap = _STAGGER // np.dtype(dtype).itemsize
    step = length + gap
    flat = scratch(name, (count * step + gap,), dtype)
    return [flat[gap + row * step:][:length] for row in range(count)]


def constant(value):
    """A block of ``value`` (``BLOCK`` elements, staggered like :func:`staggered`'s buffers).

    ``numpy.minimum`` and ``numpy.maximum`` against an array are several times
    faster than against a scalar (numpy 1.23 has no fast loop for a scalar
    operand there), so kernels compare with such a block.
    """
    offset = _STAGGER // 16  # half a stagger, in float64 elements
    return np.full(BLOCK + offset, value)[offset:]


def check_reduction(reduction, allowed=REDUCTIONS):
    """Raise ``ValueError`` unless ``reduction`` is one of ``allowed``."""
    if not isinstance(reduction, str) or reduction not in allowed:
        choices = ", ".join(repr(name) for name in allowed)
        raise ValueError(f"reduction must be one of {choices}, got {reduction!r}")


def weighted(values, weight):
    """``values * weight``, or ``values`` itself when there is no weight (``None``)."""
    return values if weight is None else values * weight


class Total:
    """A sum kept as ``value * 2**exponent``, so that it can exceed float64's range."""

    def __init__(self, value, exponent=0):
        self.value, self.exponent = value, exponent

    @classmethod
    def of(cls, values):
        """The sum of a float64 array (pairwise), scaled down when finite values overflow it."""
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(values, axis=None)
            if np.isfinite(total) or not np.isfinite(values).all():
                return cls(total)
            return cls(np.add.reduce(np.ldexp(values, -SCALE), axis=None), SCALE)

    @classmethod
    def combine(cls, totals):
        """The sum of several totals, scaled by ``2**-SCALE`` (pairwise over their values)."""
        scaled = [np.ldexp(total.value, total.exponent - SCALE) for total in totals]
        return cls(np.add.reduce(np.array(scaled, dtype=np.float64)), SCALE)

    def over(self, divisor):
        """``self / divisor`` as a float64 (inf or 0 only if the quotient is out of range)."""
        divisor = divisor if isinstance(divisor, Total) else Total(np.float64(divisor))
        return np.ldexp(self.value / divisor.value, self.exponent - divisor.exponent)

    def float(self):
        """The total as a float64 (inf if it is out of range)."""
        return np.ldexp(self.value, self.exponent)


def _divide(numerator, divisor):
    # A mean over nothing (no elements, every target ignored, zero total
    # weight) is undefined: like torch, return nan (or inf) rather than fail.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.divide(numerator, divisor)


def reduce(loss, reduction, dtype, divisor=None):
    """Reduce float64 elementwise ``loss`` values and return them in ``dtype``.

    ``"none"`` returns the values, ``"sum"`` their sum, and ``"mean"`` or
    ``"batchmean"`` the sum divided by ``divisor`` (default ``loss.size``).
    """
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    return finish(Total.of(np.ravel(loss)), reduction, dtype, loss.size, divisor)


def finish(total, reduction, dtype, size, divisor=None):
    """The reduced value of a :class:`Total` of ``size`` elements, in ``dtype``."""
    with np.errstate(all="ignore"):
        if reduction == "sum":
            value = total.float()
        else:
            value = total.over(size if divisor is None else divisor)
        return dtype.type(value)


def reduce_gradient(gradient, reduction, dtype, divisor=None):
    """Scale the float64 gradient of the summed loss to match ``reduce``.

    ``"none"`` and ``"sum"`` return the gradient of the sum; ``"mean"`` and
    ``"batchmean"`` divide it by ``divisor`` (default ``gradient.size``, right
    whenever loss and input have the same shape).
    """
    if reduction in ("mean", "batchmean"):
        if isinstance(divisor, Total):
            with np.errstate(all="ignore"):
                gradient = np.ldexp(gradient / divisor.value, -divisor.exponent)
        else:
            gradient = _divide(gradient, gradient.size if divisor is None else divisor)
    return np.asarray(gradient).astype(dtype, copy=False)


def elementwise(kernel, operands, reduction, dtype, *, temporaries=0, repair=None,
                divisor=None, band=None):
    """Evaluate an elementwise loss block by block and reduce it.

    Parameters
    ----------
    kernel : callable
        ``kernel(out, *buffers, *blocks)`` writes the float64 losses of one block
        into ``out``, given ``temporaries`` scratch ``buffers`` of the same
        length and the blocks of ``operands`` (which it must not overwrite).
        Where an operand is nan the loss must come out nan (not a number), and
        where the kernel's arithmetic overflows or meets ``0 * inf`` it must
        give inf or nan, never a wrong finite number: those values go to ``repair``.
    operands : list of ndarray
        float64 arrays of one shape, the shape of the losses. An operand
        broadcast along its leading axes (a per-class weight of shape ``(C,)``
        made ``(N, C)`` by ``numpy.broadcast_to``, say) is not copied to that
        shape: its blocks are cut from one repeating row (see :func:`_source`).
    reduction, dtype
        As for :func:`reduce`.
    repair : callable, optional
        ``repair(*values)`` recomputes, carefully, the losses at the positions
        where the kernel's value is not finite, given the operands' values
        there (1-D arrays), and returns them as a float64 array. It decides
        what is a true inf or nan and what was an intermediate overflow or an
        undefined product such as ``0 * inf`` that the loss defines as 0.
    divisor : float or Total, optional
        The divisor of ``"mean"`` (default: the number of elements).
    band : type, optional
        :class:`lossbook._elementary.Band`, for a kernel that takes ``log1p``
        from its keyword argument ``band`` (an instance made here).
    """
    shape = operands[0].shape
    sources = [_source(operand) for operand in operands]
    size = operands[0].size
    none = reduction == "none"
    result = np.empty(size) if none else None

    sums, scaled = [], []
    buffers = staggered("elementwise", temporaries + 1, min(size, BLOCK))
    options = {} if band is None else {"band": band()}
    with np.errstate(all="ignore"):
        for start in range(0, size, BLOCK):
            stop = min(start + BLOCK, size)
            if stop - start < BLOCK:
                buffers = [buffer[: stop - start] for buffer in buffers]
            blocks = [flat[start % period:][: stop - start] if period else flat[start:stop]
                      for flat, period in sources]
            out = result[start:stop] if none else buffers[0]
            kernel(out, *buffers[1:], *blocks, **options)
            total = np.add.reduce(out)
            if not math.isfinite(total):
                if repair is not None:
                    _repair(out, blocks, repair)
                total = Total.of(out)
                if total.exponent:
                    scaled.append(total.value)
                total = 0.0 if total.exponent else total.value
            sums.append(total)
    if none:
        return result.reshape(shape).astype(dtype, copy=False)
    total = Total.of(np.array(sums, dtype=np.float64))
    if scaled:
        total = Total.combine([total, Total(np.add.reduce(scaled), SCALE)])
    return finish(total, reduction, dtype, size, divisor)


def _source(operand):
    """The flattened ``operand`` and 0, or a repeated row of it and its ``period`` if it has one.

    An operand whose leading axes are broadcast (stride 0) repeats its trailing
    row: then copies of that row covering a block and one row more are
    returned with the period, and the block from ``start`` begins at
    ``start % period`` in them.
    """
    lead = 0
    while lead < operand.ndim and operand.strides[lead] == 0:
        lead += 1
    if lead == 0 or operand.size == 0:
        return np.ravel(operand), 0
    row = np.ravel(operand[(0,) * lead])
    copies = -(-min(operand.size, BLOCK) // row.size) + 1  # whole rows, one more than a block
    repeated = np.empty((copies, row.size))
    repeated[...] = row
    return repeated.reshape(-1), row.size


def _repair(out, blocks, repair):
    """Recompute the non-finite values of ``out`` with ``repair``."""
    where = np.flatnonzero(~np.isfinite(out))
    out[where] = repair(*(block[where] for block in blocks))


def switch_off(values, weight, *data):
    """Set ``values`` to 0 where ``weight`` is 0 and no ``data`` is nan (in place; returned).

    A weight (or target probability) of 0 switches its term off, even where the
    term would be infinite (``0 * inf`` is taken as 0); nan in any of ``data``
    (the other factors of the term) still propagates. ``weight`` may be
    ``None`` (nothing is switched off).
    """
    if weight is not None:
        off = np.equal(weight, 0.0)
        for array in data:
            off = off & ~np.isnan(array)
        values = np.asarray(values)
        values[np.broadcast_to(off, values.shape)] = 0.0
    return values

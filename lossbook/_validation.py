"""Argument checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` with a message that names the
argument and says what was wrong, so that bad input never turns into a silent
number. NaN is never rejected: like torch, lossbook lets it propagate.
"""

import numbers
import warnings

import numpy as np

from ._reduction import staggered

_FLOAT_KINDS = "f"
_INTEGER_KINDS = "iu"


def as_float_array(value, name):
    """Return ``value`` as a floating-point ndarray, keeping float32 and float64.

    Integers and booleans are promoted to float64; float16 is promoted to
    float32. Anything that is not a real number raises ``TypeError``.
    """
    array = _as_array(value, name)
    kind = array.dtype.kind
    if kind in _FLOAT_KINDS:
        if array.dtype == np.float16:
            return array.astype(np.float32)
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{name} must be float32 or float64, got {array.dtype}"
            )
        return array
    if kind in _INTEGER_KINDS or kind == "b":
        return array.astype(np.float64)
    raise TypeError(f"{name} must contain real numbers, got dtype {array.dtype}")


def _as_array(value, name):
    """``numpy.asarray(value)``, with a ragged nested sequence reported as ``name``'s fault."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.VisibleDeprecationWarning)
        try:
            return np.asarray(value)
        except (ValueError, np.VisibleDeprecationWarning):
            raise ValueError(
                f"{name} must be a rectangular array of numbers, got a ragged sequence"
            ) from None


def as_float64(value, name):
    """Return ``value`` as a float64 ndarray, and the dtype results come back in.

    lossbook computes in float64 and rounds once at the end, so a float32
    argument gets a float32 answer that is as accurate as float32 allows.
    """
    array = as_float_array(value, name)
    return array.astype(np.float64, copy=False), array.dtype


def as_input_and_target(input, target):
    """Validate the operands of an elementwise loss.

    Returns ``input`` and ``target`` as float64 arrays of one shape, and the
    dtype of ``input``, in which results are returned.
    """
    x, dtype = as_float64(input, "input")
    y, _ = as_float64(target, "target")
    check_shape(y, x.shape, "target", "the input shape")
    return x, y, dtype


def check_shape(array, shape, name, expected):
    """Raise ``ValueError`` unless ``array.shape == shape``.

    ``expected`` says where ``shape`` comes from, e.g. ``"the input shape"``.
    Shapes are never broadcast: a mismatch is almost always a bug upstream.
    """
    if array.shape != tuple(shape):
        raise ValueError(
            f"{name} must have {expected} {tuple(shape)}, got shape {array.shape}"
        )


def check_broadcasts_to(array, shape, name):
    """Raise ``ValueError`` unless ``array`` broadcasts to ``shape`` unchanged."""
    try:
        broadcast = np.broadcast_shapes(array.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(
            f"{name} of shape {array.shape} does not broadcast to the input "
            f"shape {tuple(shape)}"
        )


def as_weight(value, name, shape, expected):
    """Return an optional weight as float64 (``None`` stays ``None``), checking it has ``shape``.

    ``expected`` says where ``shape`` comes from, e.g. ``"the input shape"``.
    """
    if value is None:
        return None
    weight, _ = as_float64(value, name)
    check_shape(weight, shape, name, expected)
    return weight


def as_broadcast_weight(value, name, shape):
    """Return an optional weight as float64 (``None`` stays ``None``), broadcasting to ``shape``."""
    if value is None:
        return None
    weight, _ = as_float64(value, name)
    check_broadcasts_to(weight, shape, name)
    return weight


def check_within(array, name, low, high, meaning):
    """Raise ``ValueError`` if an element of ``array`` lies outside ``[low, high]``.

    ``meaning`` names what the values are, e.g. ``"probabilities"``. NaN passes.
    """
    # Fast path without temporaries: fmin and fmax skip nan (an all-nan array
    # compares False here and passes the elementwise check below).
    if array.size == 0 or (
        np.fmin.reduce(array, axis=None) >= low and np.fmax.reduce(array, axis=None) <= high
    ):
        return
    outside = (array < low) | (array > high)
    if outside.any():
        raise ValueError(
            f"{name} must lie in [{low}, {high}] ({meaning}); "
            f"found {array[outside].flat[0]!r}"
        )


def check_signed_labels(array, name):
    """Raise ``ValueError`` unless every element of ``array`` is -1 or +1 (or NaN)."""
    flat = np.ravel(array)
    buffers = staggered("labels", 2, min(flat.size, 2**16), dtype=bool)
    for start in range(0, flat.size, 2**16):  # in blocks that stay in the cache
        block = flat[start:start + 2**16]
        wrong, other = (buffer[: block.size] for buffer in buffers)
        np.not_equal(block, 1.0, out=wrong)
        np.not_equal(block, -1.0, out=other)
        if np.logical_and(wrong, other, out=wrong).any():
            break
    else:
        return
    wrong = array != 1.0
    wrong &= array != -1.0
    if wrong.any():
        wrong &= ~np.isnan(array)
        if wrong.any():
            raise ValueError(
                f"{name} must hold labels -1 or +1; found {array[wrong].flat[0]!r}"
            )


def as_real(value, name):
    """Return ``value`` as a Python float, or raise ``TypeError`` if it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def as_real_in(value, name, low, high, *, closed):
    """Return the real ``value`` as a float after checking it lies in an interval.

    The interval is ``[low, high]`` if ``closed`` else ``(low, high)``.
    """
    number = as_real(value, name)
    inside = low <= number <= high if closed else low < number < high
    if not inside:
        interval = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return number


def as_positive(value, name):
    """Return the real ``value`` as a float after checking it is finite and > 0."""
    number = as_real(value, name)
    if not 0 < number < np.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_flag(value, name):
    """Raise ``TypeError`` unless ``value`` is a bool (a truthy string is not a flag)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def as_class_indices(value, num_classes, ignore_index, name):
    """Return class indices as int64, and a mask of the entries that are not ignored.

    Integer arrays are taken as they are; float arrays are accepted only if every
    entry is a whole number. Each index must lie in ``[0, num_classes)`` or equal
    ``ignore_index``.
    """
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"ignore_index must be an integer, got {ignore_index!r}")
    array = _as_array(value, name)
    kind = array.dtype.kind
    if kind in _FLOAT_KINDS and array.dtype.itemsize > 8:
        raise TypeError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    if kind in _FLOAT_KINDS:
        fractional = array != np.floor(array)
        if fractional.any():
            raise ValueError(
                f"{name} holds class indices, which must be whole numbers; "
                f"found {array[fractional].flat[0]!r}"
            )
    elif kind not in _INTEGER_KINDS:
        raise TypeError(
            f"{name} must hold integer class indices, got dtype {array.dtype}"
        )
    kept = array != ignore_index
    # Fast path: when every entry is a class, none can be out of range.
    if array.size and not (array.min() >= 0 and array.max() < num_classes):
        out_of_range = kept & ((array < 0) | (array >= num_classes))
        if out_of_range.any():
            raise ValueError(
                f"{name} holds class index {array[out_of_range].flat[0]!r}, outside "
                f"[0, {num_classes - 1}] for {num_classes} classes "
                f"(and not ignore_index={ignore_index})"
            )
    return array.astype(np.int64, copy=False), kept

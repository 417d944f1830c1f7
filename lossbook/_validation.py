"""Argument checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` with a message that names the
argument and says what was wrong, so that bad input never turns into a silent
number.
"""

import numpy as np

_FLOAT_KINDS = "f"
_INTEGER_KINDS = "iu"


def as_float_array(value, name):
    """Return ``value`` as a floating-point ndarray, keeping float32 and float64.

    Integers and booleans are promoted to float64; float16 is promoted to
    float32. Anything that is not a real number raises ``TypeError``.
    """
    array = np.asarray(value)
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

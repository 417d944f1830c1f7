"""Relative error of lossbook, torch, gluon and the textbook formula against mpmath.

Every catalog entry and variant (lossbook.catalog.entries() + variants())
runs in float64 on each of its extreme batches (entry.extreme_batches()); the
exact answer comes from lossbook.exact, mpmath at 60 significant digits. Each
cell is the largest relative error over the batch's unreduced losses,
|computed - exact| / |exact|, with "inf" where a finite exact answer came out
inf or nan (or an exact 0 or inf did not come out exactly), and 0 where every
value is exact. Rows marked * hold losses whose terms have both signs and
cancel; there the error is relative to the sum of the terms' magnitudes (the
scale lossbook's docstrings state for them), since no float64 method knows
more of the result than the rounding of its terms.

torch runs the entry's spelling (its class, function or expression); the
textbook column is the entry's naive numpy formula. gluon's column compares
gluon's output with the exact value of what the catalog says gluon returns:
its relation applied to the exact loss, gluon's epsilon included, so it
measures rounding, not the epsilon ("undef." where the relation divides by
zero, at a probability of exactly 0 or 1).

Run: .venv/bin/python bench/accuracy.py
"""

import numpy as np
import torch

from lossbook import catalog, exact, frameworks

mx = frameworks.require("mxnet")  # keeps mxnet's import-time warnings quiet

COLUMNS = ("lossbook", "torch", "gluon", "textbook")


class NotFloat64(Exception):
    """A framework computed in a lower precision than asked for."""


def float64_output(values):
    """A framework's output as a numpy array, refusing anything but float64."""
    values = np.asarray(values)
    if values.dtype != np.float64:
        raise NotFloat64(str(values.dtype))
    return values


def torch_values(entry, batch):
    """torch's unreduced loss of the batch, as the entry spells it."""
    tensors, arrays = entry.torch_tensors(torch, batch)
    return float64_output(entry.torch_forward(torch, tensors, "none", arrays).numpy())


def errors_of(entry, batch):
    """The worst relative error of each implementation on a batch (None: no such loss)."""
    reference = entry.exact_loss(batch, "none")
    scale = entry.exact_loss(batch, "none", magnitude=True)
    implementations = {
        "lossbook": lambda: entry.evaluate(batch, "none"),
        "torch": lambda: torch_values(entry, batch),
        "textbook": None if entry.textbook is None else lambda: entry.textbook_loss(batch),
    }
    errors = {}
    for column, compute in implementations.items():
        try:
            errors[column] = None if compute is None else exact.worst_relative_error(
                compute(), reference, scale
            )
        except NotFloat64 as dtype:
            errors[column] = f"{dtype} only"
    errors["gluon"] = gluon_error(entry, batch)
    with exact.working_precision():  # abs() rounds to mpmath's precision
        cancels = any(abs(value) != size for value, size in zip(reference.ravel(), scale.ravel()))
    return errors, cancels


def gluon_error(entry, batch):
    """gluon's worst relative error against the exact value of its relation."""
    if entry.gluon is None:
        return None
    try:
        reference = entry.exact_gluon(batch)
        scale = entry.exact_gluon(batch, magnitude=True)
    except ZeroDivisionError:
        return "undef."
    try:
        output = float64_output(frameworks.gluon_loss(entry, batch))
    except NotFloat64 as dtype:
        return f"{dtype} only"
    return exact.worst_relative_error(output, reference, scale)


def cell(error):
    if error is None:
        return "n/a"
    if isinstance(error, str):
        return error
    if error == 0:
        return "0"
    if np.isinf(error):
        return "inf"
    return f"{error:.1e}"


def main():
    rows, worst = [], dict.fromkeys(COLUMNS, 0.0)
    for entry in catalog.entries() + catalog.variants():
        for name, batch in entry.extreme_batches().items():
            errors, cancels = errors_of(entry, batch)
            for column, error in errors.items():
                if isinstance(error, float):
                    worst[column] = max(worst[column], error)
            rows.append((entry.label + ("*" if cancels else ""), name, errors))
    label_width = max(len(row[0]) for row in rows)
    case_width = max(len(row[1]) for row in rows)
    header = f"{'loss':{label_width}s} {'case':{case_width}s} " + " ".join(
        f"{column:>9s}" for column in COLUMNS
    )
    print(__doc__.split("\n\n")[0])
    print("(float64 everywhere; gluon via float64 NDArrays, its output dtype checked: a cell")
    print(" would read 'float32 only' if a loss could not run in float64; n/a: no such loss")
    print(" or formula)\n")
    print(header)
    print("-" * len(header))
    for label, name, errors in rows:
        cells = " ".join(f"{cell(errors[column]):>9s}" for column in COLUMNS)
        print(f"{label:{label_width}s} {name:{case_width}s} {cells}")
    print("-" * len(header))
    print(f"{'worst':{label_width}s} {'':{case_width}s} "
          + " ".join(f"{cell(worst[column]):>9s}" for column in COLUMNS))
    print(f"\n2 ulp = 2 * eps = {2 * exact.EPS:.2e}; "
          "* = error relative to the sum of the terms' sizes.")


if __name__ == "__main__":
    main()

"""The versions of the packages a page was executed with."""

import platform
from importlib import metadata

import pandas as pd

PACKAGES = ("numpy", "mxnet", "torch", "pandas", "matplotlib", "lossbook")
"""The distributions whose versions the book reports, in display order."""


def versions(packages=PACKAGES):
    """Return a table of Python's version and each package's installed version.

    Versions are read from the installed distributions' metadata, so neither
    torch nor mxnet is imported. A package that is not installed is reported as
    ``"not installed"``.

    Parameters
    ----------
    packages : str or iterable of str
        One distribution name, or names in the order of the rows.

    Returns
    -------
    pandas.DataFrame
        One row per package, indexed by name, with a ``version`` column.

    Raises
    ------
    TypeError
        If ``packages`` is not a string or an iterable of strings.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.versions(["lossbook"]).loc["lossbook", "version"]
    '0.1.0'
    """
    names = _names(packages)
    rows = {"python": platform.python_version()}
    for name in names:
        try:
            rows[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            rows[name] = "not installed"
    return pd.DataFrame({"version": rows}).rename_axis("package")


def _names(packages):
    """``packages`` as a tuple of names: a single string is one name, not its letters."""
    if isinstance(packages, str):
        return (packages,)
    try:
        names = tuple(packages)
    except TypeError:
        raise TypeError(
            f"packages must be a distribution name or an iterable of names, got {packages!r}"
        ) from None
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"packages must hold distribution names (str), got {name!r}")
    return names

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
    packages : iterable of str
        Distribution names, in the order of the rows.

    Returns
    -------
    pandas.DataFrame
        One row per package, indexed by name, with a ``version`` column.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.versions(["lossbook"]).loc["lossbook", "version"]
    '0.1.0'
    """
    rows = {"python": platform.python_version()}
    for name in packages:
        try:
            rows[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            rows[name] = "not installed"
    return pd.DataFrame({"version": rows}).rename_axis("package")

"""The versions table against the interpreter and the imported packages."""

import platform

import numpy as np
import pytest
import torch

import lossbook as lb


def test_versions_match_the_imported_packages():
    """Each reported version is the one the imported module states."""
    table = lb.versions()
    assert table.loc["python", "version"] == platform.python_version()
    assert table.loc["numpy", "version"] == np.__version__
    assert table.loc["torch", "version"] == torch.__version__
    assert table.loc["lossbook", "version"] == lb.__version__


def test_missing_package_is_reported_not_raised():
    """A distribution that is not installed reads "not installed"."""
    table = lb.versions(["no-such-distribution-anywhere"])
    assert table.loc["no-such-distribution-anywhere", "version"] == "not installed"


def test_versions_of_one_name():
    """versions("numpy") is one package, not five letters."""
    table = lb.versions("numpy")
    assert list(table.index) == ["python", "numpy"]
    assert table.loc["numpy", "version"] == np.__version__


def test_versions_of_an_iterable():
    """Any iterable of names, in order (a generator included)."""
    table = lb.versions(name for name in ("torch", "numpy"))
    assert list(table.index) == ["python", "torch", "numpy"]
    assert table.loc["torch", "version"] == torch.__version__


@pytest.mark.parametrize("packages", [5, None, [b"numpy"], ["numpy", 3]])
def test_versions_rejects_what_is_not_a_name(packages):
    """A TypeError that names the argument."""
    with pytest.raises(TypeError, match="packages"):
        lb.versions(packages)

"""The versions table against the interpreter and the imported packages."""

import platform

import numpy as np
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

"""Fixtures shared by the test modules."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root():
    """The repository checkout the tests run from."""
    return REPO_ROOT

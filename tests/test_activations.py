"""Activations against torch and hand-derived values."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

import lossbook as lb


def test_sigmoid_matches_torch_on_moderate_logits():
    """sigmoid agrees with torch.sigmoid in float64 where neither can overflow."""
    z = np.linspace(-30.0, 30.0, 121)
    assert_allclose(lb.sigmoid(z), torch.sigmoid(torch.from_numpy(z)).numpy(), rtol=1e-15)


def test_sigmoid_of_extreme_logits_is_exact():
    """At ±1000 the exact answers 1 and e^-1000 (0 in float64) come out without overflow."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_allclose(lb.sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0], rtol=0, atol=0)


def test_sigmoid_keeps_float32():
    """float32 logits give a float32 result."""
    assert lb.sigmoid(np.ones(3, dtype=np.float32)).dtype == np.float32


def test_sigmoid_rejects_text():
    """Non-numeric input raises a TypeError that names the argument."""
    with pytest.raises(TypeError, match="input"):
        lb.sigmoid(np.array(["a", "b"]))

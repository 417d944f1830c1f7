"""The numbers book/explore.md states about gluon and torch, read from the executed page.

Each is compared with a hand derivation, with mpmath, or with gluon and torch
run here.
"""

import math

import mpmath
import numpy as np
import torch
from executed_pages import glued_values
from numpy.testing import assert_allclose

from lossbook import frameworks

mx = frameworks.require("mxnet")
U32 = 2.0**-24  # float32's unit roundoff


def glued():
    """The values the executed page glued."""
    return glued_values("explore")


def test_certain_wrong_prediction_caps():
    """At p = 0, y = 1: torch clamps the log at -100, gluon's epsilon gives -log(1e-12) = 27.6310."""
    values = glued()
    assert values["explore-torch-cap"] == 100.0
    assert values["explore-gluon-cap"] == f"{-math.log(1e-12):.4f}" == "27.6310"


def test_half_squared_error_and_huber_scales():
    """r = 1.5: r**2 / 2 = 1.125; delta = 2, r = 3: Huber 2 (3 - 1) = 4, Smooth L1 (and gluon's Huber) 3 - 1 = 2."""
    values = glued()
    assert values["explore-half-squared-error"] == 1.5**2 / 2
    assert values["explore-huber"] == 2.0 * (3.0 - 2.0 / 2)
    assert values["explore-smooth-l1"] == 3.0 - 2.0 / 2
    pred, target = frameworks.as_float64([3.0], "mxnet"), frameworks.as_float64([0.0], "mxnet")
    assert mx.gluon.loss.HuberLoss(rho=2.0)(pred, target).asscalar() == values["explore-smooth-l1"]
    assert mx.gluon.loss.L2Loss()(frameworks.as_float64([1.5], "mxnet"), target).asscalar() == 1.125


def test_float32_softmax_cross_entropy_errors():
    """Against mpmath, torch's float32 value is a few u off and gluon's more than ten times as many."""
    values = glued()
    z32 = np.array([[2.0, 1.0, 0.1, -1.0]], dtype=np.float32)
    mpmath.mp.dps = 40
    logits = [mpmath.mpf(float(v)) for v in z32[0]]
    exact = float(mpmath.log(mpmath.fsum(mpmath.exp(v) for v in logits)) - logits[0])
    torch32 = torch.nn.functional.cross_entropy(torch.from_numpy(z32), torch.tensor([0])).item()
    gluon32 = mx.gluon.loss.SoftmaxCrossEntropyLoss()(mx.nd.from_numpy(z32), mx.nd.zeros(1)).asscalar()
    for key, value in (("torch32", torch32), ("gluon32", gluon32)):
        assert_allclose(values[f"explore-softmax-{key}-in-u"], abs(value / exact - 1) / U32, rtol=1e-6)
    assert values["explore-softmax-torch32-in-u"] < 5
    assert values["explore-softmax-gluon32-in-u"] > 10 * values["explore-softmax-torch32-in-u"]

"""lossbook.gluon_outputs: what each gluon loss class returns for a batch."""

import inspect

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from lossbook import frameworks, gluon_outputs

mx = frameworks.require("mxnet")


def loss_classes():
    """The distinct loss classes mxnet.gluon.loss defines, aliases counted once, found by inspection."""
    return {
        cls.__name__
        for cls in vars(mx.gluon.loss).values()
        if inspect.isclass(cls) and issubclass(cls, mx.gluon.loss.Loss) and cls is not mx.gluon.loss.Loss
    }


def test_every_gluon_loss_class_is_run():
    """The table covers exactly the classes that inspecting mxnet.gluon.loss finds (14 in mxnet 1.9.1)."""
    table = gluon_outputs.output_shapes()
    assert set(table.index) == loss_classes()
    assert len(table) == 14


@pytest.mark.parametrize("batch_size", [2, 5])
def test_only_poisson_returns_one_number_for_the_batch(batch_size):
    """Every class returns batch_size values except PoissonNLLLoss, which returns shape (1,)."""
    table = gluon_outputs.output_shapes(batch_size)
    sizes = {name: int(np.prod(shape)) for name, shape in table["output shape"].items()}
    assert sizes.pop("PoissonNLLLoss") == 1
    assert set(sizes.values()) == {batch_size}
    assert list(table.index[~table["per sample"]]) == ["PoissonNLLLoss"]


def test_the_poisson_batch_gives_torchs_mean():
    """The Poisson batch the table runs, through gluon in float32, is torch's float64 mean to float32 precision."""
    log_rate, counts = gluon_outputs._batches(np.random.default_rng(0), 4)["PoissonNLLLoss"]
    out = mx.gluon.loss.PoissonNLLLoss()(mx.nd.array(log_rate), mx.nd.array(counts)).asnumpy()
    expected = torch.nn.PoissonNLLLoss()(torch.tensor(log_rate), torch.tensor(counts)).item()
    assert_allclose(out, [expected], rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 0, 2.0, True])
def test_bad_batch_size_raises(batch_size):
    """A batch size that is not an integer >= 2 raises ValueError naming it."""
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        gluon_outputs.output_shapes(batch_size)


def test_the_shapes_are_what_gluon_returns_when_called_here():
    """PoissonNLLLoss on a (5, 3) batch returns (1,), the mean of exp(pred) - counts * pred; L2Loss (5,)."""
    rng = np.random.default_rng(0)
    pred, counts = rng.standard_normal((5, 3)), rng.poisson(2.0, (5, 3)).astype(float)
    as_nd = (lambda values: frameworks.as_float64(values, "mxnet"))
    poisson = mx.gluon.loss.PoissonNLLLoss()(as_nd(pred), as_nd(counts))
    assert poisson.shape == (1,)
    assert poisson.asscalar() == pytest.approx(np.mean(np.exp(pred) - counts * pred), rel=1e-12)
    assert mx.gluon.loss.L2Loss()(as_nd(pred), as_nd(counts)).shape == (5,)
    table = gluon_outputs.output_shapes(batch_size=5)
    assert table.loc["PoissonNLLLoss", "output shape"] == (1,)
    assert table.loc["L2Loss", "output shape"] == (5,)

"""lossbook.gluon_outputs: which gluon loss blocks return one value per example, checked on gluon itself."""

import inspect

import numpy as np
import pytest

from lossbook import frameworks, gluon_outputs

mx = frameworks.require("mxnet")
from mxnet import gluon, nd  # noqa: E402  (after the import that silences mxnet)


def test_every_loss_class_of_gluon_is_listed_once():
    """The table has one row per subclass of gluon.loss.Loss that the module exports, aliases folded."""
    classes = {cls.__name__ for _, cls in inspect.getmembers(gluon.loss, inspect.isclass)
               if issubclass(cls, gluon.loss.Loss) and cls is not gluon.loss.Loss}
    table = gluon_outputs.output_shapes(batch_size=3)
    assert set(table.index) == classes and len(table) == len(classes)


def test_only_poisson_nll_averages_over_the_batch():
    """In mxnet 1.9.1 PoissonNLLLoss is the one block whose output is not one value per example."""
    table = gluon_outputs.output_shapes(batch_size=5)
    assert list(table.index[~table["one value per example"]]) == ["PoissonNLLLoss"]
    assert table.loc["PoissonNLLLoss", "output shape"] == (1,)


def test_the_shapes_are_what_gluon_returns_when_called_here():
    """PoissonNLLLoss on a (5, 3) batch returns shape (1,), its mean; L2Loss and SoftmaxCELoss shape (5,)."""
    rng = np.random.default_rng(0)
    pred, counts = rng.standard_normal((5, 3)), rng.poisson(2.0, (5, 3)).astype(float)
    poisson = gluon.loss.PoissonNLLLoss()(nd.array(pred), nd.array(counts))
    assert poisson.shape == (1,)
    # from_logits=True: the per-element loss is exp(pred) - counts * pred; gluon returns its mean.
    assert poisson.asscalar() == pytest.approx(np.mean(np.exp(pred) - counts * pred), rel=1e-5)
    assert gluon.loss.L2Loss()(nd.array(pred), nd.array(counts)).shape == (5,)
    assert gluon.loss.SoftmaxCELoss()(nd.array(pred), nd.array([0, 1, 2, 0, 1])).shape == (5,)
    table = gluon_outputs.output_shapes(batch_size=5)
    assert table.loc["L2Loss", "output shape"] == (5,)
    assert table.loc["SoftmaxCrossEntropyLoss", "output shape"] == (5,)


@pytest.mark.parametrize("batch_size", [1, 0, 2.5, True])
def test_output_shapes_rejects_a_batch_that_cannot_tell(batch_size):
    """With fewer than two examples (or a non-integer) per-example and averaged look alike: ValueError."""
    with pytest.raises(ValueError, match="batch_size must be an integer of at least 2"):
        gluon_outputs.output_shapes(batch_size=batch_size)

"""The numbers book/porting_table.md states, read from the executed page, against torch and gluon.

Each catalog entry's batch is run here through torch and gluon directly, from
the class paths and arguments the catalog spells out, and the page's glued
values and differences are compared with those runs and with hand-derived
figures (the unit roundoff, the Poisson gradient).
"""

import functools
import importlib
import inspect

import numpy as np
import pytest
import torch
from executed_pages import glued_values
from numpy.testing import assert_allclose

import lossbook as lb
from lossbook import catalog, frameworks

mx = frameworks.require("mxnet")
SEED = 0  # the page checks every entry on its seed-0 batch
UNIT_ROUNDOFF = 2.0**-53  # float64 has a 53-bit significand


@pytest.fixture(scope="module")
def glued():
    """The values the executed page glued."""
    return glued_values("porting_table")


def resolve(dotted_path):
    """The object at a dotted path such as torch.nn.MSELoss."""
    module, *attributes = dotted_path.split(".")
    return functools.reduce(getattr, attributes, importlib.import_module(module))


def batch_of(entry):
    """The entry's seed-0 batch, as the page draws it."""
    return entry.make_batch(np.random.default_rng(SEED))


def torch_run(entry, batch, reduction):
    """torch's loss, from the catalog's class path or expression, in float64."""
    input = torch.tensor(batch.input)
    target = torch.tensor(batch.target)
    if entry.torch.class_path is not None:
        return resolve(entry.torch.class_path)(**entry.options, reduction=reduction)(input, target)
    unreduced = eval(entry.torch.expression, {"torch": torch, "input": input, "target": target, **entry.options})
    return unreduced if reduction == "none" else getattr(unreduced, reduction)()


def gluon_run(entry, batch):
    """gluon's output, from the catalog's class path and arguments, in float64."""
    block = resolve(entry.gluon.class_path)(**entry.gluon.kwargs)
    return block(frameworks.as_float64(batch.input, "mxnet"), frameworks.as_float64(batch.target, "mxnet")).asnumpy()


def test_the_table_covers_every_catalog_entry(glued):
    """One row and one card per catalog entry: the glued values are keyed by every key, in order."""
    assert list(glued["porting-table-values"]) == list(catalog.keys())
    assert glued["porting-table-entries"] == len(catalog.keys())


@pytest.mark.parametrize("entry", catalog.entries(), ids=lambda entry: entry.key)
def test_card_values_are_the_frameworks_own(glued, entry):
    """Each card's torch and gluon values are what torch and gluon return; lossbook's is within 1e-12 of torch."""
    shown = glued["porting-table-values"][entry.key]
    batch = batch_of(entry)
    torch_value = torch_run(entry, batch, entry.torch.reduction).item()
    assert_allclose(shown["torch"], torch_value, rtol=1e-15)
    assert_allclose(shown["lossbook"], torch_value, rtol=1e-12)
    if entry.gluon is None:
        assert shown["gluon"] is None
    else:
        output = gluon_run(entry, batch)
        over_batch = output.sum() if entry.torch.reduction == "sum" else output.mean()
        assert_allclose(shown["gluon"], over_batch, rtol=1e-15)


def test_tolerance_in_unit_roundoffs(glued):
    """RTOL = 1e-12 is about 9007 u, with u = 2**-53 about 1.11e-16."""
    assert glued["porting-table-rtol"] == 1e-12
    assert glued["porting-table-unit-roundoff"] == UNIT_ROUNDOFF
    assert_allclose(glued["porting-table-rtol-in-u"], 1e-12 * 2.0**53, rtol=1e-15)
    assert round(glued["porting-table-rtol-in-u"]) == 9007


def test_the_worst_case_is_a_cancellation_in_the_poisson_gradient(glued):
    """The worst cell is poisson_nll's torch gradient, at an element where e^x - t nearly cancels."""
    assert (glued["porting-table-worst-where"], glued["porting-table-worst-column"]) == (
        "poisson_nll", "torch gradient"
    )
    entry = catalog.get("poisson_nll")
    batch = batch_of(entry)
    x = torch.tensor(batch.input, requires_grad=True)
    torch.nn.PoissonNLLLoss()(x, torch.tensor(batch.target)).backward()
    torch_grad = x.grad.numpy()
    lossbook_grad = lb.poisson_nll_loss_grad(batch.input, batch.target, log_input=True)
    assert_allclose(glued["porting-table-worst"], np.max(np.abs(torch_grad - lossbook_grad) / np.abs(lossbook_grad)),
                    rtol=1e-12)
    assert_allclose(glued["porting-table-worst-in-u"], glued["porting-table-worst"] / UNIT_ROUNDOFF, rtol=1e-12)
    rate = np.exp(batch.input)
    exact = (rate - batch.target) / batch.input.size  # d/dx mean(e^x - t x), by hand
    worst = np.unravel_index(np.argmax(np.abs(torch_grad - exact) / np.abs(exact)), exact.shape)
    assert abs(rate[worst] - batch.target[worst]) < 0.05 * rate[worst]
    assert 20 * UNIT_ROUNDOFF < glued["porting-table-worst"] <= 1e-12


def test_dropping_gluons_epsilon_is_rejected(glued):
    """The gap the page prints for BCE without gluon's epsilon is gluon against torch's BCELoss, beyond 1e-12."""
    batch = batch_of(catalog.get("bce"))
    gluon = mx.gluon.loss.SigmoidBCELoss(from_sigmoid=True)(
        frameworks.as_float64(batch.input, "mxnet"), frameworks.as_float64(batch.target, "mxnet")
    ).asnumpy()
    torch_loss = torch.nn.BCELoss(reduction="none")(torch.tensor(batch.input), torch.tensor(batch.target))
    claimed = torch_loss.numpy().mean(axis=1)
    independent = np.max(np.abs(gluon - claimed) / np.abs(claimed))
    assert independent > 1e-12
    assert_allclose(glued["porting-table-epsilon-gap"], independent, rtol=1e-3)


def test_only_poisson_nll_returns_one_value_per_batch(glued):
    """Of every gluon loss block, only PoissonNLLLoss ends in F.mean(loss) over all axes and returns shape (1,)."""
    module = mx.gluon.loss
    blocks = {value for value in vars(module).values()
              if isinstance(value, type) and issubclass(value, module.Loss) and value is not module.Loss}
    assert glued["porting-table-gluon-classes"] == len(blocks)
    per_batch = sorted(b.__name__ for b in blocks if "return F.mean(loss)\n" in inspect.getsource(b.hybrid_forward))
    assert glued["porting-table-gluon-per-batch"] == ", ".join(per_batch) == "PoissonNLLLoss"
    pred, counts = frameworks.as_float64(np.zeros((5, 2)), "mxnet"), frameworks.as_float64(np.ones((5, 2)), "mxnet")
    assert module.PoissonNLLLoss()(pred, counts).shape == (1,)
    assert module.L1Loss()(pred, counts).shape == (5,)
    assert glued["porting-table-mxnet-version"] == mx.__version__

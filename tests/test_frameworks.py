"""The frameworks adapter: lazy imports, missing frameworks, and the comparison table."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose

from lossbook import catalog, frameworks

mx = frameworks.require("mxnet")


@pytest.fixture
def without(monkeypatch):
    """Make a framework look uninstalled for one test, with frameworks not required."""
    monkeypatch.delenv(frameworks.REQUIRE_FRAMEWORKS, raising=False)

    def hide(name):
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now fails

    return hide


def run_python(code):
    """Run ``code`` in a fresh interpreter with every warning an error."""
    command = [sys.executable, "-W", "error", "-c", code]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def nd_arrays(batch):
    """The batch as float64 NDArrays."""
    return tuple(mx.nd.from_numpy(array, zero_copy=False) for array in (batch.input, batch.target))


def test_importing_lossbook_imports_neither_framework():
    """A fresh ``import lossbook`` leaves torch and mxnet unimported."""
    code = "import sys, lossbook; print('torch' in sys.modules, 'mxnet' in sys.modules)"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_mxnet_import_warnings_are_silenced_only_around_the_import():
    """Under ``-W error`` mxnet imports cleanly, and a later DeprecationWarning still raises."""
    code = (
        "import warnings\n"
        "from lossbook import frameworks\n"
        "frameworks.require('mxnet')\n"
        "try:\n"
        "    warnings.warn('still on', DeprecationWarning)\n"
        "except DeprecationWarning:\n"
        "    print('raised')\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "raised"


def test_compare_has_a_row_per_framework():
    """compare gives lossbook, torch and gluon rows, agreeing once gluon's relation is applied."""
    table = frameworks.compare("l2")
    assert list(table.index) == ["lossbook", "torch", "gluon"]
    assert list(table.columns) == list(frameworks.COLUMNS)
    assert (table["max_abs_diff"] < 1e-14).all()


def test_compare_values_are_the_frameworks_own():
    """compare's values are torch's MSELoss and gluon's mean L2Loss of the seeded batch."""
    batch = catalog.get("l2").make_batch(np.random.default_rng(7))
    table = frameworks.compare("l2", seed=7)
    input, target = torch.from_numpy(batch.input), torch.from_numpy(batch.target)
    mse = torch.nn.functional.mse_loss(input, target)
    assert table.loc["torch", "value"] == mse.item()
    gluon = mx.gluon.loss.L2Loss()(*nd_arrays(batch)).mean().asscalar()
    assert_allclose(table.loc["gluon", "value"], gluon, rtol=1e-15)
    assert table.loc["torch", "call"] == "torch.nn.MSELoss(reduction='mean')(input, target)"
    assert table.loc["gluon", "call"] == "mxnet.gluon.loss.L2Loss()(pred, label).mean()"


def test_compare_is_deterministic_and_takes_a_batch():
    """The same seed gives the same table, and a batch passed in is the one used."""
    entry = catalog.get("cross_entropy")
    assert frameworks.compare(entry, seed=1).equals(frameworks.compare(entry, seed=1))
    batch = catalog.Batch(np.array([[0.0, 0.0, 0.0, 0.0]]), np.array([2]))
    table = frameworks.compare(entry, batch, reduction="sum")
    assert_allclose(table["value"], np.log(4.0), rtol=1e-15)
    assert table.loc["gluon", "call"].endswith(".sum()")


def test_compare_notes_a_loss_without_gluon_class():
    """For the quantile loss the gluon row is left out, and a note row says why."""
    table = frameworks.compare("quantile")
    assert list(table.index) == ["lossbook", "torch", "note"]
    expected = "gluon has no class for this loss: the gluon row is left out"
    assert table.loc["note", "call"] == expected


def test_compare_without_mxnet_says_so_in_one_line(without):
    """Without mxnet the comparison leaves the gluon row out, and a one-line note says so."""
    without("mxnet")
    table = frameworks.compare("l1")
    assert list(table.index) == ["lossbook", "torch", "note"]
    assert table.loc["note", "call"] == "mxnet is not installed: the gluon row is left out"


def test_compare_without_torch_says_so_in_one_line(without):
    """Without torch the comparison leaves the torch row out, and a one-line note says so."""
    without("torch")
    table = frameworks.compare("l1")
    assert list(table.index) == ["lossbook", "gluon", "note"]
    assert table.loc["note", "call"] == "torch is not installed: the torch row is left out"


@pytest.mark.parametrize("name", ["mxnet", "torch"])
def test_a_missing_framework_that_is_required_is_an_error(without, monkeypatch, name):
    """With LOSSBOOK_REQUIRE_FRAMEWORKS=1 a missing framework raises, saying how to install it."""
    without(name)
    monkeypatch.setenv(frameworks.REQUIRE_FRAMEWORKS, "1")
    message = rf"=1 requires {name}, but {name} is not installed: install it with `pip install"
    with pytest.raises(ModuleNotFoundError, match=message):
        frameworks.compare("l1")


def test_missing_message_is_one_line_naming_the_framework():
    """The message a chapter prints for a missing framework is one line naming it."""
    assert frameworks.missing_message("torch") == "torch is not installed: its output is left out"


def test_running_gluon_without_mxnet_says_how_to_install_it(without):
    """gluon_loss cannot do without mxnet, and says how to install it."""
    without("mxnet")
    entry = catalog.get("l1")
    with pytest.raises(ModuleNotFoundError, match="install it with `pip install mxnet==1.9.1"):
        frameworks.gluon_loss(entry, entry.make_batch(np.random.default_rng(0)))


def test_a_broken_framework_is_not_mistaken_for_a_missing_one(monkeypatch):
    """An import that fails for want of a dependency of the framework raises as it is."""

    def import_module(name):
        raise ModuleNotFoundError("No module named 'graphviz'", name="graphviz")

    monkeypatch.setattr(frameworks.importlib, "import_module", import_module)
    with pytest.raises(ModuleNotFoundError, match="graphviz"):
        frameworks.optional("mxnet")
    with pytest.raises(ModuleNotFoundError, match="graphviz"):
        frameworks.require("mxnet")


def test_compare_refuses_an_unreduced_or_unsupported_reduction():
    """compare shows one number per framework: 'none', and 'batchmean' for L1, are refused."""
    with pytest.raises(ValueError, match=r"one of \['mean', 'sum'\], got 'none'"):
        frameworks.compare("l1", reduction="none")
    with pytest.raises(ValueError, match="got 'batchmean'"):
        frameworks.compare("l1", reduction="batchmean")


def test_gluon_functions_refuse_a_loss_without_gluon_class():
    """gluon_loss and gluon_grad raise ValueError for the quantile loss, which gluon lacks."""
    entry = catalog.get("quantile")
    batch = entry.make_batch(np.random.default_rng(0))
    for function in (frameworks.gluon_loss, frameworks.gluon_grad):
        with pytest.raises(ValueError, match="gluon has no class for the 'quantile' loss"):
            function(entry, batch)


def test_torch_functions_run_the_spelling_in_float64():
    """torch_loss and torch_grad equal torch.nn.functional run directly on float64 tensors."""
    entry = catalog.get("huber", delta=0.5)
    batch = entry.make_batch(np.random.default_rng(0))
    input = torch.tensor(batch.input, requires_grad=True)
    target = torch.tensor(batch.target)
    expected = torch.nn.functional.huber_loss(input, target, delta=0.5, reduction="sum")
    expected.backward()
    value = frameworks.torch_loss(entry, batch, "sum")
    assert value.dtype == np.float64 and value == expected.item()
    assert_allclose(frameworks.torch_grad(entry, batch, "sum"), input.grad, rtol=0, atol=0)


def test_torch_functions_take_float32_batches_in_float64():
    """A float32 batch runs in float64, and class indices stay int64."""
    entry = catalog.get("cross_entropy")
    batch = entry.make_batch(np.random.default_rng(0))
    single = catalog.Batch(batch.input.astype(np.float32), batch.target.astype(np.int32))
    widened = single.input.astype(np.float64)
    expected = torch.nn.functional.cross_entropy(
        torch.from_numpy(widened), torch.from_numpy(batch.target)
    )
    assert frameworks.torch_loss(entry, single) == expected.item()


def test_torch_functions_default_to_the_books_reduction():
    """Without a reduction torch_loss uses the entry's ('batchmean' for KL)."""
    entry = catalog.get("kl_div")
    batch = entry.make_batch(np.random.default_rng(0))
    kl = torch.nn.functional.kl_div(
        torch.from_numpy(batch.input), torch.from_numpy(batch.target), reduction="batchmean"
    )
    assert frameworks.torch_loss(entry, batch) == kl.item()


def test_gluon_functions_run_the_block_in_float64():
    """gluon_loss and gluon_grad equal gluon's HingeLoss run directly under mxnet.autograd."""
    entry = catalog.get("hinge", margin=2.0)
    batch = entry.make_batch(np.random.default_rng(0))
    input, label = nd_arrays(batch)
    input.attach_grad()
    with mx.autograd.record():
        expected = mx.gluon.loss.HingeLoss(margin=2.0)(input, label)
    expected.backward()
    value = frameworks.gluon_loss(entry, batch)
    assert value.dtype == np.float64
    assert_allclose(value, expected.asnumpy(), rtol=0, atol=0)
    assert_allclose(frameworks.gluon_grad(entry, batch), input.grad.asnumpy(), rtol=0, atol=0)


def test_compare_returns_a_dataframe_the_page_can_display():
    """compare's result is a DataFrame whose HTML shows each framework's call."""
    table = frameworks.compare("soft_margin")
    assert isinstance(table, pd.DataFrame)
    html = table.to_html()
    assert "mxnet.gluon.loss.LogisticLoss" in html and "torch.nn.SoftMarginLoss" in html


@pytest.mark.parametrize("entry", catalog.variants(), ids=lambda entry: entry.label)
def test_torch_runs_every_variant_with_its_array_options(entry):
    """Weights drawn with a batch reach torch: its loss matches lossbook's, which uses them too."""
    batch = entry.make_batch(np.random.default_rng(3))
    torch_value = frameworks.torch_loss(entry, batch, "none")
    np.testing.assert_allclose(torch_value, entry.evaluate(batch, "none"), rtol=1e-12, atol=1e-300)
    if batch.options:
        unweighted = catalog.Batch(batch.input, batch.target)
        assert not np.allclose(frameworks.torch_loss(entry, unweighted, "none"), torch_value)

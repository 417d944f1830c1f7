"""Every catalog entry against PyTorch and MXNet gluon, and the porting facts it states.

Each entry's lossbook function is checked against torch (float64, every
reduction torch supports) and against gluon through the entry's stated
relation; each gradient against ``torch.autograd`` and ``mxnet.autograd``. The
facts behind the relations and traps are checked against the frameworks
directly, without lossbook.
"""

import contextlib

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose

import lossbook as lb
from lossbook import catalog, frameworks

mx = frameworks.require("mxnet")

# Everything runs in float64 (gluon included), where the three agree to a few ulp.
RTOL = 1e-12

ENTRIES = catalog.entries()
VARIANTS = (
    catalog.get("huber", delta=2.0),
    catalog.get("smooth_l1", beta=0.5),
    catalog.get("quantile", q=0.9),
    catalog.get("poisson_nll", log_input=False),
    catalog.get("hinge", margin=2.0),
    catalog.get("squared_hinge", margin=0.5),
)


def entry_id(entry):
    """Name a test case after the entry and its options, e.g. ``huber[delta=2.0]``."""
    options = ", ".join(f"{name}={value}" for name, value in entry.options.items())
    return f"{entry.key}[{options}]" if options else entry.key


ALL = [pytest.param(entry, id=entry_id(entry)) for entry in ENTRIES + VARIANTS]
WITH_GLUON = [param for param in ALL if param.values[0].gluon is not None]
WITH_REDUCTIONS = [
    pytest.param(entry, reduction, id=f"{entry_id(entry)}-{reduction}")
    for entry in ENTRIES + VARIANTS
    for reduction in entry.torch.reductions
]


def batch_of(entry, seed=0):
    """The seeded random batch of an entry."""
    return entry.make_batch(np.random.default_rng(seed))


def torch_warnings(entry, reduction):
    """Expect torch's warning about KL with reduction='mean' (the catalog's first KL trap).

    Any other warning fails the test, as pytest turns warnings into errors.
    """
    if (entry.key, reduction) == ("kl_div", "mean"):
        return pytest.warns(UserWarning, match="batchmean")
    return contextlib.nullcontext()


def gluon_grad_by_chain_rule(entry, batch):
    """d(sum of gluon's output)/d(input): lossbook's gradient pulled back through the relation.

    torch.autograd differentiates only the relation (a reduction, a factor and
    gluon's epsilon terms), with the unreduced loss and the input as
    independent leaves; the derivative of the loss itself is lossbook's.
    """
    loss = torch.tensor(entry.evaluate(batch, "none"), requires_grad=True)
    input = torch.tensor(batch.input, requires_grad=True)
    output = entry.to_gluon(loss, input, torch.from_numpy(batch.target), torch).sum()
    d_loss, d_input = torch.autograd.grad(output, (loss, input), allow_unused=True)
    weights = d_loss.numpy().reshape(d_loss.shape + (1,) * (batch.input.ndim - d_loss.ndim))
    pulled_back = weights * entry.gradient(batch, "none")
    return pulled_back if d_input is None else pulled_back + d_input.numpy()


# Agreement, entry by entry.


@pytest.mark.parametrize(("entry", "reduction"), WITH_REDUCTIONS)
def test_loss_matches_torch(entry, reduction):
    """lossbook's loss equals torch's spelling of it in float64, for every reduction torch has."""
    batch = batch_of(entry)
    with torch_warnings(entry, reduction):
        expected = frameworks.torch_loss(entry, batch, reduction)
    assert_allclose(entry.evaluate(batch, reduction), expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize(("entry", "reduction"), WITH_REDUCTIONS)
def test_gradient_matches_torch_autograd(entry, reduction):
    """lossbook's gradient equals torch.autograd's of torch's spelling, for every reduction."""
    batch = batch_of(entry)
    with torch_warnings(entry, reduction):
        expected = frameworks.torch_grad(entry, batch, reduction)
    assert_allclose(entry.gradient(batch, reduction), expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("entry", WITH_GLUON)
def test_gluon_output_follows_the_stated_relation(entry):
    """gluon's output equals the entry's relation applied to lossbook's unreduced loss."""
    batch = batch_of(entry)
    expected = entry.expected_gluon(batch)
    assert_allclose(frameworks.gluon_loss(entry, batch), expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("entry", WITH_GLUON)
def test_gluon_gradient_follows_the_stated_relation(entry):
    """mxnet.autograd's gradient equals lossbook's gradient pulled back through the relation."""
    batch = batch_of(entry)
    expected = gluon_grad_by_chain_rule(entry, batch)
    assert_allclose(frameworks.gluon_grad(entry, batch), expected, rtol=RTOL, atol=0)


# The catalog itself.


def test_table_has_a_row_per_entry_and_no_empty_cell():
    """The appendix table lists every key once, and every cell holds non-empty text."""
    table = catalog.table()
    assert list(table.index) == list(catalog.keys())
    assert table.map(lambda cell: isinstance(cell, str) and cell.strip() != "").all().all()


@pytest.mark.parametrize("entry", ALL)
def test_entry_is_complete(entry):
    """An entry has a known family, text for every fact, and the same batch for the same seed."""
    assert entry.family in catalog.FAMILIES
    assert entry.title.strip() and entry.relation.strip()
    assert entry.traps and all(trap.strip() for trap in entry.traps)
    first, second = batch_of(entry, seed=3), batch_of(entry, seed=3)
    assert_allclose(first.input, second.input, rtol=0, atol=0)
    assert_allclose(first.target, second.target, rtol=0, atol=0)


@pytest.mark.parametrize("entry", ALL)
def test_equation_is_the_loss_from_the_docstring(entry):
    """The equation is the docstring's math block that defines the loss, not its gradient."""
    assert entry.equation.split("\n")[0] in entry.loss.__doc__
    assert entry.equation.startswith(r"\ell")


def test_math_blocks_reads_one_and_several_line_directives():
    """math_blocks returns each directive's LaTeX, continuation lines included, and nothing else."""
    docstring = """Summary.

    .. math:: a = b
        + c

    Text between, :math:`x` inline.

    .. math::

        d = e

    Parameters
    ----------
    """
    assert catalog.math_blocks(docstring) == ["a = b\n+ c", "d = e"]


def test_keys_are_unique_and_every_family_is_taught():
    """The keys are unique, and each of the four families has at least one loss."""
    assert len(set(catalog.keys())) == len(catalog.keys())
    assert {entry.family for entry in ENTRIES} == set(catalog.FAMILIES)


def test_get_builds_an_entry_with_options():
    """get(key, **options) passes the options to lossbook, torch and gluon alike."""
    entry = catalog.get("huber", delta=2.5)
    assert dict(entry.options) == {"delta": 2.5}
    assert dict(entry.gluon.kwargs) == {"rho": 2.5}
    assert "delta=2.5" in entry.torch_call("mean")


def test_get_rejects_an_unknown_key():
    """An unknown key raises KeyError listing the keys there are."""
    with pytest.raises(KeyError, match="no catalog entry 'mse'.*l2"):
        catalog.get("mse")


def test_get_rejects_an_unknown_option():
    """An option the loss does not have raises TypeError naming it and the options there are."""
    with pytest.raises(TypeError, match="no option rho; its options are: delta"):
        catalog.get("huber", rho=2.0)
    with pytest.raises(TypeError, match="its options are: none"):
        catalog.get("l2", delta=2.0)


def test_expected_gluon_refuses_a_loss_without_gluon_class():
    """Asking what gluon outputs for the quantile loss, which gluon lacks, raises ValueError."""
    entry = catalog.get("quantile")
    with pytest.raises(ValueError, match="gluon has no class"):
        entry.expected_gluon(batch_of(entry))


def test_spellings_must_be_consistent():
    """A torch spelling has one of a class and an expression, and a reduction torch supports."""
    with pytest.raises(ValueError, match="exactly one"):
        catalog.TorchSpelling("values", "values", "torch.nn.L1Loss", "(input - target).abs()")
    with pytest.raises(ValueError, match="exactly one"):
        catalog.TorchSpelling("values", "values")
    with pytest.raises(ValueError, match="batchmean"):
        catalog.TorchSpelling("values", "values", "torch.nn.L1Loss", reduction="batchmean")


def test_entries_must_be_consistent():
    """An entry needs a known family, and a relation exactly when it has a gluon spelling."""
    entry = catalog.get("l1")
    fields = {name: getattr(entry, name) for name in entry.__dataclass_fields__}
    with pytest.raises(ValueError, match="family"):
        catalog.LossEntry(**{**fields, "family": "ranking"})
    with pytest.raises(ValueError, match="relation"):
        catalog.LossEntry(**{**fields, "to_gluon": None})


def test_calls_are_written_out_as_source():
    """The lossbook, torch and gluon calls read as the code a reader would type."""
    hinge = catalog.get("hinge")
    assert hinge.lossbook_call("sum") == "lb.hinge_loss(input, target, margin=1.0, reduction='sum')"
    assert hinge.torch_call("sum") == "torch.relu(margin - input * target).sum() with margin=1.0"
    assert hinge.gluon_call() == "mxnet.gluon.loss.HingeLoss(margin=1.0)(pred, label)"
    assert catalog.get("quantile").gluon_call() == "gluon has no class for this loss"
    l1_call = catalog.get("l1").torch_call("none")
    assert l1_call == "torch.nn.L1Loss(reduction='none')(input, target)"


def test_batches_have_the_formats_the_losses_need():
    """Margin losses get ±1 labels, class losses int64 indices in range, KL two distributions."""
    rng = np.random.default_rng(0)
    assert set(np.unique(catalog.get("hinge").make_batch(rng).target)) == {-1.0, 1.0}
    indices = catalog.get("cross_entropy").make_batch(rng).target
    assert indices.dtype == np.int64 and indices.min() >= 0 and indices.max() < catalog.CLASSES
    kl = catalog.get("kl_div").make_batch(rng)
    assert_allclose(np.exp(kl.input).sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(kl.target.sum(axis=1), 1.0, rtol=1e-14)


def test_top_level_package_exposes_the_modules():
    """lossbook exposes the catalog, the frameworks adapter and the plotting helpers."""
    assert lb.catalog is catalog and lb.frameworks is frameworks
    assert callable(lb.plotting.loss_curves)
    assert isinstance(lb.catalog.table(), pd.DataFrame)


# The facts behind the relations and traps, checked on the frameworks alone.


def nd(array):
    """A float64 NDArray."""
    return mx.nd.from_numpy(np.asarray(array, dtype=np.float64), zero_copy=False)


def tensor(array):
    """A float64 tensor."""
    return torch.tensor(np.asarray(array, dtype=np.float64))


PAIRS = catalog.get("l2").make_batch(np.random.default_rng(1))


def test_torch_mse_is_twice_gluon_l2():
    """torch's MSELoss(reduction='mean') is twice gluon's L2Loss averaged over the batch."""
    torch_mean = torch.nn.MSELoss()(tensor(PAIRS.input), tensor(PAIRS.target)).item()
    gluon = mx.gluon.loss.L2Loss()(nd(PAIRS.input), nd(PAIRS.target))
    assert_allclose(torch_mean, 2 * gluon.mean().asscalar(), rtol=RTOL)


@pytest.mark.parametrize("rho", [0.5, 1.0, 2.0])
def test_gluon_huber_is_torch_smooth_l1_and_huber_over_rho(rho):
    """gluon's HuberLoss(rho) is torch's SmoothL1Loss(beta=rho) and HuberLoss(delta=rho) / rho."""
    gluon = mx.gluon.loss.HuberLoss(rho=rho)(nd(PAIRS.input), nd(PAIRS.target)).asnumpy()
    pair = tensor(PAIRS.input), tensor(PAIRS.target)
    smooth_l1 = torch.nn.SmoothL1Loss(beta=rho, reduction="none")(*pair).mean(1).numpy()
    huber = torch.nn.HuberLoss(delta=rho, reduction="none")(*pair).mean(1).numpy()
    assert_allclose(gluon, smooth_l1, rtol=RTOL)
    assert_allclose(gluon, huber / rho, rtol=RTOL)


def test_mxnet_smooth_l1_operator_takes_sigma_not_beta():
    """mxnet.nd.smooth_l1(x, scalar=sigma) is torch's SmoothL1Loss(beta=1/sigma**2) of x and 0."""
    x, sigma = np.linspace(-3.0, 3.0, 61), 2.0
    smooth_l1 = torch.nn.SmoothL1Loss(beta=1 / sigma**2, reduction="none")
    expected = smooth_l1(tensor(x), tensor(np.zeros_like(x))).numpy()
    assert_allclose(mx.nd.smooth_l1(nd(x), scalar=sigma).asnumpy(), expected, rtol=RTOL)


def test_gluon_bce_on_saturated_probabilities_uses_its_epsilon():
    """At p = 0 with label 1, gluon gives -log(1e-12) where torch's clamped log gives 100."""
    gluon = mx.gluon.loss.SigmoidBCELoss(from_sigmoid=True)(nd([[0.0]]), nd([[1.0]]))
    torch_value = torch.nn.BCELoss()(tensor([[0.0]]), tensor([[1.0]])).item()
    assert_allclose(gluon.asscalar(), -np.log(catalog.GLUON_EPS), rtol=RTOL)
    assert torch_value == 100.0


def test_gluon_logistic_loss_labels():
    """LogisticLoss('binary') is BCE of logits; the default 'signed' scores a 0 label as 0.5."""
    batch = catalog.get("bce_logits").make_batch(np.random.default_rng(2))
    logits, labels = nd(batch.input), nd(batch.target)
    binary = mx.gluon.loss.LogisticLoss(label_format="binary")(logits, labels).asnumpy()
    signed = mx.gluon.loss.LogisticLoss()(logits, labels).asnumpy()
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    assert_allclose(binary, bce(tensor(batch.input), tensor(batch.target)).mean(1), rtol=RTOL)
    halves = tensor((batch.target + 1) / 2)
    assert_allclose(signed, bce(tensor(batch.input), halves).mean(1), rtol=RTOL)


def test_gluon_kl_batch_mean_is_torch_batchmean():
    """gluon's KLDivLoss averaged over the batch is torch's 'batchmean', to gluon's epsilon."""
    batch = catalog.get("kl_div").make_batch(np.random.default_rng(3))
    gluon = mx.gluon.loss.KLDivLoss()(nd(batch.input), nd(batch.target)).mean().asscalar()
    kl = torch.nn.KLDivLoss(reduction="batchmean")
    expected = kl(tensor(batch.input), tensor(batch.target)).item()
    # Each class adds t·log1p(eps/t) <= eps, so at most CLASSES·eps, plus float64 rounding of the sums.
    assert_allclose(gluon, expected, rtol=0, atol=catalog.CLASSES * catalog.GLUON_EPS + 8 * np.spacing(expected))


def test_gluon_poisson_returns_one_number_for_the_batch():
    """gluon's PoissonNLLLoss returns one value, torch's PoissonNLLLoss(reduction='mean')."""
    batch = catalog.get("poisson_nll").make_batch(np.random.default_rng(4))
    gluon = mx.gluon.loss.PoissonNLLLoss()(nd(batch.input), nd(batch.target)).asnumpy()
    expected = torch.nn.PoissonNLLLoss()(tensor(batch.input), tensor(batch.target)).item()
    assert gluon.shape == (1,)
    assert_allclose(gluon[0], expected, rtol=RTOL)


def test_gluon_poisson_compute_full_is_nan_with_a_zero_count():
    """gluon's compute_full=True gives nan when a count is 0; torch's full=True does not."""
    rates, counts = [[0.5, 1.0, 2.0]], [[0.0, 1.0, 3.0]]
    gluon = mx.gluon.loss.PoissonNLLLoss(compute_full=True)(nd(rates), nd(counts)).asscalar()
    torch_value = torch.nn.PoissonNLLLoss(full=True)(tensor(rates), tensor(counts)).item()
    assert np.isnan(gluon) and np.isfinite(torch_value)


def test_gluon_call_options_are_positional():
    """gluon's epsilon cannot be passed to the call by keyword, only by position."""
    block = mx.gluon.loss.PoissonNLLLoss(from_logits=False)
    with pytest.raises(TypeError, match="epsilon"):
        block(nd([[1.0]]), nd([[1.0]]), epsilon=1.0)
    by_position = block(nd([[1.0]]), nd([[1.0]]), None, 1.0).asscalar()
    assert_allclose(by_position, 1.0 - np.log(2.0), rtol=RTOL)


def test_gluon_clips_out_of_range_class_labels_where_torch_raises():
    """gluon scores label -1 as class 0 and label C as class C-1; torch raises for both."""
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    gluon = mx.gluon.loss.SoftmaxCELoss()(nd(scores), nd([-1.0, 3.0])).asnumpy()
    cross_entropy = torch.nn.CrossEntropyLoss(reduction="none")
    assert_allclose(gluon, cross_entropy(tensor(scores), torch.tensor([0, 2])), rtol=RTOL)
    with pytest.raises(IndexError):
        cross_entropy(tensor(scores), torch.tensor([-1, 3]))


def test_gluon_cross_entropy_from_logits_means_log_probabilities():
    """gluon's SoftmaxCELoss(from_logits=True) is torch's NLLLoss, not CrossEntropyLoss."""
    batch = catalog.get("nll").make_batch(np.random.default_rng(5))
    block = mx.gluon.loss.SoftmaxCELoss(from_logits=True)
    nll = torch.nn.NLLLoss(reduction="none")(tensor(batch.input), torch.from_numpy(batch.target))
    assert_allclose(block(nd(batch.input), nd(batch.target)).asnumpy(), nll, rtol=RTOL)


def test_torch_hinge_embedding_loss_is_not_the_hinge_loss():
    """torch's HingeEmbeddingLoss differs from gluon's HingeLoss on the same scores and labels."""
    batch = catalog.get("hinge").make_batch(np.random.default_rng(6))
    gluon = mx.gluon.loss.HingeLoss()(nd(batch.input), nd(batch.target)).asnumpy()
    embedding = torch.nn.HingeEmbeddingLoss(reduction="none")
    assert not np.allclose(gluon, embedding(tensor(batch.input), tensor(batch.target)).mean(1))


def test_a_zero_label_makes_the_hinge_loss_constant():
    """With a 0 label gluon's hinge loss is the margin whatever the score: nothing to learn."""
    scores = np.linspace(-2.0, 2.0, 9)[:, None]
    gluon = mx.gluon.loss.HingeLoss(margin=1.0)(nd(scores), nd(np.zeros_like(scores)))
    assert_allclose(gluon.asnumpy(), 1.0, rtol=0)


def test_torch_broadcasts_mismatched_target_shapes_where_gluon_reshapes():
    """(N,) targets and (N, 1) predictions: gluon reshapes, torch broadcasts to (N, N) and warns."""
    prediction, target = PAIRS.input[:, :1], PAIRS.target[:, 0]
    gluon = mx.gluon.loss.L1Loss()(nd(prediction), nd(target)).asnumpy()
    assert_allclose(gluon, np.abs(prediction[:, 0] - target), rtol=RTOL)
    with pytest.warns(UserWarning, match="different to the input size"):
        broadcast = torch.nn.L1Loss(reduction="none")(tensor(prediction), tensor(target))
    assert broadcast.shape == (len(target), len(target))

"""Every catalog entry and variant against PyTorch and MXNet gluon, and the porting facts it states.

Each entry's lossbook function is checked against torch (float64, every
reduction torch supports) and against gluon through the entry's stated
relation; each gradient against ``torch.autograd`` and ``mxnet.autograd``. The
variants (``catalog.variants()``: other options, weights, label smoothing,
ignored targets) are checked the same way. The facts behind the relations and
traps are checked against the frameworks directly, without lossbook.
"""

import contextlib
import dataclasses
import inspect

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose

import lossbook as lb
from lossbook import catalog, exact, frameworks

mx = frameworks.require("mxnet")

# Everything runs in float64 (gluon included), where the three agree to a few ulp.
RTOL = 1e-12

ENTRIES = catalog.entries()
VARIANTS = catalog.variants()

ALL = [pytest.param(entry, id=entry.label) for entry in ENTRIES + VARIANTS]
WITH_GLUON = [param for param in ALL if param.values[0].gluon is not None]
# The entries whose gluon block takes the batch's own arrays. CTC's takes (N, T, C) raw scores and
# -1 padded labels (its gluon gradient is compared in tests/test_sequence.py); the ranking entry's
# HingeLoss takes the difference of the scores (the hinge entry compares that block's gradient).
WITH_GLUON_ARRAYS = [param for param in WITH_GLUON if param.values[0].gluon_inputs is None]
WITH_REDUCTIONS = [
    pytest.param(entry, reduction, id=f"{entry.label}-{reduction}")
    for entry in ENTRIES + VARIANTS
    for reduction in entry.torch.reductions
]


def batch_of(entry, seed=0):
    """The seeded random batch of an entry."""
    return entry.make_batch(np.random.default_rng(seed))


def torch_values(entry, batch, reduction, grad=False):
    """torch's loss of the batch as the entry spells it, or its gradients by torch.autograd.

    The gradients come as a tuple, one per differentiable array of the entry.
    """
    tensors, arrays = entry.torch_tensors(torch, batch)
    if not grad:
        return entry.torch_forward(torch, tensors, reduction, arrays).numpy()
    leaves, tensors = entry.torch_grad_inputs(torch, tensors)  # CTC: through log_softmax
    loss = entry.torch_forward(torch, tensors, reduction, arrays)
    return tuple(gradient.numpy() for gradient in torch.autograd.grad(loss.sum(), leaves))


def torch_warnings(entry, reduction):
    """Expect torch's warning about KL with reduction='mean' (the catalog's first KL trap).

    Any other warning fails the test, as pytest turns warnings into errors.
    """
    if entry.torch.class_path == "torch.nn.KLDivLoss" and reduction == "mean":
        return pytest.warns(UserWarning, match="batchmean")
    return contextlib.nullcontext()


def gluon_grad_by_chain_rule(entry, batch):
    """d(sum of gluon's output)/d(each differentiable array): lossbook's gradients pulled back.

    torch.autograd differentiates only the relation (a reduction, a factor and
    gluon's epsilon terms), with the unreduced loss and the input as
    independent leaves; the derivative of the loss itself is lossbook's. A
    float32 block's batch is first rounded as gluon receives it.
    """
    batch = entry.as_gluon_sees(batch)
    loss = torch.tensor(entry.evaluate(batch, "none"), requires_grad=True)
    input = torch.tensor(batch.input, requires_grad=True)
    output = entry.to_gluon(loss, input, torch.from_numpy(batch.target), torch).sum()
    d_loss, d_input = torch.autograd.grad(output, (loss, input), allow_unused=True)
    pulled_back = []
    for position, gradient in zip(entry.differentiable, entry.gradients(batch, "none")):
        weights = d_loss.numpy()
        if weights.ndim < gradient.ndim:  # one loss per row: classes (or features) on axis 1
            weights = np.expand_dims(weights, 1)
        pulled_back.append(weights * gradient)
        if position == 0 and d_input is not None:
            pulled_back[-1] = pulled_back[-1] + d_input.numpy()
    return tuple(pulled_back)


# Agreement, entry by entry.


@pytest.mark.parametrize(("entry", "reduction"), WITH_REDUCTIONS)
def test_loss_matches_torch(entry, reduction):
    """lossbook's loss equals torch's spelling of it in float64, for every reduction torch has."""
    batch = batch_of(entry)
    with torch_warnings(entry, reduction):
        expected = torch_values(entry, batch, reduction)
    assert_allclose(entry.evaluate(batch, reduction), expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize(("entry", "reduction"), WITH_REDUCTIONS)
def test_gradient_matches_torch_autograd(entry, reduction):
    """lossbook's gradient equals torch.autograd's of torch's spelling, for every reduction."""
    batch = batch_of(entry)
    with torch_warnings(entry, reduction):
        expected = torch_values(entry, batch, reduction, grad=True)
    gradients = entry.torch_comparable_gradients(batch, reduction)
    assert len(gradients) == len(expected)
    for gradient, torch_gradient in zip(gradients, expected):
        assert_allclose(gradient, torch_gradient, rtol=RTOL, atol=0)


@pytest.mark.parametrize("entry", [pytest.param(entry, id=entry.label) for entry in ENTRIES])
def test_frameworks_runs_the_catalog_spelling(entry):
    """frameworks computes exactly what the entry's spellings compute, for the book's entries."""
    batch, reduction = batch_of(entry), entry.torch.reduction
    np.testing.assert_array_equal(
        frameworks.torch_loss(entry, batch, reduction), torch_values(entry, batch, reduction)
    )
    if entry.gluon is not None:
        block = entry.gluon_block(mx)
        arrays = [nd(array).astype(entry.gluon.dtype) for array in entry.gluon_arrays(batch)]
        np.testing.assert_array_equal(frameworks.gluon_loss(entry, batch), block(*arrays).asnumpy())


@pytest.mark.parametrize("entry", WITH_GLUON)
def test_gluon_output_follows_the_stated_relation(entry):
    """gluon's output equals the entry's relation applied to lossbook's unreduced loss."""
    batch = batch_of(entry)
    expected = entry.expected_gluon(batch)
    assert_allclose(frameworks.gluon_loss(entry, batch), expected, rtol=entry.gluon.rtol, atol=0)


@pytest.mark.parametrize("entry", WITH_GLUON_ARRAYS)
def test_gluon_gradient_follows_the_stated_relation(entry):
    """mxnet.autograd's gradients equal lossbook's pulled back through the relation."""
    batch = batch_of(entry)
    gradients = frameworks.gluon_grad(entry, batch)
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    expected = gluon_grad_by_chain_rule(entry, batch)
    assert len(gradients) == len(expected)
    for gradient, by_chain_rule in zip(gradients, expected):
        # float32 rounds every term of a gradient's sum: measure against the largest element.
        scale = np.max(np.abs(by_chain_rule)) if entry.gluon.dtype == "float32" else 0.0
        assert_allclose(gradient, by_chain_rule, rtol=entry.gluon.rtol, atol=entry.gluon.rtol * scale)


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
    with pytest.raises(ValueError, match="exactly one"):
        catalog.TorchSpelling(
            "values", "values", "torch.nn.L1Loss", function_path="torch.nn.functional.l1_loss"
        )


def test_gluon_spelling_runs_in_float64_or_float32():
    """A gluon spelling's dtype is float64 or float32, and float32 gets float32's tolerance."""
    with pytest.raises(ValueError, match="dtype must be"):
        catalog.GluonSpelling("mxnet.gluon.loss.L1Loss", {}, "labels", dtype="float16")
    single = catalog.GluonSpelling("mxnet.gluon.loss.L1Loss", {}, "labels", dtype="float32")
    assert single.rtol > 64 * 2.0**-23 > catalog.get("l1").gluon.rtol


def test_a_float32_block_sees_the_batch_rounded_to_float32():
    """as_gluon_sees rounds each real array (options too) as numpy's float32 does; indices stay."""
    entry = catalog.get("cross_entropy")
    single = dataclasses.replace(entry, gluon=dataclasses.replace(entry.gluon, dtype="float32"))
    batch = catalog.Batch(np.array([[0.1, 1 / 3]]), np.array([1]), {"weight": np.array([0.7])})
    seen = single.as_gluon_sees(batch)
    assert seen.input.dtype == np.float64
    np.testing.assert_array_equal(seen.input, np.float32(batch.input))
    np.testing.assert_array_equal(seen.options["weight"], np.float32(0.7))
    assert seen.target.dtype.kind == "i"
    assert entry.as_gluon_sees(batch) is batch


def test_batch_arrays_are_the_positional_arguments_in_order():
    """A batch's arrays are input, target and the rest; with_arrays swaps them, keeping options."""
    batch = catalog.Batch(np.zeros(1), np.ones(1), {"weight": np.ones(1)}, (np.full(1, 2.0),))
    assert [float(array[0]) for array in batch.arrays] == [0.0, 1.0, 2.0]
    moved = batch.with_arrays(np.ones(1), np.zeros(1), np.full(1, 3.0))
    assert [float(array[0]) for array in moved.arrays] == [1.0, 0.0, 3.0]
    assert moved.options is batch.options


def test_entries_must_be_consistent():
    """An entry needs a known family, and a relation exactly when it has a gluon spelling."""
    entry = catalog.get("l1")
    fields = {name: getattr(entry, name) for name in entry.__dataclass_fields__}
    with pytest.raises(ValueError, match="family"):
        catalog.LossEntry(**{**fields, "family": "ranking"})
    with pytest.raises(ValueError, match="relation"):
        catalog.LossEntry(**{**fields, "to_gluon": None})
    with pytest.raises(ValueError, match="at least two arrays"):
        catalog.LossEntry(**{**fields, "arguments": ("input",)})
    with pytest.raises(ValueError, match="differentiable indexes them"):
        catalog.LossEntry(**{**fields, "differentiable": (2,)})


def test_calls_are_written_out_as_source():
    """The lossbook, torch and gluon calls read as the code a reader would type."""
    hinge = catalog.get("hinge")
    assert hinge.lossbook_call("sum") == "lb.hinge_loss(input, target, margin=1.0, reduction='sum')"
    assert hinge.torch_call("sum") == "torch.relu(margin - input * target).sum() with margin=1.0"
    assert hinge.gluon_call() == "mxnet.gluon.loss.HingeLoss(margin=1.0)(pred, label)"
    assert catalog.get("quantile").gluon_call() == "gluon has no class for this loss"
    l1_call = catalog.get("l1").torch_call("none")
    assert l1_call == "torch.nn.L1Loss(reduction='none')(input, target)"


def test_calls_name_the_array_options():
    """A weighted variant's calls pass its weights by name; torch's weighted MSE is the function."""
    labels = {entry.label: entry for entry in VARIANTS}
    mse = labels["l2[weight]"]
    lossbook_call = "lb.mse_loss(input, target, weight=weight, reduction='mean')"
    assert mse.lossbook_call("mean") == lossbook_call
    assert mse.torch_call("mean") == (
        "torch.nn.functional.mse_loss(input, target, weight=weight, reduction='mean')"
    )
    logits = labels["bce_logits[weight, pos_weight]"]
    assert logits.torch_call("sum") == (
        "torch.nn.BCEWithLogitsLoss(weight=weight, pos_weight=pos_weight, reduction='sum')"
        "(input, target)"
    )


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
    return frameworks.as_float64(array, "mxnet")


def tensor(array):
    """A float64 tensor."""
    return frameworks.as_float64(array, "torch")


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


# Variants, textbook formulas and the exact references.


def test_variants_are_distinct_and_carry_their_arrays():
    """Each variant has its own label, and its batches carry exactly the arrays it names."""
    labels = [entry.label for entry in ENTRIES + VARIANTS]
    assert len(set(labels)) == len(labels)
    for entry in VARIANTS:
        batch = batch_of(entry)
        assert sorted(batch.options) == sorted(entry.array_options), entry.label
        for name, extreme in entry.extreme_batches().items():
            assert sorted(extreme.options) == sorted(entry.array_options), (entry.label, name)


def test_variants_exercise_every_option_of_every_loss():
    """Between them, entries and variants pass every keyword option of every catalog loss."""
    for entry in ENTRIES:
        signature = inspect.signature(entry.loss).parameters
        options = {name for name in signature if name not in (*entry.arguments, "reduction")}
        used = set()
        for other in ENTRIES + VARIANTS:
            if other.loss is entry.loss:
                used |= set(other.options) | set(other.array_options)
        missing = options - used - {"eps"}  # eps is torch's constant, never changed
        assert not missing, (entry.key, missing)


def test_batch_options_default_to_none():
    """A Batch built from input and target carries no array options."""
    assert dict(catalog.Batch(np.zeros(1), np.zeros(1)).options) == {}


@pytest.mark.parametrize("entry", [p for p in ALL if p.values[0].textbook is not None])
def test_textbook_formula_is_the_loss(entry):
    """On an ordinary batch the naive formula agrees with mpmath to 1e-12: it is the same loss."""
    batch = batch_of(entry)
    errors = exact.relative_errors(entry.textbook_loss(batch), entry.exact_loss(batch, "none"))
    assert errors.max() < 1e-12


def test_textbook_formula_overflows_where_lossbook_does_not():
    """The naive formula of binary cross-entropy of logits gives nan at z = 1000, y = 1."""
    batch = catalog.Batch(np.array([[1000.0]]), np.array([[1.0]]))
    assert np.isnan(catalog.get("bce_logits").textbook_loss(batch)[0, 0])
    with pytest.raises(ValueError, match="no textbook formula"):
        VARIANTS[[entry.textbook for entry in VARIANTS].index(None)].textbook_loss(batch)


@pytest.mark.parametrize("entry", WITH_GLUON)
def test_exact_gluon_is_what_gluon_returns(entry):
    """The relation applied to mpmath's loss matches gluon's output: to 1e-12 in float64."""
    batch = batch_of(entry)
    errors = exact.relative_errors(frameworks.gluon_loss(entry, batch), entry.exact_gluon(batch))
    assert errors.max() < entry.gluon.rtol


def test_exact_gluon_is_undefined_where_the_relation_divides_by_zero():
    """At p = 0 gluon's term log1p(eps / p) divides by zero; without gluon class, an error."""
    batch = catalog.Batch(np.array([[0.0]]), np.array([[1.0]]))
    with pytest.raises(ZeroDivisionError):
        catalog.get("bce").exact_gluon(batch)
    with pytest.raises(ValueError, match="gluon has no class"):
        catalog.get("quantile").exact_gluon(batch)


def test_gluon_arrays_refuse_a_loss_without_gluon_class():
    """Asking which arrays gluon takes for the quantile loss, which gluon lacks, raises ValueError."""
    entry = catalog.get("quantile")
    with pytest.raises(ValueError, match="gluon has no class"):
        entry.gluon_arrays(batch_of(entry))


def test_gluon_block_refuses_a_loss_without_gluon_class():
    """Building the gluon block of the quantile loss raises ValueError."""
    with pytest.raises(ValueError, match="gluon has no class"):
        catalog.get("quantile").gluon_block(mx)


# Errata: versions, learning rates and weighted means.

LR, WD = 0.125, 0.0625  # exact in float32, in which mxnet's optimizers take them


def gluon_sgd_step(block, inputs, targets, weights, batch_size):
    """One MXNet SGD step (weight decay WD) of a linear model, as MXNet training code takes it."""
    outputs, in_units = weights.shape
    net = mx.gluon.nn.Dense(outputs, use_bias=False, in_units=in_units, dtype="float64")
    net.initialize()
    net.weight.set_data(nd(weights))
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": LR, "wd": WD})
    with mx.autograd.record():
        loss = block(net(nd(inputs)), nd(targets))
    loss.backward()
    trainer.step(batch_size)
    return net.weight.data().asnumpy()


def torch_step(loss_function, inputs, targets, weights, lr=LR, optimizer="SGD", wd=WD):
    """One torch optimizer step of the same linear model."""
    parameter = torch.nn.Parameter(tensor(weights))
    step = getattr(torch.optim, optimizer)([parameter], lr=lr, weight_decay=wd)
    loss_function(tensor(inputs) @ parameter.T, tensor(targets)).backward()
    step.step()
    return parameter.detach().numpy()


MODEL_RNG = np.random.default_rng(11)
INPUTS, WEIGHTS = MODEL_RNG.standard_normal((8, 3)), MODEL_RNG.standard_normal((1, 3))
TARGETS = MODEL_RNG.standard_normal((8, 1))


def test_half_mse_reproduces_an_mxnet_step_and_half_the_learning_rate_does_not():
    """With weight decay, gluon's L2Loss step is torch's 0.5 * MSELoss step, not lr / 2's."""
    gluon = gluon_sgd_step(mx.gluon.loss.L2Loss(), INPUTS, TARGETS, WEIGHTS, len(INPUTS))
    half_loss = torch_step(lambda a, b: 0.5 * torch.nn.MSELoss()(a, b), INPUTS, TARGETS, WEIGHTS)
    half_lr = torch_step(torch.nn.MSELoss(), INPUTS, TARGETS, WEIGHTS, lr=LR / 2)
    assert_allclose(gluon, half_loss, rtol=RTOL)
    assert not np.allclose(gluon, half_lr, rtol=1e-6)


def test_adam_all_but_ignores_the_loss_scale():
    """One Adam step moves the same with MSELoss and 0.5 * MSELoss, but half as far at lr / 2."""
    full = torch_step(torch.nn.MSELoss(), INPUTS, TARGETS, WEIGHTS, optimizer="Adam", wd=0)
    half = torch_step(lambda a, b: 0.5 * torch.nn.MSELoss()(a, b), INPUTS, TARGETS, WEIGHTS,
                      optimizer="Adam", wd=0)
    slow = torch_step(torch.nn.MSELoss(), INPUTS, TARGETS, WEIGHTS, lr=LR / 2, optimizer="Adam",
                      wd=0)
    assert_allclose(half - WEIGHTS, full - WEIGHTS, rtol=1e-6)
    assert_allclose(slow - WEIGHTS, (full - WEIGHTS) / 2, rtol=1e-6)


def test_trainer_step_of_one_is_torch_mean_times_the_batch_size():
    """gluon's L1Loss with trainer.step(1) adds up per-sample means: torch's mean times N.

    With one value per sample that is torch's reduction='sum'; with three it is not.
    """
    gluon = gluon_sgd_step(mx.gluon.loss.L1Loss(), INPUTS, TARGETS, WEIGHTS, 1)
    summed = torch_step(torch.nn.L1Loss(reduction="sum"), INPUTS, TARGETS, WEIGHTS)
    assert_allclose(gluon, summed, rtol=RTOL)
    targets, weights = MODEL_RNG.standard_normal((8, 3)), MODEL_RNG.standard_normal((3, 3))
    gluon = gluon_sgd_step(mx.gluon.loss.L1Loss(), INPUTS, targets, weights, 1)
    scaled = torch_step(lambda a, b: torch.nn.L1Loss()(a, b) * len(INPUTS), INPUTS, targets,
                        weights)
    summed = torch_step(torch.nn.L1Loss(reduction="sum"), INPUTS, targets, weights)
    assert_allclose(gluon, scaled, rtol=RTOL)
    assert not np.allclose(gluon, summed, rtol=1e-6)


def test_gluon_poisson_step_is_torch_mean_over_the_batch_size():
    """gluon's PoissonNLLLoss with trainer.step(N) is torch's PoissonNLLLoss() / N, not lr / N."""
    counts = MODEL_RNG.poisson(1.0, (8, 1)).astype(np.float64)
    gluon = gluon_sgd_step(mx.gluon.loss.PoissonNLLLoss(), INPUTS, counts, WEIGHTS, len(INPUTS))
    scaled_loss = torch_step(lambda a, b: torch.nn.PoissonNLLLoss()(a, b) / len(INPUTS),
                             INPUTS, counts, WEIGHTS)
    scaled_lr = torch_step(torch.nn.PoissonNLLLoss(), INPUTS, counts, WEIGHTS, lr=LR / len(INPUTS))
    assert_allclose(gluon, scaled_loss, rtol=RTOL)
    assert not np.allclose(gluon, scaled_lr, rtol=1e-6)


def gluon_loss_output_shapes(batch_size=5):
    """The output shape of every gluon loss class on a batch of ``batch_size`` samples."""
    rng = np.random.default_rng(12)
    first, second = rng.uniform(0.1, 1.0, (2, batch_size, 3))
    labels = rng.integers(0, 3, batch_size)
    losses = mx.gluon.loss
    # float32, which every class accepts: only the shapes matter here.
    arrays = {
        losses.CTCLoss: (
            rng.standard_normal((batch_size, 6, 4)), rng.integers(1, 4, (batch_size, 2))
        ),
        losses.TripletLoss: (first, second, second + 1),
        losses.CosineEmbeddingLoss: (first, second, np.ones(batch_size)),
        losses.SoftmaxCrossEntropyLoss: (first, labels),
    }
    shapes = {}
    for name, loss_class in inspect.getmembers(losses, inspect.isclass):
        if issubclass(loss_class, losses.Loss) and loss_class is not losses.Loss:
            call = arrays.get(loss_class, (first, second))
            output = loss_class()(*(mx.nd.array(array) for array in call))
            shapes[loss_class.__name__] = output.shape
    return shapes


def test_poisson_is_the_only_gluon_loss_that_averages_over_the_batch():
    """Every gluon loss class returns one value per sample, except PoissonNLLLoss's one number."""
    shapes = gluon_loss_output_shapes(batch_size=5)
    assert len(shapes) >= 14  # every class of mxnet 1.9.1's gluon.loss, aliases included
    assert shapes.pop("PoissonNLLLoss") == (1,)
    assert all(shape[0] == 5 for shape in shapes.values()), shapes


def test_mxnet_18_kl_div_batch_mean_is_torch_mean():
    """MXNet 1.8.0's KLDivLoss, which ends in a mean over the non-batch axes, gives torch's 'mean'.

    The forward below is the body of 1.8.0's ``KLDivLoss.hybrid_forward``
    (``git show 1.8.0:python/mxnet/gluon/loss.py``), run with 1.9.1's operators;
    1.9.0 replaced its final ``F.mean`` by ``F.sum``.
    """
    batch = catalog.get("kl_div").make_batch(np.random.default_rng(13))
    pred, label = nd(batch.input), nd(batch.target)
    loss = label * (mx.nd.log(label + 1e-12) - pred)
    old = mx.nd.mean(loss, axis=0, exclude=True)
    new = mx.gluon.loss.KLDivLoss()(pred, label)
    assert_allclose(old.asnumpy(), new.asnumpy() / catalog.CLASSES, rtol=RTOL)
    with pytest.warns(UserWarning, match="batchmean"):
        mean = torch.nn.KLDivLoss(reduction="mean")(tensor(batch.input), tensor(batch.target))
    assert_allclose(old.mean().asscalar(), mean.item(), rtol=0, atol=catalog.GLUON_EPS)


@pytest.mark.parametrize(("torch_class", "from_logits"), [("CrossEntropyLoss", False),
                                                          ("NLLLoss", True)])
def test_torch_class_weighted_mean_divides_by_the_target_weights(torch_class, from_logits):
    """gluon's sample_weight=class_w[label], .mean() is torch's weighted sum / N, not its mean."""
    rng = np.random.default_rng(14)
    scores, labels = rng.standard_normal((6, 3)), np.array([0, 0, 0, 0, 1, 2])
    class_w = np.array([0.5, 2.0, 3.0])
    block = mx.gluon.loss.SoftmaxCELoss(from_logits=from_logits)
    gluon = block(nd(scores), nd(labels), nd(class_w[labels][:, None])).mean().asscalar()
    loss_class = getattr(torch.nn, torch_class)
    pair = tensor(scores), torch.from_numpy(labels)
    torch_mean = loss_class(weight=tensor(class_w))(*pair).item()
    torch_sum = loss_class(weight=tensor(class_w), reduction="sum")(*pair).item()
    assert_allclose(gluon, torch_sum / len(labels), rtol=RTOL)
    assert_allclose(torch_mean, torch_sum / class_w[labels].sum(), rtol=RTOL)
    assert not np.isclose(gluon, torch_mean, rtol=1e-3)


def test_torch_label_smoothing_applies_to_probability_targets():
    """label_smoothing=eps on targets t is plain cross-entropy on (1 - eps) t + eps / C.

    So targets gluon code smoothed itself must be ported with label_smoothing=0,
    which gives gluon's value; smoothing them again changes it.
    """
    batch = catalog.get("cross_entropy_probs").make_batch(np.random.default_rng(15))
    eps = 0.2
    smoothed = (1 - eps) * batch.target + eps / catalog.CLASSES
    scores = tensor(batch.input)
    by_torch = torch.nn.CrossEntropyLoss(label_smoothing=eps)(scores, tensor(batch.target)).item()
    plain = torch.nn.CrossEntropyLoss()(scores, tensor(smoothed)).item()
    twice = torch.nn.CrossEntropyLoss(label_smoothing=eps)(scores, tensor(smoothed)).item()
    block = mx.gluon.loss.SoftmaxCELoss(sparse_label=False)
    gluon = block(nd(batch.input), nd(smoothed)).mean().asscalar()
    assert_allclose(by_torch, plain, rtol=RTOL)
    assert_allclose(gluon, plain, rtol=RTOL)
    assert not np.isclose(twice, plain, rtol=1e-4)


# Completeness: every loss class of both frameworks.


def _loss_classes(base, module):
    """The public classes of ``module`` derived from ``base``, by name."""
    found, stack = set(), [base]
    while stack:
        for subclass in stack.pop().__subclasses__():
            stack.append(subclass)
            if getattr(module, subclass.__name__, None) is subclass:
                found.add(subclass.__name__)
    return found


def _spelled_torch_classes():
    """The torch.nn classes the entries name, in a class path or inside an expression."""
    spelled = set()
    for entry in ENTRIES + VARIANTS:
        text = " ".join(filter(None, (entry.torch.class_path, entry.torch.expression)))
        spelled |= {name for name in dir(torch.nn) if f"torch.nn.{name}(" in text + "("}
    return spelled


def test_every_torch_loss_class_has_an_entry_or_a_reason():
    """Walking torch.nn: each loss class is spelled by an entry or listed, with a reason, as not."""
    classes = _loss_classes(torch.nn.modules.loss._Loss, torch.nn)
    listed = {path.removeprefix("torch.nn.") for path in catalog.TORCH_LOSSES_NOT_IN_CATALOG}
    spelled = _spelled_torch_classes()
    assert classes - spelled == listed
    assert not listed & spelled
    assert all(reason.strip() for reason in catalog.TORCH_LOSSES_NOT_IN_CATALOG.values())


def test_every_concrete_gluon_loss_class_has_an_entry():
    """Walking mxnet.gluon.loss 1.9.1: every concrete loss class is named by an entry's gluon spelling."""
    classes = {
        cls for name, cls in inspect.getmembers(mx.gluon.loss, inspect.isclass)
        if issubclass(cls, mx.gluon.loss.Loss) and cls is not mx.gluon.loss.Loss
    }
    named = {
        catalog._resolve(mx, entry.gluon.class_path) for entry in ENTRIES + VARIANTS
        if entry.gluon is not None
    }
    assert len(classes) == 14
    assert classes == named


def test_a_function_option_is_lossbooks_and_the_torch_expression_spells_its_own():
    """The triplet entry shows lb.squared_l2_distance in lossbook's call and not in torch's."""
    triplet = catalog.get("triplet")
    assert "distance_function=lb.squared_l2_distance" in triplet.lossbook_call("mean")
    torch_call = triplet.torch_call("mean")
    assert "lb." not in torch_call and torch_call.endswith("with margin=1.0, swap=False")
    assert "lambda x, y: ((x - y) ** 2).sum(-1)" in torch_call


def test_a_textbook_formula_runs_first_thing_in_a_fresh_process():
    """numpy imports a helper on an array method's first call: the formula's builtins allow it."""
    import subprocess
    import sys

    code = (
        "import numpy as np, lossbook as lb\n"
        "e = lb.catalog.get('cross_entropy')\n"
        "b = e.make_batch(np.random.default_rng(0))\n"
        "print(float(e.textbook_loss(b).sum()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    batch = catalog.get("cross_entropy").make_batch(np.random.default_rng(0))
    expected = torch.nn.functional.cross_entropy(
        torch.from_numpy(batch.input), torch.from_numpy(batch.target), reduction="sum"
    )
    assert_allclose(float(result.stdout), float(expected), rtol=1e-12)

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
    """torch's loss, from the catalog's class path or expression, in float64 (int64 for indices)."""
    tensors = [torch.tensor(array) for array in batch.arrays]
    if entry.torch.class_path is not None:
        return resolve(entry.torch.class_path)(**entry.options, reduction=reduction)(*tensors)
    names = dict(zip(entry.arguments, tensors))
    unreduced = eval(entry.torch.expression, {"torch": torch, **names, **entry.options})
    return unreduced if reduction == "none" else getattr(unreduced, reduction)()


def gluon_run(entry, batch):
    """gluon's output, from the catalog's class path and arguments, in float64 (or its only dtype)."""
    block = resolve(entry.gluon.class_path)(**entry.gluon.kwargs)
    arrays = [frameworks.as_float64(array, "mxnet").astype(entry.gluon.dtype)
              for array in entry.gluon_arrays(batch)]
    return block(*arrays).asnumpy()


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


def test_the_worst_case_is_a_cancellation_in_the_ctc_gradient(glued):
    """The worst float64 cell is CTC's torch gradient, at an element where e^x and the posterior nearly cancel."""
    assert (glued["porting-table-worst-where"], glued["porting-table-worst-column"]) == (
        "ctc", "torch gradient"
    )  # the float64 cells; the float32 gluon blocks have their own figure (next test)
    entry = catalog.get("ctc")
    log_probs, targets, input_lengths, target_lengths = batch_of(entry).arrays
    z = torch.tensor(log_probs, requires_grad=True)
    loss = torch.nn.CTCLoss(blank=4, zero_infinity=True, reduction="sum")(
        torch.log_softmax(z, -1), torch.tensor(targets), torch.tensor(input_lengths),
        torch.tensor(target_lengths),
    )
    loss.backward()
    torch_grad = z.grad.numpy()
    # lossbook's gradient with respect to the log-probabilities, pulled back through log_softmax by hand
    partial = lb.ctc_loss_grad(log_probs, targets, input_lengths, target_lengths, blank=4,
                               zero_infinity=True, reduction="sum")
    chained = partial - np.exp(log_probs) * partial.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):  # frames past an input length: both exactly 0
        relative = np.where(torch_grad == chained, 0.0, np.abs(torch_grad - chained) / np.abs(chained))
    assert_allclose(glued["porting-table-worst"], relative.max(), rtol=1e-12)
    assert_allclose(glued["porting-table-worst-in-u"], glued["porting-table-worst"] / UNIT_ROUNDOFF, rtol=1e-12)
    worst = np.unravel_index(np.argmax(relative), relative.shape)
    # there the gradient e^x - posterior is a small difference of two larger numbers
    assert abs(chained[worst]) < 0.05 * np.exp(log_probs[worst])
    assert 20 * UNIT_ROUNDOFF < glued["porting-table-worst"] <= 1e-12


def test_the_worst_float32_block_is_sdml_within_float32_rounding(glued):
    """The worst float32 gluon block is SDML, whose output run here differs from float64 torch by that much."""
    assert glued["porting-table-worst-float32-where"] == "sdml"
    assert glued["porting-table-float32-rtol"] == catalog.GLUON_FLOAT32_RTOL
    entry = catalog.get("sdml")
    batch = batch_of(entry)
    rounded = [np.float64(np.float32(array)) for array in batch.arrays]
    x1, x2 = (torch.tensor(array) for array in rounded)
    expected = torch_run(entry, batch.with_arrays(*rounded), "none").numpy()
    difference = np.max(np.abs(gluon_run(entry, batch) - expected) / np.abs(expected))
    assert_allclose(glued["porting-table-worst-float32"], difference, rtol=1e-6)
    assert 2.0**-24 < glued["porting-table-worst-float32"] < catalog.GLUON_FLOAT32_RTOL


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


# Gluon's conventions: weight, label shapes, batch_axis, sample_weight, sequences and masks.

F = torch.nn.functional
RTOL = 1e-14  # the page's values are a few roundings from these recomputations


def nd64(*arrays):
    """float64 NDArrays of the arrays."""
    return [frameworks.as_float64(np.asarray(a, dtype=np.float64), "mxnet") for a in arrays]


def cross_entropy_by_hand(scores, labels, axis=-1):
    """-log softmax(scores)[label] along ``axis``, written out in numpy (log-sum-exp, shifted by the max)."""
    scores = np.moveaxis(np.asarray(scores, dtype=np.float64), axis, -1)
    top = scores.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(scores - top).sum(axis=-1)) + top[..., 0]
    return log_norm - np.take_along_axis(scores, np.asarray(labels)[..., None], axis=-1)[..., 0]


@pytest.fixture(scope="module")
def batches(glued):
    """The two batches the conventions section runs on: (z, y) and the sequences (seq, seq_labels)."""
    arrays = {key: np.array(value) for key, value in glued["porting-table-conventions-batches"].items()}
    assert arrays["z"].shape == (4, 3) and arrays["seq"].shape == (2, 4, 3)
    return arrays


def test_gluon_weight_is_one_scalar(glued, batches):
    """gluon's weight=2.0 doubles the batch mean; torch's weight= is per class, a weighted mean; an array fails."""
    z, y = batches["z"], batches["y"]
    plain = F.cross_entropy(torch.tensor(z), torch.tensor(y)).item()
    assert_allclose(glued["porting-table-weight-plain"], plain, rtol=RTOL)
    assert_allclose(glued["porting-table-weight-plain"], cross_entropy_by_hand(z, y).mean(), rtol=RTOL)
    doubled = mx.gluon.loss.SoftmaxCrossEntropyLoss(weight=2.0)(*nd64(z, y)).asnumpy().mean()
    assert_allclose(glued["porting-table-weight-doubled"], doubled, rtol=RTOL)
    assert_allclose(glued["porting-table-weight-doubled"], 2 * plain, rtol=RTOL)
    class_w = np.array([3.0, 1.0, 1.0])
    per_class = F.cross_entropy(torch.tensor(z), torch.tensor(y), weight=torch.tensor(class_w)).item()
    assert_allclose(glued["porting-table-weight-per-class"], per_class, rtol=RTOL)
    by_hand = (class_w[y] * cross_entropy_by_hand(z, y)).sum() / class_w[y].sum()
    assert_allclose(glued["porting-table-weight-per-class"], by_hand, rtol=RTOL)
    with pytest.raises(AssertionError, match="weight must be a number"):
        mx.gluon.loss.SoftmaxCrossEntropyLoss(weight=mx.nd.array(class_w))(*nd64(z, y))


def test_the_elementwise_losses_reshape_the_label():
    """The classes the page names call _reshape_like on the label before computing the loss."""
    named = ["L2Loss", "L1Loss", "SigmoidBinaryCrossEntropyLoss", "HuberLoss", "HingeLoss",
             "SquaredHingeLoss", "LogisticLoss", "PoissonNLLLoss"]
    for name in named:
        source = inspect.getsource(getattr(mx.gluon.loss, name).hybrid_forward)
        assert "= _reshape_like(F, label, pred)" in source or "= _reshape_like(F, target, pred)" in source, name


def test_a_vector_label_is_reshaped_by_gluon_and_broadcast_by_torch(glued):
    """(N,) targets against (N, 1) predictions: gluon's 2 * L2Loss is the MSE; torch warns and averages N * N pairs."""
    inputs = glued["porting-table-label-shape-inputs"]
    pred, target = np.array(inputs["pred"]), np.array(inputs["target"])
    assert pred.shape == (4, 1) and target.shape == (4,)
    gluon = 2 * mx.gluon.loss.L2Loss()(*nd64(pred, target)).asnumpy().mean()
    assert_allclose(glued["porting-table-label-shape-right"], gluon, rtol=RTOL)
    reshaped = F.mse_loss(torch.tensor(pred), torch.tensor(target).view(4, 1)).item()
    assert_allclose(glued["porting-table-label-shape-right"], reshaped, rtol=RTOL)
    with pytest.warns(UserWarning, match="different to the input size"):
        broadcast = F.mse_loss(torch.tensor(pred), torch.tensor(target)).item()
    assert_allclose(glued["porting-table-label-shape-broadcast"], broadcast, rtol=RTOL)
    pairs = [(p - t) ** 2 for p in pred[:, 0] for t in target]
    assert_allclose(glued["porting-table-label-shape-broadcast"], sum(pairs) / 16, rtol=RTOL)


def test_batch_axis_one_gives_each_sequence_its_mean(glued, batches):
    """On (T, N, C) scores, batch_axis=1 returns each sequence's mean over T; the default, each step's mean over N."""
    seq, labels = batches["seq"], batches["seq_labels"]
    time_major = nd64(seq.transpose(1, 0, 2), labels.T)
    per_sample = mx.gluon.loss.SoftmaxCrossEntropyLoss(batch_axis=1)(*time_major).asnumpy()
    per_step = mx.gluon.loss.SoftmaxCrossEntropyLoss()(*time_major).asnumpy()
    assert per_sample.shape == (2,) and per_step.shape == (4,)
    assert_allclose(glued["porting-table-batch-axis-per-sample"], per_sample, rtol=RTOL)
    assert_allclose(glued["porting-table-batch-axis-per-step"], per_step, rtol=RTOL)
    torch_steps = F.cross_entropy(torch.tensor(seq).permute(0, 2, 1), torch.tensor(labels), reduction="none")
    assert_allclose(glued["porting-table-batch-axis-per-sample"], torch_steps.mean(1).numpy(), rtol=RTOL)
    mean = cross_entropy_by_hand(seq, labels).mean()
    assert_allclose(glued["porting-table-batch-axis-mean"], mean, rtol=RTOL)
    assert_allclose(glued["porting-table-batch-axis-default-step"], per_step.sum() / 2, rtol=RTOL)
    assert_allclose(glued["porting-table-batch-axis-default-step"], 4 / 2 * mean, rtol=RTOL)
    assert glued["porting-table-batch-axis-factor"] == 4 / 2


def test_sample_weight_shapes_for_cross_entropy(glued, batches):
    """Weights (N, 1) in gluon, (N,) in torch give mean(w l); the other shape gives mean(l) mean(w) in both."""
    z, y = batches["z"], batches["y"]
    w = np.array([1.0, 2.0, 0.5, 0.0])
    block = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    losses = F.cross_entropy(torch.tensor(z), torch.tensor(y), reduction="none")
    right, wrong = glued["porting-table-sample-weight-right"], glued["porting-table-sample-weight-wrong"]
    assert_allclose(right, block(*nd64(z, y, w[:, None])).asnumpy().mean(), rtol=RTOL)
    assert_allclose(right, (losses * torch.tensor(w)).mean().item(), rtol=RTOL)
    assert_allclose(wrong, block(*nd64(z, y, w)).asnumpy().mean(), rtol=RTOL)
    assert_allclose(wrong, (losses * torch.tensor(w)[:, None]).mean().item(), rtol=RTOL)
    assert_allclose(wrong, cross_entropy_by_hand(z, y).mean() * w.mean(), rtol=RTOL)


def test_sample_weight_shapes_for_an_elementwise_loss(glued):
    """gluon's L1Loss with (N, 1), (1, D) and (1,) weights equals each torch port; a Python float is refused."""
    inputs = glued["porting-table-sample-weight-inputs"]
    pred, target = np.array(inputs["pred"]), np.array(inputs["target"])
    l1 = np.abs(pred - target)
    ports = {"(N, 1)": (np.array([[1.0], [2.0], [0.5], [0.0]]), l1 * np.array([[1.0], [2.0], [0.5], [0.0]])),
             "(1, D)": (np.array([[2.0, 0.5]]), l1 * np.array([2.0, 0.5])),
             "(1,) NDArray": (np.array([2.0]), 2.0 * l1)}
    shown = glued["porting-table-sample-weight-shapes"]
    assert len(shown) == len(ports)
    for case, (weight, by_hand) in ports.items():
        (row,) = [value for key, value in shown.items() if key.startswith(case)]
        gluon = mx.gluon.loss.L1Loss()(*nd64(pred, target, weight)).asnumpy().mean()
        assert_allclose(row["gluon L1Loss (float64)"], gluon, rtol=RTOL)
        assert_allclose(row["torch port"], by_hand.mean(), rtol=RTOL)
    with pytest.raises(AssertionError) as error:
        mx.gluon.loss.L1Loss()(*nd64(pred, target), 2.0)
    assert glued["porting-table-sample-weight-float"] == str(error.value)


def unpermuted_by_hand(scores, labels):
    """What torch computes from (N, T, C) scores: axis 1 (T) read as the classes, each of the C positions a target."""
    return cross_entropy_by_hand(scores, labels, axis=1).mean()


def test_sequences_average_over_steps(glued, batches):
    """gluon's per-sequence means average to torch's mean over N T; unpermuted, torch raises or, for T = C, differs."""
    seq, labels = batches["seq"], batches["seq_labels"]
    gluon = mx.gluon.loss.SoftmaxCrossEntropyLoss()(*nd64(seq, labels)).asnumpy()
    assert gluon.shape == (2,)
    assert_allclose(glued["porting-table-batch-axis-mean"], gluon.mean(), rtol=RTOL)
    permuted = F.cross_entropy(torch.tensor(seq).permute(0, 2, 1), torch.tensor(labels)).item()
    assert_allclose(glued["porting-table-batch-axis-mean"], permuted, rtol=RTOL)
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 3\], got \[2, 4\]"):
        F.cross_entropy(torch.tensor(seq), torch.tensor(labels))
    square, square_labels = seq[:, :3], labels[:, :3]
    assert_allclose(glued["porting-table-sequences-unpermuted"], unpermuted_by_hand(square, square_labels), rtol=RTOL)
    assert_allclose(glued["porting-table-sequences-square"], cross_entropy_by_hand(square, square_labels).mean(),
                    rtol=RTOL)
    assert abs(glued["porting-table-sequences-unpermuted"] - glued["porting-table-sequences-square"]) > 0.01


def test_mask_divisors(glued, batches):
    """gluon's (N, T, 1) mask divides the masked sum by N T, torch's ignore_index by the kept steps; the port by N T."""
    seq, labels = batches["seq"], batches["seq_labels"]
    mask = np.array(glued["porting-table-masks-mask"])
    assert mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    masked_sum = (mask * cross_entropy_by_hand(seq, labels)).sum()
    gluon = mx.gluon.loss.SoftmaxCrossEntropyLoss()(*nd64(seq, labels, mask[:, :, None])).asnumpy()
    assert_allclose(glued["porting-table-masks-gluon"], gluon.mean(), rtol=RTOL)
    assert_allclose(glued["porting-table-masks-gluon"], masked_sum / 8, rtol=RTOL)
    scores, padded = torch.tensor(seq).permute(0, 2, 1), torch.tensor(np.where(mask == 1, labels, -100))
    assert_allclose(glued["porting-table-masks-ignore"], F.cross_entropy(scores, padded).item(), rtol=RTOL)
    assert_allclose(glued["porting-table-masks-ignore"], masked_sum / 6, rtol=RTOL)
    port = F.cross_entropy(scores, padded, reduction="sum").item() / mask.size
    assert_allclose(glued["porting-table-masks-gluon"], port, rtol=RTOL)
    assert (glued["porting-table-masks-kept"], glued["porting-table-masks-all"]) == (6, 8)
    assert_allclose(glued["porting-table-masks-ratio"], 8 / 6, rtol=1e-15)


def test_a_flat_mask_fails_or_broadcasts_wrongly(glued, batches):
    """A mask of shape (N, T) fails against the (N, T, 1) loss; with N = T it broadcasts to (N, T, T)."""
    seq, labels = batches["seq"], batches["seq_labels"]
    mask = np.array(glued["porting-table-masks-mask"])
    with pytest.raises(mx.base.MXNetError) as error:
        mx.gluon.loss.SoftmaxCrossEntropyLoss()(*nd64(seq, labels, mask))
    assert glued["porting-table-masks-flat-error"] == str(error.value).strip().splitlines()[-1]
    assert "[2,4,1] [2,4]" in glued["porting-table-masks-flat-error"]
    losses = cross_entropy_by_hand(seq[:, :2], labels[:, :2])  # (N, T) = (2, 2)
    square_mask = np.array([[1, 1], [1, 0]])
    right = (losses * square_mask).mean()
    flat = (losses[:, :, None] * square_mask[None, :, :]).mean()  # (N, T, 1) x (1, N, T) with N = T
    assert glued["porting-table-masks-square-right"] == f"{right:.6f}"
    assert glued["porting-table-masks-square-flat"] == f"{flat:.6f}"
    assert abs(right - flat) > 1e-3

"""CTC loss against torch (float64), mpmath, a brute-force sum over alignments and gluon.

Independent sources: ``torch.nn.functional.ctc_loss`` and its autograd, the
exact twin ``lossbook.exact.ctc_loss`` (mpmath), an enumeration of every
alignment written here from the definition (collapse repeats, drop blanks),
the forward-backward posteriors in mpmath written here from Graves et al.
(2006), central finite differences, and mxnet 1.9.1's ``gluon.loss.CTCLoss``.
"""

import itertools

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import lossbook as lb
from lossbook import exact, frameworks

mx = frameworks.require("mxnet")

REDUCTIONS = ("none", "mean", "sum")
EPS = 2.0**-52
# torch's recursion rounds log(alpha) at every frame (a relative error that
# grows with the number of frames), so float64 parity allows 1e-13.
TORCH_RTOL = 1e-13


def log_softmax(logits, axis=-1):
    """A log_softmax computed by torch (float64), so that no lossbook code makes the inputs."""
    return torch.from_numpy(np.asarray(logits, dtype=np.float64)).log_softmax(axis).numpy()


def make_batch(seed, frames=12, samples=5, classes=6, longest=4, blank=0, scale=2.0):
    """Seeded log-probabilities (T, N, C) and padded targets with varied lengths.

    Sample 0 repeats a label (needing a blank between repeats), sample 1 is
    shorter than T, sample 2 has an empty target, sample 3 cannot be aligned
    (more labels and required blanks than frames) and sample 4 is ordinary.
    """
    rng = np.random.default_rng(seed)
    labels = [c for c in range(classes) if c != blank]
    log_probs = log_softmax(rng.normal(size=(frames, samples, classes)) * scale)
    targets = rng.choice(labels, size=(samples, longest))
    targets[0, :3] = labels[0]
    targets[3, :] = labels[1]
    input_lengths = np.array([frames, frames - 3, frames, 5, frames])[:samples]
    target_lengths = np.array([longest, 2, 0, longest, 3])[:samples]
    return log_probs, targets, input_lengths, target_lengths


def torch_ctc(log_probs, targets, input_lengths, target_lengths, **options):
    """torch's ctc_loss on numpy arrays, as numpy."""
    return F.ctc_loss(
        torch.from_numpy(np.asarray(log_probs)),
        torch.from_numpy(np.asarray(targets)),
        torch.from_numpy(np.asarray(input_lengths)),
        torch.from_numpy(np.asarray(target_lengths)),
        **options,
    ).numpy()


def torch_raw_grad(log_probs, targets, input_lengths, target_lengths, **options):
    """torch.autograd's gradient of ctc_loss (summed over samples for "none") w.r.t. log_probs."""
    x = torch.from_numpy(np.array(log_probs)).requires_grad_(True)
    loss = F.ctc_loss(
        x,
        torch.from_numpy(np.asarray(targets)),
        torch.from_numpy(np.asarray(input_lengths)),
        torch.from_numpy(np.asarray(target_lengths)),
        **options,
    )
    loss.sum().backward()
    return x.grad.numpy()


def concatenated(targets, target_lengths):
    """The padded targets as the 1-D concatenation torch also accepts."""
    return np.concatenate([row[:length] for row, length in zip(targets, target_lengths)])


def collapse(alignment, blank):
    """The labelling an alignment stands for: merge runs of equal classes, then drop blanks."""
    return [c for c, _ in itertools.groupby(alignment) if c != blank]


def brute_force(frames, target, blank):
    """Sum over every alignment of ``frames`` (a ``(T, C)`` float64 array) by enumeration.

    Returns the exact loss (mpmath) and the exact posterior ``(T, C)``
    probability that an alignment of the target emits class k at frame t.
    """
    with exact.working_precision():
        length, classes = frames.shape
        x = exact.to_mpf(frames)
        total = mpmath.mpf(0)
        emitted = np.full((length, classes), mpmath.mpf(0), dtype=object)
        for alignment in itertools.product(range(classes), repeat=length):
            if collapse(alignment, blank) != list(target):
                continue
            probability = mpmath.exp(mpmath.fsum(x[t, c] for t, c in enumerate(alignment)))
            total += probability
            for t, c in enumerate(alignment):
                emitted[t, c] += probability
        loss = mpmath.inf if total == 0 else -mpmath.log(total)
        posterior = emitted / total if total else emitted
        return loss, posterior


def exact_gradient(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="sum"):
    """The derivative of the reduced loss w.r.t. log_probs: minus the exact posteriors.

    Graves et al.'s forward and backward recursions on the exact probabilities
    (mpmath), with beta taken without its own frame's probability, so that the
    posterior of state s at frame t is alpha_t(s) beta_t(s) / p.
    """
    with exact.working_precision():
        x = exact.to_mpf(log_probs)
        frames, samples, classes = x.shape
        gradient = np.zeros((frames, samples, classes))
        for n in range(samples):
            target = [int(c) for c in np.asarray(targets)[n, : target_lengths[n]]]
            extended = [blank]
            for label in target:
                extended += [label, blank]
            width, length = len(extended), int(input_lengths[n])
            if length == 0:
                continue
            y = [[mpmath.exp(v) for v in x[t, n]] for t in range(length)]

            def allowed(s):
                return s >= 2 and extended[s] != blank and extended[s] != extended[s - 2]

            alpha = [[mpmath.mpf(0)] * width for _ in range(length)]
            alpha[0][0] = y[0][blank]
            if width > 1:
                alpha[0][1] = y[0][extended[1]]
            for t in range(1, length):
                for s in range(width):
                    total = alpha[t - 1][s] + (alpha[t - 1][s - 1] if s else 0)
                    total += alpha[t - 1][s - 2] if allowed(s) else 0
                    alpha[t][s] = total * y[t][extended[s]]
            beta = [[mpmath.mpf(0)] * width for _ in range(length)]
            beta[-1][-1] = mpmath.mpf(1)
            if width > 1:
                beta[-1][-2] = mpmath.mpf(1)
            for t in range(length - 2, -1, -1):
                for s in range(width):
                    total = beta[t + 1][s] * y[t + 1][extended[s]]
                    if s + 1 < width:
                        total += beta[t + 1][s + 1] * y[t + 1][extended[s + 1]]
                    if s + 2 < width and allowed(s + 2):
                        total += beta[t + 1][s + 2] * y[t + 1][extended[s + 2]]
                    beta[t][s] = total
            likelihood = alpha[-1][-1] + (alpha[-1][-2] if width > 1 else 0)
            scale = samples * max(len(target), 1) if reduction == "mean" else 1
            for t in range(length):
                gamma = [mpmath.mpf(0)] * classes
                for s in range(width):
                    gamma[extended[s]] += alpha[t][s] * beta[t][s]
                for k in range(classes):
                    gradient[t, n, k] = float(-gamma[k] / likelihood / scale)
        return gradient


def finite_differences(function, x, step=1e-6):
    """Central differences of the scalar ``function`` at every element of ``x``."""
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        gradient[index] = (function(up) - function(down)) / (up[index] - down[index])
    return gradient


# Parity with torch.


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("blank", [0, 2, 5])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_matches_torch(reduction, zero_infinity, blank, layout):
    """Every reduction, zero_infinity, blank position and target layout equals torch in float64."""
    log_probs, targets, input_lengths, target_lengths = make_batch(1, blank=blank)
    if layout == "concatenated":
        targets = concatenated(targets, target_lengths)
    options = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    ours = lb.ctc_loss(log_probs, targets, input_lengths, target_lengths, **options)
    theirs = torch_ctc(log_probs, targets, input_lengths, target_lengths, **options)
    assert np.shape(ours) == theirs.shape
    assert_allclose(ours, theirs, rtol=TORCH_RTOL, atol=0)


def test_unreachable_target_is_inf_or_zero():
    """Sample 3 has 4 equal labels (7 frames needed) and 5 frames: inf, or 0 with zero_infinity."""
    batch = make_batch(2)
    losses = lb.ctc_loss(*batch, reduction="none")
    assert losses[3] == np.inf == torch_ctc(*batch, reduction="none")[3]
    assert lb.ctc_loss(*batch, reduction="none", zero_infinity=True)[3] == 0.0
    assert lb.ctc_loss(*batch, reduction="sum") == np.inf


def test_mean_divides_by_target_length_at_least_one():
    """'mean' is the batch mean of loss / max(target_length, 1): the empty target divides by 1."""
    log_probs, targets, input_lengths, target_lengths = make_batch(3)
    keep = [0, 1, 2, 4]
    batch = (log_probs[:, keep], targets[keep], input_lengths[keep], target_lengths[keep])
    losses = torch_ctc(*batch, reduction="none")
    expected = np.mean(losses / np.array([4, 2, 1, 3]))
    assert_allclose(lb.ctc_loss(*batch), expected, rtol=TORCH_RTOL)
    assert_allclose(lb.ctc_loss(*batch), torch_ctc(*batch), rtol=TORCH_RTOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target_shape", ["flat", "row"])
@pytest.mark.parametrize("length_shape", ["scalar", "one"])
def test_unbatched_matches_torch(reduction, target_shape, length_shape):
    """A (T, C) input with targets (S,) or (1, S) and lengths () or (1,), as torch takes them."""
    log_probs = log_softmax(np.random.default_rng(4).normal(size=(9, 5)))
    targets = np.array([1, 3, 3]) if target_shape == "flat" else np.array([[1, 3, 3, 0]])
    lengths = (9, 3) if length_shape == "scalar" else ([9], [3])
    inputs = [np.array(value) for value in lengths]
    ours = lb.ctc_loss(log_probs, targets, *inputs, reduction=reduction)
    theirs = torch_ctc(log_probs, targets, *inputs, reduction=reduction)
    assert np.shape(ours) == theirs.shape == ()
    assert_allclose(ours, theirs, rtol=TORCH_RTOL)
    gradient = lb.ctc_loss_grad(log_probs, targets, *inputs, reduction=reduction)
    raw = torch_raw_grad(log_probs, targets, *inputs, reduction=reduction)
    scale = 3.0 if reduction == "mean" else 1.0
    assert gradient.shape == log_probs.shape
    assert_allclose(gradient, raw - np.exp(log_probs) / scale, rtol=1e-12, atol=1e-15)
    twin = exact.ctc_loss(log_probs, targets, *inputs, reduction=reduction)
    assert_allclose(float(twin), theirs, rtol=TORCH_RTOL)


def test_lengths_as_python_sequences_and_other_integer_dtypes():
    """Lengths may be tuples of ints, int32 or uint8 arrays (torch takes them too)."""
    batch = make_batch(5)
    expected = torch_ctc(*batch, reduction="none")
    log_probs, targets, input_lengths, target_lengths = batch
    for convert in (tuple, lambda a: a.astype(np.int32), lambda a: a.astype(np.uint8)):
        ours = lb.ctc_loss(log_probs, targets.astype(np.int32), convert(input_lengths),
                           convert(target_lengths), reduction="none")
        assert_allclose(ours, expected, rtol=TORCH_RTOL)


def test_empty_input_reaches_only_the_empty_target():
    """input length 0: loss 0 for an empty target, inf otherwise (torch alike); gradient 0."""
    log_probs, targets, _, target_lengths = make_batch(6)
    input_lengths = np.array([0, 0, 0, 5, 12])
    target_lengths = np.array([0, 2, 0, 1, 3])
    ours = lb.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    theirs = torch_ctc(log_probs, targets, input_lengths, target_lengths, reduction="none")
    assert_array_equal(ours[:3], [0.0, np.inf, 0.0])
    assert_allclose(ours, theirs, rtol=TORCH_RTOL)
    gradient = lb.ctc_loss_grad(log_probs, targets, input_lengths, target_lengths)
    assert_array_equal(gradient[:, :3], 0.0)


def test_every_input_empty():
    """All input lengths 0: no frame is looked at; 0 for empty targets, inf for others."""
    log_probs = log_softmax(np.random.default_rng(7).normal(size=(3, 2, 4)))
    ours = lb.ctc_loss(log_probs, [[1], [2]], [0, 0], [0, 1], reduction="none")
    assert_array_equal(ours, torch_ctc(log_probs, [[1], [2]], [0, 0], [0, 1], reduction="none"))
    assert_array_equal(lb.ctc_loss_grad(log_probs, [[1], [2]], [0, 0], [0, 1]), 0.0)


def test_float32_in_float32_out():
    """float32 log_probs give float32 results, the exact values rounded (torch float32 agrees)."""
    log_probs, targets, input_lengths, target_lengths = make_batch(8)
    single = log_probs.astype(np.float32)
    for reduction in REDUCTIONS:
        ours = lb.ctc_loss(single, targets, input_lengths, target_lengths, reduction=reduction,
                           zero_infinity=True)
        assert ours.dtype == np.float32
        reference = exact.ctc_loss(single, targets, input_lengths, target_lengths,
                                   reduction=reduction, zero_infinity=True)
        assert_allclose(ours, exact.nearest_float(reference).astype(np.float32), rtol=2.0**-23)
        theirs = torch_ctc(single, targets, input_lengths, target_lengths, reduction=reduction,
                           zero_infinity=True)
        assert_allclose(ours, theirs, rtol=1e-5)
    gradient = lb.ctc_loss_grad(single, targets, input_lengths, target_lengths)
    assert gradient.dtype == np.float32


# Gradients.


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradient_is_the_partial_derivative(reduction):
    """ctc_loss_grad equals central finite differences of torch's own loss in log_probs.

    The batch leaves out the unreachable sample, whose loss is inf.
    """
    log_probs, targets, input_lengths, target_lengths = make_batch(9, frames=6, classes=4)
    keep = [0, 1, 2, 4]
    batch = (log_probs[:, keep], targets[keep], input_lengths[keep], target_lengths[keep])

    def total(x):
        return float(np.sum(torch_ctc(x, *batch[1:], reduction=reduction)))

    expected = finite_differences(total, batch[0])
    ours = lb.ctc_loss_grad(*batch, reduction=reduction)
    assert_allclose(ours, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_torch_autograd_is_not_the_partial_derivative(reduction):
    """torch's autograd on log_probs returns exp(log_probs) - posterior, not -posterior.

    Finite differences side with lossbook; torch's raw gradient differs from
    them by exactly exp(x) times the reduction's factor on the frames within
    each input length, and by 0 beyond them.
    """
    log_probs, targets, input_lengths, target_lengths = make_batch(10, frames=6, classes=4)
    batch = (log_probs[:, [0, 1, 4]], targets[[0, 1, 4]], np.array([6, 3, 6]),
             np.array([2, 1, 1]))
    ours = lb.ctc_loss_grad(*batch, reduction=reduction)
    raw = torch_raw_grad(*batch, reduction=reduction)
    fd = finite_differences(lambda x: float(np.sum(torch_ctc(x, *batch[1:],
                                                             reduction=reduction))), batch[0])
    factor = 1.0 / (3 * np.array([2, 1, 1])) if reduction == "mean" else np.ones(3)
    within = np.arange(6)[:, None] < batch[2]
    difference = np.exp(batch[0]) * factor[:, None] * within[:, :, None]
    assert_allclose(raw - ours, difference, rtol=1e-13, atol=1e-16)
    assert np.abs(raw - fd).max() > 0.1
    assert_allclose(ours, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("blank", [0, 3])
def test_gradient_through_log_softmax_matches_torch(reduction, blank):
    """Chained through log_softmax, lossbook's gradient equals torch.autograd's on the logits.

    The chain rule for x = log_softmax(z): dL/dz = g - softmax(z) * sum_k g_k.
    """
    rng = np.random.default_rng(11)
    logits = rng.normal(size=(10, 4, 5)) * 2
    targets = np.array([[1, 1, 2], [4, 2, 1], [1, 2, 1], [2, 4, 4]])
    targets[targets == blank] = 0 if blank else 3
    input_lengths, target_lengths = np.array([10, 8, 10, 6]), np.array([3, 2, 0, 3])
    z = torch.from_numpy(logits).requires_grad_(True)
    loss = F.ctc_loss(z.log_softmax(2), torch.from_numpy(targets),
                      torch.from_numpy(input_lengths), torch.from_numpy(target_lengths),
                      blank=blank, reduction=reduction)
    loss.sum().backward()
    x = log_softmax(logits)
    g = lb.ctc_loss_grad(x, targets, input_lengths, target_lengths, blank=blank,
                         reduction=reduction)
    chained = g - np.exp(x) * g.sum(axis=2, keepdims=True)
    assert_allclose(chained, z.grad.numpy(), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradient_within_few_ulp_of_exact_posteriors(reduction):
    """Against Graves' forward-backward on exact probabilities (mpmath), within 4 ulp."""
    for scale, frames in [(2.0, 15), (0.0, 15), (30.0, 15), (300.0, 12), (2.0, 80)]:
        rng = np.random.default_rng(int(scale) + frames)
        logits = rng.normal(size=(frames, 3, 5)) * scale
        log_probs = log_softmax(logits)
        targets = rng.integers(1, 5, size=(3, 5))
        targets[0, 1:3] = targets[0, 0]
        input_lengths = np.array([frames, frames - 3, frames])
        target_lengths = np.array([5, 2, 0])
        ours = lb.ctc_loss_grad(log_probs, targets, input_lengths, target_lengths,
                                reduction=reduction)
        expected = exact_gradient(log_probs, targets, input_lengths, target_lengths,
                                  reduction=reduction)
        exact.assert_within_ulp(ours, exact.to_mpf(expected), ulps=4)


def test_gradient_of_unreachable_target():
    """An unreachable sample: nan within its input length and 0 beyond (as torch), or 0 with
    zero_infinity (as torch); the other samples are unaffected."""
    batch = make_batch(12)
    for zero_infinity in (False, True):
        ours = lb.ctc_loss_grad(*batch, zero_infinity=zero_infinity)
        raw = torch_raw_grad(*batch, zero_infinity=zero_infinity)
        assert_array_equal(np.isnan(ours), np.isnan(raw))
        if zero_infinity:
            assert_array_equal(ours[:, 3], 0.0)
        else:
            assert np.isnan(ours[:5, 3]).all() and (ours[5:, 3] == 0).all()
        others = [0, 1, 2, 4]
        within = (np.arange(12)[:, None] < batch[2][others])[:, :, None]
        factor = 1.0 / (5 * np.maximum(batch[3][others], 1))
        expected = raw[:, others] - np.exp(batch[0][:, others]) * factor[:, None] * within
        assert_allclose(ours[:, others], expected, rtol=1e-12, atol=1e-16)


def test_gradient_where_a_probability_is_zero():
    """A log-probability of -inf has derivative 0 (no alignment through it counts); torch: nan."""
    log_probs, targets, input_lengths, target_lengths = make_batch(13)
    log_probs[:, 0, 0] = -np.inf  # sample 0 never emits the blank: only 1 1 1 x ... alignments
    keep = [0, 1]
    batch = (log_probs[:, keep], targets[keep], input_lengths[keep], np.array([2, 2]))
    batch[1][0, :2] = [1, 2]
    ours = lb.ctc_loss_grad(*batch, reduction="sum")
    assert_array_equal(ours[:, 0, 0], 0.0)
    assert np.isnan(torch_raw_grad(*batch, reduction="sum")[:, 0, 0]).all()
    expected = exact_gradient(*batch)
    exact.assert_within_ulp(ours, exact.to_mpf(expected), ulps=4)


# Accuracy against mpmath.


def aligned_batch(seed, frames, samples, classes, longest, gap):
    """Log-probabilities that favour one alignment of each target by a logit gap ``gap``.

    With a gap of 40 the loss is about 1e-16 of its terms (and may be slightly
    negative, as the rounded log_softmax sums to a little over 1).
    """
    rng = np.random.default_rng(seed)
    targets = rng.integers(1, classes, size=(samples, longest))
    logits = rng.normal(size=(frames, samples, classes))
    for n in range(samples):
        extended = [0]
        for label in targets[n]:
            extended += [label, 0]
        states = np.linspace(0, len(extended) - 1, frames).round().astype(int)
        logits[np.arange(frames), n, np.array(extended)[states]] += gap
    lengths = np.full(samples, longest)
    return log_softmax(logits), targets, np.full(samples, frames), lengths


def random_batch(seed, frames, samples, classes, longest, scale, repeats=False):
    """Random log_softmax inputs with random lengths (each target reachable)."""
    rng = np.random.default_rng(seed)
    if scale == 0:
        log_probs = np.full((frames, samples, classes), -np.log(classes))
    else:
        log_probs = log_softmax(rng.normal(size=(frames, samples, classes)) * scale)
    targets = rng.integers(1, classes, size=(samples, longest))
    if repeats:
        targets[:] = 1
        targets[:, ::3] = 2
    target_lengths = rng.integers(0, longest + 1, size=samples)
    input_lengths = np.maximum(rng.integers(frames // 2, frames + 1, size=samples),
                               np.minimum(2 * target_lengths + 1, frames))
    return log_probs, targets, input_lengths, target_lengths


ACCURACY_BATCHES = {
    "random": lambda: random_batch(0, 30, 6, 6, 8, 2.0),
    "flat": lambda: random_batch(1, 40, 4, 5, 10, 0.0),
    "nearly flat": lambda: random_batch(2, 40, 4, 5, 10, 1e-3),
    "peaked": lambda: random_batch(3, 20, 4, 5, 6, 30.0),
    "very peaked": lambda: random_batch(4, 20, 4, 5, 6, 300.0),
    "long": lambda: random_batch(5, 300, 2, 8, 40, 2.0),
    "repeated labels": lambda: random_batch(6, 25, 4, 3, 10, 1.0, repeats=True),
    "two classes": lambda: random_batch(7, 60, 3, 2, 5, 1.0),
    "aligned, gap 20": lambda: aligned_batch(8, 30, 4, 5, 6, 20.0),
    "aligned, gap 40": lambda: aligned_batch(9, 30, 4, 5, 6, 40.0),
    "aligned, gap 700": lambda: aligned_batch(10, 30, 4, 5, 6, 700.0),
    "logits 1e4": lambda: random_batch(11, 50, 3, 4, 5, 1e4),
}


@pytest.mark.parametrize("name", list(ACCURACY_BATCHES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_within_2ulp_of_exact(name, reduction):
    """Random, flat, peaked, long, repeated and aligned inputs: within 2 ulp of mpmath."""
    batch = ACCURACY_BATCHES[name]()
    exact.assert_within_ulp(lb.ctc_loss(*batch, reduction=reduction),
                            exact.ctc_loss(*batch, reduction=reduction), ulps=2)


def test_losses_near_zero_keep_their_digits():
    """A favoured alignment with gap 700 leaves a loss near -1e-302 (log_softmax rounds the
    probabilities to a sum just above 1): lossbook keeps it to 2 ulp, while torch's value
    (0, or a rounding error of 1e-16) is wrong in every digit."""
    batch = aligned_batch(10, 30, 4, 5, 6, 700.0)
    reference = exact.ctc_loss(*batch, reduction="none")
    assert all(-1e-300 < value < 0 for value in reference)
    exact.assert_within_ulp(lb.ctc_loss(*batch, reduction="none"), reference, ulps=2)
    torch_errors = exact.ulp_errors(torch_ctc(*batch, reduction="none"), reference)
    assert (torch_errors > 1e15).all()


def test_long_inputs_keep_their_digits():
    """1000 frames, and 500 flat frames: within 2 ulp, where torch's recursion drifts ~10 ulp."""
    rng = np.random.default_rng(23)
    batch = (log_softmax(rng.normal(size=(1000, 1, 3))), rng.integers(1, 3, size=(1, 100)),
             [1000], [100])
    exact.assert_within_ulp(lb.ctc_loss(*batch, reduction="none"),
                            exact.ctc_loss(*batch, reduction="none"), ulps=2)
    flat = (np.full((500, 1, 2), -np.log(2)), np.zeros((1, 0), dtype=int), [500], [0])
    reference = exact.ctc_loss(*flat, reduction="none")
    exact.assert_within_ulp(lb.ctc_loss(*flat, reduction="none"), reference, ulps=2)
    assert 5 < exact.ulp_errors(torch_ctc(*flat, reduction="none"), reference)[0] < 20


@pytest.mark.parametrize("scale", [1e6, 1e15, 1e300])
def test_huge_log_probabilities(scale):
    """Log-probabilities scaled to -1e300: the double-length sums keep every digit."""
    rng = np.random.default_rng(14)
    log_probs = log_softmax(rng.normal(size=(20, 3, 4))) * scale
    batch = (log_probs, rng.integers(1, 4, size=(3, 5)), np.full(3, 20), np.full(3, 5))
    exact.assert_within_ulp(lb.ctc_loss(*batch, reduction="none"),
                            exact.ctc_loss(*batch, reduction="none"), ulps=2)


def test_cancelling_loss_within_2ulp_of_its_scale():
    """Unnormalised log-probabilities shifted so that the loss cancels to about 1e-15.

    The error is then a few eps in absolute terms, measured against the
    scale of the docstring's bound, |loss| + log(number of alignments).
    """
    rng = np.random.default_rng(15)
    for _ in range(4):
        log_probs = log_softmax(rng.normal(size=(30, 1, 4)))
        batch = (log_probs, rng.integers(1, 4, size=(1, 5)), np.array([30]), np.array([5]))
        shift = float(exact.ctc_loss(*batch, reduction="sum")) / 30
        batch = (log_probs + shift,) + batch[1:]
        reference = exact.ctc_loss(*batch, reduction="none")
        assert abs(reference[0]) < 1e-13
        scale = exact.ctc_loss(*batch, reduction="none", magnitude=True)
        exact.assert_within_ulp(lb.ctc_loss(*batch, reduction="none"), reference, ulps=2,
                                scale=scale)


def test_sum_and_mean_are_correctly_rounded():
    """The reductions add the double-length losses exactly and round once."""
    batch = random_batch(16, 30, 6, 6, 8, 2.0)
    for reduction in ("mean", "sum"):
        exact.assert_correctly_rounded([lb.ctc_loss(*batch, reduction=reduction)],
                                       [exact.ctc_loss(*batch, reduction=reduction)])


def test_sum_and_mean_near_the_float64_limit():
    """Losses near 1.4e308: their sum rounds to inf, as exactly, and their mean is finite."""
    log_probs = np.full((2, 2, 3), -7e307)
    batch = (log_probs, np.array([[1], [2]]), np.array([2, 2]), np.array([1, 1]))
    assert np.isfinite(lb.ctc_loss(*batch, reduction="none")).all()
    for reduction in ("mean", "sum"):
        exact.assert_correctly_rounded([lb.ctc_loss(*batch, reduction=reduction)],
                                       [exact.ctc_loss(*batch, reduction=reduction)])
    assert lb.ctc_loss(*batch, reduction="sum") == np.inf


# Brute force: every alignment, enumerated.


BRUTE_FORCE_CASES = [
    # frames, classes, target, blank
    (4, 3, [1, 2], 0),
    (5, 3, [1, 1], 0),
    (3, 3, [2, 2], 0),  # exactly the 3 frames that 'x _ x' needs
    (2, 3, [2, 2], 0),  # unreachable
    (6, 3, [], 0),
    (5, 4, [0, 3, 0], 2),
    (6, 2, [1], 0),
]


@pytest.mark.parametrize(("frames", "classes", "target", "blank"), BRUTE_FORCE_CASES)
def test_brute_force_sum_over_alignments(frames, classes, target, blank):
    """Enumerating all C**T alignments agrees with the exact twin (to 1e-40) and lossbook."""
    rng = np.random.default_rng(frames * 10 + classes)
    log_probs = log_softmax(rng.normal(size=(frames, classes)) * 1.5)
    loss, posterior = brute_force(log_probs, target, blank)
    arguments = (log_probs[:, None, :], np.array([target + [0]]), [frames], [len(target)])
    twin = exact.ctc_loss(*arguments, blank=blank, reduction="none")[0]
    ours = lb.ctc_loss(*arguments, blank=blank, reduction="none")
    if loss == mpmath.inf:
        assert twin == mpmath.inf and ours[0] == np.inf
        return
    assert abs(twin - loss) <= abs(loss) * mpmath.mpf(10) ** -40
    exact.assert_within_ulp(ours, [loss], ulps=2)
    gradient = lb.ctc_loss_grad(*arguments, blank=blank, reduction="sum")[:, 0]
    exact.assert_within_ulp(gradient, -posterior, ulps=4)


def test_brute_force_agrees_with_forward_backward_posteriors():
    """The enumerated posteriors equal the mpmath forward-backward ones used above."""
    log_probs = log_softmax(np.random.default_rng(17).normal(size=(5, 1, 3)))
    _, posterior = brute_force(log_probs[:, 0], [1, 2], 0)
    expected = exact_gradient(log_probs, np.array([[1, 2]]), [5], [2])
    assert_allclose(expected[:, 0], -posterior.astype(float), rtol=1e-15, atol=0)


def test_hand_derived_two_frames():
    """T = 2, classes {blank, a}, probabilities 1/2: 'a' has alignments aa, _a, a_.

    p = 3/4 so the loss is log(4/3); frame 0 emits the blank with posterior 1/3.
    """
    log_probs = np.log(np.full((2, 1, 2), 0.5))
    assert_allclose(lb.ctc_loss(log_probs, [[1]], [2], [1], reduction="sum"), np.log(4 / 3),
                    rtol=EPS)
    gradient = lb.ctc_loss_grad(log_probs, [[1]], [2], [1], reduction="sum")
    third = mpmath.mpf(1) / 3
    exact.assert_within_ulp(gradient[:, 0], [-third, -2 * third] * 2, ulps=2)
    assert lb.ctc_loss(log_probs, [[1, 1]], [2], [2], reduction="sum") == np.inf


def test_hand_derived_tight_repeat():
    """'a a' in exactly 3 frames has the one alignment a _ a: loss = -(x0a + x1_ + x2a)."""
    log_probs = log_softmax(np.random.default_rng(18).normal(size=(3, 1, 3)))
    expected = -(log_probs[0, 0, 1] + log_probs[1, 0, 0] + log_probs[2, 0, 1])
    assert_allclose(lb.ctc_loss(log_probs, [[1, 1]], [3], [2], reduction="sum"), expected,
                    rtol=2 * EPS)
    gradient = lb.ctc_loss_grad(log_probs, [[1, 1]], [3], [2], reduction="sum")[:, 0]
    exact.assert_within_ulp(gradient, np.array([[0, -1, 0], [-1, 0, 0], [0, -1, 0]]), ulps=2)


# Properties.

SHAPES = st.tuples(st.integers(1, 12), st.integers(1, 4), st.integers(2, 6), st.integers(0, 5))


@st.composite
def batches(draw):
    """A random batch of log_softmax inputs; some targets may be unreachable."""
    frames, samples, classes, longest = draw(SHAPES)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 40.0]))
    log_probs = log_softmax(rng.normal(size=(frames, samples, classes)) * scale)
    targets = rng.integers(1, classes, size=(samples, longest))
    target_lengths = rng.integers(0, longest + 1, size=samples)
    input_lengths = rng.integers(0, frames + 1, size=samples)
    return log_probs, targets, input_lengths, target_lengths


@settings(max_examples=60, deadline=None)
@given(batches())
def test_loss_is_positive_below_total_probability_one(batch):
    """With probabilities summing to less than 1 in each frame, every loss is > 0 (or inf)."""
    log_probs, targets, input_lengths, target_lengths = batch
    losses = lb.ctc_loss(log_probs - 1e-9, targets, input_lengths, target_lengths,
                         reduction="none")
    assert ((losses > 0) | (input_lengths == 0) & (target_lengths == 0)).all()


@settings(max_examples=60, deadline=None)
@given(batches(), st.integers(0, 2**32 - 1))
def test_permuting_the_batch(batch, seed):
    """Permuting the samples permutes the losses and gradients; sum and mean stay bit-equal."""
    log_probs, targets, input_lengths, target_lengths = batch
    order = np.random.default_rng(seed).permutation(len(input_lengths))
    permuted = (log_probs[:, order], targets[order], input_lengths[order], target_lengths[order])
    assert_array_equal(lb.ctc_loss(*permuted, reduction="none"),
                       lb.ctc_loss(*batch, reduction="none")[order])
    for reduction in ("sum", "mean"):
        assert lb.ctc_loss(*permuted, reduction=reduction) == lb.ctc_loss(*batch,
                                                                           reduction=reduction)
    assert_array_equal(lb.ctc_loss_grad(*permuted), lb.ctc_loss_grad(*batch)[:, order])


@settings(max_examples=60, deadline=None)
@given(batches(), st.integers(0, 2**32 - 1))
def test_padding_is_ignored(batch, seed):
    """Targets past target_lengths and frames past input_lengths (even nan) change nothing."""
    log_probs, targets, input_lengths, target_lengths = batch
    rng = np.random.default_rng(seed)
    garbage_targets = targets.copy()
    unused = np.arange(targets.shape[1]) >= target_lengths[:, None]
    garbage_targets[unused] = rng.integers(-5, 100, size=unused.sum())
    garbage_frames = log_probs.copy()
    beyond = np.arange(log_probs.shape[0])[:, None] >= input_lengths
    garbage_frames[beyond] = np.where(rng.random((beyond.sum(), log_probs.shape[2])) < 0.5,
                                      np.nan, 1e300)
    expected = lb.ctc_loss(*batch, reduction="none")
    moved = (garbage_frames, garbage_targets, input_lengths, target_lengths)
    assert_array_equal(lb.ctc_loss(*moved, reduction="none"), expected)
    gradient = lb.ctc_loss_grad(*moved)
    assert_array_equal(gradient, lb.ctc_loss_grad(*batch))
    assert_array_equal(gradient[beyond], 0.0)


@settings(max_examples=60, deadline=None)
@given(batches())
def test_layouts_agree(batch):
    """Padded and concatenated targets give bit-equal losses and gradients."""
    log_probs, targets, input_lengths, target_lengths = batch
    flat = (log_probs, concatenated(targets, target_lengths), input_lengths, target_lengths)
    assert_array_equal(lb.ctc_loss(*flat, reduction="none"),
                       lb.ctc_loss(*batch, reduction="none"))
    assert_array_equal(lb.ctc_loss_grad(*flat), lb.ctc_loss_grad(*batch))


@settings(max_examples=60, deadline=None)
@given(batches())
def test_moving_the_blank_to_the_last_class(batch):
    """Relabelling the classes (blank last, as gluon has it) changes no value."""
    log_probs, targets, input_lengths, target_lengths = batch
    classes = log_probs.shape[2]
    order = np.r_[1:classes, 0]  # new class j is old class order[j]; the blank moves to C-1
    moved = (log_probs[:, :, order], targets - 1, input_lengths, target_lengths)
    assert_array_equal(lb.ctc_loss(*moved, blank=classes - 1, reduction="none"),
                       lb.ctc_loss(*batch, reduction="none"))


@settings(max_examples=60, deadline=None)
@given(batches())
def test_gradient_is_minus_a_distribution_per_frame(batch):
    """Each reachable sample's gradient (reduction "sum") lies in [-1, 0] (to its rounding,
    a few eps) and sums to -1 per frame within its input length."""
    log_probs, targets, input_lengths, target_lengths = batch
    losses = lb.ctc_loss(*batch, reduction="none")
    gradient = lb.ctc_loss_grad(*batch, reduction="sum")
    reachable = np.isfinite(losses)
    assert ((gradient[:, reachable] <= 0) & (gradient[:, reachable] >= -1 - 4 * EPS)).all()
    within = (np.arange(log_probs.shape[0])[:, None] < input_lengths) & reachable
    assert_allclose(gradient.sum(axis=2)[within], -1.0, rtol=8 * EPS)


@settings(max_examples=40, deadline=None)
@given(batches())
def test_zero_infinity_only_zeroes_infinite_losses(batch):
    """zero_infinity leaves finite losses alone and makes every loss finite."""
    plain = lb.ctc_loss(*batch, reduction="none")
    zeroed = lb.ctc_loss(*batch, reduction="none", zero_infinity=True)
    assert_array_equal(zeroed, np.where(np.isinf(plain), 0.0, plain))


# Adversarial input.


def test_torch_returns_nan_for_positive_infinity():
    """torch takes a log-probability of +inf and returns nan; lossbook raises instead (above)."""
    log_probs, targets, input_lengths, target_lengths = make_batch(20)
    log_probs[2, 0, targets[0, 0]] = np.inf
    theirs = torch_ctc(log_probs, targets, input_lengths, target_lengths, reduction="none")
    assert np.isnan(theirs[0]) and np.isfinite(theirs[[1, 2, 4]]).all()


def test_nan_propagates_only_where_it_is_used():
    """nan in a used log-probability gives nan; in an unused class or frame it does not
    (torch alike)."""
    log_probs, targets, input_lengths, target_lengths = make_batch(19)
    log_probs[3, 0, targets[0, 0]] = np.nan
    log_probs[11, 1, :] = np.nan  # sample 1 has 9 frames
    unused = sorted(set(range(6)) - {0} - set(targets[4, :3]))[0]
    log_probs[:, 4, unused] = np.nan
    ours = lb.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="none")
    theirs = torch_ctc(log_probs, targets, input_lengths, target_lengths, reduction="none")
    assert np.isnan(ours[0]) and np.isnan(theirs[0])
    assert_allclose(ours[1:], theirs[1:], rtol=TORCH_RTOL)


GOOD = dict(log_probs=np.log(np.full((4, 2, 3), 1 / 3)), targets=np.array([[1, 2], [2, 0]]),
            input_lengths=np.array([4, 3]), target_lengths=np.array([2, 1]))
BAD = [
    (dict(log_probs=np.zeros(4)), ValueError, "log_probs must have shape"),
    (dict(log_probs=np.zeros((1, 4, 2, 3))), ValueError, "log_probs must have shape"),
    (dict(log_probs=np.zeros((0, 2, 3))), ValueError, "log_probs must not be empty"),
    (dict(log_probs=np.full((4, 2, 3), "a")), TypeError, "log_probs"),
    (dict(log_probs=np.zeros((4, 2, 3), dtype=complex)), TypeError, "log_probs"),
    (dict(log_probs=np.where(np.arange(3) == 1, np.inf, np.zeros((4, 2, 3)))), ValueError,
     "log_probs must not be \\+inf"),
    (dict(targets=np.array([[1.5, 2], [2, 0]])), ValueError, "whole numbers"),
    (dict(targets=np.array([[1, np.nan], [2, 0]])), ValueError, "whole numbers"),
    (dict(targets=np.array([[True, True], [True, False]])), TypeError, "targets"),
    (dict(targets=np.array(["a", "b"])), TypeError, "targets"),
    (dict(targets=np.zeros((2, 2, 1), dtype=int)), ValueError, "targets must be padded"),
    (dict(targets=np.array([[1, 2]])), ValueError, "N = 2 rows"),
    (dict(targets=np.array([1, 2, 2, 1])), ValueError, "sum\\(target_lengths\\) = 3"),
    (dict(targets=np.array([[1, 3], [2, 0]])), ValueError, "outside \\[0, 2\\]"),
    (dict(targets=np.array([[1, -1], [2, 0]])), ValueError, "class index -1"),
    (dict(targets=np.array([[1, 0], [2, 0]])), ValueError, "blank index 0"),
    (dict(targets=[[1, 2], [2]]), ValueError, "targets must be a rectangular"),
    (dict(input_lengths=np.array([4.0, 3.0])), TypeError, "input_lengths must hold integers"),
    (dict(input_lengths=np.array([True, True])), TypeError, "input_lengths must hold"),
    (dict(input_lengths=np.array([4, 3, 2])), ValueError, "input_lengths must have shape"),
    (dict(input_lengths=np.array([[4, 3]])), ValueError, "input_lengths must have shape"),
    (dict(input_lengths=np.array([4, -1])), ValueError, "input_lengths must not be negative"),
    (dict(input_lengths=np.array([5, 3])), ValueError, "at most the 4 frames"),
    (dict(target_lengths=np.array([2.0, 1.0])), TypeError, "target_lengths must hold integers"),
    (dict(target_lengths=np.array([2])), ValueError, "target_lengths must have shape"),
    (dict(target_lengths=np.array([-1, 1])), ValueError, "target_lengths must not be negative"),
    (dict(target_lengths=np.array([3, 1])), ValueError, "at most the 2 columns"),
    (dict(blank=3), ValueError, "blank must lie in \\[0, 2\\]"),
    (dict(blank=-1), ValueError, "blank must lie"),
    (dict(blank=True), TypeError, "blank must be an integer"),
    (dict(blank=0.0), TypeError, "blank must be an integer"),
    (dict(reduction="batchmean"), ValueError, "reduction must be one of"),
    (dict(zero_infinity=1), TypeError, "zero_infinity must be True or False"),
]


@pytest.mark.parametrize("function", [lb.ctc_loss, lb.ctc_loss_grad],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize(("change", "error", "message"), BAD,
                         ids=[f"{list(c)[0]}-{i}" for i, (c, _, _) in enumerate(BAD)])
def test_bad_input_names_the_argument(function, change, error, message):
    """Wrong shapes, dtypes, lengths, labels and options raise, naming the argument."""
    arguments = {**GOOD, **change}
    positional = [arguments.pop(name) for name in
                  ("log_probs", "targets", "input_lengths", "target_lengths")]
    with pytest.raises(error, match=message):
        function(*positional, **arguments)


def test_unbatched_lengths_must_be_single():
    """Unbatched input takes one length per argument, as () or (1,)."""
    log_probs = np.log(np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"input_lengths must have shape \(\) or \(1,\)"):
        lb.ctc_loss(log_probs, [1], [4, 4], [1])
    with pytest.raises(ValueError, match="N = 1 rows"):
        lb.ctc_loss(log_probs, [[1], [2]], 4, 1)


def test_empty_targets_of_any_dtype():
    """An empty 1-D target list (numpy makes [] float64) is fine when every length is 0."""
    log_probs = np.log(np.full((4, 2, 3), 1 / 3))
    ours = lb.ctc_loss(log_probs, [], [4, 2], [0, 0], reduction="none")
    assert_allclose(ours, [4 * np.log(3), 2 * np.log(3)], rtol=2 * EPS)


def test_exact_twin_takes_both_layouts_and_empty_inputs():
    """The twin reads concatenated targets and input length 0 as torch does."""
    log_probs, targets, _, target_lengths = make_batch(22)
    input_lengths = np.array([12, 9, 0, 0, 12])
    target_lengths = np.array([4, 2, 0, 1, 3])
    flat = concatenated(targets, target_lengths)
    reference = exact.ctc_loss(log_probs, flat, input_lengths, target_lengths, reduction="none")
    assert reference[2] == 0 and reference[3] == mpmath.inf
    theirs = torch_ctc(log_probs, flat, input_lengths, target_lengths, reduction="none")
    assert_allclose(exact.nearest_float(reference), theirs, rtol=TORCH_RTOL)


def test_exact_twin_rejects_what_it_cannot_evaluate():
    """The mpmath twin checks its arguments too."""
    log_probs = np.log(np.full((4, 2, 3), 1 / 3))
    with pytest.raises(ValueError, match="do not fit"):
        exact.ctc_loss(log_probs, [[1, 2, 1]], [4, 4], [1, 1])
    with pytest.raises(ValueError, match="do not fit"):
        exact.ctc_loss(log_probs, [1, 2, 1], [4, 4], [1, 1])
    with pytest.raises(ValueError, match="entries each"):
        exact.ctc_loss(log_probs, [[1], [2]], [4], [1, 1])
    with pytest.raises(ValueError, match="blank must lie"):
        exact.ctc_loss(log_probs, [[1], [2]], [4, 4], [1, 1], blank=3)
    with pytest.raises(ValueError, match="out of range"):
        exact.ctc_loss(log_probs, [[1], [0]], [4, 4], [1, 1])
    with pytest.raises(ValueError, match="reduction"):
        exact.ctc_loss(log_probs, [[1], [2]], [4, 4], [1, 1], reduction="max")
    with pytest.raises(ValueError, match="must not be \\+inf"):
        exact.ctc_loss(np.where(np.arange(3) == 1, np.inf, log_probs), [[1], [2]], [4, 4], [1, 1])
    assert exact.reference(lb.ctc_loss) is exact.ctc_loss


# gluon 1.9.1.


def gluon_ctc(pred, label, *lengths, **options):
    """gluon.loss.CTCLoss on float32 NDArrays, as numpy."""
    nd = mx.nd
    arrays = [None if value is None else nd.array(value, dtype=np.float32) for value in lengths]
    return mx.gluon.loss.CTCLoss(**options)(nd.array(pred, dtype=np.float32),
                                            nd.array(label, dtype=np.float32),
                                            *arrays).asnumpy()


GLUON_PRED = np.random.default_rng(21).normal(size=(4, 8, 5)).astype(np.float32)  # (N, T, C)
GLUON_LABEL = np.array([[1, 0, -1, -1], [2, 2, 3, -1], [0, -1, -1, -1], [3, 3, 3, 3]],
                       dtype=np.float32)
GLUON_LENGTHS = np.array([2, 3, 1, 4])


def lb_port(pred, label, label_lengths, pred_lengths=None):
    """The port: log_softmax over C, (N, T, C) -> (T, N, C), blank = C - 1, reduction "none"."""
    log_probs = log_softmax(pred.astype(np.float64)).transpose(1, 0, 2)
    frames = log_probs.shape[0] if pred_lengths is None else pred_lengths
    lengths = np.broadcast_to(frames, (pred.shape[0],))
    return lb.ctc_loss(log_probs, label.astype(np.int64), lengths, label_lengths,
                       blank=pred.shape[2] - 1, reduction="none", zero_infinity=True)


def test_gluon_ctc_is_the_port():
    """gluon's CTCLoss (NTC, raw scores, blank last, -1 padding) is lb's port, to float32."""
    ours = lb_port(GLUON_PRED, GLUON_LABEL, GLUON_LENGTHS)
    assert_allclose(gluon_ctc(GLUON_PRED, GLUON_LABEL), ours, rtol=3e-7)
    transposed = gluon_ctc(GLUON_PRED.transpose(1, 0, 2), GLUON_LABEL, layout="TNC")
    assert_allclose(transposed, ours, rtol=3e-7)


def test_gluon_padding_with_zero_changes_the_loss():
    """Without label_lengths gluon cuts each label at its first -1: 0 is the class 'a'."""
    zeros = np.where(GLUON_LABEL < 0, 0, GLUON_LABEL)
    full = lb_port(GLUON_PRED, zeros, np.full(4, 4))
    assert_allclose(gluon_ctc(GLUON_PRED, zeros), full, rtol=3e-7)
    assert (np.abs(full - lb_port(GLUON_PRED, GLUON_LABEL, GLUON_LENGTHS))[:3] > 1e-3).all()
    with_lengths = gluon_ctc(GLUON_PRED, zeros, None, GLUON_LENGTHS)
    assert_allclose(with_lengths, lb_port(GLUON_PRED, GLUON_LABEL, GLUON_LENGTHS), rtol=3e-7)


def test_gluon_pred_lengths_and_unreachable_targets():
    """pred_lengths are input_lengths; an unreachable target costs 0 in gluon (torch: inf)."""
    lengths = np.array([8, 6, 0, 5])  # sample 2 has no frame, sample 3 needs 7 frames
    ours = lb_port(GLUON_PRED, GLUON_LABEL, GLUON_LENGTHS, lengths)
    assert_array_equal(ours[2:], 0.0)
    assert_allclose(gluon_ctc(GLUON_PRED, GLUON_LABEL, lengths), ours, rtol=3e-7)
    log_probs = log_softmax(GLUON_PRED.astype(np.float64)).transpose(1, 0, 2)
    plain = lb.ctc_loss(log_probs, GLUON_LABEL.astype(int), lengths, GLUON_LENGTHS, blank=4,
                        reduction="none")
    assert_array_equal(plain[2:], np.inf)


def test_gluon_gradient_is_lossbooks_through_log_softmax():
    """mxnet.autograd's gradient w.r.t. the raw scores is lb's chained through log_softmax.

    Sample 3 cannot be aligned in its 5 frames. warp-ctc (3rdparty/ctc_include
    in mxnet 1.9.1) returns a cost of 0 for such a sample before it computes
    anything, so its gradient within those frames is never written and holds
    whatever the buffer held (usually 0, sometimes garbage: values near 1 were
    seen in one run of this file in six); only the frames past pred_lengths
    are set to 0. So sample 3 is compared there only.
    """
    lengths = np.array([8, 8, 8, 5])
    pred = mx.nd.array(GLUON_PRED)
    pred.attach_grad()
    with mx.autograd.record():
        loss = mx.gluon.loss.CTCLoss()(pred, mx.nd.array(GLUON_LABEL),
                                       mx.nd.array(lengths, dtype=np.float32))
    loss.backward()
    log_probs = log_softmax(GLUON_PRED.astype(np.float64)).transpose(1, 0, 2)
    g = lb.ctc_loss_grad(log_probs, GLUON_LABEL.astype(int), lengths, GLUON_LENGTHS, blank=4,
                         reduction="sum", zero_infinity=True)
    chained = (g - np.exp(log_probs) * g.sum(axis=2, keepdims=True)).transpose(1, 0, 2)
    assert_allclose(pred.grad.asnumpy()[:3], chained[:3], rtol=0, atol=3e-6)
    assert_array_equal(pred.grad.asnumpy()[3, 5:], 0.0)


def test_gluon_cuts_each_label_at_its_first_minus_one():
    """Labels after the first -1 are ignored, whatever they are."""
    label = GLUON_LABEL.copy()
    label[0, 3] = 2  # [1, 0, -1, 2]: still the target [1, 0]
    ours = lb_port(GLUON_PRED, label, GLUON_LENGTHS)
    assert_allclose(gluon_ctc(GLUON_PRED, label), ours, rtol=3e-7)


def test_gluon_weights_scale_each_sample():
    """gluon's output is weight * sample_weight * loss, per sample (a global scalar weight)."""
    sample_weight = np.array([0.5, 1.0, 2.0, 3.0], dtype=np.float32)
    weighted = mx.gluon.loss.CTCLoss(weight=0.3)(
        mx.nd.array(GLUON_PRED), mx.nd.array(GLUON_LABEL), None, None, mx.nd.array(sample_weight)
    ).asnumpy()
    ours = lb_port(GLUON_PRED, GLUON_LABEL, GLUON_LENGTHS)
    assert_allclose(weighted, 0.3 * sample_weight * ours, rtol=5e-7)


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_gluon_ctc_takes_float32_only(dtype):
    """gluon's CTC kernel reads float32 whatever the input dtype: float64 fails when evaluated."""
    pred = mx.nd.array(GLUON_PRED, dtype=dtype)
    with pytest.raises(mx.base.MXNetError, match="data type do not match"):
        mx.gluon.loss.CTCLoss()(pred, mx.nd.array(GLUON_LABEL, dtype=dtype)).asnumpy()


def test_gluon_pred_lengths_must_be_float32():
    """gluon reads pred_lengths as float32: int32 lengths fail."""
    lengths = mx.nd.array([8, 8, 8, 8], dtype="int32")
    with pytest.raises(mx.base.MXNetError, match="data type do not match"):
        mx.gluon.loss.CTCLoss()(mx.nd.array(GLUON_PRED), mx.nd.array(GLUON_LABEL),
                                lengths).asnumpy()

"""Hostile input: bad types and options, nan and inf everywhere, 0-d and empty arrays, values
near float64's limits, subnormals, and property tests against mpmath.

Each expected value comes from an independent source: torch (float64), mpmath, or a hand
derivation written next to it. Where torch returns nan for a product ``0 * inf`` that the
loss defines as 0 (a target probability or weight of 0 switches its term off, as
``0 log 0 = 0`` does), the test says so and pins the mathematical value instead.
"""

import math

import mpmath as mp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import lossbook as lb

mp.mp.dps = 60
EPS = np.finfo(np.float64).eps
TINY = 2.0**-1074  # the smallest subnormal
BIG = np.finfo(np.float64).max
INF, NAN = np.inf, np.nan
REDUCTIONS = ("none", "mean", "sum")


def t(values):
    """A float64 (or int64) torch tensor."""
    return torch.from_numpy(np.array(values))


def exact(value):
    """A float64 as an exact mpmath number."""
    return mp.mpf(float(value))


def assert_within_2ulp(actual, expected, scale=None):
    """|actual - expected| <= 2 eps max(|expected|, scale) (or 2 subnormals); 0 and inf exactly."""
    actual = np.asarray(actual, dtype=np.float64).ravel()
    expected = list(expected)
    scales = [None] * len(expected) if scale is None else list(scale)
    assert actual.size == len(expected)
    for index, (value, truth, size) in enumerate(zip(actual, expected, scales)):
        if truth == 0 or mp.isinf(truth):
            assert value == truth, f"element {index}: {value!r}, expected exactly {truth}"
            continue
        magnitude = abs(truth) if size is None else max(abs(truth), abs(size))
        tolerance = 2 * max(EPS * magnitude, TINY)
        error = abs(exact(value) - truth)
        assert error <= tolerance, (
            f"element {index}: {value!r} vs exact {mp.nstr(truth, 20)}, "
            f"{float(error / tolerance):.3f} x the 2-ulp tolerance"
        )


# ----------------------------------------------------------------- the losses

X = np.array([0.3, -1.2, 2.5, 0.0, -0.7])
Y = np.array([1.1, -1.0, -0.5, 0.4, 2.0])
P = np.array([0.2, 0.9, 0.5, 0.01, 0.7])
BITS = np.array([1.0, 0.0, 1.0, 0.0, 0.5])
SIGNS = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
COUNTS = np.array([0.0, 1.0, 3.0, 2.0, 0.0])
LOG_P = np.log(np.array([0.3, 0.1, 0.6, 0.25, 0.05]))
W = np.array([0.5, 2.0, 1.5, 1.0, 0.25])
LOGITS = np.array([[0.2, -1.0, 3.0], [1.5, 0.0, -2.0], [0.1, 0.2, 0.3], [5.0, -5.0, 0.0]])
LABELS = np.array([2, 0, 1, 0])
SOFT = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8], [0.5, 0.25, 0.25]])
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0])

# name: (loss, {argument: array}, options, torch function or None). Arrays of one
# argument dict have one sample per entry along axis 0.
ELEMENTWISE = {
    "mse_loss": (lb.mse_loss, {"input": X, "target": Y, "weight": W}, {}),
    "l1_loss": (lb.l1_loss, {"input": X, "target": Y, "weight": W}, {}),
    "huber_loss": (lb.huber_loss, {"input": X, "target": Y, "weight": W}, {"delta": 0.8}),
    "smooth_l1_loss": (lb.smooth_l1_loss, {"input": X, "target": Y}, {"beta": 0.8}),
    "quantile_loss": (lb.quantile_loss, {"input": X, "target": Y}, {"q": 0.3}),
    "poisson_nll_loss": (lb.poisson_nll_loss, {"input": X, "target": COUNTS}, {"full": True}),
    "binary_cross_entropy": (
        lb.binary_cross_entropy, {"input": P, "target": BITS, "weight": W}, {}),
    "binary_cross_entropy_with_logits": (
        lb.binary_cross_entropy_with_logits,
        {"input": X, "target": BITS, "weight": W, "pos_weight": W[::-1].copy()}, {}),
    "kl_div": (lb.kl_div, {"input": LOG_P, "target": P}, {}),
    "soft_margin_loss": (lb.soft_margin_loss, {"input": X, "target": SIGNS}, {}),
    "hinge_loss": (lb.hinge_loss, {"input": X, "target": SIGNS}, {"margin": 0.5}),
    "squared_hinge_loss": (lb.squared_hinge_loss, {"input": X, "target": SIGNS}, {}),
}
MULTICLASS = {
    "cross_entropy": (
        lb.cross_entropy, {"input": LOGITS, "target": LABELS, "weight": CLASS_WEIGHT},
        {"label_smoothing": 0.1}),
    "cross_entropy (probabilities)": (
        lb.cross_entropy, {"input": LOGITS, "target": SOFT, "weight": CLASS_WEIGHT},
        {"label_smoothing": 0.1}),
    "nll_loss": (
        lb.nll_loss, {"input": np.log(SOFT + 0.1), "target": LABELS, "weight": CLASS_WEIGHT}, {}),
}
ALL = {**ELEMENTWISE, **MULTICLASS}


def call(name, reduction="mean", grad=False, **changes):
    """Call a loss (or its gradient) from the table, with some arguments replaced."""
    loss, arrays, options = ALL[name]
    if grad:
        loss = getattr(lb, loss.__name__ + "_grad")
    arguments = {**arrays, **options, **changes}
    return loss(arguments.pop("input"), arguments.pop("target"), reduction=reduction,
                **arguments)


def array_arguments(table):
    """(loss name, argument name) for every array argument in a table."""
    return [(name, argument) for name, (_, arrays, _) in table.items() for argument in arrays]


# ---------------------------------------------------------------- bad types


BAD_VALUES = {
    "text": np.array(["a", "b", "c", "d", "e"]),
    "None": None,
    "objects": np.array([1.0, None, 2.0, 3.0, 4.0], dtype=object),
    "complex": np.array([1 + 1j, 2, 3, 4, 5]),
    "datetime": np.array(["2024-01-01"] * 5, dtype="datetime64[D]"),
    "float128": np.ones(5, dtype=np.longdouble),
}


@pytest.mark.parametrize("name, argument, kind", [
    (name, argument, kind) for name, argument in array_arguments(ALL) for kind in BAD_VALUES
    # None is the documented default of an optional weight, not a bad value there.
    if not (kind == "None" and argument in ("weight", "pos_weight"))
])
def test_non_numeric_arrays_are_type_errors_naming_the_argument(name, argument, kind):
    """Text, None, objects, complex and other non-real dtypes: a TypeError naming the argument."""
    value = BAD_VALUES[kind]
    if value is not None:
        shape = ALL[name][1][argument].shape
        value = np.resize(value, shape) if value.dtype != object else value[: shape[0]]
        if value.shape != shape:
            value = np.resize(value, shape)
    with pytest.raises(TypeError, match=argument):
        call(name, **{argument: value})
    if name in ELEMENTWISE:
        with pytest.raises(TypeError, match=argument):
            call(name, grad=True, **{argument: value})


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_ragged_input_names_the_argument(name):
    """A ragged nested list is not an array: the error says which argument it was."""
    with pytest.raises((TypeError, ValueError), match="input"):
        call(name, input=[[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy"])
def test_boolean_arrays_are_zeros_and_ones(name):
    """Booleans are accepted as 0 and 1 (documented in _validation), as torch's .double() does."""
    arrays = ALL[name][1]
    booleans = np.array([True, False, True, True, False])
    ours = call(name, reduction="none", target=booleans)
    theirs = getattr(F, name)(t(arrays["input"]), t(booleans).double(),
                              reduction="none", **({"weight": t(W)} if name != "huber_loss"
                                                   and name != "binary_cross_entropy" else {}),
                              **({"delta": 0.8} if name == "huber_loss" else {}))
    if name in ("huber_loss", "binary_cross_entropy"):
        theirs = theirs * t(W)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-15)


BAD_OPTIONS = [
    # (loss name, option, value, exception)
    *[(name, option, value, error)
      for name, option in [("huber_loss", "delta"), ("smooth_l1_loss", "beta"),
                           ("poisson_nll_loss", "eps")]
      for value, error in [(0.0, ValueError), (-1.0, ValueError), (NAN, ValueError),
                           (INF, ValueError), (-0.0, ValueError), (True, TypeError),
                           ("1", TypeError), (None, TypeError), (np.array([1.0]), TypeError),
                           (1 + 0j, TypeError)]],
    *[("quantile_loss", "q", value, error)
      for value, error in [(0.0, ValueError), (1.0, ValueError), (-0.5, ValueError),
                           (1.5, ValueError), (NAN, ValueError), (INF, ValueError),
                           (True, TypeError), ("0.5", TypeError), (None, TypeError)]],
    *[(name, "label_smoothing", value, error)
      for name in ("cross_entropy", "cross_entropy (probabilities)")
      for value, error in [(-TINY, ValueError), (1.0 + EPS, ValueError), (NAN, ValueError),
                           (INF, ValueError), (-INF, ValueError), (True, TypeError),
                           ("0.1", TypeError), (None, TypeError)]],
    *[(name, "margin", value, TypeError)
      for name in ("hinge_loss", "squared_hinge_loss")
      for value in (True, "1", None, np.array([1.0]), 1j)],
    *[(name, "ignore_index", value, TypeError)
      for name in ("cross_entropy", "nll_loss") for value in (True, 1.0, "0", None)],
    *[(name, flag, value, TypeError)
      for name, flag in [("poisson_nll_loss", "log_input"), ("poisson_nll_loss", "full"),
                         ("kl_div", "log_target")]
      for value in (1, "yes", None, np.bool_(True))],
]


@pytest.mark.parametrize("name, option, value, error", BAD_OPTIONS)
def test_bad_options_raise_naming_the_option(name, option, value, error):
    """Options at or past their limits, nan, inf and wrong types raise, naming the option."""
    with pytest.raises(error, match=option):
        call(name, **{option: value})
    if name in ELEMENTWISE or name == "nll_loss":
        with pytest.raises(error, match=option):
            call(name, grad=True, **{option: value})


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("reduction", ["MEAN", "", "none ", None, 0, b"mean", ["mean"]])
def test_bad_reductions_raise_naming_reduction(name, reduction):
    """Only the exact words are reductions."""
    with pytest.raises(ValueError, match="reduction"):
        call(name, reduction=reduction)
    with pytest.raises(ValueError, match="reduction"):
        call(name, reduction=reduction, grad=True)


@pytest.mark.parametrize("function", [lb.softmax, lb.log_softmax, lb.logsumexp])
@pytest.mark.parametrize("axis, error", [("0", TypeError), (1.0, TypeError), (None, TypeError),
                                         (True, TypeError), ([0], TypeError), (2, ValueError),
                                         (-3, ValueError), (10**20, ValueError)])
def test_bad_axis_raises_naming_axis(function, axis, error):
    """A non-integer axis is a TypeError and an out-of-range one a ValueError (numpy.AxisError)."""
    with pytest.raises(error, match="axis"):
        function(LOGITS, axis=axis)


@pytest.mark.parametrize("function", [lb.softmax, lb.log_softmax, lb.logsumexp])
def test_numpy_integer_axis_is_an_axis(function):
    """numpy integers are integers: axis=np.int64(0) is axis 0, as torch's dim is."""
    theirs = {lb.softmax: torch.softmax, lb.log_softmax: torch.log_softmax,
              lb.logsumexp: torch.logsumexp}[function](t(LOGITS), 0)
    np.testing.assert_allclose(function(LOGITS, axis=np.int64(0)), theirs.numpy(), rtol=1e-14)


# ------------------------------------------------------------------ nan


@pytest.mark.parametrize("name, argument", [
    (name, argument) for name, argument in array_arguments(ALL)
    # Class indices must be whole numbers: nan is rejected there (test_validation).
    if not (name in ("cross_entropy", "nll_loss") and argument == "target")
])
def test_nan_in_any_argument_propagates(name, argument):
    """nan in one entry of any argument makes exactly the losses it touches nan, never a number."""
    arrays = ALL[name][1]
    value = arrays[argument].astype(np.float64).copy()
    if value.ndim == 2:
        value[1, 0] = NAN  # sample 1
    else:
        value[1] = NAN
    losses = call(name, reduction="none", **{argument: value})
    clean = call(name, reduction="none")
    touched = np.zeros(losses.shape, dtype=bool)
    if name == "nll_loss" and argument == "input":
        # Only the target's log-probability enters nll_loss (and torch's): put nan there.
        value = arrays["input"].copy()
        value[1, LABELS[1]] = NAN
        losses = call(name, reduction="none", input=value)
        touched[1] = True
    elif name == "nll_loss" and argument == "weight":
        touched = LABELS == 1  # the samples whose class has the nan weight
    elif argument == "weight" and name in MULTICLASS:
        touched[:] = True  # smoothing gives every class weight a share of every sample
    else:
        touched[1] = True
    assert np.isnan(losses[touched]).all()
    assert_array_equal(losses[~touched], clean[~touched])
    for reduction in ("mean", "sum"):
        assert np.isnan(call(name, reduction=reduction, **{argument: value}))


@pytest.mark.parametrize("name", sorted(set(ALL) - {"kl_div", "nll_loss"}))
def test_nan_input_propagates_through_the_gradient(name):
    """The gradient at a nan input is nan (hinge_loss_grad used to say 0).

    kl_div's gradient -t and nll_loss's -w_y do not depend on the input at all, in torch's
    autograd as in the formula, so they are left out.
    """
    arrays = ALL[name][1]
    value = arrays["input"].copy()
    value.flat[1] = NAN
    gradient = call(name, reduction="none", grad=True, input=value)
    assert np.isnan(gradient.flat[1])


@pytest.mark.parametrize("name", ["hinge_loss", "squared_hinge_loss"])
@pytest.mark.parametrize("argument", ["input", "target", "margin"])
def test_hinge_gradients_propagate_nan(name, argument):
    """-y [margin - y x > 0] (times 2 max(0, margin - y x)) is nan where its hinge is nan.

    hinge_loss_grad used to return 0 there. torch's autograd of clamp(min=0) returns -0 for
    a nan input (it tests ``nan > 0``, which is false), so torch is no reference here: the
    hinge is undefined, and so is its slope.
    """
    x, y, margin = np.array([0.3, 2.0, -1.0]), np.array([1.0, 1.0, -1.0]), 1.0
    if argument == "input":
        x[0] = NAN
    elif argument == "target":
        y[0] = NAN
    else:
        margin = NAN
    gradient = getattr(lb, name + "_grad")(x, y, margin=margin, reduction="none")
    assert np.isnan(gradient[0])
    if argument == "margin":
        assert np.isnan(gradient).all()
    else:
        expected = [0.0, 0.0] if name == "hinge_loss" else [-0.0, 0.0]
        assert_array_equal(gradient[1:], expected)  # 2 > margin and -1 * -1 = 1: the kink
    x_torch = t(np.nan_to_num(x, nan=0.3)).requires_grad_()
    torch.clamp(1.0 - t(np.nan_to_num(y, nan=1.0)) * x_torch, min=0).sum().backward()
    assert x_torch.grad[1] == 0.0  # away from nan, torch agrees that 2 is past the hinge


@pytest.mark.parametrize("name", ["hinge_loss", "squared_hinge_loss"])
def test_nan_margin_propagates(name):
    """margin=nan is a number (a real), and every loss it enters is nan."""
    assert np.isnan(call(name, reduction="none", margin=NAN)).all()


# ------------------------------------------------------------------ inf


def elementwise_cases():
    """(loss, input, target, options, exact loss) with infinite operands, derived by hand."""
    cases = [
        # (x - y)^2, |x - y|, Huber and smooth L1 grow without bound; inf - inf is undefined.
        (lb.mse_loss, INF, 0.0, {}, INF), (lb.mse_loss, INF, INF, {}, NAN),
        (lb.l1_loss, -INF, 3.0, {}, INF), (lb.l1_loss, -INF, -INF, {}, NAN),
        (lb.huber_loss, INF, 0.0, {"delta": 2.0}, INF),
        (lb.smooth_l1_loss, -INF, 0.0, {"beta": 2.0}, INF),
        (lb.quantile_loss, INF, 0.0, {"q": 0.9}, INF),
        (lb.quantile_loss, -INF, 0.0, {"q": 0.9}, INF),
        # e^x - t x: e^x wins at +inf; at -inf the count term is +inf, or switched off at t = 0.
        (lb.poisson_nll_loss, INF, 2.0, {}, INF), (lb.poisson_nll_loss, INF, 0.0, {}, INF),
        (lb.poisson_nll_loss, -INF, 2.0, {}, INF), (lb.poisson_nll_loss, -INF, 0.0, {}, 0.0),
        (lb.poisson_nll_loss, 0.0, INF, {}, NAN),  # 1 - inf * 0
        # lambda - t log(lambda + eps): the rate outweighs its logarithm.
        (lb.poisson_nll_loss, INF, 2.0, {"log_input": False}, INF),
        (lb.poisson_nll_loss, INF, 0.0, {"log_input": False}, INF),
        # -(y log p + (1 - y) log(1 - p)) with 0 log 0 = 0.
        (lb.binary_cross_entropy, 0.0, 0.0, {}, 0.0),
        (lb.binary_cross_entropy, 1.0, 1.0, {}, 0.0),
        (lb.binary_cross_entropy, 0.0, 1.0, {}, INF),
        (lb.binary_cross_entropy, 1.0, 0.25, {}, INF),
        # y softplus(-z) + (1 - y) softplus(z): softplus(-inf) = 0, softplus(inf) = inf.
        (lb.binary_cross_entropy_with_logits, INF, 1.0, {}, 0.0),
        (lb.binary_cross_entropy_with_logits, INF, 0.0, {}, INF),
        (lb.binary_cross_entropy_with_logits, -INF, 0.0, {}, 0.0),
        (lb.binary_cross_entropy_with_logits, -INF, 0.5, {}, INF),
        (lb.binary_cross_entropy_with_logits, -INF, 0.0, {"pos_weight": np.array(3.0)}, 0.0),
        (lb.binary_cross_entropy_with_logits, INF, 1.0, {"pos_weight": np.array(3.0)}, 0.0),
        (lb.binary_cross_entropy_with_logits, -INF, 1.0, {"pos_weight": np.array(3.0)}, INF),
        # t (log t - x): a target of 0 contributes 0 whatever the prediction.
        (lb.kl_div, -INF, 0.0, {}, 0.0), (lb.kl_div, -INF, 0.5, {}, INF),
        (lb.kl_div, -INF, -INF, {"log_target": True}, 0.0),
        (lb.kl_div, 0.0, -INF, {"log_target": True}, 0.0),
        (lb.kl_div, -INF, -1.0, {"log_target": True}, INF),
        # softplus(-y x) and max(0, margin - y x).
        (lb.soft_margin_loss, INF, 1.0, {}, 0.0), (lb.soft_margin_loss, INF, -1.0, {}, INF),
        (lb.soft_margin_loss, -INF, 1.0, {}, INF),
        (lb.hinge_loss, INF, 1.0, {}, 0.0), (lb.hinge_loss, INF, -1.0, {}, INF),
        (lb.hinge_loss, 0.5, 1.0, {"margin": INF}, INF),
        (lb.hinge_loss, 0.5, 1.0, {"margin": -INF}, 0.0),
        (lb.hinge_loss, INF, 1.0, {"margin": INF}, NAN),
        (lb.squared_hinge_loss, -INF, 1.0, {}, INF),
    ]
    return cases


@pytest.mark.parametrize("loss, x, y, options, expected", elementwise_cases())
def test_infinite_operands_by_hand(loss, x, y, options, expected):
    """The limits derived by hand, for 'none', 'mean' and 'sum', with no warning."""
    for reduction in REDUCTIONS:
        value = loss(np.array([x]), np.array([y]), reduction=reduction, **options)
        if np.isnan(expected):
            assert np.isnan(value).all()
        else:
            assert_array_equal(value, np.full(np.shape(value), expected))


def test_torch_returns_nan_where_a_zero_weight_meets_inf():
    """torch multiplies out 0 * inf; lossbook switches the term off (the cases above)."""
    z, y = t([INF, -INF]), t([1.0, 0.0])
    theirs = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    assert np.isnan(theirs.numpy()).all()
    assert_array_equal(lb.binary_cross_entropy_with_logits([INF, -INF], [1.0, 0.0],
                                                           reduction="none"), [0.0, 0.0])


MASKED = np.array([[0.0, -INF, 1.0], [2.0, 0.5, -INF], [-INF, -INF, 3.0]])


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
def test_cross_entropy_masked_logits_match_torch_with_class_indices(smoothing):
    """-inf logits (masked classes): inf where the target or the smoothed target sees them."""
    labels = np.array([0, 2, 2])
    ours = lb.cross_entropy(MASKED, labels, label_smoothing=smoothing, reduction="none")
    theirs = F.cross_entropy(t(MASKED), t(labels), label_smoothing=smoothing,
                             reduction="none").numpy()
    if smoothing == 1.0:
        # torch computes (1 - 1) * inf = nan for the row whose target logit is -inf; with
        # smoothing 1 the target is uniform, which puts mass on a -inf logit: the loss is inf.
        assert np.isnan(theirs[1])
        theirs[1] = INF
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)
    if smoothing:
        assert (ours == INF).all()
    else:
        assert np.isfinite(ours[[0, 2]]).all() and ours[1] == INF


def test_cross_entropy_masked_logits_with_probabilities():
    """A target probability of 0 on a -inf logit contributes 0 (torch: 0 * -inf = nan)."""
    target = np.array([[0.5, 0.0, 0.5], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    ours = lb.cross_entropy(MASKED, target, reduction="none")
    # The loss over the classes left: cross-entropy of the unmasked logits, by torch.
    for row in range(3):
        keep = np.isfinite(MASKED[row])
        expected = F.cross_entropy(t(MASKED[row][keep])[None], t(target[row][keep])[None])
        np.testing.assert_allclose(ours[row], expected.item(), rtol=1e-15)
    assert np.isnan(F.cross_entropy(t(MASKED), t(target), reduction="none").numpy()).all()
    smoothed = lb.cross_entropy(MASKED, target, label_smoothing=0.1, reduction="none")
    theirs = F.cross_entropy(t(MASKED), t(target), label_smoothing=0.1, reduction="none")
    assert_array_equal(smoothed, theirs.numpy())  # all inf: smoothing reaches every class
    assert (smoothed == INF).all()


def test_cross_entropy_zero_class_weight_switches_a_masked_class_off():
    """With smoothing, a class of weight 0 contributes 0 even where its logit is -inf."""
    weight = np.array([1.0, 0.0, 1.0])
    ours = lb.cross_entropy(MASKED[:1], np.array([0]), weight=weight, label_smoothing=0.1,
                            reduction="none")
    keep, e = [0, 2], 0.1
    scale = 1 - e / 3
    expected = F.cross_entropy(t(MASKED[:1, keep]), t([0]), weight=t(weight[keep]),
                               label_smoothing=(2 * e / 3) / scale, reduction="none") * scale
    # Smoothing over 3 classes with class 1 switched off is (1-e) nll_0 + e/3 (nll_0 + nll_2):
    # over the 2 classes kept that is k [(1-s) nll_0 + s/2 (nll_0 + nll_2)] with k = 1 - e/3
    # and s = (2e/3) / k (match the coefficients of nll_0 and nll_2).
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-14)


def test_cross_entropy_gradient_with_masked_logits():
    """The gradient p - onehot is finite: p = 0 on a -inf logit, as torch's autograd says."""
    z = t(MASKED[:2]).requires_grad_()
    F.cross_entropy(z, t([0, 1]), reduction="sum").backward()
    ours = lb.cross_entropy_grad(MASKED[:2], np.array([0, 1]), reduction="sum")
    np.testing.assert_allclose(ours, z.grad.numpy(), rtol=1e-15, atol=0)


def test_all_minus_infinity_rows():
    """A slice that is all -inf has no distribution: nan for softmax and losses, as torch."""
    row = np.array([[-INF, -INF]])
    assert np.isnan(lb.softmax(row)).all() and np.isnan(torch.softmax(t(row), 1)).all()
    assert np.isnan(lb.cross_entropy(row, np.array([0])))
    assert lb.logsumexp(row)[0] == -INF == torch.logsumexp(t(row), 1).item()


@pytest.mark.parametrize("function, argument, expected", [
    (lb.sigmoid, [INF, -INF], [1.0, 0.0]), (lb.softplus, [INF, -INF], [INF, 0.0]),
    (lb.log_sigmoid, [INF, -INF], [0.0, -INF]),
])
def test_activations_at_infinity(function, argument, expected):
    """The limits, exactly."""
    assert_array_equal(function(np.array(argument)), expected)


# ---------------------------------------------------------- 0-d and empty


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_dimensional_operands(name, reduction):
    """0-d arrays and Python floats give what the 1-element arrays give (quantile used to crash)."""
    arrays = ALL[name][1]
    scalars = {key: value[2] for key, value in arrays.items()}
    ones = {key: value[2:3] for key, value in arrays.items()}
    for grad in (False, True):
        ours = call(name, reduction, grad, **{k: np.array(v) for k, v in scalars.items()})
        python = call(name, reduction, grad, **{k: float(v) for k, v in scalars.items()})
        one = call(name, reduction, grad, **ones)
        expected_shape = () if reduction != "none" or grad else ()
        assert np.shape(ours) == expected_shape and np.shape(python) == expected_shape
        assert ours == one.item() == python


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_empty_operands(name):
    """Nothing to add: 'none' is empty, 'sum' is 0 and 'mean' is nan, as in torch."""
    empty = {key: np.empty((0, 2)) for key in ALL[name][1]}
    if "pos_weight" in empty:
        empty["pos_weight"] = np.ones(2)
    assert call(name, "none", **empty).shape == (0, 2)
    assert call(name, "sum", **empty) == 0.0
    assert np.isnan(call(name, "mean", **empty))
    assert call(name, "none", grad=True, **empty).shape == (0, 2)
    assert np.isnan(F.mse_loss(t(np.empty(0)), t(np.empty(0))).item())


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_empty_batches_of_classes(name):
    """(0, C) input: no samples; a mean over none is nan, as torch's."""
    loss = getattr(lb, name)
    assert loss(np.empty((0, 3)), np.empty(0, dtype=np.int64), reduction="none").shape == (0,)
    assert loss(np.empty((0, 3)), np.empty(0, dtype=np.int64), reduction="sum") == 0.0
    assert np.isnan(loss(np.empty((0, 3)), np.empty(0, dtype=np.int64)))
    assert np.isnan(getattr(F, name)(t(np.empty((0, 3))), t(np.empty(0, dtype=np.int64))))


@pytest.mark.parametrize(
    "shape, weighted", [((3,), False), ((4, 3, 2), True), ((2, 3, 2, 2), False)]
)
def test_unbatched_and_spatial_class_indices_match_torch(shape, weighted):
    """(C,) and (N, C, d1, ...) inputs: nll_loss and cross_entropy pick along the class axis."""
    rng = np.random.default_rng(5)
    logits = rng.normal(size=shape)
    labels = rng.integers(0, 3, shape[:1] if len(shape) == 1 else shape[:1] + shape[2:])
    labels = labels[0] if len(shape) == 1 else labels
    weight = CLASS_WEIGHT if weighted else None
    for name in ("nll_loss", "cross_entropy"):
        ours = getattr(lb, name)(logits, labels, weight=weight, reduction="none")
        theirs = getattr(F, name)(t(logits), t(labels),
                                  weight=None if weight is None else t(weight), reduction="none")
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-14)


def test_empty_softmax_slices():
    """Zero slices of 3 classes give zero results; zero classes is an error naming input."""
    assert lb.softmax(np.empty((0, 3))).shape == (0, 3)
    assert lb.logsumexp(np.empty((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="input"):
        lb.softmax(np.empty((3, 0)))


# --------------------------------------------- values near float64's limits


def huber_exact(a, b, delta):
    d, delta = abs(exact(a) - exact(b)), exact(delta)
    return d * d / 2 if d <= delta else delta * (d - delta / 2)


OVERFLOWING = [
    # (loss, input, target, options, exact loss): x - y or a product overflows, the loss fits.
    (lb.huber_loss, 1e308, -1e308, {"delta": 0.5}, huber_exact(1e308, -1e308, 0.5)),
    (lb.huber_loss, BIG, -BIG, {"delta": 1e-300}, huber_exact(BIG, -BIG, 1e-300)),
    (lb.huber_loss, 1e200, 0.0, {"delta": 1e201, "weight": np.array([1e-200])},
     exact(1e-200) * huber_exact(1e200, 0.0, 1e201)),
    (lb.smooth_l1_loss, 1e200, 0.0, {"beta": 1e300}, huber_exact(1e200, 0, 1e300) / exact(1e300)),
    (lb.smooth_l1_loss, 1e308, -1e307, {"beta": 1e308},
     huber_exact(1e308, -1e307, 1e308) / exact(1e308)),
    (lb.quantile_loss, 1e308, -1e308, {"q": 0.9}, (1 - exact(0.9)) * (exact(1e308) * 2)),
    (lb.quantile_loss, -1e308, 1e308, {"q": 0.25}, exact(0.25) * (exact(1e308) * 2)),
    (lb.l1_loss, 1e308, -1e308, {"weight": np.array([0.25])}, exact(0.25) * (exact(1e308) * 2)),
    (lb.mse_loss, 1e155, 0.0, {"weight": np.array([1e-10])}, exact(1e-10) * exact(1e155) ** 2),
    (lb.mse_loss, 1e308, -1e308, {"weight": np.array([1e-310])},
     exact(1e-310) * (exact(1e308) * 2) ** 2),
]


@pytest.mark.parametrize("loss, x, y, options, expected", OVERFLOWING)
def test_intermediate_overflow_where_the_loss_fits(loss, x, y, options, expected):
    """Where x - y, a square or a product overflows but the loss fits, it comes out right."""
    assert mp.fabs(expected) < BIG
    for reduction in REDUCTIONS:
        value = loss(np.array([x]), np.array([y]), reduction=reduction, **options)
        if reduction == "mean" and loss in (lb.mse_loss, lb.l1_loss):
            # torch's weighted mean divides by the sum of the weights: it may not fit.
            mean = expected / exact(options["weight"][0])
            assert_within_2ulp(value, [mean if mean < BIG else mp.inf])
        else:
            assert_within_2ulp(value, [expected])


@pytest.mark.parametrize("loss, options", [
    (lb.mse_loss, {}), (lb.l1_loss, {}), (lb.huber_loss, {"delta": 2.0}),
    (lb.smooth_l1_loss, {}), (lb.quantile_loss, {"q": 0.1}), (lb.hinge_loss, {"margin": BIG}),
])
def test_overflow_to_inf_only_where_the_loss_exceeds_float64(loss, options):
    """|x - y| = 2e308 is beyond float64 (and so are 1.8 |x - y| and BIG + 1e308): inf."""
    target = np.array([-1e308, -1e308]) if loss is not lb.hinge_loss else np.array([-1.0, -1.0])
    value = loss(np.array([1e308, BIG]), target, reduction="none", **options)
    assert (value == INF).all()


@pytest.mark.parametrize("loss, x, y", [
    (lb.l1_loss, [1.5e308, 1.7e308, 1e308], [0.0, 0.0, -1e307]),
    (lb.huber_loss, [1.5e308, 1.7e308, 1e308], [0.0, 0.0, -1e307]),
    (lb.hinge_loss, [-1.5e308, -1.7e308, 1e308], [1.0, 1.0, -1.0]),
    (lb.smooth_l1_loss, [1.5e308, 1.7e308, 1e308], [0.0, 0.0, -1e307]),
])
def test_means_of_values_near_the_maximum(loss, x, y):
    """The sum overflows, the mean does not: the mean is right and the sum is inf."""
    values = loss(np.array(x), np.array(y), reduction="none")
    assert np.isfinite(values).all()
    assert_within_2ulp(loss(np.array(x), np.array(y)), [mp.fsum(map(exact, values)) / 3])
    assert loss(np.array(x), np.array(y), reduction="sum") == INF


def test_weighted_mean_with_weights_near_the_maximum():
    """torch's weighted mean sum(w l) / sum(w): both sums overflow, their quotient is 0.625."""
    weight = np.array([1e308, 1.5e308])
    x = np.array([1.0, 0.5])
    value = lb.mse_loss(x, np.zeros(2), weight=weight)
    total_weight = exact(1e308) + exact(1.5e308)
    assert_within_2ulp(value, [(exact(1e308) + exact(1.5e308) / 4) / total_weight])
    assert_within_2ulp(lb.l1_loss(x, np.zeros(2), weight=weight),
                       [(exact(1e308) + exact(1.5e308) / 2) / total_weight])
    gradient = lb.mse_loss_grad(x, np.zeros(2), weight=weight)
    assert_within_2ulp(gradient, [2 * exact(1e308) / total_weight,
                                  exact(1.5e308) / total_weight])


def test_mse_gradient_where_the_difference_overflows():
    """2 (x - y) / n with x - y = 2e308 and n = 4: 1e308."""
    gradient = lb.mse_loss_grad(np.array([1e308, 0, 0, 0]), np.array([-1e308, 0, 0, 0]))
    assert_within_2ulp(gradient, [exact(1e308), 0, 0, 0])


def test_poisson_log_rate_whose_exponential_overflows():
    """e^710 - 1e305 * 710 is about 1.52e308: the loss fits although e^710 does not."""
    value = lb.poisson_nll_loss(np.array([710.0]), np.array([1e305]), reduction="none")
    expected = mp.exp(exact(710)) - exact(1e305) * exact(710)
    assert_within_2ulp(value, [expected], scale=[mp.exp(exact(710))])


SUBNORMAL_DELTAS = [TINY, 3 * TINY, 12345 * TINY, 2.0**-1022 - TINY]


@pytest.mark.parametrize("delta", SUBNORMAL_DELTAS)
def test_subnormal_delta_and_beta_are_computed_right(delta):
    """A subnormal delta or beta is accepted and exact to 2 ulp (it used to be off by 33%)."""
    x = np.array([1.0, 1e300, 2.5 * delta, delta / 3, 0.0, -1e-300])
    y = np.zeros_like(x)
    huber = [huber_exact(a, 0.0, delta) for a in x]
    assert_within_2ulp(lb.huber_loss(x, y, delta=delta, reduction="none"), huber)
    assert_within_2ulp(lb.smooth_l1_loss(x, y, beta=delta, reduction="none"),
                       [h / exact(delta) for h in huber])
    gradient = np.clip(x, -delta, delta)  # exact: clipping rounds nothing
    assert_array_equal(lb.huber_loss_grad(x, y, delta=delta, reduction="none"), gradient)


def test_subnormal_operands():
    """Differences of subnormals are exact; their squares underflow to the right 0."""
    x, y = np.array([3 * TINY, -TINY, 2.0**-1022]), np.array([TINY, TINY, 0.0])
    assert_array_equal(lb.l1_loss(x, y, reduction="none"), [2 * TINY, 2 * TINY, 2.0**-1022])
    assert_array_equal(lb.mse_loss(x, y, reduction="none"), [0.0, 0.0, 0.0])
    assert_array_equal(lb.mse_loss_grad(x, y, reduction="none"), [4 * TINY, -4 * TINY,
                                                                 2.0**-1021])
    assert_array_equal(lb.quantile_loss(x, y, q=0.5, reduction="none"),
                       [TINY, TINY, 2.0**-1023])


@pytest.mark.parametrize("smoothing", [TINY, 1e-300, 1.0])
def test_label_smoothing_at_its_limits(smoothing):
    """Smoothing at a subnormal, tiny or full value: within 2 ulp of mpmath, and near torch
    (whose log_softmax loses digits on the confident last row, hence its looser tolerance)."""
    ours = lb.cross_entropy(LOGITS, LABELS, label_smoothing=smoothing, reduction="none")
    expected = []
    for row, label in zip(LOGITS, LABELS):
        nll = [-v for v in log_softmax_exact(row)]
        expected.append((1 - exact(smoothing)) * nll[label] + exact(smoothing) / 3 * mp.fsum(nll))
    assert_within_2ulp(ours, expected)
    theirs = F.cross_entropy(t(LOGITS), t(LABELS), label_smoothing=smoothing, reduction="none")
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-13)


@pytest.mark.parametrize("q", [TINY, 1e-300, 1 - EPS / 2])
def test_quantile_at_its_limits(q):
    """q next to 0 or 1: max(-q d, (1 - q) d), within 2 ulp."""
    x, y = np.array([1.0, -1.0, 1e300, -1e300]), np.zeros(4)
    expected = [max(-exact(q) * exact(a), (1 - exact(q)) * exact(a)) for a in x]
    assert_within_2ulp(lb.quantile_loss(x, y, q=q, reduction="none"), expected)


# ---------------------------------------------------------- layout and blocks


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_strided_and_fortran_operands(name):
    """Views with steps, negative steps and Fortran order give what contiguous copies give."""
    arrays = ALL[name][1]
    tiled = {k: np.tile(v, (3, 1)).T.copy(order="F") if k != "pos_weight" else np.tile(v, 3)
             for k, v in arrays.items()}
    if "pos_weight" in tiled:
        tiled["pos_weight"] = np.ones(3)
    strided = {k: v[::-1] if k != "pos_weight" else v for k, v in tiled.items()}
    contiguous = {k: np.ascontiguousarray(v) for k, v in strided.items()}
    for reduction in REDUCTIONS:
        assert_array_equal(call(name, reduction, **strided), call(name, reduction, **contiguous))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_many_blocks_with_nan_and_inf_inside(name):
    """100003 elements (several blocks, a ragged last one): each value is its 1-element value."""
    rng = np.random.default_rng(7)
    arrays = ALL[name][1]
    index = rng.integers(0, 5, 100003)
    big = {k: v[index] for k, v in arrays.items()}
    big["input"] = big["input"].copy()
    special = [0.0, 1.0] if name == "binary_cross_entropy" else [INF, -INF]
    big["input"][[5, 50000, 100002]] = [NAN, *special]
    if "pos_weight" in big:
        big["pos_weight"] = big["pos_weight"]
    values = call(name, "none", **big)
    for position in (0, 5, 16383, 16384, 50000, 100002):
        one = call(name, "none", **{k: v[position:position + 1] for k, v in big.items()})
        assert_array_equal(values[position:position + 1], one)
    assert np.isnan(values[5])


def test_nan_target_on_a_logit_in_the_log1p_band():
    """The band's second evaluation keeps nan where a target is nan (and inf where it is due)."""
    z = np.array([3.5, -3.5, 3.5, 0.2])
    y = np.array([NAN, 0.3, 1.0, 0.5])
    ours = lb.binary_cross_entropy_with_logits(z, y, pos_weight=np.array([1.0, 1.0, INF, 1.0]),
                                               reduction="none")
    assert np.isnan(ours[0]) and ours[2] == INF and np.isfinite(ours[[1, 3]]).all()
    theirs = F.binary_cross_entropy_with_logits(t(z), t(y), reduction="none").numpy()
    np.testing.assert_allclose(ours[[1, 3]], theirs[[1, 3]], rtol=1e-15)


def test_log1p_band_is_fixed_in_every_block():
    """softplus tails in [2**-7, 2**-4], spread over several blocks, within 2 ulp of mpmath."""
    rng = np.random.default_rng(3)
    x = rng.uniform(np.log(16) - 0.1, np.log(128) + 0.1, 40000) * rng.choice([-1.0, 1.0], 40000)
    signs = rng.choice([-1.0, 1.0], 40000)
    losses = lb.soft_margin_loss(x, signs, reduction="none")
    logits = lb.binary_cross_entropy_with_logits(x, (signs + 1) / 2, reduction="none")
    sample = rng.choice(40000, 300, replace=False)
    expected = [mp.log1p(mp.exp(-exact(signs[i]) * exact(x[i]))) for i in sample]
    assert_within_2ulp(losses[sample], expected)
    assert_within_2ulp(logits[sample], expected)
    total = lb.soft_margin_loss(x[sample], signs[sample], reduction="sum")
    assert_within_2ulp(total, [mp.fsum(expected)])


# ------------------------------------------------------- property tests


def log_softmax_exact(row):
    """log softmax with mpmath, as (z - m) - log1p(sum of the other exp(z_j - m)): 60 digits
    of log(1 + tiny) would lose the tiny term's digits (row of float64, some may be -inf)."""
    values = [exact(v) for v in row]
    top = max(range(len(values)), key=lambda j: values[j])
    rest = mp.fsum(mp.exp(v - values[top]) for j, v in enumerate(values) if j != top)
    return [(v - values[top]) - mp.log1p(rest) if not mp.isinf(v) else -mp.inf
            for v in values]


logit = st.floats(-60.0, 60.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    row=st.lists(logit, min_size=2, max_size=6),
    data=st.data(),
    smoothing=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.1, 0.2, 1e-3, 0.999])),
    weighted=st.booleans(),
)
def test_label_smoothing_within_2ulp_of_mpmath(row, data, smoothing, weighted):
    """(1 - e) w_y nll_y + e/C sum_c w_c nll_c, class indices, against 60 digits."""
    classes = len(row)
    label = data.draw(st.integers(0, classes - 1))
    weight = np.array(data.draw(st.lists(st.floats(0.05, 4.0), min_size=classes,
                                         max_size=classes))) if weighted else np.ones(classes)
    nll = [-v for v in log_softmax_exact(row)]
    expected = (1 - exact(smoothing)) * exact(weight[label]) * nll[label] + exact(
        smoothing) / classes * mp.fsum(exact(w) * n for w, n in zip(weight, nll))
    value = lb.cross_entropy(np.array([row]), np.array([label]), label_smoothing=smoothing,
                             weight=weight if weighted else None, reduction="none")
    assert_within_2ulp(value, [expected])


@settings(max_examples=200, deadline=None)
@given(row=st.lists(logit, min_size=2, max_size=6), data=st.data(),
       smoothing=st.floats(0.0, 1.0))
def test_soft_targets_within_2ulp_of_mpmath(row, data, smoothing):
    """-sum_c t'_c log softmax_c with t' = (1 - e) t + e / C, t a distribution."""
    classes = len(row)
    raw = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=classes,
                                      max_size=classes)))
    target = raw / raw.sum() if raw.sum() > 0 else np.eye(classes)[0]
    target = np.minimum(target, 1.0)
    log_p = log_softmax_exact(row)
    smoothed = [(1 - exact(smoothing)) * exact(v) + exact(smoothing) / classes for v in target]
    expected = -mp.fsum(s * v for s, v in zip(smoothed, log_p))
    value = lb.cross_entropy(np.array([row]), target[None], label_smoothing=smoothing,
                             reduction="none")
    assert_within_2ulp(value, [expected])


@settings(max_examples=300, deadline=None)
@given(z=st.floats(-800.0, 800.0), y=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0])))
def test_binary_cross_entropy_with_logits_within_2ulp_of_mpmath(z, y):
    """y softplus(-z) + (1 - y) softplus(z) for any logit and soft target."""
    def softplus(v):
        return mp.log1p(mp.exp(v))
    expected = exact(y) * softplus(-exact(z)) + (1 - exact(y)) * softplus(exact(z))
    value = lb.binary_cross_entropy_with_logits(np.array([z]), np.array([y]), reduction="none")
    assert_within_2ulp(value, [expected])


@settings(max_examples=200, deadline=None)
@given(x=st.floats(-1e308, 1e308), y=st.floats(-1e308, 1e308),
       delta=st.one_of(st.floats(TINY, 1e308), st.sampled_from(SUBNORMAL_DELTAS)))
def test_huber_family_within_2ulp_of_mpmath_anywhere(x, y, delta):
    """Huber and smooth L1 over the whole float64 range, inf only where the loss exceeds it."""
    huber = huber_exact(x, y, delta)
    for loss, expected in [(lb.huber_loss, huber), (lb.smooth_l1_loss, huber / exact(delta))]:
        option = "delta" if loss is lb.huber_loss else "beta"
        value = loss(np.array([x]), np.array([y]), reduction="none", **{option: delta})
        if expected > BIG * (1 + EPS / 2):
            assert value[0] == INF
        else:
            assert_within_2ulp(value, [expected])


@settings(max_examples=200, deadline=None)
@given(x=st.floats(allow_nan=True), y=st.floats(allow_nan=True))
def test_regression_losses_propagate_nan_and_never_warn(x, y):
    """Any float pair: nan in, nan out; no warning escapes (pytest turns warnings into errors)."""
    for loss in (lb.mse_loss, lb.l1_loss, lb.huber_loss, lb.smooth_l1_loss, lb.quantile_loss):
        value = loss(np.array([x]), np.array([y]), reduction="none")[0]
        if math.isnan(x) or math.isnan(y) or (math.isinf(x) and x == y):
            assert math.isnan(value)
        else:
            assert value >= 0

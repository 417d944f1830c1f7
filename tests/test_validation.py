"""Bad input raises an error that names the argument; NaN propagates; valid input never warns."""

import numpy as np
import pytest

import lossbook as lb

X = np.array([[0.2, -1.0, 3.0], [1.5, 0.0, -2.0]])
P = np.array([[0.2, 0.5, 0.9], [0.1, 0.0, 1.0]])
SIGNS = np.array([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])
LABELS = np.array([2, 0])

# Every loss with a valid (input, target) pair and a valid set of options.
ELEMENTWISE = {
    "mse_loss": (lb.mse_loss, X, X[::-1], {}),
    "l1_loss": (lb.l1_loss, X, X[::-1], {}),
    "huber_loss": (lb.huber_loss, X, X[::-1], {}),
    "smooth_l1_loss": (lb.smooth_l1_loss, X, X[::-1], {}),
    "quantile_loss": (lb.quantile_loss, X, X[::-1], {}),
    "poisson_nll_loss": (lb.poisson_nll_loss, X, np.abs(X), {}),
    "binary_cross_entropy": (lb.binary_cross_entropy, P, P[::-1], {}),
    "binary_cross_entropy_with_logits": (lb.binary_cross_entropy_with_logits, X, P, {}),
    "kl_div": (lb.kl_div, -np.abs(X), P, {}),
    "soft_margin_loss": (lb.soft_margin_loss, X, SIGNS, {}),
    "hinge_loss": (lb.hinge_loss, X, SIGNS, {}),
    "squared_hinge_loss": (lb.squared_hinge_loss, X, SIGNS, {}),
}
MULTICLASS = {
    "cross_entropy": (lb.cross_entropy, X, LABELS, {}),
    "nll_loss": (lb.nll_loss, -np.abs(X), LABELS, {}),
}
ALL = {**ELEMENTWISE, **MULTICLASS}
GRADIENTS = {name: getattr(lb, name + "_grad") for name in ALL}


def each(table):
    """Parametrize over a table's losses, named by their function."""
    return pytest.mark.parametrize("loss, input, target, options", table.values(), ids=table.keys())


@each(ALL)
def test_non_numeric_input_is_a_type_error(loss, input, target, options):
    """Text or objects as input raise TypeError naming "input"."""
    with pytest.raises(TypeError, match="input"):
        loss(np.full(input.shape, "a"), target, **options)
    with pytest.raises(TypeError, match="input"):
        loss(np.array([[None] * input.shape[1]] * 2), target, **options)


@each(ELEMENTWISE)
def test_non_numeric_target_is_a_type_error(loss, input, target, options):
    """Text as target raises TypeError naming "target"."""
    with pytest.raises(TypeError, match="target"):
        loss(input, np.full(target.shape, "1"), **options)


@each(ELEMENTWISE)
def test_mismatched_shapes_are_not_broadcast(loss, input, target, options):
    """A target of another shape raises ValueError, even where numpy could broadcast it."""
    message = r"target must have the input shape \(2, 3\), got shape \(3,\)"
    with pytest.raises(ValueError, match=message):
        loss(input, target[0], **options)
    with pytest.raises(ValueError, match="target"):
        loss(input, target[:, :2], **options)


@each(ALL)
def test_unknown_reduction(loss, input, target, options):
    """reduction="average" (or any other word, or a non-string) raises ValueError naming it."""
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum'"):
        loss(input, target, reduction="average", **options)
    with pytest.raises(ValueError, match="reduction"):
        loss(input, target, reduction=None, **options)


@pytest.mark.parametrize("name", [name for name in ALL if name != "kl_div"])
def test_batchmean_is_only_for_kl_div(name):
    """"batchmean" is an error for every loss but kl_div."""
    loss, input, target, options = ALL[name]
    with pytest.raises(ValueError, match="reduction"):
        loss(input, target, reduction="batchmean", **options)


@pytest.mark.parametrize("name", sorted(ALL))
def test_gradients_validate_like_their_losses(name):
    """Each gradient rejects bad input exactly as its loss does."""
    _, input, target, options = ALL[name]
    with pytest.raises(ValueError, match="reduction"):
        GRADIENTS[name](input, target, reduction="average", **options)
    with pytest.raises(TypeError, match="input"):
        GRADIENTS[name](np.full(input.shape, "a"), target, **options)


def test_options_are_keyword_only():
    """Options after (input, target) cannot be passed by position."""
    with pytest.raises(TypeError):
        lb.huber_loss(X, X, 2.0)
    with pytest.raises(TypeError):
        lb.cross_entropy(X, LABELS, None)


@pytest.mark.parametrize("loss", [lb.cross_entropy, lb.nll_loss])
def test_class_index_problems(loss):
    """Out-of-range, negative, fractional or non-integer class indices raise, naming target."""
    with pytest.raises(ValueError, match=r"class index 3, outside \[0, 2\] for 3 classes"):
        loss(X, [0, 3])
    with pytest.raises(ValueError, match="target holds class index -1"):
        loss(X, [-1, 0])
    with pytest.raises(ValueError, match="target holds class indices, which must be whole numbers"):
        loss(X, [1.5, 0.0])
    with pytest.raises(ValueError, match="whole numbers; found nan"):
        loss(X, [np.nan, 0.0])
    with pytest.raises(TypeError, match="target must hold integer class indices, got dtype bool"):
        loss(X, [True, False])
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        loss(X, LABELS, ignore_index=1.0)


@pytest.mark.parametrize("loss", [lb.cross_entropy, lb.nll_loss])
def test_class_target_shapes(loss):
    """Differing batch sizes, wrong spatial shapes, scalars and empty class axes are errors."""
    with pytest.raises(ValueError, match="target batch size 3 does not match input batch size 2"):
        loss(X, [0, 1, 2])
    with pytest.raises(ValueError, match=r"must have shape \(2, 4\)"):
        loss(np.zeros((2, 3, 4)), np.zeros((2, 5), dtype=int))
    with pytest.raises(ValueError, match="input must have a class axis"):
        loss(1.0, 0)
    with pytest.raises(ValueError, match="at least one class"):
        loss(np.zeros((2, 0)), [0, 0])


@pytest.mark.parametrize("loss", [lb.cross_entropy, lb.nll_loss])
def test_class_weight_shape(loss):
    """A class weight needs one entry per class."""
    message = r"weight must have one entry per class, shape \(3,\), got shape \(2,\)"
    with pytest.raises(ValueError, match=message):
        loss(X, LABELS, weight=[1.0, 2.0])


def test_probabilities_outside_the_unit_interval():
    """Probabilities below 0 or above 1 raise ValueError naming the argument and the value."""
    message = r"^input must lie in \[0.0, 1.0\] \(probabilities\); found 1.5"
    with pytest.raises(ValueError, match=message):
        lb.binary_cross_entropy([0.5, 1.5], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"target must lie in .* \(probabilities\); found -0.1"):
        lb.binary_cross_entropy([0.5, 0.5], [-0.1, 1.0])
    with pytest.raises(ValueError, match="target must lie in"):
        lb.binary_cross_entropy_with_logits([0.5, 0.5], [2.0, 1.0])
    with pytest.raises(ValueError, match=r"target must lie in .* \(class probabilities\)"):
        lb.cross_entropy(X, np.full(X.shape, 1.2))
    with pytest.raises(ValueError, match="target must lie in"):
        lb.kl_div([-0.5, -0.5], [0.5, 1.5])
    with pytest.raises(ValueError, match=r"log-probabilities, as log_target=True"):
        lb.kl_div([-0.5, -0.5], [-0.5, 0.5], log_target=True)


def test_hinge_labels_must_be_plus_or_minus_one():
    """Labels 0, 2 or 0.5 raise ValueError for every margin loss, naming the bad label."""
    for loss in (lb.hinge_loss, lb.squared_hinge_loss, lb.soft_margin_loss):
        for bad in (0.0, 2.0, 0.5):
            message = f"target must hold labels -1 or \\+1; found {bad!r}"
            with pytest.raises(ValueError, match=message):
                loss([0.3, 0.3], [1.0, bad])


@pytest.mark.parametrize("loss, name", [(lb.huber_loss, "delta"), (lb.smooth_l1_loss, "beta")])
def test_thresholds_must_be_positive(loss, name):
    """delta and beta must be finite and > 0, and real numbers."""
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=f"{name} must be a finite number > 0"):
            loss(X, X, **{name: bad})
    for bad in ("1", None, True, np.array([1.0])):
        with pytest.raises(TypeError, match=f"{name} must be a real number"):
            loss(X, X, **{name: bad})


def test_quantile_must_lie_strictly_between_zero_and_one():
    """q = 0, 1, -0.1 or 1.5 raise ValueError."""
    for bad in (0.0, 1.0, -0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match=r"q must lie in \(0.0, 1.0\)"):
            lb.quantile_loss(X, X, q=bad)


def test_label_smoothing_must_lie_in_the_unit_interval():
    """label_smoothing outside [0, 1] raises ValueError; 0 and 1 themselves are fine."""
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0.0, 1.0\]"):
            lb.cross_entropy(X, LABELS, label_smoothing=bad)
    for fine in (0.0, 1.0):
        assert np.isfinite(lb.cross_entropy(X, LABELS, label_smoothing=fine))


def test_poisson_arguments():
    """Negative counts or rates (log_input=False), eps <= 0 and non-bool flags are rejected."""
    with pytest.raises(ValueError, match=r"target must lie in \[0.0, inf\] \(Poisson counts\)"):
        lb.poisson_nll_loss([0.0], [-1.0])
    with pytest.raises(ValueError, match="input must lie in .* as log_input=False"):
        lb.poisson_nll_loss([-0.5], [1.0], log_input=False)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        lb.poisson_nll_loss([0.5], [1.0], eps=0.0)
    with pytest.raises(TypeError, match="log_input must be True or False"):
        lb.poisson_nll_loss([0.5], [1.0], log_input="no")
    with pytest.raises(TypeError, match="full must be True or False"):
        lb.poisson_nll_loss([0.5], [1.0], full=1)
    with pytest.raises(TypeError, match="log_target must be True or False"):
        lb.kl_div([-0.5], [0.5], log_target=None)


def test_weight_shapes():
    """Weights must match input (mse, l1, huber) or broadcast to it (BCE), never widen it."""
    with pytest.raises(ValueError, match=r"weight must have the input shape \(2, 3\), got"):
        lb.mse_loss(X, X, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"weight of shape \(4,\) does not broadcast to the input"):
        lb.binary_cross_entropy_with_logits(X, P, weight=np.ones(4))
    with pytest.raises(ValueError, match="pos_weight of shape \\(2, 2, 3\\) does not broadcast"):
        lb.binary_cross_entropy_with_logits(X, P, pos_weight=np.ones((2, 2, 3)))
    with pytest.raises(TypeError, match="weight must contain real numbers"):
        lb.l1_loss(X, X, weight=np.full(X.shape, "w"))


def test_margin_must_be_a_real_number():
    """A margin given as text raises TypeError."""
    with pytest.raises(TypeError, match="margin must be a real number"):
        lb.hinge_loss(X, SIGNS, margin="1")


def test_activations_reject_scalars_and_empty_axes():
    """The softmax family needs a non-empty axis; a bad axis is numpy's AxisError (a ValueError)."""
    for function in (lb.softmax, lb.log_softmax, lb.logsumexp):
        with pytest.raises(ValueError, match="at least one dimension"):
            function(1.0)
        with pytest.raises(ValueError, match="at least one element along the softmax axis"):
            function(np.zeros((2, 0)))
        with pytest.raises(ValueError, match="axis 2 is out of bounds"):
            function(X, axis=2)


def test_unsupported_float_dtypes():
    """float128 and complex input raise TypeError."""
    with pytest.raises(TypeError, match="input must be float32 or float64, got float128"):
        lb.mse_loss(X.astype(np.longdouble), X)
    with pytest.raises(TypeError, match="input must contain real numbers, got dtype complex128"):
        lb.sigmoid(X + 1j)


@each(ALL)
def test_nan_propagates(loss, input, target, options):
    """A nan input (at sample 0's target class 2) gives nan there and nowhere else, as in torch."""
    bad = input.copy()
    bad[0, 2] = np.nan
    assert np.isnan(loss(bad, target, **options))
    elementwise = loss(bad, target, reduction="none", **options)
    assert np.isnan(elementwise[0] if elementwise.ndim == 1 else elementwise[0, 2])
    assert not np.isnan(elementwise[-1] if elementwise.ndim == 1 else elementwise[-1, -1])


def test_nan_targets_pass_the_value_checks():
    """A nan probability or label is not rejected; it propagates."""
    assert np.isnan(lb.binary_cross_entropy([0.5, 0.5], [np.nan, 1.0]))
    assert np.isnan(lb.hinge_loss([0.5, 0.5], [np.nan, 1.0]))
    assert np.isnan(lb.kl_div([-0.5, -0.5], [np.nan, 0.5]))


EXTREME = np.array([[-1000.0, -745.0, -40.0], [0.0, 40.0, 1000.0]])


@pytest.mark.parametrize(
    "loss, input, target",
    [
        (lb.binary_cross_entropy_with_logits, EXTREME, np.array([[0, 1, 0.5], [1, 0, 1]])),
        (lb.soft_margin_loss, EXTREME, SIGNS),
        (lb.cross_entropy, EXTREME, LABELS),
        (lb.cross_entropy, EXTREME, lb.softmax(EXTREME[::-1])),
        (lb.binary_cross_entropy, np.array([0.0, 1e-300, 1.0]), np.array([0.0, 1.0, 1.0])),
        (lb.kl_div, EXTREME - 1000.0, np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1e-300]])),
        (lb.poisson_nll_loss, EXTREME[:, :2], np.array([[0.0, 3.0], [1.0, 0.0]])),
    ],
)
def test_extreme_valid_input_raises_no_floating_point_warning(loss, input, target):
    """Logits of +-1000, probabilities 0 and 1 and zero targets raise no floating-point error."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values = loss(input, target, reduction="none")
        gradient = getattr(lb, loss.__name__ + "_grad")(input, target, reduction="none")
    assert not np.any(np.isnan(values))
    assert not np.any(np.isnan(gradient))


def test_half_precision_computes_as_single():
    """float16 input is promoted to float32 (not rejected, not silently widened to float64)."""
    assert lb.mse_loss(X.astype(np.float16), X).dtype == np.float32

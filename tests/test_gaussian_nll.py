"""gaussian_nll_loss against torch (float64), mpmath and hand-derived values."""

import doctest
import math
import warnings

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

import lossbook as lb
from lossbook import exact, regression

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from mxnet import gluon

REDUCTIONS = ("none", "mean", "sum")
RNG = np.random.default_rng(17)
SHAPE = (4, 3)
X = RNG.normal(size=SHAPE) * 2
Y = RNG.normal(size=SHAPE) * 2

# (input shape, var shape) pairs that torch accepts, one per rule.
VAR_SHAPES = [
    ((4, 3), (4, 3)),  # one variance per element
    ((4, 3), (4,)),  # one per row: the last axis dropped
    ((4, 3), (4, 1)),  # shared along the last axis
    ((4, 3), (1, 3)),  # shared along the first axis
    ((4, 3, 2), (4, 1, 2)),  # shared along a middle axis
    ((4, 3, 2), (4, 3)),
    ((5,), ()),  # a vector's variance dropped to a 0-d array
    ((5,), (5,)),
    ((), ()),
]


def t(array):
    """A float64 torch tensor holding the array's values."""
    return torch.from_numpy(np.array(array, dtype=np.float64))


def torch_gaussian(x, y, var, reduction, **options):
    """torch's loss and autograd gradients w.r.t. input, var (None for a float) and target."""
    x_leaf, y_leaf = t(x).requires_grad_(True), t(y).requires_grad_(True)
    var_leaf = var if isinstance(var, float) else t(var).requires_grad_(True)
    value = F.gaussian_nll_loss(x_leaf, y_leaf, var_leaf, reduction=reduction, **options)
    value.sum().backward()
    var_grad = None if isinstance(var, float) else var_leaf.grad.numpy()
    return value.detach().numpy(), x_leaf.grad.numpy(), var_grad, y_leaf.grad.numpy()


def assert_matches(ours, theirs):
    """Equal shapes, values within a few ulp."""
    assert np.shape(ours) == np.shape(theirs)
    assert_allclose(ours, theirs, rtol=1e-14, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize(("input_shape", "var_shape"), VAR_SHAPES)
def test_matches_torch_values_and_gradients(input_shape, var_shape, full, reduction):
    """Loss, d/d input and d/d var equal torch's (autograd) for every var shape torch accepts."""
    rng = np.random.default_rng(hash((input_shape, var_shape)) % 2**32)
    x, y = rng.normal(size=input_shape) * 2, rng.normal(size=input_shape) * 2
    var = rng.uniform(0.05, 3.0, size=var_shape)
    theirs, d_x, d_var, _ = torch_gaussian(x, y, var, reduction, full=full)
    assert_matches(lb.gaussian_nll_loss(x, y, var, full=full, reduction=reduction), theirs)
    ours_x, ours_var = lb.gaussian_nll_loss_grad(x, y, var, full=full, reduction=reduction)
    assert_matches(ours_x, d_x)
    assert_matches(ours_var, d_var)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [1e-6, 0.5, 2.0**-30])
def test_eps_clamp_and_its_straight_through_gradient_match_torch(reduction, eps):
    """Variances below eps (0 included) are clamped; torch's gradient there is the clamped one's."""
    var = np.where(RNG.random(SHAPE) < 0.5, 0.0, RNG.uniform(0, 2 * eps, SHAPE))
    theirs, d_x, d_var, _ = torch_gaussian(X, Y, var, reduction, eps=eps)
    assert_matches(lb.gaussian_nll_loss(X, Y, var, eps=eps, reduction=reduction), theirs)
    ours_x, ours_var = lb.gaussian_nll_loss_grad(X, Y, var, eps=eps, reduction=reduction)
    assert_matches(ours_x, d_x)
    assert_matches(ours_var, d_var)


def test_clamped_gradient_is_not_zero_by_hand():
    """Below eps, torch returns (1/eps - d**2/eps**2)/2, the gradient at eps, not the clamp's 0."""
    eps, d = 0.25, 1.0
    theirs = torch_gaussian([d], [0.0], [0.01], "sum", eps=eps)[2]
    assert_array_equal(theirs, [(1 / eps - d**2 / eps**2) / 2])  # (4 - 16) / 2 = -6
    assert_array_equal(lb.gaussian_nll_loss_grad([d], [0.0], [0.01], eps=eps,
                                                 reduction="sum")[1], [-6.0])
    # The loss itself does not move with var below eps.
    assert lb.gaussian_nll_loss([d], [0.0], [0.01], eps=eps) == \
        lb.gaussian_nll_loss([d], [0.0], [0.2], eps=eps)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_number_var_matches_torch_float(reduction):
    """A float var is one variance for all; its gradient (which torch cannot give) is the sum."""
    theirs, d_x, _, _ = torch_gaussian(X, Y, 0.7, reduction)
    assert_matches(lb.gaussian_nll_loss(X, Y, 0.7, reduction=reduction), theirs)
    ours_x, ours_var = lb.gaussian_nll_loss_grad(X, Y, 0.7, reduction=reduction)
    assert_matches(ours_x, d_x)
    # The same variance as a full array, through torch: its gradient's sum.
    per_element = torch_gaussian(X, Y, np.full(SHAPE, 0.7), reduction)[2]
    assert np.shape(ours_var) == ()
    assert_allclose(ours_var, per_element.sum(), rtol=1e-14)


def test_target_gradient_is_minus_the_input_gradient_in_torch():
    """torch differentiates w.r.t. target too: exactly minus d/d input, so lossbook omits it."""
    _, d_x, _, d_y = torch_gaussian(X, Y, RNG.uniform(0.1, 2, SHAPE), "mean")
    assert_array_equal(d_y, -d_x)


def test_torch_module_is_the_function():
    """nn.GaussianNLLLoss(full=True, eps=1e-3) called as (input, target, var)."""
    var = RNG.uniform(0.1, 2, SHAPE)
    module = torch.nn.GaussianNLLLoss(full=True, eps=1e-3, reduction="sum")
    ours = lb.gaussian_nll_loss(X, Y, var, full=True, eps=1e-3, reduction="sum")
    assert_allclose(ours, module(t(X), t(Y), t(var)).item(), rtol=1e-14)


# The shapes torch accepts for var, and lossbook's one difference.

SHAPE_RULES = [
    ((4, 3), (1, 1)), ((4, 3), ()), ((4, 3), (3,)), ((4, 3), (4, 3, 1)), ((4, 3), (2, 3)),
    ((4, 3), (4, 2)), ((4, 3, 2), (4, 1, 1)), ((4, 3, 2), (1, 3, 2)), ((4, 3, 2), (3, 2)),
    ((), (1,)), ((3,), (1,)), ((3,), (3, 1)), ((3, 1), (3,)),
] + VAR_SHAPES


@pytest.mark.parametrize(("input_shape", "var_shape"), SHAPE_RULES)
def test_var_shapes_accepted_exactly_where_torch_accepts_them(input_shape, var_shape):
    """lossbook raises ValueError (naming var) for the var shapes torch rejects, and only those."""
    x, var = np.zeros(input_shape), np.ones(var_shape)
    try:
        F.gaussian_nll_loss(t(x), t(x), t(var))
        torch_accepts = True
    except ValueError as error:
        assert "var is of incorrect size" in str(error)
        torch_accepts = False
    if torch_accepts:
        lb.gaussian_nll_loss(x, x, var)
    else:
        with pytest.raises(ValueError, match="var of shape"):
            lb.gaussian_nll_loss(x, x, var)


def test_var_that_would_change_the_shape_is_rejected():
    """torch lets var (0, 1) through for (1, 3) input, giving a (0, 3) loss; lossbook refuses."""
    out = F.gaussian_nll_loss(t(np.zeros((1, 3))), t(np.zeros((1, 3))), t(np.ones((0, 1))),
                              reduction="none")
    assert tuple(out.shape) == (0, 3)
    with pytest.raises(ValueError, match="var of shape"):
        lb.gaussian_nll_loss(np.zeros((1, 3)), np.zeros((1, 3)), np.ones((0, 1)))


# Accuracy against mpmath.


def batches():
    """(input, target, var, eps) batches: random and extreme."""
    rng = np.random.default_rng(23)
    x, y = rng.normal(size=200), rng.normal(size=200)
    return {
        "random": (x * 3, y * 3, np.exp(rng.uniform(-20, 20, 200)), 1e-6),
        "at the best fit": (x, y, (x - y) ** 2, 1e-12),  # log v = -(x-y)**2/v: heavy cancellation
        "near eps": (x * 1e-3, y * 1e-3, rng.uniform(0.5e-6, 2e-6, 200), 1e-6),
        "tiny var": (x * 1e-150, y * 1e-150, 10.0 ** rng.uniform(-300, -290, 200), 1e-305),
        "huge var": (x * 1e150, y, 10.0 ** rng.uniform(290, 308, 200), 1e-6),
        "squares overflow": (x * 1e155, y, 10.0 ** rng.uniform(10, 20, 200), 1e-6),
        "difference overflows": (np.full(200, 1e308), -rng.uniform(1.3e308, 1.4e308, 200),
                                 np.full(200, 1.7e308), 1e-6),
        "close values": (1 + x * 1e-15, np.ones(200), rng.uniform(1e-6, 1e-3, 200), 1e-6),
    }


@pytest.mark.parametrize("name", list(batches()))
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_within_2ulp_of_the_terms_magnitudes(name, full, reduction):
    """Within 2 ulp of (|log v| + (x - y)**2 / v [+ log 2 pi]) / 2, as the docstring states."""
    x, y, var, eps = batches()[name]
    ours = lb.gaussian_nll_loss(x, y, var, full=full, eps=eps, reduction=reduction)
    reference = exact.gaussian_nll_loss(x, y, var, full=full, eps=eps, reduction=reduction)
    scale = exact.gaussian_nll_loss(x, y, var, full=full, eps=eps, reduction=reduction,
                                    magnitude=True)
    exact.assert_within_ulp(ours, reference, scale=scale)


@pytest.mark.parametrize("full", [False, True])
def test_within_2ulp_of_the_loss_where_var_is_at_least_1(full):
    """With v >= 1 no term is negative, and the loss itself is within 2 ulp."""
    rng = np.random.default_rng(24)
    x, y, var = rng.normal(size=300) * 10, rng.normal(size=300), np.exp(rng.uniform(0, 40, 300))
    ours = lb.gaussian_nll_loss(x, y, var, full=full, reduction="none")
    exact.assert_within_ulp(ours, exact.gaussian_nll_loss(x, y, var, full=full, reduction="none"))


def test_log_of_the_variance_where_numpy_errs_most():
    """On [1 + 2**-6, 1 + 2**-5] numpy's log errs by up to 1.55 eps; the loss's log by at most 1.1.

    The variances are spread over that band and beyond it; with x = y the loss is log(v) / 2.
    """
    rng = np.random.default_rng(31)
    var = np.concatenate([1.0 + rng.uniform(2.0**-6, 2.0**-5, 3000),
                          np.exp(rng.uniform(-3.0, 3.0, 1000))])
    logs = regression._log(var, np.empty_like(var))
    with exact.working_precision():
        reference = [mpmath.log(value) for value in exact.to_mpf(var)]
        halves = [value / 2 for value in reference]
    exact.assert_within_ulp(logs, reference, ulps=1.1)
    assert exact.ulp_errors(np.log(var), reference).max() > 1.1  # what the band fixes
    ours = lb.gaussian_nll_loss(np.zeros(var.size), np.zeros(var.size), var, reduction="none")
    exact.assert_within_ulp(ours, halves, ulps=1.1)


def test_the_magnitude_bound_is_needed_at_the_best_fit():
    """Where log v cancels (x - y)**2 / v, the loss's own relative error can exceed 2 ulp."""
    x, y, var, eps = batches()["at the best fit"]
    ours = lb.gaussian_nll_loss(x, y, var, eps=eps, reduction="none")
    reference = exact.gaussian_nll_loss(x, y, var, eps=eps, reduction="none")
    scale = exact.gaussian_nll_loss(x, y, var, eps=eps, reduction="none", magnitude=True)
    exact.assert_within_ulp(ours, reference, scale=scale)
    assert exact.ulp_errors(ours, reference).max() > 2


def test_overflowing_squares_stay_finite_where_the_loss_is():
    """(1e155)**2 overflows, (1e155)**2 / 1e10 / 2 = 5e299 does not: lossbook returns it."""
    value = lb.gaussian_nll_loss([1e155], [0.0], [1e10])
    assert_allclose(value, 5e299, rtol=2**-51)
    assert torch_gaussian([1e155], [0.0], [1e10], "mean")[0] == np.inf  # torch's square overflows


def mp_gradients(x, y, var, eps):
    """d/d input = d / v and d/d var = (1/v - d**2/v**2) / 2 in mpmath, with their magnitudes."""
    with exact.working_precision():
        d = exact.to_mpf(x) - exact.to_mpf(y)
        v = np.array([max(value, mpmath.mpf(eps)) for value in exact.to_mpf(var)], dtype=object)
        d_var = (1 / v - d * d / (v * v)) / 2
        return d / v, d_var, (1 / v + d * d / (v * v)) / 2


@pytest.mark.parametrize("name", ["random", "near eps", "tiny var", "huge var",
                                  "squares overflow", "close values"])
def test_gradients_against_mpmath(name):
    """d/d input within 2 ulp; d/d var, whose two terms cancel, within 2 ulp of their magnitudes."""
    x, y, var, eps = batches()[name]
    d_x, d_var = lb.gaussian_nll_loss_grad(x, y, var, eps=eps, reduction="sum")
    truth_x, truth_var, magnitude = mp_gradients(x, y, var, eps)
    exact.assert_within_ulp(d_x, truth_x)
    exact.assert_within_ulp(d_var, truth_var, scale=magnitude)


def test_gradients_where_the_difference_overflows():
    """x - y = 2.7e308 overflows, d/d input = 2.7e308 / 1.5e308 = 1.8 and d/d var do not."""
    x, y, var = [1e308], [-1.7e308], [1.5e308]
    d_x, d_var = lb.gaussian_nll_loss_grad(x, y, var, reduction="sum")
    truth_x, truth_var, magnitude = mp_gradients(x, y, var, 1e-6)
    exact.assert_within_ulp(d_x, truth_x)
    exact.assert_within_ulp(d_var, truth_var, scale=magnitude)


# Hand-derived values.


def test_by_hand():
    """x - y = 2, v = 4: (log 4 + 1) / 2 = log 2 + 1/2; full adds log(2 pi) / 2."""
    assert_allclose(lb.gaussian_nll_loss([3.0], [1.0], [4.0]), math.log(2) + 0.5, rtol=2**-52)
    difference = lb.gaussian_nll_loss([3.0], [1.0], [4.0], full=True) - \
        lb.gaussian_nll_loss([3.0], [1.0], [4.0])
    assert_allclose(difference, 0.5 * math.log(2 * math.pi), rtol=2**-51)
    # var = 0 is clamped at eps = 1/4: (log(1/4) + 0) / 2 = -log 2.
    assert_allclose(lb.gaussian_nll_loss([1.0], [1.0], [0.0], eps=0.25), -math.log(2), rtol=2**-52)


def test_log_2pi_constant_against_mpmath():
    """The two halves of log(2 pi) add up to it to about 2**-106."""
    with exact.working_precision():
        truth = mpmath.log(2 * mpmath.pi)
        split = mpmath.mpf(regression._LOG_2PI_HIGH) + mpmath.mpf(regression._LOG_2PI_LOW)
        assert abs(split - truth) < mpmath.mpf(2) ** -105


def test_special_values():
    """nan var propagates (as in torch); var = inf costs inf; x = y = inf is nan."""
    losses = lb.gaussian_nll_loss([1.0, 1.0, np.inf], [0.0, 0.0, np.inf], [np.nan, np.inf, 1.0],
                                  reduction="none")
    assert np.isnan(losses[0]) and losses[1] == np.inf and np.isnan(losses[2])
    theirs = F.gaussian_nll_loss(t([1.0, 1.0]), t([0.0, 0.0]), t([np.nan, np.inf]),
                                 reduction="none")
    assert torch.isnan(theirs[0]) and theirs[1].item() == np.inf
    d_x, d_var = lb.gaussian_nll_loss_grad([1.0, 1.0, np.inf], [0.0, 0.0, 0.0],
                                           [np.nan, np.inf, 1.0], reduction="none")
    assert np.isnan(d_x[0]) and d_x[1] == 0.0 and d_x[2] == np.inf
    assert np.isnan(d_var[0]) and d_var[1] == 0.0 and d_var[2] == -np.inf
    assert np.isnan(lb.gaussian_nll_loss([], [], [], reduction="mean"))


def test_float32_is_rounded_once():
    """float32 input gives float32 losses; d/d var has var's dtype."""
    x32, var32 = X.astype(np.float32), RNG.uniform(0.1, 2, SHAPE).astype(np.float32)
    ours = lb.gaussian_nll_loss(x32, Y, var32, reduction="none")
    assert ours.dtype == np.float32
    reference = exact.gaussian_nll_loss(x32, Y, var32, reduction="none")
    assert_array_equal(ours, exact.nearest_float(reference).astype(np.float32))
    d_x, d_var = lb.gaussian_nll_loss_grad(x32, Y, var32.astype(np.float64))
    assert d_x.dtype == np.float32 and d_var.dtype == np.float64
    assert lb.gaussian_nll_loss_grad(X, Y, var32)[1].dtype == np.float32


# Properties.

VALUE = st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False)
VARIANCE = st.floats(1e-3, 1e3, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 6, elements=VALUE), arrays(np.float64, 6, elements=VALUE),
       arrays(np.float64, 6, elements=VARIANCE), st.integers(-20, 20))
def test_rescaling_by_a_power_of_two_shifts_the_loss_by_its_log(x, y, var, k):
    """Scaling x, y by 2**k and var, eps by 4**k adds k log 2 to every loss (it is a density)."""
    base = lb.gaussian_nll_loss(x, y, var, reduction="none")
    scaled = lb.gaussian_nll_loss(x * 2.0**k, y * 2.0**k, var * 4.0**k, eps=1e-6 * 4.0**k,
                                  reduction="none")
    magnitude = 0.5 * (np.abs(np.log(var)) + (x - y) ** 2 / var) + abs(k) * math.log(2)
    assert (np.abs(scaled - (base + k * math.log(2))) <= 4 * 2**-52 * magnitude).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 6, elements=VALUE), arrays(np.float64, 6, elements=VALUE))
def test_best_variance_is_the_squared_error(x, y):
    """d/d var is 0 at var = (x - y)**2, negative below it and positive above (where above eps)."""
    best = (x - y) ** 2
    usable = best > 1e-3
    _, at = lb.gaussian_nll_loss_grad(x, y, best, reduction="none")
    _, below = lb.gaussian_nll_loss_grad(x, y, best * 0.5, reduction="none")
    _, above = lb.gaussian_nll_loss_grad(x, y, best * 2.0, reduction="none")
    assert (np.abs(at[usable]) <= 2**-50 / best[usable]).all()
    assert (below[usable] < 0).all() and (above[usable] > 0).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 5, elements=VALUE), arrays(np.float64, 5, elements=VARIANCE),
       st.integers(-100, 100))
def test_shifting_input_and_target_together_changes_nothing(x, var, shift):
    """Only x - y matters: adding the same integer to both (exactly) leaves loss and gradient."""
    x = np.round(x * 64) / 64  # dyadic, so that x + shift is exact
    y = np.round(x[::-1] * 32) / 32
    base = lb.gaussian_nll_loss(x, y, var, reduction="none")
    assert_array_equal(lb.gaussian_nll_loss(x + shift, y + shift, var, reduction="none"), base)
    assert_array_equal(lb.gaussian_nll_loss_grad(x + shift, y + shift, var)[0],
                       lb.gaussian_nll_loss_grad(x, y, var)[0])


# Bad input.


@pytest.mark.parametrize(
    ("var", "error", "match"),
    [
        (-1.0, ValueError, "var must hold variances >= 0"),
        (np.array([1.0, -0.5, 1.0]), ValueError, "var must lie in"),
        (True, TypeError, "var"),
        ("1", TypeError, "var"),
        (np.ones((3, 3)), ValueError, "var of shape"),
        (np.ones(2), ValueError, "var of shape"),
        (None, TypeError, "var"),
    ],
)
def test_rejects_bad_var(var, error, match):
    """A negative, non-numeric or misshapen var raises, naming var, from the loss and gradient."""
    for function in (lb.gaussian_nll_loss, lb.gaussian_nll_loss_grad):
        with pytest.raises(error, match=match):
            function(np.zeros(3), np.zeros(3), var)


def test_torch_rejects_negative_var_too():
    """torch raises ValueError for a negative variance, as a float and in a tensor."""
    for var in (-1.0, t([1.0, -0.5, 1.0])):
        with pytest.raises(ValueError, match="var has negative"):
            F.gaussian_nll_loss(t(np.zeros(3)), t(np.zeros(3)), var)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1e-6}, ValueError, "eps"),
        ({"eps": np.nan}, ValueError, "eps"),
        ({"eps": np.inf}, ValueError, "eps"),
        ({"eps": "1e-6"}, TypeError, "eps"),
        ({"full": 1}, TypeError, "full"),
        ({"reduction": "batchmean"}, ValueError, "reduction"),
    ],
)
def test_rejects_bad_options(options, error, match):
    """eps must be finite and > 0, full a bool, reduction one of three."""
    for function in (lb.gaussian_nll_loss, lb.gaussian_nll_loss_grad):
        with pytest.raises(error, match=match):
            function(np.zeros(3), np.zeros(3), np.ones(3), **options)


def test_torch_lets_eps_zero_turn_a_zero_variance_into_nan():
    """Why eps must be > 0: torch with eps=0 and var=0 returns nan (log 0 + 0/0)."""
    value = F.gaussian_nll_loss(t([1.0]), t([1.0]), t([0.0]), eps=0.0)
    assert torch.isnan(value)


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ((np.zeros(3), np.zeros(2), 1.0), ValueError, "target"),
        ((["a"], [1.0], 1.0), TypeError, "input"),
        (([1.0], ["a"], 1.0), TypeError, "target"),
    ],
)
def test_rejects_bad_input_and_target(arguments, error, match):
    """target must have input's shape (torch would broadcast it); both must be numeric."""
    for function in (lb.gaussian_nll_loss, lb.gaussian_nll_loss_grad):
        with pytest.raises(error, match=match):
            function(*arguments)


def test_gluon_has_no_gaussian_nll_loss():
    """mxnet 1.9.1's gluon.loss has no Gaussian NLL class: nothing to compare with."""
    assert not [name for name in dir(gluon.loss) if "gauss" in name.lower()]


# The exact twin and the docstring.


def test_exact_twin_by_hand_and_bad_input():
    """exact.gaussian_nll_loss: log 2 + 1/2 for x - y = 2, v = 4; a negative var raises."""
    with exact.working_precision():
        value = exact.gaussian_nll_loss([3.0], [1.0], [4.0])
        assert abs(value - (mpmath.log(2) + mpmath.mpf(0.5))) < mpmath.mpf(10) ** -55
        per_row = exact.gaussian_nll_loss(np.full((2, 2), 3.0), np.ones((2, 2)), [4.0, 4.0],
                                          reduction="none")
        assert per_row.shape == (2, 2)
    with pytest.raises(ValueError, match="var"):
        exact.gaussian_nll_loss([1.0], [1.0], [-1.0])


def test_docstring_examples_run():
    """The Examples of gaussian_nll_loss and its gradient run as doctests."""
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for name in ("gaussian_nll_loss", "gaussian_nll_loss_grad"):
        for test in finder.find(getattr(regression, name), name, globs={}):
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert runner.summarize(verbose=False).attempted >= 5

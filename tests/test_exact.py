"""lossbook.exact, the mpmath references, against hand-derived values and known constants.

The constants are written out to 40 digits (log 2, e, pi), so each check is
independent of mpmath's own functions; the rest are closed forms derived
by hand in each test's docstring.
"""

import math

import mpmath as mp
import numpy as np
import pytest

from lossbook import exact

with mp.workdps(60):
    LOG_2 = mp.mpf("0.6931471805599453094172321214581765680755")
    E = mp.mpf("2.7182818284590452353602874713526624977572")
    PI = mp.mpf("3.1415926535897932384626433832795028841972")
    LOG_3 = mp.mpf("1.0986122886681096913952452369225257046475")
    CLOSE = mp.mpf("1e-38")  # the constants above carry 40 digits


@pytest.fixture(autouse=True)
def sixty_digits():
    """Do the tests' own arithmetic (sums of constants, ties) at 60 digits, then restore."""
    with mp.workdps(60):
        yield


def close(value, expected, tolerance=CLOSE):
    """|value - expected| <= tolerance * max(1, |expected|)."""
    return abs(mp.mpf(value) - expected) <= tolerance * max(1, abs(expected))


def values(array):
    """The mpf values of an object array, flat."""
    return list(np.asarray(array, dtype=object).ravel())


# Conversions and precision.


def test_to_mpf_is_exact():
    """0.1 converts to the double nearest 0.1, 3602879701896397 / 2**55, not to 1/10."""
    (tenth,) = values(exact.to_mpf([0.1]))
    assert tenth == mp.mpf(3602879701896397) / mp.mpf(2) ** 55
    with mp.workdps(60):
        assert tenth != mp.mpf(1) / 10


def test_references_ignore_the_callers_precision():
    """With mp.dps set to 5 outside, a reference still carries DIGITS digits."""
    with mp.workdps(5):
        value = exact.softplus(0.0)[()]
    assert close(value, LOG_2)  # to 38 digits, where 5 digits would miss by 1e-6


def test_working_precision_is_restored():
    """Calling a reference leaves mpmath's global precision as it was."""
    with mp.workdps(7):
        exact.sigmoid([1.0])
        assert mp.mp.dps == 7


# Activations.


def test_activations_at_zero():
    """sigmoid(0) = 1/2, softplus(0) = log 2, log sigmoid(0) = -log 2."""
    assert exact.sigmoid(0.0)[()] == mp.mpf(0.5)
    assert close(exact.softplus(0.0)[()], LOG_2)
    assert close(exact.log_sigmoid(0.0)[()], -LOG_2)


def test_softplus_of_one_is_log_of_one_plus_e():
    """softplus(1) = log(1 + e), and sigmoid(1) = e / (1 + e)."""
    with mp.workdps(60):
        assert close(exact.softplus(1.0)[()], mp.log(1 + E))
        assert close(exact.sigmoid(1.0)[()], E / (1 + E))


def test_softplus_far_left_is_e_to_the_z():
    """softplus(-1000) = log(1 + e^-1000) = e^-1000 (1 - e^-1000 / 2 + ...), far below float64."""
    with mp.workdps(60):
        value = exact.softplus(-1000.0)[()]
        assert abs(value / mp.exp(-1000) - 1) < mp.mpf("1e-59")


def test_softmax_family_on_equal_logits():
    """Four equal logits: softmax 1/4 each, log_softmax -2 log 2, logsumexp 1000 + 2 log 2."""
    row = np.full((1, 4), 1000.0)
    assert all(value == mp.mpf(0.25) for value in values(exact.softmax(row)))
    assert all(close(value, -2 * LOG_2) for value in values(exact.log_softmax(row)))
    assert close(exact.logsumexp(row)[0], 1000 + 2 * LOG_2)


def test_softmax_follows_the_axis():
    """Along axis 0 the two columns [0, 0] and [0, 0] each give 1/2, 1/2; shapes are kept."""
    z = np.zeros((2, 3))
    assert exact.softmax(z, axis=0).shape == (2, 3)
    assert all(value == mp.mpf(0.5) for value in values(exact.softmax(z, axis=0)))
    assert exact.logsumexp(z, axis=0).shape == (3,)


# Regression losses.


def test_squared_and_absolute_error():
    """(3 - 1)^2 = 4 and (0.5 - 2)^2 = 2.25: sum 6.25, mean 3.125; |.| gives 2 and 1.5."""
    x, y = [3.0, 0.5], [1.0, 2.0]
    assert values(exact.mse_loss(x, y, reduction="none")) == [4, mp.mpf(2.25)]
    assert exact.mse_loss(x, y, reduction="sum") == mp.mpf(6.25)
    assert exact.mse_loss(x, y) == mp.mpf(3.125)
    assert exact.l1_loss(x, y) == mp.mpf(1.75)


def test_weighted_mean_divides_by_the_weights():
    """Weights 1 and 3 on errors 4 and 2.25: (4 + 6.75) / 4 for mse, (2 + 4.5) / 4 for l1."""
    x, y, w = [3.0, 0.5], [1.0, 2.0], [1.0, 3.0]
    assert exact.mse_loss(x, y, weight=w) == mp.mpf(10.75) / 4
    assert exact.l1_loss(x, y, weight=w) == mp.mpf(6.5) / 4


def test_huber_both_branches():
    """delta = 1: |d| = 0.5 gives 0.125, |d| = 3 gives 1 * (3 - 0.5) = 2.5; weighted mean over n."""
    x, y = [0.5, -3.0], [0.0, 0.0]
    assert values(exact.huber_loss(x, y, reduction="none")) == [mp.mpf(0.125), mp.mpf(2.5)]
    assert exact.huber_loss(x, y, weight=[2.0, 2.0]) == mp.mpf(2.625)


def test_smooth_l1_both_branches():
    """beta = 0.5: |d| = 0.25 gives 0.0625 / 1 = 0.0625, |d| = 2 gives 2 - 0.25 = 1.75."""
    losses = exact.smooth_l1_loss([0.25, 2.0], [0.0, 0.0], beta=0.5, reduction="none")
    assert values(losses) == [mp.mpf(0.0625), mp.mpf(1.75)]


def test_quantile_both_sides():
    """q = 0.25, target 1: input 0 (below) gives 0.25 * 1, input 3 (above) gives 0.75 * 2."""
    losses = exact.quantile_loss([0.0, 3.0], [1.0, 1.0], q=0.25, reduction="none")
    assert values(losses) == [mp.mpf(0.25), mp.mpf(1.5)]


def test_poisson_log_rate():
    """e^0 - 3 * 0 = 1 and e^1 - 1 * 1 = e - 1; magnitudes 1 and e + 1."""
    x, t = [0.0, 1.0], [3.0, 1.0]
    first, second = values(exact.poisson_nll_loss(x, t, reduction="none"))
    assert first == 1 and close(second, E - 1)
    assert close(values(exact.poisson_nll_loss(x, t, reduction="none", magnitude=True))[1], E + 1)


def test_poisson_rate_adds_eps_exactly():
    """1 - log(1 + 1e-8) = 1 - 1e-8 + 5e-17 - 1e-24 / 3 + 2.5e-33 - ..., the series of log1p."""
    value = exact.poisson_nll_loss([1.0], [1.0], log_input=False, reduction="sum")
    eps = mp.mpf(1e-8)  # the double nearest 1e-8, as lossbook and torch add it
    assert close(value, 1 - (eps - eps**2 / 2 + eps**3 / 3 - eps**4 / 4), mp.mpf("1e-40"))


def test_poisson_full_adds_stirling_above_one():
    """t = 2 adds 2 log 2 - 2 + log(4 pi) / 2; t = 1 adds nothing (log 1! = 0)."""
    with mp.workdps(60):
        stirling = 2 * LOG_2 - 2 + (2 * LOG_2 + mp.log(PI)) / 2
    plain, full = (
        values(exact.poisson_nll_loss([0.0, 0.0], [2.0, 1.0], full=f, reduction="none"))
        for f in (False, True)
    )
    assert close(full[0] - plain[0], stirling) and full[1] == plain[1] == 1


# Classification losses.


def test_binary_cross_entropy_closed_forms():
    """p = 1/2, y = 1: log 2; p = 1/4, y = 1/2: -(log 1/4 + log 3/4) / 2 = 2 log 2 - log(3) / 2."""
    losses = values(exact.binary_cross_entropy([0.5, 0.25], [1.0, 0.5], reduction="none"))
    assert close(losses[0], LOG_2)
    assert close(losses[1], 2 * LOG_2 - LOG_3 / 2)


def test_binary_cross_entropy_at_certainty():
    """p = 0 with y = 0 is 0 (0 log 0 = 0); p = 0 with y = 1 is +inf."""
    losses = values(exact.binary_cross_entropy([0.0, 0.0], [0.0, 1.0], reduction="none"))
    assert losses[0] == 0 and mp.isinf(losses[1]) and losses[1] > 0


def test_binary_cross_entropy_with_logits_at_zero():
    """z = 0 gives log 2 for any y; pos_weight 3 on y = 1 gives 3 log 2; weight 0.5 halves it."""
    z, y = [0.0, 0.0], [1.0, 0.3]
    assert all(close(v, LOG_2) for v in values(exact.binary_cross_entropy_with_logits(
        z, y, reduction="none")))
    weighted = exact.binary_cross_entropy_with_logits(
        z, [1.0, 1.0], pos_weight=[3.0], weight=0.5, reduction="none")
    assert all(close(v, 3 * LOG_2 / 2) for v in values(weighted))


def test_cross_entropy_on_equal_logits():
    """Equal logits over 4 classes: -log(1/4) = 2 log 2 for every label and any smoothing."""
    scores, labels = np.zeros((3, 4)), np.array([0, 2, 3])
    for smoothing in (0.0, 0.3):
        losses = exact.cross_entropy(scores, labels, reduction="none", label_smoothing=smoothing)
        assert all(close(v, 2 * LOG_2) for v in values(losses))


def test_cross_entropy_weighted_mean_divides_by_the_target_weights():
    """Weights (1, 3), zero logits: losses log 2 and 3 log 2, mean (4 log 2) / (1 + 3) = log 2."""
    scores, labels = np.zeros((2, 2)), np.array([0, 1])
    assert close(exact.cross_entropy(scores, labels, weight=[1.0, 3.0]), LOG_2)
    assert close(exact.nll_loss(-np.ones((2, 2)), labels, weight=[1.0, 3.0]), 1)


def test_cross_entropy_ignore_index_leaves_the_target_out():
    """An ignored target scores 0 and leaves the divisor: the mean of [log 2, ignored] is log 2."""
    scores, labels = np.zeros((2, 2)), np.array([0, -100])
    losses = values(exact.cross_entropy(scores, labels, reduction="none"))
    assert close(losses[0], LOG_2) and losses[1] == 0
    assert close(exact.cross_entropy(scores, labels), LOG_2)


def test_cross_entropy_smoothing_of_a_two_class_row():
    """z = (1, 0), label 0, smoothing 1/2: 3/4 log(1 + e^-1) + 1/4 log(1 + e)."""
    with mp.workdps(60):
        expected = mp.mpf(3) / 4 * mp.log(1 + 1 / E) + mp.mpf(1) / 4 * mp.log(1 + E)
    value = exact.cross_entropy([[1.0, 0.0]], [0], label_smoothing=0.5, reduction="sum")
    assert close(value, expected)


def test_cross_entropy_with_probabilities_divides_by_the_samples():
    """Targets (1/2, 1/2) on zero logits: log 2 per sample; the mean over 2 samples is log 2."""
    scores, targets = np.zeros((2, 2)), np.full((2, 2), 0.5)
    assert close(exact.cross_entropy(scores, targets), LOG_2)
    assert close(exact.cross_entropy(scores, targets, reduction="sum"), 2 * LOG_2)


def test_cross_entropy_classes_on_axis_one():
    """Shape (N, C, d): losses have shape (N, d), the class axis removed."""
    losses = exact.cross_entropy(np.zeros((2, 4, 3)), np.zeros((2, 3), dtype=int), reduction="none")
    assert losses.shape == (2, 3)
    assert all(close(v, 2 * LOG_2) for v in values(losses))


def test_kl_div_closed_forms():
    """t = (1/2, 1/2) against x = 0: sum of t log t = -log 2; log_target s = 0, x = -1: e^0 * 1."""
    assert close(exact.kl_div([[0.0, 0.0]], [[0.5, 0.5]], reduction="batchmean"), -LOG_2)
    assert close(exact.kl_div([[0.0, 0.0]], [[0.5, 0.5]], reduction="mean"), -LOG_2 / 2)
    assert exact.kl_div([-1.0], [0.0], log_target=True, reduction="sum") == 1
    assert exact.kl_div([-5.0], [0.0], reduction="sum") == 0  # t = 0 scores 0


def test_kl_div_magnitude_adds_the_terms_sizes():
    """t = 1/2, x = -1: terms t log t = -log(2) / 2 and -t x = 1/2; magnitude log(2) / 2 + 1/2."""
    value = exact.kl_div([-1.0], [0.5], reduction="sum", magnitude=True)
    assert close(value, LOG_2 / 2 + mp.mpf(0.5))


# Margin losses.


def test_margin_losses():
    """margin 1: score 0.25, label 1 gives 0.75 (squared 0.5625); score 2, label -1 gives 3 (9)."""
    x, y = [0.25, 2.0], [1.0, -1.0]
    assert values(exact.hinge_loss(x, y, reduction="none")) == [mp.mpf(0.75), 3]
    assert values(exact.squared_hinge_loss(x, y, reduction="none")) == [mp.mpf(0.5625), 9]
    assert close(exact.soft_margin_loss([0.0], [1.0], reduction="sum"), LOG_2)


# Bad input.


def test_bad_input_is_refused():
    """Unknown reductions, mismatched shapes and out-of-range values raise ValueError."""
    with pytest.raises(ValueError, match="reduction must be one of"):
        exact.mse_loss([1.0], [1.0], reduction="batchmean")
    with pytest.raises(ValueError, match="target must have the input's shape"):
        exact.l1_loss([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="class index 4 is outside"):
        exact.cross_entropy(np.zeros((1, 4)), [4])
    with pytest.raises(ValueError, match="probabilities in"):
        exact.binary_cross_entropy([1.5], [1.0])
    with pytest.raises(ValueError, match="delta must be finite and > 0"):
        exact.huber_loss([1.0], [1.0], delta=0.0)
    with pytest.raises(TypeError, match="values must be real numbers"):
        exact.to_mpf(["a"])


def test_reference_finds_the_twin_of_a_lossbook_function():
    """reference(lb.f) is exact.f, and a function without a twin raises ValueError."""
    import lossbook as lb

    assert exact.reference(lb.cross_entropy) is exact.cross_entropy
    with pytest.raises(ValueError, match="no reference for 'cross_entropy_grad'"):
        exact.reference(lb.cross_entropy_grad)


# Error measurement.


def test_ulp_errors_count_in_eps():
    """1 + eps against 1 is 1 ulp, 1 + 2 eps 2 ulp; 2 + 2 eps against 2 is 1 ulp (relative)."""
    errors = exact.ulp_errors([1 + 2.0**-52, 1 + 2.0**-51, 2 + 2.0**-51], [1, 1, 2])
    np.testing.assert_array_equal(errors, [1.0, 2.0, 1.0])
    np.testing.assert_array_equal(exact.relative_errors([1 + 2.0**-52], [1]), [2.0**-52])


def test_ulp_errors_below_the_normal_range_count_subnormals():
    """3 * 2^-1074 against 2^-1074 is 2 units of the smallest subnormal."""
    assert exact.ulp_errors([3 * 2.0**-1074], [mp.ldexp(1, -1074)])[0] == 2.0


def test_ulp_errors_demand_exact_zeros_and_infinities():
    """An exact 0 or inf must come out exactly; a finite answer must not come out inf or nan."""
    errors = exact.ulp_errors([0.0, 1e-300, math.inf, 1.0, math.inf, math.nan],
                              [0, 0, mp.inf, mp.inf, 1, 1])
    np.testing.assert_array_equal(errors, [0.0, math.inf, 0.0, math.inf, math.inf, math.inf])


def test_ulp_errors_against_a_scale():
    """An error of 2^-50 against a value of 2^-50 but a scale of 1 is 4 ulp, not 1 relative."""
    assert exact.ulp_errors([2.0**-49], [mp.ldexp(1, -50)], scale=[1])[0] == 4.0


def test_ulp_errors_refuse_mismatched_sizes():
    """computed and reference must have as many elements."""
    with pytest.raises(ValueError, match="as many elements"):
        exact.ulp_errors([1.0, 2.0], [1])


def test_assert_within_ulp_names_the_worst_element():
    """Passing within the bound, failing beyond it with the element's index."""
    exact.assert_within_ulp([1 + 2.0**-51], [1], ulps=2)
    with pytest.raises(AssertionError, match="element 1 of 2.*3 ulp, more than 2"):
        exact.assert_within_ulp([1.0, 1 + 3 * 2.0**-52], [1, 1])


def test_nearest_float_rounds_ties_to_even():
    """1 + 2^-53 (a tie) rounds to 1, 1 + 3 * 2^-53 to 1 + 2^-51, anything above a tie up."""
    ties = [1 + mp.ldexp(1, -53), 1 + 3 * mp.ldexp(1, -53), 1 + mp.ldexp(1, -53) + mp.ldexp(1, -90)]
    np.testing.assert_array_equal(exact.nearest_float(ties), [1.0, 1 + 2.0**-51, 1 + 2.0**-52])


def test_nearest_float_underflows_gradually_and_overflows():
    """1.5 * 2^-1074 rounds to 2 * 2^-1074 (even), 0.5 * 2^-1074 to 0; 2^1024 is inf."""
    cases = [1.5 * mp.ldexp(1, -1074), mp.ldexp(1, -1075), mp.ldexp(1, 1024), -mp.ldexp(1, 1024)]
    np.testing.assert_array_equal(
        exact.nearest_float(cases), [2 * 2.0**-1074, 0.0, math.inf, -math.inf]
    )
    largest = mp.mpf(np.finfo(np.float64).max)
    assert exact.nearest_float([largest])[0] == np.finfo(np.float64).max


def test_assert_correctly_rounded():
    """log 2 rounds to 0.6931471805599453; its neighbour above fails."""
    exact.assert_correctly_rounded([0.6931471805599453], exact.softplus([0.0]))
    with pytest.raises(AssertionError):
        exact.assert_correctly_rounded([np.nextafter(0.6931471805599453, 1)], exact.softplus([0.0]))


def test_every_bad_argument_is_named():
    """Each refused argument is named in the ValueError."""
    cases = [
        (lambda: exact.mse_loss([1.0], [1.0], weight=[1.0, 2.0]), "weight of shape"),
        (lambda: exact.softmax(1.0), "at least one axis"),
        (lambda: exact.softmax(np.zeros((2, 0))), "at least one entry"),
        (lambda: exact.quantile_loss([1.0], [1.0], q=1.0), "q must lie strictly"),
        (lambda: exact.poisson_nll_loss([1.0], [-1.0]), "target must hold counts"),
        (lambda: exact.poisson_nll_loss([-1.0], [1.0], log_input=False), "input must hold rates"),
        (lambda: exact.binary_cross_entropy([0.5, 0.5], [1.0]), "target must have the input"),
        (lambda: exact.binary_cross_entropy_with_logits([0.5, 0.5], [1.0]), "target must have"),
        (lambda: exact.nll_loss(0.0, 0), "must have a class axis"),
        (lambda: exact.nll_loss(np.zeros((2, 3)), [0]), "must have shape \\(2,\\)"),
        (lambda: exact.nll_loss(np.zeros((1, 3)), [0.5]), "whole numbers"),
        (lambda: exact.nll_loss(np.zeros((1, 3)), [0], weight=[1.0]), "one entry per class"),
        (lambda: exact.cross_entropy(np.zeros((1, 3)), [0], label_smoothing=2.0), "label_smooth"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_a_mean_over_nothing_is_nan_or_infinite():
    """Every target ignored gives 0 / 0 = nan; weights summing to 0 under a loss of 1 give inf."""
    assert mp.isnan(exact.cross_entropy(np.zeros((2, 3)), [-100, -100]))
    assert exact.mse_loss([1.0, 0.0], [0.0, 0.0], weight=[1.0, -1.0]) == mp.inf


def test_to_mpf_passes_mpf_through():
    """An object array of mpf comes back as the same numbers."""
    numbers = np.array([mp.mpf(1) / 3], dtype=object)
    assert exact.to_mpf(numbers)[0] is numbers[0]


def test_array_namespace_applies_mpmath_elementwise():
    """exact.xp.log, exp and log1p work element by element on object arrays."""
    values = exact.to_mpf([1.0, 2.0])
    assert values_equal(exact.xp.exp(exact.xp.log(values)), values)
    assert close(exact.xp.log1p(values)[0], LOG_2)


def values_equal(first, second):
    """Equal to 1e-50, element by element."""
    return all(abs(a - b) < mp.mpf("1e-50") for a, b in zip(first, second))


def test_worst_relative_error_and_empty_input():
    """The worst of several errors is their maximum; no elements give 0 and pass any bound."""
    assert exact.worst_relative_error([1.0, 1 + 2.0**-51], [1, 1]) == 2.0**-51
    assert exact.worst_relative_error([], []) == 0.0
    exact.assert_within_ulp([], [], ulps=0)


def test_nearest_float_of_nan_is_nan():
    """nan rounds to nan."""
    assert math.isnan(exact.nearest_float([mp.nan])[0])

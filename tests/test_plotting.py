"""The plotting helpers: labels, titles, lines, the values they plot, and the book style."""

import io
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

from lossbook import catalog, plotting  # noqa: E402

X = np.linspace(-3.0, 3.0, 121)


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")


def legend_texts(ax):
    """The legend's labels, in order."""
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_neg_log_plots_minus_log_p_and_minus_log_one_minus_p():
    """neg_log draws −log p and −log(1 − p) on [0.01, 0.99], titled and labelled."""
    ax = plotting.neg_log()
    label_one, label_zero = ax.get_lines()
    p = label_one.get_xdata()
    assert p[0] == 0.01 and p[-1] == 0.99
    assert_allclose(label_one.get_ydata(), -np.log(p), rtol=1e-15)
    assert_allclose(label_zero.get_ydata(), -np.log1p(-p), rtol=1e-14)
    assert ax.get_title() == "Log loss when the true label is 1 or 0"
    assert ax.get_xlabel() and ax.get_ylabel() == "loss"
    assert legend_texts(ax) == ["true label 1: $-\\log p$", "true label 0: $-\\log(1 - p)$"]


def test_loss_curves_plot_each_entrys_function():
    """loss_curves draws one line per key, titled by the entry, with the entry's values."""
    keys = ["l2", "l1", "huber", "quantile"]
    ax = plotting.loss_curves(keys, X, target=0.0)
    assert len(ax.get_lines()) == len(keys)
    assert legend_texts(ax) == [catalog.get(key).title for key in keys]
    for key, line in zip(keys, ax.get_lines()):
        entry = catalog.get(key)
        expected = entry.loss(X, np.zeros_like(X), reduction="none", **entry.options)
        assert_allclose(line.get_ydata(), expected, rtol=0)
    assert ax.get_title() == "Loss against the prediction, target = 0"
    assert ax.get_xlabel() == "prediction (the loss's input)" and ax.get_ylabel() == "loss"


def test_loss_curves_match_the_textbook_formulas():
    """The hinge and squared-hinge curves at label 1 are max(0, 1 − x) and its square."""
    ax = plotting.loss_curves(["hinge", "squared_hinge"], X, target=1.0)
    hinge, squared = (line.get_ydata() for line in ax.get_lines())
    assert_allclose(hinge, np.maximum(0.0, 1.0 - X), rtol=1e-15)
    assert_allclose(squared, np.maximum(0.0, 1.0 - X) ** 2, rtol=1e-15)


def test_gradient_curves_plot_each_entrys_gradient():
    """gradient_curves draws one line per entry, options honoured, with the gradient's values."""
    entries = [catalog.get("soft_margin"), catalog.get("hinge", margin=2.0)]
    ax = plotting.gradient_curves(entries, X, target=-1.0)
    assert len(ax.get_lines()) == 2
    for entry, line in zip(entries, ax.get_lines()):
        expected = entry.grad(X, np.full_like(X, -1.0), reduction="none", **entry.options)
        assert_allclose(line.get_ydata(), expected, rtol=0)
    assert_allclose(ax.get_lines()[0].get_ydata(), 1.0 / (1.0 + np.exp(-X)), rtol=1e-14)
    assert ax.get_title() == "Gradient against the prediction, target = -1"
    assert ax.get_ylabel() == "d loss / d prediction"


def test_curves_refuse_losses_of_whole_rows():
    """A loss of a row of class scores has no curve against one prediction: ValueError names it."""
    with pytest.raises(ValueError, match="'cross_entropy' loss scores a whole row"):
        plotting.loss_curves(["l2", "cross_entropy"], X, target=0.0)


def test_helpers_draw_on_the_axes_they_are_given():
    """Given an Axes, a helper draws there and returns it."""
    figure, (left, right) = plt.subplots(1, 2)
    assert plotting.neg_log(ax=left) is left
    assert plotting.gradient_curves(["l2"], X, 0.0, ax=right) is right
    assert len(right.get_lines()) == 1 and len(figure.axes) == 2


def test_book_style_is_opaque_light_and_colour_blind_safe():
    """New figures are 700 px wide on opaque white, with dark text and lines in Okabe-Ito order."""
    ax = plotting.loss_curves(["l2", "l1", "huber"], X, target=0.0)
    figure = ax.figure
    assert figure.get_figwidth() * figure.dpi == 700
    assert figure.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    assert matplotlib.colors.to_hex(ax.title.get_color()) == plotting.TEXT_COLOUR.lower()
    colours = [matplotlib.colors.to_hex(line.get_color()) for line in ax.get_lines()]
    assert colours == [colour.lower() for colour in plotting.PALETTE[:3]]


def test_book_style_does_not_leak():
    """The style applies inside book_style() and the global settings are untouched after it."""
    before = matplotlib.rcParams["figure.facecolor"]
    with plotting.book_style():
        assert matplotlib.rcParams["figure.figsize"] == [7.0, 4.2]
    plotting.neg_log()
    assert matplotlib.rcParams["figure.facecolor"] == before


def test_figures_are_deterministic():
    """Drawing the same figure twice gives byte-identical PNGs."""

    def png():
        buffer = io.BytesIO()
        ax = plotting.loss_curves(["hinge", "soft_margin"], X, target=1.0)
        ax.figure.savefig(buffer, format="png")
        return buffer.getvalue()

    assert png() == png()


def test_book_style_keeps_interactive_mode_a_backend_turned_on():
    """A backend that turns interactive mode on inside the block keeps it on; the style is undone."""
    was_interactive = matplotlib.is_interactive()
    matplotlib.interactive(False)
    try:
        with plotting.book_style():
            matplotlib.interactive(True)
        assert matplotlib.is_interactive()
        assert matplotlib.rcParams["axes.spines.top"] is True  # the style sets it False
    finally:
        matplotlib.interactive(was_interactive)


def test_relabel_names_lines_axis_and_title():
    """relabel sets each line's legend label in order, the x label and the title; too many labels raise."""
    ax = plotting.loss_curves(["l1", "l2"], X, target=0.0)
    assert plotting.relabel(ax, ["a", "b"], xlabel="r", title="T") is ax
    assert legend_texts(ax) == ["a", "b"] and ax.get_xlabel() == "r" and ax.get_title() == "T"
    with pytest.raises(ValueError, match="labels has 3 entries but the Axes has only 2 lines"):
        plotting.relabel(ax, ["a", "b", "c"])


def test_mse_and_rmse_of_constants():
    """Left: mean (c - y)^2 and its root; right: 2 (c - mean) and (c - mean) / RMSE; dotted line at the mean."""
    targets = np.array([1.0, 2.0, 6.0])  # mean 3
    c = np.linspace(-1.0, 7.0, 9)
    left, right = plotting.mse_and_rmse(targets, c)
    mse = ((c - 1) ** 2 + (c - 2) ** 2 + (c - 6) ** 2) / 3
    assert_allclose(left.get_lines()[0].get_ydata(), mse, rtol=1e-15)
    assert_allclose(left.get_lines()[1].get_ydata(), np.sqrt(mse), rtol=1e-15)
    assert_allclose(right.get_lines()[0].get_ydata(), 2 * (c - 3), rtol=1e-15)
    assert_allclose(right.get_lines()[1].get_ydata(), (c - 3) / np.sqrt(mse), rtol=1e-15)
    assert list(left.get_lines()[2].get_xdata()) == [3.0, 3.0]
    assert (left.get_title(), right.get_title()) == ("Loss", "Gradient")
    assert legend_texts(right) == ["d MSE / dc", "d RMSE / dc"]
    with pytest.raises(ValueError, match="must not all be equal"):
        plotting.mse_and_rmse([2.0, 2.0], c)


def test_line_fits_draws_the_true_line_each_fit_and_the_data():
    """Lines a + b x over the range of x, dashed true line first; the legend names fits, data and outlier."""
    x, y = np.array([0.0, 2.0, 5.0]), np.array([1.0, 2.0, -4.0])
    ax = plotting.line_fits(x, y, {"L2": (0.5, 1.0), "L1": (1.0, 0.5)}, outlier=2, true_line=(1.0, 0.5))
    true, l2, l1 = ax.get_lines()
    assert true.get_linestyle() == "--"
    assert_allclose(l2.get_ydata(), [0.5, 5.5], rtol=0)
    assert_allclose(l1.get_xdata(), [0.0, 5.0], rtol=0)
    assert legend_texts(ax) == ["true line", "L2 fit", "L1 fit", "data", "outlier"]
    assert_allclose(ax.collections[1].get_offsets(), [[5.0, -4.0]], rtol=0)


def test_margin_losses_are_the_textbook_curves_and_the_step():
    """For label +1: log(1 + e^-m) twice (signed and BCE), max(0, 1 - m), its square, and [m <= 0]."""
    m = np.linspace(-3.0, 3.0, 61)
    ax = plotting.margin_losses(m)
    logistic, bce, hinge, squared, zero_one = (line.get_ydata() for line in ax.get_lines())
    assert_allclose(logistic, np.log1p(np.exp(-m)), rtol=1e-14)
    assert_allclose(bce, np.log1p(np.exp(-m)), rtol=1e-14)
    assert_allclose(hinge, np.maximum(0, 1 - m), rtol=1e-15)
    assert_allclose(squared, np.maximum(0, 1 - m) ** 2, rtol=1e-15)
    assert_allclose(zero_one, (m <= 0).astype(float), rtol=0)
    assert legend_texts(ax)[-1] == "zero-one" and ax.get_ylim() == (0.0, 6.0)


def test_linear_classifier_lines_and_support_vectors():
    """The level lines w . x + b = 0, -1, +1 and the circled points with margin <= 1 + tol."""
    points = np.array([[2.0, 2.0], [0.5, 0.0], [-2.0, -2.0], [0.0, 0.2]])
    labels = np.array([1.0, 1.0, -1.0, -1.0])
    params = np.array([1.0, 1.0, 0.0])  # f = x1 + x2; margins 4, 0.5, 4, -0.2
    ax = plotting.linear_classifier(points, labels, params, other=(1.0, 2.0, 0.5), other_label="other")
    boundary, minus, plus, other = ax.get_lines()
    x0 = boundary.get_xdata()
    assert_allclose(boundary.get_ydata(), -x0, rtol=1e-15)
    assert_allclose(minus.get_ydata(), -1 - x0, rtol=1e-15)
    assert_allclose(plus.get_ydata(), 1 - x0, rtol=1e-15)
    assert_allclose(other.get_ydata(), (-0.5 - x0) / 2, rtol=1e-15)
    assert_allclose(ax.collections[-1].get_offsets(), [[0.5, 0.0], [0.0, 0.2]], rtol=0)
    assert "support vectors (m ≤ 1)" in legend_texts(ax)
    with pytest.raises(ValueError, match="w_2 != 0"):
        plotting.linear_classifier(points, labels, (1.0, 0.0, 0.0))


def ctc_alignments_by_brute_force(label, steps):
    """Every path of ``steps`` symbols that collapses to ``label``, as (t, row) states, counted from 1.

    A path collapses to the label if merging its repeats and dropping its blanks gives the label.
    At step t, with k labels emitted so far, a label symbol sits in row 2k and a blank in row 2k + 1.
    """
    alignments = []
    for path in itertools.product(sorted(set(label)) + ["-"], repeat=steps):
        merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        if "".join(k for k in merged if k != "-") != label:
            continue
        rows, emitted = [], 0
        for t, symbol in enumerate(path):
            if symbol != "-" and (t == 0 or symbol != path[t - 1]):
                emitted += 1
            rows.append(2 * emitted + 1 if symbol == "-" else 2 * emitted)
        alignments.append(("".join(path), rows))
    return alignments


@pytest.mark.parametrize("label, steps", [("ab", 3), ("aa", 3), ("aab", 7), ("abba", 6), ("a", 1)])
def test_ctc_lattice_draws_exactly_the_states_and_moves_of_the_alignments(label, steps):
    """The solid states and the arrows are those that some alignment, found by brute force, uses."""
    alignments = ctc_alignments_by_brute_force(label, steps)
    states = {(t, s) for _, rows in alignments for t, s in enumerate(rows, 1)}
    moves = {((t, s), (t + 1, r)) for _, rows in alignments for t, (s, r) in enumerate(zip(rows, rows[1:]), 1)}
    ax = plotting.ctc_lattice(label, steps)
    (solid,) = [c for c in ax.collections if c.get_label() == "state on a complete path"]
    assert {tuple(point) for point in solid.get_offsets().astype(int).tolist()} == states
    assert {(tuple(a.xyann), tuple(a.xy)) for a in ax.texts} == moves
    assert len(ax.texts) == len(moves) and all(a.get_gid() == "move" for a in ax.texts)
    assert ax.get_title() and ax.get_xlabel() == "time step t" and ax.get_ylabel()
    assert [tick.get_text() for tick in ax.get_yticklabels()][:2] == ["1: ε", f"2: {label[0]}"]


@pytest.mark.parametrize("label, steps", [("ab", 3), ("aab", 7)])
def test_ctc_lattice_highlights_each_alignment_it_is_given(label, steps):
    """For every alignment, its steps are the arrows with gid "path" and its states are ringed."""
    for path, rows in ctc_alignments_by_brute_force(label, steps):
        ax = plotting.ctc_lattice(label, steps, path=path)
        highlighted = {(tuple(a.xyann), tuple(a.xy)) for a in ax.texts if a.get_gid() == "path"}
        assert highlighted == {((t, s), (t + 1, r)) for t, (s, r) in enumerate(zip(rows, rows[1:]), 1)}
        assert_allclose(ax.collections[-1].get_offsets(), np.column_stack([np.arange(1, steps + 1), rows]))
        assert legend_texts(ax)[-1] == f"the path {path.replace('-', 'ε')}"
        plt.close(ax.figure)


@pytest.mark.parametrize(
    "args, match",
    [
        (("", 3), "label must be a non-empty string"),
        (("a-b", 3), "label must be a non-empty string"),
        (("aa", 2), "steps must be an integer admitting an alignment"),
        (("ab", 0), "steps must be an integer"),
        (("ab", 3.0), "steps must be an integer"),
        (("ab", 3, "ab"), "path must be a string of 3 symbols"),
        (("ab", 3, "ba-"), "does not collapse to 'ab'"),
        (("ab", 3, "ab-b"), "path must be a string of 3 symbols"),
        (("aa", 3, "aa-"), "does not collapse to 'aa'"),
    ],
)
def test_ctc_lattice_refuses_bad_labels_steps_and_paths(args, match):
    """An empty label, too few steps, or a path of the wrong length or transcript raise ValueError."""
    with pytest.raises(ValueError, match=match):
        plotting.ctc_lattice(*args)


def test_embedding_scatter_draws_each_class_of_each_panel_at_its_points():
    """One panel per entry, titled; in each, one scatter per class holding exactly that class's points."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 50)
    panels = {"before": rng.standard_normal((50, 2)), "after": rng.standard_normal((50, 2))}
    axes = plotting.embedding_scatter(panels, labels)
    assert [ax.get_title() for ax in axes] == ["before", "after"]
    for ax, points in zip(axes, panels.values()):
        assert len(ax.collections) == np.unique(labels).size
        for cls, collection in zip(np.unique(labels), ax.collections):
            assert_allclose(collection.get_offsets(), points[labels == cls], rtol=0)
        assert ax.get_xlabel() == "embedding dimension 1" and ax.get_ylabel() == "embedding dimension 2"


def test_embedding_scatter_refuses_bad_shapes_and_labels():
    """Points that are not (n, 2), or labels that are not integers, raise ValueError."""
    with pytest.raises(ValueError, match=r"must have shape \(3, 2\)"):
        plotting.embedding_scatter({"a": np.ones((3, 3))}, np.arange(3))
    with pytest.raises(ValueError, match="labels must be one integer class per point"):
        plotting.embedding_scatter({"a": np.ones((3, 2))}, np.ones(3))
    figure, axes = plt.subplots(1, 2)
    assert plotting.embedding_scatter({"a": np.ones((3, 2)), "b": np.ones((3, 2))}, np.arange(3),
                                      axes=axes) == tuple(axes)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: plotting.mse_and_rmse(np.ones((2, 2)), X), "targets and c must be 1-D"),
        (lambda: plotting.line_fits(np.ones(3), np.ones(4), {}), "x and y must be 1-D of one length"),
        (lambda: plotting.linear_classifier(np.ones((2, 3)), np.ones(2), (1.0, 1.0, 0.0)), r"shape \(n, 2\)"),
        (lambda: plotting.linear_classifier(np.ones((2, 2)), np.zeros(2), (1.0, 1.0, 0.0)), "labels must be"),
    ],
)
def test_figure_helpers_refuse_bad_shapes_and_labels(call, match):
    """Bad shapes or labels raise ValueError saying what was wrong."""
    with pytest.raises(ValueError, match=match):
        call()


# The figures of "What a loss function is" and "Binary cross-entropy".


def pinball_by_hand(forecast, outcome, q):
    """q per unit the outcome exceeds the forecast, 1 - q per unit it falls short."""
    return q * np.maximum(outcome - forecast, 0.0) + (1.0 - q) * np.maximum(forecast - outcome, 0.0)


def test_pinball_curves_draw_the_loss_of_one_forecast_per_level():
    """One line per level, q max(y - f, 0) + (1 - q) max(f - y, 0), and a dotted line at the forecast."""
    outcomes = np.linspace(50.0, 150.0, 41)
    ax = plotting.pinball_curves(100.0, outcomes, {"low": 0.1, "high": 0.9}, xlabel="price")
    *curves, marker = ax.get_lines()
    assert len(curves) == 2 and legend_texts(ax) == ["low", "high"]
    for line, q in zip(curves, (0.1, 0.9)):
        assert_allclose(line.get_ydata(), pinball_by_hand(100.0, outcomes, q), rtol=1e-15, atol=0)
    assert list(marker.get_xdata()) == [100.0, 100.0] and marker.get_linestyle() == ":"
    assert ax.get_xlabel() == "price" and ax.get_ylabel() == "pinball loss" and ax.get_title()


def test_average_pinball_curves_are_lowest_at_the_marked_sample_quantile():
    """Each line is the mean pinball loss over the scenarios; its dot sits at the order statistic ceil(n q)."""
    scenarios = np.random.default_rng(0).standard_normal(101)
    candidates = np.linspace(-3.0, 3.0, 61)
    ax = plotting.average_pinball_curves(scenarios, candidates, {"q = 0.2": 0.2, "q = 0.7": 0.7})
    curve_low, dot_low, curve_high, dot_high = ax.get_lines()
    for curve, dot, q in ((curve_low, dot_low, 0.2), (curve_high, dot_high, 0.7)):
        by_hand = [pinball_by_hand(f, scenarios, q).mean() for f in candidates]
        assert_allclose(curve.get_ydata(), by_hand, rtol=1e-13)
        # With n = 101 and n q not an integer, the minimiser is the ceil(n q)-th smallest scenario.
        order_statistic = np.sort(scenarios)[int(np.ceil(101 * q)) - 1]
        assert dot.get_xdata()[0] == order_statistic
        assert_allclose(dot.get_ydata()[0], pinball_by_hand(order_statistic, scenarios, q).mean(), rtol=1e-13)
    assert ax.get_xlabel() == "constant forecast" and legend_texts(ax) == ["q = 0.2", "q = 0.7"]


def test_accuracy_and_cross_entropy_panels():
    """Left: the fraction of correct signs of w x + b; right: mean log(1 + e^-z) or log(1 + e^z); probes dotted."""
    x = np.array([-1.0, 0.5, 2.0, -0.3])
    y = np.array([0.0, 1.0, 1.0, 1.0])
    weights = np.linspace(-2.0, 2.0, 9)
    left, right = plotting.accuracy_and_cross_entropy(x, y, weights, bias=-0.5, probes=[1.0])
    z = weights[:, None] * x - 0.5
    accuracy = [np.mean([(zi > 0) == (yi == 1) for zi, yi in zip(row, y)]) for row in z]
    cross_entropy = np.mean(np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z)), axis=1)
    assert_allclose(left.get_lines()[0].get_ydata(), accuracy, rtol=0)
    assert_allclose(right.get_lines()[0].get_ydata(), cross_entropy, rtol=1e-14)
    for ax in (left, right):
        assert list(ax.get_lines()[1].get_xdata()) == [1.0, 1.0] and ax.get_xlabel() == "weight w"
    assert left.get_title() == "Accuracy: a staircase" and right.get_title() == "Cross-entropy: a slope"


def test_likelihood_underflow_stops_the_product_where_float64_does():
    """The summed logs run to the end; the product stops at its last positive float64, k = 1074 for halves."""
    ax = plotting.likelihood_underflow(np.full(1100, 0.5))
    sums, product, dot, floor = ax.get_lines()
    assert_allclose(sums.get_ydata(), -np.arange(1, 1101) * np.log10(2.0), rtol=1e-13)
    # 2^-1074 is the smallest positive double; 2^-1075 rounds to 0.
    assert product.get_xdata()[-1] == 1074 and dot.get_xdata()[0] == 1074
    assert_allclose(product.get_ydata(), -np.arange(1, 1075) * np.log10(2.0), rtol=1e-13)
    assert floor.get_ydata()[0] == pytest.approx(-1074 * np.log10(2.0))
    assert ax.get_xlabel() == "number of labels k" and len(legend_texts(ax)) == 3


def test_loss_and_gradient_of_logit_bce():
    """Left: softplus(-z) for target 1 and softplus(z) for target 0; right: sigmoid(z) - y."""
    z = np.linspace(-8.0, 8.0, 33)
    loss_ax, grad_ax = plotting.loss_and_gradient("bce_logits", z, targets=(1.0, 0.0), xlabel="logit z")
    (loss_one, loss_zero), (grad_one, grad_zero) = loss_ax.get_lines(), grad_ax.get_lines()
    assert_allclose(loss_one.get_ydata(), np.logaddexp(0, -z), rtol=1e-14)
    assert_allclose(loss_zero.get_ydata(), np.logaddexp(0, z), rtol=1e-14)
    assert_allclose(grad_one.get_ydata(), 1 / (1 + np.exp(-z)) - 1, rtol=1e-13, atol=1e-16)
    assert_allclose(grad_zero.get_ydata(), 1 / (1 + np.exp(-z)), rtol=1e-14)
    assert legend_texts(loss_ax) == ["target 1", "target 0"] and grad_ax.get_xlabel() == "logit z"
    with pytest.raises(ValueError, match="scores a whole row"):
        plotting.loss_and_gradient("cross_entropy", z, targets=(1.0,))


def test_the_chapter_figures_draw_on_the_axes_they_are_given():
    """Given Axes, each new helper draws there and returns them."""
    figure, axes = plt.subplots(2, 3)
    levels = {"median": 0.5}
    assert plotting.pinball_curves(0.0, X, levels, ax=axes[0, 0]) is axes[0, 0]
    assert plotting.average_pinball_curves(X, X, levels, ax=axes[0, 1]) is axes[0, 1]
    assert plotting.likelihood_underflow([0.5, 0.25], ax=axes[0, 2]) is axes[0, 2]
    pair = (axes[1, 0], axes[1, 1])
    assert plotting.loss_and_gradient("l2", X, (0.0,), axes=pair) == pair
    assert plotting.accuracy_and_cross_entropy([1.0], [1.0], X, axes=pair) == pair
    assert len(figure.axes) == 6


def test_log_loss_guards_plots_each_column_on_a_log_axis():
    """One line per column, with the column's values and name, on a logarithmic p axis."""
    import pandas as pd

    p = np.logspace(-20, 0, 21)
    curves = pd.DataFrame({"exact": -np.log(p), "clipped at 1e-7": -np.log(np.maximum(p, 1e-7))})
    ax = plotting.log_loss_guards(p, curves)
    assert ax.get_xscale() == "log" and legend_texts(ax) == ["exact", "clipped at 1e-7"]
    (exact, clipped) = ax.get_lines()
    assert_allclose(exact.get_ydata(), 20 * np.log(10) * np.linspace(1, 0, 21), rtol=1e-14, atol=1e-14)
    assert clipped.get_ydata().max() == pytest.approx(7 * np.log(10), rel=1e-14)
    assert exact.get_linewidth() > clipped.get_linewidth()
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() == "loss"


def test_log_loss_guards_rejects_mismatched_or_non_positive_p():
    """A curve table of the wrong length, or a p of 0 on the log axis, raises ValueError."""
    import pandas as pd

    with pytest.raises(ValueError, match="one row per value of p"):
        plotting.log_loss_guards(np.array([0.1, 0.2]), pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValueError, match="p must be > 0"):
        plotting.log_loss_guards(np.array([0.0, 0.2]), pd.DataFrame({"a": [1.0, 2.0]}))


def test_softmax_temperatures_bars_are_torch_softmax():
    """Each group of bars is torch.softmax(scores / T), labelled T = ..."""
    import torch

    scores, temperatures = np.arange(1.0, 6.0), [0.5, 2.0]
    ax = plotting.softmax_temperatures(scores, temperatures)
    assert legend_texts(ax) == ["T = 0.5", "T = 2"]
    heights = [bar.get_height() for bar in ax.patches]
    for k, temperature in enumerate(temperatures):
        expected = torch.softmax(torch.tensor(scores / temperature), 0).numpy()
        assert_allclose(heights[5 * k:5 * (k + 1)], expected, rtol=1e-15)
    assert ax.get_xlabel() == "logit" and ax.get_ylabel() == "softmax probability"


def test_softmax_temperatures_rejects_bad_input():
    """A matrix of scores or a temperature of 0 raises ValueError."""
    with pytest.raises(ValueError, match="one vector of logits"):
        plotting.softmax_temperatures(np.ones((2, 2)), [1.0])
    with pytest.raises(ValueError, match="every temperature must be > 0"):
        plotting.softmax_temperatures(np.ones(3), [1.0, 0.0])


def test_cross_entropy_vs_squared_error_matches_torch_autograd():
    """Both panels' lines are the losses of z = (gap, 0), true class 0 (mpmath, torch) and their torch gradients."""
    import torch

    gap = np.linspace(-12.0, 12.0, 25)
    loss_ax, grad_ax = plotting.cross_entropy_vs_squared_error(gap)
    z = torch.tensor(np.stack([gap, np.zeros_like(gap)], axis=1), requires_grad=True)
    target = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    ce = torch.nn.functional.cross_entropy(z, torch.zeros(25, dtype=torch.int64), reduction="none")
    (ce_grad,) = torch.autograd.grad(ce.sum(), z)
    se = ((torch.softmax(z, 1) - target) ** 2).sum(1)
    (se_grad,) = torch.autograd.grad(se.sum(), z)
    ce_line, se_line = loss_ax.get_lines()
    # The loss of class 0 for z = (gap, 0) is log(1 + e^-gap); torch forms 1 + s, so mpmath is the reference.
    import mpmath

    exact = [float(mpmath.log1p(mpmath.exp(-mpmath.mpf(g)))) for g in gap]
    assert_allclose(ce_line.get_ydata(), exact, rtol=2e-16)
    assert_allclose(ce_line.get_ydata(), ce.detach().numpy(), rtol=0, atol=1e-15)
    assert_allclose(se_line.get_ydata(), se.detach().numpy(), rtol=1e-14, atol=1e-15)
    ce_grad_line, se_grad_line = grad_ax.get_lines()
    # p_0 - 1 and its squared-error counterpart lose digits to cancellation when p_0 is near 1:
    # both sides are computed from probabilities of size about 1, hence an absolute bound of 2^-52.
    assert_allclose(ce_grad_line.get_ydata(), ce_grad[:, 0].numpy(), rtol=0, atol=2.0**-52)
    assert_allclose(se_grad_line.get_ydata(), se_grad[:, 0].numpy(), rtol=0, atol=2.0**-52)
    assert legend_texts(grad_ax) == ["cross-entropy", "squared error on p"]
    assert loss_ax.get_title() == "Loss" and grad_ax.get_title() == "Gradient"


# The figures of the chapter "Training with a loss".

RUN_LOSS = np.array([0.9, 0.5, 0.3, 0.2])
RUN_ACCURACY = np.array([0.1, 0.4, 0.7, 0.8, 0.9])


def test_loss_and_accuracy_curves_draw_each_run_at_its_steps():
    """Loss at steps 1..n and accuracy at steps 0..n, one line per run in each panel, titled."""
    other = (RUN_LOSS[::-1], RUN_ACCURACY[::-1])
    left, right = plotting.loss_and_accuracy_curves({"a": (RUN_LOSS, RUN_ACCURACY), "b": other})
    (loss_a, loss_b), (acc_a, acc_b) = left.get_lines(), right.get_lines()
    assert loss_a.get_xdata().tolist() == [1, 2, 3, 4] and acc_a.get_xdata().tolist() == [0, 1, 2, 3, 4]
    assert_allclose(loss_b.get_ydata(), RUN_LOSS[::-1], rtol=0)
    assert_allclose(acc_a.get_ydata(), RUN_ACCURACY, rtol=0)
    assert legend_texts(left) == ["a", "b"] and right.get_legend() is None
    assert left.get_title() == "Loss" and right.get_title() == "Held-out accuracy"
    assert left.get_xlabel() == right.get_xlabel() == "step" and left.get_ylabel() and right.get_ylabel()
    assert right.get_ylim() == (0.0, 1.0)
    assert loss_a.get_color() == acc_a.get_color() != loss_b.get_color()


def test_loss_and_accuracy_curves_need_the_accuracy_before_the_first_step():
    """An accuracy curve must have one value more than its loss curve."""
    with pytest.raises(ValueError, match="one value more than its loss"):
        plotting.loss_and_accuracy_curves({"a": (RUN_LOSS, RUN_ACCURACY[1:])})
    with pytest.raises(ValueError, match="non-empty 1-D array"):
        plotting.loss_and_accuracy_curves({"a": (RUN_LOSS[:, None], RUN_ACCURACY)})


def test_training_losses_dash_the_overlays_and_can_use_a_log_axis():
    """One line per run at steps 1..n; the named runs dashed and on top; a log axis on request."""
    ax = plotting.training_losses({"torch": RUN_LOSS, "gluon": RUN_LOSS}, title="Runs",
                                  dashed=["gluon"], logy=True)
    solid, dashed = ax.get_lines()
    assert solid.get_linestyle() == "-" and dashed.get_linestyle() == "--"
    assert dashed.get_zorder() > solid.get_zorder()
    assert_allclose(dashed.get_ydata(), RUN_LOSS, rtol=0)
    assert ax.get_yscale() == "log" and ax.get_title() == "Runs"
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "training loss of the batch"
    with pytest.raises(ValueError, match="dashed must name runs"):
        plotting.training_losses({"torch": RUN_LOSS}, title="Runs", dashed=["gluon"])


def test_saturated_gradients_scatter_per_example_and_plot_per_step():
    """The left panel scatters gradient length against p_true (log axis); the right plots the norms."""
    p_true = np.array([1e-6, 0.1, 0.9])
    sizes = {"cross-entropy": np.array([1.4, 1.0, 0.1]), "squared error on p": np.array([0.0, 0.5, 0.2])}
    norms = {"cross-entropy": RUN_LOSS, "squared error on p": RUN_LOSS / 10}
    left, right = plotting.saturated_gradients(p_true, sizes, norms)
    first, second = left.collections
    assert_allclose(second.get_offsets(), np.column_stack([p_true, sizes["squared error on p"]]), rtol=0)
    assert left.get_xscale() == "log" and legend_texts(left) == list(sizes)
    assert_allclose(right.get_lines()[1].get_ydata(), RUN_LOSS / 10, rtol=0)
    assert left.get_title() and right.get_title() and left.get_ylabel() and right.get_ylabel()
    with pytest.raises(ValueError, match="p_true must be a 1-D array of probabilities"):
        plotting.saturated_gradients(np.array([0.0, 0.5]), {}, {})
    with pytest.raises(ValueError, match="must match p_true"):
        plotting.saturated_gradients(p_true, {"a": np.ones(2)}, {})


def test_trajectory_gaps_one_panel_per_optimiser():
    """One titled panel per entry, one line per port from step 0, the reference in the axis label."""
    gaps = {"SGD": {"keep": np.zeros(3), "drop": np.array([0.0, 1.0, 2.0])},
            "Adam": {"keep": np.zeros(3), "drop": np.array([0.0, 1e-9, 2e-9])}}
    axes = plotting.trajectory_gaps(gaps, reference="gluon's L2Loss")
    assert [ax.get_title() for ax in axes] == ["SGD", "Adam"]
    assert axes[0].get_lines()[1].get_xdata().tolist() == [0, 1, 2]
    assert_allclose(axes[1].get_lines()[1].get_ydata(), [0.0, 1e-9, 2e-9], rtol=0)
    assert axes[0].get_ylabel() == "distance from gluon's L2Loss"
    assert legend_texts(axes[0]) == ["keep", "drop"] and axes[1].get_legend() is None


def test_mean_and_spread_draws_each_mean_and_a_two_std_band():
    """Each fit's mean line and the band mean ± 2 std (a scalar std broadcast), then the data."""
    grid = np.linspace(-1.0, 1.0, 5)
    ax = plotting.mean_and_spread(grid, 2 * grid, grid, {"learned": (2 * grid, 0.1 + 0 * grid),
                                                        "constant": (2 * grid, 0.5)})
    learned, constant = ax.get_lines()
    assert_allclose(constant.get_ydata(), 2 * grid, rtol=0)
    band = ax.collections[1].get_paths()[0].vertices
    assert_allclose(band[:, 1].max(), 2 + 2 * 0.5, rtol=1e-15)
    assert_allclose(band[:, 1].min(), -2 - 2 * 0.5, rtol=1e-15)
    assert legend_texts(ax) == ["learned: mean", "learned: ±2 std", "constant: mean", "constant: ±2 std",
                                "data"]
    assert ax.get_title() and ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    with pytest.raises(ValueError, match="one mean per grid point"):
        plotting.mean_and_spread(grid, grid, grid, {"bad": (grid[:3], 0.1)})
    with pytest.raises(ValueError, match="x and y must be 1-D of one length"):
        plotting.mean_and_spread(grid, grid[:3], grid, {})


def test_the_training_figures_draw_on_the_axes_they_are_given():
    """Given Axes, each training figure draws there and returns them."""
    figure, axes = plt.subplots(2, 3)
    pair, triple = (axes[0, 0], axes[0, 1]), tuple(axes[1])
    assert plotting.loss_and_accuracy_curves({"a": (RUN_LOSS, RUN_ACCURACY)}, axes=pair) == pair
    assert plotting.saturated_gradients([0.5], {"a": [1.0]}, {"a": RUN_LOSS}, axes=pair) == pair
    gaps = {name: {"port": np.zeros(3)} for name in ("SGD", "decay", "Adam")}
    assert plotting.trajectory_gaps(gaps, axes=triple) == triple
    assert plotting.training_losses({"a": RUN_LOSS}, title="t", ax=axes[0, 2]) is axes[0, 2]
    assert plotting.mean_and_spread([0.0], [0.0], [0.0], {"a": ([0.0], 1.0)}, ax=axes[0, 2]) is axes[0, 2]
    assert len(figure.axes) == 6

"""The plotting helpers: labels, titles, lines, the values they plot, and the book style."""

import io

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

"""The figures the chapters draw, in one style that reads on light and dark pages.

Every function draws on the Axes it is given, or on a new figure, and returns
the Axes. The curves are computed from catalog entries, never typed in, and the
figures are deterministic. The style is opaque white with dark text (so a dark
page theme cannot swallow it), the Okabe-Ito colour-blind-safe palette, and
sizes that read at about 700 px wide.

Examples
--------
>>> import numpy as np
>>> import lossbook as lb
>>> ax = lb.plotting.loss_curves(["hinge", "soft_margin"], np.linspace(-2, 2, 81), target=1.0)
>>> len(ax.get_lines())
2
"""

import contextlib
import itertools

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler

from . import catalog

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
"""Okabe-Ito colours, in the order lines take them (its yellow is left out, being too pale on white)."""

_PREDICTION_LABEL = "prediction (the loss's input)"

TEXT_COLOUR = "#222222"
"""The colour of all text, ticks and axis lines."""

STYLE = {
    "figure.figsize": (7.0, 4.2),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "savefig.dpi": 100,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "axes.facecolor": "white",
    "axes.edgecolor": TEXT_COLOUR,
    "axes.labelcolor": TEXT_COLOUR,
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.8,
    "text.color": TEXT_COLOUR,
    "xtick.color": TEXT_COLOUR,
    "ytick.color": TEXT_COLOUR,
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "legend.framealpha": 1.0,
    "legend.facecolor": "white",
    "legend.edgecolor": "#CCCCCC",
    "lines.linewidth": 2.0,
    "svg.hashsalt": "lossbook",
}
"""The book's matplotlib settings; 7 x 4.2 inches at 100 dpi is 700 x 420 px."""


@contextlib.contextmanager
def book_style():
    """Apply the book's style to the figures made inside the ``with`` block.

    It is ``matplotlib.rc_context(STYLE)`` except for one thing: interactive
    mode is left as the block leaves it. In Jupyter the inline backend is set
    up when the first figure is made and turns interactive mode on; were that
    undone on exit, no later figure in the notebook would be shown.

    Yields
    ------
    None

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import lossbook as lb
    >>> with lb.plotting.book_style():
    ...     figure, ax = plt.subplots()
    >>> figure.get_facecolor()
    (1.0, 1.0, 1.0, 1.0)
    """
    with matplotlib.rc_context(STYLE):
        yield
        interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def _axes(ax):
    """Return ``ax``, or the Axes of a new figure (call under :func:`book_style`)."""
    return plt.subplots()[1] if ax is None else ax


def _label(ax, title, xlabel, ylabel):
    """Give ``ax`` its title, axis labels and legend."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()


def neg_log(ax=None):
    r"""Plot the log loss of a predicted probability when the true label is 1 and when it is 0.

    The curves are binary cross-entropy from the catalog (``"bce"``): with label
    1 it is :math:`-\log p`, with label 0 it is :math:`-\log(1 - p)`, for p from
    0.01 to 0.99.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    bce = catalog.get("bce")
    probability = np.linspace(0.01, 0.99, 99)
    with book_style():
        ax = _axes(ax)
        curves = ((1.0, r"$-\log p$"), (0.0, r"$-\log(1 - p)$"))
        for (label, formula), colour in zip(curves, PALETTE):
            loss = bce.loss(probability, np.full_like(probability, label), reduction="none")
            ax.plot(probability, loss, color=colour, label=f"true label {label:g}: {formula}")
        _label(
            ax,
            "Log loss when the true label is 1 or 0",
            "predicted probability p of label 1",
            "loss",
        )
    return ax


def likelihood_underflow(probabilities, ax=None):
    r"""Plot the likelihood of the first k labels, multiplied and summed as logarithms, in float64.

    The running product :math:`\prod_{i \le k} p_i` is drawn (dotted) until it
    underflows to exactly 0, with a dot at its last positive value; the running
    sum :math:`\sum_{i \le k} \log p_i` (solid) carries on. Both are shown as
    :math:`\log_{10}` of the likelihood, beside the smallest positive float64.

    Parameters
    ----------
    probabilities : array_like
        The probability the model gave to each observed label, in (0, 1].
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    p = np.asarray(probabilities, dtype=np.float64)
    k = np.arange(1, p.size + 1)
    running = np.cumprod(p)
    kept = running > 0
    with book_style():
        ax = _axes(ax)
        ax.plot(k, np.cumsum(np.log(p)) / np.log(10), color=PALETTE[0], label="sum of logs (float64)")
        products = np.log10(running[kept])
        ax.plot(k[kept], products, color=PALETTE[1], linestyle=(0, (1, 1)), linewidth=3,
                label="running product (float64)")
        ax.plot(k[kept][-1:], products[-1:], "o", color=PALETTE[1])
        ax.axhline(np.log10(np.nextafter(0.0, 1.0)), color=PALETTE[6], linestyle="--", linewidth=1,
                   label="smallest positive float64")
        _label(ax, "The likelihood of k labels, multiplied and summed", "number of labels k",
               r"$\log_{10}$ of the likelihood")
    return ax


def loss_and_gradient(key, x, targets, *, xlabel=_PREDICTION_LABEL, axes=None):
    """Plot a catalog loss (left) and its derivative (right) against the prediction, per target.

    Parameters
    ----------
    key : str or catalog.LossEntry
        A loss that scores single values (``entry.elementwise``).
    x : array_like
        The predictions along the horizontal axes.
    targets : iterable of float
        One line per target, in each panel.
    xlabel : str, optional
        The label of both horizontal axes.
    axes : tuple of matplotlib.axes.Axes, optional
        Two Axes to draw on; a new figure with two panels side by side by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        The loss panel and the gradient panel.

    Raises
    ------
    ValueError
        If the loss scores whole rows of class scores.
    """
    (entry,) = _elementwise_entries([key])
    x = np.asarray(x, dtype=np.float64)
    with book_style():
        if axes is None:
            axes = plt.subplots(1, 2, figsize=(7.0, 3.6), sharex=True)[1]
        for target, colour in zip(targets, itertools.cycle(PALETTE)):
            y = np.full_like(x, target)
            axes[0].plot(x, entry.loss(x, y, reduction="none", **entry.options), color=colour,
                         label=f"target {target:g}")
            axes[1].plot(x, entry.grad(x, y, reduction="none", **entry.options), color=colour,
                         label=f"target {target:g}")
        _label(axes[0], f"{entry.title}: loss", xlabel, "loss")
        _label(axes[1], f"{entry.title}: gradient", xlabel, "d loss / d prediction")
    return tuple(axes)


def pinball_curves(forecast, outcomes, levels, *, xlabel="outcome", ax=None):
    """Plot the pinball (quantile) loss of one forecast against each possible outcome.

    One line per level ``q``, from the catalog's ``"quantile"`` entry, and a
    dotted vertical line at the forecast.

    Parameters
    ----------
    forecast : float
    outcomes : array_like
        The outcomes along the horizontal axis.
    levels : dict
        ``{legend label: q}``, each ``q`` strictly between 0 and 1.
    xlabel : str, default "outcome"
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    quantile = catalog.get("quantile")
    outcomes = np.asarray(outcomes, dtype=np.float64)
    with book_style():
        ax = _axes(ax)
        for (name, q), colour in zip(levels.items(), itertools.cycle(PALETTE)):
            loss = quantile.loss(np.full_like(outcomes, forecast), outcomes, reduction="none", q=q)
            ax.plot(outcomes, loss, color=colour, label=name)
        ax.axvline(forecast, color="#888888", linestyle=":", linewidth=1.5)
        _label(ax, "One forecast, charged by each pinball loss", xlabel, "pinball loss")
    return ax


def average_pinball_curves(scenarios, candidates, levels, *, xlabel="constant forecast", ax=None):
    """Plot the average pinball loss over scenarios against a constant forecast, minimisers marked.

    For each level ``q`` the line is the mean, over ``scenarios``, of the
    pinball loss of each candidate forecast; a dot marks the sample
    ``q``-quantile of the scenarios (numpy's ``"inverted_cdf"`` method).

    Parameters
    ----------
    scenarios : array_like
        The possible outcomes, equally likely.
    candidates : array_like
        The constant forecasts along the horizontal axis.
    levels : dict
        ``{legend label: q}``, each ``q`` strictly between 0 and 1.
    xlabel : str, default "constant forecast"
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    quantile = catalog.get("quantile")
    scenarios = np.asarray(scenarios, dtype=np.float64).ravel()

    def average(forecasts, q):
        grid = np.broadcast_to(np.asarray(forecasts, dtype=np.float64)[:, None],
                               (np.size(forecasts), scenarios.size))
        targets = np.broadcast_to(scenarios, grid.shape)
        return quantile.loss(grid, targets, reduction="none", q=q).mean(axis=1)

    with book_style():
        ax = _axes(ax)
        for (name, q), colour in zip(levels.items(), itertools.cycle(PALETTE)):
            ax.plot(candidates, average(candidates, q), color=colour, label=name)
            best = np.quantile(scenarios, q, method="inverted_cdf", keepdims=True)
            ax.plot(best, average(best, q), "o", color=colour, markersize=8)
        _label(ax, "Each pinball loss is minimised by its own quantile", xlabel,
               "average pinball loss over the scenarios")
    return ax


def accuracy_and_cross_entropy(x, y, weights, *, bias=0.0, probes=(), axes=None):
    r"""Plot the accuracy (left) and mean binary cross-entropy (right) of a one-weight classifier.

    The classifier predicts label 1 when :math:`w x + b > 0`, with probability
    :math:`\sigma(w x + b)`; both panels are drawn against the weight ``w``,
    with a dotted vertical line at each of ``probes``.

    Parameters
    ----------
    x : array_like
        The inputs, one per example.
    y : array_like
        Their 0/1 labels.
    weights : array_like
        The weights along the horizontal axes.
    bias : float, default 0.0
        The frozen bias ``b``.
    probes : iterable of float, optional
        Weights to mark.
    axes : tuple of matplotlib.axes.Axes, optional
        Two Axes to draw on; a new figure with two panels side by side by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        The accuracy panel and the cross-entropy panel.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    logits = weights[:, None] * x + bias
    accuracy = ((logits > 0) == (y == 1)).mean(axis=1)
    cross_entropy = catalog.get("bce_logits").loss(
        logits, np.broadcast_to(y, logits.shape), reduction="none").mean(axis=1)
    with book_style():
        if axes is None:
            axes = plt.subplots(1, 2, figsize=(7.0, 3.4))[1]
        panels = (("Accuracy: a staircase", "accuracy", accuracy),
                  ("Cross-entropy: a slope", "mean binary cross-entropy", cross_entropy))
        for ax, (title, ylabel, values), colour in zip(axes, panels, PALETTE):
            ax.plot(weights, values, color=colour)
            ax.set_title(title)
            ax.set_xlabel("weight w")
            ax.set_ylabel(ylabel)
            for probe in probes:
                ax.axvline(probe, color="#888888", linestyle=":", linewidth=1.2)
    return tuple(axes)


def _elementwise_entries(keys):
    """Look up catalog entries (or pass entries through), refusing those that score whole rows."""
    entries = [catalog.as_entry(key) for key in keys]
    for entry in entries:
        if not entry.elementwise:
            raise ValueError(
                f"the {entry.key!r} loss scores a whole row of class scores, so it has no curve "
                "against one prediction"
            )
    return entries


def _curves(ax, keys, x, target, function):
    """Plot, for each entry, its ``function`` ("loss" or "grad") of ``x`` against ``target``."""
    x = np.asarray(x, dtype=np.float64)
    targets = np.full_like(x, target)
    for entry, colour in zip(_elementwise_entries(keys), itertools.cycle(PALETTE)):
        values = getattr(entry, function)(x, targets, reduction="none", **entry.options)
        ax.plot(x, values, color=colour, label=entry.title)


def loss_curves(keys, x, target, ax=None):
    """Plot several catalog losses against the prediction, for one fixed target.

    Parameters
    ----------
    keys : iterable of str or catalog.LossEntry
        The losses, by key or as entries (for non-default options); each must
        score single values (``entry.elementwise``).
    x : array_like
        The predictions (the losses' input) along the horizontal axis.
    target : float
        The target every prediction is scored against (a label of the format
        the losses take: +1/-1 for margin losses, 0/1 for cross-entropy).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One line per loss, labelled with the entry's title.

    Raises
    ------
    ValueError
        If a loss scores whole rows of class scores.
    """
    with book_style():
        ax = _axes(ax)
        _curves(ax, keys, x, target, "loss")
        _label(ax, f"Loss against the prediction, target = {target:g}", _PREDICTION_LABEL, "loss")
    return ax


def gradient_curves(keys, x, target, ax=None):
    """Plot the derivatives of several catalog losses against the prediction, for one target.

    Parameters and errors are those of :func:`loss_curves`.

    Returns
    -------
    matplotlib.axes.Axes
        One line per loss, labelled with the entry's title.
    """
    with book_style():
        ax = _axes(ax)
        _curves(ax, keys, x, target, "grad")
        _label(
            ax,
            f"Gradient against the prediction, target = {target:g}",
            _PREDICTION_LABEL,
            "d loss / d prediction",
        )
    return ax


def relabel(ax, labels, *, xlabel=None, title=None):
    """Give the lines of ``ax`` their own legend labels, in order, and redraw the legend.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    labels : list of str
        One label per line, for the first ``len(labels)`` lines.
    xlabel, title : str, optional
        A new horizontal-axis label and title.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If there are more labels than lines.
    """
    lines = ax.get_lines()
    if len(labels) > len(lines):
        raise ValueError(f"labels has {len(labels)} entries but the Axes has only {len(lines)} lines")
    with book_style():
        for line, label in zip(lines, labels):
            line.set_label(label)
        if xlabel is not None:
            ax.set_xlabel(xlabel)
        if title is not None:
            ax.set_title(title)
        ax.legend()
    return ax


def mse_and_rmse(targets, c, axes=None):
    r"""Plot the MSE and RMSE of constant predictions (left) and their derivatives (right).

    For targets :math:`y_1, \dots, y_N` with mean :math:`\bar y`, the MSE of a
    constant :math:`c` is :math:`\frac1N \sum_i (c - y_i)^2`, with derivative
    :math:`2(c - \bar y)`, and the RMSE its square root, with derivative
    :math:`(c - \bar y) / \operatorname{RMSE}(c)`. A dotted line marks the mean.

    Parameters
    ----------
    targets : array_like
        The targets, 1-D and not all equal (the RMSE's derivative is undefined
        where it is 0).
    c : array_like
        The constant predictions along the horizontal axis, 1-D.
    axes : tuple of matplotlib.axes.Axes, optional
        Where to draw; a new figure with two panels by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        The loss panel and the derivative panel.

    Raises
    ------
    ValueError
        If ``targets`` or ``c`` is not 1-D, or the targets are all equal.
    """
    targets, c = np.asarray(targets, dtype=np.float64), np.asarray(c, dtype=np.float64)
    if targets.ndim != 1 or c.ndim != 1:
        raise ValueError(f"targets and c must be 1-D, got shapes {targets.shape} and {c.shape}")
    if np.all(targets == targets[0]):
        raise ValueError("targets must not all be equal: the RMSE would reach 0")
    mean = targets.mean()
    mse = ((c[:, None] - targets) ** 2).mean(axis=1)
    rmse = np.sqrt(mse)
    with book_style():
        if axes is None:
            axes = plt.subplots(1, 2, figsize=(7.0, 3.6))[1]
        left, right = axes
        left.plot(c, mse, label="MSE")
        left.plot(c, rmse, label="RMSE")
        right.plot(c, 2 * (c - mean), label="d MSE / dc")
        right.plot(c, (c - mean) / rmse, label="d RMSE / dc")
        right.set_ylim(-3, 3)
        for ax, title, ylabel in ((left, "Loss", "loss"), (right, "Gradient", "derivative")):
            ax.axvline(mean, color=PALETTE[6], linestyle=":", linewidth=1.2)
            _label(ax, title, "constant prediction c", ylabel)
    return left, right


def line_fits(x, y, fits, *, outlier=None, true_line=None, ax=None):
    """Plot data points and straight lines fitted to them.

    Parameters
    ----------
    x, y : array_like
        The data, 1-D of one length.
    fits : dict
        ``{name: (intercept, slope)}``; each line is labelled ``"<name> fit"``.
    outlier : int, optional
        The index of a point to circle and label "outlier".
    true_line : tuple of float, optional
        The intercept and slope of the line the data came from, drawn dashed.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The lines in order: the true line (if given), then one per fit, all
        over the range of ``x``.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` are not 1-D of one length.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    grid = np.array([x.min(), x.max()])
    with book_style():
        ax = _axes(ax)
        if true_line is not None:
            intercept, slope = true_line
            ax.plot(grid, intercept + slope * grid, color="#888888", linestyle="--",
                    linewidth=1.5, label="true line")
        for (name, (intercept, slope)), colour in zip(fits.items(), itertools.cycle(PALETTE)):
            ax.plot(grid, intercept + slope * grid, color=colour, label=f"{name} fit")
        ax.scatter(x, y, color=PALETTE[6], s=22, zorder=3, label="data")
        if outlier is not None:
            ax.scatter(x[outlier], y[outlier], s=160, facecolors="none", edgecolors=PALETTE[1],
                       linewidths=1.8, zorder=3, label="outlier")
        _label(ax, "Straight-line fits", "x", "y")
        ax.legend(loc="lower left")
    return ax


def margin_losses(m, ax=None):
    r"""Plot the margin losses against the score for the label +1, with the zero-one loss.

    The curves come from the catalog: the logistic loss with the signed label
    +1 (``"soft_margin"``), binary cross-entropy of logits with the label 1
    (``"bce_logits"``, dashed: the two coincide), the hinge and the squared
    hinge; then the zero-one loss, 1 for :math:`m \le 0` and 0 above, as a step.

    Parameters
    ----------
    m : array_like
        Scores, which for the label +1 are the margins, 1-D.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        Five lines in the order above.
    """
    m = np.asarray(m, dtype=np.float64)
    labels = [
        r"logistic, signed label $y = +1$",
        r"BCE with logits, binary label $t = 1$",
        r"hinge $\max(0, 1 - m)$",
        r"squared hinge $\max(0, 1 - m)^2$",
        "zero-one",
    ]
    with book_style():
        ax = loss_curves(["soft_margin", "bce_logits", "hinge", "squared_hinge"], m, 1.0, ax=ax)
        bce = ax.get_lines()[1]
        bce.set_linestyle((0, (4, 3)))
        bce.set_color(PALETTE[5])
        ax.step(m, (m <= 0).astype(float), where="post", color=PALETTE[6], linewidth=1.5)
        ax.set_ylim(0, 6)
        relabel(ax, labels, xlabel="score f(x) = margin m (label +1)",
                title="Margin losses, label fixed to +1")
    return ax


def linear_classifier(points, labels, params, *, other=None, other_label="other boundary",
                      tol=1e-3, ax=None):
    r"""Plot two classes of points, a linear classifier's boundary and margins, and its support vectors.

    The score is :math:`f(x) = w_1 x_1 + w_2 x_2 + b`. The boundary
    :math:`f = 0` is drawn solid and :math:`f = \pm 1` dotted; the points with
    margin :math:`y f(x) \le 1 + \mathrm{tol}` are circled as support vectors.

    Parameters
    ----------
    points : array_like
        Shape ``(n, 2)``.
    labels : array_like
        -1 or +1, shape ``(n,)``.
    params : array_like
        ``(w_1, w_2, b)`` with :math:`w_2 \ne 0`.
    other : array_like, optional
        A second classifier's ``(w_1, w_2, b)``, whose boundary is drawn dashed.
    other_label : str, default "other boundary"
        Its legend label.
    tol : float, default 1e-3
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The lines in order: boundary, the lines :math:`f = -1` and
        :math:`f = +1`, then the other boundary if given.

    Raises
    ------
    ValueError
        If the shapes are wrong, a label is not -1 or +1, or :math:`w_2 = 0`.
    """
    points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or labels.shape != (points.shape[0],):
        raise ValueError(f"points must have shape (n, 2) and labels (n,), got {points.shape} and {labels.shape}")
    if not np.all(np.isin(labels, (-1.0, 1.0))):
        raise ValueError("labels must be -1 or +1")
    for name, p in (("params", params), ("other", other)):
        if p is not None and (np.shape(p) != (3,) or p[1] == 0):
            raise ValueError(f"{name} must be (w_1, w_2, b) with w_2 != 0, got {p!r}")
    reach = 1.1 * np.abs(points).max()
    x0 = np.array([-reach, reach])

    def level_line(p, level):
        w0, w1, b = p
        return (level - b - w0 * x0) / w1

    margins = labels * (points @ np.asarray(params)[:2] + params[2])
    with book_style():
        ax = plt.subplots(figsize=(7.0, 5.6))[1] if ax is None else ax
        black = PALETTE[6]
        ax.plot(x0, level_line(params, 0.0), color=black, label="boundary f = 0")
        for level in (-1.0, 1.0):
            ax.plot(x0, level_line(params, level), color=black, linestyle=":", linewidth=1.2)
        if other is not None:
            ax.plot(x0, level_line(other, 0.0), linestyle="--", color=PALETTE[2], label=other_label)
        for cls, colour, marker in ((1.0, PALETTE[0], "o"), (-1.0, PALETTE[1], "s")):
            ax.scatter(*points[labels == cls].T, color=colour, marker=marker, s=22,
                       label=f"class {cls:+.0f}")
        support = margins <= 1 + tol
        ax.scatter(*points[support].T, s=150, facecolors="none", edgecolors=black,
                   linewidths=1.2, label="support vectors (m ≤ 1)")
        ax.set(xlim=(-reach, reach), ylim=(-reach, reach), xlabel="feature 1",
               ylabel="feature 2", title="A linear classifier and its support vectors")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=9)
    return ax


CTC_BLANK = "-"
"""How the CTC helpers write the blank in a path (the figure draws it as ε)."""


def _ctc_extended(label):
    """The extended label (blank, l_1, blank, ..., l_S, blank) of a label string."""
    extended = [CTC_BLANK]
    for symbol in label:
        extended += [symbol, CTC_BLANK]
    return extended


def _ctc_moves(extended, s):
    """The rows reachable from row ``s`` in one step: stay, move down one, or skip a blank."""
    moves = [s, s + 1]
    if s + 2 < len(extended) and extended[s + 2] not in (CTC_BLANK, extended[s]):
        moves.append(s + 2)
    return [m for m in moves if m < len(extended)]


def _ctc_rows(extended, path):
    """The rows (from 0) that ``path`` visits; ValueError if it does not collapse to the label."""
    rows = []
    for t, symbol in enumerate(path):
        options = [0, 1] if t == 0 else _ctc_moves(extended, rows[-1])
        matches = [s for s in options if extended[s] == symbol]
        if not matches:
            break
        rows.append(matches[0])
    if len(rows) != len(path) or rows[-1] < len(extended) - 2:
        raise ValueError(f"path {path!r} does not collapse to {''.join(extended[1::2])!r}")
    return rows


def _ctc_valid(extended, steps):
    """``valid[s, t]``: row ``s`` at step ``t`` is on a path from the first two rows to the last two."""
    rows = len(extended)
    forward = np.zeros((rows, steps), dtype=bool)
    forward[:2, 0] = True
    for t in range(1, steps):
        for s in np.flatnonzero(forward[:, t - 1]):
            forward[_ctc_moves(extended, s), t] = True
    backward = np.zeros_like(forward)
    backward[-2:, -1] = True
    for t in range(steps - 2, -1, -1):
        for s in range(rows):
            backward[s, t] = backward[_ctc_moves(extended, s), t + 1].any()
    return forward & backward


def ctc_lattice(label, steps, path=None, ax=None):
    r"""Draw the lattice of the CTC alignments of ``label`` over ``steps`` time steps.

    Row :math:`s` is the :math:`s`-th symbol of the extended label
    :math:`l' = (\epsilon, l_1, \epsilon, \dots, l_S, \epsilon)`, with the
    blank :math:`\epsilon` first, last and between every two labels; column
    :math:`t` is a time step. From one step to the next a path stays on its
    row, moves down one row, or skips a blank to the next label when that
    label differs from the one before the blank; it starts in one of the first
    two rows and ends in one of the last two. Every grid point is drawn faint,
    the states that lie on some complete path solid, with an arrow for every
    allowed move between them, and ``path`` is drawn on top.

    Parameters
    ----------
    label : str
        The label sequence, one character per label, without blanks.
    steps : int
        The number of time steps :math:`T`.
    path : str, optional
        An alignment to highlight: ``steps`` characters, the blank written
        ``"-"``, that collapse to ``label``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        The arrows are annotations (``ax.texts``) from ``xyann = (t, s)`` to
        ``xy = (t + 1, s')``, time steps and rows counted from 1; those of
        ``path`` have the gid ``"path"``, the others ``"move"``.

    Raises
    ------
    ValueError
        If ``label`` is empty or holds ``"-"``, ``steps`` admits no
        alignment, or ``path`` has the wrong length or does not collapse to
        ``label``.
    """
    if not isinstance(label, str) or not label or CTC_BLANK in label:
        raise ValueError(f"label must be a non-empty string without {CTC_BLANK!r}, got {label!r}")
    extended = _ctc_extended(label)
    valid = _ctc_valid(extended, steps) if isinstance(steps, int) and steps >= 1 else None
    if valid is None or not valid.any():
        raise ValueError(f"steps must be an integer admitting an alignment of {label!r}, got {steps!r}")
    if path is not None and (not isinstance(path, str) or len(path) != steps):
        raise ValueError(f"path must be a string of {steps} symbols, got {path!r}")
    chosen = [] if path is None else _ctc_rows(extended, path)
    grey, orange = "#888888", PALETTE[1]
    with book_style():
        ax = _axes(ax)
        grid_t, grid_s = np.meshgrid(np.arange(1, steps + 1), np.arange(1, len(extended) + 1))
        ax.scatter(grid_t.ravel(), grid_s.ravel(), s=12, color="#BBBBBB", zorder=1)
        for t in range(steps - 1):
            for s in np.flatnonzero(valid[:, t]):
                for target in (m for m in _ctc_moves(extended, s) if valid[m, t + 1]):
                    bold = bool(chosen) and (chosen[t], chosen[t + 1]) == (s, target)
                    style = {"arrowstyle": "-|>", "color": orange if bold else grey,
                             "lw": 3.0 if bold else 1.2, "shrinkA": 8, "shrinkB": 8}
                    ax.annotate("", xy=(t + 2, target + 1), xytext=(t + 1, s + 1),
                                arrowprops=style, gid="path" if bold else "move",
                                zorder=3 if bold else 2)
        ax.scatter(*(np.argwhere(valid.T) + 1).T, s=90, color=PALETTE[0], zorder=4,
                   label="state on a complete path")
        ax.plot([], [], color=grey, lw=1.2, label="allowed move")
        if chosen:
            ax.scatter(np.arange(1, steps + 1), np.add(chosen, 1), s=260, facecolors="none",
                       edgecolors=orange, linewidths=2.5, zorder=5,
                       label=f"the path {path.replace(CTC_BLANK, 'ε')}")
        ax.set_yticks(np.arange(1, len(extended) + 1),
                      [f"{s}: {'ε' if k == CTC_BLANK else k}" for s, k in enumerate(extended, 1)])
        ax.set_xticks(np.arange(1, steps + 1))
        ax.set(xlim=(0.5, steps + 0.5), ylim=(len(extended) + 0.5, 0.5))
        ax.grid(False)
        _label(ax, f"CTC alignments of “{label}” over T = {steps} time steps", "time step t",
               "extended label l′, row s")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=9)
    return ax


def embedding_scatter(panels, labels, axes=None):
    """Scatter two-dimensional embeddings side by side, each point drawn as its class label.

    Parameters
    ----------
    panels : dict
        ``{title: points}``, each ``points`` of shape ``(n, 2)``: one panel each.
    labels : array_like
        The integer class of each point, shape ``(n,)``; a point is drawn as
        the digits of its class, in the colour of its class.
    axes : list of matplotlib.axes.Axes, optional
        One Axes per panel; a new figure with the panels in a row by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        One per panel, each with one scatter collection per class, in the
        order of ``numpy.unique(labels)``.

    Raises
    ------
    ValueError
        If a panel's points do not have shape ``(n, 2)`` or the labels are
        not integers.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be one integer class per point, got {labels.dtype}{labels.shape}")
    for title, points in panels.items():
        if np.shape(points) != (labels.size, 2):
            raise ValueError(f"points of {title!r} must have shape ({labels.size}, 2), "
                             f"got {np.shape(points)}")
    with book_style():
        if axes is None:
            axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8))[1]
        axes = np.atleast_1d(axes)
        for ax, (title, points) in zip(axes, panels.items()):
            points = np.asarray(points, dtype=np.float64)
            for cls, colour in zip(np.unique(labels), itertools.cycle(PALETTE)):
                ax.scatter(*points[labels == cls].T, marker=f"${cls}$", s=40, color=colour,
                           linewidths=0.5)
            ax.set(title=title, xlabel="embedding dimension 1", ylabel="embedding dimension 2")
    return tuple(axes)


def log_loss_guards(p, curves, ax=None):
    """Plot several implementations' log loss of a prediction against its probability, log-scaled.

    Used for the stand-ins that libraries put in place of an infinite log loss
    (``lossbook.guards.per_prediction`` computes the curves).

    Parameters
    ----------
    p : array_like
        The predicted probabilities of the true label, along the horizontal
        axis (drawn on a log scale, so every value must be > 0).
    curves : pandas.DataFrame
        One column per implementation, one row per value of ``p``. A column
        whose name starts with "exact" is drawn thicker.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One line per column, labelled with the column's name.

    Raises
    ------
    ValueError
        If ``curves`` does not have one row per value of ``p``, or a ``p`` is not > 0.
    """
    p = np.asarray(p, dtype=np.float64)
    if len(curves) != p.size:
        raise ValueError(f"curves must have one row per value of p ({p.size}), got {len(curves)}")
    if not np.all(p > 0):
        raise ValueError("p must be > 0 everywhere: the horizontal axis is logarithmic")
    styles = itertools.cycle(["-", "--", "-.", ":"])
    with book_style():
        ax = _axes(ax)
        for name, colour, style in zip(curves, itertools.cycle(PALETTE[::-1]), styles):
            width = 3.0 if str(name).startswith("exact") else 2.0
            ax.plot(p, curves[name].to_numpy(), color=colour, linestyle=style, linewidth=width,
                    label=name)
        ax.set_xscale("log")
        _label(ax, "Each library's stand-in for an infinite loss",
               "predicted probability p of the true label", "loss")
        ax.legend(loc="upper right")
    return ax


def softmax_temperatures(scores, temperatures, ax=None):
    """Bar chart of ``softmax(scores / T)`` for several temperatures T, side by side per class.

    Parameters
    ----------
    scores : array_like
        One vector of logits, shape ``(C,)``.
    temperatures : list of float
        The temperatures, each > 0.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One group of bars per temperature, labelled ``T = ...``.

    Raises
    ------
    ValueError
        If ``scores`` is not one vector or a temperature is not > 0.
    """
    from .activations import softmax

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one vector of logits, got shape {scores.shape}")
    if not all(t > 0 for t in temperatures):
        raise ValueError(f"every temperature must be > 0, got {list(temperatures)}")
    width = 0.8 / len(temperatures)
    classes = np.arange(scores.size)
    with book_style():
        ax = _axes(ax)
        for k, (temperature, colour) in enumerate(zip(temperatures, itertools.cycle(PALETTE))):
            offset = (k - (len(temperatures) - 1) / 2) * width
            ax.bar(classes + offset, softmax(scores / temperature), width, color=colour,
                   label=f"T = {temperature:g}")
        ax.set_xticks(classes, [f"{s:g}" for s in scores])
        _label(ax, "Softmax of the same logits at several temperatures", "logit",
               "softmax probability")
    return ax


def cross_entropy_vs_squared_error(gap, axes=None):
    r"""Plot cross-entropy and squared error on the softmax probabilities, and their gradients.

    Two classes, true class 0, logits :math:`z = (g, 0)` for each gap
    :math:`g`. Left: the losses :math:`-\log p_0` and :math:`\lVert p - t\rVert^2`.
    Right: their derivatives with respect to :math:`z_0`: :math:`p_0 - 1` for
    cross-entropy and, by the chain rule through the softmax Jacobian
    :math:`J = \operatorname{diag}(p) - p p^\top`, :math:`(J \cdot 2(p - t))_0`
    for squared error.

    Parameters
    ----------
    gap : array_like
        The logit gaps :math:`z_0 - z_1`, along the horizontal axes.
    axes : list of matplotlib.axes.Axes, optional
        Two Axes: where to draw the losses and where to draw the gradients; a
        new figure with two panels by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        The loss panel and the gradient panel, each with a cross-entropy line
        and a squared-error line.
    """
    from .activations import softmax
    from .classification import cross_entropy, cross_entropy_grad

    gap = np.asarray(gap, dtype=np.float64).ravel()
    logits = np.stack([gap, np.zeros_like(gap)], axis=1)
    labels = np.zeros(gap.size, dtype=np.int64)
    target = np.eye(2)[labels]
    p = softmax(logits)
    outer = 2.0 * (p - target)  # the gradient of the squared error with respect to p
    curves = {
        "loss": (cross_entropy(logits, labels, reduction="none"), ((p - target) ** 2).sum(axis=1)),
        "gradient": (cross_entropy_grad(logits, labels, reduction="sum")[:, 0],
                     (p * outer - p * (p * outer).sum(axis=1, keepdims=True))[:, 0]),
    }
    ylabels = {"loss": "loss", "gradient": r"$\partial \ell / \partial z_0$"}
    with book_style():
        if axes is None:
            axes = plt.subplots(1, 2, figsize=(7.0, 3.6))[1]
        for ax, (name, (ce, se)) in zip(axes, curves.items()):
            ax.plot(gap, ce, label="cross-entropy")
            ax.plot(gap, se, label="squared error on p")
            _label(ax, name.capitalize(), "logit gap $z_0 - z_1$", ylabels[name])
        axes[1].legend(loc="center right")
    return tuple(axes)


def _steps_and_values(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-step values, got shape {values.shape}")
    return values


def loss_and_accuracy_curves(curves, *, loss_label="training loss of the batch", axes=None):
    """Plot training runs side by side: the loss per step (left) and the held-out accuracy (right).

    Parameters
    ----------
    curves : dict
        ``{name: (loss, accuracy)}``: ``loss`` holds one value per step (the
        loss of the batch the step descended, drawn at steps 1, 2, ...);
        ``accuracy`` one value before the first step and one after each (drawn
        at steps 0, 1, ...).
    loss_label : str, default "training loss of the batch"
        The loss panel's vertical axis label.
    axes : tuple of matplotlib.axes.Axes, optional
        Two Axes to draw on; a new figure with two panels side by side by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        The loss panel and the accuracy panel, one line per run in each.

    Raises
    ------
    ValueError
        If a run's arrays are not 1-D, or its accuracy does not have one more
        value than its loss.
    """
    checked = {}
    for name, (loss, accuracy) in curves.items():
        loss = _steps_and_values(loss, f"the loss of {name!r}")
        accuracy = _steps_and_values(accuracy, f"the accuracy of {name!r}")
        if accuracy.size != loss.size + 1:
            raise ValueError(f"the accuracy of {name!r} must have one value more than its loss "
                             f"(before the first step), got {accuracy.size} and {loss.size}")
        checked[name] = loss, accuracy
    with book_style():
        if axes is None:
            axes = plt.subplots(1, 2, figsize=(7.0, 3.6))[1]
        left, right = axes
        for (name, (loss, accuracy)), colour in zip(checked.items(), itertools.cycle(PALETTE)):
            left.plot(np.arange(1, loss.size + 1), loss, color=colour, linewidth=1.5, label=name)
            right.plot(np.arange(accuracy.size), accuracy, color=colour, label=name)
        _label(left, "Loss", "step", loss_label)
        _label(right, "Held-out accuracy", "step", "accuracy on held-out digits")
        right.set_ylim(0.0, 1.0)
        right.get_legend().remove()
    return left, right


def training_losses(curves, *, title, ylabel="training loss of the batch", dashed=(), logy=False,
                    ax=None):
    """Plot the loss of several training runs against the step, one line per run.

    Parameters
    ----------
    curves : dict
        ``{name: loss}``, one value per step, drawn at steps 1, 2, ...
    title : str
    ylabel : str, default "training loss of the batch"
    dashed : iterable of str, optional
        The runs drawn dashed and on top, so that a run that coincides with an
        earlier one stays visible.
    logy : bool, default False
        A logarithmic vertical axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One line per run, in the order of ``curves``.

    Raises
    ------
    ValueError
        If a run is not a 1-D array, or ``dashed`` names a run that is not there.
    """
    dashed = set(dashed)
    if not dashed <= set(curves):
        raise ValueError(f"dashed must name runs of curves, got {sorted(dashed - set(curves))}")
    with book_style():
        ax = _axes(ax)
        for (name, loss), colour in zip(curves.items(), itertools.cycle(PALETTE)):
            loss = _steps_and_values(loss, f"the loss of {name!r}")
            style = {"linestyle": (0, (4, 3)), "zorder": 3} if name in dashed else {}
            ax.plot(np.arange(1, loss.size + 1), loss, color=colour, label=name, **style)
        if logy:
            ax.set_yscale("log")
        _label(ax, title, "step", ylabel)
    return ax


def saturated_gradients(p_true, example_gradients, gradient_norms, axes=None):
    r"""Plot how large each loss's gradient is, per example (left) and per step (right).

    Parameters
    ----------
    p_true : array_like
        The probability the model gives each example's true class, 1-D, in (0, 1].
    example_gradients : dict
        ``{loss name: sizes}``: for each example, the norm of the gradient of
        its loss with respect to its logits, one value per entry of ``p_true``.
    gradient_norms : dict
        ``{loss name: norms}``: the norm of the weight gradient at each step.
    axes : tuple of matplotlib.axes.Axes, optional
        Where to draw; a new figure with two panels by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        The per-example panel (a scatter per loss, logarithmic horizontal axis)
        and the per-step panel (a line per loss).

    Raises
    ------
    ValueError
        If ``p_true`` is not 1-D in (0, 1], or a loss's sizes do not match it.
    """
    p_true = np.asarray(p_true, dtype=np.float64)
    if p_true.ndim != 1 or not np.all((p_true > 0) & (p_true <= 1)):
        raise ValueError("p_true must be a 1-D array of probabilities in (0, 1]")
    for name, sizes in example_gradients.items():
        if np.shape(sizes) != p_true.shape:
            raise ValueError(f"the gradient sizes of {name!r} must match p_true, "
                             f"got shapes {np.shape(sizes)} and {p_true.shape}")
    with book_style():
        if axes is None:
            axes = plt.subplots(1, 2, figsize=(7.0, 3.6))[1]
        left, right = axes
        for (name, sizes), colour in zip(example_gradients.items(), PALETTE):
            left.scatter(p_true, sizes, s=9, color=colour, alpha=0.6, label=name)
        left.set_xscale("log")
        _label(left, "Per example, before training", "probability of the true class",
               "length of the gradient $\\partial \\ell / \\partial z$")
        for (name, norms), colour in zip(gradient_norms.items(), PALETTE):
            norms = _steps_and_values(norms, f"the gradient norms of {name!r}")
            right.plot(np.arange(1, norms.size + 1), norms, color=colour, linewidth=1.5, label=name)
        _label(right, "Per step, during training", "step", "norm of the weight gradient")
        right.get_legend().remove()
    return left, right


def trajectory_gaps(gaps, *, reference="the reference", axes=None):
    """Plot, per optimiser, how far each port's weights are from the reference run, step by step.

    Parameters
    ----------
    gaps : dict
        ``{panel title: {port name: distances}}``, the distances one per
        recorded step (step 0 is the shared start).
    reference : str, default "the reference"
        What the distances are measured from, for the vertical axis label.
    axes : tuple of matplotlib.axes.Axes, optional
        One Axes per panel; a new figure with the panels side by side by default.

    Returns
    -------
    tuple of matplotlib.axes.Axes
        One panel per entry of ``gaps``, one line per port, each titled.
    """
    with book_style():
        if axes is None:
            axes = plt.subplots(1, len(gaps), figsize=(7.0, 3.4), sharey=True)[1]
        for ax, (title, ports) in zip(axes, gaps.items()):
            for (name, distance), colour, style in zip(ports.items(), PALETTE,
                                                        ("-", (0, (4, 3)), ":")):
                distance = _steps_and_values(distance, f"the distances of {name!r}")
                ax.plot(np.arange(distance.size), distance, color=colour, linestyle=style,
                        label=name)
            _label(ax, title, "step", "")
            ax.get_legend().remove()
        axes[0].set_ylabel(f"distance from {reference}")
        axes[0].legend(loc="upper left")
    return tuple(axes)


def mean_and_spread(x, y, grid, fits, *, ax=None):
    r"""Plot data and, for each fitted model, its mean and a band of two standard deviations.

    Parameters
    ----------
    x, y : array_like
        The data, 1-D of one length.
    grid : array_like
        Sorted inputs at which the fits are drawn, 1-D.
    fits : dict
        ``{name: (mean, std)}``, each an array over ``grid`` (a scalar ``std``
        is a constant spread); the band is ``mean ± 2 std``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.axes.Axes
        One mean line and one band per fit, then the data.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` are not 1-D of one length, or a fit does not match ``grid``.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    with book_style():
        ax = _axes(ax)
        for (name, (mean, std)), colour in zip(fits.items(), itertools.cycle(PALETTE)):
            mean, std = np.broadcast_arrays(np.asarray(mean, dtype=np.float64),
                                            np.asarray(std, dtype=np.float64))
            if mean.shape != grid.shape:
                raise ValueError(f"the fit {name!r} must give one mean per grid point, "
                                 f"got shape {mean.shape} for {grid.shape}")
            ax.plot(grid, mean, color=colour, label=f"{name}: mean")
            ax.fill_between(grid, mean - 2 * std, mean + 2 * std, color=colour, alpha=0.18,
                            label=f"{name}: ±2 std")
        ax.scatter(x, y, s=10, color=PALETTE[6], alpha=0.7, zorder=3, label="data")
        _label(ax, "Mean and spread of each fit", "x", "y")
        ax.legend(loc="upper left")
    return ax

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

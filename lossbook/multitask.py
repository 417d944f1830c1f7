r"""A tiny two-headed detector, trained on a weighted sum of two losses.

The chapter on combining losses trains a network that answers two questions
about each of 256 synthetic "regions": which of three classes it belongs to,
and where its box is (four coordinates, in pixels of a 512-pixel image). A
shared tanh *trunk* of 16 units feeds a *class head* and a *box head*; the
network minimises

.. math:: L = L_{\text{cls}} + \lambda L_{\text{loc}},

with :math:`L_{\text{cls}}` the mean softmax cross-entropy and
:math:`L_{\text{loc}}` the Smooth L1 loss (``beta = 1``) averaged over every box
coordinate, torch's default ``reduction="mean"``. Everything is numpy and
lossbook: :func:`gradients` applies the chain rule to lossbook's loss gradients,
:func:`train` runs full-batch gradient descent, and the figures of the chapter
are drawn from its histories.

Parameters are a dict named as torch names the layers of the chapter's
``TinyDetector`` (``"trunk.weight"``, ``"trunk.bias"``, ``"cls.weight"``, ...),
each weight of shape (outputs, inputs), as torch and gluon store them.

Examples
--------
>>> from lossbook import multitask
>>> problem = multitask.detection_problem()
>>> problem.features.shape, problem.boxes_px.shape
((256, 4), (256, 4))
>>> history = multitask.train(problem, "standardised", 1.0, steps=3)
>>> list(history.columns)
['L_cls', 'L_loc', 'box error (px)', 'saturated units', '|W_box|']
"""

from dataclasses import dataclass
from types import MappingProxyType

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import plotting
from .activations import sigmoid
from .classification import cross_entropy, cross_entropy_grad
from .regression import smooth_l1_loss, smooth_l1_loss_grad

IMAGE = 512
"""Width of the image in pixels; every box coordinate lies between 0 and this."""

SAMPLES, FEATURES, HIDDEN, CLASSES, COORDS = 256, 4, 16, 3, 4
"""Regions, features per region, trunk units, classes, and box coordinates."""

PARAMETERS = ("trunk.weight", "trunk.bias", "cls.weight", "cls.bias", "box.weight", "box.bias")
"""The parameter names, in the order torch's ``named_parameters`` lists them."""

UNITS = ("pixels", "standardised")
"""The two ways to give the box targets, in pixels or each coordinate standardised."""

HISTORY = ("L_cls", "L_loc", "box error (px)", "saturated units", "|W_box|")
"""The columns of a training history (see :func:`train`)."""

SATURATED = 0.99
"""A trunk activation counts as saturated when its size exceeds this (tanh is flat there)."""


@dataclass(frozen=True)
class DetectionProblem:
    """The synthetic detection data and the initial parameters every run starts from.

    Attributes
    ----------
    features : ndarray
        (SAMPLES, FEATURES) float64 features of each region.
    labels : ndarray
        (SAMPLES,) int64 class of each region.
    boxes_px : ndarray
        (SAMPLES, COORDS) box coordinates in pixels.
    initial : Mapping
        The initial parameters, by name (:data:`PARAMETERS`).
    """

    features: np.ndarray
    labels: np.ndarray
    boxes_px: np.ndarray
    initial: MappingProxyType

    @property
    def box_mean(self):
        """Each coordinate's mean over the regions, in pixels."""
        return self.boxes_px.mean(axis=0)

    @property
    def box_std(self):
        """Each coordinate's standard deviation over the regions, in pixels."""
        return self.boxes_px.std(axis=0)

    def targets(self, unit):
        """Return the box targets in ``unit``: ``"pixels"``, or ``"standardised"`` to mean 0 and spread 1."""
        _check_unit(unit)
        if unit == "pixels":
            return self.boxes_px
        return (self.boxes_px - self.box_mean) / self.box_std

    def to_pixels(self, boxes, unit):
        """Return boxes predicted in ``unit`` as pixels."""
        _check_unit(unit)
        return boxes if unit == "pixels" else self.box_mean + self.box_std * boxes


def _check_unit(unit):
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")


def detection_problem(seed=0):
    """Draw the synthetic problem: features, classes, boxes and initial parameters.

    The class of a region is the largest of three noisy linear scores of its
    features (Gumbel noise, so the rule is a softmax model), and its box a
    sigmoid of a noisy linear map, scaled to the image, so a small network can
    learn both but neither perfectly. The initial weights are standard normal
    divided by the square root of the number of inputs, the biases zero.

    Parameters
    ----------
    seed : int, default 0
        Seeds the data; ``seed + 1`` seeds the initial parameters.

    Returns
    -------
    DetectionProblem
    """
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((SAMPLES, FEATURES))
    class_rule = 2.0 * rng.standard_normal((FEATURES, CLASSES))
    labels = np.argmax(features @ class_rule + rng.gumbel(size=(SAMPLES, CLASSES)), axis=1)
    box_rule = 0.6 * rng.standard_normal((FEATURES, COORDS))
    boxes_px = IMAGE * sigmoid(features @ box_rule + 0.1 * rng.standard_normal((SAMPLES, COORDS)))
    init = np.random.default_rng(seed + 1)
    shapes = {"trunk": (HIDDEN, FEATURES), "cls": (CLASSES, HIDDEN), "box": (COORDS, HIDDEN)}
    initial = {}
    for layer, (outputs, inputs) in shapes.items():
        initial[f"{layer}.weight"] = init.standard_normal((outputs, inputs)) / np.sqrt(inputs)
        initial[f"{layer}.bias"] = np.zeros(outputs)
    return DetectionProblem(features, labels.astype(np.int64), boxes_px, MappingProxyType(initial))


def forward(params, features):
    """Run the detector: trunk activations, class scores and predicted boxes.

    Parameters
    ----------
    params : Mapping
        Parameters by name.
    features : ndarray
        (N, FEATURES) features.

    Returns
    -------
    h, scores, boxes : ndarray
        Shapes (N, HIDDEN), (N, CLASSES) and (N, COORDS).
    """
    h = np.tanh(features @ params["trunk.weight"].T + params["trunk.bias"])
    return h, h @ params["cls.weight"].T + params["cls.bias"], h @ params["box.weight"].T + params["box.bias"]


def losses(params, problem, unit):
    """Return the two terms, ``L_cls`` and ``L_loc`` (box targets in ``unit``), as floats.

    Parameters
    ----------
    params : Mapping
    problem : DetectionProblem
    unit : {"pixels", "standardised"}

    Returns
    -------
    l_cls, l_loc : float
    """
    _, scores, boxes = forward(params, problem.features)
    l_loc = smooth_l1_loss(boxes, problem.targets(unit))
    return float(cross_entropy(scores, problem.labels)), float(l_loc)


def backward(params, features, h, d_scores, d_boxes):
    """Return every parameter's gradient, given the loss's gradients at the two heads' outputs."""
    d_h = d_scores @ params["cls.weight"] + d_boxes @ params["box.weight"]  # the losses meet
    d_pre = d_h * (1.0 - h**2)  # through tanh
    return {
        "trunk.weight": d_pre.T @ features, "trunk.bias": d_pre.sum(axis=0),
        "cls.weight": d_scores.T @ h, "cls.bias": d_scores.sum(axis=0),
        "box.weight": d_boxes.T @ h, "box.bias": d_boxes.sum(axis=0),
    }


def gradients(params, problem, lam, unit):
    """Return the gradient of ``L_cls + lam * L_loc`` with respect to every parameter.

    Parameters
    ----------
    params : Mapping
    problem : DetectionProblem
    lam : float
        The weight of the localisation loss.
    unit : {"pixels", "standardised"}

    Returns
    -------
    dict
        ``{name: gradient}``, each the shape of its parameter.
    """
    h, scores, boxes = forward(params, problem.features)
    d_scores = cross_entropy_grad(scores, problem.labels)  # dL_cls / d scores
    d_boxes = lam * smooth_l1_loss_grad(boxes, problem.targets(unit))  # d(lam L_loc) / d boxes
    return backward(params, problem.features, h, d_scores, d_boxes)


def term_gradients(params, problem, unit):
    """Return the gradients of ``L_cls`` and of ``L_loc`` separately (zero where a term does not reach).

    Parameters
    ----------
    params : Mapping
    problem : DetectionProblem
    unit : {"pixels", "standardised"}

    Returns
    -------
    g_cls, g_loc : dict
        ``{name: gradient}`` of each term.
    """
    h, scores, boxes = forward(params, problem.features)
    d_scores = cross_entropy_grad(scores, problem.labels)
    d_boxes = smooth_l1_loss_grad(boxes, problem.targets(unit))
    g_cls = backward(params, problem.features, h, d_scores, np.zeros_like(d_boxes))
    g_loc = backward(params, problem.features, h, np.zeros_like(d_scores), d_boxes)
    return g_cls, g_loc


def contributions(g_cls, g_loc, lambdas):
    """Tabulate each parameter's gradient norms: of ``L_cls``, of ``lam * L_loc``, and of their sum.

    Parameters
    ----------
    g_cls, g_loc : dict
        From :func:`term_gradients`.
    lambdas : iterable of float

    Returns
    -------
    pandas.DataFrame
        One row per parameter; a column ``("any λ", "|∇L_cls|")``, then for
        each ``lam`` the columns ``(f"λ = {lam:g}", "λ|∇L_loc|")`` and
        ``(f"λ = {lam:g}", "|∇L|")``.
    """
    columns = {("any λ", "|∇L_cls|"): [np.linalg.norm(g_cls[name]) for name in PARAMETERS]}
    for lam in lambdas:
        columns[(f"λ = {lam:g}", "λ|∇L_loc|")] = [np.linalg.norm(lam * g_loc[name]) for name in PARAMETERS]
        columns[(f"λ = {lam:g}", "|∇L|")] = [
            np.linalg.norm(g_cls[name] + lam * g_loc[name]) for name in PARAMETERS
        ]
    return pd.DataFrame(columns, index=list(PARAMETERS))


def balancing_weight(problem, unit, params=None):
    r"""Return :math:`\lambda^\ast`, at which both terms' gradients for the trunk's weights have equal norm.

    Parameters
    ----------
    problem : DetectionProblem
    unit : {"pixels", "standardised"}
    params : Mapping, optional
        Where to measure; the initial parameters by default.

    Returns
    -------
    float
        ``|grad L_cls| / |grad L_loc|`` for ``"trunk.weight"``.
    """
    g_cls, g_loc = term_gradients(problem.initial if params is None else params, problem, unit)
    return float(np.linalg.norm(g_cls["trunk.weight"]) / np.linalg.norm(g_loc["trunk.weight"]))


def _check_run(unit, lam):
    _check_unit(unit)
    if not (isinstance(lam, int | float) and np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a positive number, got {lam!r}")


def train_runs(problem, settings, *, steps=500, learning_rate=0.1):
    """Train several runs of the detector at once, each by full-batch gradient descent.

    Run ``name`` minimises ``L_cls + lam * L_loc`` with box targets in
    ``unit``, for ``settings[name] = (unit, lam)``. Every run starts from
    ``problem.initial``, and each step subtracts ``learning_rate`` times the
    run's gradient from its parameters, as ``torch.optim.SGD`` does. The runs
    are independent; they share each step's calls of the lossbook losses and
    gradients, on their class scores and boxes stacked, which makes several
    runs cost little more than one.

    Parameters
    ----------
    problem : DetectionProblem
    settings : dict
        ``{name: (unit, lam)}``, ``unit`` one of :data:`UNITS` and ``lam`` the
        positive weight of the localisation loss.
    steps : int, default 500
    learning_rate : float, default 0.1

    Returns
    -------
    dict
        ``{name: history}``, each history a pandas.DataFrame with one row per
        step, recorded before its update, and the columns :data:`HISTORY`:
        both losses, the mean absolute error of the predicted coordinates in
        pixels, the fraction of trunk activations larger than
        :data:`SATURATED` in size, and the Frobenius norm of the box head's weights.

    Raises
    ------
    ValueError
        If there is no run, a unit is not one of :data:`UNITS`, or ``lam``,
        ``steps`` or ``learning_rate`` is not positive.
    """
    if not settings:
        raise ValueError("settings must name at least one run")
    for unit, lam in settings.values():
        _check_run(unit, lam)
    if not (isinstance(learning_rate, int | float) and np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if not (isinstance(steps, int) and steps > 0):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    units, lams = zip(*settings.values())
    runs, samples = len(units), len(problem.labels)
    # Every parameter gets a leading run axis; biases become (runs, 1, outputs) rows.
    params = {name: np.stack([value[None] if name.endswith("bias") else value] * runs)
              for name, value in problem.initial.items()}
    targets = np.stack([problem.targets(unit) for unit in units])
    labels = np.tile(problem.labels, runs)
    weights = np.array(lams)[:, None, None]
    rows = np.empty((runs, steps, len(HISTORY)))
    x = problem.features
    for step in range(steps):
        h = np.tanh(x @ params["trunk.weight"].swapaxes(1, 2) + params["trunk.bias"])
        scores = h @ params["cls.weight"].swapaxes(1, 2) + params["cls.bias"]
        boxes = h @ params["box.weight"].swapaxes(1, 2) + params["box.bias"]
        flat_scores, flat_boxes = scores.reshape(-1, CLASSES), boxes.reshape(-1, COORDS)
        flat_targets = targets.reshape(-1, COORDS)
        rows[:, step, 0] = cross_entropy(flat_scores, labels, reduction="none").reshape(runs, -1).mean(axis=1)
        rows[:, step, 1] = smooth_l1_loss(flat_boxes, flat_targets, reduction="none").reshape(runs, -1).mean(axis=1)
        rows[:, step, 2] = [np.abs(problem.to_pixels(b, unit) - problem.boxes_px).mean()
                            for b, unit in zip(boxes, units)]
        rows[:, step, 3] = np.mean(np.abs(h) > SATURATED, axis=(1, 2))
        rows[:, step, 4] = np.linalg.norm(params["box.weight"], axis=(1, 2))
        d_scores = cross_entropy_grad(flat_scores, labels, reduction="sum").reshape(scores.shape) / samples
        d_boxes = smooth_l1_loss_grad(flat_boxes, flat_targets, reduction="sum").reshape(boxes.shape)
        d_boxes = weights * (d_boxes / (samples * COORDS))
        # The chain rule of backward, for every run at once.
        d_h = d_scores @ params["cls.weight"] + d_boxes @ params["box.weight"]
        d_pre = d_h * (1.0 - h**2)
        grads = {
            "trunk.weight": d_pre.swapaxes(1, 2) @ x, "trunk.bias": d_pre.sum(axis=1, keepdims=True),
            "cls.weight": d_scores.swapaxes(1, 2) @ h, "cls.bias": d_scores.sum(axis=1, keepdims=True),
            "box.weight": d_boxes.swapaxes(1, 2) @ h, "box.bias": d_boxes.sum(axis=1, keepdims=True),
        }
        for name, grad in grads.items():
            params[name] -= learning_rate * grad
    return {name: pd.DataFrame(rows[run], columns=list(HISTORY)).rename_axis("step")
            for run, name in enumerate(settings)}


def train(problem, unit, lam, *, steps=500, learning_rate=0.1):
    """Train the detector by full-batch gradient descent on ``L_cls + lam * L_loc``.

    One run of :func:`train_runs`, which describes the training and the history.

    Parameters
    ----------
    problem : DetectionProblem
    unit : {"pixels", "standardised"}
        The unit of the box targets (and so of the box head's outputs).
    lam : float
        The weight of the localisation loss, positive.
    steps : int, default 500
    learning_rate : float, default 0.1

    Returns
    -------
    pandas.DataFrame
        The history, as :func:`train_runs` returns for each run.
    """
    return train_runs(problem, {"run": (unit, lam)}, steps=steps, learning_rate=learning_rate)["run"]


# The chapter's figures.


def plot_trunk_balance(problem, unit, lambdas, ax=None):
    r"""Plot the trunk-weight gradient norms of both terms and of their sum against :math:`\lambda`.

    Parameters
    ----------
    problem : DetectionProblem
    unit : {"pixels", "standardised"}
    lambdas : array_like
        The weights along the horizontal (logarithmic) axis.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Three lines (the classification term, the weighted localisation term,
        the sum) and a dotted vertical line at :func:`balancing_weight`.
    """
    lambdas = np.asarray(lambdas, dtype=np.float64)
    g_cls, g_loc = (g["trunk.weight"] for g in term_gradients(problem.initial, problem, unit))
    with plotting.book_style():
        ax = plt.subplots()[1] if ax is None else ax
        ax.loglog(lambdas, np.full_like(lambdas, np.linalg.norm(g_cls)), label=r"$\|\nabla L_{cls}\|$")
        ax.loglog(lambdas, lambdas * np.linalg.norm(g_loc), label=r"$\lambda\|\nabla L_{loc}\|$")
        total = [np.linalg.norm(g_cls + lam * g_loc) for lam in lambdas]
        ax.loglog(lambdas, total, color=plotting.PALETTE[6], linestyle="--", label=r"$\|\nabla L\|$")
        ax.axvline(balancing_weight(problem, unit), color="#888888", linestyle=":", linewidth=1.5)
        ax.set_xlabel(r"weight $\lambda$ of the localisation loss")
        ax.set_ylabel("gradient norm, trunk weights")
        ax.set_title("Who pulls on the shared trunk?")
        ax.legend()
    return ax


def plot_terms(history, ax=None):
    """Plot a run's two losses and their sum (with weight 1) against the step, on a log scale.

    Parameters
    ----------
    history : pandas.DataFrame
        From :func:`train`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    with plotting.book_style():
        ax = plt.subplots()[1] if ax is None else ax
        ax.semilogy(history["L_cls"], label=r"$L_{\rm cls}$ (nats)")
        ax.semilogy(history["L_loc"], label=r"$L_{\rm loc}$ (pixels)")
        ax.semilogy(history["L_cls"] + history["L_loc"], color=plotting.PALETTE[6], linestyle="--",
                    label=r"$L = L_{\rm cls} + L_{\rm loc}$")
        ax.set_xlabel("training step")
        ax.set_ylabel("loss (log scale)")
        ax.set_title("Box coordinates in pixels: one loss drowns the other")
        ax.legend()
    return ax


def plot_runs(runs):
    """Plot several runs side by side: classification loss (left) and box error in pixels (right).

    Parameters
    ----------
    runs : dict
        ``{name: history from train}``; the names label the lines.

    Returns
    -------
    left, right : matplotlib.axes.Axes
    """
    with plotting.book_style():
        _, (left, right) = plt.subplots(1, 2, figsize=(9.0, 4.2))
        for (name, history), colour in zip(runs.items(), plotting.PALETTE):
            left.plot(history["L_cls"], color=colour, label=name)
            right.semilogy(history["box error (px)"], color=colour, label=name)
        left.set(xlabel="training step", ylabel=r"$L_{\rm cls}$ (nats)", title="What: classification")
        right.set(xlabel="training step", ylabel="mean box error (pixels)", title="Where: localisation")
        left.legend()
    return left, right

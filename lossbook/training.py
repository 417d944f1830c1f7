"""Optimiser steps and short training runs in MXNet gluon or PyTorch, from given weights.

A port from MXNet to PyTorch is only right if both take the same step. The
chapters compare steps on the smallest model that has one: a linear logit
``z = X w`` (no bias) scored by binary cross-entropy, so that the update of
each optimiser can be written out by hand and checked. :func:`one_step` takes
that step in either framework, in float64, with plain SGD or Adam and an
optional weight decay, on the mean or on the sum of the per-sample losses.

The chapter "Training with a loss" trains whole runs: :func:`fit_linear` runs
the minibatch loop each framework's users write for a linear layer
``X W^T + b`` and any loss, on the batches :func:`minibatches` cuts, and
returns a :class:`Trajectory` of the loss, the parameters and the gradient at
every step.

Examples
--------
>>> import numpy as np
>>> import lossbook as lb
>>> X, y, w = np.eye(2), np.array([1.0, 0.0]), np.zeros(2)
>>> lb.training.one_step("torch", "sgd", X, y, w, lr=2.0)  # w - 2 X^T (sigmoid(0) - y) / 2
array([[ 0.5, -0.5]])
"""

import numpy as np

from . import frameworks
from ._validation import as_float64, as_positive, as_real

FRAMEWORKS = ("gluon", "torch")
"""The frameworks :func:`one_step` runs."""

OPTIMIZERS = ("sgd", "adam")
"""Plain SGD (no momentum) and Adam, each with its framework's default settings."""

LOSS_SCALES = ("mean", "sum")
"""The batch loss a step descends, the mean or the sum of the per-sample losses."""


def _choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _problem(features, labels, weight):
    """Check the shapes and return ``(X, y, w)`` as float64, ``y`` a column and ``w`` a row."""
    X, _ = as_float64(features, "features")
    y, _ = as_float64(labels, "labels")
    w, _ = as_float64(weight, "weight")
    if X.ndim != 2:
        raise ValueError(f"features must be a matrix (samples, features), got shape {X.shape}")
    n_samples, n_features = X.shape
    if y.size != n_samples or y.ndim > 2:
        raise ValueError(f"labels must hold one label per row of features ({n_samples}), "
                         f"got shape {y.shape}")
    if w.size != n_features or w.ndim > 2:
        raise ValueError(f"weight must hold one value per column of features ({n_features}), "
                         f"got shape {w.shape}")
    return X, y.reshape(n_samples, 1), w.reshape(1, n_features)


def _torch_step(optimizer, X, y, w, lr, weight_decay, loss):
    torch = frameworks.require("torch")
    weight = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    step = make([weight], lr=lr, weight_decay=weight_decay)
    criterion = torch.nn.BCEWithLogitsLoss(reduction=loss)
    criterion(torch.from_numpy(X) @ weight.T, torch.from_numpy(y)).backward()
    step.step()
    return weight.detach().numpy().copy()


def _gluon_step(optimizer, X, y, w, lr, weight_decay, loss):
    mx = frameworks.require("mxnet")
    net = mx.gluon.nn.Dense(1, in_units=X.shape[1], use_bias=False, dtype="float64")
    net.initialize()
    net.weight.set_data(mx.nd.from_numpy(w.copy(), zero_copy=False))
    settings = {"learning_rate": lr, "wd": weight_decay}
    trainer = mx.gluon.Trainer(net.collect_params(), optimizer, settings)
    with mx.autograd.record():
        per_sample = mx.gluon.loss.SigmoidBCELoss()(
            net(mx.nd.from_numpy(X, zero_copy=False)), mx.nd.from_numpy(y, zero_copy=False))
    per_sample.backward()  # the gradient of the sum
    trainer.step(X.shape[0] if loss == "mean" else 1)
    return net.weight.data().asnumpy().copy()


def one_step(framework, optimizer, features, labels, weight, *, lr, weight_decay=0.0, loss="mean"):
    r"""Take one optimiser step on binary cross-entropy of a linear logit, in float64.

    The model is :math:`z = X w` with no bias; the per-sample loss is
    :math:`\operatorname{softplus}(-z_i)` for label 1 and
    :math:`\operatorname{softplus}(z_i)` for label 0. The step descends either
    the mean or the sum of the per-sample losses, spelled as each framework's
    users spell it:

    ========  ===============================  =============================
    ``loss``  gluon                            torch
    ========  ===============================  =============================
    "mean"    ``loss.backward()``,             ``reduction="mean"``
              ``trainer.step(batch_size)``
    "sum"     ``loss.backward()``,             ``reduction="sum"``
              ``trainer.step(1)``
    ========  ===============================  =============================

    The weight decay is gluon's ``wd`` or torch's ``weight_decay``. Both add
    ``weight_decay * w`` to the gradient; gluon adds it after dividing the
    gradient by the ``batch_size`` of ``trainer.step``. gluon hands its
    optimiser's numbers (``lr``, ``wd``, ``1 / batch_size``, Adam's betas and
    epsilon) to its kernels as float32, so a float64 gluon step equals the
    float64 update rule to the last bits only when they are float32 numbers,
    such as 0.5 or 1/8.

    Parameters
    ----------
    framework : {"gluon", "torch"}
    optimizer : {"sgd", "adam"}
        Plain SGD (no momentum) or Adam with the framework's default betas and epsilon.
    features : array_like
        The inputs ``X``, shape ``(N, F)``, one row per sample.
    labels : array_like
        0/1 labels, shape ``(N,)`` or ``(N, 1)``.
    weight : array_like
        The weights before the step, shape ``(F,)`` or ``(1, F)``.
    lr : float
        The learning rate, finite and > 0.
    weight_decay : float, default 0.0
        Finite and >= 0.
    loss : {"mean", "sum"}, default "mean"
        Which batch loss the step descends.

    Returns
    -------
    ndarray
        The weights after the step, float64, shape ``(1, F)`` (gluon's ``Dense``
        and torch's ``Linear`` layout).

    Raises
    ------
    ValueError
        If ``framework``, ``optimizer`` or ``loss`` is not one of its choices, a
        shape does not fit, ``lr`` is not finite and > 0, or ``weight_decay``
        is negative or not finite.
    TypeError
        If an array is not numeric or a rate is not a real number.
    ModuleNotFoundError
        If the framework is not installed.
    """
    _choice(framework, "framework", FRAMEWORKS)
    _choice(optimizer, "optimizer", OPTIMIZERS)
    _choice(loss, "loss", LOSS_SCALES)
    X, y, w = _problem(features, labels, weight)
    lr = as_positive(lr, "lr")
    weight_decay = as_real(weight_decay, "weight_decay")
    if not 0.0 <= weight_decay < np.inf:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    step = _torch_step if framework == "torch" else _gluon_step
    return step(optimizer, X, y, w, lr, weight_decay, loss)


def minibatches(n_samples, batch_size, epochs, *, seed=0):
    """Cut ``epochs`` seeded shuffles of ``range(n_samples)`` into minibatches of indices.

    Each epoch draws a new permutation from one ``numpy.random.default_rng(seed)``
    and cuts it into consecutive batches of ``batch_size`` indices (the last one
    shorter if ``batch_size`` does not divide ``n_samples``). Handing the same
    list to :func:`fit_linear` in both frameworks makes them see the same
    examples in the same order.

    Parameters
    ----------
    n_samples : int
        The number of training examples, >= 1.
    batch_size : int
        Indices per batch, between 1 and ``n_samples``.
    epochs : int
        Passes over the data, >= 1.
    seed : int, default 0
        The seed of the shuffles.

    Returns
    -------
    list of ndarray
        ``epochs * ceil(n_samples / batch_size)`` int64 index arrays.

    Raises
    ------
    ValueError
        If a count is not an integer in its range.

    Examples
    --------
    >>> import lossbook as lb
    >>> [b.tolist() for b in lb.training.minibatches(4, 2, 1, seed=0)]
    [[2, 0], [1, 3]]
    """
    for name, value, low in (("n_samples", n_samples, 1), ("batch_size", batch_size, 1),
                             ("epochs", epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if batch_size > n_samples:
        raise ValueError(f"batch_size must be at most n_samples ({n_samples}), got {batch_size}")
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(epochs):
        order = rng.permutation(n_samples)
        batches += [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]
    return batches


class Trajectory:
    """What :func:`fit_linear` recorded: the loss, the parameters and the gradient, step by step.

    Attributes
    ----------
    loss : ndarray
        Shape ``(steps,)``: the batch loss each step descended, computed before
        the step (gluon's per-sample losses are averaged first).
    weight : ndarray
        Shape ``(steps + 1, outputs, inputs)``: the weight matrix before the
        first step and after each step.
    bias : ndarray
        Shape ``(steps + 1, outputs)``: the bias, likewise.
    grad_norm : ndarray
        Shape ``(steps,)``: the Frobenius norm of the weight's gradient as the
        optimiser applies it (gluon's divided by the ``batch_size`` of
        ``trainer.step``), without weight decay.
    """

    def __init__(self, loss, weight, bias, grad_norm):
        self.loss, self.weight, self.bias, self.grad_norm = loss, weight, bias, grad_norm

    def outputs(self, features):
        """The model's outputs ``X W^T + b`` at every recorded step, shape ``(steps + 1, N, outputs)``.

        Parameters
        ----------
        features : array_like
            Inputs of shape ``(N, inputs)``.

        Returns
        -------
        ndarray
        """
        X = _features(features, self.weight.shape[2])
        return X @ self.weight.transpose(0, 2, 1) + self.bias[:, None, :]

    def accuracy(self, features, labels):
        """The fraction of ``labels`` the model gets right at every recorded step, shape ``(steps + 1,)``.

        With one output the model predicts label 1 where the output is > 0 and
        0 elsewhere; with several it predicts the index of the largest output.

        Parameters
        ----------
        features : array_like
            Inputs of shape ``(N, inputs)``.
        labels : array_like
            ``N`` labels: 0/1 for one output, class indices for several.

        Returns
        -------
        ndarray
        """
        outputs = self.outputs(features)
        labels = np.asarray(labels).reshape(-1)
        if labels.size != outputs.shape[1]:
            raise ValueError(f"labels must hold one label per row of features ({outputs.shape[1]}), "
                             f"got {labels.size}")
        predicted = outputs[..., 0] > 0 if outputs.shape[2] == 1 else outputs.argmax(axis=2)
        return (predicted == labels).mean(axis=1)


def _features(features, n_features=None):
    X, _ = as_float64(features, "features")
    if X.ndim != 2 or (n_features is not None and X.shape[1] != n_features):
        expected = "(samples, features)" if n_features is None else f"(samples, {n_features})"
        raise ValueError(f"features must be a matrix {expected}, got shape {X.shape}")
    return X


def _linear_start(features, targets, weight, bias):
    """Check and convert the problem of :func:`fit_linear`; ``targets`` keeps its dtype."""
    X = _features(features)
    Y = np.asarray(targets)
    if Y.dtype.kind not in "iuf" or Y.ndim == 0 or Y.shape[0] != X.shape[0]:
        raise ValueError(f"targets must be numbers with one row per row of features ({X.shape[0]}), "
                         f"got {Y.dtype} of shape {Y.shape}")
    W, _ = as_float64(weight, "weight")
    if W.ndim != 2 or W.shape[1] != X.shape[1]:
        raise ValueError(f"weight must have shape (outputs, {X.shape[1]}), got {W.shape}")
    b, _ = as_float64(bias, "bias")
    if b.shape != (W.shape[0],):
        raise ValueError(f"bias must have shape ({W.shape[0]},), got {b.shape}")
    return X, Y, W.copy(), b.copy()


def _fit_torch(loss, X, Y, W, b, batches, optimizer, settings):
    torch = frameworks.require("torch")
    model = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(W))
        model.bias.copy_(torch.from_numpy(b))
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    step = make(model.parameters(), lr=settings["learning_rate"], weight_decay=settings["wd"])
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)
    record = {"loss": [], "weight": [W], "bias": [b], "grad_norm": []}
    for batch in batches:
        index = torch.from_numpy(batch)
        step.zero_grad()
        value = loss(model(X[index]), Y[index])
        if value.dim() != 0:
            raise ValueError(f"a torch loss must return one number (reduce it), got shape {tuple(value.shape)}")
        value.backward()
        record["grad_norm"].append(float(model.weight.grad.norm()))
        step.step()
        record["loss"].append(value.item())
        record["weight"].append(model.weight.detach().numpy().copy())
        record["bias"].append(model.bias.detach().numpy().copy())
    return record


def _fit_gluon(loss, X, Y, W, b, batches, optimizer, settings, step_batch_size):
    mx = frameworks.require("mxnet")
    net = mx.gluon.nn.Dense(W.shape[0], in_units=W.shape[1], dtype="float64")
    net.initialize()
    net.weight.set_data(mx.nd.array(W, dtype="float64"))
    net.bias.set_data(mx.nd.array(b, dtype="float64"))
    trainer = mx.gluon.Trainer(net.collect_params(), optimizer, settings)
    X = mx.nd.array(X, dtype="float64")
    Y = mx.nd.array(Y, dtype="float64")
    record = {"loss": [], "weight": [W], "bias": [b], "grad_norm": []}
    for batch in batches:
        index = mx.nd.array(batch, dtype="int64")
        with mx.autograd.record():
            values = loss(net(X.take(index)), Y.take(index))
        values.backward()  # the gradient of values.sum()
        scale = len(batch) if step_batch_size is None else step_batch_size
        record["grad_norm"].append(float(np.linalg.norm(net.weight.grad().asnumpy())) / scale)
        trainer.step(scale)
        record["loss"].append(float(values.mean().asscalar()))
        record["weight"].append(net.weight.data().asnumpy().copy())
        record["bias"].append(net.bias.data().asnumpy().copy())
    return record


def fit_linear(framework, loss, features, targets, weight, bias, *, lr, batches, optimizer="sgd",
               weight_decay=0.0, step_batch_size=None):
    r"""Train a linear layer ``X W^T + b`` with minibatches in gluon or torch, in float64.

    The loop is the one each framework's users write. In gluon: a ``Dense``
    layer, a ``gluon.Trainer``, and for every batch ``loss(net(x), y)`` under
    ``autograd.record()``, ``backward()`` on the per-sample losses (the
    gradient of their sum) and ``trainer.step(batch_size)``, which divides
    that gradient by the batch size. In torch: a ``Linear`` layer, a
    ``torch.optim`` optimiser, and for every batch ``zero_grad()``,
    ``loss(model(x), y).backward()`` on one number and ``step()``. Both start
    from the given ``weight`` and ``bias``.

    Parameters
    ----------
    framework : {"gluon", "torch"}
    loss : callable
        ``loss(outputs, targets)`` in the framework's own arrays: per-sample
        losses of shape ``(batch,)`` for gluon (a ``gluon.loss`` block, or any
        function of NDArrays); one number for torch.
    features : array_like
        Inputs ``X``, shape ``(N, inputs)``.
    targets : array_like
        ``N`` rows of targets. torch receives them with their numpy dtype
        (int64 class indices stay int64); gluon receives float64.
    weight : array_like
        The initial weight, shape ``(outputs, inputs)`` (``Dense`` and
        ``Linear`` store it so).
    bias : array_like
        The initial bias, shape ``(outputs,)``.
    lr : float
        The learning rate, finite and > 0.
    batches : list of array_like
        Index arrays, one per step, e.g. from :func:`minibatches`.
    optimizer : {"sgd", "adam"}, default "sgd"
        Plain SGD (no momentum) or Adam with the framework's defaults.
    weight_decay : float, default 0.0
        gluon's ``wd``, torch's ``weight_decay``; finite and >= 0.
    step_batch_size : int, optional
        gluon only: the ``batch_size`` passed to ``trainer.step``; each batch's
        length by default. ``1`` reproduces code that calls ``trainer.step(1)``.

    Returns
    -------
    Trajectory
        The loss, parameters and gradient norm at every step.

    Raises
    ------
    ValueError
        If a choice, shape, rate or batch is not valid, ``step_batch_size``
        is given for torch, or a torch loss is not one number.
    TypeError
        If an array is not numeric or a rate is not a real number.
    ModuleNotFoundError
        If the framework is not installed.

    Examples
    --------
    One SGD step on the mean squared error of a one-weight model, with zero
    start: the gradient is ``-2 mean(x y) = -2``, so ``w = 0.25 * 2``.

    >>> import numpy as np, torch
    >>> import lossbook as lb
    >>> x, y = np.array([[1.0], [-1.0]]), np.array([[1.0], [-1.0]])
    >>> fit = lb.training.fit_linear("torch", torch.nn.MSELoss(), x, y, [[0.0]], [0.0],
    ...                              lr=0.25, batches=[[0, 1]])
    >>> fit.weight[-1].tolist(), fit.loss.tolist()
    ([[0.5]], [1.0])
    """
    _choice(framework, "framework", FRAMEWORKS)
    _choice(optimizer, "optimizer", OPTIMIZERS)
    if not callable(loss):
        raise TypeError(f"loss must be callable, got {type(loss).__name__}")
    X, Y, W, b = _linear_start(features, targets, weight, bias)
    lr = as_positive(lr, "lr")
    weight_decay = as_real(weight_decay, "weight_decay")
    if not 0.0 <= weight_decay < np.inf:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    batches = [np.asarray(batch) for batch in batches]
    if not batches:
        raise ValueError("batches must hold at least one batch, got none")
    for batch in batches:
        if batch.ndim != 1 or batch.size == 0 or batch.dtype.kind not in "iu" \
                or batch.min() < 0 or batch.max() >= X.shape[0]:
            raise ValueError(f"batches must hold non-empty 1-d arrays of row indices below "
                             f"{X.shape[0]}, got {batch!r}")
    batches = [batch.astype(np.int64) for batch in batches]
    settings = {"learning_rate": lr, "wd": weight_decay}
    if framework == "torch":
        if step_batch_size is not None:
            raise ValueError("step_batch_size is the batch_size of gluon's trainer.step; torch has none")
        record = _fit_torch(loss, X, Y, W, b, batches, optimizer, settings)
    else:
        if step_batch_size is not None:
            step_batch_size = as_positive(step_batch_size, "step_batch_size")
        record = _fit_gluon(loss, X, Y, W, b, batches, optimizer, settings, step_batch_size)
    return Trajectory(np.array(record["loss"]), np.stack(record["weight"]), np.stack(record["bias"]),
                      np.array(record["grad_norm"]))

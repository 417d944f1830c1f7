"""One optimiser step in MXNet gluon or PyTorch, taken from given weights.

A port from MXNet to PyTorch is only right if both take the same step. The
chapters compare steps on the smallest model that has one: a linear logit
``z = X w`` (no bias) scored by binary cross-entropy, so that the update of
each optimiser can be written out by hand and checked. :func:`one_step` takes
that step in either framework, in float64, with plain SGD or Adam and an
optional weight decay, on the mean or on the sum of the per-sample losses.

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

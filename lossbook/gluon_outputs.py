"""What each loss block of ``mxnet.gluon.loss`` returns for a batch: one value per example, or less.

MXNet training code calls ``loss.backward()`` on a block's output and then
``trainer.step(batch_size)``, which divides the summed gradient by the batch
size. That is right for a block that returns one loss per example, and wrong
by a factor of the batch size for one that has already averaged over the
batch. :func:`output_shapes` runs every loss class of the installed
``gluon.loss`` on a small random batch and reports the shape of what it
returns, so that a chapter can show which blocks average (in mxnet 1.9.1, only
``PoissonNLLLoss``).
"""

import inspect

import numpy as np
import pandas as pd

from . import frameworks


def _inputs(name, rng, batch_size):
    """Arguments of a valid call of the gluon loss class ``name``, as float32 numpy arrays."""
    n, classes = batch_size, 3
    pair = (rng.standard_normal((n, classes)), rng.uniform(0.1, 0.9, (n, classes)))
    if name == "SoftmaxCrossEntropyLoss":
        return rng.standard_normal((n, classes)), rng.integers(0, classes, n)
    if name == "CTCLoss":  # pred (N, T, C) in layout NTC; labels in [0, C - 2], the last is blank
        return rng.standard_normal((n, 5, classes + 1)), rng.integers(0, classes, (n, 2))
    if name == "CosineEmbeddingLoss":
        return pair[0], pair[1], rng.choice([-1.0, 1.0], n)
    if name == "TripletLoss":
        return pair[0], pair[1], rng.standard_normal((n, classes))
    if name == "KLDivLoss":
        return np.log(pair[1]), pair[1]
    if name == "PoissonNLLLoss":
        return pair[0], rng.poisson(2.0, (n, classes))
    if name == "SigmoidBinaryCrossEntropyLoss":
        return pair[0], rng.integers(0, 2, (n, classes))
    if name in ("L1Loss", "L2Loss", "HuberLoss", "HingeLoss", "SquaredHingeLoss",
                "LogisticLoss", "SDMLLoss"):
        return pair
    raise ValueError(f"no inputs are known for gluon.loss.{name}: extend _inputs")


def loss_classes():
    """Return the loss classes of the installed ``mxnet.gluon.loss``, each once, by name.

    Returns
    -------
    dict
        ``{class name: class}`` for every subclass of ``gluon.loss.Loss`` the
        module exports (aliases such as ``SoftmaxCELoss`` fold into their class).

    Raises
    ------
    ModuleNotFoundError
        If mxnet is not installed.
    """
    mx = frameworks.require("mxnet")
    found = {}
    for _, cls in inspect.getmembers(mx.gluon.loss, inspect.isclass):
        if issubclass(cls, mx.gluon.loss.Loss) and cls is not mx.gluon.loss.Loss:
            found[cls.__name__] = cls
    return dict(sorted(found.items()))


def output_shapes(batch_size=4, seed=0):
    """Run every gluon loss class with its defaults on one batch and report its output's shape.

    Parameters
    ----------
    batch_size : int, default 4
        The number of examples, at least 2 (with one example, a per-example
        output and a batch average have the same shape).
    seed : int, default 0
        Seed of the random batch.

    Returns
    -------
    pandas.DataFrame
        One row per loss class, with the columns ``output shape`` (a tuple) and
        ``one value per example`` (True when the output has ``batch_size``
        values along its first axis and no others, as ``(batch_size,)`` or
        ``(batch_size, 1)``).

    Raises
    ------
    ValueError
        If ``batch_size`` is not an integer of at least 2, or the installed
        gluon has a loss class this function has no inputs for.
    ModuleNotFoundError
        If mxnet is not installed.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size must be an integer of at least 2, got {batch_size!r}")
    mx = frameworks.require("mxnet")
    rng = np.random.default_rng(seed)
    rows = {}
    for name, cls in loss_classes().items():
        arguments = [mx.nd.array(np.asarray(a, dtype=np.float32)) for a in _inputs(name, rng, batch_size)]
        shape = tuple(cls()(*arguments).shape)
        per_example = shape[:1] == (batch_size,) and int(np.prod(shape)) == batch_size
        rows[name] = {"output shape": shape, "one value per example": per_example}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("gluon.loss class")

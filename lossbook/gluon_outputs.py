"""What each MXNet gluon loss returns for a batch: one value per sample, or one for the batch.

Most ``mxnet.gluon.loss`` classes reduce only the non-batch axes and return a
vector of ``N`` values, which training code sums by ``loss.backward()`` and
divides by ``trainer.step(N)``. :func:`output_shapes` runs every loss class of
``mxnet.gluon.loss`` on a valid batch of ``N`` samples and reports the shape of
what it returns, so a page can show which classes average over the batch
themselves (in mxnet 1.9.1, only ``PoissonNLLLoss``).
"""

import warnings

import numpy as np
import pandas as pd

from . import frameworks

FEATURES = 3
"""Values per sample of the batches :func:`output_shapes` makes."""


def _batches(rng, n):
    """The positional arguments each gluon loss class takes, as numpy arrays, by class name."""
    values = lambda: rng.standard_normal((n, FEATURES))  # noqa: E731
    signed = lambda shape: rng.choice([-1.0, 1.0], shape)  # noqa: E731
    probabilities = rng.dirichlet(np.ones(FEATURES), n)
    return {
        "L2Loss": (values(), values()),
        "L1Loss": (values(), values()),
        "HuberLoss": (values(), values()),
        "SigmoidBinaryCrossEntropyLoss": (values(), rng.integers(0, 2, (n, FEATURES)).astype(float)),
        "SoftmaxCrossEntropyLoss": (values(), rng.integers(0, FEATURES, n).astype(float)),
        "KLDivLoss": (np.log(rng.dirichlet(np.ones(FEATURES), n)), probabilities),
        "CTCLoss": (rng.standard_normal((n, 5, FEATURES + 1)), rng.integers(0, FEATURES, (n, 2)).astype(float)),
        "HingeLoss": (values(), signed((n, FEATURES))),
        "SquaredHingeLoss": (values(), signed((n, FEATURES))),
        "LogisticLoss": (values(), signed((n, FEATURES))),
        "TripletLoss": (values(), values(), values()),
        "PoissonNLLLoss": (0.5 * values(), rng.poisson(1.0, (n, FEATURES)).astype(float)),
        "CosineEmbeddingLoss": (values(), values(), signed(n)),
        "SDMLLoss": (values(), values()),
    }


def output_shapes(batch_size=4, *, seed=0):
    """Run every gluon loss class on a batch of ``batch_size`` samples; return its output's shape.

    Parameters
    ----------
    batch_size : int, default 4
        Samples in the batch; at least 2, so that a per-sample vector and one
        number for the batch cannot be confused.
    seed : int, default 0
        Seed of the random batch.

    Returns
    -------
    pandas.DataFrame
        Indexed by class name (aliases such as ``SigmoidBCELoss`` are left
        out), with the columns ``output shape`` (a tuple) and ``per sample``
        (True when the output holds one value per sample, ``batch_size`` in
        all; ``CosineEmbeddingLoss`` returns them as a column).

    Raises
    ------
    ValueError
        If ``batch_size`` is not an integer >= 2.
    ModuleNotFoundError
        If mxnet is not installed.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
    mx = frameworks.require("mxnet")
    rows = {}
    for name, arrays in _batches(np.random.default_rng(seed), int(batch_size)).items():
        block = getattr(mx.gluon.loss, name)()
        # float32, gluon's default; from_numpy because nd.array warns under new SciPy.
        inputs = (mx.nd.from_numpy(array.astype(np.float32), zero_copy=False) for array in arrays)
        with warnings.catch_warnings():
            # CosineEmbeddingLoss calls nd.array, which touches a deprecated scipy namespace.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mxnet(\..*)?\Z")
            shape = tuple(block(*inputs).shape)
        rows[name] = {"output shape": shape, "per sample": int(np.prod(shape)) == batch_size}
    return pd.DataFrame.from_dict(rows, orient="index")

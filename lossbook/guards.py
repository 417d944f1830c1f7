r"""How each library keeps :math:`\log 0` out of the log loss, reproduced side by side.

The log loss of a probability of exactly 0 for something that happens is
infinite, and every library replaces that infinity by a finite stand-in of
its own: scikit-learn clips at the machine epsilon of the input's type, Keras
at :math:`10^{-7}`, Kaggle at :math:`10^{-15}`, gluon adds :math:`10^{-12}`
inside each logarithm and PyTorch clamps each logarithm at -100. The chapter
"Log loss by any other name" compares them.

Keras and Kaggle's scorer are not installed for the book, so their clipped log
losses are **re-implemented** here in numpy, from the Keras 3 source
(``keras/src/backend/tensorflow/nn.py``) and Kaggle's documentation of its
metric; so is scikit-learn 1.1's default, for comparison with the installed
release. The tables run the installed scikit-learn, PyTorch and gluon, in
float64; a framework that is not installed leaves its column out (an error
with ``LOSSBOOK_REQUIRE_FRAMEWORKS=1``, as in :mod:`lossbook.frameworks`).

Examples
--------
>>> import numpy as np
>>> from lossbook import guards
>>> float(guards.kaggle_log_loss([1], [[1.0, 0.0]]))  # -log(1e-15)
34.538776394910684
"""

import numpy as np
import pandas as pd

from . import frameworks
from ._validation import as_class_indices, as_float64, check_flag, check_shape, check_within
from .classification import binary_cross_entropy, nll_loss

KERAS_EPSILON = 1e-7
"""``keras.config.epsilon()``, the bound Keras clips probabilities to."""

KAGGLE_EPSILON = 1e-15
"""The bound Kaggle's documented multi-class log loss clips probabilities to."""

SKLEARN_1_1_EPSILON = 1e-15
"""scikit-learn's default ``eps`` up to version 1.1."""

GLUON_EPSILON = 1e-12
"""What gluon's ``SigmoidBCELoss(from_sigmoid=True)`` adds inside each logarithm."""


def _probabilities(values, name):
    array, _ = as_float64(values, name)
    check_within(array, name, 0.0, 1.0, "probabilities")
    return array


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype.type


def _epsilon(value, name):
    epsilon = float(value)
    if not 0.0 < epsilon < 0.5:
        raise ValueError(f"{name} must lie in (0, 0.5), got {value!r}")
    return epsilon


def keras_binary_crossentropy(y_true, y_pred, *, epsilon=KERAS_EPSILON, dtype=np.float32,
                              keras2=False):
    r"""Keras's ``binary_crossentropy`` of probabilities: a numpy re-implementation.

    Keras 3 clips the probabilities to :math:`[\epsilon, 1 - \epsilon]` and
    computes, in its default float type (float32),

    .. math:: -\bigl[y \log p + (1 - y) \log(1 - p)\bigr]

    then averages over the last axis, one value per sample (the loss object
    then averages those over the batch). Keras 2 also added :math:`\epsilon`
    inside both logarithms. This is Keras's clipped path only: probabilities
    that Keras's own ``sigmoid`` produced carry their logits, and Keras 3
    computes the loss from those instead.

    Parameters
    ----------
    y_true : array_like
        Labels in [0, 1].
    y_pred : array_like
        Probabilities in [0, 1], the shape of ``y_true``.
    epsilon : float, default 1e-7
        The clipping bound, in (0, 0.5).
    dtype : {numpy.float32, numpy.float64}, default numpy.float32
        The type Keras computes in.
    keras2 : bool, default False
        Also add ``epsilon`` inside the logarithms, as Keras 2 did.

    Returns
    -------
    ndarray
        One loss per sample (the input's shape without its last axis), in ``dtype``.

    Raises
    ------
    ValueError
        If the shapes differ or a value lies outside [0, 1].
    TypeError
        If ``dtype`` is not a float type or ``keras2`` is not a bool.
    """
    dtype, epsilon = _float_dtype(dtype), _epsilon(epsilon, "epsilon")
    check_flag(keras2, "keras2")
    target = _probabilities(y_true, "y_true").astype(dtype)
    p = _probabilities(y_pred, "y_pred").astype(dtype)
    check_shape(p, target.shape, "y_pred", "the shape of y_true")
    p = np.clip(p, dtype(epsilon), dtype(1.0 - epsilon))
    fuzz = dtype(epsilon) if keras2 else dtype(0.0)
    per_value = -(target * np.log(p + fuzz) + (1 - target) * np.log(1 - p + fuzz))
    return per_value.mean(axis=-1)


def keras_categorical_crossentropy(y_true, y_pred, *, epsilon=KERAS_EPSILON, dtype=np.float32):
    r"""Keras's ``categorical_crossentropy`` of probabilities: a numpy re-implementation.

    Keras divides each row by its sum, clips to :math:`[\epsilon, 1 - \epsilon]`
    and returns :math:`-\sum_j y_j \log p_j` over the last axis, in float32 by
    default.

    Parameters
    ----------
    y_true : array_like
        One-hot or soft labels in [0, 1], shape ``(..., C)``.
    y_pred : array_like
        Probabilities in [0, 1], the shape of ``y_true``.
    epsilon : float, default 1e-7
    dtype : {numpy.float32, numpy.float64}, default numpy.float32

    Returns
    -------
    ndarray
        One loss per row, in ``dtype``.

    Raises
    ------
    ValueError
        If the shapes differ or a value lies outside [0, 1].
    TypeError
        If ``dtype`` is not a float type.
    """
    dtype, epsilon = _float_dtype(dtype), _epsilon(epsilon, "epsilon")
    target = _probabilities(y_true, "y_true").astype(dtype)
    p = _probabilities(y_pred, "y_pred").astype(dtype)
    check_shape(p, target.shape, "y_pred", "the shape of y_true")
    p = p / p.sum(axis=-1, keepdims=True)
    p = np.clip(p, dtype(epsilon), dtype(1.0 - epsilon))
    return -(target * np.log(p)).sum(axis=-1)


def kaggle_log_loss(labels, probabilities, *, eps=KAGGLE_EPSILON):
    r"""Kaggle's documented multi-class log loss: a numpy re-implementation.

    Each probability is clipped to :math:`[\epsilon, 1 - \epsilon]`, each row
    is rescaled to sum to 1, and the score is the mean of :math:`-\log p` of
    the true classes. A binary competition is the case of two columns,
    :math:`(1 - p_i, p_i)`.

    Parameters
    ----------
    labels : array_like of int
        The true class of each row, in ``[0, C)``.
    probabilities : array_like
        Probabilities in [0, 1], shape ``(N, C)``.
    eps : float, default 1e-15

    Returns
    -------
    numpy.float64

    Raises
    ------
    ValueError
        If ``probabilities`` is not 2-D, a probability lies outside [0, 1], a
        label is out of range or the number of labels is not ``N``.
    TypeError
        If ``labels`` are not integers.
    """
    eps = _epsilon(eps, "eps")
    p = _probabilities(probabilities, "probabilities")
    if p.ndim != 2:
        raise ValueError(f"probabilities must have shape (N, C), got shape {p.shape}")
    classes, _ = as_class_indices(labels, p.shape[1], -100, "labels")
    check_shape(classes, p.shape[:1], "labels", "one label per row, shape")
    p = np.clip(p, eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(classes)), classes]))


def sklearn_1_1_log_loss(y_true, y_prob, *, eps=SKLEARN_1_1_EPSILON):
    r"""scikit-learn 1.1's default binary ``log_loss``: a numpy re-implementation.

    Up to version 1.1, ``log_loss`` clipped at ``eps=1e-15`` whatever the
    input's type, in float64:
    :math:`-\operatorname{mean}\bigl[y \log q + (1 - y) \log(1 - q)\bigr]` with
    :math:`q = \operatorname{clip}(p, \epsilon, 1 - \epsilon)`.

    Parameters
    ----------
    y_true : array_like
        Labels 0 or 1.
    y_prob : array_like
        Probabilities of label 1, the shape of ``y_true``.
    eps : float, default 1e-15

    Returns
    -------
    numpy.float64

    Raises
    ------
    ValueError
        If the shapes differ or a value lies outside [0, 1].
    """
    eps = _epsilon(eps, "eps")
    y = _probabilities(y_true, "y_true")
    q = np.clip(_probabilities(y_prob, "y_prob"), eps, 1 - eps)
    check_shape(q, y.shape, "y_prob", "the shape of y_true")
    return -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))


def _binary_operands(p, y):
    p, y = _probabilities(p, "p"), _probabilities(y, "y")
    if p.ndim != 1:
        raise ValueError(f"p must be one probability per prediction, shape (N,), got {p.shape}")
    check_shape(y, p.shape, "y", "the shape of p")
    return p, y


def _gluon_bce(mx, p, y):
    """gluon's SigmoidBCELoss(from_sigmoid=True) of one column of predictions, in float64."""
    block = mx.gluon.loss.SigmoidBCELoss(from_sigmoid=True)
    return block(*(frameworks.as_float64(a[:, None], "mxnet") for a in (p, y))).asnumpy()


def per_prediction(p, y):
    """Each library's log loss of every single prediction, one column per library.

    Parameters
    ----------
    p : array_like
        Probabilities of label 1, shape ``(N,)``.
    y : array_like
        Labels 0 or 1, shape ``(N,)``.

    Returns
    -------
    pandas.DataFrame
        One row per prediction (indexed ``"p = ..., y = ..."``), one column per
        implementation: ``exact (lossbook)``, ``scikit-learn``, ``torch``,
        ``gluon``, ``Keras 3 (re-impl.)``, ``Keras 2 (re-impl.)`` and ``Kaggle
        (re-impl.)``. torch and gluon run in float64, Keras in float32 as it
        does by default. A minus zero is shown as zero.

    Raises
    ------
    ValueError
        If ``p`` is not 1-D, the shapes differ or a value lies outside [0, 1].
    """
    from sklearn.metrics import log_loss

    p, y = _binary_operands(p, y)
    losses = {
        "exact (lossbook)": binary_cross_entropy(p, y, reduction="none"),
        "scikit-learn": [log_loss([t], [q], labels=[0, 1]) for q, t in zip(p, y)],
    }
    torch = frameworks.optional("torch")
    if torch is not None:
        losses["torch"] = torch.nn.BCELoss(reduction="none")(
            frameworks.as_float64(p, "torch"), frameworks.as_float64(y, "torch")).numpy()
    mx = frameworks.optional("mxnet")
    if mx is not None:
        losses["gluon"] = _gluon_bce(mx, p, y)
    losses["Keras 3 (re-impl.)"] = keras_binary_crossentropy(y[:, None], p[:, None])
    losses["Keras 2 (re-impl.)"] = keras_binary_crossentropy(y[:, None], p[:, None], keras2=True)
    losses["Kaggle (re-impl.)"] = [kaggle_log_loss([int(t)], [[1 - q, q]]) for q, t in zip(p, y)]
    index = pd.Index([f"p = {q:g}, y = {t:g}" for q, t in zip(p, y)], name="prediction")
    return pd.DataFrame({name: np.asarray(v, dtype=np.float64) for name, v in losses.items()},
                        index=index) + 0.0


def binary_log_losses(p, y):
    """Each library's own mean log loss of a batch of binary predictions.

    Parameters
    ----------
    p : array_like
        Probabilities of label 1, shape ``(N,)``.
    y : array_like
        Labels 0 or 1, shape ``(N,)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by library, with columns ``call`` (the call, as source text)
        and ``log loss``. torch and gluon run in float64.

    Raises
    ------
    ValueError
        If ``p`` is not 1-D, the shapes differ or a value lies outside [0, 1].
    """
    from sklearn.metrics import log_loss

    p, y = _binary_operands(p, y)
    rows = {"lossbook": ("lb.binary_cross_entropy(p, y)", binary_cross_entropy(p, y)),
            "scikit-learn": ("log_loss(y, p)", log_loss(y, p))}
    torch = frameworks.optional("torch")
    if torch is not None:
        value = torch.nn.BCELoss()(frameworks.as_float64(p, "torch"),
                                   frameworks.as_float64(y, "torch")).item()
        rows["torch"] = ("torch.nn.BCELoss()(p, y)", value)
    mx = frameworks.optional("mxnet")
    if mx is not None:
        rows["gluon"] = ("SigmoidBCELoss(from_sigmoid=True)(P, Y).mean()",
                         _gluon_bce(mx, p, y).mean())
    rows["Keras (re-impl.)"] = ("keras_binary_crossentropy(Y, P).mean()",
                                keras_binary_crossentropy(y[:, None], p[:, None]).mean())
    rows["Kaggle (re-impl.)"] = ("kaggle_log_loss(y, [1 - p, p])",
                                 kaggle_log_loss(y.astype(np.int64), np.column_stack([1 - p, p])))
    return _table(rows)


def categorical_log_losses(probabilities, classes):
    """Each library's own mean log loss of a batch of class probabilities.

    Parameters
    ----------
    probabilities : array_like
        Probabilities in (0, 1], shape ``(N, C)``, each row summing to 1.
    classes : array_like of int
        The true classes, shape ``(N,)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by library, with columns ``call`` and ``log loss``. torch and
        gluon run in float64 on the log-probabilities.

    Raises
    ------
    ValueError
        If the shapes do not fit, a probability lies outside [0, 1] or a class
        is out of range.
    TypeError
        If ``classes`` are not integers.
    """
    from sklearn.metrics import log_loss

    probs = _probabilities(probabilities, "probabilities")
    if probs.ndim != 2:
        raise ValueError(f"probabilities must have shape (N, C), got shape {probs.shape}")
    classes, _ = as_class_indices(classes, probs.shape[1], -100, "classes")
    check_shape(classes, probs.shape[:1], "classes", "one class per row, shape")
    log_probs = np.log(probs)
    rows = {"lossbook": ("lb.nll_loss(log(probs), classes)", nll_loss(log_probs, classes)),
            "scikit-learn": ("log_loss(classes, probs)", log_loss(classes, probs))}
    torch = frameworks.optional("torch")
    if torch is not None:
        value = torch.nn.NLLLoss()(frameworks.as_float64(log_probs, "torch"),
                                   torch.from_numpy(classes)).item()
        rows["torch"] = ("torch.nn.NLLLoss()(log(probs), classes)", value)
    mx = frameworks.optional("mxnet")
    if mx is not None:
        block = mx.gluon.loss.SoftmaxCrossEntropyLoss(from_logits=True)
        value = block(frameworks.as_float64(log_probs, "mxnet"),
                      frameworks.as_float64(classes, "mxnet")).mean().asscalar()
        rows["gluon"] = ("SoftmaxCELoss(from_logits=True)(log(probs), classes).mean()", value)
    one_hot = np.eye(probs.shape[1])[classes]
    rows["Keras (re-impl.)"] = ("keras_categorical_crossentropy(one_hot, probs).mean()",
                                keras_categorical_crossentropy(one_hot, probs).mean())
    rows["Kaggle (re-impl.)"] = ("kaggle_log_loss(classes, probs)",
                                 kaggle_log_loss(classes, probs))
    return _table(rows)


def _table(rows):
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["call", "log loss"])
    table["log loss"] = table["log loss"].astype(np.float64)
    return table.rename_axis("library")

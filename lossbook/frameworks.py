"""Run a catalog entry's numpy batch through PyTorch and MXNet gluon, in float64.

Neither framework is imported until a function here needs it, so ``import
lossbook`` stays light and works without them. A framework that is not
installed makes :func:`compare` leave its row out and say so in a ``note`` row;
with the environment variable ``LOSSBOOK_REQUIRE_FRAMEWORKS=1`` (set by
``make test`` and in CI) it is an error instead, naming the framework and how
to install it.

Examples
--------
>>> import lossbook as lb
>>> list(lb.frameworks.compare("l2").index)
['lossbook', 'torch', 'gluon']
"""

import importlib
import os
import warnings

import numpy as np
import pandas as pd

from . import catalog

REQUIRE_FRAMEWORKS = "LOSSBOOK_REQUIRE_FRAMEWORKS"
"""The environment variable that, set to 1, makes a missing framework an error."""

INSTALL_HINTS = {
    "torch": "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",
    "mxnet": "pip install mxnet==1.9.1 (Linux x86-64 wheels only; it needs numpy<1.24)",
}
"""How to install each framework at the version requirements.txt pins."""

COLUMNS = ("call", "value", "max_abs_diff")
"""The columns of the table :func:`compare` returns."""


def missing_message(name, left_out="its output"):
    """Return the one line a page shows where a framework that is not installed would be.

    Parameters
    ----------
    name : {"torch", "mxnet"}
    left_out : str, default "its output"
        What is missing from the page for want of the framework.

    Returns
    -------
    str

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.frameworks.missing_message("mxnet", "the gluon row")
    'mxnet is not installed: the gluon row is left out'
    """
    return f"{name} is not installed: {left_out} is left out"


def _import(name):
    """Import ``name``, keeping mxnet's import-time DeprecationWarnings off the page."""
    with warnings.catch_warnings():
        # mxnet 1.9.1 uses numpy and scipy aliases that were deprecated after its release.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mxnet(\..*)?\Z")
        return importlib.import_module(name)


def _check_name(name):
    if name not in INSTALL_HINTS:
        raise ValueError(f"name must be one of {sorted(INSTALL_HINTS)}, got {name!r}")


def require(name):
    """Import a framework, or raise if it is not installed.

    Parameters
    ----------
    name : {"torch", "mxnet"}

    Returns
    -------
    module

    Raises
    ------
    ModuleNotFoundError
        If the framework is not installed; the message says how to install it.
    ValueError
        If ``name`` is not a framework lossbook knows.
    """
    _check_name(name)
    try:
        return _import(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        message = f"{name} is not installed: install it with `{INSTALL_HINTS[name]}`"
        raise ModuleNotFoundError(message, name=name) from error


def optional(name):
    """Import a framework if it is installed.

    Parameters
    ----------
    name : {"torch", "mxnet"}

    Returns
    -------
    module or None
        None if the framework is not installed and ``LOSSBOOK_REQUIRE_FRAMEWORKS``
        is not ``1``.

    Raises
    ------
    ModuleNotFoundError
        If the framework is not installed and ``LOSSBOOK_REQUIRE_FRAMEWORKS=1``.
    ValueError
        If ``name`` is not a framework lossbook knows.
    """
    _check_name(name)
    try:
        return require(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        if os.environ.get(REQUIRE_FRAMEWORKS) == "1":
            message = f"{REQUIRE_FRAMEWORKS}=1 requires {name}, but {error}"
            raise ModuleNotFoundError(message, name=name) from error
        return None


def as_float64(values, framework):
    """Return a float64 copy of ``values`` as a torch tensor or an MXNet NDArray.

    The one conversion the chapters, tests and benches use, so that a
    comparison never runs a framework in its default float32 by accident.

    Parameters
    ----------
    values : array_like
        Real numbers (booleans and integers are converted too).
    framework : {"torch", "mxnet"}

    Returns
    -------
    torch.Tensor or mxnet.nd.NDArray
        A float64 copy that shares no memory with ``values``.

    Raises
    ------
    ValueError
        If ``framework`` is not one of the two.
    TypeError
        If ``values`` are not real numbers.
    ModuleNotFoundError
        If the framework is not installed.
    """
    if framework not in INSTALL_HINTS:
        raise ValueError(f"framework must be 'torch' or 'mxnet', got {framework!r}")
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"values must be real numbers, got an array of dtype {array.dtype}")
    array = np.array(array, dtype=np.float64, order="C")
    module = require(framework)
    if framework == "torch":
        return module.from_numpy(array)
    return module.nd.from_numpy(array, zero_copy=False)


# PyTorch.


def torch_loss(entry, batch, reduction=None):
    """Compute an entry's loss of a batch with PyTorch, in float64.

    Parameters
    ----------
    entry : catalog.LossEntry
    batch : catalog.Batch
    reduction : str, optional
        One of ``entry.torch.reductions``; ``entry.torch.reduction`` by default.

    Returns
    -------
    ndarray
        The loss, reduced as asked (a 0-d array unless ``reduction="none"``).
    """
    torch = require("torch")
    tensors, arrays = entry.torch_tensors(torch, batch)
    return entry.torch_forward(torch, tensors, reduction or entry.torch.reduction, arrays).numpy()


def torch_grad(entry, batch, reduction=None):
    """Compute the gradient of :func:`torch_loss` by ``torch.autograd``, as the entry's ``grad`` returns it.

    For ``reduction="none"`` it is the gradient of the sum of the unreduced loss.

    Parameters
    ----------
    entry : catalog.LossEntry
    batch : catalog.Batch
    reduction : str, optional
        One of ``entry.torch.reductions``; ``entry.torch.reduction`` by default.

    Returns
    -------
    ndarray or tuple of ndarray
        float64: the gradient with respect to the input, shaped like
        ``batch.input``; a tuple, one per ``entry.differentiable`` array, for
        the losses differentiated with respect to several arrays. Where
        ``entry.torch_grad_through_log_softmax``, torch differentiates the loss
        of ``log_softmax(input)`` instead, which it reports the same way:
        compare it with ``entry.torch_comparable_gradients``.
    """
    torch = require("torch")
    tensors, arrays = entry.torch_tensors(torch, batch)
    leaves, tensors = entry.torch_grad_inputs(torch, tensors)
    loss = entry.torch_forward(torch, tensors, reduction or entry.torch.reduction, arrays)
    gradients = tuple(grad.numpy() for grad in torch.autograd.grad(loss.sum(), leaves))
    return gradients[0] if len(gradients) == 1 else gradients


# MXNet gluon.


def _gluon_arrays(mx, entry, batch):
    """Return the arrays gluon's block takes for the batch as NDArrays of the block's dtype.

    gluon takes class indices as floats too. ``mxnet.nd.from_numpy`` is used
    because ``mxnet.nd.array`` touches a deprecated scipy namespace and warns
    on every call.
    """
    arrays = (as_float64(array, "mxnet") for array in entry.gluon_arrays(batch))
    return tuple(array.astype(entry.gluon.dtype) for array in arrays)


def gluon_loss(entry, batch):
    """Compute an entry's loss of a batch with MXNet gluon, in float64 (or the block's only dtype).

    Parameters
    ----------
    entry : catalog.LossEntry
        An entry with a gluon spelling.
    batch : catalog.Batch

    Returns
    -------
    ndarray
        What the gluon block returns: one value per sample for most losses
        (``entry.gluon.output`` says).

    Raises
    ------
    ValueError
        If gluon has no class for the loss.
    """
    mx = require("mxnet")
    block = entry.gluon_block(mx)
    return block(*_gluon_arrays(mx, entry, batch)).asnumpy()


def gluon_grad(entry, batch):
    """Compute the gradient of the sum of :func:`gluon_loss` by ``mxnet.autograd``.

    This is what ``loss.backward()`` on gluon's output gives under
    ``mxnet.autograd.record()``: the gradient MXNet code hands its trainer.

    Parameters
    ----------
    entry : catalog.LossEntry
        An entry with a gluon spelling.
    batch : catalog.Batch

    Returns
    -------
    ndarray or tuple of ndarray
        The gradient with respect to gluon's arrays at the positions
        ``entry.differentiable``, shaped like them: one array, or a tuple
        when there are several.

    Raises
    ------
    ValueError
        If gluon has no class for the loss.
    """
    mx = require("mxnet")
    block = entry.gluon_block(mx)
    arrays = _gluon_arrays(mx, entry, batch)
    leaves = [arrays[position] for position in entry.differentiable]
    for leaf in leaves:
        leaf.attach_grad()
    with mx.autograd.record():
        loss = block(*arrays)
    loss.backward()
    gradients = tuple(leaf.grad.asnumpy() for leaf in leaves)
    return gradients[0] if len(gradients) == 1 else gradients


# The comparison the chapters display.


def _max_abs_diff(values, expected):
    """The largest absolute difference between two arrays, as a float."""
    return float(np.max(np.abs(values - expected)))


def compare(entry_or_key, batch=None, *, seed=0, reduction=None):
    """Compute one loss with lossbook, PyTorch and gluon on the same batch, side by side.

    Parameters
    ----------
    entry_or_key : catalog.LossEntry or str
        The entry, or its key in the catalog.
    batch : catalog.Batch, optional
        The batch; ``entry.make_batch(numpy.random.default_rng(seed))`` by default.
    seed : int, default 0
        The seed of the default batch.
    reduction : str, optional
        A reduction torch supports, other than ``"none"``; ``entry.torch.reduction``
        by default.

    Returns
    -------
    pandas.DataFrame
        Indexed by framework (``lossbook``, ``torch``, ``gluon``), with columns
        ``call`` (the call as source text), ``value`` (the reduced loss; for
        gluon, its output averaged or summed over the batch as training code
        does) and ``max_abs_diff`` (the largest absolute difference between the
        framework's own output and lossbook's, after the entry's relation for
        gluon). A missing framework, or gluon without a class for the loss,
        leaves its row out, and a ``note`` row says so in the ``call`` column.

    Raises
    ------
    ValueError
        If ``reduction`` is ``"none"`` or not one torch supports for the loss.
    ModuleNotFoundError
        If a framework is missing and ``LOSSBOOK_REQUIRE_FRAMEWORKS=1``.
    """
    entry = catalog.as_entry(entry_or_key)
    batch = entry.make_batch(np.random.default_rng(seed)) if batch is None else batch
    reduction = reduction or entry.torch.reduction
    if reduction == "none" or reduction not in entry.torch.reductions:
        supported = [name for name in entry.torch.reductions if name != "none"]
        raise ValueError(
            f"compare reduces to one number: reduction must be one of {supported}, "
            f"got {reduction!r}"
        )

    expected = entry.evaluate(batch, reduction)
    rows = {"lossbook": (entry.lossbook_call(reduction), float(expected), 0.0)}
    notes = []
    if optional("torch") is None:
        notes.append(missing_message("torch", "the torch row"))
    else:
        value = torch_loss(entry, batch, reduction)
        rows["torch"] = (entry.torch_call(reduction), float(value), _max_abs_diff(value, expected))
    if entry.gluon is None:
        notes.append("gluon has no class for this loss: the gluon row is left out")
    elif optional("mxnet") is None:
        notes.append(missing_message("mxnet", "the gluon row"))
    else:
        output = gluon_loss(entry, batch)
        over_batch = "sum" if reduction == "sum" else "mean"
        rows["gluon"] = (
            f"{entry.gluon_call()}.{over_batch}()",
            float(getattr(output, over_batch)()),
            _max_abs_diff(output, entry.expected_gluon(batch)),
        )
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
    if notes:
        table.loc["note"] = [" ".join(notes), np.nan, np.nan]
    return table.rename_axis("framework")

r"""The catalog: one entry per loss, holding every fact the book states about it.

An entry names the loss and its family, points at the lossbook function that
computes it (whose docstring holds its equation) and at that function's
gradient, says how PyTorch and MXNet gluon spell it and exactly how the two
relate, lists the traps of porting gluon code to PyTorch, and makes a valid
random batch. The chapters, the appendix table, :mod:`lossbook.frameworks`
and the tests all read these entries, so each fact is written down once.

Conventions
-----------
*Options* are the keyword arguments an entry passes to its lossbook function.
lossbook spells them as ``torch.nn.functional`` does, so they are also the
torch constructor arguments (or the free names of the torch expression).

The *relation* ``entry.to_gluon(loss, input, target, xp)`` maps torch's
``reduction="none"`` loss to what gluon returns for the same batch. It uses
array methods (``reshape``, ``mean(axis)``, ``sum(axis)``, arithmetic) and
``xp`` (``numpy``, ``torch`` or ``lossbook.exact.xp``) only, so it runs on
numpy arrays, differentiably on torch tensors, and exactly on mpmath values.

:func:`entries` holds one entry per loss with its default options, the book's
list of losses. :func:`variants` adds entries built with other options (a
Huber threshold, a quantile, weights, label smoothing, ...), so that the tests
and benchmarks, which run both, cover the options too. A variant's weights are
arrays shaped like its batch, so its ``make_batch`` draws them with the batch
(:attr:`Batch.options`), and its ``array_options`` names them.

Examples
--------
>>> import lossbook as lb
>>> entry = lb.catalog.get("l2")
>>> entry.torch.class_path, entry.gluon.class_path
('torch.nn.MSELoss', 'mxnet.gluon.loss.L2Loss')
>>> lb.catalog.get("huber", delta=2.0).gluon.kwargs["rho"]
2.0
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import activations, classification, embedding, exact, multilabel, regression, sequence
from . import margin as margin_losses

FAMILIES = ("regression", "probabilistic", "margin", "divergence", "embedding")
"""The five families the book sorts its losses into; embedding holds pairs and triplets."""

SAMPLES = 8
"""Rows in a batch made by an entry's ``make_batch``."""

FEATURES = 3
"""Values per row for the losses that score each value on its own."""

CLASSES = 4
"""Classes per row for the losses that score a row of class scores."""

GLUON_EPS = 1e-12
"""What gluon adds inside the logs of ``SigmoidBCELoss(from_sigmoid=True)`` and ``KLDivLoss``."""

GLUON_FLOAT64_RTOL = 1e-12
"""Relative tolerance of every float64 comparison of gluon with lossbook, a few thousand ulp."""

GLUON_FLOAT32_RTOL = 1e-5
"""Relative tolerance for a block that runs only in float32 (about 80 float32 ulp of the loss).

Such a block rounds each intermediate term to float32 (2**-24 relative); in
SDML the log-softmax terms of the squared distances are ten to twenty times
the loss, so its float32 error reaches 3e-6 of the loss (measured) while
staying within a few ulp of the terms.
"""

_MATH_DIRECTIVE = ".. math::"

_VALUES = "predictions, any shape"
_SAME_SHAPE = "targets, same shape"
_SAME_SIZE = "targets, same number of elements"
_SCORES = "scores, any shape"
_SIGNED = "labels -1 or +1, same shape"
_SIGNED_SAME_SIZE = "labels -1 or +1, same number of elements"
_CLASS_SCORES = "raw class scores, shape (N, C)"
_CLASS_INDICES = "int64 class indices, shape (N,)"
_GLUON_CLASS_INDICES = "class indices (any dtype), shape (N,)"

_PER_SAMPLE_TRAP = (
    "gluon returns one loss per sample; MXNet code calls loss.backward() on that vector and then "
    "trainer.step(batch_size), which divides by the batch size. torch's reduction='mean' already "
    "averages, so do not divide by the batch size again. MXNet code that calls trainer.step(1) "
    "adds up the per-sample values instead: torch's reduction='mean' times the batch size, which "
    "is reduction='sum' only when each sample has one value."
)

_LOSS_SCALE_REASON = (
    "scaling the learning rate instead matches only plain SGD without weight decay, since weight "
    "decay does not scale with the loss and Adam all but ignores the loss's scale (the chapter "
    "'Training with a loss' follows SGD, SGD with weight decay and Adam through whole runs)"
)

_SHAPE_TRAP = (
    "gluon reshapes the label to the prediction's shape, so a (N,) label against a (N, 1) "
    "prediction works; torch broadcasts the two to (N, N) with only a UserWarning: reshape the "
    "target."
)

_SIGNED_LABEL_TRAP = (
    "Labels must be -1 or +1: with a 0/1 label of 0 the loss is the margin whatever the score, "
    "with nothing to learn, and neither framework checks."
)

_CLASS_WEIGHT_TRAP = (
    "torch's {torch_class}(weight=class_w) with reduction='mean' divides by the summed weights "
    "of the target classes, not by the batch size: porting gluon's loss(pred, label, "
    "class_w[label]).mean() to it changes the loss and its gradients whenever a batch's classes "
    "are unbalanced; {torch_class}(weight=class_w, reduction='sum') / batch_size keeps gluon's."
)

_FROM_LOGITS_TRAP = (
    "gluon's from_logits=True means the input is already log-probabilities (torch's NLLLoss); "
    "the default from_logits=False takes raw scores, like torch's CrossEntropyLoss."
)


@dataclass(frozen=True)
class Batch:
    """One batch of inputs and targets, as numpy arrays.

    Attributes
    ----------
    input : ndarray
        float64 predictions (values, scores, logits, probabilities or
        log-probabilities, as the loss takes them); axis 0 is the batch axis.
    target : ndarray
        float64 targets, or int64 class indices for the losses that take them.
    options : Mapping, optional
        Array options drawn with the batch, such as a ``weight`` of the
        input's shape: keyword arguments of the loss, passed beside the
        entry's own options. Only variants (see :func:`variants`) have any.
    rest : tuple of ndarray, optional
        The loss's positional arrays after the first two, for the losses that
        take more than a pair (a triplet's negative; CTC's lengths). A loss of
        more than a pair names its arrays in :attr:`LossEntry.arguments`:
        ``input`` and ``target`` hold its first two, whatever their names
        (a triplet's anchor and positive).
    """

    input: np.ndarray
    target: np.ndarray
    options: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    rest: tuple = ()

    @property
    def arrays(self):
        """Every positional array of the loss in its order, ``(input, target, *rest)``."""
        return (self.input, self.target, *self.rest)

    def with_arrays(self, *arrays):
        """Return this batch with its positional arrays replaced by ``arrays``, options kept."""
        return Batch(arrays[0], arrays[1], self.options, tuple(arrays[2:]))


@dataclass(frozen=True)
class TorchSpelling:
    """How PyTorch spells a loss: a ``torch.nn`` class, or an expression where there is none.

    Attributes
    ----------
    input_format : str
        What torch expects as the input.
    target_format : str
        What torch expects as the target.
    class_path : str or None
        Dotted path of the ``torch.nn`` class, which takes the entry's options
        and ``reduction``; None when torch has no class.
    expression : str or None
        A torch expression in ``input``, ``target`` and the entry's options that
        gives the unreduced loss and ends in a call, so that ``.mean()`` or
        ``.sum()`` can follow it.
    function_path : str or None
        Dotted path of a ``torch.nn.functional`` function, called as
        ``function(input, target, reduction=..., **options)``: the spelling of
        options that torch's class lacks (the elementwise ``weight`` of
        ``mse_loss``, ``l1_loss`` and ``huber_loss``). Exactly one of
        ``class_path``, ``expression`` and ``function_path`` is set.
    reduction : str, default "mean"
        The reduction the book uses with this loss.
    reductions : tuple of str
        Every reduction torch supports for this loss, ``("none", "mean", "sum")``
        by default.
    """

    input_format: str
    target_format: str
    class_path: str | None = None
    expression: str | None = None
    reduction: str = "mean"
    reductions: tuple[str, ...] = ("none", "mean", "sum")
    function_path: str | None = None

    def __post_init__(self):
        spellings = (self.class_path, self.expression, self.function_path)
        if sum(spelling is not None for spelling in spellings) != 1:
            raise ValueError("give exactly one of class_path, expression and function_path")
        if self.reduction not in self.reductions:
            raise ValueError(f"reduction {self.reduction!r} is not one of {self.reductions}")


@dataclass(frozen=True)
class GluonSpelling:
    """How MXNet gluon spells a loss.

    Attributes
    ----------
    class_path : str
        Dotted path of the ``mxnet.gluon.loss`` class.
    kwargs : Mapping
        Its constructor arguments.
    label_format : str
        What gluon expects as the label.
    output : str, default "one value per sample: the mean over the non-batch axes"
        The shape and meaning of what the loss block returns.
    arguments : tuple of str, optional
        The names of the block's positional arguments, in its order;
        ``("pred", "label")`` by default.
    dtype : str, default "float64"
        The dtype the block runs in: "float32" where it fails on float64
        (a float32 constant inside), so the comparisons feed it the batch
        rounded to float32 and allow for float32's rounding
        (:data:`GLUON_FLOAT32_RTOL`).
    """

    class_path: str
    kwargs: MappingProxyType
    label_format: str
    output: str = "one value per sample: the mean over the non-batch axes"
    arguments: tuple[str, ...] = ("pred", "label")
    dtype: str = "float64"

    def __post_init__(self):
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    @property
    def rtol(self):
        """The relative tolerance of a comparison with this block's output."""
        return GLUON_FLOAT32_RTOL if self.dtype == "float32" else GLUON_FLOAT64_RTOL


@dataclass(frozen=True)
class LossEntry:
    """Everything the book states about one loss.

    Attributes
    ----------
    key : str
        The name to look the entry up by, e.g. ``"bce_logits"``.
    title : str
        The name to show a reader.
    family : str
        One of :data:`FAMILIES`.
    loss : callable
        The lossbook function, called ``loss(input, target, reduction=..., **options)``.
    grad : callable
        Its gradient with respect to ``input``, called the same way.
    options : Mapping
        Keyword options of ``loss`` and ``grad``, spelled as torch spells them.
    elementwise : bool
        True if the loss scores each input value on its own, False if it scores
        a row of class scores (its unreduced loss has one value per row).
    torch : TorchSpelling
        The PyTorch spelling.
    gluon : GluonSpelling or None
        The gluon spelling; None when gluon has no class for the loss.
    relation : str
        How gluon's output relates to torch's, in plain English.
    to_gluon : callable or None
        The relation as code: ``to_gluon(loss, input, target, xp)`` turns torch's
        ``reduction="none"`` loss into gluon's output. None without a gluon class.
    traps : tuple of str
        What goes wrong when porting gluon code to PyTorch.
    make_batch : callable
        ``make_batch(rng)`` returns a valid random :class:`Batch`, drawn from the
        ``numpy.random.Generator`` ``rng``; ``make_batch(rng, shape)`` draws
        one of another shape, ``(samples, values)`` for elementwise losses and
        ``(samples, classes)`` for the others.
    textbook : str or None
        The loss as a textbook writes it, a numpy expression in ``np``,
        ``input``, ``target`` and the options that gives the unreduced loss,
        with nothing guarding against overflow or cancellation: the baseline
        of the accuracy benchmark. None where there is no such one-liner.
    extreme_batches : callable
        ``extreme_batches()`` returns a dict of named batches at the edges of
        float64 (logits of +-1000, probabilities within 1e-12 of 0 and 1,
        terms that cancel, ...), on which lossbook is accurate to 2 ulp.
    equation_block : int, default 0
        Which ``.. math::`` block of the loss's docstring is its :attr:`equation`.
    array_options : tuple of str, optional
        The names of the array options each batch carries in :attr:`Batch.options`.
    variant : str, default ""
        What sets a variant apart when its options do not (its batches' shape,
        say); part of its :attr:`label`.
    correctly_rounded : bool, default False
        True if the loss's docstring promises every unreduced value is the
        float64 nearest the exact one (not only within 2 ulp of it).
    arguments : tuple of str, optional
        ``("input", "target")`` by default. The names of the loss's positional arrays, in its order (torch's):
        ``("anchor", "positive", "negative")`` for a triplet loss, say. A
        batch holds them in :attr:`Batch.arrays`.
    differentiable : tuple of int, optional
        ``(0,)`` by default. The positions in :attr:`arguments` of the arrays the loss is
        differentiated with respect to. ``grad`` returns one array when there
        is one, else a tuple in this order.
    gluon_inputs : callable or None, default None
        ``gluon_inputs(batch)`` returns the numpy arrays the gluon block takes
        for the batch, in its order (:attr:`GluonSpelling.arguments`), where
        they are not the batch's own arrays (CTC's raw scores in (N, T, C)
        and its labels padded with -1); None means ``batch.arrays``. Its
        gradient is then compared in the chapter that teaches the loss, since
        gluon's arrays are not lossbook's.
    torch_grad_through_log_softmax : bool, default False
        True where torch's autograd does not return the partial derivative
        with respect to the input but the gradient with respect to logits
        behind a ``log_softmax`` (CTC: ``exp(log_probs)`` minus the
        posteriors). The comparisons then give torch ``log_softmax(z)`` at
        ``z = input`` and chain lossbook's gradient through ``log_softmax``
        (:meth:`torch_comparable_gradients`).
    """

    key: str
    title: str
    family: str
    loss: Callable
    grad: Callable
    options: MappingProxyType
    elementwise: bool
    torch: TorchSpelling
    gluon: GluonSpelling | None
    relation: str
    to_gluon: Callable | None
    traps: tuple[str, ...]
    make_batch: Callable
    textbook: str | None
    extreme_batches: Callable
    equation_block: int = 0
    array_options: tuple[str, ...] = ()
    variant: str = ""
    correctly_rounded: bool = False
    arguments: tuple[str, ...] = ("input", "target")
    differentiable: tuple[int, ...] = (0,)
    gluon_inputs: Callable | None = None
    torch_grad_through_log_softmax: bool = False

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family {self.family!r} is not one of {FAMILIES}")
        if (self.gluon is None) != (self.to_gluon is None):
            raise ValueError("an entry has a gluon spelling exactly when it has a relation to it")
        if len(self.arguments) < 2 or not self.differentiable or not set(self.differentiable) <= set(
            range(len(self.arguments))
        ):
            raise ValueError("arguments names at least two arrays and differentiable indexes them")

    @property
    def equation(self):
        """The loss in LaTeX, without delimiters, as its lossbook docstring shows it."""
        return math_blocks(self.loss.__doc__)[self.equation_block]

    @property
    def label(self):
        """The key with the options and array options, e.g. ``"huber[delta=1.5, weight]"``."""
        parts = [f"{name}={getattr(value, '__name__', value)}" for name, value in self.options.items()]
        parts += [*self.array_options, *([self.variant] if self.variant else [])]
        return f"{self.key}[{', '.join(parts)}]" if parts else self.key

    def _keywords(self, batch):
        """The keyword options of a call on ``batch``: the entry's and the batch's."""
        return {**self.options, **batch.options}

    def evaluate(self, batch, reduction):
        """Return lossbook's loss of ``batch``, reduced by ``reduction``."""
        return self.loss(*batch.arrays, reduction=reduction, **self._keywords(batch))

    def gradient(self, batch, reduction):
        """Return the gradient of ``evaluate(batch, reduction)``, as :attr:`grad` returns it.

        That is one array (the gradient with respect to the input) for most
        losses, and a tuple, one array per :attr:`differentiable` argument,
        for the others.
        """
        return self.grad(*batch.arrays, reduction=reduction, **self._keywords(batch))

    def gradients(self, batch, reduction):
        """Return the gradient of ``evaluate(batch, reduction)`` as a tuple, one per differentiable array."""
        gradient = self.gradient(batch, reduction)
        return (gradient,) if len(self.differentiable) == 1 else tuple(gradient)

    def expected_gluon(self, batch):
        """Return what gluon should output for ``batch``: the relation applied to lossbook."""
        if self.to_gluon is None:
            raise ValueError(f"gluon has no class for the {self.key!r} loss")
        batch = self.as_gluon_sees(batch)
        return self.to_gluon(self.evaluate(batch, "none"), batch.input, batch.target, np)

    def as_gluon_sees(self, batch):
        """Return ``batch`` as gluon's block receives it: its real arrays rounded to the block's dtype.

        The batch itself for a float64 block; for a float32 one (see
        :attr:`GluonSpelling.dtype`), each real array rounded to float32 and
        held as float64 again, so that lossbook computes the loss of the very
        numbers gluon gets.
        """
        if self.gluon is None or self.gluon.dtype == "float64":
            return batch

        def rounded(array):
            array = np.asarray(array)
            return array.astype(np.float32).astype(np.float64) if array.dtype.kind == "f" else array

        options = _frozen(**{name: rounded(value) for name, value in batch.options.items()})
        return Batch(*map(rounded, batch.arrays[:2]), options, tuple(map(rounded, batch.rest)))

    def torch_comparable_gradients(self, batch, reduction):
        r"""Return :meth:`gradients`, chained through ``log_softmax`` over the last axis if torch's is.

        With :attr:`torch_grad_through_log_softmax`, the input's gradient
        :math:`g` becomes :math:`g - e^{x} \sum_c g_c` (the input :math:`x`
        holding log-probabilities): the gradient with respect to logits
        :math:`z` at :math:`z = x`, which is what torch's autograd reports.
        """
        gradients = self.gradients(batch, reduction)
        if not self.torch_grad_through_log_softmax:
            return gradients
        g = gradients[0]
        chained = g - np.exp(batch.input) * g.sum(axis=-1, keepdims=True)
        return (chained, *gradients[1:])

    def exact_loss(self, batch, reduction="none", magnitude=False):
        """Return the exact loss of ``batch`` (mpmath), from ``lossbook.exact``.

        Parameters
        ----------
        batch : Batch
        reduction : str, default "none"
            One of ``torch.reductions``.
        magnitude : bool, default False
            Return the sum of the magnitudes of each loss's terms instead, the
            scale a cancelling loss's error is measured against.

        Returns
        -------
        ndarray
            An object array of ``mpmath.mpf`` values for ``reduction="none"``,
            else one ``mpmath.mpf``.
        """
        reference = exact.reference(self.loss)
        return reference(
            *batch.arrays, reduction=reduction, magnitude=magnitude, **self._keywords(batch)
        )

    def exact_gluon(self, batch, magnitude=False):
        """Return what gluon should output for ``batch``, exactly: the relation applied to mpmath.

        Raises
        ------
        ValueError
            If gluon has no class for the loss.
        ZeroDivisionError
            Where the relation is undefined: gluon's epsilon terms divide by a
            probability of exactly 0 (or 1) in ``bce`` and by a target of 0 in
            ``kl_div``.
        """
        if self.to_gluon is None:
            raise ValueError(f"gluon has no class for the {self.key!r} loss")
        batch = self.as_gluon_sees(batch)
        loss = self.exact_loss(batch, "none", magnitude)
        with exact.working_precision():
            input, target = exact.to_mpf(batch.input), exact.to_mpf(batch.target)
            return self.to_gluon(loss, input, target, exact.xp)

    def textbook_loss(self, batch):
        """Return the unreduced :attr:`textbook` formula of ``batch``, overflow and all.

        Raises
        ------
        ValueError
            If the entry has no textbook formula.
        """
        if self.textbook is None:
            raise ValueError(f"the {self.label!r} entry has no textbook formula")
        namespace = {"np": np, **dict(zip(self.arguments, batch.arrays))}
        namespace.update(self._keywords(batch))
        # numpy's C code imports numpy.core._methods on an array method's first call, through
        # the calling frame's builtins: the formula gets __import__ and nothing else.
        with np.errstate(all="ignore"):
            return eval(self.textbook, {"__builtins__": {"__import__": __import__}}, namespace)

    def torch_tensors(self, torch, batch):
        """Return the batch for torch: its positional arrays and its array options, as tensors.

        Arrays of integers (class indices, CTC's targets and lengths) become
        int64 tensors, the others float64; the array options are float64.

        Returns
        -------
        tuple
            ``(tensors, arrays)``: a tuple of tensors in :attr:`arguments`
            order, and a dict of the array options' tensors.
        """
        from .frameworks import as_float64  # frameworks imports this module

        tensors = []
        for array in batch.arrays:
            array = np.asarray(array)
            if array.dtype.kind in "iu":
                tensors.append(torch.from_numpy(array.astype(np.int64)))
            else:
                tensors.append(as_float64(array, "torch"))
        arrays = {name: as_float64(value, "torch") for name, value in batch.options.items()}
        return tuple(tensors), arrays

    def torch_forward(self, torch, tensors, reduction, arrays=None):
        """Compute the loss with torch, as :attr:`torch` spells it.

        Parameters
        ----------
        torch : module
            The ``torch`` module.
        tensors : tuple
            The positional tensors, as :meth:`torch_tensors` makes them.
        reduction : str
            One of ``torch.reductions``.
        arrays : dict, optional
            The batch's array options as tensors (see :meth:`torch_tensors`).

        Returns
        -------
        object
            torch's loss, a tensor.
        """
        options = {**self.options, **(arrays or {})}
        spelling = self.torch
        if spelling.class_path is not None:
            loss_class = _resolve(torch, spelling.class_path)
            return loss_class(**options, reduction=reduction)(*tensors)
        if spelling.function_path is not None:
            function = _resolve(torch, spelling.function_path)
            return function(*tensors, reduction=reduction, **options)
        # Run the very text the catalog shows, so that the text is what the tests check.
        namespace = {"torch": torch, **dict(zip(self.arguments, tensors)), **options}
        unreduced = eval(spelling.expression, {"__builtins__": {}}, namespace)
        return unreduced if reduction == "none" else getattr(unreduced, reduction)()

    def torch_grad_inputs(self, torch, tensors):
        """Return the leaves torch differentiates by, and the tensors to feed its loss.

        The leaves are the :attr:`differentiable` tensors, made to require
        gradients; with :attr:`torch_grad_through_log_softmax` the input is fed
        through ``log_softmax``, so that torch reports what
        :meth:`torch_comparable_gradients` computes.

        Returns
        -------
        tuple
            ``(leaves, tensors)``: a list of tensors and the tuple to pass to
            :meth:`torch_forward`.
        """
        leaves = [tensors[position].requires_grad_() for position in self.differentiable]
        if self.torch_grad_through_log_softmax:  # torch's autograd reports logits' gradients
            tensors = (torch.log_softmax(tensors[0], -1), *tensors[1:])
        return leaves, tensors

    def gluon_arrays(self, batch):
        """Return the numpy arrays the gluon block takes for ``batch``, in its order.

        Raises
        ------
        ValueError
            If gluon has no class for the loss.
        """
        if self.gluon is None:
            raise ValueError(f"gluon has no class for the {self.key!r} loss")
        arrays = batch.arrays if self.gluon_inputs is None else self.gluon_inputs(batch)
        return tuple(np.asarray(array) for array in arrays)

    def gluon_block(self, mx):
        """Build the gluon loss block, given the ``mxnet`` module.

        Raises
        ------
        ValueError
            If gluon has no class for the loss.
        """
        if self.gluon is None:
            raise ValueError(f"gluon has no class for the {self.key!r} loss")
        return _resolve(mx, self.gluon.class_path)(**self.gluon.kwargs)

    def lossbook_call(self, reduction):
        """Return the lossbook call as source text, with the options written out."""
        arguments = [*self.arguments, *_keyword_texts(self.options), *self._array_texts()]
        arguments.append(f"reduction={reduction!r}")
        return f"lb.{self.loss.__name__}({', '.join(arguments)})"

    def torch_call(self, reduction):
        """Return the torch call as source text, with the options written out.

        An option that is a function (the triplet entry's distance) is left
        out of an expression's options: the expression spells torch's own.
        """
        torch_options = self.options
        if self.torch.expression is not None:
            torch_options = {name: value for name, value in self.options.items() if not callable(value)}
        options = [*_keyword_texts(torch_options), *self._array_texts()]
        if self.torch.class_path is not None:
            arguments = [*options, f"reduction={reduction!r}"]
            return f"{self.torch.class_path}({', '.join(arguments)})({', '.join(self.arguments)})"
        if self.torch.function_path is not None:
            arguments = [*self.arguments, *options, f"reduction={reduction!r}"]
            return f"{self.torch.function_path}({', '.join(arguments)})"
        call = self.torch.expression + ("" if reduction == "none" else f".{reduction}()")
        return f"{call} with {', '.join(options)}" if options else call

    def gluon_call(self):
        """Return the gluon call as source text, or a sentence saying gluon has no class."""
        if self.gluon is None:
            return "gluon has no class for this loss"
        arguments = ", ".join(_keyword_texts(self.gluon.kwargs))
        return f"{self.gluon.class_path}({arguments})({', '.join(self.gluon.arguments)})"

    def _array_texts(self):
        """``["weight=weight", ...]`` for the array options."""
        return [f"{name}={name}" for name in self.array_options]


def _resolve(module, dotted_path):
    """Return the object at ``dotted_path``, a path that starts with the module's own name."""
    return functools.reduce(getattr, dotted_path.split(".")[1:], module)


def math_blocks(docstring):
    """Return the LaTeX of each ``.. math::`` directive of a docstring, in order.

    A directive's LaTeX is the text after ``.. math::`` and the lines after it
    that are blank or indented deeper than the directive, stripped and joined
    by newlines.

    Parameters
    ----------
    docstring : str

    Returns
    -------
    list of str
    """
    lines = inspect.cleandoc(docstring).splitlines()
    blocks = []
    for number, line in enumerate(lines):
        directive = line.lstrip()
        if not directive.startswith(_MATH_DIRECTIVE):
            continue
        indent = len(line) - len(directive)
        body = [directive.removeprefix(_MATH_DIRECTIVE)]
        for following in lines[number + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        blocks.append("\n".join(part.strip() for part in body if part.strip()))
    return blocks


def _keyword_texts(mapping):
    """Return ``["name=value", ...]`` for a mapping of keyword arguments; a function shows as ``lb.name``."""
    return [
        f"{name}=lb.{value.__name__}" if callable(value) else f"{name}={value!r}"
        for name, value in mapping.items()
    ]


def _frozen(**kwargs):
    """Return a read-only mapping of ``kwargs``."""
    return MappingProxyType(kwargs)


# How gluon reduces. These run on numpy arrays and torch tensors alike.


def _per_sample_mean(loss):
    """Average every axis but the first, as gluon does by default."""
    return loss.reshape(loss.shape[0], -1).mean(1)


def _per_sample_sum(loss):
    """Sum every axis but the first, as gluon's KLDivLoss does."""
    return loss.reshape(loss.shape[0], -1).sum(1)


def _same_loss_per_sample(loss, input, target, xp):
    """The relation of a loss gluon computes as torch does and averages per sample."""
    return _per_sample_mean(loss)


# Batches. Each maker takes a generator and an optional shape.

_ELEMENTWISE = (SAMPLES, FEATURES)
_ROWS = (SAMPLES, CLASSES)


def _real_pairs(rng, shape=_ELEMENTWISE):
    """Real-valued predictions and targets, spread wide enough to cross Huber's kink."""
    return Batch(1.5 * rng.standard_normal(shape), 1.5 * rng.standard_normal(shape))


def _count_batch(rng, shape=_ELEMENTWISE, *, log_input):
    """Poisson counts and their predicted rates, as log-rates if ``log_input``."""
    log_rate = 0.5 * rng.standard_normal(shape)
    counts = rng.poisson(np.exp(log_rate)).astype(np.float64)
    return Batch(log_rate if log_input else np.exp(log_rate), counts)


def _probability_batch(rng, shape=_ELEMENTWISE):
    """Probabilities strictly inside (0, 1) and 0/1 labels."""
    return Batch(rng.uniform(0.02, 0.98, shape), rng.integers(0, 2, shape).astype(np.float64))


def _logit_batch(rng, shape=_ELEMENTWISE):
    """Logits and 0/1 labels."""
    return Batch(2.0 * rng.standard_normal(shape), rng.integers(0, 2, shape).astype(np.float64))


def _signed_batch(rng, shape=_ELEMENTWISE):
    """Scores and -1/+1 labels."""
    return Batch(1.5 * rng.standard_normal(shape), rng.choice([-1.0, 1.0], shape))


def _class_scores(rng, shape=_ROWS):
    """A row of raw class scores per sample."""
    return 2.0 * rng.standard_normal(shape)


def _class_index_batch(rng, shape=_ROWS):
    """Class scores and int64 class indices."""
    return Batch(_class_scores(rng, shape), rng.integers(0, shape[1], shape[0]))


def _class_probability_batch(rng, shape=_ROWS):
    """Class scores and target class probabilities (each row sums to 1)."""
    return Batch(_class_scores(rng, shape), activations.softmax(_class_scores(rng, shape)))


def _log_probability_index_batch(rng, shape=_ROWS):
    """Class log-probabilities and int64 class indices."""
    log_p = activations.log_softmax(_class_scores(rng, shape))
    return Batch(log_p, rng.integers(0, shape[1], shape[0]))


def _distribution_batch(rng, shape=_ROWS):
    """Predicted log-probabilities and a strictly positive target distribution."""
    predicted = activations.log_softmax(_class_scores(rng, shape))
    return Batch(predicted, activations.softmax(_class_scores(rng, shape)))


def _log_distribution_batch(rng, shape=_ROWS):
    """Predicted and target log-probabilities (KL with ``log_target=True``)."""
    predicted = activations.log_softmax(_class_scores(rng, shape))
    return Batch(predicted, activations.log_softmax(_class_scores(rng, shape)))


def _spatial_class_index_batch(rng, shape=(SAMPLES // 2, CLASSES, 2)):
    """Class scores of shape (N, C, d) and int64 class indices of shape (N, d)."""
    return Batch(_class_scores(rng, shape), rng.integers(0, shape[1], shape[:1] + shape[2:]))


# Extreme batches: the grids on which lossbook's docstrings promise 2 ulp.

_GRID_RNG_SEED = 20240601
_ROUND_MAGNITUDES = (
    1e-300, 1e-10, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 25.0, 30.0, 35.0, 37.0, 40.0, 50.0,
    100.0, 700.0, 709.7, 745.0, 1000.0,
)
LOGIT_GRID = np.array(sorted(
    {0.0, *_ROUND_MAGNITUDES, *(-v for v in _ROUND_MAGNITUDES)}
    | set(np.random.default_rng(_GRID_RNG_SEED).uniform(-50.0, 50.0, 24).tolist())
))
"""The logits of the extreme batches, from 0 to +-1000.

Round numbers subtract exactly; the random ones exercise rounding in ``z - m``.
"""
_PROBABILITIES = np.array([
    1e-300, 1e-12, 3e-10, 1e-6, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99,
    1 - 1e-6, 1 - 3e-10, 1 - 1e-12, 1 - 2**-53,
])
_SOFT_LABELS = np.array([0.0, 1.0, 0.25, 0.5, 0.7, 1e-12, 1 - 1e-12])
_COUNTS = np.array([0.0, 1.0, 2.0, 3.0, 3.5, 10.0, 1e6])
_CONFIDENT = np.array([20.0, 25.0, 30.0, 35.0, 40.0])
_LOG_PROBABILITIES = np.array(
    [-1000.0, -50.0, np.log(1e-12), -20.0, -1.2, np.log(0.7), -1e-6, -1e-12, -1e-300, 0.0]
)


def _column(*arrays):
    """Arrays as columns of shape (n, 1): one value per sample, so gluon returns each value."""
    return tuple(np.asarray(array, dtype=np.float64).reshape(-1, 1) for array in arrays)


def _product(first, second):
    """Every pair of ``first`` and ``second``, as two columns."""
    pairs = np.array(np.meshgrid(first, second, indexing="ij")).reshape(2, -1)
    return _column(*pairs)


def _extreme_real_pairs():
    near_one = 1.0 + np.arange(1, 6) * np.finfo(np.float64).eps
    big = np.array([1e150, -3e150, 2.5e151])
    return {
        "values 0 to +-1000, every pair": Batch(*_product(LOGIT_GRID[::3], LOGIT_GRID[1::3])),
        "differences of 1 ulp": Batch(*_column(near_one, np.ones(5))),
        "magnitudes 1e150": Batch(*_column(big, big[::-1] / 3)),
    }


def _extreme_log_rates():
    matched = np.array([np.e, 3.0, 20.0, 1e6])
    return {
        "log-rates to +-700, counts 0 to 1e6": Batch(
            *_product(LOGIT_GRID[np.abs(LOGIT_GRID) < 709], _COUNTS)
        ),
        "log-rate = log(count): the terms cancel": Batch(*_column(np.log(matched), matched)),
    }


def _extreme_rates():
    rates = np.array([0.0, 1e-300, 1e-9, 0.5, 1 - 1e-8, 1.0, 2.0, 1e3, 1e300])
    return {
        "rates 0 to 1e300, counts 0 to 1e6": Batch(*_product(rates, _COUNTS)),
        "rate + 1e-8 rounds: rates 1e-300 to 1e300": Batch(*_column(
            [1e-300, 1e-9, 1.0 - 1e-8, 1.0, 1e300], [2.0, 5.0, 1e8, 3.0, 1.0]
        )),
    }


def _extreme_probabilities():
    return {
        "p within 1e-12 of 0 and 1, soft labels": Batch(*_product(_PROBABILITIES, _SOFT_LABELS)),
        "p exactly 0 or 1": Batch(*_column([0.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0, 0.3])),
    }


def _extreme_logits():
    both_signs = np.concatenate([_CONFIDENT, -_CONFIDENT])
    return {
        "logits 0 to +-1000, soft labels": Batch(*_product(LOGIT_GRID, _SOFT_LABELS)),
        "confident and right, |z| = 20..40": Batch(*_column(both_signs, np.repeat([1.0, 0.0], 5))),
        "confident and wrong, |z| = 20..40": Batch(*_column(both_signs, np.repeat([0.0, 1.0], 5))),
        "soft label 1 - 2^-30, z = 20..40": Batch(*_column(_CONFIDENT, np.full(5, 1 - 2.0**-30))),
    }


def _extreme_signed():
    near = np.array([1 - 2.0**-52, 1 + 2.0**-52, 0.999999, 1e-300])
    return {
        "scores 0 to +-1000, labels +-1": Batch(*_product(LOGIT_GRID, [-1.0, 1.0])),
        "margins within 1 ulp of 1": Batch(*_column(near, np.ones(4))),
    }


def _extreme_rows():
    rng = np.random.default_rng(_GRID_RNG_SEED + 2)
    rows = [
        [1000.0, 999.5, 998.0, -1000.0],  # naive exp overflows
        [710.0, 709.0, 0.0, 1.5],
        [-1000.0, -1000.5, -1003.0, -1010.0],  # naive exp underflows to 0 / 0
        [-1000.0, 1000.0, 0.0, 3.0],
        [5.0, 5.0, 5.0, 5.0],
        [1e-10, 0.0, -1e-10, 2e-10],
        [20.3, 0.3, 0.1, -1.7],  # logit gaps 20 to 40: tiny normalising tails
        [25.7, 0.3, 4.1, -1.7],
        [30.0, 0.0, -0.5, -2.0],
        [35.123456789, 0.987654321, 0.5, -3.25],
        [40.5, 0.5, 0.25, 0.125],
        [37.9, -2.2, 1.3, 0.7],
    ]
    rows += rng.uniform(-50.0, 50.0, (8, 4)).tolist() + rng.uniform(-3.0, 3.0, (4, 4)).tolist()
    return np.array(rows)


EXTREME_ROWS = _extreme_rows()
"""The rows of four class scores of the extreme batches.

Their exp overflows or underflows, their scores tie, or their logit gaps of
20 to 40 leave tiny normalising tails.
"""


def _extreme_class_indices():
    rows = EXTREME_ROWS
    return {
        "extreme rows, label = argmax": Batch(
            rows, np.argmax(rows, axis=1)
        ),
        "extreme rows, label = argmin": Batch(rows, np.argmin(rows, axis=1)),
    }


def _extreme_class_probabilities():
    rows = EXTREME_ROWS
    targets = np.random.default_rng(_GRID_RNG_SEED + 1).dirichlet(np.ones(4), len(rows))
    targets[::3] = np.eye(4)[np.arange(0, len(rows), 3) % 4]
    return {"extreme rows, soft and one-hot targets": Batch(rows, targets)}


def _extreme_log_probability_indices():
    rows = EXTREME_ROWS
    tiny = np.array([[-1e-18, -41.5, -45.0], [-1000.0, -1e-300, -700.0]])
    return {
        "log-probabilities -|row|": Batch(-np.abs(rows), np.arange(len(rows)) % 4),
        "log-probabilities -1e-300 to -1000": Batch(tiny, np.array([0, 2])),
    }


def _extreme_distributions():
    x, t = _product(_LOG_PROBABILITIES, _PROBABILITIES)
    matched = np.array([1e-12, 0.3, 0.5, 1 - 1e-12])
    return {
        "log q -1000..0, t within 1e-12 of 0 and 1": Batch(x, t),
        "input = log(target): the terms cancel": Batch(*_column(np.log(matched), matched)),
        "target exactly 0 or 1": Batch(*_column([-3.0, 0.0, -1e-300], [0.0, 1.0, 0.0])),
    }


def _extreme_log_distributions():
    grid = _product(_LOG_PROBABILITIES, _LOG_PROBABILITIES)
    return {"log q and log t from -1000 to 0": Batch(*grid)}


# The entries. Each factory takes the entry's options and returns the entry.


def _l2():
    """Squared error: torch's MSELoss, twice gluon's L2Loss."""
    return LossEntry(
        key="l2",
        title="Squared error (L2)",
        family="regression",
        loss=regression.mse_loss,
        grad=regression.mse_loss_grad,
        options=_frozen(),
        elementwise=True,
        torch=TorchSpelling(_VALUES, _SAME_SHAPE, class_path="torch.nn.MSELoss"),
        gluon=GluonSpelling("mxnet.gluon.loss.L2Loss", _frozen(), _SAME_SIZE),
        relation=(
            "gluon's L2Loss is half the squared error: per sample it is 1/2 times the mean over "
            "the non-batch axes of torch's reduction='none' loss, so torch's "
            "MSELoss(reduction='mean') is 2 * L2Loss()(pred, label).mean()."
        ),
        to_gluon=lambda loss, input, target, xp: 0.5 * _per_sample_mean(loss),
        traps=(
            "torch's MSELoss is twice gluon's L2Loss, and so are its gradients: port it as "
            f"0.5 * MSELoss(), keeping the loss's scale; {_LOSS_SCALE_REASON}.",
            _SHAPE_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_real_pairs,
        textbook="(input - target) ** 2",
        extreme_batches=_extreme_real_pairs,
    )


def _l1():
    """Absolute error: torch's L1Loss and gluon's L1Loss."""
    return LossEntry(
        key="l1",
        title="Absolute error (L1)",
        family="regression",
        loss=regression.l1_loss,
        grad=regression.l1_loss_grad,
        options=_frozen(),
        elementwise=True,
        torch=TorchSpelling(_VALUES, _SAME_SHAPE, class_path="torch.nn.L1Loss"),
        gluon=GluonSpelling("mxnet.gluon.loss.L1Loss", _frozen(), _SAME_SIZE),
        relation=(
            "The same elementwise loss: per sample gluon returns the mean over the non-batch axes "
            "of torch's reduction='none' loss, so torch's L1Loss(reduction='mean') is "
            "L1Loss()(pred, label).mean()."
        ),
        to_gluon=_same_loss_per_sample,
        traps=(_SHAPE_TRAP, _PER_SAMPLE_TRAP),
        make_batch=_real_pairs,
        textbook="np.abs(input - target)",
        extreme_batches=_extreme_real_pairs,
        correctly_rounded=True,
    )


def _huber(delta=1.0):
    """Huber's loss: torch's HuberLoss(delta), which is delta times gluon's HuberLoss(rho=delta)."""
    return LossEntry(
        key="huber",
        title="Huber",
        family="regression",
        loss=regression.huber_loss,
        grad=regression.huber_loss_grad,
        options=_frozen(delta=delta),
        elementwise=True,
        torch=TorchSpelling(_VALUES, _SAME_SHAPE, class_path="torch.nn.HuberLoss"),
        gluon=GluonSpelling("mxnet.gluon.loss.HuberLoss", _frozen(rho=delta), _SAME_SIZE),
        relation=(
            "gluon's HuberLoss(rho=delta) is torch's HuberLoss(delta=delta) divided by delta (it "
            "is torch's SmoothL1Loss(beta=delta)), averaged per sample over the non-batch axes; "
            "the two agree only for delta = 1."
        ),
        to_gluon=lambda loss, input, target, xp: _per_sample_mean(loss / delta),
        traps=(
            "gluon's HuberLoss(rho) is torch's SmoothL1Loss(beta=rho), not HuberLoss(delta=rho): "
            "torch's HuberLoss is rho times larger, and so are its gradients.",
            _SHAPE_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_real_pairs,
        textbook=(
            "np.where(np.abs(input - target) < delta, 0.5 * (input - target) ** 2, "
            "delta * (np.abs(input - target) - 0.5 * delta))"
        ),
        extreme_batches=_extreme_real_pairs,
    )


def _smooth_l1(beta=1.0):
    """Smooth L1: torch's SmoothL1Loss(beta), which gluon calls HuberLoss(rho=beta)."""
    return LossEntry(
        key="smooth_l1",
        title="Smooth L1",
        family="regression",
        loss=regression.smooth_l1_loss,
        grad=regression.smooth_l1_loss_grad,
        options=_frozen(beta=beta),
        elementwise=True,
        torch=TorchSpelling(_VALUES, _SAME_SHAPE, class_path="torch.nn.SmoothL1Loss"),
        gluon=GluonSpelling("mxnet.gluon.loss.HuberLoss", _frozen(rho=beta), _SAME_SIZE),
        relation=(
            "gluon's HuberLoss(rho=beta) is torch's SmoothL1Loss(beta=beta) elementwise; per "
            "sample gluon returns the mean over the non-batch axes."
        ),
        to_gluon=_same_loss_per_sample,
        traps=(
            "The operator mxnet.nd.smooth_l1(x, scalar=sigma) of detection code is "
            "SmoothL1Loss(beta=1 / sigma**2) of x against 0, not beta=sigma.",
            _SHAPE_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_real_pairs,
        textbook=(
            "np.where(np.abs(input - target) < beta, 0.5 * (input - target) ** 2 / beta, "
            "np.abs(input - target) - 0.5 * beta)"
        ),
        extreme_batches=_extreme_real_pairs,
    )


def _quantile(q=0.5):
    """The quantile (pinball) loss, which neither framework has a class for."""
    return LossEntry(
        key="quantile",
        title="Quantile (pinball)",
        family="regression",
        loss=regression.quantile_loss,
        grad=regression.quantile_loss_grad,
        options=_frozen(q=q),
        elementwise=True,
        torch=TorchSpelling(
            _VALUES,
            _SAME_SHAPE,
            expression="torch.maximum(q * (target - input), (q - 1) * (target - input))",
        ),
        gluon=None,
        relation=(
            "Neither framework has a class for it: torch code writes the expression, MXNet code "
            "the same with mxnet.nd.maximum."
        ),
        to_gluon=None,
        traps=(
            "torch.nn.L1Loss is no stand-in: it is twice the pinball loss, and only at q = 0.5.",
            "The residual is target - input: swapping the arguments turns the q-quantile into the "
            "(1 - q)-quantile.",
        ),
        make_batch=_real_pairs,
        textbook="q * np.maximum(target - input, 0) + (1 - q) * np.maximum(input - target, 0)",
        extreme_batches=_extreme_real_pairs,
    )


def _poisson_nll(log_input=True):
    """Poisson negative log-likelihood, which gluon averages over the whole batch."""
    return LossEntry(
        key="poisson_nll",
        title="Poisson negative log-likelihood",
        family="probabilistic",
        loss=regression.poisson_nll_loss,
        grad=regression.poisson_nll_loss_grad,
        options=_frozen(log_input=log_input),
        elementwise=True,
        torch=TorchSpelling(
            "log-rates (log_input=True) or rates (log_input=False), any shape",
            "counts, same shape",
            class_path="torch.nn.PoissonNLLLoss",
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.PoissonNLLLoss",
            _frozen(from_logits=log_input),
            "counts, same number of elements",
            output="one number for the whole batch, shape (1,): the mean over every element",
        ),
        relation=(
            "gluon returns one number, shape (1,), the mean over every element of torch's "
            "reduction='none' loss: torch's PoissonNLLLoss(reduction='mean'). It has no "
            "per-sample output: it is the only gluon loss that averages over the batch."
        ),
        to_gluon=lambda loss, input, target, xp: loss.reshape(1, -1).mean(1),
        traps=(
            "gluon already averages over the whole batch, and MXNet code still calls "
            "trainer.step(batch_size), dividing by the batch size a second time: to reproduce an "
            "MXNet run, keep that scale in the loss, PoissonNLLLoss()(input, target) / "
            f"batch_size; {_LOSS_SCALE_REASON}.",
            "gluon's from_logits=True means log-rates: torch's log_input=True.",
            "gluon's epsilon is a positional argument of the call, loss(pred, target, None, "
            "epsilon), and a keyword raises TypeError; torch's eps is a constructor argument.",
            "gluon's compute_full=True returns nan when any count is 0 (it takes log 0 before "
            "masking) and fails inside autograd.record() (it multiplies in place); torch's "
            "full=True handles both.",
        ),
        make_batch=functools.partial(_count_batch, log_input=log_input),
        textbook=(
            "np.exp(input) - target * input" if log_input
            else "input - target * np.log(input + 1e-8)"
        ),
        extreme_batches=_extreme_log_rates if log_input else _extreme_rates,
        equation_block=0 if log_input else 1,
    )


def _bce():
    """Binary cross-entropy of probabilities, where gluon adds an epsilon inside the logs."""
    return LossEntry(
        key="bce",
        title="Binary cross-entropy of probabilities",
        family="probabilistic",
        loss=classification.binary_cross_entropy,
        grad=classification.binary_cross_entropy_grad,
        options=_frozen(),
        elementwise=True,
        torch=TorchSpelling(
            "probabilities in [0, 1], any shape",
            "labels in [0, 1], same shape",
            class_path="torch.nn.BCELoss",
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.SigmoidBinaryCrossEntropyLoss",
            _frozen(from_sigmoid=True),
            "labels in [0, 1], same number of elements",
        ),
        relation=(
            f"gluon computes -[y log(p + eps) + (1 - y) log(1 - p + eps)] with eps = "
            f"{GLUON_EPS:g}, torch -[y log p + (1 - y) log(1 - p)] with each log clamped at "
            "-100. For 0 < p < 1, gluon is the per-sample mean over the non-batch axes of "
            "torch's reduction='none' loss - y log1p(eps / p) - (1 - y) log1p(eps / (1 - p)), "
            "a difference of about eps / p."
        ),
        to_gluon=lambda loss, input, target, xp: _per_sample_mean(
            loss
            - target * xp.log1p(GLUON_EPS / input)
            - (1 - target) * xp.log1p(GLUON_EPS / (1 - input))
        ),
        traps=(
            "At a saturated p of exactly 0 or 1 the two part ways: gluon gives -log(1e-12) = "
            "27.6 where torch gives 100.",
            "Probabilities out of a sigmoid lose precision once it saturates: when the model can "
            "hand over logits, port to BCEWithLogitsLoss instead.",
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_probability_batch,
        textbook="-(target * np.log(input) + (1 - target) * np.log(1 - input))",
        extreme_batches=_extreme_probabilities,
    )


def _bce_logits():
    """Binary cross-entropy of logits: torch's BCEWithLogitsLoss, gluon's default SigmoidBCELoss."""
    return LossEntry(
        key="bce_logits",
        title="Binary cross-entropy of logits",
        family="probabilistic",
        loss=classification.binary_cross_entropy_with_logits,
        grad=classification.binary_cross_entropy_with_logits_grad,
        options=_frozen(),
        elementwise=True,
        torch=TorchSpelling(
            "logits, any shape",
            "labels in [0, 1], same shape",
            class_path="torch.nn.BCEWithLogitsLoss",
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.SigmoidBinaryCrossEntropyLoss",
            _frozen(from_sigmoid=False),
            "labels in [0, 1], same number of elements",
        ),
        relation=(
            "The same elementwise loss: per sample gluon returns the mean over the non-batch axes "
            "of torch's reduction='none' loss."
        ),
        to_gluon=_same_loss_per_sample,
        traps=(
            "gluon's SigmoidBCELoss takes logits by default (from_sigmoid=False): port it to "
            "BCEWithLogitsLoss, not to BCELoss, which expects probabilities.",
            "gluon's pos_weight is a positional argument of the call, loss(pred, label, None, "
            "pos_weight); torch's is a constructor argument.",
            "gluon's LogisticLoss(label_format='binary') is this same loss; with its default "
            "label_format='signed' it silently scores a 0 label as 0.5.",
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_logit_batch,
        textbook=(
            "-(target * np.log(1 / (1 + np.exp(-input))) "
            "+ (1 - target) * np.log(1 - 1 / (1 + np.exp(-input))))"
        ),
        extreme_batches=_extreme_logits,
    )


def _cross_entropy():
    """Cross-entropy of class scores against class indices."""
    return LossEntry(
        key="cross_entropy",
        title="Cross-entropy with class indices",
        family="probabilistic",
        loss=classification.cross_entropy,
        grad=classification.cross_entropy_grad,
        options=_frozen(),
        elementwise=False,
        torch=TorchSpelling(_CLASS_SCORES, _CLASS_INDICES, class_path="torch.nn.CrossEntropyLoss"),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.SoftmaxCrossEntropyLoss",
            _frozen(sparse_label=True, from_logits=False),
            _GLUON_CLASS_INDICES,
        ),
        relation="The same per-sample values: gluon returns torch's reduction='none' loss.",
        to_gluon=_same_loss_per_sample,
        traps=(
            _FROM_LOGITS_TRAP,
            "gluon's classes sit on the last axis (axis=-1), torch's on axis 1: permute (N, T, C) "
            "sequence scores to (N, C, T) for torch.",
            "gluon clips an out-of-range label to the nearest class without a word (-1 scores "
            "class 0); torch raises, except for ignore_index=-100, which it silently leaves out "
            "of the loss and of the mean.",
            _CLASS_WEIGHT_TRAP.format(torch_class="CrossEntropyLoss"),
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_class_index_batch,
        textbook=(
            "-np.log(np.exp(input) / np.exp(input).sum(1, keepdims=True))"
            "[np.arange(target.size), target]"
        ),
        extreme_batches=_extreme_class_indices,
    )


def _cross_entropy_probs():
    """Cross-entropy of class scores against class probabilities (soft labels)."""
    return LossEntry(
        key="cross_entropy_probs",
        title="Cross-entropy with class probabilities",
        family="probabilistic",
        loss=classification.cross_entropy,
        grad=classification.cross_entropy_grad,
        options=_frozen(),
        elementwise=False,
        torch=TorchSpelling(
            _CLASS_SCORES,
            "float class probabilities, shape (N, C)",
            class_path="torch.nn.CrossEntropyLoss",
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.SoftmaxCrossEntropyLoss",
            _frozen(sparse_label=False, from_logits=False),
            "class probabilities, shape (N, C)",
        ),
        relation="The same per-sample values: gluon returns torch's reduction='none' loss.",
        to_gluon=_same_loss_per_sample,
        traps=(
            "gluon needs sparse_label=False for probability targets; torch decides from the "
            "target: a float (N, C) target holds probabilities, an int64 (N,) one class indices.",
            "torch's label_smoothing has no gluon counterpart: MXNet code smooths the labels "
            "itself and passes them with sparse_label=False. Port those targets with "
            "label_smoothing=0: torch's label_smoothing applies to probability targets too, as "
            "(1 - eps) * t + eps / C, and would smooth them twice.",
            _FROM_LOGITS_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_class_probability_batch,
        textbook=(
            "-(target * np.log(np.exp(input) / np.exp(input).sum(1, keepdims=True))).sum(1)"
        ),
        extreme_batches=_extreme_class_probabilities,
        equation_block=1,
    )


def _nll():
    """Negative log-likelihood of class log-probabilities: torch's NLLLoss."""
    return LossEntry(
        key="nll",
        title="Negative log-likelihood of log-probabilities",
        family="probabilistic",
        loss=classification.nll_loss,
        grad=classification.nll_loss_grad,
        options=_frozen(),
        elementwise=False,
        torch=TorchSpelling(
            "class log-probabilities, shape (N, C)", _CLASS_INDICES, class_path="torch.nn.NLLLoss"
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.SoftmaxCrossEntropyLoss",
            _frozen(sparse_label=True, from_logits=True),
            _GLUON_CLASS_INDICES,
        ),
        relation="The same per-sample values: gluon returns torch's reduction='none' loss.",
        to_gluon=_same_loss_per_sample,
        traps=(
            "Neither framework takes the log here: feed log_softmax output, not probabilities "
            "and not raw scores, or the loss is silently wrong.",
            _FROM_LOGITS_TRAP,
            _CLASS_WEIGHT_TRAP.format(torch_class="NLLLoss"),
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_log_probability_index_batch,
        textbook="-input[np.arange(target.size), target]",
        extreme_batches=_extreme_log_probability_indices,
        correctly_rounded=True,
    )


def _kl_div():
    """Kullback-Leibler divergence, which gluon sums per sample."""
    return LossEntry(
        key="kl_div",
        title="Kullback-Leibler divergence",
        family="divergence",
        loss=classification.kl_div,
        grad=classification.kl_div_grad,
        options=_frozen(),
        elementwise=True,
        torch=TorchSpelling(
            "log-probabilities log q, shape (N, C)",
            "probabilities t, same shape",
            class_path="torch.nn.KLDivLoss",
            reduction="batchmean",
            reductions=("none", "mean", "sum", "batchmean"),
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.KLDivLoss",
            _frozen(from_logits=True),
            "probabilities t, same number of elements",
            output=(
                "one value per sample: the sum over the non-batch axes (the mean before "
                "MXNet 1.9.0)"
            ),
        ),
        relation=(
            f"gluon sums over the non-batch axes and takes log(t + eps), eps = {GLUON_EPS:g}: "
            "per sample (for t > 0) it is the sum of torch's reduction='none' loss + "
            "t log1p(eps / t). Its batch mean is torch's reduction='batchmean' (to about C * "
            "eps), and torch's 'mean' is that divided by C. MXNet 1.8 and earlier took the mean "
            "over the non-batch axes instead of the sum, so there the batch mean is torch's "
            "'mean'."
        ),
        to_gluon=lambda loss, input, target, xp: _per_sample_sum(
            loss + target * xp.log1p(GLUON_EPS / target)
        ),
        traps=(
            "torch's reduction='mean' divides by every element, not by the batch size (and "
            "warns): use 'batchmean' to match gluon's KLDivLoss()(pred, label).mean() in MXNet "
            "1.9. MXNet 1.8 and earlier averaged over the classes instead of summing, so code "
            "trained on them matches reduction='mean'.",
            "The input is log q and the target t in both frameworks, giving KL(t || q); swapping "
            "them computes a different divergence.",
            "gluon's KLDivLoss(from_logits=False) applies log_softmax to raw scores for you; "
            "torch never does, so call log_softmax first.",
        ),
        make_batch=_distribution_batch,
        textbook="target * (np.log(target) - input)",
        extreme_batches=_extreme_distributions,
    )


def _hinge(margin=1.0):
    """The hinge loss of SVMs: gluon's HingeLoss, a torch expression."""
    return LossEntry(
        key="hinge",
        title="Hinge",
        family="margin",
        loss=margin_losses.hinge_loss,
        grad=margin_losses.hinge_loss_grad,
        options=_frozen(margin=margin),
        elementwise=True,
        torch=TorchSpelling(_SCORES, _SIGNED, expression="torch.relu(margin - input * target)"),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.HingeLoss", _frozen(margin=margin), _SIGNED_SAME_SIZE
        ),
        relation=(
            "gluon's HingeLoss(margin) returns, per sample, the mean over the non-batch axes of "
            "the torch expression."
        ),
        to_gluon=_same_loss_per_sample,
        traps=(
            "torch has no hinge loss class: HingeEmbeddingLoss is a different loss (the score "
            "itself for y = 1) and MultiMarginLoss the multi-class one; write the expression.",
            _SIGNED_LABEL_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_signed_batch,
        textbook="np.maximum(0, margin - input * target)",
        extreme_batches=_extreme_signed,
        correctly_rounded=True,
    )


def _squared_hinge(margin=1.0):
    """The squared hinge loss: gluon's SquaredHingeLoss, a torch expression."""
    return LossEntry(
        key="squared_hinge",
        title="Squared hinge",
        family="margin",
        loss=margin_losses.squared_hinge_loss,
        grad=margin_losses.squared_hinge_loss_grad,
        options=_frozen(margin=margin),
        elementwise=True,
        torch=TorchSpelling(
            _SCORES, _SIGNED, expression="torch.relu(margin - input * target).square()"
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.SquaredHingeLoss", _frozen(margin=margin), _SIGNED_SAME_SIZE
        ),
        relation=(
            "gluon's SquaredHingeLoss(margin) returns, per sample, the mean over the non-batch "
            "axes of the torch expression."
        ),
        to_gluon=_same_loss_per_sample,
        traps=(
            "torch has no squared hinge class (MultiMarginLoss(p=2) is the multi-class one): "
            "write the expression.",
            _SIGNED_LABEL_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_signed_batch,
        textbook="np.maximum(0, margin - input * target) ** 2",
        extreme_batches=_extreme_signed,
    )


def _soft_margin():
    """The soft-margin (logistic) loss: torch's SoftMarginLoss, gluon's LogisticLoss."""
    return LossEntry(
        key="soft_margin",
        title="Soft margin (logistic)",
        family="margin",
        loss=margin_losses.soft_margin_loss,
        grad=margin_losses.soft_margin_loss_grad,
        options=_frozen(),
        elementwise=True,
        torch=TorchSpelling(_SCORES, _SIGNED, class_path="torch.nn.SoftMarginLoss"),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.LogisticLoss", _frozen(label_format="signed"), _SIGNED_SAME_SIZE
        ),
        relation=(
            "The same elementwise loss: per sample gluon returns the mean over the non-batch axes "
            "of torch's reduction='none' loss."
        ),
        to_gluon=_same_loss_per_sample,
        traps=(
            "For 0/1 labels, LogisticLoss(label_format='binary') ports to BCEWithLogitsLoss, not "
            "to SoftMarginLoss.",
            "gluon's label_format='signed' maps a label through (label + 1) / 2 without checking, "
            "so a 0 label becomes 0.5.",
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_signed_batch,
        textbook="np.log(1 + np.exp(-target * input))",
        extreme_batches=_extreme_signed,
    )


# Losses of more than a pair.

_EMBEDDINGS = (SAMPLES, FEATURES)
_PER_SAMPLE = "one value per sample"
_GLUON_FLOAT32_TRAP = (
    "gluon's {name} fails on float64 input (a float32 constant inside: {what}), so MXNet code "
    "ran it in float32; torch and lossbook compute the same loss in float64."
)


def _same_loss(loss, *arrays):
    """The relation of a loss gluon computes exactly as torch's reduction='none'."""
    return loss


def _as_column(loss, *arrays):
    """torch's reduction='none' loss as the (N, 1) column gluon's CosineEmbeddingLoss returns."""
    return loss.reshape(loss.shape[0], 1)


def _two_vector_batch(rng, shape=_EMBEDDINGS, *, labels):
    """Two rows of vectors per sample, and a -1/+1 label per sample (labels) or none."""
    x1 = rng.standard_normal(shape)
    x2 = x1 + rng.standard_normal(shape) if labels else 0.6 * x1 + 0.4 * rng.standard_normal(shape)
    rest = (rng.choice([-1.0, 1.0], shape[0]),) if labels else ()
    return Batch(x1, x2, rest=rest)


def _ranking_batch(rng, shape=_ELEMENTWISE):
    """Two scores per pair and a -1/+1 label saying which should rank higher."""
    return Batch(rng.standard_normal(shape), rng.standard_normal(shape),
                 rest=(rng.choice([-1.0, 1.0], shape),))


def _ranking_gluon_inputs(batch):
    """What gluon's HingeLoss takes to rank: the difference of the two scores, and the labels."""
    input1, input2, target = batch.arrays
    return input1 - input2, target


def _triplet_batch(rng, shape=_EMBEDDINGS):
    """Anchors, positives near them and negatives farther away, some violating the margin."""
    anchor = rng.standard_normal(shape)
    positive = anchor + 0.5 * rng.standard_normal(shape)
    negative = anchor + rng.standard_normal(shape)
    return Batch(anchor, positive, rest=(negative,))


def _cosine_batch(rng, shape=_EMBEDDINGS):
    return _two_vector_batch(rng, shape, labels=True)


def _sdml_batch(rng, shape=_EMBEDDINGS):
    return _two_vector_batch(rng, shape, labels=False)


def _multilabel_batch(rng, shape=_ROWS):
    """Raw class scores and 0/1 labels, several classes per sample."""
    return Batch(_class_scores(rng, shape), rng.integers(0, 2, shape).astype(np.float64))


def _multilabel_index_batch(rng, shape=_ROWS):
    """Raw class scores and each sample's classes as indices, padded with -1."""
    classes = rng.random(shape).argsort(axis=1)  # a random order of the classes per sample
    counts = rng.integers(1, shape[1], shape[0])
    target = np.where(np.arange(shape[1]) < counts[:, None], classes, -1)
    return Batch(_class_scores(rng, shape), target.astype(np.int64))


def _gaussian_batch(rng, shape=_ELEMENTWISE):
    """Predicted means, targets and predicted variances from 0.05 to 5."""
    var = np.exp(rng.uniform(np.log(0.05), np.log(5.0), shape))
    return Batch(rng.standard_normal(shape), rng.standard_normal(shape), rest=(var,))


_TINY = 1e-300
_HUGE = 1e150


def _extreme_rankings():
    near = 1.0 + np.array([2.0**-52, -(2.0**-53), 1e-15, 0.0])
    return {
        "scores within an ulp of each other": Batch(np.ones(4), near, rest=(np.array([1.0, -1, 1, -1]),)),
        "scores of 1e150 and 1e-300": Batch(
            np.array([_HUGE, _TINY, -_HUGE, 3 * _TINY]), np.array([-_HUGE, 2 * _TINY, _HUGE, _TINY]),
            rest=(np.array([-1.0, -1, 1, -1]),),
        ),
    }


def _scaled_triplets(scale):
    rng = np.random.default_rng(_GRID_RNG_SEED + 5)
    return Batch(*(scale * rng.standard_normal((3, 4)) for _ in range(2)),
                 rest=(scale * rng.standard_normal((3, 4)),))


def _extreme_triplets():
    anchor = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1e-8, -1e-8, 0.0]])
    return {
        "positives within an ulp of the anchors": Batch(
            anchor, anchor * (1 + 2.0**-52), rest=(anchor + 1e-9,)
        ),
        "vectors of size 1e100": _scaled_triplets(1e100),
        "vectors of size 1e-100": _scaled_triplets(1e-100),
    }


def _extreme_cosines():
    x = np.array([[1.0, 2.0, 3.0], [1e150, -1e150, 1.0], [1e-150, 2e-150, 0.0], [1.0, 0.0, 0.0]])
    y = np.array([[1.0, 2.0, 3.0 + 1e-15], [1e150, -1e150, 0.0], [-1e-150, 2e-150, 1e-150],
                  [0.0, 1.0, 1e-300]])
    return {
        "parallel, huge, tiny and orthogonal pairs": Batch(x, y, rest=(np.array([1.0, -1, 1, -1]),)),
        "the same pairs, labels flipped": Batch(x, y, rest=(np.array([-1.0, 1, -1, 1]),)),
    }


def _extreme_sdml():
    rng = np.random.default_rng(_GRID_RNG_SEED + 6)
    x = rng.standard_normal((5, 3))
    return {
        "partners within 1e-8": Batch(x, x + 1e-8 * rng.standard_normal((5, 3))),
        "far partners (distances near 100)": Batch(5 * x, -5 * x),
    }


def _extreme_multilabels():
    logits = np.array([[700.0, -700.0, 40.0, -40.0], [1e-300, -1e-300, 0.0, 36.0]])
    return {
        "logits up to +-700": Batch(logits, np.array([[1.0, 0, 1, 0], [0, 1, 1, 0]])),
        "confident and wrong": Batch(logits, np.array([[0.0, 1, 0, 1], [1, 0, 0, 1]])),
    }


def _extreme_multilabel_indices():
    scores = np.array([[1e17, 1e17 + 16, 0.0, -1e17], [2.0**60, 2.0**60, 1.0, 1.0 - 2.0**-52]])
    return {
        "scores that cancel in 1 - x_y + x_i": Batch(
            scores, np.array([[1, 0, -1, 2], [0, -1, 1, 3]])
        ),
    }


def _extreme_gaussians():
    x = np.array([1.0, 1.0 + 2.0**-52, 1e150, 0.0, 3.0])
    t = np.array([1.0, 1.0, -1e150, 1e-300, 2.0])
    var = np.array([1e-6, 1e-300, 1e300, 1e-8, 1.0])
    return {
        "variances from 1e-300 to 1e300": Batch(x, t, rest=(var,)),
        "the best fit, where log v cancels the squared error": Batch(
            np.zeros(3), np.array([0.5, 2.0, 1e-3]), rest=(np.array([0.25, 4.0, 1e-6]),)
        ),
    }


CTC_CLASSES = 5
"""Classes of a CTC batch, the blank included; gluon's blank is the last, class 4."""

CTC_FRAMES = 8
"""Frames of a CTC batch's longest sequence."""


def _ctc_batch(rng, shape=(SAMPLES, CTC_FRAMES)):
    """Log-probabilities (T, N, C), targets padded with -1 and the lengths, every target reachable.

    ``shape`` is (samples, frames). Labels avoid class 0 and the last class, so
    either may serve as the blank; each target has at most half as many labels
    as its sequence has frames, so an alignment always exists.
    """
    samples, frames = shape
    log_probs = activations.log_softmax(2.0 * rng.standard_normal((frames, samples, CTC_CLASSES)))
    input_lengths = rng.integers(frames // 2 + 1, frames + 1, samples)
    target_lengths = rng.integers(0, input_lengths // 2 + 1)
    targets = np.full((samples, max(1, target_lengths.max())), -1, dtype=np.int64)
    for row, length in zip(targets, target_lengths):
        row[:length] = rng.integers(1, CTC_CLASSES - 1, length)
    return Batch(log_probs, targets, rest=(input_lengths, target_lengths))


def _ctc_gluon_inputs(batch):
    """What gluon's CTCLoss takes: (N, T, C) scores, labels padded with -1, and both lengths.

    The log-probabilities serve as the raw scores: gluon's log-softmax leaves
    them as they are.
    """
    log_probs, targets, input_lengths, target_lengths = batch.arrays
    positions = np.arange(targets.shape[1])
    labels = np.where(positions < target_lengths[:, None], targets, -1)
    return log_probs.transpose(1, 0, 2), labels, input_lengths, target_lengths


def _extreme_ctc():
    flat = np.full((60, 2, CTC_CLASSES), -np.log(CTC_CLASSES))
    path = np.array([4, 1, 1, 4, 1, 2, 2, 4])  # collapses to 1 1 2
    gap = np.full((8, 1, CTC_CLASSES), -40.0)
    gap[np.arange(8), 0, path] = 0.0
    return {
        "60 flat frames": Batch(flat, np.array([[1, 2, 3], [2, -1, -1]]),
                                rest=(np.array([60, 41]), np.array([3, 1]))),
        "one alignment ahead by logit gaps of 40": Batch(
            activations.log_softmax(gap), np.array([[1, 1, 2]]), rest=(np.array([8]), np.array([3]))
        ),
        "repeated labels with just enough frames": Batch(
            activations.log_softmax(np.linspace(-3, 3, 5 * 2 * CTC_CLASSES).reshape(5, 2, -1)),
            np.array([[3, 3, 3], [1, 1, -1]]), rest=(np.array([5, 3]), np.array([3, 2])),
        ),
    }


def _ctc():
    """Connectionist temporal classification: torch's CTCLoss, gluon's CTCLoss."""
    return LossEntry(
        key="ctc",
        title="Connectionist temporal classification (CTC)",
        family="probabilistic",
        loss=sequence.ctc_loss,
        grad=sequence.ctc_loss_grad,
        options=_frozen(blank=CTC_CLASSES - 1, zero_infinity=True),
        elementwise=False,
        torch=TorchSpelling(
            "log-probabilities, shape (T, N, C)",
            "int64 targets padded to (N, S), input lengths (N,), target lengths (N,)",
            class_path="torch.nn.CTCLoss", reduction="sum",
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.CTCLoss", _frozen(),
            "labels padded with -1 to (N, S), with optional float32 lengths",
            output=f"{_PER_SAMPLE}: minus the log-probability of its label sequence",
            arguments=("pred", "label", "pred_lengths", "label_lengths"),
            dtype="float32",
        ),
        relation=(
            "The same loss: per sample gluon returns torch's reduction='none' loss with the blank "
            "last (blank=C-1) and zero_infinity=True, given raw scores in (N, T, C) whose "
            "log-softmax is torch's (T, N, C) input."
        ),
        to_gluon=_same_loss,
        traps=(
            "gluon's pred is (N, T, C) raw scores ('NTC'); torch wants log-probabilities in "
            "(T, N, C): log_softmax(pred, -1).transpose(0, 1).",
            "gluon's blank is the last class; torch's default is blank=0, so pass blank=C-1.",
            "gluon ends each label at its first -1; padding with 0 instead makes class 0 part of "
            "the target and changes the loss silently. torch reads target_lengths instead.",
            "gluon returns a per-sample sum, and loss.mean() (or trainer.step(N)) averages it "
            "over the batch: that is reduction='sum' / N. torch's reduction='mean' first divides "
            "each loss by its target length.",
            "gluon scores a target too long for its frames as 0, not inf: port with "
            "zero_infinity=True.",
            _GLUON_FLOAT32_TRAP.format(name="CTCLoss", what="its warp-ctc kernel"),
        ),
        make_batch=_ctc_batch,
        textbook=None,
        extreme_batches=_extreme_ctc,
        arguments=("log_probs", "targets", "input_lengths", "target_lengths"),
        differentiable=(0,),
        gluon_inputs=_ctc_gluon_inputs,
        torch_grad_through_log_softmax=True,
    )


def _margin_ranking():
    """torch's margin ranking loss: which of two scores should be higher; gluon has no class."""
    return LossEntry(
        key="margin_ranking",
        title="Margin ranking",
        family="embedding",
        loss=embedding.margin_ranking_loss,
        grad=embedding.margin_ranking_loss_grad,
        options=_frozen(margin=0.5),
        elementwise=True,
        torch=TorchSpelling("two scores, same shape", "labels -1 or +1, same shape",
                            class_path="torch.nn.MarginRankingLoss"),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.HingeLoss", _frozen(margin=0.5),
            "labels -1 or +1 (of the difference input1 - input2)",
            arguments=("input1 - input2", "label"),
        ),
        relation=(
            "gluon has no ranking class, but its HingeLoss of the difference input1 - input2 is "
            "the same loss: per sample it returns the mean over the non-batch axes of torch's "
            "reduction='none' loss."
        ),
        to_gluon=_same_loss_per_sample,
        traps=(
            "torch accepts any label and silently scores a label of 0 as a zero loss; lossbook "
            "raises, since only -1 and +1 say which score should rank higher.",
            "Port HingeLoss(margin)(x1 - x2, y) to MarginRankingLoss(margin)(x1, x2, y), with the "
            "same label; the sign convention is the same (y = 1: x1 should be the higher).",
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_ranking_batch,
        textbook="np.maximum(0, -target * (input1 - input2) + margin)",
        extreme_batches=_extreme_rankings,
        arguments=("input1", "input2", "target"),
        differentiable=(0, 1),
        gluon_inputs=_ranking_gluon_inputs,
    )


def _triplet_margin():
    """torch's TripletMarginLoss: distances with a root and an epsilon; gluon has no class."""
    return LossEntry(
        key="triplet_margin",
        title="Triplet margin (Euclidean)",
        family="embedding",
        loss=embedding.triplet_margin_loss,
        grad=embedding.triplet_margin_loss_grad,
        options=_frozen(margin=1.0),
        elementwise=False,
        torch=TorchSpelling("anchors, shape (N, D)", "positives and negatives, shape (N, D)",
                            class_path="torch.nn.TripletMarginLoss"),
        gluon=None,
        relation=(
            "gluon has no class for this loss: its TripletLoss uses squared distances, with no "
            "root and no epsilon, which is the triplet entry."
        ),
        to_gluon=None,
        traps=(
            "torch's distance adds eps = 1e-6 to every difference, so an anchor's distance to "
            "itself is sqrt(D) * 1e-6, not 0.",
        ),
        make_batch=_triplet_batch,
        textbook=None,
        extreme_batches=_extreme_triplets,
        arguments=("anchor", "positive", "negative"),
        differentiable=(0, 1, 2),
    )


def _triplet():
    """gluon's TripletLoss: squared Euclidean distances, ported with TripletMarginWithDistanceLoss."""
    return LossEntry(
        key="triplet",
        title="Triplet (squared Euclidean)",
        family="embedding",
        loss=embedding.triplet_margin_with_distance_loss,
        grad=embedding.triplet_margin_with_distance_loss_grad,
        options=_frozen(distance_function=embedding.squared_l2_distance, margin=1.0, swap=False),
        elementwise=False,
        torch=TorchSpelling(
            "anchors, shape (N, D)", "positives and negatives, shape (N, D)",
            expression=(
                "torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: "
                "((x - y) ** 2).sum(-1), margin=margin, swap=swap, reduction='none')"
                "(anchor, positive, negative)"
            ),
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.TripletLoss", _frozen(margin=1.0),
            "positives and negatives, reshaped to the anchors' shape",
            output=f"{_PER_SAMPLE}: the hinge of the summed squared differences",
            arguments=("pred", "positive", "negative"),
        ),
        relation=(
            "The same loss: per sample gluon returns torch's reduction='none' loss with the "
            "squared Euclidean distance."
        ),
        to_gluon=_same_loss,
        traps=(
            "torch's TripletMarginLoss is not gluon's TripletLoss: it takes the root of the "
            "distance and adds eps = 1e-6 to each difference. For a = (0, 0), p = (1, 0), "
            "n = (0, 1.2) and margin 1, gluon gives 0.56 and TripletMarginLoss 0.8. Pass a "
            "squared distance to TripletMarginWithDistanceLoss instead.",
            "gluon's TripletLoss sums over every non-batch axis; torch's distance takes only the "
            "last axis, so flatten (N, ...) embeddings to (N, D) first.",
            "gluon accepts margin=0; torch's triplet losses require a positive margin.",
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_triplet_batch,
        textbook=None,
        extreme_batches=_extreme_triplets,
        arguments=("anchor", "positive", "negative"),
        differentiable=(0, 1, 2),
    )


def _cosine_embedding():
    """The cosine embedding loss: torch's CosineEmbeddingLoss, gluon's CosineEmbeddingLoss."""
    return LossEntry(
        key="cosine_embedding",
        title="Cosine embedding",
        family="embedding",
        loss=embedding.cosine_embedding_loss,
        grad=embedding.cosine_embedding_loss_grad,
        options=_frozen(margin=0.0),
        elementwise=False,
        torch=TorchSpelling("two vectors per sample, shape (N, D)", "labels -1 or +1, shape (N,)",
                            class_path="torch.nn.CosineEmbeddingLoss"),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.CosineEmbeddingLoss", _frozen(margin=0.0),
            "labels -1 or +1, shape (N,)",
            output=f"{_PER_SAMPLE}, as a column of shape (N, 1)",
            arguments=("input1", "input2", "label"),
            dtype="float32",
        ),
        relation=(
            "The same loss: gluon returns torch's reduction='none' loss as an (N, 1) column, in "
            "float32 only."
        ),
        to_gluon=_as_column,
        traps=(
            _GLUON_FLOAT32_TRAP.format(name="CosineEmbeddingLoss", what="its epsilon 1e-12"),
            "gluon returns an (N, 1) column; flatten it before comparing with torch's (N,) loss, "
            "or an (N,) - (N, 1) difference broadcasts to (N, N).",
            "Both frameworks silently give 0 for a label other than -1 and +1; lossbook raises.",
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_cosine_batch,
        textbook=None,
        extreme_batches=_extreme_cosines,
        arguments=("input1", "input2", "target"),
        differentiable=(0, 1),
    )


def _sdml():
    """gluon's SDMLLoss: smoothed cross-entropy over the batch's pairwise distances; no torch class."""
    return LossEntry(
        key="sdml",
        title="Smoothed deep metric learning (SDML)",
        family="embedding",
        loss=embedding.sdml_loss,
        grad=embedding.sdml_loss_grad,
        options=_frozen(smoothing_parameter=0.3),
        elementwise=False,
        torch=TorchSpelling(
            "embeddings, shape (N, D)", "their partners, row i with row i, shape (N, D)",
            expression=(
                "torch.nn.functional.kl_div(torch.log_softmax(-((x1[:, None] - x2[None]) ** 2)"
                ".sum(-1), dim=1), (1 - smoothing_parameter) * torch.eye(x1.shape[0], dtype=x1.dtype)"
                " + smoothing_parameter / (x1.shape[0] - 1) * (1 - torch.eye(x1.shape[0], dtype=x1.dtype)),"
                " reduction='none').sum(1)"
            ),
        ),
        gluon=GluonSpelling(
            "mxnet.gluon.loss.SDMLLoss", _frozen(smoothing_parameter=0.3),
            "their partners, row i with row i, shape (N, D)",
            output=f"{_PER_SAMPLE}: the KL divergence of its row",
            arguments=("x1", "x2"),
            dtype="float32",
        ),
        relation=(
            "The same loss: per sample gluon returns torch's reduction='none' value, in float32 "
            "only (its log(L + 1e-12) adds about 1e-12, far below float32's rounding)."
        ),
        to_gluon=_same_loss,
        traps=(
            _GLUON_FLOAT32_TRAP.format(name="SDMLLoss", what="the float32 eye of its labels"),
            "torch has no SDML class: the expression builds the smoothed identity labels and "
            "calls kl_div on the log-softmax of the negative squared distances.",
            "Each batch's other rows are its negatives, so the loss depends on the batch size and "
            "on batching: shuffle so that partners of one class do not share a batch.",
            "gluon's SDMLLoss takes a weight argument and ignores it.",
        ),
        make_batch=_sdml_batch,
        textbook=None,
        extreme_batches=_extreme_sdml,
        arguments=("x1", "x2"),
        differentiable=(0, 1),
    )


def _multilabel_soft_margin():
    """torch's MultiLabelSoftMarginLoss, which gluon's SigmoidBCELoss computes on (N, C) labels."""
    return LossEntry(
        key="multilabel_soft_margin",
        title="Multi-label soft margin",
        family="probabilistic",
        loss=multilabel.multilabel_soft_margin_loss,
        grad=multilabel.multilabel_soft_margin_loss_grad,
        options=_frozen(),
        elementwise=False,
        torch=TorchSpelling(_CLASS_SCORES, "0/1 labels, shape (N, C)",
                            class_path="torch.nn.MultiLabelSoftMarginLoss"),
        gluon=GluonSpelling("mxnet.gluon.loss.SigmoidBCELoss", _frozen(from_sigmoid=False),
                            "0/1 labels, shape (N, C)"),
        relation=(
            "The same loss: per sample gluon's SigmoidBCELoss averages the classes' logistic "
            "losses, which is torch's reduction='none' loss."
        ),
        to_gluon=_same_loss,
        traps=(
            "torch's reduction='mean' averages over the samples after the classes, so it equals "
            "BCEWithLogitsLoss's mean only because every sample has C classes.",
            "A class weight goes into gluon's sample_weight as a (1, C) row; gluon's weight= is "
            "one global factor.",
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_multilabel_batch,
        textbook=None,
        extreme_batches=_extreme_multilabels,
    )


def _multilabel_margin():
    """torch's MultiLabelMarginLoss: a hinge between every target class and every other; no gluon class."""
    return LossEntry(
        key="multilabel_margin",
        title="Multi-label margin",
        family="margin",
        loss=multilabel.multilabel_margin_loss,
        grad=multilabel.multilabel_margin_loss_grad,
        options=_frozen(),
        elementwise=False,
        torch=TorchSpelling(_CLASS_SCORES, "int64 class indices, padded with -1, shape (N, C)",
                            class_path="torch.nn.MultiLabelMarginLoss"),
        gluon=None,
        relation="gluon has no class for this loss.",
        to_gluon=None,
        traps=(
            "The target lists class indices, not 0/1 labels: everything after the first -1 is "
            "ignored, so a 0/1 vector passed as the target scores the wrong classes silently.",
        ),
        make_batch=_multilabel_index_batch,
        textbook=None,
        extreme_batches=_extreme_multilabel_indices,
    )


def _gaussian_nll():
    """torch's GaussianNLLLoss: a mean and a variance per target; gluon has no class."""
    return LossEntry(
        key="gaussian_nll",
        title="Gaussian negative log-likelihood",
        family="regression",
        loss=regression.gaussian_nll_loss,
        grad=regression.gaussian_nll_loss_grad,
        options=_frozen(),
        elementwise=True,
        torch=TorchSpelling(_VALUES, "targets and variances, same shape",
                            class_path="torch.nn.GaussianNLLLoss"),
        gluon=None,
        relation="gluon has no class for this loss.",
        to_gluon=None,
        traps=(
            "torch clamps the variance at eps without changing its gradient: below eps the "
            "gradient is that of the loss at eps.",
            "Without full=True the constant log(2 pi) / 2 is left out, so the values are not "
            "log-likelihoods, though their gradients are.",
        ),
        make_batch=_gaussian_batch,
        textbook="0.5 * (np.log(var) + (input - target) ** 2 / var)",
        extreme_batches=_extreme_gaussians,
        arguments=("input", "target", "var"),
        differentiable=(0, 2),
    )


_FACTORIES = {
    factory().key: factory
    for factory in (
        _l2,
        _l1,
        _huber,
        _smooth_l1,
        _quantile,
        _poisson_nll,
        _bce,
        _bce_logits,
        _cross_entropy,
        _cross_entropy_probs,
        _nll,
        _kl_div,
        _hinge,
        _squared_hinge,
        _soft_margin,
        _ctc,
        _multilabel_soft_margin,
        _multilabel_margin,
        _gaussian_nll,
        _margin_ranking,
        _triplet_margin,
        _triplet,
        _cosine_embedding,
        _sdml,
    )
}


# Variants: entries with options other than the defaults.

_TORCH_ONLY = "Checked against torch only: gluon has no constructor option for {what}."


def _redraw(make_batch, redraw):
    """A batch maker that passes each batch of ``make_batch`` through ``redraw(rng, batch)``."""

    def make(rng, *shape):
        return redraw(rng, make_batch(rng, *shape))

    return make


def _redraw_extremes(extreme_batches, redraw):
    """Extreme batches passed through ``redraw``, with a generator of their own."""

    def extremes():
        rng = np.random.default_rng(_GRID_RNG_SEED + 3)
        return {name: redraw(rng, batch) for name, batch in extreme_batches().items()}

    return extremes


def _variant(entry, what, redraw=None, options=None, **changes):
    """``entry`` with more options, checked against torch only unless ``changes`` say otherwise.

    ``redraw(rng, batch)`` returns the batch with its array options (and any
    change of target); ``what`` names the options for the relation's sentence.
    """
    fields = {
        "options": _frozen(**{**entry.options, **(options or {})}),
        "gluon": None,
        "to_gluon": None,
        "relation": _TORCH_ONLY.format(what=what),
        "textbook": None,
        "correctly_rounded": False,
    }
    if redraw is not None:
        fields["make_batch"] = _redraw(entry.make_batch, redraw)
        fields["extreme_batches"] = _redraw_extremes(entry.extreme_batches, redraw)
    fields.update(changes)
    return dataclasses.replace(entry, **fields)


def _with_arrays(batch, target=None, **arrays):
    """``batch`` carrying the array options ``arrays`` (and a new target, if given)."""
    target = batch.target if target is None else target
    return Batch(batch.input, target, _frozen(**arrays), batch.rest)


def _concatenated_targets(rng, batch):
    """A CTC batch with its targets concatenated in one 1-D array, the other layout torch takes."""
    log_probs, targets, input_lengths, target_lengths = batch.arrays
    flat = np.concatenate([row[:length] for row, length in zip(targets, target_lengths)])
    return Batch(log_probs, flat, batch.options, (input_lengths, target_lengths))


def _elementwise_weight(rng, batch):
    return _with_arrays(batch, weight=rng.uniform(0.2, 2.0, batch.input.shape))


def _weight_and_pos_weight(rng, batch):
    return _with_arrays(
        batch,
        weight=rng.uniform(0.2, 2.0, batch.input.shape),
        pos_weight=rng.uniform(0.5, 3.0, batch.input.shape[-1:]),
    )


def _class_weight(rng, batch):
    return _with_arrays(batch, weight=rng.uniform(0.2, 2.0, batch.input.shape[1]))


def _class_weight_and_ignored(ignore_index):
    """Class weights, and every fourth target replaced by ``ignore_index``."""

    def redraw(rng, batch):
        target = np.array(batch.target)
        target[::4] = ignore_index
        return _with_arrays(batch, target=target, **_class_weight(rng, batch).options)

    return redraw


def _weighted_elementwise(entry, function_path):
    """An elementwise loss with torch's elementwise ``weight``, which only the function takes."""
    return _variant(
        entry,
        "an elementwise weight",
        _elementwise_weight,
        torch=dataclasses.replace(entry.torch, class_path=None, function_path=function_path),
        textbook=f"weight * ({entry.textbook})",
        array_options=("weight",),
    )


@functools.cache
def variants():
    """Return entries built with options other than the defaults, which tests and benches also run.

    The tests and benchmarks run ``entries() + variants()``, so every option
    the catalog's losses take is exercised: other thresholds, quantiles,
    margins and inputs (``get`` with options), and the forms with weights,
    ``pos_weight``, ``label_smoothing`` or ``ignore_index``, whose batches carry
    their weight arrays (:attr:`Batch.options`). The forms gluon has no
    constructor option for are checked against torch only (``gluon`` None).

    Returns
    -------
    tuple of LossEntry
        In the order of :func:`entries`; :attr:`LossEntry.label` tells them apart.
    """
    ignore_index = -1
    return (
        _weighted_elementwise(get("l2"), "torch.nn.functional.mse_loss"),
        _weighted_elementwise(get("l1"), "torch.nn.functional.l1_loss"),
        get("huber", delta=0.3),
        _weighted_elementwise(get("huber", delta=1.5), "torch.nn.functional.huber_loss"),
        get("smooth_l1", beta=0.7),
        get("quantile", q=0.8),
        get("quantile", q=0.01),
        get("poisson_nll", log_input=False),
        _variant(
            get("poisson_nll"),
            "Stirling's term",
            options={"full": True},
            relation=(
                "Checked against torch only: gluon's PoissonNLLLoss(compute_full=True) returns "
                "nan when any count is 0, as the entry's traps say."
            ),
            textbook=(
                "np.exp(input) - target * input + np.where(target > 1, target * np.log(target) "
                "- target + 0.5 * np.log(2 * np.pi * target), 0)"
            ),
        ),
        _variant(
            get("bce"), "an elementwise weight", _elementwise_weight,
            textbook=f"weight * {get('bce').textbook}", array_options=("weight",),
        ),
        _variant(
            get("bce_logits"), "weight and pos_weight", _weight_and_pos_weight,
            textbook=(
                "-weight * (pos_weight * target * np.log(1 / (1 + np.exp(-input))) "
                "+ (1 - target) * np.log(1 - 1 / (1 + np.exp(-input))))"
            ),
            array_options=("weight", "pos_weight"),
        ),
        _variant(
            get("cross_entropy"),
            "class weights, label smoothing or an ignored class",
            _class_weight_and_ignored(ignore_index),
            options={"ignore_index": ignore_index, "label_smoothing": 0.15},
            array_options=("weight",),
        ),
        dataclasses.replace(
            get("cross_entropy"),
            gluon=GluonSpelling(
                "mxnet.gluon.loss.SoftmaxCrossEntropyLoss",
                _frozen(axis=1, sparse_label=True, from_logits=False),
                "class indices (any dtype), shape (N, d1, ...)",
            ),
            make_batch=_spatial_class_index_batch,
            textbook=None,
            variant="classes on axis 1 of an (N, C, d) input",
            relation=(
                "With the classes on axis 1 of an (N, C, d) input (gluon's axis=1), per sample "
                "gluon returns the mean over the positions of torch's reduction='none' loss."
            ),
        ),
        _variant(
            get("cross_entropy_probs"), "class weights or label smoothing", _class_weight,
            options={"label_smoothing": 0.1}, array_options=("weight",),
        ),
        _variant(
            get("nll"),
            "class weights or an ignored class",
            _class_weight_and_ignored(ignore_index),
            options={"ignore_index": ignore_index}, array_options=("weight",),
        ),
        _variant(
            get("kl_div"), "log-probability targets", options={"log_target": True},
            textbook="np.exp(target) * (target - input)",
            make_batch=_log_distribution_batch,
            extreme_batches=_extreme_log_distributions,
        ),
        get("hinge", margin=2.0),
        get("squared_hinge", margin=0.5),
        _variant(
            get("multilabel_soft_margin"), "class weights", _class_weight, array_options=("weight",)
        ),
        _variant(get("gaussian_nll"), "the constant log(2 pi) / 2", options={"full": True}),
        _variant(get("triplet_margin"), "other norms", options={"p": 1.0, "swap": True}),
        _variant(get("triplet_margin"), "other norms", options={"p": 3.0}),
        _variant(get("triplet"), "the swap", options={"swap": True}),
        _variant(get("margin_ranking"), "other margins", options={"margin": -0.25}),
        _variant(get("cosine_embedding"), "other margins", options={"margin": 0.4}),
        _variant(get("sdml"), "other smoothing", options={"smoothing_parameter": 0.05}),
        _variant(get("ctc"), "torch's defaults", options={"blank": 0, "zero_infinity": False}),
        _variant(get("ctc"), "concatenated targets", _concatenated_targets,
                 variant="targets concatenated in one 1-D array"),
    )


TORCH_LOSSES_NOT_IN_CATALOG = MappingProxyType({
    "torch.nn.HingeEmbeddingLoss": (
        "It scores a distance x against a label of -1 or +1 (x for +1, max(0, margin - x) for "
        "-1): despite its name it is not the hinge loss, gluon has no counterpart, and a trap of "
        "the hinge entry warns against the mix-up."
    ),
    "torch.nn.MultiMarginLoss": (
        "The multi-class hinge over a row of class scores; gluon has no counterpart, and the book "
        "teaches the binary hinge and softmax cross-entropy for many classes."
    ),
    "torch.nn.NLLLoss2d": (
        "A deprecated alias of NLLLoss, whose entry also takes (N, C, d1, d2) inputs."
    ),
    "torch.nn.LinearCrossEntropyLoss": (
        "Cross-entropy fused with the Linear layer before it, which saves memory by never "
        "holding all the logits; the loss itself is the cross_entropy entry's."
    ),
})
"""The loss classes of ``torch.nn`` that no entry spells, each with the reason, in one line."""


def keys():
    """Return the key of every entry, in the order the book teaches the losses.

    Returns
    -------
    tuple of str
    """
    return tuple(_FACTORIES)


def entries():
    """Return every entry with its default options, in the order the book teaches the losses.

    Returns
    -------
    tuple of LossEntry
    """
    return tuple(factory() for factory in _FACTORIES.values())


def get(key, **options):
    """Look an entry up by key, with its default options or with the options given.

    Parameters
    ----------
    key : str
        One of :func:`keys`.
    **options
        Options of that loss, spelled as torch spells them (``delta`` for
        ``"huber"``, ``margin`` for ``"hinge"``, ...).

    Returns
    -------
    LossEntry

    Raises
    ------
    KeyError
        If there is no entry ``key``.
    TypeError
        If the loss has no option of a name given.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.catalog.get("hinge", margin=2.0).options["margin"]
    2.0
    """
    try:
        factory = _FACTORIES[key]
    except KeyError:
        raise KeyError(f"no catalog entry {key!r}; the keys are {', '.join(_FACTORIES)}") from None
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"the {key!r} entry has no option {', '.join(unknown)}; "
            f"its options are: {', '.join(accepted) or 'none'}"
        )
    return factory(**options)


def as_entry(entry_or_key):
    """Return ``entry_or_key`` if it is an entry, else the entry with that key.

    Parameters
    ----------
    entry_or_key : LossEntry or str

    Returns
    -------
    LossEntry
    """
    return get(entry_or_key) if isinstance(entry_or_key, str) else entry_or_key


def table():
    """Return the porting facts of every entry as a DataFrame, one row per loss.

    Returns
    -------
    pandas.DataFrame
        Indexed by key, with the title and family; the lossbook, torch and gluon
        calls; the formats each framework expects; what gluon returns; the
        relation; and the numbered traps. Every cell holds text; none is empty.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.catalog.table().loc["l2", "torch"]
    "torch.nn.MSELoss(reduction='mean')(input, target)"
    """
    rows = [
        {
            "key": entry.key,
            "title": entry.title,
            "family": entry.family,
            "lossbook": entry.lossbook_call(entry.torch.reduction),
            "torch": entry.torch_call(entry.torch.reduction),
            "torch input": entry.torch.input_format,
            "torch target": entry.torch.target_format,
            "gluon": entry.gluon_call(),
            "gluon label": entry.gluon.label_format if entry.gluon else "no gluon class",
            "gluon output": entry.gluon.output if entry.gluon else "no gluon class",
            "relation": entry.relation,
            "traps": " ".join(f"({number}) {trap}" for number, trap in enumerate(entry.traps, 1)),
        }
        for entry in entries()
    ]
    return pd.DataFrame(rows).set_index("key")

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
array methods and ``xp`` (``numpy`` or ``torch``) only, so it runs on numpy
arrays and, differentiably, on torch tensors.

Examples
--------
>>> import lossbook as lb
>>> entry = lb.catalog.get("l2")
>>> entry.torch.class_path, entry.gluon.class_path
('torch.nn.MSELoss', 'mxnet.gluon.loss.L2Loss')
>>> lb.catalog.get("huber", delta=2.0).gluon.kwargs["rho"]
2.0
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import activations, classification, regression
from . import margin as margin_losses

FAMILIES = ("regression", "probabilistic", "margin", "divergence")
"""The four families the book sorts its losses into."""

SAMPLES = 8
"""Rows in a batch made by an entry's ``make_batch``."""

FEATURES = 3
"""Values per row for the losses that score each value on its own."""

CLASSES = 4
"""Classes per row for the losses that score a row of class scores."""

GLUON_EPS = 1e-12
"""What gluon adds inside the logs of ``SigmoidBCELoss(from_sigmoid=True)`` and ``KLDivLoss``."""

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
    "averages, so do not divide by the batch size again."
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
    """

    input: np.ndarray
    target: np.ndarray


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
        ``.sum()`` can follow it. Exactly one of ``class_path`` and
        ``expression`` is set.
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

    def __post_init__(self):
        if (self.class_path is None) == (self.expression is None):
            raise ValueError("give exactly one of class_path and expression")
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
    """

    class_path: str
    kwargs: MappingProxyType
    label_format: str
    output: str = "one value per sample: the mean over the non-batch axes"


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
        ``numpy.random.Generator`` ``rng``.
    equation_block : int, default 0
        Which ``.. math::`` block of the loss's docstring is its :attr:`equation`.
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
    equation_block: int = 0

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family {self.family!r} is not one of {FAMILIES}")
        if (self.gluon is None) != (self.to_gluon is None):
            raise ValueError("an entry has a gluon spelling exactly when it has a relation to it")

    @property
    def equation(self):
        """The loss in LaTeX, without delimiters, as its lossbook docstring shows it."""
        return math_blocks(self.loss.__doc__)[self.equation_block]

    def evaluate(self, batch, reduction):
        """Return lossbook's loss of ``batch``, reduced by ``reduction``."""
        return self.loss(batch.input, batch.target, reduction=reduction, **self.options)

    def gradient(self, batch, reduction):
        """Return the gradient of ``evaluate(batch, reduction)`` with respect to the input."""
        return self.grad(batch.input, batch.target, reduction=reduction, **self.options)

    def expected_gluon(self, batch):
        """Return what gluon should output for ``batch``: the relation applied to lossbook."""
        if self.to_gluon is None:
            raise ValueError(f"gluon has no class for the {self.key!r} loss")
        return self.to_gluon(self.evaluate(batch, "none"), batch.input, batch.target, np)

    def lossbook_call(self, reduction):
        """Return the lossbook call as source text, with the options written out."""
        arguments = ["input", "target", *_keyword_texts(self.options), f"reduction={reduction!r}"]
        return f"lb.{self.loss.__name__}({', '.join(arguments)})"

    def torch_call(self, reduction):
        """Return the torch call as source text, with the options written out."""
        if self.torch.class_path is not None:
            arguments = [*_keyword_texts(self.options), f"reduction={reduction!r}"]
            return f"{self.torch.class_path}({', '.join(arguments)})(input, target)"
        call = self.torch.expression + ("" if reduction == "none" else f".{reduction}()")
        return f"{call} with {', '.join(_keyword_texts(self.options))}" if self.options else call

    def gluon_call(self):
        """Return the gluon call as source text, or a sentence saying gluon has no class."""
        if self.gluon is None:
            return "gluon has no class for this loss"
        arguments = ", ".join(_keyword_texts(self.gluon.kwargs))
        return f"{self.gluon.class_path}({arguments})(pred, label)"


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
    """Return ``["name=value", ...]`` for a mapping of keyword arguments."""
    return [f"{name}={value!r}" for name, value in mapping.items()]


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


# Batches.


def _real_pairs(rng):
    """Real-valued predictions and targets, spread wide enough to cross Huber's kink."""
    shape = (SAMPLES, FEATURES)
    return Batch(1.5 * rng.standard_normal(shape), 1.5 * rng.standard_normal(shape))


def _count_batch(rng, log_input):
    """Poisson counts and their predicted rates, as log-rates if ``log_input``."""
    log_rate = 0.5 * rng.standard_normal((SAMPLES, FEATURES))
    counts = rng.poisson(np.exp(log_rate)).astype(np.float64)
    return Batch(log_rate if log_input else np.exp(log_rate), counts)


def _probability_batch(rng):
    """Probabilities strictly inside (0, 1) and 0/1 labels."""
    shape = (SAMPLES, FEATURES)
    return Batch(rng.uniform(0.02, 0.98, shape), rng.integers(0, 2, shape).astype(np.float64))


def _logit_batch(rng):
    """Logits and 0/1 labels."""
    shape = (SAMPLES, FEATURES)
    return Batch(2.0 * rng.standard_normal(shape), rng.integers(0, 2, shape).astype(np.float64))


def _signed_batch(rng):
    """Scores and -1/+1 labels."""
    shape = (SAMPLES, FEATURES)
    return Batch(1.5 * rng.standard_normal(shape), rng.choice([-1.0, 1.0], shape))


def _class_scores(rng):
    """A row of raw class scores per sample."""
    return 2.0 * rng.standard_normal((SAMPLES, CLASSES))


def _class_index_batch(rng):
    """Class scores and int64 class indices."""
    return Batch(_class_scores(rng), rng.integers(0, CLASSES, SAMPLES))


def _class_probability_batch(rng):
    """Class scores and target class probabilities (each row sums to 1)."""
    return Batch(_class_scores(rng), activations.softmax(_class_scores(rng)))


def _log_probability_index_batch(rng):
    """Class log-probabilities and int64 class indices."""
    return Batch(activations.log_softmax(_class_scores(rng)), rng.integers(0, CLASSES, SAMPLES))


def _distribution_batch(rng):
    """Predicted log-probabilities and a strictly positive target distribution."""
    predicted = activations.log_softmax(_class_scores(rng))
    return Batch(predicted, activations.softmax(_class_scores(rng)))


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
            "torch's MSELoss is twice gluon's L2Loss, and so are its gradients: multiply it by "
            "0.5 to reproduce an MXNet run (halving the learning rate does the same for plain "
            "SGD only).",
            _SHAPE_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_real_pairs,
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
            "per-sample output."
        ),
        to_gluon=lambda loss, input, target, xp: loss.mean().reshape(1),
        traps=(
            "gluon already averages over the whole batch, and MXNet code still calls "
            "trainer.step(batch_size), dividing by the batch size a second time: to reproduce an "
            "MXNet run with reduction='mean', divide torch's learning rate by the batch size.",
            "gluon's from_logits=True means log-rates: torch's log_input=True.",
            "gluon's epsilon is a positional argument of the call, loss(pred, target, None, "
            "epsilon), and a keyword raises TypeError; torch's eps is a constructor argument.",
            "gluon's compute_full=True returns nan when any count is 0 (it takes log 0 before "
            "masking) and fails inside autograd.record() (it multiplies in place); torch's "
            "full=True handles both.",
        ),
        make_batch=lambda rng: _count_batch(rng, log_input),
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
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_class_index_batch,
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
            "itself and passes them with sparse_label=False.",
            _FROM_LOGITS_TRAP,
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_class_probability_batch,
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
            _PER_SAMPLE_TRAP,
        ),
        make_batch=_log_probability_index_batch,
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
            output="one value per sample: the sum over the non-batch axes",
        ),
        relation=(
            f"gluon sums over the non-batch axes and takes log(t + eps), eps = {GLUON_EPS:g}: "
            "per sample (for t > 0) it is the sum of torch's reduction='none' loss + "
            "t log1p(eps / t). Its batch mean is torch's reduction='batchmean' (to about C * "
            "eps), and torch's 'mean' is that divided by C."
        ),
        to_gluon=lambda loss, input, target, xp: _per_sample_sum(
            loss + target * xp.log1p(GLUON_EPS / target)
        ),
        traps=(
            "torch's reduction='mean' divides by every element, not by the batch size (and "
            "warns): use 'batchmean' to match gluon's KLDivLoss()(pred, label).mean().",
            "The input is log q and the target t in both frameworks, giving KL(t || q); swapping "
            "them computes a different divergence.",
            "gluon's KLDivLoss(from_logits=False) applies log_softmax to raw scores for you; "
            "torch never does, so call log_softmax first.",
        ),
        make_batch=_distribution_batch,
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
    )
}


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

"""Every number and fact the chapter "Log loss by any other name" states, checked independently.

The values the chapter glues into its prose are read from the notebook the book build executed;
each is compared with mpmath, a value derived by hand (derivation in a comment),
Kaggle's documented example, or the installed scikit-learn, PyTorch and MXNet
gluon. The chapter's own numpy re-implementations of Keras and Kaggle are taken
from its source and checked against hand-derived values. lossbook appears only as
the thing being checked. The chapter's structure is checked at the end.
"""

import inspect
import math
import re
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sklearn
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss

from executed_pages import glued_texts
import lossbook as lb
from lossbook import frameworks
from float64_arrays import nd64

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon  # noqa: E402  (after the import that silences mxnet)

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK = REPO_ROOT / "book"
PATH = BOOK / "log_loss_names.md"
CHAPTER = PATH.read_text()
PREFIX = "log-loss-names-"

mpmath.mp.dps = 50
LN2, LN10 = mpmath.log(2), mpmath.log(10)


@pytest.fixture(scope="module")
def glued():
    """The text of every value the chapter glues, as the book build executed it."""
    return glued_texts(PATH.stem)


def number(glued, key):
    """A glued value as a float."""
    return float(glued[PREFIX + key])


def chapter_function(name):
    """Execute the code cell of the chapter that defines ``name`` and return the function."""
    cells = re.findall(r"```\{code-cell\} ipython3\n(.*?)```", CHAPTER, re.DOTALL)
    (cell,) = [cell for cell in cells if f"def {name}(" in cell]
    namespace = {"np": np}
    exec(cell, namespace)
    return namespace[name]


def exact_log_loss(p, y):
    """-mean(y log p + (1 - y) log(1 - p)) with 50 digits."""
    terms = [-(mpmath.log(mpmath.mpf(float(q))) if t else mpmath.log(1 - mpmath.mpf(float(q))))
             for q, t in zip(p, y)]
    return sum(terms) / len(terms)


def chapter_batch():
    """The chapter's twelve seeded probabilities and labels."""
    rng = np.random.default_rng(0)
    return rng.uniform(0.02, 0.98, 12), rng.integers(0, 2, 12).astype(np.float64)


# scikit-learn 1.7.2.


def test_sklearn_version_and_signature():
    """The chapter describes scikit-learn 1.7.2, whose log_loss has no eps argument."""
    assert sklearn.__version__ == "1.7.2"
    assert list(inspect.signature(log_loss).parameters) == [
        "y_true", "y_pred", "normalize", "sample_weight", "labels"]


def test_sklearn_clips_at_the_dtype_machine_epsilon():
    """The installed source clips y_pred to [eps, 1 - eps] with eps = np.finfo(y_pred.dtype).eps."""
    source = inspect.getsource(log_loss)
    assert "eps = np.finfo(y_pred.dtype).eps" in source
    assert "y_pred = np.clip(y_pred, eps, 1 - eps)" in source


def test_sklearn_worst_cases(glued):
    """A wrong certain prediction costs -log(2^-52) = 52 ln 2 in float64, -log(2^-23) = 23 ln 2 in float32."""
    assert number(glued, "eps64") == 2.0**-52
    assert number(glued, "eps32") == 2.0**-23
    assert number(glued, "sk-wrong64") == pytest.approx(float(52 * LN2), rel=1e-15)
    assert number(glued, "wrong-sklearn") == pytest.approx(float(52 * LN2), rel=1e-15)
    assert number(glued, "sk-wrong32") == pytest.approx(float(23 * LN2), rel=1e-6)  # float32 log


def test_sklearn_rejects_values_outside_the_unit_interval():
    """Probabilities above 1 raise ValueError."""
    with pytest.raises(ValueError):
        log_loss([0, 1], [0.5, 1.5])


def test_sklearn_warns_and_does_not_rescale_rows():
    """Rows that do not sum to one give a UserWarning and are scored as they are, not rescaled."""
    with pytest.warns(UserWarning, match="do not sum to one"):
        value = log_loss([1], [[0.2, 0.3]], labels=[0, 1])
    assert value == pytest.approx(-math.log(0.3), rel=1e-15)  # rescaled it would be -log(0.6)


def test_sklearn_infers_sorted_labels_and_reads_1d_as_the_larger_label():
    """For labels 'ham' < 'spam', a 1-D y_pred is P(spam): losses -log(1 - 0.3) and -log(0.8)."""
    value = log_loss(["ham", "spam"], [0.3, 0.8])
    assert value == pytest.approx((-math.log(0.7) - math.log(0.8)) / 2, rel=1e-15)


def test_sklearn_sample_weight_divides_by_the_sum_of_weights(glued):
    """log_loss with sample_weight is sum(w l) / sum(w); torch and gluon give sum(w l) / N."""
    p, y = chapter_batch()
    w = np.random.default_rng(2).uniform(0.5, 3.0, 12)
    losses = np.array([float(-mpmath.log(q) if t else -mpmath.log(1 - q)) for q, t in zip(p, y)])
    assert log_loss(y, p, sample_weight=w) == pytest.approx(np.sum(w * losses) / np.sum(w), rel=1e-13)
    assert log_loss(y, p, normalize=False) == pytest.approx(np.sum(losses), rel=1e-13)
    torch_value = torch.nn.BCELoss(weight=torch.from_numpy(w))(torch.from_numpy(p), torch.from_numpy(y)).item()
    gluon_value = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(
        nd64(p[:, None]), nd64(y[:, None]), nd64(w[:, None])).mean().asscalar()
    assert torch_value == pytest.approx(np.mean(w * losses), rel=1e-13)
    assert gluon_value == pytest.approx(np.mean(w * losses), rel=1e-10)  # gluon's 1e-12 in the logs
    assert number(glued, "mean-weight") == pytest.approx(w.mean(), rel=1e-15)
    assert torch_value / log_loss(y, p, sample_weight=w) == pytest.approx(w.mean(), rel=1e-12)


# PyTorch and gluon.


def test_torch_documents_the_clamp_at_minus_100():
    """BCELoss's docstring says it clamps its log outputs at -100."""
    doc = " ".join(torch.nn.BCELoss.__doc__.split())
    assert "BCELoss clamps its log function outputs to be greater than or equal to -100." in doc


def test_gluon_adds_1e_minus_12_inside_the_logs():
    """The installed gluon source sets eps = 1e-12 and takes log(pred + eps), log(1 - pred + eps)."""
    source = inspect.getsource(gluon.loss.SigmoidBinaryCrossEntropyLoss.hybrid_forward)
    assert "eps = 1e-12" in source
    assert "log_fn(pred + eps)" in source and "log_fn(1. - pred + eps)" in source
    default = inspect.signature(gluon.loss.SigmoidBinaryCrossEntropyLoss).parameters["from_sigmoid"].default
    assert default is False  # logits unless told otherwise


def test_edge_values_of_torch_and_gluon(glued):
    """Wrong and certain: torch 100, gluon -log(1e-12) = 12 ln 10; right and certain: torch 0, gluon < 0."""
    edge_p, edge_y = np.array([1.0, 0.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0, 0.0])
    torch_losses = torch.nn.BCELoss(reduction="none")(torch.from_numpy(edge_p), torch.from_numpy(edge_y)).numpy()
    gluon_losses = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(nd64(edge_p[:, None]), nd64(edge_y[:, None])).asnumpy()
    assert_allclose(torch_losses, [0.0, 0.0, 100.0, 100.0], rtol=0, atol=0)
    assert gluon_losses[2] == pytest.approx(float(12 * LN10), rel=1e-15)
    # A right answer costs -log(1 + 1e-12), which float64 rounds to -1.000088900581841e-12.
    assert gluon_losses[0] == -np.log(1.0 + 1e-12) < 0
    assert number(glued, "wrong-torch") == 100.0
    assert number(glued, "wrong-gluon") == pytest.approx(float(12 * LN10), rel=1e-15)
    assert number(glued, "gluon-floor") == pytest.approx(float(12 * LN10), rel=1e-15)


def test_edge_gradients_of_torch_and_gluon(glued):
    """torch: (p - y) / max(p(1 - p), float32(1e-12)); gluon: -1/(p + 1e-12) or 1/(1 - p + 1e-12)."""
    edge_p, edge_y = np.array([1.0, 0.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0, 0.0])
    p_t = torch.from_numpy(edge_p.copy()).requires_grad_()
    torch.nn.BCELoss(reduction="sum")(p_t, torch.from_numpy(edge_y)).backward()
    floor = float(np.float32(1e-12))  # the clamp is a 32-bit float, 9.99999996e-13
    assert_allclose(p_t.grad.numpy(), [0.0, 0.0, -1.0 / floor, 1.0 / floor], rtol=1e-15)
    assert number(glued, "torch-wrong-grad") == pytest.approx(-1.0 / floor, rel=1e-15)

    p_nd = nd64(edge_p[:, None])
    p_nd.attach_grad()
    with autograd.record():
        loss = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(p_nd, nd64(edge_y[:, None]))
    loss.backward()
    expected = [-1 / (1 + 1e-12), 1 / (1 + 1e-12), -1 / 1e-12, 1 / 1e-12]
    assert_allclose(p_nd.grad.asnumpy().ravel(), expected, rtol=1e-12)


# The Keras and Kaggle re-implementations.


def test_keras_reimplementation_at_the_edges(glued):
    """Keras 3 clips in float32: -log(float32(1e-7)) and -log(1 - float32(1 - 1e-7)) = -log(2^-23)."""
    keras_bce = chapter_function("keras_binary_crossentropy")
    wrong_low = keras_bce(np.array([[1.0]]), np.array([[0.0]]))[0]
    wrong_high = keras_bce(np.array([[0.0]]), np.array([[1.0]]))[0]
    # float32(1e-7) is exactly 1.0000000116860974e-07; float32(1 - 1e-7) is 1 - 2^-23.
    assert float(wrong_low) == pytest.approx(float(-mpmath.log(mpmath.mpf(float(np.float32(1e-7))))), rel=1e-6)
    assert float(wrong_high) == pytest.approx(float(23 * LN2), rel=1e-6)
    assert number(glued, "wrong-keras") == pytest.approx(float(wrong_low), rel=1e-7)
    assert number(glued, "keras-wrong-other") == pytest.approx(float(wrong_high), rel=1e-7)
    # Keras 2 also adds epsilon inside the log: -log(2 float32(1e-7)).
    keras2 = keras_bce(np.array([[1.0]]), np.array([[0.0]]), keras2=True)[0]
    assert float(keras2) == pytest.approx(float(-mpmath.log(2 * mpmath.mpf(float(np.float32(1e-7))))), rel=1e-6)


def test_keras_reimplementation_uses_float32_and_the_last_axis():
    """The re-implementation averages over the last axis and returns float32, as Keras does."""
    keras_bce = chapter_function("keras_binary_crossentropy")
    result = keras_bce(np.array([[1.0, 0.0]]), np.array([[0.6, 0.4]]))
    assert result.dtype == np.float32 and result.shape == (1,)
    assert float(result[0]) == pytest.approx(-math.log(0.6), rel=1e-6)


def test_kaggle_reimplementation_reproduces_kaggle_documented_example():
    """Kaggle's wiki scores its six-row example 1.881797068998267; so do the recipe, sklearn and torch."""
    kaggle = chapter_function("kaggle_log_loss")
    probabilities = np.array([[0.5, 0.5], [0.1, 0.9], [0.01, 0.99], [0.9, 0.1], [0.75, 0.25], [0.001, 0.999]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert kaggle(labels, probabilities) == pytest.approx(1.881797068998267, rel=1e-15)
    assert log_loss(labels, probabilities) == pytest.approx(1.881797068998267, rel=1e-15)
    nll = torch.nn.NLLLoss()(torch.log(torch.from_numpy(probabilities)), torch.from_numpy(labels)).item()
    assert nll == pytest.approx(1.881797068998267, rel=1e-15)


def test_kaggle_worst_case(glued):
    """Kaggle's clip at 1e-15 makes a wrong certain prediction cost -log(1e-15) = 15 ln 10."""
    kaggle = chapter_function("kaggle_log_loss")
    assert kaggle([1], [[1.0, 0.0]]) == pytest.approx(float(15 * LN10), rel=1e-12)
    assert number(glued, "wrong-kaggle") == pytest.approx(float(15 * LN10), rel=1e-12)
    assert number(glued, "log-1e15") == pytest.approx(float(15 * LN10), rel=1e-15)


# The batch and the categorical case.


def test_the_batch_value_and_every_implementation(glued):
    """The glued batch log loss matches mpmath; sklearn and torch to 1e-15, gluon to 1e-10."""
    p, y = chapter_batch()
    exact = float(exact_log_loss(p, y))
    assert number(glued, "batch-value") == pytest.approx(exact, rel=1e-14)
    assert lb.binary_cross_entropy(p, y) == pytest.approx(exact, rel=1e-14)
    assert log_loss(y, p) == pytest.approx(exact, rel=1e-14)
    assert torch.nn.BCELoss()(torch.from_numpy(p), torch.from_numpy(y)).item() == pytest.approx(exact, rel=1e-14)
    gluon_value = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(nd64(p[:, None]), nd64(y[:, None])).mean().asscalar()
    assert gluon_value == pytest.approx(exact, rel=1e-10)
    keras_bce = chapter_function("keras_binary_crossentropy")
    assert float(keras_bce(y[:, None], p[:, None]).mean()) == pytest.approx(exact, rel=1e-6)


def test_categorical_implementations_agree():
    """On the chapter's 3-class batch, sklearn, torch NLLLoss, gluon SoftmaxCELoss and mpmath agree."""
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((6, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = np.array([0, 1, 2, 2, 1, 0])
    exact = float(sum(-mpmath.log(mpmath.mpf(float(probs[i, c]))) for i, c in enumerate(classes)) / 6)
    assert log_loss(classes, probs) == pytest.approx(exact, rel=1e-14)
    assert torch.nn.NLLLoss()(torch.log(torch.from_numpy(probs)), torch.from_numpy(classes)).item() == \
        pytest.approx(exact, rel=1e-14)
    gluon_value = gluon.loss.SoftmaxCrossEntropyLoss(from_logits=True)(
        nd64(np.log(probs)), nd64(classes)).mean().asscalar()
    assert gluon_value == pytest.approx(exact, rel=1e-14)
    assert lb.nll_loss(np.log(probs), classes) == pytest.approx(exact, rel=1e-14)
    keras_cce = chapter_function("keras_categorical_crossentropy")
    assert float(keras_cce(np.eye(3)[classes], probs).mean()) == pytest.approx(exact, rel=1e-6)


def test_float32_input_lowers_sklearn_score_below_the_old_default():
    """Exercise 3: with float32 input 1.7.2 clips at 2^-23, so it scores below 1.1's 1e-15 clip."""
    y_true = np.array([1, 0, 1, 0])
    y_prob = np.array([0.0, 0.2, 0.9, 0.1], dtype=np.float32)
    q = np.clip(y_prob.astype(np.float64), 1e-15, 1 - 1e-15)
    old = -np.mean(y_true * np.log(q) + (1 - y_true) * np.log(1 - q))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert log_loss(y_true, y_prob) < old < log_loss(y_true, y_prob.astype(np.float64))


# The chapter's structure.


def test_every_glue_reference_is_glued(glued):
    """Each {glue:...} key the prose uses was glued when the chapter ran."""
    used = set(re.findall(r"\{glue(?::\w*)?\}`(" + PREFIX + r"[\w-]+)", CHAPTER))
    used |= set(re.findall(r"```\{glue(?::\w*)?\} (" + PREFIX + r"[\w-]+)", CHAPTER))
    assert len(used) >= 10
    assert used and used <= set(glued)
    assert all(key.startswith(PREFIX) for key in glued)


def test_tabs_are_synced_gluon_torch_lossbook():
    """The framework tabs use the sync group 'framework' and the keys gluon, torch, lossbook in order."""
    assert ":sync-group: framework" in CHAPTER
    assert re.findall(r":sync: (\w+)", CHAPTER) == ["gluon", "torch", "lossbook"]


def test_tensorflow_is_not_used():
    """Keras is described and re-implemented in numpy; no code cell imports TensorFlow or Keras."""
    cells = re.findall(r"```\{code-cell\} ipython3\n(.*?)```", CHAPTER, re.DOTALL)
    assert not any(re.search(r"^\s*(import|from)\s+(tensorflow|keras)", cell, re.MULTILINE) for cell in cells)
    assert "re-implementation" in CHAPTER


def test_equations_are_labelled_for_the_chapter_and_referenced():
    """Every equation label starts with eq-log-loss-names- and is referenced in the prose."""
    labels = re.findall(r"\$\$\s*\((eq-[\w-]+)\)", CHAPTER)
    assert len(labels) >= 3
    for label in labels:
        assert label.startswith("eq-log-loss-names-")
        assert f"{{eq}}`{label}`" in CHAPTER


def test_figures_are_captioned_named_and_referenced():
    """Every figure has a caption and a fig-log-loss-names- name that the prose refers to."""
    names = re.findall(r"caption: \|.*?\n\s+name: (fig-[\w-]+)", CHAPTER, re.DOTALL)
    assert names
    for name in names:
        assert name.startswith("fig-log-loss-names-")
        assert f"{{numref}}`{name}`" in CHAPTER


def test_glossary_terms_exist():
    """Every {term} the chapter links is an entry of the glossary."""
    glossary = (BOOK / "glossary.md").read_text()
    entries = {line.strip().lower() for line in glossary.splitlines() if re.match(r"^[A-Za-z]", line)}
    terms = re.findall(r"\{term\}`([^`<]+)`", CHAPTER)
    assert terms
    for term in terms:
        assert term.strip().lower() in entries, term


def test_citations_exist():
    """Every cited key is in references.bib; the chapter cites at least five sources."""
    bib = (BOOK / "references.bib").read_text()
    groups = re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", CHAPTER)
    cited = {key.strip() for group in groups for key in group.split(",")}
    assert len(cited) >= 5
    for key in cited:
        assert re.search(r"@\w+\{" + re.escape(key) + ",", bib), key


def test_exercises_have_solutions_and_one_runs():
    """At least three exercises, each with a solution, and at least one solution with code."""
    exercises = re.findall(r":label: (ex-log-loss-names-\d+)", CHAPTER)
    assert len(exercises) >= 3
    for label in exercises:
        assert f"{{solution-start}} {label}" in CHAPTER or f"{{solution}} {label}" in CHAPTER
    executable = re.findall(r"\{solution-start\}.*?\{solution-end\}", CHAPTER, re.DOTALL)
    assert any("{code-cell}" in block for block in executable)

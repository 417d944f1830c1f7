"""Every number the margin-losses chapter states or relies on, checked independently.

The chapter (book/margin_losses.md), as the book build executed it: each number it glues
into its prose is compared with a source other than lossbook: mpmath at 50
digits, a value derived by hand (the derivation is in a comment), SciPy,
scikit-learn, PyTorch or MXNet gluon. The framework relations the chapter teaches
are checked against the frameworks directly, and its structure (glue keys,
equation and figure labels, glossary terms, citations) at the end.
"""

import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy import optimize
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from executed_pages import executed_page, glued_values
from float64_arrays import nd64, t64
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon  # noqa: E402  (after the import that silences mxnet)

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTER_PATH = REPO_ROOT / "book" / "margin_losses.md"
CHAPTER = CHAPTER_PATH.read_text()
F = torch.nn.functional
PREFIX = "margin-"

mpmath.mp.dps = 50


@pytest.fixture(scope="module")
def executed():
    """The chapter as the book build executed it."""
    return executed_page(CHAPTER_PATH.stem)


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, by key; numbers as Python numbers."""
    return glued_values(CHAPTER_PATH.stem)


def exact_logistic(m):
    """log(1 + exp(-m)) by mpmath."""
    return mpmath.log1p(mpmath.exp(-mpmath.mpf(float(m))))


# The logistic loss is BCE with logits.


def test_soft_margin_with_signed_labels_is_bce_with_logits(glued):
    """torch soft_margin_loss(z, 2t - 1) = BCE-with-logits(z, t) = mpmath log(1 + e^{-yz}), to rounding."""
    rng = np.random.default_rng(0)
    z = 4.0 * rng.standard_normal((6, 3))
    t = rng.integers(0, 2, (6, 3)).astype(np.float64)
    y = 2 * t - 1
    soft = F.soft_margin_loss(t64(z), t64(y), reduction="none").numpy()
    bce = F.binary_cross_entropy_with_logits(t64(z), t64(t), reduction="none").numpy()
    exact = np.array([float(exact_logistic(m)) for m in (y * z).ravel()]).reshape(z.shape)
    assert_allclose(soft, exact, rtol=4e-16 * 4)
    assert_allclose(bce, exact, rtol=0, atol=1e-15)  # torch loses relative accuracy on tiny losses
    assert glued[PREFIX + "logistic-bce-gap"] == np.abs(soft - bce).max()
    assert glued[PREFIX + "logistic-bce-gap"] < 1e-14


def test_gluon_logistic_formats_and_sigmoid_bce_agree():
    """gluon LogisticLoss signed on 2t - 1 = binary on t = SigmoidBinaryCrossEntropyLoss on t."""
    rng = np.random.default_rng(0)
    z = 4.0 * rng.standard_normal((6, 3))
    t = rng.integers(0, 2, (6, 3)).astype(np.float64)
    signed = gluon.loss.LogisticLoss(label_format="signed")(nd64(z), nd64(2 * t - 1)).asnumpy()
    binary = gluon.loss.LogisticLoss(label_format="binary")(nd64(z), nd64(t)).asnumpy()
    sigmoid_bce = gluon.loss.SigmoidBinaryCrossEntropyLoss()(nd64(z), nd64(t)).asnumpy()
    torch_port = F.binary_cross_entropy_with_logits(t64(z), t64(t), reduction="none").mean(1).numpy()
    assert_allclose(signed, binary, rtol=1e-15)
    assert_allclose(binary, sigmoid_bce, rtol=1e-15)
    assert_allclose(binary, torch_port, rtol=1e-14)


def test_soft_margin_with_a_zero_label_is_log_two_with_no_gradient(glued):
    """A 0 label in SoftMarginLoss gives log(1 + e^0) = log 2 and a zero gradient (torch autograd)."""
    scores = t64([-3.0, -1.0, 2.0]).requires_grad_()
    loss = F.soft_margin_loss(scores, t64([0.0, 0.0, 1.0]), reduction="none")
    loss.sum().backward()
    assert_allclose(loss[:2].detach().numpy(), float(mpmath.log(2)), rtol=1e-16)
    assert scores.grad[0].item() == 0.0 and scores.grad[1].item() == 0.0
    assert_allclose(glued[PREFIX + "log2"], float(mpmath.log(2)), rtol=1e-16)


def test_gluon_signed_logistic_maps_a_zero_label_to_one_half():
    """gluon LogisticLoss() with label 0 is softplus(f) - f / 2 (mpmath), so 1.5486 at f = -3."""
    f = np.array([[-3.0], [-1.0], [2.0]])
    out = gluon.loss.LogisticLoss()(nd64(f), nd64(np.zeros((3, 1)))).asnumpy()
    exact = [float(mpmath.log1p(mpmath.exp(v)) - mpmath.mpf(v) / 2) for v in f.ravel()]
    assert_allclose(out, exact, rtol=1e-15)


def test_exercise_3_gluon_gradient_for_a_zero_label_is_sigmoid_minus_one_half():
    """mxnet autograd of LogisticLoss() with label 0 at f = -2, 0.5, 3 is sigma(f) - 1/2 (mpmath)."""
    f = np.array([[-2.0], [0.5], [3.0]])
    x = nd64(f)
    x.attach_grad()
    with autograd.record():
        per_sample = gluon.loss.LogisticLoss()(x, nd64(np.zeros((3, 1))))
    per_sample.backward()
    exact = [float(1 / (1 + mpmath.exp(-v)) - mpmath.mpf(1) / 2) for v in f.ravel()]
    assert_allclose(x.grad.asnumpy().ravel(), exact, rtol=1e-15)


# Hinge and squared hinge across frameworks.


def test_gluon_hinge_losses_are_the_clamp_expressions():
    """gluon HingeLoss / SquaredHingeLoss = torch.clamp(1 - y f, min=0) (squared), per sample."""
    rng = np.random.default_rng(1)
    f = 1.5 * rng.standard_normal((5, 1))
    y = rng.choice([-1.0, 1.0], size=(5, 1))
    hinge = torch.clamp(1 - t64(y) * t64(f), min=0).numpy().ravel()
    assert_allclose(gluon.loss.HingeLoss()(nd64(f), nd64(y)).asnumpy(), hinge, rtol=1e-15)
    assert_allclose(gluon.loss.SquaredHingeLoss()(nd64(f), nd64(y)).asnumpy(), hinge**2, rtol=1e-15)
    assert_allclose(hinge, np.maximum(0, 1 - y * f).ravel(), rtol=1e-15)


def test_hinge_embedding_loss_is_the_score_itself_for_label_one():
    """HingeEmbeddingLoss: x for y = 1 (even when negative), max(0, 1 - x) for y = -1; not the hinge."""
    x = t64([0.5, -1.9, 1.2, 0.4])
    y = t64([1.0, 1.0, -1.0, -1.0])
    out = torch.nn.HingeEmbeddingLoss(reduction="none")(x, y).numpy()
    assert_allclose(out, [0.5, -1.9, 0.0, 0.6], rtol=1e-15)
    assert not np.allclose(out, np.maximum(0, 1 - y.numpy() * x.numpy()))


def test_exercise_1_multi_margin_on_zero_and_f_is_half_the_hinge():
    """MultiMarginLoss([0, f], t) = max(0, 1 - (2t - 1) f) / 2, derived in the exercise; checked by hand values."""
    f = t64([[0.0, 0.3], [0.0, -2.0], [0.0, 0.4], [0.0, 5.0]])
    t = torch.tensor([1, 1, 0, 0])
    out = torch.nn.MultiMarginLoss(reduction="none")(f, t).numpy()
    # t = 1: max(0, 1 - 0.3) / 2 = 0.35, max(0, 1 + 2) / 2 = 1.5; t = 0: max(0, 1 + 0.4) / 2 = 0.7, 6 / 2 = 3.
    assert_allclose(out, [0.35, 1.5, 0.7, 3.0], rtol=1e-15)


# Why margins: kinks, sparsity, calibration.


def test_derivatives_on_either_side_of_the_hinge(glued):
    """torch autograd at m = 1 -/+ 1e-6: hinge -1 then 0; squared hinge -2 (1 - m) = -2e-6 then 0."""
    results = {}
    for name, loss in (("hinge", lambda m: torch.clamp(1 - m, min=0)),
                       ("squared-hinge", lambda m: torch.clamp(1 - m, min=0) ** 2)):
        for side, value in (("below", 1 - 1e-6), ("above", 1 + 1e-6)):
            m = torch.tensor(value, dtype=torch.float64, requires_grad=True)
            loss(m).backward()
            results[name, side] = m.grad.item()
    assert results["hinge", "below"] == -1.0 and results["hinge", "above"] == 0.0
    assert results["squared-hinge", "above"] == 0.0
    assert_allclose(results["squared-hinge", "below"], -2 * (1 - (1 - 1e-6)), rtol=1e-15)
    assert glued[PREFIX + "kink-hinge-below"] == -1.0
    assert_allclose(glued[PREFIX + "kink-squared-hinge-below"], -2e-6, rtol=1e-9)


def clouds():
    """The chapter's two overlapping classes of forty points each."""
    rng = np.random.default_rng(7)
    labels = np.repeat([1.0, -1.0], 40)
    return rng.normal(size=(80, 2)) + np.outer(labels, [1.3, 1.0]), labels


# mean loss + 0.01 ||w||^2 is, times C * N, C * sum(loss) + ||w||^2 / 2 with C = 1 / (2 * 0.01 * 80).
C_EQUIVALENT = 1 / (2 * 0.01 * 80)


def test_support_vector_counts_match_an_exact_svm_solver(glued):
    """scikit-learn's SVC (libsvm, exact) on the same objective gives the chapter's 66 / 3 / 11 split."""
    points, labels = clouds()
    svc = SVC(kernel="linear", C=C_EQUIVALENT, tol=1e-12).fit(points, labels)
    margins = labels * svc.decision_function(points)
    tol = 1e-3
    assert glued[PREFIX + "n-points"] == 80
    assert glued[PREFIX + "hinge-silent"] == int((margins > 1 + tol).sum())
    assert glued[PREFIX + "hinge-on-margin"] == int((np.abs(margins - 1) <= tol).sum())
    assert glued[PREFIX + "hinge-inside"] == int((margins < 1 - tol).sum())
    assert glued[PREFIX + "hinge-on-margin"] + glued[PREFIX + "hinge-inside"] == len(svc.support_)


def test_logistic_pulls_match_scikit_learns_logistic_regression(glued):
    """scikit-learn's LogisticRegression on the same objective: every pull sigma(-m) is positive, min and max match."""
    points, labels = clouds()
    model = LogisticRegression(C=C_EQUIVALENT, tol=1e-12, max_iter=10000).fit(points, labels)
    margins = labels * model.decision_function(points)
    pulls = 1 / (1 + np.exp(margins))
    assert pulls.min() > 0
    assert_allclose(glued[PREFIX + "logistic-min-pull"], pulls.min(), rtol=1e-3)
    assert_allclose(glued[PREFIX + "logistic-max-pull"], pulls.max(), rtol=1e-4)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.6, 0.9])
def test_minimisers_of_the_conditional_risk(p):
    """SciPy: logistic minimiser is log(p / (1 - p)), squared hinge 2p - 1, hinge sign(2p - 1)."""
    def risk(loss):
        return lambda f: p * loss(f) + (1 - p) * loss(-f)

    def logistic(f):
        return math.log1p(math.exp(-f))

    def hinge(f):
        return max(0.0, 1 - f)

    def squared(f):
        return max(0.0, 1 - f) ** 2

    options = {"xatol": 1e-10}
    best_logistic = optimize.minimize_scalar(risk(logistic), bounds=(-6, 6), method="bounded", options=options).x
    best_squared = optimize.minimize_scalar(risk(squared), bounds=(-6, 6), method="bounded", options=options).x
    assert_allclose(best_logistic, math.log(p / (1 - p)), atol=1e-7)
    assert_allclose(best_squared, 2 * p - 1, atol=1e-7)
    # The hinge risk is piecewise linear with kinks at -1 and 1: compare the candidates exactly.
    assert min((-1.0, 1.0), key=risk(hinge)) == math.copysign(1.0, 2 * p - 1)
    assert risk(hinge)(math.copysign(1.0, 2 * p - 1)) < risk(hinge)(0.0)


def test_surrogates_bound_the_zero_one_loss():
    """Exercise 2: hinge, squared hinge and log2(1 + e^-m) are >= [m <= 0]; ln(1 + e^0) = log 2 < 1 is not."""
    m = np.linspace(-5, 5, 10001)
    zero_one = (m <= 0).astype(float)
    assert (np.maximum(0, 1 - m) >= zero_one).all()
    assert (np.maximum(0, 1 - m) ** 2 >= zero_one).all()
    assert (np.logaddexp(0, -m) / math.log(2) >= zero_one - 1e-15).all()
    assert float(mpmath.log(2)) < 1


# The executed page and the chapter's structure.


def test_the_page_runs_clean(executed):
    """No errors, nothing on stderr, no memory addresses and no matplotlib reprs in any output."""
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error"
            assert output.get("name") != "stderr", output.get("text")
            text = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
            assert " at 0x" not in text and "<Axes" not in text and "<matplotlib" not in text, text


def test_every_figure_is_drawn(executed):
    """Each cell with a figure option produces exactly one PNG."""
    figures = [cell for cell in executed.cells if "figure" in cell.metadata.get("mystnb", {})]
    assert len(figures) == 3
    for cell in figures:
        assert len([o for o in cell.outputs if "image/png" in o.get("data", {})]) == 1, cell.source[:80]


def test_every_glued_number_in_the_prose_is_glued(glued):
    """Each {glue:text} and {glue:} key the page shows was glued when it ran."""
    used = set(re.findall(r"\{glue:text\}`(margin-[\w-]+)", CHAPTER))
    used |= set(re.findall(r"\{glue:\} (margin-[\w-]+)", CHAPTER))
    assert used and used <= set(glued), sorted(used - set(glued))


def test_equations_and_figures_are_labelled_and_referenced():
    """Every equation label is referenced with {eq} and every figure name with {numref}."""
    labels = re.findall(r"\$\$ \((eq-margin-[\w-]+)\)", CHAPTER)
    assert len(labels) >= 8
    for label in labels:
        assert f"{{eq}}`{label}`" in CHAPTER, label
    for name in re.findall(r"name: (fig-margin-[\w-]+)", CHAPTER):
        assert f"{{numref}}`{name}`" in CHAPTER, name


def test_glossary_terms_and_citations_exist():
    """Every {term} is in the glossary and every cited key in references.bib."""
    glossary = (REPO_ROOT / "book" / "glossary.md").read_text()
    terms = {line.strip().lower() for line in glossary.splitlines() if line and not line.startswith((" ", "`", "#", "(", "-"))}
    for link in re.findall(r"\{term\}`([^`]+)`", CHAPTER):
        target = re.search(r"<([^>]+)>", link)
        assert (target.group(1) if target else link).lower() in terms, link
    bib = (REPO_ROOT / "book" / "references.bib").read_text()
    cited = {key.strip() for group in re.findall(r"\{cite\}`([^`]+)`", CHAPTER) for key in group.split(",")}
    assert len(cited) >= 2
    for key in cited:
        assert re.search(r"@\w+\{" + re.escape(key) + ",", bib), key


def test_exercises_have_solutions_and_one_runs():
    """At least three exercises, each with a solution, at least one of them with code."""
    exercises = re.findall(r":label: (ex-margin-\d+)", CHAPTER)
    assert len(exercises) >= 3
    for label in exercises:
        assert f"solution-start}} {label}" in CHAPTER or f"{{solution}} {label}" in CHAPTER, label
    assert "solution-start}" in CHAPTER

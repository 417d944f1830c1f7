"""Every number the chapter "What a loss function is" states or relies on, checked independently.

The values the chapter glues into its prose are read from the notebook the book
build executed; each is then compared with a source other than lossbook:
a value derived by hand (the derivation is in a comment), plain numpy written
here, mpmath, scikit-learn, PyTorch or MXNet gluon. lossbook appears only as the
thing being checked. The chapter's structure is checked at the end.
"""

import re
from pathlib import Path

import mpmath
import nbformat
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import accuracy_score

from executed_pages import glued_texts
import lossbook as lb
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK = REPO_ROOT / "book"
PATH = BOOK / "what_is_a_loss.md"
CHAPTER = PATH.read_text()
PREFIX = "what-is-a-loss-"

mpmath.mp.dps = 50


@pytest.fixture(scope="module")
def glued():
    """The text of every value the chapter glues, as the book build executed it."""
    return glued_texts(PATH.stem)


def number(glued, key):
    """A glued value as a float."""
    return float(glued[PREFIX + key])


def pinball_by_hand(forecast, price, q):
    """Equation (eq-what-is-a-loss-pinball), written out: q per unit under, 1 - q per unit over."""
    return q * max(price - forecast, 0.0) + (1.0 - q) * max(forecast - price, 0.0)


# The pinball loss of the AMZN forecast.


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("price", [1300.0, 1400.0, 1500.0, 1600.0, 1700.0])
def test_pinball_table_matches_the_formula(q, price):
    """Each cell of the pinball table is q times the shortfall or (1 - q) times the excess."""
    value = lb.quantile_loss(np.array([1500.0]), np.array([price]), q=q, reduction="none")[0]
    assert value == pytest.approx(pinball_by_hand(1500.0, price, q), rel=1e-15, abs=1e-12)


def test_long_investor_losses_in_the_prose(glued):
    """Long (q = 0.1): $100 over costs (1 - 0.1) * 100 = 90, $100 under costs 0.1 * 100 = 10."""
    assert number(glued, "long-over") == pytest.approx(90.0, abs=1e-12)
    assert number(glued, "long-under") == pytest.approx(10.0, abs=1e-12)


def test_short_investor_exercise():
    """Short (q = 0.9): 1400 costs (1 - 0.9) * 100 = 10 and 1600 costs 0.9 * 100 = 90, nine times as much."""
    losses = lb.quantile_loss(np.array([1500.0, 1500.0]), np.array([1400.0, 1600.0]), q=0.9, reduction="none")
    assert_allclose(losses, [10.0, 90.0], rtol=1e-14)
    assert losses[1] / losses[0] == pytest.approx(9.0, rel=1e-14)


def chapter_scenarios():
    """The chapter's 1,001 seeded log-normal price scenarios, sorted."""
    rng = np.random.default_rng(0)
    return np.sort(1500.0 * np.exp(0.2 * rng.standard_normal(1001)))


@pytest.mark.parametrize("q, key", [(0.1, "best-long"), (0.9, "best-short")])
def test_best_forecast_is_the_sample_quantile(glued, q, key):
    """The glued minimiser is the inverted-CDF sample quantile: order statistic ceil(1001 q)."""
    scenarios = chapter_scenarios()
    # With n = 1001, n q is not an integer, so the minimiser is the single order statistic
    # x_(ceil(n q)): 101st for q = 0.1, 901st for q = 0.9 (1-based).
    order_statistic = scenarios[int(np.ceil(1001 * q)) - 1]
    assert number(glued, key) == pytest.approx(order_statistic, rel=1e-15)
    assert order_statistic == np.quantile(scenarios, q, method="inverted_cdf")


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_minimiser_by_brute_force_without_lossbook(q):
    """A pure-numpy pinball loss averaged over the scenarios is smallest at the same scenario."""
    scenarios = chapter_scenarios()
    residual = scenarios[None, :] - scenarios[:, None]  # target - candidate forecast
    average = np.where(residual > 0, q * residual, (q - 1.0) * residual).mean(axis=1)
    assert scenarios[np.argmin(average)] == np.quantile(scenarios, q, method="inverted_cdf")


def test_median_pinball_is_half_the_l1_loss_of_torch():
    """At q = 1/2 both branches weigh 1/2, so the pinball loss is torch's L1Loss divided by 2."""
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal((2, 5, 3))
    l1 = torch.nn.L1Loss()(torch.from_numpy(pred), torch.from_numpy(target)).item()
    assert lb.quantile_loss(pred, target, q=0.5) == pytest.approx(l1 / 2, rel=1e-14)


def test_neither_framework_has_a_pinball_class():
    """The chapter says neither PyTorch nor gluon has a pinball (quantile) loss class."""
    names = [name.lower() for name in dir(torch.nn) + dir(gluon.loss)]
    assert not any("quantile" in name or "pinball" in name for name in names)


# Accuracy against cross-entropy.


def tiny_data():
    """The chapter's sixteen seeded points, labels and frozen bias."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16)
    y = (x + 0.8 * rng.standard_normal(16) > 0).astype(np.float64)
    return x, y, -0.5


def test_accuracy_levels_by_scikit_learn(glued):
    """scikit-learn's accuracy_score over the chapter's weight grid takes the glued number of values."""
    x, y, bias = tiny_data()
    levels = {accuracy_score(y, (w * x + bias > 0).astype(float)) for w in np.linspace(-2.0, 8.0, 1001)}
    assert number(glued, "n-points") == 16
    assert number(glued, "accuracy-levels") == len(levels)


@pytest.mark.parametrize("w0", [1.0, 3.0, 5.0])
def test_accuracy_gradient_is_zero_in_torch_and_mxnet(w0):
    """Autograd gives d accuracy / dw = 0 in both frameworks: sign() has zero derivative."""
    x, y, bias = tiny_data()
    signed = 2.0 * y - 1.0
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    accuracy = ((1.0 + torch.sign(w * torch.from_numpy(x) + bias) * torch.from_numpy(signed)) / 2.0).mean()
    (gradient,) = torch.autograd.grad(accuracy, w)
    assert gradient.item() == 0.0
    w_nd = nd.from_numpy(np.array([w0]), zero_copy=False)
    w_nd.attach_grad()
    with autograd.record():
        z = w_nd * nd.from_numpy(x, zero_copy=False) + bias
        accuracy_nd = ((1.0 + nd.sign(z) * nd.from_numpy(signed, zero_copy=False)) / 2.0).mean()
    accuracy_nd.backward()
    assert w_nd.grad.asscalar() == 0.0
    # ...while the accuracy itself is the fraction of correct predictions, by scikit-learn.
    assert accuracy.item() == pytest.approx(accuracy_score(y, (w0 * x + bias > 0).astype(float)))


def test_comparisons_switch_autograd_off():
    """A comparison returns a tensor that does not require grad, and backward() on it raises."""
    w = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    accuracy = ((w * torch.ones(3, dtype=torch.float64) > 0) == torch.ones(3, dtype=torch.bool)).float().mean()
    assert not accuracy.requires_grad
    with pytest.raises(RuntimeError):
        accuracy.backward()


@pytest.mark.parametrize("w0", [1.0, 3.0, 5.0])
def test_cross_entropy_gradient_by_hand_torch_mxnet_and_mpmath(w0):
    """(1/N) sum (sigmoid(w x + b) - y) x from lossbook equals autograd in both frameworks and mpmath."""
    x, y, bias = tiny_data()
    logits = w0 * x + bias
    by_hand = (lb.binary_cross_entropy_with_logits_grad(logits, y, reduction="none") * x).mean()

    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(w * torch.from_numpy(x) + bias, torch.from_numpy(y))
    (torch_gradient,) = torch.autograd.grad(loss, w)

    w_nd = nd.from_numpy(np.array([w0]), zero_copy=False)
    w_nd.attach_grad()
    with autograd.record():
        gluon_loss = gluon.loss.SigmoidBCELoss()(w_nd * nd.from_numpy(x, zero_copy=False) + bias,
                                                 nd.from_numpy(y, zero_copy=False)).mean()
    gluon_loss.backward()

    def mean_bce(weight):
        """Mean log loss in mpmath: y log(1 + e^-z) + (1 - y) log(1 + e^z)."""
        total = 0
        for xi, yi in zip(x, y):
            z = weight * mpmath.mpf(float(xi)) + bias
            total += yi * mpmath.log1p(mpmath.exp(-z)) + (1 - yi) * mpmath.log1p(mpmath.exp(z))
        return total / len(x)

    exact = float(mpmath.diff(mean_bce, mpmath.mpf(w0)))
    assert by_hand == pytest.approx(exact, rel=1e-12, abs=1e-15)
    assert torch_gradient.item() == pytest.approx(exact, rel=1e-12, abs=1e-15)
    assert w_nd.grad.asscalar() == pytest.approx(exact, rel=1e-12, abs=1e-15)


def test_gluon_sigmoid_bce_takes_logits_by_default():
    """SigmoidBCELoss's from_sigmoid defaults to False: its input is logits."""
    import inspect

    default = inspect.signature(gluon.loss.SigmoidBinaryCrossEntropyLoss).parameters["from_sigmoid"].default
    assert default is False


# The training loop.


def training_batch():
    """The chapter's batch: 8 rows, 3 features, 0/1 labels, initial weight and bias."""
    rng = np.random.default_rng(1)
    features = rng.standard_normal((8, 3))
    labels = rng.integers(0, 2, (8, 1)).astype(np.float64)
    weight = 0.5 * rng.standard_normal((1, 3))
    return features, labels, weight, np.zeros(1), rng


def gradient_by_numpy(features, labels, weight, bias):
    """Gradient of the mean log loss of a linear logit: X^T (sigmoid(X w + b) - y) / N, in plain numpy."""
    logits = features @ weight.T + bias
    return ((1.0 / (1.0 + np.exp(-logits)) - labels).T @ features) / len(features)


def gluon_step(step_size, learning_rate=0.5):
    """One gluon step from the chapter's initial weights; return (loss shape, raw gradient, new weight)."""
    features, labels, weight, bias, _ = training_batch()
    net = gluon.nn.Dense(1, in_units=3, dtype="float64")
    net.initialize()
    net.weight.set_data(nd.from_numpy(weight, zero_copy=False))
    net.bias.set_data(nd.from_numpy(bias, zero_copy=False))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": learning_rate})
    with autograd.record():
        loss = gluon.loss.SigmoidBCELoss()(net(nd.from_numpy(features, zero_copy=False)),
                                           nd.from_numpy(labels, zero_copy=False))
    loss.backward()
    gradient = net.weight.grad().asnumpy().copy()
    trainer.step(step_size)
    return loss.shape, gradient, net.weight.data().asnumpy()


def torch_step(learning_rate):
    """One torch SGD step on BCEWithLogitsLoss (mean) from the chapter's initial weights."""
    features, labels, weight, bias, _ = training_batch()
    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    assert tuple(model.weight.shape) == weight.shape  # (outputs, inputs), as gluon's Dense
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(weight))
        model.bias.copy_(torch.from_numpy(bias))
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    torch.nn.BCEWithLogitsLoss()(model(torch.from_numpy(features)), torch.from_numpy(labels)).backward()
    gradient = model.weight.grad.numpy().copy()
    optimizer.step()
    return gradient, model.weight.detach().numpy()


def test_gluon_returns_one_loss_per_sample_and_sums_the_gradient(glued):
    """gluon's loss has shape (8,), and backward() leaves 8 times the gradient of the mean."""
    shape, gluon_gradient, _ = gluon_step(8)
    features, labels, weight, bias, _ = training_batch()
    assert shape == (8,)
    assert glued[PREFIX + "gluon-shape"].strip("'") == "(8,)"
    assert number(glued, "gluon-ratio") == pytest.approx(8.0, rel=1e-12)
    assert_allclose(gluon_gradient / 8, gradient_by_numpy(features, labels, weight, bias), rtol=1e-12)


def test_one_step_agrees_across_gluon_torch_and_numpy():
    """trainer.step(batch_size) in gluon, optimizer.step() in torch and w - lr g by hand give one weight."""
    features, labels, weight, bias, _ = training_batch()
    expected = weight - 0.5 * gradient_by_numpy(features, labels, weight, bias)
    _, _, gluon_weight = gluon_step(8)
    torch_gradient, torch_weight = torch_step(0.5)
    assert_allclose(torch_gradient, gradient_by_numpy(features, labels, weight, bias), rtol=1e-12)
    assert_allclose(gluon_weight, expected, rtol=1e-12)
    assert_allclose(torch_weight, expected, rtol=1e-12)


def test_trainer_step_one_needs_the_learning_rate_times_the_batch_size():
    """gluon's trainer.step(1) steps on the summed gradient: torch needs lr * batch_size to match."""
    _, _, gluon_weight = gluon_step(1)
    _, torch_weight = torch_step(0.5 * 8)
    assert_allclose(gluon_weight, torch_weight, rtol=1e-12)


def test_sample_weight_in_gluon_equals_the_torch_idiom_and_numpy():
    """gluon's sample_weight, torch's reduction='none' times w then mean, and (1/N) sum w l agree."""
    features, labels, weight, bias, rng = training_batch()
    w = rng.uniform(0.5, 2.0, (8, 1))
    logits = features @ weight.T + bias
    per_sample = np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0) - labels * logits
    expected = np.mean(w * per_sample)  # divides by the batch size, not by sum(w)
    gluon_value = gluon.loss.SigmoidBCELoss()(nd.from_numpy(logits, zero_copy=False),
                                              nd.from_numpy(labels, zero_copy=False),
                                              nd.from_numpy(w, zero_copy=False)).mean().asscalar()
    unreduced = torch.nn.BCEWithLogitsLoss(reduction="none")(torch.from_numpy(logits), torch.from_numpy(labels))
    torch_value = (unreduced * torch.from_numpy(w)).mean().item()
    assert gluon_value == pytest.approx(expected, rel=1e-13)
    assert torch_value == pytest.approx(expected, rel=1e-13)
    assert lb.binary_cross_entropy_with_logits(logits, labels, weight=w) == pytest.approx(expected, rel=1e-13)


def test_gluon_poisson_nll_already_averages_the_batch():
    """The porting note's example: gluon's PoissonNLLLoss returns one number for the whole batch."""
    rng = np.random.default_rng(0)
    log_rate = nd.from_numpy(rng.standard_normal((8, 3)), zero_copy=False)
    counts = nd.from_numpy(rng.poisson(1.0, (8, 3)).astype(np.float64), zero_copy=False)
    assert gluon.loss.PoissonNLLLoss()(log_rate, counts).shape == (1,)


# The chapter's structure.


def test_every_glue_reference_is_glued(glued):
    """Each {glue:...} key the prose uses was glued when the chapter ran."""
    used = set(re.findall(r"\{glue(?::\w*)?\}`(" + PREFIX + r"[\w-]+)", CHAPTER))
    used |= set(re.findall(r"```\{glue(?::\w*)?\} (" + PREFIX + r"[\w-]+)", CHAPTER))
    assert len(used) >= 10
    assert used and used <= set(glued)
    assert all(key.startswith(PREFIX) for key in glued)


def test_equations_are_labelled_for_the_chapter_and_referenced():
    """Every equation label starts with eq-what-is-a-loss- and is referenced in the prose."""
    labels = re.findall(r"\$\$\s*\((eq-[\w-]+)\)", CHAPTER)
    assert len(labels) >= 5
    for label in labels:
        assert label.startswith("eq-what-is-a-loss-")
        assert f"{{eq}}`{label}`" in CHAPTER


def test_figures_are_captioned_named_and_referenced():
    """Every figure has a caption and a fig-what-is-a-loss- name that the prose refers to."""
    names = re.findall(r"caption: \|.*?\n\s+name: (fig-[\w-]+)", CHAPTER, re.DOTALL)
    assert len(names) >= 3
    for name in names:
        assert name.startswith("fig-what-is-a-loss-")
        assert f"{{numref}}`{name}`" in CHAPTER


def test_glossary_terms_exist():
    """Every {term} the chapter links is an entry of the glossary."""
    glossary = (BOOK / "glossary.md").read_text()
    entries = {line.strip().lower() for line in glossary.splitlines() if re.match(r"^[A-Za-z]", line)}
    terms = re.findall(r"\{term\}`([^`<]+)`", CHAPTER)
    assert len(terms) >= 6
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
    exercises = re.findall(r":label: (ex-what-is-a-loss-\d+)", CHAPTER)
    assert len(exercises) >= 3
    for label in exercises:
        assert f"{{solution-start}} {label}" in CHAPTER or f"{{solution}} {label}" in CHAPTER
    executable = re.findall(r"\{solution-start\}.*?\{solution-end\}", CHAPTER, re.DOTALL)
    assert any("{code-cell}" in block for block in executable)

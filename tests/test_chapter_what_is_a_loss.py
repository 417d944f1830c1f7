"""Every number the chapter "What a loss function is" states, checked against an independent source.

The values the chapter glues into its prose are read from the notebook the book
build executed; each is compared with a value derived by hand (the derivation
is in a comment), plain numpy, mpmath, scikit-learn, PyTorch or MXNet gluon.
Claims about how gluon and torch behave are checked by running them.
"""

import inspect
import json
import math

import mpmath
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import accuracy_score

from executed_pages import EXECUTED, executed_page, glued_values
import lossbook as lb
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

PAGE = "what_is_a_loss"
PREFIX = "what-is-a-loss-"

mpmath.mp.dps = 50


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, as the book build executed it."""
    return {key.removeprefix(PREFIX): value for key, value in glued_values(PAGE).items()}


def glued_markdown(key):
    """The Markdown text the chapter glued under ``key``."""
    return json.loads((EXECUTED / f"{PAGE}.glue.json").read_text())[PREFIX + key]["data"]["text/markdown"]


def shown_number(text):
    r"""The number in ``$1.2 \times 10^{-5}$``, as lossbook.show.sci writes it."""
    mantissa, exponent = text.strip("$").split(r" \times 10^")
    return float(f"{mantissa}e{exponent.strip('{}')}")


def f64(values):
    """A float64 NDArray copy of ``values``."""
    return frameworks.as_float64(values, "mxnet")


def pinball_by_hand(forecast, price, q):
    """Equation (eq-what-is-a-loss-pinball), written out: q per unit under, 1 - q per unit over."""
    return q * max(price - forecast, 0.0) + (1.0 - q) * max(forecast - price, 0.0)


# The pinball loss of the AMZN forecast.

OUTCOMES = [1300.0, 1400.0, 1500.0, 1600.0, 1700.0]


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("price", OUTCOMES)
def test_pinball_table_matches_the_formula(q, price):
    """Each cell of the pinball table is q times the shortfall or (1 - q) times the excess."""
    value = lb.quantile_loss(np.array([1500.0]), np.array([price]), q=q, reduction="none")[0]
    assert value == pytest.approx(pinball_by_hand(1500.0, price, q), rel=1e-15, abs=1e-12)


def test_the_pinball_table_shows_no_negative_zero():
    """The table as executed shows the zero-residual row as 0, not -0.0, and the hand values."""
    cell = next(c for c in executed_page(PAGE).cells
                if c.cell_type == "code" and c.source.rstrip().endswith("\npinball"))
    text = cell.outputs[0]["data"]["text/plain"]
    assert "-0" not in text
    rows = [line.split() for line in text.splitlines() if line.startswith(("13", "14", "15", "16", "17"))]
    long_column = [float(row[1]) for row in rows[:5]]
    assert long_column == [pinball_by_hand(1500.0, price, 0.1) for price in OUTCOMES]


def test_long_investor_losses_in_the_prose(glued):
    """Long (q = 0.1): $100 over costs (1 - 0.1) * 100 = 90, $100 under costs 0.1 * 100 = 10."""
    assert glued["long-over"] == pytest.approx(90.0, abs=1e-12)
    assert glued["long-under"] == pytest.approx(10.0, abs=1e-12)


def test_short_investor_exercise():
    """Short (q = 0.9): 1400 costs (1 - 0.9) * 100 = 10 and 1600 costs 0.9 * 100 = 90, nine times as much."""
    losses = lb.quantile_loss(np.array([1500.0, 1500.0]), np.array([1400.0, 1600.0]), q=0.9, reduction="none")
    assert_allclose(losses, [10.0, 90.0], rtol=1e-14)
    assert losses[1] / losses[0] == pytest.approx(9.0, rel=1e-14)


@pytest.mark.parametrize("framework", ["gluon", "torch"])
def test_the_framework_tabs_print_the_long_investors_column(framework):
    """where(residual >= 0, q r, (q - 1) r) gives 180, 90, +0, 10, 20 in gluon (float32) and torch."""
    q, expected = 0.1, [pinball_by_hand(1500.0, price, 0.1) for price in OUTCOMES]
    if framework == "gluon":
        residual = nd.array(OUTCOMES) - nd.full(5, 1500.0)
        values = nd.where(residual >= 0, q * residual, (q - 1) * residual).asnumpy()
    else:
        residual = torch.tensor(OUTCOMES, dtype=torch.float64) - 1500.0
        values = torch.where(residual >= 0, q * residual, (q - 1) * residual).numpy()
    assert values.tolist() == expected  # float32 rounds 0.1 and 0.9, but the products round back
    assert not np.signbit(values).any()  # the zero residual gives +0


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
    assert glued[key] == pytest.approx(order_statistic, rel=1e-15)
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
    pred, target = np.random.default_rng(2).standard_normal((2, 5, 3))
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


PROBES = [1.0, 3.0, 5.0]


def test_accuracy_levels_by_scikit_learn(glued):
    """scikit-learn's accuracy_score over the chapter's weight grid takes the glued number of values."""
    x, y, bias = tiny_data()
    levels = {accuracy_score(y, (w * x + bias > 0).astype(float)) for w in np.linspace(-2.0, 8.0, 1001)}
    assert glued["n-points"] == 16
    assert glued["accuracy-levels"] == len(levels)


@pytest.mark.parametrize("w0", PROBES)
def test_accuracy_gradient_is_zero_in_torch_and_mxnet(w0):
    """Autograd gives d accuracy / dw = 0 in both frameworks: sign() has zero derivative."""
    x, y, bias = tiny_data()
    signed = 2.0 * y - 1.0
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    accuracy = ((1.0 + torch.sign(w * torch.from_numpy(x) + bias) * torch.from_numpy(signed)) / 2.0).mean()
    (gradient,) = torch.autograd.grad(accuracy, w)
    assert gradient.item() == 0.0
    w_nd = f64([w0])
    w_nd.attach_grad()
    with autograd.record():
        accuracy_nd = ((1.0 + nd.sign(w_nd * f64(x) + bias) * f64(signed)) / 2.0).mean()
    accuracy_nd.backward()
    assert w_nd.grad.asscalar() == 0.0
    # ...while the accuracy itself is the fraction of correct predictions, by scikit-learn.
    assert accuracy.item() == pytest.approx(accuracy_score(y, (w0 * x + bias > 0).astype(float)))


def test_comparisons_switch_autograd_off():
    """A comparison returns a tensor that does not require grad, and backward() on it raises."""
    x, y, bias = tiny_data()
    z = torch.tensor(3.0, requires_grad=True) * torch.from_numpy(x) + bias
    accuracy = ((z > 0) == torch.from_numpy(y == 1)).double().mean()
    assert not accuracy.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        accuracy.backward()


def mean_bce_derivative(w0):
    """d/dw of the mean log loss y log(1 + e^-z) + (1 - y) log(1 + e^z), z = w x + b, by mpmath."""
    x, y, bias = tiny_data()

    def mean_bce(weight):
        total = 0
        for xi, yi in zip(x, y):
            z = weight * mpmath.mpf(float(xi)) + bias
            total += yi * mpmath.log1p(mpmath.exp(-z)) + (1 - yi) * mpmath.log1p(mpmath.exp(z))
        return total / len(x)

    return float(mpmath.diff(mean_bce, mpmath.mpf(w0)))


def test_glued_cross_entropy_gradients_match_mpmath_torch_and_gluon(glued):
    """The lossbook tab's gradients equal mpmath's derivative; torch and gluon (float64) autograd agree."""
    x, y, bias = tiny_data()
    exact = [mean_bce_derivative(w0) for w0 in PROBES]
    assert_allclose(glued["d-bce"], exact, rtol=1e-12)
    for w0, value in zip(PROBES, exact):
        w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(w * torch.from_numpy(x) + bias, torch.from_numpy(y))
        assert torch.autograd.grad(loss, w)[0].item() == pytest.approx(value, rel=1e-12)
        w_nd = f64([w0])
        w_nd.attach_grad()
        with autograd.record():
            gluon_loss = gluon.loss.SigmoidBCELoss()(w_nd * f64(x) + bias, f64(y)).mean()
        gluon_loss.backward()
        assert w_nd.grad.asscalar() == pytest.approx(value, rel=1e-12)


def test_gluon_float32_gradients_keep_about_seven_digits():
    """The gluon tab's float32 gradients (all three weights at once) agree with mpmath to float32 precision."""
    x, y, bias = tiny_data()
    w = nd.array(PROBES).reshape(3, 1)
    w.attach_grad()
    with autograd.record():
        bce = gluon.loss.SigmoidBCELoss()(w * nd.array(x) + bias, nd.array(np.tile(y, (3, 1))))
    bce.backward()
    assert w.dtype == np.float32 and bce.shape == (3,)
    exact = np.array([mean_bce_derivative(w0) for w0 in PROBES])
    # Relative to the largest gradient: float32's epsilon is 1.2e-7, and sixteen terms add a few.
    assert np.max(np.abs(w.grad.asnumpy().ravel() - exact)) / np.max(np.abs(exact)) < 1e-6


def test_torch_gap_in_the_dropdown(glued):
    """The dropdown's torch-to-formula gap is at most torch's error plus lossbook's, both against mpmath."""
    x, y, bias = tiny_data()
    exact = np.array([mean_bce_derivative(w0) for w0 in PROBES])
    w = torch.tensor(PROBES, dtype=torch.float64, requires_grad=True)
    z = w[:, None] * torch.from_numpy(x) + bias
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.from_numpy(y).expand_as(z))
    torch_gradient = 3 * torch.autograd.grad(loss, w)[0].numpy()  # the mean over 3 rows, as on the page
    torch_error = np.max(np.abs(torch_gradient - exact))
    lossbook_error = np.max(np.abs(np.array(glued["d-bce"]) - exact))
    # |torch - formula| <= |torch - exact| + |formula - exact|; the page shows two digits.
    bound = (torch_error + lossbook_error) / np.max(np.abs(exact))
    assert 0 < shown_number(glued_markdown("d-bce-torch-gap")) <= 1.05 * bound


# The training loop.


def training_batch():
    """The chapter's batch: 8 rows, 3 features, 0/1 labels, initial weight, then the sample weights."""
    rng = np.random.default_rng(1)
    features = rng.standard_normal((8, 3))
    labels = rng.integers(0, 2, (8, 1)).astype(np.float64)
    weight = 0.5 * rng.standard_normal((1, 3))
    return features, labels, weight, rng


def summed_gradient(features, labels, weight):
    """Gradient of the summed log loss of a linear logit (bias 0): X^T (sigmoid(X w) - y), in plain numpy."""
    return (1.0 / (1.0 + np.exp(-(features @ weight.T))) - labels).T @ features


def gluon_step(step_size, learning_rate=0.5):
    """One gluon step from the chapter's initial weights; return (loss shape, raw gradient, new weight)."""
    features, labels, weight, _ = training_batch()
    net = gluon.nn.Dense(1, in_units=3, dtype="float64")
    net.initialize()
    net.weight.set_data(f64(weight))
    net.bias.set_data(f64(np.zeros(1)))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": learning_rate})
    with autograd.record():
        loss = gluon.loss.SigmoidBCELoss()(net(f64(features)), f64(labels))
    loss.backward()
    gradient = net.weight.grad().asnumpy().copy()
    trainer.step(step_size)
    return loss.shape, gradient, net.weight.data().asnumpy()


def torch_step(learning_rate):
    """One torch SGD step on BCEWithLogitsLoss (mean) from the chapter's initial weights."""
    features, labels, weight, _ = training_batch()
    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    assert tuple(model.weight.shape) == weight.shape  # (outputs, inputs), as gluon's Dense
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(weight))
        model.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    torch.nn.BCEWithLogitsLoss()(model(torch.from_numpy(features)), torch.from_numpy(labels)).backward()
    gradient = model.weight.grad.numpy().copy()
    optimizer.step()
    return gradient, model.weight.detach().numpy()


def test_gluon_returns_one_loss_per_sample_and_sums_the_gradient():
    """gluon's loss has shape (8,), and backward() leaves 8 times the gradient of the mean."""
    shape, gluon_gradient, _ = gluon_step(8)
    features, labels, weight, _ = training_batch()
    assert shape == (8,)
    assert_allclose(gluon_gradient, summed_gradient(features, labels, weight), rtol=1e-12)


def test_one_step_agrees_across_gluon_torch_and_numpy():
    """trainer.step(batch_size) in gluon, optimizer.step() in torch and w - lr g / 8 by hand give one weight."""
    features, labels, weight, _ = training_batch()
    mean_gradient = summed_gradient(features, labels, weight) / 8
    expected = weight - 0.5 * mean_gradient
    _, _, gluon_weight = gluon_step(8)
    torch_gradient, torch_weight = torch_step(0.5)
    assert_allclose(torch_gradient, mean_gradient, rtol=1e-12)
    assert_allclose(gluon_weight, expected, rtol=1e-12)
    assert_allclose(torch_weight, expected, rtol=1e-12)


def test_trainer_step_one_needs_the_learning_rate_times_the_batch_size_for_plain_sgd():
    """Without weight decay, gluon's trainer.step(1) steps on the summed gradient: torch matches with lr * 8."""
    _, _, gluon_weight = gluon_step(1)
    _, torch_weight = torch_step(0.5 * 8)
    assert_allclose(gluon_weight, torch_weight, rtol=1e-12)


GLUON_LOSS_CLASSES = sorted(  # a set: SigmoidBCELoss and SoftmaxCELoss are aliases
    {c for c in vars(gluon.loss).values() if inspect.isclass(c) and issubclass(c, gluon.loss.Loss)
     and c is not gluon.loss.Loss},
    key=lambda c: c.__name__,
)


def gluon_loss_arguments(name, rng, n=8):
    """Valid arguments of each gluon loss class for a batch of n samples."""
    def values(*shape):
        return nd.array(rng.standard_normal(shape))

    def signs(*shape):
        return nd.array(np.sign(rng.standard_normal(shape)))

    return {
        "CTCLoss": (values(n, 5, 4), nd.array(rng.integers(1, 4, (n, 2)))),
        "CosineEmbeddingLoss": (values(n, 3), values(n, 3), signs(n)),
        "HingeLoss": (values(n, 3), signs(n, 3)),
        "HuberLoss": (values(n, 3), values(n, 3)),
        "KLDivLoss": (nd.log_softmax(values(n, 4)), nd.softmax(values(n, 4))),
        "L1Loss": (values(n, 3), values(n, 3)),
        "L2Loss": (values(n, 3), values(n, 3)),
        "LogisticLoss": (values(n, 3), signs(n, 3)),
        "PoissonNLLLoss": (values(n, 3), nd.array(rng.poisson(1.0, (n, 3)))),
        "SDMLLoss": (values(n, 3), values(n, 3)),
        "SigmoidBinaryCrossEntropyLoss": (values(n, 3), nd.array(rng.integers(0, 2, (n, 3)))),
        "SoftmaxCrossEntropyLoss": (values(n, 4), nd.array(rng.integers(0, 4, n))),
        "SquaredHingeLoss": (values(n, 3), signs(n, 3)),
        "TripletLoss": (values(n, 3), values(n, 3), values(n, 3)),
    }[name]


def test_poisson_nll_is_the_only_gluon_loss_that_averages_the_batch():
    """Of all fourteen gluon.loss classes in mxnet 1.9.1, only PoissonNLLLoss returns one number for the batch."""
    assert len(GLUON_LOSS_CLASSES) == 14
    rng = np.random.default_rng(0)
    batch_wide = []
    for loss_class in GLUON_LOSS_CLASSES:
        output = loss_class()(*gluon_loss_arguments(loss_class.__name__, rng))
        if output.shape[0] != 8:
            batch_wide.append((loss_class.__name__, output.shape))
    assert batch_wide == [("PoissonNLLLoss", (1,))]


# Keep the loss scale, not the learning rate.


def single(value):
    """``value`` rounded to float32, as MXNet passes an optimiser's numbers to its kernels."""
    return float(np.float32(value))


def step_by_hand(rule, optimizer, loss, lr, weight_decay):
    """The change of the weights after one step, by the update rule of torch or MXNet written out."""
    features, labels, weight, _ = training_batch()
    g = summed_gradient(features, labels, weight) / (8 if loss == "mean" else 1)
    if optimizer == "sgd":  # both: w - lr (g + wd w); MXNet's 1/batch_size is 1/8, exact in float32
        return -lr * (g + weight_decay * weight)
    if rule == "torch":  # m = (1 - b1) g, v = (1 - b2) g^2, w - lr / (1 - b1) m / (sqrt(v) / sqrt(1 - b2) + eps)
        return -lr / 0.1 * (0.1 * g) / (np.sqrt(0.001 * g * g) / math.sqrt(0.001) + 1e-8)
    # MXNet: lr_t = lr sqrt(1 - b2) / (1 - b1), w - lr_t m / (sqrt(v) + eps), its numbers in float32.
    b1, b2, eps = single(0.9), single(0.999), single(1e-8)
    lr_t = single(lr * math.sqrt(1 - 0.999) / (1 - 0.9))
    return -lr_t * ((1 - b1) * g) / (np.sqrt((1 - b2) * g * g) + eps)


STEPS = {
    "MXNet: step(1)": ("mxnet", "sum", 0.5),
    "torch: sum, lr": ("torch", "sum", 0.5),
    "torch: mean, 8 lr": ("torch", "mean", 4.0),
}
CASES = {"SGD": ("sgd", 0.0), "SGD with decay": ("sgd", 1 / 16), "Adam": ("adam", 0.0)}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("port", STEPS)
def test_each_glued_step_is_its_update_rule(glued, case, port):
    """Every row of the steps table equals the optimiser's update rule, computed by hand."""
    optimizer, weight_decay = CASES[case]
    rule, loss, lr = STEPS[port]
    expected = step_by_hand(rule, optimizer, loss, lr, weight_decay).ravel()
    assert_allclose(glued["steps"][f"{case} | {port}"], expected, rtol=1e-12)


def test_what_the_table_shows():
    """Plain SGD: lr absorbs the 8; with decay 1/16 the 8 lr port decays 0.25 of w, not 0.03125; Adam's step is ~lr."""
    sgd = [step_by_hand("torch", "sgd", loss, lr, 0.0) for _, loss, lr in STEPS.values()]
    assert_allclose(sgd[1], sgd[2], rtol=1e-14)
    assert_allclose(sgd[0], sgd[1], rtol=0)
    assert 8 * 0.5 * (1 / 16) == 0.25 and 0.5 * (1 / 16) == 0.03125
    adam = step_by_hand("torch", "adam", "sum", 0.5, 0.0)
    assert_allclose(np.abs(adam), 0.5, rtol=1e-6)


def test_adam_ratio_in_the_prose(glued):
    """With Adam, 8 lr on the mean moves the weights 8 times as far as lr on the sum (to 1e-6)."""
    ratio = step_by_hand("torch", "adam", "mean", 4.0, 0.0) / step_by_hand("torch", "adam", "sum", 0.5, 0.0)
    assert glued["adam-ratio"] == pytest.approx(float(np.mean(ratio)), rel=1e-12)
    assert glued["adam-ratio"] == pytest.approx(8.0, rel=1e-6)


def test_mxnet_adam_gap_in_the_dropdown():
    """MXNet's Adam differs from torch's by the glued amount (two digits), from eps and float32 numbers."""
    gap = np.max(np.abs(step_by_hand("mxnet", "adam", "sum", 0.5, 0.0) - step_by_hand("torch", "adam", "sum", 0.5, 0.0)))
    assert shown_number(glued_markdown("mxnet-adam-gap")) == pytest.approx(gap, rel=0.05)


@pytest.mark.parametrize("step_size, reduction", [(1, "sum"), (8, "mean")])
def test_exercise_mxnet_decay_ports_with_the_same_lr_and_weight_decay(step_size, reduction):
    """trainer.step(1) ports to reduction='sum', trainer.step(8) to 'mean', both with lr and wd unchanged."""
    features, labels, weight, _ = training_batch()
    expected = weight - 0.5 * (summed_gradient(features, labels, weight) / step_size + weight / 16)
    net = gluon.nn.Dense(1, in_units=3, use_bias=False, dtype="float64")
    net.initialize()
    net.weight.set_data(f64(weight))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5, "wd": 1 / 16})
    with autograd.record():
        loss = gluon.loss.SigmoidBCELoss()(net(f64(features)), f64(labels))
    loss.backward()
    trainer.step(step_size)
    w = torch.tensor(weight, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.5, weight_decay=1 / 16)
    torch.nn.BCEWithLogitsLoss(reduction=reduction)(torch.from_numpy(features) @ w.T, torch.from_numpy(labels)).backward()
    optimizer.step()
    assert_allclose(net.weight.data().asnumpy(), expected, rtol=1e-12)
    assert_allclose(w.detach().numpy(), expected, rtol=1e-12)


# Weighting the samples.


def test_sample_weight_in_gluon_equals_the_torch_idiom_and_numpy():
    """gluon's sample_weight, torch's reduction='none' times w then mean, and (1/N) sum w l agree."""
    features, labels, weight, rng = training_batch()
    w = rng.uniform(0.5, 2.0, (8, 1))
    logits = features @ weight.T
    per_sample = np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0) - labels * logits
    expected = np.mean(w * per_sample)  # divides by the batch size, not by sum(w)
    gluon_value = gluon.loss.SigmoidBCELoss()(f64(logits), f64(labels), f64(w)).mean().asscalar()
    unreduced = torch.nn.BCEWithLogitsLoss(reduction="none")(torch.from_numpy(logits), torch.from_numpy(labels))
    torch_value = (unreduced * torch.from_numpy(w)).mean().item()
    assert gluon_value == pytest.approx(expected, rel=1e-13)
    assert torch_value == pytest.approx(expected, rel=1e-13)
    assert lb.binary_cross_entropy_with_logits(logits, labels, weight=w) == pytest.approx(expected, rel=1e-13)
    # gluon's own float32 (the tab) differs in the eighth significant digit at most.
    float32 = gluon.loss.SigmoidBCELoss()(nd.array(logits), nd.array(labels), nd.array(w)).mean().asscalar()
    assert 0 < abs(float32 / expected - 1) < 1e-7

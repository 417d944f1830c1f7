"""Every number the chapter "Training with a loss" states, checked against an independent source.

The values the chapter glues are read from the notebook the book build executed.
Each training run is replayed here in plain numpy, with the gradients and the
update rules written out by hand, and the held-out accuracies are recomputed
with scikit-learn; claims about gluon and torch are checked by running them
(gluon's float64 runs through ``lb.frameworks.as_float64``).
"""

import json
import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from sklearn.datasets import load_diabetes, load_digits
from sklearn.linear_model import LinearRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from executed_pages import EXECUTED, glued_values
import lossbook as lb
from lossbook import frameworks

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

PAGE = "training_with_a_loss"
PREFIX = "training-"


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


def printed_numbers(key):
    """The numbers a tab's printed output shows between its brackets, e.g. ``[2.29959  2.21209]``."""
    output = glued_markdown(key).split(":class: lossbook-output")[1]
    inside = output[output.index("[") + 1:output.index("]")]
    return np.array([float(word) for word in inside.split()])


def shuffled_batches(n_samples, batch_size, epochs, seed=0):
    """Each epoch numpy's default_rng(seed) permutation, cut in order (as the chapter draws its batches)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(epochs):
        order = rng.permutation(n_samples)
        batches += [order[k:k + batch_size] for k in range(0, n_samples, batch_size)]
    return batches


def sigmoid(z):
    """1 / (1 + e^-z)."""
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    """exp(z - max) / sum exp(z - max), row by row."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sgd(X, y, W, b, batches, lr, dz_of):
    """Minibatch SGD of z = X W^T + b by hand: dz_of(z, y) is the gradient of the batch loss w.r.t. z."""
    history = [(W, b)]
    for batch in batches:
        dz = dz_of(X[batch] @ W.T + b, y[batch])
        W, b = W - lr * dz.T @ X[batch], b - lr * dz.sum(axis=0)
        history.append((W, b))
    return history


# The 3s and 7s.

DIGITS, LABELS = load_digits(return_X_y=True)
DIGITS = DIGITS / 16
KEEP = (LABELS == 3) | (LABELS == 7)
X37_TRAIN, X37_TEST, Y37_TRAIN, Y37_TEST = train_test_split(
    DIGITS[KEEP], (LABELS[KEEP] == 3).astype(np.float64), train_size=256, stratify=LABELS[KEEP] == 3,
    random_state=0)
W37 = np.random.default_rng(0).normal(0.0, 0.5, (1, 64))
BATCHES37 = shuffled_batches(256, 32, 10)


def mnist_dz(z, y):
    """d/dz of mean(where(y == 1, 1 - s, s)), s = sigmoid(z): (1 - 2y) s (1 - s) / n."""
    s = sigmoid(z)
    return (1 - 2 * y) * s * (1 - s) / len(y)


def bce_dz(z, y):
    """d/dz of the mean binary cross-entropy of logits: (sigmoid(z) - y) / n."""
    return (sigmoid(z) - y) / len(y)


def accuracies37(history):
    """scikit-learn's held-out accuracy after each step, predicting a three where z > 0."""
    return np.array([accuracy_score(Y37_TEST, (X37_TEST @ W.T + b > 0).ravel().astype(float))
                     for W, b in history])


def test_the_threes_and_sevens(glued):
    """scikit-learn's digits hold 183 threes and 179 sevens; 256 train, 106 are held out."""
    assert glued["n-threes"] == np.sum(LABELS == 3) == 183
    assert glued["n-sevens"] == np.sum(LABELS == 7) == 179
    assert glued["n-test37"] == 183 + 179 - 256 == len(Y37_TEST)


def test_accuracy_has_a_zero_gradient_in_gluon_and_torch(glued):
    """Autograd of the sign() accuracy is exactly zero at w0, in gluon (float32) and torch (float64)."""
    signed = 2 * Y37_TRAIN[:, None] - 1
    w = torch.tensor(W37, requires_grad=True)
    accuracy = ((1 + torch.sign(torch.from_numpy(X37_TRAIN) @ w.T) * torch.from_numpy(signed)) / 2).mean()
    accuracy.backward()
    assert w.grad.abs().max().item() == 0.0 == glued["acc-grad-torch"]
    w_nd = nd.array(W37)
    w_nd.attach_grad()
    with autograd.record():
        acc_nd = ((1 + nd.sign(nd.dot(nd.array(X37_TRAIN), w_nd.T)) * nd.array(signed)) / 2).mean()
    acc_nd.backward()
    assert w_nd.grad.abs().max().asscalar() == 0.0
    expected = accuracy_score(Y37_TRAIN, (X37_TRAIN @ W37.T > 0).ravel().astype(float))
    assert glued["acc-start"] == expected == acc_nd.asscalar()


def test_training_on_the_error_rate_never_moves_in_gluon():
    """A gluon Trainer on the sign() error rate leaves every weight exactly where it started."""
    net = gluon.nn.Dense(1, in_units=64, dtype="float64")
    net.initialize()
    net.weight.set_data(frameworks.as_float64(W37, "mxnet"))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    X, y = frameworks.as_float64(X37_TRAIN, "mxnet"), frameworks.as_float64(Y37_TRAIN[:, None], "mxnet")
    for batch in BATCHES37[:5]:
        index = nd.array(batch)
        with autograd.record():
            error = 1 - (1 + nd.sign(net(X.take(index))) * (2 * y.take(index) - 1)) / 2
        error.backward()
        trainer.step(len(batch))
    assert np.array_equal(net.weight.data().asnumpy(), W37)


def test_the_error_rate_run_calls_every_held_out_image_a_seven(glued):
    """At w0 every held-out logit is <= 0, so the accuracy is the share of sevens, at every step."""
    assert np.all(X37_TEST @ W37.T <= 0)
    assert glued["acc37-start"] == pytest.approx(1 - Y37_TEST.mean(), rel=1e-15)
    assert glued["acc37-start"] == accuracy_score(Y37_TEST, np.zeros_like(Y37_TEST))


@pytest.mark.parametrize("key, dz_of", [("mnist", mnist_dz), ("bce", bce_dz)])
def test_the_soft_losses_replayed_in_numpy(glued, key, dz_of):
    """80 SGD steps with the gradient of (eq-training-mnist-loss) or (eq-training-bce-grad), by hand."""
    history = sgd(X37_TRAIN, Y37_TRAIN[:, None], W37, np.zeros(1), BATCHES37, 0.5, dz_of)
    accuracy = accuracies37(history)
    assert glued[f"acc37-final-{key}"] == accuracy[-1]
    assert glued[f"acc37-step90-{key}"] == np.argmax(accuracy >= 0.9)
    first = dz_of(X37_TRAIN[BATCHES37[0]] @ W37.T, Y37_TRAIN[BATCHES37[0], None]).T @ X37_TRAIN[BATCHES37[0]]
    assert glued[f"grad37-first-{key}"] == pytest.approx(np.linalg.norm(first), rel=1e-12)


def test_mnist_loss_is_fastbooks_soft_accuracy():
    """mnist_loss is one minus the mean probability given to the right class, and its torch gradient is (1-2y) s(1-s)/n."""
    z = torch.tensor([[-6.0], [0.0], [2.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1.0], [1.0], [0.0]], dtype=torch.float64)
    p = torch.sigmoid(z)
    loss = torch.where(y == 1, 1 - p, p).mean()
    right = np.array([sigmoid(-6.0), sigmoid(0.0), 1 - sigmoid(2.0)])
    assert loss.item() == pytest.approx(1 - right.mean(), rel=1e-15)
    (grad,) = torch.autograd.grad(loss, z)
    assert_allclose(grad.numpy(), mnist_dz(z.detach().numpy(), y.numpy()), rtol=1e-14)


def test_the_mnist_bound_exercise():
    """s(1 - s) <= 1/4, largest at z = 0; at z = -6 it is 0.0025 against BCE's 0.9975, 1 + e^6 = 404 times less."""
    z = np.linspace(-10, 10, 2001)
    assert np.max(sigmoid(z) * (1 - sigmoid(z))) == 0.25 and z[np.argmax(sigmoid(z) * (1 - sigmoid(z)))] == 0
    mnist, bce = sigmoid(-6.0) * (1 - sigmoid(-6.0)), sigmoid(-6.0) - 1
    assert round(mnist, 4) == 0.0025 and round(bce, 4) == -0.9975
    assert abs(bce) / mnist == pytest.approx(1 + math.exp(6), rel=1e-12) and round(abs(bce) / mnist) == 404


# Softmax regression on all ten digits.

X_TRAIN, X_TEST, Y_TRAIN, Y_TEST = train_test_split(DIGITS, LABELS, train_size=1024, stratify=LABELS,
                                                    random_state=0)
W0 = np.random.default_rng(1).normal(0.0, 0.01, (10, 64))
B0 = np.zeros(10)
BATCHES = shuffled_batches(1024, 64, 3)


def cross_entropy_dz(z, y):
    """d/dz of the mean softmax cross-entropy: (softmax(z) - onehot(y)) / n."""
    return (softmax(z) - np.eye(10)[y]) / len(y)


def mean_cross_entropy(z, y):
    """-mean log softmax(z)[y], through the log-sum-exp of the shifted logits."""
    shifted = z - z.max(axis=1, keepdims=True)
    return -(shifted[np.arange(len(y)), y] - np.log(np.exp(shifted).sum(axis=1))).mean()


def replayed_losses(history, batches):
    """The mean cross-entropy of each batch at the weights the step started from."""
    return np.array([mean_cross_entropy(X_TRAIN[batch] @ W.T + b, Y_TRAIN[batch])
                     for batch, (W, b) in zip(batches, history)])


@pytest.fixture(scope="module")
def framework_runs():
    """The chapter's 48 steps in gluon and torch: loop as the chapter writes it, in float64."""
    runs = {}
    for framework in ("gluon", "torch"):
        loss = (gluon.loss.SoftmaxCrossEntropyLoss() if framework == "gluon" else torch.nn.CrossEntropyLoss())
        runs[framework] = lb.training.fit_linear(framework, loss, X_TRAIN, Y_TRAIN, W0, B0, lr=0.5,
                                                 batches=BATCHES)
    return runs


def test_gluon_and_torch_follow_the_update_rule(framework_runs):
    """Both frameworks' losses and weights match SGD on the mean cross-entropy by hand, step by step."""
    history = sgd(X_TRAIN, Y_TRAIN, W0, B0, BATCHES, 0.5, cross_entropy_dz)
    losses = replayed_losses(history, BATCHES)
    for run in framework_runs.values():
        assert_allclose(run.loss, losses, rtol=1e-12)
        assert_allclose(run.weight, np.stack([W for W, _ in history]), rtol=1e-12, atol=1e-15)


def test_gluon_and_torch_agree_to_the_stated_tolerance(glued, framework_runs):
    """The glued gaps are at most 1e-14 (relative loss, absolute weight) and so are the frameworks' own."""
    gluon_run, torch_run = framework_runs["gluon"], framework_runs["torch"]
    loss_gap = np.max(np.abs(gluon_run.loss - torch_run.loss) / torch_run.loss)
    weight_gap = np.max(np.abs(gluon_run.weight - torch_run.weight))
    assert loss_gap <= 1e-14 and weight_gap <= 1e-14
    assert 0 <= shown_number(glued_markdown("frameworks-loss-gap")) <= 1e-14
    assert 0 <= shown_number(glued_markdown("frameworks-weight-gap")) <= 1e-14


@pytest.mark.parametrize("framework", ["gluon", "torch"])
def test_the_tab_loops_print_the_replayed_losses(framework):
    """The losses each tab's loop printed (first three batches, last) are the hand replay's, to 6 decimals."""
    history = sgd(X_TRAIN, Y_TRAIN, W0, B0, BATCHES, 0.5, cross_entropy_dz)
    losses = replayed_losses(history, BATCHES)
    assert_allclose(printed_numbers(f"loop-{framework}"), np.round(losses[[0, 1, 2, -1]], 6), rtol=0)


def test_held_out_accuracy_of_softmax_regression(glued):
    """scikit-learn's accuracy of the replayed weights after 48 steps is the glued accuracy."""
    W, b = sgd(X_TRAIN, Y_TRAIN, W0, B0, BATCHES, 0.5, cross_entropy_dz)[-1]
    assert glued["frameworks-acc"] == accuracy_score(Y_TEST, (X_TEST @ W.T + b).argmax(axis=1))


def test_default_initialisations():
    """gluon's Dense: Uniform(0.07) weights and zero bias; torch's Linear: U(+-1/sqrt(64)) for both."""
    assert mx.init.Uniform().scale == 0.07
    for seed in range(3):
        mx.random.seed(seed)
        net = gluon.nn.Dense(10, in_units=64)
        net.initialize()
        weight = net.weight.data().asnumpy()
        assert 0.06 < np.abs(weight).max() <= 0.07 and not net.bias.data().asnumpy().any()
        torch.manual_seed(seed)
        layer = torch.nn.Linear(64, 10, dtype=torch.float64)
        assert 0.11 < layer.weight.abs().max().item() <= 1 / math.sqrt(64) == 0.125
        assert 0.0 < layer.bias.abs().max().item() <= 0.125


def test_trainer_step_one_is_sgd_on_the_sum(glued):
    """trainer.step(1) descends the summed loss: the replay with n times the mean's gradient peaks at the glued loss."""
    history = sgd(X_TRAIN, Y_TRAIN, W0, B0, BATCHES, 0.5, lambda z, y: len(y) * cross_entropy_dz(z, y))
    worst = replayed_losses(history, BATCHES).max()
    assert glued_markdown("step1-worst") == f"{worst:.1f}"


# Squared error against cross-entropy.

W_WRONG = np.random.default_rng(2).normal(0.0, 1.0, (10, 64))
BATCHES_PAIR = shuffled_batches(1024, 64, 4)


def squared_error_dz(z, y):
    """d/dz of mean ||p - t||^2: J 2(p - t) / n with J = diag(p) - p p^T, row by row."""
    p = softmax(z)
    g = 2 * (p - np.eye(10)[y])
    return (p * g - p * (p * g).sum(axis=1, keepdims=True)) / len(y)


def final_accuracy(W_start, dz_of, lr=2.0, batches=BATCHES_PAIR):
    """scikit-learn's held-out accuracy after the replayed steps."""
    W, b = sgd(X_TRAIN, Y_TRAIN, W_start, B0, batches, lr, dz_of)[-1]
    return accuracy_score(Y_TEST, (X_TEST @ W.T + b).argmax(axis=1))


def test_squared_error_and_cross_entropy_replayed(glued):
    """64 steps of each, by hand, reach the glued held-out accuracies; both start at the glued one."""
    assert glued["pair-acc-ce"] == final_accuracy(W_WRONG, cross_entropy_dz)
    assert glued["pair-acc-se"] == final_accuracy(W_WRONG, squared_error_dz)
    assert glued["pair-acc-start"] == accuracy_score(Y_TEST, (X_TEST @ W_WRONG.T).argmax(axis=1))


def test_torch_autograd_of_the_squared_error_is_the_jacobian_formula():
    """torch's gradient of ||softmax(z) - onehot||^2 is J 2(p - t) of (eq-training-se)."""
    z = torch.tensor(X_TRAIN[:50] @ W_WRONG.T, requires_grad=True)
    loss = ((z.softmax(dim=1) - torch.nn.functional.one_hot(torch.from_numpy(Y_TRAIN[:50]), 10)) ** 2)
    (grad,) = torch.autograd.grad(loss.sum(dim=1).mean(), z)
    assert_allclose(grad.numpy(), squared_error_dz(z.detach().numpy(), Y_TRAIN[:50]), rtol=1e-12, atol=1e-18)


def test_confident_mistakes_and_their_gradients(glued):
    """At the start: the count with p_true < 0.01, and the median per-image gradient of each loss."""
    z = X_TRAIN @ W_WRONG.T
    p_true = softmax(z)[np.arange(1024), Y_TRAIN]
    wrong = p_true < 0.01
    assert glued["confident-wrong"] == wrong.sum()
    ce = np.linalg.norm(1024 * cross_entropy_dz(z, Y_TRAIN), axis=1)
    se = np.linalg.norm(1024 * squared_error_dz(z, Y_TRAIN), axis=1)
    assert glued["wrong-grad-ce"] == pytest.approx(np.median(ce[wrong]), rel=1e-12)
    assert glued["wrong-grad-se"] == pytest.approx(np.median(se[wrong]), rel=1e-12)
    assert np.all(ce[wrong] >= 1.0)  # |p - t| >= 1 - p_true: "at least about 1"


def test_the_small_start_exercise_narrows_the_gap(glued):
    """From W0 the accuracy gap between the two losses is under a quarter of the gap from W_wrong."""
    small_gap = final_accuracy(W0, cross_entropy_dz) - final_accuracy(W0, squared_error_dz)
    assert 0 < small_gap < 0.25 * (glued["pair-acc-ce"] - glued["pair-acc-se"])


# Loss scale against the optimiser.

FEATURES, TARGET = load_diabetes(return_X_y=True)
FEATURES = (FEATURES - FEATURES.mean(axis=0)) / FEATURES.std(axis=0)
TARGET = ((TARGET - TARGET.mean()) / TARGET.std())[:, None]
X_REG, Y_REG = FEATURES[:256], TARGET[:256]
W_REG = np.random.default_rng(4).normal(0.0, 0.1, (1, 10))
BATCHES_REG = shuffled_batches(256, 32, 4)
OPTIMISERS = {"SGD": ("sgd", 1 / 8, 0.0), "SGD, weight decay": ("sgd", 1 / 8, 1 / 4),
              "Adam": ("adam", 1 / 16, 0.0)}


def single(value):
    """``value`` rounded to float32, as MXNet passes its optimiser's settings to its kernels."""
    return float(np.float32(value))


def regression_replay(optimizer, lr, wd, factor, rule):
    """The trajectory of loss factor * (1/2) mean r^2, by hand; rule "mxnet" for gluon's Adam."""
    params = [W_REG.copy(), np.zeros(1)]
    state = [np.zeros_like(p) for p in params for _ in range(2)]
    history = [tuple(p.copy() for p in params)]
    for t, batch in enumerate(BATCHES_REG, start=1):
        X = X_REG[batch]
        r = X @ params[0].T + params[1] - Y_REG[batch]
        grads = [factor * r.T @ X / len(batch), factor * r.sum(axis=0) / len(batch)]
        for k, g in enumerate(grads):
            g = g + wd * params[k]
            if optimizer == "sgd":
                params[k] = params[k] - lr * g
                continue
            if rule == "mxnet":
                b1, b2, eps = single(0.9), single(0.999), single(1e-8)
                step, bc2 = single(lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)), 1.0
            else:
                b1, b2, eps = 0.9, 0.999, 1e-8
                step, bc2 = lr / (1 - b1**t), 1 - b2**t
            m = state[2 * k] = b1 * state[2 * k] + (1 - b1) * g
            v = state[2 * k + 1] = b2 * state[2 * k + 1] + (1 - b2) * g * g
            params[k] = params[k] - step * m / (np.sqrt(v) / math.sqrt(bc2) + eps)
        history.append(tuple(p.copy() for p in params))
    return history


def distance(first, second):
    """The largest Euclidean distance between two trajectories' parameters, over the steps."""
    return max(math.sqrt(np.sum((W1 - W2) ** 2) + np.sum((b1 - b2) ** 2))
               for (W1, b1), (W2, b2) in zip(first, second))


PORTS = {"0.5 * MSELoss(), lr": (1.0, 1.0), "MSELoss(), lr / 2": (2.0, 0.5), "MSELoss(), lr": (2.0, 1.0)}


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_each_framework_run_follows_its_replay(name):
    """gluon's L2Loss run and every torch port match their hand-written update rules, step by step."""
    optimizer, lr, wd = OPTIMISERS[name]
    fit = lb.training.fit_linear("gluon", gluon.loss.L2Loss(), X_REG, Y_REG, W_REG, np.zeros(1), lr=lr,
                                 batches=BATCHES_REG, optimizer=optimizer, weight_decay=wd)
    replay = regression_replay(optimizer, lr, wd, 1.0, "mxnet")
    assert_allclose(fit.weight, np.stack([W for W, _ in replay]), rtol=1e-10 if optimizer == "adam" else 1e-12,
                    atol=1e-15)
    mse = torch.nn.MSELoss()
    for port, (factor, lr_factor) in PORTS.items():
        loss = mse if factor == 2.0 else (lambda z, t: 0.5 * mse(z, t))
        fit = lb.training.fit_linear("torch", loss, X_REG, Y_REG, W_REG, np.zeros(1), lr=lr * lr_factor,
                                     batches=BATCHES_REG, optimizer=optimizer, weight_decay=wd)
        replay = regression_replay(optimizer, lr * lr_factor, wd, factor, "torch")
        assert_allclose(fit.weight, np.stack([W for W, _ in replay]), rtol=1e-12, atol=1e-15, err_msg=port)


def test_the_ports_against_mxnet(glued):
    """The glued gaps are the distances between the replayed update rules."""
    mxnet = {name: regression_replay(*setting, 1.0, "mxnet") for name, setting in OPTIMISERS.items()}
    ports = {(name, port): regression_replay(*OPTIMISERS[name][:1], OPTIMISERS[name][1] * lr_factor,
                                             OPTIMISERS[name][2], factor, "torch")
             for name in OPTIMISERS for port, (factor, lr_factor) in PORTS.items()}
    assert shown_number(glued_markdown("sgd-exact-gap")) <= 1e-15
    assert distance(ports["SGD", "0.5 * MSELoss(), lr"], mxnet["SGD"]) <= 1e-15
    decay_gap = distance(ports["SGD, weight decay", "MSELoss(), lr / 2"], mxnet["SGD, weight decay"])
    assert glued["decay-gap"] == pytest.approx(decay_gap, rel=1e-10)
    scale_gap = distance(ports["Adam", "MSELoss(), lr"], ports["Adam", "0.5 * MSELoss(), lr"])
    assert shown_number(glued_markdown("adam-scale-gap")) == pytest.approx(scale_gap, rel=0.05)
    framework_gap = distance(ports["Adam", "0.5 * MSELoss(), lr"], mxnet["Adam"])
    assert shown_number(glued_markdown("adam-framework-gap")) == pytest.approx(framework_gap, rel=0.05)
    assert scale_gap < framework_gap / 100  # the port's share of the Adam gap is negligible


# Where regression losses come from.

RNG_HET = np.random.default_rng(3)
X_HET = RNG_HET.uniform(-1.0, 1.0, 256)
Y_HET = 1 + 2 * X_HET + np.exp(X_HET - 1) * RNG_HET.standard_normal((256, 1))[:, 0]


def gaussian_nll(params):
    """Mean of (eq-training-heteroscedastic) for mean a + b x and log-variance c + d x, in numpy."""
    a, b, c, d = params
    log_var = c + d * X_HET
    return 0.5 * np.mean(log_var + (Y_HET - a - b * X_HET) ** 2 / np.exp(log_var))


def test_the_learned_variance_is_the_maximum_likelihood_fit(glued):
    """scipy's BFGS on the numpy likelihood finds the glued parameters, to 1e-5."""
    best = minimize(gaussian_nll, np.zeros(4), method="BFGS", options={"gtol": 1e-12}).x
    intercept_mean, intercept_log_var, slope_mean, slope_log_var = glued["het-params"]
    assert_allclose([intercept_mean, slope_mean, intercept_log_var, slope_log_var], best, atol=1e-5)
    assert glued["het-intercept"] == intercept_mean and glued["het-slope"] == slope_mean
    assert glued["het-sigma-left"] == pytest.approx(math.exp((best[2] - best[3]) / 2), rel=1e-5)
    assert glued["het-sigma-right"] == pytest.approx(math.exp((best[2] + best[3]) / 2), rel=1e-5)
    # "close to" the standard deviations the data were drawn with, e^(x - 1) at x = -1 and 1.
    assert glued["het-sigma-left"] == pytest.approx(math.exp(-2), rel=0.1)
    assert glued["het-sigma-right"] == pytest.approx(1.0, rel=0.1)


def test_least_squares_and_its_noise_level(glued):
    """scikit-learn's LinearRegression gives the glued line; its mean squared residual is sigma-hat squared."""
    fit = LinearRegression().fit(X_HET[:, None], Y_HET)
    assert glued["ls-intercept"] == pytest.approx(fit.intercept_, abs=1e-6)
    assert glued["ls-slope"] == pytest.approx(fit.coef_[0], abs=1e-6)
    sigma_hat = math.sqrt(np.mean((Y_HET - fit.predict(X_HET[:, None])) ** 2))
    assert glued["ls-sigma"] == pytest.approx(sigma_hat, rel=1e-6)


def test_gaussian_nll_loss_is_the_formula_in_torch_and_gluon():
    """torch's GaussianNLLLoss (full=False) and gluon written by hand are 0.5 (log var + r^2 / var)."""
    rng = np.random.default_rng(9)
    mean, target, log_var = rng.standard_normal((3, 12))
    expected = np.mean(0.5 * (log_var + (target - mean) ** 2 / np.exp(log_var)))
    value = torch.nn.GaussianNLLLoss()(torch.from_numpy(mean), torch.from_numpy(target),
                                       torch.from_numpy(np.exp(log_var)))
    assert value.item() == pytest.approx(expected, rel=1e-14)
    m, t, s = (frameworks.as_float64(a, "mxnet") for a in (mean, target, log_var))
    assert (0.5 * (s + (t - m) ** 2 / nd.exp(s))).mean().asscalar() == pytest.approx(expected, rel=1e-14)


def shown_result(key):
    """The number a tab's output shows, e.g. ``tensor(-0.49313358, dtype=torch.float64)``."""
    output = glued_markdown(key).split(":class: lossbook-output")[1].split("```")[0]
    return float(output.strip().removeprefix("tensor(").split(",")[0].strip("[]()\n "))


def test_the_gaussian_nll_tabs_agree(glued):
    """At the glued parameters: gluon's float32 tab to 1e-6, torch's and lossbook's printed digits, of the numpy likelihood."""
    intercept_mean, intercept_log_var, slope_mean, slope_log_var = glued["het-params"]
    expected = gaussian_nll([intercept_mean, slope_mean, intercept_log_var, slope_log_var])
    assert printed_numbers("gaussian-nll-gluon")[0] == pytest.approx(expected, rel=1e-6)
    assert shown_result("gaussian-nll-torch") == pytest.approx(expected, abs=5e-9)  # 8 decimals shown
    assert shown_result("gaussian-nll-lossbook") == pytest.approx(expected, rel=1e-14)


def test_lossbook_gaussian_nll_is_torchs_on_the_chapters_outputs(glued):
    """lb.gaussian_nll_loss and torch's GaussianNLLLoss agree on the fitted means and variances."""
    intercept_mean, intercept_log_var, slope_mean, slope_log_var = glued["het-params"]
    mean, var = intercept_mean + slope_mean * X_HET, np.exp(intercept_log_var + slope_log_var * X_HET)
    value = torch.nn.GaussianNLLLoss()(torch.from_numpy(mean), torch.from_numpy(Y_HET), torch.from_numpy(var))
    assert lb.gaussian_nll_loss(mean, Y_HET, var) == pytest.approx(value.item(), rel=1e-14)


def test_gluon_has_no_gaussian_likelihood_loss():
    """mxnet 1.9.1's gluon.loss has no Gaussian negative log-likelihood class, so the chapter writes it."""
    assert not [name for name in dir(gluon.loss) if "gauss" in name.lower()]
    assert hasattr(torch.nn, "GaussianNLLLoss")

"""lossbook.training: one optimiser step in gluon and torch against the update rules written by hand."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lossbook import frameworks, training

frameworks.require("torch")
frameworks.require("mxnet")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 3))
Y = RNG.integers(0, 2, (6, 1)).astype(np.float64)
W0 = RNG.standard_normal((1, 3))
# Rates that float32 holds exactly: MXNet passes lr and wd to its kernels as float32.
LR, WD = 0.25, 0.125


def single(value):
    """``value`` rounded to float32, as MXNet stores an optimiser's parameters (lr, wd, rescale_grad...)."""
    return float(np.float32(value))


def summed_gradient():
    """d/dw of sum_i [y_i softplus(-z_i) + (1 - y_i) softplus(z_i)], z = X w: X^T (sigmoid(z) - y)."""
    return (1.0 / (1.0 + np.exp(-(X @ W0.T))) - Y).T @ X


def gradient(loss, framework="torch"):
    """The gradient a step applies: of the sum, or of the mean (gluon scales by a float32 1/N)."""
    if loss == "sum":
        return summed_gradient()
    return summed_gradient() * single(1 / len(X)) if framework == "gluon" else summed_gradient() / len(X)


@pytest.mark.parametrize("framework", ["gluon", "torch"])
@pytest.mark.parametrize("loss", ["mean", "sum"])
@pytest.mark.parametrize("weight_decay", [0.0, WD])
def test_sgd_step_is_w_minus_lr_times_gradient_plus_decay(framework, loss, weight_decay):
    """Both frameworks' SGD: w - lr (g + wd w), the decay added after the gradient is scaled."""
    expected = W0 - LR * (gradient(loss, framework) + weight_decay * W0)
    after = training.one_step(framework, "sgd", X, Y, W0, lr=LR, weight_decay=weight_decay, loss=loss)
    assert after.shape == (1, 3) and after.dtype == np.float64
    assert_allclose(after, expected, rtol=1e-13)


@pytest.mark.parametrize("loss", ["mean", "sum"])
def test_torch_adam_first_step(loss):
    """torch's Adam, step 1: m = (1 - b1) g, v = (1 - b2) g^2, w - lr/(1 - b1) m / (sqrt(v)/sqrt(1 - b2) + eps)."""
    g = gradient(loss)
    m, v = 0.1 * g, 0.001 * g * g
    expected = W0 - LR / 0.1 * m / (np.sqrt(v) / math.sqrt(0.001) + 1e-8)
    assert_allclose(training.one_step("torch", "adam", X, Y, W0, lr=LR, loss=loss), expected, rtol=1e-13)


@pytest.mark.parametrize("loss", ["mean", "sum"])
def test_gluon_adam_first_step(loss):
    """MXNet's Adam, step 1: lr_t = lr sqrt(1 - b2)/(1 - b1), w - lr_t m / (sqrt(v) + eps), parameters as float32."""
    b1, b2, eps = single(0.9), single(0.999), single(1e-8)
    lr_t = single(LR * math.sqrt(1 - 0.999) / (1 - 0.9))
    g = gradient(loss, "gluon")
    expected = W0 - lr_t * ((1 - b1) * g) / (np.sqrt((1 - b2) * g * g) + eps)
    assert_allclose(training.one_step("gluon", "adam", X, Y, W0, lr=LR, loss=loss), expected, rtol=1e-13)


def test_adam_with_weight_decay_adds_it_to_the_gradient():
    """Adam's first step with weight decay is the step without it, on the gradient g + wd w (torch)."""
    g = gradient("mean") + WD * W0
    expected = W0 - LR / 0.1 * (0.1 * g) / (np.sqrt(0.001 * g * g) / math.sqrt(0.001) + 1e-8)
    after = training.one_step("torch", "adam", X, Y, W0, lr=LR, weight_decay=WD)
    assert_allclose(after, expected, rtol=1e-13)


def test_flat_labels_and_weights_are_accepted():
    """Labels of shape (N,) and weights of shape (F,) give the step of the column and row forms."""
    flat = training.one_step("torch", "sgd", X, Y.ravel(), W0.ravel(), lr=LR)
    assert_allclose(flat, training.one_step("torch", "sgd", X, Y, W0, lr=LR), rtol=0)


def test_the_docstring_example():
    """Two samples, zero weights, lr 2: w = -2 X^T (1/2 - y) / 2 = (0.5, -0.5)."""
    after = training.one_step("torch", "sgd", np.eye(2), np.array([1.0, 0.0]), np.zeros(2), lr=2.0)
    assert after.tolist() == [[0.5, -0.5]]


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"framework": "jax"}, ValueError, "framework must be one of"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
        ({"loss": "none"}, ValueError, "loss must be one of"),
        ({"features": X[0]}, ValueError, "features must be a matrix"),
        ({"labels": Y[:5]}, ValueError, "labels must hold one label per row"),
        ({"labels": Y.reshape(6, 1, 1)}, ValueError, "labels must hold one label per row"),
        ({"weight": W0[:, :2]}, ValueError, "weight must hold one value per column"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay must be a finite number >= 0"),
        ({"weight_decay": math.inf}, ValueError, "weight_decay must be a finite number >= 0"),
        ({"features": X.astype(str)}, TypeError, "features must contain real numbers"),
    ],
)
def test_bad_arguments_are_named(change, error, match):
    """Each bad argument raises an error that names it and says what was wrong."""
    arguments = {"framework": "torch", "optimizer": "sgd", "features": X, "labels": Y, "weight": W0,
                 "lr": LR, "weight_decay": 0.0, "loss": "mean", **change}
    positional = [arguments.pop(name) for name in ("framework", "optimizer", "features", "labels", "weight")]
    with pytest.raises(error, match=match):
        training.one_step(*positional, **arguments)


# The minibatch loop, lb.training.fit_linear, against update rules replayed in numpy.

from sklearn.metrics import accuracy_score  # noqa: E402

LOOP_RNG = np.random.default_rng(11)
FEATURES = LOOP_RNG.standard_normal((24, 5))
CLASSES = LOOP_RNG.integers(0, 3, 24)
W_START = 0.3 * LOOP_RNG.standard_normal((3, 5))
B_START = 0.1 * LOOP_RNG.standard_normal(3)
BATCHES = [np.arange(0, 8), np.arange(8, 16), np.array([3, 17, 22, 5, 9, 11, 0, 23])]


def softmax_rows(z):
    """exp(z - max) / sum exp(z - max), row by row."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mean_cross_entropy(z, labels):
    """-mean log softmax(z)[label], with log softmax = z - max - log sum exp(z - max)."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def cross_entropy_gradients(X, labels, W, b):
    """The gradients of the mean cross-entropy of z = X W^T + b: G = (p - onehot)/n, dW = G^T X, db = sum G."""
    G = (softmax_rows(X @ W.T + b) - np.eye(W.shape[0])[labels]) / len(labels)
    return G.T @ X, G.sum(axis=0)


def sgd_replay(lr, wd=0.0, gradient_scale=1.0, rescale=lambda n: 1.0 / n):
    """Plain SGD on the mean cross-entropy, by hand: w - lr (scale * g + wd w) at every batch."""
    W, b, losses = W_START.copy(), B_START.copy(), []
    for batch in BATCHES:
        X, labels = FEATURES[batch], CLASSES[batch]
        losses.append(mean_cross_entropy(X @ W.T + b, labels))
        dW, db = cross_entropy_gradients(X, labels, W, b)
        scale = gradient_scale * len(batch) * rescale(len(batch))  # the mean's gradient times this
        W, b = W - lr * (scale * dW + wd * W), b - lr * (scale * db + wd * b)
    return W, b, np.array(losses)


def loss_for(framework):
    """Each framework's own softmax cross-entropy: per sample in gluon, the batch mean in torch."""
    if framework == "gluon":
        return frameworks.require("mxnet").gluon.loss.SoftmaxCrossEntropyLoss()
    return frameworks.require("torch").nn.CrossEntropyLoss()


@pytest.mark.parametrize("framework", ["gluon", "torch"])
@pytest.mark.parametrize("weight_decay", [0.0, WD])
def test_fit_linear_sgd_is_the_update_rule(framework, weight_decay):
    """Every step of SGD, with and without decay, is w - lr (mean gradient + wd w); the losses too."""
    fit = training.fit_linear(framework, loss_for(framework), FEATURES, CLASSES, W_START, B_START,
                              lr=LR, batches=BATCHES, weight_decay=weight_decay)
    W, b, losses = sgd_replay(LR, weight_decay, rescale=lambda n: single(1 / n) if framework == "gluon" else 1 / n)
    assert fit.weight.shape == (4, 3, 5) and fit.bias.shape == (4, 3) and fit.loss.shape == (3,)
    assert_allclose(fit.weight[0], W_START, rtol=0)
    assert_allclose(fit.bias[0], B_START, rtol=0)
    assert_allclose(fit.weight[-1], W, rtol=1e-12)
    assert_allclose(fit.bias[-1], b, rtol=1e-12)
    assert_allclose(fit.loss, losses, rtol=1e-13)


@pytest.mark.parametrize("framework", ["gluon", "torch"])
def test_fit_linear_records_the_applied_gradient_norm(framework):
    """grad_norm is the Frobenius norm of the mean cross-entropy's weight gradient at each step."""
    fit = training.fit_linear(framework, loss_for(framework), FEATURES, CLASSES, W_START, B_START,
                              lr=LR, batches=BATCHES)
    expected = [np.linalg.norm(cross_entropy_gradients(FEATURES[batch], CLASSES[batch], W, b)[0])
                for batch, W, b in zip(BATCHES, fit.weight[:-1], fit.bias[:-1])]
    assert_allclose(fit.grad_norm, expected, rtol=1e-12)


def test_gluon_trainer_step_one_descends_the_sum():
    """step_batch_size=1 is trainer.step(1): SGD on the summed gradient, batch size times the mean's."""
    fit = training.fit_linear("gluon", loss_for("gluon"), FEATURES, CLASSES, W_START, B_START,
                              lr=LR / 8, batches=BATCHES, step_batch_size=1)
    W, b, _ = sgd_replay(LR / 8, rescale=lambda n: 1.0)
    assert_allclose(fit.weight[-1], W, rtol=1e-12)
    assert_allclose(fit.bias[-1], b, rtol=1e-12)


def adam_replay(rule, lr):
    """Adam on the mean cross-entropy, by hand, with torch's rule or MXNet 1.9.1's (float32 settings)."""
    W, b = W_START.copy(), B_START.copy()
    state = [np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)]
    for t, batch in enumerate(BATCHES, start=1):
        grads = cross_entropy_gradients(FEATURES[batch], CLASSES[batch], W, b)
        if rule == "mxnet":  # optimizer.py: lr_t = lr sqrt(1 - b2^t)/(1 - b1^t); the kernel: w - lr_t m/(sqrt(v) + eps)
            b1, b2, eps = single(0.9), single(0.999), single(1e-8)
            lr_t = single(lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t))
            grads = [g * len(batch) * single(1 / len(batch)) for g in grads]
        else:  # torch: lr/(1 - b1^t) m / (sqrt(v)/sqrt(1 - b2^t) + eps)
            b1, b2, eps = 0.9, 0.999, 1e-8
        params = []
        for k, (p, g) in enumerate(zip((W, b), grads)):
            m = state[2 * k] = b1 * state[2 * k] + (1 - b1) * g
            v = state[2 * k + 1] = b2 * state[2 * k + 1] + (1 - b2) * g * g
            if rule == "mxnet":
                params.append(p - lr_t * m / (np.sqrt(v) + eps))
            else:
                params.append(p - lr / (1 - b1**t) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps))
        W, b = params
    return W, b


@pytest.mark.parametrize("framework, rule", [("torch", "torch"), ("gluon", "mxnet")])
def test_fit_linear_adam_is_each_frameworks_rule(framework, rule):
    """Three Adam steps follow torch's rule in torch and MXNet's, with its float32 settings, in gluon."""
    fit = training.fit_linear(framework, loss_for(framework), FEATURES, CLASSES, W_START, B_START,
                              lr=LR, batches=BATCHES, optimizer="adam")
    W, b = adam_replay(rule, LR)
    assert_allclose(fit.weight[-1], W, rtol=1e-12)
    assert_allclose(fit.bias[-1], b, rtol=1e-12)


def test_fit_linear_gives_torch_targets_their_own_dtype():
    """A float64 regression target and torch's MSELoss: one step is w - lr 2 X^T (X w - y)/N (hand)."""
    torch = frameworks.require("torch")
    x = FEATURES[:, :2]
    y = FEATURES[:, 2:3]
    w, b = np.array([[0.5, -0.25]]), np.array([0.125])
    fit = training.fit_linear("torch", torch.nn.MSELoss(), x, y, w, b, lr=LR, batches=[np.arange(24)])
    residual = x @ w.T + b - y
    assert_allclose(fit.weight[-1], w - LR * 2 * residual.T @ x / 24, rtol=1e-13)
    assert_allclose(fit.bias[-1], b - LR * 2 * residual.mean(axis=0), rtol=1e-13)
    assert fit.loss[0] == pytest.approx(np.mean(residual**2), rel=1e-14)


def test_trajectory_outputs_and_accuracy():
    """outputs is X W^T + b at every step; accuracy is scikit-learn's accuracy_score of its argmax."""
    fit = training.fit_linear("torch", loss_for("torch"), FEATURES, CLASSES, W_START, B_START,
                              lr=LR, batches=BATCHES)
    for step in range(len(BATCHES) + 1):
        z = FEATURES @ fit.weight[step].T + fit.bias[step]
        assert_allclose(fit.outputs(FEATURES)[step], z, rtol=1e-14)
        assert fit.accuracy(FEATURES, CLASSES)[step] == accuracy_score(CLASSES, z.argmax(axis=1))


def test_one_output_accuracy_thresholds_the_logit_at_zero():
    """With one output, label 1 is predicted where X w + b > 0, as accuracy_score counts it."""
    labels = (FEATURES[:, 0] > 0.2).astype(np.float64)
    fit = training.fit_linear("torch", frameworks.require("torch").nn.BCEWithLogitsLoss(),
                              FEATURES, labels[:, None], W_START[:1], B_START[:1], lr=LR, batches=BATCHES)
    z = FEATURES @ fit.weight[-1].T + fit.bias[-1]
    assert fit.accuracy(FEATURES, labels)[-1] == accuracy_score(labels, (z[:, 0] > 0).astype(float))


def test_the_fit_linear_docstring_example():
    """x = (1, -1), y = (1, -1), w = 0: MSE gradient -2 mean(x y) = -2, so w = 0.25 * 2 = 0.5; loss 1."""
    torch = frameworks.require("torch")
    fit = training.fit_linear("torch", torch.nn.MSELoss(), [[1.0], [-1.0]], [[1.0], [-1.0]], [[0.0]],
                              [0.0], lr=0.25, batches=[[0, 1]])
    assert fit.weight[-1].tolist() == [[0.5]] and fit.loss.tolist() == [1.0]


def test_minibatches_cut_seeded_permutations():
    """Each epoch is numpy's default_rng(seed) permutation of the indices, cut in order."""
    batches = training.minibatches(10, 4, 2, seed=5)
    rng = np.random.default_rng(5)
    first, second = rng.permutation(10), rng.permutation(10)
    expected = [first[:4], first[4:8], first[8:], second[:4], second[4:8], second[8:]]
    assert [b.tolist() for b in batches] == [e.tolist() for e in expected]


def test_the_minibatches_docstring_example():
    """default_rng(0).permutation(4) is [2, 0, 1, 3], cut into two batches of two."""
    assert [b.tolist() for b in training.minibatches(4, 2, 1, seed=0)] == [[2, 0], [1, 3]]
    assert np.random.default_rng(0).permutation(4).tolist() == [2, 0, 1, 3]


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"framework": "jax"}, ValueError, "framework must be one of"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
        ({"loss": "cross_entropy"}, TypeError, "loss must be callable"),
        ({"features": FEATURES[0]}, ValueError, "features must be a matrix"),
        ({"targets": CLASSES[:5]}, ValueError, "targets must be numbers with one row per row"),
        ({"targets": CLASSES.astype(str)}, ValueError, "targets must be numbers"),
        ({"weight": W_START[:, :4]}, ValueError, r"weight must have shape \(outputs, 5\)"),
        ({"bias": B_START[:2]}, ValueError, r"bias must have shape \(3,\)"),
        ({"lr": -1.0}, ValueError, "lr must be a finite number > 0"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay must be a finite number >= 0"),
        ({"batches": [np.array([0, 24])]}, ValueError, "batches must hold non-empty 1-d arrays"),
        ({"batches": [np.array([], dtype=int)]}, ValueError, "batches must hold non-empty 1-d arrays"),
        ({"batches": [np.array([0.0, 1.0])]}, ValueError, "batches must hold non-empty 1-d arrays"),
        ({"batches": []}, ValueError, "batches must hold at least one batch"),
        ({"step_batch_size": 1}, ValueError, "step_batch_size is the batch_size of gluon"),
        ({"framework": "gluon", "step_batch_size": 0}, ValueError, "step_batch_size must be a finite number > 0"),
    ],
)
def test_fit_linear_names_bad_arguments(change, error, match):
    """Each bad argument raises an error that names it and says what was wrong."""
    framework = change.pop("framework", "torch")
    arguments = {"loss": loss_for(framework), "features": FEATURES, "targets": CLASSES,
                 "weight": W_START, "bias": B_START, "lr": LR, "batches": BATCHES, **change}
    positional = [arguments.pop(name) for name in ("loss", "features", "targets", "weight", "bias")]
    with pytest.raises(error, match=match):
        training.fit_linear(framework, *positional, **arguments)


def test_a_torch_loss_must_be_reduced():
    """A torch loss that returns one value per sample is refused, with the shape it returned."""
    torch = frameworks.require("torch")
    with pytest.raises(ValueError, match=r"a torch loss must return one number .* shape \(8,\)"):
        training.fit_linear("torch", torch.nn.CrossEntropyLoss(reduction="none"), FEATURES, CLASSES,
                            W_START, B_START, lr=LR, batches=BATCHES)


@pytest.mark.parametrize(
    "arguments, match",
    [
        ((0, 1, 1), "n_samples must be an integer >= 1"),
        ((4, 0, 1), "batch_size must be an integer >= 1"),
        ((4, 5, 1), r"batch_size must be at most n_samples \(4\)"),
        ((4, 2, 1.0), "epochs must be an integer >= 1"),
        ((4, True, 1), "batch_size must be an integer >= 1"),
    ],
)
def test_minibatches_names_bad_counts(arguments, match):
    """A count that is not a positive integer in range raises a ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        training.minibatches(*arguments)


def test_accuracy_needs_one_label_per_row():
    """Labels that do not match the features' rows are refused."""
    fit = training.fit_linear("torch", loss_for("torch"), FEATURES, CLASSES, W_START, B_START,
                              lr=LR, batches=BATCHES[:1])
    with pytest.raises(ValueError, match=r"labels must hold one label per row of features \(24\)"):
        fit.accuracy(FEATURES, CLASSES[:5])
    with pytest.raises(ValueError, match=r"features must be a matrix \(samples, 5\)"):
        fit.outputs(FEATURES[:, :4])

"""Every number and fact the chapter "Log loss by any other name" states, checked independently.

The values the chapter glues are read from the notebook the book build executed
and compared with mpmath, a value derived by hand (derivation in a comment),
Kaggle's documented example, or the installed scikit-learn, PyTorch and MXNet
gluon called here. lossbook appears only as the thing being checked.
"""

import inspect
import math
import warnings

import mpmath
import numpy as np
import pytest
import sklearn
import torch
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss

from executed_pages import glued_values
import lossbook as lb
from lossbook import frameworks, guards

mx = frameworks.require("mxnet")
from mxnet import autograd, gluon, nd  # noqa: E402  (after the import that silences mxnet)

mpmath.mp.dps = 50
LN2, LN10 = mpmath.log(2), mpmath.log(10)
EDGE_P, EDGE_Y = np.array([1.0, 0.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0, 0.0])


@pytest.fixture(scope="module")
def glued():
    """Every value the chapter glues, by key without the chapter's prefix."""
    values = glued_values("log_loss_names")
    return {key.removeprefix("log-loss-names-"): value for key, value in values.items()}


def as64(values):
    """A float64 NDArray."""
    return frameworks.as_float64(values, "mxnet")


def chapter_batch():
    """The chapter's twelve seeded probabilities and labels, and its weights."""
    rng = np.random.default_rng(0)
    p, y = rng.uniform(0.02, 0.98, 12), rng.integers(0, 2, 12).astype(np.float64)
    return p, y, np.random.default_rng(2).uniform(0.5, 3.0, 12)


def chapter_classes():
    """The chapter's six 3-class probability rows and their classes."""
    logits = np.random.default_rng(1).standard_normal((6, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, np.array([0, 1, 2, 2, 1, 0])


def exact_log_loss(p, y, w=None):
    """(Weighted) mean of -(y log p + (1 - y) log(1 - p)) with 50 digits: sum(w l) / N."""
    w = np.ones_like(p) if w is None else w
    terms = [mpmath.mpf(float(v)) * -(mpmath.log(mpmath.mpf(float(q))) if t else mpmath.log(1 - mpmath.mpf(float(q))))
             for q, t, v in zip(p, y, w)]
    return sum(terms) / len(terms)


# scikit-learn 1.7.2.


def test_sklearn_version_and_signature():
    """The chapter describes scikit-learn 1.7.2, whose log_loss has no eps argument."""
    assert sklearn.__version__ == "1.7.2"
    assert list(inspect.signature(log_loss).parameters) == ["y_true", "y_pred", "normalize", "sample_weight", "labels"]


def test_sklearn_clips_at_the_dtype_machine_epsilon():
    """The installed source clips y_pred to [eps, 1 - eps] with eps = np.finfo(y_pred.dtype).eps."""
    source = inspect.getsource(log_loss)
    assert "eps = np.finfo(y_pred.dtype).eps" in source
    assert "y_pred = np.clip(y_pred, eps, 1 - eps)" in source


def test_sklearn_worst_cases(glued):
    """A wrong certain prediction costs -log(2^-52) = 52 ln 2 in float64, -log(2^-23) = 23 ln 2 in float32."""
    assert glued["eps64"] == 2.0**-52 and glued["eps32"] == 2.0**-23
    assert glued["sk-wrong64"] == pytest.approx(float(52 * LN2), rel=1e-15)
    assert glued["wrong-sklearn"] == pytest.approx(float(52 * LN2), rel=1e-15)
    assert glued["sk-wrong32"] == pytest.approx(float(23 * LN2), rel=1e-6)  # a float32 log


def test_sklearn_rejects_values_outside_the_unit_interval():
    """Probabilities above 1 raise ValueError."""
    with pytest.raises(ValueError):
        log_loss([0, 1], [0.5, 1.5])


def test_sklearn_warns_and_does_not_rescale_rows(glued):
    """A row [0.2, 0.3] scores -log 0.3 (rescaled it would be -log 0.6) with the UserWarning the page shows."""
    with pytest.warns(UserWarning) as caught:
        value = log_loss([1], [[0.2, 0.3]], labels=[0, 1])
    assert value == pytest.approx(-math.log(0.3), rel=1e-15)
    assert glued["unscaled"] == pytest.approx(-math.log(0.3), rel=1e-15)
    assert glued["unscaled-warning"] == f"UserWarning: {caught[0].message}"
    assert "do not sum to one" in glued["unscaled-warning"]


def test_sklearn_infers_sorted_labels_and_reads_1d_as_the_larger_label():
    """For labels 'ham' < 'spam', a 1-D y_pred is P(spam): losses -log(1 - 0.3) and -log(0.8)."""
    assert log_loss(["ham", "spam"], [0.3, 0.8]) == pytest.approx((-math.log(0.7) - math.log(0.8)) / 2, rel=1e-15)


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
    assert inspect.signature(gluon.loss.SigmoidBinaryCrossEntropyLoss).parameters["from_sigmoid"].default is False


def test_gluon_floor_and_the_1e15_bound(glued):
    """-log(1e-12) = 12 ln 10 and -log(1e-15) = 15 ln 10."""
    assert glued["gluon-floor"] == pytest.approx(float(12 * LN10), rel=1e-15)
    assert glued["log-1e15"] == pytest.approx(float(15 * LN10), rel=1e-15)


def test_edge_values_of_every_library(glued):
    """Wrong and certain: torch 100, gluon 12 ln 10, Kaggle 15 ln 10, Keras -log float32(1e-7) and 23 ln 2."""
    torch_losses = torch.nn.BCELoss(reduction="none")(torch.tensor(EDGE_P), torch.tensor(EDGE_Y)).numpy()
    assert_allclose(torch_losses, [0.0, 0.0, 100.0, 100.0], rtol=0, atol=0)
    assert glued["wrong-torch"] == 100.0
    assert glued["wrong-gluon"] == pytest.approx(float(12 * LN10), rel=1e-15)
    assert glued["wrong-kaggle"] == pytest.approx(float(15 * LN10), rel=1e-12)
    # Keras clips to float32(1e-7) = 1.0000000116860974e-07 and, the other way, to 1 - 2^-23.
    assert glued["wrong-keras"] == pytest.approx(float(-mpmath.log(mpmath.mpf(float(np.float32(1e-7))))), rel=1e-6)
    assert glued["keras-wrong-other"] == pytest.approx(float(23 * LN2), rel=1e-6)


def test_gluon_right_answers_in_float32_and_float64():
    """float32: 1 + 1e-12 rounds to 1, a right answer costs 0; float64: -log(1 + 1e-12) < 0."""
    loss32 = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(nd.array(EDGE_P[:, None]), nd.array(EDGE_Y[:, None]))
    assert loss32.dtype == np.float32 and list(loss32.asnumpy()[:2]) == [0.0, 0.0]
    assert loss32.asnumpy()[2] == np.float32(12 * math.log(10))
    loss64 = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(as64(EDGE_P[:, None]), as64(EDGE_Y[:, None])).asnumpy()
    assert loss64[0] == -np.log(1.0 + 1e-12) < 0  # float64 rounds it to -1.000088900581841e-12


def test_edge_gradients_of_torch_and_gluon(glued):
    """torch: (p - y) / max(p(1 - p), float32(1e-12)); gluon: -1/(p + 1e-12) or 1/(1 - p + 1e-12)."""
    p_t = torch.tensor(EDGE_P, requires_grad=True)
    torch.nn.BCELoss(reduction="sum")(p_t, torch.tensor(EDGE_Y)).backward()
    floor = float(np.float32(1e-12))  # the clamp is a 32-bit float, 9.99999996e-13
    assert_allclose(p_t.grad.numpy(), [0.0, 0.0, -1.0 / floor, 1.0 / floor], rtol=1e-15)
    assert glued["torch-wrong-grad"] == pytest.approx(-1.0 / floor, rel=1e-15)
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-7)):
        p_nd = nd.array(EDGE_P[:, None], dtype=dtype)
        p_nd.attach_grad()
        with autograd.record():
            loss = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(p_nd, nd.array(EDGE_Y[:, None], dtype=dtype))
        loss.backward()
        expected = [-1 / (1 + 1e-12), 1 / (1 + 1e-12), -1 / 1e-12, 1 / 1e-12]
        assert_allclose(p_nd.grad.asnumpy().ravel(), expected, rtol=rtol)


def test_clipping_gives_no_gradient():
    """d/dq of -log(clamp(q, 1e-7, 1 - 1e-7)) is 0 where the clamp is active and -1/q elsewhere."""
    q = torch.tensor([0.0, 1e-9, 0.5], dtype=torch.float64, requires_grad=True)
    (-torch.log(torch.clamp(q, 1e-7, 1 - 1e-7))).sum().backward()
    assert q.grad.tolist() == [0.0, 0.0, -2.0]


# The batch, the categorical case and the weights.


def test_the_batch_value_and_every_implementation(glued):
    """The glued batch log loss matches mpmath; sklearn, torch and Kaggle to 1e-14, gluon to 1e-10, Keras to 1e-6."""
    p, y, _ = chapter_batch()
    exact = float(exact_log_loss(p, y))
    assert glued["batch-value"] == pytest.approx(exact, rel=1e-14)
    assert log_loss(y, p) == pytest.approx(exact, rel=1e-14)
    assert torch.nn.BCELoss()(torch.tensor(p), torch.tensor(y)).item() == pytest.approx(exact, rel=1e-14)
    gluon_value = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(as64(p[:, None]), as64(y[:, None])).mean().asscalar()
    assert gluon_value == pytest.approx(exact, rel=1e-10)  # the 1e-12 inside gluon's logs
    gluon32 = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(nd.array(p[:, None]), nd.array(y[:, None])).mean().asscalar()
    assert gluon32 == pytest.approx(exact, rel=1e-6)  # the tab's float32
    assert guards.kaggle_log_loss(y.astype(int), np.column_stack([1 - p, p])) == pytest.approx(exact, rel=1e-14)


def test_categorical_implementations_agree(glued):
    """On the chapter's 3-class batch, sklearn, torch NLLLoss, gluon SoftmaxCELoss and mpmath agree."""
    probs, classes = chapter_classes()
    exact = float(sum(-mpmath.log(mpmath.mpf(float(probs[i, c]))) for i, c in enumerate(classes)) / 6)
    assert glued["multi-value"] == pytest.approx(exact, rel=1e-14)
    assert log_loss(classes, probs) == pytest.approx(exact, rel=1e-14)
    nll = torch.nn.NLLLoss()(torch.log(torch.tensor(probs)), torch.tensor(classes)).item()
    assert nll == pytest.approx(exact, rel=1e-14)
    gluon_value = gluon.loss.SoftmaxCrossEntropyLoss(from_logits=True)(as64(np.log(probs)), as64(classes)).mean().asscalar()
    assert gluon_value == pytest.approx(exact, rel=1e-14)


def test_weighted_means_differ_by_the_mean_weight(glued):
    """sklearn divides sum(w l) by sum(w); torch's BCELoss weight and gluon's sample_weight by N."""
    p, y, w = chapter_batch()
    per_sample = exact_log_loss(p, y, w) * 12  # sum(w l)
    sklearn_value = log_loss(y, p, sample_weight=w)
    torch_value = torch.nn.BCELoss(weight=torch.tensor(w))(torch.tensor(p), torch.tensor(y)).item()
    gluon_value = gluon.loss.SigmoidBCELoss(from_sigmoid=True)(
        as64(p[:, None]), as64(y[:, None]), as64(w[:, None])).mean().asscalar()
    assert sklearn_value == pytest.approx(float(per_sample / mpmath.fsum(map(mpmath.mpf, w))), rel=1e-14)
    assert torch_value == pytest.approx(float(per_sample / 12), rel=1e-14)
    assert gluon_value == pytest.approx(float(per_sample / 12), rel=1e-10)  # gluon's 1e-12 in the logs
    assert glued["mean-weight"] == pytest.approx(float(np.mean(w)), rel=1e-15)
    assert glued["weighted-ratio"] == pytest.approx(torch_value / sklearn_value, rel=1e-14)
    assert glued["weighted-ratio"] == pytest.approx(glued["mean-weight"], rel=1e-13)


def test_torch_sum_over_the_weight_sum_is_sklearn():
    """BCELoss(weight=w, reduction='sum') / w.sum() reproduces log_loss(sample_weight=w)."""
    p, y, w = chapter_batch()
    summed = torch.nn.BCELoss(weight=torch.tensor(w), reduction="sum")(torch.tensor(p), torch.tensor(y)).item()
    assert summed / w.sum() == pytest.approx(log_loss(y, p, sample_weight=w), rel=1e-14)


def test_nll_class_weights_divide_by_the_summed_weights():
    """NLLLoss(weight=class_w) is sum(w[y] l) / sum(w[y]): sklearn with sample_weight=class_w[y]."""
    probs, classes = chapter_classes()
    class_w = np.array([1.0, 2.0, 4.0])
    nll = torch.nn.NLLLoss(weight=torch.tensor(class_w))(torch.log(torch.tensor(probs)), torch.tensor(classes)).item()
    terms = [mpmath.mpf(class_w[c]) * -mpmath.log(mpmath.mpf(float(probs[i, c]))) for i, c in enumerate(classes)]
    by_hand = float(mpmath.fsum(terms) / mpmath.mpf(float(class_w[classes].sum())))
    assert nll == pytest.approx(by_hand, rel=1e-14)
    assert log_loss(classes, probs, sample_weight=class_w[classes]) == pytest.approx(by_hand, rel=1e-14)
    assert nll != pytest.approx(float(mpmath.fsum(terms)) / 6, rel=1e-3)  # not the mean over N


# The exercises.


def test_kaggle_documented_example():
    """Exercise 1: sklearn, torch NLLLoss and the Kaggle recipe all score Kaggle's example 1.881797068998267."""
    probabilities = np.array([[0.5, 0.5], [0.1, 0.9], [0.01, 0.99], [0.9, 0.1], [0.75, 0.25], [0.001, 0.999]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    nll = torch.nn.NLLLoss()(torch.log(torch.tensor(probabilities)), torch.tensor(labels)).item()
    for value in (log_loss(labels, probabilities), nll, guards.kaggle_log_loss(labels, probabilities)):
        assert value == pytest.approx(1.881797068998267, rel=1e-15)


def test_float32_input_lowers_sklearn_score_below_the_old_default():
    """Exercise 3: with float32 input 1.7.2 clips at 2^-23, so it scores below 1.1's clip at 1e-15."""
    y_true = np.array([1, 0, 1, 0])
    y_prob = np.array([0.0, 0.2, 0.9, 0.1], dtype=np.float32)
    # scikit-learn 1.1, by hand: clip at 1e-15 in float64.
    q = np.clip(y_prob.astype(np.float64), 1e-15, 1 - 1e-15)
    old = -np.mean(y_true * np.log(q) + (1 - y_true) * np.log(1 - q))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert log_loss(y_true, y_prob) < old < log_loss(y_true, y_prob.astype(np.float64))
    assert guards.sklearn_1_1_log_loss(y_true, y_prob) == pytest.approx(old, rel=1e-15)

"""The claims of book/combining_losses.md, read from the executed page, against independent computations.

The chapter trains its tiny detector with lossbook.multitask and differentiates
it with torch, gluon and lossbook. Here the same detector is written again in
plain numpy with hand-derived gradients (softmax cross-entropy: (softmax -
onehot) / N; Smooth L1 with beta = 1: clip(r, -1, 1) / (4N); tanh: 1 - h**2),
trained with the same full-batch gradient descent, and every number the page
glues is compared with these independent runs, with torch or with gluon. Only
the problem's data (lossbook.multitask.detection_problem) is shared.
"""

import math

import mpmath
import numpy as np
import pytest
import torch
from executed_pages import glued_values
from numpy.testing import assert_allclose

import lossbook.multitask
from lossbook import frameworks

RUN_RTOL = 1e-8  # two implementations of 500 gradient steps agree to about this


@pytest.fixture(scope="module")
def glued():
    """The values the executed page glued."""
    return glued_values("combining_losses")


@pytest.fixture(scope="module")
def problem():
    """The chapter's data and initial parameters, as plain arrays."""
    data = lossbook.multitask.detection_problem(seed=0)
    boxes_px = data.boxes_px
    box_mean, box_std = boxes_px.mean(axis=0), boxes_px.std(axis=0)
    return {
        "features": data.features, "labels": data.labels, "boxes_px": boxes_px,
        "box_mean": box_mean, "box_std": box_std, "boxes_std": (boxes_px - box_mean) / box_std,
        "initial": {name: np.array(value) for name, value in data.initial.items()},
        "IMAGE": 512, "N": len(data.labels),
    }


# The detector in numpy, with gradients derived by hand.


def forward(params, x):
    """Trunk activations, class scores and predicted boxes."""
    h = np.tanh(x @ params["trunk.weight"].T + params["trunk.bias"])
    return h, h @ params["cls.weight"].T + params["cls.bias"], h @ params["box.weight"].T + params["box.bias"]


def cross_entropy(scores, labels):
    """Mean softmax cross-entropy, and its gradient (softmax - onehot) / N."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(labels)
    grad = np.exp(log_probs)
    grad[np.arange(n), labels] -= 1.0
    return -log_probs[np.arange(n), labels].mean(), grad / n


def smooth_l1(predicted, target):
    """Mean Smooth L1 with beta = 1, and its gradient clip(r, -1, 1) / size."""
    r = predicted - target
    loss = np.where(np.abs(r) < 1.0, 0.5 * r**2, np.abs(r) - 0.5)
    return loss.mean(), np.clip(r, -1.0, 1.0) / r.size


def gradients(params, x, labels, boxes, lam):
    """Losses and the per-parameter gradients of each term, L_cls and lam * L_loc, separately."""
    h, scores, predicted = forward(params, x)
    l_cls, d_scores = cross_entropy(scores, labels)
    l_loc, d_boxes = smooth_l1(predicted, boxes)
    d_boxes = lam * d_boxes
    zero_trunk = {"trunk.weight": 0.0, "trunk.bias": 0.0}

    def through_trunk(d_h):
        d_pre = d_h * (1.0 - h**2)
        return {"trunk.weight": d_pre.T @ x, "trunk.bias": d_pre.sum(axis=0)}

    g_cls = {**zero_trunk, **through_trunk(d_scores @ params["cls.weight"])}
    g_cls.update({"cls.weight": d_scores.T @ h, "cls.bias": d_scores.sum(axis=0)})
    g_cls.update({"box.weight": np.zeros_like(params["box.weight"]), "box.bias": np.zeros_like(params["box.bias"])})
    g_loc = through_trunk(d_boxes @ params["box.weight"])
    g_loc.update({"box.weight": d_boxes.T @ h, "box.bias": d_boxes.sum(axis=0)})
    g_loc.update({"cls.weight": np.zeros_like(params["cls.weight"]), "cls.bias": np.zeros_like(params["cls.bias"])})
    return l_cls, l_loc, g_cls, g_loc


def train(problem, boxes, lam, steps, learning_rate, to_pixels=lambda predicted: predicted):
    """Full-batch gradient descent as in the chapter; per-step diagnostics as arrays."""
    params = {name: value.copy() for name, value in problem["initial"].items()}
    x, labels, boxes_px = problem["features"], problem["labels"], problem["boxes_px"]
    history = {"L_cls": [], "L_loc": [], "box_error": [], "saturated": [], "w_box": []}
    for _ in range(steps):
        l_cls, l_loc, g_cls, g_loc = gradients(params, x, labels, boxes, lam)
        h, _, predicted = forward(params, x)
        history["L_cls"].append(l_cls)
        history["L_loc"].append(l_loc)
        history["box_error"].append(np.abs(to_pixels(predicted) - boxes_px).mean())
        history["saturated"].append((np.abs(h) > 0.99).mean())
        history["w_box"].append(np.linalg.norm(params["box.weight"]))
        for name in params:
            params[name] = params[name] - learning_rate * (g_cls[name] + g_loc[name])
    return {key: np.array(values) for key, values in history.items()}


LAMBDAS = (0.1, 1.0, 4.0, 10.0)  # the page's table of final losses


@pytest.fixture(scope="module")
def runs(problem, glued):
    """Every training run the chapter shows, recomputed in numpy for the page's steps and learning rate."""
    def from_standardised(predicted):
        return problem["box_mean"] + problem["box_std"] * predicted

    steps, rate = glued["combining-steps"], glued["combining-learning-rate"]
    std, px, image = problem["boxes_std"], problem["boxes_px"], problem["IMAGE"]
    return {
        "pixels": train(problem, px, 1.0, steps, rate),
        "pixels small lambda": train(problem, px, 1.0 / image, steps, rate),
        **{f"standardised {lam:g}": train(problem, std, lam, steps, rate, from_standardised) for lam in LAMBDAS},
        "standardised lambda*": train(problem, std, trunk_balance(problem, std), steps, rate, from_standardised),
    }


def trunk_norms(problem, boxes):
    """Norms of the trunk-weight gradients of L_cls and of L_loc at the initial parameters."""
    _, _, g_cls, g_loc = gradients(problem["initial"], problem["features"], problem["labels"], boxes, 1.0)
    return np.linalg.norm(g_cls["trunk.weight"]), np.linalg.norm(g_loc["trunk.weight"])


def trunk_balance(problem, boxes):
    """lambda*, at which both terms' trunk-weight gradients have equal norm."""
    cls_norm, loc_norm = trunk_norms(problem, boxes)
    return cls_norm / loc_norm


# Fast R-CNN's sum over the coordinates.


def test_fast_rcnn_sum_is_four_times_the_mean(glued):
    """torch: smooth_l1_loss(reduction='sum') / N over 3 regions is exactly 4 times the default mean."""
    rng = np.random.default_rng(0)
    pred, target = (torch.tensor(a) for a in rng.standard_normal((2, 3, 4)))  # as the page draws them
    per_region_sum = torch.nn.functional.smooth_l1_loss(pred, target, reduction="sum").item() / 3
    mean = torch.nn.functional.smooth_l1_loss(pred, target).item()
    assert_allclose(glued["combining-fast-rcnn-sum"], per_region_sum, rtol=1e-15)
    assert_allclose(glued["combining-fast-rcnn-mean"], mean, rtol=1e-15)
    assert_allclose(glued["combining-fast-rcnn-factor"], 4.0, rtol=1e-15)
    r = np.abs((pred - target).numpy())
    by_hand = np.where(r < 1.0, 0.5 * r**2, r - 0.5)  # Smooth L1 with beta = 1
    assert_allclose(by_hand.sum(axis=1).mean() / by_hand.mean(), 4.0, rtol=1e-15)


# The three implementations.


def test_the_frameworks_agree_to_the_last_bits(glued, problem):
    """The loss the tabs print is torch's L_cls + L_loc; the gradients agree to under 1e-15."""
    x = torch.tensor(problem["features"])
    params = {name: torch.tensor(value) for name, value in problem["initial"].items()}
    h = torch.tanh(x @ params["trunk.weight"].T + params["trunk.bias"])
    loss = torch.nn.functional.cross_entropy(h @ params["cls.weight"].T + params["cls.bias"],
                                             torch.tensor(problem["labels"]))
    loss = loss + torch.nn.functional.smooth_l1_loss(h @ params["box.weight"].T + params["box.bias"],
                                                     torch.tensor(problem["boxes_std"]))
    assert_allclose(glued["combining-loss"], loss.item(), rtol=1e-14)
    assert 0 < glued["combining-parity-max"] < 1e-15


def test_linearity_check_is_rounding_error(glued, problem):
    """torch's gradient of each combined loss equals the sum of the term gradients to a few ulp of the largest."""
    largest = 0.0
    for lam in (0.1, 1.0, 10.0):  # the page's table
        _, _, g_cls, g_loc = gradients(problem["initial"], problem["features"], problem["labels"],
                                       problem["boxes_std"], lam)
        largest = max(largest, *(np.abs(g_cls[name] + g_loc[name]).max() for name in g_cls))
    assert glued["combining-linearity"] <= 4 * np.finfo(np.float64).eps * largest


def test_lambda_star_is_the_trunk_balance(glued, problem):
    """lambda* glued on the page is the ratio of the hand-derived trunk gradient norms."""
    assert_allclose(glued["combining-lambda-star"], trunk_balance(problem, problem["boxes_std"]), rtol=1e-12)


def test_the_torch_loop_and_lossbook_train_agree(glued):
    """After 100 steps on pixel targets, torch's SGD loop and lb.multitask.train differ by rounding error."""
    assert glued["combining-train-torch-gap"] < 1e-12


def test_hand_gradients_match_torch_autograd(problem):
    """The numpy chain rule equals torch.autograd on the same network for L_cls + lambda L_loc."""
    lam = 3.0
    params = {name: torch.tensor(value, requires_grad=True) for name, value in problem["initial"].items()}
    x = torch.tensor(problem["features"])
    h = torch.tanh(x @ params["trunk.weight"].T + params["trunk.bias"])
    scores = h @ params["cls.weight"].T + params["cls.bias"]
    boxes = h @ params["box.weight"].T + params["box.bias"]
    target = torch.tensor(problem["boxes_std"])
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(problem["labels"]))
    loss = loss + lam * torch.nn.functional.smooth_l1_loss(boxes, target)
    loss.backward()
    _, _, g_cls, g_loc = gradients(
        problem["initial"], problem["features"], problem["labels"], problem["boxes_std"], lam
    )
    for name, param in params.items():
        assert_allclose(g_cls[name] + g_loc[name], param.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_gluon_multi_task_gradient_matches_hand_gradient(problem):
    """gluon's per-sample SoftmaxCELoss + HuberLoss(rho=1), backward and / N, gives the hand gradient."""
    mx = frameworks.require("mxnet")

    def nd(values):
        return frameworks.as_float64(values, "mxnet")

    params = {name: nd(value) for name, value in problem["initial"].items()}
    for value in params.values():
        value.attach_grad()
    with mx.autograd.record():
        h = mx.nd.tanh(mx.nd.dot(nd(problem["features"]), params["trunk.weight"], transpose_b=True) + params["trunk.bias"])
        scores = mx.nd.dot(h, params["cls.weight"], transpose_b=True) + params["cls.bias"]
        boxes = mx.nd.dot(h, params["box.weight"], transpose_b=True) + params["box.bias"]
        per_sample = mx.gluon.loss.SoftmaxCrossEntropyLoss()(scores, nd(problem["labels"]))
        per_sample = per_sample + mx.gluon.loss.HuberLoss(rho=1.0)(boxes, nd(problem["boxes_std"]))
    per_sample.backward()
    _, _, g_cls, g_loc = gradients(
        problem["initial"], problem["features"], problem["labels"], problem["boxes_std"], 1.0
    )
    for name, value in params.items():
        assert_allclose(value.grad.asnumpy() / problem["N"], g_cls[name] + g_loc[name], rtol=1e-12, atol=1e-15)


def test_each_head_hears_only_its_own_loss(problem):
    """The class head gets no gradient from L_loc and the box head none from L_cls; the trunk gets both."""
    _, _, g_cls, g_loc = gradients(
        problem["initial"], problem["features"], problem["labels"], problem["boxes_std"], 1.0
    )
    assert not np.any(g_loc["cls.weight"]) and not np.any(g_cls["box.weight"])
    assert np.linalg.norm(g_cls["trunk.weight"]) > 0 and np.linalg.norm(g_loc["trunk.weight"]) > 0


def test_lambda_decides_who_pulls_on_the_trunk(problem):
    """At lambda = 0.1 the trunk gradient is mostly classification, at 10 mostly localisation."""
    cls_norm, loc_norm = trunk_norms(problem, problem["boxes_std"])
    assert 0.1 * loc_norm < 0.1 * cls_norm
    assert 10.0 * loc_norm > 5.0 * cls_norm
    assert 1.0 < cls_norm / loc_norm < 4.0  # lambda* lies between the table's rows 1 and 4


# Different scales.


def test_pixel_loss_is_almost_two_hundred_times_the_class_loss(glued, problem):
    """At the start L_loc in pixels is between 150 and 200 times L_cls (the prose: almost two hundred)."""
    _, scores, predicted = forward(problem["initial"], problem["features"])
    l_cls, _ = cross_entropy(scores, problem["labels"])
    l_loc, _ = smooth_l1(predicted, problem["boxes_px"])
    assert_allclose(glued["combining-loc-ratio-0"], l_loc / l_cls, rtol=1e-13)
    assert 150 < l_loc / l_cls < 200


def test_pixel_residuals_start_large_and_negative(problem):
    """All but at most 1% of the initial pixel residuals lie below -1, most below -100 (the prose: nearly all)."""
    _, _, predicted = forward(problem["initial"], problem["features"])
    residuals = predicted - problem["boxes_px"]
    assert np.mean(residuals < -1.0) > 0.99
    assert np.median(residuals) < -100.0


def test_smooth_l1_gradient_is_capped_at_one():
    """torch's Smooth L1 (beta = 1) has a derivative of size at most 1 everywhere."""
    r = torch.linspace(-500.0, 500.0, 20001, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.smooth_l1_loss(r, torch.zeros_like(r), reduction="sum").backward()
    assert r.grad.abs().max().item() == 1.0


def test_the_runs_numbers_on_the_page(glued, runs):
    """Every number the prose states about the runs equals the hand-derived runs' (500 steps, rate 0.1)."""
    pixels, small, standardised = runs["pixels"], runs["pixels small lambda"], runs["standardised 1"]
    assert (glued["combining-steps"], glued["combining-learning-rate"]) == (500, 0.1)
    assert glued["combining-px-cls-argmin"] == pixels["L_cls"].argmin()
    expected = {
        "combining-px-cls-min": pixels["L_cls"].min(),
        "combining-px-cls-final": pixels["L_cls"][-1],
        "combining-px-wbox-0": pixels["w_box"][0],
        "combining-px-wbox-final": pixels["w_box"][-1],
        "combining-px-saturated": pixels["saturated"][-1],
        "combining-std-saturated": standardised["saturated"][-1],
        "combining-px-box-final": pixels["box_error"][-1],
        "combining-small-lambda-box-0": small["box_error"][0],
        "combining-small-lambda-box-final": small["box_error"][-1],
        "combining-small-lambda-cls-final": small["L_cls"][-1],
        "combining-std-box-final": standardised["box_error"][-1],
        "combining-std-cls-final": standardised["L_cls"][-1],
    }
    for key, value in expected.items():
        assert_allclose(glued[key], value, rtol=RUN_RTOL, err_msg=key)


def test_the_table_of_final_losses(glued, runs):
    """The final L_cls and box error for each lambda in the table equal the hand-derived runs'."""
    table = glued["combining-sweep"]
    assert sorted(table) == list(LAMBDAS)
    for lam in LAMBDAS:
        run = runs[f"standardised {lam:g}"]
        assert_allclose(table[lam]["L_cls"], run["L_cls"][-1], rtol=RUN_RTOL)
        assert_allclose(table[lam]["box error (px)"], run["box_error"][-1], rtol=RUN_RTOL)


def test_pixel_run_hides_and_then_unlearns_the_classifier(runs):
    """In pixels L_loc stays over 100 times L_cls; L_cls falls, bottoms out early, then rises clearly."""
    pixels = runs["pixels"]
    assert np.all(pixels["L_loc"] / pixels["L_cls"] > 100)
    lowest = pixels["L_cls"].argmin()
    assert 0 < lowest < 200
    assert pixels["L_cls"][-1] > pixels["L_cls"].min() + 0.1


def test_pixel_run_grows_the_box_head_and_saturates_the_trunk(runs):
    """|W_box| grows over 20-fold; over 90% of trunk activations saturate, against under 10% standardised."""
    pixels, standardised = runs["pixels"], runs["standardised 1"]
    assert pixels["w_box"][-1] > 20 * pixels["w_box"][0]
    assert pixels["saturated"][-1] > 0.9
    assert standardised["saturated"][-1] < 0.1
    assert pixels["box_error"][-1] > 100


def test_small_lambda_spares_the_classifier_but_freezes_the_boxes(runs):
    """lambda = 1/512 on pixels: the box error moves by under a pixel; L_cls ends near the standardised run."""
    small = runs["pixels small lambda"]
    assert abs(small["box_error"][-1] - small["box_error"][0]) < 1.0
    assert small["box_error"][-1] > 240
    assert abs(small["L_cls"][-1] - runs["standardised 1"]["L_cls"][-1]) < 0.02


def test_standardised_targets_learn_both(runs):
    """Standardised boxes with lambda = 1: box error under 25 px and L_cls under 0.4 nats."""
    standardised = runs["standardised 1"]
    assert standardised["box_error"][-1] < 25
    assert standardised["L_cls"][-1] < 0.4
    assert standardised["L_cls"][-1] < runs["pixels"]["L_cls"][-1] - 0.2


def test_lambda_trades_boxes_for_almost_nothing(runs):
    """Raising lambda from 0.1 to 10 lowers the box error step by step; L_cls moves by under 0.02."""
    errors = [runs[f"standardised {lam:g}"]["box_error"][-1] for lam in LAMBDAS]
    losses = [runs[f"standardised {lam:g}"]["L_cls"][-1] for lam in LAMBDAS]
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert max(losses) - min(losses) < 0.02


# The exercises.


def test_smooth_l1_scales_exactly_by_a_power_of_two():
    """torch: smooth_l1(512 r, beta = 512) is exactly 512 smooth_l1(r, beta = 1)."""
    r = torch.linspace(-3.0, 3.0, 13, dtype=torch.float64)
    zero = torch.zeros_like(r)
    scaled = torch.nn.functional.smooth_l1_loss(512 * r, zero, beta=512.0, reduction="none")
    plain = torch.nn.functional.smooth_l1_loss(r, zero, beta=1.0, reduction="none")
    assert torch.equal(scaled, 512 * plain)


def test_pixel_balance_weight_is_larger(glued, problem):
    """lambda* is larger for pixel targets than for standardised ones (the trunk gradient cancels)."""
    assert_allclose(glued["combining-star-px"], trunk_balance(problem, problem["boxes_px"]), rtol=1e-12)
    assert trunk_balance(problem, problem["boxes_px"]) > 3 * trunk_balance(problem, problem["boxes_std"])


def test_balanced_lambda_lands_between_rows(glued, runs):
    """Trained with lambda*, the final L_cls and box error lie between those for lambda = 1 and 4."""
    balanced, one, four = runs["standardised lambda*"], runs["standardised 1"], runs["standardised 4"]
    assert_allclose(glued["combining-balanced"]["L_cls"], balanced["L_cls"][-1], rtol=RUN_RTOL)
    assert_allclose(glued["combining-balanced"]["box error (px)"], balanced["box_error"][-1], rtol=RUN_RTOL)
    assert one["L_cls"][-1] < balanced["L_cls"][-1] < four["L_cls"][-1]
    assert four["box_error"][-1] < balanced["box_error"][-1] < one["box_error"][-1]


@pytest.mark.parametrize("task_loss", [0.02, 1.0, 250.0])
def test_uncertainty_weighting_optimum(task_loss):
    """min over sigma of L/(2 sigma^2) + log sigma is at sigma^2 = L with value 1/2 + log(L)/2 (mpmath)."""
    mpmath.mp.dps = 40

    def term(log_sigma):
        return task_loss / (2 * mpmath.exp(2 * log_sigma)) + log_sigma

    # Golden-section search on log sigma over [-10, 10], with no use of the closed form.
    low, high = mpmath.mpf(-10), mpmath.mpf(10)
    ratio = (mpmath.sqrt(5) - 1) / 2
    for _ in range(200):
        left, right = high - ratio * (high - low), low + ratio * (high - low)
        low, high = (low, right) if term(left) < term(right) else (left, high)
    best = (low + high) / 2
    assert math.isclose(float(mpmath.exp(2 * best)), task_loss, rel_tol=1e-12)
    assert math.isclose(float(term(best)), 0.5 + 0.5 * math.log(task_loss), rel_tol=1e-12)


def test_uncertainty_weighting_gradient_ignores_units():
    """d/dtheta of log(c L(theta))/2 is the same for c = 1 and c = 512 (torch autograd)."""
    theta = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    grads = []
    for c in (1.0, 512.0):
        (grad,) = torch.autograd.grad(0.5 * torch.log(c * ((theta**2).sum() + 1.0)), theta)
        grads.append(grad)
    assert not torch.allclose(grads[0], torch.zeros(2, dtype=torch.float64))
    # (theta^2 + 1) scaled by c: the gradient of log(c f) is grad f / f whatever c is.
    assert torch.allclose(grads[0], grads[1], rtol=1e-15, atol=0)


def test_port_of_gluon_huber_with_rho_two():
    """gluon HuberLoss(rho=2) per-sample mean is torch SmoothL1Loss(beta=2); torch HuberLoss(delta=2) is twice it."""
    mx = frameworks.require("mxnet")
    rng = np.random.default_rng(7)
    pred, label = 3.0 * rng.standard_normal((8, 4)), 3.0 * rng.standard_normal((8, 4))
    gluon = mx.gluon.loss.HuberLoss(rho=2.0)(
        mx.nd.from_numpy(pred, zero_copy=False), mx.nd.from_numpy(label, zero_copy=False)
    ).asnumpy().mean()
    pair = torch.tensor(pred), torch.tensor(label)
    assert_allclose(gluon, torch.nn.SmoothL1Loss(beta=2.0)(*pair).item(), rtol=1e-12)
    assert_allclose(torch.nn.HuberLoss(delta=2.0)(*pair).item(), 2 * gluon, rtol=1e-12)

"""lossbook.multitask: the tiny detector's losses, gradients, training and figures, against torch."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

import lossbook.multitask as multitask  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def problem():
    """The chapter's problem, seed 0."""
    return multitask.detection_problem(seed=0)


class TorchDetector(torch.nn.Module):
    """The same detector in torch, from the problem's initial parameters."""

    def __init__(self, parameters):
        super().__init__()
        self.trunk = torch.nn.Linear(multitask.FEATURES, multitask.HIDDEN, dtype=torch.float64)
        self.cls = torch.nn.Linear(multitask.HIDDEN, multitask.CLASSES, dtype=torch.float64)
        self.box = torch.nn.Linear(multitask.HIDDEN, multitask.COORDS, dtype=torch.float64)
        self.load_state_dict({name: torch.tensor(value) for name, value in parameters.items()})

    def forward(self, x):
        h = torch.tanh(self.trunk(x))
        return h, self.cls(h), self.box(h)


def torch_terms(problem, unit):
    """torch's model and its two loss terms at the initial parameters."""
    model = TorchDetector(problem.initial)
    _, scores, boxes = model(torch.tensor(problem.features))
    l_cls = F.cross_entropy(scores, torch.tensor(problem.labels))
    l_loc = F.smooth_l1_loss(boxes, torch.tensor(problem.targets(unit)))
    return model, l_cls, l_loc


def torch_gradients(model, loss):
    """d loss / d parameter by torch.autograd, by name (zero where the loss does not reach)."""
    grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True, materialize_grads=True)
    return {name: g.numpy() for (name, _), g in zip(model.named_parameters(), grads)}


def torch_training(problem, unit, lam, steps, learning_rate=0.1):
    """torch.optim.SGD on L_cls + lam * L_loc, with the history columns computed from torch's tensors."""
    model = TorchDetector(problem.initial)
    optimiser = torch.optim.SGD(model.parameters(), lr=learning_rate)
    x, y = torch.tensor(problem.features), torch.tensor(problem.labels)
    targets = torch.tensor(problem.targets(unit))
    mean, std = problem.boxes_px.mean(axis=0), problem.boxes_px.std(axis=0)
    rows = []
    for _ in range(steps):
        h, scores, boxes = model(x)
        l_cls, l_loc = F.cross_entropy(scores, y), F.smooth_l1_loss(boxes, targets)
        predicted = boxes.detach().numpy()
        pixels = predicted if unit == "pixels" else mean + std * predicted
        rows.append([l_cls.item(), l_loc.item(), np.abs(pixels - problem.boxes_px).mean(),
                     (h.abs() > 0.99).double().mean().item(), model.box.weight.norm().item()])
        optimiser.zero_grad()
        (l_cls + lam * l_loc).backward()
        optimiser.step()
    return np.array(rows)


# The problem.


def test_problem_is_seeded_and_inside_the_image(problem):
    """The same seed gives the same problem; boxes lie inside the 512-pixel image; all three classes occur."""
    again = multitask.detection_problem(seed=0)
    assert np.array_equal(again.features, problem.features) and np.array_equal(again.boxes_px, problem.boxes_px)
    assert not np.array_equal(multitask.detection_problem(seed=1).features, problem.features)
    assert problem.features.shape == (256, 4) and problem.labels.dtype == np.int64
    assert 0 < problem.boxes_px.min() and problem.boxes_px.max() < multitask.IMAGE
    assert set(np.unique(problem.labels)) == {0, 1, 2}
    assert [name for name in problem.initial] == list(multitask.PARAMETERS)
    assert not np.any(problem.initial["cls.bias"])


def test_standardised_targets_have_mean_zero_and_spread_one(problem):
    """Each standardised coordinate has mean 0 and standard deviation 1; to_pixels undoes it."""
    standardised = problem.targets("standardised")
    assert_allclose(standardised.mean(axis=0), 0.0, atol=1e-13)
    assert_allclose(standardised.std(axis=0), 1.0, rtol=1e-13)
    assert_allclose(problem.to_pixels(standardised, "standardised"), problem.boxes_px, rtol=1e-13)
    assert problem.targets("pixels") is problem.boxes_px
    assert problem.to_pixels(problem.boxes_px, "pixels") is problem.boxes_px


@pytest.mark.parametrize("method", ["targets", "to_pixels"])
def test_an_unknown_unit_is_a_value_error(problem, method):
    """The unit must be pixels or standardised; the error names it."""
    arguments = ("metres",) if method == "targets" else (problem.boxes_px, "metres")
    with pytest.raises(ValueError, match="unit must be one of"):
        getattr(problem, method)(*arguments)


# The network, its losses and gradients.


def test_forward_matches_torch(problem):
    """Trunk activations, scores and boxes equal torch's Linear-tanh-Linear network."""
    h, scores, boxes = multitask.forward(problem.initial, problem.features)
    expected = TorchDetector(problem.initial)(torch.tensor(problem.features))
    for mine, theirs in zip((h, scores, boxes), expected):
        assert_allclose(mine, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("unit", multitask.UNITS)
def test_losses_match_torch(problem, unit):
    """L_cls is torch's cross_entropy and L_loc its smooth_l1_loss (beta = 1, mean)."""
    _, l_cls, l_loc = torch_terms(problem, unit)
    assert_allclose(multitask.losses(problem.initial, problem, unit), (l_cls.item(), l_loc.item()), rtol=1e-13)


@pytest.mark.parametrize("unit", multitask.UNITS)
def test_gradients_match_torch_autograd(problem, unit):
    """The chain rule gives torch.autograd's gradient of L_cls + 3 L_loc, parameter by parameter."""
    model, l_cls, l_loc = torch_terms(problem, unit)
    expected = torch_gradients(model, l_cls + 3.0 * l_loc)
    mine = multitask.gradients(problem.initial, problem, 3.0, unit)
    for name in multitask.PARAMETERS:
        assert_allclose(mine[name], expected[name], rtol=1e-12, atol=1e-15)


def test_term_gradients_match_torch_and_each_head_hears_only_its_loss(problem):
    """Each term's gradient is torch's; the class head gets none from L_loc, the box head none from L_cls."""
    model, l_cls, l_loc = torch_terms(problem, "standardised")
    g_cls, g_loc = multitask.term_gradients(problem.initial, problem, "standardised")
    for mine, loss in ((g_cls, l_cls), (g_loc, l_loc)):
        expected = torch_gradients(model, loss)
        for name in multitask.PARAMETERS:
            assert_allclose(mine[name], expected[name], rtol=1e-12, atol=1e-15)
    assert not np.any(g_loc["cls.weight"]) and not np.any(g_cls["box.weight"])


def test_contributions_are_the_norms_of_torchs_gradients(problem):
    """Each column is the Frobenius norm of a torch gradient: of L_cls, of lam L_loc, of their sum."""
    model, l_cls, l_loc = torch_terms(problem, "standardised")
    g_cls, g_loc = multitask.term_gradients(problem.initial, problem, "standardised")
    table = multitask.contributions(g_cls, g_loc, [0.5, 2.0])
    assert list(table.index) == list(multitask.PARAMETERS)
    assert list(table.columns) == [("any λ", "|∇L_cls|"), ("λ = 0.5", "λ|∇L_loc|"), ("λ = 0.5", "|∇L|"),
                                   ("λ = 2", "λ|∇L_loc|"), ("λ = 2", "|∇L|")]
    for lam in (0.5, 2.0):
        total = torch_gradients(model, l_cls + lam * l_loc)
        weighted = torch_gradients(model, lam * l_loc)
        for name in multitask.PARAMETERS:
            assert_allclose(table.loc[name, (f"λ = {lam:g}", "|∇L|")], np.linalg.norm(total[name]), rtol=1e-12)
            assert_allclose(table.loc[name, (f"λ = {lam:g}", "λ|∇L_loc|")], np.linalg.norm(weighted[name]),
                            rtol=1e-12, atol=1e-300)
    cls_only = torch_gradients(model, l_cls)
    assert_allclose(table[("any λ", "|∇L_cls|")], [np.linalg.norm(cls_only[n]) for n in multitask.PARAMETERS],
                    rtol=1e-12)


@pytest.mark.parametrize("unit", multitask.UNITS)
def test_balancing_weight_equalises_the_trunk_gradients(problem, unit):
    """lambda* is the ratio of torch's trunk-weight gradient norms of L_cls and L_loc."""
    model, l_cls, l_loc = torch_terms(problem, unit)
    expected = np.linalg.norm(torch_gradients(model, l_cls)["trunk.weight"]) / np.linalg.norm(
        torch_gradients(model, l_loc)["trunk.weight"]
    )
    assert_allclose(multitask.balancing_weight(problem, unit), expected, rtol=1e-12)
    assert_allclose(multitask.balancing_weight(problem, unit, problem.initial), expected, rtol=1e-12)


# Training.


@pytest.mark.parametrize(("unit", "lam"), [("pixels", 1.0), ("standardised", 0.3)])
def test_train_follows_torch_sgd(problem, unit, lam):
    """Every column of the history equals the same run with torch.optim.SGD, step by step."""
    history = multitask.train(problem, unit, lam, steps=40, learning_rate=0.1)
    assert list(history.columns) == list(multitask.HISTORY) and len(history) == 40
    assert_allclose(history.to_numpy(), torch_training(problem, unit, lam, 40), rtol=1e-10, atol=1e-12)


def test_train_runs_keeps_the_runs_apart(problem):
    """Runs trained side by side each follow their own torch.optim.SGD run."""
    settings = {"a": ("pixels", 1 / 512), "b": ("standardised", 1.0), "c": ("standardised", 10.0)}
    histories = multitask.train_runs(problem, settings, steps=25, learning_rate=0.05)
    assert list(histories) == ["a", "b", "c"]
    for name, (unit, lam) in settings.items():
        expected = torch_training(problem, unit, lam, 25, learning_rate=0.05)
        assert_allclose(histories[name].to_numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("settings", "options", "match"),
    [
        ({}, {}, "settings must name"),
        ({"a": ("metres", 1.0)}, {}, "unit must be"),
        ({"a": ("pixels", 0.0)}, {}, "lam must be"),
        ({"a": ("pixels", np.nan)}, {}, "lam must be"),
        ({"a": ("pixels", 1.0)}, {"steps": 0}, "steps must be"),
        ({"a": ("pixels", 1.0)}, {"steps": 2.5}, "steps must be"),
        ({"a": ("pixels", 1.0)}, {"learning_rate": -0.1}, "learning_rate must be"),
    ],
)
def test_train_runs_rejects_bad_settings(problem, settings, options, match):
    """Bad settings are a ValueError naming what is wrong."""
    with pytest.raises(ValueError, match=match):
        multitask.train_runs(problem, settings, **options)


# Figures.


def test_plot_trunk_balance_draws_torchs_gradient_norms(problem):
    """Flat L_cls norm, lambda times the L_loc norm, the combined norm, and a dotted line at lambda*."""
    lambdas = np.array([0.1, 1.0, 10.0])
    model, l_cls, l_loc = torch_terms(problem, "standardised")
    g_cls = torch_gradients(model, l_cls)["trunk.weight"]
    g_loc = torch_gradients(model, l_loc)["trunk.weight"]
    ax = multitask.plot_trunk_balance(problem, "standardised", lambdas)
    flat, sloped, combined, star = ax.get_lines()
    assert_allclose(flat.get_ydata(), np.linalg.norm(g_cls), rtol=1e-12)
    assert_allclose(sloped.get_ydata(), lambdas * np.linalg.norm(g_loc), rtol=1e-12)
    assert_allclose(combined.get_ydata(), [np.linalg.norm(g_cls + lam * g_loc) for lam in lambdas], rtol=1e-12)
    assert_allclose(star.get_xdata(), np.linalg.norm(g_cls) / np.linalg.norm(g_loc), rtol=1e-12)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() and ax.get_legend()


def test_plot_terms_draws_both_losses_and_their_sum():
    """Three lines: L_cls, L_loc and their sum, on a log scale, labelled."""
    history = multitask.train(multitask.detection_problem(), "pixels", 1.0, steps=5)
    ax = multitask.plot_terms(history)
    cls_line, loc_line, total = ax.get_lines()
    assert_allclose(cls_line.get_ydata(), history["L_cls"])
    assert_allclose(loc_line.get_ydata(), history["L_loc"])
    assert_allclose(total.get_ydata(), history["L_cls"] + history["L_loc"])
    assert ax.get_yscale() == "log" and ax.get_title() and ax.get_legend()


def test_plot_runs_draws_one_line_per_run_in_each_panel():
    """Left: each run's L_cls; right: each run's box error on a log scale; the legend names the runs."""
    problem = multitask.detection_problem()
    runs = multitask.train_runs(problem, {"one": ("pixels", 1.0), "two": ("standardised", 1.0)}, steps=3)
    left, right = multitask.plot_runs(runs)
    for name, cls_line, error_line in zip(runs, left.get_lines(), right.get_lines()):
        assert_allclose(cls_line.get_ydata(), runs[name]["L_cls"])
        assert_allclose(error_line.get_ydata(), runs[name]["box error (px)"])
    assert [text.get_text() for text in left.get_legend().get_texts()] == ["one", "two"]
    assert right.get_yscale() == "log" and left.get_title() and right.get_title()

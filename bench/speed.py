"""Time of each loss (reduction="mean") in lossbook, torch and gluon, as ratios to torch.

Inputs hold 10**6 float64 elements (multi-class losses: 10**5 samples x 10
classes). Each time is the median of repeated single calls (the ratio of the
fastest calls is printed too); the three
implementations take turns, so that a busy machine slows them alike. torch
runs on the CPU with its default threads (restored after importing mxnet,
which lowers them to one); gluon's call includes waiting for
its asynchronous result. Losses torch lacks are timed as the torch expression
that defines them.

Run: .venv/bin/python bench/speed.py
"""

import os
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

import lossbook as lb

TORCH_THREADS = torch.get_num_threads()
warnings.filterwarnings("ignore", category=DeprecationWarning, module="mxnet")
warnings.filterwarnings("ignore", category=DeprecationWarning, module="mxnet.*")
from mxnet import gluon, nd  # noqa: E402  (after the filter, which must precede the import)

torch.set_num_threads(TORCH_THREADS)  # importing mxnet drops torch to one thread

SIZE = 10**6
CLASSES = 10
REPEATS = 21


@dataclass
class Timing:
    loss: str
    lossbook: Callable
    torch: Callable
    gluon: Optional[Callable]


def batches(rng):
    """The numpy inputs, and their torch and gluon (float64) copies."""
    data = {
        "x": rng.normal(size=SIZE),
        "y": rng.normal(size=SIZE),
        "p": rng.uniform(0.001, 0.999, SIZE),
        "bits": rng.integers(0, 2, SIZE).astype(np.float64),
        "counts": rng.poisson(2.0, SIZE).astype(np.float64),
        "logits": rng.normal(size=(SIZE // CLASSES, CLASSES)) * 3,
        "labels": rng.integers(0, CLASSES, SIZE // CLASSES),
    }
    data["signs"] = 2 * data["bits"] - 1
    data["log_p"] = lb.log_softmax(data["logits"])
    data["target_p"] = lb.softmax(rng.normal(size=(SIZE // CLASSES, CLASSES)))
    tensors = {k: torch.from_numpy(v) for k, v in data.items()}
    arrays = {k: nd.array(v, dtype="float64") for k, v in data.items()}
    return data, tensors, arrays


def gluon_mean(block):
    """A gluon loss block reduced to its mean, waiting for the asynchronous result."""
    def run(*arrays):
        out = block(*arrays).mean()
        out.wait_to_read()
        return out
    return run


def timings(d, t, g):
    """One Timing per loss; gluon=None where gluon has no such loss."""
    L = gluon.loss

    def on(block, *names):
        return lambda: gluon_mean(block)(*(g[name] for name in names))

    def pinball(x, y, q=0.9):
        return q * torch.clamp(y - x, min=0) + (1 - q) * torch.clamp(x - y, min=0)

    def hinge(x, y):
        return torch.clamp(1 - y * x, min=0)

    return [
        Timing("mse_loss", lambda: lb.mse_loss(d["x"], d["y"]),
               lambda: F.mse_loss(t["x"], t["y"]), on(L.L2Loss(), "x", "y")),
        Timing("l1_loss", lambda: lb.l1_loss(d["x"], d["y"]),
               lambda: F.l1_loss(t["x"], t["y"]), on(L.L1Loss(), "x", "y")),
        Timing("huber_loss", lambda: lb.huber_loss(d["x"], d["y"]),
               lambda: F.huber_loss(t["x"], t["y"]), on(L.HuberLoss(), "x", "y")),
        Timing("smooth_l1_loss", lambda: lb.smooth_l1_loss(d["x"], d["y"]),
               lambda: F.smooth_l1_loss(t["x"], t["y"]), on(L.HuberLoss(), "x", "y")),
        Timing("quantile_loss (torch expr.)", lambda: lb.quantile_loss(d["x"], d["y"], q=0.9),
               lambda: pinball(t["x"], t["y"]).mean(), None),
        Timing("poisson_nll_loss", lambda: lb.poisson_nll_loss(d["x"], d["counts"]),
               lambda: F.poisson_nll_loss(t["x"], t["counts"]),
               on(L.PoissonNLLLoss(), "x", "counts")),
        Timing("binary_cross_entropy", lambda: lb.binary_cross_entropy(d["p"], d["bits"]),
               lambda: F.binary_cross_entropy(t["p"], t["bits"]),
               on(L.SigmoidBCELoss(from_sigmoid=True), "p", "bits")),
        Timing("binary_cross_entropy_with_logits",
               lambda: lb.binary_cross_entropy_with_logits(d["x"], d["bits"]),
               lambda: F.binary_cross_entropy_with_logits(t["x"], t["bits"]),
               on(L.SigmoidBCELoss(), "x", "bits")),
        Timing("cross_entropy (class indices)", lambda: lb.cross_entropy(d["logits"], d["labels"]),
               lambda: F.cross_entropy(t["logits"], t["labels"]),
               on(L.SoftmaxCELoss(), "logits", "labels")),
        Timing("cross_entropy (probabilities)",
               lambda: lb.cross_entropy(d["logits"], d["target_p"]),
               lambda: F.cross_entropy(t["logits"], t["target_p"]),
               on(L.SoftmaxCELoss(sparse_label=False), "logits", "target_p")),
        Timing("nll_loss", lambda: lb.nll_loss(d["log_p"], d["labels"]),
               lambda: F.nll_loss(t["log_p"], t["labels"]),
               on(L.SoftmaxCELoss(from_logits=True), "log_p", "labels")),
        Timing("kl_div (batchmean)",
               lambda: lb.kl_div(d["log_p"], d["target_p"], reduction="batchmean"),
               lambda: F.kl_div(t["log_p"], t["target_p"], reduction="batchmean"),
               on(L.KLDivLoss(), "log_p", "target_p")),
        Timing("soft_margin_loss", lambda: lb.soft_margin_loss(d["x"], d["signs"]),
               lambda: F.soft_margin_loss(t["x"], t["signs"]),
               on(L.LogisticLoss(), "x", "signs")),
        Timing("hinge_loss (torch expr.)", lambda: lb.hinge_loss(d["x"], d["signs"]),
               lambda: hinge(t["x"], t["signs"]).mean(), on(L.HingeLoss(), "x", "signs")),
        Timing("squared_hinge_loss (torch expr.)",
               lambda: lb.squared_hinge_loss(d["x"], d["signs"]),
               lambda: hinge(t["x"], t["signs"]).square().mean(),
               on(L.SquaredHingeLoss(), "x", "signs")),
    ]


def call_times(functions):
    """Seconds per call of each function, REPEATS samples each, interleaved round by round."""
    samples = [[] for _ in functions]
    for function in functions:
        function()  # warm up: first-call allocation and dispatch
    for _ in range(REPEATS):
        for sample, function in zip(samples, functions):
            start = time.perf_counter()
            function()
            sample.append(time.perf_counter() - start)
    return samples


def main():
    d, t, g = batches(np.random.default_rng(0))
    print(__doc__.split("\n\n")[0])
    print(f"(median of {REPEATS} calls; torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the start)\n")
    header = (f"{'loss':34s} {'lossbook ms':>11s} {'torch ms':>9s} {'gluon ms':>9s} "
              f"{'lossbook/torch':>14s} {'gluon/torch':>11s} {'best-of ratio':>13s}")
    print(header)
    print("-" * len(header))
    worst, worst_best = (0.0, ""), (0.0, "")
    with warnings.catch_warnings():
        # torch's kl_div warns only for reduction="mean"; batchmean is silent. No warning expected.
        warnings.simplefilter("error")
        for timing in timings(d, t, g):
            functions = [timing.lossbook, timing.torch] + ([timing.gluon] if timing.gluon else [])
            samples = call_times(functions)
            ours, theirs, *rest = [statistics.median(sample) for sample in samples]
            ratio, best_ratio = ours / theirs, min(samples[0]) / min(samples[1])
            worst = max(worst, (ratio, timing.loss))
            worst_best = max(worst_best, (best_ratio, timing.loss))
            gluon_ms = f"{rest[0] * 1e3:9.2f}" if rest else f"{'n/a':>9s}"
            gluon_ratio = f"{rest[0] / theirs:11.2f}" if rest else f"{'n/a':>11s}"
            print(f"{timing.loss:34s} {ours * 1e3:11.2f} {theirs * 1e3:9.2f} {gluon_ms} "
                  f"{ratio:14.2f} {gluon_ratio} {best_ratio:13.2f}")
    print("-" * len(header))
    print(f"worst lossbook/torch ratio of medians: {worst[0]:.2f} ({worst[1]}); "
          f"of the fastest calls: {worst_best[0]:.2f} ({worst_best[1]})")
    print(f"load average {os.getloadavg()[0]:.1f} at the end: other processes slow torch's "
          "threads more than numpy's one,\nso on a busy machine the medians flatter lossbook; "
          "the best-of ratio (fastest call of each) is closer to an idle machine.")


if __name__ == "__main__":
    main()

"""Time of each loss in lossbook, torch and gluon, as ratios to torch.

Every catalog entry and variant (lossbook.catalog.entries() + variants()) is
timed with the reduction the book uses for it (entry.torch.reduction, "mean"
unless marked) on a batch of 10**6 float64 elements drawn by its make_batch:
10**5 samples of 10 values, or of 10 classes (5 * 10**4 samples of 10 classes
at 2 positions for a batch shaped (N, C, d); 2 * 10**4 sequences of 10 frames
of 5 classes for CTC; 500 samples of 20 values for SDML, whose work grows
with the square of the batch). gluon runs in float32 where it cannot run in
float64 (CTC, cosine embedding, SDML), which flatters it. Each time is the median of
repeated single calls (the ratio of the fastest calls is printed too). The
implementations take turns, in an order that rotates every round, so that a
busy machine slows them alike and none always follows the same one; before
every call a 64 MiB buffer is written, which evicts the previous call's data
from the caches, so each call starts as a training step's loss does: with its
16 MB of inputs in memory, not in cache.
torch runs the entry's spelling (its class, function, or the torch expression
that defines a loss torch lacks) on the CPU with its default threads
(restored after importing mxnet, which lowers them to one); gluon's call is
the entry's gluon block, averaged over the batch, including the wait for its
asynchronous result.

Run: .venv/bin/python bench/speed.py
"""

import math
import os
import statistics
import time
import warnings

import numpy as np
import torch

from lossbook import catalog, frameworks

TORCH_THREADS = torch.get_num_threads()
mx = frameworks.require("mxnet")  # keeps mxnet's import-time warnings quiet
torch.set_num_threads(TORCH_THREADS)  # importing mxnet drops torch to one thread

SHAPE = (10**5, 10)
REPEATS = 21
FLUSH = np.zeros(64 * 2**20 // 8)
"""Written before every timed call, to evict the caches (larger than this machine's L2 and L3)."""


PAIRWISE_SHAPE = (500, 20)
"""The batch of a loss that compares every sample with every other (SDML): 500 samples of 20
values, whose 500 x 500 distances (and torch's 500 x 500 x 20 differences) are the work."""


def shape_of(entry):
    """SHAPE, in the layout of the entry's own batches: (N, C), or fewer samples for (N, C, d...).

    A CTC batch is (samples, frames) with catalog.CTC_CLASSES classes, so its
    log-probabilities hold SHAPE's 10**6 values; SDML's is PAIRWISE_SHAPE.
    """
    if entry.key == "sdml":
        return PAIRWISE_SHAPE
    if entry.key == "ctc":
        return (math.prod(SHAPE) // (SHAPE[1] * catalog.CTC_CLASSES), SHAPE[1])
    layout = entry.make_batch(np.random.default_rng(0)).input.shape
    positions = math.prod(layout[2:])
    return (SHAPE[0] // positions, SHAPE[1], *layout[2:])


def name_of(entry):
    """The entry's label, with the reduction if not "mean" and a note for torch expressions."""
    name = entry.label
    if entry.torch.reduction != "mean":
        name += f" ({entry.torch.reduction})"
    if entry.torch.expression is not None:
        name += " (torch expr.)"
    return name


def timed_calls(entry, rng):
    """The lossbook, torch and (if gluon has the loss) gluon calls of one entry on one batch."""
    batch = entry.make_batch(rng, shape_of(entry))
    expected = math.prod(PAIRWISE_SHAPE if entry.key == "sdml" else SHAPE)
    assert batch.input.size == expected, (entry.label, batch.input.shape)
    reduction = entry.torch.reduction
    tensors, arrays = entry.torch_tensors(torch, batch)
    calls = [
        lambda: entry.evaluate(batch, reduction),
        lambda: entry.torch_forward(torch, tensors, reduction, arrays),
    ]
    if entry.gluon is not None:
        block = entry.gluon_block(mx)
        gluon_arrays = [frameworks.as_float64(array, "mxnet").astype(entry.gluon.dtype)
                        for array in entry.gluon_arrays(batch)]

        def gluon_call():
            out = block(*gluon_arrays).mean()
            out.wait_to_read()
            return out

        calls.append(gluon_call)
    return calls


def call_times(functions):
    """Seconds per call of each function, REPEATS samples each, in an order rotating round by round."""
    samples = [[] for _ in functions]
    for function in functions:
        function()  # warm up: first-call allocation and dispatch
    for round in range(REPEATS):
        for index in np.roll(np.arange(len(functions)), round):
            np.add(FLUSH, 1.0, out=FLUSH)  # evict the caches
            start = time.perf_counter()
            functions[index]()
            samples[index].append(time.perf_counter() - start)
    return samples


def main():
    rng = np.random.default_rng(0)
    entries = catalog.entries() + catalog.variants()
    width = max(len(name_of(entry)) for entry in entries)
    print(__doc__.split("\n\n")[0])
    print(f"(median of {REPEATS} calls on {SHAPE[0] * SHAPE[1]:.0e} float64 elements; torch "
          f"{torch.__version__} with {torch.get_num_threads()} threads; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the start)\n")
    header = (f"{'loss':{width}s} {'lossbook ms':>11s} {'torch ms':>9s} {'gluon ms':>9s} "
              f"{'lossbook/torch':>14s} {'gluon/torch':>11s} {'best-of ratio':>13s}")
    print(header)
    print("-" * len(header))
    worst, worst_best = (0.0, ""), (0.0, "")
    with warnings.catch_warnings():
        # torch's kl_div warns only for reduction="mean"; the catalog uses batchmean. None expected.
        warnings.simplefilter("error")
        # gluon's CosineEmbeddingLoss builds a constant with mxnet.nd.array, which touches a
        # deprecated scipy namespace on every call; the warning is about mxnet, not the timing.
        warnings.filterwarnings("ignore", "Please import `csr_matrix`", DeprecationWarning)
        for entry in entries:
            samples = call_times(timed_calls(entry, rng))
            ours, theirs, *rest = [statistics.median(sample) for sample in samples]
            ratio, best_ratio = ours / theirs, min(samples[0]) / min(samples[1])
            name = name_of(entry)
            worst = max(worst, (ratio, name))
            worst_best = max(worst_best, (best_ratio, name))
            gluon_ms = f"{rest[0] * 1e3:9.2f}" if rest else f"{'n/a':>9s}"
            gluon_ratio = f"{rest[0] / theirs:11.2f}" if rest else f"{'n/a':>11s}"
            print(f"{name:{width}s} {ours * 1e3:11.2f} {theirs * 1e3:9.2f} {gluon_ms} "
                  f"{ratio:14.2f} {gluon_ratio} {best_ratio:13.2f}")
    print("-" * len(header))
    print(f"worst lossbook/torch ratio of medians: {worst[0]:.2f} ({worst[1]}); "
          f"of the fastest calls: {worst_best[0]:.2f} ({worst_best[1]})")
    print(f"load average {os.getloadavg()[0]:.1f} at the end: other processes slow torch's "
          "threads more than numpy's one,\nso on a busy machine the medians flatter lossbook; "
          "the best-of ratio (fastest call of each) is closer to an idle machine.")


if __name__ == "__main__":
    main()

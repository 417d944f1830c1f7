r"""The porting table's check and cards: every catalog entry against torch and gluon.

The appendix "the gluon, torch and lossbook table" shows one card per entry of
:mod:`lossbook.catalog`. Before it shows them, it runs :func:`differences` and
:func:`check`: for each entry, on the entry's seeded batch, torch's loss (reduced
and unreduced) and its gradient by ``torch.autograd`` are compared with
lossbook's, and gluon's output with the entry's relation applied to lossbook's
unreduced loss. Each comparison becomes one number, the largest relative
difference (:func:`relative_difference`); :func:`check` raises
:class:`PortingMismatch` when any exceeds :data:`RTOL`, and since the book is
built with ``raise_on_error``, the book then does not build.

:func:`card` and :func:`cards` write the cards as MyST Markdown from the
entries alone, so that nothing on the page is typed by hand.

Examples
--------
>>> import lossbook as lb
>>> table = lb.porting.differences([lb.catalog.get("l1")])
>>> lb.porting.check(table)  # passes silently
>>> float(table.loc["l1", "gluon output"]) <= lb.porting.RTOL
True
"""

import re

import numpy as np
import pandas as pd

from . import catalog, frameworks

RTOL = 1e-12
"""The largest relative difference from lossbook that :func:`check` accepts."""

SEED = 0
"""The seed of the batch each entry is checked and shown on."""

UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2
"""The float64 unit roundoff, u = 2**-53, the largest relative error of one rounding."""

COLUMNS = ("torch loss", "torch gradient", "gluon output")
"""The comparisons :func:`check_entry` makes, in the order of the table's columns."""

FRAMEWORK_VALUES = ("lossbook", "torch", "gluon")
"""The columns of :func:`values`: each framework's reduced loss on an entry's batch."""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$|~{}#])")


class PortingMismatch(AssertionError):
    """A framework differs from lossbook by more than the tolerance, after the entry's relation."""


def _real_arrays(**arguments):
    """The arguments as float64 arrays, in order; TypeError naming one that is not real numbers."""
    arrays = []
    for name, argument in arguments.items():
        array = np.asarray(argument)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be real numbers, got an array of dtype {array.dtype}")
        arrays.append(array.astype(np.float64))
    return arrays


def relative_difference(value, reference):
    r"""Return the largest relative difference :math:`\max_k |a_k - b_k| / |b_k|` of two arrays.

    Elements that are equal (equal zeros and equal infinities included) count
    as 0; a non-zero element against a zero, an element that is nan on one side
    only, and two arrays of different shapes count as infinite.

    Parameters
    ----------
    value : array_like
        The values ``a`` to judge.
    reference : array_like
        The reference values ``b``.

    Returns
    -------
    float
        0 for arrays that agree exactly; ``inf`` for a disagreement that has no
        finite relative size.

    Raises
    ------
    TypeError
        If either argument is not an array of real numbers.

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.porting.relative_difference([1.0, 0.0], [1.0, 0.0])
    0.0
    >>> lb.porting.relative_difference([1.5], [1.0])
    0.5
    """
    value, reference = _real_arrays(value=value, reference=reference)
    if value.shape != reference.shape:
        return np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(value - reference) / np.abs(reference)
    ratio = np.where(value == reference, 0.0, ratio)  # equal zeros, equal infinities
    ratio = np.where(np.isnan(ratio), np.inf, ratio)  # nan on one side only
    return float(ratio.max(initial=0.0))


def check_entry(entry, seed=SEED):
    """Compare one catalog entry's torch and gluon results with lossbook's, on its seeded batch.

    Parameters
    ----------
    entry : catalog.LossEntry or str
        The entry, or its catalog key.
    seed : int, default SEED
        The seed of the batch, drawn by ``entry.make_batch(numpy.random.default_rng(seed))``.

    Returns
    -------
    dict
        ``{column: relative difference}`` for each of :data:`COLUMNS`:
        ``"torch loss"`` is the larger of torch's ``reduction="none"`` and its
        reduced loss (``entry.torch.reduction``) against lossbook's;
        ``"torch gradient"`` compares ``torch.autograd`` with lossbook's gradient;
        ``"gluon output"`` compares gluon's output with the entry's relation
        applied to lossbook's unreduced loss. A comparison that cannot be made
        (gluon has no class for the loss, or a framework is not installed) is nan.

    Raises
    ------
    ModuleNotFoundError
        If a framework is missing and ``LOSSBOOK_REQUIRE_FRAMEWORKS=1``.
    """
    entry = catalog.as_entry(entry)
    batch = entry.make_batch(np.random.default_rng(seed))
    reduction = entry.torch.reduction
    row = dict.fromkeys(COLUMNS, np.nan)
    if frameworks.optional("torch") is not None:
        row["torch loss"] = max(
            relative_difference(frameworks.torch_loss(entry, batch, "none"), entry.evaluate(batch, "none")),
            relative_difference(frameworks.torch_loss(entry, batch, reduction), entry.evaluate(batch, reduction)),
        )
        torch_gradients = frameworks.torch_grad(entry, batch, reduction)
        torch_gradients = torch_gradients if isinstance(torch_gradients, tuple) else (torch_gradients,)
        row["torch gradient"] = max(
            relative_difference(torch_gradient, gradient)
            for torch_gradient, gradient in zip(
                torch_gradients, entry.torch_comparable_gradients(batch, reduction), strict=True
            )
        )
    if entry.gluon is not None and frameworks.optional("mxnet") is not None:
        row["gluon output"] = relative_difference(
            frameworks.gluon_loss(entry, batch), entry.expected_gluon(batch)
        )
    return row


def _entries(entries):
    """The entries given (keys looked up), every catalog entry by default; keys must be distinct."""
    entries = catalog.entries() if entries is None else [catalog.as_entry(e) for e in entries]
    keys = [entry.key for entry in entries]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"entries must have distinct keys; repeated: {', '.join(repeated)}")
    return entries


def differences(entries=None, *, seed=SEED):
    """Run :func:`check_entry` on several entries, every catalog entry by default.

    Parameters
    ----------
    entries : iterable of catalog.LossEntry or str, optional
        The entries (or keys) to check; ``catalog.entries()`` by default.
    seed : int, default SEED

    Returns
    -------
    pandas.DataFrame
        One row per entry, indexed by key, with the columns :data:`COLUMNS`,
        and ``"gluon dtype"``: the dtype gluon's block ran in ("float64", or
        "float32" for a block that fails on float64; empty without a block).

    Raises
    ------
    ValueError
        If two entries share a key.
    """
    entries = _entries(entries)
    rows = [check_entry(entry, seed) for entry in entries]
    table = pd.DataFrame(rows, index=pd.Index([entry.key for entry in entries], name="key"),
                         columns=list(COLUMNS))
    table["gluon dtype"] = [entry.gluon.dtype if entry.gluon else "" for entry in entries]
    return table


def _check_table(table):
    if not isinstance(table, pd.DataFrame) or not set(COLUMNS) <= set(table.columns):
        raise TypeError(f"differences must be a DataFrame with the columns {list(COLUMNS)}")


def check(table, rtol=RTOL):
    """Raise if any relative difference in a table from :func:`differences` exceeds ``rtol``.

    A nan (a comparison that could not be made) passes; an infinite difference fails.
    Where gluon's block ran in float32 (the table's ``"gluon dtype"`` column),
    its output is held to :data:`lossbook.catalog.GLUON_FLOAT32_RTOL` instead,
    the rounding of float32 arithmetic; its torch columns keep ``rtol``.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`differences` returns.
    rtol : float, default RTOL
        The largest relative difference accepted.

    Raises
    ------
    PortingMismatch
        Naming every row with a difference beyond ``rtol``, and its differences.
    TypeError
        If ``table`` lacks the columns :data:`COLUMNS`.
    ValueError
        If ``rtol`` is not a positive finite number.
    """
    _check_table(table)
    if not (isinstance(rtol, int | float) and np.isfinite(rtol) and rtol > 0):
        raise ValueError(f"rtol must be a positive finite number, got {rtol!r}")
    limits = pd.DataFrame(rtol, index=table.index, columns=list(COLUMNS))
    if "gluon dtype" in table.columns:
        single = (table["gluon dtype"] == "float32").to_numpy()
        limits.loc[single, "gluon output"] = catalog.GLUON_FLOAT32_RTOL
    failing = table[(table[list(COLUMNS)] > limits).any(axis=1)]
    if not failing.empty:
        raise PortingMismatch(
            f"beyond rtol = {rtol:g} (float32 gluon blocks: {catalog.GLUON_FLOAT32_RTOL:g}):\n"
            f"{failing.to_string()}"
        )


def formatted(table):
    """Return a table from :func:`differences` as text: ``1.2e-16``, and a dash where nothing was computed.

    Parameters
    ----------
    table : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        The same rows and columns, each cell a string.
    """
    _check_table(table)
    return table[list(COLUMNS)].map(lambda value: "–" if np.isnan(value) else f"{value:.1e}")


def worst(table, dtype="float64"):
    """Return the largest difference in a table from :func:`differences`, and where it is.

    Parameters
    ----------
    table : pandas.DataFrame
    dtype : {"float64", "float32"}, default "float64"
        Which cells to search: those held to :data:`RTOL` (torch everywhere,
        gluon where its block runs in float64), or the outputs of the gluon
        blocks that run only in float32, held to float32's tolerance.

    Returns
    -------
    value : float
    key : str
        The row (the entry's key).
    column : str
        One of :data:`COLUMNS`.

    Raises
    ------
    ValueError
        If the table holds no computed difference of that kind, or ``dtype``
        is neither.
    """
    _check_table(table)
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    cells = table[list(COLUMNS)].copy()
    single = np.zeros(len(table), dtype=bool)
    if "gluon dtype" in table:
        single = (table["gluon dtype"] == "float32").to_numpy()
    if dtype == "float64":
        cells.loc[single, "gluon output"] = np.nan
    else:
        cells = cells.loc[single, ["gluon output"]]
    stacked = cells.stack()  # drops the nan cells
    if stacked.empty:
        raise ValueError(f"the table holds no computed {dtype} difference")
    key, column = stacked.idxmax()
    return float(stacked.max()), key, column


def values(entries=None, *, seed=SEED):
    """Return each entry's reduced loss by lossbook, torch and gluon on its seeded batch.

    Parameters
    ----------
    entries : iterable of catalog.LossEntry or str, optional
        ``catalog.entries()`` by default.
    seed : int, default SEED

    Returns
    -------
    pandas.DataFrame
        Indexed by key, with the columns :data:`FRAMEWORK_VALUES`: the ``value``
        column of :func:`lossbook.frameworks.compare` (gluon's output averaged,
        or summed, over the batch as training code does); nan where a framework
        has no class or is not installed.
    """
    rows = {}
    for entry in _entries(entries):
        compared = frameworks.compare(entry, seed=seed)["value"]
        rows[entry.key] = {name: compared.get(name, np.nan) for name in FRAMEWORK_VALUES}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(FRAMEWORK_VALUES))


# The cards.


def markdown_text(sentence):
    r"""Return catalog prose as Markdown text: every character Markdown would interpret is escaped.

    Parameters
    ----------
    sentence : str

    Returns
    -------
    str

    Examples
    --------
    >>> import lossbook as lb
    >>> lb.porting.markdown_text("2 * x_i")
    '2 \\* x\\_i'
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", sentence)


def calls(entry):
    """Return the lossbook, torch and gluon calls of an entry as one fenced Python block.

    Parameters
    ----------
    entry : catalog.LossEntry

    Returns
    -------
    str
    """
    reduction = entry.torch.reduction
    if entry.torch.class_path is not None:
        torch_lines = [entry.torch_call(reduction)]
    else:
        # A function option (the triplet's distance) is lossbook's; the expression spells torch's.
        options = [f"{name} = {value!r}" for name, value in entry.options.items() if not callable(value)]
        torch_lines = [*options, f"{entry.torch.expression}.{reduction}()"]
    gluon_line = entry.gluon_call() if entry.gluon is not None else "# (no gluon class)"
    lines = ["# lossbook", entry.lossbook_call(reduction), "# torch", *torch_lines, "# gluon", gluon_line]
    return "\n".join(["~~~python", *lines, "~~~"])


def formats(entry):
    """Return what each framework takes and returns for an entry, as a Markdown bullet list.

    Parameters
    ----------
    entry : catalog.LossEntry

    Returns
    -------
    str
    """
    reductions = ", ".join(f"`{name!r}`" for name in entry.torch.reductions)
    items = [
        f"torch input: {markdown_text(entry.torch.input_format)}",
        f"torch target: {markdown_text(entry.torch.target_format)}",
        f"torch reduction: `{entry.torch.reduction!r}` here, of {reductions}",
    ]
    if entry.gluon is not None:
        items += [
            f"gluon label: {markdown_text(entry.gluon.label_format)}",
            f"gluon returns: {markdown_text(entry.gluon.output)}",
        ]
    return "\n".join(f"- {item}" for item in items)


def checked(value, difference, rtol=RTOL):
    """Return a card's closing line: the three values and the largest relative differences.

    Parameters
    ----------
    value : pandas.Series
        One row of :func:`values`.
    difference : pandas.Series
        The same entry's row of :func:`differences`.
    rtol : float, default RTOL
        The tolerance to state.

    Returns
    -------
    str
    """
    shown = [f"{name} {value[name]:.6f}" for name in FRAMEWORK_VALUES if not np.isnan(value[name])]
    measured = [f"{column} {difference[column]:.1e}" for column in COLUMNS
                if not np.isnan(difference[column])]
    return (
        f"**Checked** on the seed-{SEED} batch: {', '.join(shown)}. "
        f"Largest relative difference from lossbook: {', '.join(measured) or 'none computed'} "
        f"(tolerance {rtol:.0e})."
    )


def label(entry):
    """Return the MyST label of an entry's card, ``porting-table-<key with dashes>``.

    Parameters
    ----------
    entry : catalog.LossEntry or str

    Returns
    -------
    str
    """
    return f"porting-table-{catalog.as_entry(entry).key.replace('_', '-')}"


def card(entry, value, difference):
    """Return one entry as a MyST card, with a label other pages can link to.

    The card holds the title, key and family, the equation (from the lossbook
    docstring), the three calls, the formats, the relation, the numbered traps
    and the :func:`checked` line.

    Parameters
    ----------
    entry : catalog.LossEntry
    value : pandas.Series
        The entry's row of :func:`values`.
    difference : pandas.Series
        The entry's row of :func:`differences`.

    Returns
    -------
    str
    """
    traps = [f"{number}. {markdown_text(trap)}" for number, trap in enumerate(entry.traps, start=1)]
    return "\n".join([
        f"({label(entry)})=",
        f"::::{{card}} {markdown_text(entry.title)}",
        ":class-card: sd-mb-4",
        "",
        f"Key `{entry.key}`, {entry.family} family, computed by `lb.{entry.loss.__name__}`.",
        "",
        "$$", entry.equation, "$$",
        "",
        calls(entry),
        "",
        "**Formats.**", "", formats(entry),
        "",
        f"**Relation.** {markdown_text(entry.relation)}",
        "",
        "**Traps.**", "", *traps,
        "",
        checked(value, difference),
        "::::",
        "",
    ])


def cards(family, table, frame, entries=None):
    """Return the cards of one family's entries, in catalog order, as one MyST string.

    Parameters
    ----------
    family : str
        One of ``catalog.FAMILIES``.
    table : pandas.DataFrame
        From :func:`differences`, with a row for each entry of the family.
    frame : pandas.DataFrame
        From :func:`values`, likewise.
    entries : iterable of catalog.LossEntry, optional
        ``catalog.entries()`` by default.

    Returns
    -------
    str
        Empty if the family has no entry.

    Raises
    ------
    ValueError
        If ``family`` is not one of ``catalog.FAMILIES``.
    """
    if family not in catalog.FAMILIES:
        raise ValueError(f"family must be one of {catalog.FAMILIES}, got {family!r}")
    chosen = [entry for entry in _entries(entries) if entry.family == family]
    return "\n".join(card(entry, frame.loc[entry.key], table.loc[entry.key]) for entry in chosen)


# gluon's conventions.

MASKED_MEAN_DIVISORS = ("all", "kept")
"""The divisors :func:`masked_mean` knows: every element (gluon's), or the kept ones (torch's)."""


def masked_mean(losses, mask, *, divisor="all"):
    r"""Average per-element losses with padding masked out, by gluon's divisor or by torch's.

    .. math:: \frac{1}{D} \sum_k m_k \ell_k, \qquad
       D = \begin{cases} K, & \texttt{divisor="all"}, \\ \sum_k m_k, & \texttt{divisor="kept"}, \end{cases}

    where :math:`K` is the number of elements. ``divisor="all"`` is what MXNet
    code computes when it passes a 0/1 padding mask as ``sample_weight`` to
    ``SoftmaxCrossEntropyLoss`` on ``(N, T, C)`` scores (shaped ``(N, T, 1)``)
    and averages the ``(N,)`` output over the batch (or lets
    ``trainer.step(N)`` do it): each sample is divided by ``T``, padded steps
    included. ``divisor="kept"`` is torch's ``CrossEntropyLoss(ignore_index=...)``
    with ``reduction='mean'``, which divides by the number of targets it keeps.
    The two differ by the factor ``K / sum(mask)``; the port of the gluon
    value to torch is ``cross_entropy(..., ignore_index=pad,
    reduction='sum') / K``.

    A masked element contributes exactly 0, whatever its loss (torch's
    ``ignore_index`` does the same; gluon multiplies, so a non-finite loss at a
    padded position would give nan there).

    Parameters
    ----------
    losses : array_like
        Per-element losses, e.g. torch's ``reduction='none'`` output of shape
        ``(N, T)``.
    mask : array_like
        Of the same shape: 1 (or True) for an element that counts, 0 (or False)
        for padding.
    divisor : {"all", "kept"}, default "all"
        Divide by the number of elements (gluon's ``sample_weight`` mask), or
        by the number of kept elements (torch's ``ignore_index``).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``losses`` or ``mask`` is not real numbers.
    ValueError
        If the shapes differ, ``mask`` holds anything but 0 and 1, ``losses``
        is empty, ``divisor`` is unknown, or ``divisor="kept"`` and the mask
        keeps nothing (the mean of no element does not exist; torch returns nan).

    Examples
    --------
    >>> import lossbook as lb
    >>> losses = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    >>> mask = [[1, 1, 1], [1, 0, 0]]
    >>> lb.porting.masked_mean(losses, mask)  # (1 + 2 + 3 + 4) / 6
    1.6666666666666667
    >>> lb.porting.masked_mean(losses, mask, divisor="kept")  # (1 + 2 + 3 + 4) / 4
    2.5
    """
    if divisor not in MASKED_MEAN_DIVISORS:
        raise ValueError(f"divisor must be one of {MASKED_MEAN_DIVISORS}, got {divisor!r}")
    losses, mask = _real_arrays(losses=losses, mask=mask)
    if mask.shape != losses.shape:
        raise ValueError(f"mask must have the shape of losses, {losses.shape}, got {mask.shape}")
    if losses.size == 0:
        raise ValueError("losses must hold at least one element")
    if not np.isin(mask, (0.0, 1.0)).all():
        raise ValueError("mask must hold only 0 and 1 (or False and True)")
    kept = mask.sum()
    if divisor == "kept" and kept == 0:
        raise ValueError("mask keeps no element, so the mean over the kept elements does not exist")
    total = np.where(mask == 1.0, losses, 0.0).sum()
    return float(total / (losses.size if divisor == "all" else kept))

r"""What the chapters use to show code, numbers and checks, kept out of their cells.

A chapter shows the same step in gluon, torch and lossbook side by side, each
framework's own short code above its own output. Sphinx drops a code cell
nested in a tab, so each snippet is an ordinary top-level cell that starts
with the :func:`tab` cell magic::

    %load_ext lossbook.show

    %%tab torch bce-port
    loss = torch.nn.BCELoss()
    loss(torch.tensor(p), torch.tensor(y))

The magic runs the cell in the notebook's namespace and shows its result as
any cell would (so the cell reads and runs the same in JupyterLab), and it
glues the code and the result as MyST Markdown under ``<key>-<framework>``.
The page tags the cells ``remove-cell`` and shows the group with the
``{framework-tabs}`` directive of ``book/_ext/lossbook_tabs.py``::

    ```{framework-tabs} bce-port
    ```

A gluon cell where mxnet is not installed is not run: its tab shows the code
and one line saying that mxnet is missing (or, with
``LOSSBOOK_REQUIRE_FRAMEWORKS=1``, the cell raises). The evidence behind a
section goes in a "How we checked this" dropdown: :func:`comparison` glues a
framework comparison, :func:`table` any DataFrame with fixed number formats,
and :func:`sci` writes a number for the prose.
"""

import ast
import contextlib
import io
import re

import numpy as np
import pandas as pd

from . import catalog, frameworks

FRAMEWORKS = ("gluon", "torch", "lossbook")
"""The frameworks a tab group shows, in the order of its tabs."""

_MODULE_OF = {"gluon": "mxnet", "torch": "torch", "lossbook": None}
_KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\Z")


GLUE_PREFIX = "application/papermill.record/"
"""The mime-type prefix under which MyST-NB 1.4 finds a value glued without being displayed."""


def glue(name, variable, display=False):
    """Glue ``variable`` under ``name``, as ``myst_nb.glue`` does, without importing MyST-NB.

    MyST-NB's own ``glue`` lives in a module that imports nbformat and, through
    it, jsonschema: about a second of every notebook's run. This writes the
    same display message (the value's mime bundle, under :data:`GLUE_PREFIX`
    unless displayed, with ``scrapbook`` metadata naming it), which
    tests/test_show.py compares with MyST-NB's.

    Parameters
    ----------
    name : str
        The key the page pastes with ``{glue:...}``.
    variable : object
        The value; what is glued is how the notebook would display it.
    display : bool, default False
        Also show it in the cell's output.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    mimebundle, metadata = format_display_data(variable)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in mimebundle.items()}, raw=True, metadata=metadata)


def _glue(key, value):
    """Glue ``value`` under ``key`` without displaying it."""
    glue(key, value)


def _check_key(key):
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"key must be lower-case words joined by hyphens, got {key!r}")


def run_snippet(source, namespace):
    """Run ``source`` as a notebook cell would, and return what the cell would show.

    Every statement runs in ``namespace``; if the last one is an expression its
    value is the cell's result (None otherwise, or if it ends with ``;``).

    Parameters
    ----------
    source : str
        Python source.
    namespace : dict
        The globals to run in (a notebook's user namespace).

    Returns
    -------
    printed : str
        What the code printed to standard output.
    result : object
        The value of the final expression, or None.
    """
    tree = ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        last = ast.Expression(tree.body.pop().value)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(tree, "<snippet>", "exec"), namespace)
        result = None if last is None else eval(compile(last, "<snippet>", "eval"), namespace)
    return buffer.getvalue(), result


def _plain(result):
    """The text a notebook shows for a result."""
    if isinstance(result, pd.DataFrame | pd.Series):
        return result.to_string()
    return repr(result)


def snippet_markdown(source, output):
    """MyST Markdown for one tab: the code, then what it showed.

    Parameters
    ----------
    source : str
        The snippet's code.
    output : str
        What running it showed (printed text and the result's text).

    Returns
    -------
    str
    """
    fence = "````" if "```" in source or "```" in output else "```"
    parts = [f"{fence}python\n{source.strip()}\n{fence}"]
    if output.strip():
        parts.append(f"{fence}{{code-block}} text\n:class: lossbook-output\n{output.rstrip()}\n{fence}")
    return "\n\n".join(parts)


def tab(framework, key, source, namespace):
    """Run one framework's snippet, glue its code and output, and return its result.

    This is the body of the ``%%tab FRAMEWORK KEY`` cell magic.

    Parameters
    ----------
    framework : {"gluon", "torch", "lossbook"}
    key : str
        The tab group's key: lower-case words joined by hyphens.
    source : str
        The snippet.
    namespace : dict
        Where it runs.

    Returns
    -------
    object
        The snippet's result, or the missing-framework sentence if gluon or
        torch is not installed.

    Raises
    ------
    ValueError
        If ``framework`` or ``key`` is not valid.
    ModuleNotFoundError
        If the framework is missing and ``LOSSBOOK_REQUIRE_FRAMEWORKS=1``.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    _check_key(key)
    module = _MODULE_OF[framework]
    if module is not None and frameworks.optional(module) is None:
        message = frameworks.missing_message(module, "this output")
        _glue(f"{key}-{framework}", _markdown(snippet_markdown(source, message)))
        print(message)
        return None
    printed, result = run_snippet(source, namespace)
    output = printed + ("" if result is None else _plain(result))
    _glue(f"{key}-{framework}", _markdown(snippet_markdown(source, output)))
    print(printed, end="")
    return result


def _markdown(text):
    from IPython.display import Markdown

    return Markdown(text)


def sci(x, digits=2):
    r"""Return ``x`` in scientific notation as inline LaTeX, for the prose.

    Parameters
    ----------
    x : float
    digits : int, default 2
        Significant digits.

    Returns
    -------
    IPython.display.Markdown
        For example ``$1.2 \times 10^{-5}$``; ``$0$`` for zero.
    """
    from IPython.display import Markdown

    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"x must be finite, got {x!r}")
    if x == 0:
        return Markdown("$0$")
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return Markdown(f"${mantissa} \\times 10^{{{int(exponent)}}}$")


def table(frame, formats=None, uid="table", index=True):
    """Return a DataFrame as a stable HTML table with a number format per column.

    Parameters
    ----------
    frame : pandas.DataFrame
    formats : dict or str, optional
        A format string per column, or one for all, as ``Styler.format`` takes.
    uid : str, default "table"
        The table's HTML id; fixed, so that two builds write the same page.
    index : bool, default True
        Show the index.

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    styler = (
        frame.style.format(formats)
        .set_uuid(uid)
        .set_table_attributes('class="dataframe"')
        .set_table_styles([{"selector": "th, td", "props": "padding: 0.2em 0.7em;"}])
    )
    if not index:
        styler = styler.hide(axis="index")
    return HTML(styler.to_html())


def comparison_frame(losses, *, seed=0):
    """Compare losses in lossbook, torch and gluon: one row per loss and framework.

    Parameters
    ----------
    losses : dict
        ``{label: entry or catalog key or (entry or key, catalog.Batch)}``.
    seed : int, default 0
        The seed of the batches not given.

    Returns
    -------
    pandas.DataFrame
        Indexed by (loss, framework), with the columns of
        :func:`lossbook.frameworks.compare`; a missing framework shows as a
        ``note`` row.
    """
    frames = {}
    for label, spec in losses.items():
        entry, batch = spec if isinstance(spec, tuple) else (spec, None)
        frames[label] = frameworks.compare(catalog.as_entry(entry), batch, seed=seed)
    return pd.concat(frames, names=["loss", "framework"])


def comparison(key, losses, *, seed=0):
    """Glue a framework comparison under ``key``, for a "How we checked this" dropdown.

    Parameters
    ----------
    key : str
    losses : dict
        As :func:`comparison_frame` takes.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        The comparison, from :func:`comparison_frame`.
    """
    _check_key(key)
    frame = comparison_frame(losses, seed=seed)
    shown = frame.assign(call=frame["call"].str.removeprefix("mxnet."))
    formats = {"value": "{:.16g}", "max_abs_diff": "{:.1e}"}
    _glue(key, table(shown, formats, key))
    return frame


def load_ipython_extension(ipython):
    """Register the ``%%tab FRAMEWORK KEY`` cell magic (``%load_ext lossbook.show``)."""

    def tab_magic(line, cell):
        words = line.split()
        if len(words) != 2:
            raise ValueError(f"usage: %%tab FRAMEWORK KEY, got %%tab {line}")
        return tab(words[0], words[1], cell, ipython.user_ns)

    ipython.register_magic_function(tab_magic, magic_kind="cell", magic_name="tab")

"""lossbook.show: the tab magic, glued snippets and prose numbers; frameworks.as_float64."""

import numpy as np
import pytest
import torch

from lossbook import frameworks, show

mx = frameworks.require("mxnet")


@pytest.fixture
def glued(monkeypatch):
    """Capture what show glues instead of sending it to a notebook."""
    store = {}
    monkeypatch.setattr(show, "_glue", lambda key, value: store.__setitem__(key, value))
    return store


def test_run_snippet_returns_the_last_expression_and_what_was_printed():
    """Like a cell: statements run, the final expression is the result."""
    namespace = {}
    printed, result = show.run_snippet("a = 2\nprint('hi')\na * 21", namespace)
    assert (printed, result, namespace["a"]) == ("hi\n", 42, 2)


def test_run_snippet_with_a_trailing_semicolon_shows_nothing():
    """A final ``;`` suppresses the result, as in a notebook."""
    assert show.run_snippet("1 + 1;", {}) == ("", None)


def test_tab_glues_the_code_and_its_output(glued):
    """The glued Markdown holds the code in a python fence and the result as text."""
    result = show.tab("torch", "demo-sum", "x = torch.tensor([1.0, 2.0])\nx.sum()", {"torch": torch})
    assert float(result) == 3.0
    text = glued["demo-sum-torch"].data
    assert "```python\nx = torch.tensor([1.0, 2.0])\nx.sum()\n```" in text
    assert "tensor(3.)" in text


def test_tab_on_a_missing_framework_shows_the_code_and_says_so(glued, monkeypatch, capsys):
    """Without mxnet the gluon snippet is not run; its tab says mxnet is missing."""
    monkeypatch.setattr(frameworks, "optional", lambda name: None)
    assert show.tab("gluon", "demo", "raise RuntimeError('must not run')", {}) is None
    assert "mxnet is not installed: this output is left out" in glued["demo-gluon"].data
    assert "mxnet is not installed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "framework, key, match",
    [("jax", "demo", "framework must be one of"), ("torch", "Demo Key", "key must be"),
     ("torch", None, "key must be")],
)
def test_tab_rejects_a_bad_framework_or_key(glued, framework, key, match):
    """The error names the argument."""
    with pytest.raises(ValueError, match=match):
        show.tab(framework, key, "1", {})


def test_the_cell_magic_runs_in_the_user_namespace(glued):
    """``%load_ext lossbook.show`` registers %%tab; the cell sees and sets notebook variables."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "lossbook.show")
    shell.user_ns["base"] = 40
    outcome = shell.run_cell("%%tab lossbook demo-magic\nanswer = base + 2\nanswer")
    assert outcome.result == 42 and shell.user_ns["answer"] == 42
    assert "answer = base + 2" in glued["demo-magic-lossbook"].data
    with pytest.raises(ValueError, match="usage: %%tab FRAMEWORK KEY"):
        shell.run_cell("%%tab lossbook\n1").raise_error()


@pytest.mark.parametrize(
    "x, digits, latex",
    [(1.234e-5, 2, r"$1.2 \times 10^{-5}$"), (-6.02e23, 3, r"$-6.02 \times 10^{23}$"),
     (0.0, 2, "$0$"), (9.96, 2, r"$1.0 \times 10^{1}$")],
)
def test_sci_writes_latex_scientific_notation(x, digits, latex):
    """Hand-written expectations, rounding up into the next power of ten included."""
    assert show.sci(x, digits).data == latex


@pytest.mark.parametrize("x", [np.inf, -np.inf, np.nan])
def test_sci_rejects_what_has_no_scientific_notation(x):
    with pytest.raises(ValueError, match="x must be finite"):
        show.sci(x)


def test_table_is_stable_html_with_the_formats_given():
    """A fixed id and the requested formats, so two builds write the same page."""
    import pandas as pd

    html = show.table(pd.DataFrame({"v": [1 / 3]}), {"v": "{:.3f}"}, "demo").data
    assert 'id="T_demo"' in html and ">0.333<" in html


def test_comparison_glues_one_row_per_loss_and_framework(glued):
    """Every framework's row for every loss; torch and gluon agree with lossbook after the relation."""
    frame = show.comparison("demo-compare", {"L2": "l2", "BCE": "bce"})
    assert list(frame.index) == [(loss, framework) for loss in ("L2", "BCE")
                                 for framework in ("lossbook", "torch", "gluon")]
    assert frame["max_abs_diff"].max() < 1e-12
    assert "demo-compare" in glued


@pytest.mark.parametrize("framework", ["torch", "mxnet"])
def test_as_float64_copies_into_float64(framework):
    """Integers and floats become a float64 copy that shares no memory with the input."""
    values = np.array([1, 2, 3])
    converted = frameworks.as_float64(values, framework)
    back = converted.numpy() if framework == "torch" else converted.asnumpy()
    assert back.dtype == np.float64 and back.tolist() == [1.0, 2.0, 3.0]
    values[0] = 99
    assert float(back[0]) == 1.0


def test_as_float64_rejects_bad_arguments():
    with pytest.raises(ValueError, match="framework must be 'torch' or 'mxnet'"):
        frameworks.as_float64([1.0], "jax")
    with pytest.raises(TypeError, match="values must be real numbers"):
        frameworks.as_float64(["a"], "torch")


@pytest.mark.parametrize("function", [frameworks.optional, frameworks.require])
def test_an_unknown_framework_name_is_a_value_error(function):
    """Not a bare KeyError: the message names the argument and the choices."""
    with pytest.raises(ValueError, match=r"name must be one of \['mxnet', 'torch'\], got 'jax'"):
        function("jax")


@pytest.mark.parametrize("display", [False, True])
def test_glue_sends_what_myst_nbs_glue_sends(monkeypatch, display):
    """The same display message as MyST-NB 1.4's glue, for text, a float and Markdown."""
    import IPython.display
    from IPython.display import Markdown
    from myst_nb.ext.glue import glue as myst_glue

    sent = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: sent.append((a, k)))
    import myst_nb.ext.glue

    monkeypatch.setattr(myst_nb.ext.glue, "ipy_display", lambda *a, **k: sent.append((a, k)))
    for value in ("text", 0.1 + 0.2, Markdown("$x$")):
        show.glue("key", value, display=display)
        myst_glue("key", value, display=display)
        assert sent[-2] == sent[-1]
    assert len(sent) == 6


def test_a_tab_shows_a_dataframe_as_its_text(glued):
    """A DataFrame result is glued as the notebook's plain text of it, all columns."""
    import pandas as pd

    show.tab("lossbook", "demo-frame", "frame", {"frame": pd.DataFrame({"a": [1.5], "b": [2]})})
    assert "     a  b\n0  1.5  2" in glued["demo-frame-lossbook"].data


def test_table_can_hide_the_index():
    import pandas as pd

    html = show.table(pd.DataFrame({"v": [7]}, index=["row-label"]), uid="demo", index=False).data
    assert "row-label" not in html and ">7<" in html


def test_the_private_glue_sends_a_hidden_value(monkeypatch):
    """What tab and comparison glue is not displayed: it sits under MyST-NB's prefix."""
    import IPython.display

    sent = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: sent.append((a, k)))
    show._glue("demo-key", 2.5)
    (bundle,), keywords = sent[0]
    assert bundle == {show.GLUE_PREFIX + "text/plain": "2.5"}
    assert keywords["metadata"]["scrapbook"] == {"name": "demo-key", "mime_prefix": show.GLUE_PREFIX}

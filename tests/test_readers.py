"""The reader's notebooks: what the ``.ipynb`` button downloads and ``make lab`` opens.

The first tests feed ``book/_ext/lossbook_readers.py`` small chapters with
hand-written expectations. The rest read the notebooks the last build wrote
(``_build/html/_sources`` and ``_build/lab``) and compare them with what they
come from: the executed notebooks, the glued values and the built site.
"""

import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from book_toc import toc_files

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))

import lossbook_readers as readers  # noqa: E402

BUILD = REPO_ROOT / "_build"
EXECUTED = BUILD / "jupyter_execute"
DOWNLOADS = BUILD / "html" / "_sources"
LAB = BUILD / "lab"
NOTEBOOK_PAGES = [name for name in toc_files() if (EXECUTED / f"{name}.ipynb").exists()]
# A role, a directive fence, a labelled equation or a target: MyST that plain Jupyter shows as text.
UNRESOLVED = re.compile(r"\{[A-Za-z][\w:+.-]*\}`|^[ \t]*(```+|:::+)\s*\{|\$\$\s*\([\w-]+\)|^\([\w-]+\)=", re.MULTILINE)


def page(glue=None, **numbers):
    """A :class:`Page` for the synthetic chapter ``book/demo``."""
    site = readers.SiteNumbers(**numbers)
    bundles = {key: value if isinstance(value, dict) else {"text/plain": value} for key, value in (glue or {}).items()}
    return readers.Page("book/demo", site, bundles)


def render(text, flavour="download", **kwargs):
    return readers.Renderer(page(**kwargs), flavour).markdown(text)


def test_glue_text_is_formatted_as_the_site_formats_it():
    """{glue:text} applies the format spec to the glued value; with none, the value's text."""
    text = render("Loss {glue:text}`bce:.4f`, count {glue:text}`n`.", glue={"bce": "0.69314718", "n": "1000"})
    assert text.strip() == "Loss 0.6931, count 1000."


def test_glued_markdown_and_tables_are_pasted():
    """{glue:md} pastes Markdown, a {glue:} directive pastes an HTML table without its <style>."""
    glue = {
        "sci": {"text/markdown": "$1.2 \\times 10^{-5}$", "text/plain": "<Markdown>"},
        "table": {"text/html": "<style>td {color: red}</style>\n<table>\n  <tr><td>1</td></tr>\n</table>"},
    }
    text = render("Error {glue:md}`sci`.\n\n```{glue:} table\n```\n", glue=glue)
    assert "Error $1.2 \\times 10^{-5}$." in text
    assert "<table>\n<tr><td>1</td></tr>\n</table>" in text
    assert "style" not in text


def test_references_take_the_site_numbers():
    """{eq}, {numref} and {prf:ref} show the numbers the site gives; a labelled equation gets its tag."""
    text = render(
        "$$\nx^2\n$$ (eq-demo)\n\nBy {eq}`eq-demo`, see {numref}`fig-demo` and {prf:ref}`prop-demo`.",
        equations={"eq-demo": "2.3"},
        captions={"fig-demo": "Fig. 2.1", "prop-demo": "Proposition 2.1"},
    )
    assert "$$\nx^2\n\\tag{2.3}\n$$" in text
    assert "By (2.3), see Fig. 2.1 and Proposition 2.1." in text


def test_lab_math_carries_only_the_site_number():
    """In the lab flavour display math is an unnumbered {math} directive carrying the site's tag."""
    text = render("$$\nx^2\n$$ (eq-demo)\n", "lab", equations={"eq-demo": "2.3"})
    assert text == "```{math}\n:enumerated: false\n\nx^2\n\\tag{2.3}\n```\n"


def test_citations_and_terms_read_as_on_the_site():
    """Citations take the site's text in order; a term keeps its words with its definition on hover."""
    text = render(
        "A {term}`loss <loss function>` {cite}`a2020`, then {cite:t}`b2021`.",
        citations={"book/demo": [("[A, 2020]", ["A. A paper."]), ("B [2021]", ["B. A book."])]},
        terms={"loss function": 'What "bad" costs.'},
    )
    assert text.strip() == 'A <abbr title="What &quot;bad&quot; costs.">loss</abbr> \\[A, 2020\\], then B \\[2021\\].'


def test_code_spans_and_plain_fences_are_left_alone():
    """Inline code and fenced code keep MyST-looking text as written."""
    text = render("Write `{glue:text}` like this:\n\n```text\n{eq}`x`\n```\n")
    assert text == "Write `{glue:text}` like this:\n\n```text\n{eq}`x`\n```\n"


def test_admonitions_exercises_and_dropdowns_in_each_flavour():
    """Download: block quotes and <details>; lab: admonitions and dropdowns jupyterlab-myst renders."""
    source = (
        ":::{admonition} Goals\n:class: tip\nLearn *this*.\n:::\n\n"
        "```{exercise}\n:label: ex-demo\nDo it.\n```\n\n"
        ":::{dropdown} How we checked this\nCarefully.\n:::\n"
    )
    numbers = {"captions": {"ex-demo": "Exercise 2.1"}}
    download = render(source, **numbers)
    assert "> **Goals**\n>\n> Learn *this*." in download
    assert "> **Exercise 2.1**\n>\n> Do it." in download
    assert "<details>\n<summary>How we checked this</summary>\n\nCarefully.\n\n</details>" in download
    lab = render(source, "lab", **numbers)
    assert ":::{admonition} Goals\n:class: tip\n\nLearn *this*.\n:::" in lab
    assert ":::{admonition} Exercise 2.1\n:class: note\n\nDo it.\n:::" in lab
    assert ":::{dropdown} How we checked this\n\nCarefully.\n:::" in lab


def test_framework_tabs_are_tabs_in_lab_and_cells_in_the_download():
    """{framework-tabs} becomes a synced tab-set in lab; the download shows each %%tab cell instead."""
    glue = {f"k-{name}": {"text/markdown": f"```python\n{name}()\n```"} for name in ("gluon", "torch", "lossbook")}
    lab = render("```{framework-tabs} k\n:frameworks: torch lossbook\n```\n", "lab", glue=glue)
    assert lab.startswith("::::{tab-set}\n:sync-group: framework\n")
    assert ":::{tab-item} torch\n:sync: torch\n\n```python\ntorch()\n```\n:::" in lab
    assert "gluon" not in lab
    assert render("```{framework-tabs} k\n```\n", glue=glue).strip() == ""


def test_a_gated_solution_is_folded_across_cells():
    """A solution from {solution-start} to {solution-end} folds its prose and its code cells."""
    executed = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    executed.cells = [
        nbformat.v4.new_markdown_cell("Try it.\n\n```{solution-start} ex-demo\n:class: dropdown\n```\n\nThe answer:"),
        nbformat.v4.new_code_cell("1 + 1"),
        nbformat.v4.new_markdown_cell("```{solution-end}\n```\n\nAfter."),
        nbformat.v4.new_code_cell("%%tab torch k\nx = 1", metadata={"tags": ["remove-cell"]}),
    ]
    demo = page(captions={"ex-demo": "Exercise 2.1"})
    notebook = readers.reader_notebook(executed, demo, "download")
    sources = [cell.source for cell in notebook.cells]
    assert sources[:2] == ["Try it.", "<details>\n<summary>Solution to Exercise 2.1</summary>\n\nThe answer:\n\n</details>"]
    assert notebook.cells[2].metadata["jupyter"] == {"outputs_hidden": True, "source_hidden": True}
    assert sources[3] == "After."
    assert "jupyter" not in notebook.cells[4].metadata  # a %%tab cell shows its framework's step
    lab = readers.reader_notebook(executed, demo, "lab")
    assert lab.cells[4].metadata["jupyter"] == {"outputs_hidden": True, "source_hidden": True}
    assert "jupytext" not in notebook.metadata


def test_what_the_site_does_not_show_is_an_error():
    """A reference the site does not number, an unknown glue key or directive fails loudly."""
    with pytest.raises(readers.ReaderError, match="eq-missing"):
        render("See {eq}`eq-missing`.")
    with pytest.raises(readers.ReaderError, match="nothing is glued under 'absent'"):
        render("{glue:text}`absent`")
    with pytest.raises(readers.ReaderError, match="no-such-directive"):
        render("```{no-such-directive}\nbody\n```\n")


def test_site_numbers_are_read_from_the_page():
    """Captions, equation numbers and citations come from a built page's HTML."""
    html = (
        '<article><figure id="fig-a"><figcaption><p><span class="caption-number">Fig. 3.2 </span>'
        '<span class="caption-text">A curve</span></p></figcaption></figure>'
        '<div class="math" id="equation-eq-a"><span class="eqno">(3.4)<a class="headerlink">#</a></span></div>'
        '<span class="bibtex-citation">[<a title="A. Title. 2020.">A, 2020</a>]</span></article>'
    )
    numbers = readers.SiteNumbers()
    numbers.add_page("book/demo", html)
    assert numbers.captions == {"fig-a": "Fig. 3.2"}
    assert numbers.equations == {"eq-a": "3.4"}
    assert numbers.citations == {"book/demo": [("[A, 2020]", ["A. Title. 2020."])]}


# -- the notebooks the last build wrote ------------------------------------------------------


def built(folder, name):
    path = folder / f"{name}.ipynb"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the book first (make book)")
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_downloaded_notebook_holds_no_unresolved_myst(name):
    """The .ipynb a page offers is valid and its Markdown holds no role, directive, label or target."""
    notebook = built(DOWNLOADS, name)
    nbformat.validate(notebook)
    left = [m.group(0) for cell in notebook.cells if cell.cell_type == "markdown" for m in UNRESOLVED.finditer(cell.source)]
    assert left == []


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_lab_notebook_holds_no_glue_or_role(name):
    """The lab notebook keeps directives for jupyterlab-myst but no role and no glue."""
    notebook = built(LAB, name)
    roles = [m.group(0) for c in notebook.cells if c.cell_type == "markdown" for m in re.finditer(r"\{[\w:+.-]+\}`|\{glue", c.source)]
    assert roles == []


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
@pytest.mark.parametrize("folder", [DOWNLOADS, LAB], ids=["download", "lab"])
def test_reader_notebooks_keep_every_code_cell_and_output(name, folder):
    """Every code cell of the executed chapter is there, in order, with the outputs a reader sees."""
    executed = [cell for cell in built(EXECUTED, name).cells if cell.cell_type == "code"]
    reader = [cell for cell in built(folder, name).cells if cell.cell_type == "code"]
    assert [cell.source for cell in reader] == [cell.source for cell in executed]
    for ours, theirs in zip(reader, executed):
        shown = [o for o in theirs.outputs if o.output_type not in ("display_data",) or not all(
            mime.startswith(readers.GLUE_PREFIX) for mime in o.get("data", {}))]
        assert len(ours.outputs) == len(shown)


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_glued_numbers_are_written_into_the_download(name):
    """Each {glue:text} of the chapter appears in the download as its glued value, formatted by the spec."""
    source = (REPO_ROOT / f"{name}.md").read_text()
    glue = readers.glued_bundles(built(EXECUTED, name))
    text = "\n".join(cell.source for cell in built(DOWNLOADS, name).cells if cell.cell_type == "markdown")
    for key, spec in re.findall(r"\{glue:text\}`([\w-]+)(?::([^`]*))?`", source):
        plain = glue[key]["text/plain"]
        try:
            value = ast.literal_eval(plain)
        except (ValueError, SyntaxError):
            value = plain
        if spec and spec[-1] in "eEfFgGn%":
            value = float(value)
        elif spec and spec[-1] in "dxXob":
            value = int(value)
        expected = format(value, spec) if spec else str(value)
        assert expected.replace("[", r"\[").replace("]", r"\]") in text, (key, expected)


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_equation_tags_are_the_site_numbers(name):
    """The download tags its numbered equations with the numbers the built page shows, in order."""
    soup = BeautifulSoup((BUILD / "html" / f"{name}.html").read_text(), "html.parser")
    site = [span.get_text().strip().rstrip("#").strip().strip("()") for span in soup.select("article span.eqno")]
    text = "\n".join(cell.source for cell in built(DOWNLOADS, name).cells if cell.cell_type == "markdown")
    assert re.findall(r"\\tag\{([^}]*)\}", text) == site

"""Every chapter keeps the book's promises, and every executed output is clean.

The source checks read the MyST files listed in ``_toc.yml``; the output checks
read the notebooks MyST-NB wrote to ``_build/jupyter_execute`` while building
the site (``make test`` builds it first).
"""

import json
import re
import statistics
from pathlib import Path

import pytest
import yaml
from book_toc import LONGEST_CELL, MEDIAN_CELL, cell_lengths, code_cell_lengths, toc_files

REPO_ROOT = Path(__file__).resolve().parent.parent
EXECUTED = REPO_ROOT / "_build" / "jupyter_execute"

TEACHING_CHAPTERS = (
    "what_is_a_loss",
    "binary_cross_entropy",
    "log_loss_names",
    "softmax_cross_entropy",
    "regression_losses",
    "training_with_a_loss",
    "margin_losses",
    "combining_losses",
    "sequence_losses",
)
"""The chapters that teach, and so carry goals, exercises, a summary and the rest."""

NOISE = {
    "a traceback": re.compile(r"Traceback \(most recent call last\)"),
    "a printed warning": re.compile(r"\.py:\d+: \w*Warning"),
    "a memory address": re.compile(r" at 0x[0-9a-f]+"),
    "a bare Axes repr": re.compile(r"<(Axes|Figure)[^>]*>"),
    "a TODO": re.compile(r"\bTODO\b|\bFIXME\b|\bXXX\b"),
}


def source(chapter):
    """The MyST source of ``book/<chapter>.md``."""
    return (REPO_ROOT / "book" / f"{chapter}.md").read_text()


def test_every_teaching_chapter_is_in_the_table_of_contents():
    """The list above and the table of contents name the same teaching chapters."""
    assert {f"book/{chapter}" for chapter in TEACHING_CHAPTERS} <= set(toc_files())


@pytest.mark.parametrize("page", toc_files())
def test_notebook_pages_declare_jupytext_and_the_python3_kernel(page):
    """A page with code cells has the front matter without which its cells would not run."""
    text = (REPO_ROOT / f"{page}.md").read_text()
    if "{code-cell}" not in text:
        return
    front = yaml.safe_load(text.split("---")[1])
    assert "jupytext" in front
    assert front["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("page", toc_files())
def test_no_page_leaves_a_todo(page):
    """No page in the table of contents carries a TODO or FIXME."""
    assert not NOISE["a TODO"].search((REPO_ROOT / f"{page}.md").read_text())


def test_cell_lengths_count_code_lines_only():
    """Options, the YAML block and blank lines are not code; a code line starting with : would be."""
    text = (
        "Prose\n```{code-cell} ipython3\n:tags: [remove-cell]\n\nx = 1\ny = 2\n```\n"
        "```{code-cell} ipython3\n---\nmystnb:\n  figure:\n    name: fig-a\n---\nplot()\n```\n"
        "```python\nnot = 'a cell'\n```\n"
    )
    assert cell_lengths(text) == [2, 1]


@pytest.mark.parametrize("page", toc_files())
def test_code_cells_are_short(page):
    """A cell says one thing: a page's median cell has at most 6 non-blank lines, none over 15."""
    lengths = code_cell_lengths(page)
    if not lengths:
        return
    longest = max(lengths)
    assert longest <= LONGEST_CELL, f"cell {lengths.index(longest)} has {longest} lines"
    assert statistics.median(lengths) <= MEDIAN_CELL, f"median {statistics.median(lengths)}"


@pytest.mark.parametrize("chapter", TEACHING_CHAPTERS)
def test_chapter_has_goals_summary_and_exercises(chapter):
    """Learning goals open the chapter; a summary and three or more exercises close it."""
    text = source(chapter)
    assert re.search(r":::\{admonition\} Learning goals", text)
    assert re.search(r"^## Summary", text, re.MULTILINE)
    assert len(re.findall(r"^```\{exercise\}", text, re.MULTILINE)) >= 3


@pytest.mark.parametrize("chapter", TEACHING_CHAPTERS)
def test_chapter_has_an_executable_hidden_solution(chapter):
    """At least one gated solution holds a code cell, hidden in a dropdown."""
    gated = re.findall(r"```\{solution-start\}.*?\n(.*?)```\{solution-end\}", source(chapter), re.DOTALL)
    assert any("{code-cell}" in body for body in gated)
    assert all(":class: dropdown" in body for body in gated)


@pytest.mark.parametrize("chapter", TEACHING_CHAPTERS)
def test_chapter_numbers_and_references_its_equations(chapter):
    """Each chapter labels equations, and the prose refers to every label it defines."""
    text = source(chapter)
    labels = re.findall(r"\$\$\s*\((eq-[\w-]+)\)", text)
    assert labels, "no numbered equations"
    for label in labels:
        assert f"{{eq}}`{label}`" in text, f"{label} is never referenced"


@pytest.mark.parametrize("chapter", TEACHING_CHAPTERS)
def test_chapter_cites_defines_and_compares(chapter):
    """Each chapter cites the literature, links glossary terms, and runs gluon and torch."""
    text = source(chapter)
    assert "{cite}" in text or "{cite:" in text
    assert "{term}" in text
    assert "gluon" in text and "torch" in text


@pytest.mark.parametrize("chapter", TEACHING_CHAPTERS)
def test_chapter_figures_have_captions(chapter):
    """Every figure a code cell makes carries a caption and a name."""
    text = source(chapter)
    figures = re.findall(r"figure:\n(\s+)caption:.*?\n\1name: (fig-[\w-]+)", text, re.DOTALL)
    assert figures, "no captioned figures"


def executed_notebooks():
    """The notebooks MyST-NB executed for the site."""
    return sorted(EXECUTED.rglob("*.ipynb"))


def test_the_site_was_built_with_every_notebook_executed():
    """Every page with code cells has an executed notebook."""
    assert EXECUTED.is_dir(), "build the site first (make book)"
    executed = {path.relative_to(EXECUTED).with_suffix("").as_posix() for path in executed_notebooks()}
    with_code = {page for page in toc_files() if "{code-cell}" in (REPO_ROOT / f"{page}.md").read_text()}
    assert with_code <= executed


@pytest.mark.parametrize("notebook", executed_notebooks(), ids=lambda path: path.stem)
def test_executed_outputs_are_clean(notebook):
    """No output has a traceback, a warning, stderr, a memory address, an Axes repr or a TODO."""
    cells = json.loads(notebook.read_text())["cells"]
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            assert output.get("name") != "stderr", f"cell {index} wrote to stderr"
            assert output["output_type"] != "error", f"cell {index} raised"
            data = output.get("data", {})
            # An image's text/plain twin ("<Figure size ... with 1 Axes>") is never shown on the page.
            shown_text = "" if "image/png" in data else data.get("text/plain", "")
            text = json.dumps(output.get("text", "")) + json.dumps(shown_text)
            for what, pattern in NOISE.items():
                assert not pattern.search(text), f"cell {index} shows {what}: {text[:200]}"

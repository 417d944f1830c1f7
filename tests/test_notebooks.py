"""Each chapter runs from a clean kernel on a reader's machine exactly as it ran for the site.

Every page of ``_toc.yml`` whose front matter names a kernel is converted to a
notebook with jupytext, in a temporary folder, and executed by nbclient on a new
``python3`` kernel whose working folder is the chapter's own, as MyST-NB runs it
when the site is built. A cell that raises, or that writes anything to stderr
(warnings included), fails the test, as it fails the build.
"""

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from book_toc import toc_files

pytestmark = pytest.mark.book

REPO_ROOT = Path(__file__).resolve().parent.parent


def notebook_chapters():
    """The sources listed in ``_toc.yml`` that are notebooks: their front matter names a kernel."""
    chapters = [f"{name}.md" for name in toc_files()]
    return [name for name in chapters if read_chapter(REPO_ROOT / name).metadata.get("kernelspec")]


def read_chapter(path):
    """A MyST Markdown chapter as a notebook, its front matter as the notebook's metadata."""
    return jupytext.read(path, fmt="md:myst")


@pytest.mark.parametrize("chapter", notebook_chapters())
def test_chapter_runs_cleanly_on_a_fresh_kernel(chapter, tmp_path):
    """The chapter's notebook executes without an error and without a line on stderr."""
    source = REPO_ROOT / chapter
    converted = tmp_path / source.with_suffix(".ipynb").name
    jupytext.write(read_chapter(source), converted)
    notebook = nbformat.read(converted, as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(source.parent)}}
    )
    client.execute()
    stderr = [
        output.text
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
    ]
    assert stderr == []

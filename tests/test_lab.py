"""Every chapter in JupyterLab, as ``make lab`` opens it: rendered like the site, and every cell runs.

The book build writes each chapter's lab notebook to ``_build/lab`` (see
``book/_ext/lossbook_readers.py``). A JupyterLab server on 127.0.0.1, with
``jupyterlab-myst`` and the virtualenv's kernel, serves that folder, and
headless Chromium opens each notebook, runs all its cells, and reads what a
reader would see. A screenshot of each chapter after the run goes to
``_build/screenshots/lab``. Without Chromium or a built book these tests
skip; with ``CI`` set they fail.
"""

import os
import re
import time
from pathlib import Path

import pytest

from book_toc import toc_files
from lab_server import jupyterlab
from site_visits import chromium_path, launch

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB_DIR = REPO_ROOT / "_build" / "lab"
SHOTS = REPO_ROOT / "_build" / "screenshots" / "lab"
CHAPTERS = [name for name in toc_files() if (REPO_ROOT / f"{name}.md").read_text().count("{code-cell}")]
RAW_MYST = re.compile(r"\{glue|:::\{|```\{|\{term\}|\{eq\}|\{cite|\{numref\}|\{ref\}|\{prf:|\{exercise|\{solution")
RUN_TIMEOUT = 600  # seconds for one chapter's cells, on a busy two-core machine

# What the open notebook holds and shows: each code cell's execution count, every error and
# stderr output, each Markdown cell's rendered text (null if it is not rendered), the kernel's state.
NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets;
  const code = cells.filter((cell) => cell.model.type === "code");
  return {
    counts: code.map((cell) => cell.model.executionCount),
    errors: code.flatMap((cell) => cell.model.outputs.toJSON()
      .filter((o) => o.output_type === "error" || (o.output_type === "stream" && o.name === "stderr"))
      .map((o) => (o.ename ? `${o.ename}: ${o.evalue}` : [].concat(o.text).join("")).slice(0, 300))),
    markdown: cells.filter((cell) => cell.model.type === "markdown").map((cell) => {
      const shown = cell.node.querySelector(".lm-Widget.myst, .jp-MarkdownOutput");
      return shown ? shown.innerText : null;
    }),
    kernel: panel.sessionContext.session?.kernel?.status ?? null,
  };
}"""


# Bring the first framework tab-set into view, under the cells it shows; false if there is none.
SCROLL_TO_TABS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.widgets;
  const tabs = cells.find((cell) => cell.model.type === "markdown"
    && cell.model.sharedModel.getSource().includes("{tab-set}"));
  if (!tabs) return false;
  tabs.node.scrollIntoView({block: "center"});
  return true;
}"""


def unavailable(reason):
    """Skip locally; fail in CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The base URL of a JupyterLab server on the lab notebooks of the last build."""
    if not (LAB_DIR / "book").is_dir():
        unavailable(f"no lab notebooks in {LAB_DIR}: run `make book` first")
    with jupyterlab(LAB_DIR, tmp_path_factory.mktemp("jupyterlab")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, driven by Playwright."""
    if chromium_path() is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def run_chapter(browser, lab, name):
    """Open the chapter in JupyterLab, run all its cells; return what it shows and what it fetched."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside = []
    page.on("request", lambda request: request.url.startswith(lab) or outside.append(request.url))
    try:
        # ?reset: a fresh workspace, without the notebooks an earlier chapter left open.
        page.goto(f"{lab}lab/tree/{name}.ipynb?reset", wait_until="load")
        page.wait_for_function(
            "(path) => window.jupyterapp?.shell.currentWidget?.context?.path === path"
            " && window.jupyterapp.shell.currentWidget.content.widgets.length > 0",
            arg=f"{name}.ipynb",
            timeout=120_000,
        )
        page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget?.sessionContext.session?.kernel?.status === 'idle'",
            timeout=120_000,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            state = page.evaluate(NOTEBOOK_STATE)
            if state["errors"] or (None not in state["counts"] and state["kernel"] == "idle"):
                break
            assert time.monotonic() < deadline, f"{name}: cells still running after {RUN_TIMEOUT} s"
            time.sleep(1)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("() => document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer').scrollTo(0, 0)")
        page.screenshot(path=SHOTS / f"{Path(name).name}.png")
        if page.evaluate(SCROLL_TO_TABS):
            page.screenshot(path=SHOTS / f"{Path(name).name}-tabs.png")
        state["outside"] = outside
        state["path"] = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        return state
    finally:
        context.close()


@pytest.fixture(scope="module")
def runs(browser, lab):
    """Each chapter run once in JupyterLab, on demand: {chapter: what it showed}."""
    cache = {}

    def run(name):
        if name not in cache:
            cache[name] = run_chapter(browser, lab, name)
        return cache[name]

    return run


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_cell_runs_without_stderr(runs, chapter):
    """Run All executes every code cell of the chapter, and none writes to stderr or raises."""
    state = runs(chapter)
    assert state["path"] == f"{chapter}.ipynb"
    assert state["errors"] == []
    assert state["counts"] and None not in state["counts"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_markdown_renders_without_raw_myst(runs, chapter):
    """Every Markdown cell is rendered, and none shows MyST source: glue, directives, roles."""
    markdown = runs(chapter)["markdown"]
    assert markdown and None not in markdown, "a Markdown cell is not rendered"
    raw = [match.group(0) for text in markdown for match in RAW_MYST.finditer(text)]
    assert raw == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_lab_fetches_nothing_from_another_host(runs, chapter):
    """Opening and running the chapter requests nothing beyond the local server."""
    assert runs(chapter)["outside"] == []


def test_screenshots_show_rendered_chapters(runs):
    """A screenshot of every chapter after its run is saved for review."""
    for chapter in CHAPTERS:
        runs(chapter)
    shots = [SHOTS / f"{Path(chapter).name}.png" for chapter in CHAPTERS]
    assert all(path.stat().st_size > 20_000 for path in shots)

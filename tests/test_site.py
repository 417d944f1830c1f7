"""The built site in headless Chromium: offline, clean, legible, and its figures agree with lossbook.

The site in ``_build/html`` (``make test`` builds it first), or in the folder
``LOSSBOOK_SITE_DIR`` names, is served on 127.0.0.1 and driven with Debian's
Chromium. Every page of the table of contents is loaded once, the way that asks
the most of it (390 px wide, dark mode), and the per-page tests read what that
visit recorded; the interactive figures are then set and read on their own page.
Without Chromium or a built site these tests skip; with ``CI`` set they fail.
Screenshots go to ``screenshots/`` beside the site folder (``_build/screenshots``).
"""

import io
import os
import re
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image

import lossbook as lb
from book_toc import toc_files
from site_contrast import contrast_ratio, ink_contrast
from site_server import serving
from site_visits import (
    BROKEN_IMAGES,
    FIGURE_BOXES,
    HEAD,
    MATH_COLOURS,
    MATH_STATE,
    SEARCH_BOXES,
    SELECTED_FRAMEWORKS,
    SIDEWAYS,
    chromium_path,
    launch,
    open_page,
    readouts,
    set_value,
)

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = Path(os.environ.get("LOSSBOOK_SITE_DIR", REPO_ROOT / "_build" / "html")).resolve()
LEGIBLE = 4.5  # WCAG AA contrast for body text
NARROW = 390  # a phone's width in CSS pixels
RTOL = 1e-12  # JavaScript's and numpy's libm differ by an ulp or two
PAGES = [f"{name}.html" for name in toc_files()]


def unavailable(reason):
    """Skip locally; fail in CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site():
    """The base URL of the built site, served on 127.0.0.1."""
    if not (SITE_DIR / "index.html").exists():
        unavailable(f"no built site in {SITE_DIR}: run `make book` first")
    with serving(SITE_DIR) as url:
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


@pytest.fixture(scope="module")
def visits(browser, site):
    """Each page loaded once, at phone width in dark mode: what it logged, fetched and showed."""
    cache = {}

    def visit(path):
        if path not in cache:
            with open_page(browser, site + path, width=NARROW, mode="dark") as (page, seen):
                cache[path] = {
                    **seen,
                    "head": page.evaluate(HEAD),
                    "theme": page.evaluate("document.documentElement.dataset.theme"),
                    "math": page.evaluate(MATH_STATE),
                    "math_colours": page.evaluate(MATH_COLOURS),
                    "broken_images": page.evaluate(BROKEN_IMAGES),
                    "sideways": page.evaluate(SIDEWAYS),
                    "search": page.evaluate(SEARCH_BOXES),
                    "figures": figure_contrasts(page),
                    "frameworks": choose_each_framework(page),
                }
        return cache[path]

    return visit


def figure_contrasts(page):
    """[(figure, ink contrast)] for each figure, cut from one screenshot of the whole page."""
    boxes = page.evaluate(FIGURE_BOXES)
    if not boxes:
        return []
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    return [(name, ink_contrast(shot.crop(tuple(round(v) for v in box)))) for name, box in boxes]


def choose_each_framework(page):
    """{framework: what every tab-set offering it then shows} after clicking its first tab, if any.

    A tab-set without that framework (``:frameworks: gluon torch``, say) keeps its choice.
    """
    chosen = {}
    for framework in ("torch", "lossbook", "gluon"):
        tabs = page.locator(f'label.sd-tab-label[data-sync-group="framework"][data-sync-id="{framework}"]')
        # Click a tab not already shown: clicking a shown one (a one-tab set's) changes nothing.
        unshown = tabs.evaluate_all("(labels) => labels.findIndex((l) => !document.getElementById(l.htmlFor).checked)")
        if unshown >= 0:
            tabs.nth(unshown).click()
            sets = page.evaluate(SELECTED_FRAMEWORKS)
            chosen[framework] = [shown for offered, shown in sets if framework in offered]
    return chosen


@pytest.fixture(scope="module")
def explore(browser, site):
    """The interactive figures page, loaded once for the tests that read or set its controls."""
    with open_page(browser, site + "book/explore.html") as (page, _):
        yield page


@pytest.mark.parametrize("path", PAGES)
def test_page_logs_no_console_errors(visits, path):
    """Loading the page logs no console error and throws no exception."""
    assert visits(path)["errors"] == []


@pytest.mark.parametrize("path", PAGES)
def test_page_requests_nothing_beyond_the_local_server(visits, site, path):
    """Every request the page makes goes to the local server: it renders fully offline."""
    outside = [url for url in visits(path)["requests"] if not url.startswith((site, "data:", "blob:"))]
    assert outside == []


@pytest.mark.parametrize("path", PAGES)
def test_all_math_is_typeset(visits, path):
    """MathJax typesets every equation: containers present, no TeX errors, no raw delimiters."""
    math = visits(path)["math"]
    assert math["typeset"] == math["math"]
    assert math["errors"] == 0
    assert math["raw"] == []


@pytest.mark.parametrize("path", PAGES)
def test_every_image_loads(visits, path):
    """Every image on the page loads with a non-zero natural width."""
    assert visits(path)["broken_images"] == []


@pytest.mark.parametrize("path", PAGES)
def test_page_has_a_title_and_description(visits, path):
    """The page has its own <title> and a meta description for search results and link previews."""
    head = visits(path)["head"]
    assert head["title"].endswith("lossbook") and len(head["title"]) > len("lossbook") + 3
    assert len(head["description"]) >= 40


def test_page_descriptions_differ(visits):
    """No two pages share a meta description."""
    descriptions = [visits(path)["head"]["description"] for path in PAGES]
    assert len(set(descriptions)) == len(descriptions)


@pytest.mark.parametrize("path", PAGES)
def test_no_sideways_scroll_at_phone_width(visits, path):
    """At 390 px the page never scrolls sideways: wide content scrolls inside its own box."""
    sideways = visits(path)["sideways"]
    assert sideways["scrollWidth"] <= sideways["innerWidth"], sideways["culprits"]


@pytest.mark.parametrize("path", PAGES)
def test_figures_and_equations_are_legible_in_dark_mode(visits, path):
    """In dark mode each figure's ink and each equation contrast at least 4.5:1 with their background."""
    visit = visits(path)
    assert visit["theme"] == "dark"
    faint_figures = [(name, round(ratio, 2)) for name, ratio in visit["figures"] if ratio < LEGIBLE]
    assert faint_figures == []
    faint_math = [pair for pair in visit["math_colours"] if contrast_ratio(*pair) < LEGIBLE]
    assert faint_math == []


@pytest.mark.parametrize("path", PAGES)
def test_one_search_box_at_phone_width(visits, path):
    """At 390 px the page shows one way to search: the header's search button."""
    assert len(visits(path)["search"]) == 1, visits(path)["search"]


def test_one_search_box_on_a_wide_screen(browser, site):
    """At 1280 px every page shows one search box, the header's."""
    boxes = {}
    for path in PAGES:
        with open_page(browser, site + path) as (page, _):
            boxes[path] = page.evaluate(SEARCH_BOXES)
    assert {path: len(found) for path, found in boxes.items()} == {path: 1 for path in PAGES}, boxes


def test_search_finds_cross_entropy(browser, site):
    """The search page lists the pages that mention cross-entropy, the interactive figures among them."""
    with open_page(browser, site + "search.html?q=cross-entropy") as (page, seen):
        page.wait_for_selector("#search-results p.search-summary", timeout=15000)
        found = page.locator("#search-results li a").evaluate_all("links => links.map(a => a.href)")
    assert any(href.split("?")[0].endswith("book/explore.html") for href in found)
    assert seen["errors"] == []


def test_framework_tabs_switch_together(visits):
    """Choosing gluon, torch or lossbook in one tab-set switches every framework tab-set on the page."""
    chosen = {path: visits(path)["frameworks"] for path in PAGES}
    assert chosen["book/explore.html"], "the interactive figures page has framework tabs"
    for path, choices in chosen.items():
        for framework, shown in choices.items():
            assert set(shown) == {framework}, (path, framework, shown)


def test_glossary_term_shows_its_definition_on_hover(explore):
    """Hovering a glossary term link shows the term's definition in a card."""
    explore.locator('a.reference.internal[href$="#term-log-loss"]').first.hover()
    card = explore.locator("#lossbook-term-card")
    card.wait_for(state="visible")
    assert "Bernoulli label" in card.inner_text()


def test_solution_dropdown_opens_on_click(browser, site):
    """An exercise's solution starts folded and unfolds when its header is clicked."""
    with open_page(browser, site + "book/explore.html") as (page, _):
        solution = page.locator(".solution.dropdown").first
        body = solution.locator("section").first
        assert not body.is_visible()
        solution.locator(".admonition-title").click()
        body.wait_for(state="visible")


def test_code_blocks_have_copy_buttons(explore):
    """Every code block on the page carries a copy button."""
    blocks = explore.locator("div.highlight").count()
    assert blocks > 0
    assert explore.locator("div.highlight button.copybtn").count() == blocks


def test_download_buttons_offer_the_readers_notebook_and_the_pdf(explore, site):
    """The page offers its .md, its reader's notebook (no MyST left) and the book's PDF; no launch button without a repository."""
    links = explore.locator(".dropdown-download-buttons a, .dropdown-launch-buttons a").evaluate_all(
        "anchors => anchors.map(a => a.href)"
    )
    assert all(href.startswith(site) for href in links), links
    ipynb = next(href for href in links if href.endswith("_sources/book/explore.ipynb"))
    assert any(href.endswith("_sources/book/explore.md") for href in links)
    assert any(href == site + "lossbook.pdf" for href in links)
    with urllib.request.urlopen(ipynb) as response:
        notebook = nbformat.reads(response.read().decode(), as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert re.findall(r"\{[\w:+.-]+\}`|\{glue", markdown) == []
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize(("label", "probability"), [(0.8, 0.3), (0.0, 0.999), (1.0, 0.001), (0.37, 0.5)])
def test_log_loss_figure_matches_lossbook(explore, label, probability):
    """The log-loss figure computes lossbook's binary cross-entropy, and the entropy at p = y."""
    widget = explore.locator('.lossbook-widget[data-widget="log-loss"]')
    y = float(set_value(widget.locator('input[name="label"]'), label))
    p = float(set_value(widget.locator('input[name="probability"]'), probability))
    shown = readouts(widget)
    assert_allclose(shown["loss"], lb.binary_cross_entropy(np.array([p]), np.array([y])), rtol=RTOL)
    assert_allclose(shown["entropy"], lb.binary_cross_entropy(np.array([y]), np.array([y])), rtol=RTOL)


@pytest.mark.parametrize(
    ("logits", "temperature", "target"),
    [([2.0, 1.0, 0.1, -1.0], 1.0, 0), ([1000.0, 0.0, -1000.0, 3.0], 0.5, 2), ([0.3, 0.3, 0.3, 0.3], 5.0, 3)],
)
def test_softmax_figure_matches_lossbook(explore, logits, temperature, target):
    """The softmax figure computes lossbook's softmax and cross-entropy, extreme logits included."""
    widget = explore.locator('.lossbook-widget[data-widget="softmax"]')
    for field, logit in zip(widget.locator('input[name="logit"]').all(), logits):
        field.fill(str(logit))
    t = float(set_value(widget.locator('input[name="temperature"]'), temperature))
    widget.locator('select[name="target"]').select_option(str(target))
    shown = readouts(widget)
    scaled = np.array(logits) / t
    assert_allclose(shown["probability"], lb.softmax(scaled), rtol=RTOL)
    assert_allclose(shown["cross-entropy"], lb.cross_entropy(scaled[None], np.array([target])), rtol=RTOL)


@pytest.mark.parametrize(("delta", "residual"), [(1.0, 1.5), (0.1, -3.0), (3.0, 2.99), (2.0, -0.5)])
def test_regression_figure_matches_lossbook(explore, delta, residual):
    """The regression figure computes lossbook's L1, half MSE and Huber losses."""
    widget = explore.locator('.lossbook-widget[data-widget="regression"]')
    d = float(set_value(widget.locator('input[name="delta"]'), delta))
    r = float(set_value(widget.locator('input[name="residual"]'), residual))
    shown = readouts(widget)
    prediction, target = np.array([r]), np.array([0.0])
    assert_allclose(shown["l1"], lb.l1_loss(prediction, target), rtol=RTOL)
    assert_allclose(shown["l2"], lb.mse_loss(prediction, target) / 2, rtol=RTOL)
    assert_allclose(shown["huber"], lb.huber_loss(prediction, target, delta=d), rtol=RTOL)


def test_screenshots_of_landing_page_and_a_chapter(browser, site):
    """Full-page screenshots of the landing page and the first chapter, light and dark, saved for review."""
    folder = SITE_DIR.parent / "screenshots"
    folder.mkdir(exist_ok=True)
    saved = []
    for path in PAGES[:2]:
        for mode in ("light", "dark"):
            with open_page(browser, site + path, mode=mode) as (page, _):
                target = folder / f"{Path(path).stem}-{mode}.png"
                page.screenshot(path=target, full_page=True)
                saved.append(target)
    assert all(p.stat().st_size > 10_000 for p in saved)

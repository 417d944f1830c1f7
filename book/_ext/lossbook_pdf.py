"""Print the book to one PDF with headless Chromium, offline: ``make pdf``.

    python book/_ext/lossbook_pdf.py _build/singlehtml _build/pdf/lossbook.pdf

The input is the ``singlehtml`` build: every page of the table of contents in
one HTML document, its cross-references turned into links within it, its math
typeset by the MathJax copy the site ships. This serves that folder on
127.0.0.1, opens it in Debian's Chromium (through Playwright, as the browser
tests do), waits for MathJax, and prints it: a title page, the contents (each
entry a link), every chapter from a new page, every tab of a framework tab-set
one after the other, every dropdown and solution unfolded, page numbers in the
footer and the chapters in the PDF's outline. Nothing is fetched from another
host; a request that tries is refused, and the script fails.
"""

import argparse
import contextlib
import datetime
import functools
import http.server
import shutil
import sys
import threading
import time
from pathlib import Path

import yaml

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm; }
html, body { background: #fff !important; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article,
.bd-header-article, .header-article, .prev-next-area, .headerlink, button.copybtn,
.search-button, #pst-back-to-top, .skip-link, .bd-search, .pst-scrollable-table-container > button,
.sd-tab-set > input, .toggle-button, .tag_remove-cell { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width, .bd-container,
.bd-container__inner { max-width: none !important; width: 100% !important; padding: 0 !important;
  margin: 0 !important; display: block !important; }
body { font-size: 10.5pt; }
/* Every chapter from a new page. */
article .toctree-wrapper > section { break-before: page; }
h1, h2, h3, h4 { break-after: avoid; }
figure, .cell_output img, table, .admonition, mjx-container[display="true"] { break-inside: avoid; }
pre { white-space: pre-wrap !important; word-break: break-word; max-height: none !important; }
.cell_output, .output, .highlight { max-height: none !important; overflow: visible !important; }
img { max-width: 100% !important; }
/* Every tab of a tab-set, one after the other, each under its label. */
.sd-tab-set { display: block !important; }
.sd-tab-set > label { display: block !important; border: 0 !important; padding: 0.4em 0 0.1em !important;
  font-weight: 600; color: #333 !important; }
.sd-tab-set > .sd-tab-content { display: block !important; box-shadow: none !important; padding: 0 0 0.4em 0.8em !important;
  border-left: 2px solid #ccc !important; }
details > summary .sd-summary-down, details > summary .sd-summary-up { display: none !important; }
.lossbook-title-page { height: 240mm; display: flex; flex-direction: column; justify-content: center;
  text-align: center; break-after: page; }
.lossbook-title-page h1 { font-size: 36pt; margin: 0 0 0.3em; border: 0; }
.lossbook-title-page .subtitle { font-size: 16pt; color: #444; }
.lossbook-title-page .author { margin-top: 3em; font-size: 13pt; }
.onlyprint > h1 { display: none !important; }
#jb-print-toc { break-after: page; }
#jb-print-toc a { color: #111 !important; text-decoration: none; }
#jb-print-toc .caption { font-weight: 600; margin-top: 1em; }
"""

# Unfold what the site folds and put a title page before the contents sphinx-book-theme
# prints (each entry a link to its chapter); return how many chapters there are, and entries.
PREPARE = """({title, subtitle, author, date}) => {
  document.querySelectorAll("details").forEach((d) => d.setAttribute("open", ""));
  document.querySelectorAll(".toggle-hidden").forEach((el) => el.classList.remove("toggle-hidden"));
  document.querySelectorAll("img").forEach((img) => { img.loading = "eager"; });
  // Links into the book become links within the PDF; links to the local server's other files go.
  document.querySelectorAll("a[href]").forEach((a) => {
    const target = new URL(a.href, location.href);
    if (target.origin !== location.origin) return;
    if (target.hash && document.getElementById(decodeURIComponent(target.hash.slice(1)))) {
      a.setAttribute("href", target.hash);
    } else {
      a.removeAttribute("href");
    }
  });
  const page = document.createElement("section");
  page.className = "lossbook-title-page";
  page.innerHTML = `<h1></h1><div class="subtitle"></div><div class="author"></div><div class="date"></div>`;
  page.querySelector("h1").textContent = title;
  page.querySelector(".subtitle").textContent = subtitle;
  page.querySelector(".author").textContent = author;
  page.querySelector(".date").textContent = date;
  const contents = document.querySelector(".onlyprint");
  contents.before(page);
  return {
    chapters: document.querySelectorAll("article .toctree-wrapper > section").length,
    entries: contents.querySelectorAll("#jb-print-toc a[href^='#document-']").length,
  };
}"""

WAIT_FOR_MATH = """async () => {
  if (!window.MathJax || !MathJax.startup) return false;
  await MathJax.startup.promise;
  if (MathJax.typesetPromise) await MathJax.typesetPromise();
  return true;
}"""

FOOTER = (
    '<div style="width: 100%; font-size: 8pt; color: #666; text-align: center;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


class BookHandler(http.server.SimpleHTTPRequestHandler):
    """Files of the build, and its one page at ``/book.html``.

    The singlehtml builder writes the page where the root document lives
    (``book/index.html``) but links its assets as if it stood at the top of the
    folder (``_static/...``), so it is served from there.
    """

    page = "index.html"

    def translate_path(self, path):
        if path.split("?")[0] == "/book.html":
            path = "/" + self.page
        return super().translate_path(path)

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serving(directory, page="index.html"):
    """Serve ``directory``, its ``page`` as ``/book.html``, on a free port of 127.0.0.1; yield the base URL."""
    handler = functools.partial(type("Handler", (BookHandler,), {"page": page}), directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def book_metadata(config_path):
    """Title, subtitle, author and date for the title page, from ``_config.yml``."""
    config = yaml.safe_load(Path(config_path).read_text())
    return {
        "title": config.get("title", "lossbook"),
        "subtitle": config.get("description", "Loss functions, derived and checked"),
        "author": config.get("author", ""),
        "date": datetime.date.today().strftime("%B %Y"),
    }


def root_page(toc_path):
    """The page the book starts at (``book/index.html``), from ``_toc.yml``."""
    return yaml.safe_load(Path(toc_path).read_text())["root"] + ".html"


def print_book(folder, output, metadata, root="index.html", *, timeout=300):
    """Print ``folder/<root>`` to ``output``; return (what the contents holds, seconds)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("make pdf needs Chromium: apt-get install chromium")
    started = time.monotonic()
    with serving(folder, root) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            outside = []

            def refuse(route):
                outside.append(route.request.url)
                route.abort()

            page.route(lambda address: not address.startswith((url, "data:", "blob:")), refuse)
            page.goto(url + "book.html", wait_until="load", timeout=timeout * 1000)
            page.emulate_media(media="print")
            page.add_style_tag(content=PRINT_CSS)
            if not page.evaluate(WAIT_FOR_MATH):
                raise SystemExit("MathJax did not load: the singlehtml build ships it in _static/mathjax")
            counts = page.evaluate(PREPARE, metadata)
            page.evaluate(WAIT_FOR_MATH)
            page.wait_for_load_state("networkidle")
            if outside:
                raise SystemExit(f"the book asked for {len(outside)} resources from other hosts: {outside[:3]}")
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            page.pdf(
                path=str(output),
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
                margin={"top": "16mm", "bottom": "18mm", "left": "15mm", "right": "15mm"},
                outline=True,
                tagged=True,
            )
        finally:
            browser.close()
    return counts, time.monotonic() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the singlehtml build")
    parser.add_argument("output", type=Path, help="the PDF to write")
    parser.add_argument("--book", type=Path, default=Path("."), help="the folder of _config.yml and _toc.yml")
    args = parser.parse_args(argv)
    root = root_page(args.book / "_toc.yml")
    if not (args.folder / root).exists():
        raise SystemExit(f"{args.folder / root} is missing: build with --builder singlehtml first")
    counts, seconds = print_book(args.folder, args.output, book_metadata(args.book / "_config.yml"), root)
    if counts["entries"] != counts["chapters"]:
        raise SystemExit(f"the contents lists {counts['entries']} pages but the book has {counts['chapters']}")
    print(f"[pdf] {args.output}: {counts['chapters']} chapters, printed in {seconds:.1f} s")


if __name__ == "__main__":
    sys.exit(main())

"""Page weight and time to typeset the math, for every page of the built site.

Serves a built site (``_build/html``, or the folder given as the argument) on
127.0.0.1 and loads each page of ``_toc.yml`` in headless Chromium with an empty
cache, three times. For each page it prints:

- transferred: the bytes that crossed the wire for the page and everything it
  loaded (headers included), from a server that gzips text when the browser asks,
  as the static hosts a book is published on (GitHub Pages, Netlify, Read the
  Docs) do;
- uncompressed: the same resources' bytes before compression, which is what an
  uncompressing server such as ``make serve`` sends;
- typeset: the median milliseconds from navigation to the resolution of
  MathJax's startup promise, when every equation on the page is typeset;
- result: pass when at most 1.5 MB is transferred and the math is typeset
  within 1.5 s.

Run: .venv/bin/python bench/site.py [SITE_DIR]
"""

import functools
import gzip
import http.server
import mimetypes
import shutil
import statistics
import sys
import threading
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 1_500_000
MAX_SECONDS = 1.5
LOADS = 3
COMPRESSIBLE = {".html", ".css", ".js", ".json", ".svg", ".txt", ".map"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Notes when MathJax's startup promise resolves; asking only after the load event would time that.
NOTE_TYPESET = """addEventListener("DOMContentLoaded", () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => { window.lossbookTypesetAt = performance.now(); });
  }
});"""
TYPESET = """async () => window.MathJax && MathJax.startup
  ? MathJax.startup.promise.then(() => window.lossbookTypesetAt)
  : null"""

# Every response of the page so far: the document and each resource it fetched.
WEIGHT = """() => {
  const entries = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"));
  return {
    transferred: entries.reduce((sum, e) => sum + e.transferSize, 0),
    uncompressed: entries.reduce((sum, e) => sum + e.decodedBodySize, 0),
  };
}"""


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files like a static host: text gzipped when the browser accepts gzip."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts_gzip and path.suffix in COMPRESSIBLE and path.is_file()):
            super().do_GET()
            return
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def toc_pages():
    """The site path of every page in ``_toc.yml``, root first."""

    def files(entry):
        if isinstance(entry, list):
            for item in entry:
                yield from files(item)
        elif isinstance(entry, dict):
            if "file" in entry:
                yield entry["file"]
            for key in ("parts", "chapters", "sections"):
                yield from files(entry.get(key, []))

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    return [f"{name}.html" for name in [toc["root"], *files(toc)]]


def measure(browser, url):
    """One cold load of ``url``: ms until its math is typeset (None without MathJax), and its bytes."""
    context = browser.new_context()
    context.add_init_script(NOTE_TYPESET)
    page = context.new_page()
    try:
        page.goto(url, wait_until="load")
        typeset = page.evaluate(TYPESET)
        page.wait_for_load_state("networkidle")  # the math fonts arrive after the typesetting
        return {"typeset": typeset, **page.evaluate(WEIGHT)}
    finally:
        context.close()


def row(path, loads):
    """One table line: the page, its weight, its median typeset time and the verdict."""
    transferred = max(load["transferred"] for load in loads)
    uncompressed = max(load["uncompressed"] for load in loads)
    times = [load["typeset"] for load in loads if load["typeset"] is not None]
    typeset = statistics.median(times) if times else None
    passed = transferred <= MAX_BYTES and (typeset is None or typeset <= MAX_SECONDS * 1000)
    shown = "no math" if typeset is None else f"{typeset:.0f} ms"
    verdict = "pass" if passed else "FAIL"
    return f"{path:<36} {transferred / 1e6:>9.3f} MB {uncompressed / 1e6:>9.3f} MB {shown:>9}  {verdict}"


def main():
    """Serve the site, load each page cold ``LOADS`` times and print the table."""
    site = Path(sys.argv[1] if len(sys.argv) > 1 else REPO_ROOT / "_build" / "html").resolve()
    handler = functools.partial(GzipHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    print(f"{site}: at most {MAX_BYTES / 1e6} MB transferred and {MAX_SECONDS} s to typeset, "
          f"median of {LOADS} cold loads\n")
    print(f"{'page':<36} {'transferred':>12} {'uncompressed':>12} {'typeset':>9}  result")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        for path in toc_pages():
            print(row(path, [measure(browser, base + path) for _ in range(LOADS)]), flush=True)
        browser.close()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()

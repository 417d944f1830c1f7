"""Draw the theme's icons from its web font alone.

pydata-sphinx-theme's stylesheet already draws every Font Awesome icon from the
web fonts it ships in ``_static/vendor/fontawesome``. Its ``fontawesome.js``
redraws the same icons as inline SVG and weighs 1.5 MB, more than the rest of a
page put together. After the build, this extension removes that script's tag
from each page and the script itself from ``_static``, so a page loads only the
one font file its visible icons need.
"""

import re
from pathlib import Path

SCRIPT = Path("_static", "scripts", "fontawesome.js")
SCRIPT_TAG = re.compile(r'\s*<script defer src="[^"]*scripts/fontawesome\.js\?digest=\w+"></script>')


def drop_icon_script(app, exception):
    """Strip the icon script's tag from the written pages, then delete the script."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for page in outdir.rglob("*.html"):
        if outdir / "_static" in page.parents:
            continue
        markup = page.read_text(encoding="utf-8")
        lighter = SCRIPT_TAG.sub("", markup)
        if lighter != markup:
            page.write_text(lighter, encoding="utf-8")
    for leftover in (SCRIPT, SCRIPT.with_suffix(".js.map"), SCRIPT.with_suffix(".js.LICENSE.txt")):
        (outdir / leftover).unlink(missing_ok=True)


def setup(app):
    app.connect("build-finished", drop_icon_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

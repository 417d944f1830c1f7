"""Ship MathJax with the site, so that math is typeset without a network.

The pinned ``sphinx-mathjax-offline`` package carries MathJax 3.2.2. Loaded as a
Sphinx extension it copies all 24 MB of it and points every page at the 1.2 MB
combined ``tex-chtml.js``, menu and all. This extension takes only the pieces
``_config.yml`` asks for instead: ``mathjax_path: mathjax/startup.js`` loads the
small loader, and ``mathjax3_config.loader.load`` names the components it then
fetches from ``_static/mathjax``. A component added to that list must be added to
``COMPONENTS`` below too; the browser tests fail on a page whose MathJax cannot
load one.
"""

import importlib.util
import shutil
from pathlib import Path

# Paths inside MathJax's distribution: the loader, its core, TeX input (with the
# extensions its autoload fetches on demand), HTML-CSS output with its fonts, and
# the hidden MathML that screen readers read.
COMPONENTS = (
    "startup.js",
    "core.js",
    "input/tex.js",
    "input/tex/extensions",
    "output/chtml.js",
    "output/chtml/fonts",
    "a11y/assistive-mml.js",
)


def mathjax_distribution():
    """Return the folder of the MathJax copy that sphinx-mathjax-offline installed."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    return Path(spec.origin).parent / "static" / "mathjax"


def copy_components(app, exception):
    """Copy the listed MathJax components into the site's ``_static/mathjax``."""
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_distribution()
    target = Path(app.outdir, "_static", "mathjax")
    for component in COMPONENTS:
        origin, destination = source / component, target / component
        destination.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, destination)


def setup(app):
    app.connect("build-finished", copy_components)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

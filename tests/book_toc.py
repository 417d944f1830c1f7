"""The files named in the book's table of contents, read from ``_toc.yml``."""

from pathlib import Path

import yaml

TOC = Path(__file__).resolve().parent.parent / "_toc.yml"


def toc_files():
    """Every file ``_toc.yml`` names, without its suffix: the root, then the rest in order."""

    def files(entry):
        if isinstance(entry, list):
            for item in entry:
                yield from files(item)
        elif isinstance(entry, dict):
            if "file" in entry:
                yield entry["file"]
            for key in ("parts", "chapters", "sections"):
                yield from files(entry.get(key, []))

    toc = yaml.safe_load(TOC.read_text())
    return [toc["root"], *files(toc)]

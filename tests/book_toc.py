"""The files named in the book's table of contents, read from ``_toc.yml``."""

import re
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


CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
LONGEST_CELL = 15
"""No code cell of a page may have more non-blank lines than this."""
MEDIAN_CELL = 6
"""A page's median code cell may have at most this many non-blank lines."""


def code_cell_lengths(page):
    """Non-blank code lines of each code cell of ``<page>.md``, in order (see :func:`cell_lengths`)."""
    return cell_lengths((TOC.parent / f"{page}.md").read_text())


def cell_lengths(text):
    """Non-blank code lines of each ``{code-cell}`` of MyST text, in order.

    Cell options (``:tags: ...`` lines and a ``---`` YAML block at the top of
    the cell) are metadata, not code, and are not counted.
    """
    lengths = []
    for body in CELL.findall(text):
        lines = body.splitlines()
        if lines and lines[0].strip() == "---":
            end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
            lines = lines[end + 1 :]
        lines = [line for line in lines if not line.startswith(":") or line.startswith("::")]
        lengths.append(sum(1 for line in lines if line.strip()))
    return lengths

"""The notebooks the book build executed, and the values their cells glued.

``make test`` builds the site before it runs the tests, and MyST-NB keeps each
page's executed notebook in ``_build/jupyter_execute``, with the values its
cells glued moved out into ``<page>.glue.json`` beside it. Tests that pin the
numbers a chapter states read them from there, so they check exactly what the
site shows, without executing the chapter a second time.
"""

from pathlib import Path

import ast
import json

import nbformat

EXECUTED = Path(__file__).resolve().parent.parent / "_build" / "jupyter_execute" / "book"


def executed_page(name):
    """Return the executed notebook of ``book/<name>.md`` from the last build."""
    path = EXECUTED / f"{name}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build the book first (make book)")
    return nbformat.read(path, as_version=4)


def glued_texts(name):
    """Return ``{key: repr text}`` for every value ``book/<name>.md`` glues."""
    path = EXECUTED / f"{name}.glue.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build the book first (make book)")
    return {key: output["data"]["text/plain"] for key, output in json.loads(path.read_text()).items()}


def glued_values(name):
    """Return ``{key: value}`` for every value ``book/<name>.md`` glues; numbers as Python numbers."""
    values = {}
    for key, text in glued_texts(name).items():
        try:
            values[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            values[key] = text
    return values

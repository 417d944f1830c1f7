"""Execute the notebooks Sphinx is about to read in parallel, into MyST-NB's cache.

MyST-NB executes notebooks one at a time, as Sphinx reads them; on a book whose
notebooks each spend seconds importing torch and mxnet, that leaves cores idle.
Before Sphinx reads the outdated pages, this extension reads each one exactly
as MyST-NB will, skips those the cache already holds, executes the rest in a
process pool (one kernel per process, one process per core), and stores every
successful run in the cache. MyST-NB then finds them there. Each executed
notebook prints one line with its seconds, even under ``jupyter-book build
--quiet`` (as ``make book`` runs it), which hides Sphinx's own progress.

A notebook that fails here is simply not cached: MyST-NB executes it again in
the ordinary way and reports the error with its usual traceback and exit code.

MyST-NB writes each page's notebook to ``_build/jupyter_execute`` (from where
it becomes the page's ``.ipynb`` download), but for a page served from the
cache it writes the notebook as read, without outputs. Once every page is read,
this extension rewrites those notebooks with their cached outputs.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from myst_nb.core.read import create_nb_reader
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)


def cache_path(app, config):
    """The folder of MyST-NB's execution cache, as MyST-NB resolves it."""
    return config.execution_cache_path or str(Path(app.outdir).parent / ".jupyter_cache")


def execute_notebook(path, notebook, timeout):
    """Execute ``notebook`` in the folder of ``path``; return the notebook, error and seconds."""
    result = single_nb_execution(
        notebook,
        cwd=str(Path(path).parent),
        allow_errors=False,
        timeout=timeout,
        meta_override=True,
    )
    error = None if result.err is None else f"{type(result.err).__name__}: {result.err}"
    return notebook, error, result.time


def notebooks_missing_from_cache(env, docnames, cache):
    """Yield ``(path, notebook)`` for each page in ``docnames`` with code the cache cannot serve."""
    for docname in sorted(docnames):
        path = str(env.doc2path(docname))
        content = Path(path).read_text(encoding="utf-8")
        reader = create_nb_reader(path, env.myst_config, env.mystnb_config, content)
        if reader is None:
            continue
        notebook = reader.read(content)
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            yield path, notebook


def report(line):
    """Print one line of the build's log, past Sphinx's --quiet."""
    print(f"[parallel_execution] {line}", flush=True)


def execute_outdated_notebooks(app, env, docnames):
    """Fill the execution cache for the pages about to be read, several at a time."""
    config = env.mystnb_config
    if config.execution_mode != "cache":
        return
    cache = get_cache(cache_path(app, config))
    pending = list(notebooks_missing_from_cache(env, docnames, cache))
    if not pending:
        return
    workers = min(len(pending), os.cpu_count() or 1)
    LOGGER.info(f"[parallel_execution] executing {len(pending)} notebooks on {workers} processes")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [
            (path, pool.submit(execute_notebook, path, notebook, config.execution_timeout))
            for path, notebook in pending
        ]
        for path, future in futures:
            notebook, error, seconds = future.result()
            name = os.path.relpath(path, app.srcdir)
            if error is not None:
                report(f"{name} failed ({error}); MyST-NB runs it again to report the error")
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(notebook, path, data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            report(f"{name} executed in {seconds:.1f} s")


def write_notebooks_with_outputs(app, env):
    """Replace each notebook MyST-NB wrote without outputs by its executed copy from the cache."""
    if env.mystnb_config.execution_mode != "cache":
        return
    cache = get_cache(cache_path(app, env.mystnb_config))
    for path in sorted((Path(app.outdir).parent / "jupyter_execute").rglob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        try:
            _, executed = cache.merge_match_into_notebook(notebook)
        except KeyError:
            continue
        nbformat.write(executed, path)


def setup(app):
    app.connect("env-before-read-docs", execute_outdated_notebooks)
    app.connect("env-updated", write_notebooks_with_outputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

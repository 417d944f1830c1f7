"""Keep executed notebooks in step with the code they import.

jupyter-cache keys a notebook on its code cells alone, so editing ``lossbook/``
or the pinned requirements would otherwise leave stale outputs on the site.
This extension digests those files (and, where a framework is missing,
``LOSSBOOK_REQUIRE_FRAMEWORKS``, which then decides whether a comparison cell
prints a note or fails), empties the execution cache when the
digest differs from the one it was filled under, and registers the digest as a
config value so that Sphinx re-reads every page when it changes.
"""

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

DIGEST_FILE = "lossbook-sources.sha256"
FRAMEWORKS = ("torch", "mxnet")


def sources_digest(root):
    """Return the SHA-256 of lossbook's sources and the requirements, in a fixed order."""
    root = Path(root)
    files = sorted((root / "lossbook").rglob("*.py"))
    files += [root / "requirements.txt", root / "requirements.lock", root / "pyproject.toml"]
    digest = hashlib.sha256()
    for path in files:
        if path.exists():
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    missing = [name for name in FRAMEWORKS if importlib.util.find_spec(name) is None]
    if missing:
        # Only then does LOSSBOOK_REQUIRE_FRAMEWORKS change what a page shows (a note, or an error).
        digest.update(f"{missing} {os.environ.get('LOSSBOOK_REQUIRE_FRAMEWORKS', '')}".encode())
    return digest.hexdigest()


def clear_stale_cache(app, config):
    """Empty the execution cache if it was filled under other sources."""
    digest = config.lossbook_sources_digest
    cache = Path(config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    if not cache.is_absolute():
        cache = Path(app.srcdir) / cache
    stamp = cache / DIGEST_FILE
    if cache.exists() and (not stamp.exists() or stamp.read_text() != digest):
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)


def setup(app):
    app.add_config_value("lossbook_sources_digest", sources_digest(app.srcdir), "env")
    app.connect("config-inited", clear_stale_cache)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

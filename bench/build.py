"""Measure how long the book takes to build, and how much memory the build needs.

Copies the repository's book sources to a scratch folder (so your own _build is
left alone) and times ``make book BOOK_ROOT=<copy>`` in five situations: a clean
build, a rebuild with nothing changed, a rebuild after editing one chapter, a
rebuild after editing lossbook, and the peak memory of the clean build (the
summed resident memory of make, Sphinx and every kernel, sampled every 50 ms).
Then it prints the seconds each notebook spent executing in the clean build.

Run it with ``.venv/bin/python bench/build.py`` after ``make book`` has set up
the venv.
"""

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from jupyter_cache import get_cache

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK_SOURCES = ("_config.yml", "_toc.yml", "book", "lossbook", "requirements.txt", "requirements.lock", "pyproject.toml")
EXECUTED = re.compile(r"\[parallel_execution\] (\S+) executed|(\S+\.md): Executed notebook")


class PeakMemory:
    """Sample the summed RSS of a process and its descendants until stopped."""

    def __init__(self, process):
        self.process = psutil.Process(process.pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.NoSuchProcess:
                pass
            self._stop.wait(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def build(book_root):
    """Run the Makefile's build on ``book_root``; return seconds, peak bytes and executed pages."""
    start = time.perf_counter()
    process = subprocess.Popen(
        ["make", "--no-print-directory", "book", f"BOOK_ROOT={book_root}"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    memory = PeakMemory(process)
    log, _ = process.communicate()
    peak = memory.stop()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"the build of {book_root} failed:\n{log[-3000:]}")
    executed = sorted({Path(a or b).stem for a, b in EXECUTED.findall(log)})
    return seconds, peak, executed


def copy_book(destination):
    """Copy the files a build reads into ``destination``."""
    for name in BOOK_SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, destination / name)


def notebook_seconds(book_root):
    """Return {page: execution seconds} from the build's jupyter cache."""
    cache = get_cache(str(book_root / "_build" / ".jupyter_cache"))
    return {
        Path(record.uri).stem: record.data.get("execution_seconds", float("nan"))
        for record in cache.list_cache_records()
    }


def main():
    with tempfile.TemporaryDirectory(prefix="lossbook-bench-") as folder:
        root = Path(folder)
        copy_book(root)
        rows = []

        seconds, peak, executed = build(root)
        rows.append(("clean build", seconds, len(executed)))
        per_notebook = notebook_seconds(root)

        seconds, _, executed = build(root)
        rows.append(("no-change rebuild", seconds, len(executed)))

        chapter = root / "book" / "what_is_a_loss.md"
        chapter.write_text(chapter.read_text() + "\n```{code-cell} ipython3\n1 + 1\n```\n")
        seconds, _, executed = build(root)
        rows.append((f"one-chapter rebuild ({', '.join(executed) or 'nothing'})", seconds, len(executed)))

        package = root / "lossbook" / "versions.py"
        package.write_text(package.read_text() + "\n# an edit\n")
        seconds, _, executed = build(root)
        rows.append(("rebuild after a lossbook edit", seconds, len(executed)))

    print(f"{'phase':<60} {'seconds':>8} {'notebooks executed':>19}")
    for phase, seconds, count in rows:
        print(f"{phase:<60} {seconds:8.1f} {count:19d}")
    print(f"{'peak memory of the clean build':<60} {peak / 2**30:7.2f} GiB")
    print()
    print(f"{'notebook':<30} {'execution seconds':>18}")
    for page, seconds in sorted(per_notebook.items(), key=lambda item: -item[1]):
        print(f"{page:<30} {seconds:18.2f}")


if __name__ == "__main__":
    main()

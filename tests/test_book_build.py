"""The book's build fails loudly: each injected fault makes `make book` exit non-zero.

Each test builds a throwaway book in a temporary folder with the project's own
``_config.yml``, its local Sphinx extensions and the Makefile's build command,
so a change to any of them that lets a fault through fails here.
"""

import re
import shutil
import subprocess
import textwrap

import pytest

pytestmark = pytest.mark.book

FRONT_MATTER = textwrap.dedent(
    """\
    ---
    jupytext:
      text_representation:
        format_name: myst
    kernelspec:
      name: python3
      display_name: Python 3
    ---
    """
)

CLEAN_PAGE = FRONT_MATTER + textwrap.dedent(
    """\
    (throwaway)=
    # A throwaway page

    ```{code-cell} ipython3
    import lossbook as lb
    float(lb.sigmoid(0.0))
    ```

    A reference back to {ref}`throwaway`.
    """
)

FAULTS = {
    "a code cell that raises": (
        "```{code-cell} ipython3\nraise RuntimeError('injected fault')\n```\n",
        "injected fault",
    ),
    "a code cell that warns": (
        "```{code-cell} ipython3\nimport warnings\nwarnings.warn('injected warning')\n```\n",
        "stderr was found in the cell outputs",
    ),
    "a broken cross-reference": (
        "See {ref}`no-such-label`.\n",
        "no-such-label",
    ),
    "an unknown directive": (
        "```{no-such-directive}\nbody\n```\n",
        "no-such-directive",
    ),
    "a missing image": (
        "![a figure that is not there](missing-figure.png)\n",
        "missing-figure.png",
    ),
}


def build_throwaway_book(repo_root, folder, page, *chapters, config=None):
    """Build a book of ``page`` (and optional ``chapters``) in ``folder`` with the project's configuration."""
    shutil.copy(repo_root / "_config.yml", folder / "_config.yml")
    if config is not None:
        (folder / "_config.yml").write_text(config((folder / "_config.yml").read_text()))
    for shared in ("_ext", "_static"):
        shutil.copytree(repo_root / "book" / shared, folder / "book" / shared, dirs_exist_ok=True)
    shutil.copy(repo_root / "book" / "references.bib", folder / "book" / "references.bib")
    toc = "format: jb-book\nroot: book/index\n"
    if chapters:
        toc += "chapters:\n" + "".join(f"- file: book/chapter{i}\n" for i in range(len(chapters)))
    (folder / "_toc.yml").write_text(toc)
    (folder / "book" / "index.md").write_text(page)
    for i, chapter in enumerate(chapters):
        (folder / "book" / f"chapter{i}.md").write_text(chapter)
    return subprocess.run(
        ["make", "--no-print-directory", "book", f"BOOK_ROOT={folder}"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_clean_throwaway_book_builds(repo_root, tmp_path):
    """The harness itself is sound: the fault-free page builds and executes."""
    result = build_throwaway_book(repo_root, tmp_path, CLEAN_PAGE)
    assert result.returncode == 0, result.stdout + result.stderr
    html = (tmp_path / "_build" / "html" / "book" / "index.html").read_text()
    assert "0.5" in html


def test_framework_import_warnings_stay_off_the_page(repo_root, tmp_path):
    """mxnet's import-time DeprecationWarnings neither fail the build nor reach the page."""
    page = CLEAN_PAGE + textwrap.dedent(
        """
        ```{code-cell} ipython3
        from mxnet import gluon, nd
        loss = gluon.loss.L2Loss()(nd.array([[1.0, 2.0]]), nd.array([[0.0, 0.0]]))
        float(loss.asscalar())
        ```
        """
    )
    result = build_throwaway_book(repo_root, tmp_path, page)
    assert result.returncode == 0, result.stdout + result.stderr
    html = (tmp_path / "_build" / "html" / "book" / "index.html").read_text()
    assert "1.25" in html  # (1² + 2²) / 2 / 2: half the squared error, averaged over 2 values
    assert "DeprecationWarning" not in html


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_injected_fault_fails_the_build(repo_root, tmp_path, fault):
    """A page with the fault makes the build exit non-zero and names the fault."""
    snippet, evidence = FAULTS[fault]
    result = build_throwaway_book(repo_root, tmp_path, CLEAN_PAGE + "\n" + snippet)
    log = result.stdout + result.stderr
    assert result.returncode != 0, f"{fault} did not fail the build:\n{log}"
    assert evidence in log


def test_a_raising_notebook_among_several_fails_the_build(repo_root, tmp_path):
    """With several notebooks executed in parallel, one that raises still fails the build."""
    faulty = CLEAN_PAGE.replace("(throwaway)=", "(faulty)=") + "\n" + FAULTS["a code cell that raises"][0]
    clean = CLEAN_PAGE.replace("(throwaway)=", "(clean)=")
    result = build_throwaway_book(repo_root, tmp_path, CLEAN_PAGE, clean, faulty)
    log = result.stdout + result.stderr
    assert log.count("[parallel_execution] book/") == 3  # one line for each notebook, the failed one too
    assert result.returncode != 0, log
    assert "injected fault" in log


def test_editing_lossbook_re_executes_cached_notebooks(repo_root, tmp_path):
    """A change under lossbook/ re-executes a notebook whose code cells did not change."""
    marker = tmp_path / "lossbook" / "marker.py"
    marker.parent.mkdir()
    page = CLEAN_PAGE + "\n```{code-cell} ipython3\nprint(open('../lossbook/marker.py').read())\n```\n"
    html = tmp_path / "_build" / "html" / "book" / "index.html"
    for version in ("first-version", "second-version"):
        marker.write_text(f"# {version}\n")
        result = build_throwaway_book(repo_root, tmp_path, page)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"# {version}" in html.read_text()


GLUED_PAGE = CLEAN_PAGE + textwrap.dedent(
    """
    ```{code-cell} ipython3
    :tags: [remove-cell]
    from lossbook.show import glue
    glue("half", 0.5)
    ```

    $$
    \\sigma(0) = \\tfrac12
    $$ (eq-half)

    By {eq}`eq-half` the sigmoid of 0 is {glue:text}`half:.2f`.
    """
)


def with_repository(config):
    """The project's configuration with a repository and a JupyterHub set, as a publisher sets them."""
    config = config.replace('url: ""', "url: https://github.com/readers-org/throwaway-book", 1)
    return config.replace('jupyterhub_url: ""', "jupyterhub_url: https://hub.readers-university.edu")


def test_a_configured_repository_brings_launch_buttons_to_the_readers_notebook(repo_root, tmp_path):
    """Set the repository and a hub in _config.yml, and Binder, JupyterHub and Colab open the reader's notebook."""
    result = build_throwaway_book(repo_root, tmp_path, GLUED_PAGE, config=with_repository)
    assert result.returncode == 0, result.stdout + result.stderr
    html = (tmp_path / "_build" / "html" / "book" / "index.html").read_text()
    links = re.findall(r'href="(https://(?:mybinder\.org|hub\.readers-university\.edu|colab\.research\.google\.com)/[^"]+)"', html)
    hosts = sorted(link.split("/")[2] for link in links)
    assert hosts == ["colab.research.google.com", "hub.readers-university.edu", "mybinder.org"], links
    notebook = ["_sources/book/index.ipynb", "_sources%2Fbook%2Findex.ipynb"]
    assert all(any(path in link for path in notebook) for link in links), links
    download = (tmp_path / "_build" / "html" / "_sources" / "book" / "index.ipynb").read_text()
    assert "By (1) the sigmoid of 0 is 0.50." in download


def test_the_build_log_is_quiet(repo_root, tmp_path):
    """The log names each executed notebook with its seconds, then the site: no kernel chatter, no banner."""
    result = build_throwaway_book(repo_root, tmp_path, CLEAN_PAGE)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    commands = [line for line in lines if line.startswith((".venv/", "rm ", "touch "))]
    shown = [line for line in lines if line not in commands]
    assert re.fullmatch(r"\[parallel_execution\] book/index\.md executed in \d+\.\d s", shown[0]), shown
    assert shown[1:] == [f"{tmp_path}/_build/html"], shown
    assert "without encryption" not in result.stderr and "KeyboardInterrupt" not in result.stderr

"""Two clean builds of the book give the same text in every cell output.

The site in ``_build`` (built by ``make test`` before the tests run) is compared
with a second clean build of a copy of the book made here.
"""

import json
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.book

BOOK_FILES = ("_config.yml", "_toc.yml", "book", "requirements.txt", "requirements.lock", "pyproject.toml")
TEXT_FIELDS = ("text/plain", "text/html", "text/markdown", "text/latex")


def text_outputs(notebook):
    """Return each code cell's outputs reduced to their text, in order.

    Consecutive stream outputs are joined, as the page shows them
    (``nb_merge_streams``): how a kernel splits printed text into messages
    depends on timing, not on the computation.
    """
    cells = json.loads(notebook.read_text())["cells"]
    reduced = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text = "".join(output["text"])
                if outputs and outputs[-1][0] == output["name"]:
                    outputs[-1] = (output["name"], outputs[-1][1] + text)
                else:
                    outputs.append((output["name"], text))
            else:
                data = output.get("data", {})
                outputs.append((output["output_type"], {key: data.get(key) for key in TEXT_FIELDS}))
        reduced.append(outputs)
    return reduced


def test_a_second_clean_build_reproduces_every_text_output(repo_root, tmp_path):
    """Every executed notebook's text outputs are identical across two clean builds."""
    first = repo_root / "_build" / "jupyter_execute"
    assert first.is_dir(), "build the site first (make book)"
    for name in BOOK_FILES:
        source = repo_root / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / name)
    shutil.copytree(repo_root / "lossbook", tmp_path / "lossbook", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        ["make", "--no-print-directory", "book", f"BOOK_ROOT={tmp_path}"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    second = tmp_path / "_build" / "jupyter_execute"
    notebooks = sorted(path.relative_to(second) for path in second.rglob("*.ipynb"))
    assert notebooks, "the second build executed no notebook"
    for notebook in notebooks:
        assert text_outputs(first / notebook) == text_outputs(second / notebook), f"{notebook} differs"

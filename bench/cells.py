"""How long the book's code cells are: non-blank lines per cell, per page of the table of contents.

A cell should say one thing: the limits are a median of at most 6 lines per
page and no cell over 15 (tests/test_book_structure.py enforces both). Cell
options (``:tags:``, the ``---`` YAML block) are not counted.

Run: .venv/bin/python bench/cells.py
"""

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from book_toc import LONGEST_CELL, MEDIAN_CELL, code_cell_lengths, toc_files  # noqa: E402


def main():
    print(__doc__.split("\n\n")[0] + "\n")
    header = f"{'page':34s} {'cells':>5s} {'median':>6s} {'longest':>7s} {'>10':>4s} {'>15':>4s}"
    print(header)
    print("-" * len(header))
    every = []
    for page in toc_files():
        lengths = code_cell_lengths(page)
        if not lengths:
            continue
        every += lengths
        print(f"{page.removeprefix('book/'):34s} {len(lengths):5d} {statistics.median(lengths):6.1f} "
              f"{max(lengths):7d} {sum(n > 10 for n in lengths):4d} {sum(n > 15 for n in lengths):4d}")
    print("-" * len(header))
    print(f"{'all pages':34s} {len(every):5d} {statistics.median(every):6.1f} {max(every):7d} "
          f"{sum(n > 10 for n in every):4d} {sum(n > 15 for n in every):4d}")
    print(f"\nlimits: median <= {MEDIAN_CELL} per page, longest <= {LONGEST_CELL}")


if __name__ == "__main__":
    main()

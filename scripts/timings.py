"""Time every solution notebook in a fresh kernel and check the course's time budget (`make timings`).

Each notebook in notebooks/solutions/ runs from a copy in memory (the files are never changed), in a fresh
kernel, with the environment of `make solutions` (static widgets, no progress bars, the inline backend).
Prints a Markdown table (notebook, seconds, total) and exits with status 1 if a notebook takes 90 s or more,
the course 300 s or more, or a notebook fails.

    python scripts/timings.py [notebook.ipynb ...]     # default: every solution notebook
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks" / "solutions"
PER_NOTEBOOK, COURSE = 90.0, 300.0  # seconds
ENV = {"DCAI_STATIC_WIDGETS": "1", "TQDM_DISABLE": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def time_notebook(path: Path) -> float:
    """Seconds to run every cell of ``path`` in a fresh kernel (kernel start included); raises on a failing cell."""
    from dcai_lab.course.notebooks import execute_notebook

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute_notebook(nb, cwd=path.parent)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    os.environ.update(ENV)  # the kernels inherit it
    paths = [Path(p) for p in argv] or sorted(SOLUTIONS.glob("*.ipynb"))
    if not paths:
        print(f"no notebooks in {SOLUTIONS}", file=sys.stderr)
        return 1
    rows, problems = [], []
    for path in paths:
        try:
            seconds = time_notebook(path)
        except Exception as error:  # noqa: BLE001 (report every notebook, then fail)
            problems.append(f"{path.name} failed: {type(error).__name__}: {str(error)[-300:]}")
            rows.append((path.stem, None))
            continue
        rows.append((path.stem, seconds))
        if seconds >= PER_NOTEBOOK:
            problems.append(f"{path.name} took {seconds:.1f} s, over the {PER_NOTEBOOK:.0f} s per notebook")
    total = sum(s for _, s in rows if s is not None)
    if total >= COURSE:
        problems.append(f"the course took {total:.1f} s, over the {COURSE:.0f} s budget")
    print("| notebook | seconds |\n|---|---:|")
    for name, seconds in rows:
        print(f"| `{name}` | {'failed' if seconds is None else f'{seconds:.1f}'} |")
    print(f"| **total** | **{total:.1f}** |")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

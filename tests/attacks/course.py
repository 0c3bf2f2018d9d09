"""The attack suite's course: one notebook, three exercises like the kit's, a written answer and a prompt.

``entropy`` is compared with ``dcai_lab.uncertainty.entropy`` (its ``@exercise`` reference) and checked
with ``np.allclose``; ``mean_similarity`` must use linear memory (``tracemalloc``); ``keep_hard`` is
compared with ``dcai_lab.pruning.select`` by its hidden tests. 6 autograded points, 2 graded by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dcai_lab.course.notebooks import release

KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
NAME = "hw.ipynb"
AUTOGRADED, MANUAL = 6, 2

IMPORTS = ("import numpy as np\nimport tracemalloc\nfrom dcai_lab import pruning, uncertainty\n"
           "from dcai_lab.course.explore import exercise, explore")
ANSWERS = {
    "entropy": ("@exercise(reference=uncertainty.entropy)\ndef entropy(p):\n"
                "    p = np.asarray(p, dtype=float)\n    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)"),
    "mean_similarity": "def mean_similarity(z, pool_z):\n    return np.asarray(z) @ np.asarray(pool_z).mean(axis=0)",
    "keep_hard": ("def keep_hard(scores, fraction):\n    scores = np.asarray(scores)\n"
                  "    n = round(fraction * len(scores))\n"
                  "    return np.sort(np.argsort(scores, kind='stable')[len(scores) - n:])"),
}
WRONG = {
    "entropy": "@exercise(reference=uncertainty.entropy)\ndef entropy(p):\n    return np.zeros(len(p))",
    "mean_similarity": "def mean_similarity(z, pool_z):\n    return (np.asarray(z) @ np.asarray(pool_z).T).mean(1)",
    "keep_hard": "def keep_hard(scores, fraction):\n    return np.arange(round(fraction * len(scores)))",
}
UNANSWERED = {
    "entropy": "@exercise(reference=uncertainty.entropy)\ndef entropy(p):\n    raise NotImplementedError()",
    "mean_similarity": "def mean_similarity(z, pool_z):\n    raise NotImplementedError()",
    "keep_hard": "def keep_hard(scores, fraction):\n    raise NotImplementedError()",
}


def _meta(kind: str, grade_id: str, points: float = 0, cell_type: str = "code") -> dict:
    meta = {"grade": kind in ("tests", "manual"), "grade_id": grade_id, "locked": kind == "tests",
            "schema_version": 3, "solution": kind in ("solution", "manual"), "task": False}
    if kind in ("tests", "manual"):
        meta["points"] = points
    return {"nbgrader": meta}


def _solution(grade_id: str, header: str, body: str) -> nbformat.NotebookNode:
    return new_code_cell(f"{header}\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION",
                         metadata=_meta("solution", grade_id))


def solution_notebook() -> nbformat.NotebookNode:
    """The instructor's notebook (solutions, hidden tests, a written answer with its rubric)."""
    nb = new_notebook(metadata=KERNELSPEC)
    nb.cells = [
        new_code_cell(IMPORTS),
        new_markdown_cell("# Three exercises\nWrite `entropy`, `mean_similarity` (linear memory) and `keep_hard`."),
        _solution("entropy", "@exercise(reference=uncertainty.entropy)\ndef entropy(p):",
                  "    p = np.asarray(p, dtype=float)\n    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)"),
        new_code_cell(
            "h = entropy(np.array([[0.5, 0.5], [1.0, 0.0]]))\n"
            "assert np.allclose(h, [np.log(2), 0]), f'entropy of [0.5, 0.5] is log 2 and of [1, 0] is 0, got {h}'\n"
            "### BEGIN HIDDEN TESTS\n"
            "r = np.random.default_rng(0).dirichlet(np.ones(5), size=50)\n"
            "assert np.allclose(entropy(r), uncertainty.entropy(r)), 'wrong entropies on random rows'\n"
            "### END HIDDEN TESTS", metadata=_meta("tests", "entropy_tests", 2)),
        _solution("mean_similarity", "def mean_similarity(z, pool_z):",
                  "    return np.asarray(z) @ np.asarray(pool_z).mean(axis=0)"),
        new_code_cell(
            "z, pool_z = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0, 1.0], [3.0, 1.0]])\n"
            "assert np.allclose(mean_similarity(z, pool_z), [2.0, 2.0]), 'the mean dot product with the pool'\n"
            "### BEGIN HIDDEN TESTS\n"
            "r = np.random.default_rng(1)\n"
            "big, pool_big = r.standard_normal((3000, 8)), r.standard_normal((3000, 8))\n"
            "tracemalloc.start()\n"
            "try:\n"
            "    got = mean_similarity(big, pool_big)\n"
            "    peak = tracemalloc.get_traced_memory()[1]\n"
            "finally:\n"
            "    tracemalloc.stop()\n"
            "assert np.allclose(got, big @ pool_big.mean(axis=0)), 'wrong mean similarities'\n"
            "assert peak < 10e6, f'used {peak / 1e6:.0f} MB: do not build the n x m matrix'\n"
            "### END HIDDEN TESTS", metadata=_meta("tests", "mean_similarity_tests", 2)),
        _solution("keep_hard", "def keep_hard(scores, fraction):",
                  "    scores = np.asarray(scores)\n    n = round(fraction * len(scores))\n"
                  "    return np.sort(np.argsort(scores, kind='stable')[len(scores) - n:])"),
        new_code_cell(
            "assert list(keep_hard([0.2, 0.9, 0.5, 0.7], 0.5)) == [1, 3], 'the hardest half are indices [1, 3]'\n"
            "### BEGIN HIDDEN TESTS\n"
            "r = np.random.default_rng(2)\n"
            "for n in (5, 40):\n"
            "    s = r.random(n)\n"
            "    assert sorted(keep_hard(s, 0.3)) == pruning.select(s, 0.3, keep='hard').tolist(), f'n={n}'\n"
            "### END HIDDEN TESTS", metadata=_meta("tests", "keep_hard_tests", 2)),
        new_markdown_cell("Why does keeping the hard examples help with much data?\n\n=== BEGIN MARK SCHEME ===\n"
                          "Easy ones are redundant.\n=== END MARK SCHEME ===", metadata=_meta("manual", "explain", 2)),
        new_markdown_cell("Predict: which fraction is best?", metadata=_meta("manual", "predict", 0)),
    ]
    return nb


def build(tmp: Path) -> tuple[Path, Path, nbformat.NotebookNode]:
    """Write the course into ``tmp``: ``(source_dir, release_dir, released notebook)``."""
    source_dir, release_dir = tmp / "source", tmp / "release"
    source_dir.mkdir(parents=True)
    nbformat.write(solution_notebook(), source_dir / NAME)
    release(source_dir, release_dir)
    return source_dir, release_dir, nbformat.read(release_dir / NAME, 4)


def answered(released: nbformat.NotebookNode, answers: dict[str, str], before: list[str] = (),
             after: dict[str, list[str]] | None = None) -> nbformat.NotebookNode:
    """A student's notebook: solution cells replaced by ``answers`` (by grade id), code cells ``before`` the
    first cell, and code cells inserted after the cell of a grade id (``after``)."""
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    cells = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
        cells.append(cell)
        cells += [new_code_cell(code) for code in (after or {}).get(grade_id, [])]
    nb.cells = [new_code_cell(code) for code in before] + cells
    return nb


def write(folder: Path, nb: nbformat.NotebookNode, name: str = NAME) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name

"""Release student notebooks and autograde submissions, on nbgrader's conventions.

The instructor writes *solution* notebooks in ``notebooks/solutions/``. Exercise
cells carry nbgrader cell metadata and mark the answer with ``### BEGIN SOLUTION``
/ ``### END SOLUTION``; autograder test cells (``"grade": true``, with
``"points"``) hold visible asserts and, between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``, tests the students do not see.

Three commands (``python -m dcai_lab.grading --help``)::

    python -m dcai_lab.grading release notebooks/solutions notebooks   # make release
    python -m dcai_lab.grading execute notebooks/solutions/*.ipynb     # make solutions
    python -m dcai_lab.grading grade submissions/ --out grades.csv     # make grade

``release`` runs nbgrader's own preprocessors (solutions become
``raise NotImplementedError()``, hidden tests are removed, outputs cleared,
graded cells locked). ``grade`` does what nbgrader's autograder does: it puts
the instructor's test cells (hidden tests included) back into each submission,
runs it with a time limit per cell, and scores every test cell with
``nbgrader.utils.determine_grade`` (an error, or output on stderr, scores 0).
Submissions are laid out one folder per student, as nbgrader collects them::

    submissions/<student>/<notebook>.ipynb   (or <student>/<assignment>/<notebook>.ipynb)
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

__all__ = ["release_notebook", "release", "execute_notebook", "autograde_notebook", "grade", "autograder_cells"]

NBFORMAT_VERSION = 4


def _nbgrader(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def autograder_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The autograder test cells of a notebook, by their nbgrader ``grade_id``."""
    return {_nbgrader(c)["grade_id"]: c for c in nb.cells
            if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")}


# --------------------------------------------------------------------------- release


def release_notebook(nb: NotebookNode) -> NotebookNode:
    """The student version of a solution notebook, made with nbgrader's preprocessors."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearOutput,
                                        ClearSolutions, ComputeChecksums, LockCells)

    nb = copy.deepcopy(nb)
    resources: dict = {}
    for pre in (CheckCellMetadata(), LockCells(), ClearSolutions(), ClearHiddenTests(), ClearOutput(),
                ComputeChecksums(), CheckCellMetadata()):
        nb, resources = pre.preprocess(nb, resources)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    return nb


def release(source_dir: str | Path, release_dir: str | Path) -> list[Path]:
    """Write the student version of every notebook in ``source_dir`` into ``release_dir``."""
    source_dir, release_dir = Path(source_dir), Path(release_dir)
    sources = sorted(source_dir.glob("*.ipynb"))
    if not sources:
        raise ValueError(f"no notebooks (*.ipynb) in {source_dir}")
    release_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        out = release_dir / path.name
        nbformat.write(release_notebook(nbformat.read(path, NBFORMAT_VERSION)), out)
        written.append(out)
    return written


# --------------------------------------------------------------------------- execute


def execute_notebook(nb: NotebookNode, cwd: str | Path, cell_timeout: float = 600,
                     allow_errors: bool = False) -> NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel (working directory ``cwd``) and return it.

    A cell running longer than ``cell_timeout`` seconds is interrupted; with
    ``allow_errors`` the run goes on past errors and interruptions (as when grading).
    """
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=allow_errors,
                            interrupt_on_timeout=allow_errors, record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


# --------------------------------------------------------------------------- grade


def autograde_notebook(submission: NotebookNode, source: NotebookNode, cwd: str | Path,
                       cell_timeout: float = 60) -> tuple[dict[str, float], list[str]]:
    """Score one submitted notebook against its solution notebook.

    Returns ``(points per test cell grade_id, problems)``. The instructor's test
    cells replace the submitted ones (restoring hidden tests and undoing edits);
    a test cell that is missing, or that never ran, scores 0.
    """
    from nbgrader.utils import determine_grade

    problems: list[str] = []
    tests = autograder_cells(source)
    nb = copy.deepcopy(submission)
    found = set()
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in tests:
            cell.source = tests[grade_id].source
            cell.metadata["nbgrader"] = copy.deepcopy(tests[grade_id].metadata["nbgrader"])
            found.add(grade_id)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    problems += [f"test cell {g!r} is missing from the submission" for g in tests if g not in found]

    try:
        execute_notebook(nb, cwd, cell_timeout=cell_timeout, allow_errors=True)
    except Exception as exc:  # a dead kernel or a timeout the kernel ignored: score what ran
        problems.append(f"execution stopped: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}")

    points = {g: 0.0 for g in tests}
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id not in tests or cell.cell_type != "code":
            continue
        if cell.execution_count is None:
            problems.append(f"test cell {grade_id!r} did not run")
            continue
        if any(o.get("ename") == "KeyboardInterrupt" for o in cell.outputs if o.output_type == "error"):
            problems.append(f"test cell {grade_id!r} timed out after {cell_timeout:g} s")
        score, _ = determine_grade(cell)
        points[grade_id] = float(score or 0.0)
    for cell in nb.cells:
        if cell.cell_type == "code" and _nbgrader(cell).get("grade_id") not in tests and any(
                o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", []) if o.output_type == "error"):
            problems.append(f"a cell timed out after {cell_timeout:g} s (interrupted; grading went on)")
    return points, problems


def grade(submissions_dir: str | Path, source_dir: str | Path = "notebooks/solutions",
          out: str | Path | None = "grades.csv", cell_timeout: float = 60) -> list[dict]:
    """Autograde every student folder in ``submissions_dir`` and write one CSV row per student.

    Columns: ``student``, one ``<notebook>:<grade_id>`` column per test cell
    (points earned), ``total``, ``max_total`` and ``problems``. A missing,
    unreadable or crashing notebook scores 0 for its tests; grading goes on.
    """
    submissions_dir, source_dir = Path(submissions_dir), Path(source_dir)
    if not submissions_dir.is_dir():
        raise ValueError(f"{submissions_dir} is not a folder; expected one folder per student, each holding "
                         "that student's notebooks")
    sources = {p.name: nbformat.read(p, NBFORMAT_VERSION) for p in sorted(source_dir.glob("*.ipynb"))}
    if not sources:
        raise ValueError(f"no solution notebooks (*.ipynb) in {source_dir}")
    students = sorted(p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    max_points = {f"{name}:{g}": float(_nbgrader(c).get("points", 0))
                  for name, nb in sources.items() for g, c in autograder_cells(nb).items()}
    rows = []
    for student in _progress(students, desc="grading"):
        row: dict = {"student": student.name, **{col: 0.0 for col in max_points}}
        problems: list[str] = []
        submitted = {p.name: p for p in sorted(student.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts}
        for name, source in sources.items():
            if name not in submitted:
                if autograder_cells(source):
                    problems.append(f"{name}: not submitted")
                continue
            try:
                nb = nbformat.read(submitted[name], NBFORMAT_VERSION)
            except Exception as exc:
                problems.append(f"{name}: unreadable notebook ({type(exc).__name__})")
                continue
            points, notes = autograde_notebook(nb, source, submitted[name].parent, cell_timeout)
            row.update({f"{name}:{g}": p for g, p in points.items()})
            problems += [f"{name}: {n}" for n in notes]
        row["total"] = sum(row[col] for col in max_points)
        row["max_total"] = sum(max_points.values())
        row["problems"] = "; ".join(problems)
        rows.append(row)
    if out is not None:
        with open(out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["student", *max_points, "total", "max_total", "problems"])
            writer.writeheader()
            writer.writerows(rows)
    return rows


def _progress(items, desc: str):
    from tqdm.auto import tqdm
    return tqdm(items, desc=desc, unit="student")


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcai_lab.grading", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="build student notebooks from solution notebooks")
    p.add_argument("source_dir", nargs="?", default="notebooks/solutions")
    p.add_argument("release_dir", nargs="?", default="notebooks")
    p = sub.add_parser("execute", help="run notebooks in place, storing their outputs")
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    p = sub.add_parser("grade", help="autograde a folder of submissions into a CSV")
    p.add_argument("submissions_dir", type=Path)
    p.add_argument("--source", type=Path, default=Path("notebooks/solutions"))
    p.add_argument("--out", type=Path, default=Path("grades.csv"))
    p.add_argument("--timeout", type=float, default=60, help="seconds per cell before it is interrupted")
    args = parser.parse_args(argv)

    try:
        if args.command == "release":
            for path in release(args.source_dir, args.release_dir):
                print(f"released {path}")
        elif args.command == "execute":
            for path in args.notebooks:
                nb = execute_notebook(nbformat.read(path, NBFORMAT_VERSION), path.parent, args.timeout)
                nbformat.write(nb, path)
                print(f"executed {path}")
        else:
            rows = grade(args.submissions_dir, args.source, args.out, args.timeout)
            for row in rows:
                print(f"{row['student']}: {row['total']:g} / {row['max_total']:g}"
                      + (f"  ({row['problems']})" if row["problems"] else ""))
            print(f"wrote {args.out}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

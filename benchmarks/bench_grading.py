"""Grading benchmark: students per minute for ``--jobs`` 1 and 2, on a generated class of every notebook.

Run: ``python -m benchmarks grading`` (or ``python -m benchmarks.bench_grading [students] [notebook ...]``,
e.g. ``20 00_welcome 01_active_learning``: only those notebooks of ``notebooks/solutions/``).

Set-up: a class of ``STUDENTS`` (20) students, each handing in every solution notebook of
``notebooks/solutions/``, made from the released notebooks in turn complete (every exercise answered
with the instructor's code), partial (the first half answered) and broken (every answer, then a syntax
error in one and an exception in another). The class is graded twice, with one and with two jobs, each
kernel in the bubblewrap sandbox with the grader's default limits and the cell timeout below; the
two CSVs must be the same. Students per minute = students / minutes of wall-clock time.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from dcai_lab.course.grading import Options, grade
from dcai_lab.course.notebooks import release_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks" / "solutions"
STUDENTS = 20
KINDS = ("complete", "partial", "broken")
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
OPTIONS = Options(cell_timeout=300, notebook_timeout=900)


def _answers(source: nbformat.NotebookNode) -> dict[str, str]:
    return {c.metadata["nbgrader"]["grade_id"]: "\n".join(x for x in c.source.splitlines() if not MARKER.match(x))
            for c in source.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def _submission(source: nbformat.NotebookNode, kind: str) -> nbformat.NotebookNode:
    answers = _answers(source)
    ids = list(answers)
    if kind == "partial":
        answers = {g: answers[g] for g in ids[: max(1, len(ids) // 2)]}
    elif kind == "broken":
        answers[ids[0]] = answers[ids[0]].replace("def ", "def (", 1)
        answers[ids[-1]] = answers[ids[-1]] + "\nraise RuntimeError('broken')"
    nb = release_notebook(source)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def solution_dir(folder: Path, notebooks: list[str] | None) -> Path:
    """The solution notebooks graded: every one, or a copy of only ``notebooks`` (names, ``.ipynb`` optional)."""
    if not notebooks:
        return SOLUTIONS
    folder.mkdir(parents=True)
    for name in notebooks:
        path = SOLUTIONS / (name if name.endswith(".ipynb") else f"{name}.ipynb")
        if not path.is_file():
            raise ValueError(f"no solution notebook {path.name} in {SOLUTIONS}")
        shutil.copy(path, folder / path.name)
    return folder


def make_class(folder: Path, students: int, solutions: Path = SOLUTIONS) -> None:
    sources = {p.name: nbformat.read(p, 4) for p in sorted(solutions.glob("*.ipynb"))}
    for i in range(students):
        kind = KINDS[i % len(KINDS)]
        student = folder / f"student{i:02d}_{kind}"
        student.mkdir(parents=True)
        for name, source in sources.items():
            nbformat.write(_submission(source, kind), student / name)


def main(students: int = STUDENTS, notebooks: list[str] | None = None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        solutions = solution_dir(work / "solutions", notebooks)
        make_class(work / "class", students, solutions)
        timings, rows = {}, {}
        for jobs in (1, 2):
            start = time.perf_counter()
            rows[jobs] = grade(work / "class", solutions, work / f"grades-{jobs}.csv", OPTIONS, jobs=jobs)
            timings[jobs] = time.perf_counter() - start
            print(f"jobs={jobs}: {students} students in {timings[jobs]:.0f} s = "
                  f"{students / (timings[jobs] / 60):.2f} students per minute", flush=True)
        same = (work / "grades-1.csv").read_text() == (work / "grades-2.csv").read_text()
        print("\n| jobs | seconds | students per minute |\n|---:|---:|---:|")
        for jobs, seconds in timings.items():
            print(f"| {jobs} | {seconds:.0f} | {students / (seconds / 60):.2f} |")
        print(f"\nthe two CSVs are {'the same' if same else 'DIFFERENT'}; notebooks per student: "
              f"{len(list(solutions.glob('*.ipynb')))}")
        result = {"students": students, "notebooks": sorted(p.name for p in solutions.glob("*.ipynb")),
                  "seconds": timings, "same_results": same,
                  "students_per_minute": {j: students / (s / 60) for j, s in timings.items()},
                  "totals": {r["student"]: r["total"] for r in rows[1]}}
        (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
        (ROOT / "benchmarks" / "results" / "grading.json").write_text(json.dumps(result, indent=1) + "\n")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else STUDENTS, sys.argv[2:] or None)

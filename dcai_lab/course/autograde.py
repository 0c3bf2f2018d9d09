"""Grade one notebook (:func:`autograde_notebook`): the student's cells, the instructor's tests, in a sandbox.

For a submitted notebook and its solution notebook, :func:`grade_notebook`

1. puts the instructor's test cells in place of the student's, hidden tests included
   (:mod:`~dcai_lab.course.overwrite`: malformed metadata is that notebook's problem, never a crash);
2. runs it cell by cell in a fresh kernel inside a sandbox, in a fresh temporary copy of the student's
   folder (:mod:`~dcai_lab.course.sandbox`, :mod:`~dcai_lab.course.runner`), with ``DCAI_GRADING=1`` so
   explore mode never fills in an answer; a test cell fails when the kernel's execute reply reports an error;
3. asks the kernel-side watcher what changed (:mod:`~dcai_lab.course.tamper`): a tampered notebook
   scores 0 on every test cell and is listed for review; an exercise answered by calling the library's
   own implementation is scored by the ``library_calls`` policy ("zero", "flag" or "allow");
4. scores every test cell as nbgrader does (:mod:`~dcai_lab.course.scoring`, partial credit included);
   manually graded cells count 0 and are listed as needing manual grading.

A class is graded by :mod:`~dcai_lab.course.grading`, with these :class:`Options`.
"""

from __future__ import annotations

import copy
import shutil
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from dcai_lab.course.gradebook import atomic_write_text
from dcai_lab.course.notebooks import nbgrader_metadata, release_notebook, socket_folder
from dcai_lab.course.overwrite import autograded_cells, manual_cells, points_of, prepare
from dcai_lab.course.runner import MAX_CELL_OUTPUT, run_graded
from dcai_lab.course.sandbox import SANDBOX_UIDS, GradingKernelManager, Limits
from dcai_lab.course.scoring import TestResult, score_test_cell
from dcai_lab.course.submissions import MAX_FILE_SIZE, Student, copy_folder, scan_student
from dcai_lab.course.tamper import LIBRARY_CALL_POLICIES, new_secret, watch_spec

__all__ = ["Options", "NotebookGrade", "autograde_notebook", "grade_notebook", "unsubmitted"]


@dataclass(frozen=True)
class Options:
    """How to grade (the command line's options; see ``python -m dcai_lab.course grade --help``)."""

    cell_timeout: float = 60
    notebook_timeout: float = 300
    sandbox: bool = True
    limits: Limits = field(default_factory=Limits)
    library_calls: str = "zero"
    max_file_size: int = MAX_FILE_SIZE
    keep_executed: Path | None = None
    keep_hidden_tests: bool = False

    def __post_init__(self):
        for name in ("cell_timeout", "notebook_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.library_calls not in LIBRARY_CALL_POLICIES:
            raise ValueError(f"library_calls must be one of {', '.join(LIBRARY_CALL_POLICIES)}, "
                             f"got {self.library_calls!r}")
        if not isinstance(self.limits, Limits):
            raise ValueError(f"limits must be a dcai_lab.course.sandbox.Limits, got {type(self.limits).__name__}")


@dataclass
class NotebookGrade:
    """One graded notebook: every graded cell's result, and what the instructor and the student read."""

    name: str
    results: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # everything worth a note (the CSV's problems)
    review: list[str] = field(default_factory=list)  # what an instructor should look at
    notes: list[str] = field(default_factory=list)  # what the student's report says besides the tests

    @property
    def points(self) -> dict[str, float]:
        return {r.grade_id: r.points for r in self.results}

    @property
    def earned(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def possible(self) -> float:
        return sum(r.max_points for r in self.results)


def autograde_notebook(submission: NotebookNode, source: NotebookNode, folder: str | Path | None = None,
                       options: Options | None = None, uid: int | None = None,
                       executed_path: str | Path | None = None) -> NotebookGrade:
    """Grade one submitted notebook against its solution notebook ``source``.

    ``folder`` (optional) holds files the notebook reads: its regular files are copied into the fresh
    temporary folder the notebook runs in. ``uid`` is the unprivileged user of the sandboxed kernel
    when the grader is root (default: the first of ``SANDBOX_UIDS``). ``executed_path``, if given,
    is where the executed notebook is saved (hidden tests removed unless ``options.keep_hidden_tests``).
    """
    options = options or Options()
    student = scan_student(Path(folder), [], options.max_file_size) if folder is not None else None
    return grade_notebook("notebook", submission, source, student, options,
                          SANDBOX_UIDS[0] if uid is None else uid, executed_path)


def grade_notebook(name: str, submission: NotebookNode, source: NotebookNode, student: Student | None,
                   options: Options, uid: int, executed_path) -> NotebookGrade:
    """Grade one notebook: prepare it, run it in the sandbox, note what happened, score its cells."""
    grade = NotebookGrade(name)
    released = release_notebook(source)
    prepared = prepare(submission, source, released)
    grade.problems += prepared.problems
    grade.review += [p for p in prepared.problems if "edited" in p or "grade id" in p or "nbgrader" in p]
    run = _run(prepared, source, student, options, uid, grade)
    _note_the_run(grade, run, prepared.nb, options)
    _score(grade, run, prepared, source, options)
    if run.tampered:
        _hold_for_review(grade, run.tampered)
    grade.results += [TestResult(grade_id, 0.0, points_of(cell), "needs manual grading",
                                 note="graded by hand: 0 until the instructor grades it")
                      for grade_id, cell in manual_cells(source).items()]
    if executed_path is not None:
        _save_executed(prepared.nb, prepared.tests, released, executed_path, options.keep_hidden_tests)
    return grade


_COPIES: set[Path] = set()  # the temporary copies being graded now (see remove_temporary_copies)
_COPIES_LOCK = threading.Lock()


def remove_temporary_copies() -> None:
    """Remove the temporary copies of the notebooks being graded (a Ctrl-C ends the grader with ``os._exit``,
    which runs no ``finally``: without this, copies of students' work and kernel keys stay in the temp folder)."""
    with _COPIES_LOCK:
        for base in list(_COPIES):
            shutil.rmtree(base, ignore_errors=True)
            _COPIES.discard(base)


def _run(prepared, source: NotebookNode, student: Student | None, options: Options, uid: int, grade):
    """Run the prepared notebook in a fresh temporary copy of the student's folder, in the sandbox."""
    tests = autograded_cells(source)
    base = socket_folder("dcai-grade-")
    with _COPIES_LOCK:
        _COPIES.add(base)
    try:
        workdir, conn = base / "work", base / "conn"
        workdir.mkdir()
        conn.mkdir(mode=0o700)
        if student is not None:
            grade.problems += copy_folder(student, workdir)
        km = GradingKernelManager(workdir, conn, sandbox=options.sandbox, limits=options.limits, uid=uid)
        spec = watch_spec(source, new_secret(), {i: _grade_id(c) for i, c in enumerate(source.cells)
                                                 if _grade_id(c) in tests})
        return run_graded(prepared.nb, km, prepared.tests, spec, options.cell_timeout, options.notebook_timeout)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        with _COPIES_LOCK:
            _COPIES.discard(base)


def _note_the_run(grade: NotebookGrade, run, nb: NotebookNode, options: Options) -> None:
    """Problems of the run itself: the watcher, a stopped kernel, floods, timeouts."""
    if run.watch_problem:
        grade.problems.append(run.watch_problem)
        grade.review.append(run.watch_problem)
    if run.stopped is not None:
        grade.problems.append(f"{_cell_name(nb, run.stopped)} {run.stop_reason}")
    for index in sorted(run.flooded):
        grade.problems.append(f"{_cell_name(nb, index)} printed more than {MAX_CELL_OUTPUT // 2**20} MB: "
                              "interrupted, the rest of its output dropped")
    for index in sorted(run.timed_out):
        grade.problems.append(f"{_cell_name(nb, index)} timed out after {options.cell_timeout:g} s "
                              "(interrupted; grading went on)")
        grade.notes.append(f"{_cell_name(nb, index)} ran longer than {options.cell_timeout:g} s and was stopped")
    for index, calls in sorted(run.foreign_calls.items()):
        run.tampered.append(f"test cell {_grade_id(nb.cells[index])!r} ran notebook code the instructor's notebook "
                            f"does not define: {', '.join(calls)}")


def _score(grade: NotebookGrade, run, prepared, source: NotebookNode, options: Options) -> None:
    """Each test cell's result, in the instructor's order (a missing one scores 0)."""
    by_id = {grade_id: index for index, grade_id in prepared.tests.items()}
    for grade_id, test in autograded_cells(source).items():
        index = by_id.get(grade_id)
        if index is None:
            result = TestResult(grade_id, 0.0, points_of(test), "missing", "this test cell is not in your notebook")
        else:
            result = score_test_cell(grade_id, points_of(test), run.replies.get(index), run.outputs.get(index, []),
                                     index in run.timed_out, test.source)
            result = _apply_library_policy(result, run.library_calls.get(index, []), options.library_calls, grade)
        grade.results.append(result)
        if result.message and result.status == "failed":
            grade.problems.append(f"test cell {grade_id!r} {_problem(result)}")
        elif result.status == "not run" and index is not None:
            grade.problems.append(f"test cell {grade_id!r} did not run")
        if result.note:
            grade.problems.append(f"test cell {grade_id!r} {result.note}")


def _hold_for_review(grade: NotebookGrade, tampered: list[str]) -> None:
    """A tampered notebook: every test cell 0, listed for the instructor, said in the student's report."""
    what = "; ".join(dict.fromkeys(tampered))
    grade.problems.append(f"tampered: {what} (every test cell scores 0)")
    grade.review.append(f"tampered: {what}")
    grade.notes.append("this notebook changed what the tests rely on, so its tests score 0 until your instructor "
                       f"has reviewed it ({what})")
    grade.results = [replace(r, points=0.0, status="failed", message=r.message or "tampering found: held for review")
                     for r in grade.results]


def _grade_id(cell: NotebookNode):
    return nbgrader_metadata(cell).get("grade_id")


def _cell_name(nb: NotebookNode, index: int) -> str:
    """How the problems column names a cell: its position (from 1) and grade_id or first line."""
    cell = nb.cells[index]
    label = _grade_id(cell) or (cell.source.strip().splitlines() or [""])[0][:40]
    return f"cell {index + 1} ({label!r})"


def _problem(result: TestResult) -> str:
    if result.message.startswith("wrote to stderr"):
        return result.message
    return f"failed: {result.message}" + (f" ({result.where})" if result.where == "a hidden test" else "")


def _apply_library_policy(result: TestResult, calls: list[str], policy: str, grade: NotebookGrade) -> TestResult:
    """An exercise answered by calling the library's own implementation: 0 points, or a note, or nothing."""
    if not calls or policy == "allow":
        return result
    what = f"answered with the library's own implementation ({'; '.join(calls)})"
    grade.review.append(f"test cell {result.grade_id!r} {what}")
    if policy == "flag":
        return replace(result, note=(result.note + "; " if result.note else "") + what + ": kept its points (flag)")
    grade.notes.append(f"{result.grade_id}: the exercise called the library's own implementation instead of "
                       "implementing it, so it scores 0")
    return replace(result, points=0.0, status="failed", message=f"{what}: 0 points")


def _save_executed(nb: NotebookNode, tests: dict[int, str], released: NotebookNode, path, keep_hidden: bool) -> None:
    """Save the executed notebook; unless ``keep_hidden``, test cells show only their visible part and
    errors only their message (a traceback would show the hidden tests' code)."""
    nb = copy.deepcopy(nb)
    if not keep_hidden:
        visible = {g: c.source for g, c in autograded_cells(released).items()}
        for index, grade_id in tests.items():
            cell = nb.cells[index]
            cell.source = visible.get(grade_id, "")
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, nbformat.writes(nb))


def unsubmitted(name: str, source: NotebookNode, why: str) -> NotebookGrade:
    """A notebook that could not be graded: every graded cell at 0."""
    graded = NotebookGrade(name, problems=[why], notes=[f"{name}: {why}"])
    graded.results = [TestResult(g, 0.0, points_of(c), "missing", why) for g, c in autograded_cells(source).items()]
    graded.results += [TestResult(g, 0.0, points_of(c), "missing", why) for g, c in manual_cells(source).items()]
    return graded

"""Autograde a class's submissions (``make grade``): nbgrader's scoring, student code sandboxed, tampering caught.

:func:`grade` reads each student folder without trusting it (:mod:`~dcai_lab.course.submissions`: links,
FIFOs, devices and oversize files refused, several copies of a notebook named) and grades each of the
instructor's solution notebooks in it (:mod:`~dcai_lab.course.autograde`: the instructor's tests, a fresh
temporary copy, a sandboxed kernel, tamper evidence, nbgrader's points). ``jobs`` students are graded at a
time, each in its own kernels, with the same results as one at a time.

Then it writes the CSV (a temporary file renamed into place), a feedback report per student and
gradebook imports (:mod:`~dcai_lab.course.report`, :mod:`~dcai_lab.course.gradebook`).
Submissions are never modified.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from dcai_lab.course import gradebook, report
from dcai_lab.course.autograde import NotebookGrade, Options, autograde_notebook, grade_notebook, unsubmitted
from dcai_lab.course.notebooks import NBFORMAT_VERSION
from dcai_lab.course.overwrite import autograded_cells, manual_cells, points_of
from dcai_lab.course.sandbox import SANDBOX_UIDS, Limits, bwrap_command, require_bwrap
from dcai_lab.course.submissions import find_students, read_notebook, scan_student

__all__ = ["Options", "NotebookGrade", "autograde_notebook", "grade", "check_sandbox"]

UNSANDBOXED = "off: graded with the grader's own rights (--no-sandbox)"


def check_sandbox(sandbox: bool = True) -> None:
    """Raise ``ValueError`` (saying what to do) unless bubblewrap can start a sandbox here."""
    if not sandbox:
        return
    bwrap = require_bwrap()
    with tempfile.TemporaryDirectory(prefix="dcai-check-") as tmp:
        work, conn = Path(tmp, "work"), Path(tmp, "conn")
        work.mkdir()
        conn.mkdir()
        command = bwrap_command(bwrap, str(work), str(conn), Limits(), {"PATH": "/usr/bin:/bin"})
        done = subprocess.run(command + [sys.executable, "-c", "print('ok')"], capture_output=True, text=True,
                              timeout=60)
    if done.returncode != 0 or done.stdout.strip() != "ok":
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ValueError(f"bubblewrap is installed but cannot start a sandbox here ({why}); unprivileged user "
                         "namespaces may be turned off (sysctl kernel.unprivileged_userns_clone=1, or AppArmor's "
                         "kernel.apparmor_restrict_unprivileged_userns=0), or pass --no-sandbox to grade with the "
                         "grader's own rights (unsafe)")


def grade(submissions_dir: str | Path, source_dir: str | Path = "notebooks/solutions",
          out: str | Path | None = "grades.csv", options: Options | None = None, jobs: int | None = None,
          feedback_dir: str | Path | None = None, canvas: str | Path | None = None,
          moodle: str | Path | None = None, progress: bool = False) -> list[dict]:
    """Autograde every student folder in ``submissions_dir``; write one CSV row per student to ``out``.

    Columns: ``student``, one ``<notebook>:<grade_id>`` column per graded cell (points earned; a
    manually graded cell counts 0 until graded by hand) and ``<notebook> total``, then ``total``,
    ``max_total`` (over every notebook, submitted or not), ``needs_manual_grading``, ``sandbox``,
    ``review`` (tampering, library calls, copies, refused files: for the instructor to look at) and
    ``problems``. A missing, unreadable or crashing notebook scores 0 for its tests; grading goes on.

    The CSV is written when every student is graded (to a temporary file renamed into place, so a
    crash leaves the previous file whole); while grading, finished rows are in ``<out>.partial``.
    ``jobs`` students are graded at a time (default: the number of CPU cores). ``feedback_dir``
    gets ``<student>.html`` and ``<student>.md``; ``canvas`` and ``moodle`` are gradebook imports.
    """
    options = options or Options()
    submissions_dir, source_dir = Path(submissions_dir), Path(source_dir)
    if not submissions_dir.is_dir():
        raise ValueError(f"{submissions_dir} is not a folder; expected one folder per student, each holding "
                         "that student's notebooks")
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive whole number, got {jobs!r}")
    sources = {p.name: nbformat.read(p, NBFORMAT_VERSION) for p in sorted(source_dir.glob("*.ipynb"))}
    if not sources:
        raise ValueError(f"no solution notebooks (*.ipynb) in {source_dir}")
    check_sandbox(options.sandbox)
    if not options.sandbox:
        print("warning: grading WITHOUT a sandbox (--no-sandbox): student code runs with your rights and can read "
              "and change your files; the CSV's sandbox column says so", file=sys.stderr)
    folders, refused = find_students(submissions_dir)
    columns = _columns(sources)
    offset = (os.getpid() % 100) * 10_000
    tasks = [(folder, offset + i * len(sources)) for i, folder in enumerate(folders)]
    rows: dict[str, dict] = {}
    grades: dict[str, list[NotebookGrade]] = {}
    partial = Path(f"{out}.partial") if out is not None else None
    names = sorted([f.name for f in folders] + list(refused))
    for name, why in refused.items():  # a student "folder" that is a link: a row of zeros, for review
        print(f"warning: {name}: {why}", file=sys.stderr)
        rows[name] = _row(name, [unsubmitted(n, s, why) for n, s in sources.items()], [why], [why], options)
    for row, notebook_grades, notes in _each_graded(tasks, sources, options, jobs, progress):
        rows[row["student"]] = row
        grades[row["student"]] = notebook_grades
        if partial is not None:
            gradebook.write_csv(partial, columns, [rows[n] for n in names if n in rows])
        if feedback_dir is not None:
            report.write_reports(feedback_dir, row["student"], notebook_grades, notes)
    ordered = [rows[n] for n in names]
    if out is not None:
        gradebook.write_csv(out, columns, ordered)
        partial.unlink(missing_ok=True)
    totals = {name: sum(points_of(c) for c in {**autograded_cells(nb), **manual_cells(nb)}.values())
              for name, nb in sources.items()}
    if canvas is not None:
        gradebook.write_canvas(canvas, ordered, totals)
    if moodle is not None:
        summary = {s: {g.name: "; ".join(f"{r.grade_id}: {r.status}" for r in g.results) for g in gs}
                   for s, gs in grades.items()}
        gradebook.write_moodle(moodle, ordered, totals, summary)
    return ordered


def _columns(sources: dict[str, NotebookNode]) -> list[str]:
    columns = ["student"]
    for name, nb in sources.items():
        graded = [*autograded_cells(nb), *manual_cells(nb)]
        if graded:
            columns += [f"{name}:{g}" for g in graded] + [f"{name} total"]
    return columns + ["total", "max_total", "needs_manual_grading", "sandbox", "review", "problems"]


def _each_graded(tasks, sources, options, jobs, progress):
    """``(row, notebook grades, notes)`` of each student, as they finish (``jobs`` at a time).

    Students are graded in worker threads, also with one job (the work is done in the kernels; each
    thread drives its own kernels): so a Ctrl-C reaches the main thread at once, where nbclient would
    otherwise take it for itself (it shuts that notebook's kernel down and goes on with the next).
    On any exception the students not started are cancelled; those running are left to the caller.
    """
    bar = _progress(len(tasks)) if progress else None
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(tasks))), thread_name_prefix="grade")
    futures = [pool.submit(_grade_student, folder, sources, options, uid_offset) for folder, uid_offset in tasks]
    try:
        for future in as_completed(futures):
            yield future.result()
            if bar is not None:
                bar.update()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    if bar is not None:
        bar.close()


def _progress(total: int):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="grading", unit="student")


def _grade_student(folder: Path, sources: dict, options: Options, uid_offset: int) -> tuple[dict, list, list]:
    """One student's CSV row, notebook grades and notes about the folder (see ``grade``)."""
    student = scan_student(folder, list(sources), options.max_file_size)
    grades, problems, review = [], [f"{p}" for p in student.problems], []
    review += [p for p in student.problems if "refused" in p or "copies" in p]
    for j, (name, source) in enumerate(sources.items()):
        graded = [*autograded_cells(source), *manual_cells(source)]
        if name not in student.notebooks:
            if graded:
                problems.append(f"{name}: not submitted")
            grades.append(unsubmitted(name, source, "not submitted"))
            continue
        try:
            nb = read_notebook(student.notebooks[name], options.max_file_size)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            grades.append(unsubmitted(name, source, str(exc)))
            continue
        executed = options.keep_executed / student.name / name if options.keep_executed is not None else None
        uid = SANDBOX_UIDS[(uid_offset + j) % len(SANDBOX_UIDS)]
        try:
            graded_nb = grade_notebook(name, nb, source, student, options, uid, executed)
        except Exception as exc:  # a crash of the grader on this notebook costs this notebook only
            graded_nb = unsubmitted(name, source, f"grading stopped: {type(exc).__name__}: {exc}")
            graded_nb.review.append(graded_nb.problems[-1])
        grades.append(graded_nb)
        problems += [f"{name}: {p}" for p in graded_nb.problems]
        review += [f"{name}: {r}" for r in graded_nb.review]
    return _row(student.name, grades, problems, review, options), grades, student.problems


def _row(student: str, grades: list[NotebookGrade], problems: list[str], review: list[str], options: Options) -> dict:
    """A student's CSV row (see ``grade``)."""
    row: dict = {"student": student}
    for g in grades:
        row.update({f"{g.name}:{r.grade_id}": r.points for r in g.results})
        if g.results:
            row[f"{g.name} total"] = g.earned
    row["total"] = sum(g.earned for g in grades)
    row["max_total"] = sum(g.possible for g in grades)
    row["needs_manual_grading"] = "; ".join(f"{g.name}:{r.grade_id} ({r.max_points:g} points)" for g in grades
                                            for r in g.results if r.status == "needs manual grading")
    row["sandbox"] = "bubblewrap" if options.sandbox else UNSANDBOXED
    row["review"] = "; ".join(dict.fromkeys(review))
    row["problems"] = "; ".join(problems)
    return row

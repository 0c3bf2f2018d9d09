"""Autograde submitted notebooks, on nbgrader's conventions (``make grade``).

Exercise cells of the solution notebooks carry nbgrader cell metadata and mark the answer
with ``### BEGIN SOLUTION`` / ``### END SOLUTION``; autograder test cells (``"grade": true``,
with ``"points"``) hold visible asserts and, between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``, tests the students do not see. ``grade`` does what nbgrader's
autograder does: it puts the instructor's test cells (hidden tests included) back into each
submission, runs it with a time limit per cell and one for the whole notebook, and scores
every test cell with ``nbgrader.utils.determine_grade`` (an error, or output on stderr,
scores 0), with one deviation: stderr output made only of Python warnings does not cost the
points, since a correct answer may warn; the ``problems`` column notes it, and gives the
first line of the error of each failing test cell and each cell that timed out. Submissions
are laid out one folder per student, as nbgrader collects them::

    submissions/<student>/<notebook>.ipynb   (or <student>/<assignment>/<notebook>.ipynb)
"""

from __future__ import annotations

import contextlib
import copy
import csv
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from dcai_lab.course.notebooks import NBFORMAT_VERSION, autograder_cells, execute_notebook, nbgrader_metadata

__all__ = ["autograde_notebook", "grade"]


WARNING_LINE = re.compile(r".+:\d+: (\w*Warning: .*)")  # what warnings.formatwarning writes first


def _warnings_only(stderr: str) -> list[str] | None:
    """The warnings (``"Category: message"``) that make up ``stderr``, or None if it holds anything else.

    Python prints a warning as ``file:line: Category: message``, the message's
    further lines if any, then the warned line of source indented by two spaces.

    >>> _warnings_only("/tmp/ipykernel_1/2.py:3: RuntimeWarning: divide by zero encountered in log\\n"
    ...                "  h = -np.sum(p * np.log(p), axis=1)\\n")
    ['RuntimeWarning: divide by zero encountered in log']
    >>> print(_warnings_only("x.py:3: UserWarning: careful\\n  warn('careful')\\nsomething else\\n"))
    None
    """
    found, lines = [], stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if WARNING_LINE.fullmatch(line)]
    if not starts or starts[0] != 0:
        return None
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        if end - start > 1 and not lines[end - 1].startswith("  "):  # more than one line, not ending in source
            return None
        found.append(WARNING_LINE.fullmatch(lines[start]).group(1))
    return list(dict.fromkeys(found))


def _first_line(text: str) -> str:
    """The first line of ``text`` (cut at 200 characters), or "" if it is blank."""
    return (str(text).strip().splitlines() or [""])[0][:200]


def _error(name: str, message: str) -> str:
    """``"Name: first line of message"``, or just the name for an empty message."""
    line = _first_line(message)
    return f"{name}: {line}" if line else name


def _cell_name(nb: NotebookNode, index: int) -> str:
    """How the problems column names a cell: its position (from 1) and grade_id or first line."""
    cell = nb.cells[index]
    grade_id = nbgrader_metadata(cell).get("grade_id")
    return f"cell {index + 1} ({grade_id or _first_line(cell.source)[:40]!r})"


def _timed_out(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and any(
        o.output_type == "error" and o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", []))


def _score_test_cell(cell: NotebookNode) -> tuple[float, str]:
    """Points of an executed test cell (nbgrader's ``determine_grade``, warnings forgiven) and a note.

    The note says why the cell scored 0 (the first line of its error, or what it
    wrote to stderr), or which warnings it printed; it is "" otherwise, or when
    the cell was interrupted (the timeout is reported on its own).
    """
    from nbgrader.utils import determine_grade

    stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
    warned = _warnings_only(stderr) if stderr else None
    graded = cell
    if warned:
        graded = copy.deepcopy(cell)
        graded.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    score, _ = determine_grade(graded)
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if errors:
        note = "" if _timed_out(cell) else f"failed: {_error(errors[0].ename, errors[0].evalue)}"
    elif stderr and not warned:
        note = f"wrote to stderr, which nbgrader scores 0: {_first_line(stderr)!r}"
    elif warned:
        note = f"printed warnings ({' | '.join(w[:120] for w in warned)}), not counted as a failure"
    else:
        note = ""
    return float(score or 0.0), note


def autograde_notebook(submission: NotebookNode, source: NotebookNode, cwd: str | Path,
                       cell_timeout: float = 60, notebook_timeout: float | None = None,
                       executed_path: str | Path | None = None) -> tuple[dict[str, float], list[str]]:
    """Score one submitted notebook against its solution notebook.

    Returns ``(points per test cell grade_id, problems)``. The instructor's test
    cells replace the submitted ones (restoring hidden tests and undoing edits);
    a test cell that is missing, or that never ran or finished, scores 0. A cell
    is interrupted after ``cell_timeout`` seconds; the kernel is shut down when
    the whole notebook runs longer than ``notebook_timeout`` seconds (default 10
    times ``cell_timeout``), and the cells that ran are scored. ``executed_path``,
    if given, is where the executed notebook is written.
    """
    problems: list[str] = []
    tests = autograder_cells(source)
    nb = copy.deepcopy(submission)
    found = set()
    for cell in nb.cells:
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id in tests:
            cell.source = tests[grade_id].source
            cell.metadata["nbgrader"] = copy.deepcopy(tests[grade_id].metadata["nbgrader"])
            found.add(grade_id)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    problems += [f"test cell {g!r} is missing from the submission" for g in tests if g not in found]

    if notebook_timeout is None:
        notebook_timeout = 10 * cell_timeout
    stopped = None
    try:
        execute_notebook(nb, cwd, cell_timeout=cell_timeout, allow_errors=True, notebook_timeout=notebook_timeout)
    except Exception as exc:  # the notebook ran out of time, or the kernel died: score what ran
        # the cell that was running is the last one that started (the kernel numbers a cell when it starts it)
        stopped = max((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count),
                      default=None)
        where = _cell_name(nb, stopped) if stopped is not None else "the notebook"
        if isinstance(exc, TimeoutError):
            problems.append(f"{where} was still running after the notebook's {notebook_timeout:g} s (it kept "
                            "going when interrupted): the kernel was shut down and later cells did not run")
        else:
            problems.append(f"execution stopped in {where}: {_error(type(exc).__name__, str(exc))}")
    if executed_path is not None:
        Path(executed_path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_path)

    points = {g: 0.0 for g in tests}
    for index, cell in enumerate(nb.cells):
        if _timed_out(cell):
            problems.append(f"{_cell_name(nb, index)} timed out after {cell_timeout:g} s "
                            "(interrupted; grading went on)")
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id not in tests or cell.cell_type != "code":
            continue
        if cell.execution_count is None:
            problems.append(f"test cell {grade_id!r} did not run")
        if cell.execution_count is None or index == stopped:  # the stopped cell (named above) never finished
            continue
        points[grade_id], note = _score_test_cell(cell)
        if note:
            problems.append(f"test cell {grade_id!r} {note}")
    return points, problems


def grade(submissions_dir: str | Path, source_dir: str | Path = "notebooks/solutions",
          out: str | Path | None = "grades.csv", cell_timeout: float = 60, notebook_timeout: float | None = None,
          keep_executed: str | Path | None = None) -> list[dict]:
    """Autograde every student folder in ``submissions_dir`` and write one CSV row per student.

    Columns: ``student``, one ``<notebook>:<grade_id>`` column per test cell
    (points earned) followed by ``<notebook> total``, then ``total``,
    ``max_total`` (over every notebook, submitted or not) and ``problems``. A
    missing, unreadable or crashing notebook scores 0 for its tests; grading goes
    on. Each row is written as soon as its student is graded. With
    ``keep_executed``, the executed notebooks are saved as
    ``<keep_executed>/<student>/<notebook>``.
    """
    submissions_dir, source_dir = Path(submissions_dir), Path(source_dir)
    if not submissions_dir.is_dir():
        raise ValueError(f"{submissions_dir} is not a folder; expected one folder per student, each holding "
                         "that student's notebooks")
    sources = {p.name: nbformat.read(p, NBFORMAT_VERSION) for p in sorted(source_dir.glob("*.ipynb"))}
    if not sources:
        raise ValueError(f"no solution notebooks (*.ipynb) in {source_dir}")
    students = sorted(p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    tests = {name: autograder_cells(nb) for name, nb in sources.items()}
    max_points = {f"{name}:{g}": float(nbgrader_metadata(c).get("points", 0))
                  for name in sources for g, c in tests[name].items()}
    columns = ["student"]
    for name in sources:
        if tests[name]:
            columns += [f"{name}:{g}" for g in tests[name]] + [f"{name} total"]
    columns += ["total", "max_total", "problems"]
    rows = []
    with open(out, "w", newline="") if out is not None else contextlib.nullcontext() as f:
        writer = csv.DictWriter(f, fieldnames=columns) if f is not None else None
        if writer:
            writer.writeheader()
            f.flush()
        for student in _progress(students, desc="grading"):
            rows.append(_grade_student(student, sources, tests, max_points, cell_timeout, notebook_timeout,
                                       keep_executed))
            if writer:
                writer.writerow(rows[-1])
                f.flush()
    return rows


def _grade_student(student: Path, sources: dict, tests: dict, max_points: dict, cell_timeout: float,
                   notebook_timeout: float | None, keep_executed: str | Path | None) -> dict:
    """One student's CSV row (see ``grade``)."""
    row: dict = {"student": student.name, **{col: 0.0 for col in max_points}}
    problems: list[str] = []
    submitted = {p.name: p for p in sorted(student.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts}
    for name, source in sources.items():
        if name not in submitted:
            if tests[name]:
                problems.append(f"{name}: not submitted")
            continue
        try:
            nb = nbformat.read(submitted[name], NBFORMAT_VERSION)
        except Exception as exc:
            problems.append(f"{name}: unreadable notebook ({type(exc).__name__})")
            continue
        executed = Path(keep_executed) / student.name / name if keep_executed is not None else None
        points, notes = autograde_notebook(nb, source, submitted[name].parent, cell_timeout, notebook_timeout,
                                           executed)
        row.update({f"{name}:{g}": p for g, p in points.items()})
        problems += [f"{name}: {n}" for n in notes]
    for name in sources:
        if tests[name]:
            row[f"{name} total"] = sum(row[f"{name}:{g}"] for g in tests[name])
    row["total"] = sum(row[col] for col in max_points)
    row["max_total"] = sum(max_points.values())
    row["problems"] = "; ".join(problems)
    return row


def _progress(items, desc: str):
    from tqdm.auto import tqdm
    return tqdm(items, desc=desc, unit="student")


# --------------------------------------------------------------------------- command line

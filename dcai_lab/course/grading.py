"""Release student notebooks and autograde submissions, on nbgrader's conventions.

The instructor writes *solution* notebooks in ``notebooks/solutions/``. Exercise
cells carry nbgrader cell metadata and mark the answer with ``### BEGIN SOLUTION``
/ ``### END SOLUTION``; autograder test cells (``"grade": true``, with
``"points"``) hold visible asserts and, between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``, tests the students do not see.

Three commands (``python -m dcai_lab.course.grading --help``)::

    python -m dcai_lab.course.grading release notebooks/solutions notebooks   # make release
    python -m dcai_lab.course.grading execute notebooks/solutions/*.ipynb     # make solutions
    python -m dcai_lab.course.grading grade submissions/ --out grades.csv     # make grade

``release`` runs nbgrader's own preprocessors (solutions become
``raise NotImplementedError()``, hidden tests are removed, outputs cleared,
graded cells locked). ``grade`` does what nbgrader's autograder does: it puts
the instructor's test cells (hidden tests included) back into each submission,
runs it with a time limit per cell and one for the whole notebook, and scores
every test cell with ``nbgrader.utils.determine_grade`` (an error, or output on
stderr, scores 0), with one deviation: stderr output made only of Python
warnings (``file.py:3: RuntimeWarning: divide by zero encountered in log`` and
the source line that follows it) does not cost the points, since a correct
answer may warn; the ``problems`` column notes it. The ``problems`` column also
gives the first line of the error of each failing test cell, and names (by
position, counting every cell from 1, and grade_id) each cell that timed out.
Submissions are laid out one folder per student, as nbgrader collects them::

    submissions/<student>/<notebook>.ipynb   (or <student>/<assignment>/<notebook>.ipynb)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import csv
import re
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
                     allow_errors: bool = False, notebook_timeout: float | None = None) -> NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel (working directory ``cwd``) and return it.

    A cell running longer than ``cell_timeout`` seconds is interrupted; with
    ``allow_errors`` the run goes on past errors and interruptions (as when grading).
    A run longer than ``notebook_timeout`` seconds in all (kernel start included;
    a cell that catches the interrupt and keeps going is interrupted again and
    again) has its kernel shut down and raises ``TimeoutError``; ``nb`` keeps the
    outputs of the cells that ran.
    """
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=allow_errors,
                            interrupt_on_timeout=allow_errors, record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    if notebook_timeout is None:
        client.execute()
    else:
        run_sync(_execute_within)(client, notebook_timeout)
    return nb


async def _execute_within(client, seconds: float) -> None:
    """``client.execute()``, but shut the kernel down and stop after ``seconds``."""
    from jupyter_core.utils import ensure_async

    run = asyncio.ensure_future(client.async_execute())
    done, _ = await asyncio.wait({run}, timeout=seconds)
    if done:
        run.result()  # raises what the run raised
        return
    with contextlib.suppress(Exception):  # the kernel may have died already
        await ensure_async(client.km.shutdown_kernel(now=True))
    await asyncio.wait({run}, timeout=5)  # nbclient notices the dead kernel within a second,
    run.cancel()  # unless it is waiting out a cell's timeout: stop it
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await run
    raise TimeoutError(f"the notebook ran longer than its {seconds:g} s; its kernel was shut down")


# --------------------------------------------------------------------------- grade

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
    grade_id = _nbgrader(cell).get("grade_id")
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
        grade_id = _nbgrader(cell).get("grade_id")
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
        grade_id = _nbgrader(cell).get("grade_id")
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
    max_points = {f"{name}:{g}": float(_nbgrader(c).get("points", 0))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcai_lab.course.grading", description=__doc__.split("\n\n")[0])
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
    p.add_argument("--timeout", type=float, default=60, help="seconds per cell before it is interrupted (default 60)")
    p.add_argument("--notebook-timeout", type=float, default=None,
                   help="seconds per notebook before its kernel is shut down (default 10 times --timeout)")
    p.add_argument("--keep-executed", type=Path, default=None, metavar="DIR",
                   help="save the executed notebooks as DIR/<student>/<notebook>")
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
            rows = grade(args.submissions_dir, args.source, args.out, args.timeout, args.notebook_timeout,
                         args.keep_executed)
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

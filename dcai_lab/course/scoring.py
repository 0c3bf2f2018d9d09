"""The points of one executed test cell, and the message a student reads about it.

A test cell fails (0 points) when the kernel's execute reply reports an error, whatever the notebook did
to its tracebacks or outputs; otherwise nbgrader's ``determine_grade`` decides from its outputs, as
nbgrader's autograder does: output on stderr scores 0, and a cell whose result (its last expression)
is a number scores that number, between 0 and its points (partial credit). One deviation: stderr
output made only of Python warnings does not cost the points, since a correct answer may warn
(noted). The message of a failing cell is the error's name and message only: never its traceback,
which would show the hidden tests' code.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from nbformat import NotebookNode

__all__ = ["TestResult", "score_test_cell", "warnings_only", "first_line", "error_text", "hidden_lines"]

WARNING_LINE = re.compile(r".+:\d+: (\w*Warning: .*)")  # what warnings.formatwarning writes first
CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class TestResult:
    """What one test cell scored, and why (the feedback a student reads)."""

    grade_id: str
    points: float
    max_points: float
    status: str  # passed, partial credit, failed, timed out, not run, missing, needs manual grading
    message: str = ""  # the failing assertion's message, what the cell wrote to stderr, or why partial credit
    where: str = ""  # "a visible test" or "a hidden test", when the failing line is known
    note: str = ""  # for the instructor: printed warnings, tampering, a library call

    @property
    def failed(self) -> bool:
        return self.status not in ("passed", "needs manual grading")


def first_line(text) -> str:
    """The first line of ``text`` (cut at 200 characters), or "" if it is blank."""
    return (str(text).strip().splitlines() or [""])[0][:200]


def error_text(name: str, message: str) -> str:
    """``"Name: first line of message"``, or just the name for an empty message."""
    line = first_line(message)
    return f"{name}: {line}" if line else name


def warnings_only(stderr: str) -> list[str] | None:
    """The warnings (``"Category: message"``) that make up ``stderr``, or None if it holds anything else.

    Python prints a warning as ``file:line: Category: message``, the message's
    further lines if any, then the warned line of source indented by two spaces.

    >>> warnings_only("/tmp/ipykernel_1/2.py:3: RuntimeWarning: divide by zero encountered in log\\n"
    ...               "  h = -np.sum(p * np.log(p), axis=1)\\n")
    ['RuntimeWarning: divide by zero encountered in log']
    >>> print(warnings_only("x.py:3: UserWarning: careful\\n  warn('careful')\\nsomething else\\n"))
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


def hidden_lines(source: str) -> set[int]:
    """The line numbers (from 1) of a test cell's hidden tests.

    >>> sorted(hidden_lines("a\\n### BEGIN HIDDEN TESTS\\nb\\nc\\n### END HIDDEN TESTS\\nd"))
    [2, 3, 4, 5]
    """
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if "### BEGIN HIDDEN TESTS" in line:
            inside = True
        if inside:
            lines.add(number)
        if "### END HIDDEN TESTS" in line:
            inside = False
    return lines


def failing_line(traceback: list[str]) -> int | None:
    """The line of the test cell where its error was raised (the first cell frame of the traceback)."""
    for entry in traceback or []:
        match = CELL_LINE.search(ANSI.sub("", str(entry)))
        if match:
            return int(match.group(1))
    return None


def score_test_cell(grade_id: str, max_points: float, reply: dict | None, outputs: list, timed_out: bool,
                    source: str) -> TestResult:
    """Score a test cell from its execute ``reply`` (None: it never finished) and its ``outputs``."""
    from nbgrader.utils import determine_grade

    if reply is None:
        return TestResult(grade_id, 0.0, max_points, "not run", "the cell did not run or did not finish")
    if timed_out:
        return TestResult(grade_id, 0.0, max_points, "timed out", "the cell ran past its time limit and was "
                                                                  "interrupted")
    if reply.get("status") != "ok":
        line = failing_line(reply.get("traceback"))
        where = "" if line is None else ("a hidden test" if line in hidden_lines(source) else "a visible test")
        return TestResult(grade_id, 0.0, max_points, "failed",
                          error_text(str(reply.get("ename", "Error")), str(reply.get("evalue", ""))), where)
    stderr = "".join(o.get("text", "") for o in outputs
                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
    warned = warnings_only(stderr) if stderr else None
    kept = [o for o in outputs if not (warned and o.get("output_type") == "stream" and o.get("name") == "stderr")]
    cell = NotebookNode(cell_type="code", source=source, outputs=copy.deepcopy(kept), execution_count=1,
                        metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": grade_id,
                                               "points": max_points, "locked": True}})
    try:
        points = float(determine_grade(cell)[0] or 0.0)
    except Exception:  # a result nbgrader cannot read: full points, as nbgrader gives them
        points = max_points
    points = min(max(points, 0.0), max_points)
    note = f"printed warnings ({' | '.join(w[:120] for w in warned)}), not counted as a failure" if warned else ""
    if stderr and not warned:
        return TestResult(grade_id, 0.0, max_points, "failed",
                          f"wrote to stderr, which nbgrader scores 0: {first_line(stderr)!r}")
    if any(o.get("output_type") == "error" for o in kept):
        error = next(o for o in kept if o.get("output_type") == "error")
        return TestResult(grade_id, 0.0, max_points, "failed", error_text(error.get("ename", "Error"),
                                                                           error.get("evalue", "")))
    if points == max_points:
        return TestResult(grade_id, points, max_points, "passed", note=note)
    stdout = "".join(o.get("text", "") for o in kept if o.get("output_type") == "stream" and o.get("name") == "stdout")
    said = [line.strip() for line in stdout.splitlines() if line.strip() and line.strip() != "visible tests passed"]
    return TestResult(grade_id, points, max_points, "partial credit", " | ".join(said)[:300], note=note)

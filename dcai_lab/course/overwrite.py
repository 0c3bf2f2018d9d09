"""The notebook that is run for grading: the student's cells, the instructor's test cells (nbgrader's OverwriteCells).

Each autograder test cell of the submission is replaced by the instructor's (hidden tests put back,
edits undone, points and metadata the instructor's), as nbgrader's autograde does, and whatever the
student did to the metadata is a problem of that notebook, never a crash:

- ``"nbgrader"`` metadata that is not a dictionary (``null``, a list), or a ``grade_id`` that is not a
  string: the cell is an ordinary cell (noted);
- a grade id on several cells: the last one is the graded cell, as nbgrader's ``DeduplicateIds`` keeps
  it; the earlier copies run as the student wrote them, as ordinary cells (noted);
- a test cell turned into markdown, or given other points: restored, as nbgrader does (noted);
- a test cell whose visible part the student edited: restored (noted; nbgrader warns about a changed
  checksum for every test cell with hidden tests, so this is how a real edit shows);
- a test cell deleted: scores 0 (noted), as in nbgrader without ``add_missing_cells``.

Manually graded cells (``"grade": true, "solution": true``: a written answer) are kept as the
student wrote them and listed for the instructor; they score 0 until graded by hand.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from dcai_lab.course.notebooks import nbgrader_metadata, release_notebook

__all__ = ["Prepared", "prepare", "autograded_cells", "manual_cells", "points_of"]


@dataclass
class Prepared:
    """What :func:`prepare` made: the notebook to run and what is known before it runs."""

    nb: NotebookNode
    tests: dict[int, str] = field(default_factory=dict)  # position -> grade id of each graded test cell
    missing: list[str] = field(default_factory=list)  # test cells not in the submission
    problems: list[str] = field(default_factory=list)


def autograded_cells(source: NotebookNode) -> dict[str, NotebookNode]:
    """The instructor's autograder test cells by grade id (``grade`` and not ``solution``), in order."""
    return {m["grade_id"]: c for c in source.cells if (m := _metadata(c)) and m.get("grade") and not m.get("solution")}


def manual_cells(source: NotebookNode) -> dict[str, NotebookNode]:
    """The instructor's manually graded cells by grade id (``grade`` and ``solution``, a written answer with
    points; an answer cell of 0 points is an ungraded prompt, such as a prediction)."""
    return {m["grade_id"]: c for c in source.cells
            if (m := _metadata(c)) and m.get("grade") and m.get("solution") and points_of(c) > 0}


def points_of(cell: NotebookNode) -> float:
    """A graded cell's points (0 if they are missing or not a number)."""
    try:
        return float(nbgrader_metadata(cell).get("points", 0))
    except (TypeError, ValueError):
        return 0.0


def prepare(submission: NotebookNode, source: NotebookNode, released: NotebookNode | None = None) -> Prepared:
    """The notebook to grade: ``submission`` with the instructor's test cells of ``source`` (see the module).

    ``released`` is the student version of ``source`` (default: made here), to tell a student's
    edit of a test cell from the hidden tests it lacks.
    """
    tests = autograded_cells(source)
    visible = {g: c.source for g, c in autograded_cells(released or release_notebook(source)).items()}
    nb = copy.deepcopy(submission)
    prepared = Prepared(nb)
    last: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        grade_id = _checked_grade_id(cell, index, prepared.problems)
        if grade_id is not None:
            if grade_id in last and grade_id in tests:
                prepared.problems.append(f"grade id {grade_id!r} is on cells {last[grade_id] + 1} and {index + 1}: "
                                         f"cell {index + 1} (the last, as nbgrader does) is graded, cell "
                                         f"{last[grade_id] + 1} runs as an ordinary cell")
                _strip(nb.cells[last[grade_id]])
            last[grade_id] = index
    for grade_id, index in last.items():
        if grade_id in tests:
            nb.cells[index] = _restored(nb.cells[index], tests[grade_id], visible.get(grade_id), prepared.problems)
            prepared.tests[index] = grade_id
    prepared.missing = [g for g in tests if g not in last]
    prepared.problems += [f"test cell {g!r} is missing from the submission (0 points)" for g in prepared.missing]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return prepared


def _metadata(cell) -> dict | None:
    meta = cell.get("metadata", {}) if isinstance(cell.get("metadata"), dict) else {}
    meta = meta.get("nbgrader")
    return meta if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str) else None


def _checked_grade_id(cell: NotebookNode, index: int, problems: list[str]) -> str | None:
    """The cell's grade id, or None; malformed nbgrader metadata is noted and removed."""
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        cell["metadata"] = {}
        problems.append(f"cell {index + 1}: its metadata is not a dictionary (ignored)")
        return None
    if "nbgrader" not in metadata:
        return None
    meta = metadata["nbgrader"]
    if not isinstance(meta, dict):
        problems.append(f"cell {index + 1}: its nbgrader metadata is {type(meta).__name__}, not a dictionary "
                        "(the cell is graded as an ordinary cell)")
        del metadata["nbgrader"]
        return None
    grade_id = meta.get("grade_id")
    if not isinstance(grade_id, str):
        problems.append(f"cell {index + 1}: its nbgrader grade_id is {type(grade_id).__name__}, not a string "
                        "(the cell is graded as an ordinary cell)")
        del metadata["nbgrader"]
        return None
    return grade_id


def _strip(cell: NotebookNode) -> None:
    cell.metadata.pop("nbgrader", None)


def _restored(cell: NotebookNode, test: NotebookNode, visible: str | None, problems: list[str]) -> NotebookNode:
    """The instructor's test cell in place of the student's, with a note of what the student changed."""
    grade_id = test.metadata["nbgrader"]["grade_id"]
    if cell.get("cell_type") != "code":
        problems.append(f"test cell {grade_id!r} was turned into {cell.get('cell_type')}: restored as code, as "
                        "nbgrader does")
    elif visible is not None and cell.get("source") != visible:
        problems.append(f"test cell {grade_id!r} was edited in the submission: the instructor's test ran instead")
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("points") != test.metadata["nbgrader"].get("points") and "points" in meta:
        problems.append(f"test cell {grade_id!r} had its points changed to {meta.get('points')!r}: restored")
    restored = new_code_cell(test.source, metadata=copy.deepcopy(test.metadata))
    if "id" in cell:
        restored["id"] = cell["id"]
    return restored

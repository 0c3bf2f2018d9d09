"""The grades as files: the grader's CSV, and gradebook imports for Canvas and Moodle.

Every file is written to a temporary file next to it and renamed into place, so a run that crashes
or is stopped never leaves less than the previous file. Text cells that a spreadsheet would read as a
formula (starting with ``=``, ``+``, ``-`` or ``@``: a student folder named ``=HYPERLINK(...)``) get a
leading apostrophe.

- :func:`write_csv`: one row per student, the columns of :func:`dcai_lab.course.grading.grade`.
- :func:`write_canvas`: Canvas's gradebook import (Gradebook, Import): ``Student, ID, SIS User ID,
  SIS Login ID, Section`` then one column per notebook (its points), and a ``Points Possible`` row;
  the student folder name is the SIS Login ID, the other identity columns are left empty.
- :func:`write_moodle`: Moodle's "Import grades from CSV": ``Username`` then one column per notebook
  and a feedback column per notebook; map Username to the username field when importing.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

__all__ = ["write_csv", "write_canvas", "write_moodle", "atomic_write_text"]


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _csv_text(columns: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _safe(v) for k, v in row.items()})
    return out.getvalue()


def write_csv(path: str | Path, columns: list[str], rows: list[dict]) -> None:
    """The grader's CSV (atomically)."""
    atomic_write_text(path, _csv_text(columns, rows))


def write_canvas(path: str | Path, rows: list[dict], notebooks: dict[str, float]) -> None:
    """Canvas's gradebook import: one column per notebook (``notebooks``: name -> points possible)."""
    columns = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *(_assignment(n) for n in notebooks)]
    possible = {"Student": "Points Possible", **{_assignment(n): f"{p:g}" for n, p in notebooks.items()}}
    body = [{"Student": r["student"], "SIS Login ID": r["student"],
             **{_assignment(n): f"{float(r.get(f'{n} total', 0)):g}" for n in notebooks}} for r in rows]
    atomic_write_text(path, _csv_text(columns, [possible, *body]))


def write_moodle(path: str | Path, rows: list[dict], notebooks: dict[str, float],
                 feedback: dict[str, dict[str, str]] | None = None) -> None:
    """Moodle's grade import: ``Username``, a grade and a feedback column per notebook."""
    feedback = feedback or {}
    columns = ["Username"]
    for name in notebooks:
        columns += [_assignment(name), f"{_assignment(name)} feedback"]
    body = []
    for r in rows:
        line = {"Username": r["student"]}
        for name in notebooks:
            line[_assignment(name)] = f"{float(r.get(f'{name} total', 0)):g}"
            line[f"{_assignment(name)} feedback"] = feedback.get(r["student"], {}).get(name, "")
        body.append(line)
    atomic_write_text(path, _csv_text(columns, body))


def _assignment(notebook: str) -> str:
    """A notebook's gradebook column: its name without ``.ipynb``."""
    return notebook[:-len(".ipynb")] if notebook.endswith(".ipynb") else notebook

"""Feedback for each student: an HTML and a Markdown report of what every test cell scored and why.

For each notebook: every test cell's points, the message of each failing assertion (visible or hidden
test: the message only, never the hidden test's code), cells that timed out, cells that need manual
grading (0 points until the instructor grades them), and the notebook's notes (not submitted, a copy
chosen, a file refused, held for review).
"""

from __future__ import annotations

import html
from pathlib import Path

from dcai_lab.course.gradebook import atomic_write_text

__all__ = ["write_reports", "markdown_report", "html_report"]


def write_reports(folder: str | Path, student: str, notebooks: list, notes: list[str] = ()) -> tuple[Path, Path]:
    """Write ``<folder>/<student>.md`` and ``.html``; ``notebooks`` are the student's ``NotebookGrade``s,
    ``notes`` what was found in the student's folder (copies, refused files)."""
    folder = Path(folder)
    md, page = folder / f"{student}.md", folder / f"{student}.html"
    atomic_write_text(md, markdown_report(student, notebooks, notes))
    atomic_write_text(page, html_report(student, notebooks, notes))
    return md, page


def _total(notebooks) -> tuple[float, float, float]:
    earned = sum(r.points for nb in notebooks for r in nb.results)
    possible = sum(r.max_points for nb in notebooks for r in nb.results)
    manual = sum(r.max_points for nb in notebooks for r in nb.results if r.status == "needs manual grading")
    return earned, possible, manual


def _points(value: float) -> str:
    return f"{value:g}"


def _result(r) -> str:
    if r.status in ("failed", "timed out", "not run", "missing"):
        return r.status + (f" ({r.where})" if r.where else "")
    return r.status


def markdown_report(student: str, notebooks: list, notes: list[str] = ()) -> str:
    earned, possible, manual = _total(notebooks)
    lines = [f"# Feedback for {student}", "", f"**Total: {_points(earned)} / {_points(possible)} points**"]
    if manual:
        lines.append(f"({_points(manual)} of them are graded by hand: they count 0 until your instructor grades them.)")
    if notes:
        lines += ["", "About your folder:", ""] + [f"- {_md(n)}" for n in notes]
    for nb in notebooks:
        lines += ["", f"## {nb.name}: {_points(nb.earned)} / {_points(nb.possible)}", ""]
        if nb.results:
            lines += ["| test cell | points | result |", "|---|---:|---|"]
            lines += [f"| `{r.grade_id}` | {_points(r.points)} / {_points(r.max_points)} | {_result(r)} |"
                      for r in nb.results]
        messages = [r for r in nb.results if r.message]
        if messages:
            lines += ["", "What the tests said:", ""]
            lines += [f"- `{r.grade_id}`" + (f" ({r.where})" if r.where else "") + f": {_md(r.message)}"
                      for r in messages]
        if nb.notes:
            lines += ["", "Notes:", ""] + [f"- {_md(n)}" for n in nb.notes]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
         "td.num{text-align:right}.passed{color:#1a7f37}.failed,.timed-out,.not-run,.missing{color:#b00}")


def html_report(student: str, notebooks: list, notes: list[str] = ()) -> str:
    e = html.escape
    earned, possible, manual = _total(notebooks)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback for {e(student)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>Feedback for {e(student)}</h1>",
             f"<p><b>Total: {_points(earned)} / {_points(possible)} points</b></p>"]
    if manual:
        parts.append(f"<p>{_points(manual)} of them are graded by hand: they count 0 until your instructor "
                     "grades them.</p>")
    if notes:
        parts.append("<p>About your folder:</p><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    for nb in notebooks:
        parts.append(f"<h2>{e(nb.name)}: {_points(nb.earned)} / {_points(nb.possible)}</h2>")
        if nb.results:
            parts.append("<table><tr><th>test cell</th><th>points</th><th>result</th></tr>")
            for r in nb.results:
                css = r.status.replace(" ", "-")
                parts.append(f"<tr><td><code>{e(r.grade_id)}</code></td><td class='num'>{_points(r.points)} / "
                             f"{_points(r.max_points)}</td><td class='{e(css)}'>{e(_result(r))}</td></tr>")
            parts.append("</table>")
        messages = [r for r in nb.results if r.message]
        if messages:
            parts.append("<p>What the tests said:</p><ul>")
            parts += [f"<li><code>{e(r.grade_id)}</code>{e(f' ({r.where})' if r.where else '')}: "
                      f"{e(r.message)}</li>" for r in messages]
            parts.append("</ul>")
        if nb.notes:
            parts.append("<p>Notes:</p><ul>" + "".join(f"<li>{e(n)}</li>" for n in nb.notes) + "</ul>")
    return "\n".join(parts) + "\n</body></html>\n"

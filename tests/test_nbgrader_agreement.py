"""The kit's grader agrees with nbgrader's own autograde, following the recipe of nbgrader_config.py end to end.

A course directory is built from ``notebooks/solutions/`` (notebooks 00 and 04, the quickest), with the
kit's ``nbgrader_config.py`` and the virtual environment's ``bin`` on PATH; ``nbgrader generate_assignment``
releases it (the same student notebooks as the kit's release, less the links to the answers pages) and
``nbgrader autograde`` grades four honest students: complete (both notebooks), partial (notebook 00: an answer
that passes the visible tests only), broken (notebook 04: a syntax error) and looping (notebook 04: an infinite
loop in an answer); the kit grades them at the same time. Every autograder test cell must score the same in both, except where
documented: a test cell whose only stderr output is Python warnings keeps its points in the kit (nbgrader
scores it 0); none of these submissions warns, so here every cell must agree.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dcai_lab.course.grading import Options, grade
from dcai_lab.course.notebooks import release_notebook
from dcai_lab.course.overwrite import autograded_cells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("00_welcome.ipynb", "04_data_engine.ipynb")
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
TIMEOUT = 60
STUDENTS = {"complete": NOTEBOOKS, "partial": NOTEBOOKS[:1], "broken": NOTEBOOKS[1:], "looping": NOTEBOOKS[1:]}
# notebook 00's partial answer sums uint8 images in uint8: the visible tests pass, the hidden ones do not,
# and the test cell gives partial credit (1 of 2 points)
OVERFLOWING = ("def mean_images(images, y, n_classes):\n    sums = np.zeros((n_classes,) + images.shape[1:], "
               "dtype=images.dtype)\n    for image, label in zip(images, y):\n        sums[label] += image\n"
               "    return sums / np.bincount(y, minlength=n_classes)[:, None, None]")


def _solution_code(cell) -> str:
    """The instructor's answer of a solution cell: its code without the solution markers."""
    return "\n".join(line for line in cell.source.splitlines() if not MARKER.match(line))


def _submission(released, source, student: str):
    """An honest student's notebook: every answer (complete), the first only (partial; notebook 00: an answer
    that overflows), a syntax error in the first function (broken), an infinite loop before the first (looping)."""
    answers = [c for c in source.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    code = {c.metadata["nbgrader"]["grade_id"]: _solution_code(c) for c in answers}
    ids = list(code)
    if student == "partial":
        code = {ids[0]: OVERFLOWING if ids[0] == "mean_images" else code[ids[0]]}
    elif student == "broken":
        first = next(g for g in ids if "def " in code[g])
        code[first] = code[first].replace("def ", "def (", 1)
    elif student == "looping":
        code[ids[0]] = "while True:\n    pass\n" + code[ids[0]]
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in code:
            cell.source = code[grade_id]
    return nb


def _nbgrader(course: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """nbgrader as the recipe runs it (the venv's bin first on PATH, the kit's nbgrader_config.py), and its log."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "DCAI_CELL_TIMEOUT": str(TIMEOUT)}
    log = course / f"nbgrader-{args[0]}.log"
    with open(log, "w") as f:
        return subprocess.Popen([str(Path(sys.executable).parent / "nbgrader"), *args], cwd=course, env=env,
                                stdout=subprocess.DEVNULL, stderr=f), log


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    (course / "source" / "lab").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / "solutions" / name, course / "source" / "lab" / name)
    generated, log = _nbgrader(course, "generate_assignment", "lab", "--force")
    assert generated.wait(timeout=600) == 0, log.read_text()[-2000:]
    for student, names in STUDENTS.items():
        folder = course / "submitted" / student / "lab"
        folder.mkdir(parents=True)
        for name in names:
            source = nbformat.read(course / "source" / "lab" / name, 4)
            released = nbformat.read(course / "release" / "lab" / name, 4)
            nbformat.write(_submission(released, source, student), folder / name)
    autograded, log = _nbgrader(course, "autograde", "lab", "--force")  # nbgrader and the kit side by side
    rows = grade(course / "submitted", course / "source" / "lab", course / "kit.csv",
                 Options(cell_timeout=TIMEOUT), jobs=2)
    assert autograded.wait(timeout=1800) == 0, log.read_text()[-2000:]
    from nbgrader.api import Gradebook

    theirs = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, names in STUDENTS.items():
            for notebook in gb.find_submission("lab", student).notebooks:
                for g in notebook.grades:
                    theirs[student, f"{notebook.name}.ipynb", g.cell.name] = g.auto_score
    ours = {(r["student"], name, cell): r[f"{name}:{cell}"] for r in rows for name in NOTEBOOKS
            for cell in autograded_cells(nbformat.read(course / "source" / "lab" / name, 4))}
    return {"course": course, "theirs": theirs, "ours": ours, "rows": {r["student"]: r for r in rows},
            "log": log.read_text()}


def test_nbgrader_releases_what_the_kit_releases(both):
    for name in NOTEBOOKS:
        made = release_notebook(nbformat.read(both["course"] / "source" / "lab" / name, 4))
        theirs = nbformat.read(both["course"] / "release" / "lab" / name, 4)
        assert [(c.cell_type, c.source) for c in made.cells] == [(c.cell_type, c.source) for c in theirs.cells], name


def test_every_autograded_cell_scores_the_same_in_the_kit_and_in_nbgrader(both):
    submitted = {(s, n, c): v for (s, n, c), v in both["ours"].items() if n in STUDENTS[s]}
    differing = {key: (ours, both["theirs"].get(key)) for key, ours in submitted.items()
                 if ours != both["theirs"].get(key)}
    assert not differing, differing
    totals = {s: sum(v for (t, _, _), v in submitted.items() if t == s) for s in STUDENTS}
    assert totals["complete"] == max(totals.values()) > totals["broken"] and totals["looping"] < totals["complete"]
    assert submitted["partial", "00_welcome.ipynb", "mean_images_tests"] == 1  # partial credit, in both


def test_the_checksum_warning_is_nbgraders_the_kit_names_real_edits_only(both):
    assert "Attribute 'checksum' for cell" in both["log"]  # every test cell with hidden tests, as documented
    assert all("edited" not in row["review"] for row in both["rows"].values())


def test_the_looping_answer_costs_its_cell_in_both(both):
    row = both["rows"]["looping"]
    assert "timed out after 60 s" in row["problems"]
    looped = [key for key in both["theirs"] if key[0] == "looping"]
    assert looped and any(both["theirs"][key] for key in looped)  # nbgrader kept grading the notebook

"""The solution -> student -> grade pipeline: release, no leaks, and autograding."""

import csv
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dcai_lab.grading import grade, main, release, release_notebook, autograder_cells

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks" / "solutions"
STUDENT = ROOT / "notebooks"
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)


def _nbgrader(kind, grade_id, points=0):
    meta = {"grade": kind == "tests", "grade_id": grade_id, "locked": kind == "tests", "schema_version": 3,
            "solution": kind == "solution", "task": False}
    if kind == "tests":
        meta["points"] = points
    return {"nbgrader": meta}


def _solution(source, grade_id):
    return new_code_cell(source, metadata=_nbgrader("solution", grade_id))


def _tests(source, grade_id, points):
    return new_code_cell(source, metadata=_nbgrader("tests", grade_id, points))


def _assignment() -> nbformat.NotebookNode:
    """A three-exercise solution notebook (1 + 2 + 3 points), each with visible and hidden tests."""
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [
        new_markdown_cell("# Three exercises"),
        _solution("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION", "add"),
        _tests("assert add(1, 2) == 3, 'add(1, 2) should be 3'\n### BEGIN HIDDEN TESTS\n"
               "assert add(-1, 1) == 0\n### END HIDDEN TESTS", "add_tests", 1),
        _solution("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION", "square"),
        _tests("assert square(0) == 0\n### BEGIN HIDDEN TESTS\nassert square(3) == 9, 'square(3)'\n"
               "### END HIDDEN TESTS", "square_tests", 2),
        _solution("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "double"),
        _tests("assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
               "double_tests", 3),
    ]
    return nb


def _answer(student_nb, answers):
    """A student's copy with some solution cells filled in (by grade_id)."""
    nb = nbformat.from_dict(json.loads(json.dumps(student_nb)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course")
    source_dir, subs = tmp / "solutions", tmp / "submissions"
    source_dir.mkdir()
    nbformat.write(_assignment(), source_dir / "hw.ipynb")
    release(source_dir, tmp / "release")
    student = nbformat.read(tmp / "release" / "hw.ipynb", 4)
    correct = {"add": "def add(a, b):\n    return a + b", "square": "def square(x):\n    return x ** 2",
               "double": "def double(x):\n    return x + x"}
    submissions = {
        "ada": _answer(student, correct),
        # add right; square passes the visible test but not the hidden one; double not attempted
        "bob": _answer(student, {"add": correct["add"], "square": "def square(x):\n    return x + x"}),
        # an exception in one cell, an infinite loop in another, and a test cell emptied by hand
        "cy": _answer(student, {"add": correct["add"] + "\nraise RuntimeError('oops')",
                                "square": "while True:\n    pass\ndef square(x):\n    return x * x",
                                "double": correct["double"], "double_tests": "pass"}),
    }
    for name, nb in submissions.items():
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / "hw.ipynb")
    (subs / "dee").mkdir()
    (subs / "dee" / "hw.ipynb").write_text("{ not json")
    (subs / "eve").mkdir()  # handed in nothing
    rows = grade(subs, source_dir, tmp / "grades.csv", cell_timeout=5)
    return {row["student"]: row for row in rows}, tmp / "grades.csv", student


def test_release_clears_solutions_and_hidden_tests(graded):
    _, _, student = graded
    text = json.dumps(student)
    assert "return a + b" not in text and "add(-1, 1)" not in text and "HIDDEN" not in text
    assert text.count("raise NotImplementedError()") == 3
    assert "assert add(1, 2) == 3" in text  # visible tests stay
    assert all(cell.metadata["nbgrader"].get("checksum") for cell in student.cells if "nbgrader" in cell.metadata)


def test_complete_submission_gets_full_marks(graded):
    rows, _, _ = graded
    ada = rows["ada"]
    assert (ada["hw.ipynb:add_tests"], ada["hw.ipynb:square_tests"], ada["hw.ipynb:double_tests"]) == (1, 2, 3)
    assert ada["total"] == ada["max_total"] == 6 and ada["problems"] == ""


def test_partial_submission_loses_hidden_and_missing_points(graded):
    rows, _, _ = graded
    bob = rows["bob"]
    assert (bob["hw.ipynb:add_tests"], bob["hw.ipynb:square_tests"], bob["hw.ipynb:double_tests"]) == (1, 0, 0)
    assert bob["total"] == 1


def test_broken_submission_is_graded_and_the_grader_survives(graded):
    rows, _, _ = graded
    cy = rows["cy"]
    # add raised after defining add (its tests still pass); the loop was interrupted before square existed;
    # the emptied test cell was restored from the instructor's copy and passes.
    assert (cy["hw.ipynb:add_tests"], cy["hw.ipynb:square_tests"], cy["hw.ipynb:double_tests"]) == (1, 0, 3)
    assert cy["total"] == 4
    assert "timed out after 5 s" in cy["problems"]


def test_unreadable_and_missing_notebooks_score_zero(graded):
    rows, _, _ = graded
    assert rows["dee"]["total"] == 0 and "unreadable notebook" in rows["dee"]["problems"]
    assert rows["eve"]["total"] == 0 and "not submitted" in rows["eve"]["problems"]


def test_csv_has_one_row_per_student(graded):
    _, path, _ = graded
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == ["ada", "bob", "cy", "dee", "eve"]
    assert list(rows[0]) == ["student", "hw.ipynb:add_tests", "hw.ipynb:square_tests", "hw.ipynb:double_tests",
                             "total", "max_total", "problems"]
    assert [float(r["total"]) for r in rows] == [6, 1, 4, 0, 0]


def test_grade_command_reports_bad_folders(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.csv")]) == 2
    assert "one folder per student" in capsys.readouterr().err


# --------------------------------------------------------------------------- the course's own notebooks


def _notebooks(folder):
    return sorted(p.name for p in folder.glob("*.ipynb"))


def test_every_solution_notebook_has_a_student_notebook():
    assert _notebooks(SOLUTIONS) and _notebooks(SOLUTIONS) == _notebooks(STUDENT)


@pytest.mark.parametrize("name", _notebooks(SOLUTIONS))
def test_student_notebook_equals_make_release(name):
    made = release_notebook(nbformat.read(SOLUTIONS / name, 4))
    committed = nbformat.read(STUDENT / name, 4)
    assert json.loads(nbformat.writes(made)) == json.loads(nbformat.writes(committed)), (
        f"notebooks/{name} is out of date: run `make release` and commit the result")


@pytest.mark.parametrize("name", _notebooks(SOLUTIONS))
def test_student_notebook_leaks_no_solution_or_hidden_test(name):
    source = nbformat.read(SOLUTIONS / name, 4)
    student_text = "\n".join(c.source for c in nbformat.read(STUDENT / name, 4).cells)
    assert "BEGIN SOLUTION" not in student_text and "HIDDEN TESTS" not in student_text
    outside = "\n".join(REGION.sub("", c.source) for c in source.cells)
    for cell in source.cells:
        for _, body in REGION.findall(cell.source):
            for line in body.splitlines():
                line = line.strip()
                if len(line) > 12 and line not in outside:
                    assert line not in student_text, f"{name} leaks {line!r}"
    assert autograder_cells(source), f"{name} has no autograder test cell"


def test_welcome_notebook_grades_end_to_end(tmp_path):
    student = nbformat.read(STUDENT / "00_welcome.ipynb", 4)
    solved = _answer(student, {"mean_images": "def mean_images(images, y, n_classes):\n"
                                              "    return np.stack([images[y == c].mean(0) for c in range(n_classes)])"})
    for name, nb in {"solved": solved, "untouched": student}.items():
        (tmp_path / "subs" / name).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / name / "00_welcome.ipynb")
    rows = grade(tmp_path / "subs", SOLUTIONS, out=None, cell_timeout=120)
    totals = {r["student"]: r["00_welcome.ipynb:mean_images_tests"] for r in rows}
    assert totals == {"solved": 2, "untouched": 0}

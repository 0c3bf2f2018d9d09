"""The solution -> student -> grade pipeline: release, no leaks, and autograding."""

import csv
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import dcai_lab.grading
from dcai_lab.grading import _warnings_only, autograde_notebook, autograder_cells, grade, main, release, release_notebook

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
    assert "cell 4 ('square') timed out after 5 s (interrupted; grading went on)" in cy["problems"]
    assert "test cell 'square_tests' failed: NameError: name 'square' is not defined" in cy["problems"]


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
                             "hw.ipynb total", "total", "max_total", "problems"]
    assert [float(r["total"]) for r in rows] == [6, 1, 4, 0, 0]


def test_grade_command_reports_bad_folders(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.csv")]) == 2
    assert "one folder per student" in capsys.readouterr().err


# --------------------------------------------------------------------------- warnings, errors, stuck cells, totals


def _course(tmp, notebooks, submissions):
    """Write solution notebooks and released student copies, answered per student; return their folders."""
    source_dir, subs = tmp / "solutions", tmp / "submissions"
    source_dir.mkdir()
    for name, nb in notebooks.items():
        nbformat.write(nb, source_dir / name)
    release(source_dir, tmp / "release")
    for student, answers in submissions.items():
        (subs / student).mkdir(parents=True)
        for name, answer in answers.items():
            nbformat.write(_answer(nbformat.read(tmp / "release" / name, 4), answer), subs / student / name)
    return source_dir, subs


def _notebook(*cells):
    return new_notebook(cells=list(cells), metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                    "language": "python"}})


ENTROPY = "import numpy as np\ndef entropy(p):\n    return -np.sum(np.where(p > 0, p * np.log(p), 0), axis=1)"


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """Two notebooks graded through the command line: warnings, stderr, failing asserts, a missing notebook."""
    tmp = tmp_path_factory.mktemp("noisy")
    a = _notebook(
        _solution("import numpy as np\ndef entropy(p):\n    ### BEGIN SOLUTION\n"
                  "    return -np.sum(np.where(p > 0, p * np.log(p), 0), axis=1)\n    ### END SOLUTION", "entropy"),
        _tests("h = entropy(np.array([[0.5, 0.5, 0.0]]))[0]\nassert abs(h - np.log(2)) < 1e-9, "
               "f'the uniform row over 2 classes has entropy log 2 = 0.693, got {h:.3}'", "entropy_tests", 2),
        _solution("def loud(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", "loud"),
        _tests("assert loud(1) == 1", "loud_tests", 1),
        _solution("def blank():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "blank"),
        _tests("assert blank() == 1", "blank_tests", 1))
    b = _notebook(_solution("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                            "double"),
                  _tests("assert double(2) == 4", "double_tests", 3))
    source_dir, subs = _course(tmp, {"a.ipynb": a, "b.ipynb": b}, {
        # right but wrong: entropy wrong, the rest right
        "ann": {"a.ipynb": {"entropy": "import numpy as np\ndef entropy(p):\n    return np.ones(len(p))",
                            "loud": "def loud(x):\n    return x", "blank": "def blank():\n    return 1"},
                "b.ipynb": {"double": "def double(x):\n    return x * 2"}},
        # a correct entropy that warns (log 0), a loud function, an empty exception; no b.ipynb
        "wes": {"a.ipynb": {"entropy": ENTROPY,
                            "loud": "import sys\ndef loud(x):\n    print('debug:', x, file=sys.stderr)\n    return x",
                            "blank": "def blank():\n    raise ValueError()"}},
    })
    out, kept = tmp / "grades.csv", tmp / "executed"
    assert main(["grade", str(subs), "--source", str(source_dir), "--out", str(out), "--timeout", "30",
                 "--keep-executed", str(kept)]) == 0
    with open(out) as f:
        return {row["student"]: row for row in csv.DictReader(f)}, kept


def test_warnings_do_not_cost_points_but_are_noted(noisy):
    wes = noisy[0]["wes"]
    assert float(wes["a.ipynb:entropy_tests"]) == 2
    assert ("a.ipynb: test cell 'entropy_tests' printed warnings (RuntimeWarning: divide by zero encountered in log | "
            "RuntimeWarning: invalid value encountered in multiply), not counted as a failure") in wes["problems"]


def test_only_stderr_made_of_warnings_is_forgiven():
    numpy = "/tmp/ipykernel_7/1.py:3: RuntimeWarning: divide by zero encountered in log\n  h = np.log(p)\n"
    sklearn = ("/x/sklearn/linear_model/_logistic.py:599: ConvergenceWarning: lbfgs failed to converge:\n"
               "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT\n\n    https://scikit-learn.org/stable/\n"
               "  n_iter_i = _check_optimize_result(\n")
    assert _warnings_only(numpy + numpy) == ["RuntimeWarning: divide by zero encountered in log"]
    assert _warnings_only(numpy + sklearn) == ["RuntimeWarning: divide by zero encountered in log",
                                               "ConvergenceWarning: lbfgs failed to converge:"]
    assert _warnings_only("a.py:1: UserWarning: no source line\n") == ["UserWarning: no source line"]
    for other in ("debug\n" + numpy, numpy + "debug\n", "Traceback (most recent call last):\n", "\n",
                  "a.py:1: UserWarning: two\nlines, no source line\n"):
        assert _warnings_only(other) is None, other


def test_other_stderr_output_scores_zero_with_its_reason(noisy):
    wes = noisy[0]["wes"]
    assert float(wes["a.ipynb:loud_tests"]) == 0
    assert "test cell 'loud_tests' wrote to stderr, which nbgrader scores 0: 'debug: 1'" in wes["problems"]


def test_failing_test_cells_show_the_first_line_of_their_error(noisy):
    rows, _ = noisy
    assert float(rows["ann"]["a.ipynb:entropy_tests"]) == 0
    assert ("a.ipynb: test cell 'entropy_tests' failed: AssertionError: the uniform row over 2 classes has entropy "
            "log 2 = 0.693, got 1.0") in rows["ann"]["problems"]
    assert float(rows["wes"]["a.ipynb:blank_tests"]) == 0  # an exception with an empty message
    assert "a.ipynb: test cell 'blank_tests' failed: ValueError;" in rows["wes"]["problems"]


def test_totals_per_notebook_and_over_every_notebook(noisy):
    rows, _ = noisy
    totals = {s: [float(r[c]) for c in ("a.ipynb total", "b.ipynb total", "total", "max_total")]
              for s, r in rows.items()}
    assert totals == {"ann": [2, 3, 5, 7], "wes": [2, 0, 2, 7]}
    assert rows["wes"]["problems"].endswith("b.ipynb: not submitted")
    assert "b.ipynb" not in rows["ann"]["problems"]


def test_keep_executed_saves_the_graded_notebooks(noisy):
    _, kept = noisy
    assert sorted(str(p.relative_to(kept)) for p in kept.rglob("*.ipynb")) == [
        "ann/a.ipynb", "ann/b.ipynb", "wes/a.ipynb"]
    cells = nbformat.read(kept / "wes" / "a.ipynb", 4).cells
    assert "RuntimeWarning" in cells[1].outputs[0].text and cells[1].source.startswith("h = entropy(")


def test_a_cell_that_swallows_interrupts_is_stopped_by_the_notebook_budget(tmp_path):
    source = _notebook(
        _solution("def ok():\n    ### BEGIN SOLUTION\n    return True\n    ### END SOLUTION", "ok"),
        _tests("assert ok()", "ok_tests", 1),
        _solution("def wait():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", "wait"),
        _tests("wait()", "wait_tests", 2),
        _tests("assert ok()", "after_tests", 1))
    stubborn = ("import os, time\ndef wait():\n    print(os.getpid())\n    while True:\n        try:\n"
                "            time.sleep(0.2)\n        except KeyboardInterrupt:\n            pass")
    submission = _answer(release_notebook(source), {"ok": "def ok():\n    return True", "wait": stubborn})
    points, problems = autograde_notebook(submission, source, tmp_path, cell_timeout=2, notebook_timeout=8,
                                          executed_path=tmp_path / "run.ipynb")
    # the stopped test cell printed nothing on stderr and raised nothing, yet it never finished: 0 points
    assert points == {"ok_tests": 1, "wait_tests": 0, "after_tests": 0}
    assert problems == ["cell 4 ('wait_tests') was still running after the notebook's 8 s (it kept going when "
                        "interrupted): the kernel was shut down and later cells did not run",
                        "test cell 'after_tests' did not run"]
    pid = int(nbformat.read(tmp_path / "run.ipynb", 4).cells[3].outputs[0].text)
    with pytest.raises(ProcessLookupError):  # the kernel is gone
        os.kill(pid, 0)


def test_an_exception_without_a_message_does_not_stop_grading(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError()

    monkeypatch.setattr(dcai_lab.grading, "execute_notebook", crash)
    source = _assignment()
    points, problems = autograde_notebook(release_notebook(source), source, tmp_path)
    assert points == {"add_tests": 0, "square_tests": 0, "double_tests": 0}
    assert problems == ["execution stopped in the notebook: RuntimeError", "test cell 'add_tests' did not run",
                        "test cell 'square_tests' did not run", "test cell 'double_tests' did not run"]


def test_each_row_is_written_as_soon_as_its_student_is_graded(tmp_path, monkeypatch):
    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment()}, {"ada": {}, "bob": {}})
    fake = {"student": "ada", "hw.ipynb:add_tests": 1, "hw.ipynb:square_tests": 0, "hw.ipynb:double_tests": 0,
            "hw.ipynb total": 1, "total": 1, "max_total": 6, "problems": ""}

    def interrupted_after_ada(student, *args):
        if student.name != "ada":
            raise KeyboardInterrupt
        return fake

    monkeypatch.setattr(dcai_lab.grading, "_grade_student", interrupted_after_ada)
    with pytest.raises(KeyboardInterrupt):
        grade(subs, source_dir, tmp_path / "g.csv")
    with open(tmp_path / "g.csv") as f:
        assert list(csv.DictReader(f)) == [{k: str(v) for k, v in fake.items()}]


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

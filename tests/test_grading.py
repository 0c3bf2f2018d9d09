"""The solution -> student -> grade pipeline: release, no leaks, and autograding on nbgrader's conventions.

Every kernel here runs in the bubblewrap sandbox (CI installs bubblewrap), except where a test turns it off.
The attacks on the grader are in test_grading_attacks.py, the agreement with nbgrader in
test_nbgrader_agreement.py.
"""

import csv
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import dcai_lab.course.autograde
import dcai_lab.course.grading
from attacks import course as attack_course
from dcai_lab.course import sandbox
from dcai_lab.course.__main__ import main
from dcai_lab.course.grading import Options, autograde_notebook, grade
from dcai_lab.course.notebooks import release, release_notebook
from dcai_lab.course.overwrite import autograded_cells
from dcai_lab.course.scoring import warnings_only
from dcai_lab.course.tamper import watch_spec

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks" / "solutions"
STUDENT = ROOT / "notebooks"
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def _nbgrader(kind, grade_id, points=0):
    meta = {"grade": kind in ("tests", "manual"), "grade_id": grade_id, "locked": kind == "tests",
            "schema_version": 3, "solution": kind in ("solution", "manual"), "task": False}
    if kind in ("tests", "manual"):
        meta["points"] = points
    return {"nbgrader": meta}


def _solution(source, grade_id):
    return new_code_cell(source, metadata=_nbgrader("solution", grade_id))


def _tests(source, grade_id, points):
    return new_code_cell(source, metadata=_nbgrader("tests", grade_id, points))


def _notebook(*cells):
    return new_notebook(cells=list(cells), metadata=KERNELSPEC)


def _assignment() -> nbformat.NotebookNode:
    """Three exercises (1 + 2 + 3 points) with visible and hidden tests, a written answer (2) and a prediction."""
    return _notebook(
        new_markdown_cell("# Three exercises"),
        _solution("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION", "add"),
        _tests("assert add(1, 2) == 3, 'add(1, 2) should be 3'\n### BEGIN HIDDEN TESTS\n"
               "assert add(-1, 1) == 0, 'add(-1, 1) should be 0'\n### END HIDDEN TESTS", "add_tests", 1),
        _solution("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION", "square"),
        _tests("assert square(0) == 0\n### BEGIN HIDDEN TESTS\nassert square(3) == 9, 'square(3) should be 9'\n"
               "### END HIDDEN TESTS", "square_tests", 2),
        _solution("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "double"),
        _tests("assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
               "double_tests", 3),
        new_markdown_cell("Why is doubling adding a number to itself?"),
        new_markdown_cell("Because 2x = x + x.", metadata=_nbgrader("manual", "why_double", 2)),
        new_markdown_cell("Predict: what is double(double(1))?", metadata=_nbgrader("manual", "predict", 0)),
    )


def _answer(student_nb, answers):
    """A student's copy with some solution cells filled in (by grade_id)."""
    nb = nbformat.from_dict(json.loads(json.dumps(student_nb)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


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


CORRECT = {"add": "def add(a, b):\n    return a + b", "square": "def square(x):\n    return x ** 2",
           "double": "def double(x):\n    return x + x"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course")
    source_dir, subs = _course(tmp, {"hw.ipynb": _assignment()}, {
        "ada": {"hw.ipynb": CORRECT},
        # add right; square passes the visible test but not the hidden one; double not attempted
        "bob": {"hw.ipynb": {"add": CORRECT["add"], "square": "def square(x):\n    return x + x"}},
        # an exception in one cell, an infinite loop in another, and a test cell emptied by hand
        "cy": {"hw.ipynb": {"add": CORRECT["add"] + "\nraise RuntimeError('oops')",
                            "square": "while True:\n    pass\ndef square(x):\n    return x * x",
                            "double": CORRECT["double"], "double_tests": "pass"}},
    })
    (subs / "dee").mkdir()
    (subs / "dee" / "hw.ipynb").write_text("{ not json")
    (subs / "eve").mkdir()  # handed in nothing
    out = tmp / "out"
    rows = grade(subs, source_dir, out / "grades.csv", Options(cell_timeout=5), jobs=2, feedback_dir=out / "feedback",
                 canvas=out / "canvas.csv", moodle=out / "moodle.csv")
    student = nbformat.read(tmp / "release" / "hw.ipynb", 4)
    return {row["student"]: row for row in rows}, out, student


def test_release_clears_solutions_and_hidden_tests(graded):
    _, _, student = graded
    text = json.dumps(student)
    assert "return a + b" not in text and "add(-1, 1)" not in text and "HIDDEN" not in text
    assert text.count("raise NotImplementedError()") == 3 and "Because 2x" not in text
    assert "assert add(1, 2) == 3" in text  # visible tests stay
    assert all(cell.metadata["nbgrader"].get("checksum") for cell in student.cells if "nbgrader" in cell.metadata)


def test_complete_submission_gets_full_marks(graded):
    ada = graded[0]["ada"]
    assert (ada["hw.ipynb:add_tests"], ada["hw.ipynb:square_tests"], ada["hw.ipynb:double_tests"]) == (1, 2, 3)
    assert (ada["total"], ada["max_total"], ada["problems"], ada["review"]) == (6, 8, "", "")
    assert ada["sandbox"] == "bubblewrap"


def test_written_answers_need_manual_grading_and_count_zero(graded):
    ada = graded[0]["ada"]
    assert ada["hw.ipynb:why_double"] == 0 and "hw.ipynb:predict" not in ada  # a 0-point prediction is not graded
    assert ada["needs_manual_grading"] == "hw.ipynb:why_double (2 points)"
    report = (graded[1] / "feedback" / "ada.md").read_text()
    assert "| `why_double` | 0 / 2 | needs manual grading |" in report
    assert "graded by hand: they count 0 until your instructor grades them" in report


def test_partial_submission_loses_hidden_and_missing_points(graded):
    bob = graded[0]["bob"]
    assert (bob["hw.ipynb:add_tests"], bob["hw.ipynb:square_tests"], bob["hw.ipynb:double_tests"]) == (1, 0, 0)
    assert bob["total"] == 1
    assert "test cell 'square_tests' failed: AssertionError: square(3) should be 9 (a hidden test)" in bob["problems"]


def test_broken_submission_is_graded_and_the_grader_survives(graded):
    cy = graded[0]["cy"]
    # add raised after defining add (its tests still pass); the loop was interrupted before square existed;
    # the emptied test cell was restored from the instructor's copy and passes.
    assert (cy["hw.ipynb:add_tests"], cy["hw.ipynb:square_tests"], cy["hw.ipynb:double_tests"]) == (1, 0, 3)
    assert "cell 4 ('square') timed out after 5 s (interrupted; grading went on)" in cy["problems"]
    assert "test cell 'square_tests' failed: NameError: name 'square' is not defined" in cy["problems"]
    assert "test cell 'double_tests' was edited in the submission" in cy["review"]


def test_unreadable_and_missing_notebooks_score_zero(graded):
    rows = graded[0]
    assert rows["dee"]["total"] == 0 and "hw.ipynb: unreadable notebook (" in rows["dee"]["problems"]
    assert rows["eve"]["total"] == 0 and rows["eve"]["problems"] == "hw.ipynb: not submitted"


def test_csv_has_one_row_per_student(graded):
    with open(graded[1] / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == ["ada", "bob", "cy", "dee", "eve"]
    assert list(rows[0]) == ["student", "hw.ipynb:add_tests", "hw.ipynb:square_tests", "hw.ipynb:double_tests",
                             "hw.ipynb:why_double", "hw.ipynb total", "total", "max_total", "needs_manual_grading",
                             "sandbox", "review", "problems"]
    assert [float(r["total"]) for r in rows] == [6, 1, 4, 0, 0]
    assert not (graded[1] / "grades.csv.partial").exists()


def test_feedback_reports_give_messages_but_never_hidden_code(graded):
    feedback = graded[1] / "feedback"
    assert sorted(p.name for p in feedback.iterdir()) == sorted(f"{s}.{e}" for s in "ada bob cy dee eve".split()
                                                              for e in ("html", "md"))
    bob = (feedback / "bob.md").read_text()
    assert "| `square_tests` | 0 / 2 | failed (a hidden test) |" in bob
    assert "- `square_tests` (a hidden test): AssertionError: square(3) should be 9" in bob
    assert "| `double_tests` | 0 / 3 | failed (a visible test) |" in bob
    page = (feedback / "bob.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "AssertionError: square(3) should be 9" in page
    cy = (feedback / "cy.md").read_text()
    assert "ran longer than 5 s and was stopped" in cy
    for report in feedback.iterdir():
        assert "assert square(3)" not in report.read_text() and "add(-1, 1) ==" not in report.read_text()


def test_gradebook_imports_for_canvas_and_moodle(graded):
    out = graded[1]
    with open(out / "canvas.csv") as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "hw"]
    assert canvas[1] == ["Points Possible", "", "", "", "", "8"]
    assert canvas[2] == ["ada", "", "", "ada", "", "6"] and canvas[3][-1] == "1"
    with open(out / "moodle.csv") as f:
        moodle = list(csv.DictReader(f))
    assert list(moodle[0]) == ["Username", "hw", "hw feedback"]
    assert (moodle[1]["Username"], moodle[1]["hw"]) == ("bob", "1")
    assert "square_tests: failed" in moodle[1]["hw feedback"]


# --------------------------------------------------------------------------- warnings, errors, stuck cells, totals


ENTROPY = "import numpy as np\ndef entropy(p):\n    return -np.sum(np.where(p > 0, p * np.log(p), 0), axis=1)"


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """Two notebooks graded through the command line: warnings, stderr, failing asserts, partial credit."""
    tmp = tmp_path_factory.mktemp("noisy")
    a = _notebook(
        _solution("import numpy as np\ndef entropy(p):\n    ### BEGIN SOLUTION\n"
                  "    return -np.sum(np.where(p > 0, p * np.log(p), 0), axis=1)\n    ### END SOLUTION", "entropy"),
        _tests("h = entropy(np.array([[0.5, 0.5, 0.0]]))[0]\nassert abs(h - np.log(2)) < 1e-9, "
               "f'the uniform row over 2 classes has entropy log 2 = 0.693, got {h:.3}'", "entropy_tests", 2),
        _solution("def loud(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", "loud"),
        _tests("assert loud(1) == 1", "loud_tests", 1),
        _solution("def blank():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "blank"),
        _tests("assert blank() == 1", "blank_tests", 1),
        _solution("def third(x):\n    ### BEGIN SOLUTION\n    return x / 3\n    ### END SOLUTION", "third"),
        _tests("assert third(3) == 1, 'third(3) is 1'\nprint('visible tests passed')\n### BEGIN HIDDEN TESTS\n"
               "exact = third(1) == 1 / 3\nif not exact:\n    print('partial credit: third(1) should be 1 / 3')\n"
               "3.0 if exact else 1.5\n### END HIDDEN TESTS", "third_tests", 3))
    b = _notebook(_solution("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                            "double"),
                  _tests("assert double(2) == 4", "double_tests", 3))
    source_dir, subs = _course(tmp, {"a.ipynb": a, "b.ipynb": b}, {
        # entropy wrong, third exact only for 3, the rest right
        "ann": {"a.ipynb": {"entropy": "import numpy as np\ndef entropy(p):\n    return np.ones(len(p))",
                            "loud": "def loud(x):\n    return x", "blank": "def blank():\n    return 1",
                            "third": "def third(x):\n    return x // 3"},
                "b.ipynb": {"double": "def double(x):\n    return x * 2"}},
        # a correct entropy that warns (log 0), a loud function, an empty exception; no b.ipynb
        "wes": {"a.ipynb": {"entropy": ENTROPY, "third": "def third(x):\n    return x / 3",
                            "loud": "import sys\ndef loud(x):\n    print('debug:', x, file=sys.stderr)\n    return x",
                            "blank": "def blank():\n    raise ValueError()"}},
    })
    out, kept = tmp / "grades.csv", tmp / "executed"
    assert main(["grade", str(subs), "--source", str(source_dir), "--out", str(out), "--timeout", "30",
                 "--jobs", "1", "--feedback", str(tmp / "feedback"), "--keep-executed", str(kept)]) == 0
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
    assert warnings_only(numpy + numpy) == ["RuntimeWarning: divide by zero encountered in log"]
    assert warnings_only(numpy + sklearn) == ["RuntimeWarning: divide by zero encountered in log",
                                              "ConvergenceWarning: lbfgs failed to converge:"]
    assert warnings_only("a.py:1: UserWarning: no source line\n") == ["UserWarning: no source line"]
    for other in ("debug\n" + numpy, numpy + "debug\n", "Traceback (most recent call last):\n", "\n",
                  "a.py:1: UserWarning: two\nlines, no source line\n"):
        assert warnings_only(other) is None, other


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


def test_a_test_cell_whose_result_is_a_number_gives_partial_credit(noisy):
    rows, _ = noisy
    assert float(rows["ann"]["a.ipynb:third_tests"]) == 1.5 and float(rows["wes"]["a.ipynb:third_tests"]) == 3


def test_totals_per_notebook_and_over_every_notebook(noisy):
    rows, _ = noisy
    totals = {s: [float(r[c]) for c in ("a.ipynb total", "b.ipynb total", "total", "max_total")]
              for s, r in rows.items()}
    assert totals == {"ann": [3.5, 3, 6.5, 10], "wes": [5, 0, 5, 10]}
    assert rows["wes"]["problems"].endswith("b.ipynb: not submitted")
    assert "b.ipynb" not in rows["ann"]["problems"]


def test_keep_executed_saves_the_graded_notebooks_without_hidden_tests(noisy):
    _, kept = noisy
    assert sorted(str(p.relative_to(kept)) for p in kept.rglob("*.ipynb")) == [
        "ann/a.ipynb", "ann/b.ipynb", "wes/a.ipynb"]
    cells = nbformat.read(kept / "ann" / "a.ipynb", 4).cells
    assert "RuntimeWarning" not in json.dumps(cells) and cells[1].source.startswith("h = entropy(")
    third = next(c for c in cells if c.source.startswith("assert third(3)"))
    assert "HIDDEN" not in third.source and "exact" not in third.source
    errors = [o for c in cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and all(len(o.traceback) == 1 for o in errors)  # the message only: a traceback shows the code


def test_a_cell_that_swallows_interrupts_is_stopped_by_the_notebook_budget(tmp_path):
    source = _notebook(
        _solution("def ok():\n    ### BEGIN SOLUTION\n    return True\n    ### END SOLUTION", "ok"),
        _tests("assert ok()", "ok_tests", 1),
        _solution("def wait():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION", "wait"),
        _tests("wait()", "wait_tests", 2),
        _tests("assert ok()", "after_tests", 1))
    stubborn = ("import time\ndef wait():\n    while True:\n        try:\n"
                "            time.sleep(0.2)\n        except KeyboardInterrupt:\n            pass")
    marker = f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', " \
             f"'dcai-budget-{os.getpid()}-{tmp_path.name}'])"
    answers = {"ok": "def ok():\n    return True", "wait": stubborn + "\n" + marker}
    submission = _answer(release_notebook(source), answers)
    result = autograde_notebook(submission, source, options=Options(cell_timeout=2, notebook_timeout=8))
    # the stopped test cell printed nothing on stderr and raised nothing, yet it never finished: 0 points
    assert result.points == {"ok_tests": 1, "wait_tests": 0, "after_tests": 0}
    assert ("cell 4 ('wait_tests') was still running after the notebook's 8 s (it kept going when interrupted): "
            "the kernel was shut down and later cells did not run") in result.problems
    assert "test cell 'after_tests' did not run" in result.problems
    running = subprocess.run(["ps", "-eo", "args", "-ww"], capture_output=True, text=True).stdout
    assert f"dcai-budget-{os.getpid()}-{tmp_path.name}" not in running  # the sandbox ended what the notebook started


def test_a_crash_of_the_grader_costs_that_notebook_only(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError()

    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment(), "other.ipynb": _notebook(
        _solution("def one():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "one"),
        _tests("assert one() == 1", "one_tests", 1))}, {"ada": {"hw.ipynb": CORRECT, "other.ipynb": {}}})
    real = dcai_lab.course.autograde.run_graded
    monkeypatch.setattr(dcai_lab.course.autograde, "run_graded",
                        lambda nb, *a, **k: crash() if "add" in json.dumps(nb) else real(nb, *a, **k))
    row = grade(subs, source_dir, None, jobs=1)[0]
    assert row["hw.ipynb total"] == 0 and "hw.ipynb: grading stopped: RuntimeError" in row["problems"]
    assert row["other.ipynb total"] == 0 and "other.ipynb: test cell 'one_tests' failed: NotImplementedError" in row[
        "problems"]


def test_an_interrupted_run_leaves_the_previous_csv_whole(tmp_path, monkeypatch):
    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment()}, {"ada": {}, "bob": {}})
    out = tmp_path / "grades.csv"
    out.write_text("student,total\nada,6\nbob,5\n")
    fake = {"student": "ada", "total": 1}

    def interrupted_after_ada(folder, *args):
        if folder.name != "ada":
            raise KeyboardInterrupt
        return fake, [], []

    monkeypatch.setattr(dcai_lab.course.grading, "_grade_student", interrupted_after_ada)
    with pytest.raises(KeyboardInterrupt):
        grade(subs, source_dir, out, jobs=1)
    assert out.read_text() == "student,total\nada,6\nbob,5\n"
    with open(f"{out}.partial") as f:
        assert [(r["student"], r["total"]) for r in csv.DictReader(f)] == [("ada", "1")]


def test_copies_are_named_the_newest_graded_and_a_linked_folder_refused(tmp_path):
    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment()}, {"fay": {"hw.ipynb": {}}})
    os.utime(subs / "fay" / "hw.ipynb", (1_000_000_000, 1_000_000_000))  # the first try, long ago
    (subs / "fay" / "resubmitted").mkdir()
    nbformat.write(_answer(nbformat.read(tmp_path / "release" / "hw.ipynb", 4), CORRECT),
                   subs / "fay" / "resubmitted" / "hw.ipynb")
    os.symlink(subs / "fay", subs / "gus")  # a "student" who links a classmate's folder
    rows = {r["student"]: r for r in grade(subs, source_dir, None, jobs=1)}
    assert (rows["fay"]["total"], rows["gus"]["total"]) == (6, 0)
    assert ("hw.ipynb: 2 copies in the folder (resubmitted/hw.ipynb, hw.ipynb): graded resubmitted/hw.ipynb (the "
            "most recently modified)") in rows["fay"]["review"]
    assert rows["gus"]["review"] == "the student's folder is a symbolic link: refused, not graded"


def test_two_jobs_give_the_same_results_as_one(tmp_path):
    students = {"ada": {"hw.ipynb": CORRECT}, "bob": {"hw.ipynb": {"add": CORRECT["add"]}},
                "cy": {"hw.ipynb": {"square": CORRECT["square"], "double": "def double(x):\n    return 3 * x"}}}
    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment()}, students)
    one = grade(subs, source_dir, tmp_path / "one.csv", jobs=1)
    two = grade(subs, source_dir, tmp_path / "two.csv", jobs=2)
    assert one == two and [r["total"] for r in one] == [6, 1, 2]
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()


def test_the_library_call_policy_flag_keeps_points_allow_says_nothing(tmp_path):
    source = _notebook(
        new_code_cell("from dcai_lab import uncertainty\nfrom dcai_lab.course.explore import exercise"),
        _solution("@exercise(reference=uncertainty.entropy)\ndef entropy(p):\n    ### BEGIN SOLUTION\n"
                  "    return uncertainty.entropy(p)\n    ### END SOLUTION", "entropy"),
        _tests("assert abs(entropy([[0.5, 0.5]])[0] - 0.6931471805599453) < 1e-12", "entropy_tests", 2))
    submission = _answer(release_notebook(source), {
        "entropy": "@exercise(reference=uncertainty.entropy)\ndef entropy(p):\n    return uncertainty.entropy(p)"})
    results = {policy: autograde_notebook(submission, source, options=Options(library_calls=policy))
               for policy in ("zero", "flag", "allow")}
    assert {p: r.points["entropy_tests"] for p, r in results.items()} == {"zero": 0, "flag": 2, "allow": 2}
    assert "entropy called dcai_lab.uncertainty.entropy" in results["flag"].review[0]
    assert results["allow"].review == [] and results["allow"].problems == []


def test_the_watch_spec_names_what_the_tests_rely_on():
    nb = attack_course.solution_notebook()
    tests = {i: c.metadata["nbgrader"]["grade_id"] for i, c in enumerate(nb.cells)
             if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_tests")}
    spec = watch_spec(nb, "secret", tests)
    assert spec["names"] == {"np": ["numpy", None], "pruning": ["dcai_lab", "pruning"],
                             "tracemalloc": ["tracemalloc", None], "uncertainty": ["dcai_lab", "uncertainty"]}
    assert spec["builtin_names"] == ["list", "sorted"]
    assert spec["defined"] == ["entropy", "keep_hard", "mean_similarity"]
    # the decorator names entropy's reference; keep_hard has none, so its hidden tests' library calls count
    assert spec["tests"]["entropy_tests"] == {"exercises": ["entropy"], "references": ["dcai_lab:uncertainty.entropy"],
                                              "compared": []}
    assert spec["tests"]["keep_hard_tests"]["compared"] == ["dcai_lab:pruning", "dcai_lab:pruning.select"]
    assert {"numpy", "numpy.testing", "tracemalloc", "dcai_lab"} <= set(spec["modules"])


def test_grading_refuses_to_run_without_bubblewrap_unless_told(tmp_path, monkeypatch, capsys):
    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment()}, {"ada": {"hw.ipynb": CORRECT}})
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert main(["grade", str(subs), "--source", str(source_dir), "--out", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert "sudo apt-get install bubblewrap" in err and "--no-sandbox" in err
    assert main(["grade", str(subs), "--source", str(source_dir), "--out", str(tmp_path / "g.csv"), "--no-sandbox",
                 "--jobs", "1", "--feedback", str(tmp_path / "fb")]) == 0
    captured = capsys.readouterr()
    assert "grading WITHOUT a sandbox" in captured.err and "ada: 6 / 8" in captured.out
    with open(tmp_path / "g.csv") as f:
        row = next(csv.DictReader(f))
    assert row["sandbox"].startswith("off: graded with the grader's own rights") and row["total"] == "6.0"


def test_bad_options_are_refused_with_their_name():
    with pytest.raises(ValueError, match="library_calls must be one of zero, flag, allow"):
        Options(library_calls="ignore")
    with pytest.raises(ValueError, match="cell_timeout must be a positive number"):
        Options(cell_timeout=0)
    with pytest.raises(ValueError, match="the memory limit must be a positive whole number"):
        sandbox.Limits(memory=-1)


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
    made = release_notebook(nbformat.read(SOLUTIONS / name, 4), answers_link=f"answers/{Path(name).stem}.md")
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
    assert autograded_cells(source), f"{name} has no autograder test cell"


def test_welcome_notebook_grades_end_to_end(tmp_path):
    student = nbformat.read(STUDENT / "00_welcome.ipynb", 4)
    answer = ("def mean_images(images, y, n_classes):\n"
              "    return np.stack([images[y == c].mean(0) for c in range(n_classes)])")
    solved = _answer(student, {"mean_images": answer})
    for name, nb in {"solved": solved, "untouched": student}.items():
        (tmp_path / "subs" / name).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / name / "00_welcome.ipynb")
    (tmp_path / "source").mkdir()
    nbformat.write(nbformat.read(SOLUTIONS / "00_welcome.ipynb", 4), tmp_path / "source" / "00_welcome.ipynb")
    rows = grade(tmp_path / "subs", tmp_path / "source", out=None, options=Options(cell_timeout=120), jobs=2)
    totals = {r["student"]: (r["00_welcome.ipynb:mean_images_tests"], r["review"]) for r in rows}
    assert totals == {"solved": (2, ""), "untouched": (0, "")}


def test_the_test_cell_profiler_names_library_calls_and_foreign_calls():
    from types import SimpleNamespace

    from dcai_lab.course import watch_calls

    def lib_impl(x):
        return x

    ns = {"lib_impl": lib_impl}
    exec(compile("def answer(x):\n    return lib_impl(x)\ndef sneaky():\n    return 1\n", "<cell-1>", "exec"), ns)
    watch_calls.begin({lib_impl.__code__: "lib.lib_impl"}, {ns["answer"].__code__}, "<cell-test>",
                      lambda filename: filename.startswith("<cell"))
    try:
        exec(compile("answer(1)\nsneaky()\nlib_impl(2)\n", "<cell-test>", "exec"), ns)
    finally:
        found = watch_calls.end()
    # the test cell's own call of the library is not the answer's; the answer's call is; sneaky is not defined
    # by the instructor's notebook
    assert found == (["answer called lib.lib_impl"], ["sneaky"], False)
    assert watch_calls._qualname(SimpleNamespace(co_name="f")) == "f"  # Python 3.10: no co_qualname


def _alive(pid: str) -> bool:
    """True if process ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_ctrl_c_stops_grading_at_once_and_leaves_the_csv_no_copy_and_no_process(tmp_path, sandboxed, request):
    import signal
    import sys
    import time

    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment()}, {"ada": {"hw.ipynb": CORRECT}})
    tag = f"dcai-sigint-{os.getpid()}-{time.time_ns()}"  # unique: no process of an earlier run matches
    stubborn = (f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', "
                f"{tag!r}])\nwhile True:\n    try:\n        time.sleep(0.2)\n    except KeyboardInterrupt:\n        pass")
    nb = nbformat.read(subs / "ada" / "hw.ipynb", 4)
    nb.cells.insert(1, new_code_cell(stubborn))
    nbformat.write(nb, subs / "ada" / "hw.ipynb")
    out = tmp_path / "grades.csv"
    out.write_text("student,total\nada,6\n")
    command = [sys.executable, "-m", "dcai_lab.course", "grade", str(subs), "--source", str(source_dir), "--out",
               str(out), "--jobs", "1", "--feedback", str(tmp_path / "feedback")] + ([] if sandboxed else ["--no-sandbox"])
    temp = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))  # the grader's temp folder, short enough to be used
    request.addfinalizer(lambda: shutil.rmtree(temp, ignore_errors=True))
    grader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(temp)})
    deadline = time.monotonic() + 120
    while tag not in subprocess.run(["ps", "-eo", "args", "-ww"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline and grader.poll() is None, "the notebook never started"
        time.sleep(0.5)
    kernels = subprocess.run(["ps", "-o", "pid=", "--ppid", str(grader.pid)], capture_output=True,
                             text=True).stdout.split()  # the kernel (in the sandbox: bubblewrap)
    assert kernels
    grader.send_signal(signal.SIGINT)
    assert grader.wait(timeout=15) == 130
    assert "interrupted: " in grader.stderr.read()
    assert out.read_text() == "student,total\nada,6\n"
    assert not list(temp.iterdir()), "the temporary copy of the student's folder was left behind"
    time.sleep(3)  # without the sandbox, the kernel notices its parent is gone (ipykernel polls every second)
    assert not [pid for pid in kernels if _alive(pid)]
    running = subprocess.run(["ps", "-eo", "args", "-ww"], capture_output=True, text=True).stdout
    if sandboxed:  # bubblewrap ended everything the notebook started; without it the notebook's own child lives on
        assert tag not in running


def test_kernel_sockets_go_to_tmp_when_the_temp_folder_path_is_too_long(tmp_path, monkeypatch):
    import tempfile

    from dcai_lab.course.notebooks import SOCKET_PATH_MAX, socket_folder

    long = tmp_path / ("x" * 90)
    long.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long))
    folder = socket_folder("dcai-grade-")
    try:
        assert folder.parent == Path("/tmp") and len(str(folder / "conn" / "kernel-5")) <= SOCKET_PATH_MAX
    finally:
        folder.rmdir()
    short = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(short))
        folder = socket_folder("dcai-grade-")
        assert folder.parent == short and folder.name.startswith("dcai-grade-")
    finally:
        shutil.rmtree(short)


def test_a_notebook_is_graded_when_tmpdir_is_too_long_for_sockets(tmp_path, monkeypatch):
    import tempfile

    long = tmp_path / ("x" * 90)
    long.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long))
    source_dir, subs = _course(tmp_path, {"hw.ipynb": _assignment()}, {"ada": {"hw.ipynb": CORRECT}})
    row = grade(subs, source_dir, None, jobs=1)[0]  # sandboxed, as the grader runs by default
    assert row["total"] == 6 and not row["problems"]
    assert not list(long.iterdir())

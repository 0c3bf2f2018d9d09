"""``make handout``: the folder handed to students holds the student notebooks and what runs them, no answers.

The handout is built once (``python -m dcai_lab.course handout``, as ``make handout`` does) into a temporary
folder. It must hold no solution notebook, no solution region, no hidden test, no written answer (the answers
pages) and no output of the instructor's runs; and it must be a kit a student can run: the library, the
encoders, the benchmark results notebook 02 reads, a Makefile with ``lab``.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dcai_lab.course.__main__ import main
from dcai_lab.course.handout import build_handout

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks" / "solutions"
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)(.*?)### END \1", re.S)
MARK_SCHEME = re.compile(r"=== BEGIN MARK SCHEME ===(.*?)=== END MARK SCHEME ===", re.S)


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    dest = tmp_path_factory.mktemp("handout") / "class"
    assert main(["handout", str(dest), "--source", str(SOLUTIONS)]) == 0
    return dest


def _secret_lines(kind: str) -> set[str]:
    """Lines of the solution notebooks' solution or hidden-test regions that appear nowhere else in them."""
    lines = set()
    for path in SOLUTIONS.glob("*.ipynb"):
        cells = nbformat.read(path, 4).cells
        outside = "\n".join(REGION.sub("", c.source) for c in cells)
        for cell in cells:
            for found, body in REGION.findall(cell.source):
                if found == kind:
                    lines |= {line.strip() for line in body.splitlines()
                              if len(line.strip()) > 20 and line.strip() not in outside}
    return lines


def _texts(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".ipynb", ".py", ".md", ".txt", ".toml", ".yml", ".json", ""):
            yield path, path.read_text(errors="replace")


def test_the_handout_holds_the_student_notebooks_and_what_runs_them(handout):
    names = sorted(p.name for p in (handout / "notebooks").glob("*.ipynb"))
    assert names == sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))
    for needed in ("dcai_lab/__init__.py", "dcai_lab/course/explore.py", "data/digits_ssl_encoder.pt",
                   "benchmarks/results/seals_1m.json", "pyproject.toml", "Makefile", "README.md"):
        assert (handout / needed).is_file(), needed
    assert "lab:" in (handout / "Makefile").read_text()


def test_the_handout_holds_no_solution_hidden_test_or_answer(handout):
    assert not list(handout.rglob("solutions")) and not list(handout.rglob("answers"))
    assert not (handout / "tests").exists() and not (handout / "data" / "cache").exists()
    hidden = _secret_lines("HIDDEN TESTS")
    solutions = _secret_lines("SOLUTION")
    assert hidden and solutions
    for path, text in _texts(handout):
        if path.suffix != ".py":  # the grading code names nbgrader's markers; no notebook or page may hold one
            assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "MARK SCHEME" not in text, path
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{path.relative_to(handout)} holds hidden tests: {leaked[:3]}"
    for path in (handout / "notebooks").glob("*.ipynb"):
        text = "\n".join(c.source for c in nbformat.read(path, 4).cells)
        leaked = [line for line in solutions if line in text]
        assert not leaked, f"{path.name} holds solution lines: {leaked[:3]}"


def test_the_handout_notebooks_hold_no_output_of_the_instructors_runs(handout):
    for path in (handout / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, 4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
        assert "image/png" not in path.read_text()
        written = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")
                   and c.cell_type == "markdown"]
        assert all(c.source.strip() == "YOUR ANSWER HERE" for c in written), path.name
        assert "compare it with" not in json.dumps(nb), "a note links to an answers page the handout does not hold"


def test_the_handout_library_imports_from_the_handout(handout):
    code = "import dcai_lab.data as d, dcai_lab.course.explore; print(d.DATA_DIR)"
    done = subprocess.run([sys.executable, "-c", code], cwd=handout, capture_output=True, text=True,
                          env={"PYTHONPATH": str(handout), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(handout / "data")


def test_self_study_handout_adds_the_answers_pages(tmp_path):
    dest = build_handout(tmp_path / "alone", SOLUTIONS, with_answers=True)
    assert sorted(p.stem for p in (dest / "notebooks" / "answers").glob("*.md")) == sorted(
        p.stem for p in SOLUTIONS.glob("*.ipynb"))


def test_a_handout_inside_the_kit_is_refused(tmp_path):
    with pytest.raises(ValueError, match="inside the kit"):
        build_handout(ROOT / "notebooks" / "handout", SOLUTIONS)


def test_a_folder_that_is_not_a_previous_handout_is_refused_and_kept(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "grades.csv").write_text("student,total\nada,6\n")
    with pytest.raises(ValueError, match=r"dest .*mine is a folder with files in it and not a previous handout"):
        build_handout(mine, SOLUTIONS)
    assert [p.name for p in mine.iterdir()] == ["grades.csv"]
    assert (mine / "grades.csv").read_text() == "student,total\nada,6\n"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        build_handout(tmp_path / "a_file", SOLUTIONS)
    assert (tmp_path / "a_file").read_text() == "x"


def test_a_previous_handout_is_replaced_whole(handout, tmp_path):
    again = tmp_path / "again"
    build_handout(again, SOLUTIONS)
    (again / "notebooks" / "left_over.ipynb").write_text("{}")
    assert build_handout(again, SOLUTIONS) == again
    assert not (again / "notebooks" / "left_over.ipynb").exists()
    assert sorted(p.name for p in (again / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in SOLUTIONS.glob("*.ipynb"))
    assert (again / ".dcai-handout").is_file() and (handout / ".dcai-handout").is_file()

"""The release holds back results and answers: students predict and explain before they see them.

``release_notebook`` drops solution cells tagged ``results`` and turns written answers into
"YOUR ANSWER HERE" with a link to the answers page; ``release`` writes that page. The committed
student notebooks and answers pages must equal a fresh release, and no student notebook may keep
a paragraph of measured results.
"""

import re
from pathlib import Path

import nbformat
import pytest

from dcai_lab.course.notebooks import RESULTS_TAG, answers_page, release, release_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
# a figure: a decimal number such as 0.964 or 3.8 (21.6% counts by its 21.6)
FIGURE = re.compile(r"(?<![\w.])\d+\.\d+(?![\d])")


def _answer_cell(source: str, grade_id: str, points: float = 2):
    """A written answer (nbgrader: a manually graded markdown cell; 0 points for a prediction)."""
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "points": points,
                                 "grade_id": grade_id, "schema_version": 3}
    return cell


@pytest.fixture
def solution():
    results = nbformat.v4.new_markdown_cell("Margin reached 0.964 with 220 labels.")
    results.metadata["tags"] = [RESULTS_TAG]
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 09 · A lesson\n\nWhich strategy wins, and why?"),
        _answer_cell("Rubric: 1 point for naming margin, 1 for the reason.", "q_which"),
        nbformat.v4.new_code_cell("x = 1"),
        results,
        nbformat.v4.new_markdown_cell("Predict first."),
        _answer_cell("Instructor's note: most predict entropy.", "predict_which", points=0),
    ])


def test_results_cells_are_dropped_and_answers_blanked(solution):
    released = release_notebook(solution, answers_link="answers/09.md")
    sources = [c.source for c in released.cells]
    assert not any("0.964" in s for s in sources), "the results paragraph must not reach students"
    assert not any("Rubric" in s or "Instructor's note" in s for s in sources)
    assert sources.count("YOUR ANSWER HERE") == 2
    links = [s for s in sources if "answers/09.md#q_which" in s]
    assert len(links) == 1 and "answers/09.md#predict_which" in " ".join(sources)


def test_answers_page_holds_answers_after_their_questions(solution):
    page = answers_page(solution, "09 · A lesson")
    assert page.startswith("# Answers: 09 · A lesson")
    question, rubric, measured = (page.index(t) for t in ("> Which strategy wins", "Rubric: 1 point", "0.964"))
    assert question < rubric < measured, "each answer follows its question, in notebook order"
    assert '<a id="q_which"></a>' in page and '<a id="predict_which"></a>' in page


def test_release_only_writes_the_named_notebooks(tmp_path, solution):
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(solution, tmp_path / name)
    written = release(tmp_path, tmp_path / "out", names=["a"])
    assert sorted(p.name for p in written) == ["a.ipynb", "a.md"]
    assert (tmp_path / "out" / "answers" / "a.md").read_text().startswith("# Answers: 09 · A lesson")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_committed_answers_page_equals_a_fresh_release(path):
    nb = nbformat.read(path, 4)
    title = next(c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown")
    committed = ROOT / "notebooks" / "answers" / f"{path.stem}.md"
    assert committed.exists(), f"run `make release`: {committed.relative_to(ROOT)} is missing"
    assert committed.read_text() == answers_page(nb, title), f"run `make release`: {committed.name} is stale"


def test_an_ungraded_written_cell_is_refused_with_the_fix(solution):
    solution.cells[5].metadata["nbgrader"]["grade"] = False
    with pytest.raises(ValueError, match="give it \"grade\": true and \"points\": 0"):
        release_notebook(solution)


def measured_figures(markdown: str, outputs: str) -> list[str]:
    """The decimal figures of a paragraph that the notebook's own outputs print: what it reports as measured.

    >>> measured_figures("margin 0.964 vs 0.961 (k = 0.5)", "margin  0.964\\nleast  0.961")
    ['0.964', '0.961']
    """
    return [f for f in FIGURE.findall(markdown) if re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", outputs)]


def _outputs_text(nb) -> str:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") if "text" in out else str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_no_student_notebook_keeps_a_results_paragraph(path):
    solution = nbformat.read(path, 4)
    outputs = _outputs_text(solution)
    student = {c.source for c in nbformat.read(ROOT / "notebooks" / path.name, 4).cells if c.cell_type == "markdown"}
    for cell in solution.cells:
        figures = measured_figures(cell.source, outputs) if cell.cell_type == "markdown" else []
        if len(figures) >= 3:
            assert cell.source not in student, (
                f"{path.name}: a paragraph reporting {len(figures)} measured figures ({', '.join(figures[:5])}) reaches "
                f"students; tag it '{RESULTS_TAG}' (it begins {cell.source[:80]!r})")

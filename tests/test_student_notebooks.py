"""Every released student notebook runs from ``notebooks/`` (where ``make lab`` opens it) up to its exercises.

nbval checks only the solution notebooks. Here each student notebook runs in a fresh kernel, working
directory ``notebooks/``, with errors allowed, and every error it shows must come from an exercise that is not
answered yet. Accepted errors, and why:

- ``NotImplementedError``: release puts ``raise NotImplementedError()`` in every answer; it is raised when a
  test cell or a later cell calls the unanswered function.
- ``LoopStopped`` whose message contains ``NotImplementedError``: the active learning loop wraps the error of
  a strategy that calls an unanswered function, and says so.
- ``NameError`` for a name that an earlier cell would have defined had it not stopped at an accepted error
  (notebook 04: ``runs`` is assigned by the cell that runs the loop calling both exercises).

Anything else (a file path that works only from ``notebooks/solutions/``, a missing import, a cell that times
out) fails, with the cell and the error in the message.
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest

from dcai_lab.course.notebooks import execute_notebook

STUDENT = Path(__file__).resolve().parents[1] / "notebooks"
UNDEFINED = re.compile(r"name '(\w+)' is not defined")


def _defined_names(source: str) -> set[str]:
    """The global names a cell assigns, imports or defines (not the locals of its functions)."""
    from IPython.core.inputtransformer2 import TransformerManager

    names: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return                                     # its body's names are local
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(TransformerManager().transform_cell(source)))   # %magics become plain Python
    return names


def unexpected_errors(nb: nbformat.NotebookNode) -> list[str]:
    """One line per error output of an executed notebook that no unanswered exercise explains."""
    problems, undefined = [], set()
    for number, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("execution_count") is None:
            problems.append(f"cell {number} did not run")
        for out in cell.get("outputs", []):
            if out.output_type != "error":
                continue
            name = UNDEFINED.search(out.evalue or "")
            accepted = (out.ename == "NotImplementedError"
                        or (out.ename == "LoopStopped" and "NotImplementedError" in out.evalue)
                        or (out.ename == "NameError" and name is not None and name.group(1) in undefined))
            if accepted:
                undefined |= _defined_names(cell.source)
            else:
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                problems.append(f"cell {number} ({first_line[:60]!r}): {out.ename}: {out.evalue[:300]}")
    return problems


def test_unexpected_errors_are_found():
    cell = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        cell("%matplotlib inline\nx = f()\ndef g():\n    y = 1"),
        cell("print(x)"), cell("print(y)"), cell("run()"), cell("open('data/x.npz')"), cell("1")])
    errors = [("NotImplementedError", ""), ("NameError", "name 'x' is not defined"),
              ("NameError", "name 'y' is not defined"),
              ("LoopStopped", "the loop stopped after 0 rounds (NotImplementedError - an exercise ...)"),
              ("FileNotFoundError", "No such file or directory: 'data/x.npz'")]
    for c, (ename, evalue) in zip(nb.cells, errors):
        c.execution_count = 1
        c.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])]
    problems = unexpected_errors(nb)
    assert [p.split(" (")[0] for p in problems] == ["cell 2", "cell 4", "cell 5 did not run"], problems
    assert "name 'y' is not defined" in problems[0] and "FileNotFoundError" in problems[1]


@pytest.mark.parametrize("name", sorted(p.name for p in STUDENT.glob("*.ipynb")))
def test_student_notebook_fails_only_at_unanswered_exercises(name, monkeypatch):
    monkeypatch.setenv("DCAI_STATIC_WIDGETS", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = execute_notebook(nbformat.read(STUDENT / name, 4), STUDENT, cell_timeout=300, allow_errors=True)
    assert any(o.output_type == "error" and o.ename == "NotImplementedError"
               for c in nb.cells if c.cell_type == "code" for o in c.outputs), (
        f"notebooks/{name} raised no NotImplementedError: are its exercises released as `raise NotImplementedError()`?")
    problems = unexpected_errors(nb)
    assert not problems, (f"notebooks/{name}, run from notebooks/ with no exercise answered, fails for other reasons "
                          "than an unanswered exercise:\n" + "\n".join(problems))

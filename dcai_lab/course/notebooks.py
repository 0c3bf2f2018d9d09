"""Building the course's notebooks: release student versions, run notebooks in fresh kernels.

``release`` makes the student notebooks from the solution notebooks with nbgrader's own
preprocessors (solutions become ``raise NotImplementedError()``, hidden tests are removed,
outputs cleared, graded cells locked); ``execute_notebook`` runs a notebook in a fresh kernel
(``make solutions``, the grader, the student-notebook test). Command line: ``python -m
dcai_lab.course --help``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from pathlib import Path

import nbformat
from nbformat import NotebookNode

__all__ = ["release_notebook", "release", "answers_page", "execute_notebook", "nbgrader_metadata",
           "NBFORMAT_VERSION", "RESULTS_TAG"]

NBFORMAT_VERSION = 4


def nbgrader_metadata(cell: NotebookNode) -> dict:
    """The nbgrader metadata of a cell (empty if it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {})


RESULTS_TAG = "results"  # a solution cell with this tag reports measured results: the release drops it
ANSWERS_DIR = "answers"  # where the release writes the instructor's answers for self-study, beside the notebooks


def release_notebook(nb: NotebookNode, answers_link: str | None = None) -> NotebookNode:
    """The student version of a solution notebook, made with nbgrader's preprocessors.

    Solutions become ``raise NotImplementedError()`` (written answers "YOUR ANSWER HERE"),
    hidden tests are removed, outputs cleared, graded cells locked, and markdown cells tagged
    ``results`` (paragraphs that report what the experiments measured) are dropped: the
    learner predicts and explains instead. With ``answers_link`` (the answers page, relative
    to the notebook), each written-answer cell is followed by a note linking to its answer.
    """
    from nbconvert.preprocessors import TagRemovePreprocessor
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearOutput,
                                        ClearSolutions, ComputeChecksums, LockCells)

    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        if cell.cell_type == "markdown" and meta.get("solution") and not meta.get("grade"):
            raise ValueError(f"markdown cell {meta.get('grade_id')!r} is a solution cell but not a grade cell, which "
                             "nbgrader refuses: give it \"grade\": true and \"points\": 0 for an ungraded prediction")
    nb = copy.deepcopy(nb)
    resources: dict = {}
    for pre in (CheckCellMetadata(), TagRemovePreprocessor(remove_cell_tags={RESULTS_TAG}), LockCells(),
                ClearSolutions(), ClearHiddenTests(), ClearOutput(), ComputeChecksums(), CheckCellMetadata()):
        nb, resources = pre.preprocess(nb, resources)
    cells = []
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        cells.append(cell)
        if answers_link and _is_written_answer(cell):
            grade_id = nbgrader_metadata(cell)["grade_id"]
            link = nbformat.v4.new_markdown_cell(f"*Studying on your own? Once you have written your answer, compare "
                                                 f"it with [the instructor's]({answers_link}#{grade_id.lower()}).*")
            link.id = f"{grade_id}-answer-link"[:64]  # the same id on every release
            cells.append(link)
    nb.cells = cells
    return nb


def _is_written_answer(cell: NotebookNode) -> bool:
    """A markdown cell the learner writes in (an nbgrader solution cell)."""
    return cell.cell_type == "markdown" and bool(nbgrader_metadata(cell).get("solution"))


def answers_page(nb: NotebookNode, title: str) -> str:
    """The instructor's answers of a solution notebook, as Markdown, for self-study.

    Every written-answer cell (its answer and rubric, after the question that precedes it)
    and every ``results`` paragraph, in notebook order.
    """
    lines = [f"# Answers: {title}", "",
             "The instructor's answers and what the experiments measured. Open this only after you have run the "
             "notebook and written your own answers: predicting and explaining first is where the learning happens.",
             ""]
    question = ""
    for i, cell in enumerate(nb.cells):
        answer, results = _is_written_answer(cell), RESULTS_TAG in cell.get("metadata", {}).get("tags", [])
        if answer or results:
            heading = nbgrader_metadata(cell).get("grade_id") if answer else f"results-cell-{i + 1}"
            lines += [f'<a id="{heading.lower()}"></a>', "", f"## {heading}", ""]
            if answer and question:
                lines += ["> " + line for line in question.splitlines()] + [""]
            lines += [_without_markers(cell.source), ""]
        elif cell.cell_type == "markdown":
            question = cell.source.strip().split("\n\n")[-1]
    return "\n".join(lines)


def _without_markers(source: str) -> str:
    """A cell's text without nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines."""
    return "\n".join(line for line in source.strip().splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")).strip()


def release(source_dir: str | Path, release_dir: str | Path, names: list[str] | None = None) -> list[Path]:
    """Write the student version of every notebook in ``source_dir`` (or only ``names``) into ``release_dir``.

    Each notebook's answers page goes to ``release_dir/answers/<notebook>.md``; they hold
    solution text, so a class handout leaves them out (``make handout``).
    """
    source_dir, release_dir = Path(source_dir), Path(release_dir)
    sources = sorted(p for p in source_dir.glob("*.ipynb") if names is None or p.name in names or p.stem in names)
    if not sources:
        raise ValueError(f"no notebooks (*.ipynb) in {source_dir}")
    (release_dir / ANSWERS_DIR).mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        nb = nbformat.read(path, NBFORMAT_VERSION)
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
        link = f"{ANSWERS_DIR}/{path.stem}.md"
        (release_dir / link).write_text(answers_page(nb, title))
        out = release_dir / path.name
        nbformat.write(release_notebook(nb, answers_link=link), out)
        written += [out, release_dir / link]
    return written


# --------------------------------------------------------------------------- execute

SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path (sockaddr_un), where a kernel's ipc sockets live


def socket_folder(prefix: str) -> Path:
    """A new private temporary folder (``tempfile.mkdtemp``) short enough for a kernel's ipc sockets inside it.

    ``<folder>/conn/kernel-5`` must fit in ``SOCKET_PATH_MAX`` bytes, or the kernel cannot start;
    when the temp folder's path (``TMPDIR``) is too long for that, the folder is made in ``/tmp``.

    >>> folder = socket_folder("dcai-doc-")
    >>> folder.name.startswith("dcai-doc-"), len(str(folder / "conn" / "kernel-5")) <= SOCKET_PATH_MAX
    (True, True)
    >>> folder.rmdir()
    """
    import os
    import tempfile

    parent = tempfile.gettempdir()
    if len(os.fsencode(parent)) + len(prefix) + len("XXXXXXXX/conn/kernel-5") + 1 > SOCKET_PATH_MAX:
        parent = "/tmp"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def execute_notebook(nb: NotebookNode, cwd: str | Path, cell_timeout: float = 600,
                     allow_errors: bool = False, notebook_timeout: float | None = None) -> NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel (working directory ``cwd``) and return it.

    A cell running longer than ``cell_timeout`` seconds is interrupted; with
    ``allow_errors`` the run goes on past errors and interruptions.
    A run longer than ``notebook_timeout`` seconds in all (kernel start included;
    a cell that catches the interrupt and keeps going is interrupted again and
    again) has its kernel shut down and raises ``TimeoutError``; ``nb`` keeps the
    outputs of the cells that ran. The kernel talks over ``ipc`` sockets in a private
    temporary folder (no TCP port, so no warning about unencrypted TCP). Grading uses
    :mod:`dcai_lab.course.grading`, which adds the sandbox and the tamper checks.
    """
    import shutil

    from jupyter_client import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    sockets = socket_folder("dcai-kernel-")
    try:
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / "kernel"),
                                connection_file=str(sockets / "kernel.json"))
        client = NotebookClient(nb, km=km, timeout=cell_timeout, kernel_name="python3", allow_errors=allow_errors,
                                interrupt_on_timeout=allow_errors, record_timing=False,
                                resources={"metadata": {"path": str(cwd)}})
        run_sync(_execute_within)(client, notebook_timeout)
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return nb


async def _execute_within(client, seconds: float | None) -> None:
    """``client.execute()`` (then shut its kernel down), but stop after ``seconds`` (None: no limit)."""
    from jupyter_core.utils import ensure_async

    run = asyncio.ensure_future(client.async_execute(cleanup_kc=True))
    done, _ = await asyncio.wait({run}, timeout=seconds)
    if done:
        run.result()  # raises what the run raised
        return
    with contextlib.suppress(Exception):  # the kernel may have died already
        await ensure_async(client.km.shutdown_kernel(now=True))
    await asyncio.wait({run}, timeout=5)  # nbclient notices the dead kernel within a second,
    run.cancel()  # unless it is waiting out a cell's timeout: stop it
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await run
    raise TimeoutError(f"the notebook ran longer than its {seconds:g} s; its kernel was shut down")

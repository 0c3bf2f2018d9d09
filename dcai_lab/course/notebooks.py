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

__all__ = ["release_notebook", "release", "execute_notebook", "autograder_cells", "nbgrader_metadata",
           "NBFORMAT_VERSION"]

NBFORMAT_VERSION = 4


def nbgrader_metadata(cell: NotebookNode) -> dict:
    """The nbgrader metadata of a cell (empty if it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def autograder_cells(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The autograder test cells of a notebook, by their nbgrader ``grade_id``."""
    return {nbgrader_metadata(c)["grade_id"]: c for c in nb.cells
            if nbgrader_metadata(c).get("grade") and not nbgrader_metadata(c).get("solution")}


def release_notebook(nb: NotebookNode) -> NotebookNode:
    """The student version of a solution notebook, made with nbgrader's preprocessors."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearOutput,
                                        ClearSolutions, ComputeChecksums, LockCells)

    nb = copy.deepcopy(nb)
    resources: dict = {}
    for pre in (CheckCellMetadata(), LockCells(), ClearSolutions(), ClearHiddenTests(), ClearOutput(),
                ComputeChecksums(), CheckCellMetadata()):
        nb, resources = pre.preprocess(nb, resources)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    return nb


def release(source_dir: str | Path, release_dir: str | Path) -> list[Path]:
    """Write the student version of every notebook in ``source_dir`` into ``release_dir``."""
    source_dir, release_dir = Path(source_dir), Path(release_dir)
    sources = sorted(source_dir.glob("*.ipynb"))
    if not sources:
        raise ValueError(f"no notebooks (*.ipynb) in {source_dir}")
    release_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        out = release_dir / path.name
        nbformat.write(release_notebook(nbformat.read(path, NBFORMAT_VERSION)), out)
        written.append(out)
    return written


# --------------------------------------------------------------------------- execute


def execute_notebook(nb: NotebookNode, cwd: str | Path, cell_timeout: float = 600,
                     allow_errors: bool = False, notebook_timeout: float | None = None) -> NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel (working directory ``cwd``) and return it.

    A cell running longer than ``cell_timeout`` seconds is interrupted; with
    ``allow_errors`` the run goes on past errors and interruptions (as when grading).
    A run longer than ``notebook_timeout`` seconds in all (kernel start included;
    a cell that catches the interrupt and keeps going is interrupted again and
    again) has its kernel shut down and raises ``TimeoutError``; ``nb`` keeps the
    outputs of the cells that ran.
    """
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=allow_errors,
                            interrupt_on_timeout=allow_errors, record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    if notebook_timeout is None:
        client.execute()
    else:
        run_sync(_execute_within)(client, notebook_timeout)
    return nb


async def _execute_within(client, seconds: float) -> None:
    """``client.execute()``, but shut the kernel down and stop after ``seconds``."""
    from jupyter_core.utils import ensure_async

    run = asyncio.ensure_future(client.async_execute())
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

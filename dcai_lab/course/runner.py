"""Running a notebook for grading: one cell at a time in a fresh kernel, each cell's execute reply kept.

Whether a cell failed is what the kernel's *execute reply* says (``status: "error"``), as nbgrader's
autograder reads it: a notebook that hides its tracebacks, installs exception handlers or clears its
outputs still fails. Between cells the grader asks the kernel-side watcher
(:mod:`dcai_lab.course.watch`) whether anything the tests rely on changed, with *silent* execute
requests (no hook of the notebook runs for them, nothing is shown); around each test cell it arms
the watcher's profiler. A cell running past ``cell_timeout`` is interrupted; past ``notebook_timeout``
in all, the kernel is shut down (nothing it started outlives it in the sandbox) and the cells that
ran are kept. A cell whose outputs pass ``MAX_CELL_OUTPUT`` bytes is interrupted and its further
outputs dropped, so a notebook that prints gigabytes can exhaust neither the grader nor the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import secrets
from dataclasses import dataclass, field
from queue import Empty

from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from dcai_lab.course.tamper import read_answer

__all__ = ["GradedRun", "run_graded", "MAX_CELL_OUTPUT"]

MAX_CELL_OUTPUT = 2 * 2**20
WATCH = "__import__('dcai_lab.course.watch', fromlist=['start'])"


@dataclass
class GradedRun:
    """What happened when a notebook ran for grading."""

    nb: NotebookNode
    replies: dict[int, dict] = field(default_factory=dict)  # position -> execute reply content
    outputs: dict[int, list] = field(default_factory=dict)  # position -> a test cell's outputs when it ended
    timed_out: set[int] = field(default_factory=set)
    flooded: set[int] = field(default_factory=set)  # cells interrupted for printing too much
    tampered: list[str] = field(default_factory=list)  # what changed, and after which cell
    library_calls: dict[int, list[str]] = field(default_factory=dict)  # test cell -> calls of the library
    foreign_calls: dict[int, list[str]] = field(default_factory=dict)  # test cell -> notebook code it ran
    watch_problem: str = ""  # the watcher could not start (tamper evidence is off)
    stopped: int | None = None  # the cell that was running when the run was stopped
    stop_reason: str = ""


class _Client(NotebookClient):
    """nbclient's client, noting cells that time out and capping each cell's outputs."""

    def __init__(self, nb, run: GradedRun, **kwargs):
        super().__init__(nb, **kwargs)
        self.run, self.current, self.output_bytes, self.interrupting = run, None, {}, None

    async def _async_handle_timeout(self, timeout, cell=None):
        self.run.timed_out.add(self.current)
        return await super()._async_handle_timeout(timeout, cell)

    async def _interrupt(self) -> None:
        from jupyter_core.utils import ensure_async

        with contextlib.suppress(Exception):
            await ensure_async(self.km.interrupt_kernel())

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in (content.get("data") or {}).values())
        used = self.output_bytes.get(cell_index, 0)
        self.output_bytes[cell_index] = used + size
        if used + size > MAX_CELL_OUTPUT:
            if used <= MAX_CELL_OUTPUT:
                outs.append(NotebookNode(output_type="stream", name="stdout",
                                         text=f"\n[the grader kept the first {MAX_CELL_OUTPUT} bytes of this cell's "
                                              "output and interrupted it]\n"))
                self.run.flooded.add(cell_index)
                self.interrupting = asyncio.ensure_future(self._interrupt())
            return None
        return super().output(outs, msg, display_id, cell_index)


def run_graded(nb: NotebookNode, km, tests: dict[int, str], spec: dict | None, cell_timeout: float,
               notebook_timeout: float) -> GradedRun:
    """Run ``nb`` (edited in place) in the kernel of ``km``; ``tests`` maps test-cell positions to grade
    ids; ``spec`` is the watcher's (:func:`dcai_lab.course.tamper.watch_spec`), None for no tamper checks."""
    from jupyter_core.utils import run_sync

    run = GradedRun(nb)
    client = _Client(nb, run, km=km, timeout=max(1, round(cell_timeout)), allow_errors=True,
                     interrupt_on_timeout=True, record_timing=False, shutdown_kernel="immediate",
                     raise_on_iopub_timeout=False, iopub_timeout=4, startup_timeout=120,
                     resources={"metadata": {"path": km.workdir}})
    run_sync(_within)(client, run, tests, spec, cell_timeout, notebook_timeout)
    return run


async def _within(client: _Client, run: GradedRun, tests, spec, cell_timeout, notebook_timeout) -> None:
    from jupyter_core.utils import ensure_async

    task = asyncio.ensure_future(_run_cells(client, run, tests, spec, cell_timeout))
    done, _ = await asyncio.wait({task}, timeout=notebook_timeout)
    if done:
        with contextlib.suppress(Exception):
            task.result()
        if task.exception() is not None:
            run.stopped, run.stop_reason = client.current, _stop_reason(task.exception())
        return
    run.stopped = client.current
    run.stop_reason = (f"was still running after the notebook's {notebook_timeout:g} s (it kept going when "
                       "interrupted): the kernel was shut down and later cells did not run")
    with contextlib.suppress(Exception):
        await ensure_async(client.km.shutdown_kernel(now=True))
    await asyncio.wait({task}, timeout=5)  # nbclient notices the dead kernel within a second,
    task.cancel()  # unless it is waiting out a cell's timeout: stop it
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await task


def _stop_reason(exc: BaseException) -> str:
    if isinstance(exc, DeadKernelError):
        return ("stopped the kernel (it died: out of memory or CPU time, or the notebook ended it); later cells did "
                "not run")
    text = str(exc).strip().splitlines()
    return f"stopped the run: {type(exc).__name__}" + (f": {text[0][:200]}" if text else "")


async def _run_cells(client: _Client, run: GradedRun, tests: dict[int, str], spec: dict | None,
                     cell_timeout: float) -> None:
    async with client.async_setup_kernel(cleanup_kc=True):  # the kernel is shut down at the end
        info = await client.async_wait_for_reply(client.kc.kernel_info())
        if info and "language_info" in info["content"]:
            client.nb.metadata["language_info"] = info["content"]["language_info"]
        secret = spec["secret"] if spec else ""
        watching = False
        if spec is not None:
            answer = await _ask(client, f"{WATCH}.start({json.dumps(spec)!r})", secret, "", cell_timeout)
            watching = answer is not None
            if not watching:
                run.watch_problem = "the tamper check did not start (tamper evidence is off for this notebook)"
            elif answer.get("failed"):
                run.watch_problem = "modules the tests use did not import: " + ", ".join(answer["failed"])
        count = 0
        client.on_cell_executed = lambda **kw: run.replies.__setitem__(kw["cell_index"], kw["execute_reply"]["content"])
        for index, cell in enumerate(client.nb.cells):
            if cell.get("cell_type") != "code" or not cell.source.strip():
                continue
            client.current = index
            test = index in tests and watching and not run.tampered
            if test and await _ask(client, f"{WATCH}.arm({tests[index]!r}, {cell.source!r})", secret, None,
                                   cell_timeout) is None:
                run.tampered.append(f"the tamper check could not start before cell {index + 1}")
                test = False
            count += 1
            await client.async_execute_cell(cell, index, execution_count=count)
            if client.interrupting is not None:  # let a flood's interrupt land while the kernel is idle
                await client.interrupting
                await asyncio.sleep(1)
                client.interrupting = None
            if index in tests:
                run.outputs[index] = copy.deepcopy(cell.outputs)
            if watching and not run.tampered:
                nonce = secrets.token_hex(8)
                call = f"disarm({nonce!r})" if test else f"check({nonce!r})"
                answer = await _ask(client, f"{WATCH}.{call}", secret, nonce, cell_timeout)
                after = f"after cell {index + 1}"
                if answer is None:
                    run.tampered.append(f"the tamper check gave no signed answer {after}")
                else:
                    run.tampered += [f"{change} ({after})" for change in answer.get("changes", [])]
                    if answer.get("library_calls"):
                        run.library_calls[index] = answer["library_calls"]
                    if answer.get("foreign_calls"):
                        run.foreign_calls[index] = answer["foreign_calls"]
        client.current = None


async def _ask(client: _Client, expression: str, secret: str, nonce: str | None, timeout: float) -> dict | None:
    """Evaluate ``expression`` in the kernel with a silent request; its signed answer (None if none came).
    With ``nonce=None`` only success is checked (an empty dict on success)."""
    from jupyter_core.utils import ensure_async

    msg_id = client.kc.execute("", silent=True, store_history=False, user_expressions={"r": expression},
                               stop_on_error=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            with contextlib.suppress(Exception):
                await ensure_async(client.km.interrupt_kernel())
            return None
        try:
            msg = await ensure_async(client.kc.shell_channel.get_msg(timeout=min(1.0, remaining)))
        except Empty:
            if not await ensure_async(client.kc.is_alive()):
                raise DeadKernelError("Kernel died") from None
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        result = msg["content"].get("user_expressions", {}).get("r", {})
        if msg["content"].get("status") != "ok" or result.get("status") != "ok":
            return None
        if nonce is None:
            return {}
        return read_answer(result.get("data", {}).get("text/plain"), secret, nonce)

"""One submission per attack on the grader, each with the score it deserves (of 6 autograded points).

Every attack is what a student who wants a better grade (or a classmate's worse one) would hand in.
``build(ctx, folder)`` writes the student's folder; ``ctx`` holds the class's paths, as an attacker who
knows them would. An attack whose answers are wrong or unanswered deserves 0; one that hides a right
answer's points deserves them. ``review`` is a text the CSV's review column must hold (or None).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from attacks.course import ANSWERS, NAME, UNANSWERED, WRONG, answered, write


@dataclass(frozen=True)
class Context:
    subs: Path  # the class's submissions folder
    source_dir: Path  # the instructor's notebooks
    release_dir: Path  # the released student notebooks
    grades: Path  # the CSV the grader writes
    released: object  # the released notebook


@dataclass(frozen=True)
class Attack:
    name: str
    what: str  # the attack, as the table in the report names it
    deserved: float
    build: Callable[[Context, Path], None]
    review: str | None = None


def _nb(ctx, answers=None, before=(), after=None):
    return answered(ctx.released, {**UNANSWERED, **(answers or {})}, list(before), after)


def _unanswered_with(*cells):
    return lambda ctx, folder: write(folder, _nb(ctx, before=cells))


def _right_with(*cells):
    return lambda ctx, folder: write(folder, _nb(ctx, ANSWERS, before=cells))


def _wrong_with(*cells, keep=()):
    answers = {**WRONG, **{k: ANSWERS[k] for k in keep}}
    return lambda ctx, folder: write(folder, _nb(ctx, answers, before=cells))


def _metadata(edit):
    def build(ctx, folder):
        nb = _nb(ctx, ANSWERS)
        edit(nb)
        write(folder, nb)
    return build


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _null_metadata(nb):
    _cell(nb, "entropy_tests").metadata["nbgrader"] = None


def _list_grade_id(nb):
    _cell(nb, "keep_hard_tests").metadata["nbgrader"]["grade_id"] = ["keep_hard_tests"]


def _markdown_test_cell(nb):
    cell = _cell(nb, "keep_hard_tests")
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)


def _duplicate_grade_id(nb):
    """A copy of the entropy test passes after the right answer; a wrong answer follows; the last copy fails."""
    import copy

    from nbformat.v4 import new_code_cell

    test = _cell(nb, "entropy_tests")
    at = nb.cells.index(test)
    again = copy.deepcopy(test)
    again["id"] = "entropy-tests-again"
    nb.cells[at + 1:at + 1] = [new_code_cell(WRONG["entropy"]), again]


def _fifo(ctx, folder):
    folder.mkdir(parents=True)
    os.mkfifo(folder / NAME)


def _symlink(target):
    def build(ctx, folder):
        folder.mkdir(parents=True)
        os.symlink(target(ctx), folder / NAME)
    return build


def _device(ctx, folder):
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        os.mknod(folder / NAME, 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero's device
    else:  # a student could not make a device either; a link to one is the same attack
        os.symlink("/dev/zero", folder / NAME)


HIDDEN_TRACEBACK = "get_ipython().showtraceback = lambda *a, **k: None"
CUSTOM_HANDLER = "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"
CLEAR_OUTPUTS = ("from IPython.display import clear_output\n"
                 "get_ipython().events.register('post_run_cell', lambda result: clear_output())")
PATCH_ALLCLOSE = "import numpy as np\nnp.allclose = lambda *a, **k: True"
PATCH_TRACEMALLOC = "import tracemalloc\ntracemalloc.get_traced_memory = lambda: (0, 0)"
PATCH_LIBRARY = ("import numpy as np\nfrom dcai_lab import pruning\n"
                 "pruning.select = lambda scores, fraction, keep='hard', **k: np.arange(round(fraction * len(scores)))")
LIBRARY_CALL = {"keep_hard": ("from dcai_lab import pruning\ndef keep_hard(scores, fraction):\n"
                              "    return pruning.select(scores, fraction, keep='hard')")}
REFERENCE_CALL = {"entropy": ("@exercise(reference=uncertainty.entropy)\ndef entropy(p):\n"
                              "    return entropy.reference(p)")}
EXPLORE_ON = "import os\nos.environ['DCAI_GRADING'] = '0'\nfrom dcai_lab.course.explore import explore\nexplore(True)"
SHADOWED_BUILTINS = ("class Anything:\n    def __eq__(self, other):\n        return True\n"
                     "def list(*args):\n    return Anything()\ndef sorted(*args, **kwargs):\n    return Anything()")
INPUT_TRANSFORMER = ("get_ipython().input_transformers_cleanup.append(\n"
                     "    lambda lines: [l for l in lines if not l.lstrip().startswith('assert')])")
TRACE_FUNCTION = "import sys\nsys.settrace(lambda frame, event, arg: None)"
FORGED_WATCHER = (
    "import sys, types, json\nfake = types.ModuleType('dcai_lab.course.watch')\n"
    "answer = lambda *a: json.dumps({'proof': '0' * 64, 'body': json.dumps({'changes': []})})\n"
    "fake.check = fake.disarm = answer\nfake.arm = lambda *a: None\nfake.start = answer\n"
    "sys.modules['dcai_lab.course.watch'] = fake\nimport dcai_lab.course\ndcai_lab.course.watch = fake")
THREAD_PATCHER = (
    "import threading, time\nimport numpy as np\n_real = np.allclose\n"
    "def _patch():\n    while True:\n        np.allclose = lambda *a, **k: True\n        time.sleep(0.001)\n"
    "threading.Thread(target=_patch, daemon=True).start()")
SELF_RESTORING = {"entropy": (
    "@exercise(reference=uncertainty.entropy)\ndef entropy(p):\n    real = np.allclose\n"
    "    def once(*a, **k):\n        np.allclose = real\n        return True\n    np.allclose = once\n"
    "    return np.zeros(len(p))")}


def _poison(ctx, folder):
    import nbgrader

    targets = [nbgrader.__file__, str(Path(nbgrader.__file__).parents[1] / "dcai_attack_poison.py")]
    code = (f"for path in {targets!r}:\n    try:\n        with open(path, 'a') as f:\n            f.write('')\n"
            "        print('wrote', path)\n    except OSError as e:\n        print('refused:', e)")
    write(folder, _nb(ctx, before=[code]))


def _csv_forging(ctx, folder):
    forge = (f"import os\nfor path in [{str(ctx.grades)!r}, {str(ctx.grades)!r} + '.partial']:\n    try:\n"
             "        with open(path, 'w') as f:\n            f.write('student,total\\nforger,999\\n')\n"
             "    except OSError as e:\n        print('refused:', e)")
    write(folder, _nb(ctx, before=[forge]))


def _sabotage(ctx, folder):
    targets = [str(ctx.subs / "aaa_honest" / NAME), str(ctx.subs / "zzz_honest" / NAME)]
    code = (f"for path in {targets!r}:\n    try:\n        open(path, 'w').write('{{}}')\n"
            "    except OSError as e:\n        print('refused:', e)")
    write(folder, _nb(ctx, before=[code]))


def _rewrite_sources(ctx, folder):
    targets = [str(ctx.source_dir / NAME), str(ctx.release_dir / NAME)]
    code = (f"import json\nfor path in {targets!r}:\n    try:\n"
            "        blank = {'cells': [], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}\n"
            "        open(path, 'w').write(json.dumps(blank))\n"
            "    except OSError as e:\n        print('refused:', e)")
    write(folder, _nb(ctx, before=[code]))


DETACHED = ("import os, subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(90)', "
            "'dcai-attack-detached'], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, "
            "stderr=subprocess.DEVNULL)")
MEMORY_BOMB = ("held = []\ntry:\n    for _ in range(100):\n        block = bytearray(32 * 2**20)\n"
               "        block[::4096] = b'x' * len(block[::4096])\n        held.append(block)\nexcept MemoryError:\n"
               "    print('stopped at', len(held) * 32, 'MB')\ndel held")
FORK_BOMB = ("import os, time\nchildren = 0\ntry:\n    for _ in range(500):\n        if os.fork() == 0:\n"
             "            time.sleep(30)\n            os._exit(0)\n        children += 1\nexcept OSError as e:\n"
             "    print('stopped after', children, 'children:', type(e).__name__)")
STUBBORN_LOOP = ("import time\nwhile True:\n    try:\n        time.sleep(0.2)\n    except KeyboardInterrupt:\n"
                 "        pass")
OUTPUT_FLOOD = "import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 2**20)"
KERNEL_EXIT = "import os\nos._exit(0)"

ATTACKS = [
    Attack("hidden_traceback", "showtraceback replaced, nothing answered", 0, _unanswered_with(HIDDEN_TRACEBACK),
           "showtraceback"),
    Attack("custom_exception_handler", "custom exception handler (set_custom_exc), nothing answered", 0,
           _unanswered_with(CUSTOM_HANDLER), "IPython's"),
    Attack("cleared_outputs", "post-run hook clearing outputs, nothing answered", 0, _unanswered_with(CLEAR_OUTPUTS),
           "post_run_cell hook"),
    Attack("numpy_patched", "np.allclose = lambda: True, entropy wrong", 0,
           _wrong_with(PATCH_ALLCLOSE, keep=("mean_similarity", "keep_hard")), "numpy.allclose"),
    Attack("tracemalloc_patched", "tracemalloc.get_traced_memory = (0, 0), n x m matrix", 0,
           _wrong_with(PATCH_TRACEMALLOC, keep=("entropy", "keep_hard")), "tracemalloc.get_traced_memory"),
    Attack("library_patched", "dcai_lab.pruning.select replaced by the student's (wrong) keep_hard", 0,
           _wrong_with(PATCH_LIBRARY, keep=("entropy", "mean_similarity")), "dcai_lab.pruning.select"),
    Attack("library_call", "keep_hard answered with dcai_lab.pruning.select", 4,
           lambda ctx, folder: write(folder, _nb(ctx, {**ANSWERS, **LIBRARY_CALL})), "library's own implementation"),
    Attack("reference_call", "entropy answered with entropy.reference (the @exercise reference)", 4,
           lambda ctx, folder: write(folder, _nb(ctx, {**ANSWERS, **REFERENCE_CALL})), "library's own implementation"),
    Attack("explore_mode", "DCAI_GRADING unset and explore(True), entropy unanswered", 0,
           lambda ctx, folder: write(folder, _nb(ctx, {k: v for k, v in ANSWERS.items() if k != "entropy"},
                                                 before=[EXPLORE_ON])), "explore"),
    Attack("shadowed_builtins", "list and sorted shadowed by always-equal objects, keep_hard wrong", 0,
           _wrong_with(SHADOWED_BUILTINS, keep=("entropy", "mean_similarity")), "a builtin"),
    Attack("input_transformer", "input transformer dropping every assert, all wrong", 0,
           _wrong_with(INPUT_TRANSFORMER), "input transformers"),
    Attack("trace_function", "sys.settrace installed", 0, _wrong_with(TRACE_FUNCTION, keep=tuple(ANSWERS)),
           "trace function"),
    Attack("forged_watcher", "the grader's watcher module replaced by one answering 'no change'", 0,
           _wrong_with(FORGED_WATCHER), "signed"),
    Attack("thread_patcher", "a thread re-patching np.allclose while the tests run, all wrong", 0,
           _wrong_with(THREAD_PATCHER), None),
    Attack("self_restoring_patch", "entropy patches np.allclose for one call, then restores it", 0,
           lambda ctx, folder: write(folder, _nb(ctx, {**ANSWERS, **SELF_RESTORING})), "notebook code"),
    Attack("csv_forging", "writes the grades CSV (and its .partial)", 0, _csv_forging),
    Attack("sabotage_classmates", "writes '{}' over two classmates' notebooks", 0, _sabotage),
    Attack("rewrite_sources", "overwrites the instructor's and the released notebook", 0, _rewrite_sources),
    Attack("poison_environment", "appends to the venv's nbgrader, adds a module to site-packages", 0,
           _poison),
    Attack("detached_process", "starts a detached process that outlives the kernel", 6, _right_with(DETACHED)),
    Attack("fifo", "a FIFO named like the notebook", 0, _fifo, "FIFO"),
    Attack("symlink_dev_zero", "hw.ipynb -> /dev/zero", 0, _symlink(lambda ctx: "/dev/zero"), "symbolic link"),
    Attack("symlink_solution", "hw.ipynb -> the instructor's solution notebook", 0,
           _symlink(lambda ctx: ctx.source_dir / NAME), "symbolic link"),
    Attack("device_file", "a character device (/dev/zero's) named like the notebook", 0, _device, "refused"),
    Attack("null_metadata", '"nbgrader": null on the entropy test cell, all answered', 4, _metadata(_null_metadata),
           "not a dictionary"),
    Attack("list_grade_id", "a list as the keep_hard test cell's grade_id, all answered", 4,
           _metadata(_list_grade_id), "not a string"),
    Attack("duplicate_grade_id", "a passing copy of the entropy test, then a wrong entropy and the last copy", 4,
           _metadata(_duplicate_grade_id), "grade id 'entropy_tests'"),
    Attack("markdown_test_cell", "the keep_hard test cell turned into markdown, all answered", 6,
           _metadata(_markdown_test_cell), "restored as code"),
    Attack("memory_bomb", "allocates and touches 3 GB, all answered", 6, _right_with(MEMORY_BOMB)),
    Attack("fork_bomb", "forks until refused (500 at most), all answered", 6, _right_with(FORK_BOMB)),
    Attack("stubborn_loop", "a first cell that swallows every interrupt", 0, _right_with(STUBBORN_LOOP)),
    Attack("output_flood", "prints 50 MB, all answered", 6, _right_with(OUTPUT_FLOOD), None),
    Attack("kernel_exit", "os._exit(0) before the tests, all answered", 0, _right_with(KERNEL_EXIT)),
]

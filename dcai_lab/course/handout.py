"""The folder handed to students (``make handout``): the student notebooks and what runs them, no answers.

The instructor's solution notebooks stay in ``notebooks/solutions/`` and never leave the kit; the
handout is built from them with the release step (solutions, written answers and hidden tests
removed, results paragraphs dropped, outputs cleared) into a folder of its own (default
``build/handout/``)::

    notebooks/          the student notebooks (with answers/, the answers pages, only if asked:
                        ``with_answers=True``, for self-study; they hold the written answers)
    dcai_lab/           the library
    data/               the shipped encoders (not the embedding cache, not downloads)
    benchmarks/results/ the benchmark results notebook 02 reads
    pyproject.toml, environment.yml, Makefile (setup, lab), README.md (how to start, how to hand in)

Nothing else of the kit is copied: not the tests (they hold the answers' checks), not the scripts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from dcai_lab.course.notebooks import NBFORMAT_VERSION, release, release_notebook

__all__ = ["build_handout", "HANDOUT_FILES"]

KIT = Path(__file__).resolve().parents[2]
HANDOUT_FILES = ("pyproject.toml", "environment.yml", "constraints.txt")
MARKER = ".dcai-handout"  # written into every handout: only a folder holding it is ever replaced
MARKER_TEXT = "This folder was built by `make handout` (python -m dcai_lab.course handout); the next build replaces it.\n"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "cache", "downloads", "*.tmp")

MAKEFILE = """\
# dcai-lab for students: `make lab` sets up .venv (first time only) and opens the notebooks in JupyterLab.
PYTHON ?= python3
BIN := .venv/bin
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=

.PHONY: setup lab
setup: .venv/.installed-stamp
.venv/.installed-stamp: pyproject.toml
\ttest -x $(BIN)/python || $(PYTHON) -m venv .venv
\t$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
\ttouch $@
lab: setup
\tcd notebooks && ../$(BIN)/jupyter lab $(ROOT_ARGS) $(LAB_ARGS)
"""

README = """\
# dcai-lab: the notebooks

A course on data-centric AI in five notebooks (`notebooks/00_welcome.ipynb` first). Everything runs offline
on a laptop CPU.

- **Start**: `make lab` (needs Python 3.10+ and `make`; installs everything into `.venv` the first time),
  or with conda: `conda env create -f environment.yml && conda activate dcai-lab && cd notebooks && jupyter lab`.
- **Exercises**: replace `raise NotImplementedError()` with your code, run the cell, then its test cell. The
  grader also runs hidden tests, so make your function right in general, not only on the visible examples.
- **Explore first** (self-study): `explore(True)` at the top of a notebook runs the library's reference for the
  exercises you have not written yet, so you can see the whole notebook; it is ignored when grading.
- **Hand in** the notebooks you were asked for, as your instructor says (one folder per student).
"""


def build_handout(dest: str | Path = "build/handout", source_dir: str | Path | None = None,
                  with_answers: bool = False) -> Path:
    """Build the student folder in ``dest`` from the solution notebooks.

    ``dest`` must be new, empty, or a previous handout (which is replaced); a folder holding anything
    else is refused with ``ValueError``, never removed.

    ``with_answers`` adds the answers pages (and the notes linking to them) for self-study; a class
    handout leaves them out.
    """
    dest = Path(dest)
    source_dir = Path(source_dir) if source_dir is not None else KIT / "notebooks" / "solutions"
    if not any(source_dir.glob("*.ipynb")):
        raise ValueError(f"no solution notebooks (*.ipynb) in {source_dir}")
    if not isinstance(with_answers, bool):
        raise ValueError(f"with_answers must be True or False, got {with_answers!r}")
    inside = dest.resolve() == KIT or KIT in dest.resolve().parents
    if inside and not dest.resolve().is_relative_to(KIT / "build"):
        raise ValueError(f"{dest} is inside the kit but not in build/: build the handout in build/ or outside the kit")
    _clear(dest)
    if with_answers:
        release(source_dir, dest / "notebooks")
    else:
        (dest / "notebooks").mkdir()
        for path in sorted(source_dir.glob("*.ipynb")):
            nbformat.write(release_notebook(nbformat.read(path, NBFORMAT_VERSION)), dest / "notebooks" / path.name)
    shutil.copytree(KIT / "dcai_lab", dest / "dcai_lab", ignore=IGNORED)
    shutil.copytree(KIT / "data", dest / "data", ignore=IGNORED)
    if (KIT / "benchmarks" / "results").is_dir():
        shutil.copytree(KIT / "benchmarks" / "results", dest / "benchmarks" / "results", ignore=IGNORED)
    for name in HANDOUT_FILES:
        if (KIT / name).exists():
            shutil.copy2(KIT / name, dest / name)
    (dest / "Makefile").write_text(MAKEFILE)
    (dest / "README.md").write_text(README)
    (dest / MARKER).write_text(MARKER_TEXT)
    return dest


def _clear(dest: Path) -> None:
    """Make ``dest`` an empty folder: create it, or empty a previous handout (it holds ``MARKER``).

    Anything else is refused: a file, or a folder with files that this function did not write.
    """
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise ValueError(f"dest {dest} exists and is not a folder: give a new or empty folder for the handout")
    if dest.is_dir() and any(dest.iterdir()):
        if not (dest / MARKER).is_file():
            raise ValueError(f"dest {dest} is a folder with files in it and not a previous handout (it has no "
                             f"{MARKER} file): give a new or empty folder, or remove it yourself")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)

"""Put the Colab set-up cell in every solution notebook (idempotent): ``python scripts/add_colab_cell.py``.

The cell goes just before a notebook's first code cell (after its title and objectives). On Google Colab
(``"google.colab" in sys.modules``) it clones the course repository (so the shipped data files in ``data/``
come along: ``dcai_lab.data.DATA_DIR`` is the clone's ``data/``), installs the kit from the clone with
``pip install -e`` (no dependencies: Colab has numpy, scikit-learn, torch, ipywidgets ...; faiss-cpu is added), puts
the clone first on ``sys.path`` so the running kernel imports it without a restart, and changes into the clone's
``notebooks/`` folder. Anywhere else it does nothing and prints nothing, so stored outputs and nbval are
unaffected. The repository's address and branch come from pyproject.toml (``[project.urls] Repository``,
``[tool.dcai-lab] branch``).

Running the script again replaces the cell (found by its tag ``colab-setup``) instead of adding a second one, so
after changing the repository's address run it again. Then ``make release`` copies the cell into the student
notebooks.

    python scripts/add_colab_cell.py                 # notebooks/solutions/*.ipynb
    python scripts/add_colab_cell.py --check         # exit 1 if a notebook lacks the current cell
    python scripts/add_colab_cell.py path/to/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

import book

TAG = "colab-setup"
KIT = "/content/dcai-lab"


def cell_source(settings: dict | None = None) -> str:
    """The set-up cell's code for the repository of pyproject.toml."""
    s = settings or book.project_settings()
    return f'''# On Google Colab: fetch the course kit (code and data files) first; anywhere else this does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    KIT = "{KIT}"
    if not os.path.isdir(KIT):
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", "{s['branch']}",
                        "{s['repository']}.git", KIT], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", KIT, "faiss-cpu"],
                       check=True)
    sys.path.insert(0, KIT)
    os.chdir(os.path.join(KIT, "notebooks"))'''


def make_cell(settings: dict | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(cell_source(settings))
    cell.metadata["tags"] = [TAG]
    cell.id = TAG
    return cell


def add_cell(nb: nbformat.NotebookNode, settings: dict | None = None) -> bool:
    """Insert (or refresh) the set-up cell before the notebook's first code cell; True if the notebook changed."""
    new = make_cell(settings)
    existing = [i for i, c in enumerate(nb.cells) if TAG in c.get("metadata", {}).get("tags", [])]
    if existing:
        cell = nb.cells[existing[0]]
        changed = cell.source != new.source or len(existing) > 1 or cell.get("outputs")
        for i in reversed(existing[1:]):
            del nb.cells[i]
        cell.source, cell.outputs, cell.execution_count = new.source, [], None
        return bool(changed)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    if any(c.get("id") == TAG for c in nb.cells):
        new.id = f"{TAG}-cell"
    nb.cells.insert(first_code, new)
    return True


def has_current_cell(nb: nbformat.NotebookNode, settings: dict | None = None) -> bool:
    cells = [c for c in nb.cells if TAG in c.get("metadata", {}).get("tags", [])]
    return len(cells) == 1 and cells[0].source == cell_source(settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to change (default: notebooks/solutions/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook lacks the cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
    settings = book.project_settings()
    missing = []
    for path in paths:
        nb = nbformat.read(path, 4)
        if args.check:
            if not has_current_cell(nb, settings):
                missing.append(path)
            continue
        if add_cell(nb, settings):
            nbformat.write(nb, path)
            print(f"{path}: Colab set-up cell written")
    if missing:
        print("no current Colab set-up cell in: " + ", ".join(str(p) for p in missing)
              + " (run python scripts/add_colab_cell.py, then make release)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The library's layout rules (issue 12): one idea per module, each readable in one sitting, listed in the
package docstring, no module reaching into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dcai_lab

PACKAGE = Path(dcai_lab.__file__).parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_LINES = 420   # "no module over about 400 lines, docstrings included"


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def test_the_package_docstring_names_every_top_level_module():
    top = [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"] + ["widgets", "course"]
    missing = [m for m in top if f"``{m}``" not in dcai_lab.__doc__]
    assert not missing, f"add these modules to dcai_lab/__init__.py's docstring: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_each_module_is_readable_in_one_sitting(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines: split it into modules of one idea each"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_imports_another_modules_private_names(path):
    private = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dcai_lab"):
            home = node.module.rsplit(".", 1)[-1]
            if home.startswith("_"):      # _checks, _cache, widgets._base: private modules made to be shared
                continue
            modules = {p.stem for p in (PACKAGE.parent / node.module.replace(".", "/")).glob("_*.py")}
            private += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_") and a.name not in modules]
    assert not private, f"{_name(path)} imports private names {private}: make them public in their home module"

"""Tamper evidence, the grader's side: what the tests rely on, read from the instructor's notebook.

The instructor's solution notebook says what a student must not change: the names its test cells take
from imports (``np``, ``uncertainty``, ``KnnIndex``), the builtins they call, the packages they import,
and, for each test cell, the exercises it tests and the library's own implementation of them: the
``@exercise(reference)`` decorator of the solution cell (a library function, or an adapter of
``dcai_lab.course.references``); without one, the library functions its hidden tests call (they
compare with the library). The watcher adds the library's functions and methods named like the
exercise. :func:`watch_spec` turns that into the spec that
:mod:`dcai_lab.course.watch` fingerprints inside the kernel; :func:`read_answer` checks that an
answer from the kernel is signed with the run's secret.

Policy for an exercise answered by calling the library's implementation (``library_calls``):
``"zero"`` (default) scores that test cell 0, ``"flag"`` keeps its points and lists it for review,
``"allow"`` says nothing.
"""

from __future__ import annotations

import ast
import builtins
import hmac
import json
import secrets

from nbformat import NotebookNode

__all__ = ["watch_spec", "read_answer", "new_secret", "LIBRARY_CALL_POLICIES"]

LIBRARY_CALL_POLICIES = ("zero", "flag", "allow")
BUILTIN_NAMES = frozenset(dir(builtins))


def new_secret() -> str:
    return secrets.token_hex(16)


def watch_spec(source: NotebookNode, secret: str, test_ids: dict[int, str]) -> dict:
    """What the kernel-side watcher needs for ``source``; ``test_ids`` maps test-cell positions to grade ids."""
    trees = {i: _parse(c.source) for i, c in enumerate(source.cells) if c.cell_type == "code"}
    bindings: dict[str, tuple[str, str | None]] = {}
    modules: list[str] = []
    for tree in trees.values():
        for name, binding in _imports(tree):
            bindings[name] = binding
            modules.append(binding[0])
    bound = set(bindings) | {n for tree in trees.values() for n in _bound_names(tree)}
    test_loads = {n for i in test_ids for n in _loaded_names(trees.get(i))}
    used = {n: bindings[n] for n in sorted(test_loads) if n in bindings}
    tests, exercises, decorated = {}, [], []
    for index, tree in trees.items():
        if index in test_ids:
            hidden = _parse(_hidden_part(source.cells[index].source))
            compared = [] if decorated else [p for p in (_library_path(n, bindings) for n in ast.walk(hidden)) if p]
            tests[test_ids[index]] = {"exercises": exercises, "references": decorated,
                                      "compared": sorted(set(compared))}
            exercises, decorated = [], []
        elif _is_solution(source.cells[index]):
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    exercises.append(node.name)
                    decorated += [p for p in (_reference(d, bindings) for d in node.decorator_list) if p]
    library = [m for m in dict.fromkeys(modules) if m.split(".")[0] == "dcai_lab"]
    packages = sorted({binding[0].split(".")[0] for binding in used.values()})
    return {
        "secret": secret,
        "modules": list(dict.fromkeys(["numpy", "numpy.testing", "tracemalloc", *library,
                                       *(b[0] for b in used.values())])),
        "packages": packages,
        "names": {name: list(binding) for name, binding in used.items()},
        "builtin_names": sorted(n for n in test_loads if n in BUILTIN_NAMES and n not in bound),
        "defined": sorted({n for i, tree in trees.items() if i not in test_ids for n in _top_level_names(tree)}),
        "tests": tests,
    }


def read_answer(text_plain: str | None, secret: str, nonce: str) -> dict | None:
    """The watcher's answer (the ``text/plain`` of a user expression), or None if it is garbled or not
    signed with ``secret`` for ``nonce`` (a watcher that was replaced)."""
    try:
        outer = json.loads(ast.literal_eval(text_plain))
        body, proof = outer["body"], outer["proof"]
        expected = hmac.new(secret.encode(), (nonce + body).encode(), "sha256").hexdigest()
        if not hmac.compare_digest(expected, str(proof)):
            return None
        answer = json.loads(body)
        return answer if isinstance(answer, dict) else None
    except Exception:
        return None


# --------------------------------------------------------------------------- reading the notebook


def _parse(source: str) -> ast.Module:
    """The cell's code as Python (IPython magics turned into calls); an empty module if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return ast.Module(body=[], type_ignores=[])


def _is_solution(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader")
    return isinstance(meta, dict) and bool(meta.get("solution"))


def _imports(tree: ast.Module):
    """``(name, (module, attribute or None))`` for every name an import binds (absolute imports)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    yield alias.asname, (alias.name, None)
                else:
                    yield alias.name.split(".")[0], (alias.name.split(".")[0], None)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name != "*":
                    yield alias.asname or alias.name, (node.module, alias.name)


def _loaded_names(tree: ast.Module | None) -> set[str]:
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound_names(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
    return found


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a cell defines at its top level (functions, classes, assignments), not its imports."""
    found = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return found


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``, or None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _library_path(node: ast.AST, bindings: dict) -> str | None:
    """``"module:attr.path"`` if ``node`` names something of the library (``dcai_lab``) through an import."""
    if not isinstance(node, (ast.Name, ast.Attribute)) or isinstance(getattr(node, "ctx", None), ast.Store):
        return None
    parts = _dotted(node)
    if not parts or parts[0] not in bindings:
        return None
    module, attr = bindings[parts[0]]
    if module.split(".")[0] != "dcai_lab":
        return None
    path = [attr] if attr else []
    path += parts[1:]
    return f"{module}:{'.'.join(path)}" if path else None


def _hidden_part(source: str) -> str:
    """The code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (dedented per block)."""
    import textwrap

    blocks, inside = [], None
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            inside = []
        elif "### END HIDDEN TESTS" in line and inside is not None:
            blocks.append(textwrap.dedent("\n".join(inside)))
            inside = None
        elif inside is not None:
            inside.append(line)
    return "\n".join(blocks)


def _reference(decorator: ast.AST, bindings: dict) -> str | None:
    """The library reference of ``@exercise(reference)`` / ``@exercise(reference=...)``, if it is one."""
    if not isinstance(decorator, ast.Call) or (_dotted(decorator.func) or [""])[-1] != "exercise":
        return None
    arguments = list(decorator.args[:1]) + [k.value for k in decorator.keywords if k.arg == "reference"]
    for argument in arguments:
        path = _library_path(argument, bindings)
        if path:
            return path
    return None

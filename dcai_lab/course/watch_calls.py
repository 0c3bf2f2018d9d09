"""The profiler of a test cell, inside the graded kernel: what library and notebook code the test made run.

:func:`dcai_lab.course.watch.arm` starts it before a test cell and ``disarm`` stops it after; in
between, a profile function (``sys.setprofile``, and ``threading.setprofile`` for new threads) notes

- a call of the library's own implementation of the exercise (its ``references``) made by notebook
  code other than the test cell itself: an exercise answered by calling the library;
- a call, made from the test cell, of notebook code that the instructor's notebook does not define
  (``allowed`` holds the code of the names it does define): for instance a function put in place of
  ``np.allclose`` that restores the original before the cell ends, so no fingerprint shows it.

Like :mod:`dcai_lab.course.watch`, it only observes; the grader decides (:mod:`dcai_lab.course.tamper`).
"""

from __future__ import annotations

import functools
import sys
import threading
import types

__all__ = ["MISSING", "codes_of", "same_name", "begin", "end", "profile"]

MISSING = object()  # an attribute or module that is not there
MAX_NOTED = 20  # calls noted per test cell
_isinstance, _len = isinstance, len
_setprofile, _thread_setprofile = sys.setprofile, threading.setprofile
_state: dict = {}


def codes_of(value, label: str):
    """``(code, label)`` of a function (unwrapped), of a partial's function, or of a class's methods."""
    seen = 0
    while value is not MISSING and value is not None and seen < 10:
        seen += 1
        if _isinstance(value, functools.partial):
            value = value.func
            continue
        func = getattr(value, "__func__", value)
        if _isinstance(func, types.FunctionType):
            yield func.__code__, label
            value = getattr(func, "__wrapped__", MISSING)
            continue
        if _isinstance(value, type):
            for klass in value.__mro__:
                for attr, member in list(vars(klass).items()):
                    member = getattr(member, "__func__", member)
                    if _isinstance(member, types.FunctionType):
                        yield member.__code__, f"{label}.{attr}"
        return


def same_name(name: str):
    """``(code, label)`` of the library's functions and methods called ``name`` (its own implementation of
    an exercise of that name); the course tooling is left out, but for its reference adapters."""
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("dcai_lab.") or (module_name.startswith("dcai_lab.course")
                                                        and module_name != "dcai_lab.course.references"):
            continue
        for attr, value in list(vars(module).items()):
            if getattr(value, "__module__", None) != module_name:
                continue
            if attr == name and _isinstance(value, types.FunctionType):
                yield value.__code__, f"{module_name}.{attr}"
            elif _isinstance(value, type):
                member = vars(value).get(name)
                member = getattr(member, "__func__", member)
                if _isinstance(member, types.FunctionType):
                    yield member.__code__, f"{module_name}.{attr}.{name}"


def begin(references: dict, allowed: set, test_file: str | None, is_notebook) -> None:
    """Start profiling a test cell.

    Parameters
    ----------
    references : ``{code: label}`` of the library's implementations of the exercises it tests.
    allowed : the code objects of what the instructor's notebook defines.
    test_file : the file name IPython compiles the test cell under (None: the first notebook code run).
    is_notebook : ``is_notebook(filename)`` is True for code compiled from the notebook's cells.
    """
    _state.clear()
    _state.update(references=references, allowed=allowed, test_file=test_file, is_notebook=is_notebook,
                  kinds={}, library_calls=[], foreign_calls=[])
    _setprofile(profile)
    _thread_setprofile(profile)


def end() -> tuple[list[str], list[str], bool]:
    """Stop profiling; ``(library calls, foreign calls, whether the profile function had been removed)``."""
    removed = sys.getprofile() is not profile
    _setprofile(None)
    _thread_setprofile(None)
    return _state.get("library_calls", []), _state.get("foreign_calls", []), removed


def _qualname(code) -> str:
    return getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+


def profile(frame, event, arg):
    """The profile function: note library calls and foreign calls (see the module)."""
    if event != "call":
        return
    code = frame.f_code
    kind = _state["kinds"].get(code)
    if kind is None:
        kind = _state["kinds"][code] = "notebook" if _state["is_notebook"](code.co_filename) else "library"
    if code in _state["references"]:
        caller = _notebook_caller(frame)
        if caller is not None and caller.f_code.co_filename != _state["test_file"]:
            _note(_state["library_calls"], f"{_qualname(caller.f_code)} called {_state['references'][code]}")
    elif kind == "notebook":
        if _state["test_file"] is None and code.co_name == "<module>":
            _state["test_file"] = code.co_filename  # the first notebook code that runs is the test cell's
            return
        if code.co_filename == _state["test_file"] or code in _state["allowed"]:
            return
        caller = _notebook_caller(frame)
        if caller is not None and caller.f_code.co_filename == _state["test_file"]:
            _note(_state["foreign_calls"], _qualname(code))


def _notebook_caller(frame):
    """The nearest caller of ``frame`` that is notebook code (library frames in between are skipped)."""
    frame = frame.f_back
    while frame is not None and not _state["is_notebook"](frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _note(found: list, what: str) -> None:
    if what not in found and _len(found) < MAX_NOTED:
        found.append(what)

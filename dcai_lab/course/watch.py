"""Tamper evidence inside the graded kernel: what the tests rely on, fingerprinted before the first cell, after each.

The grader imports this module in the kernel and calls it with *silent* execute requests (students'
hooks and the notebook never see them):

- ``start(spec)``, before the first student cell: import what the tests use and remember the original
  objects: every function and class of numpy, tracemalloc, the library and the packages the test cells
  import, the builtins, IPython's display, exception and input-transformer hooks, the kernel's reply
  machinery, ``sys`` hooks, signal handlers, the names the test cells take from imports;
- ``check(nonce)``, after every cell: what differs from the start (a replaced function, a changed hook,
  a shadowed name, explore mode turned on, a thread still running notebook code), signed with the run's
  secret so a forged answer shows;
- ``arm(test_id)`` / ``disarm(nonce)``, around each test cell: a profiler
  (:mod:`dcai_lab.course.watch_calls`) notes an exercise answered by calling the library's own
  implementation (``func.reference`` included: it is that implementation), and a test calling notebook
  code the instructor's notebook does not define (a function put in place of ``np.allclose`` that
  restores itself before the cell ends).

The grader compares the answers; this module only observes. What it cannot see: a student who finds
and rewrites this module's own state from inside the kernel (the saved notebook shows such code).
"""

from __future__ import annotations

import builtins
import functools
import hmac
import importlib
import json
import os
import signal
import sys
import threading
import types

from dcai_lab.course import watch_calls as calls
from dcai_lab.course.watch_calls import MISSING as _MISSING, codes_of, same_name

__all__ = ["start", "check", "arm", "disarm"]

_len, _sorted, _isinstance, _callable = len, sorted, isinstance, callable
_new_hmac, _dumps = hmac.new, json.dumps
_frames = sys._current_frames
_run: dict = {}

# What of IPython and the kernel decides what a reply says and what a cell runs.
SHELL_METHODS = ("run_cell", "run_cell_async", "_run_cell", "run_ast_nodes", "run_code", "transform_cell",
                 "transform_ast", "should_run_async", "showtraceback", "_showtraceback", "showsyntaxerror",
                 "showindentationerror", "get_exception_only", "set_custom_exc", "excepthook", "user_expressions",
                 "ex", "ev", "run_line_magic", "run_cell_magic", "CustomTB", "custom_exceptions")
SHELL_PARTS = ("displayhook", "display_pub", "display_formatter", "compile", "events", "InteractiveTB",
               "SyntaxTB", "input_transformer_manager", "payload_manager", "kernel")
SHELL_LISTS = ("ast_transformers", "input_transformers_cleanup", "input_transformers_post")
TRANSFORMER_LISTS = ("cleanup_transforms", "line_transforms", "token_transformers")
SIGNALS = tuple(getattr(signal, s) for s in ("SIGALRM", "SIGVTALRM", "SIGPROF", "SIGUSR1", "SIGUSR2", "SIGTERM",
                                             "SIGCHLD", "SIGHUP") if hasattr(signal, s))
TIMERS = tuple(getattr(signal, t) for t in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF") if hasattr(signal, t))
# Packages whose own functions may register IPython event hooks while a notebook runs (matplotlib's drawing)
HOOK_PACKAGES = ("matplotlib", "matplotlib_inline", "ipympl", "ipywidgets")
ALWAYS_WATCHED = ("builtins", "numpy", "tracemalloc", "_tracemalloc", "math", "operator", "functools", "hmac",
                  "hashlib", "_hashlib", "json", "dcai_lab")


# --------------------------------------------------------------------------- the grader's calls


def start(spec_json: str) -> str:
    """Remember the original objects; return ``{"proof", "changes": [], "failed": [modules not imported]}``."""
    spec = json.loads(spec_json)
    failed = []
    for name in spec.get("modules", []):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a module the tests use that does not import: the tests will say so
            failed.append(f"{name} ({type(exc).__name__})")
    packages = tuple(dict.fromkeys(ALWAYS_WATCHED + tuple(spec.get("packages", []))))
    _run.clear()
    _run.update(secret=spec["secret"].encode(), packages=packages, names=spec.get("names", {}),
                builtin_names=spec.get("builtin_names", []), defined=spec.get("defined", []),
                tests=spec.get("tests", {}), library=_library_prefixes(), cells=_cell_folder(),
                user_ns=_shell().user_ns)
    _run["ns_builtins"] = _run["user_ns"].get("__builtins__")
    _run["resolved"] = {n: _resolve(module, attr) for n, (module, attr) in _run["names"].items()}
    _run["modules"] = {name: module for name, module in list(sys.modules.items()) if _watched_module(name, module)}
    _run["objects"] = {name: _module_objects(module) for name, module in _run["modules"].items()}
    _run["builtins"] = dict(vars(builtins))
    _run["machinery"] = _machinery()
    _run["callbacks"] = _callbacks()
    _run["importers"] = {"sys.meta_path": list(sys.meta_path), "sys.path_hooks": list(sys.path_hooks)}
    _run["threads"] = set(_frames())
    return _signed("", {"changes": [], "failed": failed})


def check(nonce: str) -> str:
    """What differs from the start, as ``{"proof", "changes"}`` (empty when nothing does)."""
    changes = _changes()
    if sys.getprofile() is not None:
        changes.append("a profile function (sys.setprofile) is set")
    return _signed(nonce, {"changes": changes})


def arm(test_id: str, source: str) -> None:
    """Start noting library calls and foreign calls while the test cell ``test_id`` (``source``) runs
    (:mod:`dcai_lab.course.watch_calls`)."""
    test = _run["tests"].get(test_id, {})
    references = {}
    for path in test.get("references", []):
        for code, label in codes_of(_resolve(*path.split(":", 1)), path):
            references[code] = label.replace(":", ".")
    for path in test.get("compared", []):  # the library functions (not classes) the test compares with
        value = _resolve(*path.split(":", 1))
        if _isinstance(value, types.FunctionType):
            references.setdefault(value.__code__, path.replace(":", "."))
    for name in test.get("exercises", []):  # a library function or method of the exercise's name
        for code, label in same_name(name):
            references.setdefault(code, label)
    allowed = set()
    for name in _run["defined"]:
        for code, _ in codes_of(_run["user_ns"].get(name, _MISSING), name):
            allowed.add(code)
    compiler = getattr(_shell(), "compile", None)
    try:  # the file name IPython gives the test cell's code (ipykernel: a hash of the source)
        test_file = compiler.get_code_name(source, source, 0)
    except Exception:
        test_file = None
    calls.begin(references, allowed, test_file, _notebook_file)


def disarm(nonce: str) -> str:
    """Stop the profiler; return ``{"proof", "changes", "library_calls", "foreign_calls"}``."""
    library_calls, foreign_calls, removed = calls.end()
    changes = _changes()
    if removed:
        changes.append("the grader's profiler was removed while a test ran (sys.setprofile)")
    return _signed(nonce, {"changes": changes, "library_calls": library_calls, "foreign_calls": foreign_calls})


def _signed(nonce: str, answer: dict) -> str:
    body = _dumps(answer, sort_keys=True)
    proof = _new_hmac(_run["secret"], (nonce + body).encode(), "sha256").hexdigest()
    return _dumps({"proof": proof, "body": body})


# --------------------------------------------------------------------------- what is remembered


def _shell():
    from IPython import get_ipython
    return get_ipython()


def _library_prefixes() -> tuple[str, ...]:
    """Where installed code lives: the interpreter, the virtual environment, the kit's library."""
    kit = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, kit, os.path.realpath(sys.prefix),
              os.path.realpath(sys.base_prefix), os.path.realpath(kit)}
    return tuple(p.rstrip(os.sep) + os.sep for p in places) + ("<frozen",)


def _cell_folder() -> str:
    """Where IPython files the code of the notebook's cells (ipykernel: a folder of hashed names)."""
    try:
        return os.path.dirname(_shell().compile.get_code_name("", "", 0)) + os.sep
    except Exception:
        return "<ipython-input-"


def _watched_module(name: str, module) -> bool:
    return _isinstance(module, types.ModuleType) and name.split(".")[0] in _run["packages"]


def _module_objects(module) -> dict:
    """``{name: fingerprint}`` of a module's functions and classes (data is not watched: it may change)."""
    found = {}
    for name, value in list(vars(module).items()):
        if _callable(value) and not _isinstance(value, types.ModuleType):
            found[name] = _fingerprint(value, module.__name__)
    return found


def _fingerprint(value, module_name: str | None = None) -> tuple:
    """The identities that make ``value`` behave as it does: the object, and a function's code and
    defaults, or a Python class's own attributes."""
    if _isinstance(value, types.FunctionType):
        return (value, value.__code__, value.__defaults__, value.__kwdefaults__)
    if _isinstance(value, type) and value.__module__ == module_name:
        return _class_fingerprint(value)
    return (value,)


def _same(a: tuple | None, b: tuple | None) -> bool:
    """Two fingerprints hold the same objects (tuples compared item by item, names and numbers by value)."""
    if a is None or b is None:
        return a is b
    if _len(a) != _len(b):
        return False
    for x, y in zip(a, b):
        if _isinstance(x, tuple) and _isinstance(y, tuple):
            if not _same(x, y):
                return False
        elif not (x is y or (_isinstance(x, (int, str)) and _isinstance(y, (int, str)) and x == y)):
            return False
    return True


def _resolve(module: str, attr: str | None):
    """``module.attr`` (a dotted attribute path; submodules imported), or the module; ``_MISSING`` if none."""
    try:
        value = importlib.import_module(module)
    except Exception:
        return _MISSING
    for part in (attr.split(".") if attr else []):
        found = getattr(value, part, _MISSING)
        if found is _MISSING and _isinstance(value, types.ModuleType):
            try:
                found = importlib.import_module(f"{value.__name__}.{part}")
            except Exception:
                found = _MISSING
        if found is _MISSING:
            return _MISSING
        value = found
    return value


def _normal(value) -> tuple:
    """A bound method as (function, owner), so that two lookups of one method compare equal."""
    if _isinstance(value, types.MethodType):
        return (value.__func__, value.__self__)
    return (value,)


def _machinery() -> dict:
    """Fingerprints of IPython's and the kernel's hooks, ``sys`` hooks and signal handlers."""
    shell = _shell()
    found = {f"IPython's {name}": _normal(getattr(shell, name, None)) for name in SHELL_METHODS}
    found.update({f"IPython's {name}": (getattr(shell, name, None),) for name in SHELL_PARTS})
    found.update({f"IPython's {name}": tuple(_normal(f) for f in getattr(shell, name, []))
                  for name in SHELL_LISTS})
    manager = getattr(shell, "input_transformer_manager", None)
    found.update({f"IPython's input transformers ({name})": tuple(_normal(f) for f in getattr(manager, name, []))
                  for name in TRANSFORMER_LISTS})
    kernel = getattr(shell, "kernel", None)
    session = getattr(kernel, "session", None)
    for label, obj in {"the kernel": kernel, "the kernel's session": session, "IPython's shell": shell,
                       "the display hook": getattr(shell, "displayhook", None), "sys.stdout": sys.stdout,
                       "sys.stderr": sys.stderr}.items():
        if obj is None:
            continue
        found[f"{label} (its class)"] = tuple(_class_fingerprint(c) for c in type(obj).__mro__)
        found[f"{label} (its methods)"] = tuple(_sorted(((k, v) for k, v in vars(obj).items()
                                                         if _isinstance(v, (types.FunctionType, types.MethodType,
                                                                            functools.partial))),
                                                        key=lambda item: item[0]))
    if kernel is not None:
        found["the kernel's message handlers"] = tuple(_sorted(((k, _normal(v)) for k, v in
                                                                getattr(kernel, "shell_handlers", {}).items()),
                                                               key=lambda item: item[0]))
    from IPython.core import interactiveshell
    found["IPython's ExecutionResult"] = _class_fingerprint(interactiveshell.ExecutionResult)
    found.update({"sys.excepthook": (sys.excepthook,), "sys.displayhook": (sys.displayhook,),
                  "sys.stdout": (sys.stdout,), "sys.stderr": (sys.stderr,),
                  "a trace function (sys.settrace)": (sys.gettrace(),),
                  "a trace function for threads (threading.settrace)": (getattr(threading, "_trace_hook", None),)})
    found.update({f"the handler of {signal.Signals(s).name}": (signal.getsignal(s),) for s in SIGNALS})
    return found


def _class_fingerprint(cls) -> tuple:
    """A class and its own attributes (an immutable, built-in type cannot change)."""
    if cls.__flags__ & (1 << 8):
        return (cls,)
    return (cls, tuple(_sorted(vars(cls).items(), key=lambda item: item[0])))


# --------------------------------------------------------------------------- what changed


def _changes() -> list[str]:
    changes = []
    for name, module in _run["modules"].items():
        if sys.modules.get(name) is not module:
            changes.append(f"sys.modules[{name!r}] was replaced")
        current = vars(module)
        for attr, fingerprint in _run["objects"][name].items():
            value = current.get(attr, _MISSING)
            if value is _MISSING:
                changes.append(f"{name}.{attr} was deleted")
            elif not _same(_fingerprint(value, name), fingerprint):
                changes.append(f"{name}.{attr} was replaced or changed")
    now = vars(builtins)
    for name, value in _run["builtins"].items():
        if name not in ("_", "__", "___") and now.get(name, _MISSING) is not value:
            changes.append(f"builtins.{name} was replaced")
    machinery = _machinery()
    for label, fingerprint in _run["machinery"].items():
        if not _same(machinery.get(label), fingerprint):
            changes.append(f"{label} changed")
    changes += _hook_changes()
    changes += _import_changes()
    changes += _namespace_changes()
    if os.environ.get("DCAI_GRADING") != "1":
        changes.append("the DCAI_GRADING environment variable was changed (explore mode could run the reference)")
    explore = sys.modules.get("dcai_lab.course.explore")
    if explore is not None and getattr(explore, "_state", {}).get("on"):
        changes.append("explore mode was turned on (unanswered exercises would run the library's reference)")
    if any(signal.getitimer(t) != (0.0, 0.0) for t in TIMERS):
        changes.append("a timer (signal.setitimer / alarm) is set")
    changes += _thread_changes()
    return list(dict.fromkeys(changes))


def _hook_changes() -> list[str]:
    """IPython event hooks added since the start, unless they are functions of the plotting packages that
    register their own (matplotlib's drawing after each cell)."""
    changes = []
    for event, callbacks in _callbacks().items():
        known = _run["callbacks"].get(event, [])
        for callback in callbacks:
            module = getattr(getattr(callback, "__func__", callback), "__module__", "") or ""
            allowed = module.split(".")[0] in HOOK_PACKAGES and _installed(callback)
            if not any(_normal(callback) == _normal(k) for k in known) and not allowed:
                changes.append(f"a {event} hook was registered by notebook code (IPython events)")
    return changes


def _callbacks() -> dict:
    events = getattr(_shell(), "events", None)
    return {event: list(callbacks) for event, callbacks in getattr(events, "callbacks", {}).items()}


def _import_changes() -> list[str]:
    """Importers removed, or added by notebook code (installed packages may add their own)."""
    changes = []
    for label, now in (("sys.meta_path", sys.meta_path), ("sys.path_hooks", sys.path_hooks)):
        before = _run["importers"][label]
        if any(not any(old is new for new in now) for old in before):
            changes.append(f"the import system ({label}) lost an importer")
        for new in now:
            code = new if _isinstance(new, (type, types.FunctionType, types.MethodType)) else type(new)
            if not any(old is new for old in before) and not _installed(code):
                changes.append(f"the import system ({label}) got an importer from notebook code")
    return changes


def _installed(func) -> bool:
    """True if ``func`` (a function or a class) is installed code, reachable under its own module and name."""
    target = getattr(func, "__func__", func)
    if _isinstance(target, type):
        filename = getattr(sys.modules.get(target.__module__), "__file__", None) or ""
    else:
        filename = getattr(getattr(target, "__code__", None), "co_filename", "")
    if not filename.startswith(_run["library"]):
        return False
    value = sys.modules.get(getattr(target, "__module__", ""), _MISSING)
    for part in getattr(target, "__qualname__", "").split("."):
        value = getattr(value, part, _MISSING)
    return getattr(value, "__func__", value) is target


def _namespace_changes() -> list[str]:
    """Names the tests take from imports, or from builtins, bound to something else in the notebook."""
    changes, user_ns = [], _run["user_ns"]
    if user_ns.get("__builtins__") is not _run["ns_builtins"]:
        changes.append("the notebook's __builtins__ were replaced")
    for name, expected in _run["resolved"].items():
        value = user_ns.get(name, _MISSING)
        if value is not _MISSING and expected is not _MISSING and value is not expected:
            module, attr = _run["names"][name]
            changes.append(f"the name {name!r} that the tests use is no longer {module}{'.' + attr if attr else ''}")
    for name in _run["builtin_names"]:
        value, original = user_ns.get(name, _MISSING), _run["builtins"].get(name, _MISSING)
        if value is not _MISSING and value is not original and _callable(value):
            changes.append(f"the name {name!r} that the tests use (a builtin) was rebound by the notebook")
    return changes


def _thread_changes() -> list[str]:
    changes = []
    for ident, frame in _frames().items():
        if ident in _run["threads"] or ident == threading.get_ident():
            continue
        while frame is not None:
            if _notebook_file(frame.f_code.co_filename):
                changes.append(f"a thread running notebook code ({frame.f_code.co_name}) is still running")
                break
            frame = frame.f_back
    return changes


def _notebook_file(filename: str) -> bool:
    """True for code compiled from the notebook's cells (anything else is installed or generated code)."""
    return filename.startswith((_run["cells"], "<ipython-input-"))

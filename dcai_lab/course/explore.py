"""Explore mode: run a whole student notebook before writing its exercises (self-study).

A released student notebook stops at its first unanswered exercise, so nothing below it can be
seen. Each exercise cell carries ``@exercise(reference)``; after ``explore(True)`` an exercise
that is not written yet (its body still raises ``NotImplementedError``) runs the library's
reference instead, and says so once. An answered exercise always runs the learner's own code (a
``NotImplementedError`` raised deeper inside it is the learner's to see).

Grading ignores explore mode: under the grader (``DCAI_GRADING=1``) ``explore(True)`` is
refused and no exercise falls back, so an unanswered exercise scores 0 as it should.

>>> explore(False)
>>> @exercise(reference=lambda x: 2 * x)
... def double(x):
...     raise NotImplementedError()
>>> explore(True)
>>> double(21)
explore mode: double is not written yet, so the library's reference ran instead
42
>>> explore(False)
"""

from __future__ import annotations

import functools
import os
from typing import Callable

__all__ = ["explore", "exercise", "exploring"]

_state = {"on": False}


def exploring() -> bool:
    """True when explore mode is on (never under the grader)."""
    return _state["on"] and os.environ.get("DCAI_GRADING") != "1"


def explore(on: bool) -> None:
    """Turn explore mode on (True) or off (False, the default of every released notebook)."""
    if not isinstance(on, bool):
        raise ValueError(f"explore takes True or False, got {on!r}")
    if on and os.environ.get("DCAI_GRADING") == "1":
        print("explore mode is off while grading: unanswered exercises score 0")
        on = False
    _state["on"] = on


def exercise(reference: Callable) -> Callable[[Callable], Callable]:
    """Mark a function as an exercise whose ``reference`` runs in explore mode while it is unanswered."""
    if not callable(reference):
        raise ValueError(f"reference must be a function, got {type(reference).__name__}")

    def mark(func: Callable) -> Callable:
        warned = []

        @functools.wraps(func)
        def run(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except NotImplementedError as error:
                if not exploring() or not _raised_by(func, error):
                    raise  # an answered exercise's own error, from deeper code, is the learner's to see
                if not warned:
                    print(f"explore mode: {func.__name__} is not written yet, so the library's reference ran instead")
                    warned.append(True)
                return reference(*args, **kwargs)

        run.reference = reference
        return run

    return mark


def _raised_by(func: Callable, error: BaseException) -> bool:
    """True when ``func``'s own body raised ``error`` (the released ``raise NotImplementedError()``)."""
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code is func.__code__

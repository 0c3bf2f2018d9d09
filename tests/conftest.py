"""Shared fixtures of the test suite; nothing here does work at import time.

Fixtures (names are stable: other test modules rely on them)

- ``digits``: ``load_digits()``, the 1,797 embedded digits (session).
- ``course``: ``course_split()``, the course's ``(pool, test)`` split, 1,348 and 449 digits (session);
  ``course_pool`` and ``course_test`` are its two parts.
- ``small_pool``: the first 300 digits of the course pool, a Dataset (session); ``small_pool.X`` is (300, 64).
- ``displayed``: captures what IPython would display: a list that every ``IPython.display.display(obj)``
  appends ``obj`` to, with ``DCAI_STATIC_WIDGETS=1`` set so widgets draw their static picture; printed text
  is in ``capsys`` as usual.
- ``bad_input_tally``: a ``collections.Counter`` shared by a run (``tried``, ``clear``): the bad-input
  module counts the inputs it throws and the clear errors it gets; the run prints the totals at the end
  (also with pytest-xdist, added up over the workers).

BLAS and OpenMP use one thread (``threadpoolctl``, applied before each test): the course's models are
small, and on a 2-core machine running two pytest-xdist workers more threads mostly wait for each other
(a LogisticRegression fit on the digits: 0.05 s with one thread, 3 s with two, on a busy 2-core machine).
After every test, open matplotlib figures are closed (when matplotlib was imported at all).

Hypothesis runs with the profile ``dcai``: derandomized (the same examples on every run, as CI needs),
no deadline (timings vary between machines), no example database; each test sets ``max_examples``.
"""

from __future__ import annotations

import collections
import sys

import pytest

_TALLY = pytest.StashKey[collections.Counter]()
CHROMIUM = "/usr/bin/chromium"   # Debian's Chromium, for the real-browser tests (never a downloaded browser)


# The slowest test files, slowest first. `make test` spreads whole files over the workers (--dist loadfile) in
# collection order, so starting these first keeps one long file from running alone at the end.
SLOW_FIRST = ("tests/test_nbgrader_agreement.py", "tests/test_grading_attacks.py", "tests/test_grading.py",
              "tests/test_student_notebooks.py", "notebooks/solutions/01_active_learning.ipynb",
              "notebooks/solutions/03_pruning_scaling_laws.ipynb", "notebooks/solutions/02_seals.ipynb",
              "notebooks/solutions/05_deep_active_learning.ipynb", "tests/test_book.py", "tests/test_grading_sandbox.py",
              "tests/test_handout.py", "tests/test_pool_files.py", "tests/test_distributed.py", "tests/test_browser.py")


def pytest_collection_modifyitems(config, items):
    """Run the slowest files first (a stable sort: the order inside a file, a notebook's cells, is kept)."""
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    root = config.rootpath

    def file_rank(item):
        try:
            path = item.path.relative_to(root).as_posix()
        except ValueError:
            return len(SLOW_FIRST)
        return rank.get(path, len(SLOW_FIRST))
    items.sort(key=file_rank)


def pytest_configure(config):
    from hypothesis import settings

    settings.register_profile("dcai", derandomize=True, deadline=None, database=None)
    settings.load_profile("dcai")


@pytest.fixture(scope="session")
def digits():
    from dcai_lab.data import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def course():
    from dcai_lab.data import course_split

    return course_split()


@pytest.fixture(scope="session")
def course_pool(course):
    return course[0]


@pytest.fixture(scope="session")
def course_test(course):
    return course[1]


@pytest.fixture(scope="session")
def small_pool(course_pool):
    import numpy as np

    return course_pool.subset(np.arange(300), name="digits-pool-300")


@pytest.fixture
def displayed(monkeypatch) -> list:
    """What ``IPython.display.display`` was called with, in order (static widgets on)."""
    import IPython.display

    shown: list = []
    monkeypatch.setenv("DCAI_STATIC_WIDGETS", "1")
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kwargs: shown.extend(objs))
    return shown


_LIMITED: set = set()  # the thread pools (BLAS, OpenMP) already limited in this process
_POOLS = ("numpy", "scipy", "sklearn", "faiss", "torch")


@pytest.fixture(autouse=True)
def _one_thread():
    """One BLAS / OpenMP thread; re-applied when a test has loaded another library (threadpoolctl limits only
    the libraries loaded when it is called)."""
    loaded = {name for name in _POOLS if name in sys.modules}
    if loaded - _LIMITED:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # for the rest of this process
        _LIMITED.update(loaded)
    yield


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


# --------------------------------------------------------------------------- the bad-input tally


@pytest.fixture(scope="session")
def bad_input_tally(pytestconfig) -> collections.Counter:
    return pytestconfig.stash.setdefault(_TALLY, collections.Counter())


def pytest_sessionfinish(session):
    """A pytest-xdist worker sends its tally to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["bad_input_tally"] = dict(session.config.stash.get(_TALLY, collections.Counter()))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller adds up its workers' tallies (pytest-xdist only)."""
    tally = node.config.stash.setdefault(_TALLY, collections.Counter())
    tally.update(getattr(node, "workeroutput", {}).get("bad_input_tally", {}))


def pytest_terminal_summary(terminalreporter, config):
    tally = config.stash.get(_TALLY, None)
    if tally and tally.get("tried"):
        terminalreporter.write_sep("-", "bad inputs")
        terminalreporter.write_line(f"bad inputs tried: {tally['tried']}, clear errors (ValueError or TypeError "
                                    f"naming the argument): {tally['clear']}, functions covered: "
                                    f"{tally.get('functions', 0)}")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright, one per test module (tests that use it skip without it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"])
        try:
            yield chromium
        finally:
            chromium.close()

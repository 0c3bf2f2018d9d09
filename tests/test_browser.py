"""The widgets in a real JupyterLab, driven by headless Chromium through Playwright.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it). Playwright
drives that browser; it never downloads one. Screenshots go to `screenshots/` (git-ignored).

One JupyterLab server (a free loopback port, a throw-away folder and config) serves one small notebook per
widget. Each test opens its notebook, runs every cell, works the controls as a student would (a slider, a
label button, the key box, Undo, Stop, a menu) and waits until the page shows the change. Two tests check
defects first seen in a browser: the neighbours explorer's round slider used to replace the chosen image, and
the labeling widget's Stop used to leave everything live and end in a 40-line traceback.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "screenshots"
TIMEOUT_MS = 60_000  # per wait; a slow shared machine may need long, a working one never waits that long

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` "
                                       "(as .ci/run does) to run the real-browser widget tests")

# One notebook per widget; the cells are run all at once.
NOTEBOOKS = {
    "labeling": [
        "from dcai_lab.data import load_digits\nfrom dcai_lab.widgets import labeling_widget\n"
        "digits = load_digits()\ntool = labeling_widget(digits.images, digits.class_names, ids=[0, 1, 2])\ntool",
        # the widget as the oracle of a function running in the background: it waits for pool ids 10 and 11
        "import ipywidgets\nanswer = ipywidgets.HTML('waiting for the oracle')\n"
        "def ask_a_person():\n"
        "    answer.value = f'oracle answered {tool([10, 11]).tolist()}, labels kept: {len(tool.labels)}'\n"
        "job = tool.run(ask_a_person)\nanswer",
    ],
    # Stop, then run the second cell again: it should show one line, not a traceback
    "labeling_stop": [
        "from dcai_lab.data import load_digits\nfrom dcai_lab.widgets import labeling_widget\n"
        "digits = load_digits()\ntool = labeling_widget(digits.images, digits.class_names)\n"
        "job = tool.run(tool, [0, 1, 2, 3])   # the widget as the oracle, in the background\ntool",
        "job.result()",
    ],
    "neighbors": [
        "from dcai_lab.data import load_digits, split\nfrom dcai_lab.knn import KnnIndex\n"
        "from dcai_lab.seals import run_seals\nfrom dcai_lab.widgets import neighbors_explorer\n"
        "_, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)\n"
        "run = run_seals(pool.X, pool.y, test.X, test.y, embeddings=pool.X, k=10, index_kind='flat',\n"
        "                initial_labeled=20, batch_size=20, n_rounds=3, progress=False)\n"
        "neighbors_explorer(pool.images, KnnIndex(pool.X), run, k=10, n_show=8, labels=pool.y)",
    ],
    "cluster": [
        "from dcai_lab.data import load_digits\nfrom dcai_lab.widgets import cluster_explorer\n"
        "digits = load_digits()\n"
        "cluster_explorer(digits.images, digits.X, n_clusters=10, keep_fraction=0.5, n_show=4, labels=digits.y)",
    ],
    "uncertainty": [
        "from dcai_lab.active import run_active_learning\nfrom dcai_lab.data import load_digits, split\n"
        "from dcai_lab.widgets import uncertainty_explorer\n"
        "_, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)\n"
        "history = run_active_learning(pool.X, pool.y, test.X, test.y, 'entropy', initial_labeled=20,\n"
        "                              batch_size=10, n_rounds=3, keep_scores=True, progress=False)\n"
        "uncertainty_explorer(history, pool.images, k=6, labels=pool.y)",
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port, serving a folder of widget notebooks; yields (url, token)."""
    folder = tmp_path_factory.mktemp("browser")
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_code_cell(c) for c in cells],
                          metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, folder / f"{name}.ipynb")
    # a throw-away user config: no news pop-up over the page, nothing written to ~/.jupyter
    config = folder / ".config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = _free_port(), "dcai-browser-test"
    env = {k: v for k, v in os.environ.items() if k != "DCAI_STATIC_WIDGETS"}  # a real front end: live widgets
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(folder / ".runtime"),
               OMP_NUM_THREADS="1")
    log = open(folder / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={folder}", f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
         f"--LabApp.workspaces_dir={folder / '.workspaces'}", "--allow-root", "--ServerApp.open_browser=False"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(folder / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.3)  # polling a server that is starting: nothing to wait for in a page yet
        yield base, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernels down
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


# JupyterLab's own state, through the app object that --LabApp.expose_app_in_browser puts on window
KERNEL_IDLE = ("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
               " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
               " return !!k && k.status === 'idle'; }")
# Start running every cell and return at once: a cell may block (a person as the oracle) until the test clicks.
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"


@pytest.fixture
def open_notebook(browser, lab):
    """Open a notebook in a fresh page and run all its cells; yields the page and screenshots it at the end."""
    pages = []

    def open_(name):
        base, token = lab
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        pages.append((name, page))
        page.goto(f"{base}/lab/tree/{name}.ipynb?reset&token={token}")
        page.wait_for_function(KERNEL_IDLE, timeout=90_000)
        page.evaluate(RUN_ALL)
        return page

    yield open_
    SHOTS.mkdir(exist_ok=True)
    for name, page in pages:  # the page as the test left it, passed or failed, once the kernel is done
        try:
            page.wait_for_function(KERNEL_IDLE, timeout=15_000)
        except Exception:  # noqa: BLE001 (a failed test's page may never get idle; take the picture anyway)
            pass
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        page.close()


def _shows(page, selector: str, text: str) -> None:
    """Wait until the element ``selector`` contains ``text`` (the kernel has answered a click)."""
    page.wait_for_function("([sel, text]) => { const el = document.querySelector(sel);"
                           " return !!el && el.innerText.includes(text); }", arg=[selector, text])


def _image_src(page, selector: str) -> str:
    return page.locator(f"{selector} img").first.get_attribute("src")


def _run_cell(page, index: int) -> None:
    """Run one cell of the open notebook again, as a student pressing Shift+Enter in it would."""
    page.evaluate("([i]) => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = i;"
                  " window.jupyterapp.commands.execute('notebook:run-cell'); }", [index])


CELL_OUTPUT = "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].outputArea.node.innerText"


def _cell_output(page, index: int, waiting_for: str) -> str:
    """The text of a cell's output, once it contains ``waiting_for``."""
    page.wait_for_function(f"([i, text]) => ({CELL_OUTPUT})(i).includes(text)", arg=[index, waiting_for])
    return page.evaluate(CELL_OUTPUT, index)


def _press_slider(page, selector: str, key: str) -> None:
    """Move a slider one step with the keyboard, as a student tabbing to it would."""
    handle = page.locator(f"{selector} .noUi-handle").first
    handle.focus()
    handle.press(key)


def test_labeling_widget_buttons_keys_undo_and_oracle(open_notebook):
    page = open_notebook("labeling")
    box = ".dcai-labeling"
    # the first cell queued 0, 1, 2; the second's background oracle (waiting for a person) queued 10 and 11
    _shows(page, box, "pool id 0: which class is this?")
    _shows(page, box, "labeled 0, waiting 5")
    page.locator(box).get_by_role("button", name="0 [0]", exact=True).click()
    _shows(page, box, "last: pool id 0 = 0")
    # the key box: type class 7's key, then take that label back with Undo
    page.locator(f"{box} input[type=text]").press("7")
    _shows(page, box, "last: pool id 1 = 7")
    assert page.locator(f"{box} input[type=text]").input_value() == ""  # cleared for the next key
    page.locator(box).get_by_role("button", name="Undo").click()
    _shows(page, box, "labeled 1, waiting 4")
    _shows(page, box, "pool id 1: which class is this?")
    # label the rest: pool ids 1 and 2, then 10 and 11, which the background oracle is waiting for
    for n, key in enumerate("1234", start=2):
        page.locator(box).get_by_role("button", name=f"{key} [{key}]", exact=True).click()
        _shows(page, box, f"labeled {n}, waiting {4 - (n - 1)}")
    _shows(page, "body", "oracle answered [3, 4], labels kept: 5")
    _shows(page, box, "nothing to label")
    assert page.locator(box).get_by_role("button", name="5 [5]", exact=True).is_disabled()


def test_cluster_explorer_slider_moves_the_cut(open_notebook):
    page = open_notebook("cluster")
    box = ".dcai-cluster-explorer"
    _shows(page, box, "keeping the hard 50% of all 1797 examples")
    before = _image_src(page, box)
    _press_slider(page, box, "ArrowRight")  # keep 55%
    _shows(page, box, "keeping the hard 55% of all 1797 examples")
    page.wait_for_function("([sel, before]) => document.querySelector(sel + ' img').src !== before",
                           arg=[box, before])
    # another cluster from the menu
    before = _image_src(page, box)
    page.locator(f"{box} select").select_option(label=page.locator(f"{box} select option").nth(3).inner_text())
    _shows(page, box, "cluster 3:")
    page.wait_for_function("([sel, before]) => document.querySelector(sel + ' img').src !== before",
                           arg=[box, before])


def test_uncertainty_explorer_slider_changes_round(open_notebook):
    page = open_notebook("uncertainty")
    box = ".dcai-uncertainty-explorer"
    _shows(page, box, "round 0: 20 labels")
    before = _image_src(page, box)
    _press_slider(page, box, "ArrowRight")
    _shows(page, box, "round 1: 30 labels")
    page.wait_for_function("([sel, before]) => document.querySelector(sel + ' img').src !== before",
                           arg=[box, before])
    before = _image_src(page, box)
    page.locator(f"{box} select").select_option("margin")
    _shows(page, box, "margin median")
    page.wait_for_function("([sel, before]) => document.querySelector(sel + ' img').src !== before",
                           arg=[box, before])


def test_labeling_stop_is_visible_and_the_next_cell_shows_one_line(open_notebook):
    from playwright.sync_api import expect

    page = open_notebook("labeling_stop")
    box = ".dcai-labeling"
    _shows(page, box, "pool id 0: which class is this?")
    _cell_output(page, 1, "still running: 4 items wait for a label")  # the result asked for too early
    for key in "01":
        page.locator(box).get_by_role("button", name=f"{key} [{key}]", exact=True).click()
    _shows(page, box, "labeled 2, waiting 2")
    page.locator(box).get_by_role("button", name="Stop").click()
    _shows(page, box, "stopped: 2 labels kept")
    for name in ("0 [0]", "9 [9]"):
        expect(page.locator(box).get_by_role("button", name=name, exact=True)).to_be_disabled()
    for name in ("Stop", "Undo"):  # their names start with an icon
        expect(page.locator(box).get_by_role("button", name=name)).to_be_disabled()
    expect(page.locator(f"{box} input[type=text]")).to_be_disabled()
    _run_cell(page, 1)
    assert _cell_output(page, 1, "LabelingStopped").strip() == \
        "LabelingStopped: labeling stopped after 2 labels; they are kept in .labels"


def test_neighbors_slider_keeps_the_chosen_image_and_the_class_filter(open_notebook):
    page = open_notebook("neighbors")
    box, menu = ".dcai-neighbors-explorer", ".dcai-neighbors-explorer .dcai-point-menu select"
    _shows(page, box, "round 3: 80 labeled")
    assert page.locator(f"{menu} option").count() == 80
    chosen = page.locator(f"{menu} option").nth(4).inner_text()   # a starting label: labeled at every round
    page.locator(menu).select_option(label=chosen)
    pool_id = chosen.split()[0][1:]
    _shows(page, box, f"labeled image {pool_id}:")
    before = _image_src(page, box)
    _press_slider(page, box, "ArrowLeft")                            # round 2: the image is still labeled
    _shows(page, box, "round 2: 60 labeled")
    assert f"labeled image {pool_id}:" in page.locator(box).inner_text()
    assert page.locator(menu).evaluate("el => el.options[el.selectedIndex].text") == chosen
    assert page.locator(f"{menu} option").count() == 60
    page.wait_for_function("([sel, before]) => document.querySelector(sel + ' img').src !== before",
                           arg=[box, before])
    # the class menu lists only that class's labeled images
    page.locator(f"{box} .dcai-class-menu select").select_option(label="class 3")
    _shows(page, box, "labeled (")
    page.wait_for_function("([sel]) => { const o = [...document.querySelectorAll(sel + ' option')];"
                           " return o.length > 0 && o.every(x => x.text.endsWith('(3)')); }", arg=[menu])
    shown = page.locator(menu).evaluate("el => el.options[el.selectedIndex].text")
    assert shown.endswith("(3)")
    _shows(page, box, f"labeled image {shown.split()[0][1:]}:")

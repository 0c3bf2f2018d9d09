"""The widgets in a real JupyterLab, driven by headless Chromium through Playwright.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs it). Playwright
drives that browser; it never downloads one. Screenshots go to `screenshots/` (git-ignored).
"""

import os
import shutil
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

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` "
                                       "(as .ci/run does) to run the real-browser widget tests")

# One notebook per widget; each cell list ends with the widget on screen.
NOTEBOOKS = {
    "labeling": [
        "import numpy as np\nfrom dcai_lab.data import load_digits\nfrom dcai_lab.labeling import labeling_widget\n"
        "digits = load_digits()\ntool = labeling_widget(digits.images, digits.class_names, ids=[0, 1, 2])\ntool",
        # the widget as a blocking oracle: this cell waits until the two items are labeled
        "answers = tool([10, 11])\nprint('oracle answered', answers.tolist())",
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port, serving a folder of widget notebooks."""
    folder = tmp_path_factory.mktemp("browser")
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_code_cell(c) for c in cells],
                          metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, folder / f"{name}.ipynb")
    port, token = _free_port(), "dcai-browser-test"
    env = {k: v for k, v in os.environ.items() if k != "DCAI_STATIC_WIDGETS"}  # a real front end: live widgets
    env["JUPYTER_RUNTIME_DIR"] = str(folder / ".runtime")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True", "--allow-root",
         "--LabApp.news_url=None", "--ServerApp.check_update=False"],
        cwd=folder, env=env, stdout=open(folder / "lab.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(folder / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.3)
    yield base, token
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


KERNEL_IDLE = ("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
               " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
               " return k && k.status === 'idle'; }")


def _open_and_run(browser, lab, name):
    base, token = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/lab/tree/{name}.ipynb?token={token}")
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def _shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_labeling_widget_buttons_and_oracle(browser, lab):
    page = _open_and_run(browser, lab, "labeling")
    status = page.locator(".dcai-labeling .widget-html").first
    status.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('.dcai-labeling').innerText.includes('pool id 0')")
    page.get_by_role("button", name="0 [0]").first.click()
    page.wait_for_function("() => document.querySelector('.dcai-labeling').innerText.includes('last: pool id 0 = 0')")
    # keyboard: type the key for class 1 in the key box
    page.locator(".dcai-labeling input[type=text]").first.fill("1")
    page.wait_for_function("() => document.querySelector('.dcai-labeling').innerText.includes('last: pool id 1 = 1')")
    page.get_by_role("button", name="Undo").first.click()
    page.wait_for_function("() => document.querySelector('.dcai-labeling').innerText.includes('labeled 1, waiting 2')")
    _shot(page, "labeling")
    # The second cell is blocked in tool([10, 11]) until a person answers: label the queue through to 10 and 11.
    for key in ["1", "2", "3", "4"]:  # items 1 and 2 (still queued), then 10 and 11
        page.get_by_role("button", name=f"{key} [{key}]").first.click()
        page.wait_for_timeout(300)
    page.wait_for_function("() => document.body.innerText.includes('oracle answered [3, 4]')", timeout=30_000)
    _shot(page, "labeling-oracle")
    page.close()

"""`make lab` really serves the course: start it on a free loopback port and ask for notebook 00."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_make_lab_serves_the_welcome_notebook(tmp_path):
    port, token = _free_port(), "dcai-test-token"
    args = f"--no-browser --port {port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body = _get(f"{base}/api/contents/00_welcome.ipynb?token={token}")
                break
            except OSError:
                if lab.poll() is not None or time.monotonic() > deadline:
                    output = lab.stdout.read().decode(errors="replace") if lab.poll() is not None else ""
                    raise AssertionError(f"`make lab` did not serve the notebook on port {port}:\n{output[-3000:]}")
                time.sleep(0.5)
        notebook = json.loads(body)
        assert status == 200 and notebook["type"] == "notebook"
        assert notebook["content"]["cells"][0]["source"].startswith("# 00 · Welcome to dcai-lab")
        status, page = _get(f"{base}/lab/tree/00_welcome.ipynb?token={token}")
        assert status == 200 and b"JupyterLab" in page
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)

"""The sandbox of a graded kernel, seen from inside: what a student's notebook can reach, and its limits.

One kernel is started as the grader starts it (bubblewrap, the default limits but a small memory limit) and
runs a notebook that reports what it sees; the tests read that report.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from dcai_lab.course.runner import run_graded
from dcai_lab.course.sandbox import SANDBOX_UIDS, GradingKernelManager, Limits

ROOT = Path(__file__).resolve().parents[1]
PROBE = r"""
import json, os, resource, socket, sys
def attempt(action):
    try:
        action()
        return "allowed"
    except Exception as exc:
        return type(exc).__name__
def write(path):
    with open(path, "a") as f:
        f.write("")
def connect():
    socket.create_connection(("1.1.1.1", 53), timeout=3)
report = {
    "uid": os.getuid(), "pid": os.getpid(), "cwd": os.getcwd(), "root": sorted(os.listdir("/")),
    "kit": sorted(os.listdir(KIT)), "env": sorted(os.environ), "grading": os.environ.get("DCAI_GRADING"),
    "tmp": sorted(os.listdir("/tmp")),
    "network": attempt(connect),
    "write_kit": attempt(lambda: write(os.path.join(KIT, "dcai_lab", "__init__.py"))),
    "write_venv": attempt(lambda: write(os.path.join(sys.prefix, "pyvenv.cfg"))),
    "read_only": [bool(os.statvfs(p).f_flag & os.ST_RDONLY)
                  for p in (os.path.join(KIT, "dcai_lab"), sys.prefix, "/usr")],
    "write_cwd": attempt(lambda: write("scratch.txt")),
    "write_tmp": attempt(lambda: write("/tmp/scratch.txt")),
    "read_solutions": attempt(lambda: open(os.path.join(KIT, "notebooks", "solutions", "00_welcome.ipynb")).read()),
    "limits": {name: resource.getrlimit(getattr(resource, name))[0]
               for name in ("RLIMIT_DATA", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC")},
    "big_file": attempt(lambda: open("big.bin", "wb").write(b"x" * (3 * 2**20))),
    "big_memory": attempt(lambda: bytearray(2 * 2**30)),
}
print(json.dumps(report))
"""


MARKER = Path("/tmp") / f"dcai-sandbox-marker-{os.getpid()}"


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sandbox")
    MARKER.write_text("the machine's /tmp")
    work, conn = tmp / "work", tmp / "conn"
    work.mkdir()
    conn.mkdir(mode=0o700)
    (work / "data.txt").write_text("the student's own file")
    os.environ["DCAI_SECRET_OF_THE_GRADER"] = "leaked"
    try:
        km = GradingKernelManager(work, conn, sandbox=True, uid=SANDBOX_UIDS[7],
                                  limits=Limits(memory=1536 * 2**20, file_size=2 * 2**20))
        nb = new_notebook(cells=[new_code_cell(f"KIT = {str(ROOT)!r}\n" + PROBE)],
                          metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}})
        run = run_graded(nb, km, {}, None, cell_timeout=120, notebook_timeout=300)
    finally:
        del os.environ["DCAI_SECRET_OF_THE_GRADER"]
        MARKER.unlink()
    assert run.replies[0]["status"] == "ok", run.replies
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1]), work


def test_the_kernel_runs_as_an_unprivileged_user_in_its_own_process_tree(seen):
    report, _ = seen
    if os.geteuid() == 0:
        assert report["uid"] == SANDBOX_UIDS[7]
    else:
        assert report["uid"] == os.getuid()
    assert report["pid"] < 10  # a PID namespace: the kernel is among its first processes


def test_the_kernel_sees_the_kit_library_but_not_its_notebooks_tests_or_other_folders(seen):
    report, work = seen
    assert report["cwd"] == str(work)
    assert "dcai_lab" in report["kit"] and "data" in report["kit"]
    assert not {"notebooks", "tests", "README.md", "INSTRUCTORS.md"} & set(report["kit"])
    assert report["read_solutions"] == "FileNotFoundError"
    assert not {"home", "var", "mnt", "srv", "boot"} & set(report["root"])  # only what the kernel needs is there


def test_no_network_and_everything_read_only_but_the_copy_and_tmp(seen):
    report, work = seen
    assert report["network"] in ("OSError", "gaierror", "ConnectionRefusedError", "TimeoutError")
    assert report["read_only"] == [True, True, True]  # mounted read-only, whatever the file permissions
    assert {report["write_kit"], report["write_venv"]} <= {"OSError", "PermissionError"}
    assert report["write_cwd"] == "allowed" and report["write_tmp"] == "allowed"
    assert (work / "scratch.txt").exists()


def test_the_tmp_folder_is_private(seen):
    report, work = seen
    # /tmp holds the kernel's own files and the way to its copy of the submission, nothing of the machine's
    # (and the kit and its venv, mounted read-only at their own paths, when they live under /tmp themselves)
    assert MARKER.name not in report["tmp"]
    mounted = {Path(p).resolve().relative_to("/tmp").parts[0] for p in (ROOT, sys.prefix)
               if Path(p).resolve().is_relative_to("/tmp")}
    assert set(report["tmp"]) <= {work.relative_to("/tmp").parts[0], "home"} | mounted | {
        n for n in report["tmp"] if n.startswith("ipykernel_")}


def test_the_environment_is_rebuilt_and_grading_is_on(seen):
    report, _ = seen
    assert "DCAI_SECRET_OF_THE_GRADER" not in report["env"] and report["grading"] == "1"
    assert "JPY_PARENT_PID" not in report["env"]


def test_the_limits_apply(seen):
    report, _ = seen
    assert report["limits"]["RLIMIT_DATA"] == 1536 * 2**20 and report["limits"]["RLIMIT_FSIZE"] == 2 * 2**20
    assert report["limits"]["RLIMIT_CPU"] == Limits().cpu_seconds
    assert report["limits"]["RLIMIT_NPROC"] == Limits().processes
    assert report["big_file"] == "OSError" and report["big_memory"] == "MemoryError"


def test_the_launcher_passes_ipykernels_own_options_on(tmp_path):
    """nbclient adds an ipykernel option (the history file) that the kernel launcher hands on, once."""
    code = ("import os, json\nimport dcai_lab.course.kernel_launcher as launcher\n"
            "os.execv = lambda path, argv: print(json.dumps(argv))\n"
            f"launcher.main(['--memory', str(2**33), '--cpu-seconds', '600', '--file-size', str(2**30), "
            f"'-f', {str(tmp_path / 'k.json')!r}, '--HistoryManager.hist_file=:memory:'])")
    env = {"PATH": "/usr/bin:/bin", **{name: str(tmp_path / name) for name in ("HOME", "MPLCONFIGDIR", "IPYTHONDIR")}}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    argv = json.loads(done.stdout)
    assert argv[:5] == [sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "k.json")], done.stderr
    assert argv.count("--HistoryManager.hist_file=:memory:") == 1

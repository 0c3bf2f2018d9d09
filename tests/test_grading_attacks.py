"""The attack suite: a class of one submission per attack (tests/attacks/catalog.py), between two honest students.

All of them are graded in one run (two at a time, every kernel in the sandbox), as an instructor would. Each
attack must get the score it deserves; the honest students, graded before and after it, keep theirs and their
files; nothing outside a submission's temporary copy changes (the instructor's notebooks, the virtual
environment, the CSV); nothing a notebook started is still running after the run.
"""

import csv
import hashlib
import subprocess
import time
from pathlib import Path

import nbformat
import nbgrader
import pytest

from attacks import course
from attacks.catalog import ATTACKS, Context
from dcai_lab.course.grading import Options, grade
from dcai_lab.course.sandbox import Limits

HONEST = ("aaa_honest", "zzz_honest")


def _digest(path: Path) -> str:
    if not path.exists():
        return "absent"
    if path.is_dir():
        return hashlib.sha256("".join(_digest(p) for p in sorted(path.rglob("*")) if p.is_file()).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    source_dir, release_dir, released = course.build(tmp)
    subs, out = tmp / "subs", tmp / "out"
    out.mkdir()
    ctx = Context(subs, source_dir, release_dir, out / "grades.csv", released)
    for name in HONEST:
        course.write(subs / name, course.answered(released, course.ANSWERS))
    for attack in ATTACKS:
        attack.build(ctx, subs / attack.name)
    site = Path(nbgrader.__file__).parents[1]
    guarded = [subs / name for name in HONEST] + [source_dir, release_dir, Path(nbgrader.__file__),
                                                  site / "dcai_attack_poison.py"]
    before = {p: _digest(p) for p in guarded}
    ctx.grades.write_text("student,total\nlast_week,1\n")
    options = Options(cell_timeout=10, notebook_timeout=45, keep_executed=tmp / "executed",
                      limits=Limits(memory=1536 * 2**20, processes=64))
    started = time.monotonic()
    rows = grade(subs, source_dir, ctx.grades, options, jobs=2, feedback_dir=out / "feedback")
    seconds = time.monotonic() - started
    time.sleep(1)
    with open(ctx.grades) as f:
        written = {row["student"]: row for row in csv.DictReader(f)}
    return {"rows": {r["student"]: r for r in rows}, "csv": written, "before": before,
            "after": {p: _digest(p) for p in guarded}, "tmp": tmp, "out": out, "seconds": seconds}


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_each_attack_gets_the_score_it_deserves(attacked, attack):
    row = attacked["rows"][attack.name]
    assert row["total"] == attack.deserved, (attack.what, row["problems"])
    if attack.review is not None:
        assert attack.review in row["review"], (attack.what, row["review"])


def test_honest_students_graded_around_the_attacks_keep_their_scores_and_files(attacked):
    for name in HONEST:
        row = attacked["rows"][name]
        assert (row["total"], row["max_total"], row["review"]) == (6, 8, ""), row["problems"]
        assert row["needs_manual_grading"] == "hw.ipynb:explain (2 points)"
    assert attacked["before"] == attacked["after"], "a file outside the submissions' copies changed"


def test_the_csv_holds_every_student_and_only_the_grader_wrote_it(attacked):
    written = attacked["csv"]
    assert sorted(written) == sorted([*HONEST, *(a.name for a in ATTACKS)])
    assert "forger" not in written and "last_week" not in written
    assert float(written["csv_forging"]["total"]) == 0
    assert not list(attacked["out"].glob("*.partial")) and not list(attacked["out"].glob(".*.tmp"))


def test_nothing_a_notebook_started_is_still_running(attacked):
    running = subprocess.run(["ps", "-eo", "args", "-ww"], capture_output=True, text=True).stdout
    assert "dcai-attack-detached" not in running
    assert "ipykernel_launcher -f " + str(attacked["tmp"]) not in running


def test_the_limits_stopped_the_bombs(attacked):
    executed = attacked["tmp"] / "executed"

    def printed(student):
        nb = nbformat.read(executed / student / course.NAME, 4)
        return "".join(o.get("text", "") for o in nb.cells[0].get("outputs", []))

    assert "stopped at" in printed("memory_bomb") and "stopped after" in printed("fork_bomb")
    assert int(printed("memory_bomb").split()[2]) < 2000
    assert int(printed("fork_bomb").split()[2]) < 100
    assert "refused" in printed("poison_environment") and "wrote" not in printed("poison_environment")
    assert printed("sabotage_classmates").count("refused") == 2
    flood = nbformat.read(executed / "output_flood" / course.NAME, 4).cells[0]
    assert sum(len(o.get("text", "")) for o in flood.outputs) < 3 * 2**20


def test_refused_files_and_stopped_notebooks_are_named(attacked):
    rows = attacked["rows"]
    assert "hw.ipynb: a FIFO (named pipe): refused" in rows["fifo"]["problems"]
    assert "hw.ipynb: a symbolic link: refused" in rows["symlink_solution"]["problems"]
    assert "hw.ipynb: not submitted" in rows["symlink_solution"]["problems"]
    assert "was still running after the notebook's 45 s" in rows["stubborn_loop"]["problems"]
    assert "the kernel" in rows["kernel_exit"]["problems"] and "died" in rows["kernel_exit"]["problems"]
    assert rows["markdown_test_cell"]["hw.ipynb:keep_hard_tests"] == 2
    assert "cell 1 ('import sys') printed more than 2 MB: interrupted" in rows["output_flood"]["problems"]


def test_feedback_never_shows_hidden_test_code(attacked):
    hidden = ["default_rng(0).dirichlet", "pool_big", "pruning.select(s, 0.3"]
    for page in (attacked["out"] / "feedback").iterdir():
        text = page.read_text()
        assert not any(line in text for line in hidden), page.name
    report = (attacked["out"] / "feedback" / "numpy_patched.md").read_text()
    assert "tamper" in report and "0 / 6" not in report and "**Total: 0 / 8 points**" in report

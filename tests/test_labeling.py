import time

import numpy as np
import pytest

from dcai_lab.active import LoopStopped, run_active_learning
from dcai_lab.data import load_digits, split
from dcai_lab.labeling import LabelingStopped, LabelingWidget, labeling_widget

IMAGES = np.arange(6 * 8 * 8, dtype=np.uint8).reshape(6, 8, 8)
NAMES = ["zero", "one", "two"]


def test_buttons_keys_and_undo_record_labels():
    tool = labeling_widget(IMAGES, NAMES, ids=[4, 2, 5])
    ui = tool.widget()
    assert tool.current == 4 and "pool id 4" in tool._ui["status"].value
    tool._ui["buttons"][2].click()                  # a button
    tool._ui["key"].value = "1"                     # a key typed in the key box
    assert tool.labels == {4: 2, 2: 1} and tool.current == 5 and tool._ui["key"].value == ""
    tool._ui["undo"].click()
    assert tool.labels == {4: 2} and tool.current == 2
    tool._ui["key"].value = "x"                     # not a key: ignored
    tool.label("two")
    tool.label(0)
    assert tool.labels == {4: 2, 2: 2, 5: 0} and tool.current is None
    assert all(b.disabled for b in tool._ui["buttons"]) and "labeled 3, waiting 0" in tool._ui["status"].value
    assert ui is tool.widget()


def test_oracle_returns_labels_in_order_and_keeps_them(monkeypatch):
    tool = LabelingWidget(IMAGES, NAMES)
    answers = iter([1, 0, 2])

    def person_clicks(done):
        while not done():
            tool.label(next(answers))
    monkeypatch.setattr(tool, "_wait_until", person_clicks)
    assert tool([3, 0, 1]).tolist() == [1, 0, 2]
    # asking again for labeled ids needs no clicks
    assert tool([0, 3]).tolist() == [0, 1]


def test_stop_keeps_the_labels_given(monkeypatch):
    tool = LabelingWidget(IMAGES, NAMES)

    def label_one_then_stop(done):
        tool.label(2)
        tool.stop()
    monkeypatch.setattr(tool, "_wait_until", label_one_then_stop)
    with pytest.raises(LabelingStopped) as stopped:
        tool([1, 2])
    assert stopped.value.labels == {1: 2} == tool.labels


def test_waiting_in_the_main_thread_is_refused_with_what_to_do():
    tool = LabelingWidget(IMAGES, NAMES)
    with pytest.raises(RuntimeError, match=r"tool\.run\(loop"):
        tool([0])
    assert tool.queue == [0] and tool.labels == {}  # the item stays queued for a later run


def _wait_for(condition, seconds=20.0):
    """Poll until the background thread has reached a state (a person watching the screen)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background loop never asked for labels"
        time.sleep(0.01)


def test_a_person_is_the_oracle_of_the_active_learning_loop():
    _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    truth = run_active_learning(pool.X, pool.y, test.X, test.y, "margin", initial_labeled=20,
                                batch_size=5, n_rounds=2, progress=False)
    tool = labeling_widget(pool.images, pool.class_names)
    job = tool.run(run_active_learning, pool.X, None, test.X, test.y, "margin", initial_labeled=20,
                   batch_size=5, n_rounds=2, oracle=tool, progress=False, classes=np.arange(10))
    given = 0
    while given < 20 + 2 * 5:
        _wait_for(lambda: tool.current is not None or job.done())
        assert not job.done(), job.result()
        if given == 3:                      # a slip, taken back with Undo
            tool.label((pool.y[tool.current] + 1) % 10)
            tool.undo()
        tool.label(int(pool.y[tool.current]))
        given += 1
    history = job.result(timeout=30)
    assert history.n_labeled == truth.n_labeled and history.accuracy == truth.accuracy
    assert history.labeled_ids.tolist() == truth.labeled_ids.tolist() == list(tool.labels)
    assert [tool.labels[i] for i in history.labeled_ids] == pool.y[history.labeled_ids].tolist()


def test_stop_ends_the_loop_and_keeps_every_label():
    _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    tool = labeling_widget(pool.images, pool.class_names)
    job = tool.run(run_active_learning, pool.X, None, test.X, test.y, initial_labeled=12, batch_size=4,
                   n_rounds=3, oracle=tool, progress=False, classes=np.arange(10))
    with pytest.raises(RuntimeError, match="still running: 12 items wait for a label"):
        _wait_for(lambda: len(tool.queue) == 12)
        job.result()
    for _ in range(12 + 2):                 # the initial labels, then half of round 0's batch
        _wait_for(lambda: tool.current is not None)
        tool.label(int(pool.y[tool.current]))
    tool.stop()
    with pytest.raises(LoopStopped) as stopped:
        job.result(timeout=30)
    assert isinstance(stopped.value.__cause__, LabelingStopped)
    assert len(stopped.value.history) == 1 and len(stopped.value.history.labels) == 12
    assert len(tool.labels) == 14          # the two labels of the unfinished batch are kept too


def test_answers_name_what_is_missing():
    tool = labeling_widget(IMAGES, NAMES, ids=[1, 2])
    tool.label(2)
    assert tool.answers([1]).tolist() == [2]
    with pytest.raises(ValueError, match=r"1 of the 2 items have no label yet \(pool ids \[2\]\)"):
        tool.answers([1, 2])


@pytest.mark.parametrize("call, message", [
    (lambda t: t.label(0), "nothing to label"),
    (lambda t: t.ask([6]), "outside the 6 images"),
    (lambda t: (t.ask([0]), t.label("three")), "unknown class 'three'"),
    (lambda t: (t.ask([0]), t.label(3)), r"in 0\.\.2"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call(LabelingWidget(IMAGES, NAMES))


def test_bad_construction():
    with pytest.raises(ValueError, match="one distinct key per class"):
        LabelingWidget(IMAGES, NAMES, keys="aa")
    with pytest.raises(ValueError, match="at least two"):
        LabelingWidget(IMAGES, ["only"])

"""The labeling widget (dcai_lab.widgets.labeling): buttons, keys, Undo, Stop, the oracle of a loop, bad input.

The last tests run a real IPython kernel (nbclient) to check what a notebook shows after Stop.
"""

import time

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from dcai_lab.active import run_active_learning
from dcai_lab.data import load_digits, split
from dcai_lab.history import LoopStopped
from dcai_lab.widgets import LabelingStopped, LabelingWidget, labeling_widget

IMAGES = np.arange(6 * 8 * 8, dtype=np.uint8).reshape(6, 8, 8)
NAMES = ["zero", "one", "two"]


@pytest.fixture(scope="module")
def digits_split():
    """The digits: (pool, test) of a 75/25 split."""
    _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    return pool, test


def ui_of(tool):
    """The widget's controls (built on first use)."""
    tool.widget()
    return tool._ui


def _wait_for(condition, seconds=20.0):
    """Poll until the background thread has reached a state (a person watching the screen)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background loop never reached the state waited for"
        time.sleep(0.01)


def test_buttons_keys_and_undo_record_labels():
    tool = labeling_widget(IMAGES, NAMES, ids=[4, 2, 5])
    ui = ui_of(tool)
    assert tool.current == 4 and "pool id 4" in ui["status"].value
    ui["buttons"][2].click()                  # a button
    ui["key"].value = "1"                     # a key typed in the key box
    assert tool.labels == {4: 2, 2: 1} and tool.current == 5 and ui["key"].value == ""
    ui["undo"].click()
    assert tool.labels == {4: 2} and tool.current == 2
    ui["key"].value = "x"                     # not a key: ignored
    tool.label("two")
    tool.label(0)
    assert tool.labels == {4: 2, 2: 2, 5: 0} and tool.current is None
    assert all(b.disabled for b in ui["buttons"]) and ui["key"].disabled
    assert "nothing to label" in ui["status"].value and "labeled 3, waiting 0" in ui["status"].value
    assert not ui["stop"].disabled and ui["box"] is tool.widget()


def test_the_image_shows_dark_ink_on_white_and_float_images_too():
    from io import BytesIO

    from PIL import Image

    ink = np.zeros((1, 8, 8), np.uint8)
    ink[0, 2:6, 3] = 255                      # a white stroke in the data: dark on screen
    for images in (ink, ink / 255.0):
        tool = labeling_widget(images, NAMES, ids=[0])
        shown = np.asarray(Image.open(BytesIO(ui_of(tool)["image"].value)))
        assert shown.shape == (160, 160) and shown[0, 0] == 255 and shown[2 * 20 + 5, 3 * 20 + 5] == 0


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
    with pytest.raises(LabelingStopped, match="labeling stopped after 1 label; they are kept") as stopped:
        tool([1, 2])
    assert stopped.value.labels == {1: 2} == tool.labels


def test_stop_is_visible_until_ask_queues_new_items():
    tool = labeling_widget(IMAGES, NAMES, ids=[0, 1, 2])
    ui = ui_of(tool)
    tool.label(1)
    tool.label(2)
    ui["stop"].click()
    assert tool.stopped and tool.queue == [] and tool.labels == {0: 1, 1: 2}
    assert ui["status"].value.startswith("<b>stopped</b>: 2 labels kept")
    assert all(b.disabled for b in ui["buttons"]) and ui["key"].disabled
    assert ui["stop"].disabled and ui["undo"].disabled
    with pytest.raises(ValueError, match="nothing to label: labeling was stopped; ask"):
        tool.label(0)
    with pytest.raises(RuntimeError, match="labeling was stopped"):
        tool.undo()
    tool.ask([2, 3])                         # labeling goes on
    assert not tool.stopped and tool.current == 2 and "pool id 2" in ui["status"].value
    assert not any(b.disabled for b in ui["buttons"]) and not ui["key"].disabled and not ui["stop"].disabled


def test_a_stop_pressed_while_the_loop_is_busy_stops_its_next_question():
    tool = LabelingWidget(IMAGES, NAMES)
    tool.stop()                              # nothing was waiting: the loop was training
    with pytest.raises(LabelingStopped):
        tool([0])                            # the loop's next question
    assert tool.queue == []
    job = tool.run(tool, [0])                # a new run starts labeling again
    _wait_for(lambda: tool.current == 0)
    tool.label(1)
    assert job.result(timeout=10).tolist() == [1]


def test_waiting_in_the_main_thread_is_refused_with_what_to_do():
    tool = LabelingWidget(IMAGES, NAMES)
    with pytest.raises(RuntimeError, match=r"tool\.run\(loop"):
        tool([0])
    assert tool.queue == [0] and tool.labels == {}  # the item stays queued for a later run


def test_a_person_is_the_oracle_of_the_active_learning_loop(digits_split):
    pool, test = digits_split
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


def test_stop_ends_the_loop_and_keeps_every_label(digits_split):
    pool, test = digits_split
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


def test_a_class_is_an_index_a_name_or_a_key():
    tool = labeling_widget(IMAGES, NAMES, ids=[0, 1, 2, 3], keys="zot")
    tool.label(np.int64(1))
    tool.label("two")
    tool.label("z")
    assert tool.labels == {0: 1, 1: 2, 2: 0}


@pytest.mark.parametrize("label, message", [
    (-0.5, r"label must be an integer in 0\.\.2, got -0\.5 \(a class index, a class name from"),
    (1.5, r"label must be an integer in 0\.\.2, got 1\.5"),
    (1.0, r"label must be an integer in 0\.\.2, got 1\.0"),
    (True, r"label must be an integer in 0\.\.2, got True"),
    (np.bool_(False), r"label must be an integer in 0\.\.2, got .*False"),
    (3, r"label must be an integer in 0\.\.2, got 3"),
    (-1, r"label must be an integer in 0\.\.2, got -1"),
    (None, r"label must be an integer in 0\.\.2, got None"),
    ("three", r"label: unknown class 'three'; choose from \['zero', 'one', 'two'\] or keys '012'"),
])
def test_a_label_that_is_no_class_is_refused(label, message):
    tool = labeling_widget(IMAGES, NAMES, ids=[0])
    with pytest.raises(ValueError, match=message):
        tool.label(label)
    assert tool.labels == {} and tool.current == 0     # nothing recorded


@pytest.mark.parametrize("call, message", [
    (lambda t: t.label(0), "nothing to label: call ask"),
    (lambda t: t.ask([6]), r"ids must be pool ids in 0..5 .* got \[6\]"),
    (lambda t: t.ask([1.7]), "ids must be integer pool ids"),
    (lambda t: t.ask(np.ones(6, bool)), "boolean mask"),
    (lambda t: t.ask([[0, 1]]), "ids must be a 1-D array"),
    (lambda t: t.answers([-1]), r"ids must be pool ids in 0..5"),
    (lambda t: t.run(42), "function must be a function such as run_active_learning"),
    (lambda t: t.run(t, [0]).result(timeout=-1), "timeout must be a finite number >= 0"),
])
def test_bad_input(call, message):
    tool = LabelingWidget(IMAGES, NAMES)
    with pytest.raises(ValueError, match=message):
        call(tool)
    tool.stop()                              # a background oracle started by a case ends


@pytest.mark.parametrize("kw, message", [
    (dict(keys="aa"), "keys must give one distinct key per class"),
    (dict(keys=["0", "1", "2"]), "as a string"),
    (dict(class_names=["only"]), "at least two"),
    (dict(class_names="abc"), "class_names must be a list"),
    (dict(class_names=["a", "b", "a"]), "class_names must be distinct"),
    (dict(class_names=[str(c) for c in range(40)]), "more than the 36 default keys; give keys="),
    (dict(images=IMAGES.reshape(6, 64)), "images must have shape"),
    (dict(images=IMAGES[:0]), "images is empty"),
    (dict(images=IMAGES / 100.0), r"float images must be in \[0, 1\]"),
])
def test_bad_construction(kw, message):
    with pytest.raises(ValueError, match=message):
        LabelingWidget(**{"images": IMAGES, "class_names": NAMES, **kw})


# --------------------------------------------------------------------------- in a real kernel


def _run_in_a_kernel(cells: list[str]) -> list:
    """Execute the cells in a fresh IPython kernel (errors allowed); the executed cells."""
    from nbclient import NotebookClient

    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    return nb.cells


STOPPED_JOB = """
import time
import numpy as np
from dcai_lab.widgets import labeling_widget
tool = labeling_widget(np.zeros((5, 8, 8), np.uint8), ["a", "b"])
{job}
for n in range({n_labels} + 1):   # a person labels n_labels items, then presses Stop at the next one
    while tool.current is None:
        time.sleep(0.01)
    if n < {n_labels}:
        tool.label(n % 2)
tool.stop()
while not job.done():
    time.sleep(0.01)
"""


@pytest.mark.parametrize("job, n_labels, line", [
    ("job = tool.run(tool, [1, 2, 3])", 2,
     "LabelingStopped: labeling stopped after 2 labels; they are kept in .labels"),
    ("from dcai_lab.active import run_active_learning\n"
     "X = np.arange(10.0)[:, None]\n"
     "job = tool.run(run_active_learning, X[:5], None, X, np.arange(10) % 2, initial_labeled=3, batch_size=1,\n"
     "               n_rounds=2, oracle=tool, progress=False, classes=[0, 1])", 3,
     "LoopStopped: the active learning loop stopped after 1 round (LabelingStopped: labeling stopped after 3 "
     "labels; they are kept in .labels); the 3 labels obtained so far are in .history"),
])
def test_after_stop_the_next_cell_shows_one_line_not_a_traceback(job, n_labels, line):
    first, second = _run_in_a_kernel([STOPPED_JOB.format(job=job, n_labels=n_labels), "job.result()"])
    assert first.outputs == []
    (error,) = second.outputs
    assert error.output_type == "error" and error.traceback == [line]

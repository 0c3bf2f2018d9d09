import numpy as np
import pytest

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


def test_no_front_end_says_to_use_the_simulated_oracle(monkeypatch):
    monkeypatch.setenv("DCAI_STATIC_WIDGETS", "1")
    with pytest.raises(RuntimeError, match="simulated oracle"):
        LabelingWidget(IMAGES, NAMES)([0])


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

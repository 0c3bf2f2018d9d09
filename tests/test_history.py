"""Tests of dcai_lab.history: the record of a run, and LoopStopped."""

import numpy as np
import pytest

from dcai_lab.history import History, LoopStopped


def three_rounds() -> History:
    return History("entropy", 3, np.arange(2), n_labeled=[10, 20, 30], accuracy=[0.5, 0.91, 0.9],
                   selected=[np.array([1, 2]), np.array([3]), np.array([], dtype=int)],
                   seconds_selecting=[0.1, 0.2, 0.0], seconds_training=[0.3, 0.3, 0.3],
                   n_scored=[5, 4, 0], candidate_pool_size=[5, 4, 3])


def test_to_frame_and_labels_to_reach():
    h = three_rounds()
    frame = h.to_frame()
    assert frame.columns.tolist()[:10] == ["strategy", "seed", "round", "n_labeled", "accuracy", "seconds_selecting",
                                           "seconds_training", "n_scored", "candidate_pool_size", "selected"]
    assert frame["round"].tolist() == [0, 1, 2] and frame["selected"].tolist() == [[1, 2], [3], []]
    assert (frame["strategy"] == "entropy").all() and (frame["seed"] == 3).all()
    assert h.labels_to_reach(0.9) == 20 and h.labels_to_reach(0.5) == 10 and h.labels_to_reach(0.95) is None
    assert repr(h) == "History(strategy='entropy', seed=3, rounds=3, final accuracy 0.900 with 30 labels)"
    assert repr(History("margin", 0, np.arange(2))) == "History(strategy='margin', seed=0, rounds=0)"


@pytest.mark.parametrize("accuracy", [90, -0.1, np.nan, "0.9", None, True])
def test_labels_to_reach_wants_a_fraction(accuracy):
    with pytest.raises(ValueError, match=r"accuracy must be a finite number in \[0, 1\], got .* \(e\.g\. 0\.9 "
                                         r"for 90%\)"):
        three_rounds().labels_to_reach(accuracy)


def test_record_add_labels_and_keep_scores():
    h = History("random", 0, np.arange(3))
    h.record(n_labeled=2, accuracy=0.5, selected=np.array([4]), seconds_selecting=0.0, seconds_training=0.1,
             n_scored=0, candidate_pool_size=8)
    h.add_labels(np.array([4]), np.array([2]))
    h.add_labels(np.array([7, 1]), np.array([0, 1]))
    h.keep_scores(np.array([1, 2]), np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]))
    assert len(h) == 1 and h.n_labeled == [2] and h.candidate_pool_size == [8]
    assert h.labeled_ids.tolist() == [4, 7, 1] and h.labels.tolist() == [2, 0, 1]
    assert h.probs[0].dtype == np.float32 and h.scored_ids[0].tolist() == [1, 2]


def test_loop_stopped_says_how_many_rounds_and_labels_were_kept():
    h = three_rounds()
    h.add_labels(np.arange(30), np.zeros(30, dtype=int))
    stop = LoopStopped(h, RuntimeError("the labeler went home"))
    assert str(stop) == ("the active learning loop stopped after 3 rounds (RuntimeError: the labeler went home); "
                         "the 30 labels obtained so far are in .history")
    assert stop.history is h and not stop.by_person
    assert "1 round (" in str(LoopStopped(History("x", 0, np.arange(2), n_labeled=[1], accuracy=[0.5]), "a reason"))
    assert "(KeyboardInterrupt)" in str(LoopStopped(h, KeyboardInterrupt()))
    with pytest.raises(AttributeError):  # IPython then shows the usual traceback
        stop._render_traceback_()


def test_loop_stopped_by_a_person_shows_one_line():
    from dcai_lab.widgets import LabelingStopped  # what the labeling widget raises when a person presses Stop

    stop = LoopStopped(three_rounds(), LabelingStopped({3: 1, 7: 0}))
    assert stop.by_person
    assert stop._render_traceback_() == [f"LoopStopped: {stop}"]


def test_an_unimplemented_exercise_is_named_as_such():
    stop = LoopStopped(three_rounds(), NotImplementedError())
    assert "(NotImplementedError - an exercise this loop calls is not implemented yet" in str(stop)

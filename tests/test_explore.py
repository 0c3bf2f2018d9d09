"""Tests of dcai_lab.course.explore: running a student notebook before its exercises are written."""

import pytest

from dcai_lab.course.explore import exercise, explore, exploring


@pytest.fixture(autouse=True)
def explore_off(monkeypatch):
    monkeypatch.delenv("DCAI_GRADING", raising=False)
    explore(False)
    yield
    explore(False)


def unanswered():
    @exercise(reference=lambda x, scale=2: scale * x)
    def double(x, scale=2):
        """The learner's exercise, not written yet."""
        raise NotImplementedError()
    return double


def test_an_unanswered_exercise_raises_until_explore_mode_is_on(capsys):
    double = unanswered()
    with pytest.raises(NotImplementedError):
        double(21)
    explore(True)
    assert exploring()
    assert double(21) == 42 and double(5, scale=3) == 15   # the reference, with the same arguments
    out = capsys.readouterr().out
    assert out.count("explore mode: double is not written yet, so the library's reference ran instead") == 1
    assert double.__name__ == "double" and double.__doc__.startswith("The learner's exercise")
    assert double.reference(4) == 8


def test_an_answered_exercise_always_runs_the_learners_code(capsys):
    @exercise(reference=lambda x: 2 * x)
    def double(x):
        return x + x + 1  # the learner's (wrong) answer is what runs

    explore(True)
    assert double(1) == 3 and capsys.readouterr().out == ""


def test_other_errors_are_not_hidden():
    @exercise(reference=lambda x: 2 * x)
    def double(x):
        raise ValueError("a bug in the answer")

    explore(True)
    with pytest.raises(ValueError, match="a bug in the answer"):
        double(1)


def test_grading_turns_explore_mode_off(monkeypatch, capsys):
    monkeypatch.setenv("DCAI_GRADING", "1")
    explore(True)
    assert "explore mode is off while grading: unanswered exercises score 0" in capsys.readouterr().out
    assert not exploring()
    with pytest.raises(NotImplementedError):
        unanswered()(21)


def test_explore_mode_set_before_grading_does_not_apply_under_the_grader(monkeypatch):
    explore(True)
    monkeypatch.setenv("DCAI_GRADING", "1")
    assert not exploring()
    with pytest.raises(NotImplementedError):
        unanswered()(21)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_explore_takes_true_or_false(value):
    with pytest.raises(ValueError, match="explore takes True or False"):
        explore(value)


def test_a_reference_must_be_a_function():
    with pytest.raises(ValueError, match="reference must be a function, got int"):
        exercise(reference=3)


def test_an_answered_exercise_keeps_its_own_deeper_not_implemented_error():
    from dcai_lab.course.explore import exercise, explore

    def helper():
        raise NotImplementedError("a helper the learner has not written yet")

    @exercise(reference=lambda: "reference")
    def answered():
        return helper()

    explore(True)
    try:
        with pytest.raises(NotImplementedError, match="a helper the learner"):
            answered()
    finally:
        explore(False)

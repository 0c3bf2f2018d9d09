"""Tests of dcai_lab.failures (was test_engine.py): where a model fails, per class."""

import numpy as np
import pytest

from dcai_lab.failures import class_accuracy, failure_report


def test_failure_report_counts_by_hand():
    probs = np.array([[0.9, 0.1, 0.0], [0.3, 0.6, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    report = failure_report([0, 0, 1, 2, 1], probs, classes=[0, 1, 2], low_confidence=0.5)
    assert report["n"].tolist() == [2, 2, 1]
    assert report["misclassified"].tolist() == [1, 1, 0]      # item 1 (0 -> 1), item 2 (1 -> 0)
    assert report["low_confidence"].tolist() == [0, 1, 0]     # item 2: top probability 0.4
    assert report["failures"].tolist() == [1, 1, 0]
    assert report["accuracy"].tolist() == [0.5, 0.5, 1.0]


def test_failure_report_agrees_with_a_slow_reference():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=300)
    classes = np.array([3, 5, 7, 9])
    y = classes[rng.integers(0, 4, 300)]
    report = failure_report(y, probs, classes, low_confidence=0.6)
    for row in report.itertuples():
        mine = [i for i in range(300) if y[i] == row[1]]
        wrong = [i for i in mine if classes[np.argmax(probs[i])] != y[i]]
        unsure = [i for i in mine if probs[i].max() < 0.6]
        assert (row.n, row.misclassified, row.low_confidence, row.failures) == (
            len(mine), len(wrong), len(unsure), len(set(wrong) | set(unsure)))
        assert row.accuracy == pytest.approx(1 - len(wrong) / len(mine))


def test_failure_report_with_string_classes_and_an_absent_class():
    report = failure_report(["cat", "cat"], [[0.8, 0.2], [0.3, 0.7]], classes=["cat", "dog"])
    assert report["class"].tolist() == ["cat", "dog"] and report["n"].tolist() == [2, 0]
    assert report["accuracy"].iloc[0] == 0.5 and np.isnan(report["accuracy"].iloc[1])


def test_class_accuracy_different_lengths():
    with pytest.raises(ValueError, match=r"y_pred must have one label per item \(3\), got 2"):
        class_accuracy([0, 1, 1], [0, 1], classes=[0, 1])
    with pytest.raises(ValueError, match=r"y_pred must have one label per item \(2\), got 3"):
        class_accuracy([0, 1], [0, 1, 1], classes=[0, 1])


def test_class_accuracy_absent_class_is_nan():
    acc = class_accuracy([0, 0], [0, 1], classes=[0, 1])
    assert acc[0] == 0.5 and np.isnan(acc[1])


def test_labels_of_different_kinds_are_refused():
    """Regression (issue 12): numbers against strings gave accuracy 0 (or NaN for every class) without a word."""
    with pytest.raises(ValueError, match=r"y_true holds int64 labels but y_pred holds <U1: no prediction could ever"):
        class_accuracy([0, 1], ["0", "1"], classes=[0, 1])
    with pytest.raises(ValueError, match=r"y_true holds int64 labels but classes holds <U1"):
        class_accuracy([0, 1], [0, 1], classes=["0", "1"])
    with pytest.raises(ValueError, match=r"label 0 is not one of classes=\['a', 'b'\]"):
        failure_report([0, 1], [[0.5, 0.5], [0.5, 0.5]], classes=["a", "b"])


@pytest.mark.parametrize("args, kwargs, message", [
    (([0, 1], np.ones((3, 2)) / 2), {}, r"probs must have 2 rows \(one per item\), got 3"),
    (([0, 1], np.ones((2, 2)) / 2, [0, 1, 2]), {}, "2 columns but there are 3 classes"),
    (([0, 4], np.ones((2, 2)) / 2), {}, "label 4 is not one of"),
    (([0, 1], [[0.5, 0.5], [np.nan, 0.5]]), {}, r"probs must be finite \(row 1 holds NaN or infinity\)"),
    (([0, 1], [[0.5, 0.5], [0.3, 0.3]]), {}, r"rows must sum to 1 \(row 1 sums to 0.6\)"),
    (([0, 1], [[1.2, -0.2], [0.5, 0.5]]), {}, r"must be in \[0, 1\] \(row 0 holds 1.2\)"),
    (([0, 1], [0.5, 0.5]), {}, "2-D array"),
    (([0, 0], np.ones((2, 2)) / 2, [0, 0]), {}, r"classes must be distinct, got \[0, 0\]"),
    (([0, 1], np.ones((2, 2)) / 2), dict(low_confidence=0), r"low_confidence must be a finite number in \(0, 1\]"),
    (([[0], [1]], np.ones((2, 2)) / 2), {}, r"y_true must be a 1-D array of class labels"),
])
def test_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        failure_report(*args, **kwargs)
